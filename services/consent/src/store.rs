//! SQL of the consent service. Purpose texts and what the customer is shown of an expert
//! arrive here sealed; this module never sees them in plain text.

use chrono::{DateTime, Utc};
use ohjaus_platform::{
    config::DatabaseBackend,
    db::{Row, Source, Tx},
    service::{ServiceError, ServiceResult},
};
use uuid::Uuid;

use crate::domain::{
    ConsentRequest, ConsentState, Language, RequestId, WorkspaceId,
    ledger::{Entry, Head},
};

type Result<T> = ServiceResult<T>;

/// A workspace consent has seen: its organisation, the controller. (Its data key is in the
/// key store.)
pub struct WorkspaceKeyRow {
    pub organization_id: Uuid,
}

/// Records the workspace's organisation unless it is known; returns the one kept.
pub async fn ensure_workspace_key(
    tx: &mut Tx,
    workspace: WorkspaceId,
    organization: Uuid,
    now: DateTime<Utc>,
) -> Result<WorkspaceKeyRow> {
    tx.query(
        "INSERT INTO workspace_keys (workspace_id, organization_id, created_at) VALUES ($1, $2, $3) \
         ON CONFLICT (workspace_id) DO NOTHING",
    )
    .bind(workspace.as_uuid())
    .bind(organization)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    find_workspace_key(tx, workspace).await?.ok_or_else(|| ServiceError::corrupt("workspace row vanished"))
}

pub async fn find_workspace_key<'c>(conn: impl Source<'c>, workspace: WorkspaceId) -> Result<Option<WorkspaceKeyRow>> {
    let row = conn
        .query("SELECT organization_id FROM workspace_keys WHERE workspace_id = $1")
        .bind(workspace.as_uuid())
        .fetch_optional(conn)
        .await?;
    row.map(|r| Ok(WorkspaceKeyRow { organization_id: r.get("organization_id")? })).transpose()
}

/// A request row: the rules' view plus what the customer is shown, sealed.
pub struct RequestRow {
    pub request: ConsentRequest,
    pub details_sealed: Vec<u8>,
}

const REQUEST_COLUMNS: &str = "id, workspace_id, organization_id, customer_id, expert_id, expert_organization_id, \
     details_sealed, language, state, requested_by, requested_at, decided_at, visible_from, ended_at, version";

fn request(row: &Row) -> Result<RequestRow> {
    let corrupt = |what: &str| ServiceError::corrupt(format!("stored consent request {what}"));
    Ok(RequestRow {
        request: ConsentRequest {
            id: RequestId(row.get("id")?),
            workspace_id: WorkspaceId(row.get("workspace_id")?),
            organization_id: row.get("organization_id")?,
            customer_id: row.get("customer_id")?,
            expert_id: row.get("expert_id")?,
            expert_organization_id: row.get("expert_organization_id")?,
            language: Language::parse(&row.get::<String>("language")?).ok_or_else(|| corrupt("language"))?,
            state: ConsentState::parse(&row.get::<String>("state")?).ok_or_else(|| corrupt("state"))?,
            requested_by: row.get("requested_by")?,
            requested_at: row.get("requested_at")?,
            decided_at: row.get("decided_at")?,
            visible_from: row.get("visible_from")?,
            ended_at: row.get("ended_at")?,
            version: row.get("version")?,
        },
        details_sealed: row.get("details_sealed")?,
    })
}

pub async fn insert_request(tx: &mut Tx, row: &RequestRow) -> Result<()> {
    let r = &row.request;
    tx.query(&format!(
        "INSERT INTO consent_requests ({REQUEST_COLUMNS}) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)"
    ))
    .bind(r.id.as_uuid())
    .bind(r.workspace_id.as_uuid())
    .bind(r.organization_id)
    .bind(r.customer_id)
    .bind(r.expert_id)
    .bind(r.expert_organization_id)
    .bind(row.details_sealed.clone())
    .bind(r.language.as_str())
    .bind(r.state.as_str())
    .bind(r.requested_by)
    .bind(r.requested_at)
    .bind(r.decided_at)
    .bind(r.visible_from)
    .bind(r.ended_at)
    .bind(r.version)
    .execute(tx)
    .await?;
    Ok(())
}

