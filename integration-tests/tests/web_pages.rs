//! The web pages in a real browser: Debian's headless Chromium driven by `browser/story.mjs`
//! (npm playwright-core, axe-core). A guide's workspace and invitation are made through the
//! API; the customer then follows the mailed link, logs in and accepts with the keyboard only,
//! writes; the guide, with JavaScript off, reads and answers; axe-core finds no WCAG 2.1 A/AA
//! violation on any page in fi, sv or en (error states included), and no page loads anything
//! from another origin. Needs `npm ci --prefix integration-tests/browser` and Chromium
//! (`.ci/run` installs both); without them the test fails, it does not skip.

use std::time::Duration;

use ohjaus_integration_tests::{BUSINESS_IDS, Backend, TestSystem};
use reqwest::Method;
use serde_json::json;
use uuid::Uuid;

use crate::support::{logged_in, open_workspace, organisation, token_in};

on_both_backends!(the_customer_and_the_guide_walk_the_pages);

const TESSA: &str = "010280-952L";

async fn the_customer_and_the_guide_walk_the_pages(backend: Backend) {
    let system = TestSystem::start(backend).await;
    let (org, office) = organisation(&system, BUSINESS_IDS[0]).await;
    let mut olli = logged_in(&system, "expert", "olli.ohjaaja").await;
    let workspace = open_workspace(
        &mut olli,
        json!({"organization_id": org, "office_id": office, "kind": "personal", "title": "Talous ja asuminen"}),
    )
    .await
    .id();
    let mails_before = system.storage.mails().len();
    let invited = olli
        .send_with_csrf(
            Method::POST,
            &format!("/api/v1/workspaces/{workspace}/invitations"),
            Some(json!({"email": "tessa@example.fi", "personal_identity_code": TESSA})),
        )
        .await;
    assert_eq!(invited.status, 201, "{:?}", invited.body);
    let token = token_in(system.storage.wait_for_mails(mails_before + 1).await.last().unwrap());

    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/browser/story.mjs");
    let marker = format!("SELAIN-{}", Uuid::now_v7().simple());
    let base = system.url("");
    let run = tokio::process::Command::new("node")
        .arg(script)
        .env("OHJAUS_BASE", base.trim_end_matches('/'))
        .env("OHJAUS_TOKEN", &token)
        .env("OHJAUS_CUSTOMER", TESSA)
        .env("OHJAUS_GUIDE", "olli.ohjaaja")
        .env("OHJAUS_MARKER", &marker)
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(240), run)
        .await
        .expect("the browser story did not finish in 240 s")
        .expect("node runs (is Node.js installed?)");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    eprintln!("{stdout}");
    assert!(output.status.success(), "the browser story failed:\n{stdout}\n{stderr}");
    let summary: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap_or("{}")).unwrap();
    assert!(summary["axe"].as_array().is_some_and(|checked| checked.len() >= 12), "{summary}");

    // What the pages did is what the API sees: the message is there, written by the customer.
    let messages = olli.get(&format!("/api/v1/workspaces/{workspace}/messages")).await;
    let bodies: Vec<&str> =
        messages.body["items"].as_array().unwrap().iter().map(|m| m["body"].as_str().unwrap()).collect();
    assert_eq!(bodies, [format!("Hei! {marker}"), format!("Vastaus: {marker}")], "{:?}", messages.body);
}
