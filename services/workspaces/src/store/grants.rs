//! Consent grants: each consent request's row moves only from active to ended.

use chrono::{DateTime, Utc};
use ohjaus_platform::{
    db::{Row, Source, Tx},
    service::ServiceResult,
};
use uuid::Uuid;

use crate::domain::{
    WorkspaceId,
    sight::{Floor, Grant},
};

const GRANT_COLUMNS: &str = "request_id, expert_id, expert_organization_id, customer_id, visible_from_id, visible_from";

fn grant(row: &Row) -> ServiceResult<Grant> {
    let floor_id: Option<Uuid> = row.get("visible_from_id")?;
    let floor_at: Option<DateTime<Utc>> = row.get("visible_from")?;
    Ok(Grant {
        request_id: row.get("request_id")?,
        expert: row.get("expert_id")?,
        organization: row.get("expert_organization_id")?,
        customer: row.get("customer_id")?,
        floor: floor_id.zip(floor_at).map(|(id, at)| Floor { id, at }),
    })
}

/// The consents in force in a workspace (all experts' or one expert's).
pub async fn active_grants<'c>(
    conn: impl Source<'c>,
    id: WorkspaceId,
    expert: Option<Uuid>,
) -> ServiceResult<Vec<Grant>> {
    let one = if expert.is_some() { " AND expert_id = $2" } else { "" };
    let sql = format!(
        "SELECT {GRANT_COLUMNS} FROM consent_grants WHERE workspace_id = $1 AND state = 'active'{one} ORDER BY request_id"
    );
    let mut query = conn.query(&sql).bind(id.as_uuid());
    if let Some(expert) = expert {
        query = query.bind(expert);
    }
    query.fetch_all(conn).await?.iter().map(grant).collect()
}

/// Records an accepted consent as active; `false` if the request was heard of before (already
/// active, or already ended — an ending that overtook its acceptance keeps the expert out).
pub async fn insert_grant(tx: &mut Tx, id: WorkspaceId, g: &Grant, now: DateTime<Utc>) -> ServiceResult<bool> {
    let inserted = tx
        .query(&format!(
            "INSERT INTO consent_grants (workspace_id, state, changed_at, {GRANT_COLUMNS}) \
             VALUES ($1, 'active', $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (request_id) DO NOTHING"
        ))
        .bind(id.as_uuid())
        .bind(now)
        .bind(g.request_id)
        .bind(g.expert)
        .bind(g.organization)
        .bind(g.customer)
        .bind(g.floor.map(|f| f.id))
        .bind(g.floor.map(|f| f.at))
        .execute(&mut *tx)
        .await?;
    Ok(inserted == 1)
}

/// Marks the consent ended, remembering it even if its acceptance has not arrived (yet, or
/// ever); `true` if it was in force until now.
pub async fn end_grant(tx: &mut Tx, id: WorkspaceId, g: &Grant, now: DateTime<Utc>) -> ServiceResult<bool> {
    let ended = tx
        .query("UPDATE consent_grants SET state = 'ended', changed_at = $3 WHERE request_id = $1 AND workspace_id = $2 AND state = 'active'")
        .bind(g.request_id)
        .bind(id.as_uuid())
        .bind(now)
        .execute(&mut *tx)
        .await?;
    if ended == 1 {
        return Ok(true);
    }
    tx.query(&format!(
        "INSERT INTO consent_grants (workspace_id, state, changed_at, {GRANT_COLUMNS}) \
         VALUES ($1, 'ended', $2, $3, $4, $5, $6, NULL, NULL) ON CONFLICT (request_id) DO NOTHING"
    ))
    .bind(id.as_uuid())
    .bind(now)
    .bind(g.request_id)
    .bind(g.expert)
    .bind(g.organization)
    .bind(g.customer)
    .execute(&mut *tx)
    .await?;
    Ok(false)
}
