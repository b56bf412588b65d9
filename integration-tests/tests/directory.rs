//! The consent directory through HTTP (and consent's gRPC): an organisation's main user lists
//! experts (versioned with If-Match), guides of other organisations find them with their
//! organisation's name and description and no contact data, unlisting takes them off, a main
//! user alone cannot be listed, customers and operators are refused, and a guide can propose
//! only a listed expert: an unlisted one is refused with nothing stored.

use std::sync::Arc;

use ohjaus_integration_tests::{BUSINESS_IDS, Backend, Caller, Storage, TestSystem, expert};
use ohjaus_platform::{
    auth::{Membership, Principal, Role},
    proto::consent::v1::{self as consent_pb, consent_service_client::ConsentServiceClient},
};
use reqwest::Method;
use serde_json::{Value, json};
use tonic::Code;
use uuid::Uuid;

use crate::support::{EXPERTS, join, logged_in, open_workspace, organisation_with};

on_both_backends!(
    main_users_list_experts_and_guides_of_other_organisations_find_them,
    only_listed_experts_are_proposed
);

/// Staff of the second organisation: a main user and two guides.
const OTHER_STAFF: [(&str, &str, &str); 3] = [
    ("Paula Pääkäyttäjä", "paula.paakayttaja", "admin"),
    ("Ulla Ulkopuolinen", "ulla.ulkopuolinen", "guide"),
    ("Kalle Kuraattori", "kalle.kuraattori", "advisor"),
];

fn listing_of(org: &str, person: &str) -> String {
    format!("/api/v1/organizations/{org}/experts/{person}/listing")
}

/// The expert's current version, from their ETag.
async fn etag(admin: &Caller<'_>, org: &str, person: &str) -> String {
    let found = admin.get(&format!("/api/v1/organizations/{org}/experts/{person}")).await;
    assert_eq!(found.status, 200, "{:?}", found.body);
    found.header("etag").expect("an ETag").to_owned()
}

/// Lists (or unlists) an expert with their current version; the answer, a success.
async fn set_listing(admin: &Caller<'_>, org: &str, person: &str, listed: bool, description: &str) -> Value {
    let version = etag(admin, org, person).await;
    let reply =
        admin.put(&listing_of(org, person), json!({"listed": listed, "description": description}), &version).await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    reply.body
}

fn expert_ids(page: &Value) -> Vec<String> {
    page["items"].as_array().unwrap().iter().map(|e| e["expert_id"].as_str().unwrap().to_owned()).collect()
}

