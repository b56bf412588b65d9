//! Login through the development identity provider (the real OpenID Connect connector talks to
//! it), sessions, CSRF, logout, and client credentials.

use chrono::Duration;
use ohjaus_integration_tests::{BUSINESS_IDS, Backend, Browser, TestSystem, registry};
use ohjaus_platform::proto::tenants::v1 as pb;
use serde_json::json;

const MAIJA_LOGIN: &str = "/auth/login/dev?intent=expert&login_hint=maija.paakayttaja";

on_both_backends!(
    experts_operators_and_customers_log_in_or_are_refused,
    session_timeouts_fixation_csrf_and_logout,
    login_answers_cannot_be_forged_or_replayed,
    integration_clients_get_tokens_by_client_credentials,
    every_login_outcome_is_audited_without_codes_or_tokens,
    a_login_finished_without_its_cookie_says_what_is_wrong,
);

/// An organisation whose experts are the development provider's Virtu users.
async fn demo_organisation(system: &TestSystem) -> String {
    let operator = system.operator();
    let org = operator.post("/api/v1/organizations", registry("Demo", BUSINESS_IDS[3])).await.id();
    let admin = operator
        .post(
            &format!("/api/v1/organizations/{org}/experts"),
            json!({"name": "Maija Pääkäyttäjä", "email": "maija@demo.fi", "virtu": {"home_organization": "demo.ohjaus.invalid", "local_id": "maija.paakayttaja"}, "roles": ["admin"]}),
        )
        .await;
    assert_eq!(admin.status, 201, "{:?}", admin.body);
    org
}

async fn experts_operators_and_customers_log_in_or_are_refused(backend: Backend) {
    let system = TestSystem::start(backend).await;
    let org = demo_organisation(&system).await;

    // A main user, through Virtu at the development provider, with no browser page.
    let mut maija = Browser::new(&system);
    let login = maija.login("expert", "maija.paakayttaja").await;
    assert_eq!(login.status, 303, "{:?}", login.body);
    assert_eq!(login.header("location"), Some("/app"));
    let session_cookie = login
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.starts_with("ohjaus_session="))
        .unwrap();
    for attribute in ["HttpOnly", "Secure", "SameSite=Lax"] {
        assert!(session_cookie.contains(attribute), "{attribute} missing: {session_cookie}");
    }
    let me = maija.get("/api/v1/me").await;
    assert_eq!(me.status, 200, "{:?}", me.body);
    assert_eq!(me.body["kind"], "expert");
    assert_eq!(me.body["name"], "Maija Pääkäyttäjä");
    assert_eq!(me.body["organizations"], json!([{"organization_id": org, "roles": ["admin"]}]));
    // The main user now works over HTTP with the session (and its CSRF token).
    let office = maija
        .send_with_csrf(
            reqwest::Method::POST,
            &format!("/api/v1/organizations/{org}/offices"),
            Some(json!({"name": "Asema"})),
        )
        .await;
    assert_eq!(office.status, 201, "{:?}", office.body);

    // The operator, listed in configuration.
    let mut operator = Browser::new(&system);
    assert_eq!(operator.login("expert", "operaattori").await.status, 303);
    let me = operator.get("/api/v1/me").await;
    assert_eq!(me.body["kind"], "operator");
    assert_eq!(operator.get("/api/v1/organizations").await.status, 200);

    // A Suomi.fi user with no account is told, in their language, and no account is made.
    for (language, expected) in [
        ("fi", "Sinulle ei ole avattu ohjaustilaa tässä palvelussa."),
        ("sv", "Inget vägledningsutrymme har skapats för dig i den här tjänsten."),
        ("en", "No workspace has been set up for you in this service."),
    ] {
        let mut tessa = Browser::new(&system);
        tessa.language = language;
        let refused = tessa.login("customer", "010280-952L").await;
        assert_eq!(refused.status, 403, "{:?}", refused.body);
        assert_eq!(refused.header("content-language"), Some(language));
        assert_eq!(refused.body["reason"], "no-workspace");
        assert!(refused.body["detail"].as_str().unwrap().starts_with(expected), "{:?}", refused.body);
        assert!(!tessa.cookies.contains_key("ohjaus_session"));
    }
    // Asked for a page, the refusal is a page.
    let mut page = Browser::new(&system);
    let start =
        page.request(reqwest::Method::GET, &system.url("/auth/login/dev?login_hint=010280-952L"), None, &[]).await;
    let at_provider = page.request(reqwest::Method::GET, start.header("location").unwrap(), None, &[]).await;
    let callback = page
        .request(reqwest::Method::GET, at_provider.header("location").unwrap(), None, &[("accept", "text/html".into())])
        .await;
    assert_eq!(callback.status, 403);
    assert!(callback.body.as_str().unwrap().contains("<html lang=\"en\""));

    // Once an invitation made an account, the same person logs in as a customer.
    let customer_id = system.ensure_customer("010280-952L").await;
    let mut tessa = Browser::new(&system);
    assert_eq!(tessa.login("customer", "010280-952L").await.status, 303);
    let me = tessa.get("/api/v1/me").await;
    assert_eq!(me.body["kind"], "customer");
    assert_eq!(me.body["id"], customer_id);
    assert_eq!(me.body["name"], "Tessa Testilä");
    // A customer is nobody in the tenants service.
    assert_eq!(tessa.get(&format!("/api/v1/organizations/{org}")).await.status, 404);

    // An unknown Virtu user, and an expert of a suspended organisation, are refused.
    let mut noora = Browser::new(&system);
    let refused = noora.login("expert", "noora.neuvoja").await;
    assert_eq!(refused.body["reason"], "unknown-expert");
    let etag = system.operator().get(&format!("/api/v1/organizations/{org}")).await.header("etag").unwrap().to_owned();
    assert_eq!(
        system
            .operator()
            .put(&format!("/api/v1/organizations/{org}/status"), json!({"status": "suspended"}), &etag)
            .await
            .status,
        200
    );
    let mut again = Browser::new(&system);
    assert_eq!(again.login("expert", "maija.paakayttaja").await.body["reason"], "suspended");
    // Her open session ends with the suspension, on the next request.
    assert_eq!(maija.get("/api/v1/me").await.status, 401);
}

