//! The harness (`ohjaus-test-support`): every test body runs once per backend, each run with its
//! own database and its own stream and subject prefix, so tests in parallel never see each other.

use std::{future::Future, sync::Arc, time::Duration};

use ohjaus_platform::{
    clock::{ManualClock, SharedClock},
    config::Settings,
    db::{Db, Migrations},
    events::Bus,
};
pub use ohjaus_test_support::Backend;
use ohjaus_test_support::Harness;
use tempfile::TempDir;

/// The service name of the tests' own database (a schema on PostgreSQL, a file on SQLite).
pub const SERVICE: &str = "platform_test";

/// Instantiates each named `async fn(TestEnv)` as `<name>::embedded` and `<name>::server`.
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        ohjaus_test_support::on_both_backends!(crate::support::run; $($name),*);
    };
}
pub(crate) use on_both_backends;

pub fn migrations() -> Migrations {
    Migrations {
        postgres: || sqlx::migrate!("tests/migrations/postgres"),
        sqlite: || sqlx::migrate!("tests/migrations/sqlite"),
    }
}

const HARNESS: Harness = Harness {
    service: SERVICE,
    migrations,
    database_prefix: "ohjaus_t",
    bus: true,
    settings: &[("OHJAUS__BUS__MAX_DELIVER", "3")],
};

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

/// Runs `body` on `backend`, then removes the test database and stream, and re-raises a panic.
pub async fn run<F, Fut>(backend: Backend, body: F)
where
    F: FnOnce(TestEnv) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    HARNESS
        .run(backend, |env| {
            body(TestEnv {
                backend: env.backend,
                settings: env.settings,
                db: env.db,
                bus: env.bus.expect("the harness connects the bus"),
                clock: env.clock,
                _data_dir: env.data_dir,
            })
        })
        .await;
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
