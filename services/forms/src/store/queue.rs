//! The advisors' queue: listing, changing a submission, its notes, replies and read log, and the
//! canned answers.

use chrono::{DateTime, Utc};
use ohjaus_platform::{
    db::{DbResult, Row, Source, Tx},
    ids::PageRequest,
};
use uuid::Uuid;

use super::submissions::submission;
use crate::domain::{Submission, SubmissionId, queue::Filters};

/// A page of an organisation's submissions in id order (oldest first, the order they are
/// answered in), filtered.
pub async fn list_submissions<'c>(
    conn: impl Source<'c>,
    organization: Uuid,
    filters: &Filters,
    page: PageRequest,
) -> DbResult<Vec<Submission>> {
    let rows = conn
        .query(
            "SELECT id, form_id, form_version, organization_id, office_id, topic, language, status, has_email, \
             sealed, assignee_id, workspace_id, version, created_at, updated_at FROM submissions \
             WHERE organization_id = $1 AND id > $2 \
             AND ($3 IS NULL OR status = $3) AND ($4 IS NULL OR topic = $4) \
             AND ($5 IS NULL OR office_id = $5) AND ($6 IS NULL OR form_id = $6) \
             ORDER BY id LIMIT $7",
        )
        .bind(organization)
        .bind(page.after.unwrap_or(Uuid::nil()))
        .bind(filters.status.map(|s| s.as_str().to_owned()))
        .bind(filters.topic.clone())
        .bind(filters.office_id)
        .bind(filters.form_id)
        .bind(page.fetch_limit())
        .fetch_all(conn)
        .await?;
    rows.iter().map(submission).collect()
}

/// Writes a changed submission if it is still at `expected` (false: someone changed it first).
pub async fn update_submission(tx: &mut Tx, s: &Submission, expected: i64) -> DbResult<bool> {
    let changed = tx
        .query(
            "UPDATE submissions SET topic = $1, status = $2, assignee_id = $3, workspace_id = $4, version = $5, \
             updated_at = $6 WHERE id = $7 AND version = $8",
        )
        .bind(s.topic.clone())
        .bind(s.status.as_str())
        .bind(s.assignee_id)
        .bind(s.workspace_id)
        .bind(s.version)
        .bind(s.updated_at)
        .bind(s.id.as_uuid())
        .bind(expected)
        .execute(tx)
        .await?;
    Ok(changed == 1)
}

/// A note or a reply: its id, who wrote or sent it, the sealed text, when.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SealedEntry {
    pub id: Uuid,
    pub by: Uuid,
    pub sealed: Vec<u8>,
    pub at: DateTime<Utc>,
}

pub async fn insert_note(tx: &mut Tx, submission: SubmissionId, note: &SealedEntry) -> DbResult<()> {
    tx.query(
        "INSERT INTO submission_notes (id, submission_id, author_id, sealed, created_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(note.id)
    .bind(submission.as_uuid())
    .bind(note.by)
    .bind(note.sealed.clone())
    .bind(note.at)
    .execute(tx)
    .await?;
    Ok(())
}

pub async fn insert_reply(tx: &mut Tx, submission: SubmissionId, reply: &SealedEntry) -> DbResult<()> {
    tx.query(
        "INSERT INTO submission_replies (id, submission_id, sender_id, sealed, sent_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(reply.id)
    .bind(submission.as_uuid())
    .bind(reply.by)
    .bind(reply.sealed.clone())
    .bind(reply.at)
    .execute(tx)
    .await?;
    Ok(())
}

fn entry(row: &Row, by: &str, at: &str) -> DbResult<SealedEntry> {
    Ok(SealedEntry { id: row.get("id")?, by: row.get(by)?, sealed: row.get("sealed")?, at: row.get(at)? })
}

pub async fn notes<'c>(conn: impl Source<'c>, submission: SubmissionId) -> DbResult<Vec<SealedEntry>> {
    let rows = conn
        .query("SELECT id, author_id, sealed, created_at FROM submission_notes WHERE submission_id = $1 ORDER BY id")
        .bind(submission.as_uuid())
        .fetch_all(conn)
        .await?;
    rows.iter().map(|r| entry(r, "author_id", "created_at")).collect()
}

pub async fn replies<'c>(conn: impl Source<'c>, submission: SubmissionId) -> DbResult<Vec<SealedEntry>> {
    let rows = conn
        .query("SELECT id, sender_id, sealed, sent_at FROM submission_replies WHERE submission_id = $1 ORDER BY id")
        .bind(submission.as_uuid())
        .fetch_all(conn)
        .await?;
    rows.iter().map(|r| entry(r, "sender_id", "sent_at")).collect()
}

/// Logs a read of a submission: who and when.
pub async fn log_read(tx: &mut Tx, submission: SubmissionId, reader: Uuid, at: DateTime<Utc>) -> DbResult<()> {
    tx.query("INSERT INTO submission_reads (id, submission_id, reader_id, read_at) VALUES ($1, $2, $3, $4)")
        .bind(ohjaus_platform::ids::new_id())
        .bind(submission.as_uuid())
        .bind(reader)
        .bind(at)
        .execute(tx)
        .await?;
    Ok(())
}

/// A canned answer as stored: its texts (JSON of the languages) and topics (comma-separated).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CannedRow {
    pub id: Uuid,
    pub organization_id: Uuid,
    pub title: String,
    pub texts: String,
    pub topics: String,
    pub created_at: DateTime<Utc>,
}

pub async fn insert_canned(tx: &mut Tx, row: &CannedRow) -> DbResult<()> {
    tx.query(
        "INSERT INTO canned_answers (id, organization_id, title, texts, topics, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(row.id)
    .bind(row.organization_id)
    .bind(row.title.clone())
    .bind(row.texts.clone())
    .bind(row.topics.clone())
    .bind(row.created_at)
    .execute(tx)
    .await?;
    Ok(())
}

fn canned(row: &Row) -> DbResult<CannedRow> {
    Ok(CannedRow {
        id: row.get("id")?,
        organization_id: row.get("organization_id")?,
        title: row.get("title")?,
        texts: row.get("texts")?,
        topics: row.get("topics")?,
        created_at: row.get("created_at")?,
    })
}

pub async fn list_canned<'c>(conn: impl Source<'c>, organization: Uuid) -> DbResult<Vec<CannedRow>> {
    let rows = conn
        .query(
            "SELECT id, organization_id, title, texts, topics, created_at FROM canned_answers \
             WHERE organization_id = $1 ORDER BY id LIMIT 1000",
        )
        .bind(organization)
        .fetch_all(conn)
        .await?;
    rows.iter().map(canned).collect()
}

pub async fn find_canned<'c>(conn: impl Source<'c>, id: Uuid) -> DbResult<Option<CannedRow>> {
    let row = conn
        .query("SELECT id, organization_id, title, texts, topics, created_at FROM canned_answers WHERE id = $1")
        .bind(id)
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(canned).transpose()
}

pub async fn delete_canned(tx: &mut Tx, id: Uuid) -> DbResult<u64> {
    tx.query("DELETE FROM canned_answers WHERE id = $1").bind(id).execute(tx).await
}
