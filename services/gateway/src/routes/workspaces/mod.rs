//! `/workspaces`: guided workspaces themselves (open, list, read, close, reopen), with one child
//! module per sub-resource below `/workspaces/{id}`. The views more than one child answers with
//! (a message, a file, an item) are here. Only members see a workspace; to anyone else every
//! address below it answers 404.

pub mod access_log;
pub mod consent_ledger;
pub mod consents;
pub mod export;
pub mod files;
pub mod invitations;
pub mod items;
pub mod live;
pub mod members;
pub mod messages;
// rounds: the 3X10D meter's rounds (surveys).
pub mod rounds;
pub mod summary;
pub mod transfer;

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

use crate::{
    docs::{ActionProblems, BasicProblems, CreateProblems, ListProblems, routes},
    extract::{ApiJson, ApiPath, ApiQuery, Caller, IfMatch, PageParams, idempotency_key},
    ids::{field_id, optional_service_id, service_id},
    problem::{ApiError, Problem},
    state::AppState,
    views::{Page, timestamp, versioned, view_all},
};

pub const TAG: &str = "workspaces";

/// The workspaces themselves (their children mount their own paths).
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_workspace, list_workspaces))
        .routes(routes!(get_workspace))
        .routes(routes!(close_workspace))
        .routes(routes!(reopen_workspace))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkspaceInput {
    #[schema(value_type = Uuid)]
    pub organization_id: String,
    #[schema(value_type = Uuid)]
    pub office_id: String,
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

pub fn workspace(w: pb::Workspace) -> Result<Workspace, ApiError> {
    let kind = match pb::WorkspaceKind::try_from(w.kind) {
        Ok(pb::WorkspaceKind::Group) => "group",
        _ => "personal",
    };
    let state = match pb::WorkspaceState::try_from(w.state) {
        Ok(pb::WorkspaceState::Closed) => "closed",
        Ok(pb::WorkspaceState::Archived) => "archived",
        _ => "active",
    };
    Ok(Workspace {
        id: service_id(&w.id)?,
        organization_id: service_id(&w.organization_id)?,
        office_id: service_id(&w.office_id)?,
        kind: kind.into(),
        title: w.title,
        topics: w.topics,
        state: state.into(),
        owner_id: service_id(&w.owner_id)?,
        version: w.version,
        created_at: timestamp(w.created_at),
        closed_at: w.closed_at.map(|t| timestamp(Some(t))),
        reopen_until: w.reopen_until.map(|t| timestamp(Some(t))),
    })
}

/// A workspace answered with its version as the `ETag`.
pub fn versioned_workspace(
    status: StatusCode,
    w: pb::Workspace,
    location: Option<String>,
) -> Result<Response, ApiError> {
    let version = w.version;
    Ok(versioned(status, workspace(w)?, version, location))
}

/// Open a workspace (a guide of the organisation); the caller owns it.
#[utoipa::path(post, path = "/workspaces", tag = TAG, params(("Idempotency-Key" = Option<String>, Header)),
    request_body = WorkspaceInput,
    responses((status = 201, body = Workspace, headers(("ETag" = String), ("Location" = String))),
        CreateProblems,
        (status = 404, body = Problem, description = "Not a guide of that organisation", content_type = "application/problem+json")),
    security(("session" = [], "csrf" = [])))]
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
        organization_id: field_id("organization_id", &body.organization_id)?.to_string(),
        office_id: field_id("office_id", &body.office_id)?.to_string(),
        kind: kind as i32,
        title: body.title,
        topics: body.topics,
        request_id: idempotency_key(&headers)?,
    };
    let created = state.workspaces().create_workspace(state.as_caller(&caller, request)).await?.into_inner();
    let location = format!("/api/v1/workspaces/{}", created.id);
    versioned_workspace(StatusCode::CREATED, created, Some(location))
}

/// My workspaces.
#[utoipa::path(get, path = "/workspaces", tag = TAG, params(PageParams), responses((status = 200, body = Page<Workspace>),
        ListProblems),
    security(("session" = [])))]
async fn list_workspaces(
    state: State<AppState>,
    Caller(caller): Caller,
    ApiQuery(page): ApiQuery<PageParams>,
) -> Result<axum::Json<Page<Workspace>>, ApiError> {
    let request = pb::ListWorkspacesRequest { page_size: page.size(), page_token: page.token() };
    let response = state.workspaces().list_workspaces(state.as_caller(&caller, request)).await?.into_inner();
    Ok(axum::Json(Page::new(view_all(response.workspaces, workspace)?, response.next_page_token)))
}

/// One workspace (members only; the read is logged).
#[utoipa::path(get, path = "/workspaces/{id}", tag = TAG, params(("id" = Uuid, Path)),
    responses((status = 200, body = Workspace, headers(("ETag" = String))),
        BasicProblems),
    security(("session" = [])))]
