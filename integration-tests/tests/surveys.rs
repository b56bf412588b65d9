//! The 3X10D meter's rounds through the surveys service's gRPC face of the whole system: a
//! guide asks a customer for a start round, she answers with two items skipped and submits, a
//! second round later (test clock), both see the change per item; another customer, a main user
//! and the operator find none of it. The answers are sealed at rest.

use std::sync::Arc;

use ohjaus_integration_tests::{BUSINESS_IDS, Backend, Reply, Storage, TestSystem};
use ohjaus_platform::{
    auth::{Membership, Principal, Role},
    error::{ErrorCode, Failure},
    proto::surveys::v1::{self as pb, surveys_service_client::SurveysServiceClient},
};
use serde_json::json;
use tonic::{Code, Request, transport::Channel};
use uuid::Uuid;

use crate::support::{EXPERTS, Org, items, join, logged_in, open_workspace, organisation_with};

on_both_backends!(
    a_guide_asks_two_rounds_and_both_see_the_change,
    instruments_are_read_by_anyone_signed_in_and_loaded_by_the_operator
);

/// A surveys client of the running system; each request carries the principal's token.
pub(crate) async fn surveys(system: &TestSystem) -> SurveysServiceClient<Channel> {
    let channel = tonic::transport::Endpoint::from_shared(system.grpc.clone()).unwrap().connect().await.unwrap();
    SurveysServiceClient::new(channel)
}

pub(crate) fn as_<T>(system: &TestSystem, principal: &Principal, message: T) -> Request<T> {
    let mut request = Request::new(message);
    let token = format!("Bearer {}", system.service_token(principal));
    request.metadata_mut().insert("authorization", token.parse().unwrap());
    request
}

pub(crate) fn guide(org: &Org, local_id: &str, role: Role) -> Principal {
    Principal::Expert {
        person_id: org.person_uuid(local_id),
        memberships: vec![Membership { tenant_id: org.uuid(), roles: vec![role] }],
    }
}

pub(crate) fn answers(values: &[(u32, u32)]) -> Vec<pb::AnswerValue> {
    values.iter().map(|(item, value)| pb::AnswerValue { item: *item, value: *value }).collect()
}

