//! Guidance items and the summary: what people wrote sealed, kinds, statuses and dates clear.

use chrono::{DateTime, NaiveDate, Utc};
use ohjaus_platform::{
    db::{Db, Row, Source, Tx},
    ids::PageRequest,
    service::{ServiceError, ServiceResult},
};
use uuid::Uuid;

use super::{actor_of, bind_sight, sight_sql};
use crate::domain::{
    Actor, Thread, WorkspaceId,
    guidance::{Assignee, Details, ItemId, ItemKind, PhaseStatus},
    sight::Sight,
};

pub struct ItemRow {
    pub id: ItemId,
    pub workspace_id: WorkspaceId,
    pub thread: Thread,
    pub author: Actor,
    pub private: bool,
    pub details: Details,
    pub completed: Option<(DateTime<Utc>, Actor)>,
    /// Title, body, location and the author's name.
    pub sealed: Vec<u8>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub deleted_at: Option<DateTime<Utc>>,
    pub version: i64,
}

const ITEM_COLUMNS: &str = "id, workspace_id, kind, thread_id, author_kind, author_id, private, phase_status, due_on, \
     assignee, completed_at, completed_by_kind, completed_by, starts_at, ends_at, sealed, created_at, updated_at, \
     deleted_at, version";

/// The clear columns of an item's details: phase status, due date, assignee, start, end.
type DetailColumns =
    (Option<&'static str>, Option<NaiveDate>, Option<&'static str>, Option<DateTime<Utc>>, Option<DateTime<Utc>>);

fn detail_columns(details: Details) -> DetailColumns {
    match details {
        Details::Phase { status } => (Some(status.as_str()), None, None, None, None),
        Details::Task { due_on, assignee } => (None, due_on, Some(assignee.as_str()), None, None),
        Details::Event { starts_at, ends_at } => (None, None, None, Some(starts_at), ends_at),
        Details::Note => (None, None, None, None, None),
    }
}

pub async fn insert_item(tx: &mut Tx, i: &ItemRow) -> ServiceResult<()> {
    let (status, due_on, assignee, starts_at, ends_at) = detail_columns(i.details);
    tx.query(&format!(
        "INSERT INTO guidance_items ({ITEM_COLUMNS}) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)"
    ))
    .bind(i.id.as_uuid())
    .bind(i.workspace_id.as_uuid())
    .bind(i.details.kind().as_str())
    .bind(i.thread.column())
    .bind(i.author.kind())
    .bind(i.author.id())
    .bind(i.private)
    .bind(status)
    .bind(due_on)
    .bind(assignee)
    .bind(i.completed.map(|(at, _)| at))
    .bind(i.completed.map(|(_, by)| by.kind()))
    .bind(i.completed.map(|(_, by)| by.id()))
    .bind(starts_at)
    .bind(ends_at)
    .bind(i.sealed.clone())
    .bind(i.created_at)
    .bind(i.updated_at)
    .bind(i.deleted_at)
    .bind(i.version)
    .execute(tx)
    .await?;
    Ok(())
}

/// Stores a changed item if it is still at `version`; `false` if someone was first.
pub async fn update_item(tx: &mut Tx, i: &ItemRow, version: i64) -> ServiceResult<bool> {
    let (status, due_on, assignee, starts_at, ends_at) = detail_columns(i.details);
    let changed = tx
        .query(
            "UPDATE guidance_items SET phase_status = $3, due_on = $4, assignee = $5, starts_at = $6, ends_at = $7, \
             completed_at = $8, completed_by_kind = $9, completed_by = $10, sealed = $11, updated_at = $12, \
             deleted_at = $13, version = $14 WHERE id = $1 AND version = $2",
        )
        .bind(i.id.as_uuid())
        .bind(version)
        .bind(status)
        .bind(due_on)
        .bind(assignee)
        .bind(starts_at)
        .bind(ends_at)
        .bind(i.completed.map(|(at, _)| at))
        .bind(i.completed.map(|(_, by)| by.kind()))
        .bind(i.completed.map(|(_, by)| by.id()))
        .bind(i.sealed.clone())
        .bind(i.updated_at)
        .bind(i.deleted_at)
        .bind(i.version)
        .execute(tx)
        .await?;
    Ok(changed == 1)
}

pub async fn find_item<'c>(conn: impl Source<'c>, id: ItemId) -> ServiceResult<Option<ItemRow>> {
    conn.query(&format!("SELECT {ITEM_COLUMNS} FROM guidance_items WHERE id = $1"))
        .bind(id.as_uuid())
        .fetch_optional(conn)
        .await?
        .as_ref()
        .map(item)
        .transpose()
}

