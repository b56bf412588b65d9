//! The key store ("keyring"): a service's data keys, wrapped by the key-encryption key, in a
//! database of their own apart from the content they open.
//!
//! Content is sealed with its owner's data key (a workspace's, a submission's). If the wrapped
//! keys lived beside the content, a backup of the content would hold both, and deleting a
//! workspace would not make that backup unreadable. Here they do not: the content database holds
//! ciphertext and the owner's id only; the key store holds `(owner kind, owner id) → wrapped key`
//! and is backed up apart, with a short retention (`keyring.backup_max_age_days`). Deleting an
//! owner's key makes every copy of its content, in any content backup, unreadable for good.
//!
//! Each service has a key store of its own (least privilege: a service reads only its own
//! keys): on PostgreSQL the schema `<service>_keyring` of `keyring.url` (by default the content
//! database's URL; in production a database of its own), on SQLite the file
//! `<keyring.directory>/<service>.db`. A deleted key must not survive in the store's own files
//! either: SQLite overwrites deleted rows (`secure_delete`) and, with a rollback journal instead
//! of a write-ahead log, keeps no older page image around once a deletion commits; PostgreSQL
//! keeps dead row versions in its data files until they are rewritten, so after deletions the
//! table is rewritten ([`Keyring::compact`]) as soon as no further deletion has come for
//! `keyring.compact_after_ms` (a run of deletions is compacted once, after its end, and at the
//! latest a minute after its first). A compaction that is due survives a crash (a row in
//! `compaction_due`) and is done at the next start.

use std::{
    sync::{Arc, Mutex, PoisonError},
    time::{Duration, Instant},
};

use sqlx::sqlite::SqliteJournalMode;
use uuid::Uuid;

use crate::{
    config::{DatabaseBackend, Settings},
    crypto::{CryptoError, DataKey, KeyEncryptionKeys, wrapping_key_id},
    db::{Db, DbError, DbResult, Migrations},
};

/// What a data key belongs to: a kind the service names (`workspace`) and the owner's id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Owner {
    pub kind: &'static str,
    pub id: Uuid,
}

