//! The workspaces' creating routes with an `Idempotency-Key`: a retry with the same key and
//! body gets the first answer and makes nothing twice; the same key with another body is
//! refused (422 `idempotency-key-reused`) and makes nothing either.

use ohjaus_integration_tests::{BUSINESS_IDS, Backend, Browser, Reply, TestSystem};
use reqwest::Method;
use serde_json::{Value, json};

use crate::support::{items, logged_in, organisation, readable, recipient};

on_both_backends!(retried_creations_make_one_thing_and_a_reused_key_is_refused);

/// A creating POST with the session's CSRF token and `key` as its `Idempotency-Key`.
async fn create(browser: &mut Browser<'_>, path: &str, body: Value, key: &str) -> Reply {
    let url = browser.system.url(path);
    let headers = [("x-csrf-token", browser.csrf()), ("idempotency-key", key.to_owned())];
    browser.request(Method::POST, &url, Some(body), &headers).await
}

/// Sends `body` twice under `key`, then `other` under the same key: the retry answers as the
/// first did, the other is refused. Returns the first answer.
async fn retry_and_reuse(browser: &mut Browser<'_>, path: &str, body: Value, other: Value, key: &str) -> Reply {
    let first = create(browser, path, body.clone(), key).await;
    assert_eq!(first.status, 201, "{path}: {:?}", first.body);
    let again = create(browser, path, body, key).await;
    assert_eq!(again.status, 201, "{path} retried: {:?}", again.body);
    assert_eq!(again.body, first.body, "{path}: the retry answers as the first request did");
    for header in ["etag", "location"] {
        assert_eq!(again.header(header), first.header(header), "{path}: {header}");
    }
    let reused = create(browser, path, other, key).await;
    assert_eq!(reused.status, 422, "{path} reused: {:?}", reused.body);
    assert_eq!(reused.body["type"], "urn:ohjaus:problem:idempotency-key-reused", "{path}");
    assert_eq!(reused.header("content-type"), Some("application/problem+json"), "{path}");
    first
}

async fn retried_creations_make_one_thing_and_a_reused_key_is_refused(backend: Backend) {
    let system = TestSystem::start(backend).await;
    let (org, office) = organisation(&system, BUSINESS_IDS[2]).await;
    let mut olli = logged_in(&system, "expert", "olli.ohjaaja").await;

    // The workspace.
    let input = |title: &str| json!({"organization_id": org, "office_id": office, "kind": "personal", "title": title});
    let workspace =
        retry_and_reuse(&mut olli, "/api/v1/workspaces", input("Avain"), input("Toinen avain"), "workspace-1").await;
    let workspaces = items(&olli.get("/api/v1/workspaces").await);
    assert_eq!(workspaces.len(), 1, "{workspaces:?}");
    assert_eq!(workspaces[0]["title"], "Avain");
    let base = format!("/api/v1/workspaces/{}", workspace.id());

    // A message.
    let messages = format!("{base}/messages");
    let message =
        retry_and_reuse(&mut olli, &messages, json!({"body": "Tervetuloa"}), json!({"body": "Muu"}), "message-1").await;
    let listed = items(&olli.get(&messages).await);
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["id"], message.body["id"]);
    assert_eq!(listed[0]["body"], "Tervetuloa");

    // An invitation, and so one mail.
    let invitations = format!("{base}/invitations");
    let invitation = retry_and_reuse(
        &mut olli,
        &invitations,
        json!({"email": "kerran@example.fi", "language": "fi"}),
        json!({"email": "toisen@example.fi", "language": "fi"}),
        "invitation-1",
    )
    .await;
    let listed = items(&olli.get(&invitations).await);
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["id"], invitation.body["id"]);

    // A guidance item.
    let items_path = format!("{base}/items");
    let task = retry_and_reuse(
        &mut olli,
        &items_path,
        json!({"kind": "task", "title": "Päivitä CV"}),
        json!({"kind": "task", "title": "Hae kolmea paikkaa"}),
        "item-1",
    )
    .await;
    let listed = items(&olli.get(&format!("{items_path}?kind=task")).await);
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["id"], task.body["id"]);
    assert_eq!(listed[0]["title"], "Päivitä CV");

    // Keys belong to one kind of request: the message's key makes a new item.
    let other_kind = create(&mut olli, &items_path, json!({"kind": "note", "body": "Muistiin"}), "message-1").await;
    assert_eq!(other_kind.status, 201, "{:?}", other_kind.body);

    // One invitation mail went out, to the address of the first request only.
    system.storage.wait_for_mails(1).await;
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    let mails = system.storage.mails();
    let to = |address: &str| mails.iter().filter(|m| recipient(m).contains(address)).count();
    assert_eq!(to("kerran@example.fi"), 1, "{:?}", mails.iter().map(|m| readable(m)).collect::<Vec<_>>());
    assert_eq!(to("toisen@example.fi"), 0);
}
