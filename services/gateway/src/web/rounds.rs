//! `/app/workspaces/{id}/rounds…`: the 3X10D life-situation meter in a workspace. A guide asks
//! a customer to answer; the customer answers ten items on 0–10 (radio groups with the scale's
//! end labels, and "no answer", never 0), saves and returns, and submits; she and the guides
//! (and a consented expert, by the consent's sight) see each round and the change between two
//! rounds as an SVG bar chart with a title and a description and the same data as a table.
//! Works without JavaScript; the calls are the JSON routes' (`routes::workspaces::rounds`). No
//! total score is shown anywhere: the instrument forbids one.

use axum::{
    Form,
    extract::{Path, Query, State},
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
};
use ohjaus_platform::{
    auth::Principal,
    i18n::Language,
    proto::{surveys::v1 as surveys_pb, workspaces::v1 as pb},
};
use serde::Deserialize;
use uuid::Uuid;

use super::shell::{FieldError, Shell, Texts, Visitor, subject_of};
use crate::{
    problem::ApiError,
    routes::workspaces::rounds::{compare_as, round_in, save_as},
    state::AppState,
    views::timestamp,
};

/// A text of the instrument in the visitor's language (Finnish if that one is missing).
fn text(t: Option<&surveys_pb::Localized>, language: Language) -> String {
    let Some(t) = t else { return String::new() };
    let wanted = match language {
        Language::Fi => &t.fi,
        Language::Sv => &t.sv,
        Language::En => &t.en,
    };
    if wanted.is_empty() { t.fi.clone() } else { wanted.clone() }
}

/// A date as the pages show it.
fn day(at: Option<ohjaus_platform::proto::prost_types::Timestamp>) -> String {
    timestamp(at).format("%-d.%-m.%Y").to_string()
}

fn kind_text(t: &Texts, kind: &str) -> String {
    t.get(&format!("web-round-kind-{kind}"))
}

/// The instrument version a round answered, and the visitor's texts of it.
struct Meter {
    instrument: surveys_pb::Instrument,
    language: Language,
}

impl Meter {
    async fn of(
        state: &AppState,
        caller: &Principal,
        round: &surveys_pb::Round,
        language: Language,
    ) -> Result<Self, ApiError> {
        let request = surveys_pb::GetInstrumentRequest {
            instrument_id: round.instrument_id.clone(),
            version: round.instrument_version,
        };
        let instrument = state.surveys().get_instrument(state.as_caller(caller, request)).await?.into_inner();
        Ok(Meter { instrument, language })
    }

    fn item(&self, number: u32) -> Option<&surveys_pb::Item> {
        self.instrument.items.iter().find(|i| i.number == number)
    }

    fn label(&self, number: u32) -> String {
        self.item(number).map(|i| text(i.label.as_ref(), self.language)).unwrap_or_else(|| number.to_string())
    }

    fn band(&self, key: &str) -> String {
        self.instrument
            .bands
            .iter()
            .find(|b| b.key == key)
            .map(|b| text(b.label.as_ref(), self.language))
            .unwrap_or_default()
    }

    fn anchor(&self, value: u32) -> String {
        let scale = self.instrument.scale.as_ref();
        scale
            .and_then(|s| s.anchors.iter().find(|a| a.value == value))
            .map(|a| text(a.label.as_ref(), self.language))
            .unwrap_or_default()
    }

    fn scale(&self) -> (u32, u32) {
        self.instrument.scale.as_ref().map_or((0, 10), |s| (s.min, s.max))
    }

    fn prompt(&self) -> String {
        text(self.instrument.prompt.as_ref(), self.language)
    }

    fn name(&self) -> String {
        text(self.instrument.name.as_ref(), self.language)
    }

    fn source(&self) -> String {
        format!("{} · {}", self.instrument.attribution, text(self.instrument.text_sources.as_ref(), self.language))
    }
}

/// The workspace's customers by id, with their names as the visitor sees them, and whether the
/// visitor is one of its guides.
async fn members(
    state: &AppState,
    caller: &Principal,
    workspace: &str,
) -> Result<(Vec<(String, String)>, bool), ApiError> {
    let request =
        pb::ListMembersRequest { workspace_id: workspace.to_owned(), page_size: 100, page_token: String::new() };
    let members = state.workspaces().list_members(state.as_caller(caller, request)).await?.into_inner().members;
    let me = subject_of(caller);
    let guide = members
        .iter()
        .any(|m| m.kind == "expert" && Some(&m.id) == me.as_ref() && (m.role == "owner" || m.role == "guide"));
    let customers = members.into_iter().filter(|m| m.kind == "customer").map(|m| (m.id, m.name)).collect();
    Ok((customers, guide))
}

