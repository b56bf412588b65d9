//! Retention through time, on both backends with the test clock: a workspace full of content is
//! told it will close, closed, told it will be archived, archived (hidden from experts, still
//! the customer's to download) and finally deleted everywhere, with evidence; a canary scan of
//! every table of every service (found from the schema), every file under the data folder, the
//! object store and the event stream then finds nothing of it. A customer's account goes with
//! her last workspace and stays while she has another; a visit just before the closing keeps a
//! workspace open. Two runs at once over many due workspaces act on each exactly once.

use std::sync::Arc;

use chrono::Duration;
use ohjaus_integration_tests::{BUSINESS_IDS, Backend, Browser, Storage, TestSystem};
use ohjaus_platform::{
    auth::{Principal, Role},
    clock::Clock,
    config::DatabaseBackend,
    db::Db,
    proto::retention::v1::{
        self as pb, ListDeletionsRequest, RunRetentionRequest, retention_service_client::RetentionServiceClient,
    },
};
use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::support::{
    EXPERTS, contains, files_under, items, join, list_in_directory, logged_in, organisation_with, raw, readable,
    recipient,
};

on_both_backends!(
    a_workspace_closes_archives_and_disappears_on_time_everywhere,
    two_runs_at_once_act_on_each_workspace_once
);

/// The settings of these tests: the privacy notice's periods (reopenable 3 months), no
/// periodic run (the test runs retention when it moves the clock).
fn settings() -> Vec<(&'static str, String)> {
    vec![("OHJAUS__WORKSPACES__REOPEN_WINDOW_DAYS", "90".into()), ("OHJAUS__RETENTION__PERIODIC", "false".into())]
}

/// A gRPC client of the retention service as the operator.
pub async fn retention_grpc(
    system: &TestSystem,
) -> RetentionServiceClient<
    tonic::service::interceptor::InterceptedService<tonic::transport::Channel, impl tonic::service::Interceptor>,
> {
    let channel = tonic::transport::Endpoint::from_shared(system.grpc.clone()).unwrap().connect().await.unwrap();
    let header = format!("Bearer {}", system.service_token(&Principal::Operator { subject: "test-operator".into() }));
    RetentionServiceClient::with_interceptor(channel, move |mut request: tonic::Request<()>| {
        request.metadata_mut().insert("authorization", header.parse().unwrap());
        Ok(request)
    })
}

/// One retention run as the operator; its counts by `rule/action`.
pub async fn run(system: &TestSystem, dry_run: bool) -> (std::collections::BTreeMap<String, i64>, pb::RunReport) {
    let report =
        retention_grpc(system).await.run_retention(RunRetentionRequest { dry_run }).await.unwrap().into_inner();
    let counts = report.counts.iter().map(|c| (format!("{}/{}", c.rule, c.action), c.count)).collect();
    (counts, report)
}

fn count(counts: &std::collections::BTreeMap<String, i64>, key: &str) -> i64 {
    counts.get(key).copied().unwrap_or(0)
}

/// Every deletion record, as the operator reads it.
async fn deletions(system: &TestSystem) -> Vec<pb::Deletion> {
    let mut all = Vec::new();
    let mut token = String::new();
    loop {
        let page = retention_grpc(system)
            .await
            .list_deletions(ListDeletionsRequest { page_size: 100, page_token: token })
            .await
            .unwrap()
            .into_inner();
        all.extend(page.deletions);
        if page.next_page_token.is_empty() {
            return all;
        }
        token = page.next_page_token;
    }
}

/// The customer logs in again (sessions end while the clock moves) and opens the workspace:
/// a visit, which the closing rule counts from.
async fn visit<'a>(system: &'a TestSystem, code: &str, workspace: &str) -> Browser<'a> {
    let mut customer = logged_in(system, "customer", code).await;
    let opened = customer.get(&format!("/api/v1/workspaces/{workspace}")).await;
    assert_eq!(opened.status, 200, "{code} visits {workspace}: {:?}", opened.body);
    customer
}

/// The notifications of `kind` about `workspace` the browser's person has.
async fn notices(browser: &mut Browser<'_>, workspace: &str, kind: &str) -> usize {
    let page = browser.get("/api/v1/notifications?page_size=100").await;
    items(&page).iter().filter(|n| n["kind"] == kind && n["workspace_id"] == workspace).count()
}

