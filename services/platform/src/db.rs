//! One database handle over PostgreSQL or SQLite, so a service writes each SQL text once.
//!
//! Queries use `$1` placeholders and sqlx's native types on both (uuid, timestamptz and jsonb
//! on PostgreSQL; sqlx's SQLite encodings). sqlx's `Any` driver is avoided on purpose: it
//! cannot carry uuid, timestamps or SQLite booleans. Each service owns its database: its own
//! schema on PostgreSQL, its own file under the data folder on SQLite.

use std::{str::FromStr, time::Duration};

use sqlx::{
    Decode, Encode, PgPool, Postgres, Sqlite, SqlitePool, Type,
    migrate::Migrator,
    postgres::{PgArguments, PgConnectOptions, PgPoolOptions, PgRow},
    sqlite::{
        SqliteArguments, SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow, SqliteSynchronous,
    },
};

use crate::config::{DatabaseBackend, Settings};

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("database error: {0}")]
    Sqlx(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("database configuration: {0}")]
    Config(String),
}

impl DbError {
    /// A unique or primary-key constraint refused the write.
    pub fn is_unique_violation(&self) -> bool {
        matches!(self, DbError::Sqlx(sqlx::Error::Database(e)) if e.is_unique_violation())
    }
    pub fn is_foreign_key_violation(&self) -> bool {
        matches!(self, DbError::Sqlx(sqlx::Error::Database(e)) if e.is_foreign_key_violation())
    }
}

pub type DbResult<T> = Result<T, DbError>;

/// The migrations of one service for both dialects.
pub struct Migrations {
    pub postgres: fn() -> Migrator,
    pub sqlite: fn() -> Migrator,
}

#[derive(Clone, Debug)]
pub enum Db {
    Postgres(PgPool),
    Sqlite(SqlitePool),
}

impl Db {
    /// Opens the database of `service` (a schema on PostgreSQL, a file on SQLite).
    pub async fn connect(settings: &Settings, service: &str) -> DbResult<Self> {
        check_name(service)?;
        match settings.database.backend {
            DatabaseBackend::Sqlite => {
                let path = settings.data_dir.join(format!("{service}.db"));
                // Deleted rows (a workspace's sealed content, say) are overwritten, not left
                // readable in free pages.
                Self::connect_sqlite(&path, SqliteJournalMode::Wal, settings.database.max_connections).await
            }
            DatabaseBackend::Postgres => {
                let url =
                    settings.database.url.as_ref().ok_or_else(|| DbError::Config("database.url missing".into()))?;
                Self::connect_postgres(url.expose(), service, settings.database.max_connections).await
            }
        }
    }

    /// A SQLite file (created with its folder if missing), deleted content overwritten.
    pub(crate) async fn connect_sqlite(
        path: &std::path::Path,
        journal: SqliteJournalMode,
        max_connections: u32,
    ) -> DbResult<Self> {
        if let Some(folder) = path.parent() {
            std::fs::create_dir_all(folder)
                .map_err(|e| DbError::Config(format!("cannot create {}: {e}", folder.display())))?;
        }
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(journal)
            .synchronous(if journal == SqliteJournalMode::Wal {
                SqliteSynchronous::Normal
            } else {
                SqliteSynchronous::Full
            })
            .foreign_keys(true)
            .pragma("secure_delete", "on")
            .busy_timeout(Duration::from_secs(10));
        let pool = SqlitePoolOptions::new().max_connections(max_connections).connect_with(options).await?;
        Ok(Db::Sqlite(pool))
    }

    /// The schema `schema` of the PostgreSQL database at `url`, created if missing.
    pub(crate) async fn connect_postgres(url: &str, schema: &str, max_connections: u32) -> DbResult<Self> {
        check_name(schema)?;
        let base = PgConnectOptions::from_str(url)?;
        // The schema is the service's own; create it before pointing the pool at it.
        let bootstrap = PgPoolOptions::new().max_connections(1).connect_with(base.clone()).await?;
        sqlx::query(&format!("CREATE SCHEMA IF NOT EXISTS {schema}")).execute(&bootstrap).await?;
        bootstrap.close().await;
        let options = base.options([("search_path", schema)]);
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await?;
        Ok(Db::Postgres(pool))
    }

