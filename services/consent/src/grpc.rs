//! The gRPC face of the consent service: parses requests, asks workspaces (as the caller) who
//! owns a workspace and who its customers are and tenants who an expert is, applies the rules
//! of `domain`, and writes each change, its ledger entry and its event in one transaction.

use std::{collections::HashMap, sync::Arc};

use chrono::{DateTime, Utc};
use ohjaus_platform::{
    auth::{Principal, principal_of},
    clock::SharedClock,
    crypto::{DataKey, KeyEncryptionKey},
    db::{Db, Tx},
    error::{ErrorCode, FieldViolation, Violations},
    events::{Event, Outbox},
    grpc::{Transport, timestamp},
    idempotency::{self, Earlier, caller_key, parse_request_id, request_hash},
    ids::parse_uuid,
    proto::{
        consent::v1 as pb,
        tenants::v1::{self as tenants_pb, tenants_service_client::TenantsServiceClient},
        workspaces::v1::{self as workspaces_pb, workspaces_service_client::WorkspacesServiceClient},
    },
    types::Text,
};
use serde::{Deserialize, Serialize};
use tonic::{Request, Response, Status};
use uuid::Uuid;

use crate::{
    ConsentError, SERVICE,
    domain::{
        self, Action, Actor, ConsentRequest, ConsentState, Decision, Language, PURPOSE_MAX, RequestId, Standing,
        Transition, WorkspaceId, ledger::LedgerKey,
    },
    events as ev,
    store::{self, RequestRow},
};

pub(crate) type Result<T> = std::result::Result<T, ConsentError>;

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
    pub(crate) db: Db,
    pub(crate) clock: SharedClock,
    pub(crate) outbox: Outbox,
    pub(crate) kek: KeyEncryptionKey,
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

fn details_aad(workspace: WorkspaceId, request: RequestId) -> Vec<u8> {
    format!("consent:workspace:{workspace}:request:{request}").into_bytes()
}

pub(crate) fn invalid(violation: FieldViolation) -> ConsentError {
    ConsentError::Invalid(vec![violation])
}

pub(crate) fn not_found() -> ConsentError {
    ConsentError::Refused(ErrorCode::NotFound)
}

/// A malformed id names nothing the caller may see.
pub(crate) fn workspace_id(value: &str) -> Result<WorkspaceId> {
    WorkspaceId::parse("workspace_id", value).map_err(|_| not_found())
}

fn request_id(value: &str) -> Result<RequestId> {
    RequestId::parse("request_id", value).map_err(|_| not_found())
}

/// A peer service's answer as ours: its not-found and refusals pass through (the caller asked
/// as themselves), anything else means the peer failed.
fn peer_refusal(peer: &str, status: &Status) -> ConsentError {
    match status.code() {
        tonic::Code::NotFound => not_found(),
        tonic::Code::PermissionDenied => ConsentError::Refused(ErrorCode::PermissionDenied),
        code => ConsentError::Peer(format!("{peer}: {code}")),
    }
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

fn role_name(role: i32) -> Option<&'static str> {
    match tenants_pb::Role::try_from(role).ok()? {
        tenants_pb::Role::Admin => Some("admin"),
        tenants_pb::Role::Guide => Some("guide"),
        tenants_pb::Role::Advisor => Some("advisor"),
        tenants_pb::Role::Supervisor => Some("supervisor"),
        tenants_pb::Role::Unspecified => None,
    }
}

/// What the workspaces service tells the caller about a workspace.
pub(crate) struct Membership {
    pub(crate) standing: Standing,
    pub(crate) members: Vec<workspaces_pb::Member>,
}

impl Membership {
    fn has(&self, kind: &str, id: Uuid, role: Option<&str>) -> bool {
        let id = id.to_string();
        self.members.iter().any(|m| m.kind == kind && m.id == id && role.is_none_or(|r| m.role == r))
    }
}

impl Consent {
    pub fn new(
        db: Db,
        clock: SharedClock,
        outbox: Outbox,
        kek: KeyEncryptionKey,
        ledger_key: LedgerKey,
        peers: Peers,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                db,
                clock,
                outbox,
                kek,
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
        &self.inner.db
    }

    pub fn server(&self) -> pb::consent_service_server::ConsentServiceServer<Self> {
        pb::consent_service_server::ConsentServiceServer::new(self.clone())
    }

    pub(crate) fn now(&self) -> DateTime<Utc> {
        self.inner.clock.now()
    }

