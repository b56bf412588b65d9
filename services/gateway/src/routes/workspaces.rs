//! Guided workspaces: create, read, close and reopen; messages; the access log. Only members
//! see a workspace; to anyone else every address here answers 404.

use axum::{
    extract::State,
    http::{HeaderMap, StatusCode},
    response::Response,
};
use chrono::{DateTime, Utc};
use ohjaus_platform::{auth::Principal, proto::workspaces::v1 as pb};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::{Page, timestamp, versioned};
use crate::{
    AppState,
    extract::{
        ApiJson, ApiPath, ApiQuery, Caller, CurrentSession, PageParams, idempotency_key, if_match, principal_of_session,
    },
    problem::{ApiError, Problem},
};

pub const TAG: &str = "workspaces";

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_workspace, list_workspaces))
        .routes(routes!(get_workspace))
        .routes(routes!(close_workspace))
        .routes(routes!(reopen_workspace))
        .routes(routes!(post_message, list_messages))
        .routes(routes!(access_log))
        .routes(routes!(list_members))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkspaceInput {
    pub organization_id: Uuid,
    pub office_id: Uuid,
    /// `personal` (one customer) or `group` (many customers, who do not see each other).
    pub kind: String,
    /// At most 200 characters. Stored encrypted.
    pub title: String,
    /// Topic codes: general-situation, health, everyday-life, social-relationships,
    /// mental-wellbeing, self-esteem, skills, studies, work-and-careers, finances, hobbies,
    /// housing, addictions.
    #[serde(default)]
    pub topics: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Workspace {
    pub id: Uuid,
    pub organization_id: Uuid,
    pub office_id: Uuid,
    pub kind: String,
    pub title: String,
    pub topics: Vec<String>,
    /// `active`, `closed` or `archived`.
    pub state: String,
    /// Person id of the owner guide.
    pub owner_id: Uuid,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub closed_at: Option<DateTime<Utc>>,
    /// Until when a closed workspace can be reopened.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reopen_until: Option<DateTime<Utc>>,
}

fn uuid(value: &str) -> Uuid {
    Uuid::parse_str(value).unwrap_or_default()
}

pub(crate) fn workspace(w: pb::Workspace) -> Workspace {
    let kind = match pb::WorkspaceKind::try_from(w.kind) {
        Ok(pb::WorkspaceKind::Group) => "group",
        _ => "personal",
    };
    let state = match pb::WorkspaceState::try_from(w.state) {
        Ok(pb::WorkspaceState::Closed) => "closed",
        Ok(pb::WorkspaceState::Archived) => "archived",
        _ => "active",
    };
    Workspace {
        id: uuid(&w.id),
        organization_id: uuid(&w.organization_id),
        office_id: uuid(&w.office_id),
        kind: kind.into(),
        title: w.title,
        topics: w.topics,
        state: state.into(),
        owner_id: uuid(&w.owner_id),
        version: w.version,
        created_at: timestamp(w.created_at),
        closed_at: w.closed_at.map(|t| timestamp(Some(t))),
        reopen_until: w.reopen_until.map(|t| timestamp(Some(t))),
    }
}

/// Open a workspace (a guide of the organisation); the caller owns it.
#[utoipa::path(post, path = "/workspaces", tag = TAG, params(("Idempotency-Key" = Option<String>, Header)),
    request_body = WorkspaceInput,
    responses((status = 201, body = Workspace, headers(("ETag" = String), ("Location" = String))),
        (status = 422, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, description = "Not a guide of that organisation", content_type = "application/problem+json")))]
async fn create_workspace(
    state: State<AppState>,
    Caller(caller): Caller,
    headers: HeaderMap,
    ApiJson(body): ApiJson<WorkspaceInput>,
) -> Result<Response, ApiError> {
    let kind = match body.kind.as_str() {
        "personal" => pb::WorkspaceKind::Personal,
        "group" => pb::WorkspaceKind::Group,
        _ => return Err(ApiError::invalid("kind", "invalid-kind")),
    };
    let request = pb::CreateWorkspaceRequest {
        organization_id: body.organization_id.to_string(),
        office_id: body.office_id.to_string(),
        kind: kind as i32,
        title: body.title,
        topics: body.topics,
        request_id: idempotency_key(&headers)?,
    };
    let created = state.workspaces().create_workspace(state.as_caller(&caller, request)).await?.into_inner();
    let location = format!("/api/v1/workspaces/{}", created.id);
    let version = created.version;
    Ok(versioned(StatusCode::CREATED, workspace(created), version, Some(location)))
}

