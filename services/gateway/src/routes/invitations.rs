//! `/invitations/accept`: a customer joins the workspace an invitation is for. (A workspace's
//! invitations are made at `/workspaces/{id}/invitations`; the link in the mail is the browser's
//! `/invitations/{token}`, in [`super::auth`].)

use axum::{extract::State, http::StatusCode, response::Response};
use ohjaus_platform::proto::workspaces::v1 as pb;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;

use super::workspaces::{TAG, Workspace, versioned_workspace};
use crate::{
    docs::{CreateProblems, routes},
    extract::{ApiJson, CurrentSession, principal_of_session},
    problem::{ApiError, Problem},
    state::AppState,
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(accept_invitation))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InvitationAcceptance {
    /// The secret from the invitation link (`/invitations/{token}`).
    pub token: String,
}

/// Accept an invitation as the logged-in customer (after the link's Suomi.fi login).
/// Needs `X-CSRF-Token`.
#[utoipa::path(post, path = "/invitations/accept", tag = TAG, request_body = InvitationAcceptance,
    responses((status = 200, body = Workspace),
        CreateProblems,
        (status = 403, body = Problem, description = "The invitation is for another person", content_type = "application/problem+json"),
        (status = 410, body = Problem, description = "Expired, used or revoked", content_type = "application/problem+json")),
    security(("session" = [], "csrf" = [])))]
async fn accept_invitation(
    state: State<AppState>,
    session: CurrentSession,
    ApiJson(body): ApiJson<InvitationAcceptance>,
) -> Result<Response, ApiError> {
    let caller = principal_of_session(&session.resolved)?;
    let request =
        pb::AcceptInvitationRequest { token: body.token, display_name: session.resolved.display_name.clone() };
    let joined = state.workspaces().accept_invitation(state.as_caller(&caller, request)).await?.into_inner();
    versioned_workspace(StatusCode::OK, joined, None)
}
