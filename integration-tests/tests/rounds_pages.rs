//! The 3X10D meter's pages in a real browser (`browser/rounds.mjs`: headless Chromium,
//! axe-core): the guide reaches the meter from the workspace page and asks on the page; the
//! customer answers a round with the keyboard alone and JavaScript off (two items left as "No
//! answer"), saves, returns and submits; she and the guide open the change between two rounds
//! (an SVG chart with a title and a description, and the same data as a table). axe-core finds
//! no WCAG 2.1 A/AA violation on the list, the answering page, a submitted round and the change
//! view in fi, sv and en. What the pages saved is what the API answers.

use std::{sync::Arc, time::Duration};

use ohjaus_integration_tests::{BUSINESS_IDS, Backend, Storage, TestSystem};
use reqwest::Method;
use serde_json::json;

use crate::support::{EXPERTS, items, join, logged_in, open_workspace, organisation_with, send};

on_both_backends!(the_customer_answers_and_both_see_the_change_on_the_pages);

const TESSA: &str = "010280-952L";

async fn the_customer_answers_and_both_see_the_change_on_the_pages(backend: Backend) {
    let storage = Arc::new(Storage::new(backend).await);
    let system = TestSystem::start_on(storage.clone(), &[]).await;
    let org = organisation_with(&system, BUSINESS_IDS[0], &EXPERTS).await;
    let mut olli = logged_in(&system, "expert", "olli.ohjaaja").await;
    let input = json!({"organization_id": org.id, "office_id": org.office, "kind": "personal", "title": "Mittari"});
    let workspace = open_workspace(&mut olli, input).await.id();
    let mut tessa = join(&system, &storage, &mut olli, &workspace, TESSA, "tessa@example.fi").await;
    let members = items(&olli.get(&format!("/api/v1/workspaces/{workspace}/members")).await);
    let tessa_id = members.into_iter().find(|m| m["kind"] == "customer").unwrap()["id"].clone();
    let rounds = format!("/api/v1/workspaces/{workspace}/rounds");
    let ask = json!({"customer_id": tessa_id, "kind": "start"});
    let first = send(&mut olli, Method::POST, &rounds, Some(ask), None).await.id();
    let answers = json!({"submit": true, "answers": [{"item": 1, "value": 3}, {"item": 2, "value": 6},
        {"item": 3, "value": 8}, {"item": 5, "value": 0}, {"item": 6, "value": 5}, {"item": 8, "value": 7},
        {"item": 9, "value": 4}, {"item": 10, "value": 5}]});
    let submitted = send(&mut tessa, Method::PUT, &format!("{rounds}/{first}/answers"), Some(answers), None).await;
    assert_eq!(submitted.status, 200, "{:?}", submitted.body);
    system.clock.advance(chrono::Duration::days(30));
    // Sessions end when idle: both log in again.
    let mut olli = logged_in(&system, "expert", "olli.ohjaaja").await;
    let tessa = logged_in(&system, "customer", TESSA).await;
    let end = send(&mut olli, Method::POST, &rounds, Some(json!({"customer_id": tessa_id, "kind": "end"})), None).await;
    let end = end.id();

    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/browser/rounds.mjs");
    let run = tokio::process::Command::new("node")
        .arg(script)
        .env("OHJAUS_BASE", system.url("").trim_end_matches('/'))
        .env("OHJAUS_WORKSPACE", &workspace)
        .env("OHJAUS_CUSTOMER", TESSA)
        .env("OHJAUS_GUIDE", "olli.ohjaaja")
        .env("OHJAUS_ROUND", &end)
        .env("OHJAUS_FIRST", &first)
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(240), run)
        .await
        .expect("the rounds' browser run did not finish in 240 s")
        .expect("node runs (is Node.js installed?)");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "the rounds' pages failed:\n{stdout}\n{stderr}");
    let summary: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap_or("{}")).unwrap();
    // Four pages in three languages each, and the change view twice.
    assert!(summary["axe"].as_array().unwrap().len() >= 15, "{summary}");
    assert_eq!(summary["origins"], json!([system.url("").trim_end_matches('/')]), "{summary}");

    // What she gave with the keyboard is what the API answers: items 4 and 7 no answer.
    let mut tessa = tessa;
    let saved = tessa.get(&format!("{rounds}/{end}")).await;
    assert!(saved.body["submitted_at"].is_string(), "{:?}", saved.body);
    let values: Vec<Option<u64>> =
        saved.body["answers"].as_array().unwrap().iter().map(|a| a["value"].as_u64()).collect();
    assert_eq!(values, [Some(6), Some(6), Some(9), None, Some(2), Some(8), None, Some(8), Some(6), Some(0)]);
}
