//! Deleted means unreadable, in backups too: the data keys live in a key store apart from the
//! content (on the server backend a database of its own, as in production), so a content
//! backup restored after a deletion opens nothing of the deleted workspace; the key store's
//! files keep no deleted key and the content's files no key at all; rewrapping under a new
//! key-encryption key leaves the content as it was and readable without the old key; and the
//! keys that content tables kept before the key store move into it on upgrade.

use std::{path::Path, sync::Arc, time::Duration};

use ohjaus::Target;
use ohjaus_integration_tests::{BUSINESS_IDS, Backend, Browser, Storage, TestSystem};
use ohjaus_platform::{
    auth::{Membership, Principal, Role},
    crypto::DataKey,
    db::Db,
    keyring,
    proto::{
        consent::v1::{DeleteWorkspaceLedgerRequest, consent_service_client::ConsentServiceClient},
        workspaces::v1::{RetentionRequest, workspaces_service_client::WorkspacesServiceClient},
    },
};
use ohjaus_test_support::{ServerResources, contains, fresh_suffix, postgres_database_files};
use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::support::{EXPERTS, items, join, list_in_directory, logged_in, open_workspace, organisation_with};

on_both_backends!(
    a_content_backup_restored_after_a_deletion_opens_nothing_of_the_deleted_workspace,
    the_files_keep_no_deleted_key_and_the_content_no_key_at_all,
    rewrapping_under_a_new_key_encryption_key_needs_the_old_one_no_more,
    keys_kept_in_content_tables_move_into_the_key_store_on_upgrade,
);

/// The services with a key store, and the content schemas (files) a content backup holds.
const KEYED: [&str; 2] = ["workspaces", "consent"];
const CONTENT: [&str; 6] = ["tenants", "identity", "workspaces", "consent", "forms", "surveys"];
const K1: &str = "k1:5f4dcc3b5aa765d61d8327deb882cf995f4dcc3b5aa765d61d8327deb882cf99";
const K2: &str = "k2:202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f";

/// A system's storage with its key store apart: on the server backend a database of its own.
struct Setup {
    storage: Arc<Storage>,
    extra: Vec<(&'static str, String)>,
    /// The key store's database (server backend), removed at the end.
    _keys: Option<ServerResources>,
}

impl Setup {
    async fn new(backend: Backend) -> Self {
        let storage = Arc::new(Storage::new(backend).await);
        let mut extra = vec![("OHJAUS__KEYRING__COMPACT_AFTER_MS", "1".to_owned())];
        let keys = match backend {
            Backend::Embedded => None,
            Backend::Server => {
                let keys = ServerResources::create("ohjaus_it_keys", &fresh_suffix()).await;
                extra.push(("OHJAUS__KEYRING__URL", keys.database_url.clone()));
                Some(keys)
            }
        };
        Self { storage, extra, _keys: keys }
    }

