//! Reports and feedback (issue 15) through the surveys service's gRPC face of the whole system:
//! 14 customers in an office show nothing of it, the 15th shows it; the operator's platform
//! view suppresses a small organisation and what would give it away; another organisation's
//! report is not found; feedback is never the guide's to see; a closed month is frozen.

use std::sync::Arc;

use chrono::Datelike;
use ohjaus_integration_tests::{BUSINESS_IDS, Backend, Storage, TestSystem};
use ohjaus_platform::db::Db;
use ohjaus_platform::{
    auth::{Membership, Principal, Role},
    clock::Clock,
    error::Failure,
    proto::surveys::v1 as pb,
};
use ohjaus_surveys::{
    domain::reports::month_of,
    store::reports::{self as report_store, AnswerFact, Placement, RatingFact},
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

/// The development provider's test customers (the only Suomi.fi identities it knows).
const CODES: [&str; 4] = ["010280-952L", "010675-9981", "040265-9985", "260991-999R"];

fn month(system: &TestSystem) -> String {
    let now = system.clock.now();
    format!("{:04}-{:02}", now.year(), now.month())
}

/// The four test customers join a new group workspace of the organisation's office; each
/// answers a start round (item 1 = 4 + i % 3, item 2 = 7) and the first two an end round.
async fn answering_customers(
    system: &TestSystem,
    storage: &Storage,
    client: &mut pb::surveys_service_client::SurveysServiceClient<Channel>,
    org: &Org,
) -> (String, Vec<Uuid>) {
    let mut olli = logged_in(system, "expert", "olli.ohjaaja").await;
    let workspace = open_workspace(
        &mut olli,
        json!({"organization_id": org.id, "office_id": org.office, "kind": "group", "title": "Ryhmä"}),
    )
    .await
    .id();
    let olli_p = guide(org, "olli.ohjaaja", Role::Guide);
    for (i, code) in CODES.iter().enumerate() {
        join(system, storage, &mut olli, &workspace, code, &format!("asiakas{i}@example.fi")).await;
    }
    let members = olli.get(&format!("/api/v1/workspaces/{workspace}/members")).await;
    let customers: Vec<Uuid> = items(&members)
        .into_iter()
        .filter(|m| m["kind"] == "customer")
        .map(|m| Uuid::parse_str(m["id"].as_str().unwrap()).unwrap())
        .collect();
    assert_eq!(customers.len(), 4);
    for (i, customer) in customers.iter().enumerate() {
        answer(system, client, &olli_p, &workspace, *customer, i, "start", 0).await;
        if i < 2 {
            answer(system, client, &olli_p, &workspace, *customer, i, "end", 2).await;
        }
    }
    (workspace, customers)
}

/// Other customers' answers as the reports keep them once their rounds are taken in (a
/// pseudonym each; item 1 = 6, item 2 = 7): the development provider has four test customers
/// to log in with, and a published cell needs fifteen.
async fn others_answered(system: &TestSystem, organization: Uuid, office: Uuid, customers: std::ops::Range<i64>) {
    let db = Db::connect(&system.storage.settings(&[]), ohjaus_surveys::SERVICE).await.unwrap();
    let mut tx = db.begin().await.unwrap();
    let now = system.clock.now();
    for customer in customers {
        for (item, value) in [(1, 6), (2, 7)] {
            let fact = AnswerFact {
                placement: Placement { organization_id: organization, office_id: office },
                workspace_id: Uuid::now_v7(),
                month: month_of(now),
                at: now,
                instrument_id: "3x10d".into(),
                item,
                customer_key: customer,
                value,
            };
            report_store::insert_answer(&mut tx, &fact).await.unwrap();
        }
    }
    tx.commit().await.unwrap();
}

/// Other customers' feedback as the reports keep it (statement 1 rated `value`).
async fn others_rated(
    system: &TestSystem,
    organization: Uuid,
    office: Uuid,
    customers: std::ops::Range<i64>,
    value: u32,
) {
    let db = Db::connect(&system.storage.settings(&[]), ohjaus_surveys::SERVICE).await.unwrap();
    let mut tx = db.begin().await.unwrap();
    let now = system.clock.now();
    for customer in customers {
        let fact = RatingFact {
            placement: Placement { organization_id: organization, office_id: office },
            workspace_id: Uuid::now_v7(),
            month: month_of(now),
            at: now,
            statement: 1,
            customer_key: customer,
            value,
        };
        report_store::insert_rating(&mut tx, &fact).await.unwrap();
    }
    tx.commit().await.unwrap();
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

    let (workspace, customers) = answering_customers(&system, &storage, &mut client, &org).await;
    let (org_id, office_id) = (org.uuid(), Uuid::parse_str(&org.office).unwrap());
    // Four who answered through the rounds (taken in by the first report) and ten others: 14.
    others_answered(&system, org_id, office_id, 0..10).await;
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
    others_answered(&system, org_id, office_id, 10..11).await;
    let report = client.get_report(as_(&system, &main_user, report_of(&org.id, &period))).await.unwrap().into_inner();
    let office = cell(&report, 1, &org.office);
    assert!(!office.suppressed);
    assert_eq!(office.customers, 15);
    let shares: f64 = office.bands.iter().map(|b| b.share).sum();
    assert!((shares - 1.0).abs() < 0.01, "{:?}", office.bands);
    let impact = office.impact.as_ref().unwrap();
    assert!(impact.suppressed, "2 customers with two rounds are too few for impact");
    assert_eq!(cell(&report, 2, &org.office).mean, 7.0);
    assert_eq!(cell(&report, 3, &org.office).customers, 0, "nobody answered item 3: 0, shown");
    assert_eq!(cell(&report, 1, &org.id).customers, 15);

    // A small organisation of 3: the operator's platform view hides it and what would give it away.
    let (small_org, small_office) = (small.uuid(), Uuid::parse_str(&small.office).unwrap());
    others_answered(&system, small_org, small_office, 100..103).await;
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

    // Feedback: the four rate (one writes a text), then eleven others. Only a customer of the workspace
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
    for (i, customer) in customers.iter().enumerate() {
        let text = if i == 0 { "Sain apua" } else { "" };
        let her = Principal::Customer { customer_id: *customer };
        client.give_feedback(as_(&system, &her, give(5, text))).await.unwrap();
    }
    let report = client.get_report(as_(&system, &main_user, report_of(&org.id, &period))).await.unwrap().into_inner();
    assert!(report.texts.is_empty(), "the text of one of 4 feedback givers is not shown");
    // Six more rated 5 and five rated 2: 15 gave feedback.
    others_rated(&system, org_id, office_id, 0..6, 5).await;
    others_rated(&system, org_id, office_id, 6..11, 2).await;
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

    // The report page in a browser (platform and organisation, fi/sv/en, axe-core) and the CSV.
    let summary = in_a_browser(&system, &period, &org.id).await;
    assert_eq!(summary["axe"].as_array().map(Vec::len), Some(6), "{summary}");
    assert_eq!(summary["csv"], true, "{summary}");

    // The month ends: its report is frozen and read as frozen.
    system.clock.advance(chrono::Duration::days(40));
    let frozen = client.get_report(as_(&system, &main_user, report_of(&org.id, &period))).await.unwrap().into_inner();
    assert!(frozen.frozen_at.is_some());
    assert!(frozen.texts.is_empty(), "a frozen report keeps aggregates only");
    assert_eq!(cell(&frozen, 1, &org.office).customers, 15);
    let again = client.get_report(as_(&system, &main_user, report_of(&org.id, &period))).await.unwrap().into_inner();
    assert_eq!(again.frozen_at, frozen.frozen_at);
}

/// Runs `browser/reports.mjs` against the system; its summary line.
async fn in_a_browser(system: &TestSystem, period: &str, organization: &str) -> serde_json::Value {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/browser/reports.mjs");
    let run = tokio::process::Command::new("node")
        .arg(script)
        .env("OHJAUS_BASE", system.url("").trim_end_matches('/'))
        .env("OHJAUS_PERIOD", period)
        .env("OHJAUS_ORG", organization)
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(std::time::Duration::from_secs(240), run)
        .await
        .expect("the browser did not finish in 240 s")
        .expect("node runs (is Node.js installed?)");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "the browser failed:\n{stdout}\n{stderr}");
    serde_json::from_str(stdout.lines().last().unwrap_or("{}")).unwrap()
}
