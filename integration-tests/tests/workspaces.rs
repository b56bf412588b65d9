//! Guided workspaces through HTTP: a guide opens one and posts; nobody else — a main user of
//! the same organisation, another guide, the operator, a customer — finds it; content is
//! stored only encrypted; every read is in the access log; close and reopen.

use chrono::Duration;
use ohjaus_integration_tests::{BUSINESS_IDS, Backend, TestSystem};
use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::support::{contains, logged_in, open_workspace, organisation};

on_both_backends!(only_members_see_a_workspace_and_its_content_is_sealed, closing_reopening_and_bad_input);

fn workspace_input(org: &str, office: &str, title: &str) -> Value {
    json!({"organization_id": org, "office_id": office, "kind": "personal", "title": title, "topics": ["work-and-careers", "finances"]})
}

async fn only_members_see_a_workspace_and_its_content_is_sealed(backend: Backend) {
    let system = TestSystem::start(backend).await;
    let (org, office) = organisation(&system, BUSINESS_IDS[0]).await;
    let mut olli = logged_in(&system, "expert", "olli.ohjaaja").await;

    let marker = format!("SEALED-{}", Uuid::now_v7().simple());
    let created = open_workspace(&mut olli, workspace_input(&org, &office, &format!("Title {marker}"))).await;
    assert_eq!(created.body["state"], "active");
    assert_eq!(created.body["topics"], json!(["work-and-careers", "finances"]));
    let id = created.id();
    let base = format!("/api/v1/workspaces/{id}");

    let posted = olli
        .send_with_csrf(Method::POST, &format!("{base}/messages"), Some(json!({"body": format!("Body {marker}")})))
        .await;
    assert_eq!(posted.status, 201, "{:?}", posted.body);
    assert_eq!(posted.body["author_name"], "Olli Ohjaaja");
    let messages = olli.get(&format!("{base}/messages")).await;
    assert_eq!(messages.body["items"][0]["body"], format!("Body {marker}"));
    assert_eq!(olli.get("/api/v1/workspaces").await.body["items"][0]["id"], id.as_str());

    // A main user of the same organisation, another guide of it, the operator and a customer
    // all find nothing: not the workspace, not its messages, not its access log.
    let mut maija = logged_in(&system, "expert", "maija.paakayttaja").await;
    let mut noora = logged_in(&system, "expert", "noora.neuvoja").await;
    system.ensure_customer("010280-952L").await;
    let mut tessa = logged_in(&system, "customer", "010280-952L").await;
    for (who, browser) in [("main user", &mut maija), ("other guide", &mut noora), ("customer", &mut tessa)] {
        for path in [base.clone(), format!("{base}/messages"), format!("{base}/access-log")] {
            let answer = browser.get(&path).await;
            assert_eq!(answer.status, 404, "{who} {path}: {:?}", answer.body);
        }
        let post = browser.send_with_csrf(Method::POST, &format!("{base}/messages"), Some(json!({"body": "hi"}))).await;
        assert_eq!(post.status, 404, "{who}");
        assert_eq!(browser.get("/api/v1/workspaces").await.body["items"], json!([]), "{who}");
    }
    let operator = system.operator();
    for path in [base.clone(), format!("{base}/messages"), format!("{base}/access-log")] {
        assert_eq!(operator.get(&path).await.status, 404, "operator {path}");
    }
    // A malformed id is as unknown as a foreign one.
    assert_eq!(olli.get("/api/v1/workspaces/not-a-uuid").await.status, 404);

    // Every read is in the access log, with who, their part and organisation.
    let log = olli.get(&format!("{base}/access-log")).await;
    let entries = log.body["items"].as_array().unwrap();
    let whats: Vec<&str> = entries.iter().map(|e| e["what"].as_str().unwrap()).collect();
    assert_eq!(whats, ["messages", "access-log"], "{entries:?}");
    assert!(
        entries
            .iter()
            .all(|e| e["actor_kind"] == "expert" && e["actor_role"] == "owner" && e["organization_id"] == org.as_str())
    );

    // Neither the title nor the message is stored in plain text.
    let db = ohjaus_platform::db::Db::connect(&system.storage.settings(&[]), "workspaces").await.unwrap();
    let mut sealed: Vec<Vec<u8>> = Vec::new();
    for sql in ["SELECT title_sealed AS b FROM workspaces", "SELECT sealed AS b FROM messages"] {
        for row in db.query(sql).fetch_all(&db).await.unwrap() {
            sealed.push(row.get("b").unwrap());
        }
    }
    assert_eq!(sealed.len(), 2);
    for bytes in &sealed {
        assert!(!contains(bytes, &marker), "plaintext stored");
    }
    if backend == Backend::Embedded {
        // The whole database file (and its write-ahead log) holds no plaintext either.
        for entry in std::fs::read_dir(system.storage.data_dir()).unwrap() {
            let path = entry.unwrap().path();
            if path.file_name().unwrap().to_string_lossy().starts_with("workspaces.db") {
                let bytes = std::fs::read(&path).unwrap();
                assert!(!contains(&bytes, &marker), "{}", path.display());
            }
        }
    }
}

