//! `/workspaces/{id}/members`: who is in a workspace.

use axum::extract::State;
use ohjaus_platform::proto::workspaces::v1 as pb;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use uuid::Uuid;

use super::TAG;
use crate::{
    docs::{ListProblems, routes},
    extract::{ApiPath, ApiQuery, Caller, PageParams},
    ids::service_id,
    problem::ApiError,
    state::AppState,
    views::{Page, view_all},
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_members))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Member {
    /// `expert` or `customer`.
    pub kind: String,
    pub id: Uuid,
    /// `owner`, `guide`, `expert` or `customer`.
    pub role: String,
    pub name: String,
}

fn member(m: pb::Member) -> Result<Member, ApiError> {
    Ok(Member { kind: m.kind, id: service_id(&m.id)?, role: m.role, name: m.name })
}

/// Who is in the workspace (members; a customer of a group sees the staff and themselves).
#[utoipa::path(get, path = "/workspaces/{id}/members", tag = TAG, params(("id" = Uuid, Path), PageParams),
    responses((status = 200, body = Page<Member>),
        ListProblems),
    security(("session" = [])))]
async fn list_members(
    state: State<AppState>,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<Uuid>,
    ApiQuery(page): ApiQuery<PageParams>,
) -> Result<axum::Json<Page<Member>>, ApiError> {
    let request =
        pb::ListMembersRequest { workspace_id: id.to_string(), page_size: page.size(), page_token: page.token() };
    let response = state.workspaces().list_members(state.as_caller(&caller, request)).await?.into_inner();
    Ok(axum::Json(Page::new(view_all(response.members, member)?, response.next_page_token)))
}
