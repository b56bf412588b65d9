//! The gRPC face of the workspaces service: parses requests, applies the rules of `domain`,
//! seals and opens content with the workspace's key, logs every read, announces changes.

use std::{collections::HashMap, pin::Pin, sync::Arc};

use chrono::{DateTime, Duration, Utc};
use futures::Stream;
use object_store::ObjectStore;
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
    mail::Mailer,
    proto::{
        identity::v1::identity_service_client::IdentityServiceClient,
        tenants::v1::{self as tenants_pb, tenants_service_client::TenantsServiceClient},
        workspaces::v1 as pb,
    },
    types::Text,
};
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;
use tonic::{Request, Response, Status, Streaming};
use uuid::Uuid;

use crate::{
    WorkspacesError,
    domain::{
        self, ATTACHMENTS_MAX, Actor, FileId, Kind, MESSAGE_MAX, MemberRole, MessageId, State, TITLE_MAX, Thread,
        Topic, Workspace, WorkspaceId, sight::Sight,
    },
    events as ev,
    store::{self, AccessRow, MessageRow, WorkspaceRow},
};

pub(crate) type Result<T> = std::result::Result<T, WorkspacesError>;
pub(crate) type PartStream<T> = Pin<Box<dyn Stream<Item = std::result::Result<T, Status>> + Send>>;

/// What the service is told at start.
#[derive(Clone, Debug)]
pub struct WorkspacesConfig {
    pub reopen_window: Duration,
    pub invitation_valid: Duration,
    pub notification_batch: Duration,
    pub message_edit_window: Duration,
    pub max_file_bytes: u64,
    /// Where links in mail point: the gateway's public address.
    pub public_base_url: String,
}

/// Who the service calls and where it keeps things besides its database.
pub struct Peers {
    pub tenants: Transport,
    pub identity: Transport,
    pub mailer: Mailer,
    pub files: Arc<dyn ObjectStore>,
}

/// The workspaces service.
#[derive(Clone)]
pub struct Workspaces {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) db: Db,
    pub(crate) clock: SharedClock,
    pub(crate) outbox: Outbox,
    pub(crate) kek: KeyEncryptionKey,
    pub(crate) tenants: TenantsServiceClient<Transport>,
    pub(crate) identity: IdentityServiceClient<Transport>,
    pub(crate) mailer: Mailer,
    pub(crate) files: Arc<dyn ObjectStore>,
    pub(crate) config: WorkspacesConfig,
    /// Wakes the mail worker when mail was queued.
    pub(crate) mail_waker: Arc<Notify>,
}

/// A workspace whose key is open: its title readable, its content sealable.
#[derive(Clone)]
pub(crate) struct Opened {
    pub(crate) workspace: Workspace,
    pub(crate) key: DataKey,
}

impl Opened {
    pub(crate) fn seal(&self, plaintext: &[u8], aad: &[u8]) -> Result<Vec<u8>> {
        self.key.seal(plaintext, aad).map_err(|e| WorkspacesError::Corrupt(format!("sealing: {e}")))
    }

    pub(crate) fn open(&self, sealed: &[u8], aad: &[u8], what: &str) -> Result<Vec<u8>> {
        self.key
            .open(sealed, aad)
            .map_err(|_| WorkspacesError::Corrupt(format!("{what} of workspace {} does not open", self.workspace.id)))
    }

    pub(crate) fn seal_json<T: Serialize>(&self, value: &T, aad: &[u8]) -> Result<Vec<u8>> {
        let plain = serde_json::to_vec(value).map_err(|e| WorkspacesError::Corrupt(e.to_string()))?;
        self.seal(&plain, aad)
    }

    pub(crate) fn open_json<T: for<'de> Deserialize<'de>>(&self, sealed: &[u8], aad: &[u8], what: &str) -> Result<T> {
        let plain = self.open(sealed, aad, what)?;
        serde_json::from_slice(&plain).map_err(|_| WorkspacesError::Corrupt(format!("{what} does not parse")))
    }
}

/// What a message seals: the body with its author's name as shown.
#[derive(Serialize, Deserialize)]
pub(crate) struct MessageContent {
    pub(crate) body: String,
    pub(crate) author_name: String,
}

/// A member's contact details, sealed in the members table.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub(crate) struct MemberContact {
    pub(crate) name: String,
    #[serde(default)]
    pub(crate) email: Option<String>,
    #[serde(default)]
    pub(crate) language: String,
}

pub(crate) fn member_aad(workspace: WorkspaceId, actor: Actor) -> Vec<u8> {
    format!("workspace:{workspace}:member:{}:{}", actor.kind(), actor.id()).into_bytes()
}

