//! Attachments. Bytes arrive as a stream, their type is decided from the first bytes and
//! checked against the name, and they are sealed in 64 KiB chunks with the workspace key
//! before they reach the object store; each chunk's associated data names the file, its
//! position and whether it is the last, so chunks cannot be reordered, swapped or cut off.
//! A refused upload leaves nothing behind, and neither does one its caller leaves half-way.

use bytes::Bytes;
use futures::StreamExt;
use object_store::{ObjectStore, WriteMultipart, path::Path as ObjectPath};
use ohjaus_platform::{
    auth::Principal,
    crypto::SEAL_OVERHEAD,
    error::{ErrorCode, FieldViolation},
    grpc::timestamp,
    ids::PageRequest,
    proto::workspaces::v1::{self as pb, download_file_response, upload_file_request},
    service::{ServiceError, ServiceResult},
};
use tonic::{Status, Streaming};
use tracing::Instrument;

use crate::{
    domain::{self, FileId, FileName, WorkspaceId},
    events as ev,
    grpc::PartStream,
    service::{Opened, Reader, Workspaces},
    store::{self, FileRow},
};

/// Plaintext bytes per sealed chunk.
pub(crate) const CHUNK: usize = 64 * 1024;
/// Bytes the type is decided from.
const HEAD: usize = 8 * 1024;

pub(crate) fn object_path(workspace: WorkspaceId, file: FileId) -> ObjectPath {
    ObjectPath::from(format!("workspaces/{workspace}/{file}"))
}

pub(crate) fn workspace_prefix(workspace: WorkspaceId) -> ObjectPath {
    ObjectPath::from(format!("workspaces/{workspace}"))
}

fn chunk_aad(workspace: WorkspaceId, file: FileId, index: u64, last: bool) -> Vec<u8> {
    format!("workspace:{workspace}:file:{file}:chunk:{index}:{last}").into_bytes()
}

fn name_aad(workspace: WorkspaceId, file: FileId) -> Vec<u8> {
    format!("workspace:{workspace}:file:{file}:name").into_bytes()
}

/// What an upload says of itself before its bytes.
struct UploadHeader {
    workspace: WorkspaceId,
    name: FileName,
    /// Checked against the workspace and its members once the uploader is known.
    thread_id: String,
    declared_type: String,
}

impl UploadHeader {
    fn parse(header: pb::UploadFileHeader) -> ServiceResult<Self> {
        Ok(Self {
            workspace: WorkspaceId::parse_ref(&header.workspace_id)?,
            name: FileName::parse("name", &header.name)?,
            thread_id: header.thread_id,
            declared_type: header.declared_type,
        })
    }
}

/// The object store failed.
fn store_failed(error: impl std::fmt::Display) -> ServiceError {
    ServiceError::peer("object store", error)
}

/// The caller's stream broke off.
fn stream_broke() -> ServiceError {
    ServiceError::peer("upload stream", "broke off")
}

/// Seals plaintext into chunks as it arrives, holding back one chunk so the last is known.
struct Sealer<'a> {
    opened: &'a Opened,
    file: FileId,
    pending: Vec<u8>,
    index: u64,
}

impl Sealer<'_> {
    /// Sealed chunks that are certainly not the last.
    fn push(&mut self, bytes: &[u8]) -> ServiceResult<Vec<Vec<u8>>> {
        self.pending.extend_from_slice(bytes);
        let mut sealed = Vec::new();
        while self.pending.len() > CHUNK {
            let rest = self.pending.split_off(CHUNK);
            let chunk = std::mem::replace(&mut self.pending, rest);
            sealed.push(self.seal(&chunk, false)?);
        }
        Ok(sealed)
    }

    fn finish(mut self) -> ServiceResult<Vec<u8>> {
        let last = std::mem::take(&mut self.pending);
        self.seal(&last, true)
    }

    fn seal(&mut self, chunk: &[u8], last: bool) -> ServiceResult<Vec<u8>> {
        let sealed = self.opened.seal(chunk, &chunk_aad(self.opened.workspace.id, self.file, self.index, last))?;
        self.index += 1;
        Ok(sealed)
    }
}

/// A multipart upload that aborts itself when it is dropped unfinished. That happens when the
/// request is dropped while the bytes arrive (its caller went away); the abort then runs in the
/// background. A local store would remove its staging file anyway, but S3 keeps an unfinished
/// upload, and the parts sent so far, until it is told.
struct PendingUpload(Option<WriteMultipart>);