async fn main_users_list_experts_and_guides_of_other_organisations_find_them(backend: Backend) {
    let system = TestSystem::start(backend).await;
    let a = organisation_with(&system, BUSINESS_IDS[0], &EXPERTS).await;
    let b = organisation_with(&system, BUSINESS_IDS[1], &OTHER_STAFF).await;
    let admin = system.as_principal(&expert(a.uuid(), &[Role::Admin]));
    let noora = a.person("noora.neuvoja");
    let olli = a.person("olli.ohjaaja");

    // Nobody is listed until a main user lists them.
    let fresh = admin.get(&format!("/api/v1/organizations/{}/experts/{noora}", a.id)).await;
    assert_eq!((fresh.body["listed"].as_bool(), fresh.body.get("listing_description")), (Some(false), None));

    // Without If-Match: 428; with a stale version: 412; nothing changes.
    let body = json!({"listed": true, "description": "  Asuminen, talous ja arjen sujuminen.  "});
    let missing = admin.send(Method::PUT, &listing_of(&a.id, &noora), Some(body.clone()), &[]).await;
    assert_eq!(missing.status, 428, "{:?}", missing.body);
    assert_eq!(missing.header("content-type"), Some("application/problem+json"));
    let stale = admin.put(&listing_of(&a.id, &noora), body.clone(), "\"99\"").await;
    assert_eq!(stale.status, 412, "{:?}", stale.body);
    let version = etag(&admin, &a.id, &noora).await;
    assert_eq!(version, "\"1\"");

    // With the current version: listed, the description trimmed, a new version.
    let listed = admin.put(&listing_of(&a.id, &noora), body.clone(), &version).await;
    assert_eq!(listed.status, 200, "{:?}", listed.body);
    assert_eq!(listed.body["listed"], true);
    assert_eq!(listed.body["listing_description"], "Asuminen, talous ja arjen sujuminen.");
    assert_eq!(listed.header("etag"), Some("\"2\""));
    // The same version again is stale now.
    assert_eq!(admin.put(&listing_of(&a.id, &noora), body, &version).await.status, 412);

    // A guide of another organisation finds her, with her organisation's name and no contact data.
    let guide_b = system.as_principal(&expert(b.uuid(), &[Role::Guide]));
    let page = guide_b.get("/api/v1/directory/experts").await;
    assert_eq!(page.status, 200, "{:?}", page.body);
    assert_eq!(expert_ids(&page.body), [noora.as_str()]);
    let entry = &page.body["items"][0];
    assert_eq!(entry["organization_id"], a.id.as_str());
    assert_eq!(entry["name"], "Noora Neuvoja");
    assert_eq!(entry["roles"], json!(["guide"]));
    assert_eq!(entry["description"], "Asuminen, talous ja arjen sujuminen.");
    assert_eq!(entry["organization_name"], json!({"fi": "Ohjaamo (fi)", "sv": "Ohjaamo (sv)", "en": "Ohjaamo (en)"}));
    let text = page.body.to_string();
    assert!(!text.contains('@') && !text.contains("email") && !text.contains("virtu"), "{text}");
    assert!(!text.contains("noora.neuvoja"), "{text}");

    // Filtered by organisation; paginated in the order they were listed.
    let olli_listed = set_listing(&admin, &a.id, &olli, true, "").await;
    assert_eq!(olli_listed.get("listing_description"), None);
    let ulla = b.person("ulla.ulkopuolinen");
    let admin_b = system.as_principal(&expert(b.uuid(), &[Role::Admin]));
    set_listing(&admin_b, &b.id, &ulla, true, "Koulunkäynnin tuki").await;
    let guide_a = system.as_principal(&expert(a.uuid(), &[Role::Guide]));
    let all = guide_a.get("/api/v1/directory/experts").await;
    assert_eq!(expert_ids(&all.body), [noora.as_str(), olli.as_str(), ulla.as_str()]);
    let only_b = guide_a.get(&format!("/api/v1/directory/experts?organization_id={}", b.id)).await;
    assert_eq!(expert_ids(&only_b.body), [ulla.as_str()]);
    assert_eq!(only_b.body["items"][0]["organization_name"]["fi"], "Ohjaamo (fi)");
    let first = guide_a.get(&format!("/api/v1/directory/experts?organization_id={}&page_size=1", a.id)).await;
    assert_eq!(expert_ids(&first.body), [noora.as_str()]);
    let token = first.body["next_page_token"].as_str().expect("a next page").to_owned();
    let second = guide_a
        .get(&format!("/api/v1/directory/experts?organization_id={}&page_size=1&page_token={token}", a.id))
        .await;
    assert_eq!(expert_ids(&second.body), [olli.as_str()]);
    assert!(second.body.get("next_page_token").is_none(), "{:?}", second.body);

    // Bad paging and filters are 422 naming the field, never a 500.
    let bad = system
        .as_principal(&expert(a.uuid(), &[Role::Guide]))
        .language("en")
        .get("/api/v1/directory/experts?page_token=not-a-token")
        .await;
    assert_eq!((bad.status, bad.error_fields()), (422, vec!["page_token".to_owned()]), "{:?}", bad.body);
    let bad = guide_a.get("/api/v1/directory/experts?organization_id=nonsense&page_size=500").await;
    assert_eq!(bad.status, 422, "{:?}", bad.body);
    let mut fields = bad.error_fields();
    fields.sort();
    assert_eq!(fields, ["organization_id", "page_size"]);

    // Unlisting takes her off; the description stays with the expert for a later listing.
    let unlisted = set_listing(&admin, &a.id, &noora, false, "Asuminen").await;
    assert_eq!(
        (unlisted["listed"].as_bool(), unlisted["listing_description"].as_str()),
        (Some(false), Some("Asuminen"))
    );
    let page = guide_b.get("/api/v1/directory/experts").await;
    assert_eq!(expert_ids(&page.body), [olli.as_str(), ulla.as_str()]);

    // A main user alone does no customer work: 422 naming the field, in the caller's language.
    let maija = a.person("maija.paakayttaja");
    let version = etag(&admin, &a.id, &maija).await;
    let refused = system
        .as_principal(&expert(a.uuid(), &[Role::Admin]))
        .language("fi")
        .put(&listing_of(&a.id, &maija), json!({"listed": true, "description": "x"}), &version)
        .await;
    assert_eq!((refused.status, refused.error_fields()), (422, vec!["listed".to_owned()]), "{:?}", refused.body);
    assert_eq!(refused.body["errors"][0]["reason"], "invalid-listing-admin-only");
    assert!(refused.body["errors"][0]["message"].as_str().unwrap().contains("pääkäyttäjä"), "{:?}", refused.body);
    // A too long or control-character description names its field.
    let version = etag(&admin, &a.id, &olli).await;
    let long =
        admin.put(&listing_of(&a.id, &olli), json!({"listed": true, "description": "a".repeat(301)}), &version).await;
    assert_eq!((long.status, long.error_fields()), (422, vec!["description".to_owned()]), "{:?}", long.body);
    let control =
        admin.put(&listing_of(&a.id, &olli), json!({"listed": true, "description": "a\u{7}b"}), &version).await;
    assert_eq!((control.status, control.error_fields()), (422, vec!["description".to_owned()]));
    let missing = admin.put(&listing_of(&a.id, &olli), json!({"description": "x"}), &version).await;
    assert_eq!(missing.status, 400, "{:?}", missing.body);

    // Losing every role but main user ends a listing.
    let roles = admin
        .put(&format!("/api/v1/organizations/{}/experts/{olli}/roles", a.id), json!({"roles": ["admin"]}), &version)
        .await;
    assert_eq!((roles.status, roles.body["listed"].as_bool()), (200, Some(false)), "{:?}", roles.body);
    assert_eq!(expert_ids(&guide_b.get("/api/v1/directory/experts").await.body), [ulla.as_str()]);

    // Only the organisation's main users list its experts; others find nothing or are refused.
    let version = etag(&admin, &a.id, &noora).await;
    let listing = json!({"listed": true});
    assert_eq!(admin_b.put(&listing_of(&a.id, &noora), listing.clone(), &version).await.status, 404);
    assert_eq!(guide_a.put(&listing_of(&a.id, &noora), listing.clone(), &version).await.status, 403);
    assert_eq!(admin.put(&listing_of(&a.id, &Uuid::now_v7().to_string()), listing, &version).await.status, 404);

    // Customers, operators, main users and advisors who are no guide, and the anonymous: refused.
    let customer = system.as_principal(&Principal::Customer { customer_id: Uuid::now_v7() });
    assert_eq!(customer.get("/api/v1/directory/experts").await.status, 403);
    assert_eq!(system.operator().get("/api/v1/directory/experts").await.status, 403);
    assert_eq!(admin.get("/api/v1/directory/experts").await.status, 403);
    let advisor = system.as_principal(&expert(b.uuid(), &[Role::Advisor]));
    assert_eq!(advisor.get("/api/v1/directory/experts").await.status, 403);
    let anonymous = system.anonymous().get("/api/v1/directory/experts").await;
    assert_eq!(anonymous.status, 401);
    assert_eq!(anonymous.header("content-type"), Some("application/problem+json"));

    // A suspended organisation's experts leave the directory.
    let org_b = system.operator().get(&format!("/api/v1/organizations/{}", b.id)).await;
    let suspended = system
        .operator()
        .put(
            &format!("/api/v1/organizations/{}/status", b.id),
            json!({"status": "suspended"}),
            org_b.header("etag").unwrap(),
        )
        .await;
    assert_eq!(suspended.status, 200, "{:?}", suspended.body);
    assert!(expert_ids(&guide_a.get("/api/v1/directory/experts").await.body).is_empty());
    // ... and its guides no longer read it.
    assert_eq!(guide_b.get("/api/v1/directory/experts").await.status, 403);

    // Both routes are in the OpenAPI document (its paths are relative to /api/v1).
    let openapi = system.anonymous().get("/openapi.json").await;
    let paths = &openapi.body["paths"];
    assert!(paths["/organizations/{id}/experts/{expert_id}/listing"]["put"].is_object(), "{paths}");
    assert!(paths["/directory/experts"]["get"].is_object(), "{paths}");
    system.stop().await;
}

