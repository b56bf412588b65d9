//! The harness (`ohjaus-test-support`): every test body runs once per backend, each run with its
//! own database. PostgreSQL comes from `OHJAUS_TEST_POSTGRES_URL` (default: the local server);
//! when it cannot be reached the server-backend tests fail, they never skip.

use std::{future::Future, sync::Arc, time::Duration};

use chrono::Utc;
use ohjaus_consent::{
    Consent, Peers,
    domain::{
        Action, Actor, ConsentRequest, ConsentState, EntryId, Language, RequestId, WorkspaceId,
        ledger::{Entry, LedgerKey, purpose_aad},
    },
    store,
};
use ohjaus_platform::{
    auth::TokenKeys,
    clock::{ManualClock, SharedClock},
    config::Settings,
    db::Db,
    events::Outbox,
    grpc::{self, Transport},
    keyring::{Keyring, Owner},
};
pub use ohjaus_test_support::Backend;
use ohjaus_test_support::{Harness, open_keyring};
use tempfile::TempDir;
use uuid::Uuid;

/// Instantiates each named `async fn(TestEnv)` as `<name>::embedded` and `<name>::server`.
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        ohjaus_test_support::on_both_backends!(crate::support::run; $($name),*);
    };
}
pub(crate) use on_both_backends;

const HARNESS: Harness = Harness {
    service: ohjaus_consent::SERVICE,
    migrations: ohjaus_consent::migrations,
    database_prefix: "ohjaus_consent_t",
    bus: false,
    settings: &[],
};

/// What a test body gets: settings, the migrated consent database and a clock.
pub struct TestEnv {
    pub settings: Settings,
    pub db: Db,
    /// The service's key store.
    pub keyring: Keyring,
    pub clock: ManualClock,
    _data_dir: TempDir,
}

impl TestEnv {
    pub fn shared_clock(&self) -> SharedClock {
        Arc::new(self.clock.clone())
    }

    pub fn ledger_key(&self) -> LedgerKey {
        LedgerKey::new(self.settings.security.consent_ledger_key.clone())
    }

    pub fn token_keys(&self) -> TokenKeys {
        TokenKeys::from_settings(&self.settings.auth, self.shared_clock()).expect("the test signing key")
    }

    /// The service, with peers that are never reached (nothing here asks them).
    pub fn consent(&self) -> Consent {
        let keys = self.token_keys();
        let nowhere = || -> Transport {
            grpc::remote("http://127.0.0.1:9", &keys, Duration::from_secs(1)).expect("a lazy transport")
        };
        Consent::new(
            self.db.clone(),
            self.shared_clock(),
            Outbox::new(ohjaus_consent::SERVICE, self.shared_clock()),
            self.keyring.clone(),
            self.ledger_key(),
            Peers { tenants: nowhere(), workspaces: nowhere() },
        )
    }

    /// A workspace of `organization` with a chain of `n` entries written as the service
    /// writes them; returns the workspace and its customer.
    pub async fn workspace_with_chain(&self, organization: Uuid, n: usize) -> (WorkspaceId, Uuid) {
        let workspace = WorkspaceId::new();
        let customer = Uuid::now_v7();
        let data_key = self
            .keyring
            .ensure(Owner::new(ohjaus_consent::KEY_OWNER, workspace.as_uuid()))
            .await
            .expect("the workspace's key");
        let mut tx = self.db.begin().await.expect("begin");
        store::ensure_workspace_key(&mut tx, workspace, organization, self.clock.now_()).await.expect("workspace row");
        tx.commit().await.expect("commit");
        let request = ConsentRequest {
            id: RequestId::new(),
            workspace_id: workspace,
            organization_id: organization,
            customer_id: customer,
            expert_id: Uuid::now_v7(),
            expert_organization_id: organization,
            language: Language::Fi,
            state: ConsentState::Pending,
            requested_by: Uuid::now_v7(),
            requested_at: self.clock.now_(),
            decided_at: None,
            visible_from: None,
            ended_at: None,
            version: 1,
        };
        let actions = [Action::Requested, Action::Accepted, Action::Withdrawn, Action::Ended];
        for i in 0..n {
            let action = actions[i % actions.len()];
            let actor = if action == Action::Requested || action == Action::Ended {
                Actor::Expert(request.requested_by)
            } else {
                Actor::Customer(customer)
            };
            self.clock.advance(chrono::Duration::minutes(1));
            let mut tx = self.db.begin().await.expect("begin");
            let head = store::lock_head(&mut tx, workspace).await.expect("head");
            let id = EntryId::new().as_uuid();
            let purpose = format!("Purpose number {i}");
            let mut entry = Entry {
                workspace_id: workspace.as_uuid(),
                seq: head.last_seq + 1,
                id,
                at: self.clock.now_(),
                action: action.as_str().to_owned(),
                actor_kind: actor.kind().to_owned(),
                actor_id: actor.id(),
                request_id: request.id.as_uuid(),
                organization_id: organization,
                customer_id: customer,
                expert_id: request.expert_id,
                expert_organization_id: request.expert_organization_id,
                purpose_sealed: data_key.seal(purpose.as_bytes(), &purpose_aad(workspace.as_uuid(), id)).expect("seal"),
                visible_from: (action == Action::Accepted).then(|| self.clock.now_()),
                prev_mac: head.last_mac,
                mac: Vec::new(),
            };
            self.ledger_key().seal(&mut entry);
            store::append_entry(&mut tx, &entry).await.expect("append");
            tx.commit().await.expect("commit");
        }
        (workspace, customer)
    }
}

/// `ManualClock::now` without importing the trait everywhere.
pub trait Now {
    fn now_(&self) -> chrono::DateTime<Utc>;
}

impl Now for ManualClock {
    fn now_(&self) -> chrono::DateTime<Utc> {
        ohjaus_platform::clock::Clock::now(self)
    }
}

/// Runs `body` on `backend`, then removes the test database, and re-raises a panic.
pub async fn run<F, Fut>(backend: Backend, body: F)
where
    F: FnOnce(TestEnv) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    HARNESS
        .run(backend, |env| async move {
            let keyring = open_keyring(&env.settings, ohjaus_consent::SERVICE).await;
            body(TestEnv { settings: env.settings, db: env.db, keyring, clock: env.clock, _data_dir: env.data_dir })
                .await;
        })
        .await;
}