async fn session_timeouts_fixation_csrf_and_logout(backend: Backend) {
    let system = TestSystem::start(backend).await;
    let org = demo_organisation(&system).await;

    // Fixation: a cookie planted before login is never adopted; each login gets a new id.
    let mut browser = Browser::new(&system);
    browser.cookies.insert("ohjaus_session".into(), "planted-by-an-attacker".into());
    assert_eq!(browser.login("expert", "maija.paakayttaja").await.status, 303);
    let first = browser.cookies["ohjaus_session"].clone();
    assert_ne!(first, "planted-by-an-attacker");
    assert!(first.len() >= 43, "256 bits, base64url");
    let mut planted = Browser::new(&system);
    planted.cookies.insert("ohjaus_session".into(), "planted-by-an-attacker".into());
    assert_eq!(planted.get("/api/v1/me").await.status, 401);
    let mut second = Browser::new(&system);
    second.login("expert", "maija.paakayttaja").await;
    assert_ne!(second.cookies["ohjaus_session"], first);

    // CSRF: an unsafe request with the session cookie but without the token is refused.
    let no_token = browser
        .request(
            reqwest::Method::POST,
            &system.url(&format!("/api/v1/organizations/{org}/offices")),
            Some(json!({"name": "X"})),
            &[],
        )
        .await;
    assert_eq!(no_token.status, 403);
    assert_eq!(no_token.body["type"], "urn:ohjaus:problem:csrf-rejected");
    let wrong_token = browser
        .request(
            reqwest::Method::POST,
            &system.url(&format!("/api/v1/organizations/{org}/offices")),
            Some(json!({"name": "X"})),
            &[("x-csrf-token", "guess".into())],
        )
        .await;
    assert_eq!(wrong_token.status, 403);
    assert_eq!(
        system.operator().get(&format!("/api/v1/organizations/{org}/offices")).await.body["items"],
        json!([]),
        "nothing was made"
    );

    // My sessions: both logins; ending the other one stops it at once.
    let sessions = browser.get("/api/v1/me/sessions").await;
    let list = sessions.body.as_array().unwrap().clone();
    assert_eq!(list.len(), 2, "{list:?}");
    let other = list.iter().find(|s| s["current"] == false).unwrap()["id"].as_str().unwrap().to_owned();
    assert_eq!(
        browser.send_with_csrf(reqwest::Method::DELETE, &format!("/api/v1/me/sessions/{other}"), None).await.status,
        204
    );
    assert_eq!(second.get("/api/v1/me").await.status, 401);
    // Another person's session is not found.
    let mut operator = Browser::new(&system);
    operator.login("expert", "operaattori").await;
    let mine = browser.get("/api/v1/me").await.body["session"]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        operator.send_with_csrf(reqwest::Method::DELETE, &format!("/api/v1/me/sessions/{mine}"), None).await.status,
        404
    );
    assert_eq!(browser.get("/api/v1/me").await.status, 200);

    // Idle timeout: 30 minutes without use ends it; use keeps it alive.
    system.clock.advance(Duration::minutes(29));
    assert_eq!(browser.get("/api/v1/me").await.status, 200);
    system.clock.advance(Duration::minutes(29));
    assert_eq!(browser.get("/api/v1/me").await.status, 200);
    system.clock.advance(Duration::minutes(31));
    assert_eq!(browser.get("/api/v1/me").await.status, 401, "idle for 31 minutes");

    // A live stream's periodic check (as the gateway makes it) is not use: an open page alone
    // does not keep an idle session alive.
    let mut watcher = Browser::new(&system);
    watcher.login("expert", "maija.paakayttaja").await;
    let session_token = watcher.cookies["ohjaus_session"].clone();
    let channel = tonic::transport::Endpoint::from_shared(system.grpc.clone()).unwrap().connect().await.unwrap();
    let mut identity =
        ohjaus_platform::proto::identity::v1::identity_service_client::IdentityServiceClient::new(channel);
    let check = |check_only: bool| {
        let mut request = tonic::Request::new(ohjaus_platform::proto::identity::v1::ResolveSessionRequest {
            session_token: session_token.clone(),
            check_only,
        });
        let token = format!(
            "Bearer {}",
            system.service_token(&ohjaus_platform::auth::Principal::Service { name: "gateway".into() })
        );
        request.metadata_mut().insert("authorization", token.parse().unwrap());
        request
    };
    system.clock.advance(Duration::minutes(20));
    assert!(identity.resolve_session(check(true)).await.is_ok(), "still live after 20 minutes");
    system.clock.advance(Duration::minutes(15));
    assert!(identity.resolve_session(check(true)).await.is_err(), "idle for 35 minutes despite the checks");
    assert_eq!(watcher.get("/api/v1/me").await.status, 401);

    // Absolute timeout: 12 hours after login, however busy.
    let mut busy = Browser::new(&system);
    busy.login("expert", "maija.paakayttaja").await;
    for _ in 0..28 {
        system.clock.advance(Duration::minutes(25));
        assert_eq!(busy.get("/api/v1/me").await.status, 200);
    }
    system.clock.advance(Duration::minutes(25));
    assert_eq!(busy.get("/api/v1/me").await.status, 401, "12 hours after login");

    // Logout needs the CSRF token, ends access immediately and gives the single-logout address.
    let mut leaving = Browser::new(&system);
    leaving.login("expert", "maija.paakayttaja").await;
    let cookie = leaving.cookies["ohjaus_session"].clone();
    assert_eq!(leaving.request(reqwest::Method::POST, &system.url("/auth/logout"), None, &[]).await.status, 403);
    let out = leaving.send_with_csrf(reqwest::Method::POST, "/auth/logout", None).await;
    assert_eq!(out.status, 200, "{:?}", out.body);
    let provider_logout = out.body["provider_logout_url"].as_str().unwrap().to_owned();
    assert!(provider_logout.contains("/logout?") && provider_logout.contains("post_logout_redirect_uri="));
    assert!(!leaving.cookies.contains_key("ohjaus_session"), "cookie cleared");
    let mut replay = Browser::new(&system);
    replay.cookies.insert("ohjaus_session".into(), cookie);
    assert_eq!(replay.get("/api/v1/me").await.status, 401, "the old cookie is dead");
    // The provider sends the browser back to us.
    let back = leaving.request(reqwest::Method::GET, &provider_logout, None, &[]).await;
    assert_eq!(back.status, 303);
    assert!(back.header("location").unwrap().starts_with(&system.url("/auth/logged-out")));
}

