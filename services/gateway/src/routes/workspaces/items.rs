//! `/workspaces/{id}/items`: phases, tasks, events and notes. Members read them; guides and
//! experts plan; customers write shared notes and mark their own tasks done. A private note is
//! its author's alone.

use axum::{
    extract::State,
    http::{HeaderMap, StatusCode},
    response::Response,
};
use chrono::{DateTime, Utc};
use ohjaus_platform::{grpc::timestamp as to_timestamp, proto::workspaces::v1 as pb};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use uuid::Uuid;

use super::{Item, item};
use crate::{
    docs::{ActionProblems, BasicProblems, CreateProblems, ListProblems, UpdateProblems, routes},
    extract::{
        ApiJson, ApiPath, ApiQuery, Caller, CurrentSession, PageParams, idempotency_key, if_match, principal_of_session,
    },
    ids::optional_field_id,
    problem::{ApiError, Problem},
    state::AppState,
    views::{Page, versioned, view_all},
};

/// Guidance is documented apart from the rest of a workspace.
const TAG: &str = "guidance";

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_item, list_items))
        .routes(routes!(get_item, update_item, delete_item))
        .routes(routes!(set_task_done))
}

/// An item answered with its version as the `ETag`.
fn versioned_item(status: StatusCode, i: pb::Item, location: Option<String>) -> Result<Response, ApiError> {
    let version = i.version;
    Ok(versioned(status, item(i)?, version, location))
}

/// A value the service does not know: it answers with a problem naming the field.
const UNKNOWN: i32 = -1;

fn kind_from(value: &str) -> i32 {
    match value {
        "phase" => pb::ItemKind::Phase.into(),
        "task" => pb::ItemKind::Task.into(),
        "event" => pb::ItemKind::Event.into(),
        "note" => pb::ItemKind::Note.into(),
        _ => UNKNOWN,
    }
}

fn status_from(value: Option<&str>) -> i32 {
    match value {
        None => pb::PhaseStatus::Unspecified.into(),
        Some("planned") => pb::PhaseStatus::Planned.into(),
        Some("current") => pb::PhaseStatus::Current.into(),
        Some("done") => pb::PhaseStatus::Done.into(),
        Some(_) => UNKNOWN,
    }
}

fn assignee_from(value: Option<&str>) -> i32 {
    match value {
        None => pb::Assignee::Unspecified.into(),
        Some("customer") => pb::Assignee::Customer.into(),
        Some("guides") => pb::Assignee::Guides.into(),
        Some(_) => UNKNOWN,
    }
}

/// What an item says. Which fields count depends on the kind: phases have a `status`; tasks a
/// `due_on` day and an `assignee`; events `starts_at`, `ends_at` and a `location`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ItemFields {
    /// Required, except for notes; at most 200 characters.
    #[serde(default)]
    pub title: String,
    /// Required for notes; at most 10 000 characters.
    #[serde(default)]
    pub body: String,
    /// Phases: `planned` (default), `current` or `done`.
    #[serde(default)]
    pub status: Option<String>,
    /// Tasks: the day it is due, `YYYY-MM-DD`.
    #[serde(default)]
    pub due_on: Option<String>,
    /// Tasks: `customer` (default) or `guides`.
    #[serde(default)]
    pub assignee: Option<String>,
    /// Events: required.
    #[serde(default)]
    pub starts_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub ends_at: Option<DateTime<Utc>>,
    /// Events: where; at most 200 characters.
    #[serde(default)]
    pub location: String,
}

impl From<ItemFields> for pb::ItemFields {
    fn from(f: ItemFields) -> Self {
        pb::ItemFields {
            title: f.title,
            body: f.body,
            phase_status: status_from(f.status.as_deref()),
            due_on: f.due_on.unwrap_or_default(),
            assignee: assignee_from(f.assignee.as_deref()),
            starts_at: f.starts_at.map(to_timestamp),
            ends_at: f.ends_at.map(to_timestamp),
            location: f.location,
        }
    }
}

/// A new item: its kind, what it says (as in `ItemFields`), and where it belongs.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ItemInput {
    /// `phase`, `task`, `event` or `note`.
    pub kind: String,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub body: String,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub due_on: Option<String>,
    #[serde(default)]
    pub assignee: Option<String>,
    #[serde(default)]
    pub starts_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub ends_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub location: String,
    /// Notes of guides and experts: read by the author only.
    #[serde(default)]
    pub private: bool,
    /// Group workspaces: a guide writes to one customer's thread (absent: everyone).
    #[serde(default)]
    #[schema(value_type = Option<Uuid>)]
    pub thread_id: Option<String>,
}

impl ItemInput {
    fn fields(self) -> pb::ItemFields {
        ItemFields {
            title: self.title,
            body: self.body,
            status: self.status,
            due_on: self.due_on,
            assignee: self.assignee,
            starts_at: self.starts_at,
            ends_at: self.ends_at,
            location: self.location,
        }
        .into()
    }
}

/// Add a phase, task, event or note (members of an active workspace). Needs `X-CSRF-Token`.
#[utoipa::path(post, path = "/workspaces/{id}/items", tag = TAG,
    params(("id" = Uuid, Path), ("Idempotency-Key" = Option<String>, Header)), request_body = ItemInput,
    responses((status = 201, body = Item),
        CreateProblems,
        (status = 403, body = Problem, description = "Customers write shared notes only", content_type = "application/problem+json"),
        (status = 409, body = Problem, description = "The workspace is not active", content_type = "application/problem+json")),
    security(("session" = [], "csrf" = [])))]
