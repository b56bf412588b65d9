//! Workspaces: the row with its sealed title, its state and its owner (its data key is in the
//! key store).

use chrono::{DateTime, Utc};
use ohjaus_platform::{
    db::{Db, Row, Source, Tx},
    ids::PageRequest,
    service::{ServiceError, ServiceResult},
};
use uuid::Uuid;

use super::{add_member, member_role_of};
use crate::domain::{Actor, Kind, MemberRole, State, WorkspaceId};

/// A workspace row: its title still sealed.
pub struct WorkspaceRow {
    pub id: WorkspaceId,
    pub organization_id: Uuid,
    pub office_id: Uuid,
    pub kind: Kind,
    pub title_sealed: Vec<u8>,
    pub topics: String,
    pub state: State,
    pub owner_id: Uuid,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
}

const WORKSPACE_COLUMNS: &str =
    "id, organization_id, office_id, kind, title_sealed, topics, state, owner_id, version, created_at, closed_at";

fn workspace(row: &Row) -> ServiceResult<WorkspaceRow> {
    let corrupt = |what: &str| ServiceError::corrupt(format!("stored workspace {what}"));
    Ok(WorkspaceRow {
        id: WorkspaceId(row.get("id")?),
        organization_id: row.get("organization_id")?,
        office_id: row.get("office_id")?,
        kind: Kind::parse(&row.get::<String>("kind")?).ok_or_else(|| corrupt("kind"))?,
        title_sealed: row.get("title_sealed")?,
        topics: row.get("topics")?,
        state: State::parse(&row.get::<String>("state")?).ok_or_else(|| corrupt("state"))?,
        owner_id: row.get("owner_id")?,
        version: row.get("version")?,
        created_at: row.get("created_at")?,
        closed_at: row.get("closed_at")?,
    })
}

pub async fn insert_workspace(tx: &mut Tx, w: &WorkspaceRow) -> ServiceResult<()> {
    tx.query(&format!(
        "INSERT INTO workspaces ({WORKSPACE_COLUMNS}, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $10)"
    ))
    .bind(w.id.as_uuid())
    .bind(w.organization_id)
    .bind(w.office_id)
    .bind(w.kind.as_str())
    .bind(w.title_sealed.clone())
    .bind(w.topics.clone())
    .bind(w.state.as_str())
    .bind(w.owner_id)
    .bind(w.version)
    .bind(w.created_at)
    .bind(w.closed_at)
    .execute(tx)
    .await?;
    Ok(())
}

pub async fn find_workspace<'c>(conn: impl Source<'c>, id: WorkspaceId) -> ServiceResult<Option<WorkspaceRow>> {
    conn.query(&format!("SELECT {WORKSPACE_COLUMNS} FROM workspaces WHERE id = $1"))
        .bind(id.as_uuid())
        .fetch_optional(conn)
        .await?
        .as_ref()
        .map(workspace)
        .transpose()
}

/// Workspaces where `actor` is a member, with its role there, in id order.
pub async fn workspaces_of(
    db: &Db,
    actor: Actor,
    page: &PageRequest,
) -> ServiceResult<Vec<(WorkspaceRow, MemberRole)>> {
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
) -> ServiceResult<bool> {
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

/// Hands the workspace to `new_owner`: the old owner stays as a guide.
pub async fn set_owner(
    tx: &mut Tx,
    id: WorkspaceId,
    old_owner: Uuid,
    new_owner: Uuid,
    now: DateTime<Utc>,
) -> ServiceResult<()> {
    tx.query("UPDATE workspaces SET owner_id = $2, updated_at = $3, version = version + 1 WHERE id = $1")
        .bind(id.as_uuid())
        .bind(new_owner)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    tx.query("UPDATE members SET role = 'guide' WHERE workspace_id = $1 AND member_kind = 'expert' AND member_id = $2")
        .bind(id.as_uuid())
        .bind(old_owner)
        .execute(&mut *tx)
        .await?;
    let updated = tx
        .query(
            "UPDATE members SET role = 'owner' WHERE workspace_id = $1 AND member_kind = 'expert' AND member_id = $2",
        )
        .bind(id.as_uuid())
        .bind(new_owner)
        .execute(&mut *tx)
        .await?;
    if updated == 0 {
        add_member(tx, id, Actor::Expert(new_owner), MemberRole::Owner, None, now).await?;
    }
    Ok(())
}

/// Removes the workspace and, by the schema's cascades, everything in it; its wrapped key
/// goes with the row.
pub async fn delete_workspace(tx: &mut Tx, id: WorkspaceId) -> ServiceResult<bool> {
    let deleted = tx.query("DELETE FROM workspaces WHERE id = $1").bind(id.as_uuid()).execute(tx).await?;
    Ok(deleted == 1)
}

/// The customer's visit, from which the retention rule counts.
pub async fn touch_customer_visit(tx: &mut Tx, id: WorkspaceId, now: DateTime<Utc>) -> ServiceResult<()> {
    tx.query("UPDATE workspaces SET customer_last_seen_at = $2 WHERE id = $1")
        .bind(id.as_uuid())
        .bind(now)
        .execute(tx)
        .await?;
    Ok(())
}
