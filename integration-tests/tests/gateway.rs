//! What every HTTP response promises: problem documents, limits, headers.

use ohjaus_integration_tests::{Backend, Storage, TestSystem};
use serde_json::json;
use std::sync::Arc;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_error_is_a_localized_problem() {
    let system = TestSystem::start(Backend::Embedded).await;
    let operator = system.operator();

    let unknown = system.anonymous().language("sv").get("/api/v1/nothing-here").await;
    assert_eq!(unknown.status, 404);
    assert_eq!(unknown.header("content-type"), Some("application/problem+json"));
    assert_eq!(unknown.body["title"], "Hittades inte");
    assert!(unknown.body["request_id"].is_string());
    assert_eq!(unknown.header("x-request-id"), unknown.body["request_id"].as_str());

    let wrong_method = operator.delete("/api/v1/organizations").await;
    assert_eq!(wrong_method.status, 405);
    assert_eq!(wrong_method.body["type"], "urn:ohjaus:problem:method-not-allowed");

    let broken = operator
        .send(reqwest::Method::POST, "/api/v1/organizations", None, &[("content-type", "application/json".into())])
        .await;
    assert_eq!(broken.status, 400, "{:?}", broken.body);
    let wrong_type = operator.post("/api/v1/organizations", json!({"official_name": 5})).await;
    assert_eq!(wrong_type.status, 400);
    assert_eq!(wrong_type.error_fields(), ["official_name"]);
    let missing = operator.post("/api/v1/organizations", json!({})).await;
    assert_eq!(missing.status, 400);
    assert_eq!(missing.body["errors"][0]["reason"], "field-required");
    let not_json = operator
        .send(reqwest::Method::POST, "/api/v1/organizations", None, &[("content-type", "text/plain".into())])
        .await;
    assert_eq!(not_json.status, 415);

    let ok = operator.get("/api/v1/organizations").await;
    for header in [
        "x-content-type-options",
        "x-frame-options",
        "content-security-policy",
        "referrer-policy",
        "strict-transport-security",
        "x-request-id",
    ] {
        assert!(ok.header(header).is_some(), "{header} missing");
    }
    assert_eq!(operator.get("/api/v1/organizations").await.status, 200, "nothing above broke the service");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn public_endpoints_are_rate_limited() {
    let storage = Arc::new(Storage::new(Backend::Embedded).await);
    let system = TestSystem::start_on(
        storage,
        &[("OHJAUS__GATEWAY__PUBLIC_RATE_PER_SECOND", "1".into()), ("OHJAUS__GATEWAY__PUBLIC_BURST", "3".into())],
    )
    .await;
    let path = format!("/api/v1/public/organizations/{}", uuid::Uuid::now_v7());
    let mut statuses = Vec::new();
    for _ in 0..6 {
        statuses.push(system.anonymous().get(&path).await.status);
    }
    assert_eq!(&statuses[..3], &[404, 404, 404]);
    assert!(statuses[3..].contains(&429), "{statuses:?}");
    let limited = system.anonymous().language("fi").get(&path).await;
    assert_eq!(limited.status, 429);
    assert_eq!(limited.body["title"], "Liikaa pyyntöjä");
    // Logged-in APIs are not limited by it.
    assert_eq!(system.operator().get("/api/v1/organizations").await.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_bodies_are_refused_with_a_problem() {
    // A small limit keeps the whole body in socket buffers, so the client reads the answer
    // instead of a reset from a server that stopped reading.
    let storage = Arc::new(Storage::new(Backend::Embedded).await);
    let system = TestSystem::start_on(storage, &[("OHJAUS__GATEWAY__BODY_LIMIT_BYTES", "2048".into())]).await;
    let too_large = system.operator().post("/api/v1/organizations", json!({"official_name": "x".repeat(4096)})).await;
    assert_eq!(too_large.status, 413, "{:?}", too_large.body);
    assert_eq!(too_large.body["type"], "urn:ohjaus:problem:payload-too-large");
    assert_eq!(system.operator().get("/api/v1/organizations").await.body["items"], json!([]));
}
