//! Messages and how far each member has read them.

use chrono::{DateTime, Utc};
use ohjaus_platform::{
    db::{Db, Row, Source, Tx},
    ids::PageRequest,
    service::ServiceResult,
};
use uuid::Uuid;

use super::{actor_of, bind_sight, sight_sql};
use crate::domain::{Actor, MessageId, Thread, WorkspaceId, sight::Sight};

pub struct MessageRow {
    pub id: MessageId,
    pub workspace_id: WorkspaceId,
    pub author: Actor,
    pub thread: Thread,
    /// Comma-separated file ids.
    pub attachments: String,
    pub sealed: Vec<u8>,
    pub created_at: DateTime<Utc>,
    pub edited_at: Option<DateTime<Utc>>,
    pub deleted_at: Option<DateTime<Utc>>,
    pub version: i64,
}

const MESSAGE_COLUMNS: &str = "id, workspace_id, author_kind, author_id, thread_id, attachments, sealed, created_at, edited_at, deleted_at, version";

pub async fn insert_message(tx: &mut Tx, m: &MessageRow) -> ServiceResult<()> {
    tx.query(&format!(
        "INSERT INTO messages ({MESSAGE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
    ))
    .bind(m.id.as_uuid())
    .bind(m.workspace_id.as_uuid())
    .bind(m.author.kind())
    .bind(m.author.id())
    .bind(m.thread.column())
    .bind(m.attachments.clone())
    .bind(m.sealed.clone())
    .bind(m.created_at)
    .bind(m.edited_at)
    .bind(m.deleted_at)
    .bind(m.version)
    .execute(tx)
    .await?;
    Ok(())
}

/// Stores an edited or deleted message if it is still at `version`; `false` if someone was first.
pub async fn update_message(tx: &mut Tx, m: &MessageRow, version: i64) -> ServiceResult<bool> {
    let changed = tx
        .query(
            "UPDATE messages SET sealed = $3, attachments = $4, edited_at = $5, deleted_at = $6, version = $7 \
             WHERE id = $1 AND version = $2",
        )
        .bind(m.id.as_uuid())
        .bind(version)
        .bind(m.sealed.clone())
        .bind(m.attachments.clone())
        .bind(m.edited_at)
        .bind(m.deleted_at)
        .bind(m.version)
        .execute(tx)
        .await?;
    Ok(changed == 1)
}

pub async fn find_message<'c>(conn: impl Source<'c>, id: MessageId) -> ServiceResult<Option<MessageRow>> {
    conn.query(&format!("SELECT {MESSAGE_COLUMNS} FROM messages WHERE id = $1"))
        .bind(id.as_uuid())
        .fetch_optional(conn)
        .await?
        .as_ref()
        .map(message)
        .transpose()
}

fn message(row: &Row) -> ServiceResult<MessageRow> {
    Ok(MessageRow {
        id: MessageId(row.get("id")?),
        workspace_id: WorkspaceId(row.get("workspace_id")?),
        author: actor_of(&row.get::<String>("author_kind")?, row.get("author_id")?)?,
        thread: Thread::from_column(row.get("thread_id")?),
        attachments: row.get("attachments")?,
        sealed: row.get("sealed")?,
        created_at: row.get("created_at")?,
        edited_at: row.get("edited_at")?,
        deleted_at: row.get("deleted_at")?,
        version: row.get("version")?,
    })
}

/// Messages of a workspace in the order they were posted, or newest first.
pub async fn messages_page(
    db: &Db,
    id: WorkspaceId,
    sight: &Sight,
    page: &PageRequest,
    newest_first: bool,
) -> ServiceResult<Vec<MessageRow>> {
    // Ids are UUIDv7, so their order is the order of posting; the page token is the last id.
    let (beyond, order, start) = if newest_first { ("<", "DESC", Uuid::max()) } else { (">", "ASC", Uuid::nil()) };
    let sql = format!(
        "SELECT {MESSAGE_COLUMNS} FROM messages WHERE workspace_id = $1 AND id {beyond} $2{} ORDER BY id {order} LIMIT $3",
        sight_sql(sight, "thread_id", 4)
    );
    let query = db.query(&sql).bind(id.as_uuid()).bind(page.after.unwrap_or(start)).bind(page.fetch_limit());
    bind_sight(query, sight).fetch_all(db).await?.iter().map(message).collect()
}

/// The caller has read up to `message`.
pub async fn mark_read(
    tx: &mut Tx,
    id: WorkspaceId,
    actor: Actor,
    message: MessageId,
    now: DateTime<Utc>,
) -> ServiceResult<()> {
    tx.query(
        "INSERT INTO read_markers (workspace_id, member_kind, member_id, last_read_message_id, at) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (workspace_id, member_kind, member_id) DO UPDATE SET last_read_message_id = excluded.last_read_message_id, at = excluded.at \
         WHERE read_markers.last_read_message_id < excluded.last_read_message_id",
    )
    .bind(id.as_uuid())
    .bind(actor.kind())
    .bind(actor.id())
    .bind(message.as_uuid())
    .bind(now)
    .execute(tx)
    .await?;
    Ok(())
}

pub async fn read_marker<'c>(
    conn: impl Source<'c>,
    id: WorkspaceId,
    actor: Actor,
) -> ServiceResult<Option<(MessageId, DateTime<Utc>)>> {
    let row = conn
        .query("SELECT last_read_message_id, at FROM read_markers WHERE workspace_id = $1 AND member_kind = $2 AND member_id = $3")
        .bind(id.as_uuid())
        .bind(actor.kind())
        .bind(actor.id())
        .fetch_optional(conn)
        .await?;
    row.map(|r| Ok((MessageId(r.get("last_read_message_id")?), r.get("at")?))).transpose()
}