async fn closing_reopening_and_bad_input(backend: Backend) {
    let system = TestSystem::start(backend).await;
    let (org, office) = organisation(&system, BUSINESS_IDS[1]).await;
    // Another organisation's office is not this organisation's.
    let (_, other_office) = organisation(&system, BUSINESS_IDS[2]).await;
    let mut olli = logged_in(&system, "expert", "olli.ohjaaja").await;

    // Bad input is refused with the fields named, and nothing is made.
    let mut bad = workspace_input(&org, &office, "");
    bad["topics"] = json!(["astrology"]);
    bad["kind"] = json!("team");
    let refused = olli.send_with_csrf(Method::POST, "/api/v1/workspaces", Some(bad)).await;
    assert_eq!(refused.status, 422, "{:?}", refused.body);
    let mut input = workspace_input(&org, &office, "T");
    input["topics"] = json!(["astrology"]);
    let refused = olli.send_with_csrf(Method::POST, "/api/v1/workspaces", Some(input)).await;
    assert_eq!(refused.status, 422);
    assert_eq!(refused.error_fields(), ["topics[0]"]);
    let refused =
        olli.send_with_csrf(Method::POST, "/api/v1/workspaces", Some(workspace_input(&org, &other_office, "T"))).await;
    assert_eq!(refused.status, 422, "{:?}", refused.body);
    assert_eq!(refused.error_fields(), ["office_id"]);
    // A main user does not open workspaces; nothing was made by any of the above.
    let mut maija = logged_in(&system, "expert", "maija.paakayttaja").await;
    let refused =
        maija.send_with_csrf(Method::POST, "/api/v1/workspaces", Some(workspace_input(&org, &office, "T"))).await;
    assert_eq!(refused.status, 403, "{:?}", refused.body);
    assert_eq!(olli.get("/api/v1/workspaces").await.body["items"], json!([]));

    // Close with the current version; a closed workspace takes no messages.
    let created =
        olli.send_with_csrf(Method::POST, "/api/v1/workspaces", Some(workspace_input(&org, &office, "Asuminen"))).await;
    let base = format!("/api/v1/workspaces/{}", created.id());
    let etag = created.header("etag").unwrap().to_owned();
    let url = system.url(&format!("{base}/close"));
    let csrf = olli.csrf();
    let no_version = olli.request(Method::POST, &url, None, &[("x-csrf-token", csrf.clone())]).await;
    assert_eq!(no_version.status, 428);
    let closed =
        olli.request(Method::POST, &url, None, &[("x-csrf-token", csrf.clone()), ("if-match", etag.clone())]).await;
    assert_eq!(closed.status, 200, "{:?}", closed.body);
    assert_eq!(closed.body["state"], "closed");
    assert!(closed.body["reopen_until"].is_string());
    let stale = olli.request(Method::POST, &url, None, &[("x-csrf-token", csrf.clone()), ("if-match", etag)]).await;
    assert_eq!(stale.status, 412);
    let post = olli.send_with_csrf(Method::POST, &format!("{base}/messages"), Some(json!({"body": "late"}))).await;
    assert_eq!(post.status, 409);
    assert_eq!(post.body["type"], "urn:ohjaus:problem:wrong-state");

    // Reopen within the window, close again, and past the window it stays closed.
    let etag = closed.header("etag").unwrap().to_owned();
    let reopen_url = system.url(&format!("{base}/reopen"));
    let reopened =
        olli.request(Method::POST, &reopen_url, None, &[("x-csrf-token", csrf.clone()), ("if-match", etag)]).await;
    assert_eq!(reopened.status, 200, "{:?}", reopened.body);
    assert_eq!(reopened.body["state"], "active");
    let etag = reopened.header("etag").unwrap().to_owned();
    let closed = olli.request(Method::POST, &url, None, &[("x-csrf-token", csrf.clone()), ("if-match", etag)]).await;
    assert_eq!(closed.status, 200);
    // The window is three months (DESIGN's retention table): 91 days later it has passed.
    system.clock.advance(Duration::days(91));
    let mut olli = logged_in(&system, "expert", "olli.ohjaaja").await;
    let csrf = olli.csrf();
    let etag = closed.header("etag").unwrap().to_owned();
    let late = olli.request(Method::POST, &reopen_url, None, &[("x-csrf-token", csrf), ("if-match", etag)]).await;
    assert_eq!(late.status, 409, "{:?}", late.body);
}