    pub(crate) async fn emit<E: Event>(&self, tx: &mut Tx, org: Uuid, event: E) -> Result<()> {
        self.inner.outbox.write(tx, Some(org), &event).await?;
        Ok(())
    }

    pub(crate) async fn commit(&self, tx: Tx) -> Result<()> {
        tx.commit().await?;
        self.inner.outbox.committed();
        Ok(())
    }

    pub(crate) fn data_key(&self, wrapped: &[u8], workspace: WorkspaceId) -> Result<DataKey> {
        self.inner
            .kek
            .unwrap_key(wrapped)
            .map_err(|_| ConsentError::Corrupt(format!("key of workspace {workspace} does not open")))
    }

    /// The caller's standing in a workspace and its members, asked of workspaces as the caller.
    async fn membership(&self, principal: &Principal, workspace: WorkspaceId) -> Result<Membership> {
        // Every page: a group can have more members than one page holds.
        let mut members = Vec::new();
        let mut page_token = String::new();
        loop {
            let mut request = Request::new(workspaces_pb::ListMembersRequest {
                workspace_id: workspace.to_string(),
                page_size: 100,
                page_token,
            });
            request.extensions_mut().insert(principal.clone());
            match self.inner.workspaces.clone().list_members(request).await {
                Ok(response) => {
                    let page = response.into_inner();
                    members.extend(page.members);
                    if page.next_page_token.is_empty() {
                        break;
                    }
                    page_token = page.next_page_token;
                }
                Err(status) if status.code() == tonic::Code::NotFound => {
                    return Ok(Membership { standing: Standing::Stranger, members: Vec::new() });
                }
                Err(status) => return Err(peer_refusal("workspaces", &status)),
            }
        }
        let owner = match Actor::of(principal) {
            Some(Actor::Expert(me)) => {
                let me = me.to_string();
                members.iter().any(|m| m.kind == "expert" && m.id == me && m.role == "owner")
            }
            _ => false,
        };
        Ok(Membership { standing: if owner { Standing::Owner } else { Standing::Member }, members })
    }

    /// The workspace's organisation, read as the caller.
    async fn organization_of(&self, principal: &Principal, workspace: WorkspaceId) -> Result<Uuid> {
        let mut request = Request::new(workspaces_pb::GetWorkspaceRequest { workspace_id: workspace.to_string() });
        request.extensions_mut().insert(principal.clone());
        let found = self
            .inner
            .workspaces
            .clone()
            .get_workspace(request)
            .await
            .map_err(|s| peer_refusal("workspaces", &s))?
            .into_inner();
        Uuid::parse_str(&found.organization_id).map_err(|_| ConsentError::Peer("workspaces: organisation id".into()))
    }

    /// The expert's name and roles in `organization`, asked of tenants as this service; refused
    /// unless the organisation lists them in its consent directory.
    async fn expert(&self, person: Uuid, organization: Uuid) -> Result<(String, Vec<String>)> {
        let refused = || invalid(FieldViolation::new("expert_id", "invalid-consent-expert"));
        let mut request = Request::new(tenants_pb::ResolveExpertRequest {
            identity: Some(tenants_pb::resolve_expert_request::Identity::PersonId(person.to_string())),
        });
        request.extensions_mut().insert(Principal::Service { name: SERVICE.to_owned() });
        let resolved = match self.inner.tenants.clone().resolve_expert(request).await {
            Ok(response) => response.into_inner(),
            Err(status) if status.code() == tonic::Code::NotFound => return Err(refused()),
            Err(status) => return Err(ConsentError::Peer(format!("tenants: {}", status.code()))),
        };
        let organization = organization.to_string();
        let membership = resolved.memberships.iter().find(|m| m.organization_id == organization).ok_or_else(refused)?;
        let roles: Vec<String> = membership.roles.iter().filter_map(|r| role_name(*r)).map(str::to_owned).collect();
        // A main user alone does no customer work; and only experts the organisation lists in
        // its consent directory may be proposed.
        if roles.iter().all(|r| r == "admin") || !membership.listed {
            return Err(refused());
        }
        Ok((resolved.name, roles))
    }

    /// An organisation's public controller data (needs no principal).
    async fn public_profile(&self, organization: Uuid) -> Result<tenants_pb::PublicProfile> {
        let request = Request::new(tenants_pb::GetPublicProfileRequest { id: organization.to_string() });
        self.inner
            .tenants
            .clone()
            .get_public_profile(request)
            .await
            .map(Response::into_inner)
            .map_err(|s| ConsentError::Peer(format!("tenants: {}", s.code())))
    }