async fn a_guide_asks_two_rounds_and_both_see_the_change(backend: Backend) {
    let storage = Arc::new(Storage::new(backend).await);
    let system = TestSystem::start_on(storage.clone(), &[]).await;
    let org = organisation_with(&system, BUSINESS_IDS[0], &EXPERTS).await;
    let mut olli = logged_in(&system, "expert", "olli.ohjaaja").await;
    let workspace = open_workspace(
        &mut olli,
        json!({"organization_id": org.id, "office_id": org.office, "kind": "personal", "title": "Mittari"}),
    )
    .await
    .id();
    let other_workspace = open_workspace(
        &mut olli,
        json!({"organization_id": org.id, "office_id": org.office, "kind": "personal", "title": "Toinen"}),
    )
    .await
    .id();
    join(&system, &storage, &mut olli, &workspace, "010280-952L", "tessa@example.fi").await;
    join(&system, &storage, &mut olli, &other_workspace, "010675-9981", "toinen@example.fi").await;
    let customer_of = |members: &Reply| -> Uuid {
        let customer = items(members).into_iter().find(|m| m["kind"] == "customer").unwrap();
        Uuid::parse_str(customer["id"].as_str().unwrap()).unwrap()
    };
    let tessa_id = customer_of(&olli.get(&format!("/api/v1/workspaces/{workspace}/members")).await);
    let other_id = customer_of(&olli.get(&format!("/api/v1/workspaces/{other_workspace}/members")).await);
    let tessa = Principal::Customer { customer_id: tessa_id };
    let other_customer = Principal::Customer { customer_id: other_id };
    let olli_p = guide(&org, "olli.ohjaaja", Role::Guide);
    let noora = guide(&org, "noora.neuvoja", Role::Guide);
    let maija = guide(&org, "maija.paakayttaja", Role::Admin);
    let operator = Principal::Operator { subject: "operator".into() };
    let mut client = surveys(&system).await;

    // A guide who is not in the workspace, its main user and the customer herself cannot ask.
    let ask = |key: &str, kind: &str| pb::AskRoundRequest {
        workspace_id: workspace.clone(),
        customer_id: tessa_id.to_string(),
        kind: kind.into(),
        instrument_id: String::new(),
        request_id: key.into(),
    };
    for (who, caller) in [("other guide", &noora), ("main user", &maija), ("customer", &tessa)] {
        let refused = client.ask_round(as_(&system, caller, ask("", "start"))).await.unwrap_err();
        assert_eq!(refused.code(), Code::NotFound, "{who}");
    }
    let mut wrong = ask("", "sometime");
    wrong.customer_id = other_id.to_string();
    let refused = client.ask_round(as_(&system, &olli_p, wrong)).await.unwrap_err();
    let fields: Vec<String> = Failure::from_status(&refused).violations.into_iter().map(|v| v.field).collect();
    assert_eq!(fields, ["kind"]);
    let mut not_hers = ask("", "start");
    not_hers.customer_id = other_id.to_string();
    let refused = client.ask_round(as_(&system, &olli_p, not_hers)).await.unwrap_err();
    assert_eq!(Failure::from_status(&refused).violations[0].reason, "invalid-round-customer");

    // The start round: a retry with the same key answers with the same round.
    let start = client.ask_round(as_(&system, &olli_p, ask("start-1", "start"))).await.unwrap().into_inner();
    let again = client.ask_round(as_(&system, &olli_p, ask("start-1", "start"))).await.unwrap().into_inner();
    assert_eq!(start, again);
    assert_eq!((start.kind.as_str(), start.instrument_id.as_str(), start.instrument_version), ("start", "3x10d", 1));
    assert_eq!(start.answers.len(), 10);
    assert!(start.answers.iter().all(|a| a.value.is_none()) && start.submitted_at.is_none());

    // Tessa saves part, returns, answers with items 4 and 7 skipped, and submits.
    let save = |round: &str, values: &[(u32, u32)], submit: bool| pb::SaveAnswersRequest {
        round_id: round.to_owned(),
        answers: answers(values),
        submit,
    };
    let saved =
        client.save_answers(as_(&system, &tessa, save(&start.id, &[(1, 3)], false))).await.unwrap().into_inner();
    assert_eq!(saved.answers[0].value, Some(3));
    let first_values = [(1, 3), (2, 6), (3, 8), (5, 0), (6, 5), (8, 7), (9, 4), (10, 5)];
    let submitted =
        client.save_answers(as_(&system, &tessa, save(&start.id, &first_values, true))).await.unwrap().into_inner();
    assert!(submitted.submitted_at.is_some());
    assert_eq!((submitted.answers[3].value, submitted.answers[3].band.as_str()), (None, ""), "skipped: no answer");
    assert_eq!((submitted.answers[4].value, submitted.answers[4].band.as_str()), (Some(0), "dissatisfied"));
    let late = client.save_answers(as_(&system, &tessa, save(&start.id, &[(4, 5)], true))).await.unwrap_err();
    assert_eq!(Failure::from_status(&late).code, ErrorCode::WrongState);
    let off_scale = client.save_answers(as_(&system, &olli_p, save(&start.id, &[(1, 5)], false))).await.unwrap_err();
    assert_eq!(off_scale.code(), Code::NotFound, "a guide does not answer for her");

    // A month later the end round.
    system.clock.advance(chrono::Duration::days(30));
    let end = client.ask_round(as_(&system, &olli_p, ask("end-1", "end"))).await.unwrap().into_inner();
    let bad = client.save_answers(as_(&system, &tessa, save(&end.id, &[(1, 11), (12, 3)], false))).await.unwrap_err();
    let fields: Vec<String> = Failure::from_status(&bad).violations.into_iter().map(|v| v.field).collect();
    assert_eq!(fields, ["answers[0].value", "answers[1].item"]);
    let second_values = [(1, 6), (2, 6), (3, 9), (4, 7), (5, 2), (6, 8), (8, 8), (9, 6), (10, 8)];
    client.save_answers(as_(&system, &tessa, save(&end.id, &second_values, true))).await.unwrap();

    // Both see the change per item, with bands.
    let compare = pb::CompareRoundsRequest { from_round_id: start.id.clone(), to_round_id: end.id.clone() };
    for caller in [&tessa, &olli_p] {
        let comparison = client.compare_rounds(as_(&system, caller, compare.clone())).await.unwrap().into_inner();
        let health = &comparison.items[0];
        assert_eq!((health.from, health.from_band.as_str()), (Some(3), "dissatisfied"));
        assert_eq!((health.to, health.to_band.as_str(), health.change), (Some(6), "moderately-satisfied", Some(3)));
        assert_eq!((comparison.items[3].from, comparison.items[3].change), (None, None), "skipped at the start");
        assert_eq!(comparison.items[6].change, None, "skipped in both");
        assert_eq!((comparison.items[9].to_band.as_str(), comparison.items[9].change), ("satisfied", Some(3)));
        let listed = client
            .list_rounds(as_(&system, caller, pb::ListRoundsRequest { workspace_id: workspace.clone() }))
            .await
            .unwrap()
            .into_inner();
        let kinds: Vec<&str> = listed.rounds.iter().map(|r| r.kind.as_str()).collect();
        assert_eq!(kinds, ["start", "end"]);
    }

    // To another customer, another guide, the main user and the operator none of it exists.
    for (who, caller) in
        [("other customer", &other_customer), ("other guide", &noora), ("main user", &maija), ("operator", &operator)]
    {
        let status = client.get_round(as_(&system, caller, pb::GetRoundRequest { round_id: start.id.clone() })).await;
        assert_eq!(status.unwrap_err().code(), Code::NotFound, "{who} reads");
        let status = client.compare_rounds(as_(&system, caller, compare.clone())).await;
        assert_eq!(status.unwrap_err().code(), Code::NotFound, "{who} compares");
        let status =
            client.list_rounds(as_(&system, caller, pb::ListRoundsRequest { workspace_id: workspace.clone() })).await;
        assert_eq!(status.unwrap_err().code(), Code::NotFound, "{who} lists");
    }

    // At rest the answers are ciphertext.
    let db = ohjaus_platform::db::Db::connect(&storage.settings(&[]), "surveys").await.unwrap();
    let rows = db.query("SELECT answers_sealed FROM rounds").fetch_all(&db).await.unwrap();
    assert_eq!(rows.len(), 2);
    for row in rows {
        let sealed: Vec<u8> = row.get("answers_sealed").unwrap();
        assert!(!sealed.windows(6).any(|w| w == b"\"1\":3," || w == b"\"1\":6,"), "answers in the clear");
    }
}

