//! Reports and feedback (issue 15) through the surveys service's gRPC face of the whole system:
//! 14 customers in an office show nothing of it, the 15th shows it; the operator's platform
//! view suppresses a small organisation and what would give it away; another organisation's
//! report is not found; feedback is never the guide's to see; a closed month is frozen.

use std::sync::Arc;

use chrono::Datelike;
use ohjaus_integration_tests::{BUSINESS_IDS, Backend, Storage, TestSystem};
use ohjaus_platform::{
    auth::{Membership, Principal, Role},
    clock::Clock,
    error::Failure,
    proto::surveys::v1 as pb,
};
use serde_json::json;
use tonic::{Code, transport::Channel};
use uuid::Uuid;

use crate::{
    support::{EXPERTS, Org, items, join, logged_in, open_workspace, organisation_with},
    surveys::{answers, as_, guide, surveys},
};

on_both_backends!(fourteen_customers_show_nothing_and_the_fifteenth_shows_the_office);

/// The staff of the small organisation (other people than [`EXPERTS`]).
const SMALL_STAFF: [(&str, &str, &str); 2] =
    [("Pirjo Pääkäyttäjä", "pirjo.paakayttaja", "admin"), ("Pekka Ohjaaja", "pekka.ohjaaja", "guide")];

/// A valid personal identity code of someone born 1 January 1990 with individual number `n`.
fn identity_code(n: u32) -> String {
    let individual = 100 + n;
    let number = 10190u64 * 1000 + u64::from(individual);
    let check = "0123456789ABCDEFHJKLMNPRSTUVWXY".as_bytes()[(number % 31) as usize] as char;
    format!("010190-{individual:03}{check}")
}

fn month(system: &TestSystem) -> String {
    let now = system.clock.now();
    format!("{:04}-{:02}", now.year(), now.month())
}

/// `count` customers join a new group workspace of the organisation's office, each answers a
/// start round (item 1 = 4 + i % 3) and, for the first half, an end round two points higher.
async fn answering_customers(
    system: &TestSystem,
    storage: &Storage,
    client: &mut pb::surveys_service_client::SurveysServiceClient<Channel>,
    org: &Org,
    guide_id: &str,
    count: u32,
    first_code: u32,
) -> (String, Vec<Uuid>) {
    let mut olli = logged_in(system, "expert", guide_id).await;
    let workspace = open_workspace(
        &mut olli,
        json!({"organization_id": org.id, "office_id": org.office, "kind": "group", "title": "Ryhmä"}),
    )
    .await
    .id();
    let olli_p = guide(org, guide_id, Role::Guide);
    let mut customers = Vec::new();
    for i in 0..count {
        let email = format!("asiakas{}@example.fi", first_code + i);
        join(system, storage, &mut olli, &workspace, &identity_code(first_code + i), &email).await;
    }
    let members = olli.get(&format!("/api/v1/workspaces/{workspace}/members")).await;
    for member in items(&members).into_iter().filter(|m| m["kind"] == "customer") {
        customers.push(Uuid::parse_str(member["id"].as_str().unwrap()).unwrap());
    }
    assert_eq!(customers.len(), count as usize);
    for (i, customer) in customers.iter().enumerate() {
        answer(system, client, &olli_p, &workspace, *customer, i, "start", 0).await;
        if i % 2 == 0 {
            answer(system, client, &olli_p, &workspace, *customer, i, "end", 2).await;
        }
    }
    (workspace, customers)
}

#[allow(clippy::too_many_arguments)]
async fn answer(
    system: &TestSystem,
    client: &mut pb::surveys_service_client::SurveysServiceClient<Channel>,
    guide: &Principal,
    workspace: &str,
    customer: Uuid,
    i: usize,
    kind: &str,
    plus: u32,
) {
    let asked = pb::AskRoundRequest {
        workspace_id: workspace.to_owned(),
        customer_id: customer.to_string(),
        kind: kind.into(),
        instrument_id: String::new(),
        request_id: format!("{customer}-{kind}"),
    };
    let round = client.ask_round(as_(system, guide, asked)).await.unwrap().into_inner();
    let value = 4 + (i as u32 % 3) + plus;
    let save = pb::SaveAnswersRequest { round_id: round.id, answers: answers(&[(1, value), (2, 7)]), submit: true };
    client.save_answers(as_(system, &Principal::Customer { customer_id: customer }, save)).await.unwrap();
}

