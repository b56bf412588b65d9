//! Retention's sweeps: one batch of workspaces due under a rule, in id order after a keyset
//! cursor. On PostgreSQL the batch is locked as it is read (`FOR UPDATE SKIP LOCKED`): rows
//! another run holds are skipped, and each row's rule is checked again on its newest version
//! when it is locked, so a customer's visit committed a moment before keeps her workspace open.
//! On SQLite the caller's transaction holds the database's one write lock (`BEGIN IMMEDIATE`),
//! so the read and the change are one step there too.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use ohjaus_platform::{
    config::DatabaseBackend,
    db::{Source, Tx},
    service::ServiceResult,
};
use uuid::Uuid;

use crate::domain::{State, WorkspaceId};

/// Which rule a sweep applies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sweep {
    CloseNotice,
    Close,
    ArchiveNotice,
    Archive,
    ListDeletable,
}

/// What the customers' visits count from: the last one, or the creation when none came.
const SEEN: &str = "COALESCE(customer_last_seen_at, created_at)";

impl Sweep {
    /// The rule as SQL: `$1` the due time, `$4` the latest notice time (closing, archiving).
    fn condition(self) -> String {
        match self {
            Sweep::CloseNotice => {
                format!("state = 'active' AND {SEEN} < $1 AND (close_notice_at IS NULL OR close_notice_at < {SEEN})")
            }
            Sweep::Close => format!(
                "state = 'active' AND {SEEN} < $1 AND close_notice_at IS NOT NULL AND close_notice_at >= {SEEN} \
                 AND close_notice_at <= $4"
            ),
            Sweep::ArchiveNotice => {
                "state = 'closed' AND closed_at < $1 AND (archive_notice_at IS NULL OR archive_notice_at < closed_at)"
                    .into()
            }
            Sweep::Archive => "state = 'closed' AND closed_at < $1 AND archive_notice_at IS NOT NULL \
                               AND archive_notice_at >= closed_at AND archive_notice_at <= $4"
                .into(),
            Sweep::ListDeletable => "state = 'archived' AND COALESCE(archived_at, updated_at) < $1".into(),
        }
    }

    fn uses_notice(self) -> bool {
        matches!(self, Sweep::Close | Sweep::Archive)
    }
}

/// A workspace a sweep found due.
pub struct DueRow {
    pub id: WorkspaceId,
    pub organization_id: Uuid,
    pub owner_id: Uuid,
    /// What the rule counts from.
    pub since: DateTime<Utc>,
}

/// Up to `limit` workspaces due under `sweep` with an id after `after`, locked for the
/// caller's transaction unless `lock` is off (a dry run, a listing).
pub async fn due_batch<'c>(
    conn: impl Source<'c>,
    sweep: Sweep,
    due_before: DateTime<Utc>,
    notice_before: DateTime<Utc>,
    after: Uuid,
    limit: i64,
    lock: bool,
) -> ServiceResult<Vec<DueRow>> {
    let locking = if lock && conn.backend() == DatabaseBackend::Postgres { " FOR UPDATE SKIP LOCKED" } else { "" };
    let sql = format!(
        "SELECT id, organization_id, owner_id, created_at, customer_last_seen_at, closed_at, archived_at, updated_at \
         FROM workspaces WHERE {} AND id > $2 ORDER BY id LIMIT $3{locking}",
        sweep.condition()
    );
    let mut query = conn.query(&sql).bind(due_before).bind(after).bind(limit);
    if sweep.uses_notice() {
        query = query.bind(notice_before);
    }
    let rows = query.fetch_all(conn).await?;
    rows.iter()
        .map(|row| {
            let created: DateTime<Utc> = row.get("created_at")?;
            let since = match sweep {
                Sweep::CloseNotice | Sweep::Close => {
                    row.get::<Option<DateTime<Utc>>>("customer_last_seen_at")?.unwrap_or(created)
                }
                Sweep::ArchiveNotice | Sweep::Archive => {
                    row.get::<Option<DateTime<Utc>>>("closed_at")?.unwrap_or(created)
                }
                Sweep::ListDeletable => match row.get::<Option<DateTime<Utc>>>("archived_at")? {
                    Some(at) => at,
                    None => row.get("updated_at")?,
                },
            };
            Ok(DueRow {
                id: WorkspaceId(row.get("id")?),
                organization_id: row.get("organization_id")?,
                owner_id: row.get("owner_id")?,
                since,
            })
        })
        .collect()
}

pub async fn mark_close_notice(tx: &mut Tx, id: WorkspaceId, now: DateTime<Utc>) -> ServiceResult<()> {
    tx.query("UPDATE workspaces SET close_notice_at = $2 WHERE id = $1")
        .bind(id.as_uuid())
        .bind(now)
        .execute(tx)
        .await?;
    Ok(())
}

pub async fn mark_archive_notice(tx: &mut Tx, id: WorkspaceId, now: DateTime<Utc>) -> ServiceResult<()> {
    tx.query("UPDATE workspaces SET archive_notice_at = $2 WHERE id = $1")
        .bind(id.as_uuid())
        .bind(now)
        .execute(tx)
        .await?;
    Ok(())
}

