//! `/organizations/{id}/canned-answers`: an organisation's answer templates for replying to
//! contact-form submissions, kept by its main users and advisors, used by advisors and guides.

use axum::{
    extract::State,
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
};
use chrono::{DateTime, Utc};
use ohjaus_platform::{error::ErrorCode, proto::forms::v1 as pb};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use uuid::Uuid;

use crate::{
    docs::{BasicProblems, CreateProblems, ListProblems, routes},
    extract::{ApiJson, ApiPath, ApiQuery, Caller, idempotency_key},
    ids::service_id,
    problem::ApiError,
    routes::submissions::TAG,
    state::AppState,
    views::{LocalizedText, timestamp},
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_canned_answer, list_canned_answers))
        .routes(routes!(delete_canned_answer))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CannedAnswerInput {
    /// 1–200 characters.
    pub title: String,
    /// The answer in Finnish (required), Swedish and English (1–5000 characters each).
    pub text: LocalizedText,
    /// Guidance topic codes it suits.
    #[serde(default)]
    pub topics: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CannedAnswer {
    pub id: Uuid,
    pub organization_id: Uuid,
    pub title: String,
    pub text: LocalizedText,
    pub topics: Vec<String>,
    pub created_at: DateTime<Utc>,
}

fn canned(c: pb::CannedAnswer) -> Result<CannedAnswer, ApiError> {
    let text = c.text.unwrap_or_default();
    Ok(CannedAnswer {
        id: service_id(&c.id)?,
        organization_id: service_id(&c.organization_id)?,
        title: c.title,
        text: LocalizedText {
            fi: text.fi,
            sv: Some(text.sv).filter(|s| !s.is_empty()),
            en: Some(text.en).filter(|s| !s.is_empty()),
        },
        topics: c.topics,
        created_at: timestamp(c.created_at),
    })
}

/// Add a canned answer (main users and advisors).
#[utoipa::path(post, path = "/organizations/{id}/canned-answers", tag = TAG, params(("id" = Uuid, Path), ("Idempotency-Key" = Option<String>, Header)),
    request_body = CannedAnswerInput,
    responses((status = 201, body = CannedAnswer),
        CreateProblems),
    security(("session" = [], "csrf" = [])))]
async fn create_canned_answer(
    state: State<AppState>,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<Uuid>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<CannedAnswerInput>,
) -> Result<Response, ApiError> {
    let request = pb::CreateCannedAnswerRequest {
        organization_id: id.to_string(),
        title: body.title,
        text: Some(pb::LocalizedText {
            fi: body.text.fi,
            sv: body.text.sv.unwrap_or_default(),
            en: body.text.en.unwrap_or_default(),
        }),
        topics: body.topics,
        request_id: idempotency_key(&headers)?,
    };
    let created = state.forms().create_canned_answer(state.as_caller(&caller, request)).await?.into_inner();
    Ok((StatusCode::CREATED, axum::Json(canned(created)?)).into_response())
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CannedParams {
    /// Only those for this guidance topic.
    pub topic: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CannedAnswers {
    pub items: Vec<CannedAnswer>,
}

/// List the organisation's canned answers (main users, advisors and guides).
#[utoipa::path(get, path = "/organizations/{id}/canned-answers", tag = TAG, params(("id" = Uuid, Path), CannedParams),
    responses((status = 200, body = CannedAnswers),
        ListProblems),
    security(("session" = [])))]
async fn list_canned_answers(
    state: State<AppState>,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<Uuid>,
    ApiQuery(query): ApiQuery<CannedParams>,
) -> Result<axum::Json<CannedAnswers>, ApiError> {
    let request =
        pb::ListCannedAnswersRequest { organization_id: id.to_string(), topic: query.topic.unwrap_or_default() };
    let response = state.forms().list_canned_answers(state.as_caller(&caller, request)).await?.into_inner();
    let items = response.canned_answers.into_iter().map(canned).collect::<Result<_, _>>()?;
    Ok(axum::Json(CannedAnswers { items }))
}

/// Remove a canned answer (main users and advisors).
#[utoipa::path(delete, path = "/organizations/{id}/canned-answers/{canned_id}", tag = TAG,
    params(("id" = Uuid, Path), ("canned_id" = Uuid, Path)),
    responses((status = 204),
        BasicProblems),
    security(("session" = [], "csrf" = [])))]
async fn delete_canned_answer(
    state: State<AppState>,
    Caller(caller): Caller,
    ApiPath((id, canned_id)): ApiPath<(Uuid, Uuid)>,
) -> Result<StatusCode, ApiError> {
    let list = pb::ListCannedAnswersRequest { organization_id: id.to_string(), topic: String::new() };
    let known = state.forms().list_canned_answers(state.as_caller(&caller, list)).await?.into_inner();
    if !known.canned_answers.iter().any(|c| c.id == canned_id.to_string()) {
        return Err(ApiError::code(ErrorCode::NotFound));
    }
    let request = pb::DeleteCannedAnswerRequest { canned_answer_id: canned_id.to_string() };
    state.forms().delete_canned_answer(state.as_caller(&caller, request)).await?;
    Ok(StatusCode::NO_CONTENT)
}
