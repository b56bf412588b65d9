//! `/reports` and `/feedback` (issue 15): the anonymised reports of the 3X10D meter and of
//! feedback on guidance (the surveys service), as JSON and as CSV, and a customer's feedback.
//! Only aggregates that passed the disclosure control reach here; a suppressed cell carries
//! nothing but its place.

use axum::{
    Json,
    extract::State,
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};
use ohjaus_platform::proto::surveys::v1 as pb;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;

use crate::{
    docs::{BasicProblems, CreateProblems, ListProblems, routes},
    extract::{ApiJson, ApiQuery, Caller},
    problem::ApiError,
    state::AppState,
};

const TAG: &str = "surveys";

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_report))
        .routes(routes!(get_report_csv))
        .routes(routes!(list_feedback_statements, give_feedback))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReportParams {
    /// The organisation; absent: the whole platform (operator only).
    pub organization_id: Option<String>,
    /// "2026-03" (month), "2026-Q1" (quarter), "2026" (year) or "2025-01/2026-12" (months).
    pub period: String,
    /// Absent: the 3X10D meter.
    pub instrument_id: Option<String>,
}

/// A place of the report.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReportPlace {
    pub id: String,
    /// "platform", "organization" or "office".
    pub kind: String,
    pub parent: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReportBandShare {
    pub band: String,
    /// 0…1.
    pub share: f64,
}

/// Change from each customer's first to her latest answer in the period (customers with two).
#[derive(Debug, Serialize, ToSchema)]
pub struct ReportImpact {
    pub suppressed: bool,
    pub customers: Option<u64>,
    pub mean_change: Option<f64>,
    pub improved: Option<f64>,
    pub unchanged: Option<f64>,
    pub worse: Option<f64>,
}

/// One place's statistics; a suppressed cell has no numbers.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReportCell {
    pub place: String,
    pub suppressed: bool,
    pub customers: Option<u64>,
    pub mean: Option<f64>,
    pub bands: Vec<ReportBandShare>,
    pub impact: Option<ReportImpact>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReportRow {
    /// The item's (statement's) number.
    pub number: u32,
    pub key: String,
    pub cells: Vec<ReportCell>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReportTexts {
    pub place: String,
    /// In random order.
    pub texts: Vec<String>,
}

/// A report: aggregates only, each cell behind at least `threshold` distinct customers.
#[derive(Debug, Serialize, ToSchema)]
pub struct Report {
    /// The organisation's id or "platform".
    pub scope: String,
    pub instrument_id: String,
    pub period: String,
    pub period_kind: String,
    pub threshold: u32,
    /// Set when the report is a frozen monthly report.
    pub frozen_at: Option<chrono::DateTime<chrono::Utc>>,
    pub places: Vec<ReportPlace>,
    pub items: Vec<ReportRow>,
    pub feedback: Vec<ReportRow>,
    pub texts: Vec<ReportTexts>,
}

fn cell(c: pb::ReportCell) -> ReportCell {
    let shown = !c.suppressed;
    ReportCell {
        place: c.node,
        suppressed: c.suppressed,
        customers: shown.then_some(c.customers),
        mean: shown.then_some(c.mean),
        bands: c.bands.into_iter().map(|b| ReportBandShare { band: b.band, share: b.share }).collect(),
        impact: c.impact.map(|i| {
            let shown = !i.suppressed;
            ReportImpact {
                suppressed: i.suppressed,
                customers: shown.then_some(i.customers),
                mean_change: shown.then_some(i.mean_change),
                improved: shown.then_some(i.improved),
                unchanged: shown.then_some(i.unchanged),
                worse: shown.then_some(i.worse),
            }
        }),
    }
}

pub(crate) fn report_view(r: pb::Report) -> Report {
    Report {
        scope: r.scope,
        instrument_id: r.instrument_id,
        period: r.period,
        period_kind: r.period_kind,
        threshold: r.threshold,
        frozen_at: r.frozen_at.map(|t| crate::views::timestamp(Some(t))),
        places: r
            .nodes
            .into_iter()
            .map(|n| ReportPlace { id: n.id, kind: n.kind, parent: Some(n.parent).filter(|p| !p.is_empty()) })
            .collect(),
        items: r
            .items
            .into_iter()
            .map(|i| ReportRow { number: i.item, key: i.key, cells: i.cells.into_iter().map(cell).collect() })
            .collect(),
        feedback: r
            .feedback
            .into_iter()
            .map(|s| ReportRow { number: s.statement, key: s.key, cells: s.cells.into_iter().map(cell).collect() })
            .collect(),
        texts: r.texts.into_iter().map(|t| ReportTexts { place: t.node, texts: t.texts }).collect(),
    }
}

pub(crate) async fn fetch_report(
    state: &AppState,
    caller: &ohjaus_platform::auth::Principal,
    params: ReportParams,
) -> Result<pb::Report, ApiError> {
    let request = pb::GetReportRequest {
        organization_id: params.organization_id.unwrap_or_default(),
        instrument_id: params.instrument_id.unwrap_or_default(),
        period: params.period,
    };
    Ok(state.surveys().get_report(state.as_caller(caller, request)).await?.into_inner())
}

/// A report (supervisors and main users of the organisation; the operator for any and for the
/// platform). Another organisation's report is not found.
#[utoipa::path(get, path = "/reports", tag = TAG, params(ReportParams),
    responses((status = 200, body = Report), ListProblems),
    security(("session" = []), ("operator_token" = [])))]
async fn get_report(
    state: State<AppState>,
    Caller(caller): Caller,
    ApiQuery(params): ApiQuery<ReportParams>,
) -> Result<Json<Report>, ApiError> {
    Ok(Json(report_view(fetch_report(&state, &caller, params).await?)))
}

