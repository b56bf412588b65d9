//! `/directory/experts`: the consent directory, experts of active organisations who may be
//! proposed to a customer's workspace.

use axum::extract::State;
use ohjaus_platform::proto::tenants::v1 as pb;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use uuid::Uuid;

use super::organizations::{
    TAG,
    experts::{Role, role_from_pb},
};
use crate::{
    docs::{ListProblems, routes},
    extract::{ApiQuery, Caller, page_size},
    ids::service_id,
    problem::ApiError,
    state::AppState,
    views::{LocalizedText, Page, view_all},
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_directory_experts))
}

/// A listed expert as the consent directory shows them (no contact or identity data).
#[derive(Debug, Serialize, ToSchema)]
pub struct DirectoryExpert {
    /// Propose this expert with `expert_id` and `expert_organization_id`.
    pub expert_id: Uuid,
    pub organization_id: Uuid,
    pub organization_name: LocalizedText,
    pub name: String,
    /// Roles other than main user.
    pub roles: Vec<Role>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

fn directory_expert(e: pb::DirectoryExpert) -> Result<DirectoryExpert, ApiError> {
    Ok(DirectoryExpert {
        expert_id: service_id(&e.expert_id)?,
        organization_id: service_id(&e.organization_id)?,
        organization_name: e.organization_name.unwrap_or_default().into(),
        name: e.name,
        roles: e.roles.into_iter().filter_map(role_from_pb).collect(),
        description: Some(e.description).filter(|d| !d.is_empty()),
    })
}

/// The consent directory's filter and page.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DirectoryParams {
    /// Only this organisation's experts; absent or empty for every active organisation.
    pub organization_id: Option<String>,
    /// Items per page, 1–100 (default 50).
    #[param(minimum = 1, maximum = 100)]
    pub page_size: Option<i32>,
    /// `next_page_token` of the previous page.
    pub page_token: Option<String>,
}

/// The consent directory: experts of active organisations who may be proposed to a customer's
/// workspace (guides).
#[utoipa::path(get, path = "/directory/experts", tag = TAG, params(DirectoryParams),
    responses((status = 200, body = Page<DirectoryExpert>),
        ListProblems),
    security(("session" = [])))]
async fn list_directory_experts(
    state: State<AppState>,
    Caller(caller): Caller,
    ApiQuery(params): ApiQuery<DirectoryParams>,
) -> Result<axum::Json<Page<DirectoryExpert>>, ApiError> {
    let request = pb::ListDirectoryExpertsRequest {
        organization_id: params.organization_id.unwrap_or_default(),
        page_size: page_size(params.page_size),
        page_token: params.page_token.unwrap_or_default(),
    };
    let response = state.tenants().list_directory_experts(state.as_caller(&caller, request)).await?.into_inner();
    Ok(axum::Json(Page::new(view_all(response.experts, directory_expert)?, response.next_page_token)))
}
