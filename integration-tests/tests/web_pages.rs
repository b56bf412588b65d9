//! The web pages in a real browser: Debian's headless Chromium driven by `browser/story.mjs`
//! (npm playwright-core, axe-core). The guide logs in, opens a workspace and invites the
//! customer on the pages; the customer follows the mailed link, logs in and accepts with the
//! keyboard only, writes; the guide, with JavaScript off, reads and answers; axe-core finds no WCAG 2.1 A/AA
//! violation on any page in fi, sv or en (error states included), and no page loads anything
//! from another origin. Needs `npm ci --prefix integration-tests/browser` and Chromium
//! (`.ci/run` installs both); without them the test fails, it does not skip.

use std::time::Duration;

use ohjaus_integration_tests::{BUSINESS_IDS, Backend, TestSystem};
use reqwest::Method;
use serde_json::json;
use uuid::Uuid;

use crate::support::{items, list_in_directory, logged_in, organisation, organisation_with, token_in};

on_both_backends!(the_customer_and_the_guide_walk_the_pages);

const TESSA: &str = "010280-952L";
const PURPOSE: &str = "Asumisneuvonta vuokrarästien selvittämiseksi";

/// Runs one phase of the browser story; its summary.
async fn story(system: &TestSystem, phase: &str, extra: &[(&str, &str)], marker: &str) -> serde_json::Value {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/browser/story.mjs");
    let run = tokio::process::Command::new("node")
        .arg(script)
        .env("OHJAUS_PHASE", phase)
        .env("OHJAUS_BASE", system.url("").trim_end_matches('/'))
        .envs(extra.iter().copied())
        .env("OHJAUS_CUSTOMER", TESSA)
        .env("OHJAUS_GUIDE", "olli.ohjaaja")
        .env("OHJAUS_MARKER", marker)
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(240), run)
        .await
        .expect("the browser story did not finish in 240 s")
        .expect("node runs (is Node.js installed?)");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    eprintln!("{phase}: {stdout}");
    assert!(output.status.success(), "the browser story's {phase} phase failed:\n{stdout}\n{stderr}");
    serde_json::from_str(stdout.lines().last().unwrap_or("{}")).unwrap()
}

async fn the_customer_and_the_guide_walk_the_pages(backend: Backend) {
    let system = TestSystem::start(backend).await;
    // The organisation and its staff come from the operator and the main user (their pages
    // are still to come).
    organisation(&system, BUSINESS_IDS[0]).await;
    let marker = format!("SELAIN-{}", Uuid::now_v7().simple());

    // The guide opens the workspace and invites Tessa on the pages.
    let mails_before = system.storage.mails().len();
    let guided = story(&system, "guide", &[], &marker).await;
    let workspace = guided["workspace"].as_str().unwrap().trim_start_matches("/app/workspaces/").to_owned();
    let token = token_in(system.storage.wait_for_mails(mails_before + 1).await.last().unwrap());

    // Tessa follows the mail; the guide answers; both read.
    let told = story(&system, "customer", &[("OHJAUS_TOKEN", &token)], &marker).await;

    // Olli proposes Ville of another organisation (the proposal's page is still to come); Tessa
    // decides on the page, Ville reads, Tessa downloads and withdraws.
    let b = organisation_with(&system, BUSINESS_IDS[1], &[("Ville Valvoja", "ville.valvoja", "advisor")]).await;
    list_in_directory(&system, &b, "ville.valvoja").await;
    let mut olli = logged_in(&system, "expert", "olli.ohjaaja").await;
    let members = olli.get(&format!("/api/v1/workspaces/{workspace}/members")).await;
    let tessa_id = items(&members).iter().find(|m| m["kind"] == "customer").unwrap()["id"].as_str().unwrap().to_owned();
    let proposal = json!({"customer_id": tessa_id, "expert_id": b.person("ville.valvoja"),
        "expert_organization_id": b.id, "purpose": PURPOSE, "language": "fi"});
    let proposed =
        olli.send_with_csrf(Method::POST, &format!("/api/v1/workspaces/{workspace}/consents"), Some(proposal)).await;
    assert_eq!(proposed.status, 201, "{:?}", proposed.body);
    let path = format!("/app/workspaces/{workspace}");
    let extra = [("OHJAUS_EXPERT", "ville.valvoja"), ("OHJAUS_WORKSPACE", path.as_str()), ("OHJAUS_PURPOSE", PURPOSE)];
    let consented = story(&system, "consent", &extra, &marker).await;
    let checked: usize = [&guided, &told, &consented].iter().map(|s| s["axe"].as_array().unwrap().len()).sum();
    assert!(checked >= 28, "axe ran on {checked} pages only: {guided} {told} {consented}");

    // What the pages did is what the API sees.
    let opened = olli.get(&format!("/api/v1/workspaces/{workspace}")).await;
    assert_eq!(opened.body["title"], format!("Talous {marker}"), "{:?}", opened.body);
    let messages = olli.get(&format!("/api/v1/workspaces/{workspace}/messages")).await;
    let bodies: Vec<&str> =
        messages.body["items"].as_array().unwrap().iter().map(|m| m["body"].as_str().unwrap()).collect();
    assert_eq!(bodies, [format!("Hei! {marker}"), format!("Vastaus: {marker}")], "{:?}", messages.body);
    let consents = items(&olli.get(&format!("/api/v1/workspaces/{workspace}/consents")).await);
    assert_eq!(consents.len(), 1);
    assert_eq!(consents[0]["state"], "withdrawn", "{consents:?}");
}