/// `/api/v1/instruments`: the shipped 3X10D meter is there for anyone signed in; the operator
/// loads a new version, the same file again answers alike, a changed version is refused.
async fn instruments_are_read_by_anyone_signed_in_and_loaded_by_the_operator(backend: Backend) {
    let system = TestSystem::start(backend).await;
    let org = organisation_with(&system, BUSINESS_IDS[0], &EXPERTS).await;
    let olli = guide(&org, "olli.ohjaaja", Role::Guide);
    let customer = Principal::Customer { customer_id: Uuid::now_v7() };
    for caller in [system.as_principal(&olli), system.as_principal(&customer), system.operator()] {
        let listed = caller.get("/api/v1/instruments").await;
        assert_eq!(listed.status, 200, "{:?}", listed.body);
        let meter = &listed.body["items"][0];
        assert_eq!((meter["id"].as_str(), meter["version"].as_u64()), (Some("3x10d"), Some(1)));
        assert_eq!(meter["attribution"], "3X10D® Diak");
        assert_eq!(meter["items"][0]["text"]["fi"], "terveydentilaasi");
        assert!(meter.get("total").is_none());
    }
    assert_eq!(system.anonymous().get("/api/v1/instruments").await.status, 401);

    let shipped = ohjaus_surveys::EMBEDDED_INSTRUMENTS[0];
    let second =
        shipped.replace("version = 1", "version = 2").replace("en = \"your health\"", "en = \"your state of health\"");
    let loaded = system.operator().post("/api/v1/instruments", json!({"document": second})).await;
    assert_eq!((loaded.status, loaded.body["version"].as_u64()), (200, Some(2)), "{:?}", loaded.body);
    let again = system.operator().post("/api/v1/instruments", json!({"document": second})).await;
    assert_eq!(again.body, loaded.body);
    let edited = shipped.replace("en = \"your health\"", "en = \"your physical health\"");
    let refused = system.operator().post("/api/v1/instruments", json!({"document": edited})).await;
    assert_eq!(refused.status, 409, "{:?}", refused.body);
    assert_eq!(refused.body["errors"][0]["field"], "document");
    let broken = system.operator().post("/api/v1/instruments", json!({"document": "x = ["})).await;
    assert_eq!(broken.status, 422, "{:?}", broken.body);
    let by_guide = system.as_principal(&olli).post("/api/v1/instruments", json!({"document": second})).await;
    assert_eq!(by_guide.status, 403, "{:?}", by_guide.body);
}
