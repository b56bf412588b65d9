//! `/admin/deletions`: the evidence of retention's deletions (ids, rule, decision and
//! completion times, each service's counts; no personal data, no content), listed page by page
//! or exported whole as JSON lines.

use std::collections::BTreeMap;

use axum::{
    body::Body,
    extract::State,
    http::{HeaderValue, header},
    response::Response,
};
use chrono::{DateTime, Utc};
use futures::stream;
use ohjaus_platform::{auth::Principal, proto::retention::v1 as pb};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use uuid::Uuid;

use super::TAG;
use crate::{
    docs::{BasicProblems, ListProblems, routes},
    extract::{ApiPath, ApiQuery, Caller, PageParams},
    ids::service_id,
    problem::ApiError,
    state::AppState,
    views::{Page, timestamp, view_all},
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_deletions)).routes(routes!(export_deletions)).routes(routes!(get_deletion))
}

/// One service's part of a deletion.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeletionStep {
    /// `workspaces`, `consent`, `identity`, …
    pub service: String,
    /// What the service was asked to delete: the workspace, or a customer account.
    pub target_id: Uuid,
    /// `pending`, `deleted`, or `kept` (a customer account still in another workspace).
    pub outcome: String,
    /// What it deleted, by kind (rows per table, `objects` in the object store).
    pub deleted: BTreeMap<String, i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub completed_at: Option<DateTime<Utc>>,
    /// How many times retention asked.
    pub attempts: i64,
}

/// The evidence of one deletion.
#[derive(Debug, Serialize, ToSchema)]
pub struct Deletion {
    pub id: Uuid,
    /// `workspace`.
    pub subject_kind: String,
    pub subject_id: Uuid,
    /// The retention rule, e.g. `workspace-archived`.
    pub rule: String,
    pub decided_at: DateTime<Utc>,
    /// Absent until every service has answered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub completed_at: Option<DateTime<Utc>>,
    pub steps: Vec<DeletionStep>,
}

fn deletion(d: pb::Deletion) -> Result<Deletion, ApiError> {
    Ok(Deletion {
        id: service_id(&d.id)?,
        subject_kind: d.subject_kind,
        subject_id: service_id(&d.subject_id)?,
        rule: d.rule,
        decided_at: timestamp(d.decided_at),
        completed_at: d.completed_at.map(|t| timestamp(Some(t))),
        steps: d
            .steps
            .into_iter()
            .map(|s| {
                Ok(DeletionStep {
                    service: s.service,
                    target_id: service_id(&s.target_id)?,
                    outcome: s.outcome,
                    deleted: s.deleted.into_iter().collect(),
                    completed_at: s.completed_at.map(|t| timestamp(Some(t))),
                    attempts: s.attempts,
                })
            })
            .collect::<Result<_, ApiError>>()?,
    })
}

/// List retention's deletions, oldest first (operator).
#[utoipa::path(get, path = "/admin/deletions", tag = TAG, params(PageParams),
    responses((status = 200, body = Page<Deletion>), ListProblems),
    security(("session" = []), ("operator_token" = [])))]
async fn list_deletions(
    state: State<AppState>,
    Caller(caller): Caller,
    ApiQuery(page): ApiQuery<PageParams>,
) -> Result<axum::Json<Page<Deletion>>, ApiError> {
    let request = pb::ListDeletionsRequest { page_size: page.size(), page_token: page.token() };
    let response = state.retention().list_deletions(state.as_caller(&caller, request)).await?.into_inner();
    Ok(axum::Json(Page::new(view_all(response.deletions, deletion)?, response.next_page_token)))
}

/// One deletion's evidence (operator).
#[utoipa::path(get, path = "/admin/deletions/{id}", tag = TAG, params(("id" = Uuid, Path)),
    responses((status = 200, body = Deletion), BasicProblems),
    security(("session" = []), ("operator_token" = [])))]
async fn get_deletion(
    state: State<AppState>,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<axum::Json<Deletion>, ApiError> {
    let request = pb::GetDeletionRequest { deletion_id: id.to_string() };
    let found = state.retention().get_deletion(state.as_caller(&caller, request)).await?.into_inner();
    Ok(axum::Json(deletion(found)?))
}

/// Every deletion's evidence as JSON lines (one `Deletion` a line, oldest first), streamed page
/// by page (operator).
#[utoipa::path(get, path = "/admin/deletions/export", tag = TAG,
    responses((status = 200, description = "One Deletion object per line", content_type = "application/x-ndjson"),
        BasicProblems),
    security(("session" = []), ("operator_token" = [])))]
async fn export_deletions(state: State<AppState>, Caller(caller): Caller) -> Result<Response, ApiError> {
    // The first page is asked before answering, so a refusal is a problem, not a cut stream.
    let first = fetch_page(&state, &caller, String::new()).await?;
    let pages = stream::unfold(Some(Ok(first)), move |next: Option<Result<(Vec<u8>, String), ApiError>>| {
        let (state, caller) = (state.clone(), caller.clone());
        async move {
            let (lines, token) = match next? {
                Ok(page) => page,
                Err(error) => {
                    tracing::warn!(?error, "deletion export ended early");
                    return None;
                }
            };
            let next = if token.is_empty() { None } else { Some(fetch_page(&state, &caller, token).await) };
            Some((Ok::<_, std::convert::Infallible>(lines), next))
        }
    });
    let mut response = Response::new(Body::from_stream(pages));
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/x-ndjson"));
    Ok(response)
}

/// One page of the export as JSON lines, and the next page's token.
async fn fetch_page(state: &AppState, caller: &Principal, token: String) -> Result<(Vec<u8>, String), ApiError> {
    let request = pb::ListDeletionsRequest { page_size: 100, page_token: token };
    let response = state.retention().list_deletions(state.as_caller(caller, request)).await?.into_inner();
    let mut lines = Vec::new();
    for found in response.deletions {
        let line = serde_json::to_vec(&deletion(found)?)
            .map_err(|_| ApiError::code(ohjaus_platform::error::ErrorCode::Internal))?;
        lines.extend_from_slice(&line);
        lines.push(b'\n');
    }
    Ok((lines, response.next_page_token))
}
