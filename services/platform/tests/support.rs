//! The harness: every test body runs once per backend, each run with its own database and
//! its own stream and subject prefix, so tests in parallel never see each other.

use std::{future::Future, sync::Arc, time::Duration};

use chrono::{TimeZone, Utc};
use ohjaus_platform::{
    clock::{ManualClock, SharedClock},
    config::Settings,
    db::{Db, Migrations},
    events::{self, Bus},
};
use tempfile::TempDir;
use uuid::Uuid;

/// The service name of the tests' own database (a schema on PostgreSQL, a file on SQLite).
pub const SERVICE: &str = "platform_test";

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
    /// SQLite in a temporary folder and the in-process bus.
    Embedded,
    /// PostgreSQL and NATS JetStream.
    Server,
}

pub fn migrations() -> Migrations {
    Migrations {
        postgres: || sqlx::migrate!("tests/migrations/postgres"),
        sqlite: || sqlx::migrate!("tests/migrations/sqlite"),
    }
}

/// What a test body gets: settings, a migrated database, the configured bus and a clock.
pub struct TestEnv {
    pub backend: Backend,
    pub settings: Settings,
    pub db: Db,
    pub bus: Arc<dyn Bus>,
    pub clock: ManualClock,
    _data_dir: TempDir,
}

impl TestEnv {
    pub fn shared_clock(&self) -> SharedClock {
        Arc::new(self.clock.clone())
    }

    /// Another handle on the same database, as a restarted process would open.
    pub async fn connect_again(&self) -> Db {
        Db::connect(&self.settings, SERVICE).await.expect("connect to the test database again")
    }

    pub fn max_deliver(&self) -> u32 {
        self.settings.bus.max_deliver
    }
}

fn postgres_url() -> String {
    std::env::var("OHJAUS_TEST_POSTGRES_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

fn nats_url() -> String {
    std::env::var("OHJAUS_TEST_NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".into())
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

struct ServerResources {
    database: String,
    stream: String,
}

/// Runs `body` on `backend`, then removes the test database and stream, and re-raises a panic.
pub async fn run<F, Fut>(backend: Backend, body: F)
where
    F: FnOnce(TestEnv) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let hex = Uuid::now_v7().simple().to_string();
    let data_dir = tempfile::tempdir().expect("temporary data folder");
    let mut env: Vec<(String, String)> = vec![
        ("OHJAUS__DATA_DIR".into(), data_dir.path().display().to_string()),
        ("OHJAUS__BUS__MAX_DELIVER".into(), "3".into()),
        ("OHJAUS__BUS__SUBJECT_PREFIX".into(), format!("t{hex}")),
        ("OHJAUS__BUS__STREAM".into(), format!("T_{hex}")),
    ];
    let mut server = None;
    if backend == Backend::Server {
        let database = format!("ohjaus_t_{hex}");
        let admin = admin_pool().await;
        sqlx::query(&format!("CREATE DATABASE {database}"))
            .execute(&admin)
            .await
            .unwrap_or_else(|e| panic!("CREATE DATABASE {database}: {e}"));
        admin.close().await;
        env.extend([
            ("OHJAUS__DATABASE__BACKEND".into(), "postgres".into()),
            ("OHJAUS__DATABASE__URL".into(), with_database(&postgres_url(), &database)),
            ("OHJAUS__BUS__KIND".into(), "nats".into()),
            ("OHJAUS__BUS__NATS_URL".into(), nats_url()),
            ("OHJAUS__MAIL__TRANSPORT".into(), "files".into()),
            ("OHJAUS__FILES__STORE".into(), "local".into()),
            ("OHJAUS__AUTH__SIGNING_KEY".into(), "test:platform-tests-signing-key-0123456789abcdef".into()),
            ("OHJAUS__SECURITY__IDENTITY_CODE_KEY".into(), "platform-tests-identity-code-key-0123456789".into()),
            ("OHJAUS__SECURITY__CONSENT_LEDGER_KEY".into(), "platform-tests-consent-ledger-key-0123456789".into()),
            (
                "OHJAUS__SECURITY__KEY_ENCRYPTION_KEY".into(),
                "k1:5f4dcc3b5aa765d61d8327deb882cf995f4dcc3b5aa765d61d8327deb882cf99".into(),
            ),
        ]);
        server = Some(ServerResources { database, stream: format!("T_{hex}") });
    }
    let setup = async {
        let settings = Settings::load_with(None, env).map_err(|e| format!("test settings are invalid: {e}"))?;
        assert_eq!(settings.is_embedded(), backend == Backend::Embedded);
        let db = Db::connect(&settings, SERVICE).await.map_err(|e| format!("cannot open the test database: {e}"))?;
        db.migrate(&migrations()).await.map_err(|e| format!("migrations failed: {e}"))?;
        let bus = events::connect(&settings.bus).await.map_err(|e| {
            format!(
                "NATS JetStream is not reachable at {} (set OHJAUS_TEST_NATS_URL; server-backend tests never skip): {e}",
                nats_url()
            )
        })?;
        Ok::<_, String>((settings, db, bus))
    };
    let (settings, db, bus) = match setup.await {
        Ok(parts) => parts,
        Err(message) => {
            if let Some(server) = &server {
                cleanup(server).await;
            }
            panic!("{message}");
        }
    };
    let clock = ManualClock::new(Utc.with_ymd_and_hms(2026, 3, 14, 9, 26, 53).single().expect("a valid time"));
    let test_env = TestEnv { backend, settings, db: db.clone(), bus, clock, _data_dir: data_dir };

    // The body runs as its own task so that cleanup happens even when it panics.
    let outcome = tokio::spawn(body(test_env)).await;
    // A failed body may leave tasks holding connections; closing must not wait for them.
    let _ = tokio::time::timeout(Duration::from_secs(5), db.close()).await;
    if let Some(server) = server {
        cleanup(&server).await;
    }
    if let Err(error) = outcome {
        match error.try_into_panic() {
            Ok(panic) => std::panic::resume_unwind(panic),
            Err(error) => panic!("test body did not finish: {error}"),
        }
    }
}

/// Best effort: a leftover database or stream only costs space.
async fn cleanup(server: &ServerResources) {
    let admin = admin_pool().await;
    let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", server.database)).execute(&admin).await;
    admin.close().await;
    if let Ok(client) = async_nats::connect(nats_url()).await {
        let _ = async_nats::jetstream::new(client).delete_stream(&server.stream).await;
    }
}

/// Polls `check` every 25 ms for up to 10 s; panics naming `what` if it never holds.
pub async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        if check().await {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "timed out after 10 s waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// `SELECT COUNT(*)` of a query without parameters.
pub async fn count(db: &Db, sql: &str) -> i64 {
    db.query(sql).fetch_one(db).await.expect(sql).get::<i64>("n").expect("a count column n")
}
