//! What a main user does to a workspace without reading it, and how the customer learns of it:
//! handing it to another guide (an expert who left or is away) and closing it both stand in
//! the workspace's access log with who did it, in which part, and when; a hand-over is told to
//! the customer in the app and by a mail without names or content. Closing is all a main user
//! may do: no reopening, no reading, and to everyone else the workspace still does not exist.

use chrono::{DateTime, Utc};
use ohjaus_integration_tests::{BUSINESS_IDS, Backend, Browser, Reply, TestSystem, expert};
use ohjaus_platform::{auth::Role, clock::Clock};
use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::support::{EXPERTS, items, join, logged_in, open_workspace, organisation_with, readable, recipient, send};

on_both_backends!(a_hand_over_is_logged_and_told_to_the_customer, a_main_user_may_close_a_workspace_and_nothing_more);

const TESSA_MAIL: &str = "tessa.testila@example.fi";

/// The entries of a workspace's access log, oldest first, as `reader` sees them.
async fn access_log(reader: &mut Browser<'_>, workspace: &str) -> Vec<Value> {
    items(&reader.get(&format!("/api/v1/workspaces/{workspace}/access-log?page_size=100")).await)
}

/// The entries that say `what`.
fn entries_of<'a>(log: &'a [Value], what: &str) -> Vec<&'a Value> {
    log.iter().filter(|e| e["what"] == what).collect()
}

fn at(entry: &Value) -> DateTime<Utc> {
    entry["at"].as_str().unwrap().parse().unwrap()
}

async fn a_hand_over_is_logged_and_told_to_the_customer(backend: Backend) {
    let system = TestSystem::start(backend).await;
    let org = organisation_with(&system, BUSINESS_IDS[0], &EXPERTS).await;
    let (maija_id, olli_id, noora_id) =
        (org.person("maija.paakayttaja"), org.person("olli.ohjaaja"), org.person("noora.neuvoja"));
    let mut olli = logged_in(&system, "expert", "olli.ohjaaja").await;
    let marker = format!("SIIRTO-{}", Uuid::now_v7().simple());
    let created = open_workspace(
        &mut olli,
        json!({"organization_id": org.id, "office_id": org.office, "kind": "personal", "title": format!("Otsikko {marker}")}),
    )
    .await;
    let id = created.id();
    let mut tessa = join(&system, &system.storage, &mut olli, &id, "010280-952L", TESSA_MAIL).await;
    let mails_before = system.storage.mails().len();

    // Olli has left; the main user hands his workspace to Noora.
    let mut maija = logged_in(&system, "expert", "maija.paakayttaja").await;
    let before = system.clock.now();
    let done = maija
        .send_with_csrf(
            Method::POST,
            &format!("/api/v1/workspaces/{id}/transfer"),
            Some(json!({"new_owner_id": noora_id})),
        )
        .await;
    assert_eq!(done.status, 200, "{:?}", done.body);

    // The customer sees in the access log who handed it (the main user, by her part and
    // organisation) and to whom (Noora, now the owner), and when.
    let log = access_log(&mut tessa, &id).await;
    let handed = entries_of(&log, "handed-over");
    assert_eq!(handed.len(), 1, "{log:?}");
    assert_eq!(handed[0]["actor_kind"], "expert");
    assert_eq!(handed[0]["actor_id"], maija_id.as_str());
    assert_eq!(handed[0]["actor_role"], "admin");
    assert_eq!(handed[0]["organization_id"], org.id.as_str());
    assert!(at(handed[0]) >= before, "{log:?}");
    let received = entries_of(&log, "became-owner");
    assert_eq!(received.len(), 1, "{log:?}");
    assert_eq!(received[0]["actor_id"], noora_id.as_str());
    assert_eq!(received[0]["actor_role"], "owner");
    assert_eq!(received[0]["actor_name"], "Noora Neuvoja");
    assert_eq!(received[0]["organization_id"], org.id.as_str());
    assert_eq!(at(received[0]), at(handed[0]));
    // Noora reads the same log.
    let mut noora = logged_in(&system, "expert", "noora.neuvoja").await;
    assert_eq!(entries_of(&access_log(&mut noora, &id).await, "handed-over").len(), 1);

    // Tessa is told in the app, with the new guide as its subject ...
    let notifications = items(&tessa.get("/api/v1/notifications").await);
    let told: Vec<&Value> = notifications.iter().filter(|n| n["kind"] == "workspace-handed-over").collect();
    assert_eq!(told.len(), 1, "{notifications:?}");
    assert_eq!(told[0]["workspace_id"], id.as_str());
    assert_eq!(told[0]["subject_id"], noora_id.as_str());
    // ... and by a mail with a link and without names or content.
    let mails = system.storage.wait_for_mails(mails_before + 1).await;
    let to_tessa: Vec<&String> = mails[mails_before..].iter().filter(|m| recipient(m).contains(TESSA_MAIL)).collect();
    assert_eq!(to_tessa.len(), 1, "{:?}", mails[mails_before..].iter().map(|m| readable(m)).collect::<Vec<_>>());
    let mail = readable(to_tessa[0]);
    assert!(mail.contains(&format!("/app/workspaces/{id}")), "{mail}");
    for secret in [marker.as_str(), "Noora", "Neuvoja", "Maija", "Olli", &noora_id, &maija_id, &olli_id] {
        assert!(!mail.contains(secret), "the mail carries {secret:?}: {mail}");
    }
    // Nobody else was mailed about it: not the guides, not the main user.
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    let later = system.storage.mails();
    assert!(later[mails_before..].iter().all(|m| recipient(m).contains(TESSA_MAIL)), "{later:?}");
}

