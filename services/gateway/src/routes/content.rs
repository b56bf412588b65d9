//! What happens inside a workspace beyond its messages' first posting: changing and reading
//! messages, invitations, files, notifications, the customer's download, live updates and
//! handing a workspace to another guide. Everything is answered by the workspaces service as
//! the caller; to anyone who is not a member every address here is 404.

use std::time::Duration;

use axum::{
    body::Body,
    extract::State,
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{
        IntoResponse, Response,
        sse::{Event, KeepAlive, Sse},
    },
};
use chrono::{DateTime, Utc};
use futures::{StreamExt, TryStreamExt};
use ohjaus_platform::{
    auth::Principal,
    error::ErrorCode,
    proto::{
        identity::v1::ResolveSessionRequest,
        workspaces::v1::{self as pb, download_file_response, export_part, upload_file_request},
    },
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::{
    Page,
    guidance::item,
    timestamp, versioned,
    workspaces::{Message, Workspace, message, workspace},
};
use crate::{
    AppState,
    extract::{
        ApiJson, ApiPath, ApiQuery, Caller, CurrentSession, PageParams, idempotency_key, if_match, principal_of_session,
    },
    live::ChangeKind,
    problem::{ApiError, Problem},
};

pub const TAG: &str = "workspaces";

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_message, edit_message, delete_message))
        .routes(routes!(mark_read))
        .routes(routes!(create_invitation, list_invitations))
        .routes(routes!(resend_invitation))
        .routes(routes!(revoke_invitation))
        .routes(routes!(accept_invitation))
        .routes(routes!(upload_file, list_files))
        .routes(routes!(download_file))
        .routes(routes!(list_notifications))
        .routes(routes!(read_notifications))
        .routes(routes!(export_workspace))
        .routes(routes!(live))
        .routes(routes!(transfer_workspace))
}

fn uuid(value: &str) -> Uuid {
    Uuid::parse_str(value).unwrap_or_default()
}

// ---------------------------------------------------------------------------------------------
// Messages

/// One message (members; the read is logged).
#[utoipa::path(get, path = "/workspaces/{id}/messages/{message_id}", tag = TAG,
    params(("id" = Uuid, Path), ("message_id" = Uuid, Path)),
    responses((status = 200, body = Message), (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn get_message(
    state: State<AppState>,
    Caller(caller): Caller,
    ApiPath((id, message_id)): ApiPath<(Uuid, Uuid)>,
) -> Result<Response, ApiError> {
    let request = pb::GetMessageRequest { workspace_id: id.to_string(), message_id: message_id.to_string() };
    let found = state.workspaces().get_message(state.as_caller(&caller, request)).await?.into_inner();
    let version = found.version;
    Ok(versioned(StatusCode::OK, message(found), version, None))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MessageEdit {
    /// The new text; at most 10 000 characters.
    pub body: String,
}

/// Change your own message within the edit window. Needs `If-Match` and `X-CSRF-Token`.
#[utoipa::path(put, path = "/workspaces/{id}/messages/{message_id}", tag = TAG,
    params(("id" = Uuid, Path), ("message_id" = Uuid, Path), ("If-Match" = String, Header)), request_body = MessageEdit,
    responses((status = 200, body = Message), (status = 403, body = Problem, description = "Not your message", content_type = "application/problem+json"),
        (status = 412, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, description = "The edit window has passed", content_type = "application/problem+json")))]
async fn edit_message(
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
    let version = changed.version;
    Ok(versioned(StatusCode::OK, message(changed), version, None))
}

/// Delete your own message within the edit window; its place remains, without content.
#[utoipa::path(delete, path = "/workspaces/{id}/messages/{message_id}", tag = TAG,
    params(("id" = Uuid, Path), ("message_id" = Uuid, Path), ("If-Match" = String, Header)),
    responses((status = 200, body = Message), (status = 412, body = Problem, content_type = "application/problem+json")))]
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
    let version = changed.version;
    Ok(versioned(StatusCode::OK, message(changed), version, None))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReadMarker {
    pub workspace_id: Uuid,
    pub last_read_message_id: Uuid,
    pub at: DateTime<Utc>,
}

/// You have read up to this message.
#[utoipa::path(post, path = "/workspaces/{id}/messages/{message_id}/read", tag = TAG,
    params(("id" = Uuid, Path), ("message_id" = Uuid, Path)), responses((status = 200, body = ReadMarker)))]
