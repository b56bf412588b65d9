//! Files: where each one's sealed chunks lie and what the service knows of it.

use chrono::{DateTime, Utc};
use ohjaus_platform::{
    db::{Db, Row, Source, Tx},
    ids::PageRequest,
    service::ServiceResult,
};
use uuid::Uuid;

use super::{actor_of, bind_sight, sight_sql};
use crate::domain::{Actor, FileId, Thread, WorkspaceId, sight::Sight};

pub struct FileRow {
    pub id: FileId,
    pub workspace_id: WorkspaceId,
    pub thread: Thread,
    pub name_sealed: Vec<u8>,
    pub content_type: String,
    pub size: i64,
    pub uploaded_by: Actor,
    pub object_key: String,
    pub created_at: DateTime<Utc>,
}

const FILE_COLUMNS: &str = "id, workspace_id, thread_id, name_sealed, content_type, size, uploaded_by_kind, uploaded_by, object_key, created_at";

fn file(row: &Row) -> ServiceResult<FileRow> {
    Ok(FileRow {
        id: FileId(row.get("id")?),
        workspace_id: WorkspaceId(row.get("workspace_id")?),
        thread: Thread::from_column(row.get("thread_id")?),
        name_sealed: row.get("name_sealed")?,
        content_type: row.get("content_type")?,
        size: row.get("size")?,
        uploaded_by: actor_of(&row.get::<String>("uploaded_by_kind")?, row.get("uploaded_by")?)?,
        object_key: row.get("object_key")?,
        created_at: row.get("created_at")?,
    })
}

pub async fn insert_file(tx: &mut Tx, f: &FileRow) -> ServiceResult<()> {
    tx.query(&format!("INSERT INTO files ({FILE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"))
        .bind(f.id.as_uuid())
        .bind(f.workspace_id.as_uuid())
        .bind(f.thread.column())
        .bind(f.name_sealed.clone())
        .bind(f.content_type.clone())
        .bind(f.size)
        .bind(f.uploaded_by.kind())
        .bind(f.uploaded_by.id())
        .bind(f.object_key.clone())
        .bind(f.created_at)
        .execute(tx)
        .await?;
    Ok(())
}

pub async fn find_file<'c>(conn: impl Source<'c>, id: FileId) -> ServiceResult<Option<FileRow>> {
    conn.query(&format!("SELECT {FILE_COLUMNS} FROM files WHERE id = $1"))
        .bind(id.as_uuid())
        .fetch_optional(conn)
        .await?
        .as_ref()
        .map(file)
        .transpose()
}

pub async fn files_page(db: &Db, id: WorkspaceId, sight: &Sight, page: &PageRequest) -> ServiceResult<Vec<FileRow>> {
    let sql = format!(
        "SELECT {FILE_COLUMNS} FROM files WHERE workspace_id = $1 AND id > $2{} ORDER BY id LIMIT $3",
        sight_sql(sight, "thread_id", 4)
    );
    let query = db.query(&sql).bind(id.as_uuid()).bind(page.after.unwrap_or(Uuid::nil())).bind(page.fetch_limit());
    bind_sight(query, sight).fetch_all(db).await?.iter().map(file).collect()
}