    /// A request as its reader sees it, with the other organisation's controller data when the
    /// expert's organisation is not the workspace's.
    async fn view(
        &self,
        row: &RequestRow,
        key: &DataKey,
        profiles: &mut HashMap<Uuid, tenants_pb::PublicProfile>,
    ) -> Result<pb::ConsentRequest> {
        let r = &row.request;
        let plain = key
            .open(&row.details_sealed, &details_aad(r.workspace_id, r.id))
            .map_err(|_| ConsentError::Corrupt(format!("consent request {} does not open", r.id)))?;
        let details: Details = serde_json::from_slice(&plain)
            .map_err(|_| ConsentError::Corrupt(format!("consent request {} does not parse", r.id)))?;
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

    async fn view_one(&self, row: &RequestRow) -> Result<pb::ConsentRequest> {
        let key_row =
            store::find_workspace_key(&self.inner.db, row.request.workspace_id).await?.ok_or_else(not_found)?;
        let key = self.data_key(&key_row.data_key, row.request.workspace_id)?;
        self.view(row, &key, &mut HashMap::new()).await
    }

    async fn request_consent(
        &self,
        principal: &Principal,
        msg: pb::RequestConsentRequest,
    ) -> Result<pb::ConsentRequest> {
        let workspace = workspace_id(&msg.workspace_id)?;
        let Some(Actor::Expert(guide)) = Actor::of(principal) else { return Err(not_found()) };
        let mut v = Violations::new();
        let customer = v.check(parse_uuid("customer_id", &msg.customer_id));
        let expert = v.check(parse_uuid("expert_id", &msg.expert_id));
        let expert_org = v.check(parse_uuid("expert_organization_id", &msg.expert_organization_id));
        let purpose = v.check(Text::parse("purpose", &msg.purpose, PURPOSE_MAX));
        let language =
            v.check(Language::parse(&msg.language).ok_or_else(|| FieldViolation::new("language", "invalid-language")));
        let key = v.check(
            parse_request_id(&msg.idempotency_key)
                .map_err(|_| FieldViolation::new("idempotency_key", "field-too-long")),
        );
        let (Some(customer), Some(expert), Some(expert_org), Some(purpose), Some(language), Some(key)) =
            (customer, expert, expert_org, purpose, language, key)
        else {
            return Err(ConsentError::Invalid(v.into_failure().violations));
        };
        let hash = request_hash(&msg, |m| m.idempotency_key.clear());
        if let Some(key) = &key {
            match idempotency::earlier(&self.inner.db, &caller_key(principal), "request_consent", key, &hash).await? {
                Earlier::Made(id) => {
                    let row = store::find_request(&self.inner.db, RequestId(id)).await?.ok_or_else(not_found)?;
                    return self.view_one(&row).await;
                }
                Earlier::Different => return Err(ErrorCode::IdempotencyKeyReused.into()),
                Earlier::None => {}
            }
        }

        let membership = self.membership(principal, workspace).await?;
        domain::may_manage(membership.standing)?;
        let organization = self.organization_of(principal, workspace).await?;
        if !membership.has("customer", customer, Some("customer")) {
            return Err(invalid(FieldViolation::new("customer_id", "invalid-customer")));
        }
        // Already in the workspace, as its guide or an expert who joined before.
        if membership.has("expert", expert, None) {
            return Err(ErrorCode::AlreadyExists.into());
        }
        let (expert_name, expert_roles) = self.expert(expert, expert_org).await?;
        let display = self.public_profile(expert_org).await?.display_name.unwrap_or_default();

        let now = self.now();
        let (new_key, wrapped) =
            self.inner.kek.new_data_key().map_err(|e| ConsentError::Corrupt(format!("new data key: {e}")))?;
        let mut tx = self.inner.db.begin().await?;
        let key_row = store::ensure_workspace_key(&mut tx, workspace, organization, wrapped, now).await?;
        let data_key = if key_row.organization_id == organization {
            self.data_key(&key_row.data_key, workspace)?
        } else {
            return Err(ConsentError::Corrupt(format!("workspace {workspace} changed organisation")));
        };
        drop(new_key);
        if store::live_request_exists(&mut tx, workspace, customer, expert).await? {
            return Err(ErrorCode::AlreadyExists.into());
        }
        let request = ConsentRequest {
            id: RequestId::new(),
            workspace_id: workspace,
            organization_id: organization,
            customer_id: customer,
            expert_id: expert,
            expert_organization_id: expert_org,
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
        let plain = serde_json::to_vec(&details).map_err(|e| ConsentError::Corrupt(e.to_string()))?;
        let details_sealed = data_key
            .seal(&plain, &details_aad(workspace, request.id))
            .map_err(|e| ConsentError::Corrupt(format!("sealing: {e}")))?;
        let row = RequestRow { request, details_sealed };
        match store::insert_request(&mut tx, &row).await {
            Err(ConsentError::Db(e)) if e.is_unique_violation() => return Err(ErrorCode::AlreadyExists.into()),
            other => other?,
        }
        let transition = Transition { request: row.request.clone(), action: Action::Requested };
        self.record(&mut tx, &data_key, &transition, &Actor::Expert(guide), purpose.as_str(), now).await?;
        if let Some(key) = &key
            && !idempotency::remember(
                &mut tx,
                &caller_key(principal),
                "request_consent",
                key,
                &hash,
                row.request.id.as_uuid(),
                now,
            )
            .await?
        {
            return Err(ConsentError::ConcurrentReplay);
        }
        self.commit(tx).await?;
        self.view(&row, &data_key, &mut HashMap::new()).await
    }

    /// Writes the ledger entry and the event of a state change, in `tx`.
    async fn record(
        &self,
        tx: &mut Tx,
        key: &DataKey,
        t: &Transition,
        actor: &Actor,
        purpose: &str,
        now: DateTime<Utc>,
    ) -> Result<()> {
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
            Action::Requested => self.emit(tx, org, event!(ConsentRequested {})).await,
            Action::Accepted => {
                let visible_from_id = r.visible_from.map(|_| ohjaus_platform::ids::new_id().to_string());
                let event = event!(ConsentAccepted {
                    visible_from: r.visible_from.map(timestamp),
                    visible_from_id: visible_from_id.unwrap_or_default(),
                });
                self.emit(tx, org, event).await
            }
            Action::Rejected => self.emit(tx, org, event!(ConsentRejected {})).await,
            Action::Withdrawn => self.emit(tx, org, event!(ConsentWithdrawn {})).await,
            Action::Ended => self.emit(tx, org, event!(ConsentEnded {})).await,
        }
    }

    async fn list(
        &self,
        principal: &Principal,
        msg: pb::ListConsentRequestsRequest,
    ) -> Result<pb::ListConsentRequestsResponse> {
        let workspace = workspace_id(&msg.workspace_id)?;
        let filter = match principal {
            // A customer sees the requests that name them; nothing else exists for them.
            Principal::Customer { customer_id } => Some(*customer_id),
            Principal::Expert { .. } => {
                domain::may_manage(self.membership(principal, workspace).await?.standing)?;
                None
            }
            _ => return Err(not_found()),
        };
        let rows = store::requests_of(&self.inner.db, workspace, filter).await?;
        let Some(first) = rows.first() else { return Ok(pb::ListConsentRequestsResponse::default()) };
        let key_row = store::find_workspace_key(&self.inner.db, first.request.workspace_id)
            .await?
            .ok_or_else(|| ConsentError::Corrupt(format!("workspace {workspace} has requests but no key")))?;
        let key = self.data_key(&key_row.data_key, workspace)?;
        let mut profiles = HashMap::new();
        let mut requests = Vec::with_capacity(rows.len());
        for row in &rows {
            requests.push(self.view(row, &key, &mut profiles).await?);
        }
        Ok(pb::ListConsentRequestsResponse { requests })
    }

    /// Applies a state change made by `change` to the stored request, records it and
    /// announces it, all in one transaction.
    async fn change(
        &self,
        principal: &Principal,
        id: &str,
        change: impl FnOnce(&ConsentRequest, DateTime<Utc>) -> std::result::Result<Transition, ErrorCode>,
    ) -> Result<pb::ConsentRequest> {
        let id = request_id(id)?;
        let actor = Actor::of(principal).ok_or_else(not_found)?;
        let now = self.now();
        let mut tx = self.inner.db.begin().await?;
        let row = store::find_request(&mut tx, id).await?.ok_or_else(not_found)?;
        let transition = change(&row.request, now)?;
        if !store::update_request(&mut tx, &transition.request, row.request.version).await? {
            return Err(ErrorCode::VersionMismatch.into());
        }
        let workspace = row.request.workspace_id;
        let key_row = store::find_workspace_key(&mut tx, workspace).await?.ok_or_else(not_found)?;
        let key = self.data_key(&key_row.data_key, workspace)?;
        let plain = key
            .open(&row.details_sealed, &details_aad(workspace, id))
            .map_err(|_| ConsentError::Corrupt(format!("consent request {id} does not open")))?;
        let details: Details = serde_json::from_slice(&plain)
            .map_err(|_| ConsentError::Corrupt(format!("consent request {id} does not parse")))?;
        self.record(&mut tx, &key, &transition, &actor, &details.purpose, now).await?;
        self.commit(tx).await?;
        let changed = RequestRow { request: transition.request, details_sealed: row.details_sealed };
        self.view(&changed, &key, &mut HashMap::new()).await
    }

    async fn accept(&self, principal: &Principal, msg: pb::AcceptConsentRequest) -> Result<pb::ConsentRequest> {
        let decision = Decision::Accept { from_now_on_only: msg.from_now_on_only };
        self.change(principal, &msg.request_id, |r, now| r.decide(principal, decision, msg.version, now)).await
    }

    async fn reject(&self, principal: &Principal, msg: pb::DecideConsentRequest) -> Result<pb::ConsentRequest> {
        self.change(principal, &msg.request_id, |r, now| r.decide(principal, Decision::Reject, msg.version, now)).await
    }

    async fn withdraw(&self, principal: &Principal, msg: pb::DecideConsentRequest) -> Result<pb::ConsentRequest> {
        self.change(principal, &msg.request_id, |r, now| r.withdraw(principal, msg.version, now)).await
    }

    async fn end(&self, principal: &Principal, msg: pb::DecideConsentRequest) -> Result<pb::ConsentRequest> {
        let id = request_id(&msg.request_id)?;
        let row = store::find_request(&self.inner.db, id).await?.ok_or_else(not_found)?;
        let standing = if matches!(principal, Principal::Expert { .. }) {
            self.membership(principal, row.request.workspace_id).await?.standing
        } else {
            Standing::Stranger
        };
        self.change(principal, &msg.request_id, |r, now| r.end(standing, msg.version, now)).await
    }
}

macro_rules! unary {
    ($self:ident, $request:ident, $method:ident) => {{
        let principal = principal_of(&$request)?.clone();
        Ok(Response::new($self.$method(&principal, $request.into_inner()).await?))
    }};
}

#[tonic::async_trait]
impl pb::consent_service_server::ConsentService for Consent {
    async fn request_consent(
        &self,
        request: Request<pb::RequestConsentRequest>,
    ) -> std::result::Result<Response<pb::ConsentRequest>, Status> {
        unary!(self, request, request_consent)
    }

