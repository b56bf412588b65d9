//! `/workspaces/{id}/invitations`: inviting a customer by email, the workspace's invitations,
//! sending a new link and withdrawing one. (Accepting is `/invitations/accept`.)

use axum::{
    extract::State,
    http::{HeaderMap, StatusCode},
    response::Response,
};
use chrono::{DateTime, Utc};
use ohjaus_platform::{auth::Principal, proto::workspaces::v1 as pb};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use uuid::Uuid;

use super::TAG;
use crate::{
    docs::{ActionProblems, CreateProblems, ListProblems, routes},
    extract::{ApiJson, ApiPath, ApiQuery, Caller, PageParams, idempotency_key, if_match},
    ids::service_id,
    problem::{ApiError, Problem},
    state::AppState,
    views::{Page, timestamp, versioned, view_all},
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_invitation, list_invitations))
        .routes(routes!(resend_invitation))
        .routes(routes!(revoke_invitation))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InvitationInput {
    /// Where the invitation is sent. The mail has a link and nothing else.
    pub email: String,
    /// `fi` (default), `sv` or `en`: the language of the mail.
    #[serde(default)]
    pub language: Option<String>,
    /// Optional: only this person (by Suomi.fi identification) can accept. Never stored or
    /// shown in plain text.
    #[serde(default)]
    pub personal_identity_code: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Invitation {
    pub id: Uuid,
    pub workspace_id: Uuid,
    pub email: String,
    pub language: String,
    pub bound_to_person: bool,
    /// `pending`, `accepted`, `revoked` or `expired`.
    pub state: String,
    pub expires_at: DateTime<Utc>,
    pub sent_count: i64,
    pub version: i64,
    pub created_at: DateTime<Utc>,
}

fn invitation(i: pb::Invitation) -> Result<Invitation, ApiError> {
    let state = match pb::InvitationState::try_from(i.state) {
        Ok(pb::InvitationState::Accepted) => "accepted",
        Ok(pb::InvitationState::Revoked) => "revoked",
        Ok(pb::InvitationState::Expired) => "expired",
        _ => "pending",
    };
    Ok(Invitation {
        id: service_id(&i.id)?,
        workspace_id: service_id(&i.workspace_id)?,
        email: i.email,
        language: i.language,
        bound_to_person: i.bound_to_person,
        state: state.into(),
        expires_at: timestamp(i.expires_at),
        sent_count: i.sent_count,
        version: i.version,
        created_at: timestamp(i.created_at),
    })
}

/// An invitation answered with its version as the `ETag`.
fn versioned_invitation(status: StatusCode, i: pb::Invitation) -> Result<Response, ApiError> {
    let version = i.version;
    Ok(versioned(status, invitation(i)?, version, None))
}

/// Invite a customer by email (the workspace's guides).
#[utoipa::path(post, path = "/workspaces/{id}/invitations", tag = TAG,
    params(("id" = Uuid, Path), ("Idempotency-Key" = Option<String>, Header)), request_body = InvitationInput,
    responses((status = 201, body = Invitation),
        CreateProblems,
        (status = 409, body = Problem, description = "Not active, or a personal workspace that already has its customer", content_type = "application/problem+json")),
    security(("session" = [], "csrf" = [])))]
async fn create_invitation(
    state: State<AppState>,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<Uuid>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<InvitationInput>,
) -> Result<Response, ApiError> {
    let request = pb::CreateInvitationRequest {
        workspace_id: id.to_string(),
        email: body.email,
        language: body.language.unwrap_or_default(),
        personal_identity_code: body.personal_identity_code.unwrap_or_default(),
        request_id: idempotency_key(&headers)?,
    };
    let made = state.workspaces().create_invitation(state.as_caller(&caller, request)).await?.into_inner();
    versioned_invitation(StatusCode::CREATED, made)
}

/// The workspace's invitations (its guides).
#[utoipa::path(get, path = "/workspaces/{id}/invitations", tag = TAG, params(("id" = Uuid, Path), PageParams),
    responses((status = 200, body = Page<Invitation>),
        ListProblems),
    security(("session" = [])))]
async fn list_invitations(
    state: State<AppState>,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<Uuid>,
    ApiQuery(page): ApiQuery<PageParams>,
) -> Result<axum::Json<Page<Invitation>>, ApiError> {
    let request =
        pb::ListInvitationsRequest { workspace_id: id.to_string(), page_size: page.size(), page_token: page.token() };
    let found = state.workspaces().list_invitations(state.as_caller(&caller, request)).await?.into_inner();
    Ok(axum::Json(Page::new(view_all(found.invitations, invitation)?, found.next_page_token)))
}

/// Send a new link (the old one stops working) with a new expiry. Needs `If-Match`.
#[utoipa::path(post, path = "/workspaces/{id}/invitations/{invitation_id}/resend", tag = TAG,
    params(("id" = Uuid, Path), ("invitation_id" = Uuid, Path), ("If-Match" = String, Header)),
    responses((status = 200, body = Invitation),
        ActionProblems,
        (status = 409, body = Problem, description = "Accepted or revoked", content_type = "application/problem+json")),
    security(("session" = [], "csrf" = [])))]
async fn resend_invitation(
    state: State<AppState>,
    Caller(caller): Caller,
    ApiPath((id, invitation_id)): ApiPath<(Uuid, Uuid)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let request = invitation_ref(&state, &caller, id, invitation_id, &headers)?;
    let changed = state.workspaces().resend_invitation(request).await?.into_inner();
    versioned_invitation(StatusCode::OK, changed)
}

/// The invitation at the version the caller saw (`If-Match`).
fn invitation_ref(
    state: &AppState,
    caller: &Principal,
    id: Uuid,
    invitation_id: Uuid,
    headers: &HeaderMap,
) -> Result<tonic::Request<pb::InvitationRef>, ApiError> {
    let reference = pb::InvitationRef {
        workspace_id: id.to_string(),
        invitation_id: invitation_id.to_string(),
        version: if_match(headers)?,
    };
    Ok(state.as_caller(caller, reference))
}

/// Withdraw an invitation; its link stops working. Needs `If-Match`.
#[utoipa::path(post, path = "/workspaces/{id}/invitations/{invitation_id}/revoke", tag = TAG,
    params(("id" = Uuid, Path), ("invitation_id" = Uuid, Path), ("If-Match" = String, Header)),
    responses((status = 200, body = Invitation),
        ActionProblems),
    security(("session" = [], "csrf" = [])))]
async fn revoke_invitation(
    state: State<AppState>,
    Caller(caller): Caller,
    ApiPath((id, invitation_id)): ApiPath<(Uuid, Uuid)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let request = invitation_ref(&state, &caller, id, invitation_id, &headers)?;
    let changed = state.workspaces().revoke_invitation(request).await?.into_inner();
    versioned_invitation(StatusCode::OK, changed)
}
