//! `/workspaces/{id}/rounds…`: the 3X10D meter's rounds of a workspace (the surveys service). A
//! guide of the workspace asks a customer to answer; the customer saves her answers as often as
//! she likes (an item left out, or given as `null`, is "no answer", never 0) and submits; she
//! sees her own rounds, the workspace's guides every round, an expert who joined by consent the
//! rounds the consent shows. Per item the value and its band, and the change between any two
//! rounds of one customer. No total score exists. To anyone else a round is not found.

use axum::{
    Json,
    extract::State,
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
};
use chrono::{DateTime, Utc};
use ohjaus_platform::proto::surveys::v1 as pb;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use uuid::Uuid;

use crate::{
    docs::{BasicProblems, CreateProblems, ListProblems, routes},
    extract::{ApiJson, ApiPath, ApiQuery, Caller, idempotency_key},
    ids::{field_id, service_id},
    problem::{ApiError, Problem},
    state::AppState,
    views::timestamp,
};

const TAG: &str = "surveys";

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(ask_round, list_rounds))
        .routes(routes!(get_round))
        .routes(routes!(save_answers))
        .routes(routes!(submit_round))
        .routes(routes!(compare_rounds))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoundInput {
    /// The customer of the workspace who is asked.
    #[schema(value_type = Uuid)]
    pub customer_id: String,
    /// `start`, `along` (along the way) or `end`.
    pub kind: String,
    /// Empty or left out: the 3X10D meter (its newest version).
    #[serde(default)]
    pub instrument_id: String,
}

/// One item's answer: no `value` (and no `band`) is "no answer".
#[derive(Debug, Serialize, ToSchema)]
pub struct RoundAnswer {
    pub item: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<u32>,
    /// The band of the value (`dissatisfied`, `moderately-satisfied`, `satisfied`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub band: Option<String>,
}

/// One customer's answers to one instrument version. It has no total score.
#[derive(Debug, Serialize, ToSchema)]
pub struct Round {
    pub id: Uuid,
    pub workspace_id: Uuid,
    pub customer_id: Uuid,
    /// `start`, `along` or `end`.
    pub kind: String,
    pub instrument_id: String,
    pub instrument_version: u32,
    pub asked_at: DateTime<Utc>,
    /// Absent until the customer submits; after it the answers no longer change.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub submitted_at: Option<DateTime<Utc>>,
    /// One per item of the instrument, in item order.
    pub answers: Vec<RoundAnswer>,
    pub version: i64,
}

/// The rounds the caller may see, oldest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct RoundList {
    pub items: Vec<Round>,
}

