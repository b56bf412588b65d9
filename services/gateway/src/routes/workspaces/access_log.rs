//! `/workspaces/{id}/access-log`: who read what of a workspace, and when.

use axum::extract::State;
use chrono::{DateTime, Utc};
use ohjaus_platform::proto::workspaces::v1 as pb;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use uuid::Uuid;

use super::TAG;
use crate::{
    docs::{ListProblems, routes},
    extract::{ApiPath, ApiQuery, Caller, PageParams},
    ids::optional_service_id,
    problem::ApiError,
    state::AppState,
    views::{Page, timestamp, view_all},
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_access_log))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AccessLogEntry {
    pub at: DateTime<Utc>,
    /// `expert` or `customer`.
    pub actor_kind: String,
    pub actor_id: String,
    /// `owner`, `guide`, `expert` or `customer`.
    pub actor_role: String,
    /// The actor's name as a member of the workspace.
    pub actor_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub organization_id: Option<Uuid>,
    /// What was read: `workspace`, `messages`, `message`, `files`, `file`, `members`, `export`,
    /// `access-log`, `summary`, guidance items (`phases`, `task`, …); or a change of an expert's
    /// access by consent: `consent-joined`, `consent-withdrawn`, `participation-ended`.
    pub what: String,
}

fn entry(e: pb::AccessLogEntry) -> Result<AccessLogEntry, ApiError> {
    Ok(AccessLogEntry {
        at: timestamp(e.at),
        actor_kind: e.actor_kind,
        actor_id: e.actor_id,
        actor_role: e.actor_role,
        actor_name: e.actor_name,
        organization_id: optional_service_id(&e.organization_id)?,
        what: e.what,
    })
}

/// Who read what of this workspace, and when (members; the customer sees every access).
#[utoipa::path(get, path = "/workspaces/{id}/access-log", tag = TAG, operation_id = "access_log",
    params(("id" = Uuid, Path), PageParams),
    responses((status = 200, body = Page<AccessLogEntry>),
        ListProblems),
    security(("session" = [])))]
async fn list_access_log(
    state: State<AppState>,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<Uuid>,
    ApiQuery(page): ApiQuery<PageParams>,
) -> Result<axum::Json<Page<AccessLogEntry>>, ApiError> {
    let request =
        pb::ListAccessLogRequest { workspace_id: id.to_string(), page_size: page.size(), page_token: page.token() };
    let response = state.workspaces().list_access_log(state.as_caller(&caller, request)).await?.into_inner();
    Ok(axum::Json(Page::new(view_all(response.entries, entry)?, response.next_page_token)))
}