async fn create_item(
    state: State<AppState>,
    session: CurrentSession,
    ApiPath(id): ApiPath<Uuid>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<ItemInput>,
) -> Result<Response, ApiError> {
    let caller = principal_of_session(&session.resolved)?;
    let request = pb::CreateItemRequest {
        workspace_id: id.to_string(),
        kind: kind_from(&body.kind),
        thread_id: optional_field_id("thread_id", body.thread_id.as_deref())?
            .map(|t| t.to_string())
            .unwrap_or_default(),
        private: body.private,
        fields: Some(body.fields()),
        author_name: session.resolved.display_name.clone(),
        request_id: idempotency_key(&headers)?,
    };
    let created = state.workspaces().create_item(state.as_caller(&caller, request)).await?.into_inner();
    let location = format!("/api/v1/workspaces/{id}/items/{}", created.id);
    versioned_item(StatusCode::CREATED, created, Some(location))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ItemQuery {
    /// `phase`, `task`, `event` or `note`.
    pub kind: String,
}

/// Items of one kind in the order they were made (members; the read is logged).
#[utoipa::path(get, path = "/workspaces/{id}/items", tag = TAG, params(("id" = Uuid, Path), ItemQuery, PageParams),
    responses((status = 200, body = Page<Item>),
        ListProblems),
    security(("session" = [])))]
async fn list_items(
    state: State<AppState>,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<Uuid>,
    ApiQuery(query): ApiQuery<ItemQuery>,
    ApiQuery(page): ApiQuery<PageParams>,
) -> Result<axum::Json<Page<Item>>, ApiError> {
    let request = pb::ListItemsRequest {
        workspace_id: id.to_string(),
        kind: kind_from(&query.kind),
        page_size: page.size(),
        page_token: page.token(),
    };
    let response = state.workspaces().list_items(state.as_caller(&caller, request)).await?.into_inner();
    Ok(axum::Json(Page::new(view_all(response.items, item)?, response.next_page_token)))
}

/// One item (members who may see it; the read is logged).
#[utoipa::path(get, path = "/workspaces/{id}/items/{item_id}", tag = TAG, params(("id" = Uuid, Path), ("item_id" = Uuid, Path)),
    responses((status = 200, body = Item),
        BasicProblems),
    security(("session" = [])))]
async fn get_item(
    state: State<AppState>,
    Caller(caller): Caller,
    ApiPath((id, item_id)): ApiPath<(Uuid, Uuid)>,
) -> Result<Response, ApiError> {
    let request = pb::ItemRef { workspace_id: id.to_string(), item_id: item_id.to_string(), version: 0 };
    let found = state.workspaces().get_item(state.as_caller(&caller, request)).await?.into_inner();
    versioned_item(StatusCode::OK, found, None)
}

/// Replace what an item says (guides and experts; a note only its author). Needs `If-Match`
/// and `X-CSRF-Token`.
#[utoipa::path(put, path = "/workspaces/{id}/items/{item_id}", tag = TAG,
    params(("id" = Uuid, Path), ("item_id" = Uuid, Path), ("If-Match" = String, Header)), request_body = ItemFields,
    responses((status = 200, body = Item),
        UpdateProblems),
    security(("session" = [], "csrf" = [])))]
async fn update_item(
    state: State<AppState>,
    session: CurrentSession,
    ApiPath((id, item_id)): ApiPath<(Uuid, Uuid)>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<ItemFields>,
) -> Result<Response, ApiError> {
    let caller = principal_of_session(&session.resolved)?;
    let request = pb::UpdateItemRequest {
        workspace_id: id.to_string(),
        item_id: item_id.to_string(),
        version: if_match(&headers)?,
        fields: Some(body.into()),
    };
    let changed = state.workspaces().update_item(state.as_caller(&caller, request)).await?.into_inner();
    versioned_item(StatusCode::OK, changed, None)
}

/// Delete an item; its content is gone for good. Needs `If-Match` and `X-CSRF-Token`.
#[utoipa::path(delete, path = "/workspaces/{id}/items/{item_id}", tag = TAG,
    params(("id" = Uuid, Path), ("item_id" = Uuid, Path), ("If-Match" = String, Header)),
    responses((status = 200, body = Item),
        ActionProblems),
    security(("session" = [], "csrf" = [])))]
async fn delete_item(
    state: State<AppState>,
    session: CurrentSession,
    ApiPath((id, item_id)): ApiPath<(Uuid, Uuid)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let caller = principal_of_session(&session.resolved)?;
    let request =
        pb::ItemRef { workspace_id: id.to_string(), item_id: item_id.to_string(), version: if_match(&headers)? };
    let deleted = state.workspaces().delete_item(state.as_caller(&caller, request)).await?.into_inner();
    versioned_item(StatusCode::OK, deleted, None)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TaskDone {
    pub done: bool,
}

/// Mark a task done or not done (guides and experts; the customer their own tasks). Needs
/// `If-Match` and `X-CSRF-Token`.
#[utoipa::path(put, path = "/workspaces/{id}/items/{item_id}/done", tag = TAG,
    params(("id" = Uuid, Path), ("item_id" = Uuid, Path), ("If-Match" = String, Header)), request_body = TaskDone,
    responses((status = 200, body = Item),
        UpdateProblems),
    security(("session" = [], "csrf" = [])))]
async fn set_task_done(
    state: State<AppState>,
    session: CurrentSession,
    ApiPath((id, item_id)): ApiPath<(Uuid, Uuid)>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<TaskDone>,
) -> Result<Response, ApiError> {
    let caller = principal_of_session(&session.resolved)?;
    let request = pb::SetTaskDoneRequest {
        workspace_id: id.to_string(),
        item_id: item_id.to_string(),
        version: if_match(&headers)?,
        done: body.done,
    };
    let changed = state.workspaces().set_task_done(state.as_caller(&caller, request)).await?.into_inner();
    versioned_item(StatusCode::OK, changed, None)
}
