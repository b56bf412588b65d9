//! What the black-box tests of the services and of the whole system share: each test body runs
//! once per backend, each run with a database of its own (a fresh PostgreSQL database, or SQLite
//! files in a fresh folder) and its own JetStream stream and subject prefix.
//!
//! The server backend (PostgreSQL + NATS JetStream) reads `OHJAUS_TEST_POSTGRES_URL` and
//! `OHJAUS_TEST_NATS_URL` (defaults: the local servers). The database named in the PostgreSQL
//! URL is where test databases are created and dropped. When a server cannot be reached the
//! server-backend tests fail; they never skip.

// Test code: a failed set-up is a failed test, and a panic says so best.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod harness;

use std::{future::Future, time::Duration};

pub use harness::{Harness, Sandbox, TestEnv, fixed_clock, open_keyring};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// SQLite files in a temporary folder and the in-process bus.
    Embedded,
    /// PostgreSQL and NATS JetStream.
    Server,
}

/// Instantiates each named test body as two tests, `<name>::embedded` and `<name>::server`,
/// which call `$runner(Backend, <name>)`: [`Harness::run`] behind a crate's own `run`, or
/// [`pass_backend`] for bodies that take the backend and set up what they need themselves.
/// The calling crate needs `tokio` (with its `macros` feature).
#[macro_export]
macro_rules! on_both_backends {
    ($runner:path; $($name:ident),* $(,)?) => {$(
        mod $name {
            #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn embedded() {
                $runner($crate::Backend::Embedded, super::$name).await;
            }

            #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn server() {
                $runner($crate::Backend::Server, super::$name).await;
            }
        }
    )*};
}

/// The runner of [`on_both_backends!`] for bodies of the form `async fn(Backend)`.
pub async fn pass_backend<F, Fut>(backend: Backend, body: F)
where
    F: FnOnce(Backend) -> Fut,
    Fut: Future<Output = ()>,
{
    body(backend).await;
}

pub fn postgres_url() -> String {
    std::env::var("OHJAUS_TEST_POSTGRES_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

pub fn nats_url() -> String {
    std::env::var("OHJAUS_TEST_NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".into())
}

/// `url` with its database (the path) replaced by `database`; the query string is kept.
pub fn url_with_database(url: &str, database: &str) -> String {
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

/// A connection to the maintenance database, where test databases are created and dropped.
async fn admin_pool() -> Result<sqlx::PgPool, sqlx::Error> {
    sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(Duration::from_secs(5))
        .connect(&postgres_url())
        .await
}

/// What one server-backend run owns: a PostgreSQL database, and a JetStream stream and subject
/// prefix (the bus creates the stream on first use). Dropping it removes both, best effort:
/// a leftover only costs space.
#[derive(Debug)]
pub struct ServerResources {
    pub database: String,
    pub database_url: String,
    pub stream: String,
    pub subject_prefix: String,
}

impl ServerResources {
    /// Creates the database `<database_prefix>_<suffix>`; panics when PostgreSQL cannot be
    /// reached, so that a server-backend test fails instead of skipping.
    pub async fn create(database_prefix: &str, suffix: &str) -> Self {
        let database = format!("{database_prefix}_{suffix}");
        let admin = admin_pool().await.unwrap_or_else(|e| {
            panic!(
                "PostgreSQL is not reachable at {} (set OHJAUS_TEST_POSTGRES_URL; server-backend tests never skip): {e}",
                postgres_url()
            )
        });
        sqlx::query(&format!("CREATE DATABASE {database}"))
            .execute(&admin)
            .await
            .unwrap_or_else(|e| panic!("CREATE DATABASE {database}: {e}"));
        admin.close().await;
        Self {
            database_url: url_with_database(&postgres_url(), &database),
            database,
            stream: stream_name(suffix),
            subject_prefix: subject_prefix(suffix),
        }
    }

    /// The `OHJAUS__…` settings that point a system at these: PostgreSQL and NATS JetStream.
    pub fn settings(&self) -> Vec<(String, String)> {
        vec![
            ("OHJAUS__DATABASE__BACKEND".into(), "postgres".into()),
            ("OHJAUS__DATABASE__URL".into(), self.database_url.clone()),
            ("OHJAUS__BUS__KIND".into(), "nats".into()),
            ("OHJAUS__BUS__NATS_URL".into(), nats_url()),
            ("OHJAUS__BUS__STREAM".into(), self.stream.clone()),
            ("OHJAUS__BUS__SUBJECT_PREFIX".into(), self.subject_prefix.clone()),
        ]
    }
}

impl Drop for ServerResources {
    /// Runs on a thread of its own with its own runtime: drop cannot await, and the test's
    /// runtime may be shutting down.
    fn drop(&mut self) {
        let database = std::mem::take(&mut self.database);
        let stream = std::mem::take(&mut self.stream);
        let cleanup = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread().enable_all().build() else { return };
            runtime.block_on(async move {
                if let Ok(admin) = admin_pool().await {
                    let _ =
                        sqlx::query(&format!("DROP DATABASE IF EXISTS {database} WITH (FORCE)")).execute(&admin).await;
                    admin.close().await;
                }
                if let Ok(client) = async_nats::connect(nats_url()).await {
                    let _ = async_nats::jetstream::new(client).delete_stream(&stream).await;
                }
            });
        });
        let _ = cleanup.join();
    }
}

/// The stream of the run with `suffix`.
pub fn stream_name(suffix: &str) -> String {
    format!("T_{suffix}")
}

/// The subject prefix of the run with `suffix`.
pub fn subject_prefix(suffix: &str) -> String {
    format!("t{suffix}")
}

/// Whether `needle` occurs in `haystack`.
pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

/// Every data file of the database `pool` is connected to, as a copy of the server's data
/// directory would hold them: `CHECKPOINT` first (so what is committed is on disk), then each
/// file under `<data_directory>/base/<database oid>/` read as bytes. Needs a superuser
/// connection and a test process that may read the server's files (root on the CI machine).
pub async fn postgres_database_files(pool: &sqlx::PgPool) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    use sqlx::Row;
    sqlx::query("CHECKPOINT").execute(pool).await.expect("CHECKPOINT (the test user must be a superuser)");
    let row = sqlx::query(
        "SELECT current_setting('data_directory') AS dir, \
         (SELECT oid::text FROM pg_database WHERE datname = current_database()) AS oid",
    )
    .fetch_one(pool)
    .await
    .expect("the server's data directory");
    let folder = std::path::Path::new(&row.get::<String, _>("dir")).join("base").join(row.get::<String, _>("oid"));
    let entries = std::fs::read_dir(&folder).unwrap_or_else(|e| {
        panic!(
            "cannot read {} (the test must run where it may read PostgreSQL's files, as root): {e}",
            folder.display()
        )
    });
    let mut files = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        // A file can go away between listing and reading (a rewritten table's old file).
        if let Ok(bytes) = std::fs::read(&path) {
            files.push((path, bytes));
        }
    }
    assert!(!files.is_empty(), "no data files under {}", folder.display());
    files
}

