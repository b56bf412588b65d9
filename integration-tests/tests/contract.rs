//! The API contract: what `/openapi.json` says is what the server does. Answers validate
//! against their documented schemas; `If-Match` is an entity tag (`*` where any version will
//! do); a body that is all optional may be left out; a page is 1–100 items; an id has one
//! spelling, in paths, queries and bodies alike.

use std::sync::Arc;

use ohjaus_integration_tests::{BUSINESS_IDS, Backend, Reply, Storage, TestSystem, registry};
use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::support::{EXPERTS, items, join, list_in_directory, logged_in, open_workspace, organisation_with, send};

on_both_backends!(a_main_user_closes_with_if_match_any);

/// The schema `doc` gives the answer of `method path` with `status`.
fn documented_schema(doc: &Value, method: &str, path: &str, status: u16) -> Value {
    let response = &doc["paths"][path][method]["responses"][status.to_string()];
    assert!(!response.is_null(), "{method} {path} does not document {status}");
    let content = response["content"].as_object().unwrap_or_else(|| panic!("{method} {path} {status}: no content"));
    let (_, media) = content.iter().next().unwrap();
    media["schema"].clone()
}

/// Asserts that `reply` is documented for `method path` and its body validates against the
/// documented schema (JSON Schema 2020-12, as OpenAPI 3.1 has it; formats checked).
fn assert_conforms(doc: &Value, method: &str, path: &str, reply: &Reply) {
    let schema = documented_schema(doc, method, path, reply.status);
    let root = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$ref": "#/$defs/answer",
        "$defs": {"answer": schema},
        "components": doc["components"],
    });
    let validator = jsonschema::options().should_validate_formats(true).build(&root).expect("a valid schema");
    let errors: Vec<String> =
        validator.iter_errors(&reply.body).map(|e| format!("{} at {}", e, e.instance_path)).collect();
    assert!(errors.is_empty(), "{method} {path} {}: {errors:#?}\n{}", reply.status, reply.body);
}