async fn get_workspace(
    state: State<AppState>,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Response, ApiError> {
    let request = pb::GetWorkspaceRequest { workspace_id: id.to_string() };
    let found = state.workspaces().get_workspace(state.as_caller(&caller, request)).await?.into_inner();
    versioned_workspace(StatusCode::OK, found, None)
}

/// Close a workspace (its guides). Needs `If-Match`.
#[utoipa::path(post, path = "/workspaces/{id}/close", tag = TAG, params(("id" = Uuid, Path), ("If-Match" = String, Header)),
    responses((status = 200, body = Workspace),
        ActionProblems,
        (status = 409, body = Problem, description = "Not active", content_type = "application/problem+json")),
    security(("session" = [], "csrf" = [])))]
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
    responses((status = 200, body = Workspace),
        ActionProblems,
        (status = 409, body = Problem, description = "Not closed, or the window has passed", content_type = "application/problem+json")),
    security(("session" = [], "csrf" = [])))]
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
    // `*` closes whatever the version is: a main user closing a workspace cannot read it.
    let version = IfMatch::read(headers)?.or_any();
    let request = state.as_caller(caller, pb::ChangeStateRequest { workspace_id: id.to_string(), version });
    let mut workspaces = state.workspaces();
    let changed = match change {
        Change::Close => workspaces.close_workspace(request).await?,
        Change::Reopen => workspaces.reopen_workspace(request).await?,
    }
    .into_inner();
    versioned_workspace(StatusCode::OK, changed, None)
}

// ---------------------------------------------------------------------------------------------
// Views more than one child answers with

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
    pub attachments: Vec<File>,
    /// Group workspaces: the customer whose private thread this is; absent for everyone.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thread_id: Option<Uuid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub edited_at: Option<DateTime<Utc>>,
    pub deleted: bool,
    pub version: i64,
}

/// A message as `GET …/messages/{id}` and the live stream show it.
pub fn message(m: pb::Message) -> Result<Message, ApiError> {
    Ok(Message {
        id: service_id(&m.id)?,
        workspace_id: service_id(&m.workspace_id)?,
        author_id: service_id(&m.author_id)?,
        author_kind: m.author_kind,
        author_name: m.author_name,
        body: m.body,
        created_at: timestamp(m.created_at),
        attachments: view_all(m.attachments, file)?,
        thread_id: optional_service_id(&m.thread_id)?,
        edited_at: m.edited_at.map(|t| timestamp(Some(t))),
        deleted: m.deleted,
        version: m.version,
    })
}

#[derive(Debug, Serialize, ToSchema)]
pub struct File {
    pub id: Uuid,
    pub workspace_id: Uuid,
    pub name: String,
    /// Decided from the file's bytes.
    pub content_type: String,
    pub size: i64,
    pub uploaded_by: Uuid,
    pub created_at: DateTime<Utc>,
}

/// A file as its list and a message's attachments show it.
pub fn file(f: pb::File) -> Result<File, ApiError> {
    Ok(File {
        id: service_id(&f.id)?,
        workspace_id: service_id(&f.workspace_id)?,
        name: f.name,
        content_type: f.content_type,
        size: f.size,
        uploaded_by: service_id(&f.uploaded_by)?,
        created_at: timestamp(f.created_at),
    })
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Item {
    pub id: Uuid,
    pub workspace_id: Uuid,
    /// `phase`, `task`, `event` or `note`.
    pub kind: &'static str,
    pub title: String,
    pub body: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thread_id: Option<Uuid>,
    pub author_id: Uuid,
    /// `expert` or `customer`.
    pub author_kind: String,
    pub author_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub due_on: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub assignee: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub completed_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub completed_by: Option<Uuid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub starts_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ends_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    pub private: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// A deleted item keeps its id and kind only.
    pub deleted: bool,
    pub version: i64,
}

fn kind_name(value: i32) -> &'static str {
    match pb::ItemKind::try_from(value) {
        Ok(pb::ItemKind::Phase) => "phase",
        Ok(pb::ItemKind::Task) => "task",
        Ok(pb::ItemKind::Event) => "event",
        _ => "note",
    }
}

fn status_name(value: i32) -> Option<&'static str> {
    match pb::PhaseStatus::try_from(value) {
        Ok(pb::PhaseStatus::Planned) => Some("planned"),
        Ok(pb::PhaseStatus::Current) => Some("current"),
        Ok(pb::PhaseStatus::Done) => Some("done"),
        _ => None,
    }
}

fn assignee_name(value: i32) -> Option<&'static str> {
    match pb::Assignee::try_from(value) {
        Ok(pb::Assignee::Customer) => Some("customer"),
        Ok(pb::Assignee::Guides) => Some("guides"),
        _ => None,
    }
}

/// A phase, task, event or note as `GET …/items/{id}` and the live stream show it.
pub fn item(i: pb::Item) -> Result<Item, ApiError> {
    let some = |s: String| if s.is_empty() { None } else { Some(s) };
    let kind = kind_name(i.kind);
    Ok(Item {
        id: service_id(&i.id)?,
        workspace_id: service_id(&i.workspace_id)?,
        kind,
        title: i.title,
        body: i.body,
        thread_id: optional_service_id(&i.thread_id)?,
        author_id: service_id(&i.author_id)?,
        author_kind: i.author_kind,
        author_name: i.author_name,
        status: status_name(i.phase_status),
        due_on: some(i.due_on),
        assignee: assignee_name(i.assignee),
        completed_at: i.completed_at.map(|t| timestamp(Some(t))),
        completed_by: optional_service_id(&i.completed_by)?,
        starts_at: i.starts_at.map(|t| timestamp(Some(t))),
        ends_at: i.ends_at.map(|t| timestamp(Some(t))),
        location: if kind == "event" { Some(i.location) } else { None },
        private: i.private,
        created_at: timestamp(i.created_at),
        updated_at: timestamp(i.updated_at),
        deleted: i.deleted,
        version: i.version,
    })
}