async fn a_main_user_may_close_a_workspace_and_nothing_more(backend: Backend) {
    let system = TestSystem::start(backend).await;
    let org = organisation_with(&system, BUSINESS_IDS[1], &EXPERTS).await;
    let other = organisation_with(&system, BUSINESS_IDS[2], &[("Greta Vieras", "greta.vieras", "admin")]).await;
    let maija_id = org.person("maija.paakayttaja");
    let mut olli = logged_in(&system, "expert", "olli.ohjaaja").await;
    let marker = format!("SULKU-{}", Uuid::now_v7().simple());
    let created = open_workspace(
        &mut olli,
        json!({"organization_id": org.id, "office_id": org.office, "kind": "personal", "title": format!("Otsikko {marker}"), "topics": ["addictions"]}),
    )
    .await;
    let id = created.id();
    let etag = created.header("etag").unwrap().to_owned();
    let base = format!("/api/v1/workspaces/{id}");
    let mut tessa = join(&system, &system.storage, &mut olli, &id, "010280-952L", TESSA_MAIL).await;
    let close = format!("{base}/close");

    // To anyone but its guides and the organisation's main users, there is nothing to close.
    let mut noora = logged_in(&system, "expert", "noora.neuvoja").await;
    let refused = send(&mut noora, Method::POST, &close, None, Some(&etag)).await;
    assert_eq!(refused.status, 404, "another guide: {:?}", refused.body);
    let foreign_admin = system.as_principal(&expert(other.uuid(), &[Role::Admin]));
    let refused = foreign_admin.send(Method::POST, &close, None, &[("if-match", etag.clone())]).await;
    assert_eq!(refused.status, 404, "a main user of another organisation: {:?}", refused.body);
    let refused = system.operator().send(Method::POST, &close, None, &[("if-match", etag.clone())]).await;
    assert_eq!(refused.status, 404, "the operator: {:?}", refused.body);
    // The customer is a member but no guide: not hers to close, as before.
    let refused = send(&mut tessa, Method::POST, &close, None, Some(&etag)).await;
    assert_eq!(refused.status, 403, "the customer: {:?}", refused.body);

    // The main user closes it, with the version she was told; she learns nothing of it.
    let mut maija = logged_in(&system, "expert", "maija.paakayttaja").await;
    let stale = send(&mut maija, Method::POST, &close, None, Some("\"7\"")).await;
    assert_eq!(stale.status, 412, "{:?}", stale.body);
    let before = system.clock.now();
    let closed: Reply = send(&mut maija, Method::POST, &close, None, Some(&etag)).await;
    assert_eq!(closed.status, 200, "{:?}", closed.body);
    assert_eq!(closed.body["state"], "closed");
    assert_eq!(closed.body["id"], id.as_str());
    assert_eq!(closed.body["title"], "", "{:?}", closed.body);
    assert_eq!(closed.body["topics"], json!([]), "{:?}", closed.body);
    assert!(!closed.body.to_string().contains(&marker));
    // Once: closing a closed workspace is not possible.
    let etag_after = closed.header("etag").unwrap().to_owned();
    let again = send(&mut maija, Method::POST, &close, None, Some(&etag_after)).await;
    assert_eq!(again.status, 409, "{:?}", again.body);

    // Closing is all: no reopening, no content, no access log.
    let reopen = send(&mut maija, Method::POST, &format!("{base}/reopen"), None, Some(&etag_after)).await;
    assert_eq!(reopen.status, 404, "{:?}", reopen.body);
    for path in [base.clone(), format!("{base}/messages"), format!("{base}/access-log"), format!("{base}/members")] {
        assert_eq!(maija.get(&path).await.status, 404, "{path}");
    }

    // Guides and the customer see it closed, and the log says who closed it, when.
    let seen = olli.get(&base).await;
    assert_eq!(seen.body["state"], "closed", "{:?}", seen.body);
    assert_eq!(seen.body["title"], format!("Otsikko {marker}"));
    let log = access_log(&mut tessa, &id).await;
    let closing = entries_of(&log, "closed");
    assert_eq!(closing.len(), 1, "{log:?}");
    assert_eq!(closing[0]["actor_kind"], "expert");
    assert_eq!(closing[0]["actor_id"], maija_id.as_str());
    assert_eq!(closing[0]["actor_role"], "admin");
    assert_eq!(closing[0]["organization_id"], org.id.as_str());
    assert!(at(closing[0]) >= before, "{log:?}");
    // Its guide may still reopen it.
    let reopened = send(&mut olli, Method::POST, &format!("{base}/reopen"), None, Some(&etag_after)).await;
    assert_eq!(reopened.status, 200, "{:?}", reopened.body);
}
