//! `platform::keyring`: data keys kept apart from the content, deleted once and for all (also
//! from the store's files), rewrapped under a new key-encryption key, and moved out of the
//! content tables that kept them before.

use std::time::Duration;

use ohjaus_platform::{
    crypto::{KeyEncryptionKey, KeyEncryptionKeys},
    db::Db,
    ids::new_id,
    keyring::{self, Keyring, KeyringError, LegacyKeys, Owner, Rewrapped, migrate_with_keyring},
};
use ohjaus_test_support::{contains, open_keyring, postgres_schema_files};
use uuid::Uuid;

use crate::support::{Backend, SERVICE, TestEnv, count, eventually, migrations, on_both_backends};

on_both_backends!(
    keys_are_made_found_and_deleted_once,
    a_deleted_key_leaves_the_store_files,
    rewrapping_needs_the_old_key_encryption_key_no_more,
    keys_kept_beside_the_content_move_into_the_store,
    the_column_is_not_dropped_while_a_key_is_left_in_it,
);

const K2: &str = "k2:202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f";
const K3: &str = "k3:404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f";

fn thing() -> Owner {
    Owner::new("thing", new_id())
}

/// A key store of the test service with its own key-encryption keys and compaction delay.
async fn keyring_with(env: &TestEnv, keys: KeyEncryptionKeys, compact_after: Duration) -> Keyring {
    let db = keyring::connect(&env.settings, SERVICE).await.unwrap();
    let keyring = Keyring::new(SERVICE, db, keys, compact_after);
    keyring.migrate().await.unwrap();
    keyring
}

fn kek(value: &str) -> KeyEncryptionKey {
    KeyEncryptionKey::parse(value).unwrap()
}

/// The configured (current) key-encryption key of the tests.
fn configured(env: &TestEnv) -> KeyEncryptionKey {
    env.settings.key_encryption_key().unwrap()
}

async fn wrapped_of(keyring: &Keyring, owner: Owner) -> Vec<u8> {
    let db = keyring.db();
    db.query("SELECT wrapped FROM data_keys WHERE owner_kind = $1 AND owner_id = $2")
        .bind(owner.kind)
        .bind(owner.id)
        .fetch_one(db)
        .await
        .unwrap()
        .get("wrapped")
        .unwrap()
}

/// Every file of the key store as the disk holds it: its SQLite files, or the data files of its
/// PostgreSQL schema.
async fn store_files(env: &TestEnv, keyring: &Keyring) -> Vec<(String, Vec<u8>)> {
    match keyring.db() {
        Db::Postgres(pool) => postgres_schema_files(pool, &keyring::schema_of(SERVICE))
            .await
            .into_iter()
            .map(|(path, bytes)| (path.display().to_string(), bytes))
            .collect(),
        Db::Sqlite(_) => std::fs::read_dir(env.settings.keyring_directory())
            .unwrap()
            .flatten()
            .map(|entry| (entry.path().display().to_string(), std::fs::read(entry.path()).unwrap_or_default()))
            .collect(),
    }
}

fn held(files: &[(String, Vec<u8>)], bytes: &[u8]) -> Vec<String> {
    files.iter().filter(|(_, content)| contains(content, bytes)).map(|(path, _)| path.clone()).collect()
}

async fn keys_are_made_found_and_deleted_once(env: TestEnv) {
    let keyring = open_keyring(&env.settings, SERVICE).await;
    let (a, b) = (thing(), thing());
    let key = keyring.create(a).await.unwrap();
    let sealed = key.seal(b"secret", b"record").unwrap();
    assert!(matches!(keyring.create(a).await, Err(KeyringError::Exists { .. })));
    assert_eq!(keyring.find(a).await.unwrap().expect("a's key").open(&sealed, b"record").unwrap(), b"secret");
    // Another kind with the same id is another owner.
    assert!(keyring.find(Owner::new("other", a.id)).await.unwrap().is_none());
    assert!(keyring.find(b).await.unwrap().is_none());

    // `ensure` keeps a key that is there, and makes one key for concurrent first callers.
    assert_eq!(keyring.ensure(a).await.unwrap().open(&sealed, b"record").unwrap(), b"secret");
    let (first, second) = tokio::join!(keyring.ensure(b), keyring.ensure(b));
    let sealed_b = first.unwrap().seal(b"b's", b"record").unwrap();
    assert_eq!(second.unwrap().open(&sealed_b, b"record").unwrap(), b"b's");

    // Deleting is idempotent and touches no one else; the deletion is remembered until the
    // store is compacted, which follows by itself.
    assert_eq!(keyring.delete(a).await.unwrap(), 1);
    assert_eq!(keyring.delete(a).await.unwrap(), 0);
    assert!(keyring.find(a).await.unwrap().is_none());
    assert!(keyring.find(b).await.unwrap().is_some());
    eventually("the deletions are compacted", || async {
        count(keyring.db(), "SELECT COUNT(*) AS n FROM compaction_due").await == 0
    })
    .await;
    // A new key for a deleted owner is a new key: what was sealed before stays unreadable.
    let again = keyring.create(a).await.unwrap();
    assert!(again.open(&sealed, b"record").is_err());
}