/// The mails to `address`, readable.
fn mails_to(storage: &Storage, address: &str) -> Vec<String> {
    storage.mails().into_iter().filter(|m| recipient(m).contains(address)).map(|m| readable(&m)).collect()
}

/// Waits (up to 20 s) for the mails to `address` whose text has one of `phrases`.
async fn mails_with(storage: &Storage, address: &str, phrases: &[&str], at_least: usize) -> Vec<String> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let found: Vec<String> =
            mails_to(storage, address).into_iter().filter(|m| phrases.iter().any(|p| m.contains(p))).collect();
        if found.len() >= at_least || std::time::Instant::now() > deadline {
            return found;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

const CLOSING: [&str; 3] = ["suljetaan 14", "closed in 14", "om 14 dagar"];
const ARCHIVING: [&str; 3] = ["arkistoidaan 30", "archived in 30", "arkiveras om 30"];

async fn a_workspace_closes_archives_and_disappears_on_time_everywhere(backend: Backend) {
    let storage = Arc::new(Storage::new(backend).await);
    let system = TestSystem::start_on(storage.clone(), &settings()).await;
    let a = organisation_with(&system, BUSINESS_IDS[0], &EXPERTS).await;
    let b = organisation_with(&system, BUSINESS_IDS[1], &[("Ville Valvoja", "ville.valvoja", "guide")]).await;
    list_in_directory(&system, &b, "ville.valvoja").await;
    let mut olli = logged_in(&system, "expert", "olli.ohjaaja").await;
    let marker = format!("CANARY{}", Uuid::now_v7().simple());

    // W1, a group workspace of Tessa and Kalle, full of content: made with an idempotency key,
    // messages both ways, a file, a task, a pending invitation, a consent request (and so the
    // ledger), notifications, queued and sent mail.
    let body =
        json!({"organization_id": a.id, "office_id": a.office, "kind": "group", "title": format!("Ryhmä {marker}")});
    let headers = [("x-csrf-token", olli.csrf()), ("idempotency-key", "w1-create".to_owned())];
    let created = olli.request(Method::POST, &system.url("/api/v1/workspaces"), Some(body), &headers).await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    let w1 = created.id();
    let base = format!("/api/v1/workspaces/{w1}");
    // W3: Kalle's other workspace, which he keeps visiting. W4: Liisa's, visited just in time.
    let open =
        |title: &str| json!({"organization_id": a.id, "office_id": a.office, "kind": "personal", "title": title});
    let w3 = olli.send_with_csrf(Method::POST, "/api/v1/workspaces", Some(open("Kallen oma"))).await.id();
    let w4 = olli.send_with_csrf(Method::POST, "/api/v1/workspaces", Some(open("Liisan oma"))).await.id();
    let mut tessa = join(&system, &storage, &mut olli, &w1, "010280-952L", "tessa@example.fi").await;
    join(&system, &storage, &mut olli, &w1, "010675-9981", "kalle@example.fi").await;
    join(&system, &storage, &mut olli, &w3, "010675-9981", "kalle@example.fi").await;
    join(&system, &storage, &mut olli, &w4, "040265-9985", "liisa@example.fi").await;

    let posted = tessa
        .send_with_csrf(Method::POST, &format!("{base}/messages"), Some(json!({"body": format!("Kysymys {marker}")})))
        .await;
    assert_eq!(posted.status, 201, "{:?}", posted.body);
    let tessa_id = posted.body["author_id"].as_str().unwrap().to_owned();
    let headers = [("x-csrf-token", olli.csrf()), ("idempotency-key", "w1-announce".to_owned())];
    let announcement = json!({"body": format!("Tiedote {marker}")});
    let announced =
        olli.request(Method::POST, &system.url(&format!("{base}/messages")), Some(announcement), &headers).await;
    assert_eq!(announced.status, 201, "{:?}", announced.body);
    let upload = format!("Liite {marker}").into_bytes();
    let file = raw(&olli, Method::POST, &format!("{base}/files?name=muistio.txt"), upload, "text/plain").await;
    assert_eq!(file.status, 201, "{}", file.json);
    let file_id = file.json["id"].as_str().unwrap().to_owned();
    let task = json!({"kind": "task", "title": format!("Tehtävä {marker}"), "thread_id": tessa_id});
    let task = olli.send_with_csrf(Method::POST, &format!("{base}/items"), Some(task)).await;
    assert_eq!(task.status, 201, "{:?}", task.body);
    let invitation = json!({"email": "odottaa@example.fi"});
    let invitation = olli.send_with_csrf(Method::POST, &format!("{base}/invitations"), Some(invitation)).await;
    assert_eq!(invitation.status, 201, "{:?}", invitation.body);
    let proposal = json!({"customer_id": tessa_id, "expert_id": b.person("ville.valvoja"),
                          "expert_organization_id": b.id, "purpose": format!("Yhteistyö {marker}"), "language": "fi"});
    let headers = [("x-csrf-token", olli.csrf()), ("idempotency-key", "w1-consent".to_owned())];
    let consent = olli.request(Method::POST, &system.url(&format!("{base}/consents")), Some(proposal), &headers).await;
    assert_eq!(consent.status, 201, "{:?}", consent.body);
    // Tessa's 3X10D start round, answered (sealed in the surveys service).
    let mut surveys = crate::surveys::surveys(&system).await;
    let olli_p = crate::surveys::guide(&a, "olli.ohjaaja", Role::Guide);
    let ask = ohjaus_platform::proto::surveys::v1::AskRoundRequest {
        workspace_id: w1.clone(),
        customer_id: tessa_id.clone(),
        kind: "start".into(),
        instrument_id: String::new(),
        request_id: "w1-round".into(),
    };
    let round = surveys.ask_round(crate::surveys::as_(&system, &olli_p, ask)).await.unwrap().into_inner();
    let tessa_p = Principal::Customer { customer_id: Uuid::parse_str(&tessa_id).unwrap() };
    let save = ohjaus_platform::proto::surveys::v1::SaveAnswersRequest {
        round_id: round.id.clone(),
        answers: crate::surveys::answers(&[(1, 4), (2, 9)]),
        submit: true,
    };
    surveys.save_answers(crate::surveys::as_(&system, &tessa_p, save)).await.unwrap();
    let needles: Vec<String> = vec![
        round.id.clone(),
        marker.clone(),
        w1.clone(),
        posted.id(),
        announced.id(),
        file_id.clone(),
        task.id(),
        invitation.id(),
        consent.id(),
        tessa_id.clone(),
    ];
    // Before any deletion the scan finds them, so it can find them.
    assert!(!canary_scan(&system, &needles).await.is_empty(), "the scan sees the workspace while it exists");

    // Nothing is due yet.
    let (counts, _) = run(&system, false).await;
    assert!(counts.values().all(|n| *n == 0), "{counts:?}");

    // +77 days (2.5 months, 14 days before the 3): the closing notices, once, to the customers
    // and the owner; a dry run says so first and changes nothing.
    system.clock.advance(Duration::days(77));
    visit(&system, "010675-9981", &w3).await;
    let (dry, report) = run(&system, true).await;
    assert_eq!(count(&dry, "workspace-inactive/notice-close"), 2, "{dry:?}");
    let planned: Vec<&str> = report.planned.iter().map(|p| p.workspace_id.as_str()).collect();
    assert!(planned.contains(&w1.as_str()) && planned.contains(&w4.as_str()), "{planned:?}");
    assert!(!planned.contains(&w3.as_str()), "{planned:?}");
    let (counts, _) = run(&system, false).await;
    assert_eq!(count(&counts, "workspace-inactive/notice-close"), 2, "{counts:?}");
    let (again, _) = run(&system, false).await;
    assert_eq!(count(&again, "workspace-inactive/notice-close"), 0, "a notice is given once: {again:?}");
    // Reading notifications is no visit to the workspace.
    let mut tessa = logged_in(&system, "customer", "010280-952L").await;
    assert_eq!(notices(&mut tessa, &w1, "workspace-closing").await, 1);
    let mut olli = logged_in(&system, "expert", "olli.ohjaaja").await;
    assert_eq!(notices(&mut olli, &w1, "workspace-closing").await, 1);
    let closing = mails_with(&storage, "tessa@example.fi", &CLOSING, 1).await;
    assert_eq!(closing.len(), 1, "one closing mail to Tessa");
    assert!(!closing[0].contains(&marker), "the mail carries no content");

    // +3 months: W1 closes. Liisa visits W4 a second before the run: it stays active.
    system.clock.advance(Duration::days(14));
    visit(&system, "010675-9981", &w3).await;
    visit(&system, "040265-9985", &w4).await;
    system.clock.advance(Duration::seconds(1));
    let (counts, _) = run(&system, false).await;
    assert_eq!(count(&counts, "workspace-inactive/close"), 1, "{counts:?}");
    let mut olli = logged_in(&system, "expert", "olli.ohjaaja").await;
    assert_eq!(olli.get(&base).await.body["state"], "closed");
    assert_eq!(olli.get(&format!("/api/v1/workspaces/{w4}")).await.body["state"], "active");
    assert_eq!(olli.get(&format!("/api/v1/workspaces/{w3}")).await.body["state"], "active");

    // 30 days before archiving: the archiving notices, once.
    system.clock.advance(Duration::days(61));
    visit(&system, "010675-9981", &w3).await;
    let (counts, _) = run(&system, false).await;
    assert_eq!(count(&counts, "workspace-closed/notice-archive"), 1, "{counts:?}");
    assert_eq!(count(&run(&system, false).await.0, "workspace-closed/notice-archive"), 0);
    let mut tessa = logged_in(&system, "customer", "010280-952L").await;
    assert_eq!(notices(&mut tessa, &w1, "workspace-archiving").await, 1);
    assert_eq!(mails_with(&storage, "tessa@example.fi", &ARCHIVING, 1).await.len(), 1);

    // +6 months: archived. The experts no longer find it; Tessa still downloads everything.
    system.clock.advance(Duration::days(31));
    visit(&system, "010675-9981", &w3).await;
    let (counts, _) = run(&system, false).await;
    assert_eq!(count(&counts, "workspace-closed/archive"), 1, "{counts:?}");
    let mut olli = logged_in(&system, "expert", "olli.ohjaaja").await;
    assert_eq!(olli.get(&base).await.status, 404);
    assert_eq!(olli.get(&format!("{base}/files/{file_id}")).await.status, 404);
    let tessa = visit(&system, "010280-952L", &w1).await;
    let export = raw(&tessa, Method::GET, &format!("{base}/export"), Vec::new(), "application/json").await;
    assert_eq!(export.status, 200);
    let entries = crate::support::unzip(export.bytes).await;
    assert!(entries.iter().any(|(_, bytes)| contains(bytes, format!("Kysymys {marker}"))), "her message");
    assert!(entries.iter().any(|(_, bytes)| contains(bytes, format!("Liite {marker}"))), "the file");
    let downloaded = raw(&tessa, Method::GET, &format!("{base}/files/{file_id}"), Vec::new(), "text/plain").await;
    assert_eq!(downloaded.status, 200);

    // +18 months (12 months archived): deleted, with evidence.
    system.clock.advance(Duration::days(366));
    visit(&system, "010675-9981", &w3).await;
    let (counts, _) = run(&system, false).await;
    assert_eq!(count(&counts, "workspace-archived/decide-delete"), 1, "{counts:?}");
    assert_eq!(count(&counts, "workspace-archived/delete"), 1, "{counts:?}");
    assert_eq!(count(&counts, "customer-last-workspace/delete-account"), 1, "{counts:?}");
    assert_eq!(count(&counts, "customer-last-workspace/keep-account"), 1, "{counts:?}");
    let (again, report) = run(&system, false).await;
    assert!(!again.keys().any(|k| k.starts_with("workspace-archived")), "{again:?}");
    assert_eq!(report.oldest_overdue_seconds, 0);

    let evidence = deletions(&system).await;
    assert_eq!(evidence.len(), 1, "{evidence:?}");
    let deletion = &evidence[0];
    assert_eq!((deletion.subject_kind.as_str(), deletion.subject_id.as_str()), ("workspace", w1.as_str()));
    assert_eq!(deletion.rule, "workspace-archived");
    assert!(deletion.completed_at.is_some(), "{deletion:?}");
    let step = |service: &str, target: &str| {
        deletion.steps.iter().find(|s| s.service == service && s.target_id == target).unwrap_or_else(|| {
            panic!("no {service} step for {target}: {deletion:?}");
        })
    };
    let content = step("workspaces", &w1);
    assert_eq!((content.outcome.as_str(), content.attempts), ("deleted", 1), "{content:?}");
    assert!(content.completed_at.is_some());
    for (kind, at_least) in [("workspaces", 1), ("messages", 2), ("files", 1), ("objects", 1), ("guidance_items", 1)] {
        assert!(content.deleted.get(kind).copied().unwrap_or(0) >= at_least, "{kind}: {content:?}");
    }
    let ledger = step("consent", &w1);
    assert_eq!(ledger.outcome, "deleted");
    assert!(ledger.deleted["ledger_entries"] >= 1, "{ledger:?}");
    let rounds = step("surveys", &w1);
    assert_eq!((rounds.outcome.as_str(), rounds.deleted["rounds"]), ("deleted", 1), "{rounds:?}");
    assert_eq!(rounds.deleted["idempotency_keys"], 1, "{rounds:?}");
    let account = step("identity", &tessa_id);
    assert_eq!(account.outcome, "deleted");
    assert_eq!(account.deleted["customer_accounts"], 1, "{account:?}");
    assert_eq!(deletion.steps.iter().filter(|s| s.service == "identity").count(), 2);
    assert!(deletion.steps.iter().any(|s| s.service == "identity" && s.outcome == "kept"), "Kalle keeps his");
    assert_eq!(deletion.steps.len(), 6);

    // The operator reads the same evidence over HTTP, page by page and as an export; nobody
    // else does. It names ids and counts only.
    let listed = system.operator().get("/api/v1/admin/deletions").await;
    assert_eq!(listed.status, 200, "{:?}", listed.body);
    let listed = listed.body["items"].as_array().unwrap().clone();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["subject_id"], w1.as_str());
    assert_eq!(listed[0]["steps"].as_array().unwrap().len(), 6);
    assert!(!listed[0].to_string().contains(&marker));
    let one = system.operator().get(&format!("/api/v1/admin/deletions/{}", deletion.id)).await;
    assert_eq!((one.status, &one.body), (200, &listed[0]));
    let export = system.operator().get("/api/v1/admin/deletions/export").await;
    assert_eq!(export.status, 200);
    assert_eq!(export.header("content-type"), Some("application/x-ndjson"));
    // One line is a JSON document by itself, which the test client parses as such.
    let text = match &export.body {
        Value::String(text) => text.clone(),
        one => one.to_string(),
    };
    let lines: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines, listed);
    let mut olli = logged_in(&system, "expert", "olli.ohjaaja").await;
    assert_eq!(olli.get("/api/v1/admin/deletions").await.status, 403);
    let openapi = system.anonymous().get("/openapi.json").await;
    assert!(openapi.body["paths"]["/admin/deletions/export"].is_object(), "documented");

    // Kalle still has his account and W3; nobody finds W1.
    let kalle = visit(&system, "010675-9981", &w3).await;
    assert_eq!(kalle.system.base, system.base);
    let mut olli = logged_in(&system, "expert", "olli.ohjaaja").await;
    assert_eq!(olli.get(&base).await.status, 404);

    // The canary scan: nothing of W1 anywhere.
    let mut found = Vec::new();
    for _ in 0..100 {
        found = canary_scan(&system, &needles).await;
        if found.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(found.is_empty(), "left of the deleted workspace:\n  {}", found.join("\n  "));
    // The event stream: ids only (no content marker ever), and a maximum age of 7 days.
    if backend == Backend::Server {
        stream_holds_no_content(&storage, &marker).await;
    }
}