    fn with(&self, more: &[(&'static str, &str)]) -> Vec<(&'static str, String)> {
        let mut extra = self.extra.clone();
        extra.extend(more.iter().map(|(k, v)| (*k, (*v).to_owned())));
        extra
    }

    async fn start(&self) -> TestSystem {
        TestSystem::start_on(self.storage.clone(), &self.extra).await
    }

    async fn content_db(&self, service: &str) -> Db {
        Db::connect(&self.storage.settings(&self.extra), service).await.unwrap()
    }

    async fn keyring_db(&self, service: &str) -> Db {
        keyring::connect(&self.storage.settings(&self.extra), service).await.unwrap()
    }

    /// Every data key in the key stores, opened with the configured key-encryption keys.
    async fn all_keys(&self) -> Vec<DataKey> {
        let keys = self.storage.settings(&self.extra).key_encryption_keys().unwrap();
        let mut found = Vec::new();
        for service in KEYED {
            let db = self.keyring_db(service).await;
            for row in db.query("SELECT wrapped FROM data_keys").fetch_all(&db).await.unwrap() {
                found.push(keys.unwrap_key(&row.get::<Vec<u8>>("wrapped").unwrap()).unwrap());
            }
            db.close().await;
        }
        found
    }

    /// The wrapped key of `workspace` in `service`'s key store, if any.
    async fn wrapped(&self, service: &str, workspace: &str) -> Option<Vec<u8>> {
        let db = self.keyring_db(service).await;
        let row = db
            .query("SELECT wrapped FROM data_keys WHERE owner_kind = 'workspace' AND owner_id = $1")
            .bind(Uuid::parse_str(workspace).unwrap())
            .fetch_optional(&db)
            .await
            .unwrap();
        db.close().await;
        row.map(|r| r.get("wrapped").unwrap())
    }

    /// What the disk holds of the key store: its SQLite files, or its database's data files.
    async fn key_store_files(&self) -> Vec<(String, Vec<u8>)> {
        match self.storage.backend {
            Backend::Embedded => files_in(&self.storage.settings(&self.extra).keyring_directory(), |_| true),
            Backend::Server => {
                let db = self.keyring_db("workspaces").await;
                let Db::Postgres(pool) = &db else { unreachable!() };
                let files = named(postgres_database_files(pool).await);
                db.close().await;
                files
            }
        }
    }

    /// What the disk holds of the content: the services' SQLite files, or the content
    /// database's data files.
    async fn content_files(&self) -> Vec<(String, Vec<u8>)> {
        match self.storage.backend {
            Backend::Embedded => files_in(&self.storage.data_dir(), |name| {
                CONTENT.iter().any(|service| name.starts_with(&format!("{service}.db")))
            }),
            Backend::Server => {
                let db = self.content_db("workspaces").await;
                let Db::Postgres(pool) = &db else { unreachable!() };
                let files = named(postgres_database_files(pool).await);
                db.close().await;
                files
            }
        }
    }
}

fn named(files: Vec<(std::path::PathBuf, Vec<u8>)>) -> Vec<(String, Vec<u8>)> {
    files.into_iter().map(|(path, bytes)| (path.display().to_string(), bytes)).collect()
}

fn files_in(folder: &Path, wanted: impl Fn(&str) -> bool) -> Vec<(String, Vec<u8>)> {
    std::fs::read_dir(folder)
        .unwrap()
        .flatten()
        .filter(|e| e.path().is_file() && wanted(&e.file_name().to_string_lossy()))
        .map(|e| (e.path().display().to_string(), std::fs::read(e.path()).unwrap_or_default()))
        .collect()
}

fn holding(files: &[(String, Vec<u8>)], bytes: &[u8]) -> Vec<String> {
    files.iter().filter(|(_, content)| contains(content, bytes)).map(|(path, _)| path.clone()).collect()
}

/// Two workspaces of Olli's with a customer each, messages both ways and a consent request.
struct Filled {
    deleted: String,
    kept: String,
}

const DELETED_TITLE: &str = "Poistuva työtila";
const KEPT_TITLE: &str = "Säilyvä työtila";
const KEPT_MESSAGE: &str = "Säilyvän työtilan viesti";
const KEPT_PURPOSE: &str = "Säilyvän työtilan yhteistyö";

async fn fill(system: &TestSystem) -> Filled {
    let org = organisation_with(system, BUSINESS_IDS[0], &EXPERTS).await;
    list_in_directory(system, &org, "noora.neuvoja").await;
    let mut olli = logged_in(system, "expert", "olli.ohjaaja").await;
    let plan = [
        (DELETED_TITLE, "010280-952L", "tessa@example.fi", "Poistuvan työtilan viesti", "Poistuvan työtilan yhteistyö"),
        (KEPT_TITLE, "010675-9981", "kalle@example.fi", KEPT_MESSAGE, KEPT_PURPOSE),
    ];
    // Both customers join first: later mails (a consent request's) would race the invitations.
    let mut ids = Vec::new();
    let mut customers = Vec::new();
    for (title, code, email, _, _) in plan {
        let body = json!({"organization_id": org.id, "office_id": org.office, "kind": "personal", "title": title});
        let workspace = open_workspace(&mut olli, body).await.id();
        customers.push(join(system, &system.storage, &mut olli, &workspace, code, email).await);
        ids.push(workspace);
    }
    for ((workspace, customer), (_, _, _, message, purpose)) in ids.iter().zip(&mut customers).zip(plan) {
        let base = format!("/api/v1/workspaces/{workspace}");
        for browser in [&mut olli, customer] {
            let posted =
                browser.send_with_csrf(Method::POST, &format!("{base}/messages"), Some(json!({"body": message}))).await;
            assert_eq!(posted.status, 201, "{:?}", posted.body);
        }
        let members = olli.get(&format!("{base}/members")).await;
        let customer_id = items(&members).iter().find(|m| m["kind"] == "customer").unwrap()["id"].clone();
        let proposal = json!({"customer_id": customer_id, "expert_id": org.person("noora.neuvoja"),
                              "expert_organization_id": org.id, "purpose": purpose, "language": "fi"});
        let proposed = olli.send_with_csrf(Method::POST, &format!("{base}/consents"), Some(proposal)).await;
        assert_eq!(proposed.status, 201, "{:?}", proposed.body);
    }
    let kept = ids.pop().unwrap();
    let deleted = ids.pop().unwrap();
    Filled { deleted, kept }
}

/// Retention's deletion of a workspace in the services that hold its keys.
async fn delete_everywhere(system: &TestSystem, workspace: &str) {
    let channel = tonic::transport::Endpoint::from_shared(system.grpc.clone()).unwrap().connect().await.unwrap();
    let token = format!("Bearer {}", system.service_token(&Principal::Service { name: "retention".into() }));
    fn request<T>(message: T, token: &str) -> tonic::Request<T> {
        let mut request = tonic::Request::new(message);
        request.metadata_mut().insert("authorization", token.parse().unwrap());
        request
    }
    let deleted = WorkspacesServiceClient::new(channel.clone())
        .delete_workspace(request(
            RetentionRequest { workspace_id: workspace.to_owned(), ..Default::default() },
            &token,
        ))
        .await;
    assert!(deleted.is_ok(), "{deleted:?}");
    let deleted = ConsentServiceClient::new(channel)
        .delete_workspace_ledger(request(
            DeleteWorkspaceLedgerRequest {
                workspace_id: workspace.to_owned(),
                deletion_id: Uuid::now_v7().to_string(),
            },
            &token,
        ))
        .await;
    assert!(deleted.is_ok(), "{deleted:?}");
}

/// Every sealed value of `workspace` in the content databases, with what it is bound to.
async fn sealed_of(setup: &Setup, workspace: &str) -> Vec<(String, Vec<u8>, Vec<u8>)> {
    let id = Uuid::parse_str(workspace).unwrap();
    let mut sealed = Vec::new();
    let queries = [
        ("workspaces", "SELECT id, title_sealed AS sealed FROM workspaces WHERE id = $1", "title"),
        ("workspaces", "SELECT id, sealed FROM messages WHERE workspace_id = $1", "message"),
        ("consent", "SELECT id, details_sealed AS sealed FROM consent_requests WHERE workspace_id = $1", "request"),
        ("consent", "SELECT id, purpose_sealed AS sealed FROM ledger_entries WHERE workspace_id = $1", "entry"),
    ];
    for (service, sql, what) in queries {
        let db = setup.content_db(service).await;
        for row in db.query(sql).bind(id).fetch_all(&db).await.unwrap() {
            let row_id: Uuid = row.get("id").unwrap();
            let aad = match what {
                "title" => format!("workspace:{id}:title"),
                "message" => format!("workspace:{id}:message:{row_id}"),
                "request" => format!("consent:workspace:{id}:request:{row_id}"),
                _ => format!("consent:workspace:{id}:entry:{row_id}"),
            };
            sealed.push((format!("{service} {what} {row_id}"), row.get("sealed").unwrap(), aad.into_bytes()));
        }
        db.close().await;
    }
    sealed
}

fn opens(keys: &[DataKey], sealed: &[u8], aad: &[u8]) -> bool {
    keys.iter().any(|key| key.open(sealed, aad).is_ok())
}

/// A copy of the content (not the key store): `pg_dump` of the content schemas, or the
/// services' SQLite files of the stopped system.
fn back_up_content(setup: &Setup, to: &Path) {
    match setup.storage.backend {
        Backend::Server => {
            let url = setup.storage.database_url.clone().unwrap();
            let mut dump = std::process::Command::new("pg_dump");
            dump.args(["--format=custom", "--no-owner", "--file"]).arg(to.join("content.dump"));
            for schema in CONTENT {
                dump.arg(format!("--schema={schema}"));
            }
            let status = dump.arg(&url).status().expect("pg_dump (PostgreSQL's client programs)");
            assert!(status.success(), "pg_dump failed");
        }
        Backend::Embedded => {
            for (path, bytes) in files_in(&setup.storage.data_dir(), |name| name.contains(".db")) {
                let name = Path::new(&path).file_name().unwrap().to_owned();
                std::fs::write(to.join(name), bytes).unwrap();
            }
        }
    }
}

/// Puts the content back as it was in the backup; the key store stays as it is now.
async fn restore_content(setup: &Setup, from: &Path) {
    match setup.storage.backend {
        Backend::Server => {
            let db = setup.content_db("workspaces").await;
            db.query(&format!("DROP SCHEMA {} CASCADE", CONTENT.join(", "))).execute(&db).await.unwrap();
            db.close().await;
            let url = setup.storage.database_url.clone().unwrap();
            let status = std::process::Command::new("pg_restore")
                .args(["--exit-on-error", "--no-owner", "--dbname"])
                .arg(&url)
                .arg(from.join("content.dump"))
                .status()
                .expect("pg_restore (PostgreSQL's client programs)");
            assert!(status.success(), "pg_restore failed");
        }
        Backend::Embedded => {
            let data = setup.storage.data_dir();
            for (path, _) in files_in(&data, |name| name.contains(".db")) {
                std::fs::remove_file(path).unwrap();
            }
            for (path, bytes) in files_in(from, |_| true) {
                std::fs::write(data.join(Path::new(&path).file_name().unwrap()), bytes).unwrap();
            }
        }
    }
}

async fn count(setup: &Setup, service: &str, sql: &str, workspace: &str) -> i64 {
    let db = setup.content_db(service).await;
    let n = db.query(sql).bind(Uuid::parse_str(workspace).unwrap()).fetch_one(&db).await.unwrap().get("n").unwrap();
    db.close().await;
    n
}

async fn titles(olli: &mut Browser<'_>) -> Vec<(String, String)> {
    let mut listed: Vec<(String, String)> = items(&olli.get("/api/v1/workspaces").await)
        .iter()
        .map(|w| (w["id"].as_str().unwrap().to_owned(), w["title"].as_str().unwrap().to_owned()))
        .collect();
    listed.sort();
    listed
}

fn bodies(reply: Vec<Value>) -> Vec<String> {
    reply.iter().map(|m| m["body"].as_str().unwrap_or_default().to_owned()).collect()
}

async fn a_content_backup_restored_after_a_deletion_opens_nothing_of_the_deleted_workspace(backend: Backend) {
    let setup = Setup::new(backend).await;
    let system = setup.start().await;
    let Filled { deleted, kept, .. } = fill(&system).await;
    if backend == Backend::Server {
        // The key store is not in the content database at all.
        let db = setup.content_db("workspaces").await;
        let n = db.query("SELECT COUNT(*) AS n FROM pg_namespace WHERE nspname LIKE '%keyring%'").fetch_one(&db);
        assert_eq!(n.await.unwrap().get::<i64>("n").unwrap(), 0);
        db.close().await;
    }

    // A content backup is taken; then retention deletes one workspace.
    system.stop().await;
    let backup = tempfile::tempdir().unwrap();
    back_up_content(&setup, backup.path());
    let system = setup.start().await;
    delete_everywhere(&system, &deleted).await;
    system.stop().await;

    // The content is restored from the backup, beside the key store as it is now.
    restore_content(&setup, backup.path()).await;
    assert_eq!(count(&setup, "workspaces", "SELECT COUNT(*) AS n FROM workspaces WHERE id = $1", &deleted).await, 1);
    let sealed_deleted = sealed_of(&setup, &deleted).await;
    for what in ["workspaces title", "workspaces message", "consent request", "consent entry"] {
        assert!(sealed_deleted.iter().any(|(w, _, _)| w.starts_with(what)), "the backup brought back no {what}");
    }
    for service in KEYED {
        assert_eq!(setup.wrapped(service, &deleted).await, None, "{service}");
        assert!(setup.wrapped(service, &kept).await.is_some(), "{service}");
    }

    // Not one sealed value of the deleted workspace opens with any key there is; every one of
    // the kept workspace does.
    let keys = setup.all_keys().await;
    for (what, sealed, aad) in &sealed_deleted {
        assert!(!opens(&keys, sealed, aad), "{what} of the deleted workspace opens");
    }
    let sealed_kept = sealed_of(&setup, &kept).await;
    assert_eq!(sealed_kept.len(), sealed_deleted.len());
    for (what, sealed, aad) in &sealed_kept {
        assert!(opens(&keys, sealed, aad), "{what} of the kept workspace does not open");
    }

    // The system restarted on the restored content: the deleted workspace is not there for
    // anyone, the kept one reads as before.
    let system = setup.start().await;
    let mut olli = logged_in(&system, "expert", "olli.ohjaaja").await;
    let mut tessa = logged_in(&system, "customer", "010280-952L").await;
    let base = format!("/api/v1/workspaces/{deleted}");
    for (who, browser) in [("guide", &mut olli), ("customer", &mut tessa)] {
        for path in [base.clone(), format!("{base}/messages"), format!("{base}/consents")] {
            let reply = browser.get(&path).await;
            assert_eq!(reply.status, 404, "{who} {path}: {:?}", reply.body);
        }
    }
    assert_eq!(items(&tessa.get("/api/v1/workspaces").await), Vec::<Value>::new());
    assert_eq!(titles(&mut olli).await, [(kept.clone(), KEPT_TITLE.to_owned())]);
    let messages = bodies(items(&olli.get(&format!("/api/v1/workspaces/{kept}/messages")).await));
    assert_eq!(messages, [KEPT_MESSAGE, KEPT_MESSAGE]);
    let consents = items(&olli.get(&format!("/api/v1/workspaces/{kept}/consents")).await);
    assert_eq!(consents.iter().map(|c| c["purpose"].as_str().unwrap()).collect::<Vec<_>>(), [KEPT_PURPOSE]);
}

async fn the_files_keep_no_deleted_key_and_the_content_no_key_at_all(backend: Backend) {
    let setup = Setup::new(backend).await;
    let system = setup.start().await;
    let Filled { deleted, kept, .. } = fill(&system).await;
    let mut deleted_keys = Vec::new();
    let mut kept_keys = Vec::new();
    for service in KEYED {
        deleted_keys.push(setup.wrapped(service, &deleted).await.expect("a key of the deleted workspace"));
        kept_keys.push(setup.wrapped(service, &kept).await.expect("a key of the kept workspace"));
    }

    // The content's files hold no key of any workspace: a content backup is ciphertext only.
    let content = setup.content_files().await;
    for key in deleted_keys.iter().chain(&kept_keys) {
        assert_eq!(holding(&content, key), Vec::<String>::new(), "a data key in the content's files");
    }

    // After the deletion, the key store's files hold no key of the deleted workspace, nor its
    // id, once the store is compacted (right after the deletions).
    let files = setup.key_store_files().await;
    assert!(deleted_keys.iter().chain(&kept_keys).all(|key| !holding(&files, key).is_empty()), "the scan sees keys");
    delete_everywhere(&system, &deleted).await;
    let id = Uuid::parse_str(&deleted).unwrap();
    let mut left = Vec::new();
    for _ in 0..150 {
        let files = setup.key_store_files().await;
        left = deleted_keys.iter().chain([&id.as_bytes().to_vec()]).flat_map(|b| holding(&files, b)).collect();
        if left.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(left, Vec::<String>::new(), "the deleted workspace's keys are still in the key store's files");
    let files = setup.key_store_files().await;
    for key in &kept_keys {
        assert!(!holding(&files, key).is_empty(), "the kept workspace's key is gone");
    }
    drop(system);
}

async fn rewrapping_under_a_new_key_encryption_key_needs_the_old_one_no_more(backend: Backend) {
    let setup = Setup::new(backend).await;
    let system = setup.start().await;
    let Filled { deleted: first, kept: second, .. } = fill(&system).await;
    let mut content_before = sealed_of(&setup, &first).await;
    content_before.extend(sealed_of(&setup, &second).await);
    let mut old_wrappings = Vec::new();
    for service in KEYED {
        for workspace in [&first, &second] {
            old_wrappings.push(setup.wrapped(service, workspace).await.unwrap());
        }
    }
    system.stop().await;

    // The new key alone opens nothing yet.
    let new_only = setup.with(&[("OHJAUS__SECURITY__KEY_ENCRYPTION_KEY", K2)]);
    let system = TestSystem::start_on(setup.storage.clone(), &new_only).await;
    let mut olli = logged_in(&system, "expert", "olli.ohjaaja").await;
    let reply = olli.get(&format!("/api/v1/workspaces/{first}")).await;
    assert_eq!(reply.status, 500, "{:?}", reply.body);
    drop(olli);
    system.stop().await;

    // The operator makes K2 current, keeps K1 accepted, and rewraps.
    let rotating = setup
        .with(&[("OHJAUS__SECURITY__KEY_ENCRYPTION_KEY", K2), ("OHJAUS__SECURITY__ACCEPTED_KEY_ENCRYPTION_KEYS", K1)]);
    let reports = ohjaus::rewrap_keys(&setup.storage.settings(&rotating), &Target::ALL).await.unwrap();
    let summary: Vec<(Target, u64, u64)> =
        reports.iter().map(|r| (r.target, r.rewrapped.found, r.rewrapped.rewrapped)).collect();
    // The forms service keeps its submissions' keys in a key store too (none in this story), and
    // the surveys service its workspaces' answer keys (no round here).
    assert_eq!(
        summary,
        [(Target::Workspaces, 2, 2), (Target::Consent, 2, 2), (Target::Forms, 0, 0), (Target::Surveys, 0, 0)]
    );
    assert!(
        ohjaus::rewrap_keys(&setup.storage.settings(&rotating), &Target::ALL)
            .await
            .unwrap()
            .iter()
            .all(|r| r.rewrapped.found == 0)
    );

    // The content is exactly as it was; every key is now K2's; the old wrappings are gone
    // from the key store's files.
    let mut content_after = sealed_of(&setup, &first).await;
    content_after.extend(sealed_of(&setup, &second).await);
    assert_eq!(content_after, content_before);
    for service in KEYED {
        for workspace in [&first, &second] {
            assert!(setup.wrapped(service, workspace).await.unwrap().starts_with(b"k2:"), "{service}");
        }
    }
    let files = setup.key_store_files().await;
    for wrapping in &old_wrappings {
        assert_eq!(holding(&files, wrapping), Vec::<String>::new(), "an old wrapping is left");
    }

    // K1 is no longer needed: with K2 alone everything reads.
    let system = TestSystem::start_on(setup.storage.clone(), &new_only).await;
    let mut olli = logged_in(&system, "expert", "olli.ohjaaja").await;
    assert_eq!(
        titles(&mut olli).await.into_iter().map(|(_, t)| t).collect::<Vec<_>>().len(),
        2,
        "both workspaces are listed"
    );
    let first_title = olli.get(&format!("/api/v1/workspaces/{first}")).await;
    assert_eq!((first_title.status, first_title.body["title"].as_str()), (200, Some(DELETED_TITLE)));
    let messages = bodies(items(&olli.get(&format!("/api/v1/workspaces/{second}/messages")).await));
    assert_eq!(messages, [KEPT_MESSAGE, KEPT_MESSAGE]);
    let consents = items(&olli.get(&format!("/api/v1/workspaces/{second}/consents")).await);
    assert_eq!(consents[0]["purpose"], KEPT_PURPOSE);
}

const MOVED_BY: i64 = 20261205001601;

async fn keys_kept_in_content_tables_move_into_the_key_store_on_upgrade(backend: Backend) {
    let setup = Setup::new(backend).await;
    let settings = setup.storage.settings(&setup.extra);
    let kek = settings.key_encryption_key().unwrap();
    let (organization, owner) = (Uuid::now_v7(), Uuid::now_v7());
    let workspace = Uuid::now_v7();

    // A workspaces database and a consent database as they were before the key store: each
    // keeps its wrapped data key beside the content.
    let workspaces = setup.content_db("workspaces").await;
    workspaces.migrate_before(&ohjaus_workspaces::migrations(), MOVED_BY).await.unwrap();
    let (key, workspace_key) = kek.new_data_key().unwrap();
    let title = "Ennen avainvarastoa";
    let title_sealed = key.seal(title.as_bytes(), format!("workspace:{workspace}:title").as_bytes()).unwrap();
    let now = chrono::Utc::now();
    workspaces
        .query(
            "INSERT INTO workspaces (id, organization_id, office_id, kind, title_sealed, topics, state, owner_id, \
             data_key, version, created_at, updated_at) VALUES ($1, $2, $3, 'personal', $4, '', 'active', $5, $6, 1, $7, $7)",
        )
        .bind(workspace)
        .bind(organization)
        .bind(Uuid::now_v7())
        .bind(title_sealed)
        .bind(owner)
        .bind(workspace_key.clone())
        .bind(now)
        .execute(&workspaces)
        .await
        .unwrap();
    workspaces
        .query("INSERT INTO members (workspace_id, member_kind, member_id, role, added_at) VALUES ($1, 'expert', $2, 'owner', $3)")
        .bind(workspace)
        .bind(owner)
        .bind(now)
        .execute(&workspaces)
        .await
        .unwrap();
    let consent = setup.content_db("consent").await;
    consent.migrate_before(&ohjaus_consent::migrations(), MOVED_BY).await.unwrap();
    let (consent_key, consent_wrapped) = kek.new_data_key().unwrap();
    let probe = consent_key.seal(b"purpose", b"probe").unwrap();
    consent
        .query(
            "INSERT INTO workspace_keys (workspace_id, organization_id, data_key, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(workspace)
        .bind(organization)
        .bind(consent_wrapped.clone())
        .bind(now)
        .execute(&consent)
        .await
        .unwrap();
    let content = setup.content_files().await;
    assert!(!holding(&content, &workspace_key).is_empty(), "the scan sees the key in the content");

    // The upgrade's migration moves the keys into the key store and drops the columns.
    ohjaus::migrate(&settings, &Target::ALL).await.unwrap();
    for (db, table) in [(&workspaces, "workspaces"), (&consent, "workspace_keys")] {
        assert!(db.query(&format!("SELECT data_key FROM {table}")).fetch_all(db).await.is_err(), "{table}");
    }
    assert_eq!(setup.wrapped("workspaces", &workspace.to_string()).await, Some(workspace_key.clone()));
    assert_eq!(setup.wrapped("consent", &workspace.to_string()).await, Some(consent_wrapped.clone()));
    let keys = setup.all_keys().await;
    assert!(opens(&keys, &probe, b"probe"), "consent's moved key opens what it sealed");
    // Nor are the keys left in the content's files (the tables were rewritten).
    workspaces.close().await;
    consent.close().await;
    let content = setup.content_files().await;
    for key in [&workspace_key, &consent_wrapped] {
        assert_eq!(holding(&content, key), Vec::<String>::new(), "a moved key is left in the content's files");
    }
    // A second migration has nothing to move.
    ohjaus::migrate(&settings, &Target::ALL).await.unwrap();

    // The workspace reads as before, its title opened with the moved key.
    let system = setup.start().await;
    let principal = Principal::Expert {
        person_id: owner,
        memberships: vec![Membership { tenant_id: organization, roles: vec![Role::Guide] }],
    };
    let reply = system.as_principal(&principal).get(&format!("/api/v1/workspaces/{workspace}")).await;
    assert_eq!((reply.status, reply.body["title"].as_str()), (200, Some(title)), "{:?}", reply.body);
}
