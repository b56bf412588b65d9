//! What every handler shares: the service and its peers, a workspace opened with its key, and
//! the caller who may read it with what they see there.

use std::sync::Arc;

use chrono::Duration;
use object_store::ObjectStore;
use ohjaus_platform::{
    auth::Principal,
    clock::SharedClock,
    crypto::DataKey,
    db::{Db, Tx},
    error::FieldViolation,
    events::Outbox,
    grpc::Transport,
    ids::parse_uuid,
    keyring::{Keyring, Owner},
    mail::Mailer,
    proto::{
        identity::v1::identity_service_client::IdentityServiceClient,
        tenants::v1::tenants_service_client::TenantsServiceClient, workspaces::v1 as pb,
    },
    service::{Core, ServiceError, ServiceResult},
    types::Text,
};
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;

use crate::{
    domain::{self, Actor, MemberRole, Thread, Topic, Workspace, WorkspaceId, sight::Sight},
    store::{self, WorkspaceRow},
};

/// What the service is told at start.
#[derive(Clone, Debug)]
pub struct WorkspacesConfig {
    pub reopen_window: Duration,
    pub invitation_valid: Duration,
    pub notification_batch: Duration,
    pub message_edit_window: Duration,
    pub max_file_bytes: u64,
    /// A download whose reader takes nothing for this long is ended
    /// (`grpc.stream_idle_timeout_ms`).
    pub stream_idle: std::time::Duration,
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
    /// Its database, clock and outbox.
    pub(crate) core: Core,
    /// The workspaces' data keys, apart from their content.
    pub(crate) keyring: Keyring,
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
    #[track_caller]
    pub(crate) fn seal(&self, plaintext: &[u8], aad: &[u8]) -> ServiceResult<Vec<u8>> {
        match self.key.seal(plaintext, aad) {
            Ok(sealed) => Ok(sealed),
            Err(error) => Err(ServiceError::corrupt(format!("sealing: {error}"))),
        }
    }

    #[track_caller]
    pub(crate) fn open(&self, sealed: &[u8], aad: &[u8], what: &str) -> ServiceResult<Vec<u8>> {
        match self.key.open(sealed, aad) {
            Ok(plain) => Ok(plain),
            Err(_) => Err(ServiceError::corrupt(format!("{what} of workspace {} does not open", self.workspace.id))),
        }
    }

    #[track_caller]
    pub(crate) fn seal_json<T: Serialize>(&self, value: &T, aad: &[u8]) -> ServiceResult<Vec<u8>> {
        match serde_json::to_vec(value) {
            Ok(plain) => self.seal(&plain, aad),
            Err(error) => Err(ServiceError::corrupt(error.to_string())),
        }
    }

    #[track_caller]
    pub(crate) fn open_json<T: for<'de> Deserialize<'de>>(
        &self,
        sealed: &[u8],
        aad: &[u8],
        what: &str,
    ) -> ServiceResult<T> {
        let plain = self.open(sealed, aad, what)?;
        match serde_json::from_slice(&plain) {
            Ok(value) => Ok(value),
            Err(_) => Err(ServiceError::corrupt(format!("{what} does not parse"))),
        }
    }
}

/// A caller who may read a workspace: the workspace, their role, who they are, what they see.
pub(crate) struct Reader {
    pub(crate) opened: Opened,
    pub(crate) role: Option<MemberRole>,
    pub(crate) actor: Actor,
    pub(crate) sight: Sight,
}

pub(crate) fn title_aad(id: WorkspaceId) -> Vec<u8> {
    format!("workspace:{id}:title").into_bytes()
}

/// What a workspace's data key belongs to in the key store.
pub(crate) fn key_owner(id: WorkspaceId) -> Owner {
    Owner::new(crate::KEY_OWNER, id.as_uuid())
}

