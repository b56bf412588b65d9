//! The workspace itself: a guide opens one, its members read it, its guides close and reopen
//! it; a main user of its organisation may close it too, without reading it.

use chrono::{DateTime, Utc};
use ohjaus_platform::{
    auth::{Principal, Role},
    db::Tx,
    error::{ErrorCode, FieldViolation, Violations},
    grpc::timestamp,
    ids::{PageRequest, parse_uuid},
    proto::{tenants::v1 as tenants_pb, workspaces::v1 as pb},
    service::{RequestKey, ServiceError, ServiceResult, peer_refusal},
    types::Text,
};
use tonic::Request;
use uuid::Uuid;

use crate::{
    domain::{self, Actor, Kind, MemberRole, State, TITLE_MAX, Topic, Workspace, WorkspaceId, sight::Sight},
    events as ev,
    members::member_aad,
    service::{Opened, Reader, Workspaces, key_owner, opened_with, title_aad},
    store::{self, WorkspaceRow},
};

/// A new workspace as its guide asked for it.
struct CreateWorkspace {
    organization: Uuid,
    office: Uuid,
    kind: Kind,
    title: Text,
    /// Each topic once, in the order given.
    topics: Vec<Topic>,
    key: RequestKey,
}

impl CreateWorkspace {
    fn parse(msg: &pb::CreateWorkspaceRequest) -> ServiceResult<Self> {
        let mut v = Violations::new();
        let organization = v.check(parse_uuid("organization_id", &msg.organization_id));
        let office = v.check(parse_uuid("office_id", &msg.office_id));
        let kind = v.check(match pb::WorkspaceKind::try_from(msg.kind) {
            Ok(pb::WorkspaceKind::Personal) => Ok(Kind::Personal),
            Ok(pb::WorkspaceKind::Group) => Ok(Kind::Group),
            _ => Err(FieldViolation::new("kind", "invalid-kind")),
        });
        let title = v.check(Text::parse("title", &msg.title, TITLE_MAX));
        let mut topics = Vec::new();
        for (i, topic) in msg.topics.iter().enumerate() {
            if let Some(topic) = v.check(Topic::parse(&format!("topics[{i}]"), topic))
                && !topics.contains(&topic)
            {
                topics.push(topic);
            }
        }
        let key = v.check(RequestKey::parse("create_workspace", msg, |m| &mut m.request_id));
        Ok(v.finish_with(|| {
            Some(Self { organization: organization?, office: office?, kind: kind?, title: title?, topics, key: key? })
        })?)
    }
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

/// Which way a guide (or, closing, a main user) turns a workspace's state.
#[derive(Clone, Copy)]
enum StateChange {
    Close,
    Reopen,
}

impl Workspaces {
    pub(crate) fn workspace_to_pb(&self, w: &Workspace) -> pb::Workspace {
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
                .map(|t| timestamp(t + self.inner().config.reopen_window)),
        }
    }

    pub(crate) async fn create_workspace(
        &self,
        principal: &Principal,
        msg: pb::CreateWorkspaceRequest,
    ) -> ServiceResult<pb::Workspace> {
        let command = CreateWorkspace::parse(&msg)?;
        domain::may_create(principal, command.organization)?;
        let owner = Actor::of(principal).ok_or_else(ServiceError::not_found)?;
        if let Some(made) = command.key.replayed(self.db(), principal).await? {
            return self.read_workspace(principal, WorkspaceId(made)).await;
        }
        // Tenants is asked before the transaction begins: no lock is held while another service
        // answers.
        self.check_office(principal, command.organization, command.office).await?;
        let (contact, _) = self.expert_contact(principal, command.organization, owner.id()).await?;
        let now = self.core().now();
        // The key is stored first: content is never written without its key being kept.
        let (row, opened) = self.new_workspace(&command, owner, now).await?;
        let id = row.id;
        let made: ServiceResult<()> = async {
            let mut tx = self.db().begin().await?;
            store::insert_workspace(&mut tx, &row).await?;
            let contact_sealed = opened.seal_json(&contact, &member_aad(id, owner))?;
            store::add_member(&mut tx, id, owner, MemberRole::Owner, Some(contact_sealed), now).await?;
            command.key.remember(&mut tx, principal, id.as_uuid(), now).await?;
            let event = ev::WorkspaceCreated {
                organization_id: command.organization.to_string(),
                workspace_id: id.to_string(),
                owner_id: owner.id().to_string(),
            };
            self.core().emit(&mut tx, command.organization, event).await?;
            self.core().commit(tx).await
        }
        .await;
        if made.is_err() {
            // Nothing of it was written: its key goes too (an orphan key would open nothing).
            if let Err(error) = self.inner().keyring.delete(key_owner(id)).await {
                tracing::warn!(workspace = %id, %error, "the key of a workspace not made stays in the key store");
            }
        }
        made?;
        Ok(self.workspace_to_pb(&opened.workspace))
    }

