//! What happens to a workspace after it is opened, through HTTP (and gRPC where only the
//! retention service may act): a main user hands it to another guide without seeing it;
//! retention archives it and finally deletes it from every table and the object store; authors
//! edit and delete their messages within the window; read markers only move forward; in a group
//! each customer sees the announcements and their own thread, and nothing of the others.

use std::collections::BTreeMap;

use chrono::Duration;
use ohjaus_integration_tests::{BUSINESS_IDS, Backend, Browser, Reply, Storage, TestSystem, expert};
use ohjaus_platform::{
    auth::{Membership, Principal, Role},
    config::DatabaseBackend,
    db::Db,
    error::{ErrorCode, Failure},
    proto::workspaces::v1::{self as pb, workspaces_service_client::WorkspacesServiceClient},
};
use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::support::{
    EXPERTS, Org, RawReply, accept, contains, files_under, keyring_db, logged_in, open_workspace, organisation_with,
    raw, recipient, send, token_in, unzip, wrapped_key,
};

on_both_backends!(
    a_main_user_hands_a_workspace_to_another_guide,
    retention_archives_and_then_deletes_a_workspace_everywhere,
    authors_edit_and_delete_their_messages_within_the_window,
    read_markers_only_move_forward,
    group_customers_see_announcements_and_their_own_thread_only,
);

// ---------------------------------------------------------------------------------------------
// Helpers

/// The organisation's staff: the usual experts and Ville, an advisor (an expert, but no guide).
const STAFF: [(&str, &str, &str); 4] =
    [EXPERTS[0], EXPERTS[1], EXPERTS[2], ("Ville Valvoja", "ville.valvoja", "advisor")];

async fn create_workspace(guide: &mut Browser<'_>, org: &Org, kind: &str, title: &str) -> Reply {
    open_workspace(
        guide,
        json!({"organization_id": org.id, "office_id": org.office, "kind": kind, "title": title, "topics": ["studies"]}),
    )
    .await
}

async fn post_message(browser: &mut Browser<'_>, base: &str, body: Value) -> Reply {
    let posted = browser.send_with_csrf(Method::POST, &format!("{base}/messages"), Some(body)).await;
    assert_eq!(posted.status, 201, "{:?}", posted.body);
    posted
}

/// Uploads a text file to the workspace at `base` (to a group thread, if given).
async fn upload_text(browser: &Browser<'_>, base: &str, name: &str, text: &str, thread: Option<&str>) -> Value {
    let thread = thread.map(|t| format!("&thread_id={t}")).unwrap_or_default();
    let RawReply { status, json, .. } = raw(
        browser,
        Method::POST,
        &format!("{base}/files?name={name}{thread}"),
        text.as_bytes().to_vec(),
        "text/plain",
    )
    .await;
    assert_eq!(status, 201, "{json}");
    json
}

/// The first mail to `address`, waiting for it up to 20 s.
async fn mail_to(storage: &Storage, address: &str) -> String {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        if let Some(mail) = storage.mails().into_iter().find(|m| recipient(m).contains(address)) {
            return mail;
        }
        assert!(std::time::Instant::now() < deadline, "no mail to {address}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// The guide invites the person with identity code `code` to the workspace at `base` by mail;
/// they follow the mailed link, log in with Suomi.fi and accept.
async fn join<'a>(system: &'a TestSystem, guide: &mut Browser<'_>, base: &str, email: &str, code: &str) -> Browser<'a> {
    let invited = guide
        .send_with_csrf(
            Method::POST,
            &format!("{base}/invitations"),
            Some(json!({"email": email, "language": "fi", "personal_identity_code": code})),
        )
        .await;
    assert_eq!(invited.status, 201, "{:?}", invited.body);
    let token = token_in(&mail_to(&system.storage, email).await);
    let mut customer = Browser::new(system);
    accept(&mut customer, &token, code).await;
    customer
}

/// The customer's download of the workspace at `base`: its entries, and `workspace.json`.
async fn export(customer: &Browser<'_>, base: &str) -> (Vec<(String, Vec<u8>)>, Value) {
    let RawReply { status, headers, bytes: zip, .. } =
        raw(customer, Method::GET, &format!("{base}/export"), Vec::new(), "application/json").await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&zip));
    assert_eq!(headers["content-type"], "application/zip");
    let entries = unzip(zip).await;
    let document = entries.iter().find(|(n, _)| n == "workspace.json").expect("workspace.json in the archive");
    let json = serde_json::from_slice(&document.1).unwrap();
    (entries, json)
}

fn ids(page: &Reply) -> Vec<String> {
    page.body["items"]
        .as_array()
        .unwrap_or_else(|| panic!("not a page: {:?}", page.body))
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_owned())
        .collect()
}

/// A gRPC client of the workspaces service that sends `principal`'s token between services.
async fn workspaces_grpc(
    system: &TestSystem,
    principal: Option<&Principal>,
) -> WorkspacesServiceClient<
    tonic::service::interceptor::InterceptedService<tonic::transport::Channel, impl tonic::service::Interceptor>,
> {
    let channel = tonic::transport::Endpoint::from_shared(system.grpc.clone()).unwrap().connect().await.unwrap();
    let header = principal.map(|p| format!("Bearer {}", system.service_token(p)));
    WorkspacesServiceClient::with_interceptor(channel, move |mut request: tonic::Request<()>| {
        if let Some(header) = &header {
            request.metadata_mut().insert("authorization", header.parse().unwrap());
        }
        Ok(request)
    })
}

#[derive(Clone, Copy, Debug)]
enum Retention {
    Archive,
    Delete,
}