    /// Makes what was just deleted unreadable on disk where the database can: SQLite moves the
    /// write-ahead log into the zeroed main file and empties the log. PostgreSQL reclaims old
    /// row versions by its own vacuum.
    pub async fn purge_deleted(&self) -> DbResult<()> {
        if let Db::Sqlite(pool) = self {
            sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)").execute(pool).await?;
        }
        Ok(())
    }

    pub fn backend(&self) -> DatabaseBackend {
        match self {
            Db::Postgres(_) => DatabaseBackend::Postgres,
            Db::Sqlite(_) => DatabaseBackend::Sqlite,
        }
    }

    /// Applies the platform tables (outbox, inbox) and the service's own migrations.
    pub async fn migrate(&self, service: &Migrations) -> DbResult<()> {
        self.run_migrations(service, true, None).await
    }

    /// Applies `migrations` alone, without the platform's tables (a key store has no outbox).
    pub async fn migrate_only(&self, migrations: &Migrations) -> DbResult<()> {
        self.run_migrations(migrations, false, None).await
    }

    /// Applies the platform tables and those of the service's migrations older than `version`:
    /// a step that must happen between two migrations runs after this and before
    /// [`Db::migrate`].
    pub async fn migrate_before(&self, service: &Migrations, version: i64) -> DbResult<()> {
        self.run_migrations(service, true, Some(version)).await
    }

    async fn run_migrations(&self, service: &Migrations, with_platform: bool, before: Option<i64>) -> DbResult<()> {
        let (platform, own) = match self {
            Db::Postgres(_) => (platform_postgres(), (service.postgres)()),
            Db::Sqlite(_) => (platform_sqlite(), (service.sqlite)()),
        };
        let mut own = match before {
            Some(version) => Migrator {
                migrations: own.iter().filter(|m| m.version < version).cloned().collect::<Vec<_>>().into(),
                ..Migrator::DEFAULT
            },
            None => own,
        };
        let mut platform = with_platform.then_some(platform);
        // The sets share the migrations table; each ignores the others' versions.
        own.set_ignore_missing(true);
        if let Some(platform) = &mut platform {
            platform.set_ignore_missing(true);
        }
        // On one connection of its own, closed if a migration fails: sqlx's migrator returns
        // early then without releasing its (PostgreSQL, session-level) lock, and a pooled
        // connection holding it would make every later migration wait forever.
        match self {
            Db::Postgres(pool) => {
                let mut conn = pool.acquire().await?;
                let mut result = Ok(());
                for migrator in platform.iter().chain([&own]) {
                    result = migrator.run_direct(&mut *conn).await;
                    if result.is_err() {
                        break;
                    }
                }
                if result.is_err() {
                    let _ = conn.close().await;
                }
                result?;
            }
            Db::Sqlite(pool) => {
                let mut conn = pool.acquire().await?;
                let mut result = Ok(());
                for migrator in platform.iter().chain([&own]) {
                    result = migrator.run_direct(&mut *conn).await;
                    if result.is_err() {
                        break;
                    }
                }
                if result.is_err() {
                    let _ = conn.close().await;
                }
                result?;
            }
        }
        Ok(())
    }

    pub fn query<'q>(&self, sql: &'q str) -> Query<'q> {
        match self {
            Db::Postgres(_) => Query::Postgres(sqlx::query(sql)),
            Db::Sqlite(_) => Query::Sqlite(sqlx::query(sql)),
        }
    }

    /// Starts a transaction. On SQLite it takes the write lock at once (`BEGIN IMMEDIATE`), so
    /// concurrent writers wait for each other instead of failing on a lock upgrade.
    pub async fn begin(&self) -> DbResult<Tx> {
        Ok(match self {
            Db::Postgres(pool) => Tx::Postgres(pool.begin().await?),
            Db::Sqlite(pool) => Tx::Sqlite(pool.begin_with("BEGIN IMMEDIATE").await?),
        })
    }

    /// Readiness: the database answers.
    pub async fn ping(&self) -> DbResult<()> {
        self.query("SELECT 1").execute(self).await.map(|_| ())
    }

    pub async fn close(&self) {
        match self {
            Db::Postgres(pool) => pool.close().await,
            Db::Sqlite(pool) => pool.close().await,
        }
    }
}

