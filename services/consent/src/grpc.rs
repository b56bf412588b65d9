//! The gRPC face of the consent service. Each RPC has a handler of its name, by part of the
//! API: proposals (`requests`), the customer's and the guide's decisions (`decisions`), the
//! ledger (`ledger`) and retention (`lifecycle`). A handler parses its request, asks workspaces
//! (as the caller) who owns a workspace and who its customers are and tenants who an expert is
//! (`peers`), applies the rules of `domain`, and writes each change, its ledger entry and its
//! event in one transaction.

use std::{collections::HashMap, sync::Arc};

use chrono::{DateTime, Utc};
use ohjaus_platform::{
    clock::SharedClock,
    crypto::DataKey,
    db::{Db, Tx},
    events::Outbox,
    grpc::{Transport, timestamp},
    keyring::{Keyring, Owner},
    proto::{
        consent::v1 as pb,
        tenants::v1::{self as tenants_pb, tenants_service_client::TenantsServiceClient},
        workspaces::v1::workspaces_service_client::WorkspacesServiceClient,
    },
    service::{Core, ServiceError, ServiceResult},
    unary,
};
use serde::{Deserialize, Serialize};
use tonic::{Request, Response, Status};
use uuid::Uuid;

use crate::{
    domain::{Action, Actor, ConsentState, RequestId, Transition, WorkspaceId, ledger::LedgerKey},
    events as ev,
    store::RequestRow,
};

/// Who the service calls.
pub struct Peers {
    pub tenants: Transport,
    pub workspaces: Transport,
}

/// The consent service.
#[derive(Clone)]
pub struct Consent {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    /// Its database, clock and outbox.
    pub(crate) core: Core,
    /// Each workspace's data key, apart from the content.
    pub(crate) keyring: Keyring,
    pub(crate) ledger_key: LedgerKey,
    pub(crate) tenants: TenantsServiceClient<Transport>,
    pub(crate) workspaces: WorkspacesServiceClient<Transport>,
}

/// What the customer is shown of a proposal, sealed in the request row.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub(crate) struct Details {
    pub(crate) purpose: String,
    pub(crate) expert_name: String,
    pub(crate) expert_roles: Vec<String>,
    pub(crate) organization_name: Localized,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub(crate) struct Localized {
    pub(crate) fi: String,
    pub(crate) sv: String,
    pub(crate) en: String,
}

/// What a workspace's data key belongs to in the key store.
pub(crate) fn key_owner(workspace: WorkspaceId) -> Owner {
    Owner::new(crate::KEY_OWNER, workspace.as_uuid())
}

pub(crate) fn details_aad(workspace: WorkspaceId, request: RequestId) -> Vec<u8> {
    format!("consent:workspace:{workspace}:request:{request}").into_bytes()
}

fn state_to_pb(state: ConsentState) -> i32 {
    (match state {
        ConsentState::Pending => pb::ConsentState::Pending,
        ConsentState::Accepted => pb::ConsentState::Accepted,
        ConsentState::Rejected => pb::ConsentState::Rejected,
        ConsentState::Withdrawn => pb::ConsentState::Withdrawn,
        ConsentState::Ended => pb::ConsentState::Ended,
    }) as i32
}

