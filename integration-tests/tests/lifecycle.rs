//! Start, readiness, restart, seeding, and the split into targets over the network.

use std::sync::Arc;

use ohjaus::{Options, Target};
use ohjaus_integration_tests::{BUSINESS_IDS, Backend, OPERATOR_TOKEN, Storage, TestSystem, registry};
use ohjaus_platform::clock::SystemClock;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

on_both_backends!(data_survives_a_restart, split_targets_answer_like_one_process);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_defaults_are_ready_with_docs_and_a_demo_organisation() {
    let storage = Arc::new(Storage::new(Backend::Embedded).await);
    let system = TestSystem::start_on(storage.clone(), &[("OHJAUS__DEMO__SEED", "true".into())]).await;
    assert_eq!(system.anonymous().get("/healthz").await.status, 200);
    assert_eq!(system.anonymous().get("/readyz").await.status, 200);
    let spec = system.anonymous().get("/openapi.json").await;
    assert_eq!(spec.status, 200);
    assert!(spec.body["openapi"].as_str().unwrap().starts_with("3.1"));
    assert!(spec.body["paths"]["/organizations/{id}"]["put"].is_object());
    let docs = system.http.get(system.url("/docs")).send().await.unwrap();
    assert_eq!(docs.status(), 200);
    assert!(docs.text().await.unwrap().contains("/openapi.json"), "the docs page links the spec");
    let orgs = system.operator().get("/api/v1/organizations").await;
    let items = orgs.body["items"].as_array().unwrap().clone();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["official_name"], "Demokaupunki");
    let org = items[0]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        system.operator().get(&format!("/api/v1/organizations/{org}/experts")).await.body["items"]
            .as_array()
            .unwrap()
            .len(),
        4
    );
    assert!(storage.data_dir().join("tenants.db").exists());

    // Seeded once: a restart finds the same organisation and adds nothing.
    let storage = system.stop().await;
    let again = TestSystem::start_on(storage, &[("OHJAUS__DEMO__SEED", "true".into())]).await;
    let items: Vec<Value> =
        again.operator().get("/api/v1/organizations").await.body["items"].as_array().unwrap().clone();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["id"], org.as_str());
}

async fn data_survives_a_restart(backend: Backend) {
    let system = TestSystem::start(backend).await;
    let created = system.operator().post("/api/v1/organizations", registry("Pysyvä", BUSINESS_IDS[2])).await;
    assert_eq!(created.status, 201);
    let id = created.id();
    let storage = system.stop().await;
    let again = TestSystem::start_on(storage, &[]).await;
    let fetched = again.operator().get(&format!("/api/v1/organizations/{id}")).await;
    assert_eq!(fetched.status, 200);
    assert_eq!(fetched.body["official_name"], "Pysyvä");
}

/// Every service (`--target tenants,identity,workspaces,consent,forms,retention`) and `--target gateway` started apart talk over the network and answer
/// like `--target all`.
async fn split_targets_answer_like_one_process(backend: Backend) {
    let storage = Arc::new(Storage::new(backend).await);
    let clock = Arc::new(SystemClock);
    let tenants_settings = storage.settings(&[]);
    let tenants = ohjaus::start(
        &tenants_settings,
        Options {
            targets: Target::ALL.into_iter().filter(|t| t.serves_grpc()).collect(),
            clock: clock.clone(),
            migrate: true,
        },
        CancellationToken::new(),
    )
    .await
    .unwrap();
    assert!(tenants.gateway_addr.is_none());
    let address = format!("http://{}", tenants.grpc_addr.unwrap());
    let addresses: Vec<(String, String)> =
        Target::ALL.into_iter().filter(|t| t.serves_grpc()).map(|t| (t.address_variable(), address.clone())).collect();
    let gateway_settings =
        storage.settings(&addresses.iter().map(|(k, v)| (k.as_str(), v.clone())).collect::<Vec<_>>());
    let gateway = ohjaus::start(
        &gateway_settings,
        Options { targets: vec![Target::Gateway], clock, migrate: false },
        CancellationToken::new(),
    )
    .await
    .unwrap();
    assert!(gateway.grpc_addr.is_none());
    let base = format!("http://{}", gateway.gateway_addr.unwrap());
    let http = reqwest::Client::new();
    let auth = format!("Bearer {OPERATOR_TOKEN}");

    assert_eq!(http.get(format!("{base}/readyz")).send().await.unwrap().status(), 200);
    let created: Value = http
        .post(format!("{base}/api/v1/organizations"))
        .header("authorization", &auth)
        .json(&registry("Verkko", BUSINESS_IDS[3]))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = created["id"].as_str().unwrap().to_owned();
    let refused = http
        .post(format!("{base}/api/v1/organizations"))
        .header("authorization", &auth)
        .header("accept-language", "fi")
        .json(&registry("Verkko", "1234567-2"))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 422);
    let split_problem: Value = refused.json().await.unwrap();

    tenants.shutdown();
    gateway.shutdown();
    tenants.wait().await.unwrap();
    gateway.wait().await.unwrap();

    // The same data, served by one process, gives the same answers.
    let whole = TestSystem::start_on(storage, &[]).await;
    let fetched = whole.operator().get(&format!("/api/v1/organizations/{id}")).await;
    assert_eq!(fetched.body, created);
    let refused = whole.operator().language("fi").post("/api/v1/organizations", registry("Verkko", "1234567-2")).await;
    assert_eq!(refused.body["errors"], split_problem["errors"]);
    assert_eq!(refused.body["title"], split_problem["title"]);
}