/// My workspaces.
#[utoipa::path(get, path = "/workspaces", tag = TAG, params(PageParams), responses((status = 200, body = Page<Workspace>)))]
async fn list_workspaces(
    state: State<AppState>,
    Caller(caller): Caller,
    ApiQuery(page): ApiQuery<PageParams>,
) -> Result<axum::Json<Page<Workspace>>, ApiError> {
    let request = pb::ListWorkspacesRequest { page_size: page.size(), page_token: page.token() };
    let response = state.workspaces().list_workspaces(state.as_caller(&caller, request)).await?.into_inner();
    Ok(axum::Json(Page::new(response.workspaces.into_iter().map(workspace).collect(), response.next_page_token)))
}

/// One workspace (members only; the read is logged).
#[utoipa::path(get, path = "/workspaces/{id}", tag = TAG, params(("id" = Uuid, Path)),
    responses((status = 200, body = Workspace, headers(("ETag" = String))), (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn get_workspace(
    state: State<AppState>,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Response, ApiError> {
    let request = pb::GetWorkspaceRequest { workspace_id: id.to_string() };
    let found = state.workspaces().get_workspace(state.as_caller(&caller, request)).await?.into_inner();
    let version = found.version;
    Ok(versioned(StatusCode::OK, workspace(found), version, None))
}

/// Close a workspace (its guides). Needs `If-Match`.
#[utoipa::path(post, path = "/workspaces/{id}/close", tag = TAG, params(("id" = Uuid, Path), ("If-Match" = String, Header)),
    responses((status = 200, body = Workspace), (status = 409, body = Problem, description = "Not active", content_type = "application/problem+json"),
        (status = 412, body = Problem, content_type = "application/problem+json")))]
async fn close_workspace(
    state: State<AppState>,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<Uuid>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    change_state(&state, &caller, id, &headers, Change::Close).await
}

/// Reopen a closed workspace within the reopening window (its guides). Needs `If-Match`.
#[utoipa::path(post, path = "/workspaces/{id}/reopen", tag = TAG, params(("id" = Uuid, Path), ("If-Match" = String, Header)),
    responses((status = 200, body = Workspace), (status = 409, body = Problem, description = "Not closed, or the window has passed", content_type = "application/problem+json"),
        (status = 412, body = Problem, content_type = "application/problem+json")))]
async fn reopen_workspace(
    state: State<AppState>,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<Uuid>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    change_state(&state, &caller, id, &headers, Change::Reopen).await
}

enum Change {
    Close,
    Reopen,
}

/// Closes or reopens at the version the caller saw (`If-Match`).
async fn change_state(
    state: &AppState,
    caller: &Principal,
    id: Uuid,
    headers: &HeaderMap,
    change: Change,
) -> Result<Response, ApiError> {
    let request =
        state.as_caller(caller, pb::ChangeStateRequest { workspace_id: id.to_string(), version: if_match(headers)? });
    let mut workspaces = state.workspaces();
    let changed = match change {
        Change::Close => workspaces.close_workspace(request).await?,
        Change::Reopen => workspaces.reopen_workspace(request).await?,
    }
    .into_inner();
    let version = changed.version;
    Ok(versioned(StatusCode::OK, workspace(changed), version, None))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MessageInput {
    /// At most 10 000 characters. Stored encrypted.
    pub body: String,
    /// Files uploaded to this workspace before by the author (at most 10).
    #[serde(default)]
    pub attachment_ids: Vec<Uuid>,
    /// Group workspaces: a guide writes to one customer's private thread (their customer id).
    #[serde(default)]
    pub thread_id: Option<Uuid>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Message {
    pub id: Uuid,
    pub workspace_id: Uuid,
    pub author_id: Uuid,
    /// `expert` or `customer`.
    pub author_kind: String,
    pub author_name: String,
    /// Empty when deleted.
    pub body: String,
    pub created_at: DateTime<Utc>,
    pub attachments: Vec<super::content::File>,
    /// Group workspaces: the customer whose private thread this is; absent for everyone.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thread_id: Option<Uuid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub edited_at: Option<DateTime<Utc>>,
    pub deleted: bool,
    pub version: i64,
}

pub(crate) fn message(m: pb::Message) -> Message {
    Message {
        id: uuid(&m.id),
        workspace_id: uuid(&m.workspace_id),
        author_id: uuid(&m.author_id),
        author_kind: m.author_kind,
        author_name: m.author_name,
        body: m.body,
        created_at: timestamp(m.created_at),
        attachments: m.attachments.into_iter().map(super::content::file).collect(),
        thread_id: Uuid::parse_str(&m.thread_id).ok(),
        edited_at: m.edited_at.map(|t| timestamp(Some(t))),
        deleted: m.deleted,
        version: m.version,
    }
}

/// Post a message (members of an active workspace, logged in). Needs `X-CSRF-Token`.
#[utoipa::path(post, path = "/workspaces/{id}/messages", tag = TAG, params(("id" = Uuid, Path), ("Idempotency-Key" = Option<String>, Header)),
    request_body = MessageInput,
    responses((status = 201, body = Message), (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, description = "The workspace is not active", content_type = "application/problem+json")))]
