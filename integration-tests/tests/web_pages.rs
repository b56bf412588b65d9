//! The web pages in a real browser: Debian's headless Chromium driven by `browser/story.mjs`
//! (npm playwright-core, axe-core). The guide logs in, opens a workspace and invites the
//! customer on the pages; the customer follows the mailed link, logs in and accepts with the
//! keyboard only, writes with a PDF; the guide's open page shows it without a reload; the
//! guide, with JavaScript off, answers; the guide proposes an expert of another organisation
//! from the directory, the customer accepts, the expert reads, the customer downloads and
//! withdraws, and the expert's open page loses access. axe-core finds no WCAG 2.1 A/AA
//! violation on any page in fi, sv or en (error states included), no page loads anything from
//! another origin or breaks its CSP. The same story runs again with JavaScript disabled. Needs `npm ci --prefix integration-tests/browser` and Chromium
//! (`.ci/run` installs both); without them the test fails, it does not skip.

use std::time::Duration;

use ohjaus_integration_tests::{BUSINESS_IDS, Backend, TestSystem};
use serde_json::json;
use uuid::Uuid;

use crate::support::{
    items, join, list_in_directory, logged_in, open_workspace, organisation, organisation_with, token_in,
};

on_both_backends!(the_customer_and_the_guide_walk_the_pages, the_story_works_without_javascript);

const TESSA: &str = "010280-952L";
/// The group's two customers (Suomi.fi test identities) and their names.
const GROUP: [(&str, &str); 2] = [("010675-9981", "Testi Henkilö-Kaksi"), ("040265-9985", "Testi Henkilö-Kolme")];
const PURPOSE: &str = "Asumisneuvonta vuokrarästien selvittämiseksi";

/// Runs one phase of the browser story; its summary.
async fn story(system: &TestSystem, js: bool, phase: &str, extra: &[(&str, &str)], marker: &str) -> serde_json::Value {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/browser/story.mjs");
    let run = tokio::process::Command::new("node")
        .arg(script)
        .env("OHJAUS_PHASE", phase)
        .env("OHJAUS_JS", if js { "on" } else { "off" })
        .env("OHJAUS_BASE", system.url("").trim_end_matches('/'))
        .envs(extra.iter().copied())
        .env("OHJAUS_CUSTOMER", TESSA)
        .env("OHJAUS_GUIDE", "olli.ohjaaja")
        .env("OHJAUS_MAIN_USER", "maija.paakayttaja")
        .env("OHJAUS_NEW_BUSINESS_ID", BUSINESS_IDS[2])
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
    walk(backend, true).await;
}

async fn the_story_works_without_javascript(backend: Backend) {
    walk(backend, false).await;
}