async fn mark_read(
    state: State<AppState>,
    Caller(caller): Caller,
    ApiPath((id, message_id)): ApiPath<(Uuid, Uuid)>,
) -> Result<axum::Json<ReadMarker>, ApiError> {
    let request = pb::MarkReadRequest { workspace_id: id.to_string(), message_id: message_id.to_string() };
    let marker = state.workspaces().mark_read(state.as_caller(&caller, request)).await?.into_inner();
    Ok(axum::Json(ReadMarker {
        workspace_id: uuid(&marker.workspace_id),
        last_read_message_id: uuid(&marker.last_read_message_id),
        at: timestamp(marker.at),
    }))
}

// ---------------------------------------------------------------------------------------------
// Invitations

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InvitationInput {
    /// Where the invitation is sent. The mail has a link and nothing else.
    pub email: String,
    /// `fi` (default), `sv` or `en`: the language of the mail.
    #[serde(default)]
    pub language: Option<String>,
    /// Optional: only this person (by Suomi.fi identification) can accept. Never stored or
    /// shown in plain text.
    #[serde(default)]
    pub personal_identity_code: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Invitation {
    pub id: Uuid,
    pub workspace_id: Uuid,
    pub email: String,
    pub language: String,
    pub bound_to_person: bool,
    /// `pending`, `accepted`, `revoked` or `expired`.
    pub state: String,
    pub expires_at: DateTime<Utc>,
    pub sent_count: i64,
    pub version: i64,
    pub created_at: DateTime<Utc>,
}

fn invitation(i: pb::Invitation) -> Invitation {
    let state = match pb::InvitationState::try_from(i.state) {
        Ok(pb::InvitationState::Accepted) => "accepted",
        Ok(pb::InvitationState::Revoked) => "revoked",
        Ok(pb::InvitationState::Expired) => "expired",
        _ => "pending",
    };
    Invitation {
        id: uuid(&i.id),
        workspace_id: uuid(&i.workspace_id),
        email: i.email,
        language: i.language,
        bound_to_person: i.bound_to_person,
        state: state.into(),
        expires_at: timestamp(i.expires_at),
        sent_count: i.sent_count,
        version: i.version,
        created_at: timestamp(i.created_at),
    }
}

/// Invite a customer by email (the workspace's guides).
#[utoipa::path(post, path = "/workspaces/{id}/invitations", tag = TAG,
    params(("id" = Uuid, Path), ("Idempotency-Key" = Option<String>, Header)), request_body = InvitationInput,
    responses((status = 201, body = Invitation), (status = 422, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, description = "Not active, or a personal workspace that already has its customer", content_type = "application/problem+json")))]
async fn create_invitation(
    state: State<AppState>,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<Uuid>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<InvitationInput>,
) -> Result<Response, ApiError> {
    let request = pb::CreateInvitationRequest {
        workspace_id: id.to_string(),
        email: body.email,
        language: body.language.unwrap_or_default(),
        personal_identity_code: body.personal_identity_code.unwrap_or_default(),
        request_id: idempotency_key(&headers)?,
    };
    let made = state.workspaces().create_invitation(state.as_caller(&caller, request)).await?.into_inner();
    let version = made.version;
    Ok(versioned(StatusCode::CREATED, invitation(made), version, None))
}

/// The workspace's invitations (its guides).
#[utoipa::path(get, path = "/workspaces/{id}/invitations", tag = TAG, params(("id" = Uuid, Path), PageParams),
    responses((status = 200, body = Page<Invitation>)))]
async fn list_invitations(
    state: State<AppState>,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<Uuid>,
    ApiQuery(page): ApiQuery<PageParams>,
) -> Result<axum::Json<Page<Invitation>>, ApiError> {
    let request =
        pb::ListInvitationsRequest { workspace_id: id.to_string(), page_size: page.size(), page_token: page.token() };
    let found = state.workspaces().list_invitations(state.as_caller(&caller, request)).await?.into_inner();
    Ok(axum::Json(Page::new(found.invitations.into_iter().map(invitation).collect(), found.next_page_token)))
}