/// Closes (`Closed`, from now) or archives (`Archived`, from now) a workspace.
pub async fn retire(tx: &mut Tx, id: WorkspaceId, state: State, now: DateTime<Utc>) -> ServiceResult<()> {
    let sql = match state {
        State::Closed => {
            "UPDATE workspaces SET state = 'closed', closed_at = $2, updated_at = $2, version = version + 1 WHERE id = $1"
        }
        _ => {
            "UPDATE workspaces SET state = 'archived', archived_at = $2, updated_at = $2, version = version + 1 \
              WHERE id = $1"
        }
    };
    tx.query(sql).bind(id.as_uuid()).bind(now).execute(tx).await?;
    Ok(())
}

/// When an archived workspace was archived (for the archive operation's callers).
pub async fn mark_archived(tx: &mut Tx, id: WorkspaceId, now: DateTime<Utc>) -> ServiceResult<()> {
    tx.query("UPDATE workspaces SET archived_at = $2 WHERE id = $1").bind(id.as_uuid()).bind(now).execute(tx).await?;
    Ok(())
}

/// The customer accounts that are members of the workspace.
pub async fn customers_of<'c>(conn: impl Source<'c>, id: WorkspaceId) -> ServiceResult<Vec<Uuid>> {
    conn.query("SELECT member_id FROM members WHERE workspace_id = $1 AND member_kind = 'customer' ORDER BY member_id")
        .bind(id.as_uuid())
        .fetch_all(conn)
        .await?
        .iter()
        .map(|row| Ok(row.get("member_id")?))
        .collect()
}

/// How many workspaces the customer account is a member of.
pub async fn customer_workspaces<'c>(conn: impl Source<'c>, customer: Uuid) -> ServiceResult<i64> {
    Ok(conn
        .query("SELECT COUNT(*) AS n FROM members WHERE member_kind = 'customer' AND member_id = $1")
        .bind(customer)
        .fetch_one(conn)
        .await?
        .get("n")?)
}

/// The tables holding a workspace's rows, children first; each has a `workspace_id`.
const CHILD_TABLES: [&str; 12] = [
    "access_log",
    "consent_grants",
    "files",
    "guidance_items",
    "invitations",
    "members",
    "messages",
    "notifications",
    "outgoing_mail",
    "read_markers",
    "summaries",
    "workspaces",
];

/// Deletes a workspace's rows table by table and counts them: the idempotency keys that name
/// it or anything in it, every child row, the mail state of its customers who are in no other
/// workspace, and the workspace row with its wrapped key.
pub async fn delete_everything(tx: &mut Tx, id: WorkspaceId) -> ServiceResult<BTreeMap<String, i64>> {
    let mut counts = BTreeMap::new();
    let keys = tx
        .query(
            "DELETE FROM idempotency_keys WHERE resource_id = $1 \
             OR resource_id IN (SELECT id FROM messages WHERE workspace_id = $1) \
             OR resource_id IN (SELECT id FROM guidance_items WHERE workspace_id = $1) \
             OR resource_id IN (SELECT id FROM invitations WHERE workspace_id = $1) \
             OR resource_id IN (SELECT id FROM files WHERE workspace_id = $1)",
        )
        .bind(id.as_uuid())
        .execute(&mut *tx)
        .await?;
    counts.insert("idempotency_keys".to_owned(), i64::try_from(keys).unwrap_or(i64::MAX));
    let customers = customers_of(&mut *tx, id).await?;
    for table in CHILD_TABLES {
        let column = if table == "workspaces" { "id" } else { "workspace_id" };
        let deleted =
            tx.query(&format!("DELETE FROM {table} WHERE {column} = $1")).bind(id.as_uuid()).execute(&mut *tx).await?;
        counts.insert(table.to_owned(), i64::try_from(deleted).unwrap_or(i64::MAX));
    }
    let mut mail_state = 0;
    for customer in customers {
        if customer_workspaces(&mut *tx, customer).await? == 0 {
            mail_state += tx
                .query("DELETE FROM mail_state WHERE recipient_kind = 'customer' AND recipient_id = $1")
                .bind(customer)
                .execute(&mut *tx)
                .await?;
        }
    }
    counts.insert("mail_state".to_owned(), i64::try_from(mail_state).unwrap_or(i64::MAX));
    Ok(counts)
}

/// How many files (objects in the object store) the workspace has.
pub async fn file_count(tx: &mut Tx, id: WorkspaceId) -> ServiceResult<i64> {
    Ok(tx
        .query("SELECT COUNT(*) AS n FROM files WHERE workspace_id = $1")
        .bind(id.as_uuid())
        .fetch_one(tx)
        .await?
        .get("n")?)
}

/// A notification announced by its own mail (`mailed_at` set as it is written).
pub async fn insert_mailed_notification(tx: &mut Tx, n: &crate::store::NotificationRow) -> ServiceResult<()> {
    tx.query(
        "INSERT INTO notifications (id, recipient_kind, recipient_id, workspace_id, kind, subject_id, created_at, mailed_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7)",
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
