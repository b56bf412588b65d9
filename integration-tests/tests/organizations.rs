//! The operator and main users manage organisations, offices, experts and clients.

use ohjaus_integration_tests::{BUSINESS_IDS, Backend, OPERATOR_TOKEN, TestSystem, expert, registry};
use ohjaus_platform::auth::Role;
use serde_json::json;
use uuid::Uuid;

on_both_backends!(
    operator_creates_an_organisation_and_invalid_input_stores_nothing,
    office_expert_and_suspension,
    updates_need_the_current_version,
    idempotent_creates_return_the_first_result,
    pagination_walks_every_item_once,
    integration_clients_act_within_scope_and_tenant,
);

async fn operator_creates_an_organisation_and_invalid_input_stores_nothing(backend: Backend) {
    let system = TestSystem::start(backend).await;
    let operator = system.operator();

    let mut bad = registry("Virheellinen", "1234567-2");
    bad["contact"]["email"] = json!("not-an-email");
    let refused = system.operator().language("fi").post("/api/v1/organizations", bad).await;
    assert_eq!(refused.status, 422, "{:?}", refused.body);
    assert_eq!(refused.header("content-type"), Some("application/problem+json"));
    assert_eq!(refused.header("content-language"), Some("fi"));
    assert_eq!(refused.body["type"], "urn:ohjaus:problem:invalid-argument");
    assert_eq!(refused.body["title"], "Pyynnössä on virheellisiä tietoja");
    let mut fields = refused.error_fields();
    fields.sort();
    assert_eq!(fields, ["business_id", "contact.email"]);
    let in_swedish =
        system.operator().language("sv-FI,fi;q=0.5").post("/api/v1/organizations", registry("X", "1234567-2")).await;
    assert_eq!(in_swedish.body["errors"][0]["message"], "Ogiltigt FO-nummer (till exempel 1234567-1).");
    assert_eq!(operator.get("/api/v1/organizations").await.body["items"], json!([]), "nothing stored");

    let created = operator.post("/api/v1/organizations", registry("Testikunta", BUSINESS_IDS[0])).await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    let id = created.id();
    assert_eq!(created.header("etag"), Some("\"1\""));
    assert_eq!(created.header("location"), Some(format!("/api/v1/organizations/{id}").as_str()));
    assert_eq!(created.body["status"], "active");
    assert_eq!(created.body["display_name"]["sv"], "Testikunta (sv)");

    let again = operator.post("/api/v1/organizations", registry("Toinen", BUSINESS_IDS[0])).await;
    assert_eq!(again.status, 409, "same business ID twice: {:?}", again.body);
    assert_eq!(again.error_fields(), ["business_id"]);

    let fetched = operator.get(&format!("/api/v1/organizations/{id}")).await;
    assert_eq!(fetched.status, 200);
    assert_eq!(fetched.body["business_id"], BUSINESS_IDS[0]);

    // The public profile needs no login and shows the controller's privacy links.
    let public = system.anonymous().get(&format!("/api/v1/public/organizations/{id}")).await;
    assert_eq!(public.status, 200);
    assert_eq!(public.body["privacy_notice_url"]["fi"], "https://example.fi/tietosuoja");
    assert_eq!(public.body["data_protection_officer"]["email"], "dpo@example.fi");
    assert!(public.body.get("contact").is_none(), "no contact person in the public profile");
    assert_eq!(system.anonymous().get(&format!("/api/v1/public/organizations/{}", Uuid::now_v7())).await.status, 404);

    // Without credentials, or with wrong ones, nothing.
    assert_eq!(system.anonymous().get("/api/v1/organizations").await.status, 401);
    let forged = system
        .anonymous()
        .send(reqwest::Method::GET, "/api/v1/organizations", None, &[("authorization", "Bearer nope".into())])
        .await;
    assert_eq!(forged.status, 401);
    // The scheme is case-insensitive (RFC 9110); a token without one is refused.
    let lower = [("authorization", format!("bearer {OPERATOR_TOKEN}"))];
    assert_eq!(system.anonymous().send(reqwest::Method::GET, "/api/v1/organizations", None, &lower).await.status, 200);
    let bare = [("authorization", OPERATOR_TOKEN.to_owned())];
    assert_eq!(system.anonymous().send(reqwest::Method::GET, "/api/v1/organizations", None, &bare).await.status, 401);
    // A token meant for calls between services does not open the public API.
    let operator_principal = ohjaus_platform::auth::Principal::Operator { subject: "x".into() };
    let internal = format!("Bearer {}", system.service_token(&operator_principal));
    let refused = system
        .anonymous()
        .send(reqwest::Method::GET, "/api/v1/organizations", None, &[("authorization", internal)])
        .await;
    assert_eq!(refused.status, 401);
}