    /// The row of a new workspace with a data key of its own (stored in the key store), and
    /// the workspace opened with it.
    async fn new_workspace(
        &self,
        command: &CreateWorkspace,
        owner: Actor,
        now: DateTime<Utc>,
    ) -> ServiceResult<(WorkspaceRow, Opened)> {
        let id = WorkspaceId::new();
        let data_key = self.inner().keyring.create(key_owner(id)).await?;
        let title_sealed = data_key
            .seal(command.title.as_str().as_bytes(), &title_aad(id))
            .map_err(|e| ServiceError::corrupt(format!("sealing: {e}")))?;
        let row = WorkspaceRow {
            id,
            organization_id: command.organization,
            office_id: command.office,
            kind: command.kind,
            title_sealed,
            topics: command.topics.iter().map(Topic::as_str).collect::<Vec<_>>().join(","),
            state: State::Active,
            owner_id: owner.id(),
            version: 1,
            created_at: now,
            closed_at: None,
        };
        let opened = opened_with(&row, data_key)?;
        Ok((row, opened))
    }

    pub(crate) async fn get_workspace(
        &self,
        principal: &Principal,
        msg: pb::GetWorkspaceRequest,
    ) -> ServiceResult<pb::Workspace> {
        self.read_workspace(principal, WorkspaceId::parse_ref(&msg.workspace_id)?).await
    }

    /// The workspace as the caller reads it; the read is logged.
    async fn read_workspace(&self, principal: &Principal, id: WorkspaceId) -> ServiceResult<pb::Workspace> {
        let mut tx = self.db().begin().await?;
        let Reader { opened, role, actor, .. } = self.readable(&mut tx, principal, id).await?;
        self.log_read(&mut tx, &opened.workspace, actor, role, "workspace").await?;
        tx.commit().await?;
        Ok(self.workspace_to_pb(&opened.workspace))
    }

    pub(crate) async fn list_workspaces(
        &self,
        principal: &Principal,
        msg: pb::ListWorkspacesRequest,
    ) -> ServiceResult<pb::ListWorkspacesResponse> {
        let page = PageRequest::parse(msg.page_size, &msg.page_token)?;
        let Some(actor) = Actor::of(principal) else {
            return Ok(pb::ListWorkspacesResponse::default());
        };
        let rows = store::workspaces_of(self.db(), actor, &page).await?;
        let (rows, next_page_token) = page.finish(rows, |(r, _)| r.id.as_uuid());
        let mut workspaces = Vec::new();
        for (row, role) in &rows {
            // A deleted workspace (a row a restored content backup brought back) is not listed.
            let Some(opened) = self.open_if_keyed(row).await? else { continue };
            // Membership alone is not enough for an expert who has left the organisation, or
            // whose consent came through an organisation they have left.
            if domain::may_read(principal, &opened.workspace, Some(*role)).is_err() {
                continue;
            }
            if *role == MemberRole::Expert {
                let grants = store::active_grants(self.db(), row.id, Some(actor.id())).await?;
                if Sight::of(Some(principal), row.kind, actor, Some(*role), &grants).is_err() {
                    continue;
                }
            }
            workspaces.push(self.workspace_to_pb(&opened.workspace));
        }
        Ok(pb::ListWorkspacesResponse { workspaces, next_page_token })
    }

    pub(crate) async fn close_workspace(
        &self,
        principal: &Principal,
        msg: pb::ChangeStateRequest,
    ) -> ServiceResult<pb::Workspace> {
        self.change_state(principal, msg, StateChange::Close).await
    }