/// A schema or file name: lowercase letters and `_` only (it is put into SQL and paths).
fn check_name(name: &str) -> DbResult<()> {
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_lowercase() || c == '_') {
        return Err(DbError::Config(format!("bad database name {name}")));
    }
    Ok(())
}

fn platform_postgres() -> Migrator {
    sqlx::migrate!("../../migrations/platform/postgres")
}

fn platform_sqlite() -> Migrator {
    sqlx::migrate!("../../migrations/platform/sqlite")
}

/// A transaction on either backend.
pub enum Tx {
    Postgres(sqlx::Transaction<'static, Postgres>),
    Sqlite(sqlx::Transaction<'static, Sqlite>),
}

impl Tx {
    pub fn query<'q>(&self, sql: &'q str) -> Query<'q> {
        match self {
            Tx::Postgres(_) => Query::Postgres(sqlx::query(sql)),
            Tx::Sqlite(_) => Query::Sqlite(sqlx::query(sql)),
        }
    }
    pub fn backend(&self) -> DatabaseBackend {
        match self {
            Tx::Postgres(_) => DatabaseBackend::Postgres,
            Tx::Sqlite(_) => DatabaseBackend::Sqlite,
        }
    }
    pub async fn commit(self) -> DbResult<()> {
        match self {
            Tx::Postgres(tx) => tx.commit().await?,
            Tx::Sqlite(tx) => tx.commit().await?,
        }
        Ok(())
    }
    pub async fn rollback(self) -> DbResult<()> {
        match self {
            Tx::Postgres(tx) => tx.rollback().await?,
            Tx::Sqlite(tx) => tx.rollback().await?,
        }
        Ok(())
    }
}

/// A pool or an open transaction a query can run on: store functions take `impl Source` so
/// one function serves both, inside a transaction or not.
pub trait Source<'c>: Into<Conn<'c>> {
    fn backend(&self) -> DatabaseBackend;

    /// `sql` prepared for this source's dialect.
    fn query<'q>(&self, sql: &'q str) -> Query<'q> {
        match self.backend() {
            DatabaseBackend::Postgres => Query::Postgres(sqlx::query(sql)),
            DatabaseBackend::Sqlite => Query::Sqlite(sqlx::query(sql)),
        }
    }
}

impl<'c> Source<'c> for &'c Db {
    fn backend(&self) -> DatabaseBackend {
        Db::backend(self)
    }
}

impl<'c> Source<'c> for &'c mut Tx {
    fn backend(&self) -> DatabaseBackend {
        Tx::backend(self)
    }
}