async fn login_answers_cannot_be_forged_or_replayed(backend: Backend) {
    let system = TestSystem::start(backend).await;
    demo_organisation(&system).await;
    let mut browser = Browser::new(&system);
    let callback = browser.callback_from(MAIJA_LOGIN).await;

    // A wrong state is refused and does not spend the real one.
    let forged_state = with_param_prefixed(&callback, "state=", "state=forged");
    assert_eq!(browser.request(reqwest::Method::GET, &forged_state, None, &[]).await.body["reason"], "expired");
    // Login CSRF: the answer opened in another browser (an attacker's link) is refused.
    let mut victim = Browser::new(&system);
    let planted = victim.request(reqwest::Method::GET, &callback, None, &[]).await;
    assert_eq!(planted.status, 403);
    assert_eq!(planted.body["reason"], "other-browser");
    assert!(!victim.cookies.contains_key("ohjaus_session"));

    let mut browser = Browser::new(&system);
    let callback = browser.callback_from(MAIJA_LOGIN).await;
    let first = browser.request(reqwest::Method::GET, &callback, None, &[]).await;
    assert_eq!(first.status, 303);
    // The same answer again (replay) is refused.
    let replayed = browser.request(reqwest::Method::GET, &callback, None, &[]).await;
    assert_eq!(replayed.status, 403);
    assert_eq!(replayed.body["reason"], "expired");

    let mut tamper = Browser::new(&system);
    let callback = tamper.callback_from(MAIJA_LOGIN).await;
    let tampered = with_param_prefixed(&callback, "code=", "code=x");
    assert_eq!(tamper.request(reqwest::Method::GET, &tampered, None, &[]).await.body["reason"], "invalid-response");

    // A login that took too long is refused.
    let mut slow = Browser::new(&system);
    let callback = slow.callback_from(MAIJA_LOGIN).await;
    system.clock.advance(Duration::minutes(11));
    assert_eq!(slow.request(reqwest::Method::GET, &callback, None, &[]).await.body["reason"], "expired");

    // The user cancelled at the provider.
    let mut cancel = Browser::new(&system);
    let start = cancel.request(reqwest::Method::GET, &system.url("/auth/login/dev?intent=expert"), None, &[]).await;
    let location = start.header("location").unwrap().to_owned();
    let state = url_param(&location, "state");
    let cancelled = cancel
        .request(
            reqwest::Method::GET,
            &system.url(&format!("/auth/callback/dev?state={state}&error=access_denied")),
            None,
            &[],
        )
        .await;
    assert_eq!(cancelled.body["reason"], "cancelled");
    // Without a login hint the provider shows its page of test identities.
    let page = cancel.request(reqwest::Method::GET, &location, None, &[]).await;
    assert_eq!(page.status, 200);
    let html = page.body.as_str().unwrap();
    for expected in ["Tessa Testilä (010280-952L)", "010675-9981", "040265-9985", "260991-999R", "maija.paakayttaja"] {
        assert!(html.contains(expected), "{expected} missing");
    }
    // An unknown provider is not found.
    assert_eq!(system.anonymous().get("/auth/login/nobody").await.status, 404);
}