pub async fn find_request<'c>(conn: impl Source<'c>, id: RequestId) -> Result<Option<RequestRow>> {
    conn.query(&format!("SELECT {REQUEST_COLUMNS} FROM consent_requests WHERE id = $1"))
        .bind(id.as_uuid())
        .fetch_optional(conn)
        .await?
        .as_ref()
        .map(request)
        .transpose()
}

/// A workspace's requests in the order they were made; only `customer`'s when given.
pub async fn requests_of<'c>(
    conn: impl Source<'c>,
    workspace: WorkspaceId,
    customer: Option<Uuid>,
) -> Result<Vec<RequestRow>> {
    let rows = match customer {
        Some(customer) => {
            conn.query(&format!(
                "SELECT {REQUEST_COLUMNS} FROM consent_requests WHERE workspace_id = $1 AND customer_id = $2 ORDER BY id"
            ))
            .bind(workspace.as_uuid())
            .bind(customer)
            .fetch_all(conn)
            .await?
        }
        None => {
            conn.query(&format!("SELECT {REQUEST_COLUMNS} FROM consent_requests WHERE workspace_id = $1 ORDER BY id"))
                .bind(workspace.as_uuid())
                .fetch_all(conn)
                .await?
        }
    };
    rows.iter().map(request).collect()
}

/// Whether `expert` is proposed to or participating for `customer` in the workspace.
pub async fn live_request_exists<'c>(
    conn: impl Source<'c>,
    workspace: WorkspaceId,
    customer: Uuid,
    expert: Uuid,
) -> Result<bool> {
    let row = conn
        .query(
            "SELECT COUNT(*) AS n FROM consent_requests WHERE workspace_id = $1 AND customer_id = $2 \
             AND expert_id = $3 AND state IN ('pending', 'accepted')",
        )
        .bind(workspace.as_uuid())
        .bind(customer)
        .bind(expert)
        .fetch_one(conn)
        .await?;
    Ok(row.get::<i64>("n")? > 0)
}

/// Stores a state change if the request is still at `version`; `false` if someone was first.
pub async fn update_request(tx: &mut Tx, changed: &ConsentRequest, version: i64) -> Result<bool> {
    let n = tx
        .query(
            "UPDATE consent_requests SET state = $3, decided_at = $4, visible_from = $5, ended_at = $6, version = $7 \
             WHERE id = $1 AND version = $2",
        )
        .bind(changed.id.as_uuid())
        .bind(version)
        .bind(changed.state.as_str())
        .bind(changed.decided_at)
        .bind(changed.visible_from)
        .bind(changed.ended_at)
        .bind(changed.version)
        .execute(tx)
        .await?;
    Ok(n == 1)
}

/// The workspace's chain head, locked for this transaction so appends line up one by one
/// (SQLite's write transactions already do). A chain without entries has head 0.
pub async fn lock_head(tx: &mut Tx, workspace: WorkspaceId) -> Result<Head> {
    tx.query(
        "INSERT INTO ledger_heads (workspace_id, last_seq, last_mac) VALUES ($1, 0, $2) \
         ON CONFLICT (workspace_id) DO NOTHING",
    )
    .bind(workspace.as_uuid())
    .bind(Vec::<u8>::new())
    .execute(&mut *tx)
    .await?;
    let sql = match tx.backend() {
        DatabaseBackend::Postgres => "SELECT last_seq, last_mac FROM ledger_heads WHERE workspace_id = $1 FOR UPDATE",
        DatabaseBackend::Sqlite => "SELECT last_seq, last_mac FROM ledger_heads WHERE workspace_id = $1",
    };
    let row = tx.query(sql).bind(workspace.as_uuid()).fetch_one(&mut *tx).await?;
    Ok(Head { last_seq: row.get("last_seq")?, last_mac: row.get("last_mac")? })
}

pub async fn head_of<'c>(conn: impl Source<'c>, workspace: WorkspaceId) -> Result<Option<Head>> {
    let row = conn
        .query("SELECT last_seq, last_mac FROM ledger_heads WHERE workspace_id = $1")
        .bind(workspace.as_uuid())
        .fetch_optional(conn)
        .await?;
    row.map(|r| Ok(Head { last_seq: r.get("last_seq")?, last_mac: r.get("last_mac")? })).transpose()
}

