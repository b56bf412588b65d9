//! `/notifications`: the caller's own notifications, and marking them read.

use axum::extract::State;
use chrono::{DateTime, Utc};
use ohjaus_platform::proto::workspaces::v1 as pb;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use uuid::Uuid;

use crate::{
    docs::{CreateProblems, ListProblems, routes},
    extract::{ApiQuery, Caller, OptionalJson, page_size},
    ids::{field_ids, service_id},
    problem::ApiError,
    state::AppState,
    views::{timestamp, view_all},
};

/// Notifications are documented with the workspaces they come from.
const TAG: &str = "workspaces";

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_notifications)).routes(routes!(read_notifications))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Notification {
    pub id: Uuid,
    /// `message`, `invitation-accepted`, `workspace-handed-over`, `consent-…`, or retention's
    /// `workspace-closing` and `workspace-archiving` (the workspace closes or is archived soon).
    /// `round-asked`: the customer is asked to answer the 3X10D meter (`subject_id`: the round).
    pub kind: String,
    pub workspace_id: Uuid,
    pub subject_id: Uuid,
    pub created_at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub read_at: Option<DateTime<Utc>>,
}

fn notification(n: pb::Notification) -> Result<Notification, ApiError> {
    Ok(Notification {
        id: service_id(&n.id)?,
        kind: n.kind,
        workspace_id: service_id(&n.workspace_id)?,
        subject_id: service_id(&n.subject_id)?,
        created_at: timestamp(n.created_at),
        read_at: n.read_at.map(|t| timestamp(Some(t))),
    })
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NotificationPage {
    pub items: Vec<Notification>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_page_token: Option<String>,
    /// All unread notifications, not only this page's.
    pub unread: i64,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct NotificationParams {
    #[serde(default)]
    pub unread_only: bool,
    /// Items per page, 1–100 (default 50).
    #[param(minimum = 1, maximum = 100)]
    pub page_size: Option<i32>,
    pub page_token: Option<String>,
}

/// My notifications, newest first.
#[utoipa::path(get, path = "/notifications", tag = TAG, params(NotificationParams),
    responses((status = 200, body = NotificationPage),
        ListProblems),
    security(("session" = [])))]
async fn list_notifications(
    state: State<AppState>,
    Caller(caller): Caller,
    ApiQuery(params): ApiQuery<NotificationParams>,
) -> Result<axum::Json<NotificationPage>, ApiError> {
    let request = pb::ListNotificationsRequest {
        unread_only: params.unread_only,
        page_size: page_size(params.page_size),
        page_token: params.page_token.unwrap_or_default(),
    };
    let found = state.workspaces().list_notifications(state.as_caller(&caller, request)).await?.into_inner();
    Ok(axum::Json(NotificationPage {
        items: view_all(found.notifications, notification)?,
        next_page_token: Some(found.next_page_token).filter(|t| !t.is_empty()),
        unread: found.unread,
    }))
}

/// Every field is optional, and so is the body itself (none is `{}`: all of mine).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReadNotificationsInput {
    /// Which ones; absent or empty: all of mine.
    #[serde(default)]
    #[schema(value_type = Vec<Uuid>)]
    pub ids: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReadNotificationsResult {
    pub marked: i64,
}

/// Mark notifications read.
#[utoipa::path(post, path = "/notifications/read", tag = TAG, request_body(content = Option<ReadNotificationsInput>, description = "Optional: no body is `{}`"),
    responses((status = 200, body = ReadNotificationsResult),
        CreateProblems),
    security(("session" = [], "csrf" = [])))]
async fn read_notifications(
    state: State<AppState>,
    Caller(caller): Caller,
    OptionalJson(body): OptionalJson<ReadNotificationsInput>,
) -> Result<axum::Json<ReadNotificationsResult>, ApiError> {
    let request = pb::MarkNotificationsReadRequest {
        notification_ids: field_ids("ids", &body.ids)?.iter().map(Uuid::to_string).collect(),
    };
    let done = state.workspaces().mark_notifications_read(state.as_caller(&caller, request)).await?.into_inner();
    Ok(axum::Json(ReadNotificationsResult { marked: done.marked }))
}