/// One CSV field, quoted when it must be.
fn field(value: &str) -> String {
    if value.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value.to_owned()
    }
}

/// The report as CSV: one line per place and item (then statement); a suppressed cell says
/// "suppressed" in every number column, never a blank.
pub(crate) fn report_csv(report: &pb::Report) -> String {
    let bands: Vec<String> = report.items.first().and_then(|i| i.cells.iter().find(|c| !c.suppressed)).map_or_else(
        || vec!["dissatisfied".into(), "moderately".into(), "satisfied".into()],
        |c| c.bands.iter().map(|b| b.band.clone()).collect(),
    );
    let mut out = String::from("period,place,kind,measure,number,key,customers,mean");
    for b in &bands {
        out.push_str(&format!(",share_{}", field(b)));
    }
    out.push_str(",impact_customers,mean_change,improved,unchanged,worse\r\n");
    let kinds: std::collections::HashMap<&str, &str> =
        report.nodes.iter().map(|n| (n.id.as_str(), n.kind.as_str())).collect();
    let rows = report
        .items
        .iter()
        .map(|i| ("item", i.item, &i.key, &i.cells))
        .chain(report.feedback.iter().map(|s| ("feedback", s.statement, &s.key, &s.cells)));
    for (measure, number, key, cells) in rows {
        for c in cells {
            let mut line = vec![
                field(&report.period),
                field(&c.node),
                kinds.get(c.node.as_str()).copied().unwrap_or_default().to_owned(),
                measure.to_owned(),
                number.to_string(),
                field(key),
            ];
            let columns = 2 + bands.len();
            if c.suppressed {
                line.extend(std::iter::repeat_n("suppressed".to_owned(), columns + 5));
            } else {
                line.push(c.customers.to_string());
                line.push(c.mean.to_string());
                for b in &bands {
                    line.push(c.bands.iter().find(|s| &s.band == b).map_or_else(String::new, |s| s.share.to_string()));
                }
                match &c.impact {
                    None => line.extend(std::iter::repeat_n(String::new(), 5)),
                    Some(i) if i.suppressed => line.extend(std::iter::repeat_n("suppressed".to_owned(), 5)),
                    Some(i) => line.extend([
                        i.customers.to_string(),
                        i.mean_change.to_string(),
                        i.improved.to_string(),
                        i.unchanged.to_string(),
                        i.worse.to_string(),
                    ]),
                }
            }
            out.push_str(&line.join(","));
            out.push_str("\r\n");
        }
    }
    out
}

/// The report as CSV (a download): suppressed cells are marked "suppressed", not left blank.
#[utoipa::path(get, path = "/reports/csv", tag = TAG, params(ReportParams),
    responses((status = 200, content_type = "text/csv", body = String), ListProblems),
    security(("session" = []), ("operator_token" = [])))]
async fn get_report_csv(
    state: State<AppState>,
    Caller(caller): Caller,
    ApiQuery(params): ApiQuery<ReportParams>,
) -> Result<Response, ApiError> {
    let report = fetch_report(&state, &caller, params).await?;
    let name = format!("attachment; filename=\"report-{}-{}.csv\"", report.scope, report.period.replace('/', "_"));
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()), (header::CONTENT_DISPOSITION, name)],
        report_csv(&report),
    )
        .into_response())
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FeedbackStatementView {
    pub number: u32,
    pub key: String,
    pub text: crate::routes::instruments::InstrumentText,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FeedbackStatementList {
    pub items: Vec<FeedbackStatementView>,
}

/// The statements of the feedback form (rated 1–5).
#[utoipa::path(get, path = "/feedback", tag = TAG,
    responses((status = 200, body = FeedbackStatementList), BasicProblems),
    security(("session" = [])))]
async fn list_feedback_statements(
    state: State<AppState>,
    Caller(caller): Caller,
) -> Result<Json<FeedbackStatementList>, ApiError> {
    let listed = state
        .surveys()
        .list_feedback_statements(state.as_caller(&caller, pb::ListFeedbackStatementsRequest {}))
        .await?
        .into_inner();
    Ok(Json(FeedbackStatementList {
        items: listed
            .statements
            .into_iter()
            .map(|s| {
                let t = s.text.unwrap_or_default();
                FeedbackStatementView {
                    number: s.number,
                    key: s.key,
                    text: crate::routes::instruments::InstrumentText { fi: t.fi, sv: t.sv, en: t.en },
                }
            })
            .collect(),
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FeedbackRatingInput {
    pub statement: u32,
    /// 1 (disagree completely) … 5 (agree completely).
    pub value: u32,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FeedbackInput {
    #[schema(value_type = uuid::Uuid)]
    pub workspace_id: String,
    #[serde(default)]
    pub ratings: Vec<FeedbackRatingInput>,
    /// Optional, at most 2000 characters.
    #[serde(default)]
    pub text: String,
}

/// Give feedback on the guidance of one of my workspaces (a customer). It is never shown as
/// mine: it enters only the anonymised reports.
#[utoipa::path(post, path = "/feedback", tag = TAG,
    request_body = FeedbackInput,
    responses((status = 204, description = "Received"), CreateProblems),
    security(("session" = [], "csrf" = [])))]
async fn give_feedback(
    state: State<AppState>,
    Caller(caller): Caller,
    ApiJson(body): ApiJson<FeedbackInput>,
) -> Result<StatusCode, ApiError> {
    let request = pb::GiveFeedbackRequest {
        workspace_id: body.workspace_id,
        ratings: body
            .ratings
            .into_iter()
            .map(|r| pb::FeedbackRating { statement: r.statement, value: r.value })
            .collect(),
        text: body.text,
    };
    state.surveys().give_feedback(state.as_caller(&caller, request)).await?;
    Ok(StatusCode::NO_CONTENT)
}
