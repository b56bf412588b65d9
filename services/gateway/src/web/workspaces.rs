//! `/app` (my workspaces) and `/app/workspaces/{id}` (one workspace: its conversation, and a
//! form to write to it).

use axum::{
    Form,
    extract::{Path, State},
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
};
use chrono::{DateTime, Utc};
use ohjaus_platform::proto::workspaces::v1 as pb;
use serde::Deserialize;
use uuid::Uuid;

use super::shell::{Shell, Texts, Visitor};
use crate::{problem::ApiError, state::AppState, views::timestamp};

/// How many of the latest messages a workspace's page shows.
const MESSAGES_SHOWN: i32 = 100;

/// A workspace as its row in the list.
struct WorkspaceRow {
    id: String,
    title: String,
    kind: String,
    state: String,
    created: String,
    created_iso: String,
}

#[derive(askama::Template)]
#[template(path = "workspaces.html")]
struct WorkspacesPage {
    shell: Shell,
    workspaces: Vec<WorkspaceRow>,
}

/// A message as the conversation shows it.
struct MessageView {
    id: String,
    from: String,
    body: String,
    at: String,
    at_iso: String,
    mine: bool,
    deleted: bool,
}

#[derive(askama::Template)]
#[template(path = "workspace.html")]
struct WorkspacePage {
    shell: Shell,
    id: String,
    state: String,
    messages: Vec<MessageView>,
    can_write: bool,
    /// A refused message: why, and what was written (so it is not lost).
    error: Option<String>,
    draft: String,
}

fn state_text(t: &Texts, state: i32) -> String {
    match pb::WorkspaceState::try_from(state).unwrap_or(pb::WorkspaceState::Unspecified) {
        pb::WorkspaceState::Closed => t.get("web-workspace-state-closed"),
        pb::WorkspaceState::Archived => t.get("web-workspace-state-archived"),
        _ => t.get("web-workspace-state-active"),
    }
}

fn kind_text(t: &Texts, kind: i32) -> String {
    match pb::WorkspaceKind::try_from(kind).unwrap_or(pb::WorkspaceKind::Unspecified) {
        pb::WorkspaceKind::Group => t.get("web-workspace-kind-group"),
        _ => t.get("web-workspace-kind-personal"),
    }
}

/// Shown as day.month.year hours:minutes (UTC, said so); machine-readable in `datetime`.
fn shown(at: DateTime<Utc>) -> (String, String) {
    (at.format("%-d.%-m.%Y %H:%M UTC").to_string(), at.to_rfc3339())
}