/// Where a query runs: a pool or an open transaction.
pub enum Conn<'c> {
    PgPool(&'c PgPool),
    PgConn(&'c mut sqlx::PgConnection),
    SqlitePool(&'c SqlitePool),
    SqliteConn(&'c mut sqlx::SqliteConnection),
}

impl<'c> From<&'c Db> for Conn<'c> {
    fn from(db: &'c Db) -> Self {
        match db {
            Db::Postgres(pool) => Conn::PgPool(pool),
            Db::Sqlite(pool) => Conn::SqlitePool(pool),
        }
    }
}

impl<'c> From<&'c mut Tx> for Conn<'c> {
    fn from(tx: &'c mut Tx) -> Self {
        match tx {
            Tx::Postgres(tx) => Conn::PgConn(tx),
            Tx::Sqlite(tx) => Conn::SqliteConn(tx),
        }
    }
}

/// Both drivers can encode and decode `T`.
pub trait DbValue<'q>: 'q + Send + Encode<'q, Postgres> + Type<Postgres> + Encode<'q, Sqlite> + Type<Sqlite> {}
impl<'q, T> DbValue<'q> for T where
    T: 'q + Send + Encode<'q, Postgres> + Type<Postgres> + Encode<'q, Sqlite> + Type<Sqlite>
{
}

/// One SQL text with its bound values, for the backend it was made for.
pub enum Query<'q> {
    Postgres(sqlx::query::Query<'q, Postgres, PgArguments>),
    Sqlite(sqlx::query::Query<'q, Sqlite, SqliteArguments<'q>>),
}

fn mismatch() -> DbError {
    DbError::Config("query and connection are of different backends".into())
}

impl<'q> Query<'q> {
    #[must_use]
    pub fn bind<T: DbValue<'q>>(self, value: T) -> Self {
        match self {
            Query::Postgres(q) => Query::Postgres(q.bind(value)),
            Query::Sqlite(q) => Query::Sqlite(q.bind(value)),
        }
    }

    /// Runs the statement; returns the number of rows it changed.
    pub async fn execute<'c>(self, conn: impl Into<Conn<'c>>) -> DbResult<u64> {
        Ok(match (self, conn.into()) {
            (Query::Postgres(q), Conn::PgPool(p)) => q.execute(p).await?.rows_affected(),
            (Query::Postgres(q), Conn::PgConn(c)) => q.execute(c).await?.rows_affected(),
            (Query::Sqlite(q), Conn::SqlitePool(p)) => q.execute(p).await?.rows_affected(),
            (Query::Sqlite(q), Conn::SqliteConn(c)) => q.execute(c).await?.rows_affected(),
            _ => return Err(mismatch()),
        })
    }

    pub async fn fetch_optional<'c>(self, conn: impl Into<Conn<'c>>) -> DbResult<Option<Row>> {
        Ok(match (self, conn.into()) {
            (Query::Postgres(q), Conn::PgPool(p)) => q.fetch_optional(p).await?.map(Row::Postgres),
            (Query::Postgres(q), Conn::PgConn(c)) => q.fetch_optional(c).await?.map(Row::Postgres),
            (Query::Sqlite(q), Conn::SqlitePool(p)) => q.fetch_optional(p).await?.map(Row::Sqlite),
            (Query::Sqlite(q), Conn::SqliteConn(c)) => q.fetch_optional(c).await?.map(Row::Sqlite),
            _ => return Err(mismatch()),
        })
    }

    pub async fn fetch_one<'c>(self, conn: impl Into<Conn<'c>>) -> DbResult<Row> {
        self.fetch_optional(conn).await?.ok_or(DbError::Sqlx(sqlx::Error::RowNotFound))
    }

    pub async fn fetch_all<'c>(self, conn: impl Into<Conn<'c>>) -> DbResult<Vec<Row>> {
        Ok(match (self, conn.into()) {
            (Query::Postgres(q), Conn::PgPool(p)) => q.fetch_all(p).await?.into_iter().map(Row::Postgres).collect(),
            (Query::Postgres(q), Conn::PgConn(c)) => q.fetch_all(c).await?.into_iter().map(Row::Postgres).collect(),
            (Query::Sqlite(q), Conn::SqlitePool(p)) => q.fetch_all(p).await?.into_iter().map(Row::Sqlite).collect(),
            (Query::Sqlite(q), Conn::SqliteConn(c)) => q.fetch_all(c).await?.into_iter().map(Row::Sqlite).collect(),
            _ => return Err(mismatch()),
        })
    }
}

/// A result row of either backend.
pub enum Row {
    Postgres(PgRow),
    Sqlite(SqliteRow),
}

impl Row {
    pub fn get<T>(&self, column: &str) -> DbResult<T>
    where
        T: for<'r> Decode<'r, Postgres> + Type<Postgres> + for<'r> Decode<'r, Sqlite> + Type<Sqlite>,
    {
        use sqlx::Row as _;
        Ok(match self {
            Row::Postgres(row) => row.try_get(column)?,
            Row::Sqlite(row) => row.try_get(column)?,
        })
    }
}