fn assert_problem(reply: &Reply, status: u16, field: &str, reason: &str) {
    assert_eq!(reply.status, status, "{:?}", reply.body);
    assert_eq!(reply.header("content-type"), Some("application/problem+json"));
    assert_eq!(reply.body["errors"][0]["field"], field, "{:?}", reply.body);
    assert_eq!(reply.body["errors"][0]["reason"], reason, "{:?}", reply.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn organisations_validate_against_their_documented_schema() {
    let system = TestSystem::start(Backend::Embedded).await;
    let operator = system.operator();
    let doc = system.anonymous().get("/openapi.json").await.body;

    let created = operator.post("/api/v1/organizations", registry("Sopimus", BUSINESS_IDS[0])).await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    assert_conforms(&doc, "post", "/organizations", &created);
    let id = created.id();
    let path = format!("/api/v1/organizations/{id}");
    assert_conforms(&doc, "get", "/organizations/{id}", &operator.get(&path).await);
    assert_conforms(&doc, "get", "/organizations", &operator.get("/api/v1/organizations").await);
    let updated = operator.put(&path, registry("Sopimus 2", BUSINESS_IDS[0]), "\"1\"").await;
    assert_eq!(updated.status, 200, "{:?}", updated.body);
    assert_conforms(&doc, "put", "/organizations/{id}", &updated);
    // The request's registry stays closed: a field it does not name is refused.
    let mut extra = registry("Sopimus 3", BUSINESS_IDS[0]);
    extra["id"] = json!(id);
    let refused = operator.put(&path, extra, "\"2\"").await;
    assert_eq!(refused.status, 400, "{:?}", refused.body);
    assert_conforms(&doc, "put", "/organizations/{id}", &refused);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn if_match_is_an_entity_tag() {
    let system = TestSystem::start(Backend::Embedded).await;
    let operator = system.operator();
    let doc = system.anonymous().get("/openapi.json").await.body;
    let id = operator.post("/api/v1/organizations", registry("Versio", BUSINESS_IDS[0])).await.id();
    let path = format!("/api/v1/organizations/{id}");

    // The version without its quotes is no entity tag: 400 saying how to send it, not a false
    // "someone else changed this".
    for unquoted in ["1", "W/\"1\"", "\"1\", \"2\""] {
        let refused = system.operator().language("en").put(&path, registry("Versio", BUSINESS_IDS[0]), unquoted).await;
        assert_problem(&refused, 400, "If-Match", "invalid-if-match");
        assert!(refused.body["errors"][0]["message"].as_str().unwrap().contains("\"3\""), "{:?}", refused.body);
        assert_conforms(&doc, "put", "/organizations/{id}", &refused);
    }
    // `*` (any version) is for operations that can do without the version read; not this one.
    let any = operator.put(&path, registry("Versio", BUSINESS_IDS[0]), "*").await;
    assert_problem(&any, 400, "If-Match", "if-match-any-refused");
    // A well-formed tag of another version is a failed precondition, as before.
    let stale = operator.put(&path, registry("Versio", BUSINESS_IDS[0]), "\"2\"").await;
    assert_eq!(stale.status, 412, "{:?}", stale.body);
    assert_conforms(&doc, "put", "/organizations/{id}", &stale);
    let missing = operator.send(Method::PUT, &path, Some(registry("Versio", BUSINESS_IDS[0])), &[]).await;
    assert_eq!(missing.status, 428, "{:?}", missing.body);
    let done = operator.put(&path, registry("Versio", BUSINESS_IDS[0]), "\"1\"").await;
    assert_eq!(done.status, 200, "{:?}", done.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_are_1_to_100_and_ids_have_one_spelling() {
    let system = TestSystem::start(Backend::Embedded).await;
    let operator = system.operator();
    let doc = system.anonymous().get("/openapi.json").await.body;
    let org = organisation_with(&system, BUSINESS_IDS[0], &EXPERTS).await;

    for size in ["0", "101", "-1"] {
        let refused = operator.get(&format!("/api/v1/organizations?page_size={size}")).await;
        assert_problem(&refused, 422, "page_size", "invalid-page-size");
        assert_conforms(&doc, "get", "/organizations", &refused);
    }
    let mut olli = logged_in(&system, "expert", "olli.ohjaaja").await;
    let refused = olli.get("/api/v1/notifications?page_size=0").await;
    assert_problem(&refused, 422, "page_size", "invalid-page-size");
    // Refused with the request's other violations, all at once.
    let both = olli.get("/api/v1/directory/experts?organization_id=nonsense&page_size=0").await;
    let mut fields = both.error_fields();
    fields.sort();
    assert_eq!((both.status, fields), (422, vec!["organization_id".to_owned(), "page_size".to_owned()]));
    let not_a_number = operator.get("/api/v1/organizations?page_size=ten").await;
    assert_eq!(not_a_number.status, 400, "{:?}", not_a_number.body);
    assert_conforms(&doc, "get", "/organizations", &not_a_number);
    assert_eq!(items(&operator.get("/api/v1/organizations?page_size=1").await).len(), 1);
    assert_eq!(items(&operator.get("/api/v1/organizations?page_size=100").await).len(), 1);
    let spec = &doc["paths"]["/organizations"]["get"]["parameters"];
    let page_size = spec.as_array().unwrap().iter().find(|p| p["name"] == "page_size").unwrap();
    assert_eq!((&page_size["schema"]["minimum"], &page_size["schema"]["maximum"]), (&json!(1), &json!(100)));

    // An id is its hyphenated form only (either case); other spellings name nothing.
    let id = org.uuid();
    let canonical = operator.get(&format!("/api/v1/organizations/{}", id.hyphenated())).await;
    assert_eq!(canonical.status, 200);
    let upper = operator.get(&format!("/api/v1/organizations/{}", id.hyphenated().to_string().to_uppercase())).await;
    assert_eq!(upper.status, 200);
    let aliases = [id.simple().to_string(), id.braced().to_string(), id.urn().to_string()];
    let escaped = |alias: &str| alias.replace('{', "%7B").replace('}', "%7D");
    for alias in &aliases {
        let not_found = operator.get(&format!("/api/v1/organizations/{}", escaped(alias))).await;
        assert_eq!(not_found.status, 404, "{alias}: {:?}", not_found.body);
        let office = Uuid::parse_str(&org.office).unwrap();
        let alias_of_office = [office.simple().to_string(), office.braced().to_string(), office.urn().to_string()];
        for office_alias in alias_of_office {
            let path = format!("/api/v1/organizations/{id}/offices/{}", escaped(&office_alias));
            let not_found = operator.send(Method::DELETE, &path, None, &[]).await;
            assert_eq!(not_found.status, 404, "{office_alias}: {:?}", not_found.body);
        }
        // In a body or a query, an id in another spelling is an invalid value of that field.
        let input = json!({"organization_id": alias, "office_id": org.office, "kind": "personal", "title": "T"});
        let refused = send(&mut olli, Method::POST, "/api/v1/workspaces", Some(input), None).await;
        assert_problem(&refused, 422, "organization_id", "invalid-id");
        assert_conforms(&doc, "post", "/workspaces", &refused);
        let refused = olli.get(&format!("/api/v1/directory/experts?organization_id={}", escaped(alias))).await;
        assert_problem(&refused, 422, "organization_id", "invalid-id");
    }
    let input = json!({"organization_id": org.id, "office_id": org.office, "kind": "personal", "title": "T"});
    let created = send(&mut olli, Method::POST, "/api/v1/workspaces", Some(input), None).await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    assert_conforms(&doc, "post", "/workspaces", &created);
    let id_format = &doc["paths"]["/organizations/{id}"]["get"]["parameters"][0]["schema"]["format"];
    assert_eq!(id_format, "uuid");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_all_optional_body_may_be_left_out() {
    let storage = Arc::new(Storage::new(Backend::Embedded).await);
    let system = TestSystem::start_on(storage.clone(), &[]).await;
    let doc = system.anonymous().get("/openapi.json").await.body;
    let a = organisation_with(&system, BUSINESS_IDS[0], &EXPERTS).await;
    let b = organisation_with(&system, BUSINESS_IDS[1], &[("Ville Valvoja", "ville.valvoja", "guide")]).await;
    list_in_directory(&system, &b, "ville.valvoja").await;
    let mut olli = logged_in(&system, "expert", "olli.ohjaaja").await;
    let workspace = open_workspace(
        &mut olli,
        json!({"organization_id": a.id, "office_id": a.office, "kind": "personal", "title": "Ilman runkoa"}),
    )
    .await
    .id();
    let mut tessa = join(&system, &storage, &mut olli, &workspace, "010280-952L", "tessa@example.fi").await;
    let members = olli.get(&format!("/api/v1/workspaces/{workspace}/members")).await;
    let tessa_id = items(&members).iter().find(|m| m["kind"] == "customer").unwrap()["id"].as_str().unwrap().to_owned();
    let proposal = json!({"customer_id": tessa_id, "expert_id": b.person("ville.valvoja"),
        "expert_organization_id": b.id, "purpose": "Yhteistyö", "language": "fi"});
    let consents = format!("/api/v1/workspaces/{workspace}/consents");
    let proposed = send(&mut olli, Method::POST, &consents, Some(proposal), None).await;
    assert_eq!(proposed.status, 201, "{:?}", proposed.body);
    // Accepting has nothing it must say: no body at all is `{}`.
    let accept = format!("/api/v1/consents/{}/accept", proposed.id());
    let bodiless = send(&mut tessa, Method::POST, &accept, None, Some("\"1\"")).await;
    assert_eq!(bodiless.status, 200, "{:?}", bodiless.body);
    assert_eq!(bodiless.body["state"], "accepted");
    assert_conforms(&doc, "post", "/consents/{request}/accept", &bodiless);
    let body = &doc["paths"]["/consents/{request}/accept"]["post"]["requestBody"];
    assert_ne!(body["required"], json!(true), "{body}");

    // Marking notifications read: no body, `{}`, `null` and an empty body of any type are all
    // "all of mine"; a body that is there is JSON of the right shape.
    let read = "/api/v1/notifications/read";
    let url = system.url(read);
    for body in [None, Some(json!({})), Some(Value::Null)] {
        let marked = send(&mut tessa, Method::POST, read, body.clone(), None).await;
        assert_eq!(marked.status, 200, "{body:?}: {:?}", marked.body);
        assert_conforms(&doc, "post", "/notifications/read", &marked);
    }
    let typed = [("x-csrf-token", tessa.csrf()), ("content-type", "text/plain".to_owned())];
    let empty_text = tessa.request(Method::POST, &url, None, &typed).await;
    assert_eq!(empty_text.status, 200, "{:?}", empty_text.body);
    let wrong = send(&mut tessa, Method::POST, read, Some(json!({"ids": "all"})), None).await;
    assert_eq!(wrong.status, 400, "{:?}", wrong.body);
    let unread = tessa.get("/api/v1/notifications?unread_only=true").await;
    assert_eq!(unread.body["unread"], 0, "{:?}", unread.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_token_endpoint_answers_in_oauth_errors() {
    let system = TestSystem::start(Backend::Embedded).await;
    let doc = system.anonymous().get("/openapi.json").await.body;
    // RFC 6749 §5.2: a request that cannot be read is `invalid_request`, a JSON error document.
    for (body, content_type) in [
        ("", None),
        ("{\"grant_type\": \"client_credentials\"}", Some("application/json")),
        ("x=1", Some("application/x-www-form-urlencoded")),
    ] {
        let mut request = system.http.post(system.url("/oauth/token")).body(body);
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let reply =
            Reply { status, headers: response.headers().clone(), body: response.json().await.unwrap_or(Value::Null) };
        assert_eq!((reply.status, &reply.body), (400, &json!({"error": "invalid_request"})), "{body} {content_type:?}");
        assert_conforms(&doc, "post", "/oauth/token", &reply);
    }
}

/// A main user cannot read a workspace, so cannot know its version: `If-Match: *` closes it
/// whatever the version is.
async fn a_main_user_closes_with_if_match_any(backend: Backend) {
    let system = TestSystem::start(backend).await;
    let org = organisation_with(&system, BUSINESS_IDS[2], &EXPERTS).await;
    let mut olli = logged_in(&system, "expert", "olli.ohjaaja").await;
    let created = open_workspace(
        &mut olli,
        json!({"organization_id": org.id, "office_id": org.office, "kind": "personal", "title": "Suljettava"}),
    )
    .await;
    let id = created.id();
    // The guide changes it, so the version the main user might guess is no longer 1.
    let close = format!("/api/v1/workspaces/{id}/close");
    let reopen = format!("/api/v1/workspaces/{id}/reopen");
    let closed = send(&mut olli, Method::POST, &close, None, Some("\"1\"")).await;
    assert_eq!(closed.status, 200, "{:?}", closed.body);
    let reopened = send(&mut olli, Method::POST, &reopen, None, Some("*")).await;
    assert_eq!(reopened.status, 200, "a guide reopens with *: {:?}", reopened.body);
    assert_eq!(reopened.body["version"], 3);

    let mut maija = logged_in(&system, "expert", "maija.paakayttaja").await;
    assert_eq!(maija.get(&format!("/api/v1/workspaces/{id}")).await.status, 404, "she cannot read it");
    let unquoted = send(&mut maija, Method::POST, &close, None, Some("3")).await;
    assert_problem(&unquoted, 400, "If-Match", "invalid-if-match");
    let closed = send(&mut maija, Method::POST, &close, None, Some("*")).await;
    assert_eq!(closed.status, 200, "{:?}", closed.body);
    assert_eq!(closed.body["state"], "closed");
    assert_eq!(closed.body["title"], "", "she learns nothing of it");
    assert_eq!(closed.header("etag"), Some("\"4\""));
    let again = send(&mut maija, Method::POST, &close, None, Some("*")).await;
    assert_eq!(again.status, 409, "closed already: {:?}", again.body);
    assert_eq!(olli.get(&format!("/api/v1/workspaces/{id}")).await.body["state"], "closed");
    // Any version still means an existing workspace: a foreign one is not found.
    let foreign =
        send(&mut maija, Method::POST, &format!("/api/v1/workspaces/{}/close", Uuid::now_v7()), None, Some("*")).await;
    assert_eq!(foreign.status, 404, "{:?}", foreign.body);
}
