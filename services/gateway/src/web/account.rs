//! The person's own pages: `/app/notifications` (what happened in their workspaces, marked read
//! here) and `/app/sessions` (where they are logged in, each ended here), and the unread
//! counts the workspace list shows.

use std::collections::HashMap;

use axum::{
    Form,
    extract::{Path, State},
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
};
use ohjaus_platform::{
    auth::Principal,
    proto::{identity::v1 as identity_pb, workspaces::v1 as pb},
};

use super::{
    CsrfForm,
    shell::{Shell, Texts, Visitor},
    workspaces::shown,
};
use crate::{problem::ApiError, state::AppState, views::timestamp};

/// Unread notifications are read up to this many pages of 100.
const NOTIFICATION_PAGES: usize = 5;

/// The caller's notifications, newest first, and how many are unread.
async fn notifications_of(
    state: &AppState,
    caller: &Principal,
    unread_only: bool,
) -> Result<(Vec<pb::Notification>, i64), ApiError> {
    let mut all = Vec::new();
    let mut unread = 0;
    let mut page_token = String::new();
    for _ in 0..NOTIFICATION_PAGES {
        let request = pb::ListNotificationsRequest { unread_only, page_size: 100, page_token };
        let page = state.workspaces().list_notifications(state.as_caller(caller, request)).await?.into_inner();
        unread = page.unread;
        all.extend(page.notifications);
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    Ok((all, unread))
}

/// Unread messages by workspace id, from the caller's unread notifications.
pub(super) async fn unread_by_workspace(state: &AppState, caller: &Principal) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    // The list shows without the counts if they cannot be read now.
    if let Ok((unread, _)) = notifications_of(state, caller, true).await {
        for n in unread.into_iter().filter(|n| n.kind == "message") {
            *counts.entry(n.workspace_id).or_insert(0) += 1;
        }
    }
    counts
}

/// A notification as its page shows it.
struct NotificationView {
    what: String,
    workspace_id: String,
    at: String,
    at_iso: String,
    unread: bool,
}

#[derive(askama::Template)]
#[template(path = "notifications.html")]
struct NotificationsPage {
    shell: Shell,
    notifications: Vec<NotificationView>,
    unread: i64,
}

/// The notifications page.
pub async fn notifications(State(state): State<AppState>, visitor: Visitor) -> Response {
    let caller = match visitor.principal() {
        Ok(caller) => caller,
        Err(answer) => return *answer,
    };
    let t = Texts(visitor.language);
    let (found, unread) = match notifications_of(&state, &caller, false).await {
        Ok(found) => found,
        Err(error) => return visitor.failure(error),
    };
    let notifications = found
        .into_iter()
        .map(|n| {
            let (at, at_iso) = shown(timestamp(n.created_at));
            let what = match n.kind.as_str() {
                "message" => t.get("web-notification-message"),
                "invitation-accepted" => t.get("web-notification-joined"),
                "round-asked" => t.get("web-notification-round-asked"),
                _ => t.get("web-notification-other"),
            };
            NotificationView { what, workspace_id: n.workspace_id, at, at_iso, unread: n.read_at.is_none() }
        })
        .collect();
    let page = NotificationsPage { shell: visitor.shell(t.get("web-notifications")), notifications, unread };
    visitor.render(StatusCode::OK, &page)
}

/// Marks all of the caller's notifications read.
pub async fn read_all(State(state): State<AppState>, visitor: Visitor, Form(form): Form<CsrfForm>) -> Response {
    let caller = match visitor.acting(&form.csrf_token) {
        Ok(caller) => caller,
        Err(answer) => return *answer,
    };
    let request = pb::MarkNotificationsReadRequest { notification_ids: Vec::new() };
    match state.workspaces().mark_notifications_read(state.as_caller(&caller, request)).await {
        Ok(_) => visitor.finish(Redirect::to("/app/notifications").into_response()),
        Err(status) => visitor.failure(ApiError::from(status)),
    }
}

/// A session as its page shows it.
struct SessionView {
    id: String,
    provider: String,
    started: String,
    last_used: String,
    current: bool,
}

#[derive(askama::Template)]
#[template(path = "sessions.html")]
struct SessionsPage {
    shell: Shell,
    sessions: Vec<SessionView>,
}

/// Where the person is logged in.
pub async fn sessions(State(state): State<AppState>, visitor: Visitor) -> Response {
    let Some(session) = &visitor.session else { return visitor.finish(Redirect::to("/").into_response()) };
    let t = Texts(visitor.language);
    let request = state.as_service(identity_pb::ListMySessionsRequest { session_token: session.token.clone() });
    let listed = match state.identity().list_my_sessions(request).await {
        Ok(listed) => listed.into_inner().sessions,
        Err(status) => return visitor.failure(ApiError::from(status)),
    };
    let sessions = listed
        .into_iter()
        .map(|s| SessionView {
            id: s.id,
            provider: s.provider_id,
            started: shown(timestamp(s.created_at)).0,
            last_used: shown(timestamp(s.last_seen_at)).0,
            current: s.current,
        })
        .collect();
    let page = SessionsPage { shell: visitor.shell(t.get("web-sessions")), sessions };
    visitor.render(StatusCode::OK, &page)
}

/// Ends one of the person's sessions (another device's; the current one is the logout).
pub async fn end_session(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(id): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Response {
    let Some(session) = visitor.session_with_csrf(&form.csrf_token) else {
        return visitor.finish(Redirect::to("/").into_response());
    };
    let id = match visitor.id(&id) {
        Ok(id) => id,
        Err(answer) => return *answer,
    };
    let request =
        state.as_service(identity_pb::EndMySessionRequest { session_token: session.token.clone(), session_id: id });
    match state.identity().end_my_session(request).await {
        Ok(_) => visitor.finish(Redirect::to("/app/sessions").into_response()),
        Err(status) => visitor.failure(ApiError::from(status)),
    }
}