fn url_param(url: &str, name: &str) -> String {
    url::Url::parse(url).unwrap().query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned()).unwrap()
}

/// The URL with `replacement`'s text put in front of the value of the parameter `prefix` names.
fn with_param_prefixed(url: &str, prefix: &str, replacement: &str) -> String {
    let mut parsed = url::Url::parse(url).unwrap();
    let name = prefix.trim_end_matches('=');
    let new_value = replacement.trim_start_matches(prefix);
    let pairs: Vec<(String, String)> = parsed
        .query_pairs()
        .map(
            |(k, v)| {
                if k == name { (k.into_owned(), format!("{new_value}{v}")) } else { (k.into_owned(), v.into_owned()) }
            },
        )
        .collect();
    parsed.query_pairs_mut().clear().extend_pairs(pairs);
    parsed.to_string()
}

async fn integration_clients_get_tokens_by_client_credentials(backend: Backend) {
    let system = TestSystem::start(backend).await;
    let org = demo_organisation(&system).await;
    let other = system.operator().post("/api/v1/organizations", registry("Muu", BUSINESS_IDS[0])).await.id();
    let mut maija = Browser::new(&system);
    maija.login("expert", "maija.paakayttaja").await;
    let created = maija
        .send_with_csrf(
            reqwest::Method::POST,
            &format!("/api/v1/organizations/{org}/integration-clients"),
            Some(json!({"name": "Järjestelmä", "scopes": ["tenants.read"]})),
        )
        .await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    let client_id = created.body["client"]["id"].as_str().unwrap().to_owned();
    let secret = created.body["secret"].as_str().unwrap().to_owned();
    let location = format!("/api/v1/organizations/{org}/integration-clients/{client_id}");
    assert_eq!(created.header("location"), Some(location.as_str()));

    let http = reqwest::Client::new();
    let token: serde_json::Value = http
        .post(system.url("/oauth/token"))
        .basic_auth(&client_id, Some(&secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(token["token_type"], "Bearer");
    assert_eq!(token["scope"], "tenants.read");
    assert!(token["expires_in"].as_i64().unwrap() > 0);
    let access = token["access_token"].as_str().unwrap().to_owned();
    let wrong = http
        .post(system.url("/oauth/token"))
        .basic_auth(&client_id, Some("wrong"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    assert_eq!(wrong.json::<serde_json::Value>().await.unwrap()["error"], "invalid_client");
    let grant = http.post(system.url("/oauth/token")).form(&[("grant_type", "password")]).send().await.unwrap();
    assert_eq!(grant.status(), 400);

    // Over HTTP: within scope and tenant only.
    let bearer = |path: &str| http.get(system.url(path)).bearer_auth(&access);
    assert_eq!(bearer(&format!("/api/v1/organizations/{org}/offices")).send().await.unwrap().status(), 200);
    assert_eq!(bearer(&format!("/api/v1/organizations/{other}")).send().await.unwrap().status(), 404);
    let write = http
        .post(system.url(&format!("/api/v1/organizations/{org}/offices")))
        .bearer_auth(&access)
        .json(&json!({"name": "Ei"}))
        .send()
        .await
        .unwrap();
    assert_eq!(write.status(), 403);

    // Over gRPC, with the same access token.
    let channel = tonic::transport::Endpoint::from_shared(system.grpc.clone()).unwrap().connect().await.unwrap();
    let header: tonic::metadata::MetadataValue<_> = format!("Bearer {access}").parse().unwrap();
    let mut grpc = pb::tenants_service_client::TenantsServiceClient::with_interceptor(
        channel,
        move |mut request: tonic::Request<()>| {
            request.metadata_mut().insert("authorization", header.clone());
            Ok(request)
        },
    );
    let offices =
        grpc.list_offices(pb::ListOfficesRequest { organization_id: org.clone(), ..Default::default() }).await;
    assert!(offices.is_ok(), "{offices:?}");
    let outside_tenant = grpc.get_organization(pb::GetOrganizationRequest { id: other }).await.unwrap_err();
    assert_eq!(outside_tenant.code(), tonic::Code::NotFound);
    // Refused outside its scope: the scope it lacks named, a message for a person in the
    // language of its `accept-language`, a generic English one as the status message.
    let mut in_swedish = tonic::Request::new(pb::CreateOfficeRequest {
        organization_id: org.clone(),
        name: "Ei".into(),
        request_id: String::new(),
    });
    in_swedish.metadata_mut().insert("accept-language", "sv-FI, en;q=0.5".parse().unwrap());
    let outside_scope = grpc.create_office(in_swedish).await.unwrap_err();
    assert_eq!(outside_scope.code(), tonic::Code::PermissionDenied);
    assert_eq!(outside_scope.message(), "Not allowed");
    let refusal = ohjaus_platform::error::Failure::from_status(&outside_scope);
    assert_eq!(refusal.missing_scope.as_deref(), Some("tenants.write"));
    {
        use tonic_types::StatusExt;
        let localized = outside_scope.get_details_localized_message().expect("a LocalizedMessage");
        assert_eq!(localized.locale, "sv");
        assert!(localized.message.starts_with("Inte tillåtet"), "{}", localized.message);
        assert!(localized.message.contains("tenants.write"), "{}", localized.message);
    }
    let over_http = http
        .post(system.url(&format!("/api/v1/organizations/{org}/offices")))
        .bearer_auth(&access)
        .header("accept-language", "fi")
        .json(&json!({"name": "Ei"}))
        .send()
        .await
        .unwrap();
    assert_eq!(over_http.status(), 403);
    let problem: serde_json::Value = over_http.json().await.unwrap();
    assert!(problem["detail"].as_str().unwrap().contains("tenants.write"), "{problem}");
    // A change it may not make is refused as such, before its (empty, invalid) body is read.
    let not_its_to_edit = grpc
        .update_organization(pb::UpdateOrganizationRequest { id: org.clone(), ..Default::default() })
        .await
        .unwrap_err();
    assert_eq!(not_its_to_edit.code(), tonic::Code::PermissionDenied, "{not_its_to_edit:?}");
    assert!(ohjaus_platform::error::Failure::from_status(&not_its_to_edit).violations.is_empty());
    // An access token does not speak for a service.
    let service_only = grpc
        .authenticate_integration_client(pb::AuthenticateIntegrationClientRequest {
            client_id: client_id.clone(),
            secret,
        })
        .await
        .unwrap_err();
    assert_eq!(service_only.code(), tonic::Code::PermissionDenied);

    // Revoked: its unexpired access token is refused on the very next call, over both faces.
    let revoked = maija.send_with_csrf(reqwest::Method::DELETE, &location, None).await;
    assert_eq!(revoked.status, 200, "{:?}", revoked.body);
    let started = std::time::Instant::now();
    let over_http = bearer(&format!("/api/v1/organizations/{org}/offices")).send().await.unwrap();
    assert_eq!(over_http.status(), 401, "revoked at once over HTTP");
    let over_grpc =
        grpc.list_offices(pb::ListOfficesRequest { organization_id: org.clone(), ..Default::default() }).await;
    assert_eq!(over_grpc.unwrap_err().code(), tonic::Code::Unauthenticated, "revoked at once over gRPC");
    let read = grpc.get_organization(pb::GetOrganizationRequest { id: org.clone() }).await.unwrap_err();
    assert_eq!(read.code(), tonic::Code::Unauthenticated);
    println!(
        "revocation: refused on the next call, {} ms after the revocation answered",
        started.elapsed().as_millis()
    );
}

async fn every_login_outcome_is_audited_without_codes_or_tokens(backend: Backend) {
    let system = TestSystem::start(backend).await;
    let org = demo_organisation(&system).await;
    let mut refused = Browser::new(&system);
    refused.login("customer", "010280-952L").await;
    let mut maija = Browser::new(&system);
    maija.login("expert", "maija.paakayttaja").await;
    let token = maija.cookies["ohjaus_session"].clone();
    let csrf = maija.csrf();
    maija.send_with_csrf(reqwest::Method::POST, "/auth/logout", None).await;

    let settings = system.storage.settings(&[]);
    let db = ohjaus_platform::db::Db::connect(&settings, "identity").await.unwrap();
    let rows = db
        .query("SELECT event, outcome, provider_id, principal_kind, tenant_ids, at FROM audit_log ORDER BY id")
        .fetch_all(&db)
        .await
        .unwrap();
    let entries: Vec<(String, String, String, Option<String>, String)> = rows
        .iter()
        .map(|r| {
            (
                r.get("event").unwrap(),
                r.get("outcome").unwrap(),
                r.get("provider_id").unwrap(),
                r.get("principal_kind").unwrap(),
                r.get("tenant_ids").unwrap(),
            )
        })
        .collect();
    assert!(entries.iter().any(|e| e.0 == "login" && e.1 == "refused:no-workspace" && e.2 == "dev"), "{entries:?}");
    assert!(
        entries.iter().any(|e| e.0 == "login" && e.1 == "success" && e.3.as_deref() == Some("expert") && e.4 == org),
        "{entries:?}"
    );
    assert!(entries.iter().any(|e| e.0 == "logout" && e.1 == "success"), "{entries:?}");
    let at: chrono::DateTime<chrono::Utc> = rows[0].get("at").unwrap();
    assert_eq!(at.timezone(), chrono::Utc);
    // Nothing anywhere in the identity database holds the code or a token.
    let everything = format!("{entries:?}");
    for secret in ["010280-952L", "010280", &token, &csrf] {
        assert!(!everything.contains(secret), "audit holds {secret}");
    }
    let customers: Vec<String> = db
        .query("SELECT identity_hash FROM customer_accounts")
        .fetch_all(&db)
        .await
        .unwrap()
        .iter()
        .map(|r| r.get("identity_hash").unwrap())
        .collect();
    assert!(customers.iter().all(|h| !h.contains("010280")));
    let hashes: Vec<String> = db
        .query("SELECT token_hash FROM sessions")
        .fetch_all(&db)
        .await
        .unwrap()
        .iter()
        .map(|r| r.get("token_hash").unwrap())
        .collect();
    assert!(!hashes.is_empty() && hashes.iter().all(|h| h != &token), "session tokens are stored hashed");
    db.close().await;
}

/// A browser that drops the login cookie (a client that keeps no `Secure` cookies on plain
/// http, or another browser) is told that the login was started elsewhere or has expired and
/// should be started again: in its language, with a reason of its own, not as a provider's
/// answer that did not verify. The login is spent and no session is made.
async fn a_login_finished_without_its_cookie_says_what_is_wrong(backend: Backend) {
    let system = TestSystem::start(backend).await;
    demo_organisation(&system).await;
    let expected = [
        ("en", "The login was started in another browser or has expired. Start again."),
        ("fi", "Kirjautuminen aloitettiin toisessa selaimessa tai se on vanhentunut. Aloita alusta."),
        ("sv", "Inloggningen påbörjades i en annan webbläsare eller har gått ut. Börja om."),
    ];
    for (language, detail) in expected {
        let mut browser = Browser::new(&system);
        browser.language = language;
        let callback = browser.callback_from(&format!("{MAIJA_LOGIN}&lang={language}")).await;
        assert!(browser.cookies.remove("ohjaus_login").is_some(), "the login sets its cookie");
        let refused = browser.request(reqwest::Method::GET, &callback, None, &[]).await;
        assert_eq!(refused.status, 403, "{:?}", refused.body);
        assert_eq!(refused.header("content-type"), Some("application/problem+json"));
        assert_eq!(refused.body["type"], "urn:ohjaus:problem:login-refused:other-browser");
        assert_eq!(refused.body["reason"], "other-browser");
        assert_eq!(refused.body["detail"], detail, "{language}");
        assert!(!browser.cookies.contains_key("ohjaus_session"));
        // Bringing the cookie back does not revive the spent login.
        let again = browser.request(reqwest::Method::GET, &callback, None, &[]).await;
        assert_eq!(again.status, 403);
    }
}
