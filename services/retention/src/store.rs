//! SQL of the evidence: deletions decided, their steps per service, the claims of runs.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use ohjaus_platform::{
    config::DatabaseBackend,
    db::{Db, Row, Source, Tx},
    service::{ServiceError, ServiceResult},
};
use uuid::Uuid;

/// A deletion as recorded.
#[derive(Clone, Debug)]
pub struct DeletionRow {
    pub id: Uuid,
    pub subject_kind: String,
    pub subject_id: Uuid,
    pub rule: String,
    pub due_at: DateTime<Utc>,
    pub decided_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
}

/// One service's part of a deletion.
#[derive(Clone, Debug)]
pub struct StepRow {
    pub service: String,
    pub target_id: Uuid,
    pub outcome: String,
    pub counts: BTreeMap<String, i64>,
    pub attempts: i64,
    pub completed_at: Option<DateTime<Utc>>,
}

const DELETION_COLUMNS: &str = "id, subject_kind, subject_id, rule, due_at, decided_at, completed_at";

fn deletion(row: &Row) -> ServiceResult<DeletionRow> {
    Ok(DeletionRow {
        id: row.get("id")?,
        subject_kind: row.get("subject_kind")?,
        subject_id: row.get("subject_id")?,
        rule: row.get("rule")?,
        due_at: row.get("due_at")?,
        decided_at: row.get("decided_at")?,
        completed_at: row.get("completed_at")?,
    })
}

/// Records the decision with its steps, unless the subject has one already; whether it was new.
pub async fn decide(tx: &mut Tx, d: &DeletionRow, steps: &[(&str, Uuid)]) -> ServiceResult<bool> {
    let inserted = tx
        .query(&format!(
            "INSERT INTO deletions ({DELETION_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, NULL) \
             ON CONFLICT (subject_kind, subject_id) DO NOTHING"
        ))
        .bind(d.id)
        .bind(d.subject_kind.clone())
        .bind(d.subject_id)
        .bind(d.rule.clone())
        .bind(d.due_at)
        .bind(d.decided_at)
        .execute(&mut *tx)
        .await?;
    if inserted == 0 {
        return Ok(false);
    }
    for (position, (service, target)) in steps.iter().enumerate() {
        tx.query(
            "INSERT INTO deletion_steps (deletion_id, service, target_id, position, outcome, counts, attempts) \
             VALUES ($1, $2, $3, $4, 'pending', '{}', 0)",
        )
        .bind(d.id)
        .bind((*service).to_owned())
        .bind(*target)
        .bind(i64::try_from(position).unwrap_or(i64::MAX))
        .execute(&mut *tx)
        .await?;
    }
    Ok(true)
}

/// Claims up to `limit` unfinished deletions after `after` that no live claim holds, until
/// `until`: in one statement, skipping rows another run has locked (PostgreSQL).
pub async fn claim(
    db: &Db,
    now: DateTime<Utc>,
    until: DateTime<Utc>,
    after: Uuid,
    limit: i64,
) -> ServiceResult<Vec<DeletionRow>> {
    let locking = if db.backend() == DatabaseBackend::Postgres { " FOR UPDATE SKIP LOCKED" } else { "" };
    let sql = format!(
        "UPDATE deletions SET claimed_until = $1 WHERE id IN (SELECT id FROM deletions \
         WHERE completed_at IS NULL AND (claimed_until IS NULL OR claimed_until <= $2) AND id > $3 \
         ORDER BY id LIMIT $4{locking}) RETURNING {DELETION_COLUMNS}"
    );
    let mut tx = db.begin().await?;
    let rows = tx.query(&sql).bind(until).bind(now).bind(after).bind(limit).fetch_all(&mut tx).await?;
    tx.commit().await?;
    let mut claimed = rows.iter().map(deletion).collect::<ServiceResult<Vec<_>>>()?;
    claimed.sort_by_key(|d| d.id);
    Ok(claimed)
}

/// Gives a claim up, so the next run may take the deletion at once.
pub async fn release(db: &Db, id: Uuid) -> ServiceResult<()> {
    db.query("UPDATE deletions SET claimed_until = NULL WHERE id = $1").bind(id).execute(db).await?;
    Ok(())
}

fn counts_of(text: &str) -> ServiceResult<BTreeMap<String, i64>> {
    serde_json::from_str(text).map_err(|_| ServiceError::corrupt("stored deletion counts"))
}

pub async fn steps<'c>(conn: impl Source<'c>, deletion: Uuid) -> ServiceResult<Vec<StepRow>> {
    conn.query(
        "SELECT service, target_id, outcome, counts, attempts, completed_at FROM deletion_steps \
         WHERE deletion_id = $1 ORDER BY position",
    )
    .bind(deletion)
    .fetch_all(conn)
    .await?
    .iter()
    .map(|row| {
        Ok(StepRow {
            service: row.get("service")?,
            target_id: row.get("target_id")?,
            outcome: row.get("outcome")?,
            counts: counts_of(&row.get::<String>("counts")?)?,
            attempts: row.get("attempts")?,
            completed_at: row.get("completed_at")?,
        })
    })
    .collect()
}

pub async fn count_attempt(db: &Db, deletion: Uuid, service: &str, target: Uuid) -> ServiceResult<()> {
    db.query(
        "UPDATE deletion_steps SET attempts = attempts + 1 WHERE deletion_id = $1 AND service = $2 AND target_id = $3",
    )
    .bind(deletion)
    .bind(service.to_owned())
    .bind(target)
    .execute(db)
    .await?;
    Ok(())
}

