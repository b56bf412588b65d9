//! `/app/reports` (issue 15): an organisation's report for its supervisors and main users, the
//! platform's for the operator. A GET form chooses the period; each item is a bar chart (SVG,
//! rendered here, with a title and a description) and the same data as a table; suppressed
//! cells say so. A CSV link downloads the same report. No script.

use axum::{
    extract::{Query, State},
    http::StatusCode,
    response::Response,
};
use chrono::Datelike;
use ohjaus_platform::proto::surveys::v1 as pb;
use serde::Deserialize;

use super::shell::{Shell, Texts, Visitor};
use crate::{
    routes::reports::{ReportParams, fetch_report},
    state::AppState,
};

#[derive(Deserialize)]
pub struct ReportQuery {
    #[serde(default)]
    organization: String,
    #[serde(default)]
    period: String,
}

/// One row of an item's table (and one bar of its chart when published).
struct Row {
    place: String,
    suppressed: bool,
    customers: String,
    mean: String,
    bands: Vec<String>,
    impact: String,
}

/// One item: its chart and its table.
struct ItemView {
    id: String,
    title: String,
    svg: String,
    rows: Vec<Row>,
}

#[derive(askama::Template)]
#[template(path = "reports/report.html")]
struct ReportPage {
    shell: Shell,
    organization: String,
    period: String,
    csv: String,
    threshold: u32,
    frozen: bool,
    band_labels: Vec<String>,
    feedback_labels: Vec<String>,
    items: Vec<ItemView>,
    feedback: Vec<ItemView>,
    texts: Vec<(String, Vec<String>)>,
}

fn number(x: f64) -> String {
    format!("{x:.1}")
}

fn percent(x: f64) -> String {
    format!("{:.0} %", x * 100.0)
}

/// A bar chart of the published cells' means (0…`max`): a title, a description and one bar
/// per place with its value written beside it; suppressed places are named as suppressed.
fn chart(
    id: &str,
    title: &str,
    description: &str,
    rows: &[(String, Option<f64>)],
    max: f64,
    suppressed: &str,
) -> String {
    let esc = |s: &str| s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;");
    let height = 30 * rows.len().max(1) + 10;
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" aria-labelledby=\"{id}-title {id}-desc\" \
         viewBox=\"0 0 640 {height}\" width=\"100%\" class=\"ohjaus-chart\"><title id=\"{id}-title\">{}</title>\
         <desc id=\"{id}-desc\">{}</desc>",
        esc(title),
        esc(description)
    );
    for (i, (place, value)) in rows.iter().enumerate() {
        let y = 10 + i * 30;
        svg.push_str(&format!(
            "<text x=\"0\" y=\"{}\" font-size=\"14\" fill=\"#0b0c0c\">{}</text>",
            y + 15,
            esc(place)
        ));
        match value {
            Some(v) => {
                let width = (v / max * 360.0).clamp(0.0, 360.0);
                svg.push_str(&format!(
                    "<rect x=\"220\" y=\"{y}\" width=\"{width:.1}\" height=\"20\" fill=\"#1d70b8\"></rect>\
                     <text x=\"{:.1}\" y=\"{}\" font-size=\"14\" fill=\"#0b0c0c\">{}</text>",
                    225.0 + width,
                    y + 15,
                    number(*v)
                ));
            }
            None => svg.push_str(&format!(
                "<text x=\"220\" y=\"{}\" font-size=\"14\" fill=\"#0b0c0c\">{}</text>",
                y + 15,
                esc(suppressed)
            )),
        }
    }
    svg.push_str("</svg>");
    svg
}

fn place_name(t: &Texts, nodes: &[pb::ReportNode], id: &str) -> String {
    let Some(index) = nodes.iter().position(|n| n.id == id) else { return id.to_owned() };
    let node = &nodes[index];
    match node.kind.as_str() {
        "platform" => t.get("web-reports-platform"),
        "organization" => {
            let n = nodes.iter().filter(|n| n.kind == "organization").position(|n| n.id == id).unwrap_or(0);
            format!("{} {}", t.get("web-reports-organisation"), n + 1)
        }
        _ => {
            let n = nodes.iter().filter(|n| n.kind == "office").position(|n| n.id == id).unwrap_or(0);
            format!("{} {}", t.get("web-reports-office"), n + 1)
        }
    }
}

/// A text in the visitor's language (else Finnish, English, Swedish).
fn in_language(text: Option<&pb::Localized>, t: &Texts) -> String {
    let text = text.cloned().unwrap_or_default();
    let wanted = match t.0 {
        ohjaus_platform::i18n::Language::Fi => &text.fi,
        ohjaus_platform::i18n::Language::Sv => &text.sv,
        ohjaus_platform::i18n::Language::En => &text.en,
    };
    [wanted, &text.fi, &text.en, &text.sv].into_iter().find(|t| !t.is_empty()).cloned().unwrap_or_default()
}