    pub(crate) async fn reopen_workspace(
        &self,
        principal: &Principal,
        msg: pb::ChangeStateRequest,
    ) -> ServiceResult<pb::Workspace> {
        self.change_state(principal, msg, StateChange::Reopen).await
    }

    async fn change_state(
        &self,
        principal: &Principal,
        msg: pb::ChangeStateRequest,
        change: StateChange,
    ) -> ServiceResult<pb::Workspace> {
        let id = WorkspaceId::parse_ref(&msg.workspace_id)?;
        let now = self.core().now();
        let mut tx = self.db().begin().await?;
        let Reader { opened, role, .. } = match self.readable(&mut tx, principal, id).await {
            Ok(reader) => reader,
            // Not a member: a main user of the organisation may still close it, unread.
            Err(refused) if matches!(change, StateChange::Close) && refused.refusal() == Some(ErrorCode::NotFound) => {
                return self.close_as_main_user(tx, principal, id, msg.version, now).await;
            }
            Err(refused) => return Err(refused),
        };
        let workspace = &opened.workspace;
        if msg.version != 0 && msg.version != workspace.version {
            return Err(ErrorCode::VersionMismatch.into());
        }
        let (state, closed_at) = match change {
            StateChange::Reopen => domain::reopen(principal, workspace, role, now, self.inner().config.reopen_window)?,
            StateChange::Close => domain::close(principal, workspace, role, now)?,
        };
        if !store::set_state(&mut tx, id, workspace.version, state, closed_at, now).await? {
            return Err(ErrorCode::VersionMismatch.into());
        }
        let (org, wid) = (workspace.organization_id.to_string(), id.to_string());
        match change {
            StateChange::Reopen => {
                let event = ev::WorkspaceReopened { organization_id: org, workspace_id: wid };
                self.core().emit(&mut tx, workspace.organization_id, event).await?;
            }
            StateChange::Close => {
                let event = ev::WorkspaceClosed { organization_id: org, workspace_id: wid };
                self.core().emit(&mut tx, workspace.organization_id, event).await?;
            }
        }
        self.core().commit(tx).await?;
        let mut changed = opened.workspace;
        changed.state = state;
        changed.closed_at = closed_at;
        changed.version += 1;
        Ok(self.workspace_to_pb(&changed))
    }

    /// A main user closes a workspace of their organisation without reading it: the access log
    /// says who closed it, and the answer carries nothing of its content (no title, no topics).
    async fn close_as_main_user(
        &self,
        mut tx: Tx,
        principal: &Principal,
        id: WorkspaceId,
        version: i64,
        now: DateTime<Utc>,
    ) -> ServiceResult<pb::Workspace> {
        let Some(Actor::Expert(main_user)) = Actor::of(principal) else { return Err(ServiceError::not_found()) };
        let row = store::find_workspace(&mut tx, id).await?.ok_or_else(ServiceError::not_found)?;
        let opened = self.open(&row).await?;
        let workspace = &opened.workspace;
        domain::may_steward(principal, workspace)?;
        if version != 0 && version != workspace.version {
            return Err(ErrorCode::VersionMismatch.into());
        }
        let (state, closed_at) = domain::closing(workspace, now)?;
        if !store::set_state(&mut tx, id, workspace.version, state, closed_at, now).await? {
            return Err(ErrorCode::VersionMismatch.into());
        }
        self.log_act(&mut tx, workspace, main_user, Role::Admin.as_str(), "closed", now).await?;
        let org = workspace.organization_id;
        let event = ev::WorkspaceClosed { organization_id: org.to_string(), workspace_id: id.to_string() };
        self.core().emit(&mut tx, org, event).await?;
        self.core().commit(tx).await?;
        let mut changed = opened.workspace;
        changed.state = state;
        changed.closed_at = closed_at;
        changed.version += 1;
        Ok(pb::Workspace { title: String::new(), topics: Vec::new(), ..self.workspace_to_pb(&changed) })
    }

    /// The office must be one of the organisation's, as the caller can see it in tenants.
    async fn check_office(&self, principal: &Principal, organization: Uuid, office: Uuid) -> ServiceResult<()> {
        let mut tenants = self.inner().tenants.clone();
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
                return Err(FieldViolation::new("office_id", "invalid-office").into());
            }
            token = page.next_page_token;
        }
    }
}
