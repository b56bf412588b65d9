//! The gRPC face of retention: the operator runs it (or a dry run) and reads the evidence.
//! Nobody else reaches it; to them it answers permission denied.

use std::{sync::Arc, time::Duration};

use chrono::TimeDelta;
use ohjaus_platform::{
    auth::Principal,
    clock::SharedClock,
    db::{Db, Tx},
    error::ErrorCode,
    events::{Event, Outbox},
    grpc::timestamp,
    ids::PageRequest,
    proto::retention::v1 as pb,
    service::{Core, ServiceError, ServiceResult},
    unary,
};
use tokio_util::sync::CancellationToken;
use tonic::{Request, Response, Status};
use uuid::Uuid;

use crate::{
    store::{self, DeletionRow},
    worker::{Peers, Periods},
};

/// How a run is set up.
#[derive(Clone, Copy, Debug)]
pub struct RetentionConfig {
    pub periods: Periods,
    /// Workspaces or deletions per batch.
    pub batch_size: i32,
    /// How long a run's claim on a deletion lasts.
    pub lease: TimeDelta,
}

/// The retention service.
#[derive(Clone)]
pub struct Retention {
    inner: Arc<Inner>,
}

struct Inner {
    core: Core,
    outbox: Outbox,
    peers: Peers,
    config: RetentionConfig,
}

/// Only the operator runs retention and reads its evidence.
fn operator_only(principal: &Principal) -> ServiceResult<()> {
    match principal {
        Principal::Operator { .. } => Ok(()),
        _ => Err(ErrorCode::PermissionDenied.into()),
    }
}

impl Retention {
    pub fn new(db: Db, clock: SharedClock, outbox: Outbox, peers: Peers, config: RetentionConfig) -> Self {
        Self { inner: Arc::new(Inner { core: Core::new(db, clock, outbox.clone()), outbox, peers, config }) }
    }

    pub fn server(&self) -> pb::retention_service_server::RetentionServiceServer<Self> {
        pb::retention_service_server::RetentionServiceServer::new(self.clone())
    }

    pub fn db(&self) -> &Db {
        self.inner.core.db()
    }

    pub(crate) fn core(&self) -> &Core {
        &self.inner.core
    }

    pub(crate) fn peers(&self) -> &Peers {
        &self.inner.peers
    }

    pub(crate) fn periods(&self) -> Periods {
        self.inner.config.periods
    }

    pub(crate) fn batch_size(&self) -> i32 {
        self.inner.config.batch_size
    }

    pub(crate) fn lease(&self) -> TimeDelta {
        self.inner.config.lease
    }

    /// Adds a platform-wide event (no organisation) to the outbox in `tx`.
    pub(crate) async fn emit<E: Event>(&self, tx: &mut Tx, event: E) -> ServiceResult<()> {
        self.inner.outbox.write(tx, None, &event).await?;
        Ok(())
    }

    async fn run_retention(&self, principal: &Principal, msg: pb::RunRetentionRequest) -> ServiceResult<pb::RunReport> {
        operator_only(principal)?;
        self.run(msg.dry_run).await
    }

    async fn list_deletions(
        &self,
        principal: &Principal,
        msg: pb::ListDeletionsRequest,
    ) -> ServiceResult<pb::ListDeletionsResponse> {
        operator_only(principal)?;
        let page = PageRequest::parse(msg.page_size, &msg.page_token)?;
        let rows = store::page(self.db(), page.after, page.fetch_limit()).await?;
        let (rows, next_page_token) = page.finish(rows, |d| d.id);
        let mut deletions = Vec::with_capacity(rows.len());
        for row in rows {
            deletions.push(self.evidence(row).await?);
        }
        Ok(pb::ListDeletionsResponse { deletions, next_page_token })
    }

    async fn get_deletion(&self, principal: &Principal, msg: pb::GetDeletionRequest) -> ServiceResult<pb::Deletion> {
        operator_only(principal)?;
        let id = Uuid::parse_str(msg.deletion_id.trim()).map_err(|_| ServiceError::not_found())?;
        let row = store::find(self.db(), id).await?.ok_or_else(ServiceError::not_found)?;
        self.evidence(row).await
    }

    async fn evidence(&self, row: DeletionRow) -> ServiceResult<pb::Deletion> {
        let steps = store::steps(self.db(), row.id).await?;
        Ok(pb::Deletion {
            id: row.id.to_string(),
            subject_kind: row.subject_kind,
            subject_id: row.subject_id.to_string(),
            rule: row.rule,
            decided_at: Some(timestamp(row.decided_at)),
            completed_at: row.completed_at.map(timestamp),
            steps: steps
                .into_iter()
                .map(|s| pb::DeletionStep {
                    service: s.service,
                    target_id: s.target_id.to_string(),
                    outcome: s.outcome,
                    deleted: s.counts.into_iter().collect(),
                    completed_at: s.completed_at.map(timestamp),
                    attempts: s.attempts,
                })
                .collect(),
        })
    }
}

/// Runs retention every `interval` until `shutdown` (the embedded mode's schedule).
pub async fn run_periodically(retention: Retention, interval: Duration, shutdown: CancellationToken) {
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(interval) => {}
        }
        if let Err(error) = retention.run(false).await {
            tracing::warn!(%error, "retention run failed; the next run continues");
        }
    }
}

#[tonic::async_trait]
impl pb::retention_service_server::RetentionService for Retention {
    async fn run_retention(
        &self,
        request: Request<pb::RunRetentionRequest>,
    ) -> Result<Response<pb::RunReport>, Status> {
        unary!(self.run_retention, request)
    }

    async fn list_deletions(
        &self,
        request: Request<pb::ListDeletionsRequest>,
    ) -> Result<Response<pb::ListDeletionsResponse>, Status> {
        unary!(self.list_deletions, request)
    }

    async fn get_deletion(&self, request: Request<pb::GetDeletionRequest>) -> Result<Response<pb::Deletion>, Status> {
        unary!(self.get_deletion, request)
    }
}