/// Archives or deletes a workspace over gRPC as `principal`: the id it names, or the gRPC code
/// and the platform's error code of the refusal.
async fn retention(
    system: &TestSystem,
    principal: Option<&Principal>,
    op: Retention,
    workspace: &str,
) -> Result<String, (tonic::Code, ErrorCode)> {
    let mut client = workspaces_grpc(system, principal).await;
    let request = pb::RetentionRequest { workspace_id: workspace.to_owned(), ..Default::default() };
    let answer = match op {
        Retention::Archive => client.archive_workspace(request).await,
        Retention::Delete => client.delete_workspace(request).await,
    };
    answer.map(|r| r.into_inner().workspace_id).map_err(|status| (status.code(), Failure::from_status(&status).code))
}

fn retention_service() -> Principal {
    Principal::Service { name: "retention".into() }
}

fn as_expert(person: Uuid, org: Uuid, roles: &[Role]) -> Principal {
    Principal::Expert { person_id: person, memberships: vec![Membership { tenant_id: org, roles: roles.to_vec() }] }
}

async fn workspaces_db(system: &TestSystem) -> Db {
    Db::connect(&system.storage.settings(&[]), "workspaces").await.unwrap()
}

/// Every table of the workspaces database with a `workspace_id` column, from the schema itself.
async fn tables_with_workspace_id(db: &Db) -> Vec<String> {
    let sql = match db.backend() {
        DatabaseBackend::Postgres => {
            "SELECT table_name::text AS name FROM information_schema.columns \
             WHERE table_schema = 'workspaces' AND column_name = 'workspace_id' ORDER BY table_name"
        }
        DatabaseBackend::Sqlite => {
            "SELECT m.name AS name FROM sqlite_master m JOIN pragma_table_info(m.name) c \
             WHERE m.type = 'table' AND c.name = 'workspace_id' ORDER BY m.name"
        }
    };
    db.query(sql).fetch_all(db).await.unwrap().iter().map(|r| r.get::<String>("name").unwrap()).collect()
}

/// How many rows of `workspace` each table holds (`workspaces` by its id, the rest by
/// `workspace_id`).
async fn rows_of(db: &Db, tables: &[String], workspace: &str) -> BTreeMap<String, i64> {
    let id = Uuid::parse_str(workspace).unwrap();
    let mut counts = BTreeMap::new();
    let own = db.query("SELECT COUNT(*) AS n FROM workspaces WHERE id = $1").bind(id).fetch_one(db).await.unwrap();
    counts.insert("workspaces".to_owned(), own.get::<i64>("n").unwrap());
    for table in tables {
        let sql = format!("SELECT COUNT(*) AS n FROM {table} WHERE workspace_id = $1");
        let row = db.query(&sql).bind(id).fetch_one(db).await.unwrap();
        counts.insert(table.clone(), row.get::<i64>("n").unwrap());
    }
    counts
}