/// `row` opened with its data key: the title readable, content sealable.
pub(crate) fn opened_with(row: &WorkspaceRow, key: DataKey) -> ServiceResult<Opened> {
    let corrupt = |what: &str| ServiceError::corrupt(format!("workspace {} {what}", row.id));
    let title = key.open(&row.title_sealed, &title_aad(row.id)).map_err(|_| corrupt("title does not open"))?;
    let title = String::from_utf8(title).map_err(|_| corrupt("title"))?;
    let workspace = Workspace {
        id: row.id,
        organization_id: row.organization_id,
        office_id: row.office_id,
        kind: row.kind,
        // As it was parsed when written: a rule added since does not lock the workspace.
        title: Text::from_stored(title),
        topics: row
            .topics
            .split(',')
            .filter(|t| !t.is_empty())
            .map(|t| Topic::parse("topics", t).map_err(|_| corrupt("topics")))
            .collect::<ServiceResult<_>>()?,
        state: row.state,
        owner_id: row.owner_id,
        version: row.version,
        created_at: row.created_at,
        closed_at: row.closed_at,
    };
    Ok(Opened { workspace, key })
}

impl Workspaces {
    pub fn new(
        db: Db,
        clock: SharedClock,
        outbox: Outbox,
        keyring: Keyring,
        peers: Peers,
        config: WorkspacesConfig,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                core: Core::new(db, clock, outbox),
                keyring,
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
        self.inner.core.db()
    }

    /// Its database, clock and outbox: `now`, `emit` and `commit`.
    pub(crate) fn core(&self) -> &Core {
        &self.inner.core
    }

    pub fn server(&self) -> pb::workspaces_service_server::WorkspacesServiceServer<Self> {
        pb::workspaces_service_server::WorkspacesServiceServer::new(self.clone())
    }

    /// The workspace with its key unwrapped and its title opened. A workspace whose key is not
    /// in the key store was deleted (a row brought back by a content backup restored after the
    /// deletion, say): it does not exist, and nothing of it can be read.
    pub(crate) async fn open(&self, row: &WorkspaceRow) -> ServiceResult<Opened> {
        self.open_if_keyed(row).await?.ok_or_else(ServiceError::not_found)
    }

    /// As [`Workspaces::open`], `None` for a workspace without a key: for the service's own
    /// work (mail, events), to which a deleted workspace is as if it were not there.
    pub(crate) async fn open_if_keyed(&self, row: &WorkspaceRow) -> ServiceResult<Option<Opened>> {
        let Some(key) = self.inner.keyring.find(key_owner(row.id)).await? else {
            tracing::warn!(workspace = %row.id, "a workspace row without a data key (deleted) is left alone");
            return Ok(None);
        };
        opened_with(row, key).map(Some)
    }

    /// The workspace, the caller's role and sight in it, if the caller may read it; not-found
    /// otherwise.
    pub(crate) async fn readable(&self, tx: &mut Tx, principal: &Principal, id: WorkspaceId) -> ServiceResult<Reader> {
        let actor = Actor::of(principal).ok_or_else(ServiceError::not_found)?;
        let row = store::find_workspace(&mut *tx, id).await?.ok_or_else(ServiceError::not_found)?;
        let role = store::member_role(&mut *tx, id, actor).await?;
        let opened = self.open(&row).await?;
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

    /// The thread something new goes to: `requested` (a customer's id or empty) checked
    /// against the workspace's kind, the writer, what they see and the members.
    pub(crate) async fn thread_of_new(
        &self,
        tx: &mut Tx,
        workspace: &Workspace,
        sight: &Sight,
        requested: &str,
    ) -> ServiceResult<Thread> {
        let requested = if requested.is_empty() { None } else { Some(parse_uuid("thread_id", requested)?) };
        let invalid_thread = || ServiceError::from(FieldViolation::new("thread_id", "invalid-thread"));
        let thread = match sight.thread_of_new(requested) {
            Some(chosen) => chosen.map_err(|()| invalid_thread())?,
            None => domain::thread_for(workspace.kind, sight.actor, requested)?,
        };
        if let Thread::Customer(customer) = thread
            && store::member_role(&mut *tx, workspace.id, Actor::Customer(customer)).await?
                != Some(MemberRole::Customer)
        {
            return Err(invalid_thread());
        }
        Ok(thread)
    }
}