fn title_aad(id: WorkspaceId) -> Vec<u8> {
    format!("workspace:{id}:title").into_bytes()
}

fn message_aad(workspace: WorkspaceId, message: MessageId) -> Vec<u8> {
    format!("workspace:{workspace}:message:{message}").into_bytes()
}

/// A person's name as shown beside what they wrote or did: no control characters, at most 200
/// characters.
pub(crate) fn display_name(value: &str) -> String {
    value.trim().chars().filter(|c| !c.is_control()).take(200).collect()
}

pub(crate) fn invalid(violation: FieldViolation) -> WorkspacesError {
    WorkspacesError::Invalid(vec![violation])
}

pub(crate) fn page(size: i32, token: &str) -> Result<PageRequest> {
    PageRequest::parse(size, token).map_err(invalid)
}

/// A malformed id names nothing the caller may see.
pub(crate) fn workspace_id(value: &str) -> Result<WorkspaceId> {
    WorkspaceId::parse("workspace_id", value).map_err(|_| WorkspacesError::Refused(ErrorCode::NotFound))
}

/// A peer service's answer as ours: its not-found and refusals pass through (the caller asked
/// as themselves), anything else means the peer failed.
pub(crate) fn peer_refusal(peer: &str, status: &Status) -> WorkspacesError {
    match status.code() {
        tonic::Code::NotFound => WorkspacesError::Refused(ErrorCode::NotFound),
        tonic::Code::PermissionDenied => WorkspacesError::Refused(ErrorCode::PermissionDenied),
        code => WorkspacesError::Peer(format!("{peer}: {code}")),
    }
}