impl PendingUpload {
    fn put(&mut self, bytes: Bytes) {
        if let Some(writer) = &mut self.0 {
            writer.put(bytes);
        }
    }

    async fn wait_for_capacity(&mut self, parts: usize) -> object_store::Result<()> {
        match &mut self.0 {
            Some(writer) => writer.wait_for_capacity(parts).await,
            None => Ok(()),
        }
    }

    async fn abort(mut self) -> object_store::Result<()> {
        match self.0.take() {
            Some(writer) => writer.abort().await,
            None => Ok(()),
        }
    }

    async fn finish(mut self) -> object_store::Result<object_store::PutResult> {
        match self.0.take() {
            Some(writer) => writer.finish().await,
            None => Err(object_store::Error::Generic { store: "upload", source: "finished twice".into() }),
        }
    }
}

impl Drop for PendingUpload {
    fn drop(&mut self) {
        let Some(writer) = self.0.take() else { return };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else { return };
        runtime.spawn(async move {
            if let Err(error) = writer.abort().await {
                tracing::warn!(%error, "could not abort an upload its caller left");
            }
        });
    }
}

/// Why an upload stopped before it was stored.
enum Stop {
    Refused(ServiceError),
    Store(object_store::Error),
}

impl From<ServiceError> for Stop {
    fn from(error: ServiceError) -> Self {
        Stop::Refused(error)
    }
}

impl From<FieldViolation> for Stop {
    fn from(violation: FieldViolation) -> Self {
        Stop::Refused(violation.into())
    }
}

impl Workspaces {
    pub(crate) fn file_to_pb(&self, opened: &Opened, row: &FileRow) -> ServiceResult<pb::File> {
        let name = opened.open(&row.name_sealed, &name_aad(row.workspace_id, row.id), "file name")?;
        Ok(pb::File {
            id: row.id.to_string(),
            workspace_id: row.workspace_id.to_string(),
            name: String::from_utf8(name).map_err(|_| ServiceError::corrupt("file name"))?,
            content_type: row.content_type.clone(),
            size: row.size,
            uploaded_by: row.uploaded_by.id().to_string(),
            created_at: Some(timestamp(row.created_at)),
        })
    }

    pub(crate) async fn upload_file(
        &self,
        principal: &Principal,
        mut parts: Streaming<pb::UploadFileRequest>,
    ) -> ServiceResult<pb::File> {
        let header = match parts.next().await {
            Some(Ok(pb::UploadFileRequest { part: Some(upload_file_request::Part::Header(header)) })) => header,
            Some(Err(_)) => return Err(stream_broke()),
            _ => return Err(ErrorCode::MalformedRequest.into()),
        };
        let UploadHeader { workspace: id, name, thread_id, declared_type } = UploadHeader::parse(header)?;
        // Who may upload is settled before a byte is stored.
        let mut tx = self.db().begin().await?;
        let Reader { opened, role, actor, sight } = self.readable(&mut tx, principal, id).await?;
        domain::may_post(principal, &opened.workspace, role)?;
        let thread = self.thread_of_new(&mut tx, &opened.workspace, &sight, &thread_id).await?;
        tx.commit().await?;

        let file = FileId::new();
        let path = object_path(id, file);
        let store = self.inner().files.clone();
        let upload = store.put_multipart(&path).await.map_err(store_failed)?;
        let mut writer = PendingUpload(Some(WriteMultipart::new(upload)));
        let outcome = self.receive(&opened, file, &name, &declared_type, &mut parts, &mut writer).await;

        // The rest runs on a task of its own, so a caller that goes away now cannot cut it in
        // half: the upload is aborted, or completed and recorded, never left unfinished.
        let this = self.clone();
        let principal = principal.clone();
        let finishing = tokio::spawn(
            async move {
                let (content_type, size) = match outcome {
                    Ok(found) => found,
                    Err(stop) => {
                        if let Err(error) = writer.abort().await {
                            tracing::warn!(%error, "could not abort a refused upload");
                        }
                        return Err(match stop {
                            Stop::Refused(error) => error,
                            Stop::Store(error) => store_failed(error),
                        });
                    }
                };
                writer.finish().await.map_err(store_failed)?;

                let row = FileRow {
                    id: file,
                    workspace_id: id,
                    thread,
                    name_sealed: opened.seal(name.as_str().as_bytes(), &name_aad(id, file))?,
                    content_type: content_type.to_owned(),
                    size: i64::try_from(size).unwrap_or(i64::MAX),
                    uploaded_by: actor,
                    object_key: path.to_string(),
                    created_at: this.core().now(),
                };
                let stored = async {
                    let mut tx = this.db().begin().await?;
                    let Reader { opened, role, .. } = this.readable(&mut tx, &principal, id).await?;
                    domain::may_post(&principal, &opened.workspace, role)?;
                    store::insert_file(&mut tx, &row).await?;
                    let org = opened.workspace.organization_id;
                    let event = ev::FileUploaded {
                        organization_id: org.to_string(),
                        workspace_id: id.to_string(),
                        file_id: file.to_string(),
                    };
                    this.core().emit(&mut tx, org, event).await?;
                    this.core().commit(tx).await
                }
                .await;
                if let Err(error) = stored {
                    // Without its row the object is unreachable; remove it rather than keep it.
                    if let Err(delete) = store.delete(&path).await {
                        tracing::warn!(error = %delete, "could not remove the object of a failed upload");
                    }
                    return Err(error);
                }
                this.file_to_pb(&opened, &row)
            }
            .in_current_span(),
        );
        finishing.await.map_err(|e| ServiceError::peer("storing the upload", e))?
    }