fn views(
    t: &Texts,
    nodes: &[pb::ReportNode],
    prefix: &str,
    rows: Vec<(u32, String, Vec<pb::ReportCell>)>,
    labels: &std::collections::HashMap<u32, String>,
    max: f64,
) -> Vec<ItemView> {
    let suppressed = t.get("web-reports-suppressed");
    rows.into_iter()
        .map(|(number_, key, cells)| {
            let title = labels.get(&number_).cloned().unwrap_or(key);
            let id = format!("{prefix}-{number_}");
            let bars: Vec<(String, Option<f64>)> =
                cells.iter().map(|c| (place_name(t, nodes, &c.node), (!c.suppressed).then_some(c.mean))).collect();
            let svg = chart(&id, &title, &t.get("web-reports-chart-description"), &bars, max, &suppressed);
            let rows = cells
                .iter()
                .map(|c| Row {
                    place: place_name(t, nodes, &c.node),
                    suppressed: c.suppressed,
                    customers: c.customers.to_string(),
                    mean: number(c.mean),
                    bands: c.bands.iter().map(|b| percent(b.share)).collect(),
                    impact: match &c.impact {
                        None => String::new(),
                        Some(i) if i.suppressed => suppressed.clone(),
                        Some(i) => format!(
                            "{} {:+.1}; {} {}, {} {}, {} {}",
                            t.get("web-reports-change"),
                            i.mean_change,
                            t.get("web-reports-improved"),
                            percent(i.improved),
                            t.get("web-reports-unchanged"),
                            percent(i.unchanged),
                            t.get("web-reports-worse"),
                            percent(i.worse)
                        ),
                    },
                })
                .collect();
            ItemView { id, title, svg, rows }
        })
        .collect()
}

/// The report page: the current month unless a period is asked.
pub async fn show(State(state): State<AppState>, visitor: Visitor, Query(query): Query<ReportQuery>) -> Response {
    let caller = match visitor.principal() {
        Ok(caller) => caller,
        Err(answer) => return *answer,
    };
    let t = Texts(visitor.language);
    let period = if query.period.trim().is_empty() {
        let now = chrono::Utc::now();
        format!("{:04}-{:02}", now.year(), now.month())
    } else {
        query.period.trim().to_owned()
    };
    let organization = query.organization.trim().to_owned();
    let params = ReportParams {
        organization_id: Some(organization.clone()).filter(|o| !o.is_empty()),
        period: period.clone(),
        instrument_id: None,
    };
    let report = match fetch_report(&state, &caller, params).await {
        Ok(report) => report,
        Err(error) => return visitor.failure(error),
    };
    let instrument = pb::GetInstrumentRequest { instrument_id: report.instrument_id.clone(), version: 0 };
    let item_labels = match state.surveys().get_instrument(state.as_caller(&caller, instrument)).await {
        Ok(found) => found.into_inner().items.iter().map(|i| (i.number, in_language(i.label.as_ref(), &t))).collect(),
        Err(status) => return visitor.failure(status.into()),
    };
    let statements = pb::ListFeedbackStatementsRequest {};
    let statement_labels = match state.surveys().list_feedback_statements(state.as_caller(&caller, statements)).await {
        Ok(found) => {
            found.into_inner().statements.iter().map(|s| (s.number, in_language(s.text.as_ref(), &t))).collect()
        }
        Err(status) => return visitor.failure(status.into()),
    };
    let items = views(
        &t,
        &report.nodes,
        "item",
        report.items.into_iter().map(|i| (i.item, i.key, i.cells)).collect(),
        &item_labels,
        10.0,
    );
    let feedback = views(
        &t,
        &report.nodes,
        "statement",
        report.feedback.into_iter().map(|s| (s.statement, s.key, s.cells)).collect(),
        &statement_labels,
        5.0,
    );
    let texts = report.texts.into_iter().map(|x| (place_name(&t, &report.nodes, &x.node), x.texts)).collect::<Vec<_>>();
    let csv = format!(
        "/api/v1/reports/csv?period={}{}",
        urlencoding(&period),
        if organization.is_empty() {
            String::new()
        } else {
            format!("&organization_id={}", urlencoding(&organization))
        }
    );
    let page = ReportPage {
        shell: visitor.shell(t.get("web-reports")),
        organization,
        period,
        csv,
        threshold: report.threshold,
        frozen: report.frozen_at.is_some(),
        band_labels: vec![t.get("web-reports-band-low"), t.get("web-reports-band-mid"), t.get("web-reports-band-high")],
        feedback_labels: vec![t.get("web-reports-disagree"), t.get("web-reports-neither"), t.get("web-reports-agree")],
        items,
        feedback,
        texts,
    };
    visitor.render(StatusCode::OK, &page)
}

/// Percent-encodes what a query value may not hold as is.
fn urlencoding(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
