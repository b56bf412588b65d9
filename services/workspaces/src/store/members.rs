//! Members of a workspace: their roles and sealed contact details.

use chrono::{DateTime, Utc};
use ohjaus_platform::{
    db::{Source, Tx},
    service::ServiceResult,
};
use uuid::Uuid;

use super::{actor_of, member_role_of};
use crate::domain::{Actor, MemberRole, WorkspaceId};

/// Adds a member with their sealed contact details; `false` if they already were one.
pub async fn add_member(
    tx: &mut Tx,
    id: WorkspaceId,
    actor: Actor,
    role: MemberRole,
    contact_sealed: Option<Vec<u8>>,
    now: DateTime<Utc>,
) -> ServiceResult<bool> {
    let added = tx
        .query(
            "INSERT INTO members (workspace_id, member_kind, member_id, role, contact_sealed, added_at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (workspace_id, member_kind, member_id) DO NOTHING",
        )
        .bind(id.as_uuid())
        .bind(actor.kind())
        .bind(actor.id())
        .bind(role.as_str())
        .bind(contact_sealed)
        .bind(now)
        .execute(tx)
        .await?;
    Ok(added == 1)
}

pub struct MemberRow {
    pub actor: Actor,
    pub role: MemberRole,
    pub contact_sealed: Option<Vec<u8>>,
}

/// One member's sealed contact, if they are a member and left one.
pub async fn member_contact<'c>(
    conn: impl Source<'c>,
    id: WorkspaceId,
    actor: Actor,
) -> ServiceResult<Option<Vec<u8>>> {
    let row = conn
        .query("SELECT contact_sealed FROM members WHERE workspace_id = $1 AND member_kind = $2 AND member_id = $3")
        .bind(id.as_uuid())
        .bind(actor.kind())
        .bind(actor.id())
        .fetch_optional(conn)
        .await?;
    Ok(match row {
        Some(row) => row.get("contact_sealed")?,
        None => None,
    })
}

/// Every member of a workspace (a workspace has tens of members, not thousands).
pub async fn members_of<'c>(conn: impl Source<'c>, id: WorkspaceId) -> ServiceResult<Vec<MemberRow>> {
    conn.query(
        "SELECT member_kind, member_id, role, contact_sealed FROM members WHERE workspace_id = $1 ORDER BY added_at",
    )
    .bind(id.as_uuid())
    .fetch_all(conn)
    .await?
    .iter()
    .map(|row| {
        Ok(MemberRow {
            actor: actor_of(&row.get::<String>("member_kind")?, row.get("member_id")?)?,
            role: member_role_of(row)?,
            contact_sealed: row.get("contact_sealed")?,
        })
    })
    .collect()
}

pub async fn set_contact(tx: &mut Tx, id: WorkspaceId, actor: Actor, sealed: &[u8]) -> ServiceResult<()> {
    tx.query("UPDATE members SET contact_sealed = $4 WHERE workspace_id = $1 AND member_kind = $2 AND member_id = $3")
        .bind(id.as_uuid())
        .bind(actor.kind())
        .bind(actor.id())
        .bind(sealed.to_vec())
        .execute(tx)
        .await?;
    Ok(())
}

/// The role of `actor` in the workspace, if a member.
pub async fn member_role<'c>(
    conn: impl Source<'c>,
    id: WorkspaceId,
    actor: Actor,
) -> ServiceResult<Option<MemberRole>> {
    let row = conn
        .query("SELECT role FROM members WHERE workspace_id = $1 AND member_kind = $2 AND member_id = $3")
        .bind(id.as_uuid())
        .bind(actor.kind())
        .bind(actor.id())
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(member_role_of).transpose()
}

pub async fn customer_count<'c>(conn: impl Source<'c>, id: WorkspaceId) -> ServiceResult<i64> {
    let row = conn
        .query("SELECT COUNT(*) AS n FROM members WHERE workspace_id = $1 AND member_kind = 'customer'")
        .bind(id.as_uuid())
        .fetch_one(conn)
        .await?;
    Ok(row.get("n")?)
}

/// Removes an expert who is a member by consent only; the workspace's own guides stay.
pub async fn remove_consent_member(tx: &mut Tx, id: WorkspaceId, expert: Uuid) -> ServiceResult<bool> {
    let removed = tx
        .query("DELETE FROM members WHERE workspace_id = $1 AND member_kind = 'expert' AND member_id = $2 AND role = 'expert'")
        .bind(id.as_uuid())
        .bind(expert)
        .execute(&mut *tx)
        .await?;
    Ok(removed == 1)
}