    async fn list_consent_requests(
        &self,
        request: Request<pb::ListConsentRequestsRequest>,
    ) -> std::result::Result<Response<pb::ListConsentRequestsResponse>, Status> {
        unary!(self, request, list)
    }

    async fn accept_consent(
        &self,
        request: Request<pb::AcceptConsentRequest>,
    ) -> std::result::Result<Response<pb::ConsentRequest>, Status> {
        unary!(self, request, accept)
    }

    async fn reject_consent(
        &self,
        request: Request<pb::DecideConsentRequest>,
    ) -> std::result::Result<Response<pb::ConsentRequest>, Status> {
        unary!(self, request, reject)
    }

    async fn withdraw_consent(
        &self,
        request: Request<pb::DecideConsentRequest>,
    ) -> std::result::Result<Response<pb::ConsentRequest>, Status> {
        unary!(self, request, withdraw)
    }

    async fn end_participation(
        &self,
        request: Request<pb::DecideConsentRequest>,
    ) -> std::result::Result<Response<pb::ConsentRequest>, Status> {
        unary!(self, request, end)
    }

    async fn verify_ledger(
        &self,
        request: Request<pb::WorkspaceLedgerRequest>,
    ) -> std::result::Result<Response<pb::LedgerVerification>, Status> {
        unary!(self, request, verify_ledger)
    }

    async fn export_ledger(
        &self,
        request: Request<pb::WorkspaceLedgerRequest>,
    ) -> std::result::Result<Response<pb::LedgerExport>, Status> {
        unary!(self, request, export_ledger)
    }

    async fn delete_workspace_ledger(
        &self,
        request: Request<pb::WorkspaceLedgerRequest>,
    ) -> std::result::Result<Response<pb::DeleteWorkspaceLedgerResponse>, Status> {
        unary!(self, request, delete_workspace_ledger)
    }
}
