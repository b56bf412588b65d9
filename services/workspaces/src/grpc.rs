//! The gRPC face of the workspaces service: parses requests, applies the rules of `domain`,
//! seals and opens content with the workspace's key, logs every read, announces changes.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use ohjaus_platform::{
    auth::{Principal, principal_of},
    clock::SharedClock,
    crypto::{DataKey, KeyEncryptionKey},
    db::{Db, Tx},
    error::{ErrorCode, FieldViolation, Violations},
    events::{Event, Outbox},
    grpc::{Transport, timestamp},
    idempotency::{self, Earlier, caller_key, parse_request_id, request_hash},
    ids::{PageRequest, parse_uuid},
    proto::{
        tenants::v1::{self as tenants_pb, tenants_service_client::TenantsServiceClient},
        workspaces::v1 as pb,
    },
    types::Text,
};
use serde::{Deserialize, Serialize};
use tonic::{Request, Response, Status};
use uuid::Uuid;

use crate::{
    WorkspacesError,
    domain::{self, Actor, Kind, MESSAGE_MAX, MemberRole, MessageId, State, TITLE_MAX, Topic, Workspace, WorkspaceId},
    events as ev,
    store::{self, AccessRow, MessageRow, WorkspaceRow},
};

type Result<T> = std::result::Result<T, WorkspacesError>;

/// The workspaces service.
#[derive(Clone)]
pub struct Workspaces {
    inner: Arc<Inner>,
}

struct Inner {
    db: Db,
    clock: SharedClock,
    outbox: Outbox,
    kek: KeyEncryptionKey,
    tenants: TenantsServiceClient<Transport>,
    reopen_window: Duration,
}

/// A workspace whose key is open: its title readable, its content sealable.
struct Opened {
    workspace: Workspace,
    key: DataKey,
}

/// What a message seals: the body with its author's name as shown.
#[derive(Serialize, Deserialize)]
struct MessageContent {
    body: String,
    author_name: String,
}

fn title_aad(id: WorkspaceId) -> Vec<u8> {
    format!("workspace:{id}:title").into_bytes()
}

fn message_aad(workspace: WorkspaceId, message: MessageId) -> Vec<u8> {
    format!("workspace:{workspace}:message:{message}").into_bytes()
}

fn invalid(violation: FieldViolation) -> WorkspacesError {
    WorkspacesError::Invalid(vec![violation])
}

fn page(size: i32, token: &str) -> Result<PageRequest> {
    PageRequest::parse(size, token).map_err(invalid)
}

/// A malformed id names nothing the caller may see.
fn workspace_id(value: &str) -> Result<WorkspaceId> {
    WorkspaceId::parse("workspace_id", value).map_err(|_| WorkspacesError::Refused(ErrorCode::NotFound))
}

fn kind_to_pb(kind: Kind) -> i32 {
    (match kind {
        Kind::Personal => pb::WorkspaceKind::Personal,
        Kind::Group => pb::WorkspaceKind::Group,
    }) as i32
}

fn state_to_pb(state: State) -> i32 {
    (match state {
        State::Active => pb::WorkspaceState::Active,
        State::Closed => pb::WorkspaceState::Closed,
        State::Archived => pb::WorkspaceState::Archived,
    }) as i32
}

