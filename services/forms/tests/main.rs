//! The forms service through its gRPC face (principal tokens signed and verified as between
//! services), each test body on SQLite and on PostgreSQL, each run in a database of its own.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::{sync::Arc, time::Duration};

use chrono::TimeDelta;
use ohjaus_forms::{
    Forms, FormsConfig, Peers,
    domain::{FormId, proof},
    store,
};
use ohjaus_platform::{
    auth::{Membership, Principal, Role, TokenKeys},
    clock::{Clock, SharedClock},
    error::{ErrorCode, Failure},
    events::Outbox,
    grpc::{self, Transport, timestamp},
    keyring::{Keyring, Owner},
    proto::forms::v1::{self as pb, forms_service_client::FormsServiceClient},
    types::IdentityCodeHasher,
};
use ohjaus_test_support::{Harness, TestEnv, open_keyring};
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
    a_main_user_defines_versions_and_publishes_a_form,
    a_visitor_sends_a_published_form_sealed_with_a_key_of_its_own,
    a_refused_submission_leaves_nothing_behind,
    only_the_gateway_reaches_the_public_face_and_only_of_published_forms,
    old_unconverted_submissions_go_with_their_keys_by_the_test_clock,
    the_queue_lists_reads_with_a_log_and_changes_by_role,
    an_advisor_replies_from_a_canned_answer_in_the_visitors_language,
);

/// The forms service with a real tenants service beside it (its own database in the run's
/// sandbox), seeded with the demo organisation and its office.
struct System {
    client: FormsServiceClient<Transport>,
    keyring: Keyring,
    organization: Uuid,
    office: Uuid,
}

