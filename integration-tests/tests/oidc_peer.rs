//! The OpenID Connect connector against a third-party, certified OpenID provider (npm
//! `oidc-provider`): login of customers and experts with RS256 ID tokens from its JWKS, the
//! level of assurance, cancellation, and single logout through the browser.

use std::sync::Arc;

use ohjaus_integration_tests::{BUSINESS_IDS, Backend, Browser, OidcPeer, Storage, TestSystem, registry};
use serde_json::json;

on_both_backends!(logs_in_and_out_through_a_third_party_openid_provider);

async fn logs_in_and_out_through_a_third_party_openid_provider(backend: Backend) {
    let port = OidcPeer::port();
    let settings = OidcPeer::settings(port);
    let system = TestSystem::start_on(Arc::new(Storage::new(backend).await), &settings).await;
    let _peer = OidcPeer::start(port, &system).await;
    let providers = system.anonymous().get("/auth/providers").await;
    assert!(providers.body.as_array().unwrap().iter().any(|p| p["id"] == "peer"), "{:?}", providers.body);

    // A customer with an account.
    system.ensure_customer("010280-952L").await;
    let mut tessa = Browser::new(&system);
    let login = tessa.follow(&system.url("/auth/login/peer?intent=customer&login_hint=tessa&return_to=/app")).await;
    assert_eq!(login.status, 303, "{:?}", login.body);
    let me = tessa.get("/api/v1/me").await;
    assert_eq!(me.body["kind"], "customer", "{:?}", me.body);
    assert_eq!(me.body["name"], "Tessa Testilä");
    assert_eq!(me.body["session"]["provider"], "peer");

    // An expert by Virtu attributes.
    let operator = system.operator();
    let org = operator.post("/api/v1/organizations", registry("Peer", BUSINESS_IDS[1])).await.id();
    let added = operator
        .post(
            &format!("/api/v1/organizations/{org}/experts"),
            json!({"name": "Maija", "email": "maija@demo.fi", "virtu": {"home_organization": "demo.ohjaus.invalid", "local_id": "maija.paakayttaja"}, "roles": ["admin"]}),
        )
        .await;
    assert_eq!(added.status, 201);
    let mut maija = Browser::new(&system);
    assert_eq!(maija.follow(&system.url("/auth/login/peer?intent=expert&login_hint=maija")).await.status, 303);
    assert_eq!(maija.get("/api/v1/me").await.body["organizations"][0]["roles"], json!(["admin"]));

    // Too weak a level of assurance is refused; so is a login the user cancels.
    let mut weak = Browser::new(&system);
    let refused = weak.follow(&system.url("/auth/login/peer?intent=customer&login_hint=weak")).await;
    assert_eq!(refused.status, 403);
    assert_eq!(refused.body["reason"], "insufficient-assurance");
    let mut nobody = Browser::new(&system);
    assert_eq!(
        nobody.follow(&system.url("/auth/login/peer?intent=customer&login_hint=nobody")).await.body["reason"],
        "cancelled"
    );

    // Single logout: here first, then at the provider, which returns the browser to us.
    let out = tessa.send_with_csrf(reqwest::Method::POST, "/auth/logout", None).await;
    assert_eq!(out.status, 200);
    let at_provider = out.body["provider_logout_url"].as_str().unwrap().to_owned();
    assert!(at_provider.starts_with(&format!("http://127.0.0.1:{port}/")), "{at_provider}");
    let page = tessa.request(reqwest::Method::GET, &at_provider, None, &[]).await;
    assert_eq!(page.status, 200);
    let html = page.body.as_str().unwrap().to_owned();
    let xsrf = html
        .split("name=\"xsrf\" value=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .expect("the provider's logout form")
        .to_owned();
    let action = html.split("action=\"").nth(1).and_then(|r| r.split('"').next()).unwrap().to_owned();
    let action = if action.starts_with('/') { format!("http://127.0.0.1:{port}{action}") } else { action };
    let confirmed = tessa.post_form(&action, &[("xsrf", &xsrf), ("logout", "yes")]).await;
    assert_eq!(confirmed.status, 303, "{:?}", confirmed.body);
    assert!(confirmed.header("location").unwrap().starts_with(&system.url("/auth/logged-out")));
    assert_eq!(tessa.get("/api/v1/me").await.status, 401);
    // A new login works after single logout.
    let again = tessa.follow(&system.url("/auth/login/peer?intent=customer&login_hint=tessa")).await;
    assert_eq!(again.status, 303);
}