/// The caller's workspaces, newest first.
pub async fn list(State(state): State<AppState>, visitor: Visitor) -> Response {
    let caller = match visitor.principal() {
        Ok(caller) => caller,
        Err(answer) => return *answer,
    };
    let t = Texts(visitor.language);
    let mut rows = Vec::new();
    let mut page_token = String::new();
    // A person has tens of workspaces at most; a guide's few hundred fit in a few pages.
    for _ in 0..10 {
        let request = pb::ListWorkspacesRequest { page_size: 100, page_token };
        let page = match state.workspaces().list_workspaces(state.as_caller(&caller, request)).await {
            Ok(page) => page.into_inner(),
            Err(status) => return visitor.failure(ApiError::from(status)),
        };
        for w in page.workspaces {
            let (created, created_iso) = shown(timestamp(w.created_at));
            rows.push(WorkspaceRow {
                id: w.id,
                title: w.title,
                kind: kind_text(&t, w.kind),
                state: state_text(&t, w.state),
                created,
                created_iso,
            });
        }
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    let page = WorkspacesPage { shell: visitor.shell(t.get("web-my-workspaces")), workspaces: rows };
    visitor.render(StatusCode::OK, &page)
}

/// One workspace: its latest messages, oldest first, and the form to write.
pub async fn show(State(state): State<AppState>, visitor: Visitor, Path(id): Path<String>) -> Response {
    workspace_page(&state, &visitor, &id, StatusCode::OK, None, String::new()).await
}

async fn workspace_page(
    state: &AppState,
    visitor: &Visitor,
    id: &str,
    status: StatusCode,
    error: Option<String>,
    draft: String,
) -> Response {
    let caller = match visitor.principal() {
        Ok(caller) => caller,
        Err(answer) => return *answer,
    };
    // Only canonical ids reach the services; anything else is simply not a workspace.
    let Ok(id) = Uuid::parse_str(id).map(|u| u.to_string()) else {
        return visitor.failure(ApiError::code(ohjaus_platform::error::ErrorCode::NotFound));
    };
    let t = Texts(visitor.language);
    let request = pb::GetWorkspaceRequest { workspace_id: id.clone() };
    let workspace = match state.workspaces().get_workspace(state.as_caller(&caller, request)).await {
        Ok(found) => found.into_inner(),
        Err(status) => return visitor.failure(ApiError::from(status)),
    };
    let request = pb::ListMessagesRequest {
        workspace_id: id.clone(),
        page_size: MESSAGES_SHOWN,
        page_token: String::new(),
        newest_first: true,
    };
    let mut messages = match state.workspaces().list_messages(state.as_caller(&caller, request)).await {
        Ok(page) => page.into_inner().messages,
        Err(status) => return visitor.failure(ApiError::from(status)),
    };
    messages.reverse();
    let me = crate::web::shell::subject_of(&caller);
    let messages = messages
        .into_iter()
        .map(|m| {
            let (at, at_iso) = shown(timestamp(m.created_at));
            MessageView {
                mine: me.as_deref() == Some(m.author_id.as_str()),
                from: t.with("web-message-from", "name", &m.author_name),
                id: m.id,
                body: m.body,
                at,
                at_iso,
                deleted: m.deleted,
            }
        })
        .collect();
    let page = WorkspacePage {
        shell: visitor.shell(workspace.title),
        id,
        state: state_text(&t, workspace.state),
        messages,
        can_write: workspace.state == pb::WorkspaceState::Active as i32,
        error,
        draft,
    };
    visitor.render(status, &page)
}

#[derive(Deserialize)]
pub struct MessageForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    body: String,
}

/// Posts a message and shows the conversation again (Post/Redirect/Get); a refused message
/// shows the page with the reason and the text kept.
pub async fn send(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(id): Path<String>,
    Form(form): Form<MessageForm>,
) -> Response {
    let Some(session) = visitor.session_with_csrf(&form.csrf_token) else {
        return visitor.finish(Redirect::to("/").into_response());
    };
    let t = Texts(visitor.language);
    if form.body.trim().is_empty() {
        let error = Some(t.get("web-message-empty"));
        return workspace_page(&state, &visitor, &id, StatusCode::UNPROCESSABLE_ENTITY, error, form.body).await;
    }
    let caller = match visitor.principal() {
        Ok(caller) => caller,
        Err(answer) => return *answer,
    };
    let Ok(workspace) = Uuid::parse_str(&id).map(|u| u.to_string()) else {
        return visitor.failure(ApiError::code(ohjaus_platform::error::ErrorCode::NotFound));
    };
    let request = pb::PostMessageRequest {
        workspace_id: workspace.clone(),
        body: form.body.clone(),
        author_name: session.resolved.display_name.clone(),
        ..Default::default()
    };
    match state.workspaces().post_message(state.as_caller(&caller, request)).await {
        Ok(_) => visitor.finish(Redirect::to(&format!("/app/workspaces/{workspace}")).into_response()),
        Err(status) => {
            let error = ApiError::from(status);
            if error.0.violations.is_empty() {
                return visitor.failure(error);
            }
            let messages: Vec<String> = error.0.violations.iter().map(|v| visitor.language.text(&v.reason)).collect();
            let reason = messages.join(" ");
            workspace_page(&state, &visitor, &workspace, StatusCode::UNPROCESSABLE_ENTITY, Some(reason), form.body)
                .await
        }
    }
}
