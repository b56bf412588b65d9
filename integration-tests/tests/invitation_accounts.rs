//! A customer account comes into being only when an invitation is accepted by the person it is
//! meant for. Binding an invitation to an identity code makes no account; someone else who
//! follows the link and logs in is refused and leaves nothing behind (no account, no session
//! holding their name or identity); someone who logs in through the link and walks away leaves
//! nothing once the session ends; the invited person gets her account by accepting.

use ohjaus_integration_tests::{BUSINESS_IDS, Backend, Browser, TestSystem};
use ohjaus_platform::db::Db;
use reqwest::Method;
use serde_json::json;

use crate::support::{accept, items, logged_in, open_workspace, organisation, token_in};

on_both_backends!(only_the_invited_person_gets_an_account_and_only_by_accepting);

/// Tessa, whom the invitation is for.
const TESSA: &str = "010280-952L";
/// Another person with a Suomi.fi identity who gets hold of Tessa's link.
const STRANGER: &str = "260991-999R";
/// Someone who follows a link, logs in and leaves without accepting.
const PASSER_BY: &str = "040265-9985";

async fn count(db: &Db, sql: &str) -> i64 {
    let row = db.query(sql).fetch_one(db).await.unwrap();
    row.get::<i64>("n").unwrap()
}

async fn accounts(db: &Db) -> i64 {
    count(db, "SELECT COUNT(*) AS n FROM customer_accounts").await
}

/// Sessions that still hold a person's identity without an account behind it.
async fn pending_sessions(db: &Db) -> i64 {
    count(db, "SELECT COUNT(*) AS n FROM sessions WHERE pending_identity_hash IS NOT NULL").await
}

/// All sessions, ended or not.
async fn sessions(db: &Db) -> i64 {
    count(db, "SELECT COUNT(*) AS n FROM sessions").await
}

/// `person` follows the invitation link `token` and logs in with Suomi.fi.
async fn follow_link<'a>(system: &'a TestSystem, token: &str, person: &str) -> Browser<'a> {
    let mut browser = Browser::new(system);
    assert_eq!(browser.get(&format!("/invitations/{token}")).await.status, 303);
    let url = system.url(&format!("/auth/login/dev?intent=invitation&invitation={token}&login_hint={person}"));
    let login = browser.follow(&url).await;
    assert_eq!(login.status, 303, "{:?}", login.body);
    browser
}

async fn only_the_invited_person_gets_an_account_and_only_by_accepting(backend: Backend) {
    let system = TestSystem::start(backend).await;
    let db = Db::connect(&system.storage.settings(&[]), "identity").await.unwrap();
    let (org, office) = organisation(&system, BUSINESS_IDS[0]).await;
    let mut olli = logged_in(&system, "expert", "olli.ohjaaja").await;
    let workspace = open_workspace(
        &mut olli,
        json!({"organization_id": org, "office_id": office, "kind": "personal", "title": "Velat"}),
    )
    .await
    .id();
    assert_eq!(accounts(&db).await, 0);

    // An invitation bound to Tessa's identity code makes no account.
    let mails_before = system.storage.mails().len();
    let invited = olli
        .send_with_csrf(
            Method::POST,
            &format!("/api/v1/workspaces/{workspace}/invitations"),
            Some(json!({"email": "tessa@example.fi", "personal_identity_code": TESSA})),
        )
        .await;
    assert_eq!(invited.status, 201, "{:?}", invited.body);
    assert_eq!(invited.body["bound_to_person"], true);
    let token = token_in(system.storage.wait_for_mails(mails_before + 1).await.last().unwrap());
    assert_eq!(accounts(&db).await, 0, "binding an invitation made an account");

    // A stranger follows Tessa's link and logs in: refused, logged out, and nothing of them
    // stays — no account, no session with their name or identity.
    let sessions_before = sessions(&db).await;
    let mut stranger = follow_link(&system, &token, STRANGER).await;
    assert_eq!(pending_sessions(&db).await, 1);
    let refused =
        stranger.send_with_csrf(Method::POST, "/api/v1/invitations/accept", Some(json!({"token": token}))).await;
    assert_eq!(refused.status, 403, "{:?}", refused.body);
    assert_eq!(refused.body["type"], "urn:ohjaus:problem:invitation-for-another-person", "{:?}", refused.body);
    assert!(
        refused.headers.get_all("set-cookie").iter().any(|c| c.to_str().unwrap().starts_with("ohjaus_session=;")),
        "the refused person's session cookie is not cleared: {:?}",
        refused.headers
    );
    assert_eq!(accounts(&db).await, 0, "a refused acceptance made an account");
    assert_eq!(pending_sessions(&db).await, 0);
    assert_eq!(sessions(&db).await, sessions_before, "the refused person's session row stays");
    assert_eq!(stranger.get("/api/v1/me").await.status, 401);
    // Their next plain login: no workspace has been set up for them.
    let mut again = Browser::new(&system);
    let plain = again.login("customer", STRANGER).await;
    assert_eq!(plain.status, 403, "{:?}", plain.body);
    assert_eq!(plain.body["reason"], "no-workspace");

    // Someone logs in through the link and walks away: once the session's idle time is over,
    // the session and what it held are gone.
    let mut passer_by = follow_link(&system, &token, PASSER_BY).await;
    assert_eq!(pending_sessions(&db).await, 1);
    assert_eq!(passer_by.get("/api/v1/workspaces").await.status, 200);
    system.clock.advance(chrono::Duration::minutes(31));
    assert_eq!(passer_by.get("/api/v1/workspaces").await.status, 401);
    assert_eq!(pending_sessions(&db).await, 0);
    assert_eq!(sessions(&db).await, sessions_before, "an abandoned pending session stays");
    assert_eq!(accounts(&db).await, 0);

    // Tessa follows her link and accepts: now, and only now, she has an account, and her plain
    // logins find her workspace.
    let mut tessa = Browser::new(&system);
    accept(&mut tessa, &token, TESSA).await;
    assert_eq!(accounts(&db).await, 1);
    assert_eq!(pending_sessions(&db).await, 0, "the accepted session still holds the pending identity");
    let mine = tessa.get("/api/v1/workspaces").await;
    assert_eq!(items(&mine).len(), 1, "{:?}", mine.body);
    let mut later = logged_in(&system, "customer", TESSA).await;
    let listed = later.get("/api/v1/workspaces").await;
    assert_eq!(items(&listed).iter().map(|w| w["id"].as_str().unwrap().to_owned()).collect::<Vec<_>>(), [workspace]);
    db.close().await;
}