async fn a_deleted_key_leaves_the_store_files(env: TestEnv) {
    // Compaction only when asked, so the test sees the files before and after it.
    let keys = KeyEncryptionKeys::new(configured(&env), Vec::new()).unwrap();
    let keyring = keyring_with(&env, keys, Duration::from_secs(3600)).await;
    let owners: Vec<Owner> = (0..20).map(|_| thing()).collect();
    for owner in &owners {
        keyring.create(*owner).await.unwrap();
    }
    let (gone, kept) = (owners[7], owners[8]);
    let (gone_key, kept_key) = (wrapped_of(&keyring, gone).await, wrapped_of(&keyring, kept).await);
    let files = store_files(&env, &keyring).await;
    assert!(!held(&files, &gone_key).is_empty() && !held(&files, &kept_key).is_empty(), "the scan sees the keys");

    assert_eq!(keyring.delete(gone).await.unwrap(), 1);
    let files = store_files(&env, &keyring).await;
    match env.backend {
        // SQLite overwrites the deleted row at once (secure_delete) and keeps no log of the
        // page it was on (a rollback journal, deleted at commit).
        Backend::Embedded => assert_eq!(held(&files, &gone_key), Vec::<String>::new()),
        // PostgreSQL keeps the dead row version in the table's file: this is why the store
        // is compacted after deletions.
        Backend::Server => assert!(!held(&files, &gone_key).is_empty(), "PostgreSQL keeps dead rows until a rewrite"),
    }

    keyring.compact().await.unwrap();
    let files = store_files(&env, &keyring).await;
    assert_eq!(held(&files, &gone_key), Vec::<String>::new(), "the deleted key");
    assert_eq!(held(&files, gone.id.as_bytes()), Vec::<String>::new(), "the deleted owner's id");
    assert!(!held(&files, &kept_key).is_empty(), "the kept key");
    assert_eq!(count(keyring.db(), "SELECT COUNT(*) AS n FROM compaction_due").await, 0);
    assert!(keyring.find(kept).await.unwrap().is_some());

    // Left alone, the store compacts shortly after a deletion.
    let eager = open_keyring(&env.settings, SERVICE).await;
    let next = owners[9];
    let next_key = wrapped_of(&eager, next).await;
    assert_eq!(eager.delete(next).await.unwrap(), 1);
    let mut left = Vec::new();
    for _ in 0..200 {
        left = held(&store_files(&env, &eager).await, &next_key);
        if left.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(left, Vec::<String>::new(), "a deleted key is compacted away by itself");
}

async fn rewrapping_needs_the_old_key_encryption_key_no_more(env: TestEnv) {
    let old = open_keyring(&env.settings, SERVICE).await;
    let owners: Vec<Owner> = (0..3).map(|_| thing()).collect();
    let mut sealed = Vec::new();
    let mut old_wrappings = Vec::new();
    for owner in &owners {
        let key = old.create(*owner).await.unwrap();
        sealed.push(key.seal(owner.id.as_bytes(), b"content").unwrap());
        old_wrappings.push(wrapped_of(&old, *owner).await);
    }

    // Only K2: the keys do not open (it is the old key they need).
    let only_new =
        keyring_with(&env, KeyEncryptionKeys::new(kek(K2), Vec::new()).unwrap(), Duration::from_millis(1)).await;
    assert!(matches!(only_new.find(owners[0]).await, Err(KeyringError::Key { .. })));
    // Rewrapping with K2 alone leaves every key as it is and says which key it lacks.
    let report = only_new.rewrap().await.unwrap();
    assert_eq!(report.rewrapped, 0);
    assert_eq!(report.unknown, vec![(configured(&env).id().to_owned(), 3)]);

    // K2 current, the old key accepted: every key is rewrapped once.
    let rotating =
        keyring_with(&env, KeyEncryptionKeys::new(kek(K2), vec![configured(&env)]).unwrap(), Duration::from_millis(1))
            .await;
    let report = rotating.rewrap().await.unwrap();
    assert_eq!(report, Rewrapped { found: 3, rewrapped: 3, unknown: Vec::new(), unopened: 0 });
    assert_eq!(rotating.rewrap().await.unwrap(), Rewrapped::default());
    let kek_ids = count(rotating.db(), "SELECT COUNT(*) AS n FROM data_keys WHERE kek_id = 'k2'").await;
    assert_eq!(kek_ids, 3);

    // From now on K2 alone opens everything sealed before; the old key opens nothing.
    let after =
        keyring_with(&env, KeyEncryptionKeys::new(kek(K2), Vec::new()).unwrap(), Duration::from_millis(1)).await;
    for (owner, sealed) in owners.iter().zip(&sealed) {
        let key = after.find(*owner).await.unwrap().expect("the key");
        assert_eq!(key.open(sealed, b"content").unwrap(), owner.id.as_bytes());
        assert!(matches!(old.find(*owner).await, Err(KeyringError::Key { .. })));
    }
    // The old wrappings are gone from the store's files (it was compacted).
    let files = store_files(&env, &after).await;
    for wrapping in &old_wrappings {
        assert_eq!(held(&files, wrapping), Vec::<String>::new());
    }
    // A key-encryption key that wraps nothing any more: K3 current, K2 accepted, rewraps all.
    let k3 =
        keyring_with(&env, KeyEncryptionKeys::new(kek(K3), vec![kek(K2)]).unwrap(), Duration::from_millis(1)).await;
    assert_eq!(k3.rewrap().await.unwrap().rewrapped, 3);
}

const LEGACY_SERVICE: &str = "platform_legacy";
const MOVED_BY: i64 = 20990101000003;
const LEGACY: &[LegacyKeys] = &[LegacyKeys {
    owner_kind: "legacy",
    table: "legacy_sealed",
    id_column: "id",
    key_column: "data_key",
    dropped_by: MOVED_BY,
}];

/// A database of the test service as it was before its keys moved, with `n` rows sealed with a
/// key each, kept beside them: (id, wrapped key, sealed) of each.
async fn legacy_database(env: &TestEnv, name: &str, n: usize) -> (Db, Vec<(Uuid, Vec<u8>, Vec<u8>)>) {
    let db = Db::connect(&env.settings, name).await.unwrap();
    db.migrate_before(&migrations(), MOVED_BY).await.unwrap();
    let kek = configured(env);
    let mut rows = Vec::new();
    for _ in 0..n {
        let id = new_id();
        let (key, wrapped) = kek.new_data_key().unwrap();
        let sealed = key.seal(b"kept before the key store", id.as_bytes()).unwrap();
        db.query("INSERT INTO legacy_sealed (id, data_key, sealed) VALUES ($1, $2, $3)")
            .bind(id)
            .bind(wrapped.clone())
            .bind(sealed.clone())
            .execute(&db)
            .await
            .unwrap();
        rows.push((id, wrapped, sealed));
    }
    (db, rows)
}

/// The content database's own files: its SQLite file, or its PostgreSQL schema's data files.
async fn content_files(env: &TestEnv, db: &Db, name: &str) -> Vec<(String, Vec<u8>)> {
    match db {
        Db::Postgres(pool) => postgres_schema_files(pool, name)
            .await
            .into_iter()
            .map(|(path, bytes)| (path.display().to_string(), bytes))
            .collect(),
        Db::Sqlite(_) => std::fs::read_dir(&env.settings.data_dir)
            .unwrap()
            .flatten()
            .filter(|entry| entry.file_name().to_string_lossy().starts_with(name))
            .map(|entry| (entry.path().display().to_string(), std::fs::read(entry.path()).unwrap_or_default()))
            .collect(),
    }
}

async fn keys_kept_beside_the_content_move_into_the_store(env: TestEnv) {
    let (db, rows) = legacy_database(&env, LEGACY_SERVICE, 700).await;
    let files = content_files(&env, &db, LEGACY_SERVICE).await;
    assert!(!held(&files, &rows[0].1).is_empty(), "the scan sees the keys in the content files");

    let keyring = open_keyring(&env.settings, LEGACY_SERVICE).await;
    migrate_with_keyring(&db, &migrations(), &keyring, LEGACY).await.unwrap();
    // Every sealed row opens with its key from the store; the column is gone.
    for (id, _, sealed) in &rows {
        let key = keyring.find(Owner::new("legacy", *id)).await.unwrap().expect("the moved key");
        assert_eq!(key.open(sealed, id.as_bytes()).unwrap(), b"kept before the key store");
    }
    assert!(db.query("SELECT data_key FROM legacy_sealed").fetch_all(&db).await.is_err());
    assert_eq!(count(&db, "SELECT COUNT(*) AS n FROM legacy_sealed").await, 700);
    // Nor are the keys left in the content database's files (the table was rewritten).
    let files = content_files(&env, &db, LEGACY_SERVICE).await;
    for (_, wrapped, _) in &rows {
        assert_eq!(held(&files, wrapped), Vec::<String>::new());
    }
    // A second run finds nothing to move and changes nothing.
    migrate_with_keyring(&db, &migrations(), &keyring, LEGACY).await.unwrap();
    assert_eq!(count(keyring.db(), "SELECT COUNT(*) AS n FROM data_keys").await, 700);
}

async fn the_column_is_not_dropped_while_a_key_is_left_in_it(env: TestEnv) {
    // As if an older process wrote a key after the move: the migration that drops the column
    // refuses, and the key stays where it is.
    let (db, rows) = legacy_database(&env, "platform_guard", 1).await;
    assert!(db.migrate(&migrations()).await.is_err());
    let left: Vec<u8> =
        db.query("SELECT data_key FROM legacy_sealed").fetch_one(&db).await.unwrap().get("data_key").unwrap();
    assert_eq!(left, rows[0].1);
    // The move, run again, takes it along.
    let keyring = open_keyring(&env.settings, "platform_guard").await;
    migrate_with_keyring(&db, &migrations(), &keyring, LEGACY).await.unwrap();
    assert!(keyring.find(Owner::new("legacy", rows[0].0)).await.unwrap().is_some());
}
