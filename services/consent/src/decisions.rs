//! Decisions on a proposal: the customer accepts (optionally "from now on only"), rejects or
//! withdraws; the owner guide ends an expert's participation. Each is a state change of the
//! request, its ledger entry and its event, in one transaction.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use ohjaus_platform::{
    auth::Principal,
    error::ErrorCode,
    proto::consent::v1 as pb,
    service::{ServiceError, ServiceResult},
};

use crate::{
    domain::{Actor, ConsentRequest, Decision, RequestId, Standing, Transition},
    grpc::Consent,
    store::{self, RequestRow},
};

/// A decision on one request as a command: the request and the version its decider saw.
struct Decide {
    request: RequestId,
    seen: i64,
}

impl Decide {
    /// A malformed id names nothing the caller may see.
    fn parse(request_id: &str, version: i64) -> Result<Self, ErrorCode> {
        Ok(Self { request: RequestId::parse_ref(request_id)?, seen: version })
    }
}

impl Consent {
    pub(crate) async fn accept_consent(
        &self,
        principal: &Principal,
        msg: pb::AcceptConsentRequest,
    ) -> ServiceResult<pb::ConsentRequest> {
        let Decide { request, seen } = Decide::parse(&msg.request_id, msg.version)?;
        let decision = Decision::Accept { from_now_on_only: msg.from_now_on_only };
        self.change(principal, request, |r, now| r.decide(principal, decision, seen, now)).await
    }

    pub(crate) async fn reject_consent(
        &self,
        principal: &Principal,
        msg: pb::DecideConsentRequest,
    ) -> ServiceResult<pb::ConsentRequest> {
        let Decide { request, seen } = Decide::parse(&msg.request_id, msg.version)?;
        self.change(principal, request, |r, now| r.decide(principal, Decision::Reject, seen, now)).await
    }

    pub(crate) async fn withdraw_consent(
        &self,
        principal: &Principal,
        msg: pb::DecideConsentRequest,
    ) -> ServiceResult<pb::ConsentRequest> {
        let Decide { request, seen } = Decide::parse(&msg.request_id, msg.version)?;
        self.change(principal, request, |r, now| r.withdraw(principal, seen, now)).await
    }

    pub(crate) async fn end_participation(
        &self,
        principal: &Principal,
        msg: pb::DecideConsentRequest,
    ) -> ServiceResult<pb::ConsentRequest> {
        let Decide { request, seen } = Decide::parse(&msg.request_id, msg.version)?;
        let row = store::find_request(self.db(), request).await?.ok_or_else(ServiceError::not_found)?;
        let standing = if matches!(principal, Principal::Expert { .. }) {
            self.membership(principal, row.request.workspace_id).await?.standing
        } else {
            Standing::Stranger
        };
        self.change(principal, request, |r, now| r.end(standing, seen, now)).await
    }

    /// Applies a state change made by `change` to the stored request, records it and
    /// announces it, all in one transaction.
    async fn change(
        &self,
        principal: &Principal,
        id: RequestId,
        change: impl FnOnce(&ConsentRequest, DateTime<Utc>) -> Result<Transition, ErrorCode>,
    ) -> ServiceResult<pb::ConsentRequest> {
        let actor = Actor::of(principal).ok_or_else(ServiceError::not_found)?;
        let now = self.core().now();
        let mut tx = self.db().begin().await?;
        let row = store::find_request(&mut tx, id).await?.ok_or_else(ServiceError::not_found)?;
        let transition = change(&row.request, now)?;
        if !store::update_request(&mut tx, &transition.request, row.request.version).await? {
            return Err(ErrorCode::VersionMismatch.into());
        }
        let workspace = row.request.workspace_id;
        let key = self.data_key(workspace).await?;
        let details = self.details(&row, &key)?;
        self.record(&mut tx, &key, &transition, &actor, &details.purpose, now).await?;
        self.core().commit(tx).await?;
        let changed = RequestRow { request: transition.request, details_sealed: row.details_sealed };
        self.view(&changed, &key, &mut HashMap::new()).await
    }
}
