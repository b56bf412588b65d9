//! `/instruments`: the survey instruments (the surveys service), such as the 3X10D meter —
//! versioned data read by anyone signed in; the operator loads a new version from its file.

use axum::{Json, extract::State};
use chrono::{DateTime, Utc};
use ohjaus_platform::proto::surveys::v1 as pb;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;

use crate::{
    docs::{BasicProblems, CreateProblems, routes},
    extract::{ApiJson, Caller},
    problem::ApiError,
    state::AppState,
    views::timestamp,
};

const TAG: &str = "surveys";

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_instruments, load_instrument))
}

/// A text in Finnish, Swedish and English.
#[derive(Debug, Serialize, ToSchema)]
pub struct InstrumentText {
    pub fi: String,
    pub sv: String,
    pub en: String,
}

/// A labelled point of the scale.
#[derive(Debug, Serialize, ToSchema)]
pub struct ScaleAnchor {
    pub value: u32,
    pub label: InstrumentText,
}

/// The answer scale: whole numbers from `min` to `max`.
#[derive(Debug, Serialize, ToSchema)]
pub struct InstrumentScale {
    pub min: u32,
    pub max: u32,
    pub anchors: Vec<ScaleAnchor>,
}

/// A range of the scale reported together.
#[derive(Debug, Serialize, ToSchema)]
pub struct InstrumentBand {
    pub key: String,
    pub from: u32,
    pub to: u32,
    pub label: InstrumentText,
}

/// One question of the instrument.
#[derive(Debug, Serialize, ToSchema)]
pub struct InstrumentItem {
    pub number: u32,
    pub key: String,
    pub label: InstrumentText,
    pub text: InstrumentText,
}

/// An instrument version. It has no total score.
#[derive(Debug, Serialize, ToSchema)]
pub struct Instrument {
    pub id: String,
    pub version: u32,
    pub name: InstrumentText,
    /// Whose instrument it is (e.g. "3X10D® Diak").
    pub attribution: String,
    /// Per language, where its texts come from (the original, or our translation).
    pub text_sources: InstrumentText,
    /// The question each item completes.
    pub prompt: InstrumentText,
    pub scale: InstrumentScale,
    pub bands: Vec<InstrumentBand>,
    pub items: Vec<InstrumentItem>,
    pub loaded_at: DateTime<Utc>,
}

/// Every loaded instrument version, each instrument's newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct InstrumentList {
    pub items: Vec<Instrument>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InstrumentFile {
    /// The instrument file's text (TOML, as `services/surveys/instruments/*.toml`).
    pub document: String,
}

fn text(t: Option<pb::Localized>) -> InstrumentText {
    let t = t.unwrap_or_default();
    InstrumentText { fi: t.fi, sv: t.sv, en: t.en }
}

fn instrument(i: pb::Instrument) -> Instrument {
    let scale = i.scale.unwrap_or_default();
    Instrument {
        id: i.id,
        version: i.version,
        name: text(i.name),
        attribution: i.attribution,
        text_sources: text(i.text_sources),
        prompt: text(i.prompt),
        scale: InstrumentScale {
            min: scale.min,
            max: scale.max,
            anchors: scale.anchors.into_iter().map(|a| ScaleAnchor { value: a.value, label: text(a.label) }).collect(),
        },
        bands: i
            .bands
            .into_iter()
            .map(|b| InstrumentBand { key: b.key, from: b.from, to: b.to, label: text(b.label) })
            .collect(),
        items: i
            .items
            .into_iter()
            .map(|item| InstrumentItem {
                number: item.number,
                key: item.key,
                label: text(item.label),
                text: text(item.text),
            })
            .collect(),
        loaded_at: timestamp(i.loaded_at),
    }
}

/// List the instrument versions (anyone signed in).
#[utoipa::path(get, path = "/instruments", tag = TAG,
    responses((status = 200, body = InstrumentList), BasicProblems),
    security(("session" = []), ("operator_token" = [])))]
async fn list_instruments(state: State<AppState>, Caller(caller): Caller) -> Result<Json<InstrumentList>, ApiError> {
    let listed =
        state.surveys().list_instruments(state.as_caller(&caller, pb::ListInstrumentsRequest {})).await?.into_inner();
    Ok(Json(InstrumentList { items: listed.instruments.into_iter().map(instrument).collect() }))
}

/// Load an instrument file (operator): a new version is stored, the same file again answers
/// with what is stored, other texts under a loaded version are refused (409).
#[utoipa::path(post, path = "/instruments", tag = TAG,
    request_body = InstrumentFile,
    responses((status = 200, body = Instrument), CreateProblems),
    security(("operator_token" = [])))]
async fn load_instrument(
    state: State<AppState>,
    Caller(caller): Caller,
    ApiJson(body): ApiJson<InstrumentFile>,
) -> Result<Json<Instrument>, ApiError> {
    let request = pb::LoadInstrumentRequest { document: body.document };
    let loaded = state.surveys().load_instrument(state.as_caller(&caller, request)).await?.into_inner();
    Ok(Json(instrument(loaded)))
}