/// Send a new link (the old one stops working) with a new expiry. Needs `If-Match`.
#[utoipa::path(post, path = "/workspaces/{id}/invitations/{invitation_id}/resend", tag = TAG,
    params(("id" = Uuid, Path), ("invitation_id" = Uuid, Path), ("If-Match" = String, Header)),
    responses((status = 200, body = Invitation), (status = 409, body = Problem, description = "Accepted or revoked", content_type = "application/problem+json")))]
async fn resend_invitation(
    state: State<AppState>,
    Caller(caller): Caller,
    ApiPath((id, invitation_id)): ApiPath<(Uuid, Uuid)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let request = invitation_ref(&state, &caller, id, invitation_id, &headers)?;
    let changed = state.workspaces().resend_invitation(request).await?.into_inner();
    let version = changed.version;
    Ok(versioned(StatusCode::OK, invitation(changed), version, None))
}

/// The invitation at the version the caller saw (`If-Match`).
fn invitation_ref(
    state: &AppState,
    caller: &ohjaus_platform::auth::Principal,
    id: Uuid,
    invitation_id: Uuid,
    headers: &HeaderMap,
) -> Result<tonic::Request<pb::InvitationRef>, ApiError> {
    let reference = pb::InvitationRef {
        workspace_id: id.to_string(),
        invitation_id: invitation_id.to_string(),
        version: if_match(headers)?,
    };
    Ok(state.as_caller(caller, reference))
}

/// Withdraw an invitation; its link stops working. Needs `If-Match`.
#[utoipa::path(post, path = "/workspaces/{id}/invitations/{invitation_id}/revoke", tag = TAG,
    params(("id" = Uuid, Path), ("invitation_id" = Uuid, Path), ("If-Match" = String, Header)),
    responses((status = 200, body = Invitation)))]
async fn revoke_invitation(
    state: State<AppState>,
    Caller(caller): Caller,
    ApiPath((id, invitation_id)): ApiPath<(Uuid, Uuid)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let request = invitation_ref(&state, &caller, id, invitation_id, &headers)?;
    let changed = state.workspaces().revoke_invitation(request).await?.into_inner();
    let version = changed.version;
    Ok(versioned(StatusCode::OK, invitation(changed), version, None))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AcceptInput {
    /// The secret from the invitation link (`/invitations/{token}`).
    pub token: String,
}

/// Accept an invitation as the logged-in customer (after the link's Suomi.fi login).
/// Needs `X-CSRF-Token`.
#[utoipa::path(post, path = "/invitations/accept", tag = TAG, request_body = AcceptInput,
    responses((status = 200, body = Workspace),
        (status = 403, body = Problem, description = "The invitation is for another person", content_type = "application/problem+json"),
        (status = 410, body = Problem, description = "Expired, used or revoked", content_type = "application/problem+json")))]
async fn accept_invitation(
    state: State<AppState>,
    session: CurrentSession,
    ApiJson(body): ApiJson<AcceptInput>,
) -> Result<Response, ApiError> {
    let caller = principal_of_session(&session.resolved)?;
    let request =
        pb::AcceptInvitationRequest { token: body.token, display_name: session.resolved.display_name.clone() };
    let joined = state.workspaces().accept_invitation(state.as_caller(&caller, request)).await?.into_inner();
    let version = joined.version;
    Ok(versioned(StatusCode::OK, workspace(joined), version, None))
}

// ---------------------------------------------------------------------------------------------
// Files

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

pub fn file(f: pb::File) -> File {
    File {
        id: uuid(&f.id),
        workspace_id: uuid(&f.workspace_id),
        name: f.name,
        content_type: f.content_type,
        size: f.size,
        uploaded_by: uuid(&f.uploaded_by),
        created_at: timestamp(f.created_at),
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UploadParams {
    /// The file's name, with its extension.
    pub name: String,
    /// Group workspaces: a guide's file for one customer's thread.
    pub thread_id: Option<Uuid>,
}

/// Upload a file: the request body is the file's bytes, `Content-Type` its type. The type is
/// decided from the bytes and must match the name; programs, scripts and pages are refused,
/// and so is anything over the size limit. Needs `X-CSRF-Token`. Refer to the file from a
/// message with `attachment_ids`.
#[utoipa::path(post, path = "/workspaces/{id}/files", tag = TAG, params(("id" = Uuid, Path), UploadParams),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 201, body = File),
        (status = 413, body = Problem, description = "Over the size limit", content_type = "application/problem+json"),
        (status = 422, body = Problem, description = "Type not allowed, or not what the name says", content_type = "application/problem+json")))]