fn name_of(customers: &[(String, String)], id: &str) -> String {
    customers.iter().find(|(c, _)| c == id).map(|(_, n)| n.clone()).unwrap_or_default()
}

/// A round as the list shows it.
struct RoundRow {
    id: String,
    kind: String,
    customer: String,
    asked: String,
    submitted: bool,
    /// The visitor answers it (her own, not yet submitted).
    answerable: bool,
}

struct CustomerChoice {
    id: String,
    name: String,
}

/// A kind of round the guide may ask.
struct KindChoice {
    value: String,
    label: String,
}

#[derive(askama::Template)]
#[template(path = "rounds/list.html")]
struct ListPage {
    shell: Shell,
    id: String,
    rounds: Vec<RoundRow>,
    is_customer: bool,
    can_ask: bool,
    customers: Vec<CustomerChoice>,
    kinds: Vec<KindChoice>,
    errors: Vec<FieldError>,
    form: AskForm,
    /// A round was just asked or submitted.
    done: bool,
}

impl ListPage {
    fn error_for(&self, field: &str) -> Option<&str> {
        FieldError::find(&self.errors, field)
    }
}

#[derive(Clone, Default, Deserialize)]
pub struct AskForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    customer: String,
    #[serde(default)]
    kind: String,
}

#[derive(Default, Deserialize)]
pub struct DoneQuery {
    #[serde(default)]
    done: Option<String>,
}

async fn list_page(
    state: &AppState,
    visitor: &Visitor,
    id: &str,
    status: StatusCode,
    form: AskForm,
    errors: Vec<FieldError>,
    done: bool,
) -> Response {
    let t = Texts(visitor.language);
    let caller = match visitor.principal() {
        Ok(caller) => caller,
        Err(answer) => return *answer,
    };
    let id = match visitor.id(id) {
        Ok(id) => id,
        Err(answer) => return *answer,
    };
    let listed = state
        .surveys()
        .list_rounds(state.as_caller(&caller, surveys_pb::ListRoundsRequest { workspace_id: id.clone() }))
        .await;
    let listed = match listed {
        Ok(listed) => listed.into_inner().rounds,
        Err(status) => return visitor.failure(ApiError::from(status)),
    };
    let (customers, guide) = match members(state, &caller, &id).await {
        Ok(found) => found,
        Err(error) => return visitor.failure(error),
    };
    let me = subject_of(&caller);
    let is_customer = matches!(caller, Principal::Customer { .. });
    let rounds = listed
        .into_iter()
        .map(|r| RoundRow {
            kind: kind_text(&t, &r.kind),
            customer: name_of(&customers, &r.customer_id),
            asked: day(r.asked_at),
            submitted: r.submitted_at.is_some(),
            answerable: is_customer && r.submitted_at.is_none() && Some(&r.customer_id) == me.as_ref(),
            id: r.id,
        })
        .collect();
    let page = ListPage {
        shell: visitor.shell(t.get("web-rounds-title")),
        id,
        rounds,
        is_customer,
        can_ask: guide && !customers.is_empty(),
        customers: customers.into_iter().map(|(id, name)| CustomerChoice { id, name }).collect(),
        kinds: ["start", "along", "end"]
            .into_iter()
            .map(|k| KindChoice { value: k.to_owned(), label: kind_text(&t, k) })
            .collect(),
        errors,
        form,
        done,
    };
    visitor.render(status, &page)
}

/// The workspace's rounds the visitor may see, the guide's form to ask one, and the choice of
/// two rounds to compare.
pub async fn list(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(id): Path<String>,
    Query(query): Query<DoneQuery>,
) -> Response {
    list_page(&state, &visitor, &id, StatusCode::OK, AskForm::default(), Vec::new(), query.done.is_some()).await
}

