//! The surveys service's SQL: one text for PostgreSQL and SQLite.

use chrono::{DateTime, Utc};
use ohjaus_platform::db::{DbError, DbResult, Row, Source, Tx};

use crate::domain::Instrument;

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
