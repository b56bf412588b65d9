//! Contact forms through HTTP (today the forms service's skeleton): an organisation's main user
//! creates a form in her session, a retry with the same `Idempotency-Key` answers with the same
//! form, invalid values are named, and to guides, other organisations' main users and callers
//! without credentials the organisation's forms do not exist.

use ohjaus_integration_tests::{BUSINESS_IDS, Backend, TestSystem};
use reqwest::Method;
use serde_json::json;

use crate::support::{EXPERTS, logged_in, organisation_with};

on_both_backends!(a_main_user_creates_a_form_and_nobody_else_can);

async fn a_main_user_creates_a_form_and_nobody_else_can(backend: Backend) {
    let system = TestSystem::start(backend).await;
    let org = organisation_with(&system, BUSINESS_IDS[0], &EXPERTS).await;
    let other = organisation_with(&system, BUSINESS_IDS[1], &[("Ville Valvoja", "ville.valvoja", "admin")]).await;
    let forms = format!("/api/v1/organizations/{}/forms", org.id);

    let mut maija = logged_in(&system, "expert", "maija.paakayttaja").await;
    let csrf = maija.csrf();
    let url = system.url(&forms);
    let headers = [("x-csrf-token", csrf.clone()), ("idempotency-key", "form-1".to_owned())];
    let created = maija.request(Method::POST, &url, Some(json!({"name": "Kysy velkaneuvojalta"})), &headers).await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    assert_eq!(created.body["name"], "Kysy velkaneuvojalta");
    assert_eq!(created.body["organization_id"], org.id.as_str());
    assert_eq!(created.body["published"], false);
    assert_eq!(created.header("etag"), Some("\"1\""));
    let retry = maija.request(Method::POST, &url, Some(json!({"name": "Kysy velkaneuvojalta"})), &headers).await;
    assert_eq!(retry.status, 201, "{:?}", retry.body);
    assert_eq!(retry.body["id"], created.body["id"]);

    let invalid = maija.request(Method::POST, &url, Some(json!({"name": ""})), &headers[..1]).await;
    assert_eq!(invalid.status, 422, "{:?}", invalid.body);
    assert_eq!(invalid.body["errors"][0]["field"], "name", "{:?}", invalid.body);

    let mut olli = logged_in(&system, "expert", "olli.ohjaaja").await;
    let csrf = olli.csrf();
    let guide = olli.request(Method::POST, &url, Some(json!({"name": "Lomake"})), &[("x-csrf-token", csrf)]).await;
    assert_eq!(guide.status, 404, "{:?}", guide.body);

    // Ville is the other organisation's main user only.
    let mut ville = logged_in(&system, "expert", "ville.valvoja").await;
    let csrf = ville.csrf();
    let foreign = ville.request(Method::POST, &url, Some(json!({"name": "Lomake"})), &[("x-csrf-token", csrf)]).await;
    assert_eq!(foreign.status, 404, "{:?}", foreign.body);
    let own = system.url(&format!("/api/v1/organizations/{}/forms", other.id));
    let csrf = ville.csrf();
    let allowed = ville.request(Method::POST, &own, Some(json!({"name": "Lomake"})), &[("x-csrf-token", csrf)]).await;
    assert_eq!(allowed.status, 201, "{:?}", allowed.body);

    let anonymous = system.anonymous().post(&forms, json!({"name": "Lomake"})).await;
    assert_eq!(anonymous.status, 401, "{:?}", anonymous.body);
}
