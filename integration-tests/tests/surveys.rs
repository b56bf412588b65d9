//! The 3X10D meter's rounds through the surveys service's gRPC face of the whole system: a
//! guide asks a customer for a start round, she answers with two items skipped and submits, a
//! second round later (test clock), both see the change per item; another customer, a main user
//! and the operator find none of it. The answers are sealed at rest.

use std::sync::Arc;

use std::time::Duration;

use ohjaus_integration_tests::{BUSINESS_IDS, Backend, Reply, Storage, TestSystem};
use ohjaus_platform::{
    auth::{Membership, Principal, Role},
    error::{ErrorCode, Failure},
    proto::surveys::v1::{self as pb, surveys_service_client::SurveysServiceClient},
};
use reqwest::Method;
use serde_json::{Value, json};
use tonic::{Code, Request, transport::Channel};
use uuid::Uuid;

use crate::support::{
    EXPERTS, Org, items, join, list_in_directory, logged_in, open_workspace, organisation_with, readable, recipient,
    send,
};

on_both_backends!(
    a_guide_asks_two_rounds_and_both_see_the_change,
    instruments_are_read_by_anyone_signed_in_and_loaded_by_the_operator,
    the_rounds_story_over_http,
    in_a_group_and_through_consent_rounds_are_seen_by_the_sight_rules
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

/// The round's answer values by item (1–10); `None`: no answer.
fn values(round: &Value) -> Vec<Option<u64>> {
    round["answers"].as_array().unwrap().iter().map(|a| a["value"].as_u64()).collect()
}

/// Waits until `done` holds, for at most ten seconds.
async fn eventually(what: &str, mut done: impl AsyncFnMut() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !done().await {
        assert!(std::time::Instant::now() < deadline, "{what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The story through `/api/v1`: Olli asks Tessa for a start round; she is notified in
/// the app and by a mail without content; she saves part, returns, skips items 4 and 7 and
/// submits; a month later (test clock) the end round; both see per item the value, its band and
/// the change. Another customer and the main user find none of it.
async fn the_rounds_story_over_http(backend: Backend) {
    let storage = Arc::new(Storage::new(backend).await);
    let system = TestSystem::start_on(storage.clone(), &[]).await;
    let org = organisation_with(&system, BUSINESS_IDS[0], &EXPERTS).await;
    let mut olli = logged_in(&system, "expert", "olli.ohjaaja").await;
    let open =
        |title: &str| json!({"organization_id": org.id, "office_id": org.office, "kind": "personal", "title": title});
    let workspace = open_workspace(&mut olli, open("Mittari")).await.id();
    let elsewhere = open_workspace(&mut olli, open("Toinen")).await.id();
    let mut tessa = join(&system, &storage, &mut olli, &workspace, "010280-952L", "tessa@example.fi").await;
    join(&system, &storage, &mut olli, &elsewhere, "010675-9981", "toinen@example.fi").await;
    let members = olli.get(&format!("/api/v1/workspaces/{workspace}/members")).await;
    let tessa_id = items(&members).into_iter().find(|m| m["kind"] == "customer").unwrap()["id"].clone();
    let rounds = format!("/api/v1/workspaces/{workspace}/rounds");

    // Only a guide asks, and only one of the workspace's customers, for a kind that exists.
    let asked =
        send(&mut tessa, Method::POST, &rounds, Some(json!({"customer_id": tessa_id, "kind": "start"})), None).await;
    assert_eq!(asked.status, 404, "{:?}", asked.body);
    let wrong =
        send(&mut olli, Method::POST, &rounds, Some(json!({"customer_id": tessa_id, "kind": "later"})), None).await;
    assert_eq!((wrong.status, wrong.error_fields()), (422, vec!["kind".to_owned()]), "{:?}", wrong.body);
    assert!(wrong.body["errors"][0]["message"].as_str().is_some_and(|m| !m.is_empty()), "{:?}", wrong.body);
    let mails_before = storage.mails().len();
    let start =
        send(&mut olli, Method::POST, &rounds, Some(json!({"customer_id": tessa_id, "kind": "start"})), None).await;
    assert_eq!(start.status, 201, "{:?}", start.body);
    let start_id = start.id();
    assert_eq!(start.header("location"), Some(format!("{rounds}/{start_id}").as_str()));
    assert_eq!(values(&start.body), vec![None; 10]);
    assert!(start.body.get("total").is_none() && start.body.get("submitted_at").is_none());

    // Tessa is told in the app and by a mail that carries a link and nothing of the meter.
    eventually("no round-asked notification", async || {
        let told = tessa.get("/api/v1/notifications").await;
        items(&told).iter().any(|n| n["kind"] == "round-asked" && n["subject_id"] == start_id.as_str())
    })
    .await;
    eventually("no round-asked mail", async || {
        storage.mails().iter().skip(mails_before).any(|m| recipient(m).contains("tessa@example.fi"))
    })
    .await;
    let mail = storage.mails().into_iter().skip(mails_before).find(|m| recipient(m).contains("tessa@example.fi"));
    let mail = readable(&mail.unwrap());
    assert!(mail.contains(&format!("/app/workspaces/{workspace}")), "{mail}");
    assert!(!mail.contains("terveydentilaasi") && !mail.contains(&start_id), "content in the mail: {mail}");

    // She saves part and returns; a value off the scale is named; then items 4 and 7 skipped.
    let answers = format!("{rounds}/{start_id}/answers");
    let part = json!({"answers": [{"item": 1, "value": 3}, {"item": 4, "value": null}]});
    let saved = send(&mut tessa, Method::PUT, &answers, Some(part), None).await;
    assert_eq!(saved.status, 200, "{:?}", saved.body);
    assert_eq!(values(&tessa.get(&format!("{rounds}/{start_id}")).await.body)[..4], [Some(3), None, None, None]);
    let bad = json!({"answers": [{"item": 1, "value": 11}, {"item": 12, "value": 3}]});
    let refused = send(&mut tessa, Method::PUT, &answers, Some(bad), None).await;
    assert_eq!(refused.status, 422, "{:?}", refused.body);
    assert_eq!(refused.error_fields(), ["answers[0].value", "answers[1].item"]);
    let first = json!({"answers": [{"item": 1, "value": 3}, {"item": 2, "value": 6}, {"item": 3, "value": 8},
        {"item": 4, "value": null}, {"item": 5, "value": 0}, {"item": 6, "value": 5}, {"item": 8, "value": 7},
        {"item": 9, "value": 4}, {"item": 10, "value": 5}]});
    assert_eq!(send(&mut tessa, Method::PUT, &answers, Some(first), None).await.status, 200);
    let by_guide = send(&mut olli, Method::PUT, &answers, Some(json!({"answers": []})), None).await;
    assert_eq!(by_guide.status, 404, "a guide does not answer for her");
    let submitted = send(&mut tessa, Method::POST, &format!("{rounds}/{start_id}/submit"), None, None).await;
    assert_eq!(submitted.status, 200, "{:?}", submitted.body);
    assert!(submitted.body["submitted_at"].is_string());
    let kept = values(&submitted.body);
    assert_eq!(kept, [Some(3), Some(6), Some(8), None, Some(0), Some(5), None, Some(7), Some(4), Some(5)]);
    assert_eq!(submitted.body["answers"][4]["band"], "dissatisfied", "0 is a value");
    assert!(submitted.body["answers"][3].get("band").is_none(), "skipped: no answer, no band");
    let again = send(&mut tessa, Method::POST, &format!("{rounds}/{start_id}/submit"), None, None).await;
    assert_eq!(again.status, 409, "{:?}", again.body);

    // A month later (both log in again: sessions end when idle) the end round, answered and
    // submitted at once.
    system.clock.advance(chrono::Duration::days(30));
    let mut olli = logged_in(&system, "expert", "olli.ohjaaja").await;
    let mut tessa = logged_in(&system, "customer", "010280-952L").await;
    let mut toinen = logged_in(&system, "customer", "010675-9981").await;
    let end = send(&mut olli, Method::POST, &rounds, Some(json!({"customer_id": tessa_id, "kind": "end"})), None).await;
    let end_id = end.id();
    let second = json!({"submit": true, "answers": [{"item": 1, "value": 6}, {"item": 2, "value": 6},
        {"item": 3, "value": 9}, {"item": 4, "value": 7}, {"item": 5, "value": 2}, {"item": 6, "value": 8},
        {"item": 8, "value": 8}, {"item": 9, "value": 6}, {"item": 10, "value": 8}]});
    let done = send(&mut tessa, Method::PUT, &format!("{rounds}/{end_id}/answers"), Some(second), None).await;
    assert_eq!(done.status, 200, "{:?}", done.body);

    // Both see the change per item, with bands; the list in order.
    let change = format!("{rounds}/{end_id}/change?from={start_id}");
    for reader in [&mut tessa, &mut olli] {
        let compared = reader.get(&change).await;
        assert_eq!(compared.status, 200, "{:?}", compared.body);
        let item = |n: usize| compared.body["items"][n].clone();
        assert_eq!(
            item(0),
            json!({"item": 1, "key": item(0)["key"], "from": 3, "from_band": "dissatisfied",
            "to": 6, "to_band": "moderately-satisfied", "change": 3})
        );
        assert!(item(3).get("from").is_none() && item(3).get("change").is_none(), "skipped at the start");
        assert_eq!(item(3)["to"], 7);
        assert!(item(6).get("from").is_none() && item(6).get("to").is_none(), "skipped in both");
        assert_eq!((item(9)["to_band"].as_str(), item(9)["change"].as_i64()), (Some("satisfied"), Some(3)));
        assert!(compared.body.get("total").is_none());
        let listed = reader.get(&rounds).await;
        let kinds: Vec<Value> = items(&listed).iter().map(|r| r["kind"].clone()).collect();
        assert_eq!(kinds, [json!("start"), json!("end")]);
    }
    let bad_from = olli.get(&format!("{rounds}/{end_id}/change?from=nope")).await;
    assert_eq!((bad_from.status, bad_from.error_fields()), (422, vec!["from".to_owned()]));

    // Another customer (also through her own workspace's address) and the main user: not found.
    let maija = system.as_principal(&guide(&org, "maija.paakayttaja", Role::Admin));
    let paths = [
        rounds.clone(),
        format!("{rounds}/{start_id}"),
        change.clone(),
        format!("/api/v1/workspaces/{elsewhere}/rounds/{start_id}"),
    ];
    for path in &paths {
        assert_eq!(toinen.get(path).await.status, 404, "another customer: {path}");
        assert_eq!(maija.get(path).await.status, 404, "the main user: {path}");
    }
    let hers = send(&mut toinen, Method::PUT, &answers, Some(json!({"answers": []})), None).await;
    assert_eq!(hers.status, 404);
    assert_eq!(system.anonymous().get(&rounds).await.status, 401);
}

/// Organisation B's expert, listed for consent requests.
const B_STAFF: [(&str, &str, &str); 1] = [("Ville Valvoja", "ville.valvoja", "advisor")];

/// A group workspace: each customer answers for herself and sees her own rounds only. An
/// expert let in by Tessa's "from now on only" consent sees Tessa's rounds asked since, and
/// nothing of Uolevi's; the workspace's guide sees every round.
async fn in_a_group_and_through_consent_rounds_are_seen_by_the_sight_rules(backend: Backend) {
    let storage = Arc::new(Storage::new(backend).await);
    let system = TestSystem::start_on(storage.clone(), &[]).await;
    let a = organisation_with(&system, BUSINESS_IDS[0], &EXPERTS).await;
    let b = organisation_with(&system, BUSINESS_IDS[1], &B_STAFF).await;
    list_in_directory(&system, &b, "ville.valvoja").await;
    let mut olli = logged_in(&system, "expert", "olli.ohjaaja").await;
    let mut ville = logged_in(&system, "expert", "ville.valvoja").await;
    let group = json!({"organization_id": a.id, "office_id": a.office, "kind": "group", "title": "Ryhmä"});
    let workspace = open_workspace(&mut olli, group).await.id();
    let mut tessa = join(&system, &storage, &mut olli, &workspace, "010280-952L", "tessa@example.fi").await;
    let mut uolevi = join(&system, &storage, &mut olli, &workspace, "040265-9985", "uolevi@example.fi").await;
    let here = format!("/api/v1/workspaces/{workspace}");
    let rounds = format!("{here}/rounds");
    let members = items(&olli.get(&format!("{here}/members")).await);
    let customers: Vec<Value> = members.iter().filter(|m| m["kind"] == "customer").map(|m| m["id"].clone()).collect();
    let own_id = async |browser: &mut ohjaus_integration_tests::Browser<'_>| {
        let members = items(&browser.get(&format!("{here}/members")).await);
        members.into_iter().find(|m| m["kind"] == "customer").unwrap()["id"].clone()
    };
    let (tessa_id, uolevi_id) = (own_id(&mut tessa).await, own_id(&mut uolevi).await);
    assert!(customers.contains(&tessa_id) && customers.contains(&uolevi_id));
    let ask = async |olli: &mut ohjaus_integration_tests::Browser<'_>, customer: &Value, kind: &str| {
        let asked = send(olli, Method::POST, &rounds, Some(json!({"customer_id": customer, "kind": kind})), None).await;
        assert_eq!(asked.status, 201, "{:?}", asked.body);
        asked.id()
    };
    let tessa_start = ask(&mut olli, &tessa_id, "start").await;
    let uolevi_start = ask(&mut olli, &uolevi_id, "start").await;

    // Each customer sees and answers her own round only.
    let ids =
        |reply: &Reply| -> Vec<String> { items(reply).iter().map(|r| r["id"].as_str().unwrap().to_owned()).collect() };
    assert_eq!(ids(&tessa.get(&rounds).await), std::slice::from_ref(&tessa_start));
    assert_eq!(ids(&uolevi.get(&rounds).await), std::slice::from_ref(&uolevi_start));
    assert_eq!(uolevi.get(&format!("{rounds}/{tessa_start}")).await.status, 404);
    let answer = json!({"answers": [{"item": 1, "value": 4}], "submit": true});
    let hers = format!("{rounds}/{tessa_start}/answers");
    let foreign = send(&mut uolevi, Method::PUT, &hers, Some(answer.clone()), None).await;
    assert_eq!(foreign.status, 404, "Uolevi answers for Tessa");
    let own = send(&mut tessa, Method::PUT, &format!("{rounds}/{tessa_start}/answers"), Some(answer), None).await;
    assert_eq!(own.status, 200, "{:?}", own.body);

    // Tessa lets Ville in from now on only.
    system.clock.advance(chrono::Duration::minutes(1));
    let proposal = json!({"customer_id": tessa_id, "expert_id": b.person("ville.valvoja"),
        "expert_organization_id": b.id, "purpose": "Työkokeilu", "language": "fi"});
    let proposed = send(&mut olli, Method::POST, &format!("{here}/consents"), Some(proposal), None).await;
    assert_eq!(proposed.status, 201, "{:?}", proposed.body);
    let accept = format!("/api/v1/consents/{}/accept", proposed.id());
    let accepted =
        send(&mut tessa, Method::POST, &accept, Some(json!({"from_now_on_only": true})), Some("\"1\"")).await;
    assert_eq!(accepted.status, 200, "{:?}", accepted.body);
    eventually("Ville is not let in", async || ville.get(&here).await.status == 200).await;
    system.clock.advance(chrono::Duration::minutes(1));

    // Nothing from before; afterwards Tessa's rounds only. Ville does not ask.
    assert!(items(&ville.get(&rounds).await).is_empty(), "rounds asked before the consent showed");
    let tessa_along = ask(&mut olli, &tessa_id, "along").await;
    let uolevi_along = ask(&mut olli, &uolevi_id, "along").await;
    assert_eq!(ids(&ville.get(&rounds).await), std::slice::from_ref(&tessa_along));
    for hidden in [&tessa_start, &uolevi_start, &uolevi_along] {
        assert_eq!(ville.get(&format!("{rounds}/{hidden}")).await.status, 404, "{hidden}");
    }
    assert_eq!(ville.get(&format!("{rounds}/{tessa_along}/change?from={tessa_start}")).await.status, 404);
    let by_ville =
        send(&mut ville, Method::POST, &rounds, Some(json!({"customer_id": tessa_id, "kind": "end"})), None).await;
    assert_eq!(by_ville.status, 404, "{:?}", by_ville.body);
    // The guide sees all four; each customer still her own two.
    assert_eq!(ids(&olli.get(&rounds).await).len(), 4);
    assert_eq!(ids(&tessa.get(&rounds).await), [tessa_start, tessa_along]);
    assert_eq!(ids(&uolevi.get(&rounds).await), [uolevi_start, uolevi_along]);
}