async fn post_message(
    state: State<AppState>,
    session: CurrentSession,
    ApiPath(id): ApiPath<Uuid>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<MessageInput>,
) -> Result<Response, ApiError> {
    let caller = principal_of_session(&session.resolved)?;
    let request = pb::PostMessageRequest {
        workspace_id: id.to_string(),
        body: body.body,
        request_id: idempotency_key(&headers)?,
        author_name: session.resolved.display_name.clone(),
        attachment_ids: body.attachment_ids.iter().map(Uuid::to_string).collect(),
        thread_id: body.thread_id.map(|t| t.to_string()).unwrap_or_default(),
    };
    let posted = state.workspaces().post_message(state.as_caller(&caller, request)).await?.into_inner();
    let location = format!("/api/v1/workspaces/{id}/messages/{}", posted.id);
    let version = posted.version;
    Ok(versioned(StatusCode::CREATED, message(posted), version, Some(location)))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MessageOrder {
    /// `oldest` (default: in the order they were posted) or `newest` (latest first, for a
    /// conversation view that loads older messages on scroll).
    pub order: Option<String>,
}

/// Messages in the order they were posted, or newest first (members; the read is logged).
#[utoipa::path(get, path = "/workspaces/{id}/messages", tag = TAG, params(("id" = Uuid, Path), MessageOrder, PageParams),
    responses((status = 200, body = Page<Message>), (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn list_messages(
    state: State<AppState>,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<Uuid>,
    ApiQuery(order): ApiQuery<MessageOrder>,
    ApiQuery(page): ApiQuery<PageParams>,
) -> Result<axum::Json<Page<Message>>, ApiError> {
    let newest_first = match order.order.as_deref() {
        None | Some("oldest") => false,
        Some("newest") => true,
        Some(_) => return Err(ApiError::invalid("order", "invalid-order")),
    };
    let request = pb::ListMessagesRequest {
        workspace_id: id.to_string(),
        page_size: page.size(),
        page_token: page.token(),
        newest_first,
    };
    let response = state.workspaces().list_messages(state.as_caller(&caller, request)).await?.into_inner();
    Ok(axum::Json(Page::new(response.messages.into_iter().map(message).collect(), response.next_page_token)))
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

/// Who read what of this workspace, and when (members; the customer sees every access).
#[utoipa::path(get, path = "/workspaces/{id}/access-log", tag = TAG, params(("id" = Uuid, Path), PageParams),
    responses((status = 200, body = Page<AccessLogEntry>), (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn access_log(
    state: State<AppState>,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<Uuid>,
    ApiQuery(page): ApiQuery<PageParams>,
) -> Result<axum::Json<Page<AccessLogEntry>>, ApiError> {
    let request =
        pb::ListAccessLogRequest { workspace_id: id.to_string(), page_size: page.size(), page_token: page.token() };
    let response = state.workspaces().list_access_log(state.as_caller(&caller, request)).await?.into_inner();
    let entries = response
        .entries
        .into_iter()
        .map(|e| AccessLogEntry {
            at: timestamp(e.at),
            actor_kind: e.actor_kind,
            actor_id: e.actor_id,
            actor_role: e.actor_role,
            actor_name: e.actor_name,
            organization_id: Uuid::parse_str(&e.organization_id).ok(),
            what: e.what,
        })
        .collect();
    Ok(axum::Json(Page::new(entries, response.next_page_token)))
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

/// Who is in the workspace (members; a customer of a group sees the staff and themselves).
#[utoipa::path(get, path = "/workspaces/{id}/members", tag = TAG, params(("id" = Uuid, Path), PageParams),
    responses((status = 200, body = Page<Member>), (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn list_members(
    state: State<AppState>,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<Uuid>,
    ApiQuery(page): ApiQuery<PageParams>,
) -> Result<axum::Json<Page<Member>>, ApiError> {
    let request =
        pb::ListMembersRequest { workspace_id: id.to_string(), page_size: page.size(), page_token: page.token() };
    let response = state.workspaces().list_members(state.as_caller(&caller, request)).await?.into_inner();
    let members = response
        .members
        .into_iter()
        .map(|m| Member { kind: m.kind, id: Uuid::parse_str(&m.id).unwrap_or_default(), role: m.role, name: m.name })
        .collect();
    Ok(axum::Json(Page::new(members, response.next_page_token)))
}
