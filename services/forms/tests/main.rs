//! The forms service through its gRPC face (principal tokens signed and verified as between
//! services), each test body on SQLite and on PostgreSQL, each run in a database of its own.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::{sync::Arc, time::Duration};

use ohjaus_forms::{Forms, domain::FormId, store};
use ohjaus_platform::{
    auth::{Membership, Principal, Role, TokenKeys},
    clock::SharedClock,
    error::{ErrorCode, Failure},
    events::Outbox,
    grpc::{self, Transport},
    proto::forms::v1::{self as pb, forms_service_client::FormsServiceClient},
};
use ohjaus_test_support::{Harness, TestEnv};
use tonic::{Code, Request};
use uuid::Uuid;

const HARNESS: Harness = Harness {
    service: ohjaus_forms::SERVICE,
    migrations: ohjaus_forms::migrations,
    database_prefix: "ohjaus_forms_t",
    bus: false,
    settings: &[],
};

async fn run<F, Fut>(backend: ohjaus_test_support::Backend, body: F)
where
    F: FnOnce(TestEnv) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    HARNESS.run(backend, body).await;
}

ohjaus_test_support::on_both_backends!(
    crate::run;
    a_main_user_creates_a_form_and_its_event_in_one_transaction,
    a_retry_answers_with_the_first_form_and_a_reused_key_is_refused,
    to_anyone_but_the_organisations_main_users_forms_do_not_exist,
    every_invalid_field_is_named_at_once,
);

fn client(env: &TestEnv) -> (Forms, FormsServiceClient<Transport>) {
    let clock: SharedClock = Arc::new(env.clock.clone());
    let forms = Forms::new(env.db.clone(), clock.clone(), Outbox::new(ohjaus_forms::SERVICE, clock.clone()));
    let keys = TokenKeys::from_settings(&env.settings.auth, clock).unwrap();
    let client = FormsServiceClient::new(grpc::in_process(forms.server(), &keys, Duration::from_secs(10)));
    (forms, client)
}

fn as_<T>(principal: &Principal, message: T) -> Request<T> {
    let mut request = Request::new(message);
    request.extensions_mut().insert(principal.clone());
    request
}

fn expert(organization: Uuid, roles: Vec<Role>) -> Principal {
    Principal::Expert { person_id: Uuid::now_v7(), memberships: vec![Membership { tenant_id: organization, roles }] }
}

fn create(organization: Uuid, name: &str, key: &str) -> pb::CreateFormRequest {
    pb::CreateFormRequest { organization_id: organization.to_string(), name: name.into(), request_id: key.into() }
}

async fn outbox_subjects(env: &TestEnv) -> Vec<String> {
    let rows = env.db.query("SELECT subject FROM outbox ORDER BY id").fetch_all(&env.db).await.unwrap();
    rows.iter().map(|r| r.get::<String>("subject").unwrap()).collect()
}

async fn a_main_user_creates_a_form_and_its_event_in_one_transaction(env: TestEnv) {
    let (_forms, mut client) = client(&env);
    let organization = Uuid::now_v7();
    let admin = expert(organization, vec![Role::Admin]);
    let form = client.create_form(as_(&admin, create(organization, "  Kysy meiltä ", ""))).await.unwrap().into_inner();
    assert_eq!(form.name, "Kysy meiltä");
    assert_eq!(form.organization_id, organization.to_string());
    assert!(!form.published);
    assert_eq!(form.version, 1);
    assert_eq!(form.created_at.unwrap().seconds, ohjaus_platform::clock::Clock::now(&env.clock).timestamp());

    let stored = store::find_form(&env.db, FormId::parse_ref(&form.id).unwrap()).await.unwrap().unwrap();
    assert_eq!(stored.name, "Kysy meiltä");
    assert_eq!(outbox_subjects(&env).await, ["forms.form_created"]);
}

async fn a_retry_answers_with_the_first_form_and_a_reused_key_is_refused(env: TestEnv) {
    let (_forms, mut client) = client(&env);
    let organization = Uuid::now_v7();
    let admin = expert(organization, vec![Role::Admin]);
    let first =
        client.create_form(as_(&admin, create(organization, "Velkaneuvonta", "k-1"))).await.unwrap().into_inner();
    let retry =
        client.create_form(as_(&admin, create(organization, "Velkaneuvonta", "k-1"))).await.unwrap().into_inner();
    assert_eq!(retry, first);
    let other = client.create_form(as_(&admin, create(organization, "Asumisneuvonta", "k-1"))).await.unwrap_err();
    assert_eq!(Failure::from_status(&other).code, ErrorCode::IdempotencyKeyReused);
    // Another main user's key is theirs alone.
    let colleague = expert(organization, vec![Role::Admin]);
    let own =
        client.create_form(as_(&colleague, create(organization, "Asumisneuvonta", "k-1"))).await.unwrap().into_inner();
    assert_ne!(own.id, first.id);
    assert_eq!(outbox_subjects(&env).await.len(), 2, "a replay publishes nothing");
}

async fn to_anyone_but_the_organisations_main_users_forms_do_not_exist(env: TestEnv) {
    let (_forms, mut client) = client(&env);
    let organization = Uuid::now_v7();
    let callers = [
        expert(organization, vec![Role::Guide, Role::Advisor, Role::Supervisor]),
        expert(Uuid::now_v7(), vec![Role::Admin]),
        Principal::Operator { subject: "operator".into() },
        Principal::Customer { customer_id: Uuid::now_v7() },
        Principal::IntegrationClient {
            client_id: Uuid::now_v7(),
            tenant_id: organization,
            scopes: vec!["tenants.write".into()],
        },
    ];
    for caller in &callers {
        let status = client.create_form(as_(caller, create(organization, "Lomake", ""))).await.unwrap_err();
        assert_eq!(status.code(), Code::NotFound, "{caller:?}");
    }
    assert!(outbox_subjects(&env).await.is_empty());
    let unsigned = client.create_form(Request::new(create(organization, "Lomake", ""))).await.unwrap_err();
    assert_eq!(unsigned.code(), Code::Unauthenticated);
}

async fn every_invalid_field_is_named_at_once(env: TestEnv) {
    let (_forms, mut client) = client(&env);
    let admin = expert(Uuid::now_v7(), vec![Role::Admin]);
    let request = pb::CreateFormRequest {
        organization_id: "not-an-id".into(),
        name: "x".repeat(201),
        request_id: "key with spaces".into(),
    };
    let status = client.create_form(as_(&admin, request)).await.unwrap_err();
    let failure = Failure::from_status(&status);
    assert_eq!(failure.code, ErrorCode::InvalidArgument);
    let fields: Vec<&str> = failure.violations.iter().map(|v| v.field.as_str()).collect();
    assert_eq!(fields, ["organization_id", "name", "request_id"]);
    assert!(outbox_subjects(&env).await.is_empty());
}