async fn upload_file(
    state: State<AppState>,
    session: CurrentSession,
    ApiPath(id): ApiPath<Uuid>,
    ApiQuery(params): ApiQuery<UploadParams>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let caller = principal_of_session(&session.resolved)?;
    let header = pb::UploadFileHeader {
        workspace_id: id.to_string(),
        name: params.name,
        declared_type: headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned(),
        thread_id: params.thread_id.map(|t| t.to_string()).unwrap_or_default(),
    };
    let first = futures::stream::once(async move {
        pb::UploadFileRequest { part: Some(upload_file_request::Part::Header(header)) }
    });
    // The body goes on as it arrives, in pieces of at most 64 KiB. A broken body (the client
    // went away before sending all it announced) must not end the stream as if the file were
    // whole: it ends with an empty part, which the service refuses, storing nothing.
    let chunks = body
        .into_data_stream()
        .scan(false, |broken, part| {
            if *broken {
                return futures::future::ready(None);
            }
            let parts: Vec<_> = match part {
                Ok(bytes) => bytes
                    .chunks(64 * 1024)
                    .map(|chunk| Some(upload_file_request::Part::Chunk(chunk.to_vec())))
                    .collect(),
                Err(_) => {
                    *broken = true;
                    vec![None]
                }
            };
            futures::future::ready(Some(futures::stream::iter(parts)))
        })
        .flatten()
        .map(|part| pb::UploadFileRequest { part });
    let request = state.as_caller(&caller, first.chain(chunks));
    let stored = state.workspaces().upload_file(request).await?.into_inner();
    let location = format!("/api/v1/workspaces/{id}/files/{}", stored.id);
    Ok(versioned(StatusCode::CREATED, file(stored), 1, Some(location)))
}

/// The workspace's files (members; the read is logged).
#[utoipa::path(get, path = "/workspaces/{id}/files", tag = TAG, params(("id" = Uuid, Path), PageParams),
    responses((status = 200, body = Page<File>)))]
async fn list_files(
    state: State<AppState>,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<Uuid>,
    ApiQuery(page): ApiQuery<PageParams>,
) -> Result<axum::Json<Page<File>>, ApiError> {
    let request =
        pb::ListFilesRequest { workspace_id: id.to_string(), page_size: page.size(), page_token: page.token() };
    let found = state.workspaces().list_files(state.as_caller(&caller, request)).await?.into_inner();
    Ok(axum::Json(Page::new(found.files.into_iter().map(file).collect(), found.next_page_token)))
}

/// `attachment; filename*=UTF-8''…`: never shown inline, whatever the type.
fn attachment_disposition(name: &str) -> String {
    let encoded: String = name
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    format!("attachment; filename*=UTF-8''{encoded}")
}

/// Download a file (members; the read is logged). Always as an attachment, never inline.
#[utoipa::path(get, path = "/workspaces/{id}/files/{file_id}", tag = TAG, params(("id" = Uuid, Path), ("file_id" = Uuid, Path)),
    responses((status = 200, description = "The file's bytes", content_type = "application/octet-stream"),
        (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn download_file(
    state: State<AppState>,
    Caller(caller): Caller,
    ApiPath((id, file_id)): ApiPath<(Uuid, Uuid)>,
) -> Result<Response, ApiError> {
    let request = pb::DownloadFileRequest { workspace_id: id.to_string(), file_id: file_id.to_string() };
    let mut parts = state.workspaces().download_file(state.as_caller(&caller, request)).await?.into_inner();
    let description = match parts.message().await? {
        Some(pb::DownloadFileResponse { part: Some(download_file_response::Part::File(file)) }) => file,
        _ => return Err(ApiError::code(ErrorCode::Internal)),
    };
    let bytes = parts.map_ok(|part| match part.part {
        Some(download_file_response::Part::Chunk(bytes)) => bytes,
        _ => Vec::new(),
    });
    let body = Body::from_stream(bytes.map_err(|status| std::io::Error::other(status.message().to_owned())));
    let mut response = Response::new(body);
    let headers = response.headers_mut();
    let set = |headers: &mut HeaderMap, name, value: &str| {
        if let Ok(value) = HeaderValue::from_str(value) {
            headers.insert(name, value);
        }
    };
    set(headers, header::CONTENT_TYPE, &description.content_type);
    set(headers, header::CONTENT_LENGTH, &description.size.to_string());
    set(headers, header::CONTENT_DISPOSITION, &attachment_disposition(&description.name));
    // Even an opened file must not run: no scripts, no plugins, its own origin.
    set(headers, header::CONTENT_SECURITY_POLICY, "default-src 'none'; sandbox");
    Ok(response)
}

// ---------------------------------------------------------------------------------------------
// Notifications

#[derive(Debug, Serialize, ToSchema)]
pub struct Notification {
    pub id: Uuid,
    /// `message` or `invitation-accepted`.
    pub kind: String,
    pub workspace_id: Uuid,
    pub subject_id: Uuid,
    pub created_at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub read_at: Option<DateTime<Utc>>,
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
    pub page_size: Option<i32>,
    pub page_token: Option<String>,
}

/// My notifications, newest first.
#[utoipa::path(get, path = "/notifications", tag = TAG, params(NotificationParams),
    responses((status = 200, body = NotificationPage)))]
