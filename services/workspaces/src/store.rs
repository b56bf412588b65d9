//! SQL of the workspaces service. Titles and content arrive here sealed; this module never
//! sees plaintext content.

use chrono::{DateTime, Utc};
use ohjaus_platform::{
    db::{Db, Row, Source, Tx},
    ids::PageRequest,
};
use uuid::Uuid;

use crate::{
    WorkspacesError,
    domain::{Actor, Kind, MemberRole, MessageId, State, WorkspaceId},
};

type Result<T> = std::result::Result<T, WorkspacesError>;

/// A workspace row: its title still sealed, its data key still wrapped.
pub struct WorkspaceRow {
    pub id: WorkspaceId,
    pub organization_id: Uuid,
    pub office_id: Uuid,
    pub kind: Kind,
    pub title_sealed: Vec<u8>,
    pub topics: String,
    pub state: State,
    pub owner_id: Uuid,
    pub data_key: Vec<u8>,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
}

const WORKSPACE_COLUMNS: &str = "id, organization_id, office_id, kind, title_sealed, topics, state, owner_id, data_key, version, created_at, closed_at";

fn workspace(row: &Row) -> Result<WorkspaceRow> {
    let corrupt = |what: &str| WorkspacesError::Corrupt(format!("stored workspace {what}"));
    Ok(WorkspaceRow {
        id: WorkspaceId(row.get("id")?),
        organization_id: row.get("organization_id")?,
        office_id: row.get("office_id")?,
        kind: Kind::parse(&row.get::<String>("kind")?).ok_or_else(|| corrupt("kind"))?,
        title_sealed: row.get("title_sealed")?,
        topics: row.get("topics")?,
        state: State::parse(&row.get::<String>("state")?).ok_or_else(|| corrupt("state"))?,
        owner_id: row.get("owner_id")?,
        data_key: row.get("data_key")?,
        version: row.get("version")?,
        created_at: row.get("created_at")?,
        closed_at: row.get("closed_at")?,
    })
}

pub async fn insert_workspace(tx: &mut Tx, w: &WorkspaceRow) -> Result<()> {
    tx.query(&format!(
        "INSERT INTO workspaces ({WORKSPACE_COLUMNS}, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $11)"
    ))
    .bind(w.id.as_uuid())
    .bind(w.organization_id)
    .bind(w.office_id)
    .bind(w.kind.as_str())
    .bind(w.title_sealed.clone())
    .bind(w.topics.clone())
    .bind(w.state.as_str())
    .bind(w.owner_id)
    .bind(w.data_key.clone())
    .bind(w.version)
    .bind(w.created_at)
    .bind(w.closed_at)
    .execute(tx)
    .await?;
    Ok(())
}

pub async fn find_workspace<'c>(conn: impl Source<'c>, id: WorkspaceId) -> Result<Option<WorkspaceRow>> {
    conn.query(&format!("SELECT {WORKSPACE_COLUMNS} FROM workspaces WHERE id = $1"))
        .bind(id.as_uuid())
        .fetch_optional(conn)
        .await?
        .as_ref()
        .map(workspace)
        .transpose()
}

/// Workspaces where `actor` is a member, with its role there, in id order.
pub async fn workspaces_of(db: &Db, actor: Actor, page: &PageRequest) -> Result<Vec<(WorkspaceRow, MemberRole)>> {
    let columns = WORKSPACE_COLUMNS.split(", ").map(|c| format!("w.{c}")).collect::<Vec<_>>().join(", ");
    db.query(&format!(
        "SELECT {columns}, m.role FROM workspaces w JOIN members m ON m.workspace_id = w.id \
         WHERE m.member_kind = $1 AND m.member_id = $2 AND w.id > $3 ORDER BY w.id LIMIT $4"
    ))
    .bind(actor.kind())
    .bind(actor.id())
    .bind(page.after.unwrap_or(Uuid::nil()))
    .bind(page.fetch_limit())
    .fetch_all(db)
    .await?
    .iter()
    .map(|row| Ok((workspace(row)?, member_role_of(row)?)))
    .collect()
}

/// Moves a workspace to `state` if it is still at `version`; `false` if someone was first.
pub async fn set_state(
    tx: &mut Tx,
    id: WorkspaceId,
    version: i64,
    state: State,
    closed_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<bool> {
    let changed = tx
        .query(
            "UPDATE workspaces SET state = $3, closed_at = $4, updated_at = $5, version = version + 1 \
             WHERE id = $1 AND version = $2",
        )
        .bind(id.as_uuid())
        .bind(version)
        .bind(state.as_str())
        .bind(closed_at)
        .bind(now)
        .execute(tx)
        .await?;
    Ok(changed == 1)
}

pub async fn add_member(
    tx: &mut Tx,
    id: WorkspaceId,
    actor: Actor,
    role: MemberRole,
    now: DateTime<Utc>,
) -> Result<()> {
    tx.query(
        "INSERT INTO members (workspace_id, member_kind, member_id, role, added_at) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (workspace_id, member_kind, member_id) DO NOTHING",
    )
    .bind(id.as_uuid())
    .bind(actor.kind())
    .bind(actor.id())
    .bind(role.as_str())
    .bind(now)
    .execute(tx)
    .await?;
    Ok(())
}

/// The role of `actor` in the workspace, if a member.
pub async fn member_role<'c>(conn: impl Source<'c>, id: WorkspaceId, actor: Actor) -> Result<Option<MemberRole>> {
    let row = conn
        .query("SELECT role FROM members WHERE workspace_id = $1 AND member_kind = $2 AND member_id = $3")
        .bind(id.as_uuid())
        .bind(actor.kind())
        .bind(actor.id())
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(member_role_of).transpose()
}