/// A guide asks a customer to answer; back to the list.
pub async fn ask(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(id): Path<String>,
    Form(form): Form<AskForm>,
) -> Response {
    let caller = match visitor.acting(&form.csrf_token) {
        Ok(caller) => caller,
        Err(answer) => return *answer,
    };
    let workspace = match visitor.id(&id) {
        Ok(id) => id,
        Err(answer) => return *answer,
    };
    let request = surveys_pb::AskRoundRequest {
        workspace_id: workspace.clone(),
        customer_id: form.customer.clone(),
        kind: form.kind.clone(),
        instrument_id: String::new(),
        request_id: String::new(),
    };
    match state.surveys().ask_round(state.as_caller(&caller, request)).await {
        Ok(_) => visitor.finish(Redirect::to(&format!("/app/workspaces/{workspace}/rounds?done=1")).into_response()),
        Err(status) => {
            let error = ApiError::from(status);
            if error.0.violations.is_empty() {
                return visitor.failure(error);
            }
            let errors = FieldError::of(&error, visitor.language, &[("customer_id", "customer")]);
            list_page(&state, &visitor, &workspace, StatusCode::UNPROCESSABLE_ENTITY, form, errors, false).await
        }
    }
}

/// One radio of an item's scale.
struct Choice {
    value: String,
    label: String,
    checked: bool,
}

/// One item on the answering page.
struct ItemField {
    number: u32,
    label: String,
    text: String,
    choices: Vec<Choice>,
    no_answer_checked: bool,
}

/// One item's answer on the read view.
struct AnswerRow {
    label: String,
    value: String,
    band: String,
}

#[derive(askama::Template)]
#[template(path = "rounds/round.html")]
struct RoundPage {
    shell: Shell,
    id: String,
    round_id: String,
    asked: String,
    submitted: Option<String>,
    prompt: String,
    source: String,
    scale_hint: String,
    /// The answering form (the round's customer, before she submits).
    fields: Vec<ItemField>,
    answers: Vec<AnswerRow>,
    errors: Vec<FieldError>,
    saved: bool,
}

#[derive(Default, Deserialize)]
pub struct SavedQuery {
    #[serde(default)]
    saved: Option<String>,
}

/// The answering form: `item-1` … `item-10` each a value of the scale or empty (no answer), and
/// `action` `save` or `submit`.
#[derive(Default, Deserialize)]
pub struct AnswerForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    action: String,
    #[serde(flatten)]
    items: std::collections::HashMap<String, String>,
}

/// How the round page is shown: as stored (just saved, or not), or with a refused form.
enum Showing<'a> {
    Stored { saved: bool },
    Refused(&'a AnswerForm, Vec<FieldError>),
}

async fn round_page(state: &AppState, visitor: &Visitor, id: &str, round_id: &str, showing: Showing<'_>) -> Response {
    let (status, typed, errors, saved) = match showing {
        Showing::Stored { saved } => (StatusCode::OK, None, Vec::new(), saved),
        Showing::Refused(form, errors) => (StatusCode::UNPROCESSABLE_ENTITY, Some(form), errors, false),
    };
    let t = Texts(visitor.language);
    let caller = match visitor.principal() {
        Ok(caller) => caller,
        Err(answer) => return *answer,
    };
    let (Ok(workspace), Ok(round)) = (Uuid::parse_str(id), Uuid::parse_str(round_id)) else {
        return visitor.failure(ApiError::code(ohjaus_platform::error::ErrorCode::NotFound));
    };
    let found = match round_in(state, &caller, workspace, round).await {
        Ok(found) => found,
        Err(error) => return visitor.failure(error),
    };
    let meter = match Meter::of(state, &caller, &found, visitor.language).await {
        Ok(meter) => meter,
        Err(error) => return visitor.failure(error),
    };
    let mine = matches!(&caller, Principal::Customer { customer_id } if customer_id.to_string() == found.customer_id);
    let (min, max) = meter.scale();
    let fields = if mine && found.submitted_at.is_none() {
        found
            .answers
            .iter()
            .map(|a| {
                let chosen = match typed {
                    Some(form) => form.items.get(&format!("item-{}", a.item)).cloned().unwrap_or_default(),
                    None => a.value.map(|v| v.to_string()).unwrap_or_default(),
                };
                let item = meter.item(a.item);
                ItemField {
                    number: a.item,
                    label: meter.label(a.item),
                    text: item.map(|i| text(i.text.as_ref(), visitor.language)).unwrap_or_default(),
                    choices: (min..=max)
                        .map(|v| Choice {
                            value: v.to_string(),
                            label: v.to_string(),
                            checked: chosen == v.to_string(),
                        })
                        .collect(),
                    no_answer_checked: chosen.is_empty(),
                }
            })
            .collect()
    } else {
        Vec::new()
    };
    let answers = found
        .answers
        .iter()
        .map(|a| AnswerRow {
            label: meter.label(a.item),
            value: a.value.map_or_else(|| t.get("web-round-no-answer"), |v| v.to_string()),
            band: meter.band(&a.band),
        })
        .collect();
    let scale_hint = t.0.text_with(
        "web-round-scale-hint",
        &[
            ("min", &min.to_string()),
            ("min_label", &meter.anchor(min)),
            ("max", &max.to_string()),
            ("max_label", &meter.anchor(max)),
        ],
    );
    let page = RoundPage {
        shell: visitor.shell(format!("{} – {}", meter.name(), kind_text(&t, &found.kind))),
        id: workspace.to_string(),
        round_id: found.id.clone(),
        asked: day(found.asked_at),
        submitted: found.submitted_at.map(|at| day(Some(at))),
        prompt: meter.prompt(),
        source: meter.source(),
        scale_hint,
        fields,
        answers,
        errors,
        saved,
    };
    visitor.render(status, &page)
}

