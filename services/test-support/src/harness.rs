//! One service's database (and bus) for one test run, on either backend.

use std::{future::Future, sync::Arc, time::Duration};

use chrono::{TimeZone, Utc};
use ohjaus_platform::{
    clock::ManualClock,
    config::Settings,
    db::{Db, Migrations},
    events::{self, Bus},
    keyring::{self, Keyring},
};
use tempfile::TempDir;

use crate::{Backend, ServerResources, fresh_suffix, nats_url, stream_name, subject_prefix};

/// Secrets the server mode requires (the embedded mode makes its own), and mail and files on
/// the local disk: a service's tests need neither an SMTP server nor an object store.
const SERVER_ONLY_SETTINGS: &[(&str, &str)] = &[
    ("OHJAUS__MAIL__TRANSPORT", "files"),
    ("OHJAUS__FILES__STORE", "local"),
    ("OHJAUS__AUTH__SIGNING_KEY", "test:service-tests-signing-key-0123456789abcdef"),
    ("OHJAUS__SECURITY__IDENTITY_CODE_KEY", "service-tests-identity-code-key-0123456789"),
    ("OHJAUS__SECURITY__CONSENT_LEDGER_KEY", "service-tests-consent-ledger-key-0123456789"),
    ("OHJAUS__SECURITY__KEY_ENCRYPTION_KEY", "k1:5f4dcc3b5aa765d61d8327deb882cf995f4dcc3b5aa765d61d8327deb882cf99"),
];

/// The instant every [`Harness`] run starts at, so tests see the same times on each backend.
pub fn fixed_clock() -> ManualClock {
    ManualClock::new(Utc.with_ymd_and_hms(2026, 3, 14, 9, 26, 53).single().expect("a valid time"))
}

/// A run's own place: a fresh data folder, and on the server backend a fresh database and
/// stream (removed when the sandbox is dropped).
pub struct Sandbox {
    pub backend: Backend,
    pub settings: Settings,
    pub data_dir: TempDir,
    pub server: Option<ServerResources>,
}

impl Sandbox {
    /// `extra` are further `OHJAUS__…` settings, on both backends. Server-backend databases
    /// are named `<database_prefix>_<suffix>`.
    pub async fn new(backend: Backend, database_prefix: &str, extra: &[(&str, &str)]) -> Self {
        let suffix = fresh_suffix();
        let data_dir = tempfile::tempdir().expect("a temporary data folder");
        let mut env: Vec<(String, String)> = vec![
            ("OHJAUS__DATA_DIR".into(), data_dir.path().display().to_string()),
            ("OHJAUS__BUS__SUBJECT_PREFIX".into(), subject_prefix(&suffix)),
            ("OHJAUS__BUS__STREAM".into(), stream_name(&suffix)),
        ];
        let server = match backend {
            Backend::Embedded => None,
            Backend::Server => Some(ServerResources::create(database_prefix, &suffix).await),
        };
        if let Some(server) = &server {
            env.extend(server.settings());
            env.extend(SERVER_ONLY_SETTINGS.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
        }
        env.extend(extra.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
        // A panic from here on drops `server`, which removes the database again.
        let settings = Settings::load_with(None, env).unwrap_or_else(|e| panic!("test settings are invalid: {e}"));
        assert_eq!(settings.is_embedded(), backend == Backend::Embedded);
        Self { backend, settings, data_dir, server }
    }

    /// Opens the database of `service` and applies the platform's and the service's migrations,
    /// as a service does on start.
    pub async fn open(&self, service: &str, migrations: &Migrations) -> Db {
        let db = Db::connect(&self.settings, service)
            .await
            .unwrap_or_else(|e| panic!("cannot open the test database {service}: {e}"));
        db.migrate(migrations).await.unwrap_or_else(|e| panic!("migrations of {service} failed: {e}"));
        db
    }

    /// The configured bus: in-process, or NATS JetStream on the server backend.
    pub async fn connect_bus(&self) -> Arc<dyn Bus> {
        events::connect(&self.settings.bus).await.unwrap_or_else(|e| {
            panic!(
                "NATS JetStream is not reachable at {} (set OHJAUS_TEST_NATS_URL; server-backend tests never skip): {e}",
                nats_url()
            )
        })
    }
}

/// `service`'s key store as the service opens it (the settings' key-encryption keys and
/// location: a schema `<service>_keyring` of the test database, or a file under the data
/// folder), migrated. Compaction follows a deletion after a millisecond.
pub async fn open_keyring(settings: &Settings, service: &str) -> Keyring {
    let db = keyring::connect(settings, service)
        .await
        .unwrap_or_else(|e| panic!("cannot open the key store of {service}: {e}"));
    let keys = settings.key_encryption_keys().expect("the test key-encryption keys");
    let keyring = Keyring::new(service, db, keys, Duration::from_millis(1));
    keyring.migrate().await.unwrap_or_else(|e| panic!("migrations of the key store of {service} failed: {e}"));
    keyring
}

/// How a crate's tests run a body: the service whose database they use, and what else.
pub struct Harness {
    /// The database's name: a schema on PostgreSQL, a file on SQLite.
    pub service: &'static str,
    pub migrations: fn() -> Migrations,
    /// Server-backend databases are named `<database_prefix>_<suffix>`.
    pub database_prefix: &'static str,
    /// Whether the body gets the bus; when it cannot be reached the run fails.
    pub bus: bool,
    /// Further `OHJAUS__…` settings, on both backends.
    pub settings: &'static [(&'static str, &'static str)],
}

/// What a body gets: settings, the migrated database, the bus if asked for, and a clock.
pub struct TestEnv {
    pub backend: Backend,
    pub settings: Settings,
    pub db: Db,
    pub bus: Option<Arc<dyn Bus>>,
    pub clock: ManualClock,
    /// Removed when the body is done with it.
    pub data_dir: TempDir,
}

impl Harness {
    /// Runs `body` on `backend`, then removes the run's database and stream, and re-raises a
    /// panic of the body.
    pub async fn run<F, Fut>(&self, backend: Backend, body: F)
    where
        F: FnOnce(TestEnv) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let sandbox = Sandbox::new(backend, self.database_prefix, self.settings).await;
        let db = sandbox.open(self.service, &(self.migrations)()).await;
        let bus = if self.bus { Some(sandbox.connect_bus().await) } else { None };
        let Sandbox { backend, settings, data_dir, server } = sandbox;
        let env = TestEnv { backend, settings, db: db.clone(), bus, clock: fixed_clock(), data_dir };

        // The body runs as its own task so that cleanup happens even when it panics.
        let outcome = tokio::spawn(body(env)).await;
        // A failed body may leave tasks holding connections; closing must not wait for them.
        let _ = tokio::time::timeout(Duration::from_secs(5), db.close()).await;
        drop(server);
        if let Err(error) = outcome {
            match error.try_into_panic() {
                Ok(panic) => std::panic::resume_unwind(panic),
                Err(error) => panic!("test body did not finish: {error}"),
            }
        }
    }
}
