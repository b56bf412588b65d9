//! The SAML 2.0 connector against a third-party SAML identity provider (PyPI `pysaml2`):
//! signed AuthnRequests, signed and encrypted assertions, both certificates of a key
//! rotation, single logout in both directions, and one test per flaw an answer can have.

use std::sync::Arc;

use chrono::Duration;
use ohjaus_integration_tests::{
    BUSINESS_IDS, Backend, Browser, SAML_PROVIDER, SamlPeer, Storage, TestSystem, registry,
};
use serde_json::json;

async fn system_with_peer(backend: Backend) -> (TestSystem, SamlPeer) {
    let peer = SamlPeer::start().await;
    let system = TestSystem::start_on(Arc::new(Storage::new(backend).await), &peer.settings()).await;
    peer.register(&system).await;
    (system, peer)
}

/// Audit outcomes of one event kind, oldest first.
async fn audit_outcomes(system: &TestSystem, event: &str) -> Vec<String> {
    let db = ohjaus_platform::db::Db::connect(&system.storage.settings(&[]), "identity").await.unwrap();
    let rows = db
        .query("SELECT outcome FROM audit_log WHERE event = $1 ORDER BY id")
        .bind(event.to_owned())
        .fetch_all(&db)
        .await
        .unwrap();
    rows.iter().map(|r| r.get::<String>("outcome").unwrap()).collect()
}

on_both_backends!(logs_in_and_out_through_a_third_party_saml_provider, flawed_saml_answers_are_refused);

async fn logs_in_and_out_through_a_third_party_saml_provider(backend: Backend) {
    let (system, peer) = system_with_peer(backend).await;
    let providers = system.anonymous().get("/auth/providers").await;
    assert!(
        providers.body.as_array().unwrap().iter().any(|p| p["id"] == SAML_PROVIDER && p["protocol"] == "saml"),
        "{:?}",
        providers.body
    );
    let metadata = reqwest::get(system.url("/auth/saml/metadata/suomifi")).await.unwrap();
    assert_eq!(metadata.headers()["content-type"], "application/samlmetadata+xml");
    let metadata = metadata.text().await.unwrap();
    for part in
        ["AuthnRequestsSigned=\"true\"", "use=\"encryption\"", "/auth/saml/acs/suomifi", "/auth/saml/slo/suomifi"]
    {
        assert!(metadata.contains(part), "{part} missing from {metadata}");
    }

    // A customer with an account; the provider checked our AuthnRequest's signature.
    system.ensure_customer("010280-952L").await;
    let mut tessa = Browser::new(&system);
    let login = tessa.saml_login("customer").await;
    assert_eq!(login.status, 303, "{:?}", login.body);
    assert_eq!(login.header("location"), Some("/app"));
    let me = tessa.get("/api/v1/me").await;
    assert_eq!(me.body["kind"], "customer", "{:?}", me.body);
    assert_eq!(me.body["name"], "Tessa Testilä");
    assert_eq!(me.body["session"]["provider"], SAML_PROVIDER);

    // A Suomi.fi user without an account is told no workspace has been set up.
    peer.next("nordea", "new", "none").await;
    let mut stranger = Browser::new(&system);
    stranger.language = "fi";
    let refused = stranger.saml_login("customer").await;
    assert_eq!(refused.status, 403);
    assert_eq!(refused.body["reason"], "no-workspace");
    assert_eq!(refused.header("content-language"), Some("fi"));

    // An expert by Virtu attributes, signed with the older of the provider's two keys.
    let operator = system.operator();
    let org = operator.post("/api/v1/organizations", registry("Saml", BUSINESS_IDS[2])).await.id();
    let added = operator
        .post(
            &format!("/api/v1/organizations/{org}/experts"),
            json!({"name": "Maija", "email": "maija@demo.fi", "virtu": {"home_organization": "demo.ohjaus.invalid", "local_id": "maija.paakayttaja"}, "roles": ["admin"]}),
        )
        .await;
    assert_eq!(added.status, 201);
    peer.next("maija", "old", "none").await;
    let mut maija = Browser::new(&system);
    assert_eq!(maija.saml_login("expert").await.status, 303);
    assert_eq!(maija.get("/api/v1/me").await.body["organizations"][0]["roles"], json!(["admin"]));

    // Single logout started here: our signed LogoutRequest, the provider's signed answer.
    let out = tessa.send_with_csrf(reqwest::Method::POST, "/auth/logout", None).await;
    assert_eq!(out.status, 200);
    let at_provider = out.body["provider_logout_url"].as_str().unwrap().to_owned();
    assert!(at_provider.starts_with(&format!("{}/slo?SAMLRequest=", peer.base)), "{at_provider}");
    assert!(at_provider.contains("&Signature="), "{at_provider}");
    let page = tessa.follow(&at_provider).await;
    assert_eq!(page.status, 200, "{:?}", page.body);
    assert!(page.body.as_str().unwrap().contains("You have logged out"), "{:?}", page.body);
    assert_eq!(tessa.get("/api/v1/me").await.status, 401);

    // Single logout started at the provider: Maija's session here ends at once, not only
    // the cookies of the browser that brought the message.
    let session_cookies = maija.cookies.clone();
    let done = maija.follow(&peer.idp_logout_url()).await;
    assert_eq!(done.status, 200, "{:?}", done.body);
    maija.cookies = session_cookies;
    assert_eq!(maija.get("/api/v1/me").await.status, 401);
    let answer = peer.last_logout_response().await;
    assert_eq!(answer["status"], "urn:oasis:names:tc:SAML:2.0:status:Success", "{answer}");

    let outcomes = audit_outcomes(&system, "single-logout").await;
    assert_eq!(outcomes, ["success:sp-initiated", "success:idp-initiated"]);

    // A logout message that is not signed by the provider changes nothing.
    let mut again = Browser::new(&system);
    assert_eq!(again.saml_login("expert").await.status, 303);
    let forged =
        again.get("/auth/saml/slo/suomifi?SAMLRequest=fVLLbsIwELz3K6zcQx4QoBYgIapKSC0HqHropXLsTWLVsS2vQ%3D").await;
    assert_eq!(forged.status, 422, "{:?}", forged.body);
    assert_eq!(again.get("/api/v1/me").await.status, 200);
}