impl Workspaces {
    pub fn new(
        db: Db,
        clock: SharedClock,
        outbox: Outbox,
        kek: KeyEncryptionKey,
        tenants: Transport,
        reopen_window: Duration,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                db,
                clock,
                outbox,
                kek,
                tenants: TenantsServiceClient::new(tenants),
                reopen_window,
            }),
        }
    }

    pub fn db(&self) -> &Db {
        &self.inner.db
    }

    pub fn server(&self) -> pb::workspaces_service_server::WorkspacesServiceServer<Self> {
        pb::workspaces_service_server::WorkspacesServiceServer::new(self.clone())
    }

    fn now(&self) -> DateTime<Utc> {
        self.inner.clock.now()
    }

    async fn emit<E: Event>(&self, tx: &mut Tx, org: Uuid, event: E) -> Result<()> {
        self.inner.outbox.write(tx, Some(org), &event).await?;
        Ok(())
    }

    async fn commit(&self, tx: Tx) -> Result<()> {
        tx.commit().await?;
        self.inner.outbox.committed();
        Ok(())
    }

    fn open(&self, row: &WorkspaceRow) -> Result<Opened> {
        let corrupt = |what: &str| WorkspacesError::Corrupt(format!("workspace {} {what}", row.id));
        let key = self.inner.kek.unwrap_key(&row.data_key).map_err(|_| corrupt("key does not open"))?;
        let title = key.open(&row.title_sealed, &title_aad(row.id)).map_err(|_| corrupt("title does not open"))?;
        let title = String::from_utf8(title).map_err(|_| corrupt("title"))?;
        let workspace = Workspace {
            id: row.id,
            organization_id: row.organization_id,
            office_id: row.office_id,
            kind: row.kind,
            title: Text::parse("title", &title, TITLE_MAX).map_err(|_| corrupt("title"))?,
            topics: row
                .topics
                .split(',')
                .filter(|t| !t.is_empty())
                .map(|t| Topic::parse("topics", t).map_err(|_| corrupt("topics")))
                .collect::<Result<_>>()?,
            state: row.state,
            owner_id: row.owner_id,
            version: row.version,
            created_at: row.created_at,
            closed_at: row.closed_at,
        };
        Ok(Opened { workspace, key })
    }

    fn to_pb(&self, w: &Workspace) -> pb::Workspace {
        pb::Workspace {
            id: w.id.to_string(),
            organization_id: w.organization_id.to_string(),
            office_id: w.office_id.to_string(),
            kind: kind_to_pb(w.kind),
            title: w.title.as_str().to_owned(),
            topics: w.topics.iter().map(|t| t.as_str().to_owned()).collect(),
            state: state_to_pb(w.state),
            owner_id: w.owner_id.to_string(),
            version: w.version,
            created_at: Some(timestamp(w.created_at)),
            closed_at: w.closed_at.map(timestamp),
            reopen_until: w
                .closed_at
                .filter(|_| w.state == State::Closed)
                .map(|t| timestamp(t + self.inner.reopen_window)),
        }
    }

    /// The workspace and the caller's role in it, if the caller may read it; not-found otherwise.
    async fn readable(
        &self,
        tx: &mut Tx,
        principal: &Principal,
        id: WorkspaceId,
    ) -> Result<(Opened, Option<MemberRole>, Actor)> {
        let not_found = WorkspacesError::Refused(ErrorCode::NotFound);
        let actor = Actor::of(principal).ok_or(WorkspacesError::Refused(ErrorCode::NotFound))?;
        let row = store::find_workspace(&mut *tx, id).await?.ok_or(not_found)?;
        let role = store::member_role(&mut *tx, id, actor).await?;
        let opened = self.open(&row)?;
        domain::may_read(principal, &opened.workspace, role)?;
        Ok((opened, role, actor))
    }

    /// Writes who read `what` of the workspace to its access log.
    async fn log_read(
        &self,
        tx: &mut Tx,
        workspace: &Workspace,
        actor: Actor,
        role: Option<MemberRole>,
        what: &str,
    ) -> Result<()> {
        let entry = AccessRow {
            id: ohjaus_platform::ids::new_id(),
            at: self.now(),
            actor_kind: actor.kind().to_owned(),
            actor_id: actor.id().to_string(),
            actor_role: role.map(MemberRole::as_str).unwrap_or("none").to_owned(),
            organization_id: matches!(actor, Actor::Expert(_)).then_some(workspace.organization_id),
            what: what.to_owned(),
        };
        store::log_access(tx, workspace.id, &entry).await?;
        if matches!(actor, Actor::Customer(_)) {
            store::touch_customer_visit(tx, workspace.id, entry.at).await?;
        }
        Ok(())
    }

    /// The office must be one of the organisation's, as the caller can see it in tenants.
    async fn check_office(&self, principal: &Principal, organization: Uuid, office: Uuid) -> Result<()> {
        let mut tenants = self.inner.tenants.clone();
        let mut token = String::new();
        loop {
            let mut request = Request::new(tenants_pb::ListOfficesRequest {
                organization_id: organization.to_string(),
                page_size: 100,
                page_token: token,
            });
            request.extensions_mut().insert(principal.clone());
            let page = match tenants.list_offices(request).await {
                Ok(page) => page.into_inner(),
                Err(status) if status.code() == tonic::Code::NotFound => return Err(ErrorCode::NotFound.into()),
                Err(status) if status.code() == tonic::Code::PermissionDenied => {
                    return Err(ErrorCode::PermissionDenied.into());
                }
                Err(status) => return Err(WorkspacesError::Peer(format!("tenants: {}", status.code()))),
            };
            if page.offices.iter().any(|o| o.id == office.to_string()) {
                return Ok(());
            }
            if page.next_page_token.is_empty() {
                return Err(invalid(FieldViolation::new("office_id", "invalid-office")));
            }
            token = page.next_page_token;
        }
    }

    async fn create(&self, principal: &Principal, msg: pb::CreateWorkspaceRequest) -> Result<pb::Workspace> {
        let mut v = Violations::new();
        let organization = v.check(parse_uuid("organization_id", &msg.organization_id));
        let office = v.check(parse_uuid("office_id", &msg.office_id));
        let kind = match pb::WorkspaceKind::try_from(msg.kind) {
            Ok(pb::WorkspaceKind::Personal) => Some(Kind::Personal),
            Ok(pb::WorkspaceKind::Group) => Some(Kind::Group),
            _ => {
                v.push(FieldViolation::new("kind", "invalid-kind"));
                None
            }
        };
        let title = v.check(Text::parse("title", &msg.title, TITLE_MAX));
        let mut topics = Vec::new();
        for (i, topic) in msg.topics.iter().enumerate() {
            if let Some(topic) = v.check(Topic::parse(&format!("topics[{i}]"), topic))
                && !topics.contains(&topic)
            {
                topics.push(topic);
            }
        }
        let key = v.check(parse_request_id(&msg.request_id));
        let (Some(organization), Some(office), Some(kind), Some(title), Some(key)) =
            (organization, office, kind, title, key)
        else {
            return Err(WorkspacesError::Invalid(v.into_failure().violations));
        };
        if !v.is_empty() {
            return Err(WorkspacesError::Invalid(v.into_failure().violations));
        }
        domain::may_create(principal, organization)?;
        let Some(owner) = Actor::of(principal) else { return Err(ErrorCode::NotFound.into()) };
        let hash = request_hash(&msg, |m| m.request_id.clear());
        if let Some(key) = &key {
            match idempotency::earlier(&self.inner.db, &caller_key(principal), "create_workspace", key, &hash).await? {
                Earlier::Made(id) => return self.get(principal, &id.to_string()).await,
                Earlier::Different => return Err(ErrorCode::IdempotencyKeyReused.into()),
                Earlier::None => {}
            }
        }
        self.check_office(principal, organization, office).await?;

        let now = self.now();
        let id = WorkspaceId::new();
        let (data_key, wrapped) =
            self.inner.kek.new_data_key().map_err(|e| WorkspacesError::Corrupt(format!("new data key: {e}")))?;
        let title_sealed = data_key
            .seal(title.as_str().as_bytes(), &title_aad(id))
            .map_err(|e| WorkspacesError::Corrupt(format!("sealing: {e}")))?;
        let row = WorkspaceRow {
            id,
            organization_id: organization,
            office_id: office,
            kind,
            title_sealed,
            topics: topics.iter().map(Topic::as_str).collect::<Vec<_>>().join(","),
            state: State::Active,
            owner_id: owner.id(),
            data_key: wrapped,
            version: 1,
            created_at: now,
            closed_at: None,
        };
        let mut tx = self.inner.db.begin().await?;
        store::insert_workspace(&mut tx, &row).await?;
        store::add_member(&mut tx, id, owner, MemberRole::Owner, now).await?;
        if let Some(key) = &key
            && !idempotency::remember(
                &mut tx,
                &caller_key(principal),
                "create_workspace",
                key,
                &hash,
                id.as_uuid(),
                now,
            )
            .await?
        {
            return Err(WorkspacesError::ConcurrentReplay);
        }
        let event = ev::WorkspaceCreated {
            organization_id: organization.to_string(),
            workspace_id: id.to_string(),
            owner_id: owner.id().to_string(),
        };
        self.emit(&mut tx, organization, event).await?;
        self.commit(tx).await?;
        let opened = self.open(&row)?;
        Ok(self.to_pb(&opened.workspace))
    }

    async fn get(&self, principal: &Principal, id: &str) -> Result<pb::Workspace> {
        let id = workspace_id(id)?;
        let mut tx = self.inner.db.begin().await?;
        let (opened, role, actor) = self.readable(&mut tx, principal, id).await?;
        self.log_read(&mut tx, &opened.workspace, actor, role, "workspace").await?;
        tx.commit().await?;
        Ok(self.to_pb(&opened.workspace))
    }

    async fn list(&self, principal: &Principal, msg: pb::ListWorkspacesRequest) -> Result<pb::ListWorkspacesResponse> {
        let page = page(msg.page_size, &msg.page_token)?;
        let Some(actor) = Actor::of(principal) else {
            return Ok(pb::ListWorkspacesResponse::default());
        };
        let rows = store::workspaces_of(&self.inner.db, actor, &page).await?;
        let (rows, next_page_token) = page.finish(rows, |(r, _)| r.id.as_uuid());
        let mut workspaces = Vec::new();
        for (row, role) in &rows {
            let opened = self.open(row)?;
            // Membership alone is not enough for an expert who has left the organisation.
            if domain::may_read(principal, &opened.workspace, Some(*role)).is_ok() {
                workspaces.push(self.to_pb(&opened.workspace));
            }
        }
        Ok(pb::ListWorkspacesResponse { workspaces, next_page_token })
    }

    async fn change_state(
        &self,
        principal: &Principal,
        msg: pb::ChangeStateRequest,
        reopen: bool,
    ) -> Result<pb::Workspace> {
        let id = workspace_id(&msg.workspace_id)?;
        let now = self.now();
        let mut tx = self.inner.db.begin().await?;
        let (opened, role, _) = self.readable(&mut tx, principal, id).await?;
        let workspace = &opened.workspace;
        if msg.version != 0 && msg.version != workspace.version {
            return Err(ErrorCode::VersionMismatch.into());
        }
        let (state, closed_at) = if reopen {
            domain::reopen(principal, workspace, role, now, self.inner.reopen_window)?
        } else {
            domain::close(principal, workspace, role, now)?
        };
        if !store::set_state(&mut tx, id, workspace.version, state, closed_at, now).await? {
            return Err(ErrorCode::VersionMismatch.into());
        }
        let (org, wid) = (workspace.organization_id.to_string(), id.to_string());
        if reopen {
            self.emit(
                &mut tx,
                workspace.organization_id,
                ev::WorkspaceReopened { organization_id: org, workspace_id: wid },
            )
            .await?;
        } else {
            self.emit(
                &mut tx,
                workspace.organization_id,
                ev::WorkspaceClosed { organization_id: org, workspace_id: wid },
            )
            .await?;
        }
        self.commit(tx).await?;
        let mut changed = opened.workspace;
        changed.state = state;
        changed.closed_at = closed_at;
        changed.version += 1;
        Ok(self.to_pb(&changed))
    }

    fn message_to_pb(&self, key: &DataKey, row: &MessageRow) -> Result<pb::Message> {
        let corrupt = || WorkspacesError::Corrupt(format!("message {} does not open", row.id));
        let plain = key.open(&row.sealed, &message_aad(row.workspace_id, row.id)).map_err(|_| corrupt())?;
        let content: MessageContent = serde_json::from_slice(&plain).map_err(|_| corrupt())?;
        Ok(pb::Message {
            id: row.id.to_string(),
            workspace_id: row.workspace_id.to_string(),
            author_id: row.author.id().to_string(),
            author_kind: row.author.kind().to_owned(),
            author_name: content.author_name,
            body: content.body,
            created_at: Some(timestamp(row.created_at)),
        })
    }

    async fn post(&self, principal: &Principal, msg: pb::PostMessageRequest) -> Result<pb::Message> {
        let id = workspace_id(&msg.workspace_id)?;
        let body = Text::parse("body", &msg.body, MESSAGE_MAX).map_err(invalid)?;
        let key = parse_request_id(&msg.request_id).map_err(invalid)?;
        let hash = request_hash(&msg, |m| m.request_id.clear());
        let mut tx = self.inner.db.begin().await?;
        let (opened, role, actor) = self.readable(&mut tx, principal, id).await?;
        domain::may_post(principal, &opened.workspace, role)?;
        if let Some(key) = &key {
            match idempotency::earlier(&mut tx, &caller_key(principal), "post_message", key, &hash).await? {
                Earlier::Made(message_id) => {
                    let row = store::find_message(&mut tx, MessageId(message_id))
                        .await?
                        .ok_or_else(|| WorkspacesError::Corrupt("remembered message is gone".into()))?;
                    return self.message_to_pb(&opened.key, &row);
                }
                Earlier::Different => return Err(ErrorCode::IdempotencyKeyReused.into()),
                Earlier::None => {}
            }
        }
        let now = self.now();
        let message_id = MessageId::new();
        let author_name = msg.author_name.trim().chars().take(200).collect::<String>();
        let content = serde_json::to_vec(&MessageContent { body: body.as_str().to_owned(), author_name })
            .map_err(|e| WorkspacesError::Corrupt(e.to_string()))?;
        let sealed = opened
            .key
            .seal(&content, &message_aad(id, message_id))
            .map_err(|e| WorkspacesError::Corrupt(format!("sealing: {e}")))?;
        let row = MessageRow { id: message_id, workspace_id: id, author: actor, sealed, created_at: now };
        store::insert_message(&mut tx, &row).await?;
        let remembered = match &key {
            Some(key) => {
                idempotency::remember(
                    &mut tx,
                    &caller_key(principal),
                    "post_message",
                    key,
                    &hash,
                    message_id.as_uuid(),
                    now,
                )
                .await?
            }
            None => true,
        };
        if !remembered {
            return Err(WorkspacesError::ConcurrentReplay);
        }
        let org = opened.workspace.organization_id;
        let event = ev::MessagePosted {
            organization_id: org.to_string(),
            workspace_id: id.to_string(),
            message_id: message_id.to_string(),
        };
        self.emit(&mut tx, org, event).await?;
        self.commit(tx).await?;
        self.message_to_pb(&opened.key, &row)
    }

    async fn messages(&self, principal: &Principal, msg: pb::ListMessagesRequest) -> Result<pb::ListMessagesResponse> {
        let id = workspace_id(&msg.workspace_id)?;
        let page = page(msg.page_size, &msg.page_token)?;
        let mut tx = self.inner.db.begin().await?;
        let (opened, role, actor) = self.readable(&mut tx, principal, id).await?;
        self.log_read(&mut tx, &opened.workspace, actor, role, "messages").await?;
        tx.commit().await?;
        let rows = store::messages_page(&self.inner.db, id, &page).await?;
        let (rows, next_page_token) = page.finish(rows, |r| r.id.as_uuid());
        let messages = rows.iter().map(|r| self.message_to_pb(&opened.key, r)).collect::<Result<_>>()?;
        Ok(pb::ListMessagesResponse { messages, next_page_token })
    }

    async fn access_log(
        &self,
        principal: &Principal,
        msg: pb::ListAccessLogRequest,
    ) -> Result<pb::ListAccessLogResponse> {
        let id = workspace_id(&msg.workspace_id)?;
        let page = page(msg.page_size, &msg.page_token)?;
        let mut tx = self.inner.db.begin().await?;
        let (opened, role, actor) = self.readable(&mut tx, principal, id).await?;
        self.log_read(&mut tx, &opened.workspace, actor, role, "access-log").await?;
        tx.commit().await?;
        let rows = store::access_page(&self.inner.db, id, &page).await?;
        let (rows, next_page_token) = page.finish(rows, |r| r.id);
        let entries = rows
            .into_iter()
            .map(|r| pb::AccessLogEntry {
                at: Some(timestamp(r.at)),
                actor_kind: r.actor_kind,
                actor_id: r.actor_id,
                actor_role: r.actor_role,
                organization_id: r.organization_id.map(|o| o.to_string()).unwrap_or_default(),
                what: r.what,
            })
            .collect();
        Ok(pb::ListAccessLogResponse { entries, next_page_token })
    }
}