    /// Reads the upload's bytes into `writer`, sealed; gives the decided type and the size.
    async fn receive(
        &self,
        opened: &Opened,
        file: FileId,
        name: &FileName,
        declared: &str,
        parts: &mut Streaming<pb::UploadFileRequest>,
        writer: &mut PendingUpload,
    ) -> std::result::Result<(&'static str, u64), Stop> {
        let max = self.inner().config.max_file_bytes;
        let mut sealer = Sealer { opened, file, pending: Vec::new(), index: 0 };
        let mut head = Vec::with_capacity(HEAD);
        let mut content_type = None;
        let mut size: u64 = 0;
        while let Some(part) = parts.next().await {
            let chunk = match part {
                Ok(pb::UploadFileRequest { part: Some(upload_file_request::Part::Chunk(chunk)) }) => chunk,
                Ok(_) => return Err(Stop::Refused(ErrorCode::MalformedRequest.into())),
                Err(_) => return Err(Stop::Refused(stream_broke())),
            };
            size += chunk.len() as u64;
            if size > max {
                return Err(Stop::Refused(ErrorCode::PayloadTooLarge.into()));
            }
            if content_type.is_none() {
                let wanted = HEAD.saturating_sub(head.len()).min(chunk.len());
                head.extend_from_slice(&chunk[..wanted]);
                if head.len() >= HEAD {
                    content_type = Some(domain::file_type(name, declared, &head)?);
                }
            }
            for sealed in sealer.push(&chunk)? {
                writer.put(Bytes::from(sealed));
                writer.wait_for_capacity(4).await.map_err(Stop::Store)?;
            }
        }
        if size == 0 {
            return Err(FieldViolation::new("file", "file-empty").into());
        }
        let content_type = match content_type {
            Some(found) => found,
            None => domain::file_type(name, declared, &head)?,
        };
        writer.put(Bytes::from(sealer.finish()?));
        Ok((content_type, size))
    }

    pub(crate) async fn list_files(
        &self,
        principal: &Principal,
        msg: pb::ListFilesRequest,
    ) -> ServiceResult<pb::ListFilesResponse> {
        let id = WorkspaceId::parse_ref(&msg.workspace_id)?;
        let page = PageRequest::parse(msg.page_size, &msg.page_token)?;
        let mut tx = self.db().begin().await?;
        let Reader { opened, role, actor, sight } = self.readable(&mut tx, principal, id).await?;
        self.log_read(&mut tx, &opened.workspace, actor, role, "files").await?;
        tx.commit().await?;
        let rows = store::files_page(self.db(), id, &sight, &page).await?;
        let (rows, next_page_token) = page.finish(rows, |r| r.id.as_uuid());
        let files = rows.iter().map(|r| self.file_to_pb(&opened, r)).collect::<ServiceResult<_>>()?;
        Ok(pb::ListFilesResponse { files, next_page_token })
    }

