//! Proposals: the owner guide of a workspace proposes another expert for one of its
//! customers, with a purpose; the customer and the workspace's managers list them.

use std::collections::HashMap;

use ohjaus_platform::{
    auth::Principal,
    error::{ErrorCode, Failure, FieldViolation, Violations},
    ids::parse_uuid,
    proto::consent::v1 as pb,
    service::{RequestKey, ServiceError, ServiceResult},
    types::Text,
};
use uuid::Uuid;

use crate::{
    domain::{
        self, Action, Actor, ConsentRequest, ConsentState, Language, PURPOSE_MAX, RequestId, Transition, WorkspaceId,
    },
    grpc::{Consent, Details, Localized, details_aad, key_owner},
    store::{self, RequestRow},
};

/// RequestConsent as a command, apart from the workspace it names.
struct RequestConsent {
    customer: Uuid,
    expert: Uuid,
    expert_organization: Uuid,
    purpose: Text,
    language: Language,
    key: RequestKey,
}

impl RequestConsent {
    fn parse(msg: &pb::RequestConsentRequest) -> Result<Self, Failure> {
        let mut v = Violations::new();
        let customer = v.check(parse_uuid("customer_id", &msg.customer_id));
        let expert = v.check(parse_uuid("expert_id", &msg.expert_id));
        let expert_organization = v.check(parse_uuid("expert_organization_id", &msg.expert_organization_id));
        let purpose = v.check(Text::parse("purpose", &msg.purpose, PURPOSE_MAX));
        let language =
            v.check(Language::parse(&msg.language).ok_or_else(|| FieldViolation::new("language", "invalid-language")));
        let key = v.check(
            RequestKey::parse("request_consent", msg, |m| &mut m.idempotency_key)
                .map_err(|_| FieldViolation::new("idempotency_key", "field-too-long")),
        );
        v.finish_with(|| {
            Some(Self {
                customer: customer?,
                expert: expert?,
                expert_organization: expert_organization?,
                purpose: purpose?,
                language: language?,
                key: key?,
            })
        })
    }
}

impl Consent {
    pub(crate) async fn request_consent(
        &self,
        principal: &Principal,
        msg: pb::RequestConsentRequest,
    ) -> ServiceResult<pb::ConsentRequest> {
        let workspace = WorkspaceId::parse_ref(&msg.workspace_id)?;
        let Some(Actor::Expert(guide)) = Actor::of(principal) else { return Err(ServiceError::not_found()) };
        let RequestConsent { customer, expert, expert_organization, purpose, language, key } =
            RequestConsent::parse(&msg)?;
        // The peer reads below must not hold a transaction (nor SQLite's write lock) while other
        // services answer: the replay is checked first and the transaction begun after them.
        if let Some(id) = key.replayed(self.db(), principal).await? {
            let row = store::find_request(self.db(), RequestId(id)).await?.ok_or_else(ServiceError::not_found)?;
            return self.view_one(&row).await;
        }

        let membership = self.membership(principal, workspace).await?;
        domain::may_manage(membership.standing)?;
        let organization = self.organization_of(principal, workspace).await?;
        if !membership.has("customer", customer, Some("customer")) {
            return Err(FieldViolation::new("customer_id", "invalid-customer").into());
        }
        // Already in the workspace, as its guide or an expert who joined before.
        if membership.has("expert", expert, None) {
            return Err(ErrorCode::AlreadyExists.into());
        }
        let (expert_name, expert_roles) = self.expert(expert, expert_organization).await?;
        let display = self.public_profile(expert_organization).await?.display_name.unwrap_or_default();

        let now = self.core().now();
        // The key is kept first: content is never written without its key being stored.
        let data_key = self.inner().keyring.ensure(key_owner(workspace)).await?;
        let mut tx = self.db().begin().await?;
        let key_row = store::ensure_workspace_key(&mut tx, workspace, organization, now).await?;
        if key_row.organization_id != organization {
            return Err(ServiceError::corrupt(format!("workspace {workspace} changed organisation")));
        }
        if store::live_request_exists(&mut tx, workspace, customer, expert).await? {
            return Err(ErrorCode::AlreadyExists.into());
        }
        let request = ConsentRequest {
            id: RequestId::new(),
            workspace_id: workspace,
            organization_id: organization,
            customer_id: customer,
            expert_id: expert,
            expert_organization_id: expert_organization,
            language,
            state: ConsentState::Pending,
            requested_by: guide,
            requested_at: now,
            decided_at: None,
            visible_from: None,
            ended_at: None,
            version: 1,
        };
        let details = Details {
            purpose: purpose.as_str().to_owned(),
            expert_name,
            expert_roles,
            organization_name: Localized { fi: display.fi, sv: display.sv, en: display.en },
        };
        let plain = serde_json::to_vec(&details).map_err(|e| ServiceError::corrupt(e.to_string()))?;
        let details_sealed = data_key
            .seal(&plain, &details_aad(workspace, request.id))
            .map_err(|e| ServiceError::corrupt(format!("sealing: {e}")))?;
        let row = RequestRow { request, details_sealed };
        match store::insert_request(&mut tx, &row).await {
            Err(ServiceError::Db { source, .. }) if source.is_unique_violation() => {
                return Err(ErrorCode::AlreadyExists.into());
            }
            other => other?,
        }
        let transition = Transition { request: row.request.clone(), action: Action::Requested };
        self.record(&mut tx, &data_key, &transition, &Actor::Expert(guide), purpose.as_str(), now).await?;
        key.remember(&mut tx, principal, row.request.id.as_uuid(), now).await?;
        self.core().commit(tx).await?;
        self.view(&row, &data_key, &mut HashMap::new()).await
    }

    pub(crate) async fn list_consent_requests(
        &self,
        principal: &Principal,
        msg: pb::ListConsentRequestsRequest,
    ) -> ServiceResult<pb::ListConsentRequestsResponse> {
        let workspace = WorkspaceId::parse_ref(&msg.workspace_id)?;
        let filter = match principal {
            // A customer sees the requests that name them, in a workspace of theirs; to anyone
            // else the workspace does not exist.
            Principal::Customer { customer_id } => {
                if !self.is_customer_of(*customer_id, workspace).await? {
                    return Err(ServiceError::not_found());
                }
                Some(*customer_id)
            }
            Principal::Expert { .. } => {
                domain::may_manage(self.membership(principal, workspace).await?.standing)?;
                None
            }
            _ => return Err(ServiceError::not_found()),
        };
        let rows = store::requests_of(self.db(), workspace, filter).await?;
        let Some(first) = rows.first() else { return Ok(pb::ListConsentRequestsResponse::default()) };
        let key = self.data_key(first.request.workspace_id).await?;
        let mut profiles = HashMap::new();
        let mut requests = Vec::with_capacity(rows.len());
        for row in &rows {
            requests.push(self.view(row, &key, &mut profiles).await?);
        }
        Ok(pb::ListConsentRequestsResponse { requests })
    }
}
