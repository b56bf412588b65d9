//! `/workspaces/{id}/live`: a workspace's changes as Server-Sent Events, read as the member.
//! The watching of the bus is [`crate::live`]; this is the stream one browser gets.

use std::time::Duration;

use axum::{
    extract::State,
    response::{
        IntoResponse, Response,
        sse::{Event, KeepAlive, Sse},
    },
};
use futures::StreamExt;
use ohjaus_platform::{
    auth::Principal,
    error::ErrorCode,
    proto::{identity::v1::ResolveSessionRequest, workspaces::v1 as pb},
};
use utoipa_axum::router::OpenApiRouter;
use uuid::Uuid;

use super::{TAG, item, message};
use crate::{
    docs::{BasicProblems, routes},
    extract::{ApiPath, CurrentSession, principal_of_session},
    live::ChangeKind,
    problem::ApiError,
    state::AppState,
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(stream_updates))
}

/// How often a live stream checks that its session is still alive.
const SESSION_CHECK: Duration = Duration::from_secs(30);

/// Live updates of one workspace as Server-Sent Events (members, with a browser session):
/// `message` (a new message, as `GET …/messages/{id}` gives it), `message-changed`, `item` (a
/// phase, task, event or note made or changed, as `GET …/items/{id}` gives it), `summary`,
/// `file`, `member` (someone joined or left), `workspace` (state or owner changed: re-read it).
/// The stream ends when the session ends or the workspace can no longer be read; when the
/// caller's own access ends (consent withdrawn, participation ended) it ends at once, after a
/// last `access-ended` event.
#[utoipa::path(get, path = "/workspaces/{id}/live", tag = TAG, operation_id = "live", params(("id" = Uuid, Path)),
    responses((status = 200, description = "An event stream", content_type = "text/event-stream"),
        BasicProblems),
    security(("session" = [])))]
async fn stream_updates(
    state: State<AppState>,
    session: CurrentSession,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Response, ApiError> {
    let caller = principal_of_session(&session.resolved)?;
    let Some(hub) = state.live() else { return Err(ApiError::code(ErrorCode::Unavailable)) };
    // Subscribe first, then check: nothing posted in between is missed.
    let mut changes = hub.subscribe();
    let request = pb::GetWorkspaceRequest { workspace_id: id.to_string() };
    state.workspaces().get_workspace(state.as_caller(&caller, request)).await?;
    let (sender, receiver) = tokio::sync::mpsc::channel::<Event>(64);
    let state = state.0.clone();
    let workspace_id = id.to_string();
    // Who this stream's member is, as membership events name them.
    let me = match &caller {
        Principal::Expert { person_id, .. } => Some(("expert", person_id.to_string())),
        Principal::Customer { customer_id } => Some(("customer", customer_id.to_string())),
        _ => None,
    };
    tokio::spawn(async move {
        let mut check = tokio::time::interval(SESSION_CHECK);
        check.tick().await;
        loop {
            let change = tokio::select! {
                () = sender.closed() => return,
                _ = check.tick() => {
                    let request = state.as_service(ResolveSessionRequest { session_token: session.token.clone(), check_only: true });
                    if state.identity().resolve_session(request).await.is_err() {
                        return;
                    }
                    continue;
                }
                change = changes.recv() => change,
            };
            let change = match change {
                Ok(change) if change.workspace_id == workspace_id => change,
                Ok(_) => continue,
                // Missed some: tell the page to re-read.
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                    if sender.send(Event::default().event("resync").data("{}")).await.is_err() {
                        return;
                    }
                    continue;
                }
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
            };
            if me.as_ref().is_some_and(|(kind, id)| change.removes(kind, id)) {
                // The best-effort last word; the stream closes either way.
                let _ = sender.send(Event::default().event("access-ended").data("{}")).await;
                return;
            }
            // Content is read as the member: what they may not see is not found.
            let read = match change.kind {
                ChangeKind::MessagePosted | ChangeKind::MessageChanged => {
                    let request = pb::GetMessageRequest {
                        workspace_id: workspace_id.clone(),
                        message_id: change.object_id.clone(),
                    };
                    let name = if change.kind == ChangeKind::MessagePosted { "message" } else { "message-changed" };
                    state.workspaces().get_message(state.as_caller(&caller, request)).await.and_then(|found| {
                        let data = serde_json::to_string(&message(found.into_inner()).map_err(unshowable)?);
                        Ok(Event::default().event(name).id(change.object_id.clone()).data(data.unwrap_or_default()))
                    })
                }
                ChangeKind::ItemChanged => {
                    let request = pb::ItemRef {
                        workspace_id: workspace_id.clone(),
                        item_id: change.object_id.clone(),
                        version: 0,
                    };
                    state.workspaces().get_item(state.as_caller(&caller, request)).await.and_then(|found| {
                        let data = serde_json::to_string(&item(found.into_inner()).map_err(unshowable)?);
                        Ok(Event::default().event("item").id(change.object_id.clone()).data(data.unwrap_or_default()))
                    })
                }
                ChangeKind::SummaryChanged => Ok(Event::default().event("summary").data("{}")),
                ChangeKind::FileUploaded => {
                    Ok(Event::default().event("file").data(format!("{{\"id\":\"{}\"}}", change.object_id)))
                }
                ChangeKind::MemberAdded | ChangeKind::MemberRemoved => Ok(Event::default().event("member").data("{}")),
                ChangeKind::WorkspaceChanged => Ok(Event::default().event("workspace").data("{}")),
                ChangeKind::WorkspaceDeleted => return,
            };
            let event = match read {
                Ok(event) => event,
                // Another customer's thread, someone's private note, or no access any more.
                Err(status) if status.code() == tonic::Code::NotFound => {
                    let request = pb::GetWorkspaceRequest { workspace_id: workspace_id.clone() };
                    if state.workspaces().get_workspace(state.as_caller(&caller, request)).await.is_err() {
                        return;
                    }
                    continue;
                }
                // Unavailable for now, or an answer that cannot be shown: the next change may do.
                Err(_) => continue,
            };
            if sender.send(event).await.is_err() {
                return;
            }
        }
    });
    let stream = tokio_stream::wrappers::ReceiverStream::new(receiver).map(Ok::<_, std::convert::Infallible>);
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))).into_response())
}

/// A service answer the stream cannot show (already logged): skipped like any failed read.
fn unshowable(_: ApiError) -> tonic::Status {
    tonic::Status::internal("unshowable answer")
}