async fn office_expert_and_suspension(backend: Backend) {
    let system = TestSystem::start(backend).await;
    let operator = system.operator();
    let org = operator.post("/api/v1/organizations", registry("Kunta", BUSINESS_IDS[1])).await.id();
    let tenant: Uuid = org.parse().unwrap();

    // The operator names the first main user, and may not give other roles.
    let guide_by_operator = operator
        .post(&format!("/api/v1/organizations/{org}/experts"), json!({"name": "Olli", "email": "olli@example.fi", "virtu": {"home_organization": "kunta.fi", "local_id": "olli"}, "roles": ["guide"]}))
        .await;
    assert_eq!(guide_by_operator.status, 422);
    let main_user = operator
        .post(&format!("/api/v1/organizations/{org}/experts"), json!({"name": "Maija", "email": "maija@example.fi", "virtu": {"home_organization": "kunta.fi", "local_id": "maija"}, "roles": ["admin"]}))
        .await;
    assert_eq!(main_user.status, 201, "{:?}", main_user.body);
    assert_eq!(main_user.body["roles"], json!(["admin"]));

    let admin = system.as_principal(&expert(tenant, &[Role::Admin]));
    let office = admin.post(&format!("/api/v1/organizations/{org}/offices"), json!({"name": "Keskusta"})).await;
    assert_eq!(office.status, 201, "{:?}", office.body);
    let guide = admin
        .post(
            &format!("/api/v1/organizations/{org}/experts"),
            json!({"name": "Olli Ohjaaja", "email": "olli@example.fi", "language": "sv", "virtu": {"home_organization": "kunta.fi", "local_id": "olli"}, "personal_identity_code": "010280-952L", "roles": ["guide", "advisor"]}),
        )
        .await;
    assert_eq!(guide.status, 201, "{:?}", guide.body);
    assert_eq!(guide.body["roles"], json!(["guide", "advisor"]));
    assert_eq!(guide.body["has_suomifi_link"], true);
    assert!(!guide.body.to_string().contains("952L"), "the identity code is never shown");
    let listed = admin.get(&format!("/api/v1/organizations/{org}/experts")).await;
    assert_eq!(listed.body["items"].as_array().unwrap().len(), 2);

    // A guide reads but does not administer.
    let as_guide = system.as_principal(&expert(tenant, &[Role::Guide]));
    assert_eq!(as_guide.get(&format!("/api/v1/organizations/{org}/offices")).await.status, 200);
    assert_eq!(
        as_guide.post(&format!("/api/v1/organizations/{org}/offices"), json!({"name": "Toinen"})).await.status,
        403
    );
    // A main user does not edit registry data or status.
    let etag = operator.get(&format!("/api/v1/organizations/{org}")).await.header("etag").unwrap().to_owned();
    assert_eq!(
        admin.put(&format!("/api/v1/organizations/{org}/status"), json!({"status": "suspended"}), &etag).await.status,
        403
    );

    let suspended =
        operator.put(&format!("/api/v1/organizations/{org}/status"), json!({"status": "suspended"}), &etag).await;
    assert_eq!(suspended.status, 200, "{:?}", suspended.body);
    assert_eq!(suspended.body["status"], "suspended");
    for (caller, path) in [
        (&admin, format!("/api/v1/organizations/{org}/experts")),
        (&admin, format!("/api/v1/organizations/{org}/offices")),
        (&as_guide, format!("/api/v1/organizations/{org}")),
    ] {
        let refused = caller.get(&path).await;
        assert_eq!(refused.status, 403, "{path}: {:?}", refused.body);
        assert_eq!(refused.body["type"], "urn:ohjaus:problem:organization-suspended");
    }
    assert_eq!(admin.post(&format!("/api/v1/organizations/{org}/offices"), json!({"name": "Uusi"})).await.status, 403);
    // Experts of a suspended organisation no longer see it in their list.
    assert_eq!(admin.get("/api/v1/organizations").await.body["items"], json!([]));
    // The operator still sees it, and the public profile says it is not active.
    assert_eq!(operator.get(&format!("/api/v1/organizations/{org}")).await.status, 200);
    assert_eq!(system.anonymous().get(&format!("/api/v1/public/organizations/{org}")).await.body["active"], false);
}

