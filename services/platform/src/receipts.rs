//! Retention receipts: what a service deleted for one retention decision, kept by the decision's
//! id (never the subject's), so a repeated request — the worker retrying after a crash between
//! the deletion and its record — deletes nothing twice and answers the same counts.
//!
//! A service that takes part in the deletion protocol has a `retention_receipts` table in its
//! migrations: `deletion_id` (UUID, primary key), `counts` (TEXT, a JSON object of counts by
//! kind) and `completed_at` (TIMESTAMPTZ). Receipts hold ids and counts only, no personal data.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::{
    db::{Source, Tx},
    service::{ServiceError, ServiceResult},
};

/// What an earlier request of the same retention decision answered.
pub async fn find<'c>(conn: impl Source<'c>, deletion: Uuid) -> ServiceResult<Option<BTreeMap<String, i64>>> {
    let Some(row) = conn
        .query("SELECT counts FROM retention_receipts WHERE deletion_id = $1")
        .bind(deletion)
        .fetch_optional(conn)
        .await?
    else {
        return Ok(None);
    };
    let counts: String = row.get("counts")?;
    serde_json::from_str(&counts).map(Some).map_err(|_| ServiceError::corrupt("stored retention receipt"))
}

/// Keeps what this decision's deletion removed, in the transaction that removed it.
pub async fn remember(
    tx: &mut Tx,
    deletion: Uuid,
    counts: &BTreeMap<String, i64>,
    now: DateTime<Utc>,
) -> ServiceResult<()> {
    let counts = serde_json::to_string(counts).map_err(|e| ServiceError::corrupt(e.to_string()))?;
    tx.query("INSERT INTO retention_receipts (deletion_id, counts, completed_at) VALUES ($1, $2, $3)")
        .bind(deletion)
        .bind(counts)
        .bind(now)
        .execute(tx)
        .await?;
    Ok(())
}