const ENTRY_COLUMNS: &str = "workspace_id, seq, id, at, action, actor_kind, actor_id, request_id, organization_id, \
     customer_id, expert_id, expert_organization_id, purpose_sealed, visible_from, prev_mac, mac";

fn entry(row: &Row) -> Result<Entry> {
    Ok(Entry {
        workspace_id: row.get("workspace_id")?,
        seq: row.get("seq")?,
        id: row.get("id")?,
        at: row.get("at")?,
        action: row.get("action")?,
        actor_kind: row.get("actor_kind")?,
        actor_id: row.get("actor_id")?,
        request_id: row.get("request_id")?,
        organization_id: row.get("organization_id")?,
        customer_id: row.get("customer_id")?,
        expert_id: row.get("expert_id")?,
        expert_organization_id: row.get("expert_organization_id")?,
        purpose_sealed: row.get("purpose_sealed")?,
        visible_from: row.get("visible_from")?,
        prev_mac: row.get("prev_mac")?,
        mac: row.get("mac")?,
    })
}

/// Appends a sealed entry and moves the head to it, in the caller's transaction.
pub async fn append_entry(tx: &mut Tx, e: &Entry) -> Result<()> {
    tx.query(&format!(
        "INSERT INTO ledger_entries ({ENTRY_COLUMNS}) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)"
    ))
    .bind(e.workspace_id)
    .bind(e.seq)
    .bind(e.id)
    .bind(e.at)
    .bind(e.action.clone())
    .bind(e.actor_kind.clone())
    .bind(e.actor_id.clone())
    .bind(e.request_id)
    .bind(e.organization_id)
    .bind(e.customer_id)
    .bind(e.expert_id)
    .bind(e.expert_organization_id)
    .bind(e.purpose_sealed.clone())
    .bind(e.visible_from)
    .bind(e.prev_mac.clone())
    .bind(e.mac.clone())
    .execute(&mut *tx)
    .await?;
    let moved = tx
        .query("UPDATE ledger_heads SET last_seq = $2, last_mac = $3 WHERE workspace_id = $1 AND last_seq = $4")
        .bind(e.workspace_id)
        .bind(e.seq)
        .bind(e.mac.clone())
        .bind(e.seq - 1)
        .execute(&mut *tx)
        .await?;
    if moved != 1 {
        return Err(ServiceError::corrupt("ledger head moved during an append"));
    }
    Ok(())
}

/// A workspace's entries in stored order of their numbers.
pub async fn entries_of<'c>(conn: impl Source<'c>, workspace: WorkspaceId) -> Result<Vec<Entry>> {
    conn.query(&format!("SELECT {ENTRY_COLUMNS} FROM ledger_entries WHERE workspace_id = $1 ORDER BY seq"))
        .bind(workspace.as_uuid())
        .fetch_all(conn)
        .await?
        .iter()
        .map(entry)
        .collect()
}

/// Whether the workspace's ledger names `customer`: the customer of those entries.
pub async fn ledger_names_customer<'c>(conn: impl Source<'c>, workspace: WorkspaceId, customer: Uuid) -> Result<bool> {
    let row = conn
        .query("SELECT COUNT(*) AS n FROM ledger_entries WHERE workspace_id = $1 AND customer_id = $2")
        .bind(workspace.as_uuid())
        .bind(customer)
        .fetch_one(conn)
        .await?;
    Ok(row.get::<i64>("n")? > 0)
}

/// Everything of one workspace: entries, head, requests and finally its key. Returns the
/// number of entries removed.
pub async fn delete_workspace(tx: &mut Tx, workspace: WorkspaceId) -> Result<u64> {
    let id = workspace.as_uuid();
    let entries = tx.query("DELETE FROM ledger_entries WHERE workspace_id = $1").bind(id).execute(&mut *tx).await?;
    for sql in [
        // The idempotency keys of its requests name them; they go first, while the requests
        // still say which they are.
        "DELETE FROM idempotency_keys WHERE resource_id IN (SELECT id FROM consent_requests WHERE workspace_id = $1)",
        "DELETE FROM ledger_heads WHERE workspace_id = $1",
        "DELETE FROM consent_requests WHERE workspace_id = $1",
        "DELETE FROM workspace_keys WHERE workspace_id = $1",
    ] {
        tx.query(sql).bind(id).execute(&mut *tx).await?;
    }
    Ok(entries)
}