async fn updates_need_the_current_version(backend: Backend) {
    let system = TestSystem::start(backend).await;
    let operator = system.operator();
    let created = operator.post("/api/v1/organizations", registry("Versio", BUSINESS_IDS[2])).await;
    let org = created.id();
    let path = format!("/api/v1/organizations/{org}");

    let missing = operator.send(reqwest::Method::PUT, &path, Some(registry("Uusi nimi", BUSINESS_IDS[2])), &[]).await;
    assert_eq!(missing.status, 428);
    let updated = operator.put(&path, registry("Uusi nimi", BUSINESS_IDS[2]), "\"1\"").await;
    assert_eq!(updated.status, 200, "{:?}", updated.body);
    assert_eq!(updated.header("etag"), Some("\"2\""));
    let stale = operator.put(&path, registry("Vanha näkymä", BUSINESS_IDS[2]), "\"1\"").await;
    assert_eq!(stale.status, 412);
    assert_eq!(stale.body["type"], "urn:ohjaus:problem:version-mismatch");
    assert_eq!(operator.get(&path).await.body["official_name"], "Uusi nimi", "the stale write changed nothing");

    let tenant: Uuid = org.parse().unwrap();
    let admin = system.as_principal(&expert(tenant, &[Role::Admin]));
    let office = admin.post(&format!("{path}/offices"), json!({"name": "Asema"})).await;
    let office_path = format!("{path}/offices/{}", office.id());
    assert_eq!(admin.put(&office_path, json!({"name": "Asemanseutu"}), "\"1\"").await.status, 200);
    assert_eq!(admin.put(&office_path, json!({"name": "Torni"}), "\"1\"").await.status, 412);
    assert_eq!(admin.delete(&office_path).await.status, 204);
    assert_eq!(admin.delete(&office_path).await.status, 404);
}

async fn idempotent_creates_return_the_first_result(backend: Backend) {
    let system = TestSystem::start(backend).await;
    let operator = system.operator();
    let key = [("idempotency-key", "create-kunta-1".to_owned())];
    let first = operator
        .send(reqwest::Method::POST, "/api/v1/organizations", Some(registry("Kerta", BUSINESS_IDS[3])), &key)
        .await;
    let second = operator
        .send(reqwest::Method::POST, "/api/v1/organizations", Some(registry("Kerta", BUSINESS_IDS[3])), &key)
        .await;
    assert_eq!(first.status, 201);
    assert_eq!(second.status, 201, "{:?}", second.body);
    assert_eq!(first.id(), second.id());
    let different = operator
        .send(reqwest::Method::POST, "/api/v1/organizations", Some(registry("Toinen", BUSINESS_IDS[0])), &key)
        .await;
    assert_eq!(different.status, 422);
    assert_eq!(different.body["type"], "urn:ohjaus:problem:idempotency-key-reused");
    assert_eq!(operator.get("/api/v1/organizations").await.body["items"].as_array().unwrap().len(), 1);
}

async fn pagination_walks_every_item_once(backend: Backend) {
    let system = TestSystem::start(backend).await;
    let operator = system.operator();
    let org = operator.post("/api/v1/organizations", registry("Sivut", BUSINESS_IDS[0])).await.id();
    let admin = system.as_principal(&expert(org.parse().unwrap(), &[Role::Admin]));
    for i in 0..7 {
        assert_eq!(
            admin
                .post(&format!("/api/v1/organizations/{org}/offices"), json!({"name": format!("Toimipiste {i}")}))
                .await
                .status,
            201
        );
    }
    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    for _ in 0..10 {
        let path = match &token {
            Some(t) => format!("/api/v1/organizations/{org}/offices?page_size=3&page_token={t}"),
            None => format!("/api/v1/organizations/{org}/offices?page_size=3"),
        };
        let page = admin.get(&path).await;
        assert_eq!(page.status, 200);
        seen.extend(page.body["items"].as_array().unwrap().iter().map(|o| o["name"].as_str().unwrap().to_owned()));
        match page.body["next_page_token"].as_str() {
            Some(next) => token = Some(next.to_owned()),
            None => break,
        }
    }
    let expected: Vec<String> = (0..7).map(|i| format!("Toimipiste {i}")).collect();
    assert_eq!(seen, expected);
    assert_eq!(admin.get(&format!("/api/v1/organizations/{org}/offices?page_token=garbage")).await.status, 422);
    assert_eq!(admin.get(&format!("/api/v1/organizations/{org}/offices?page_size=1000")).await.status, 422);
}