/// The data files of every relation of `schema` (tables, indexes, sequences, and the tables'
/// TOAST tables with their indexes) in the database `pool` is connected to, each read as bytes
/// (its first segment and any further ones), after a `CHECKPOINT`. Same needs as
/// [`postgres_database_files`].
pub async fn postgres_schema_files(pool: &sqlx::PgPool, schema: &str) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    use sqlx::Row;
    sqlx::query("CHECKPOINT").execute(pool).await.expect("CHECKPOINT (the test user must be a superuser)");
    let rows = sqlx::query(
        "WITH own AS (SELECT c.oid, c.reltoastrelid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
                      WHERE n.nspname = $1), \
              rels AS (SELECT oid FROM own \
                       UNION SELECT reltoastrelid FROM own WHERE reltoastrelid <> 0 \
                       UNION SELECT i.indexrelid FROM pg_index i JOIN own ON i.indrelid = own.reltoastrelid) \
         SELECT current_setting('data_directory') || '/' || pg_relation_filepath(oid) AS path \
         FROM rels WHERE pg_relation_filepath(oid) IS NOT NULL",
    )
    .bind(schema)
    .fetch_all(pool)
    .await
    .expect("the relations' files");
    assert!(!rows.is_empty(), "schema {schema} has no relations");
    let mut files = Vec::new();
    for row in rows {
        let first = std::path::PathBuf::from(row.get::<String, _>("path"));
        let bytes = std::fs::read(&first).unwrap_or_else(|e| {
            panic!(
                "cannot read {} (the test must run where it may read PostgreSQL's files, as root): {e}",
                first.display()
            )
        });
        files.push((first.clone(), bytes));
        for segment in 1.. {
            let path = first.with_extension(segment.to_string());
            let Ok(bytes) = std::fs::read(&path) else { break };
            files.push((path, bytes));
        }
    }
    files
}

/// A suffix no other run has: database, stream and subject prefix names derive from it.
pub fn fresh_suffix() -> String {
    uuid::Uuid::now_v7().simple().to_string()
}

#[cfg(test)]
mod tests {
    use super::url_with_database;

    #[test]
    fn the_database_of_a_url_is_replaced_and_its_query_kept() {
        assert_eq!(url_with_database("postgres://u@h:5432/postgres", "t1"), "postgres://u@h:5432/t1");
        assert_eq!(
            url_with_database("postgres://u@h/postgres?sslmode=disable", "t1"),
            "postgres://u@h/t1?sslmode=disable"
        );
        assert_eq!(url_with_database("postgresql://u@h?sslmode=disable", "t1"), "postgresql://u@h/t1?sslmode=disable");
        assert_eq!(url_with_database("u@h:5432", "t1"), "postgres://u@h:5432/t1");
    }
}