fn item(row: &Row) -> ServiceResult<ItemRow> {
    let corrupt = |what: &str| ServiceError::corrupt(format!("guidance item {what}"));
    let kind = ItemKind::parse(&row.get::<String>("kind")?).ok_or_else(|| corrupt("kind"))?;
    let details = match kind {
        ItemKind::Phase => {
            let status: Option<String> = row.get("phase_status")?;
            Details::Phase { status: status.as_deref().and_then(PhaseStatus::parse).ok_or_else(|| corrupt("status"))? }
        }
        ItemKind::Task => {
            let assignee: Option<String> = row.get("assignee")?;
            Details::Task {
                due_on: row.get("due_on")?,
                assignee: assignee.as_deref().and_then(Assignee::parse).ok_or_else(|| corrupt("assignee"))?,
            }
        }
        ItemKind::Event => Details::Event {
            starts_at: row.get::<Option<DateTime<Utc>>>("starts_at")?.ok_or_else(|| corrupt("start"))?,
            ends_at: row.get("ends_at")?,
        },
        ItemKind::Note => Details::Note,
    };
    let completed_at: Option<DateTime<Utc>> = row.get("completed_at")?;
    let completed_by_kind: Option<String> = row.get("completed_by_kind")?;
    let completed_by: Option<Uuid> = row.get("completed_by")?;
    let completed = match (completed_at, completed_by_kind, completed_by) {
        (Some(at), Some(kind), Some(id)) => Some((at, actor_of(&kind, id)?)),
        _ => None,
    };
    Ok(ItemRow {
        id: ItemId(row.get("id")?),
        workspace_id: WorkspaceId(row.get("workspace_id")?),
        thread: Thread::from_column(row.get("thread_id")?),
        author: actor_of(&row.get::<String>("author_kind")?, row.get("author_id")?)?,
        private: row.get("private")?,
        details,
        completed,
        sealed: row.get("sealed")?,
        created_at: row.get("created_at")?,
        updated_at: row.get("updated_at")?,
        deleted_at: row.get("deleted_at")?,
        version: row.get("version")?,
    })
}

/// Items of one kind that `reader` sees, in the order they were made: not deleted, in the
/// reader's threads, and private notes only if they wrote them.
pub async fn items_page(
    db: &Db,
    id: WorkspaceId,
    kind: ItemKind,
    sight: &Sight,
    page: &PageRequest,
) -> ServiceResult<Vec<ItemRow>> {
    let reader = sight.actor;
    let sql = format!(
        "SELECT {ITEM_COLUMNS} FROM guidance_items WHERE workspace_id = $1 AND id > $2 AND kind = $4 \
         AND deleted_at IS NULL AND (NOT private OR (author_kind = $5 AND author_id = $6)){} ORDER BY id LIMIT $3",
        sight_sql(sight, "thread_id", 7)
    );
    let query = db
        .query(&sql)
        .bind(id.as_uuid())
        .bind(page.after.unwrap_or(Uuid::nil()))
        .bind(page.fetch_limit())
        .bind(kind.as_str())
        .bind(reader.kind())
        .bind(reader.id());
    bind_sight(query, sight).fetch_all(db).await?.iter().map(item).collect()
}

pub struct SummaryRow {
    pub workspace_id: WorkspaceId,
    /// The text and the writer's name.
    pub sealed: Vec<u8>,
    pub updated_by: Actor,
    pub updated_at: DateTime<Utc>,
    pub version: i64,
}

pub async fn find_summary<'c>(conn: impl Source<'c>, id: WorkspaceId) -> ServiceResult<Option<SummaryRow>> {
    let row = conn
        .query("SELECT workspace_id, sealed, updated_by_kind, updated_by, updated_at, version FROM summaries WHERE workspace_id = $1")
        .bind(id.as_uuid())
        .fetch_optional(conn)
        .await?;
    row.map(|r| {
        Ok(SummaryRow {
            workspace_id: WorkspaceId(r.get("workspace_id")?),
            sealed: r.get("sealed")?,
            updated_by: actor_of(&r.get::<String>("updated_by_kind")?, r.get("updated_by")?)?,
            updated_at: r.get("updated_at")?,
            version: r.get("version")?,
        })
    })
    .transpose()
}

/// Writes the summary if it is still at `version` (0: none yet); `false` if someone was first.
pub async fn put_summary(tx: &mut Tx, s: &SummaryRow, version: i64) -> ServiceResult<bool> {
    let changed = if version == 0 {
        tx.query(
            "INSERT INTO summaries (workspace_id, sealed, updated_by_kind, updated_by, updated_at, version) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (workspace_id) DO NOTHING",
        )
        .bind(s.workspace_id.as_uuid())
        .bind(s.sealed.clone())
        .bind(s.updated_by.kind())
        .bind(s.updated_by.id())
        .bind(s.updated_at)
        .bind(s.version)
        .execute(tx)
        .await?
    } else {
        tx.query(
            "UPDATE summaries SET sealed = $3, updated_by_kind = $4, updated_by = $5, updated_at = $6, version = $7 \
             WHERE workspace_id = $1 AND version = $2",
        )
        .bind(s.workspace_id.as_uuid())
        .bind(version)
        .bind(s.sealed.clone())
        .bind(s.updated_by.kind())
        .bind(s.updated_by.id())
        .bind(s.updated_at)
        .bind(s.version)
        .execute(tx)
        .await?
    };
    Ok(changed == 1)
}
