//! `/workspaces/{id}/export`: the customer's download of everything about them in a workspace.

use axum::{
    body::{Body, Bytes},
    extract::State,
    http::{HeaderValue, header},
    response::Response,
};
use ohjaus_platform::{
    error::ErrorCode,
    proto::workspaces::v1::{self as pb, export_part},
};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use uuid::Uuid;

use super::TAG;
use crate::{
    docs::{ListProblems, routes},
    extract::{ApiPath, ApiQuery, Caller},
    problem::ApiError,
    state::AppState,
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(export_workspace))
}

/// The archive's entry that is the readable document.
const READABLE: &str = "workspace.html";

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExportFormat {
    /// `zip` (default: everything, `workspace.json`, `workspace.html` and `files/…`) or `html`
    /// (only the readable document, `workspace.html`, as one HTML page to save and print).
    pub format: Option<String>,
}

/// Download everything about you in this workspace (its customers; also when archived): a zip
/// with `workspace.json`, `workspace.html` and `files/…`, streamed as it is made; or, with
/// `format=html`, only the readable document. Either lands in the access log as an export.
#[utoipa::path(get, path = "/workspaces/{id}/export", tag = TAG, params(("id" = Uuid, Path), ExportFormat),
    responses((status = 200, description = "A zip archive, or with `format=html` the readable document (an attachment)",
            content((Vec<u8> = "application/zip"), (String = "text/html"))),
        ListProblems),
    security(("session" = [])))]
async fn export_workspace(
    state: State<AppState>,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<Uuid>,
    ApiQuery(format): ApiQuery<ExportFormat>,
) -> Result<Response, ApiError> {
    let readable = match format.format.as_deref() {
        None | Some("zip") => false,
        Some("html") => true,
        Some(_) => return Err(ApiError::invalid("format", "invalid-export-format")),
    };
    let request = pb::ExportWorkspaceRequest { workspace_id: id.to_string() };
    let parts = state.workspaces().export_workspace(state.as_caller(&caller, request)).await?.into_inner();
    if readable {
        return readable_document(id, parts).await;
    }
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

/// The export's readable document alone: its parts are passed on as they come, and the export
/// is left (cancelled) as soon as the next entry begins.
async fn readable_document(id: Uuid, mut parts: tonic::Streaming<pb::ExportPart>) -> Result<Response, ApiError> {
    loop {
        match parts.message().await? {
            Some(pb::ExportPart { part: Some(export_part::Part::Entry(path)) }) if path == READABLE => break,
            Some(_) => {}
            // An export always has its document: without it, the export failed.
            None => return Err(ApiError::code(ErrorCode::Internal)),
        }
    }
    let chunks = futures::stream::unfold(Some(parts), |parts| async move {
        let mut parts = parts?;
        loop {
            match parts.message().await {
                Ok(Some(pb::ExportPart { part: Some(export_part::Part::Chunk(bytes)) })) => {
                    return Some((Ok(Bytes::from(bytes)), Some(parts)));
                }
                Ok(Some(pb::ExportPart { part: Some(export_part::Part::Entry(_)) })) | Ok(None) => return None,
                Ok(Some(_)) => {}
                Err(status) => {
                    tracing::warn!(code = ?status.code(), "readable document stream ended early");
                    return Some((Err(std::io::Error::other("the export ended early")), None));
                }
            }
        }
    });
    let mut response = Response::new(Body::from_stream(chunks));
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    if let Ok(value) = HeaderValue::from_str(&format!("attachment; filename=\"ohjaus-{id}.html\"")) {
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