/// Where any of `needles` (ids and the content marker) still stands: each table of each
/// service's database (listed from the schema catalogue; the evidence tables excepted, which
/// keep ids by design), each file under the data folder (delivered mail and the test peers'
/// own files excepted, and the retention database, whose tables are scanned), and the objects.
async fn canary_scan(system: &TestSystem, needles: &[String]) -> Vec<String> {
    let settings = system.storage.settings(&[]);
    let mut found = Vec::new();
    let text_forms: Vec<String> = needles
        .iter()
        .flat_map(|n| {
            let mut forms = vec![n.to_lowercase(), hex(n.as_bytes())];
            if let Ok(id) = Uuid::parse_str(n) {
                forms.push(hex(id.as_bytes()));
            }
            forms
        })
        .collect();
    for service in ["tenants", "identity", "workspaces", "consent", "forms", "surveys", "retention"] {
        let db = Db::connect(&settings, service).await.unwrap();
        for table in tables(&db, service).await {
            if service == "retention" && (table == "deletions" || table == "deletion_steps") {
                continue;
            }
            for value in rows_as_text(&db, service, &table).await {
                let value = value.to_lowercase();
                if let Some(form) = text_forms.iter().find(|f| value.contains(f.as_str())) {
                    found.push(format!("{service}.{table}: {form}"));
                }
            }
        }
        db.close().await;
    }
    let byte_forms: Vec<Vec<u8>> = needles
        .iter()
        .flat_map(|n| {
            let mut forms = vec![n.as_bytes().to_vec()];
            if let Ok(id) = Uuid::parse_str(n) {
                forms.push(id.as_bytes().to_vec());
            }
            forms
        })
        .collect();
    let root = system.storage.data_dir();
    for path in files_under(&root) {
        let relative = path.strip_prefix(&root).unwrap().to_string_lossy().into_owned();
        let skipped = ["mail/", "smtp-sink/", "s3-peer.log", "nats-peer", "retention.db"];
        if skipped.iter().any(|s| relative.starts_with(s)) {
            continue;
        }
        let bytes = std::fs::read(&path).unwrap_or_default();
        if byte_forms.iter().any(|f| contains(&bytes, f)) {
            found.push(format!("file {relative}"));
        }
    }
    for (key, bytes) in system.storage.stored_objects().await {
        if byte_forms.iter().any(|f| contains(key.as_bytes(), f) || contains(&bytes, f)) {
            found.push(format!("object {key}"));
        }
    }
    found
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The tables of a service's database, from the catalogue.
async fn tables(db: &Db, schema: &str) -> Vec<String> {
    let sql = match db.backend() {
        DatabaseBackend::Postgres => {
            "SELECT table_name::text AS name FROM information_schema.tables WHERE table_schema = $1 \
             AND table_type = 'BASE TABLE' AND table_name <> '_sqlx_migrations'"
        }
        DatabaseBackend::Sqlite => {
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' \
             AND name <> '_sqlx_migrations' AND name <> $1"
        }
    };
    let rows = db.query(sql).bind(schema.to_owned()).fetch_all(db).await.unwrap();
    rows.iter().map(|r| r.get::<String>("name").unwrap()).collect()
}

/// Every row of a table as one text: PostgreSQL's row literal (bytea in hex), or the hex of
/// every SQLite column.
async fn rows_as_text(db: &Db, schema: &str, table: &str) -> Vec<String> {
    let sql = match db.backend() {
        DatabaseBackend::Postgres => format!("SELECT t::text AS v FROM \"{schema}\".\"{table}\" t"),
        DatabaseBackend::Sqlite => {
            let columns = db
                .query(&format!("SELECT name FROM pragma_table_info('{table}')"))
                .fetch_all(db)
                .await
                .unwrap()
                .iter()
                .map(|r| format!("hex(\"{}\")", r.get::<String>("name").unwrap()))
                .collect::<Vec<_>>()
                .join(" || '|' || ");
            format!("SELECT {columns} AS v FROM \"{table}\"")
        }
    };
    db.query(&sql).fetch_all(db).await.unwrap().iter().map(|r| r.get::<String>("v").unwrap()).collect()
}

/// The test's JetStream stream holds no content and keeps events 7 days at most.
async fn stream_holds_no_content(storage: &Storage, marker: &str) {
    let settings = storage.settings(&[]);
    let client = async_nats::connect(ohjaus_integration_tests::nats_url()).await.unwrap();
    let jetstream = async_nats::jetstream::new(client);
    let mut stream = jetstream.get_stream(&settings.bus.stream).await.unwrap();
    let info = stream.info().await.unwrap().clone();
    assert_eq!(info.config.max_age, std::time::Duration::from_secs(7 * 24 * 3600));
    assert!(info.state.messages > 0, "the stream has the workspace's events");
    for sequence in info.state.first_sequence..=info.state.last_sequence {
        if let Ok(message) = stream.get_raw_message(sequence).await {
            assert!(!contains(&message.payload, marker), "event {sequence} carries content");
        }
    }
}

/// How many due workspaces the two concurrent runs share: 10,000 on PostgreSQL, 2,000 on
/// SQLite (one writer at a time), and how many archived ones they delete.
fn many(backend: Backend) -> (usize, usize) {
    match backend {
        Backend::Server => (10_000, 500),
        Backend::Embedded => (2_000, 200),
    }
}

async fn two_runs_at_once_act_on_each_workspace_once(backend: Backend) {
    use ohjaus_integration_tests::retention_seed::{Seeded, seed_workspaces};
    let storage = Arc::new(Storage::new(backend).await);
    let system = TestSystem::start_on(storage.clone(), &settings()).await;
    let (n, deleted) = many(backend);
    let db = Db::connect(&storage.settings(&[]), "workspaces").await.unwrap();
    let organization = Uuid::now_v7();
    let now = system.clock.now();
    let started = std::time::Instant::now();
    seed_workspaces(&db, organization, n, Seeded::Active { last_seen: now }).await;
    let archived =
        seed_workspaces(&db, organization, deleted, Seeded::Archived { archived_at: now - Duration::days(400) }).await;
    let seeded = started.elapsed();

    // Two runs at the same moment: every closing notice is given once, every due deletion is
    // carried out once, and neither run fails.
    system.clock.advance(Duration::days(77));
    let started = std::time::Instant::now();
    let ((first, _), (second, _)) = tokio::join!(run(&system, false), run(&system, false));
    let notices = count(&first, "workspace-inactive/notice-close") + count(&second, "workspace-inactive/notice-close");
    assert_eq!(notices, i64::try_from(n).unwrap(), "{first:?} {second:?}");
    let deletions = count(&first, "workspace-archived/delete") + count(&second, "workspace-archived/delete");
    assert_eq!(deletions, i64::try_from(deleted).unwrap(), "{first:?} {second:?}");
    let decided =
        count(&first, "workspace-archived/decide-delete") + count(&second, "workspace-archived/decide-delete");
    assert_eq!(decided, i64::try_from(deleted).unwrap(), "{first:?} {second:?}");
    let twice = db
        .query(
            "SELECT COUNT(*) AS n FROM (SELECT workspace_id FROM notifications WHERE kind = 'workspace-closing' \
             GROUP BY workspace_id HAVING COUNT(*) <> 2) AS t",
        )
        .fetch_one(&db)
        .await
        .unwrap()
        .get::<i64>("n")
        .unwrap();
    assert_eq!(twice, 0, "a workspace whose owner and customer were not told exactly once");
    let told = db
        .query("SELECT COUNT(*) AS n FROM notifications WHERE kind = 'workspace-closing'")
        .fetch_one(&db)
        .await
        .unwrap()
        .get::<i64>("n")
        .unwrap();
    assert_eq!(told, i64::try_from(2 * n).unwrap());
    let evidence = Db::connect(&storage.settings(&[]), "retention").await.unwrap();
    let steps = evidence
        .query("SELECT COUNT(*) AS n FROM deletion_steps WHERE outcome <> 'pending' AND attempts = 1")
        .fetch_one(&evidence)
        .await
        .unwrap()
        .get::<i64>("n")
        .unwrap();
    assert_eq!(steps, i64::try_from(deleted * 5).unwrap(), "each step answered once, at the first attempt");
    let open = evidence
        .query("SELECT COUNT(*) AS n FROM deletions WHERE completed_at IS NULL")
        .fetch_one(&evidence)
        .await
        .unwrap()
        .get::<i64>("n")
        .unwrap();
    assert_eq!(open, 0);
    for id in &archived[..5] {
        let left =
            db.query("SELECT COUNT(*) AS n FROM workspaces WHERE id = $1").bind(*id).fetch_one(&db).await.unwrap();
        assert_eq!(left.get::<i64>("n").unwrap(), 0);
    }
    let notices_took = started.elapsed();

    // Fourteen days on, two runs close each exactly once.
    system.clock.advance(Duration::days(14));
    let started = std::time::Instant::now();
    let ((first, _), (second, _)) = tokio::join!(run(&system, false), run(&system, false));
    let closed = count(&first, "workspace-inactive/close") + count(&second, "workspace-inactive/close");
    assert_eq!(closed, i64::try_from(n).unwrap(), "{first:?} {second:?}");
    let active = db
        .query("SELECT COUNT(*) AS n FROM workspaces WHERE state = 'active'")
        .fetch_one(&db)
        .await
        .unwrap()
        .get::<i64>("n")
        .unwrap();
    assert_eq!(active, 0);
    eprintln!(
        "retention at scale ({backend:?}): {n} workspaces and {deleted} deletions seeded in {seeded:?}; \
         two runs noticed {n} and deleted {deleted} in {notices_took:?}; closed {n} in {:?}",
        started.elapsed()
    );
}