impl Owner {
    pub fn new(kind: &'static str, id: Uuid) -> Self {
        Self { kind, id }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum KeyringError {
    #[error("key store: {0}")]
    Db(#[from] DbError),
    /// A stored key does not open, or a new one could not be made.
    #[error("data key of {kind} {id}: {source}")]
    Key { kind: &'static str, id: Uuid, source: CryptoError },
    /// [`Keyring::create`] for an owner that has a key.
    #[error("{kind} {id} has a data key already")]
    Exists { kind: &'static str, id: Uuid },
}

/// The key store's migrations (the same for every service's store).
pub fn migrations() -> Migrations {
    Migrations {
        postgres: || sqlx::migrate!("../../migrations/keyring/postgres"),
        sqlite: || sqlx::migrate!("../../migrations/keyring/sqlite"),
    }
}

/// The schema of `service`'s key store on PostgreSQL.
pub fn schema_of(service: &str) -> String {
    format!("{service}_keyring")
}

/// Opens the database of `service`'s key store (not migrated: see [`Keyring::migrate`]).
pub async fn connect(settings: &Settings, service: &str) -> DbResult<Db> {
    let connections = settings.database.max_connections.clamp(1, 4);
    match settings.database.backend {
        DatabaseBackend::Sqlite => {
            if service.is_empty() || !service.chars().all(|c| c.is_ascii_lowercase() || c == '_') {
                return Err(DbError::Config(format!("bad service name {service}")));
            }
            let path = settings.keyring_directory().join(format!("{service}.db"));
            // A rollback journal, deleted at each commit: no write-ahead log keeps the page a
            // deleted key was on.
            Db::connect_sqlite(&path, SqliteJournalMode::Delete, connections).await
        }
        DatabaseBackend::Postgres => {
            let url = settings.keyring_url().ok_or_else(|| DbError::Config("keyring.url missing".into()))?;
            Db::connect_postgres(url.expose(), &schema_of(service), connections).await
        }
    }
}

/// Compaction waits at most this long after the first of a run of deletions.
const COMPACT_AT_LATEST: Duration = Duration::from_secs(60);
/// The longest wait before a failed compaction is tried again.
const RETRY_AT_MOST: Duration = Duration::from_secs(60);
/// Rows read per batch when keys are rewrapped or moved.
const BATCH: i64 = 500;

/// One service's key store.
#[derive(Clone)]
pub struct Keyring {
    inner: Arc<Inner>,
}

struct Inner {
    service: String,
    db: Db,
    keys: KeyEncryptionKeys,
    compact_after: Duration,
    /// Deletions not compacted yet, and whether a task is waiting to compact them.
    pending: Mutex<Pending>,
    /// One compaction at a time.
    compacting: tokio::sync::Mutex<()>,
}

#[derive(Default)]
struct Pending {
    scheduled: bool,
    first: Option<Instant>,
    last: Option<Instant>,
}

/// What [`Keyring::rewrap`] did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Rewrapped {
    /// Keys wrapped by another key-encryption key than the current one, found.
    pub found: u64,
    /// Of those, rewrapped by the current one.
    pub rewrapped: u64,
    /// Keys wrapped by a key-encryption key that is not configured, by its id: they stay as
    /// they are (configure it in `security.accepted_key_encryption_keys` and run again).
    pub unknown: Vec<(String, u64)>,
    /// Keys that did not open with the key-encryption key they name (altered or damaged).
    pub unopened: u64,
}

impl Keyring {
    /// The key store of `service` in `db`, its keys wrapped by `keys`; deletions are compacted
    /// away `compact_after` after the last of them.
    pub fn new(service: &str, db: Db, keys: KeyEncryptionKeys, compact_after: Duration) -> Self {
        Self {
            inner: Arc::new(Inner {
                service: service.to_owned(),
                db,
                keys,
                compact_after,
                pending: Mutex::new(Pending::default()),
                compacting: tokio::sync::Mutex::new(()),
            }),
        }
    }

    /// Its database (readiness checks, closing).
    pub fn db(&self) -> &Db {
        &self.inner.db
    }

    /// The key-encryption keys it wraps and opens with.
    pub fn keys(&self) -> &KeyEncryptionKeys {
        &self.inner.keys
    }

    /// Applies the key store's migrations.
    pub async fn migrate(&self) -> DbResult<()> {
        self.inner.db.migrate_only(&migrations()).await
    }

    /// Compacts soon if deletions were left uncompacted (a process stopped before it could).
    pub async fn resume(&self) -> DbResult<()> {
        let db = &self.inner.db;
        if db.query("SELECT generation FROM compaction_due WHERE id = 1").fetch_optional(db).await?.is_some() {
            self.schedule_compaction();
        }
        Ok(())
    }

    /// A new data key for `owner`, stored wrapped; refused if `owner` has one.
    pub async fn create(&self, owner: Owner) -> Result<DataKey, KeyringError> {
        let (key, wrapped) = self.inner.keys.new_data_key().map_err(|source| key_error(owner, source))?;
        if self.insert(owner, &wrapped).await? == 0 {
            return Err(KeyringError::Exists { kind: owner.kind, id: owner.id });
        }
        Ok(key)
    }

    /// `owner`'s data key, made and stored first if it has none (concurrent callers get the
    /// same key).
    pub async fn ensure(&self, owner: Owner) -> Result<DataKey, KeyringError> {
        if let Some(key) = self.find(owner).await? {
            return Ok(key);
        }
        let (_, wrapped) = self.inner.keys.new_data_key().map_err(|source| key_error(owner, source))?;
        self.insert(owner, &wrapped).await?;
        match self.find(owner).await? {
            Some(key) => Ok(key),
            // Deleted between the two steps: the owner is being deleted, so it has no key.
            None => Err(key_error(owner, CryptoError::Opening)),
        }
    }

    /// `owner`'s data key, if it has one.
    pub async fn find(&self, owner: Owner) -> Result<Option<DataKey>, KeyringError> {
        let db = &self.inner.db;
        let row = db
            .query("SELECT wrapped FROM data_keys WHERE owner_kind = $1 AND owner_id = $2")
            .bind(owner.kind)
            .bind(owner.id)
            .fetch_optional(db)
            .await?;
        let Some(row) = row else { return Ok(None) };
        let wrapped: Vec<u8> = row.get("wrapped")?;
        self.inner.keys.unwrap_key(&wrapped).map(Some).map_err(|source| key_error(owner, source))
    }

    /// Deletes `owner`'s key (idempotent: the number deleted, 0 the second time) and compacts
    /// the store soon after, so the key is gone from its files too.
    pub async fn delete(&self, owner: Owner) -> Result<u64, KeyringError> {
        let db = &self.inner.db;
        let mut tx = db.begin().await?;
        let deleted = tx
            .query("DELETE FROM data_keys WHERE owner_kind = $1 AND owner_id = $2")
            .bind(owner.kind)
            .bind(owner.id)
            .execute(&mut tx)
            .await?;
        // Remembered in the store itself, so a crash before the compaction does not forget it.
        tx.query(
            "INSERT INTO compaction_due (id, generation) VALUES (1, 1) \
             ON CONFLICT (id) DO UPDATE SET generation = compaction_due.generation + 1",
        )
        .execute(&mut tx)
        .await?;
        tx.commit().await?;
        self.schedule_compaction();
        Ok(deleted)
    }

    /// Takes over a key that was stored wrapped elsewhere (a content table, before the key
    /// store): kept as it is unless `owner` has a key here already.
    pub async fn adopt(&self, owner: Owner, wrapped: &[u8]) -> Result<(), KeyringError> {
        // It must open: a key moved here that does not is lost content.
        self.inner.keys.unwrap_key(wrapped).map_err(|source| key_error(owner, source))?;
        self.insert(owner, wrapped).await?;
        Ok(())
    }

    async fn insert(&self, owner: Owner, wrapped: &[u8]) -> Result<u64, KeyringError> {
        let kek = wrapping_key_id(wrapped).ok_or_else(|| key_error(owner, CryptoError::Opening))?;
        let db = &self.inner.db;
        Ok(db
            .query(
                "INSERT INTO data_keys (owner_kind, owner_id, kek_id, wrapped) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (owner_kind, owner_id) DO NOTHING",
            )
            .bind(owner.kind)
            .bind(owner.id)
            .bind(kek.to_owned())
            .bind(wrapped.to_vec())
            .execute(db)
            .await?)
    }

    /// Rewraps every key that another key-encryption key wrapped with the current one, then
    /// compacts, so the older wrappings are gone from the store's files. Content is not
    /// touched: the data keys themselves stay the same.
    pub async fn rewrap(&self) -> Result<Rewrapped, KeyringError> {
        let db = &self.inner.db;
        let keys = &self.inner.keys;
        let current = keys.current_id().to_owned();
        let mut report = Rewrapped::default();
        let (mut after_kind, mut after_id) = (String::new(), Uuid::nil());
        loop {
            let rows = db
                .query(
                    "SELECT owner_kind, owner_id, wrapped FROM data_keys \
                     WHERE kek_id <> $1 AND (owner_kind > $2 OR (owner_kind = $2 AND owner_id > $3)) \
                     ORDER BY owner_kind, owner_id LIMIT $4",
                )
                .bind(current.clone())
                .bind(after_kind.clone())
                .bind(after_id)
                .bind(BATCH)
                .fetch_all(db)
                .await?;
            let Some(last) = rows.last() else { break };
            (after_kind, after_id) = (last.get("owner_kind")?, last.get("owner_id")?);
            for row in &rows {
                report.found += 1;
                let (kind, id, wrapped): (String, Uuid, Vec<u8>) =
                    (row.get("owner_kind")?, row.get("owner_id")?, row.get("wrapped")?);
                let new = match keys.rewrap(&wrapped) {
                    Ok(Some(new)) => new,
                    // The column disagreed with the wrapping; the wrapping is the truth.
                    Ok(None) => wrapped.clone(),
                    Err(CryptoError::UnknownKey) => {
                        let kek = wrapping_key_id(&wrapped).unwrap_or_default().to_owned();
                        match report.unknown.iter_mut().find(|(k, _)| *k == kek) {
                            Some((_, n)) => *n += 1,
                            None => report.unknown.push((kek, 1)),
                        }
                        continue;
                    }
                    Err(_) => {
                        report.unopened += 1;
                        continue;
                    }
                };
                let changed = db
                    .query(
                        "UPDATE data_keys SET wrapped = $1, kek_id = $2 \
                         WHERE owner_kind = $3 AND owner_id = $4 AND wrapped = $5",
                    )
                    .bind(new)
                    .bind(current.clone())
                    .bind(kind)
                    .bind(id)
                    .bind(wrapped)
                    .execute(db)
                    .await?;
                report.rewrapped += changed;
            }
        }
        self.compact().await?;
        Ok(report)
    }

    /// Rewrites the store's files without what was deleted or replaced. On PostgreSQL dead row
    /// versions stay in a table's data files until it is rewritten, and `VACUUM FULL` keeps
    /// those some older snapshot could still see; so the live keys are copied aside, the table
    /// truncated (fresh files; the old ones are emptied at commit) and the keys put back, in one
    /// transaction that holds the table's lock (waiting at most 5 s for it, else this fails and
    /// is tried again later). Key reads wait meanwhile: about 3 s for a million keys on a
    /// 2-core machine, once per run of deletions. On SQLite, where deleted rows are overwritten
    /// already, `VACUUM`.
    pub async fn compact(&self) -> Result<(), KeyringError> {
        let _one_at_a_time = self.inner.compacting.lock().await;
        let db = &self.inner.db;
        let mut tx = db.begin().await?;
        let due: Option<i64> =
            match tx.query("SELECT generation FROM compaction_due WHERE id = 1").fetch_optional(&mut tx).await? {
                Some(row) => Some(row.get("generation")?),
                None => None,
            };
        if tx.backend() == DatabaseBackend::Postgres {
            for step in [
                "SET LOCAL lock_timeout = '5s'",
                "LOCK TABLE data_keys IN ACCESS EXCLUSIVE MODE",
                "CREATE TEMPORARY TABLE live_keys ON COMMIT DROP AS SELECT * FROM data_keys",
                "TRUNCATE data_keys",
                // In key order: the primary key is filled three times faster than at random.
                "INSERT INTO data_keys SELECT * FROM live_keys ORDER BY owner_kind, owner_id",
            ] {
                tx.query(step).execute(&mut tx).await?;
            }
        }
        // Deletions made since leave a newer generation, still due.
        if let Some(generation) = due {
            tx.query("DELETE FROM compaction_due WHERE id = 1 AND generation = $1")
                .bind(generation)
                .execute(&mut tx)
                .await?;
        }
        tx.commit().await?;
        if let Db::Sqlite(pool) = db {
            sqlx::raw_sql("VACUUM").execute(pool).await.map_err(DbError::from)?;
        }
        tracing::debug!(service = %self.inner.service, "key store compacted");
        Ok(())
    }

    /// Compacts once no deletion has come for `compact_after` (at the latest a minute after the
    /// first of them), in a task of its own.
    fn schedule_compaction(&self) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else { return };
        let start = {
            let mut pending = self.inner.pending.lock().unwrap_or_else(PoisonError::into_inner);
            let now = Instant::now();
            pending.first.get_or_insert(now);
            pending.last = Some(now);
            !std::mem::replace(&mut pending.scheduled, true)
        };
        if start {
            runtime.spawn(self.clone().compact_when_quiet());
        }
    }

    async fn compact_when_quiet(self) {
        let mut retry = self.inner.compact_after;
        loop {
            let wait = {
                let mut pending = self.inner.pending.lock().unwrap_or_else(PoisonError::into_inner);
                let (Some(first), Some(last)) = (pending.first, pending.last) else {
                    pending.scheduled = false;
                    return;
                };
                let due = (last + self.inner.compact_after).min(first + COMPACT_AT_LATEST);
                let wait = due.saturating_duration_since(Instant::now());
                if wait.is_zero() {
                    // What is deleted from here on waits for the next round.
                    pending.first = None;
                    pending.last = None;
                }
                wait
            };
            if !wait.is_zero() {
                tokio::time::sleep(wait).await;
                continue;
            }
            match self.compact().await {
                Ok(()) => retry = self.inner.compact_after,
                Err(KeyringError::Db(DbError::Sqlx(sqlx::Error::PoolClosed))) => {
                    // The process is stopping; the next start compacts (`compaction_due`).
                    let mut pending = self.inner.pending.lock().unwrap_or_else(PoisonError::into_inner);
                    pending.scheduled = false;
                    return;
                }
                Err(error) => {
                    tracing::warn!(
                        service = %self.inner.service, %error,
                        "compacting the key store failed; deleted keys stay in its files until it succeeds"
                    );
                    retry = (retry * 2).min(RETRY_AT_MOST);
                    let mut pending = self.inner.pending.lock().unwrap_or_else(PoisonError::into_inner);
                    let at = Instant::now() + retry;
                    pending.first.get_or_insert(at);
                    pending.last = Some(pending.last.map_or(at, |last| last.max(at)));
                }
            }
        }
    }
}

fn key_error(owner: Owner, source: CryptoError) -> KeyringError {
    KeyringError::Key { kind: owner.kind, id: owner.id, source }
}

/// Data keys a service kept in a column of its content tables before the key store. They are
/// moved into the key store by [`migrate_with_keyring`] before the migration that drops the
/// column, which refuses to run while a key is left in it.
#[derive(Clone, Copy, Debug)]
pub struct LegacyKeys {
    pub owner_kind: &'static str,
    pub table: &'static str,
    pub id_column: &'static str,
    pub key_column: &'static str,
    /// The service's migration that drops the column.
    pub dropped_by: i64,
}

/// Applies the key store's and then the service's migrations, moving the keys of `legacy`
/// columns into the key store on the way (nothing sealed becomes unreadable): the service's
/// migrations up to the one that drops such a column run first, then every key in the column
/// is copied to the key store and emptied in the content table, then the rest run. Where a
/// column was moved, its table is rewritten afterwards, so the old keys are gone from the
/// content database's files too (PostgreSQL keeps a dropped column's values and dead rows
/// until a rewrite). Idempotent; a second run finds nothing to move.
pub async fn migrate_with_keyring(
    db: &Db,
    migrations: &Migrations,
    keyring: &Keyring,
    legacy: &[LegacyKeys],
) -> Result<(), KeyringError> {
    keyring.migrate().await?;
    let mut rewrite: Vec<&LegacyKeys> = Vec::new();
    // An older process may still write a key into the column between the move and the drop;
    // the drop then refuses, and the move runs again.
    let mut attempts = 0;
    loop {
        attempts += 1;
        for column in legacy {
            db.migrate_before(migrations, column.dropped_by).await?;
            if column_exists(db, column).await? {
                let moved = move_keys(db, keyring, column).await?;
                if moved > 0 {
                    tracing::info!(table = column.table, moved, "data keys moved into the key store");
                }
                if !rewrite.iter().any(|c| c.table == column.table) {
                    rewrite.push(column);
                }
            }
        }
        match db.migrate(migrations).await {
            Ok(()) => break,
            Err(error) if attempts < 3 && !rewrite.is_empty() => {
                tracing::warn!(%error, "a data key was written into a content table during the move; moving again");
            }
            Err(error) => return Err(error.into()),
        }
    }
    for column in rewrite {
        match db {
            Db::Postgres(pool) => {
                // `VACUUM FULL` keeps row versions an older snapshot may still see.
                wait_for_older_snapshots(pool).await?;
                sqlx::raw_sql(&format!("VACUUM FULL {}", column.table)).execute(pool).await.map_err(DbError::from)?;
            }
            Db::Sqlite(pool) => {
                sqlx::raw_sql("VACUUM").execute(pool).await.map_err(DbError::from)?;
                db.purge_deleted().await?;
            }
        }
    }
    Ok(())
}

/// Waits (at most a minute) until no other session of this database holds a snapshot taken
/// before now, so that a rewrite that follows drops every row version deleted or replaced
/// before.
async fn wait_for_older_snapshots(pool: &sqlx::PgPool) -> DbResult<()> {
    let now: String =
        sqlx::query_scalar("SELECT backend_xmin::text FROM pg_stat_activity WHERE pid = pg_backend_pid()")
            .fetch_one(pool)
            .await?;
    let deadline = Instant::now() + COMPACT_AT_LATEST;
    loop {
        let older: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() \
             AND pid <> pg_backend_pid() AND backend_xmin IS NOT NULL AND age(backend_xmin) > age($1::xid)",
        )
        .bind(&now)
        .fetch_one(pool)
        .await?;
        if older == 0 {
            return Ok(());
        }
        if Instant::now() > deadline {
            tracing::warn!(sessions = older, "sessions older than the key move still run; rewriting anyway");
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn column_exists(db: &Db, column: &LegacyKeys) -> DbResult<bool> {
    let sql = match db.backend() {
        DatabaseBackend::Postgres => {
            "SELECT 1 AS found FROM information_schema.columns \
             WHERE table_schema = current_schema() AND table_name = $1 AND column_name = $2"
        }
        DatabaseBackend::Sqlite => "SELECT 1 AS found FROM pragma_table_info($1) WHERE name = $2",
    };
    Ok(db.query(sql).bind(column.table).bind(column.key_column).fetch_optional(db).await?.is_some())
}

/// Copies every key left in the column into the key store and empties it there; how many.
async fn move_keys(db: &Db, keyring: &Keyring, column: &LegacyKeys) -> Result<u64, KeyringError> {
    let LegacyKeys { owner_kind, table, id_column, key_column, .. } = *column;
    let select = format!(
        "SELECT {id_column} AS id, {key_column} AS wrapped FROM {table} \
         WHERE length({key_column}) > 0 AND {id_column} > $1 ORDER BY {id_column} LIMIT $2"
    );
    let empty = format!("UPDATE {table} SET {key_column} = $1 WHERE {id_column} = $2 AND {key_column} = $3");
    let mut moved = 0;
    let mut after = Uuid::nil();
    loop {
        let rows = db.query(&select).bind(after).bind(BATCH).fetch_all(db).await?;
        let Some(last) = rows.last() else { break };
        after = last.get("id")?;
        for row in &rows {
            let (id, wrapped): (Uuid, Vec<u8>) = (row.get("id")?, row.get("wrapped")?);
            let owner = Owner::new(owner_kind, id);
            keyring.adopt(owner, &wrapped).await?;
            // Only once the key store holds it (the one moved now, or one moved before).
            if keyring.find(owner).await?.is_none() {
                return Err(key_error(owner, CryptoError::Opening));
            }
            moved += db.query(&empty).bind(Vec::<u8>::new()).bind(id).bind(wrapped).execute(db).await?;
        }
    }
    Ok(moved)
}
