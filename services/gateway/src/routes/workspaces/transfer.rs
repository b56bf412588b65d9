//! `/workspaces/{id}/transfer`: handing a workspace to another guide.

use axum::extract::State;
use ohjaus_platform::proto::workspaces::v1 as pb;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use uuid::Uuid;

use super::TAG;
use crate::{
    docs::{CreateProblems, routes},
    extract::{ApiJson, ApiPath, Caller},
    ids::{field_id, service_id},
    problem::{ApiError, Problem},
    state::AppState,
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(transfer_workspace))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TransferInput {
    /// Person id of a guide of the same organisation.
    #[schema(value_type = Uuid)]
    pub new_owner_id: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TransferResult {
    pub workspace_id: Uuid,
    pub owner_id: Uuid,
}

/// Hand a workspace to another guide (main users of its organisation). The main user does not
/// see the workspace's content, before or after.
#[utoipa::path(post, path = "/workspaces/{id}/transfer", tag = TAG, params(("id" = Uuid, Path)), request_body = TransferInput,
    responses((status = 200, body = TransferResult),
        CreateProblems,
        (status = 422, body = Problem, description = "Not a guide of the organisation", content_type = "application/problem+json")),
    security(("session" = [], "csrf" = [])))]
async fn transfer_workspace(
    state: State<AppState>,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<TransferInput>,
) -> Result<axum::Json<TransferResult>, ApiError> {
    let new_owner_id = field_id("new_owner_id", &body.new_owner_id)?;
    let request = pb::TransferWorkspaceRequest { workspace_id: id.to_string(), new_owner_id: new_owner_id.to_string() };
    let done = state.workspaces().transfer_workspace(state.as_caller(&caller, request)).await?.into_inner();
    Ok(axum::Json(TransferResult {
        workspace_id: service_id(&done.workspace_id)?,
        owner_id: service_id(&done.owner_id)?,
    }))
}
