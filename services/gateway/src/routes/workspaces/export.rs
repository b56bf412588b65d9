//! `/workspaces/{id}/export`: the customer's download of everything about them in a workspace.

use axum::{
    body::Body,
    extract::State,
    http::{HeaderValue, header},
    response::Response,
};
use ohjaus_platform::proto::workspaces::v1::{self as pb, export_part};
use utoipa_axum::router::OpenApiRouter;
use uuid::Uuid;

use super::TAG;
use crate::{
    docs::{BasicProblems, routes},
    extract::{ApiPath, Caller},
    problem::ApiError,
    state::AppState,
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(export_workspace))
}

/// Download everything about you in this workspace (its customers; also when archived): a zip
/// with `workspace.json`, `workspace.html` and `files/…`, streamed as it is made.
#[utoipa::path(get, path = "/workspaces/{id}/export", tag = TAG, params(("id" = Uuid, Path)),
    responses((status = 200, description = "A zip archive", content_type = "application/zip"),
        BasicProblems),
    security(("session" = [])))]
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
