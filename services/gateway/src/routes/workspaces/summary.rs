//! `/workspaces/{id}/summary`: the guidance summary of a workspace.

use axum::{
    extract::State,
    http::{HeaderMap, StatusCode},
    response::Response,
};
use chrono::{DateTime, Utc};
use ohjaus_platform::proto::workspaces::v1 as pb;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use uuid::Uuid;

use crate::{
    docs::{BasicProblems, UpdateProblems, routes},
    extract::{ApiJson, ApiPath, Caller, CurrentSession, if_match, principal_of_session},
    ids::{optional_service_id, service_id},
    problem::ApiError,
    state::AppState,
    views::{timestamp, versioned},
};

/// Guidance is documented apart from the rest of a workspace.
const TAG: &str = "guidance";

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_summary, put_summary))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Summary {
    pub workspace_id: Uuid,
    /// Empty until someone writes it.
    pub text: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated_by: Option<Uuid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated_by_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<DateTime<Utc>>,
    /// 0 before the first version.
    pub version: i64,
}

fn summary(s: pb::Summary) -> Result<Summary, ApiError> {
    Ok(Summary {
        workspace_id: service_id(&s.workspace_id)?,
        text: s.text,
        updated_by: optional_service_id(&s.updated_by)?,
        updated_by_name: (!s.updated_by_name.is_empty()).then_some(s.updated_by_name),
        updated_at: s.updated_at.map(|t| timestamp(Some(t))),
        version: s.version,
    })
}

/// The guidance summary (members; the read is logged).
#[utoipa::path(get, path = "/workspaces/{id}/summary", tag = TAG, params(("id" = Uuid, Path)),
    responses((status = 200, body = Summary),
        BasicProblems),
    security(("session" = [])))]
async fn get_summary(
    state: State<AppState>,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Response, ApiError> {
    let request = pb::GetSummaryRequest { workspace_id: id.to_string() };
    let found = state.workspaces().get_summary(state.as_caller(&caller, request)).await?.into_inner();
    let version = found.version;
    Ok(versioned(StatusCode::OK, summary(found)?, version, None))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SummaryInput {
    /// At most 20 000 characters.
    pub text: String,
}

/// Write the summary (guides and experts). The first version is written without `If-Match`;
/// every later one needs the `If-Match` of the version it replaces, so nobody overwrites a
/// colleague's newer text. Needs `X-CSRF-Token`.
#[utoipa::path(put, path = "/workspaces/{id}/summary", tag = TAG,
    params(("id" = Uuid, Path), ("If-Match" = Option<String>, Header)), request_body = SummaryInput,
    responses((status = 200, body = Summary),
        UpdateProblems),
    security(("session" = [], "csrf" = [])))]
async fn put_summary(
    state: State<AppState>,
    session: CurrentSession,
    ApiPath(id): ApiPath<Uuid>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<SummaryInput>,
) -> Result<Response, ApiError> {
    let caller = principal_of_session(&session.resolved)?;
    let version = if headers.contains_key(axum::http::header::IF_MATCH) { if_match(&headers)? } else { 0 };
    let request = pb::PutSummaryRequest {
        workspace_id: id.to_string(),
        text: body.text,
        version,
        author_name: session.resolved.display_name.clone(),
    };
    let written = state.workspaces().put_summary(state.as_caller(&caller, request)).await?.into_inner();
    let version = written.version;
    Ok(versioned(StatusCode::OK, summary(written)?, version, None))
}
