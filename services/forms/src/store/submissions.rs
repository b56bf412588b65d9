//! Submissions, the proof-of-work solutions already used, and the deletion of old submissions.

use chrono::{DateTime, Utc};
use ohjaus_platform::{
    db::{DbError, DbResult, Row, Source, Tx},
    i18n::Language,
};
use uuid::Uuid;

use crate::domain::{FormId, Status, Submission, SubmissionId};

pub async fn insert_submission(tx: &mut Tx, s: &Submission) -> DbResult<()> {
    tx.query(
        "INSERT INTO submissions (id, form_id, form_version, organization_id, office_id, topic, language, status, \
         has_email, sealed, assignee_id, workspace_id, version, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
    )
    .bind(s.id.as_uuid())
    .bind(s.form_id.as_uuid())
    .bind(s.form_version)
    .bind(s.organization_id)
    .bind(s.office_id)
    .bind(s.topic.clone())
    .bind(s.language.code())
    .bind(s.status.as_str())
    .bind(s.has_email)
    .bind(s.sealed.clone())
    .bind(s.assignee_id)
    .bind(s.workspace_id)
    .bind(s.version)
    .bind(s.created_at)
    .bind(s.updated_at)
    .execute(tx)
    .await?;
    Ok(())
}

const COLUMNS: &str = "id, form_id, form_version, organization_id, office_id, topic, language, status, has_email, \
     sealed, assignee_id, workspace_id, version, created_at, updated_at";

pub async fn find_submission<'c>(conn: impl Source<'c>, id: SubmissionId) -> DbResult<Option<Submission>> {
    let sql = format!("SELECT {COLUMNS} FROM submissions WHERE id = $1");
    let row = conn.query(&sql).bind(id.as_uuid()).fetch_optional(conn).await?;
    row.as_ref().map(submission).transpose()
}

pub(crate) fn submission(row: &Row) -> DbResult<Submission> {
    let corrupt = |what: &str| DbError::Sqlx(sqlx::Error::Decode(format!("submission {what}").into()));
    let language: String = row.get("language")?;
    let status: String = row.get("status")?;
    Ok(Submission {
        id: SubmissionId(row.get("id")?),
        form_id: FormId(row.get("form_id")?),
        form_version: row.get("form_version")?,
        organization_id: row.get("organization_id")?,
        office_id: row.get("office_id")?,
        topic: row.get("topic")?,
        language: language.parse::<Language>().map_err(|()| corrupt("language"))?,
        status: Status::parse(&status).ok_or_else(|| corrupt("status"))?,
        has_email: row.get("has_email")?,
        sealed: row.get("sealed")?,
        assignee_id: row.get("assignee_id")?,
        workspace_id: row.get("workspace_id")?,
        version: row.get("version")?,
        created_at: row.get("created_at")?,
        updated_at: row.get("updated_at")?,
    })
}

/// Keeps a proof-of-work challenge as used; false if it was used already.
pub async fn use_challenge(tx: &mut Tx, challenge: &str, expires_at: DateTime<Utc>) -> DbResult<bool> {
    let inserted = tx
        .query("INSERT INTO used_challenges (challenge, expires_at) VALUES ($1, $2) ON CONFLICT (challenge) DO NOTHING")
        .bind(challenge.to_owned())
        .bind(expires_at)
        .execute(tx)
        .await?;
    Ok(inserted == 1)
}

/// Forgets used challenges that have expired: they cannot be sent again anyway.
pub async fn purge_used_challenges(tx: &mut Tx, now: DateTime<Utc>) -> DbResult<u64> {
    tx.query("DELETE FROM used_challenges WHERE expires_at <= $1").bind(now).execute(tx).await
}

/// Up to `limit` submissions not converted whose last change is before `before`, in id order.
pub async fn stale_submissions<'c>(
    conn: impl Source<'c>,
    before: DateTime<Utc>,
    after: Option<Uuid>,
    limit: i64,
) -> DbResult<Vec<SubmissionId>> {
    let rows = conn
        .query("SELECT id FROM submissions WHERE status <> $1 AND updated_at < $2 AND id > $3 ORDER BY id LIMIT $4")
        .bind(Status::Converted.as_str())
        .bind(before)
        .bind(after.unwrap_or(Uuid::nil()))
        .bind(limit)
        .fetch_all(conn)
        .await?;
    rows.iter().map(|row| Ok(SubmissionId(row.get("id")?))).collect()
}

/// Deletes a submission and everything that belongs to it, if it is still not converted and
/// unchanged since `before` (the rule checked again just before acting). Rows deleted per table;
/// none if the rule no longer holds.
pub async fn delete_stale_submission(
    tx: &mut Tx,
    id: SubmissionId,
    before: DateTime<Utc>,
) -> DbResult<Vec<(&'static str, u64)>> {
    let due = tx
        .query("SELECT id FROM submissions WHERE id = $1 AND status <> $2 AND updated_at < $3")
        .bind(id.as_uuid())
        .bind(Status::Converted.as_str())
        .bind(before)
        .fetch_optional(&mut *tx)
        .await?;
    if due.is_none() {
        return Ok(Vec::new());
    }
    delete_submission(tx, id).await
}

/// The submissions converted into `workspace`.
pub async fn converted_into<'c>(conn: impl Source<'c>, workspace: Uuid) -> DbResult<Vec<SubmissionId>> {
    let rows = conn
        .query("SELECT id FROM submissions WHERE workspace_id = $1 ORDER BY id")
        .bind(workspace)
        .fetch_all(conn)
        .await?;
    rows.iter().map(|row| Ok(SubmissionId(row.get("id")?))).collect()
}

/// Deletes a submission and everything that belongs to it; rows deleted per table.
pub async fn delete_submission(tx: &mut Tx, id: SubmissionId) -> DbResult<Vec<(&'static str, u64)>> {
    let mut deleted = Vec::new();
    for table in ["submission_notes", "submission_replies", "submission_reads"] {
        let sql = format!("DELETE FROM {table} WHERE submission_id = $1");
        deleted.push((table, tx.query(&sql).bind(id.as_uuid()).execute(&mut *tx).await?));
    }
    let rows = tx.query("DELETE FROM submissions WHERE id = $1").bind(id.as_uuid()).execute(&mut *tx).await?;
    deleted.push(("submissions", rows));
    Ok(deleted)
}
