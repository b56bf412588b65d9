//! A main user of one organisation learns nothing about another, over HTTP and gRPC.

use ohjaus_integration_tests::{BUSINESS_IDS, Backend, TestSystem, expert, registry};
use ohjaus_platform::{auth::Role, proto::tenants::v1 as pb};
use serde_json::json;
use uuid::Uuid;

on_both_backends!(main_user_of_a_gets_not_found_for_everything_of_b);

async fn main_user_of_a_gets_not_found_for_everything_of_b(backend: Backend) {
    let system = TestSystem::start(backend).await;
    let operator = system.operator();
    let org_a: Uuid =
        operator.post("/api/v1/organizations", registry("A", BUSINESS_IDS[0])).await.id().parse().unwrap();
    let org_b: Uuid =
        operator.post("/api/v1/organizations", registry("B", BUSINESS_IDS[1])).await.id().parse().unwrap();
    let admin_a = expert(org_a, &[Role::Admin]);
    let admin_b = system.as_principal(&expert(org_b, &[Role::Admin]));
    let office_b =
        admin_b.post(&format!("/api/v1/organizations/{org_b}/offices"), json!({"name": "B:n toimisto"})).await.id();
    let expert_b = admin_b
        .post(&format!("/api/v1/organizations/{org_b}/experts"), json!({"name": "Bea", "email": "bea@b.fi", "virtu": {"home_organization": "b.fi", "local_id": "bea"}, "roles": ["guide"]}))
        .await
        .id();
    let client_b = admin_b
        .post(
            &format!("/api/v1/organizations/{org_b}/integration-clients"),
            json!({"name": "B-järjestelmä", "scopes": ["tenants.read"]}),
        )
        .await;
    let client_b = client_b.body["client"]["id"].as_str().unwrap().to_owned();

    // HTTP: every read and write of B's objects is "not found", exactly like a missing id.
    let a = system.as_principal(&admin_a);
    let b = format!("/api/v1/organizations/{org_b}");
    let missing = format!("/api/v1/organizations/{}", Uuid::now_v7());
    let reads = [
        b.clone(),
        format!("{b}/offices"),
        format!("{b}/experts"),
        format!("{b}/experts/{expert_b}"),
        format!("{b}/integration-clients"),
        missing.clone(),
    ];
    for path in &reads {
        let reply = a.get(path).await;
        assert_eq!(reply.status, 404, "GET {path}: {:?}", reply.body);
        assert_eq!(reply.body["type"], "urn:ohjaus:problem:not-found");
    }
    let writes = [
        a.post(&format!("{b}/offices"), json!({"name": "Soluttautuja"})).await,
        a.put(&format!("{b}/offices/{office_b}"), json!({"name": "Kaapattu"}), "\"1\"").await,
        a.delete(&format!("{b}/offices/{office_b}")).await,
        a.post(&format!("{b}/experts"), json!({"name": "X", "email": "x@a.fi", "virtu": {"home_organization": "a.fi", "local_id": "x"}, "roles": ["admin"]})).await,
        a.put(&format!("{b}/experts/{expert_b}/roles"), json!({"roles": ["admin"]}), "\"1\"").await,
        a.delete(&format!("{b}/experts/{expert_b}")).await,
        a.post(&format!("{b}/integration-clients"), json!({"name": "x", "scopes": ["tenants.read"]})).await,
        a.delete(&format!("{b}/integration-clients/{client_b}")).await,
        a.put(&b, registry("B", BUSINESS_IDS[1]), "\"1\"").await,
    ];
    for reply in &writes {
        assert_eq!(reply.status, 404, "{:?}", reply.body);
    }
    let listed = a.get("/api/v1/organizations").await;
    let ids: Vec<&str> = listed.body["items"].as_array().unwrap().iter().map(|o| o["id"].as_str().unwrap()).collect();
    assert_eq!(ids, [org_a.to_string()]);
    // B's data is untouched.
    assert_eq!(admin_b.get(&format!("{b}/offices")).await.body["items"][0]["name"], "B:n toimisto");
    assert_eq!(admin_b.get(&format!("{b}/experts/{expert_b}")).await.body["roles"], json!(["guide"]));

    // gRPC: the same answers.
    let mut grpc = system.tenants_grpc(Some(&admin_a)).await;
    let not_found = |r: Result<_, tonic::Status>| r.err().map(|s: tonic::Status| s.code());
    let org = org_b.to_string();
    assert_eq!(
        not_found(grpc.get_organization(pb::GetOrganizationRequest { id: org.clone() }).await.map(|_| ())),
        Some(tonic::Code::NotFound)
    );
    assert_eq!(
        not_found(
            grpc.list_offices(pb::ListOfficesRequest { organization_id: org.clone(), ..Default::default() })
                .await
                .map(|_| ())
        ),
        Some(tonic::Code::NotFound)
    );
    assert_eq!(
        not_found(
            grpc.list_experts(pb::ListExpertsRequest { organization_id: org.clone(), ..Default::default() })
                .await
                .map(|_| ())
        ),
        Some(tonic::Code::NotFound)
    );
    assert_eq!(
        not_found(
            grpc.get_expert(pb::GetExpertRequest { organization_id: org.clone(), expert_id: expert_b.clone() })
                .await
                .map(|_| ())
        ),
        Some(tonic::Code::NotFound)
    );
    assert_eq!(
        not_found(
            grpc.create_office(pb::CreateOfficeRequest {
                organization_id: org.clone(),
                name: "X".into(),
                request_id: String::new()
            })
            .await
            .map(|_| ())
        ),
        Some(tonic::Code::NotFound)
    );
    assert_eq!(
        not_found(
            grpc.remove_expert(pb::RemoveExpertRequest { organization_id: org.clone(), expert_id: expert_b.clone() })
                .await
                .map(|_| ())
        ),
        Some(tonic::Code::NotFound)
    );
    assert_eq!(
        not_found(
            grpc.list_integration_clients(pb::ListIntegrationClientsRequest {
                organization_id: org.clone(),
                ..Default::default()
            })
            .await
            .map(|_| ())
        ),
        Some(tonic::Code::NotFound)
    );
    let listed = grpc.list_organizations(pb::ListOrganizationsRequest::default()).await.unwrap().into_inner();
    assert_eq!(listed.organizations.iter().map(|o| o.id.clone()).collect::<Vec<_>>(), [org_a.to_string()]);

    // Without a token, or with a forged one, gRPC refuses.
    let mut anonymous = system.tenants_grpc(None).await;
    assert_eq!(
        anonymous.get_organization(pb::GetOrganizationRequest { id: org_a.to_string() }).await.unwrap_err().code(),
        tonic::Code::Unauthenticated
    );
    // The scheme is case-insensitive; a token without one, or under another scheme, is refused
    // rather than taken as a token.
    let token = system.service_token(&admin_a);
    let cases = [(format!("bearer {token}"), None), (token.clone(), Some(tonic::Code::Unauthenticated))];
    for (value, refused) in cases.into_iter().chain([(format!("Token {token}"), Some(tonic::Code::Unauthenticated))]) {
        let channel = tonic::transport::Endpoint::from_shared(system.grpc.clone()).unwrap().connect().await.unwrap();
        let mut request = tonic::Request::new(pb::GetOrganizationRequest { id: org_a.to_string() });
        request.metadata_mut().insert("authorization", value.parse().unwrap());
        let answer = pb::tenants_service_client::TenantsServiceClient::new(channel).get_organization(request).await;
        assert_eq!(answer.err().map(|s| s.code()), refused, "{}", &value[..6]);
    }
    // Only a service may check client credentials.
    let mut as_admin = system.tenants_grpc(Some(&admin_a)).await;
    let check = as_admin
        .authenticate_integration_client(pb::AuthenticateIntegrationClientRequest {
            client_id: client_b,
            secret: "x".into(),
        })
        .await;
    assert_eq!(check.unwrap_err().code(), tonic::Code::PermissionDenied);
}