/// A consent gRPC client that calls as `principal`.
async fn consent_grpc(
    system: &TestSystem,
    principal: &Principal,
) -> ConsentServiceClient<
    tonic::service::interceptor::InterceptedService<
        tonic::transport::Channel,
        impl tonic::service::Interceptor + use<>,
    >,
> {
    let channel = tonic::transport::Endpoint::from_shared(system.grpc.clone()).unwrap().connect().await.unwrap();
    let header = format!("Bearer {}", system.service_token(principal));
    ConsentServiceClient::with_interceptor(channel, move |mut request: tonic::Request<()>| {
        request.metadata_mut().insert("authorization", header.parse().unwrap());
        Ok(request)
    })
}

/// How many consent requests the workspace has, as its owner sees them.
async fn consent_requests(
    consent: &mut ConsentServiceClient<
        tonic::service::interceptor::InterceptedService<tonic::transport::Channel, impl tonic::service::Interceptor>,
    >,
    workspace: &str,
) -> usize {
    let request = consent_pb::ListConsentRequestsRequest { workspace_id: workspace.to_owned() };
    consent.list_consent_requests(request).await.unwrap().into_inner().requests.len()
}

async fn only_listed_experts_are_proposed(backend: Backend) {
    let storage = Arc::new(Storage::new(backend).await);
    let system = TestSystem::start_on(storage.clone(), &[]).await;
    let a = organisation_with(&system, BUSINESS_IDS[0], &EXPERTS).await;
    let b = organisation_with(&system, BUSINESS_IDS[1], &OTHER_STAFF).await;
    let mut olli = logged_in(&system, "expert", "olli.ohjaaja").await;
    let created = open_workspace(
        &mut olli,
        json!({"organization_id": a.id, "office_id": a.office, "kind": "personal", "title": "Opinnot", "topics": ["studies"]}),
    )
    .await;
    let workspace = created.id();
    let _tessa = join(&system, &storage, &mut olli, &workspace, "010280-952L", "tessa.testila@example.fi").await;
    let members = olli.get(&format!("/api/v1/workspaces/{workspace}/members")).await;
    let customer = members.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["kind"] == "customer")
        .map(|m| m["id"].as_str().unwrap().to_owned())
        .expect("the customer");

    let owner = Principal::Expert {
        person_id: a.person_uuid("olli.ohjaaja"),
        memberships: vec![Membership { tenant_id: a.uuid(), roles: vec![Role::Guide] }],
    };
    let mut consent = consent_grpc(&system, &owner).await;
    let ulla = b.person("ulla.ulkopuolinen");
    let proposal = |key: &str| consent_pb::RequestConsentRequest {
        workspace_id: workspace.clone(),
        customer_id: customer.clone(),
        expert_id: ulla.clone(),
        expert_organization_id: b.id.clone(),
        purpose: "Koulunkäynnin tuki".into(),
        language: "fi".into(),
        idempotency_key: key.into(),
    };

    // Ulla is a guide of her organisation but not listed: refused, and nothing is stored.
    let status = consent.request_consent(proposal("first")).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    let failure = ohjaus_platform::error::Failure::from_status(&status);
    let violations: Vec<(&str, &str)> =
        failure.violations.iter().map(|v| (v.field.as_str(), v.reason.as_str())).collect();
    assert_eq!(violations, [("expert_id", "invalid-consent-expert")]);
    assert_eq!(consent_requests(&mut consent, &workspace).await, 0);
    let mut controller = consent_grpc(&system, &expert(a.uuid(), &[Role::Admin])).await;
    let ledger = consent_pb::WorkspaceLedgerRequest { workspace_id: workspace.clone() };
    let status = controller.export_ledger(ledger.clone()).await.unwrap_err();
    assert_eq!(status.code(), Code::NotFound, "no ledger was begun: {status:?}");

    // Her main user lists her; Olli finds her in the directory and proposes her.
    let admin_b = system.as_principal(&expert(b.uuid(), &[Role::Admin]));
    set_listing(&admin_b, &b.id, &ulla, true, "Koulunkäynnin tuki ja oppimisen vaikeudet").await;
    let found = olli.get("/api/v1/directory/experts").await;
    assert_eq!(found.status, 200, "{:?}", found.body);
    assert_eq!(expert_ids(&found.body), [ulla.as_str()]);
    let made = consent.request_consent(proposal("second")).await.unwrap().into_inner();
    assert_eq!((made.expert_id.as_str(), made.expert_name.as_str()), (ulla.as_str(), "Ulla Ulkopuolinen"));
    let exported = controller.export_ledger(ledger).await.unwrap().into_inner();
    assert_eq!(exported.entries.len(), 1);

    // Unlisted again, she cannot be proposed anew.
    set_listing(&admin_b, &b.id, &ulla, false, "").await;
    let status = consent.request_consent(proposal("third")).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert_eq!(consent_requests(&mut consent, &workspace).await, 1);
    system.stop().await;
}
