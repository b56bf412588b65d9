//! Writing to a workspace from its page: a message with an optional file (one multipart form,
//! so it works without JavaScript), and one message as a fragment of the page (what the page's
//! script inserts when the live stream says a message came).

use axum::{
    extract::{Multipart, Path, State, multipart::MultipartRejection},
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
};
use ohjaus_platform::{auth::Principal, error::ErrorCode, proto::workspaces::v1 as pb};

use super::{
    shell::{FieldError, Texts, Visitor},
    workspaces::{Extras, MessageView, message_view, workspace_page},
};
use crate::{problem::ApiError, routes::workspaces::files::store_file, state::AppState};

/// The message form's text fields are read up to this many bytes (a message is at most a few
/// thousand characters; the service says exactly).
const TEXT_FIELD_MAX: usize = 64 * 1024;

/// What the form carried before its file.
#[derive(Default)]
struct Written {
    csrf_token: String,
    body: String,
    /// Group workspaces, staff: the customer whose thread this goes to (empty: everyone).
    thread: String,
}

/// Why a sent form was not posted: the fields refused (the page shows them), or a failure page.
enum Refusal {
    Fields(Vec<FieldError>),
    Page(Response),
}

/// A refused file's message: the service's field reasons, or its refusal as a whole (too large,
/// a type files may not have) said of the file.
fn file_errors(error: &ApiError, visitor: &Visitor) -> Option<Vec<FieldError>> {
    if !error.0.violations.is_empty() {
        let renamed = [("name", "file"), ("declared_type", "file"), ("thread_id", "file")];
        return Some(FieldError::of(error, visitor.language, &renamed));
    }
    let key = match error.0.code {
        ErrorCode::PayloadTooLarge => "web-file-too-large",
        ErrorCode::UnsupportedMediaType | ErrorCode::MalformedRequest => "web-file-refused",
        _ => return None,
    };
    Some(vec![FieldError { field: "file".to_owned(), message: visitor.language.text(key) }])
}