/// Waits until no mail of `workspace` waits to be sent, so row counts hold still.
async fn mail_queue_empty(db: &Db, workspace: &str) {
    let id = Uuid::parse_str(workspace).unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let row = db
            .query("SELECT COUNT(*) AS n FROM outgoing_mail WHERE workspace_id = $1")
            .bind(id)
            .fetch_one(db)
            .await
            .unwrap();
        if row.get::<i64>("n").unwrap() == 0 {
            return;
        }
        assert!(std::time::Instant::now() < deadline, "mail of {workspace} stays queued");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// The keys of every object in the system's file store (`workspaces/<workspace>/<file>`),
/// sorted: the S3 bucket on the server backend, the local folder embedded.
async fn stored_objects(system: &TestSystem) -> Vec<String> {
    let mut keys: Vec<String> = system.storage.stored_objects().await.into_iter().map(|(key, _)| key).collect();
    keys.sort();
    keys
}

fn objects_of(objects: &[String], workspace: &str) -> Vec<String> {
    objects.iter().filter(|k| k.starts_with(&format!("workspaces/{workspace}/"))).cloned().collect()
}

fn assert_problem(reply: &Reply, status: u16, code: &str, what: &str) {
    assert_eq!(reply.status, status, "{what}: {:?}", reply.body);
    assert_eq!(reply.body["type"], format!("urn:ohjaus:problem:{code}"), "{what}: {:?}", reply.body);
    assert_eq!(reply.header("content-type"), Some("application/problem+json"), "{what}");
}

// ---------------------------------------------------------------------------------------------
// 1. Handing a workspace to another guide

async fn a_main_user_hands_a_workspace_to_another_guide(backend: Backend) {
    let system = TestSystem::start(backend).await;
    let org = organisation_with(&system, BUSINESS_IDS[0], &STAFF).await;
    let other = organisation_with(&system, BUSINESS_IDS[1], &[("Greta Vieras", "greta.vieras", "guide")]).await;
    let (olli_id, noora_id, maija_id) =
        (org.person("olli.ohjaaja"), org.person("noora.neuvoja"), org.person("maija.paakayttaja"));
    let mut olli = logged_in(&system, "expert", "olli.ohjaaja").await;
    let mut noora = logged_in(&system, "expert", "noora.neuvoja").await;
    let mut maija = logged_in(&system, "expert", "maija.paakayttaja").await;

    let marker = format!("SIIRTO-{}", Uuid::now_v7().simple());
    let created = create_workspace(&mut olli, &org, "personal", &format!("Otsikko {marker}")).await;
    let id = created.id();
    let version = created.body["version"].as_i64().unwrap();
    let base = format!("/api/v1/workspaces/{id}");
    let posted = post_message(&mut olli, &base, json!({"body": format!("Viesti {marker}")})).await;
    let content_paths = [base.clone(), format!("{base}/messages"), format!("{base}/access-log")];
    for path in &content_paths {
        assert_problem(&maija.get(path).await, 404, "not-found", &format!("main user before {path}"));
    }
    let transfer = format!("{base}/transfer");

    // A guide is no main user, even the owner: to them the transfer does not exist. Nor does
    // the workspace to a main user of another organisation.
    for (who, browser) in [("owner", &mut olli), ("other guide", &mut noora)] {
        let refused = browser.send_with_csrf(Method::POST, &transfer, Some(json!({"new_owner_id": noora_id}))).await;
        assert_problem(&refused, 404, "not-found", who);
    }
    let foreign_admin = system.as_principal(&expert(other.uuid(), &[Role::Admin]));
    assert_problem(
        &foreign_admin.post(&transfer, json!({"new_owner_id": noora_id})).await,
        404,
        "not-found",
        "main user of another organisation",
    );

    // Only a guide of the same organisation can take it over.
    for (who, person) in [
        ("a guide of another organisation", other.person("greta.vieras")),
        ("an advisor", org.person("ville.valvoja")),
        ("the main user herself", maija_id.clone()),
        ("nobody known", Uuid::now_v7().to_string()),
    ] {
        let refused = maija.send_with_csrf(Method::POST, &transfer, Some(json!({"new_owner_id": person}))).await;
        assert_problem(&refused, 422, "invalid-argument", who);
        assert_eq!(refused.error_fields(), ["new_owner_id"], "{who}");
        assert_eq!(refused.body["errors"][0]["reason"], "invalid-expert", "{who}");
        assert!(!refused.body.to_string().contains(&marker), "{who}");
    }
    // None of that changed anything.
    let unchanged = olli.get(&base).await;
    assert_eq!(unchanged.status, 200);
    assert_eq!(unchanged.body["owner_id"], olli_id.as_str());
    assert_eq!(unchanged.body["version"], version);
    assert_problem(&noora.get(&base).await, 404, "not-found", "noora before the transfer");

    // The main user hands it to Noora: the answer names the workspace and its owner, nothing else.
    let done = maija.send_with_csrf(Method::POST, &transfer, Some(json!({"new_owner_id": noora_id}))).await;
    assert_eq!(done.status, 200, "{:?}", done.body);
    assert_eq!(done.body, json!({"workspace_id": id, "owner_id": noora_id}));
    assert!(!done.body.to_string().contains(&marker));

    // Noora owns it and reads everything in it.
    let seen = noora.get(&base).await;
    assert_eq!(seen.status, 200, "{:?}", seen.body);
    assert_eq!(seen.body["owner_id"], noora_id.as_str());
    assert_eq!(seen.body["title"], format!("Otsikko {marker}"));
    assert_eq!(seen.body["version"], version + 1);
    assert_eq!(seen.header("etag"), Some(format!("\"{}\"", version + 1).as_str()));
    let messages = noora.get(&format!("{base}/messages")).await;
    assert_eq!(messages.status, 200);
    assert_eq!(ids(&messages), [posted.id()]);
    assert_eq!(messages.body["items"][0]["body"], format!("Viesti {marker}"));
    assert_eq!(ids(&noora.get("/api/v1/workspaces").await), [id.as_str()]);

    // The main user still finds nothing of it.
    for path in &content_paths {
        assert_problem(&maija.get(path).await, 404, "not-found", &format!("main user after {path}"));
    }
    assert_eq!(maija.get("/api/v1/workspaces").await.body["items"], json!([]));

    // The previous owner stays as a guide of it. The access log names each by their part, with
    // the new owner's name; the main user never read anything.
    let kept = olli.get(&base).await;
    assert_eq!(kept.status, 200);
    assert_eq!(kept.body["owner_id"], noora_id.as_str());
    let log = noora.get(&format!("{base}/access-log?page_size=100")).await;
    let entries = log.body["items"].as_array().unwrap();
    let roles_of = |person: &str| -> Vec<(String, String)> {
        entries
            .iter()
            .filter(|e| e["actor_id"] == person)
            .map(|e| (e["actor_role"].as_str().unwrap().to_owned(), e["actor_name"].as_str().unwrap().to_owned()))
            .collect()
    };
    let olli_entries = roles_of(&olli_id);
    assert_eq!(olli_entries.first().map(|e| e.0.as_str()), Some("owner"), "{entries:?}");
    assert_eq!(olli_entries.last().map(|e| e.0.as_str()), Some("guide"), "{entries:?}");
    assert!(olli_entries.iter().all(|e| e.1 == "Olli Ohjaaja"), "{entries:?}");
    let noora_entries = roles_of(&noora_id);
    assert!(!noora_entries.is_empty());
    assert!(noora_entries.iter().all(|e| e.0 == "owner" && e.1 == "Noora Neuvoja"), "{entries:?}");
    // The main user read nothing; her hand-over itself is in the log (issue 17, item 2).
    assert_eq!(roles_of(&maija_id), [("admin".to_owned(), String::new())], "{entries:?}");
}

// ---------------------------------------------------------------------------------------------
// 2. Archiving and deleting, by retention only

async fn retention_archives_and_then_deletes_a_workspace_everywhere(backend: Backend) {
    let system = TestSystem::start(backend).await;
    let org = organisation_with(&system, BUSINESS_IDS[2], &STAFF).await;
    let mut olli = logged_in(&system, "expert", "olli.ohjaaja").await;
    let mut maija = logged_in(&system, "expert", "maija.paakayttaja").await;

    // W1: a customer, messages both ways, an attachment, a read marker, notifications.
    let created = create_workspace(&mut olli, &org, "personal", "Arkistoitava").await;
    let w1 = created.id();
    let base = format!("/api/v1/workspaces/{w1}");
    let mut tessa = join(&system, &mut olli, &base, "tessa.testila@example.fi", "010280-952L").await;
    let from_tessa = post_message(&mut tessa, &base, json!({"body": "Hei, tässä kysymykseni"})).await.id();
    let note = "Muistiinpanot tapaamisesta";
    let file = upload_text(&olli, &base, "muistio.txt", note, None).await;
    let file_id = file["id"].as_str().unwrap().to_owned();
    let from_olli =
        post_message(&mut olli, &base, json!({"body": "Vastaus liitteessä", "attachment_ids": [file_id]})).await.id();
    let read = tessa.send_with_csrf(Method::POST, &format!("{base}/messages/{from_olli}/read"), None).await;
    assert_eq!(read.status, 200, "{:?}", read.body);

    // W2, which must come through untouched: a message, a file, a pending invitation.
    let w2 = create_workspace(&mut olli, &org, "personal", "Toinen").await.id();
    let base2 = format!("/api/v1/workspaces/{w2}");
    let kept_message = post_message(&mut olli, &base2, json!({"body": "Pysyy"})).await.id();
    let kept_file =
        upload_text(&olli, &base2, "pysyva.txt", "Pysyvä tiedosto", None).await["id"].as_str().unwrap().to_owned();
    let invited = olli
        .send_with_csrf(Method::POST, &format!("{base2}/invitations"), Some(json!({"email": "toinen@example.fi"})))
        .await;
    assert_eq!(invited.status, 201, "{:?}", invited.body);
    mail_to(&system.storage, "toinen@example.fi").await;

    // Nobody but retention archives or deletes: not the owner, not a main user, not the
    // operator, not another service; without a token nobody at all.
    let olli_principal = as_expert(org.person_uuid("olli.ohjaaja"), org.uuid(), &[Role::Guide]);
    let maija_principal = as_expert(org.person_uuid("maija.paakayttaja"), org.uuid(), &[Role::Admin]);
    let operator = Principal::Operator { subject: "bootstrap-operator".into() };
    let gateway = Principal::Service { name: "gateway".into() };
    for op in [Retention::Archive, Retention::Delete] {
        for (who, principal) in [
            ("guide", &olli_principal),
            ("main user", &maija_principal),
            ("operator", &operator),
            ("gateway", &gateway),
        ] {
            assert_eq!(
                retention(&system, Some(principal), op, &w1).await,
                Err((tonic::Code::PermissionDenied, ErrorCode::PermissionDenied)),
                "{who} {op:?}"
            );
        }
        assert_eq!(
            retention(&system, None, op, &w1).await.map_err(|e| e.0),
            Err(tonic::Code::Unauthenticated),
            "no token {op:?}"
        );
    }
    // An active workspace is not archived.
    assert_eq!(
        retention(&system, Some(&retention_service()), Retention::Archive, &w1).await,
        Err((tonic::Code::FailedPrecondition, ErrorCode::WrongState))
    );
    let still = olli.get(&base).await;
    assert_eq!(still.body["state"], "active", "{:?}", still.body);

    // Closed, it is archived (once).
    let etag = still.header("etag").unwrap().to_owned();
    let closed = send(&mut olli, Method::POST, &format!("{base}/close"), None, Some(&etag)).await;
    assert_eq!(closed.status, 200, "{:?}", closed.body);
    assert_eq!(retention(&system, Some(&retention_service()), Retention::Archive, &w1).await, Ok(w1.clone()));
    assert_eq!(
        retention(&system, Some(&retention_service()), Retention::Archive, &w1).await,
        Err((tonic::Code::FailedPrecondition, ErrorCode::WrongState))
    );
    let archived = tessa.get(&base).await;
    assert_eq!(archived.status, 200, "{:?}", archived.body);
    assert_eq!(archived.body["state"], "archived");
    assert!(archived.body.get("reopen_until").is_none(), "{:?}", archived.body);

    // Archived, it is hidden from every expert: the guide finds neither it nor its content, it
    // is gone from his list, and the main user cannot hand it over. The customer cannot post.
    for path in [base.clone(), format!("{base}/messages"), format!("{base}/files"), format!("{base}/access-log")] {
        assert_problem(&olli.get(&path).await, 404, "not-found", &path);
    }
    assert!(!ids(&olli.get("/api/v1/workspaces").await).contains(&w1), "hidden from the guide's list");
    assert_problem(
        &olli.send_with_csrf(Method::POST, &format!("{base}/messages"), Some(json!({"body": "myöhässä"}))).await,
        404,
        "not-found",
        "guide posts to an archived workspace",
    );
    assert_problem(
        &tessa.send_with_csrf(Method::POST, &format!("{base}/messages"), Some(json!({"body": "myöhässä"}))).await,
        409,
        "wrong-state",
        "customer posts to an archived workspace",
    );
    let status =
        raw(&olli, Method::POST, &format!("{base}/files?name=late.txt"), b"late".to_vec(), "text/plain").await.status;
    assert_eq!(status, 404, "upload to an archived workspace");
    let archived_etag = archived.header("etag").unwrap().to_owned();
    assert_problem(
        &send(&mut olli, Method::POST, &format!("{base}/reopen"), None, Some(&archived_etag)).await,
        404,
        "not-found",
        "reopen archived",
    );
    let handover = maija
        .send_with_csrf(
            Method::POST,
            &format!("{base}/transfer"),
            Some(json!({"new_owner_id": org.person("noora.neuvoja")})),
        )
        .await;
    assert_problem(&handover, 404, "not-found", "transfer archived");

    // The customer still downloads all of it.
    let (entries, document) = export(&tessa, &base).await;
    assert_eq!(document["workspace"]["state"], "archived");
    let bodies: Vec<&str> =
        document["messages"].as_array().unwrap().iter().map(|m| m["body"].as_str().unwrap()).collect();
    assert_eq!(bodies, ["Hei, tässä kysymykseni", "Vastaus liitteessä"]);
    let path = document["messages"][1]["attachments"][0]["path"].as_str().unwrap();
    assert_eq!(entries.iter().find(|(n, _)| n == path).expect("the attachment").1, note.as_bytes());

    // What there is before deletion: W1 fills every kind of row, each workspace has its object.
    let db = workspaces_db(&system).await;
    let tables = tables_with_workspace_id(&db).await;
    for expected in
        ["access_log", "files", "invitations", "members", "messages", "notifications", "outgoing_mail", "read_markers"]
    {
        assert!(tables.iter().any(|t| t == expected), "{expected} is not among {tables:?}");
    }
    let before = rows_of(&db, &tables, &w1).await;
    for (table, at_least) in [
        ("workspaces", 1),
        ("members", 2),
        ("messages", 2),
        ("files", 1),
        ("invitations", 1),
        ("read_markers", 1),
        ("notifications", 3),
        ("access_log", 1),
    ] {
        assert!(before[table] >= at_least, "{table}: {before:?}");
    }
    mail_queue_empty(&db, &w2).await;
    let before_w2 = rows_of(&db, &tables, &w2).await;
    let keys = keyring_db(&system, "workspaces").await;
    let wrapped = wrapped_key(&keys, &w1).await.expect("W1's key in the key store");
    assert!(!wrapped.is_empty());
    let objects = stored_objects(&system).await;
    assert_eq!(objects_of(&objects, &w1), [format!("workspaces/{w1}/{file_id}")], "{objects:?}");
    assert_eq!(objects_of(&objects, &w2), [format!("workspaces/{w2}/{kept_file}")], "{objects:?}");

    // Retention deletes it.
    assert_eq!(retention(&system, Some(&retention_service()), Retention::Delete, &w1).await, Ok(w1.clone()));

    // No member finds anything of it any more.
    for (who, browser) in [("guide", &mut olli), ("customer", &mut tessa)] {
        for path in [
            base.clone(),
            format!("{base}/messages"),
            format!("{base}/messages/{from_tessa}"),
            format!("{base}/messages/{from_olli}"),
            format!("{base}/files"),
            format!("{base}/files/{file_id}"),
            format!("{base}/access-log"),
            format!("{base}/invitations"),
            format!("{base}/export"),
        ] {
            assert_problem(&browser.get(&path).await, 404, "not-found", &format!("{who} {path}"));
        }
        let notifications = browser.get("/api/v1/notifications").await;
        assert_eq!(notifications.status, 200);
        assert!(
            notifications.body["items"].as_array().unwrap().iter().all(|n| n["workspace_id"] != w1.as_str()),
            "{who}: {:?}",
            notifications.body
        );
    }
    assert_eq!(ids(&olli.get("/api/v1/workspaces").await), [w2.as_str()]);
    assert_eq!(tessa.get("/api/v1/workspaces").await.body["items"], json!([]));

    // Not a row of it is left in any table; the other workspace's rows are as they were.
    let after = rows_of(&db, &tables, &w1).await;
    assert!(after.values().all(|n| *n == 0), "rows left of the deleted workspace: {after:?}");
    assert_eq!(rows_of(&db, &tables, &w2).await, before_w2);
    // Its wrapped key is gone with it; the other's is kept.
    assert_eq!(wrapped_key(&keys, &w1).await, None);
    assert!(wrapped_key(&keys, &w2).await.is_some());
    // Nor is it left on disk: not in free pages, not in the write-ahead log (embedded mode;
    // PostgreSQL's own files are the server's).
    for path in files_under(&system.storage.data_dir()) {
        let bytes = std::fs::read(&path).unwrap_or_default();
        assert!(!contains(&bytes, &wrapped), "the key is in {}", path.display());
    }
    // No object of it remains; the other's does.
    let objects = stored_objects(&system).await;
    assert_eq!(objects_of(&objects, &w1), Vec::<String>::new(), "{objects:?}");
    assert_eq!(objects_of(&objects, &w2), [format!("workspaces/{w2}/{kept_file}")], "{objects:?}");

    // A second deletion finds nothing.
    assert_eq!(
        retention(&system, Some(&retention_service()), Retention::Delete, &w1).await,
        Err((tonic::Code::NotFound, ErrorCode::NotFound))
    );
    assert_eq!(
        retention(&system, Some(&retention_service()), Retention::Archive, &w1).await,
        Err((tonic::Code::NotFound, ErrorCode::NotFound))
    );

    // The other workspace still opens: its message reads and its file downloads.
    let messages = olli.get(&format!("{base2}/messages")).await;
    assert_eq!(ids(&messages), [kept_message]);
    assert_eq!(messages.body["items"][0]["body"], "Pysyy");
    let RawReply { status, bytes, .. } =
        raw(&olli, Method::GET, &format!("{base2}/files/{kept_file}"), Vec::new(), "text/plain").await;
    assert_eq!(status, 200);
    assert_eq!(bytes, "Pysyvä tiedosto".as_bytes());
}

// ---------------------------------------------------------------------------------------------
// 3. Editing and deleting messages

async fn authors_edit_and_delete_their_messages_within_the_window(backend: Backend) {
    let system = TestSystem::start(backend).await;
    let org = organisation_with(&system, BUSINESS_IDS[3], &STAFF).await;
    let mut olli = logged_in(&system, "expert", "olli.ohjaaja").await;
    let base = format!("/api/v1/workspaces/{}", create_workspace(&mut olli, &org, "personal", "Viestit").await.id());
    let mut tessa = join(&system, &mut olli, &base, "tessa.testila@example.fi", "010280-952L").await;

    let posted = post_message(&mut olli, &base, json!({"body": "Tapaaminen tiistaina"})).await;
    assert_eq!(posted.header("etag"), Some("\"1\""));
    assert_eq!(posted.body["version"], 1);
    assert_eq!(posted.body["deleted"], false);
    assert!(posted.body.get("edited_at").is_none(), "{:?}", posted.body);
    let path = format!("{base}/messages/{}", posted.id());

    // The author edits with the current version.
    let edited =
        send(&mut olli, Method::PUT, &path, Some(json!({"body": "Tapaaminen keskiviikkona"})), Some("\"1\"")).await;
    assert_eq!(edited.status, 200, "{:?}", edited.body);
    assert_eq!(edited.body["body"], "Tapaaminen keskiviikkona");
    assert_eq!(edited.body["version"], 2);
    assert_eq!(edited.header("etag"), Some("\"2\""));
    assert!(edited.body["edited_at"].is_string(), "{:?}", edited.body);
    assert_eq!(edited.body["created_at"], posted.body["created_at"]);
    assert_eq!(edited.body["deleted"], false);

    // A stale version, no version, another member, a stranger: refused, and nothing changes.
    let stale = send(&mut olli, Method::PUT, &path, Some(json!({"body": "vanha"})), Some("\"1\"")).await;
    assert_problem(&stale, 412, "version-mismatch", "stale edit");
    let unversioned = send(&mut olli, Method::PUT, &path, Some(json!({"body": "ei versiota"})), None).await;
    assert_problem(&unversioned, 428, "precondition-required", "edit without If-Match");
    let not_hers = send(&mut tessa, Method::PUT, &path, Some(json!({"body": "Tessan muutos"})), Some("\"2\"")).await;
    assert_problem(&not_hers, 403, "permission-denied", "another member edits");
    let not_hers = send(&mut tessa, Method::DELETE, &path, None, Some("\"2\"")).await;
    assert_problem(&not_hers, 403, "permission-denied", "another member deletes");
    let mut noora = logged_in(&system, "expert", "noora.neuvoja").await;
    let stranger = send(&mut noora, Method::PUT, &path, Some(json!({"body": "vieras"})), Some("\"2\"")).await;
    assert_problem(&stranger, 404, "not-found", "a stranger edits");
    let read = tessa.get(&path).await;
    assert_eq!(read.status, 200);
    assert_eq!(read.body["body"], "Tapaaminen keskiviikkona");
    assert_eq!(read.body["version"], 2);
    assert_eq!(read.body["edited_at"], edited.body["edited_at"]);

    // Deleting within the window: the message keeps its place, without body or attachments.
    let file = upload_text(&olli, &base, "ohjeet.txt", "Ohjeet hakemukseen", None).await;
    let file_id = file["id"].as_str().unwrap().to_owned();
    let with_file =
        post_message(&mut olli, &base, json!({"body": "Liitteenä ohjeet", "attachment_ids": [file_id]})).await;
    assert_eq!(with_file.body["attachments"][0]["id"], file_id.as_str());
    let after = post_message(&mut tessa, &base, json!({"body": "Kiitos"})).await;
    let with_file_path = format!("{base}/messages/{}", with_file.id());
    let stale = send(&mut olli, Method::DELETE, &with_file_path, None, Some("\"2\"")).await;
    assert_problem(&stale, 412, "version-mismatch", "stale delete");
    let deleted = send(&mut olli, Method::DELETE, &with_file_path, None, Some("\"1\"")).await;
    assert_eq!(deleted.status, 200, "{:?}", deleted.body);
    assert_eq!(deleted.body["body"], "");
    assert_eq!(deleted.body["deleted"], true);
    assert_eq!(deleted.body["attachments"], json!([]));
    assert_eq!(deleted.body["version"], 2);
    assert_eq!(deleted.body["author_name"], "Olli Ohjaaja");
    let listed = tessa.get(&format!("{base}/messages")).await;
    assert_eq!(ids(&listed), [posted.id(), with_file.id(), after.id()]);
    let place = &listed.body["items"][1];
    assert_eq!((&place["body"], &place["deleted"], &place["attachments"]), (&json!(""), &json!(true), &json!([])));
    let single = tessa.get(&with_file_path).await;
    assert_eq!(single.status, 200);
    assert_eq!((single.body["body"].clone(), single.body["deleted"].clone()), (json!(""), json!(true)));
    // A deleted message is changed no more.
    let again = send(&mut olli, Method::PUT, &with_file_path, Some(json!({"body": "takaisin"})), Some("\"2\"")).await;
    assert_problem(&again, 409, "wrong-state", "edit a deleted message");
    let again = send(&mut olli, Method::DELETE, &with_file_path, None, Some("\"2\"")).await;
    assert_problem(&again, 409, "wrong-state", "delete a deleted message");
    // The file itself was uploaded on its own: deleting the message that referred to it leaves
    // it a file of the workspace, listed and downloadable by its members.
    assert_eq!(ids(&tessa.get(&format!("{base}/files")).await), [file_id.as_str()]);
    let RawReply { status, bytes, .. } =
        raw(&tessa, Method::GET, &format!("{base}/files/{file_id}"), Vec::new(), "text/plain").await;
    assert_eq!(status, 200);
    assert_eq!(bytes, "Ohjeet hakemukseen".as_bytes());
    // The customer's download has the edit and not the deleted text.
    let (entries, document) = export(&tessa, &base).await;
    let exported = &document["messages"];
    assert_eq!(exported[0]["body"], "Tapaaminen keskiviikkona");
    assert!(exported[0]["edited_at"].is_string());
    assert_eq!((&exported[1]["body"], &exported[1]["deleted"]), (&json!(""), &json!(true)));
    assert_eq!(exported[1]["attachments"], json!([]));
    // The file stays in the download as a file of the workspace.
    let files: Vec<&str> = document["files"].as_array().unwrap().iter().map(|f| f["id"].as_str().unwrap()).collect();
    assert_eq!(files, [file_id.as_str()]);
    for (name, bytes) in &entries {
        let text = String::from_utf8_lossy(bytes);
        assert!(!text.contains("Liitteenä ohjeet") && !text.contains("Tapaaminen tiistaina"), "{name}");
    }

    // The window is counted from posting, not from the last edit.
    let late = post_message(&mut olli, &base, json!({"body": "Muistutus"})).await;
    let late_path = format!("{base}/messages/{}", late.id());
    system.clock.advance(Duration::minutes(14));
    let within = send(&mut olli, Method::PUT, &late_path, Some(json!({"body": "Muistutus!"})), Some("\"1\"")).await;
    assert_eq!(within.status, 200, "{:?}", within.body);
    system.clock.advance(Duration::minutes(2));
    let passed = send(&mut olli, Method::PUT, &late_path, Some(json!({"body": "Liian myöhään"})), Some("\"2\"")).await;
    assert_problem(&passed, 422, "invalid-argument", "edit after the window");
    assert_eq!(passed.error_fields(), ["message_id"]);
    assert_eq!(passed.body["errors"][0]["reason"], "edit-window-passed");
    let passed = send(&mut olli, Method::DELETE, &late_path, None, Some("\"2\"")).await;
    assert_problem(&passed, 422, "invalid-argument", "delete after the window");
    assert_eq!(passed.body["errors"][0]["reason"], "edit-window-passed");
    let kept = tessa.get(&late_path).await;
    assert_eq!((kept.body["body"].clone(), kept.body["version"].clone()), (json!("Muistutus!"), json!(2)));
    assert_eq!(kept.body["deleted"], false);
}

// ---------------------------------------------------------------------------------------------
// 4. Read markers

async fn read_markers_only_move_forward(backend: Backend) {
    let system = TestSystem::start(backend).await;
    let org = organisation_with(&system, BUSINESS_IDS[0], &STAFF).await;
    let mut olli = logged_in(&system, "expert", "olli.ohjaaja").await;
    let id = create_workspace(&mut olli, &org, "personal", "Luetut").await.id();
    let base = format!("/api/v1/workspaces/{id}");
    let mut tessa = join(&system, &mut olli, &base, "tessa.testila@example.fi", "010280-952L").await;
    let mut posted = Vec::new();
    for n in 1..=3 {
        posted.push(post_message(&mut olli, &base, json!({"body": format!("Viesti {n}")})).await.id());
    }
    async fn mark(browser: &mut Browser<'_>, base: &str, message: &str) -> Reply {
        browser.send_with_csrf(Method::POST, &format!("{base}/messages/{message}/read"), None).await
    }

    let first = mark(&mut tessa, &base, &posted[0]).await;
    assert_eq!(first.status, 200, "{:?}", first.body);
    assert_eq!(first.body["workspace_id"], id.as_str());
    assert_eq!(first.body["last_read_message_id"], posted[0].as_str());
    system.clock.advance(Duration::minutes(1));
    let third = mark(&mut tessa, &base, &posted[2]).await;
    assert_eq!(third.body["last_read_message_id"], posted[2].as_str());
    assert_ne!(third.body["at"], first.body["at"]);
    system.clock.advance(Duration::minutes(1));
    // Older messages do not move it back, nor change when it was set.
    for older in [&posted[1], &posted[0]] {
        let back = mark(&mut tessa, &base, older).await;
        assert_eq!(back.status, 200);
        assert_eq!(back.body["last_read_message_id"], posted[2].as_str());
        assert_eq!(back.body["at"], third.body["at"]);
    }
    // Each member has their own marker.
    let olli_marker = mark(&mut olli, &base, &posted[0]).await;
    assert_eq!(olli_marker.body["last_read_message_id"], posted[0].as_str());
    let db = workspaces_db(&system).await;
    let rows = db
        .query(
            "SELECT member_kind, last_read_message_id FROM read_markers WHERE workspace_id = $1 ORDER BY member_kind",
        )
        .bind(Uuid::parse_str(&id).unwrap())
        .fetch_all(&db)
        .await
        .unwrap();
    let stored: Vec<(String, String)> = rows
        .iter()
        .map(|r| (r.get::<String>("member_kind").unwrap(), r.get::<Uuid>("last_read_message_id").unwrap().to_string()))
        .collect();
    assert_eq!(stored, [("customer".to_owned(), posted[2].clone()), ("expert".to_owned(), posted[0].clone())]);

    // Only messages of this workspace, and only for its members.
    let elsewhere = create_workspace(&mut olli, &org, "personal", "Muualla").await.id();
    let foreign =
        post_message(&mut olli, &format!("/api/v1/workspaces/{elsewhere}"), json!({"body": "muualla"})).await.id();
    assert_problem(&mark(&mut tessa, &base, &foreign).await, 404, "not-found", "a message of another workspace");
    assert_problem(&mark(&mut tessa, &base, &Uuid::now_v7().to_string()).await, 404, "not-found", "an unknown message");
    let mut noora = logged_in(&system, "expert", "noora.neuvoja").await;
    assert_problem(&mark(&mut noora, &base, &posted[2]).await, 404, "not-found", "a stranger");
    let unchanged = mark(&mut tessa, &base, &posted[2]).await;
    assert_eq!(unchanged.body["last_read_message_id"], posted[2].as_str());
}

// ---------------------------------------------------------------------------------------------
// 5. Group threads

/// Everything `customer` can read of the group workspace at `base`, as one text.
async fn all_readable(customer: &mut Browser<'_>, base: &str) -> String {
    let mut seen = String::new();
    for path in [
        base.to_owned(),
        format!("{base}/messages?page_size=100"),
        format!("{base}/files?page_size=100"),
        format!("{base}/access-log?page_size=100"),
        "/api/v1/workspaces".to_owned(),
        "/api/v1/notifications".to_owned(),
    ] {
        let reply = customer.get(&path).await;
        assert_eq!(reply.status, 200, "{path}: {:?}", reply.body);
        seen.push_str(&reply.body.to_string());
    }
    let (entries, _) = export(customer, base).await;
    for (name, bytes) in entries {
        seen.push_str(&name);
        seen.push_str(&String::from_utf8_lossy(&bytes));
    }
    seen
}

async fn group_customers_see_announcements_and_their_own_thread_only(backend: Backend) {
    let system = TestSystem::start(backend).await;
    let org = organisation_with(&system, BUSINESS_IDS[1], &STAFF).await;
    let mut olli = logged_in(&system, "expert", "olli.ohjaaja").await;
    let id = create_workspace(&mut olli, &org, "group", "Ryhmäohjaus").await.id();
    let base = format!("/api/v1/workspaces/{id}");
    // Anna is Tessa Testilä, Bertta is Testi Henkilö-Neljä.
    let mut anna = join(&system, &mut olli, &base, "anna@example.fi", "010280-952L").await;
    let mut bertta = join(&system, &mut olli, &base, "bertta@example.fi", "260991-999R").await;

    // Each customer writes to her own thread.
    let from_anna = post_message(&mut anna, &base, json!({"body": "Annan kysymys"})).await;
    let anna_id = from_anna.body["author_id"].as_str().unwrap().to_owned();
    assert_eq!(from_anna.body["thread_id"], anna_id.as_str());
    let from_bertta = post_message(&mut bertta, &base, json!({"body": "Bertan kysymys"})).await;
    let bertta_id = from_bertta.body["author_id"].as_str().unwrap().to_owned();
    assert_eq!(from_bertta.body["thread_id"], bertta_id.as_str());

    // The guide announces to everyone and writes to Anna's thread with a file for her.
    let announcement = post_message(&mut olli, &base, json!({"body": "Kaikille: tapaaminen torstaina"})).await;
    assert!(announcement.body.get("thread_id").is_none(), "{:?}", announcement.body);
    let file = upload_text(&olli, &base, "annalle.txt", "Annan oma tiedosto", Some(&anna_id)).await;
    let file_id = file["id"].as_str().unwrap().to_owned();
    let to_anna = post_message(
        &mut olli,
        &base,
        json!({"body": "Annalle henkilökohtaisesti", "thread_id": anna_id, "attachment_ids": [file_id]}),
    )
    .await;
    assert_eq!(to_anna.body["thread_id"], anna_id.as_str());
    assert_eq!(to_anna.body["attachments"][0]["id"], file_id.as_str());
    // A thread is a customer's of this group, nobody else's.
    let nobody = olli
        .send_with_csrf(
            Method::POST,
            &format!("{base}/messages"),
            Some(json!({"body": "kenelle?", "thread_id": Uuid::now_v7()})),
        )
        .await;
    assert_problem(&nobody, 422, "invalid-argument", "a thread of nobody");
    assert_eq!(nobody.error_fields(), ["thread_id"]);

    // Bertta sees the announcement and her own thread, nothing of Anna's.
    assert_eq!(ids(&bertta.get(&format!("{base}/messages")).await), [from_bertta.id(), announcement.id()]);
    for message in [to_anna.id(), from_anna.id()] {
        assert_problem(
            &bertta.get(&format!("{base}/messages/{message}")).await,
            404,
            "not-found",
            "Bertta reads Anna's thread",
        );
    }
    assert_eq!(ids(&bertta.get(&format!("{base}/files")).await), Vec::<String>::new());
    assert_problem(
        &bertta.get(&format!("{base}/files/{file_id}")).await,
        404,
        "not-found",
        "Bertta downloads Anna's file",
    );

    // Nor can she write into Anna's thread, by message or by file; her own id is her own thread.
    let intrusion = bertta
        .send_with_csrf(
            Method::POST,
            &format!("{base}/messages"),
            Some(json!({"body": "Hei Anna", "thread_id": anna_id})),
        )
        .await;
    assert_problem(&intrusion, 422, "invalid-argument", "Bertta writes to Anna's thread");
    assert_eq!(intrusion.error_fields(), ["thread_id"]);
    assert_eq!(intrusion.body["errors"][0]["reason"], "invalid-thread");
    let RawReply { status, json: problem, .. } = raw(
        &bertta,
        Method::POST,
        &format!("{base}/files?name=annalle.txt&thread_id={anna_id}"),
        b"hei".to_vec(),
        "text/plain",
    )
    .await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(problem["errors"][0]["field"], "thread_id", "{problem}");
    let own = post_message(&mut bertta, &base, json!({"body": "Toinen kysymys", "thread_id": bertta_id})).await;
    assert_eq!(own.body["thread_id"], bertta_id.as_str());

    // She cannot mark Anna's messages read either: they do not exist for her.
    let marked = bertta.send_with_csrf(Method::POST, &format!("{base}/messages/{}/read", to_anna.id()), None).await;
    assert_problem(&marked, 404, "not-found", "Bertta marks Anna's message read");

    // Anna sees the announcement and her thread with the guide's file.
    assert_eq!(ids(&anna.get(&format!("{base}/messages")).await), [from_anna.id(), announcement.id(), to_anna.id()]);
    assert_eq!(anna.get(&format!("{base}/messages/{}", to_anna.id())).await.status, 200);
    let RawReply { status, bytes, .. } =
        raw(&anna, Method::GET, &format!("{base}/files/{file_id}"), Vec::new(), "text/plain").await;
    assert_eq!(status, 200);
    assert_eq!(bytes, "Annan oma tiedosto".as_bytes());
    // The guide sees every thread.
    assert_eq!(
        ids(&olli.get(&format!("{base}/messages")).await),
        [from_anna.id(), from_bertta.id(), announcement.id(), to_anna.id(), own.id()]
    );

    // Nothing either customer can read — workspace, messages, files, access log, notifications,
    // the download — names the other or carries her id or address.
    let bertta_sees = all_readable(&mut bertta, &base).await;
    assert!(bertta_sees.contains("Henkilö-Neljä"), "her own name is in what she reads");
    for secret in [anna_id.as_str(), "Tessa", "Testilä", "anna@example.fi", "Annan", "Annalle"] {
        assert!(!bertta_sees.contains(secret), "Bertta can read {secret:?}");
    }
    let anna_sees = all_readable(&mut anna, &base).await;
    assert!(anna_sees.contains("Testilä"), "her own name is in what she reads");
    for secret in [bertta_id.as_str(), "Henkilö-Neljä", "bertta@example.fi", "Bertan", "Toinen kysymys"] {
        assert!(!anna_sees.contains(secret), "Anna can read {secret:?}");
    }
}