    pub(crate) async fn download_file(
        &self,
        principal: &Principal,
        msg: pb::DownloadFileRequest,
    ) -> ServiceResult<PartStream<pb::DownloadFileResponse>> {
        let id = WorkspaceId::parse_ref(&msg.workspace_id)?;
        let file = FileId::parse_ref(&msg.file_id)?;
        let mut tx = self.db().begin().await?;
        let Reader { opened, role, actor, sight } = self.readable(&mut tx, principal, id).await?;
        let row = store::find_file(&mut tx, file).await?.ok_or_else(ServiceError::not_found)?;
        if row.workspace_id != id || !sight.sees(row.thread, row.id.as_uuid()) {
            return Err(ServiceError::not_found());
        }
        self.log_read(&mut tx, &opened.workspace, actor, role, "file").await?;
        tx.commit().await?;
        let description = self.file_to_pb(&opened, &row)?;
        // The gateway announced the file's size, so a download left half-way is never taken
        // for a whole file.
        let idle = Some(self.inner().config.stream_idle);
        let chunks = open_chunks(self.inner().files.clone(), opened, row, idle).await?;
        let first = futures::stream::once(async move {
            Ok(pb::DownloadFileResponse { part: Some(download_file_response::Part::File(description)) })
        });
        let rest = chunks.map(|chunk| {
            chunk.map(|bytes| pb::DownloadFileResponse { part: Some(download_file_response::Part::Chunk(bytes)) })
        });
        Ok(Box::pin(first.chain(rest)))
    }
}

/// The plaintext of a stored file as a stream of chunks, opened one at a time. A reader that
/// takes no chunk for `idle` (if given) is left: the stream ends there, short, without an
/// error (none can be put into a channel nobody empties), and the store is let go.
pub(crate) async fn open_chunks(
    store: std::sync::Arc<dyn ObjectStore>,
    opened: Opened,
    row: FileRow,
    idle: Option<std::time::Duration>,
) -> ServiceResult<PartStream<Vec<u8>>> {
    let path = ObjectPath::from(row.object_key.clone());
    let object =
        store.get(&path).await.map_err(|e| ServiceError::corrupt(format!("object of file {}: {e}", row.id)))?;
    let sealed_chunk = CHUNK + SEAL_OVERHEAD;
    let total = object.meta.size as usize;
    let count = total.div_ceil(sealed_chunk).max(1) as u64;
    let mut bytes = object.into_stream();
    let (sender, receiver) = tokio::sync::mpsc::channel::<std::result::Result<Vec<u8>, Status>>(4);
    tokio::spawn(async move {
        let mut buffer: Vec<u8> = Vec::with_capacity(sealed_chunk);
        let mut index: u64 = 0;
        let corrupt = || Status::data_loss("the stored file does not open");
        loop {
            let next = bytes.next().await;
            let finished = next.is_none();
            match next {
                Some(Ok(part)) => buffer.extend_from_slice(&part),
                Some(Err(_)) => {
                    let _ = sender.send(Err(Status::unavailable("the file store is unavailable"))).await;
                    return;
                }
                None => {}
            }
            while buffer.len() >= sealed_chunk || (finished && !buffer.is_empty()) {
                let take = buffer.len().min(sealed_chunk);
                let sealed: Vec<u8> = buffer.drain(..take).collect();
                let last = index + 1 == count;
                let aad = chunk_aad(row.workspace_id, row.id, index, last);
                let Ok(plain) = opened.key.open(&sealed, &aad) else {
                    tracing::error!(file = %row.id, index, "a stored file chunk does not open");
                    let _ = sender.send(Err(corrupt())).await;
                    return;
                };
                index += 1;
                let sent = match idle {
                    Some(idle) => tokio::time::timeout(idle, sender.send(Ok(plain))).await,
                    None => Ok(sender.send(Ok(plain)).await),
                };
                match sent {
                    Ok(Ok(())) => {}
                    Ok(Err(_)) => return,
                    Err(_) => {
                        tracing::info!(file = %row.id, "download left: its reader took nothing for a while");
                        return;
                    }
                }
            }
            if finished {
                if index != count {
                    let _ = sender.send(Err(corrupt())).await;
                }
                return;
            }
        }
    });
    Ok(Box::pin(tokio_stream::wrappers::ReceiverStream::new(receiver)))
}