/// One round: the customer's answering form until she submits, otherwise per item the value
/// and its band.
pub async fn show(
    State(state): State<AppState>,
    visitor: Visitor,
    Path((id, round)): Path<(String, String)>,
    Query(query): Query<SavedQuery>,
) -> Response {
    round_page(&state, &visitor, &id, &round, Showing::Stored { saved: query.saved.is_some() }).await
}

/// Saves (and with `action=submit` submits) the customer's answers; Post/Redirect/Get.
pub async fn answer(
    State(state): State<AppState>,
    visitor: Visitor,
    Path((id, round)): Path<(String, String)>,
    Form(form): Form<AnswerForm>,
) -> Response {
    let caller = match visitor.acting(&form.csrf_token) {
        Ok(caller) => caller,
        Err(answer) => return *answer,
    };
    let (Ok(workspace), Ok(round_id)) = (Uuid::parse_str(&id), Uuid::parse_str(&round)) else {
        return visitor.failure(ApiError::code(ohjaus_platform::error::ErrorCode::NotFound));
    };
    // `item-N` for each item the form showed (the instrument version's own items).
    let mut answers = Vec::new();
    let mut errors = Vec::new();
    let mut fields: Vec<(u32, &String)> = form
        .items
        .iter()
        .filter_map(|(name, value)| Some((name.strip_prefix("item-")?.parse::<u32>().ok()?, value)))
        .collect();
    fields.sort();
    for (item, value) in fields {
        match value.trim() {
            "" => answers.push((item, None)),
            given => match given.parse::<u32>() {
                Ok(value) => answers.push((item, Some(value))),
                Err(_) => errors.push(FieldError {
                    field: format!("item-{item}-0"),
                    message: visitor.language.text("invalid-scale-value"),
                }),
            },
        }
    }
    let submit = form.action == "submit";
    if errors.is_empty() {
        match save_as(&state, &caller, workspace, round_id, answers.clone(), submit).await {
            Ok(_) if submit => {
                return visitor
                    .finish(Redirect::to(&format!("/app/workspaces/{workspace}/rounds?done=1")).into_response());
            }
            Ok(_) => {
                return visitor.finish(
                    Redirect::to(&format!("/app/workspaces/{workspace}/rounds/{round_id}?saved=1")).into_response(),
                );
            }
            Err(error) if error.0.violations.is_empty() => return visitor.failure(error),
            Err(error) => {
                // `answers[i].…` names the i-th value given; the page names its item.
                let given: Vec<u32> = answers.iter().filter(|(_, v)| v.is_some()).map(|(i, _)| *i).collect();
                for v in &error.0.violations {
                    let index = v
                        .field
                        .strip_prefix("answers[")
                        .and_then(|r| r.split(']').next())
                        .and_then(|i| i.parse::<usize>().ok());
                    let item = index.and_then(|i| given.get(i)).copied().unwrap_or(1);
                    errors.push(FieldError {
                        field: format!("item-{item}-0"),
                        message: visitor.language.text(&v.reason),
                    });
                }
            }
        }
    }
    round_page(&state, &visitor, &id, &round, Showing::Refused(&form, errors)).await
}

#[derive(Default, Deserialize)]
pub struct ChangeQuery {
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
}

/// One item in the change view.
struct ChangeRow {
    label: String,
    from: String,
    from_band: String,
    to: String,
    to_band: String,
    change: String,
}

/// One bar of the chart.
struct Bar {
    x: u32,
    y: u32,
    width: u32,
    value_x: u32,
    value: String,
    fill: String,
}

/// One item's row of the chart: its label and the two rounds' bars.
struct ChartRow {
    label: String,
    label_y: u32,
    bars: Vec<Bar>,
}