async fn integration_clients_act_within_scope_and_tenant(backend: Backend) {
    let system = TestSystem::start(backend).await;
    let operator = system.operator();
    let org_a = operator.post("/api/v1/organizations", registry("A", BUSINESS_IDS[0])).await.id();
    let org_b = operator.post("/api/v1/organizations", registry("B", BUSINESS_IDS[1])).await.id();
    let admin = system.as_principal(&expert(org_a.parse().unwrap(), &[Role::Admin]));

    let bad_scope = admin
        .post(
            &format!("/api/v1/organizations/{org_a}/integration-clients"),
            json!({"name": "x", "scopes": ["everything"]}),
        )
        .await;
    assert_eq!(bad_scope.status, 422);
    let created = admin
        .post(
            &format!("/api/v1/organizations/{org_a}/integration-clients"),
            json!({"name": "Asiakastietojärjestelmä", "scopes": ["tenants.read"]}),
        )
        .await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    let client_id = created.body["client"]["id"].as_str().unwrap().to_owned();
    let secret = created.body["secret"].as_str().unwrap().to_owned();
    assert!(secret.len() >= 40);
    let listed = admin.get(&format!("/api/v1/organizations/{org_a}/integration-clients")).await;
    assert!(!listed.body.to_string().contains(&secret), "the secret is shown only once");

    let client = system.basic(&client_id, &secret);
    assert_eq!(client.get(&format!("/api/v1/organizations/{org_a}/offices")).await.status, 200);
    assert_eq!(
        client.post(&format!("/api/v1/organizations/{org_a}/offices"), json!({"name": "Ei"})).await.status,
        403,
        "outside its scope"
    );
    assert_eq!(client.get(&format!("/api/v1/organizations/{org_b}")).await.status, 404, "outside its tenant");
    assert_eq!(
        system.basic(&client_id, "wrong-secret").get(&format!("/api/v1/organizations/{org_a}")).await.status,
        401
    );

    let revoked = admin.delete(&format!("/api/v1/organizations/{org_a}/integration-clients/{client_id}")).await;
    assert_eq!(revoked.status, 200);
    assert!(revoked.body["revoked_at"].is_string());
    assert_eq!(client.get(&format!("/api/v1/organizations/{org_a}/offices")).await.status, 401, "revoked at once");

    // `tenants.write` manages experts but makes no main user: that takes `tenants.admin`.
    let make_client = |scopes: serde_json::Value| {
        let admin = &admin;
        let org_a = org_a.clone();
        async move {
            let made = admin
                .post(
                    &format!("/api/v1/organizations/{org_a}/integration-clients"),
                    json!({"name": "HR", "scopes": scopes}),
                )
                .await;
            assert_eq!(made.status, 201, "{:?}", made.body);
            (made.body["client"]["id"].as_str().unwrap().to_owned(), made.body["secret"].as_str().unwrap().to_owned())
        }
    };
    let expert = |id: &str, roles: serde_json::Value| {
        json!({"name": format!("Henkilö {id}"), "email": format!("{id}@example.fi"),
               "virtu": {"home_organization": "kunta.fi", "local_id": id}, "roles": roles})
    };
    let experts = format!("/api/v1/organizations/{org_a}/experts");
    let (writer_id, writer_secret) = make_client(json!(["tenants.read", "tenants.write"])).await;
    let writer = system.basic(&writer_id, &writer_secret);
    let guide = writer.post(&experts, expert("ohjaaja", json!(["guide"]))).await;
    assert_eq!(guide.status, 201, "{:?}", guide.body);
    let refused = writer.post(&experts, expert("uusi-paakayttaja", json!(["guide", "admin"]))).await;
    assert_eq!(refused.status, 403, "{:?}", refused.body);
    assert!(refused.body["detail"].as_str().unwrap().contains("tenants.admin"), "{:?}", refused.body);
    let guide_id = guide.body["id"].as_str().unwrap();
    let etag = format!("\"{}\"", guide.body["version"]);
    let promote = writer.put(&format!("{experts}/{guide_id}/roles"), json!({"roles": ["guide", "admin"]}), &etag).await;
    assert_eq!(promote.status, 403, "no promotion to main user: {:?}", promote.body);
    let (admin_client_id, admin_client_secret) =
        make_client(json!(["tenants.read", "tenants.write", "tenants.admin"])).await;
    let with_admin_scope = system.basic(&admin_client_id, &admin_client_secret);
    let main_user = with_admin_scope.post(&experts, expert("uusi-paakayttaja", json!(["admin"]))).await;
    assert_eq!(main_user.status, 201, "{:?}", main_user.body);
    let main_user_id = main_user.body["id"].as_str().unwrap();
    assert_eq!(writer.delete(&format!("{experts}/{main_user_id}")).await.status, 403, "nor the removal of one");
}