impl Consent {
    pub fn new(
        db: Db,
        clock: SharedClock,
        outbox: Outbox,
        keyring: Keyring,
        ledger_key: LedgerKey,
        peers: Peers,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                core: Core::new(db, clock, outbox),
                keyring,
                ledger_key,
                tenants: TenantsServiceClient::new(peers.tenants),
                workspaces: WorkspacesServiceClient::new(peers.workspaces),
            }),
        }
    }

    pub(crate) fn inner(&self) -> &Inner {
        &self.inner
    }

    pub fn db(&self) -> &Db {
        self.inner.core.db()
    }

    /// Its database, clock and outbox: `now`, `emit` and `commit`.
    pub(crate) fn core(&self) -> &Core {
        &self.inner.core
    }

    pub fn server(&self) -> pb::consent_service_server::ConsentServiceServer<Self> {
        pb::consent_service_server::ConsentServiceServer::new(self.clone())
    }

    /// The workspace's data key. A workspace without one was deleted (its rows brought back by
    /// a content backup restored after the deletion, say): nothing of it exists any more.
    pub(crate) async fn data_key(&self, workspace: WorkspaceId) -> ServiceResult<DataKey> {
        match self.inner.keyring.find(key_owner(workspace)).await? {
            Some(key) => Ok(key),
            None => {
                tracing::warn!(workspace = %workspace, "consent rows of a workspace without a data key (deleted)");
                Err(ServiceError::not_found())
            }
        }
    }

    /// What the customer is shown of a stored request, opened with its workspace's key.
    pub(crate) fn details(&self, row: &RequestRow, key: &DataKey) -> ServiceResult<Details> {
        let r = &row.request;
        let plain = key
            .open(&row.details_sealed, &details_aad(r.workspace_id, r.id))
            .map_err(|_| ServiceError::corrupt(format!("consent request {} does not open", r.id)))?;
        serde_json::from_slice(&plain)
            .map_err(|_| ServiceError::corrupt(format!("consent request {} does not parse", r.id)))
    }

    /// A request as its reader sees it, with the other organisation's controller data when the
    /// expert's organisation is not the workspace's.
    pub(crate) async fn view(
        &self,
        row: &RequestRow,
        key: &DataKey,
        profiles: &mut HashMap<Uuid, tenants_pb::PublicProfile>,
    ) -> ServiceResult<pb::ConsentRequest> {
        let r = &row.request;
        let details = self.details(row, key)?;
        let expert_organization = if r.expert_organization_id == r.organization_id {
            None
        } else if let Some(profile) = profiles.get(&r.expert_organization_id) {
            Some(profile.clone())
        } else {
            let profile = self.public_profile(r.expert_organization_id).await?;
            profiles.insert(r.expert_organization_id, profile.clone());
            Some(profile)
        };
        let name = details.organization_name;
        Ok(pb::ConsentRequest {
            id: r.id.to_string(),
            workspace_id: r.workspace_id.to_string(),
            organization_id: r.organization_id.to_string(),
            customer_id: r.customer_id.to_string(),
            expert_id: r.expert_id.to_string(),
            expert_organization_id: r.expert_organization_id.to_string(),
            expert_name: details.expert_name,
            expert_roles: details.expert_roles,
            expert_organization_name: Some(tenants_pb::LocalizedText { fi: name.fi, sv: name.sv, en: name.en }),
            purpose: details.purpose,
            language: r.language.as_str().to_owned(),
            state: state_to_pb(r.state),
            requested_by: r.requested_by.to_string(),
            requested_at: Some(timestamp(r.requested_at)),
            decided_at: r.decided_at.map(timestamp),
            visible_from: r.visible_from.map(timestamp),
            ended_at: r.ended_at.map(timestamp),
            version: r.version,
            expert_organization,
        })
    }

    pub(crate) async fn view_one(&self, row: &RequestRow) -> ServiceResult<pb::ConsentRequest> {
        let key = self.data_key(row.request.workspace_id).await?;
        self.view(row, &key, &mut HashMap::new()).await
    }

    /// Writes the ledger entry and the event of a state change, in `tx`.
    pub(crate) async fn record(
        &self,
        tx: &mut Tx,
        key: &DataKey,
        t: &Transition,
        actor: &Actor,
        purpose: &str,
        now: DateTime<Utc>,
    ) -> ServiceResult<()> {
        let r = &t.request;
        self.append(tx, key, r, t.action, actor, purpose, now).await?;
        // Every consent event names the same six ids; acceptance also says from when.
        macro_rules! event {
            ($kind:ident { $($extra:tt)* }) => {
                ev::$kind {
                    organization_id: r.organization_id.to_string(),
                    workspace_id: r.workspace_id.to_string(),
                    request_id: r.id.to_string(),
                    customer_id: r.customer_id.to_string(),
                    expert_id: r.expert_id.to_string(),
                    expert_organization_id: r.expert_organization_id.to_string(),
                    $($extra)*
                }
            };
        }
        let org = r.organization_id;
        match t.action {
            Action::Requested => self.core().emit(tx, org, event!(ConsentRequested {})).await,
            Action::Accepted => {
                let visible_from_id = r.visible_from.map(|_| ohjaus_platform::ids::new_id().to_string());
                let event = event!(ConsentAccepted {
                    visible_from: r.visible_from.map(timestamp),
                    visible_from_id: visible_from_id.unwrap_or_default(),
                });
                self.core().emit(tx, org, event).await
            }
            Action::Rejected => self.core().emit(tx, org, event!(ConsentRejected {})).await,
            Action::Withdrawn => self.core().emit(tx, org, event!(ConsentWithdrawn {})).await,
            Action::Ended => self.core().emit(tx, org, event!(ConsentEnded {})).await,
        }
    }
}

#[tonic::async_trait]
impl pb::consent_service_server::ConsentService for Consent {
    async fn request_consent(
        &self,
        request: Request<pb::RequestConsentRequest>,
    ) -> Result<Response<pb::ConsentRequest>, Status> {
        unary!(self.request_consent, request)
    }

    async fn list_consent_requests(
        &self,
        request: Request<pb::ListConsentRequestsRequest>,
    ) -> Result<Response<pb::ListConsentRequestsResponse>, Status> {
        unary!(self.list_consent_requests, request)
    }

    async fn accept_consent(
        &self,
        request: Request<pb::AcceptConsentRequest>,
    ) -> Result<Response<pb::ConsentRequest>, Status> {
        unary!(self.accept_consent, request)
    }

    async fn reject_consent(
        &self,
        request: Request<pb::DecideConsentRequest>,
    ) -> Result<Response<pb::ConsentRequest>, Status> {
        unary!(self.reject_consent, request)
    }

    async fn withdraw_consent(
        &self,
        request: Request<pb::DecideConsentRequest>,
    ) -> Result<Response<pb::ConsentRequest>, Status> {
        unary!(self.withdraw_consent, request)
    }

    async fn end_participation(
        &self,
        request: Request<pb::DecideConsentRequest>,
    ) -> Result<Response<pb::ConsentRequest>, Status> {
        unary!(self.end_participation, request)
    }

    async fn verify_ledger(
        &self,
        request: Request<pb::WorkspaceLedgerRequest>,
    ) -> Result<Response<pb::LedgerVerification>, Status> {
        unary!(self.verify_ledger, request)
    }

    async fn export_ledger(
        &self,
        request: Request<pb::WorkspaceLedgerRequest>,
    ) -> Result<Response<pb::LedgerExport>, Status> {
        unary!(self.export_ledger, request)
    }

    async fn delete_workspace_ledger(
        &self,
        request: Request<pb::DeleteWorkspaceLedgerRequest>,
    ) -> Result<Response<pb::DeleteWorkspaceLedgerResponse>, Status> {
        unary!(self.delete_workspace_ledger, request)
    }
}
