//! `/me`: who the caller is, and their own sessions.

use axum::{Json, extract::State, http::StatusCode};
use chrono::{DateTime, Utc};
use ohjaus_platform::proto::identity::v1 as pb;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use uuid::Uuid;

use crate::{
    docs::{BasicProblems, routes},
    extract::{ApiPath, CurrentSession},
    ids::service_id,
    problem::{ApiError, Problem},
    state::AppState,
    views::{timestamp, view_all},
};

/// Documented with the login that makes a session.
const TAG: &str = "auth";

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_me)).routes(routes!(list_my_sessions)).routes(routes!(end_my_session))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OrganizationRoles {
    pub organization_id: Uuid,
    pub roles: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SessionInfo {
    pub id: Uuid,
    pub provider: String,
    pub created_at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_seen_at: Option<DateTime<Utc>>,
    pub expires_at: DateTime<Utc>,
    pub current: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Me {
    /// `operator`, `expert` or `customer`.
    pub kind: String,
    /// Person, customer or operator id.
    pub id: String,
    pub name: String,
    pub organizations: Vec<OrganizationRoles>,
    pub session: SessionInfo,
    /// Send as `X-CSRF-Token` with every unsafe request.
    pub csrf_token: String,
}

/// Who am I: my kind, organisations and roles, and this session.
#[utoipa::path(get, path = "/me", tag = TAG, operation_id = "me", responses((status = 200, body = Me),
        (status = 401, body = Problem, description = "No session", content_type = "application/problem+json")),
    security(("session" = [])))]
async fn get_me(session: CurrentSession) -> Result<Json<Me>, ApiError> {
    let r = session.resolved;
    Ok(Json(Me {
        kind: r.kind,
        id: r.subject,
        name: r.display_name,
        organizations: view_all(r.memberships, |m| {
            Ok(OrganizationRoles { organization_id: service_id(&m.organization_id)?, roles: m.roles })
        })?,
        session: SessionInfo {
            id: service_id(&r.session_id)?,
            provider: r.provider_id,
            created_at: timestamp(r.created_at),
            last_seen_at: None,
            expires_at: timestamp(r.expires_at),
            current: true,
        },
        csrf_token: r.csrf_token,
    }))
}

/// My sessions (on every device).
#[utoipa::path(get, path = "/me/sessions", tag = TAG, operation_id = "my_sessions", responses((status = 200, body = Vec<SessionInfo>),
        (status = 401, body = Problem, description = "No session", content_type = "application/problem+json")),
    security(("session" = [])))]
async fn list_my_sessions(state: State<AppState>, session: CurrentSession) -> Result<Json<Vec<SessionInfo>>, ApiError> {
    let list = state
        .identity()
        .list_my_sessions(state.as_service(pb::ListMySessionsRequest { session_token: session.token }))
        .await?
        .into_inner();
    let sessions = view_all(list.sessions, |s| {
        Ok(SessionInfo {
            id: service_id(&s.id)?,
            provider: s.provider_id,
            created_at: timestamp(s.created_at),
            last_seen_at: Some(timestamp(s.last_seen_at)),
            expires_at: timestamp(s.expires_at),
            current: s.current,
        })
    })?;
    Ok(Json(sessions))
}

/// End one of my sessions; it stops working at once everywhere. Needs `X-CSRF-Token`.
#[utoipa::path(delete, path = "/me/sessions/{id}", tag = TAG, params(("id" = Uuid, Path)),
    responses((status = 204),
        BasicProblems),
    security(("session" = [], "csrf" = [])))]
async fn end_my_session(
    state: State<AppState>,
    session: CurrentSession,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<StatusCode, ApiError> {
    let request =
        state.as_service(pb::EndMySessionRequest { session_token: session.token, session_id: id.to_string() });
    state.identity().end_my_session(request).await?;
    Ok(StatusCode::NO_CONTENT)
}