fn member_role_of(row: &Row) -> Result<MemberRole> {
    let role: String = row.get("role")?;
    MemberRole::parse(&role).ok_or_else(|| WorkspacesError::Corrupt("stored member role".into()))
}

/// The customer's visit, from which the retention rule counts.
pub async fn touch_customer_visit(tx: &mut Tx, id: WorkspaceId, now: DateTime<Utc>) -> Result<()> {
    tx.query("UPDATE workspaces SET customer_last_seen_at = $2 WHERE id = $1")
        .bind(id.as_uuid())
        .bind(now)
        .execute(tx)
        .await?;
    Ok(())
}

pub struct MessageRow {
    pub id: MessageId,
    pub workspace_id: WorkspaceId,
    pub author: Actor,
    pub sealed: Vec<u8>,
    pub created_at: DateTime<Utc>,
}

pub async fn insert_message(tx: &mut Tx, m: &MessageRow) -> Result<()> {
    tx.query(
        "INSERT INTO messages (id, workspace_id, author_kind, author_id, sealed, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(m.id.as_uuid())
    .bind(m.workspace_id.as_uuid())
    .bind(m.author.kind())
    .bind(m.author.id())
    .bind(m.sealed.clone())
    .bind(m.created_at)
    .execute(tx)
    .await?;
    Ok(())
}

pub async fn find_message<'c>(conn: impl Source<'c>, id: MessageId) -> Result<Option<MessageRow>> {
    conn.query("SELECT id, workspace_id, author_kind, author_id, sealed, created_at FROM messages WHERE id = $1")
        .bind(id.as_uuid())
        .fetch_optional(conn)
        .await?
        .as_ref()
        .map(message)
        .transpose()
}

fn message(row: &Row) -> Result<MessageRow> {
    let kind: String = row.get("author_kind")?;
    let author_id: Uuid = row.get("author_id")?;
    let author = match kind.as_str() {
        "expert" => Actor::Expert(author_id),
        "customer" => Actor::Customer(author_id),
        _ => return Err(WorkspacesError::Corrupt("stored author kind".into())),
    };
    Ok(MessageRow {
        id: MessageId(row.get("id")?),
        workspace_id: WorkspaceId(row.get("workspace_id")?),
        author,
        sealed: row.get("sealed")?,
        created_at: row.get("created_at")?,
    })
}

/// Messages of a workspace in the order they were posted.
pub async fn messages_page(db: &Db, id: WorkspaceId, page: &PageRequest) -> Result<Vec<MessageRow>> {
    db.query(
        "SELECT id, workspace_id, author_kind, author_id, sealed, created_at FROM messages \
         WHERE workspace_id = $1 AND id > $2 ORDER BY id LIMIT $3",
    )
    .bind(id.as_uuid())
    .bind(page.after.unwrap_or(Uuid::nil()))
    .bind(page.fetch_limit())
    .fetch_all(db)
    .await?
    .iter()
    .map(message)
    .collect()
}

pub struct AccessRow {
    pub id: Uuid,
    pub at: DateTime<Utc>,
    pub actor_kind: String,
    pub actor_id: String,
    pub actor_role: String,
    pub organization_id: Option<Uuid>,
    pub what: String,
}

pub async fn log_access(tx: &mut Tx, workspace: WorkspaceId, entry: &AccessRow) -> Result<()> {
    tx.query(
        "INSERT INTO access_log (id, workspace_id, at, actor_kind, actor_id, actor_role, organization_id, what) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(entry.id)
    .bind(workspace.as_uuid())
    .bind(entry.at)
    .bind(entry.actor_kind.clone())
    .bind(entry.actor_id.clone())
    .bind(entry.actor_role.clone())
    .bind(entry.organization_id)
    .bind(entry.what.clone())
    .execute(tx)
    .await?;
    Ok(())
}

pub async fn access_page(db: &Db, workspace: WorkspaceId, page: &PageRequest) -> Result<Vec<AccessRow>> {
    db.query(
        "SELECT id, at, actor_kind, actor_id, actor_role, organization_id, what FROM access_log \
         WHERE workspace_id = $1 AND id > $2 ORDER BY id LIMIT $3",
    )
    .bind(workspace.as_uuid())
    .bind(page.after.unwrap_or(Uuid::nil()))
    .bind(page.fetch_limit())
    .fetch_all(db)
    .await?
    .iter()
    .map(|row| {
        Ok(AccessRow {
            id: row.get("id")?,
            at: row.get("at")?,
            actor_kind: row.get("actor_kind")?,
            actor_id: row.get("actor_id")?,
            actor_role: row.get("actor_role")?,
            organization_id: row.get("organization_id")?,
            what: row.get("what")?,
        })
    })
    .collect()
}