async fn system(env: &TestEnv) -> System {
    let clock: SharedClock = Arc::new(env.clock.clone());
    let keys = TokenKeys::from_settings(&env.settings.auth, clock.clone()).unwrap();
    let tenants_db = ohjaus_platform::db::Db::connect(&env.settings, ohjaus_tenants::SERVICE).await.unwrap();
    tenants_db.migrate(&ohjaus_tenants::migrations()).await.unwrap();
    let tenants = ohjaus_tenants::Tenants::new(
        tenants_db.clone(),
        clock.clone(),
        Outbox::new(ohjaus_tenants::SERVICE, clock.clone()),
        IdentityCodeHasher::new(env.settings.security.identity_code_key.clone()),
    );
    ohjaus_tenants::seed::seed_demo(&tenants).await.unwrap();
    let organization: Uuid =
        tenants_db.query("SELECT id FROM organizations").fetch_one(&tenants_db).await.unwrap().get("id").unwrap();
    let office: Uuid =
        tenants_db.query("SELECT id FROM offices").fetch_one(&tenants_db).await.unwrap().get("id").unwrap();
    let keyring = open_keyring(&env.settings, ohjaus_forms::SERVICE).await;
    let config = FormsConfig {
        min_fill: TimeDelta::seconds(3),
        challenge_valid: TimeDelta::minutes(15),
        challenge_max_number: 2000,
        proof_key: proof::ProofKey::derive(b"forms tests"),
    };
    let peers = Peers {
        tenants: grpc::in_process(tenants.server(), &keys, Duration::from_secs(10)),
        // Conversion is a whole-system test (integration-tests/tests/forms.rs): nothing here asks.
        workspaces: grpc::remote("http://127.0.0.1:9", &keys, Duration::from_secs(1)).unwrap(),
        mailer: ohjaus_platform::mail::Mailer::from_settings(&env.settings).unwrap(),
    };
    let forms = Forms::new(
        env.db.clone(),
        clock.clone(),
        Outbox::new(ohjaus_forms::SERVICE, clock.clone()),
        keyring.clone(),
        peers,
        config,
    );
    let client = FormsServiceClient::new(grpc::in_process(forms.server(), &keys, Duration::from_secs(10)));
    System { client, keyring, organization, office }
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
    let mut client = system(&env).await.client;
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
    let mut client = system(&env).await.client;
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
    let mut client = system(&env).await.client;
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
    let mut client = system(&env).await.client;
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

const GATEWAY: &str = "gateway";

fn gateway() -> Principal {
    Principal::Service { name: GATEWAY.into() }
}

fn text(fi: &str) -> Option<pb::LocalizedText> {
    Some(pb::LocalizedText { fi: fi.into(), sv: format!("{fi} (sv)"), en: String::new() })
}

fn definition(office: Uuid) -> pb::Definition {
    let field = |key: &str, kind: pb::FieldKind, required: bool| pb::Field {
        key: key.into(),
        kind: kind.into(),
        required,
        label: text(key),
        help: None,
        choices: Vec::new(),
    };
    pb::Definition {
        languages: vec!["fi".into(), "sv".into()],
        title: text("Kysy velkaneuvojalta"),
        intro: text("Kysy nimettömästi."),
        fields: vec![
            field("kysymys", pb::FieldKind::LongText, true),
            field("sahkoposti", pb::FieldKind::Email, false),
            field("suostumus", pb::FieldKind::Consent, true),
        ],
        topic: "finances".into(),
        office_id: office.to_string(),
        origins: vec!["https://www.example.fi".into(), "http://127.0.0.1:9000".into()],
        privacy_url: None,
    }
}

/// A published form of the system's organisation.
async fn published_form(system: &mut System) -> pb::Form {
    let admin = expert(system.organization, vec![Role::Admin]);
    let created = system.client.create_form(as_(&admin, create(system.organization, "Velat", ""))).await.unwrap();
    let created = created.into_inner();
    let update = pb::UpdateFormRequest {
        form_id: created.id.clone(),
        name: "Velat".into(),
        definition: Some(definition(system.office)),
        expected_version: created.version,
    };
    let updated = system.client.update_form(as_(&admin, update)).await.unwrap().into_inner();
    let publish =
        pb::SetFormPublishedRequest { form_id: created.id, published: true, expected_version: updated.version };
    system.client.set_form_published(as_(&admin, publish)).await.unwrap().into_inner()
}

const MARKER: &str = "Voinko saada apua ulosottovelkoihin MARKER-7f3a";

fn answers(email: &str) -> Vec<pb::Answer> {
    let answer = |key: &str, value: &str| pb::Answer { key: key.into(), value: value.into() };
    vec![answer("kysymys", MARKER), answer("sahkoposti", email), answer("suostumus", "yes")]
}

/// A solved challenge for `form`, the fill time passed.
async fn solved(env: &TestEnv, system: &mut System, form: &str) -> String {
    let challenge = system
        .client
        .issue_challenge(as_(&gateway(), pb::IssueChallengeRequest { form_id: form.into() }))
        .await
        .unwrap()
        .into_inner();
    env.clock.advance(chrono::Duration::seconds(5));
    proof::solve(&challenge).unwrap()
}

fn submit(form: &pb::Form, proof: &str, email: &str) -> pb::SubmitFormRequest {
    pb::SubmitFormRequest {
        form_id: form.id.clone(),
        version: form.version - 1,
        language: "sv".into(),
        answers: answers(email),
        proof: proof.into(),
    }
}

async fn count(env: &TestEnv, table: &str) -> i64 {
    let sql = format!("SELECT COUNT(*) AS n FROM {table}");
    env.db.query(&sql).fetch_one(&env.db).await.unwrap().get("n").unwrap()
}

async fn a_main_user_defines_versions_and_publishes_a_form(env: TestEnv) {
    let mut system = system(&env).await;
    let admin = expert(system.organization, vec![Role::Admin]);
    let created =
        system.client.create_form(as_(&admin, create(system.organization, "Velat", ""))).await.unwrap().into_inner();
    assert!(created.definition.is_none());

    // Without a definition it cannot be published.
    let early = pb::SetFormPublishedRequest { form_id: created.id.clone(), published: true, expected_version: 1 };
    let status = system.client.set_form_published(as_(&admin, early)).await.unwrap_err();
    assert_eq!(Failure::from_status(&status).violations[0].reason, "form-incomplete");

    // Another organisation's office is not this one's.
    let mut foreign = definition(Uuid::now_v7());
    foreign.topic = "finances".into();
    let update = |definition, expected_version| pb::UpdateFormRequest {
        form_id: created.id.clone(),
        name: "Velkaneuvonta".into(),
        definition: Some(definition),
        expected_version,
    };
    let status = system.client.update_form(as_(&admin, update(foreign, 1))).await.unwrap_err();
    let failure = Failure::from_status(&status);
    assert_eq!(
        (failure.violations[0].field.as_str(), failure.violations[0].reason.as_str()),
        ("definition.office_id", "invalid-office")
    );

    let v2 = system.client.update_form(as_(&admin, update(definition(system.office), 1))).await.unwrap().into_inner();
    assert_eq!((v2.version, v2.name.as_str()), (2, "Velkaneuvonta"));
    let stored = v2.definition.clone().unwrap();
    assert_eq!(stored.languages, ["fi", "sv"]);
    assert_eq!(stored.origins, ["https://www.example.fi", "http://127.0.0.1:9000"]);
    let stale = system.client.update_form(as_(&admin, update(definition(system.office), 1))).await.unwrap_err();
    assert_eq!(Failure::from_status(&stale).code, ErrorCode::VersionMismatch);

    let publish = pb::SetFormPublishedRequest { form_id: created.id.clone(), published: true, expected_version: 2 };
    let published = system.client.set_form_published(as_(&admin, publish)).await.unwrap().into_inner();
    assert!(published.published);
    assert_eq!(published.version, 3);

    let got = system.client.get_form(as_(&admin, pb::GetFormRequest { form_id: created.id.clone() })).await.unwrap();
    assert_eq!(got.into_inner(), published);
    let listed = system
        .client
        .list_forms(as_(
            &admin,
            pb::ListFormsRequest { organization_id: system.organization.to_string(), ..Default::default() },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.forms, std::slice::from_ref(&published));
    // Its first definition stays for the submissions that answered it.
    let kept = store::find_definition(&env.db, FormId::parse_ref(&created.id).unwrap(), 2).await.unwrap();
    assert!(kept.is_some());

    let guide = expert(system.organization, vec![Role::Guide, Role::Advisor]);
    let status =
        system.client.get_form(as_(&guide, pb::GetFormRequest { form_id: created.id.clone() })).await.unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
    assert_eq!(outbox_subjects(&env).await, ["forms.form_created", "forms.form_updated", "forms.form_published"]);
}

async fn a_visitor_sends_a_published_form_sealed_with_a_key_of_its_own(env: TestEnv) {
    let mut system = system(&env).await;
    let form = published_form(&mut system).await;
    let proof = solved(&env, &mut system, &form.id).await;
    let sent = system.client.submit_form(as_(&gateway(), submit(&form, &proof, "visitor@example.fi"))).await.unwrap();
    let sent = sent.into_inner();
    assert!(sent.has_email);

    let rows = env
        .db
        .query("SELECT sealed, status, language, form_version FROM submissions")
        .fetch_all(&env.db)
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    let sealed: Vec<u8> = rows[0].get("sealed").unwrap();
    assert!(!String::from_utf8_lossy(&sealed).contains("MARKER"), "the question is sealed");
    assert!(!String::from_utf8_lossy(&sealed).contains("visitor@example.fi"), "the address is sealed");
    assert_eq!(rows[0].get::<String>("status").unwrap(), "new");
    assert_eq!(rows[0].get::<String>("language").unwrap(), "sv");
    assert_eq!(rows[0].get::<i64>("form_version").unwrap(), 2);
    let id = Uuid::parse_str(&sent.submission_id).unwrap();
    let key = system.keyring.find(Owner::new(ohjaus_forms::KEY_OWNER, id)).await.unwrap();
    assert!(key.is_some(), "the submission's own key is in the key store");
    assert_eq!(outbox_subjects(&env).await.last().map(String::as_str), Some("forms.submission_received"));

    // The same solution again is refused, and nothing more is stored.
    let again = system.client.submit_form(as_(&gateway(), submit(&form, &proof, ""))).await.unwrap_err();
    assert_eq!(Failure::from_status(&again).violations[0].reason, "proof-used");
    assert_eq!(count(&env, "submissions").await, 1);
}

async fn a_refused_submission_leaves_nothing_behind(env: TestEnv) {
    let mut system = system(&env).await;
    let form = published_form(&mut system).await;
    let refusal = |status: tonic::Status| {
        let failure = Failure::from_status(&status);
        assert_eq!(failure.code, ErrorCode::InvalidArgument);
        failure.violations.into_iter().map(|v| format!("{}:{}", v.field, v.reason)).collect::<Vec<_>>()
    };

    let none = system.client.submit_form(as_(&gateway(), submit(&form, "", ""))).await.unwrap_err();
    assert_eq!(refusal(none), ["proof:proof-missing"]);
    let garbage = system.client.submit_form(as_(&gateway(), submit(&form, "eyJhIjoxfQ==", ""))).await.unwrap_err();
    assert_eq!(refusal(garbage), ["proof:proof-invalid"]);

    // Too fast: sent a second after the page.
    let challenge = system
        .client
        .issue_challenge(as_(&gateway(), pb::IssueChallengeRequest { form_id: form.id.clone() }))
        .await
        .unwrap()
        .into_inner();
    let fast = proof::solve(&challenge).unwrap();
    env.clock.advance(chrono::Duration::seconds(1));
    let status = system.client.submit_form(as_(&gateway(), submit(&form, &fast, ""))).await.unwrap_err();
    assert_eq!(refusal(status), ["proof:sent-too-fast"]);
    // Expired: sent after the challenge's time.
    env.clock.advance(chrono::Duration::minutes(16));
    let status = system.client.submit_form(as_(&gateway(), submit(&form, &fast, ""))).await.unwrap_err();
    assert_eq!(refusal(status), ["proof:proof-expired"]);

    // Invalid answers are named before the proof is spent.
    let proof = solved(&env, &mut system, &form.id).await;
    let mut invalid = submit(&form, &proof, "not an address");
    invalid.answers[0].value = "x".repeat(5001);
    let status = system.client.submit_form(as_(&gateway(), invalid)).await.unwrap_err();
    assert_eq!(refusal(status), ["answers.kysymys:field-too-long", "answers.sahkoposti:invalid-email"]);
    // ...so the same proof still works once.
    system.client.submit_form(as_(&gateway(), submit(&form, &proof, ""))).await.unwrap();
    assert_eq!(count(&env, "submissions").await, 1);
    assert_eq!(count(&env, "used_challenges").await, 1);
    let keys: i64 = system
        .keyring
        .db()
        .query("SELECT COUNT(*) AS n FROM data_keys")
        .fetch_one(system.keyring.db())
        .await
        .unwrap()
        .get("n")
        .unwrap();
    assert_eq!(keys, 1, "a refusal makes no key");
}

async fn only_the_gateway_reaches_the_public_face_and_only_of_published_forms(env: TestEnv) {
    let mut system = system(&env).await;
    let form = published_form(&mut system).await;
    let public = system
        .client
        .get_public_form(as_(&gateway(), pb::GetPublicFormRequest { form_id: form.id.clone() }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(public.version, 2);
    assert_eq!(public.definition.unwrap().title.unwrap().fi, "Kysy velkaneuvojalta");

    let others = [
        Principal::Service { name: "workspaces".into() },
        expert(system.organization, vec![Role::Admin]),
        Principal::Customer { customer_id: Uuid::now_v7() },
    ];
    for caller in &others {
        let status =
            system.client.get_public_form(as_(caller, pb::GetPublicFormRequest { form_id: form.id.clone() })).await;
        assert_eq!(status.unwrap_err().code(), Code::PermissionDenied, "{caller:?}");
    }

    let admin = expert(system.organization, vec![Role::Admin]);
    let unpublish =
        pb::SetFormPublishedRequest { form_id: form.id.clone(), published: false, expected_version: form.version };
    system.client.set_form_published(as_(&admin, unpublish)).await.unwrap();
    for id in [form.id.clone(), Uuid::now_v7().to_string(), "nonsense".into()] {
        let status =
            system.client.get_public_form(as_(&gateway(), pb::GetPublicFormRequest { form_id: id.clone() })).await;
        assert_eq!(status.unwrap_err().code(), Code::NotFound, "{id}");
        let status =
            system.client.issue_challenge(as_(&gateway(), pb::IssueChallengeRequest { form_id: id.clone() })).await;
        assert_eq!(status.unwrap_err().code(), Code::NotFound, "{id}");
    }
}

async fn old_unconverted_submissions_go_with_their_keys_by_the_test_clock(env: TestEnv) {
    let mut system = system(&env).await;
    let form = published_form(&mut system).await;
    let mut ids = Vec::new();
    for _ in 0..3 {
        let proof = solved(&env, &mut system, &form.id).await;
        let sent = system.client.submit_form(as_(&gateway(), submit(&form, &proof, ""))).await.unwrap().into_inner();
        ids.push(Uuid::parse_str(&sent.submission_id).unwrap());
    }
    // One led to a workspace: it follows the workspace's retention.
    env.db
        .query("UPDATE submissions SET status = 'converted' WHERE id = $1")
        .bind(ids[1])
        .execute(&env.db)
        .await
        .unwrap();
    env.clock.advance(chrono::Duration::days(100));
    let proof = solved(&env, &mut system, &form.id).await;
    let recent = system.client.submit_form(as_(&gateway(), submit(&form, &proof, ""))).await.unwrap().into_inner();
    env.clock.advance(chrono::Duration::days(81));

    let before = env.clock.now() - chrono::Duration::days(180);
    let request = pb::DeleteStaleSubmissionsRequest { before: Some(timestamp(before)) };
    let refused = system.client.delete_stale_submissions(as_(&gateway(), request)).await.unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);
    let retention = Principal::Service { name: "retention".into() };
    let deleted = system.client.delete_stale_submissions(as_(&retention, request)).await.unwrap().into_inner();
    assert_eq!(deleted.deleted.get("submissions"), Some(&2));
    assert_eq!(deleted.deleted.get("keys"), Some(&2));
    let left: Vec<Uuid> = env
        .db
        .query("SELECT id FROM submissions ORDER BY id")
        .fetch_all(&env.db)
        .await
        .unwrap()
        .iter()
        .map(|r| r.get("id").unwrap())
        .collect();
    assert_eq!(left, [ids[1], Uuid::parse_str(&recent.submission_id).unwrap()]);
    for (id, kept) in [(ids[0], false), (ids[1], true), (ids[2], false)] {
        let key = system.keyring.find(Owner::new(ohjaus_forms::KEY_OWNER, id)).await.unwrap();
        assert_eq!(key.is_some(), kept, "{id}");
    }
    // Used challenges past their expiry are forgotten too; a second run finds nothing.
    assert_eq!(count(&env, "used_challenges").await, 0);
    let again = system.client.delete_stale_submissions(as_(&retention, request)).await.unwrap().into_inner();
    assert_eq!(again.deleted.get("submissions"), None);
}

/// A submission sent to `form`; its id.
async fn sent(env: &TestEnv, system: &mut System, form: &pb::Form, email: &str) -> String {
    let proof = solved(env, system, &form.id).await;
    system.client.submit_form(as_(&gateway(), submit(form, &proof, email))).await.unwrap().into_inner().submission_id
}

async fn the_queue_lists_reads_with_a_log_and_changes_by_role(env: TestEnv) {
    let mut system = system(&env).await;
    let form = published_form(&mut system).await;
    let first = sent(&env, &mut system, &form, "visitor@example.fi").await;
    let second = sent(&env, &mut system, &form, "").await;
    let org = system.organization;
    let advisor = expert(org, vec![Role::Advisor]);
    let supervisor = expert(org, vec![Role::Supervisor]);
    let list = |status: &str| pb::ListSubmissionsRequest {
        organization_id: org.to_string(),
        status: status.into(),
        ..Default::default()
    };

    let listed = system.client.list_submissions(as_(&advisor, list(""))).await.unwrap().into_inner();
    let ids: Vec<_> = listed.submissions.iter().map(|s| s.id.clone()).collect();
    assert_eq!(ids, [first.clone(), second.clone()]);
    assert!(listed.submissions.iter().all(|s| s.answers.is_empty()), "lists carry no content");
    assert!(listed.submissions[0].has_email && !listed.submissions[1].has_email);
    system.client.list_submissions(as_(&supervisor, list("new"))).await.unwrap();
    for outsider in [expert(org, vec![Role::Admin]), expert(Uuid::now_v7(), vec![Role::Advisor])] {
        let status = system.client.list_submissions(as_(&outsider, list(""))).await.unwrap_err();
        assert_eq!(status.code(), Code::NotFound);
        let get = pb::GetSubmissionRequest { submission_id: first.clone() };
        assert_eq!(system.client.get_submission(as_(&outsider, get)).await.unwrap_err().code(), Code::NotFound);
    }
    let bad = pb::ListSubmissionsRequest { topic: "cooking".into(), status: "lost".into(), ..list("") };
    let status = system.client.list_submissions(as_(&advisor, bad)).await.unwrap_err();
    let fields: Vec<_> = Failure::from_status(&status).violations.into_iter().map(|v| v.field).collect();
    assert_eq!(fields, ["status", "topic"]);

    let shown = system
        .client
        .get_submission(as_(&advisor, pb::GetSubmissionRequest { submission_id: first.clone() }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(shown.answers[0].label, "kysymys (sv)", "labelled in the visitor's language");
    assert_eq!(shown.answers[0].value, MARKER);
    assert_eq!(count(&env, "submission_reads").await, 1, "the read is logged");

    let claim = pb::SubmissionActionRequest { submission_id: first.clone(), expected_version: 1 };
    let refused = system.client.claim_submission(as_(&supervisor, claim.clone())).await.unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);
    let claimed = system.client.claim_submission(as_(&advisor, claim.clone())).await.unwrap().into_inner();
    assert_eq!((claimed.status.as_str(), claimed.version), ("in_progress", 2));
    let Principal::Expert { person_id, .. } = &advisor else { unreachable!() };
    assert_eq!(claimed.assignee_id, person_id.to_string());
    let stale = system.client.claim_submission(as_(&advisor, claim)).await.unwrap_err();
    assert_eq!(Failure::from_status(&stale).code, ErrorCode::VersionMismatch);

    let topic =
        pb::SetSubmissionTopicRequest { submission_id: first.clone(), topic: "housing".into(), expected_version: 2 };
    let moved = system.client.set_submission_topic(as_(&advisor, topic)).await.unwrap().into_inner();
    assert_eq!(moved.topic, "housing");
    let note = pb::AddSubmissionNoteRequest { submission_id: first.clone(), text: "Soitetaan NOTE-MARKER".into() };
    let noted = system.client.add_submission_note(as_(&advisor, note)).await.unwrap().into_inner();
    assert_eq!(noted.notes[0].text, "Soitetaan NOTE-MARKER");
    let sealed: Vec<u8> =
        env.db.query("SELECT sealed FROM submission_notes").fetch_one(&env.db).await.unwrap().get("sealed").unwrap();
    assert!(!String::from_utf8_lossy(&sealed).contains("NOTE-MARKER"));
    let close = pb::SubmissionActionRequest { submission_id: second.clone(), expected_version: 1 };
    let closed = system.client.close_submission(as_(&advisor, close)).await.unwrap().into_inner();
    assert_eq!(closed.status, "closed");
    let only_new = system.client.list_submissions(as_(&advisor, list("closed"))).await.unwrap().into_inner();
    assert_eq!(only_new.submissions.len(), 1);
    assert_eq!(only_new.submissions[0].id, second);
}

async fn an_advisor_replies_from_a_canned_answer_in_the_visitors_language(env: TestEnv) {
    let mut system = system(&env).await;
    let form = published_form(&mut system).await;
    let with_address = sent(&env, &mut system, &form, "visitor@example.fi").await;
    let without = sent(&env, &mut system, &form, "").await;
    let org = system.organization;
    let advisor = expert(org, vec![Role::Advisor]);
    let guide = expert(org, vec![Role::Guide]);

    let canned = pb::CreateCannedAnswerRequest {
        organization_id: org.to_string(),
        title: "Velkaneuvonnan ajanvaraus".into(),
        text: Some(pb::LocalizedText {
            fi: "Varaa aika velkaneuvontaan.".into(),
            sv: "Boka en tid hos skuldrådgivningen.".into(),
            en: String::new(),
        }),
        topics: vec!["finances".into()],
        request_id: String::new(),
    };
    let refused = system.client.create_canned_answer(as_(&guide, canned.clone())).await.unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);
    let created = system.client.create_canned_answer(as_(&advisor, canned)).await.unwrap().into_inner();
    let listed = system
        .client
        .list_canned_answers(as_(
            &guide,
            pb::ListCannedAnswersRequest { organization_id: org.to_string(), topic: "finances".into() },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.canned_answers, std::slice::from_ref(&created));
    let other_topic = system
        .client
        .list_canned_answers(as_(
            &guide,
            pb::ListCannedAnswersRequest { organization_id: org.to_string(), topic: "housing".into() },
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(other_topic.canned_answers.is_empty());

    // The visitor wrote in Swedish: the template's Swedish text, edited before sending.
    let text = format!("{}\n\nVälkommen! REPLY-MARKER", created.text.unwrap().sv);
    let reply =
        pb::ReplyToSubmissionRequest { submission_id: with_address.clone(), text: text.clone(), expected_version: 1 };
    let replied = system.client.reply_to_submission(as_(&advisor, reply)).await.unwrap().into_inner();
    assert_eq!(replied.status, "answered");
    assert_eq!(replied.replies[0].text, text);
    let mails: Vec<String> = std::fs::read_dir(env.settings.mail_directory())
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .collect();
    // The receipt mail of the submission, and the reply.
    assert_eq!(mails.len(), 2);
    let reply = mails.iter().find(|m| m.contains("REPLY-MARKER")).expect("the reply mail");
    assert!(reply.contains("visitor@example.fi"), "{reply}");
    assert!(reply.contains("Content-Language: sv"), "{reply}");

    let nowhere = pb::ReplyToSubmissionRequest { submission_id: without, text: "Hei".into(), expected_version: 1 };
    let status = system.client.reply_to_submission(as_(&advisor, nowhere)).await.unwrap_err();
    assert_eq!(Failure::from_status(&status).violations[0].reason, "no-reply-address");

    // Deleted by retention with its reply, reads and notes.
    env.clock.advance(chrono::Duration::days(181));
    let before = env.clock.now() - chrono::Duration::days(180);
    let retention = Principal::Service { name: "retention".into() };
    let request = pb::DeleteStaleSubmissionsRequest { before: Some(timestamp(before)) };
    let deleted = system.client.delete_stale_submissions(as_(&retention, request)).await.unwrap().into_inner();
    assert_eq!(deleted.deleted.get("submission_replies"), Some(&1));
    assert_eq!(deleted.deleted.get("submissions"), Some(&2));
    assert_eq!(count(&env, "submission_replies").await, 0);
}
