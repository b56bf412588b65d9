//! The access log.

use chrono::{DateTime, Utc};
use ohjaus_platform::{
    db::{Db, Tx},
    ids::PageRequest,
    service::ServiceResult,
};
use uuid::Uuid;

use crate::domain::{WorkspaceId, sight::Sight};

pub struct AccessRow {
    pub id: Uuid,
    pub at: DateTime<Utc>,
    pub actor_kind: String,
    pub actor_id: String,
    pub actor_role: String,
    pub organization_id: Option<Uuid>,
    pub what: String,
}

pub async fn log_access(tx: &mut Tx, workspace: WorkspaceId, entry: &AccessRow) -> ServiceResult<()> {
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

/// The access log as `sight` shows it: in a group, the experts' reads and those of the customers
/// in sight, so customers of a group do not learn of each other; from the floor on, if any.
pub async fn access_page(
    db: &Db,
    workspace: WorkspaceId,
    sight: &Sight,
    page: &PageRequest,
) -> ServiceResult<Vec<AccessRow>> {
    let mut filter = String::new();
    let mut next = 4;
    if let Some(customers) = &sight.customers {
        let list: Vec<String> = (next..next + customers.len()).map(|i| format!("${i}")).collect();
        next += customers.len();
        let named = if list.is_empty() { String::new() } else { format!(" OR actor_id IN ({})", list.join(", ")) };
        filter.push_str(&format!(" AND (actor_kind <> 'customer'{named})"));
    }
    if sight.floor.is_some() {
        filter.push_str(&format!(" AND id >= ${next}"));
    }
    let sql = format!(
        "SELECT id, at, actor_kind, actor_id, actor_role, organization_id, what FROM access_log \
         WHERE workspace_id = $1 AND id > $2{filter} ORDER BY id LIMIT $3"
    );
    let mut query =
        db.query(&sql).bind(workspace.as_uuid()).bind(page.after.unwrap_or(Uuid::nil())).bind(page.fetch_limit());
    // The log keeps actor ids as text (services and operators are actors too).
    for customer in sight.customers.iter().flatten() {
        query = query.bind(customer.to_string());
    }
    if let Some(floor) = sight.floor {
        query = query.bind(floor.id);
    }
    query
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