async fn walk(backend: Backend, js: bool) {
    let system = TestSystem::start(backend).await;
    // The organisation and its staff come from the operator and the main user through the API
    // (the story's operator makes another one on the pages).
    let (organisation_id, office) = organisation(&system, BUSINESS_IDS[0]).await;
    let marker = format!("SELAIN-{}", Uuid::now_v7().simple());

    // The guide opens the workspace and invites Tessa on the pages.
    let mails_before = system.storage.mails().len();
    let guided = story(&system, js, "guide", &[], &marker).await;
    let workspace = guided["workspace"].as_str().unwrap().trim_start_matches("/app/workspaces/").to_owned();
    let token = token_in(system.storage.wait_for_mails(mails_before + 1).await.last().unwrap());

    // Tessa follows the mail and writes with a PDF; the guide reads and answers.
    let told = story(&system, js, "customer", &[("OHJAUS_TOKEN", &token)], &marker).await;

    // Olli proposes Ville of another organisation from the directory; Tessa decides on the
    // page, Ville reads, Tessa downloads and withdraws.
    let b = organisation_with(&system, BUSINESS_IDS[1], &[("Ville Valvoja", "ville.valvoja", "advisor")]).await;
    list_in_directory(&system, &b, "ville.valvoja").await;
    let path = format!("/app/workspaces/{workspace}");
    let extra = [
        ("OHJAUS_EXPERT", "ville.valvoja"),
        ("OHJAUS_EXPERT_NAME", "Ville Valvoja"),
        ("OHJAUS_EXPERT_BUSINESS_ID", BUSINESS_IDS[1]),
        ("OHJAUS_EXPERT_PRIVACY", "https://example.fi/tietosuoja"),
        ("OHJAUS_WORKSPACE", path.as_str()),
        ("OHJAUS_PURPOSE", PURPOSE),
        ("OHJAUS_NEW_OWNER", "Noora Neuvoja"),
    ];
    let consented = story(&system, js, "consent", &extra, &marker).await;

    // A group: Olli opens it and both customers join through the API; on the pages he writes
    // in one customer's own thread, which the other customer never sees.
    let mut olli = logged_in(&system, "expert", "olli.ohjaaja").await;
    let input =
        json!({"organization_id": organisation_id, "office_id": office, "kind": "group", "title": "Ryhmäohjaus"});
    let group = open_workspace(&mut olli, input).await.id();
    let mut members = Vec::new();
    for (i, (code, _)) in GROUP.iter().enumerate() {
        members.push(join(&system, &system.storage, &mut olli, &group, code, &format!("ryhma{i}@example.fi")).await);
    }
    let group_path = format!("/app/workspaces/{group}");
    let extra = [
        ("OHJAUS_GROUP", group_path.as_str()),
        ("OHJAUS_GROUP_FIRST", GROUP[0].0),
        ("OHJAUS_GROUP_FIRST_NAME", GROUP[0].1),
        ("OHJAUS_GROUP_SECOND", GROUP[1].0),
        ("OHJAUS_GROUP_SECOND_NAME", GROUP[1].1),
    ];
    let grouped = story(&system, js, "group", &extra, &marker).await;
    // What the pages wrote is where the API says: the guide's message and the first customer's
    // answer in her own thread; the second customer reads neither.
    let first = members[0].get(&format!("/api/v1/workspaces/{group}/messages")).await;
    let first_bodies: Vec<&str> =
        first.body["items"].as_array().unwrap().iter().map(|m| m["body"].as_str().unwrap()).collect();
    assert_eq!(first_bodies, [format!("Vain sinulle {marker}"), format!("Kiitos {marker}")], "{:?}", first.body);
    let thread = first.body["items"][0]["thread_id"].clone();
    assert!(first.body["items"].as_array().unwrap().iter().all(|m| m["thread_id"] == thread && thread.is_string()));
    let second = members[1].get(&format!("/api/v1/workspaces/{group}/messages")).await;
    assert_eq!(second.body["items"], json!([]), "{:?}", second.body);

    let checked: usize =
        [&guided, &told, &consented, &grouped].iter().map(|s| s["axe"].as_array().unwrap().len()).sum();
    // axe-core runs in the page, so only where scripts run (the pages are the same).
    let wanted = if js { 80 } else { 0 };
    assert!(checked >= wanted, "axe ran on {checked} pages only: {guided} {told} {consented}");
    // Everything any page loaded (its stylesheet, script, live stream, fragments, files) came
    // from the gateway; only links lead elsewhere (to the identity provider).
    for summary in [&guided, &told, &consented, &grouped] {
        assert_eq!(summary["origins"], json!([system.url("").trim_end_matches('/')]), "{summary}");
    }

    // What the pages did is what the API sees, as the new owner the main user handed it to.
    let mut noora = logged_in(&system, "expert", "noora.neuvoja").await;
    let members = items(&noora.get(&format!("/api/v1/workspaces/{workspace}/members")).await);
    let owner = members.iter().find(|m| m["role"] == "owner").unwrap();
    assert_eq!(owner["name"], "Noora Neuvoja", "{members:?}");
    let opened = noora.get(&format!("/api/v1/workspaces/{workspace}")).await;
    assert_eq!(opened.body["title"], format!("Talous {marker}"), "{:?}", opened.body);
    // Closed and reopened on the page.
    assert_eq!(opened.body["state"], "active", "{:?}", opened.body);
    let messages = noora.get(&format!("/api/v1/workspaces/{workspace}/messages")).await;
    let bodies: Vec<&str> =
        messages.body["items"].as_array().unwrap().iter().map(|m| m["body"].as_str().unwrap()).collect();
    assert_eq!(bodies, [format!("Hei! {marker}"), format!("Vastaus: {marker}")], "{:?}", messages.body);
    let attached = &messages.body["items"][0]["attachments"];
    assert_eq!(attached[0]["name"], "liite.pdf", "{attached}");
    assert_eq!(attached[0]["content_type"], "application/pdf", "{attached}");
    // Both downloads, the zip and the readable document alone, are in the access log as exports.
    let (mut exports, mut next) = (0, String::new());
    loop {
        let page = noora.get(&format!("/api/v1/workspaces/{workspace}/access-log?page_size=100{next}")).await;
        exports += items(&page).iter().filter(|e| e["what"] == "export").count();
        match page.body["next_page_token"].as_str() {
            Some(token) => next = format!("&page_token={token}"),
            None => break,
        }
    }
    assert_eq!(exports, 2, "the downloads in the access log");
    let consents = items(&noora.get(&format!("/api/v1/workspaces/{workspace}/consents")).await);
    assert_eq!(consents.len(), 1);
    assert_eq!(consents[0]["purpose"], PURPOSE, "{consents:?}");
    assert_eq!(consents[0]["state"], "withdrawn", "{consents:?}");
}
