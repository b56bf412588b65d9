//! `/workspaces/{id}/files`: uploading a file, the workspace's files, and downloading one.

use axum::{
    body::{Body, Bytes},
    extract::State,
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::Response,
};
use futures::{StreamExt, TryStreamExt};
use ohjaus_platform::{
    auth::Principal,
    error::ErrorCode,
    proto::workspaces::v1::{self as pb, download_file_response, upload_file_request},
};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use uuid::Uuid;

use super::{File, TAG, file};
use crate::{
    docs::{BasicProblems, CreateProblems, ListProblems, routes},
    extract::{ApiPath, ApiQuery, Caller, CurrentSession, PageParams, principal_of_session},
    ids::optional_field_id,
    problem::{ApiError, Problem},
    state::AppState,
    views::{Page, versioned, view_all},
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(upload_file, list_files)).routes(routes!(download_file))
}

// The media types listed for it below are the workspaces service's (`file_media_types`); a
// whole-system test (`integration-tests/tests/edge.rs`) holds the two lists together.
/// A file's bytes, as they are.
#[derive(ToSchema)]
#[schema(value_type = String, format = Binary)]
pub struct FileBytes(pub Vec<u8>);

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UploadParams {
    /// The file's name, with its extension.
    pub name: String,
    /// Group workspaces: a guide's file for one customer's thread.
    #[param(value_type = Option<Uuid>)]
    pub thread_id: Option<String>,
}

/// Upload a file: the request body is the file's bytes, `Content-Type` its type. The type is
/// decided from the bytes and must match the name; programs, scripts and pages are refused,
/// and so is anything over the size limit. Needs `X-CSRF-Token`. Refer to the file from a
/// message with `attachment_ids`.
#[utoipa::path(post, path = "/workspaces/{id}/files", tag = TAG, params(("id" = Uuid, Path), UploadParams),
    request_body(description = "The file's bytes, in one of the types files may have (or `application/octet-stream`: the name and the bytes decide)", content(
        (FileBytes = "application/msword"),
        (FileBytes = "application/pdf"),
        (FileBytes = "application/vnd.ms-excel"),
        (FileBytes = "application/vnd.ms-powerpoint"),
        (FileBytes = "application/vnd.oasis.opendocument.presentation"),
        (FileBytes = "application/vnd.oasis.opendocument.spreadsheet"),
        (FileBytes = "application/vnd.oasis.opendocument.text"),
        (FileBytes = "application/vnd.openxmlformats-officedocument.presentationml.presentation"),
        (FileBytes = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        (FileBytes = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
        (FileBytes = "image/gif"),
        (FileBytes = "image/heif"),
        (FileBytes = "image/jpeg"),
        (FileBytes = "image/png"),
        (FileBytes = "image/webp"),
        (FileBytes = "text/csv"),
        (FileBytes = "text/plain"),
        (FileBytes = "text/rtf"),
        (FileBytes = "application/octet-stream"))),
    responses((status = 201, body = File),
        CreateProblems,
        (status = 413, body = Problem, description = "Over the size limit", content_type = "application/problem+json"),
        (status = 422, body = Problem, description = "Type not allowed, or not what the name says", content_type = "application/problem+json")),
    security(("session" = [], "csrf" = [])))]
async fn upload_file(
    state: State<AppState>,
    session: CurrentSession,
    ApiPath(id): ApiPath<Uuid>,
    ApiQuery(params): ApiQuery<UploadParams>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let caller = principal_of_session(&session.resolved)?;
    crate::edge::announced_within(&headers, state.file_limit)?;
    let header = pb::UploadFileHeader {
        workspace_id: id.to_string(),
        name: params.name,
        declared_type: headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned(),
        thread_id: optional_field_id("thread_id", params.thread_id.as_deref())?
            .map(|t| t.to_string())
            .unwrap_or_default(),
    };
    let stored = store_file(&state, &caller, header, body.into_data_stream()).await?;
    let location = format!("/api/v1/workspaces/{id}/files/{}", stored.id);
    Ok(versioned(StatusCode::CREATED, file(stored)?, 1, Some(location)))
}

/// Stores a file as `caller` (the API's upload and the workspace page's form alike): the header,
/// then the bytes as they arrive, in pieces of at most 64 KiB. A broken body (the client went
/// away before sending all it announced) must not end the stream as if the file were whole: it
/// ends with an empty part, which the service refuses, storing nothing.
pub async fn store_file<S, E>(
    state: &AppState,
    caller: &Principal,
    header: pb::UploadFileHeader,
    bytes: S,
) -> Result<pb::File, ApiError>
where
    S: futures::Stream<Item = Result<Bytes, E>> + Send + 'static,
{
    let first = futures::stream::once(async move {
        pb::UploadFileRequest { part: Some(upload_file_request::Part::Header(header)) }
    });
    let chunks = bytes
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
    let request = state.as_caller_streaming(caller, first.chain(chunks));
    Ok(state.workspaces().upload_file(request).await?.into_inner())
}

/// The workspace's files (members; the read is logged).
#[utoipa::path(get, path = "/workspaces/{id}/files", tag = TAG, params(("id" = Uuid, Path), PageParams),
    responses((status = 200, body = Page<File>),
        ListProblems),
    security(("session" = [])))]
async fn list_files(
    state: State<AppState>,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<Uuid>,
    ApiQuery(page): ApiQuery<PageParams>,
) -> Result<axum::Json<Page<File>>, ApiError> {
    let request =
        pb::ListFilesRequest { workspace_id: id.to_string(), page_size: page.size(), page_token: page.token() };
    let found = state.workspaces().list_files(state.as_caller(&caller, request)).await?.into_inner();
    Ok(axum::Json(Page::new(view_all(found.files, file)?, found.next_page_token)))
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
    responses((status = 200, description = "The file's bytes, in the file's own type", content(
        (FileBytes = "application/msword"),
        (FileBytes = "application/pdf"),
        (FileBytes = "application/vnd.ms-excel"),
        (FileBytes = "application/vnd.ms-powerpoint"),
        (FileBytes = "application/vnd.oasis.opendocument.presentation"),
        (FileBytes = "application/vnd.oasis.opendocument.spreadsheet"),
        (FileBytes = "application/vnd.oasis.opendocument.text"),
        (FileBytes = "application/vnd.openxmlformats-officedocument.presentationml.presentation"),
        (FileBytes = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        (FileBytes = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
        (FileBytes = "image/gif"),
        (FileBytes = "image/heif"),
        (FileBytes = "image/jpeg"),
        (FileBytes = "image/png"),
        (FileBytes = "image/webp"),
        (FileBytes = "text/csv"),
        (FileBytes = "text/plain"),
        (FileBytes = "text/rtf"))),
        BasicProblems),
    security(("session" = [])))]
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
