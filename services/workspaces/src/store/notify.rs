//! Notifications and the mail queue.

use chrono::{DateTime, Utc};
use ohjaus_platform::{
    db::{Db, Tx},
    ids::PageRequest,
    service::ServiceResult,
};
use uuid::Uuid;

use super::actor_of;
use crate::domain::{Actor, NotificationId, WorkspaceId};

pub struct NotificationRow {
    pub id: NotificationId,
    pub recipient: Actor,
    pub workspace_id: WorkspaceId,
    pub kind: String,
    pub subject_id: Uuid,
    pub created_at: DateTime<Utc>,
    pub read_at: Option<DateTime<Utc>>,
}

pub async fn insert_notification(tx: &mut Tx, n: &NotificationRow) -> ServiceResult<()> {
    tx.query(
        "INSERT INTO notifications (id, recipient_kind, recipient_id, workspace_id, kind, subject_id, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(n.id.as_uuid())
    .bind(n.recipient.kind())
    .bind(n.recipient.id())
    .bind(n.workspace_id.as_uuid())
    .bind(n.kind.clone())
    .bind(n.subject_id)
    .bind(n.created_at)
    .execute(tx)
    .await?;
    Ok(())
}

/// The recipient's notifications, newest first.
pub async fn notifications_page(
    db: &Db,
    recipient: Actor,
    unread_only: bool,
    page: &PageRequest,
) -> ServiceResult<Vec<NotificationRow>> {
    let unread = if unread_only { " AND read_at IS NULL" } else { "" };
    db.query(&format!(
        "SELECT id, workspace_id, kind, subject_id, created_at, read_at FROM notifications \
         WHERE recipient_kind = $1 AND recipient_id = $2 AND id < $3{unread} ORDER BY id DESC LIMIT $4"
    ))
    .bind(recipient.kind())
    .bind(recipient.id())
    .bind(page.after.unwrap_or(Uuid::max()))
    .bind(page.fetch_limit())
    .fetch_all(db)
    .await?
    .iter()
    .map(|row| {
        Ok(NotificationRow {
            id: NotificationId(row.get("id")?),
            recipient,
            workspace_id: WorkspaceId(row.get("workspace_id")?),
            kind: row.get("kind")?,
            subject_id: row.get("subject_id")?,
            created_at: row.get("created_at")?,
            read_at: row.get("read_at")?,
        })
    })
    .collect()
}

pub async fn unread_count(db: &Db, recipient: Actor) -> ServiceResult<i64> {
    let row = db
        .query("SELECT COUNT(*) AS n FROM notifications WHERE recipient_kind = $1 AND recipient_id = $2 AND read_at IS NULL")
        .bind(recipient.kind())
        .bind(recipient.id())
        .fetch_one(db)
        .await?;
    Ok(row.get("n")?)
}

/// Marks the recipient's notifications read (the given ones, or all); how many changed.
pub async fn mark_notifications_read(
    tx: &mut Tx,
    recipient: Actor,
    ids: &[NotificationId],
    now: DateTime<Utc>,
) -> ServiceResult<u64> {
    if ids.is_empty() {
        return Ok(tx
            .query("UPDATE notifications SET read_at = $3 WHERE recipient_kind = $1 AND recipient_id = $2 AND read_at IS NULL")
            .bind(recipient.kind())
            .bind(recipient.id())
            .bind(now)
            .execute(tx)
            .await?);
    }
    let mut marked = 0;
    for id in ids {
        marked += tx
            .query(
                "UPDATE notifications SET read_at = $4 WHERE id = $3 AND recipient_kind = $1 AND recipient_id = $2 AND read_at IS NULL",
            )
            .bind(recipient.kind())
            .bind(recipient.id())
            .bind(id.as_uuid())
            .bind(now)
            .execute(&mut *tx)
            .await?;
    }
    Ok(marked)
}

/// Recipients with unread, unmailed messages who were not mailed since `mailed_before`. Other
/// notifications (an accepted invitation, say) are in the app only, or have mail of their own.
pub async fn due_for_mail(db: &Db, mailed_before: DateTime<Utc>, limit: i64) -> ServiceResult<Vec<Actor>> {
    db.query(
        "SELECT DISTINCT n.recipient_kind, n.recipient_id FROM notifications n \
         LEFT JOIN mail_state s ON s.recipient_kind = n.recipient_kind AND s.recipient_id = n.recipient_id \
         WHERE n.kind = 'message' AND n.mailed_at IS NULL AND n.read_at IS NULL \
         AND (s.last_mailed_at IS NULL OR s.last_mailed_at <= $1) LIMIT $2",
    )
    .bind(mailed_before)
    .bind(limit)
    .fetch_all(db)
    .await?
    .iter()
    .map(|row| actor_of(&row.get::<String>("recipient_kind")?, row.get("recipient_id")?))
    .collect()
}

/// Takes the recipient's mail window in `tx`: `true` for the one worker, of whichever replica,
/// that may mail them now (they were not mailed since `mailed_before`). The recipient's row
/// stays locked until `tx` ends; a replica that asks meanwhile waits, then finds it taken.
pub async fn claim_mail_window(
    tx: &mut Tx,
    recipient: Actor,
    mailed_before: DateTime<Utc>,
    now: DateTime<Utc>,
) -> ServiceResult<bool> {
    let claimed = tx
        .query(
            "INSERT INTO mail_state (recipient_kind, recipient_id, last_mailed_at) VALUES ($1, $2, $3) \
             ON CONFLICT (recipient_kind, recipient_id) DO UPDATE SET last_mailed_at = excluded.last_mailed_at \
             WHERE mail_state.last_mailed_at <= $4 RETURNING recipient_id",
        )
        .bind(recipient.kind())
        .bind(recipient.id())
        .bind(now)
        .bind(mailed_before)
        .fetch_optional(&mut *tx)
        .await?;
    Ok(claimed.is_some())
}

/// A notification the batch took: where, of what kind, and whether it was unread.
pub struct ClaimedNotification {
    pub id: NotificationId,
    pub workspace_id: WorkspaceId,
    pub kind: String,
    pub unread: bool,
}

/// Marks the recipient's unmailed notifications mailed, in `tx`, and returns them: a batch
/// announces each once.
pub async fn claim_notifications(
    tx: &mut Tx,
    recipient: Actor,
    now: DateTime<Utc>,
) -> ServiceResult<Vec<ClaimedNotification>> {
    tx.query(
        "UPDATE notifications SET mailed_at = $3 WHERE recipient_kind = $1 AND recipient_id = $2 AND mailed_at IS NULL \
         RETURNING id, workspace_id, kind, read_at",
    )
    .bind(recipient.kind())
    .bind(recipient.id())
    .bind(now)
    .fetch_all(&mut *tx)
    .await?
    .iter()
    .map(|row| {
        Ok(ClaimedNotification {
            id: NotificationId(row.get("id")?),
            workspace_id: WorkspaceId(row.get("workspace_id")?),
            kind: row.get("kind")?,
            unread: row.get::<Option<DateTime<Utc>>>("read_at")?.is_none(),
        })
    })
    .collect()
}

pub struct OutgoingMailRow {
    pub id: Uuid,
    pub workspace_id: WorkspaceId,
    pub sealed: Vec<u8>,
    pub attempts: i64,
}

/// Takes a due mail for `lease`: `false` if another worker (another replica) took it first.
pub async fn claim_mail(db: &Db, id: Uuid, now: DateTime<Utc>, lease_until: DateTime<Utc>) -> ServiceResult<bool> {
    let claimed = db
        .query("UPDATE outgoing_mail SET next_attempt_at = $3 WHERE id = $1 AND next_attempt_at <= $2")
        .bind(id)
        .bind(now)
        .bind(lease_until)
        .execute(db)
        .await?;
    Ok(claimed == 1)
}

pub async fn queue_mail(tx: &mut Tx, row: &OutgoingMailRow, now: DateTime<Utc>) -> ServiceResult<()> {
    tx.query(
        "INSERT INTO outgoing_mail (id, workspace_id, sealed, attempts, next_attempt_at, created_at) VALUES ($1, $2, $3, $4, $5, $5)",
    )
    .bind(row.id)
    .bind(row.workspace_id.as_uuid())
    .bind(row.sealed.clone())
    .bind(row.attempts)
    .bind(now)
    .execute(tx)
    .await?;
    Ok(())
}

pub async fn due_mail(db: &Db, now: DateTime<Utc>, limit: i64) -> ServiceResult<Vec<OutgoingMailRow>> {
    db.query(
        "SELECT id, workspace_id, sealed, attempts FROM outgoing_mail WHERE next_attempt_at <= $1 ORDER BY next_attempt_at LIMIT $2",
    )
    .bind(now)
    .bind(limit)
    .fetch_all(db)
    .await?
    .iter()
    .map(|row| {
        Ok(OutgoingMailRow {
            id: row.get("id")?,
            workspace_id: WorkspaceId(row.get("workspace_id")?),
            sealed: row.get("sealed")?,
            attempts: row.get("attempts")?,
        })
    })
    .collect()
}

pub async fn mail_sent(db: &Db, id: Uuid) -> ServiceResult<()> {
    db.query("DELETE FROM outgoing_mail WHERE id = $1").bind(id).execute(db).await?;
    Ok(())
}

pub async fn mail_retry(db: &Db, id: Uuid, attempts: i64, next: DateTime<Utc>) -> ServiceResult<()> {
    db.query("UPDATE outgoing_mail SET attempts = $2, next_attempt_at = $3 WHERE id = $1")
        .bind(id)
        .bind(attempts)
        .bind(next)
        .execute(db)
        .await?;
    Ok(())
}

/// Marks a notification as already announced by its own mail, so the batch does not repeat it.
pub async fn mark_notification_mailed(tx: &mut Tx, id: NotificationId, now: DateTime<Utc>) -> ServiceResult<()> {
    tx.query("UPDATE notifications SET mailed_at = $2 WHERE id = $1")
        .bind(id.as_uuid())
        .bind(now)
        .execute(&mut *tx)
        .await?;
    Ok(())
}