#[derive(askama::Template)]
#[template(path = "rounds/change.html")]
struct ChangePage {
    shell: Shell,
    id: String,
    from_title: String,
    to_title: String,
    rows: Vec<ChangeRow>,
    chart: Vec<ChartRow>,
    chart_height: u32,
    description: String,
    legend: Vec<LegendEntry>,
    source: String,
}

/// Geometry of the chart (SVG user units).
const LABEL_WIDTH: u32 = 150;
const UNIT: u32 = 36;
const BAR_HEIGHT: u32 = 14;
const ROW_HEIGHT: u32 = 40;

/// A band's colour in the chart (each at least 3:1 against white); the legend and the table
/// name the band in words, so colour is never the only carrier.
fn band_fill(key: &str) -> String {
    match key {
        "dissatisfied" => "#b3261e",
        "moderately-satisfied" => "#7a5900",
        "satisfied" => "#1b6e3a",
        _ => "#505a5f",
    }
    .to_owned()
}

/// A band in the chart's legend.
struct LegendEntry {
    fill: String,
    label: String,
}

/// The change per item between two chosen rounds: a bar chart (SVG with a title and a
/// description) and the same data as a table.
pub async fn change(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(id): Path<String>,
    Query(query): Query<ChangeQuery>,
) -> Response {
    let t = Texts(visitor.language);
    let caller = match visitor.principal() {
        Ok(caller) => caller,
        Err(answer) => return *answer,
    };
    let not_found = || ApiError::code(ohjaus_platform::error::ErrorCode::NotFound);
    let (Ok(workspace), Ok(from), Ok(to)) =
        (Uuid::parse_str(&id), Uuid::parse_str(&query.from), Uuid::parse_str(&query.to))
    else {
        return visitor.failure(not_found());
    };
    let (compared, first, second) = match compare_as(&state, &caller, workspace, from, to).await {
        Ok(found) => found,
        Err(error) => return visitor.failure(error),
    };
    let meter = match Meter::of(&state, &caller, &second, visitor.language).await {
        Ok(meter) => meter,
        Err(error) => return visitor.failure(error),
    };
    let title = |r: &surveys_pb::Round| format!("{} {}", kind_text(&t, &r.kind), day(r.asked_at));
    let (from_title, to_title) = (title(&first), title(&second));
    let none = t.get("web-round-no-answer");
    let shown = |v: Option<u32>| v.map_or_else(|| none.clone(), |v| v.to_string());
    let mut rows = Vec::new();
    let mut chart = Vec::new();
    let mut described = Vec::new();
    for (i, c) in compared.items.iter().enumerate() {
        let label = meter.label(c.item);
        let change = c.change.map_or_else(|| t.get("web-round-no-change"), |d| format!("{d:+}"));
        described.push(format!("{label}: {} → {} ({change})", shown(c.from), shown(c.to)));
        let row_y = u32::try_from(i).unwrap_or(0) * ROW_HEIGHT;
        let bar = |value: Option<u32>, band: &str, offset: u32| Bar {
            x: LABEL_WIDTH,
            y: row_y + offset,
            width: value.map_or(0, |v| v * UNIT),
            value_x: LABEL_WIDTH + value.map_or(0, |v| v * UNIT) + 4,
            value: shown(value),
            fill: band_fill(band),
        };
        chart.push(ChartRow {
            label: label.clone(),
            label_y: row_y + BAR_HEIGHT + 4,
            bars: vec![bar(c.from, &c.from_band, 2), bar(c.to, &c.to_band, 2 + BAR_HEIGHT + 2)],
        });
        rows.push(ChangeRow {
            label,
            from: shown(c.from),
            from_band: meter.band(&c.from_band),
            to: shown(c.to),
            to_band: meter.band(&c.to_band),
            change,
        });
    }
    let description = format!(
        "{} {}",
        t.0.text_with("web-round-chart-description", &[("from", &from_title), ("to", &to_title)]),
        described.join("; ")
    );
    let legend = meter
        .instrument
        .bands
        .iter()
        .map(|b| LegendEntry {
            fill: band_fill(&b.key),
            label: format!("{} ({}–{})", text(b.label.as_ref(), visitor.language), b.from, b.to),
        })
        .collect();
    let page = ChangePage {
        shell: visitor.shell(t.get("web-round-change-title")),
        id: workspace.to_string(),
        from_title,
        to_title,
        chart_height: u32::try_from(rows.len()).unwrap_or(0) * ROW_HEIGHT,
        rows,
        chart,
        description,
        legend,
        source: meter.source(),
    };
    visitor.render(StatusCode::OK, &page)
}
