//! The surveys service's SQL: one text for PostgreSQL and SQLite.

use chrono::{DateTime, Utc};
use ohjaus_platform::db::{DbError, DbResult, Row, Source, Tx};

use uuid::Uuid;

// Feedback and reports (issue 15).
pub mod reports;

use crate::domain::{Instrument, rounds::RoundId};

/// An instrument version and when it was first loaded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredInstrument {
    pub instrument: Instrument,
    pub loaded_at: DateTime<Utc>,
}

pub async fn insert_instrument(tx: &mut Tx, instrument: &Instrument, loaded_at: DateTime<Utc>) -> DbResult<()> {
    let content = serde_json::to_string(instrument).map_err(|e| DbError::Sqlx(sqlx::Error::Decode(Box::new(e))))?;
    tx.query("INSERT INTO instruments (id, version, content, loaded_at) VALUES ($1, $2, $3, $4)")
        .bind(instrument.id.clone())
        .bind(i64::from(instrument.version))
        .bind(content)
        .bind(loaded_at)
        .execute(tx)
        .await?;
    Ok(())
}

/// One version; `None` for the newest of the instrument.
pub async fn find_instrument<'c>(
    conn: impl Source<'c>,
    id: &str,
    version: Option<u32>,
) -> DbResult<Option<StoredInstrument>> {
    let row = match version {
        Some(version) => {
            conn.query("SELECT content, loaded_at FROM instruments WHERE id = $1 AND version = $2")
                .bind(id.to_owned())
                .bind(i64::from(version))
                .fetch_optional(conn)
                .await?
        }
        None => {
            conn.query("SELECT content, loaded_at FROM instruments WHERE id = $1 ORDER BY version DESC LIMIT 1")
                .bind(id.to_owned())
                .fetch_optional(conn)
                .await?
        }
    };
    row.as_ref().map(stored).transpose()
}

/// Every version, each instrument's newest first.
pub async fn list_instruments<'c>(conn: impl Source<'c>) -> DbResult<Vec<StoredInstrument>> {
    let rows =
        conn.query("SELECT content, loaded_at FROM instruments ORDER BY id, version DESC").fetch_all(conn).await?;
    rows.iter().map(stored).collect()
}

fn stored(row: &Row) -> DbResult<StoredInstrument> {
    let content: String = row.get("content")?;
    let instrument = serde_json::from_str(&content).map_err(|e| DbError::Sqlx(sqlx::Error::Decode(Box::new(e))))?;
    Ok(StoredInstrument { instrument, loaded_at: row.get("loaded_at")? })
}

/// A round's row: its answers still sealed.
#[derive(Clone, Debug)]
pub struct RoundRow {
    pub id: RoundId,
    pub workspace_id: Uuid,
    pub customer_id: Uuid,
    pub kind: String,
    pub instrument_id: String,
    pub instrument_version: i64,
    pub asked_by: Uuid,
    pub asked_at: DateTime<Utc>,
    pub submitted_at: Option<DateTime<Utc>>,
    pub answers_sealed: Option<Vec<u8>>,
    pub version: i64,
}

const ROUND_COLUMNS: &str = "id, workspace_id, customer_id, kind, instrument_id, instrument_version, asked_by, \
     asked_at, submitted_at, answers_sealed, version";

pub async fn insert_round(tx: &mut Tx, round: &RoundRow) -> DbResult<()> {
    tx.query(&format!("INSERT INTO rounds ({ROUND_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"))
        .bind(round.id.as_uuid())
        .bind(round.workspace_id)
        .bind(round.customer_id)
        .bind(round.kind.clone())
        .bind(round.instrument_id.clone())
        .bind(round.instrument_version)
        .bind(round.asked_by)
        .bind(round.asked_at)
        .bind(round.submitted_at)
        .bind(round.answers_sealed.clone())
        .bind(round.version)
        .execute(tx)
        .await?;
    Ok(())
}

pub async fn find_round<'c>(conn: impl Source<'c>, id: RoundId) -> DbResult<Option<RoundRow>> {
    let row = conn
        .query(&format!("SELECT {ROUND_COLUMNS} FROM rounds WHERE id = $1"))
        .bind(id.as_uuid())
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(round).transpose()
}

/// A workspace's rounds, oldest first.
pub async fn rounds_of_workspace<'c>(conn: impl Source<'c>, workspace: Uuid) -> DbResult<Vec<RoundRow>> {
    let rows = conn
        .query(&format!("SELECT {ROUND_COLUMNS} FROM rounds WHERE workspace_id = $1 ORDER BY asked_at, id"))
        .bind(workspace)
        .fetch_all(conn)
        .await?;
    rows.iter().map(round).collect()
}

/// Replaces a round's answers if it is still at `version` and not submitted; whether it was.
pub async fn save_answers(
    tx: &mut Tx,
    id: RoundId,
    version: i64,
    sealed: Vec<u8>,
    submitted_at: Option<DateTime<Utc>>,
) -> DbResult<bool> {
    let done = tx
        .query(
            "UPDATE rounds SET answers_sealed = $1, submitted_at = $2, version = version + 1 \
             WHERE id = $3 AND version = $4 AND submitted_at IS NULL",
        )
        .bind(sealed)
        .bind(submitted_at)
        .bind(id.as_uuid())
        .bind(version)
        .execute(tx)
        .await?;
    Ok(done == 1)
}

fn round(row: &Row) -> DbResult<RoundRow> {
    Ok(RoundRow {
        id: RoundId(row.get("id")?),
        workspace_id: row.get("workspace_id")?,
        customer_id: row.get("customer_id")?,
        kind: row.get("kind")?,
        instrument_id: row.get("instrument_id")?,
        instrument_version: row.get("instrument_version")?,
        asked_by: row.get("asked_by")?,
        asked_at: row.get("asked_at")?,
        submitted_at: row.get("submitted_at")?,
        answers_sealed: row.get("answers_sealed")?,
        version: row.get("version")?,
    })
}

/// Deletes a workspace's rounds and the idempotency keys that named them; the counts by table.
pub async fn delete_workspace(tx: &mut Tx, workspace: Uuid) -> DbResult<std::collections::BTreeMap<String, i64>> {
    let keys = tx
        .query("DELETE FROM idempotency_keys WHERE resource_id IN (SELECT id FROM rounds WHERE workspace_id = $1)")
        .bind(workspace)
        .execute(&mut *tx)
        .await?;
    let rounds = tx.query("DELETE FROM rounds WHERE workspace_id = $1").bind(workspace).execute(&mut *tx).await?;
    let count = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
    Ok(std::collections::BTreeMap::from([
        ("idempotency_keys".to_owned(), count(keys)),
        ("rounds".to_owned(), count(rounds)),
    ]))
}