/// Keeps a service's answer, once: a step already answered keeps its first answer.
pub async fn complete_step(
    db: &Db,
    deletion: Uuid,
    service: &str,
    target: Uuid,
    outcome: &str,
    counts: &BTreeMap<String, i64>,
    now: DateTime<Utc>,
) -> ServiceResult<bool> {
    let counts = serde_json::to_string(counts).map_err(|e| ServiceError::corrupt(e.to_string()))?;
    let changed = db
        .query(
            "UPDATE deletion_steps SET outcome = $4, counts = $5, completed_at = $6 \
             WHERE deletion_id = $1 AND service = $2 AND target_id = $3 AND outcome = 'pending'",
        )
        .bind(deletion)
        .bind(service.to_owned())
        .bind(target)
        .bind(outcome.to_owned())
        .bind(counts)
        .bind(now)
        .execute(db)
        .await?;
    Ok(changed == 1)
}

/// Marks the deletion complete once every step has answered.
pub async fn complete(db: &Db, deletion: Uuid, now: DateTime<Utc>) -> ServiceResult<bool> {
    let changed = db
        .query(
            "UPDATE deletions SET completed_at = $2, claimed_until = NULL WHERE id = $1 AND completed_at IS NULL \
             AND NOT EXISTS (SELECT 1 FROM deletion_steps WHERE deletion_id = $1 AND outcome = 'pending')",
        )
        .bind(deletion)
        .bind(now)
        .execute(db)
        .await?;
    Ok(changed == 1)
}

/// When the longest-waiting unfinished deletion fell due, if any is unfinished.
pub async fn oldest_unfinished(db: &Db) -> ServiceResult<Option<DateTime<Utc>>> {
    let row = db
        .query("SELECT due_at FROM deletions WHERE completed_at IS NULL ORDER BY due_at LIMIT 1")
        .fetch_optional(db)
        .await?;
    row.map(|r| r.get("due_at")).transpose().map_err(Into::into)
}

/// Unfinished deletions (for the gauge).
pub async fn unfinished(db: &Db) -> ServiceResult<i64> {
    Ok(db.query("SELECT COUNT(*) AS n FROM deletions WHERE completed_at IS NULL").fetch_one(db).await?.get("n")?)
}

/// A page of deletions in id order (the order they were decided).
pub async fn page(db: &Db, after: Option<Uuid>, limit: i64) -> ServiceResult<Vec<DeletionRow>> {
    db.query(&format!("SELECT {DELETION_COLUMNS} FROM deletions WHERE id > $1 ORDER BY id LIMIT $2"))
        .bind(after.unwrap_or(Uuid::nil()))
        .bind(limit)
        .fetch_all(db)
        .await?
        .iter()
        .map(deletion)
        .collect()
}

pub async fn find(db: &Db, id: Uuid) -> ServiceResult<Option<DeletionRow>> {
    db.query(&format!("SELECT {DELETION_COLUMNS} FROM deletions WHERE id = $1"))
        .bind(id)
        .fetch_optional(db)
        .await?
        .as_ref()
        .map(deletion)
        .transpose()
}

/// A finished run as recorded: counts by (rule, action).
#[derive(Clone, Debug)]
pub struct RunRow {
    pub id: Uuid,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub duration_ms: i64,
    pub counts: BTreeMap<String, i64>,
}

/// How long the record of a run is kept: long enough to see a trend, short enough to stay small.
const RUNS_KEPT_DAYS: i64 = 90;

/// Records a finished run and forgets runs older than the period above.
pub async fn record_run(db: &Db, run: &RunRow) -> ServiceResult<()> {
    let counts = serde_json::to_string(&run.counts).map_err(|e| ServiceError::corrupt(e.to_string()))?;
    let mut tx = db.begin().await?;
    tx.query("INSERT INTO runs (id, started_at, finished_at, duration_ms, counts) VALUES ($1, $2, $3, $4, $5)")
        .bind(run.id)
        .bind(run.started_at)
        .bind(run.finished_at)
        .bind(run.duration_ms)
        .bind(counts)
        .execute(&mut tx)
        .await?;
    tx.query("DELETE FROM runs WHERE finished_at < $1")
        .bind(run.finished_at - chrono::Duration::days(RUNS_KEPT_DAYS))
        .execute(&mut tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// The newest finished run, if any.
pub async fn last_run(db: &Db) -> ServiceResult<Option<RunRow>> {
    let Some(row) = db
        .query("SELECT id, started_at, finished_at, duration_ms, counts FROM runs ORDER BY finished_at DESC LIMIT 1")
        .fetch_optional(db)
        .await?
    else {
        return Ok(None);
    };
    let counts: String = row.get("counts")?;
    Ok(Some(RunRow {
        id: row.get("id")?,
        started_at: row.get("started_at")?,
        finished_at: row.get("finished_at")?,
        duration_ms: row.get("duration_ms")?,
        counts: serde_json::from_str(&counts).map_err(|_| ServiceError::corrupt("stored run counts"))?,
    }))
}

/// Completed deletions (for the gauge).
pub async fn completed(db: &Db) -> ServiceResult<i64> {
    Ok(db.query("SELECT COUNT(*) AS n FROM deletions WHERE completed_at IS NOT NULL").fetch_one(db).await?.get("n")?)
}