pub(crate) fn not_found() -> WorkspacesError {
    WorkspacesError::Refused(ErrorCode::NotFound)
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
        peers: Peers,
        config: WorkspacesConfig,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                db,
                clock,
                outbox,
                kek,
                tenants: TenantsServiceClient::new(peers.tenants),
                identity: IdentityServiceClient::new(peers.identity),
                mailer: peers.mailer,
                files: peers.files,
                config,
                mail_waker: Arc::new(Notify::new()),
            }),
        }
    }

    pub(crate) fn inner(&self) -> &Inner {
        &self.inner
    }

    pub fn db(&self) -> &Db {
        &self.inner.db
    }

    pub fn server(&self) -> pb::workspaces_service_server::WorkspacesServiceServer<Self> {
        pb::workspaces_service_server::WorkspacesServiceServer::new(self.clone())
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

    pub(crate) fn open(&self, row: &WorkspaceRow) -> Result<Opened> {
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

    pub(crate) fn to_pb(&self, w: &Workspace) -> pb::Workspace {
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
                .map(|t| timestamp(t + self.inner.config.reopen_window)),
        }
    }

    /// The workspace, the caller's role and sight in it, if the caller may read it; not-found
    /// otherwise.
    pub(crate) async fn readable(&self, tx: &mut Tx, principal: &Principal, id: WorkspaceId) -> Result<Reader> {
        let not_found = WorkspacesError::Refused(ErrorCode::NotFound);
        let actor = Actor::of(principal).ok_or(WorkspacesError::Refused(ErrorCode::NotFound))?;
        let row = store::find_workspace(&mut *tx, id).await?.ok_or(not_found)?;
        let role = store::member_role(&mut *tx, id, actor).await?;
        let opened = self.open(&row)?;
        domain::may_read(principal, &opened.workspace, role)?;
        // An expert who joined by consent reads through the consents still in force.
        let grants = if role == Some(MemberRole::Expert) {
            store::active_grants(&mut *tx, id, Some(actor.id())).await?
        } else {
            Vec::new()
        };
        let sight = Sight::of(Some(principal), opened.workspace.kind, actor, role, &grants)?;
        Ok(Reader { opened, role, actor, sight })
    }

    /// Writes who read `what` of the workspace to its access log.
    pub(crate) async fn log_read(
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
            let page = tenants.list_offices(request).await.map_err(|s| peer_refusal("tenants", &s))?.into_inner();
            if page.offices.iter().any(|o| o.id == office.to_string()) {
                return Ok(());
            }
            if page.next_page_token.is_empty() {
                return Err(invalid(FieldViolation::new("office_id", "invalid-office")));
            }
            token = page.next_page_token;
        }
    }

    /// An expert's name, address and language as their organisation keeps them, read as the
    /// caller (who must be able to see that organisation's experts).
    /// Also tells whether the expert is a guide there.
    pub(crate) async fn expert_contact(
        &self,
        principal: &Principal,
        organization: Uuid,
        person: Uuid,
    ) -> Result<(MemberContact, bool)> {
        let mut request = Request::new(tenants_pb::GetExpertRequest {
            organization_id: organization.to_string(),
            expert_id: person.to_string(),
        });
        request.extensions_mut().insert(principal.clone());
        let expert =
            self.inner.tenants.clone().get_expert(request).await.map_err(|s| peer_refusal("tenants", &s))?.into_inner();
        let guide = expert.roles.contains(&(tenants_pb::Role::Guide as i32));
        let contact = MemberContact {
            name: expert.name,
            email: Some(expert.email).filter(|e| !e.is_empty()),
            language: expert.language,
        };
        Ok((contact, guide))
    }

    /// One member's name, address and language, if they are a member and left them.
    pub(crate) async fn contact_of(&self, tx: &mut Tx, opened: &Opened, actor: Actor) -> Result<Option<MemberContact>> {
        let id = opened.workspace.id;
        store::member_contact(&mut *tx, id, actor)
            .await?
            .map(|sealed| opened.open_json(&sealed, &member_aad(id, actor), "member contact"))
            .transpose()
    }

    /// Where a mail sends a member: the workspace in the application.
    pub(crate) fn workspace_link(&self, id: WorkspaceId) -> String {
        format!("{}/app/workspaces/{id}", self.inner.config.public_base_url)
    }

    /// Members' names by actor, for the access log and the export.
    pub(crate) async fn member_names(&self, opened: &Opened) -> Result<HashMap<Actor, MemberContact>> {
        let members = store::members_of(&self.inner.db, opened.workspace.id).await?;
        let mut names = HashMap::new();
        for member in members {
            if let Some(sealed) = &member.contact_sealed {
                let contact: MemberContact =
                    opened.open_json(sealed, &member_aad(opened.workspace.id, member.actor), "member contact")?;
                names.insert(member.actor, contact);
            }
        }
        Ok(names)
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
        let (contact, _) = self.expert_contact(principal, organization, owner.id()).await?;

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
        let contact_sealed = data_key
            .seal(
                &serde_json::to_vec(&contact).map_err(|e| WorkspacesError::Corrupt(e.to_string()))?,
                &member_aad(id, owner),
            )
            .map_err(|e| WorkspacesError::Corrupt(format!("sealing: {e}")))?;
        store::add_member(&mut tx, id, owner, MemberRole::Owner, Some(contact_sealed), now).await?;
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
        let Reader { opened, role, actor, .. } = self.readable(&mut tx, principal, id).await?;
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
            // Membership alone is not enough for an expert who has left the organisation, or
            // whose consent came through an organisation they have left.
            if domain::may_read(principal, &opened.workspace, Some(*role)).is_err() {
                continue;
            }
            if *role == MemberRole::Expert {
                let grants = store::active_grants(&self.inner.db, row.id, Some(actor.id())).await?;
                if Sight::of(Some(principal), row.kind, actor, Some(*role), &grants).is_err() {
                    continue;
                }
            }
            workspaces.push(self.to_pb(&opened.workspace));
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
        let Reader { opened, role, .. } = self.readable(&mut tx, principal, id).await?;
        let workspace = &opened.workspace;
        if msg.version != 0 && msg.version != workspace.version {
            return Err(ErrorCode::VersionMismatch.into());
        }
        let (state, closed_at) = if reopen {
            domain::reopen(principal, workspace, role, now, self.inner.config.reopen_window)?
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

    /// A message as its reader sees it: a deleted one without body or attachments.
    pub(crate) async fn message_to_pb(&self, opened: &Opened, row: &MessageRow) -> Result<pb::Message> {
        let content: MessageContent =
            opened.open_json(&row.sealed, &message_aad(row.workspace_id, row.id), "message")?;
        let mut attachments = Vec::new();
        if row.deleted_at.is_none() {
            for id in row.attachments.split(',').filter(|a| !a.is_empty()) {
                let id = FileId(Uuid::parse_str(id).map_err(|_| WorkspacesError::Corrupt("attachment id".into()))?);
                if let Some(file) = store::find_file(&self.inner.db, id).await? {
                    attachments.push(self.file_to_pb(opened, &file)?);
                }
            }
        }
        Ok(pb::Message {
            id: row.id.to_string(),
            workspace_id: row.workspace_id.to_string(),
            author_id: row.author.id().to_string(),
            author_kind: row.author.kind().to_owned(),
            author_name: content.author_name,
            body: if row.deleted_at.is_some() { String::new() } else { content.body },
            created_at: Some(timestamp(row.created_at)),
            attachments,
            thread_id: row.thread.column().map(|t| t.to_string()).unwrap_or_default(),
            edited_at: row.edited_at.map(timestamp),
            deleted: row.deleted_at.is_some(),
            version: row.version,
        })
    }

    /// The files a new message refers to: uploaded to this workspace by its author, in the same
    /// thread.
    async fn attachments_of(
        &self,
        tx: &mut Tx,
        workspace: WorkspaceId,
        author: Actor,
        thread: Thread,
        ids: &[String],
    ) -> Result<Vec<FileId>> {
        if ids.len() > ATTACHMENTS_MAX {
            return Err(invalid(FieldViolation::new("attachment_ids", "invalid-attachment")));
        }
        let mut files = Vec::new();
        for (i, id) in ids.iter().enumerate() {
            let field = format!("attachment_ids[{i}]");
            let refused = || invalid(FieldViolation::new(&field, "invalid-attachment"));
            let id = FileId::parse(&field, id).map_err(|_| refused())?;
            let file = store::find_file(&mut *tx, id).await?.ok_or_else(refused)?;
            if file.workspace_id != workspace || file.uploaded_by != author || file.thread != thread {
                return Err(refused());
            }
            if !files.contains(&id) {
                files.push(id);
            }
        }
        Ok(files)
    }

    /// Tells every other member who sees `thread` that a message is there.
    async fn notify_of_message(
        &self,
        tx: &mut Tx,
        workspace: &Workspace,
        author: Actor,
        thread: Thread,
        message: MessageId,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let grants = store::active_grants(&mut *tx, workspace.id, None).await?;
        for member in store::members_of(&mut *tx, workspace.id).await? {
            if member.actor == author {
                continue;
            }
            match Sight::of(None, workspace.kind, member.actor, Some(member.role), &grants) {
                Ok(sight) if sight.sees(thread, message.as_uuid()) => {}
                _ => continue,
            }
            let notification = store::NotificationRow {
                id: domain::NotificationId::new(),
                recipient: member.actor,
                workspace_id: workspace.id,
                kind: "message".to_owned(),
                subject_id: message.as_uuid(),
                created_at: now,
                read_at: None,
            };
            store::insert_notification(tx, &notification).await?;
        }
        Ok(())
    }

    /// The thread something new goes to: `requested` (a customer's id or empty) checked
    /// against the workspace's kind, the writer, what they see and the members.
    pub(crate) async fn thread_of_new(
        &self,
        tx: &mut Tx,
        workspace: &Workspace,
        sight: &Sight,
        requested: &str,
    ) -> Result<Thread> {
        let requested =
            if requested.is_empty() { None } else { Some(parse_uuid("thread_id", requested).map_err(invalid)?) };
        let thread = match sight.thread_of_new(requested) {
            Some(chosen) => chosen.map_err(|()| invalid(FieldViolation::new("thread_id", "invalid-thread")))?,
            None => domain::thread_for(workspace.kind, sight.actor, requested).map_err(invalid)?,
        };
        if let Thread::Customer(customer) = thread
            && store::member_role(&mut *tx, workspace.id, Actor::Customer(customer)).await?
                != Some(MemberRole::Customer)
        {
            return Err(invalid(FieldViolation::new("thread_id", "invalid-thread")));
        }
        Ok(thread)
    }

    async fn post(&self, principal: &Principal, msg: pb::PostMessageRequest) -> Result<pb::Message> {
        let id = workspace_id(&msg.workspace_id)?;
        let body = Text::parse("body", &msg.body, MESSAGE_MAX).map_err(invalid)?;
        let key = parse_request_id(&msg.request_id).map_err(invalid)?;
        let hash = request_hash(&msg, |m| m.request_id.clear());
        let mut tx = self.inner.db.begin().await?;
        let Reader { opened, role, actor, sight } = self.readable(&mut tx, principal, id).await?;
        domain::may_post(principal, &opened.workspace, role)?;
        let thread = self.thread_of_new(&mut tx, &opened.workspace, &sight, &msg.thread_id).await?;
        if let Some(key) = &key {
            match idempotency::earlier(&mut tx, &caller_key(principal), "post_message", key, &hash).await? {
                Earlier::Made(message_id) => {
                    let row = store::find_message(&mut tx, MessageId(message_id))
                        .await?
                        .ok_or_else(|| WorkspacesError::Corrupt("remembered message is gone".into()))?;
                    tx.commit().await?;
                    return self.message_to_pb(&opened, &row).await;
                }
                Earlier::Different => return Err(ErrorCode::IdempotencyKeyReused.into()),
                Earlier::None => {}
            }
        }
        let attachments = self.attachments_of(&mut tx, id, actor, thread, &msg.attachment_ids).await?;
        let now = self.now();
        let message_id = MessageId::new();
        let author_name = display_name(&msg.author_name);
        let content = MessageContent { body: body.as_str().to_owned(), author_name };
        let sealed = opened.seal_json(&content, &message_aad(id, message_id))?;
        let row = MessageRow {
            id: message_id,
            workspace_id: id,
            author: actor,
            thread,
            attachments: attachments.iter().map(ToString::to_string).collect::<Vec<_>>().join(","),
            sealed,
            created_at: now,
            edited_at: None,
            deleted_at: None,
            version: 1,
        };
        store::insert_message(&mut tx, &row).await?;
        if let Some(key) = &key
            && !idempotency::remember(
                &mut tx,
                &caller_key(principal),
                "post_message",
                key,
                &hash,
                message_id.as_uuid(),
                now,
            )
            .await?
        {
            return Err(WorkspacesError::ConcurrentReplay);
        }
        self.notify_of_message(&mut tx, &opened.workspace, actor, thread, message_id, now).await?;
        let org = opened.workspace.organization_id;
        let event = ev::MessagePosted {
            organization_id: org.to_string(),
            workspace_id: id.to_string(),
            message_id: message_id.to_string(),
        };
        self.emit(&mut tx, org, event).await?;
        self.commit(tx).await?;
        self.message_to_pb(&opened, &row).await
    }

    async fn messages(&self, principal: &Principal, msg: pb::ListMessagesRequest) -> Result<pb::ListMessagesResponse> {
        let id = workspace_id(&msg.workspace_id)?;
        let page = page(msg.page_size, &msg.page_token)?;
        let mut tx = self.inner.db.begin().await?;
        let Reader { opened, role, actor, sight } = self.readable(&mut tx, principal, id).await?;
        self.log_read(&mut tx, &opened.workspace, actor, role, "messages").await?;
        tx.commit().await?;
        let rows = store::messages_page(&self.inner.db, id, &sight, &page, msg.newest_first).await?;
        let (rows, next_page_token) = page.finish(rows, |r| r.id.as_uuid());
        let mut messages = Vec::with_capacity(rows.len());
        for row in &rows {
            messages.push(self.message_to_pb(&opened, row).await?);
        }
        Ok(pb::ListMessagesResponse { messages, next_page_token })
    }

    /// One message the caller may see; anything else is not found.
    async fn visible_message(
        &self,
        tx: &mut Tx,
        principal: &Principal,
        workspace: &str,
        message: &str,
    ) -> Result<(Opened, Option<MemberRole>, Actor, MessageRow)> {
        let id = workspace_id(workspace)?;
        let message_id = MessageId::parse("message_id", message).map_err(|_| not_found())?;
        let Reader { opened, role, actor, sight } = self.readable(tx, principal, id).await?;
        let row = store::find_message(&mut *tx, message_id).await?.ok_or_else(not_found)?;
        if row.workspace_id != id || !sight.sees(row.thread, row.id.as_uuid()) {
            return Err(not_found());
        }
        Ok((opened, role, actor, row))
    }

    async fn get_message_of(&self, principal: &Principal, msg: pb::GetMessageRequest) -> Result<pb::Message> {
        let mut tx = self.inner.db.begin().await?;
        let (opened, role, actor, row) =
            self.visible_message(&mut tx, principal, &msg.workspace_id, &msg.message_id).await?;
        self.log_read(&mut tx, &opened.workspace, actor, role, "message").await?;
        tx.commit().await?;
        self.message_to_pb(&opened, &row).await
    }

    /// Edits (`Some(body)`) or deletes (`None`) the caller's own message.
    async fn change_message(
        &self,
        principal: &Principal,
        workspace: &str,
        message: &str,
        version: i64,
        body: Option<&str>,
    ) -> Result<pb::Message> {
        let body = body.map(|b| Text::parse("body", b, MESSAGE_MAX).map_err(invalid)).transpose()?;
        let mut tx = self.inner.db.begin().await?;
        let (opened, _, actor, row) = self.visible_message(&mut tx, principal, workspace, message).await?;
        let now = self.now();
        domain::may_change_message(
            actor,
            row.author,
            row.created_at,
            now,
            self.inner.config.message_edit_window,
            opened.workspace.state,
        )?;
        if row.deleted_at.is_some() {
            return Err(ErrorCode::WrongState.into());
        }
        if version != 0 && version != row.version {
            return Err(ErrorCode::VersionMismatch.into());
        }
        let aad = message_aad(row.workspace_id, row.id);
        let mut content: MessageContent = opened.open_json(&row.sealed, &aad, "message")?;
        let mut changed = MessageRow { version: row.version + 1, ..row };
        match body {
            Some(body) => {
                content.body = body.as_str().to_owned();
                changed.edited_at = Some(now);
            }
            None => {
                // The body is gone for good; only the author's name keeps the message's place.
                content.body = String::new();
                changed.attachments = String::new();
                changed.deleted_at = Some(now);
            }
        }
        changed.sealed = opened.seal_json(&content, &aad)?;
        if !store::update_message(&mut tx, &changed, changed.version - 1).await? {
            return Err(ErrorCode::VersionMismatch.into());
        }
        let org = opened.workspace.organization_id;
        let event = ev::MessageChanged {
            organization_id: org.to_string(),
            workspace_id: changed.workspace_id.to_string(),
            message_id: changed.id.to_string(),
        };
        self.emit(&mut tx, org, event).await?;
        self.commit(tx).await?;
        self.message_to_pb(&opened, &changed).await
    }

    async fn mark_read(&self, principal: &Principal, msg: pb::MarkReadRequest) -> Result<pb::ReadMarker> {
        let mut tx = self.inner.db.begin().await?;
        let (opened, _, actor, row) =
            self.visible_message(&mut tx, principal, &msg.workspace_id, &msg.message_id).await?;
        let now = self.now();
        store::mark_read(&mut tx, opened.workspace.id, actor, row.id, now).await?;
        let marker = store::read_marker(&mut tx, opened.workspace.id, actor).await?;
        tx.commit().await?;
        let (last, at) = marker.unwrap_or((row.id, now));
        Ok(pb::ReadMarker {
            workspace_id: opened.workspace.id.to_string(),
            last_read_message_id: last.to_string(),
            at: Some(timestamp(at)),
        })
    }

    async fn members(&self, principal: &Principal, msg: pb::ListMembersRequest) -> Result<pb::ListMembersResponse> {
        let id = workspace_id(&msg.workspace_id)?;
        let page = page(msg.page_size, &msg.page_token)?;
        let mut tx = self.inner.db.begin().await?;
        let Reader { opened, role, actor, sight } = self.readable(&mut tx, principal, id).await?;
        self.log_read(&mut tx, &opened.workspace, actor, role, "members").await?;
        let mut rows = store::members_of(&mut tx, id).await?;
        tx.commit().await?;
        // The owner first, then guides, experts and customers, each in the order they joined. A
        // workspace has hundreds of members at most, so the page is cut from the sorted list;
        // the token is the last member's id.
        rows.sort_by_key(|m| m.role.rank());
        let names = self.member_names(&opened).await?;
        // In a group the customers do not see each other.
        let visible: Vec<_> = rows.into_iter().filter(|m| sight.sees_member(m.actor)).collect();
        let start =
            page.after.and_then(|after| visible.iter().position(|m| m.actor.id() == after)).map_or(0, |i| i + 1);
        let fetched = visible.into_iter().skip(start).take(usize::try_from(page.fetch_limit()).unwrap_or(usize::MAX));
        let (rows, next_page_token) = page.finish(fetched.collect(), |m| m.actor.id());
        let members = rows
            .into_iter()
            .map(|m| pb::Member {
                kind: m.actor.kind().to_owned(),
                id: m.actor.id().to_string(),
                role: m.role.as_str().to_owned(),
                name: names.get(&m.actor).map(|c| c.name.clone()).unwrap_or_default(),
            })
            .collect();
        Ok(pb::ListMembersResponse { members, next_page_token })
    }

    async fn access_log(
        &self,
        principal: &Principal,
        msg: pb::ListAccessLogRequest,
    ) -> Result<pb::ListAccessLogResponse> {
        let id = workspace_id(&msg.workspace_id)?;
        let page = page(msg.page_size, &msg.page_token)?;
        let mut tx = self.inner.db.begin().await?;
        let Reader { opened, role, actor, sight } = self.readable(&mut tx, principal, id).await?;
        self.log_read(&mut tx, &opened.workspace, actor, role, "access-log").await?;
        tx.commit().await?;
        let rows = store::access_page(&self.inner.db, id, &sight, &page).await?;
        let (rows, next_page_token) = page.finish(rows, |r| r.id);
        let names = self.member_names(&opened).await?;
        let entries = rows
            .into_iter()
            .map(|r| {
                let actor = Uuid::parse_str(&r.actor_id).ok().and_then(|id| match r.actor_kind.as_str() {
                    "expert" => Some(Actor::Expert(id)),
                    "customer" => Some(Actor::Customer(id)),
                    _ => None,
                });
                let actor_name = actor.and_then(|a| names.get(&a)).map(|c| c.name.clone()).unwrap_or_default();
                pb::AccessLogEntry {
                    at: Some(timestamp(r.at)),
                    actor_kind: r.actor_kind,
                    actor_id: r.actor_id,
                    actor_role: r.actor_role,
                    organization_id: r.organization_id.map(|o| o.to_string()).unwrap_or_default(),
                    what: r.what,
                    actor_name,
                }
            })
            .collect();
        Ok(pb::ListAccessLogResponse { entries, next_page_token })
    }
}

/// A caller who may read a workspace: the workspace, their role, who they are, what they see.
pub(crate) struct Reader {
    pub(crate) opened: Opened,
    pub(crate) role: Option<MemberRole>,
    pub(crate) actor: Actor,
    pub(crate) sight: Sight,
}

/// Runs a unary handler: the caller's principal, then the service's answer or its status.
macro_rules! unary {
    ($self:ident, $request:ident, $method:ident) => {{
        let principal = principal_of(&$request)?.clone();
        Ok(Response::new($self.$method(&principal, $request.into_inner()).await?))
    }};
}

#[tonic::async_trait]
impl pb::workspaces_service_server::WorkspacesService for Workspaces {
    type DownloadFileStream = PartStream<pb::DownloadFileResponse>;
    type ExportWorkspaceStream = PartStream<pb::ExportPart>;

    async fn create_workspace(
        &self,
        request: Request<pb::CreateWorkspaceRequest>,
    ) -> std::result::Result<Response<pb::Workspace>, Status> {
        unary!(self, request, create)
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
        unary!(self, request, list)
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
        unary!(self, request, post)
    }

    async fn list_messages(
        &self,
        request: Request<pb::ListMessagesRequest>,
    ) -> std::result::Result<Response<pb::ListMessagesResponse>, Status> {
        unary!(self, request, messages)
    }

    async fn list_access_log(
        &self,
        request: Request<pb::ListAccessLogRequest>,
    ) -> std::result::Result<Response<pb::ListAccessLogResponse>, Status> {
        unary!(self, request, access_log)
    }

    async fn get_message(
        &self,
        request: Request<pb::GetMessageRequest>,
    ) -> std::result::Result<Response<pb::Message>, Status> {
        unary!(self, request, get_message_of)
    }

    async fn edit_message(
        &self,
        request: Request<pb::EditMessageRequest>,
    ) -> std::result::Result<Response<pb::Message>, Status> {
        let principal = principal_of(&request)?.clone();
        let msg = request.into_inner();
        let changed =
            self.change_message(&principal, &msg.workspace_id, &msg.message_id, msg.version, Some(&msg.body)).await?;
        Ok(Response::new(changed))
    }

    async fn delete_message(
        &self,
        request: Request<pb::DeleteMessageRequest>,
    ) -> std::result::Result<Response<pb::Message>, Status> {
        let principal = principal_of(&request)?.clone();
        let msg = request.into_inner();
        Ok(Response::new(self.change_message(&principal, &msg.workspace_id, &msg.message_id, msg.version, None).await?))
    }

    async fn mark_read(
        &self,
        request: Request<pb::MarkReadRequest>,
    ) -> std::result::Result<Response<pb::ReadMarker>, Status> {
        let principal = principal_of(&request)?.clone();
        Ok(Response::new(Workspaces::mark_read(self, &principal, request.into_inner()).await?))
    }

    async fn create_invitation(
        &self,
        request: Request<pb::CreateInvitationRequest>,
    ) -> std::result::Result<Response<pb::Invitation>, Status> {
        unary!(self, request, invite)
    }

    async fn list_invitations(
        &self,
        request: Request<pb::ListInvitationsRequest>,
    ) -> std::result::Result<Response<pb::ListInvitationsResponse>, Status> {
        unary!(self, request, invitations)
    }

    async fn resend_invitation(
        &self,
        request: Request<pb::InvitationRef>,
    ) -> std::result::Result<Response<pb::Invitation>, Status> {
        unary!(self, request, resend_invitation_of)
    }

    async fn revoke_invitation(
        &self,
        request: Request<pb::InvitationRef>,
    ) -> std::result::Result<Response<pb::Invitation>, Status> {
        unary!(self, request, revoke_invitation_of)
    }

    async fn check_invitation(
        &self,
        request: Request<pb::CheckInvitationRequest>,
    ) -> std::result::Result<Response<pb::CheckInvitationResponse>, Status> {
        unary!(self, request, check_invitation_of)
    }

    async fn accept_invitation(
        &self,
        request: Request<pb::AcceptInvitationRequest>,
    ) -> std::result::Result<Response<pb::Workspace>, Status> {
        unary!(self, request, accept)
    }

    async fn upload_file(
        &self,
        request: Request<Streaming<pb::UploadFileRequest>>,
    ) -> std::result::Result<Response<pb::File>, Status> {
        let principal = principal_of(&request)?.clone();
        Ok(Response::new(self.upload(&principal, request.into_inner()).await?))
    }

    async fn list_files(
        &self,
        request: Request<pb::ListFilesRequest>,
    ) -> std::result::Result<Response<pb::ListFilesResponse>, Status> {
        unary!(self, request, files)
    }

    async fn download_file(
        &self,
        request: Request<pb::DownloadFileRequest>,
    ) -> std::result::Result<Response<Self::DownloadFileStream>, Status> {
        unary!(self, request, download)
    }

    async fn list_notifications(
        &self,
        request: Request<pb::ListNotificationsRequest>,
    ) -> std::result::Result<Response<pb::ListNotificationsResponse>, Status> {
        unary!(self, request, notifications)
    }

    async fn mark_notifications_read(
        &self,
        request: Request<pb::MarkNotificationsReadRequest>,
    ) -> std::result::Result<Response<pb::MarkNotificationsReadResponse>, Status> {
        unary!(self, request, notifications_read)
    }

    async fn export_workspace(
        &self,
        request: Request<pb::ExportWorkspaceRequest>,
    ) -> std::result::Result<Response<Self::ExportWorkspaceStream>, Status> {
        unary!(self, request, export)
    }

    async fn transfer_workspace(
        &self,
        request: Request<pb::TransferWorkspaceRequest>,
    ) -> std::result::Result<Response<pb::TransferWorkspaceResponse>, Status> {
        unary!(self, request, transfer)
    }

    async fn archive_workspace(
        &self,
        request: Request<pb::RetentionRequest>,
    ) -> std::result::Result<Response<pb::RetentionResponse>, Status> {
        unary!(self, request, archive)
    }

    async fn delete_workspace(
        &self,
        request: Request<pb::RetentionRequest>,
    ) -> std::result::Result<Response<pb::RetentionResponse>, Status> {
        unary!(self, request, delete)
    }

    async fn create_item(
        &self,
        request: Request<pb::CreateItemRequest>,
    ) -> std::result::Result<Response<pb::Item>, Status> {
        unary!(self, request, create_item)
    }

    async fn get_item(&self, request: Request<pb::ItemRef>) -> std::result::Result<Response<pb::Item>, Status> {
        unary!(self, request, get_item)
    }

    async fn list_items(
        &self,
        request: Request<pb::ListItemsRequest>,
    ) -> std::result::Result<Response<pb::ListItemsResponse>, Status> {
        unary!(self, request, list_items)
    }

    async fn update_item(
        &self,
        request: Request<pb::UpdateItemRequest>,
    ) -> std::result::Result<Response<pb::Item>, Status> {
        unary!(self, request, update_item)
    }

    async fn set_task_done(
        &self,
        request: Request<pb::SetTaskDoneRequest>,
    ) -> std::result::Result<Response<pb::Item>, Status> {
        unary!(self, request, set_task_done)
    }

    async fn delete_item(&self, request: Request<pb::ItemRef>) -> std::result::Result<Response<pb::Item>, Status> {
        unary!(self, request, delete_item)
    }

    async fn get_summary(
        &self,
        request: Request<pb::GetSummaryRequest>,
    ) -> std::result::Result<Response<pb::Summary>, Status> {
        unary!(self, request, get_summary)
    }

    async fn put_summary(
        &self,
        request: Request<pb::PutSummaryRequest>,
    ) -> std::result::Result<Response<pb::Summary>, Status> {
        unary!(self, request, put_summary)
    }

    async fn list_members(
        &self,
        request: Request<pb::ListMembersRequest>,
    ) -> std::result::Result<Response<pb::ListMembersResponse>, Status> {
        unary!(self, request, members)
    }
}