#[tonic::async_trait]
impl pb::workspaces_service_server::WorkspacesService for Workspaces {
    async fn create_workspace(
        &self,
        request: Request<pb::CreateWorkspaceRequest>,
    ) -> std::result::Result<Response<pb::Workspace>, Status> {
        let principal = principal_of(&request)?.clone();
        Ok(Response::new(self.create(&principal, request.into_inner()).await?))
    }

    async fn get_workspace(
        &self,
        request: Request<pb::GetWorkspaceRequest>,
    ) -> std::result::Result<Response<pb::Workspace>, Status> {
        let principal = principal_of(&request)?.clone();
        Ok(Response::new(self.get(&principal, &request.get_ref().workspace_id).await?))
    }

    async fn list_workspaces(
        &self,
        request: Request<pb::ListWorkspacesRequest>,
    ) -> std::result::Result<Response<pb::ListWorkspacesResponse>, Status> {
        let principal = principal_of(&request)?.clone();
        Ok(Response::new(self.list(&principal, request.into_inner()).await?))
    }

    async fn close_workspace(
        &self,
        request: Request<pb::ChangeStateRequest>,
    ) -> std::result::Result<Response<pb::Workspace>, Status> {
        let principal = principal_of(&request)?.clone();
        Ok(Response::new(self.change_state(&principal, request.into_inner(), false).await?))
    }

    async fn reopen_workspace(
        &self,
        request: Request<pb::ChangeStateRequest>,
    ) -> std::result::Result<Response<pb::Workspace>, Status> {
        let principal = principal_of(&request)?.clone();
        Ok(Response::new(self.change_state(&principal, request.into_inner(), true).await?))
    }

    async fn post_message(
        &self,
        request: Request<pb::PostMessageRequest>,
    ) -> std::result::Result<Response<pb::Message>, Status> {
        let principal = principal_of(&request)?.clone();
        Ok(Response::new(self.post(&principal, request.into_inner()).await?))
    }

    async fn list_messages(
        &self,
        request: Request<pb::ListMessagesRequest>,
    ) -> std::result::Result<Response<pb::ListMessagesResponse>, Status> {
        let principal = principal_of(&request)?.clone();
        Ok(Response::new(self.messages(&principal, request.into_inner()).await?))
    }

    async fn list_access_log(
        &self,
        request: Request<pb::ListAccessLogRequest>,
    ) -> std::result::Result<Response<pb::ListAccessLogResponse>, Status> {
        let principal = principal_of(&request)?.clone();
        Ok(Response::new(self.access_log(&principal, request.into_inner()).await?))
    }
}
