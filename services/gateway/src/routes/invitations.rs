//! `/invitations/accept`: a customer joins the workspace an invitation is for. (A workspace's
//! invitations are made at `/workspaces/{id}/invitations`; the link in the mail is the browser's
//! `/invitations/{token}`, in [`super::auth`].)

use axum::{
    extract::State,
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};
use ohjaus_platform::{
    error::ErrorCode,
    proto::{identity::v1 as identity_pb, workspaces::v1 as pb},
};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;

use super::workspaces::{TAG, Workspace, versioned_workspace};
use crate::{
    docs::{CreateProblems, routes},
    extract::{ApiJson, CurrentSession, principal_of_session},
    problem::{ApiError, Problem},
    routes::auth::cleared_cookies,
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
/// Needs `X-CSRF-Token`. A person who logged in through the link without having an account gets
/// one only here, when the invitation is theirs; when it is refused, that login ends (the
/// session cookies are cleared) and nothing about them is kept.
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
    match accept_as(&state, &session, body.token).await {
        Ok(joined) => versioned_workspace(StatusCode::OK, joined, None),
        Err(Refused { error, logged_out: false }) => Err(error),
        Err(Refused { error, logged_out: true }) => {
            let mut response = error.into_response();
            for cookie in cleared_cookies() {
                response.headers_mut().append(header::SET_COOKIE, cookie);
            }
            Ok(response)
        }
    }
}

/// A refused acceptance, and whether it ended the person's session.
pub(crate) struct Refused {
    pub error: ApiError,
    pub logged_out: bool,
}

/// Accepts the invitation `token` as the session's person. A person without an account who
/// cannot accept (someone else's link, a used one) has nothing more to do here: their pending
/// session ends now, and with it the only trace of them (identity deletes such a session
/// rather than keeping it as ended). The API and the pages both accept through here.
pub(crate) async fn accept_as(
    state: &AppState,
    session: &CurrentSession,
    token: String,
) -> Result<pb::Workspace, Refused> {
    let kept = |error: ApiError| Refused { error, logged_out: false };
    let caller = principal_of_session(&session.resolved).map_err(kept)?;
    let request = pb::AcceptInvitationRequest { token, display_name: session.resolved.display_name.clone() };
    let status = match state.workspaces().accept_invitation(state.as_caller(&caller, request)).await {
        Ok(joined) => return Ok(joined.into_inner()),
        Err(status) => status,
    };
    let error = ApiError::from(status);
    let refusal = matches!(
        error.0.code,
        ErrorCode::InvitationForAnotherPerson | ErrorCode::InvitationUnusable | ErrorCode::NotFound
    );
    if !(session.resolved.account_pending && refusal) {
        return Err(kept(error));
    }
    let logout = state.as_service(identity_pb::LogoutRequest { session_token: session.token.clone() });
    state.identity().logout(logout).await.map_err(|s| kept(ApiError::from(s)))?;
    Err(Refused { error, logged_out: true })
}
