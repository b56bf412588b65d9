//! Invitations: the secret only as a hash, the contact sealed.

use chrono::{DateTime, Utc};
use ohjaus_platform::{
    db::{Db, Row, Source, Tx},
    ids::PageRequest,
    service::{ServiceError, ServiceResult},
};
use uuid::Uuid;

use crate::domain::{InvitationId, InvitationState, WorkspaceId};

pub struct InvitationRow {
    pub id: InvitationId,
    pub workspace_id: WorkspaceId,
    pub token_hash: String,
    pub contact_sealed: Vec<u8>,
    pub bound_customer_id: Option<Uuid>,
    pub state: InvitationState,
    pub invited_by: Uuid,
    pub expires_at: DateTime<Utc>,
    pub sent_count: i64,
    pub accepted_by: Option<Uuid>,
    pub version: i64,
    pub created_at: DateTime<Utc>,
}

const INVITATION_COLUMNS: &str = "id, workspace_id, token_hash, contact_sealed, bound_customer_id, state, invited_by, expires_at, sent_count, accepted_by, version, created_at";

fn invitation(row: &Row) -> ServiceResult<InvitationRow> {
    Ok(InvitationRow {
        id: InvitationId(row.get("id")?),
        workspace_id: WorkspaceId(row.get("workspace_id")?),
        token_hash: row.get("token_hash")?,
        contact_sealed: row.get("contact_sealed")?,
        bound_customer_id: row.get("bound_customer_id")?,
        state: InvitationState::parse(&row.get::<String>("state")?)
            .ok_or_else(|| ServiceError::corrupt("stored invitation state"))?,
        invited_by: row.get("invited_by")?,
        expires_at: row.get("expires_at")?,
        sent_count: row.get("sent_count")?,
        accepted_by: row.get("accepted_by")?,
        version: row.get("version")?,
        created_at: row.get("created_at")?,
    })
}

pub async fn insert_invitation(tx: &mut Tx, i: &InvitationRow) -> ServiceResult<()> {
    tx.query(&format!(
        "INSERT INTO invitations ({INVITATION_COLUMNS}, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12)"
    ))
    .bind(i.id.as_uuid())
    .bind(i.workspace_id.as_uuid())
    .bind(i.token_hash.clone())
    .bind(i.contact_sealed.clone())
    .bind(i.bound_customer_id)
    .bind(i.state.as_str())
    .bind(i.invited_by)
    .bind(i.expires_at)
    .bind(i.sent_count)
    .bind(i.accepted_by)
    .bind(i.version)
    .bind(i.created_at)
    .execute(tx)
    .await?;
    Ok(())
}

/// Stores a changed invitation if it is still at `version`; `false` if someone was first.
pub async fn update_invitation(
    tx: &mut Tx,
    i: &InvitationRow,
    version: i64,
    now: DateTime<Utc>,
) -> ServiceResult<bool> {
    let changed = tx
        .query(
            "UPDATE invitations SET token_hash = $3, state = $4, expires_at = $5, sent_count = $6, accepted_by = $7, \
             version = $8, updated_at = $9 WHERE id = $1 AND version = $2",
        )
        .bind(i.id.as_uuid())
        .bind(version)
        .bind(i.token_hash.clone())
        .bind(i.state.as_str())
        .bind(i.expires_at)
        .bind(i.sent_count)
        .bind(i.accepted_by)
        .bind(i.version)
        .bind(now)
        .execute(tx)
        .await?;
    Ok(changed == 1)
}

pub async fn find_invitation<'c>(conn: impl Source<'c>, id: InvitationId) -> ServiceResult<Option<InvitationRow>> {
    conn.query(&format!("SELECT {INVITATION_COLUMNS} FROM invitations WHERE id = $1"))
        .bind(id.as_uuid())
        .fetch_optional(conn)
        .await?
        .as_ref()
        .map(invitation)
        .transpose()
}

pub async fn invitation_by_token<'c>(conn: impl Source<'c>, token_hash: &str) -> ServiceResult<Option<InvitationRow>> {
    conn.query(&format!("SELECT {INVITATION_COLUMNS} FROM invitations WHERE token_hash = $1"))
        .bind(token_hash.to_owned())
        .fetch_optional(conn)
        .await?
        .as_ref()
        .map(invitation)
        .transpose()
}

pub async fn invitations_page(db: &Db, id: WorkspaceId, page: &PageRequest) -> ServiceResult<Vec<InvitationRow>> {
    db.query(&format!(
        "SELECT {INVITATION_COLUMNS} FROM invitations WHERE workspace_id = $1 AND id > $2 ORDER BY id LIMIT $3"
    ))
    .bind(id.as_uuid())
    .bind(page.after.unwrap_or(Uuid::nil()))
    .bind(page.fetch_limit())
    .fetch_all(db)
    .await?
    .iter()
    .map(invitation)
    .collect()
}