/// Reads a text field, keeping at most [`TEXT_FIELD_MAX`] bytes of it: a longer text is still
/// longer than the service takes, which then says so by the field.
async fn text_of(field: axum::extract::multipart::Field<'_>) -> String {
    let mut field = field;
    let mut bytes = Vec::new();
    while let Ok(Some(chunk)) = field.chunk().await {
        let room = TEXT_FIELD_MAX.saturating_sub(bytes.len());
        bytes.extend_from_slice(&chunk[..chunk.len().min(room)]);
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Reads the form (CSRF token, text, then the file), streaming the file to the service as it
/// arrives; the message's attachment, if one was given.
async fn read_form(
    state: &AppState,
    visitor: &Visitor,
    workspace: &str,
    mut form: Multipart,
    written: &mut Written,
) -> Result<(Principal, Option<String>), Refusal> {
    let t = Texts(visitor.language);
    let mut caller = None;
    let mut attachment = None;
    while let Ok(Some(field)) = form.next_field().await {
        match field.name().unwrap_or_default() {
            "csrf_token" => {
                written.csrf_token = text_of(field).await;
                caller = Some(visitor.acting(&written.csrf_token).map_err(|answer| Refusal::Page(*answer))?);
            }
            "body" => {
                written.body = text_of(field).await;
            }
            "thread" => {
                written.thread = text_of(field).await.trim().to_owned();
            }
            "file" => {
                let name = field.file_name().unwrap_or_default().to_owned();
                // No file chosen: the browser sends an empty, nameless part.
                if name.is_empty() {
                    continue;
                }
                // The token comes first in the form; without it nothing is stored.
                let Some(caller) = &caller else { break };
                if written.body.trim().is_empty() {
                    break;
                }
                let header = pb::UploadFileHeader {
                    workspace_id: workspace.to_owned(),
                    name,
                    declared_type: field.content_type().unwrap_or_default().to_owned(),
                    thread_id: written.thread.clone(),
                };
                // The field borrows the form, so its bytes go to the upload through a channel
                // while both run: a file is never held whole in memory here.
                let (sender, receiver) = tokio::sync::mpsc::channel::<Result<axum::body::Bytes, std::io::Error>>(4);
                let upload = store_file(state, caller, header, tokio_stream::wrappers::ReceiverStream::new(receiver));
                let feed = async move {
                    let mut field = field;
                    loop {
                        let part = match field.chunk().await {
                            Ok(Some(bytes)) => Ok(bytes),
                            Ok(None) => return,
                            Err(error) => Err(std::io::Error::other(error.body_text())),
                        };
                        let broken = part.is_err();
                        if sender.send(part).await.is_err() || broken {
                            return;
                        }
                    }
                };
                let (stored, ()) = tokio::join!(upload, feed);
                match stored {
                    Ok(file) => attachment = Some(file.id),
                    Err(error) => {
                        return Err(match file_errors(&error, visitor) {
                            Some(errors) => Refusal::Fields(errors),
                            None => Refusal::Page(visitor.failure(error)),
                        });
                    }
                }
            }
            _ => {}
        }
    }
    let Some(caller) = caller else {
        return Err(Refusal::Page(visitor.finish(Redirect::to("/").into_response())));
    };
    if written.body.trim().is_empty() {
        let message = t.get("web-message-empty");
        return Err(Refusal::Fields(vec![FieldError { field: "body".to_owned(), message }]));
    }
    Ok((caller, attachment))
}

/// Posts a message, with the file given beside it as its attachment, and shows the
/// conversation again (Post/Redirect/Get); a refused message or file shows the page with the
/// reasons by their fields and the text kept.
pub async fn send(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(id): Path<String>,
    form: Result<Multipart, MultipartRejection>,
) -> Response {
    let workspace = match visitor.id(&id) {
        Ok(id) => id,
        Err(answer) => return *answer,
    };
    let Ok(form) = form else { return visitor.failure(ApiError::code(ErrorCode::MalformedRequest)) };
    let mut written = Written::default();
    let refused = |written: Written, send_errors| Extras::refused_message(send_errors, written.body, written.thread);
    let (caller, attachment) = match read_form(&state, &visitor, &workspace, form, &mut written).await {
        Ok(read) => read,
        Err(Refusal::Page(answer)) => return answer,
        Err(Refusal::Fields(errors)) => {
            let extras = refused(written, errors);
            return workspace_page(&state, &visitor, &workspace, StatusCode::UNPROCESSABLE_ENTITY, extras).await;
        }
    };
    let author_name = visitor.session.as_ref().map(|s| s.resolved.display_name.clone()).unwrap_or_default();
    let request = pb::PostMessageRequest {
        workspace_id: workspace.clone(),
        body: written.body.clone(),
        author_name,
        attachment_ids: attachment.into_iter().collect(),
        thread_id: written.thread.clone(),
        ..Default::default()
    };
    match state.workspaces().post_message(state.as_caller(&caller, request)).await {
        Ok(_) => visitor.finish(Redirect::to(&conversation_path(&workspace, &written.thread)).into_response()),
        Err(status) => {
            let error = ApiError::from(status);
            if error.0.violations.is_empty() {
                return visitor.failure(error);
            }
            let errors = FieldError::of(&error, visitor.language, &[("attachment_ids", "file"), ("thread_id", "body")]);
            let extras = refused(written, errors);
            workspace_page(&state, &visitor, &workspace, StatusCode::UNPROCESSABLE_ENTITY, extras).await
        }
    }
}

/// The workspace's page showing `thread` (a group's customer's id; empty for everyone's).
fn conversation_path(workspace: &str, thread: &str) -> String {
    match ohjaus_platform::ids::parse_canonical(thread) {
        Some(thread) => format!("/app/workspaces/{workspace}?thread={thread}#conversation"),
        None => format!("/app/workspaces/{workspace}"),
    }
}

#[derive(askama::Template)]
#[template(path = "message.html")]
struct MessageFragment {
    shell: super::shell::Shell,
    id: String,
    m: MessageView,
}

/// One message as the conversation shows it, without the page around it (read as the member,
/// logged as any read; a message they may not see is not found).
pub async fn fragment(
    State(state): State<AppState>,
    visitor: Visitor,
    Path((id, message)): Path<(String, String)>,
) -> Response {
    let caller = match visitor.principal() {
        Ok(caller) => caller,
        Err(answer) => return *answer,
    };
    let (workspace, message) = match (visitor.id(&id), visitor.id(&message)) {
        (Ok(workspace), Ok(message)) => (workspace, message),
        (Err(answer), _) | (_, Err(answer)) => return *answer,
    };
    let request = pb::GetMessageRequest { workspace_id: workspace.clone(), message_id: message };
    let found = match state.workspaces().get_message(state.as_caller(&caller, request)).await {
        Ok(found) => found.into_inner(),
        Err(status) => return visitor.failure(ApiError::from(status)),
    };
    let t = Texts(visitor.language);
    let m = message_view(&t, super::shell::subject_of(&caller).as_deref(), found);
    visitor.render(StatusCode::OK, &MessageFragment { shell: visitor.shell(String::new()), id: workspace, m })
}