async fn flawed_saml_answers_are_refused(backend: Backend) {
    let (system, peer) = system_with_peer(backend).await;
    system.ensure_customer("010280-952L").await;

    // Each flaw on its own, refused by the check meant for it (the audit names the check).
    for (flaw, check) in [
        ("unsigned", "signature"),
        ("sha1", "signature"),
        ("unencrypted", "the assertion was not encrypted"),
        ("tampered", "signature"),
        ("foreign-key", "signature"),
        ("wrong-audience", "audience"),
        ("wrong-recipient", "no bearer confirmation for this recipient and time"),
        ("wrong-in-response-to", "InResponseTo"),
    ] {
        peer.next("tessa", "new", flaw).await;
        let mut browser = Browser::new(&system);
        let refused = browser.saml_login("customer").await;
        assert_eq!(refused.status, 403, "{flaw}: {:?}", refused.body);
        assert_eq!(refused.body["reason"], "invalid-response", "{flaw}");
        assert!(!browser.cookies.contains_key("ohjaus_session"), "{flaw}");
        let outcomes = audit_outcomes(&system, "login").await;
        assert_eq!(outcomes.last().unwrap(), &format!("refused:invalid-response:{check}"), "{flaw}");
    }
    peer.next("tessa", "new", "low-assurance").await;
    let refused = Browser::new(&system).saml_login("customer").await;
    assert_eq!(refused.body["reason"], "insufficient-assurance");
    peer.next("bad-code", "new", "none").await;
    assert_eq!(Browser::new(&system).saml_login("customer").await.body["reason"], "invalid-response");
    assert_eq!(
        audit_outcomes(&system, "login").await.last().unwrap(),
        "refused:invalid-response:the personal identity code does not validate"
    );

    // Expired: the answer is posted after its validity (clock moved past NotOnOrAfter).
    peer.next("tessa", "new", "none").await;
    let mut late = Browser::new(&system);
    let form = late.saml_form("customer").await;
    system.clock.advance(Duration::minutes(9));
    let refused = late.post_saml(&form).await;
    assert_eq!(refused.status, 403);
    assert_eq!(refused.body["reason"], "invalid-response");
    assert_eq!(audit_outcomes(&system, "login").await.last().unwrap(), "refused:invalid-response:expired");
    // Back to the provider's time for the rest.
    system.clock.advance(Duration::minutes(-9));

    // Replayed: a used answer is refused the second time, whoever brings it.
    let mut first = Browser::new(&system);
    let form = first.saml_form("customer").await;
    assert_eq!(first.post_saml(&form).await.status, 303);
    let replay = first.post_saml(&form).await;
    assert_eq!(replay.status, 403);
    assert_eq!(audit_outcomes(&system, "login").await.last().unwrap(), "refused:replayed");

    // Wrong state (RelayState), and an answer finished in another browser (login CSRF).
    let mut victim = Browser::new(&system);
    let mut form = victim.saml_form("customer").await;
    let relay_state = std::mem::replace(&mut form.relay_state, "forged-state".into());
    assert_eq!(victim.post_saml(&form).await.status, 403);
    let mut attacker = Browser::new(&system);
    let mut form = attacker.saml_form("customer").await;
    form.relay_state = relay_state;
    let mut other = Browser::new(&system);
    let refused = other.post_saml(&form).await;
    assert_eq!(refused.status, 403);
    assert!(!other.cookies.contains_key("ohjaus_session"));
}
