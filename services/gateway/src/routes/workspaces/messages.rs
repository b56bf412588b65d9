//! `/workspaces/{id}/messages`: posting and listing messages, reading, changing and deleting
//! one, and marking how far the caller has read.

use axum::{
    extract::State,
    http::{HeaderMap, StatusCode},
    response::Response,
};
use chrono::{DateTime, Utc};
use ohjaus_platform::proto::workspaces::v1 as pb;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use uuid::Uuid;

use super::{Message, TAG, message};
use crate::{
    docs::{ActionProblems, BasicProblems, CreateProblems, ListProblems, UpdateProblems, routes},
    extract::{
        ApiJson, ApiPath, ApiQuery, Caller, CurrentSession, PageParams, idempotency_key, if_match, principal_of_session,
    },
    ids::{field_ids, optional_field_id, service_id},
    problem::{ApiError, Problem},
    state::AppState,
    views::{Page, timestamp, versioned, view_all},
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(post_message, list_messages))
        .routes(routes!(get_message, update_message, delete_message))
        .routes(routes!(mark_read))
}

/// A message answered with its version as the `ETag`.
fn versioned_message(status: StatusCode, m: pb::Message, location: Option<String>) -> Result<Response, ApiError> {
    let version = m.version;
    Ok(versioned(status, message(m)?, version, location))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MessageInput {
    /// At most 10 000 characters. Stored encrypted.
    pub body: String,
    /// Files uploaded to this workspace before by the author (at most 10).
    #[serde(default)]
    #[schema(value_type = Vec<Uuid>)]
    pub attachment_ids: Vec<String>,
    /// Group workspaces: a guide writes to one customer's private thread (their customer id).
    #[serde(default)]
    #[schema(value_type = Option<Uuid>)]
    pub thread_id: Option<String>,
}

/// Post a message (members of an active workspace, logged in). Needs `X-CSRF-Token`.
#[utoipa::path(post, path = "/workspaces/{id}/messages", tag = TAG, params(("id" = Uuid, Path), ("Idempotency-Key" = Option<String>, Header)),
    request_body = MessageInput,
    responses((status = 201, body = Message),
        CreateProblems,
        (status = 409, body = Problem, description = "The workspace is not active", content_type = "application/problem+json")),
    security(("session" = [], "csrf" = [])))]
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
        attachment_ids: field_ids("attachment_ids", &body.attachment_ids)?.iter().map(Uuid::to_string).collect(),
        thread_id: optional_field_id("thread_id", body.thread_id.as_deref())?
            .map(|t| t.to_string())
            .unwrap_or_default(),
    };
    let posted = state.workspaces().post_message(state.as_caller(&caller, request)).await?.into_inner();
    let location = format!("/api/v1/workspaces/{id}/messages/{}", posted.id);
    versioned_message(StatusCode::CREATED, posted, Some(location))
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
    responses((status = 200, body = Page<Message>),
        ListProblems),
    security(("session" = [])))]
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
    Ok(axum::Json(Page::new(view_all(response.messages, message)?, response.next_page_token)))
}

/// One message (members; the read is logged).
#[utoipa::path(get, path = "/workspaces/{id}/messages/{message_id}", tag = TAG,
    params(("id" = Uuid, Path), ("message_id" = Uuid, Path)),
    responses((status = 200, body = Message),
        BasicProblems),
    security(("session" = [])))]
async fn get_message(
    state: State<AppState>,
    Caller(caller): Caller,
    ApiPath((id, message_id)): ApiPath<(Uuid, Uuid)>,
) -> Result<Response, ApiError> {
    let request = pb::GetMessageRequest { workspace_id: id.to_string(), message_id: message_id.to_string() };
    let found = state.workspaces().get_message(state.as_caller(&caller, request)).await?.into_inner();
    versioned_message(StatusCode::OK, found, None)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MessageEdit {
    /// The new text; at most 10 000 characters.
    pub body: String,
}

/// Change your own message within the edit window. Needs `If-Match` and `X-CSRF-Token`.
#[utoipa::path(put, path = "/workspaces/{id}/messages/{message_id}", tag = TAG, operation_id = "edit_message",
    params(("id" = Uuid, Path), ("message_id" = Uuid, Path), ("If-Match" = String, Header)), request_body = MessageEdit,
    responses((status = 200, body = Message),
        UpdateProblems,
        (status = 403, body = Problem, description = "Not your message", content_type = "application/problem+json"),
        (status = 422, body = Problem, description = "The edit window has passed", content_type = "application/problem+json")),
    security(("session" = [], "csrf" = [])))]
async fn update_message(
    state: State<AppState>,
    session: CurrentSession,
    ApiPath((id, message_id)): ApiPath<(Uuid, Uuid)>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<MessageEdit>,
) -> Result<Response, ApiError> {
    let caller = principal_of_session(&session.resolved)?;
    let request = pb::EditMessageRequest {
        workspace_id: id.to_string(),
        message_id: message_id.to_string(),
        body: body.body,
        version: if_match(&headers)?,
    };
    let changed = state.workspaces().edit_message(state.as_caller(&caller, request)).await?.into_inner();
    versioned_message(StatusCode::OK, changed, None)
}

/// Delete your own message within the edit window; its place remains, without content.
#[utoipa::path(delete, path = "/workspaces/{id}/messages/{message_id}", tag = TAG,
    params(("id" = Uuid, Path), ("message_id" = Uuid, Path), ("If-Match" = String, Header)),
    responses((status = 200, body = Message),
        ActionProblems),
    security(("session" = [], "csrf" = [])))]
async fn delete_message(
    state: State<AppState>,
    session: CurrentSession,
    ApiPath((id, message_id)): ApiPath<(Uuid, Uuid)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let caller = principal_of_session(&session.resolved)?;
    let request = pb::DeleteMessageRequest {
        workspace_id: id.to_string(),
        message_id: message_id.to_string(),
        version: if_match(&headers)?,
    };
    let changed = state.workspaces().delete_message(state.as_caller(&caller, request)).await?.into_inner();
    versioned_message(StatusCode::OK, changed, None)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReadMarker {
    pub workspace_id: Uuid,
    pub last_read_message_id: Uuid,
    pub at: DateTime<Utc>,
}

/// You have read up to this message.
#[utoipa::path(post, path = "/workspaces/{id}/messages/{message_id}/read", tag = TAG,
    params(("id" = Uuid, Path), ("message_id" = Uuid, Path)), responses((status = 200, body = ReadMarker),
        BasicProblems),
    security(("session" = [], "csrf" = [])))]
async fn mark_read(
    state: State<AppState>,
    Caller(caller): Caller,
    ApiPath((id, message_id)): ApiPath<(Uuid, Uuid)>,
) -> Result<axum::Json<ReadMarker>, ApiError> {
    let request = pb::MarkReadRequest { workspace_id: id.to_string(), message_id: message_id.to_string() };
    let marker = state.workspaces().mark_read(state.as_caller(&caller, request)).await?.into_inner();
    Ok(axum::Json(ReadMarker {
        workspace_id: service_id(&marker.workspace_id)?,
        last_read_message_id: service_id(&marker.last_read_message_id)?,
        at: timestamp(marker.at),
    }))
}