async fn list_notifications(
    state: State<AppState>,
    Caller(caller): Caller,
    ApiQuery(params): ApiQuery<NotificationParams>,
) -> Result<axum::Json<NotificationPage>, ApiError> {
    let request = pb::ListNotificationsRequest {
        unread_only: params.unread_only,
        page_size: params.page_size.unwrap_or(0),
        page_token: params.page_token.unwrap_or_default(),
    };
    let found = state.workspaces().list_notifications(state.as_caller(&caller, request)).await?.into_inner();
    Ok(axum::Json(NotificationPage {
        items: found
            .notifications
            .into_iter()
            .map(|n| Notification {
                id: uuid(&n.id),
                kind: n.kind,
                workspace_id: uuid(&n.workspace_id),
                subject_id: uuid(&n.subject_id),
                created_at: timestamp(n.created_at),
                read_at: n.read_at.map(|t| timestamp(Some(t))),
            })
            .collect(),
        next_page_token: Some(found.next_page_token).filter(|t| !t.is_empty()),
        unread: found.unread,
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReadNotificationsInput {
    /// Which ones; absent or empty: all of mine.
    #[serde(default)]
    pub ids: Vec<Uuid>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReadNotificationsResult {
    pub marked: i64,
}

/// Mark notifications read.
#[utoipa::path(post, path = "/notifications/read", tag = TAG, request_body = ReadNotificationsInput,
    responses((status = 200, body = ReadNotificationsResult)))]
async fn read_notifications(
    state: State<AppState>,
    Caller(caller): Caller,
    ApiJson(body): ApiJson<ReadNotificationsInput>,
) -> Result<axum::Json<ReadNotificationsResult>, ApiError> {
    let request = pb::MarkNotificationsReadRequest { notification_ids: body.ids.iter().map(Uuid::to_string).collect() };
    let done = state.workspaces().mark_notifications_read(state.as_caller(&caller, request)).await?.into_inner();
    Ok(axum::Json(ReadNotificationsResult { marked: done.marked }))
}

// ---------------------------------------------------------------------------------------------
// The customer's download

/// Download everything about you in this workspace (its customers; also when archived): a zip
/// with `workspace.json`, `workspace.html` and `files/…`, streamed as it is made.
#[utoipa::path(get, path = "/workspaces/{id}/export", tag = TAG, params(("id" = Uuid, Path)),
    responses((status = 200, description = "A zip archive", content_type = "application/zip"),
        (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn export_workspace(
    state: State<AppState>,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Response, ApiError> {
    let request = pb::ExportWorkspaceRequest { workspace_id: id.to_string() };
    let parts = state.workspaces().export_workspace(state.as_caller(&caller, request)).await?.into_inner();
    let (writer, reader) = tokio::io::duplex(256 * 1024);
    tokio::spawn(async move {
        if let Err(error) = write_zip(parts, writer).await {
            // The client sees a cut-off archive, which does not open; the log says why.
            tracing::warn!(%error, "export stream ended early");
        }
    });
    let body = Body::from_stream(tokio_util::io::ReaderStream::new(reader));
    let mut response = Response::new(body);
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/zip"));
    if let Ok(value) = HeaderValue::from_str(&format!("attachment; filename=\"ohjaus-{id}.zip\"")) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    Ok(response)
}

async fn write_zip(mut parts: tonic::Streaming<pb::ExportPart>, writer: tokio::io::DuplexStream) -> anyhow::Result<()> {
    use async_zip::{Compression, ZipEntryBuilder, tokio::write::ZipFileWriter};
    use futures::AsyncWriteExt;
    let mut zip = ZipFileWriter::with_tokio(writer);
    // Each entry is written while its parts arrive; the next entry's name ends it.
    let mut next = loop {
        match parts.message().await? {
            Some(pb::ExportPart { part: Some(export_part::Part::Entry(path)) }) => break Some(path),
            Some(_) => continue,
            None => break None,
        }
    };
    while let Some(path) = next.take() {
        let mut open = zip.write_entry_stream(ZipEntryBuilder::new(path.into(), Compression::Deflate)).await?;
        while let Some(part) = parts.message().await? {
            match part.part {
                Some(export_part::Part::Chunk(bytes)) => open.write_all(&bytes).await?,
                Some(export_part::Part::Entry(path)) => {
                    next = Some(path);
                    break;
                }
                None => {}
            }
        }
        open.close().await?;
    }
    zip.close().await?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Live updates

/// How often a live stream checks that its session is still alive.
const SESSION_CHECK: Duration = Duration::from_secs(30);

/// Live updates of one workspace as Server-Sent Events (members, with a browser session):
/// `message` (a new message, as `GET …/messages/{id}` gives it), `message-changed`, `item` (a
/// phase, task, event or note made or changed, as `GET …/items/{id}` gives it), `summary`,
/// `file`, `member` (someone joined or left), `workspace` (state or owner changed: re-read it).
/// The stream ends when the session ends or the workspace can no longer be read; when the
/// caller's own access ends (consent withdrawn, participation ended) it ends at once, after a
/// last `access-ended` event.
#[utoipa::path(get, path = "/workspaces/{id}/live", tag = TAG, params(("id" = Uuid, Path)),
    responses((status = 200, description = "An event stream", content_type = "text/event-stream"),
        (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn live(
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
                    let request = state.as_service(ResolveSessionRequest { session_token: session.token.clone() });
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
                    state.workspaces().get_message(state.as_caller(&caller, request)).await.map(|found| {
                        let data = serde_json::to_string(&message(found.into_inner())).unwrap_or_default();
                        Event::default().event(name).id(change.object_id.clone()).data(data)
                    })
                }
                ChangeKind::ItemChanged => {
                    let request = pb::ItemRef {
                        workspace_id: workspace_id.clone(),
                        item_id: change.object_id.clone(),
                        version: 0,
                    };
                    state.workspaces().get_item(state.as_caller(&caller, request)).await.map(|found| {
                        let data = serde_json::to_string(&item(found.into_inner())).unwrap_or_default();
                        Event::default().event("item").id(change.object_id.clone()).data(data)
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

// ---------------------------------------------------------------------------------------------
// Handing over

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TransferInput {
    /// Person id of a guide of the same organisation.
    pub new_owner_id: Uuid,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TransferResult {
    pub workspace_id: Uuid,
    pub owner_id: Uuid,
}

/// Hand a workspace to another guide (main users of its organisation). The main user does not
/// see the workspace's content, before or after.
#[utoipa::path(post, path = "/workspaces/{id}/transfer", tag = TAG, params(("id" = Uuid, Path)), request_body = TransferInput,
    responses((status = 200, body = TransferResult), (status = 422, body = Problem, description = "Not a guide of the organisation", content_type = "application/problem+json")))]
async fn transfer_workspace(
    state: State<AppState>,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<TransferInput>,
) -> Result<axum::Json<TransferResult>, ApiError> {
    let request =
        pb::TransferWorkspaceRequest { workspace_id: id.to_string(), new_owner_id: body.new_owner_id.to_string() };
    let done = state.workspaces().transfer_workspace(state.as_caller(&caller, request)).await?.into_inner();
    Ok(axum::Json(TransferResult { workspace_id: uuid(&done.workspace_id), owner_id: uuid(&done.owner_id) }))
}