/// One item's value; `null` (or the item left out) is "no answer".
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AnswerInput {
    pub item: u32,
    pub value: Option<u32>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AnswersInput {
    /// The answers as they stand now: they replace what was saved before.
    pub answers: Vec<AnswerInput>,
    /// Submit with these answers: the round is closed.
    #[serde(default)]
    pub submit: bool,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CompareQuery {
    /// The earlier round of the same customer.
    #[param(value_type = Uuid)]
    pub from: String,
}

/// One item in both rounds: each value with its band, and the change when both have one.
#[derive(Debug, Serialize, ToSchema)]
pub struct RoundItemChange {
    pub item: u32,
    pub key: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from_band: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to_band: Option<String>,
    /// `to − from`; absent when either round has no answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub change: Option<i32>,
}

/// The change per item from one round to another.
#[derive(Debug, Serialize, ToSchema)]
pub struct RoundComparison {
    pub from_round_id: Uuid,
    pub to_round_id: Uuid,
    pub items: Vec<RoundItemChange>,
}

fn non_empty(text: String) -> Option<String> {
    (!text.is_empty()).then_some(text)
}

pub fn round(r: pb::Round) -> Result<Round, ApiError> {
    Ok(Round {
        id: service_id(&r.id)?,
        workspace_id: service_id(&r.workspace_id)?,
        customer_id: service_id(&r.customer_id)?,
        kind: r.kind,
        instrument_id: r.instrument_id,
        instrument_version: r.instrument_version,
        asked_at: timestamp(r.asked_at),
        submitted_at: r.submitted_at.map(|t| timestamp(Some(t))),
        answers: r
            .answers
            .into_iter()
            .map(|a| RoundAnswer { item: a.item, value: a.value, band: non_empty(a.band) })
            .collect(),
        version: r.version,
    })
}

/// The round `round_id` of workspace `id` as the caller may see it; one of another workspace
/// is not found here.
pub async fn round_in(
    state: &AppState,
    caller: &ohjaus_platform::auth::Principal,
    id: Uuid,
    round_id: Uuid,
) -> Result<pb::Round, ApiError> {
    let request = pb::GetRoundRequest { round_id: round_id.to_string() };
    let found = state.surveys().get_round(state.as_caller(caller, request)).await?.into_inner();
    if found.workspace_id != id.to_string() {
        return Err(ApiError::code(ohjaus_platform::error::ErrorCode::NotFound));
    }
    Ok(found)
}

/// Saves `answers` (values by item; `None` is no answer) and, with `submit`, closes the round.
pub async fn save_as(
    state: &AppState,
    caller: &ohjaus_platform::auth::Principal,
    id: Uuid,
    round_id: Uuid,
    answers: Vec<(u32, Option<u32>)>,
    submit: bool,
) -> Result<pb::Round, ApiError> {
    round_in(state, caller, id, round_id).await?;
    let request = pb::SaveAnswersRequest {
        round_id: round_id.to_string(),
        answers: answers
            .into_iter()
            .filter_map(|(item, value)| value.map(|value| pb::AnswerValue { item, value }))
            .collect(),
        submit,
    };
    Ok(state.surveys().save_answers(state.as_caller(caller, request)).await?.into_inner())
}

/// The change per item from round `from` to round `to`, both of workspace `id`, with the two
/// rounds.
pub async fn compare_as(
    state: &AppState,
    caller: &ohjaus_platform::auth::Principal,
    id: Uuid,
    from: Uuid,
    to: Uuid,
) -> Result<(pb::Comparison, pb::Round, pb::Round), ApiError> {
    let later = round_in(state, caller, id, to).await?;
    let earlier = round_in(state, caller, id, from).await?;
    let request = pb::CompareRoundsRequest { from_round_id: from.to_string(), to_round_id: to.to_string() };
    let compared = state.surveys().compare_rounds(state.as_caller(caller, request)).await?.into_inner();
    Ok((compared, earlier, later))
}

/// Ask a customer of the workspace to answer a round (its guides). The customer is notified in
/// the app and by a mail without content.
#[utoipa::path(post, path = "/workspaces/{id}/rounds", tag = TAG,
    params(("id" = Uuid, Path), ("Idempotency-Key" = Option<String>, Header)),
    request_body = RoundInput,
    responses((status = 201, body = Round, headers(("Location" = String))), CreateProblems),
    security(("session" = [], "csrf" = [])))]
async fn ask_round(
    state: State<AppState>,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<Uuid>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<RoundInput>,
) -> Result<Response, ApiError> {
    let request = pb::AskRoundRequest {
        workspace_id: id.to_string(),
        customer_id: field_id("customer_id", &body.customer_id)?.to_string(),
        kind: body.kind,
        instrument_id: body.instrument_id,
        request_id: idempotency_key(&headers)?,
    };
    let asked = state.surveys().ask_round(state.as_caller(&caller, request)).await?.into_inner();
    let location = format!("/api/v1/workspaces/{id}/rounds/{}", asked.id);
    Ok((StatusCode::CREATED, [(axum::http::header::LOCATION, location)], Json(round(asked)?)).into_response())
}

/// The workspace's rounds the caller may see, oldest first: a customer her own, the guides
/// every one, a consented expert those the consent shows.
#[utoipa::path(get, path = "/workspaces/{id}/rounds", tag = TAG, params(("id" = Uuid, Path)),
    responses((status = 200, body = RoundList), BasicProblems),
    security(("session" = [])))]
