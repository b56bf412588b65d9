//! The harness: every test body runs once per backend, each run with its own database.
//! PostgreSQL comes from `OHJAUS_TEST_POSTGRES_URL` (default: the local server); when it
//! cannot be reached the server-backend tests fail, they never skip.

use std::{future::Future, sync::Arc, time::Duration};

use chrono::{TimeZone, Utc};
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
    crypto::KeyEncryptionKey,
    db::Db,
    events::Outbox,
    grpc::{self, Transport},
};
use tempfile::TempDir;
use uuid::Uuid;

/// Instantiates each named `async fn(TestEnv)` as `<name>::embedded` and `<name>::server`.
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn embedded() {
                crate::support::run(crate::support::Backend::Embedded, super::$name).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn server() {
                crate::support::run(crate::support::Backend::Server, super::$name).await;
            }
        }
    )*};
}
pub(crate) use on_both_backends;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// SQLite in a temporary folder.
    Embedded,
    /// PostgreSQL.
    Server,
}

/// What a test body gets: settings, the migrated consent database and a clock.
pub struct TestEnv {
    pub settings: Settings,
    pub db: Db,
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

    pub fn kek(&self) -> KeyEncryptionKey {
        self.settings.key_encryption_key().expect("the test key-encryption key")
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
            self.kek(),
            self.ledger_key(),
            Peers { tenants: nowhere(), workspaces: nowhere() },
        )
    }

    /// A workspace of `organization` with a chain of `n` entries written as the service
    /// writes them; returns the workspace and its customer.
    pub async fn workspace_with_chain(&self, organization: Uuid, n: usize) -> (WorkspaceId, Uuid) {
        let workspace = WorkspaceId::new();
        let customer = Uuid::now_v7();
        let (_, wrapped) = self.kek().new_data_key().expect("a data key");
        let mut tx = self.db.begin().await.expect("begin");
        let key_row = store::ensure_workspace_key(&mut tx, workspace, organization, wrapped, self.clock.now_())
            .await
            .expect("workspace key");
        tx.commit().await.expect("commit");
        let data_key = self.kek().unwrap_key(&key_row.data_key).expect("the key opens");
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

fn postgres_url() -> String {
    std::env::var("OHJAUS_TEST_POSTGRES_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// `url` with its database (the path) replaced by `database`; the query string is kept.
fn with_database(url: &str, database: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("postgres", url));
    let (authority, query) = match rest.find(['/', '?']) {
        Some(i) => {
            let tail = &rest[i..];
            (&rest[..i], tail.find('?').map(|q| &tail[q..]).unwrap_or(""))
        }
        None => (rest, ""),
    };
    format!("{scheme}://{authority}/{database}{query}")
}

/// The server's maintenance database, where test databases are created and dropped.
async fn admin_pool() -> sqlx::PgPool {
    let url = with_database(&postgres_url(), "postgres");
    sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(Duration::from_secs(5))
        .connect(&url)
        .await
        .unwrap_or_else(|e| {
            panic!(
                "PostgreSQL is not reachable at {} (set OHJAUS_TEST_POSTGRES_URL; server-backend tests never skip): {e}",
                postgres_url()
            )
        })
}

/// Runs `body` on `backend`, then removes the test database, and re-raises a panic.
pub async fn run<F, Fut>(backend: Backend, body: F)
where
    F: FnOnce(TestEnv) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let hex = Uuid::now_v7().simple().to_string();
    let data_dir = tempfile::tempdir().expect("temporary data folder");
    let mut env: Vec<(String, String)> = vec![("OHJAUS__DATA_DIR".into(), data_dir.path().display().to_string())];
    let mut database = None;
    if backend == Backend::Server {
        let name = format!("ohjaus_consent_t_{hex}");
        let admin = admin_pool().await;
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&admin)
            .await
            .unwrap_or_else(|e| panic!("CREATE DATABASE {name}: {e}"));
        admin.close().await;
        env.extend([
            ("OHJAUS__DATABASE__BACKEND".into(), "postgres".into()),
            ("OHJAUS__DATABASE__URL".into(), with_database(&postgres_url(), &name)),
            ("OHJAUS__MAIL__TRANSPORT".into(), "files".into()),
            ("OHJAUS__FILES__STORE".into(), "local".into()),
            ("OHJAUS__AUTH__SIGNING_KEY".into(), "test:consent-tests-signing-key-0123456789abcdef".into()),
            ("OHJAUS__SECURITY__IDENTITY_CODE_KEY".into(), "consent-tests-identity-code-key-0123456789".into()),
            ("OHJAUS__SECURITY__CONSENT_LEDGER_KEY".into(), "consent-tests-consent-ledger-key-0123456789".into()),
            (
                "OHJAUS__SECURITY__KEY_ENCRYPTION_KEY".into(),
                "k1:5f4dcc3b5aa765d61d8327deb882cf995f4dcc3b5aa765d61d8327deb882cf99".into(),
            ),
        ]);
        database = Some(name);
    }
    let setup = async {
        let settings = Settings::load_with(None, env).map_err(|e| format!("test settings are invalid: {e}"))?;
        let db = Db::connect(&settings, ohjaus_consent::SERVICE)
            .await
            .map_err(|e| format!("cannot open the test database: {e}"))?;
        db.migrate(&ohjaus_consent::migrations()).await.map_err(|e| format!("migrations failed: {e}"))?;
        Ok::<_, String>((settings, db))
    };
    let (settings, db) = match setup.await {
        Ok(parts) => parts,
        Err(message) => {
            if let Some(name) = &database {
                cleanup(name).await;
            }
            panic!("{message}");
        }
    };
    let clock = ManualClock::new(Utc.with_ymd_and_hms(2026, 3, 14, 9, 26, 53).single().expect("a valid time"));
    let test_env = TestEnv { settings, db: db.clone(), clock, _data_dir: data_dir };
    // The body runs as its own task so that cleanup happens even when it panics.
    let outcome = tokio::spawn(body(test_env)).await;
    let _ = tokio::time::timeout(Duration::from_secs(5), db.close()).await;
    if let Some(name) = database {
        cleanup(&name).await;
    }
    if let Err(error) = outcome {
        match error.try_into_panic() {
            Ok(panic) => std::panic::resume_unwind(panic),
            Err(error) => panic!("test body did not finish: {error}"),
        }
    }
}

/// Best effort: a leftover database only costs space.
async fn cleanup(database: &str) {
    let admin = admin_pool().await;
    let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {database} WITH (FORCE)")).execute(&admin).await;
    admin.close().await;
}