fn report_of(organization: &str, period: &str) -> pb::GetReportRequest {
    pb::GetReportRequest { organization_id: organization.into(), instrument_id: String::new(), period: period.into() }
}

/// The cell of `node` for item `item`.
fn cell<'a>(report: &'a pb::Report, item: u32, node: &str) -> &'a pb::ReportCell {
    let item = report.items.iter().find(|i| i.item == item).unwrap();
    item.cells.iter().find(|c| c.node == node).unwrap()
}

async fn fourteen_customers_show_nothing_and_the_fifteenth_shows_the_office(backend: Backend) {
    let storage = Arc::new(Storage::new(backend).await);
    let system = TestSystem::start_on(storage.clone(), &[]).await;
    let org = organisation_with(&system, BUSINESS_IDS[0], &EXPERTS).await;
    let small = organisation_with(&system, BUSINESS_IDS[1], &SMALL_STAFF).await;
    let mut client = surveys(&system).await;
    let supervisor = Principal::Expert {
        person_id: Uuid::now_v7(),
        memberships: vec![Membership { tenant_id: org.uuid(), roles: vec![Role::Supervisor] }],
    };
    let main_user = guide(&org, "maija.paakayttaja", Role::Admin);
    let olli_p = guide(&org, "olli.ohjaaja", Role::Guide);
    let operator = Principal::Operator { subject: "operator".into() };
    let period = month(&system);

    let (workspace, customers) = answering_customers(&system, &storage, &mut client, &org, "olli.ohjaaja", 14, 0).await;
    let report = client.get_report(as_(&system, &supervisor, report_of(&org.id, &period))).await.unwrap().into_inner();
    assert_eq!(report.threshold, 15);
    assert_eq!(report.nodes.len(), 2, "the organisation and its office");
    for item in &report.items[..2] {
        for c in &item.cells {
            assert!(c.suppressed && c.customers == 0 && c.bands.is_empty(), "nothing of 14 customers is shown");
        }
    }
    assert!(!cell(&report, 3, &org.office).suppressed, "nobody answered item 3: a zero shows nobody");

    // The 15th customer: the office (and the organisation) are shown.
    let mut olli = logged_in(&system, "expert", "olli.ohjaaja").await;
    join(&system, &storage, &mut olli, &workspace, &identity_code(14), "asiakas14@example.fi").await;
    let members = olli.get(&format!("/api/v1/workspaces/{workspace}/members")).await;
    let fifteenth = items(&members)
        .into_iter()
        .filter(|m| m["kind"] == "customer")
        .map(|m| Uuid::parse_str(m["id"].as_str().unwrap()).unwrap())
        .find(|c| !customers.contains(c))
        .unwrap();
    answer(&system, &mut client, &olli_p, &workspace, fifteenth, 14, "start", 0).await;
    let report = client.get_report(as_(&system, &main_user, report_of(&org.id, &period))).await.unwrap().into_inner();
    let office = cell(&report, 1, &org.office);
    assert!(!office.suppressed);
    assert_eq!(office.customers, 15);
    // Latest values: 7 customers moved up by 2 (6, 7, 8 …), the others 4, 5, 6 by turn.
    let shares: f64 = office.bands.iter().map(|b| b.share).sum();
    assert!((shares - 1.0).abs() < 0.01, "{:?}", office.bands);
    let impact = office.impact.as_ref().unwrap();
    assert!(impact.suppressed, "7 customers with two rounds are too few for impact");
    assert_eq!(cell(&report, 2, &org.office).mean, 7.0);
    assert_eq!(cell(&report, 3, &org.office).customers, 0, "nobody answered item 3: 0, shown");

    // A small organisation of 3: the operator's platform view hides it and what would give it away.
    answering_customers(&system, &storage, &mut client, &small, "pekka.ohjaaja", 3, 20).await;
    let platform = client.get_report(as_(&system, &operator, report_of("", &period))).await.unwrap().into_inner();
    assert_eq!(platform.scope, "platform");
    let small_cell = cell(&platform, 1, &small.id);
    assert!(small_cell.suppressed);
    let root = cell(&platform, 1, "platform");
    let big = cell(&platform, 1, &org.id);
    assert!(root.suppressed || big.suppressed, "18 − 15 would give the small organisation");
    assert!(cell(&platform, 1, &small.office).suppressed);

    // Another organisation's report is not found; a guide may not read reports; the platform's
    // is the operator's alone.
    let stranger = guide(&small, "pirjo.paakayttaja", Role::Admin);
    let refused = client.get_report(as_(&system, &stranger, report_of(&org.id, &period))).await.unwrap_err();
    assert_eq!(refused.code(), Code::NotFound);
    let refused = client.get_report(as_(&system, &olli_p, report_of(&org.id, &period))).await.unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);
    let refused = client.get_report(as_(&system, &main_user, report_of("", &period))).await.unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);
    let bad = client.get_report(as_(&system, &main_user, report_of(&org.id, "2026-13"))).await.unwrap_err();
    assert_eq!(Failure::from_status(&bad).violations[0].reason, "invalid-report-period");

    // Feedback: 15 customers rate, one writes a text. Nobody but a customer of the workspace
    // gives it; the guide finds it nowhere; the main user sees it only as aggregates.
    let give = |rating: u32, text: &str| pb::GiveFeedbackRequest {
        workspace_id: workspace.clone(),
        ratings: vec![pb::FeedbackRating { statement: 1, value: rating }],
        text: text.into(),
    };
    let refused = client.give_feedback(as_(&system, &olli_p, give(5, ""))).await.unwrap_err();
    assert_eq!(refused.code(), Code::NotFound, "a guide gives no feedback as a customer");
    let outsider = Principal::Customer { customer_id: Uuid::now_v7() };
    let refused = client.give_feedback(as_(&system, &outsider, give(5, ""))).await.unwrap_err();
    assert_eq!(refused.code(), Code::NotFound);
    let invalid = client.give_feedback(as_(&system, &outsider, give(9, ""))).await.unwrap_err();
    assert_eq!(Failure::from_status(&invalid).violations[0].reason, "invalid-feedback-rating");
    for (i, customer) in customers.iter().chain([&fifteenth]).enumerate() {
        let text = if i == 0 { "Sain apua" } else { "" };
        let her = Principal::Customer { customer_id: *customer };
        client.give_feedback(as_(&system, &her, give(if i < 10 { 5 } else { 2 }, text))).await.unwrap();
    }
    let rounds = client
        .list_rounds(as_(&system, &olli_p, pb::ListRoundsRequest { workspace_id: workspace.clone() }))
        .await
        .unwrap()
        .into_inner();
    assert!(format!("{rounds:?}").find("Sain apua").is_none());
    let refused = client.get_report(as_(&system, &olli_p, report_of(&org.id, &period))).await.unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied, "the guide reads no report, so no feedback");
    let report = client.get_report(as_(&system, &main_user, report_of(&org.id, &period))).await.unwrap().into_inner();
    let listened = report.feedback.iter().find(|s| s.statement == 1).unwrap();
    let office_feedback = listened.cells.iter().find(|c| c.node == org.office).unwrap();
    assert_eq!((office_feedback.suppressed, office_feedback.customers), (false, 15));
    assert_eq!(office_feedback.mean, 4.0);
    assert!(office_feedback.impact.is_none());
    assert_eq!(report.texts.len(), 1);
    assert_eq!(report.texts[0].texts, ["Sain apua"]);

    // The month ends: its report is frozen and read as frozen.
    system.clock.advance(chrono::Duration::days(40));
    let frozen = client.get_report(as_(&system, &main_user, report_of(&org.id, &period))).await.unwrap().into_inner();
    assert!(frozen.frozen_at.is_some());
    assert!(frozen.texts.is_empty(), "a frozen report keeps aggregates only");
    assert_eq!(cell(&frozen, 1, &org.office).customers, 15);
    let again = client.get_report(as_(&system, &main_user, report_of(&org.id, &period))).await.unwrap().into_inner();
    assert_eq!(again.frozen_at, frozen.frozen_at);
}