async fn list_rounds(
    state: State<AppState>,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<RoundList>, ApiError> {
    let request = pb::ListRoundsRequest { workspace_id: id.to_string() };
    let listed = state.surveys().list_rounds(state.as_caller(&caller, request)).await?.into_inner();
    Ok(Json(RoundList { items: listed.rounds.into_iter().map(round).collect::<Result<_, _>>()? }))
}

/// One round: per item the value and its band.
#[utoipa::path(get, path = "/workspaces/{id}/rounds/{round_id}", tag = TAG,
    params(("id" = Uuid, Path), ("round_id" = Uuid, Path)),
    responses((status = 200, body = Round), BasicProblems),
    security(("session" = [])))]
async fn get_round(
    state: State<AppState>,
    Caller(caller): Caller,
    ApiPath((id, round_id)): ApiPath<(Uuid, Uuid)>,
) -> Result<Json<Round>, ApiError> {
    Ok(Json(round(round_in(&state, &caller, id, round_id).await?)?))
}

/// Save the answers (the round's customer, until she submits): they replace what was saved
/// before; an item left out or `null` is "no answer". With `submit` the round is closed.
#[utoipa::path(put, path = "/workspaces/{id}/rounds/{round_id}/answers", tag = TAG,
    params(("id" = Uuid, Path), ("round_id" = Uuid, Path)),
    request_body = AnswersInput,
    responses((status = 200, body = Round), CreateProblems,
        (status = 412, body = Problem, description = "Saved at the same time from elsewhere: read it again", content_type = "application/problem+json")),
    security(("session" = [], "csrf" = [])))]
async fn save_answers(
    state: State<AppState>,
    Caller(caller): Caller,
    ApiPath((id, round_id)): ApiPath<(Uuid, Uuid)>,
    ApiJson(body): ApiJson<AnswersInput>,
) -> Result<Json<Round>, ApiError> {
    let answers = body.answers.into_iter().map(|a| (a.item, a.value)).collect();
    Ok(Json(round(save_as(&state, &caller, id, round_id, answers, body.submit).await?)?))
}

/// Submit the answers saved so far (the round's customer): the round is closed; submitted
/// already: 409.
#[utoipa::path(post, path = "/workspaces/{id}/rounds/{round_id}/submit", tag = TAG,
    params(("id" = Uuid, Path), ("round_id" = Uuid, Path)),
    responses((status = 200, body = Round), BasicProblems,
        (status = 409, body = Problem, description = "Submitted already", content_type = "application/problem+json"),
        (status = 412, body = Problem, description = "Saved at the same time from elsewhere: read it again", content_type = "application/problem+json")),
    security(("session" = [], "csrf" = [])))]
async fn submit_round(
    state: State<AppState>,
    Caller(caller): Caller,
    ApiPath((id, round_id)): ApiPath<(Uuid, Uuid)>,
) -> Result<Json<Round>, ApiError> {
    let saved = round_in(&state, &caller, id, round_id).await?;
    let answers = saved.answers.into_iter().map(|a| (a.item, a.value)).collect();
    Ok(Json(round(save_as(&state, &caller, id, round_id, answers, true).await?)?))
}

/// The change per item from round `from` to this round (both of one customer): each value with
/// its band, and the difference where both have an answer.
#[utoipa::path(get, path = "/workspaces/{id}/rounds/{round_id}/change", tag = TAG,
    params(("id" = Uuid, Path), ("round_id" = Uuid, Path), CompareQuery),
    responses((status = 200, body = RoundComparison), ListProblems),
    security(("session" = [])))]
async fn compare_rounds(
    state: State<AppState>,
    Caller(caller): Caller,
    ApiPath((id, round_id)): ApiPath<(Uuid, Uuid)>,
    ApiQuery(query): ApiQuery<CompareQuery>,
) -> Result<Json<RoundComparison>, ApiError> {
    let from = field_id("from", &query.from)?;
    let (compared, _, _) = compare_as(&state, &caller, id, from, round_id).await?;
    Ok(Json(RoundComparison {
        from_round_id: service_id(&compared.from_round_id)?,
        to_round_id: service_id(&compared.to_round_id)?,
        items: compared
            .items
            .into_iter()
            .map(|c| RoundItemChange {
                item: c.item,
                key: c.key,
                from: c.from,
                from_band: non_empty(c.from_band),
                to: c.to,
                to_band: non_empty(c.to_band),
                change: c.change,
            })
            .collect(),
    }))
}
