//! SQL of the workspaces service. Titles and content arrive here sealed; this module never
//! sees plaintext content.

use chrono::{DateTime, NaiveDate, Utc};
use ohjaus_platform::{
    db::{Db, Query, Row, Source, Tx},
    ids::PageRequest,
};
use uuid::Uuid;

use crate::{
    WorkspacesError,
    domain::{
        Actor, FileId, InvitationId, InvitationState, Kind, MemberRole, MessageId, NotificationId, State, Thread,
        WorkspaceId,
        guidance::{Assignee, Details, ItemId, ItemKind, PhaseStatus},
        sight::{Floor, Grant, Sight},
    },
};

type Result<T> = std::result::Result<T, WorkspacesError>;

/// A workspace row: its title still sealed, its data key still wrapped.
pub struct WorkspaceRow {
    pub id: WorkspaceId,
    pub organization_id: Uuid,
    pub office_id: Uuid,
    pub kind: Kind,
    pub title_sealed: Vec<u8>,
    pub topics: String,
    pub state: State,
    pub owner_id: Uuid,
    pub data_key: Vec<u8>,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
}

const WORKSPACE_COLUMNS: &str = "id, organization_id, office_id, kind, title_sealed, topics, state, owner_id, data_key, version, created_at, closed_at";

fn workspace(row: &Row) -> Result<WorkspaceRow> {
    let corrupt = |what: &str| WorkspacesError::Corrupt(format!("stored workspace {what}"));
    Ok(WorkspaceRow {
        id: WorkspaceId(row.get("id")?),
        organization_id: row.get("organization_id")?,
        office_id: row.get("office_id")?,
        kind: Kind::parse(&row.get::<String>("kind")?).ok_or_else(|| corrupt("kind"))?,
        title_sealed: row.get("title_sealed")?,
        topics: row.get("topics")?,
        state: State::parse(&row.get::<String>("state")?).ok_or_else(|| corrupt("state"))?,
        owner_id: row.get("owner_id")?,
        data_key: row.get("data_key")?,
        version: row.get("version")?,
        created_at: row.get("created_at")?,
        closed_at: row.get("closed_at")?,
    })
}

pub async fn insert_workspace(tx: &mut Tx, w: &WorkspaceRow) -> Result<()> {
    tx.query(&format!(
        "INSERT INTO workspaces ({WORKSPACE_COLUMNS}, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $11)"
    ))
    .bind(w.id.as_uuid())
    .bind(w.organization_id)
    .bind(w.office_id)
    .bind(w.kind.as_str())
    .bind(w.title_sealed.clone())
    .bind(w.topics.clone())
    .bind(w.state.as_str())
    .bind(w.owner_id)
    .bind(w.data_key.clone())
    .bind(w.version)
    .bind(w.created_at)
    .bind(w.closed_at)
    .execute(tx)
    .await?;
    Ok(())
}

pub async fn find_workspace<'c>(conn: impl Source<'c>, id: WorkspaceId) -> Result<Option<WorkspaceRow>> {
    conn.query(&format!("SELECT {WORKSPACE_COLUMNS} FROM workspaces WHERE id = $1"))
        .bind(id.as_uuid())
        .fetch_optional(conn)
        .await?
        .as_ref()
        .map(workspace)
        .transpose()
}

/// Workspaces where `actor` is a member, with its role there, in id order.
pub async fn workspaces_of(db: &Db, actor: Actor, page: &PageRequest) -> Result<Vec<(WorkspaceRow, MemberRole)>> {
    let columns = WORKSPACE_COLUMNS.split(", ").map(|c| format!("w.{c}")).collect::<Vec<_>>().join(", ");
    db.query(&format!(
        "SELECT {columns}, m.role FROM workspaces w JOIN members m ON m.workspace_id = w.id \
         WHERE m.member_kind = $1 AND m.member_id = $2 AND w.id > $3 ORDER BY w.id LIMIT $4"
    ))
    .bind(actor.kind())
    .bind(actor.id())
    .bind(page.after.unwrap_or(Uuid::nil()))
    .bind(page.fetch_limit())
    .fetch_all(db)
    .await?
    .iter()
    .map(|row| Ok((workspace(row)?, member_role_of(row)?)))
    .collect()
}

/// Moves a workspace to `state` if it is still at `version`; `false` if someone was first.
pub async fn set_state(
    tx: &mut Tx,
    id: WorkspaceId,
    version: i64,
    state: State,
    closed_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<bool> {
    let changed = tx
        .query(
            "UPDATE workspaces SET state = $3, closed_at = $4, updated_at = $5, version = version + 1 \
             WHERE id = $1 AND version = $2",
        )
        .bind(id.as_uuid())
        .bind(version)
        .bind(state.as_str())
        .bind(closed_at)
        .bind(now)
        .execute(tx)
        .await?;
    Ok(changed == 1)
}

/// Adds a member with their sealed contact details; `false` if they already were one.
pub async fn add_member(
    tx: &mut Tx,
    id: WorkspaceId,
    actor: Actor,
    role: MemberRole,
    contact_sealed: Option<Vec<u8>>,
    now: DateTime<Utc>,
) -> Result<bool> {
    let added = tx
        .query(
            "INSERT INTO members (workspace_id, member_kind, member_id, role, contact_sealed, added_at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (workspace_id, member_kind, member_id) DO NOTHING",
        )
        .bind(id.as_uuid())
        .bind(actor.kind())
        .bind(actor.id())
        .bind(role.as_str())
        .bind(contact_sealed)
        .bind(now)
        .execute(tx)
        .await?;
    Ok(added == 1)
}

pub struct MemberRow {
    pub actor: Actor,
    pub role: MemberRole,
    pub contact_sealed: Option<Vec<u8>>,
}

fn actor_of(kind: &str, id: Uuid) -> Result<Actor> {
    match kind {
        "expert" => Ok(Actor::Expert(id)),
        "customer" => Ok(Actor::Customer(id)),
        _ => Err(WorkspacesError::Corrupt("stored actor kind".into())),
    }
}

/// One member's sealed contact, if they are a member and left one.
pub async fn member_contact<'c>(conn: impl Source<'c>, id: WorkspaceId, actor: Actor) -> Result<Option<Vec<u8>>> {
    let row = conn
        .query("SELECT contact_sealed FROM members WHERE workspace_id = $1 AND member_kind = $2 AND member_id = $3")
        .bind(id.as_uuid())
        .bind(actor.kind())
        .bind(actor.id())
        .fetch_optional(conn)
        .await?;
    Ok(match row {
        Some(row) => row.get("contact_sealed")?,
        None => None,
    })
}

/// Every member of a workspace (a workspace has tens of members, not thousands).
pub async fn members_of<'c>(conn: impl Source<'c>, id: WorkspaceId) -> Result<Vec<MemberRow>> {
    conn.query(
        "SELECT member_kind, member_id, role, contact_sealed FROM members WHERE workspace_id = $1 ORDER BY added_at",
    )
    .bind(id.as_uuid())
    .fetch_all(conn)
    .await?
    .iter()
    .map(|row| {
        Ok(MemberRow {
            actor: actor_of(&row.get::<String>("member_kind")?, row.get("member_id")?)?,
            role: member_role_of(row)?,
            contact_sealed: row.get("contact_sealed")?,
        })
    })
    .collect()
}

/// Hands the workspace to `new_owner`: the old owner stays as a guide.
pub async fn set_owner(
    tx: &mut Tx,
    id: WorkspaceId,
    old_owner: Uuid,
    new_owner: Uuid,
    now: DateTime<Utc>,
) -> Result<()> {
    tx.query("UPDATE workspaces SET owner_id = $2, updated_at = $3, version = version + 1 WHERE id = $1")
        .bind(id.as_uuid())
        .bind(new_owner)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    tx.query("UPDATE members SET role = 'guide' WHERE workspace_id = $1 AND member_kind = 'expert' AND member_id = $2")
        .bind(id.as_uuid())
        .bind(old_owner)
        .execute(&mut *tx)
        .await?;
    let updated = tx
        .query(
            "UPDATE members SET role = 'owner' WHERE workspace_id = $1 AND member_kind = 'expert' AND member_id = $2",
        )
        .bind(id.as_uuid())
        .bind(new_owner)
        .execute(&mut *tx)
        .await?;
    if updated == 0 {
        add_member(tx, id, Actor::Expert(new_owner), MemberRole::Owner, None, now).await?;
    }
    Ok(())
}

pub async fn set_contact(tx: &mut Tx, id: WorkspaceId, actor: Actor, sealed: &[u8]) -> Result<()> {
    tx.query("UPDATE members SET contact_sealed = $4 WHERE workspace_id = $1 AND member_kind = $2 AND member_id = $3")
        .bind(id.as_uuid())
        .bind(actor.kind())
        .bind(actor.id())
        .bind(sealed.to_vec())
        .execute(tx)
        .await?;
    Ok(())
}

/// Removes the workspace and, by the schema's cascades, everything in it; its wrapped key
/// goes with the row.
pub async fn delete_workspace(tx: &mut Tx, id: WorkspaceId) -> Result<bool> {
    let deleted = tx.query("DELETE FROM workspaces WHERE id = $1").bind(id.as_uuid()).execute(tx).await?;
    Ok(deleted == 1)
}

/// The role of `actor` in the workspace, if a member.
pub async fn member_role<'c>(conn: impl Source<'c>, id: WorkspaceId, actor: Actor) -> Result<Option<MemberRole>> {
    let row = conn
        .query("SELECT role FROM members WHERE workspace_id = $1 AND member_kind = $2 AND member_id = $3")
        .bind(id.as_uuid())
        .bind(actor.kind())
        .bind(actor.id())
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(member_role_of).transpose()
}

pub async fn customer_count<'c>(conn: impl Source<'c>, id: WorkspaceId) -> Result<i64> {
    let row = conn
        .query("SELECT COUNT(*) AS n FROM members WHERE workspace_id = $1 AND member_kind = 'customer'")
        .bind(id.as_uuid())
        .fetch_one(conn)
        .await?;
    Ok(row.get("n")?)
}

fn member_role_of(row: &Row) -> Result<MemberRole> {
    let role: String = row.get("role")?;
    MemberRole::parse(&role).ok_or_else(|| WorkspacesError::Corrupt("stored member role".into()))
}

/// The customer's visit, from which the retention rule counts.
pub async fn touch_customer_visit(tx: &mut Tx, id: WorkspaceId, now: DateTime<Utc>) -> Result<()> {
    tx.query("UPDATE workspaces SET customer_last_seen_at = $2 WHERE id = $1")
        .bind(id.as_uuid())
        .bind(now)
        .execute(tx)
        .await?;
    Ok(())
}

pub struct MessageRow {
    pub id: MessageId,
    pub workspace_id: WorkspaceId,
    pub author: Actor,
    pub thread: Thread,
    /// Comma-separated file ids.
    pub attachments: String,
    pub sealed: Vec<u8>,
    pub created_at: DateTime<Utc>,
    pub edited_at: Option<DateTime<Utc>>,
    pub deleted_at: Option<DateTime<Utc>>,
    pub version: i64,
}

const MESSAGE_COLUMNS: &str = "id, workspace_id, author_kind, author_id, thread_id, attachments, sealed, created_at, edited_at, deleted_at, version";

pub async fn insert_message(tx: &mut Tx, m: &MessageRow) -> Result<()> {
    tx.query(&format!(
        "INSERT INTO messages ({MESSAGE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
    ))
    .bind(m.id.as_uuid())
    .bind(m.workspace_id.as_uuid())
    .bind(m.author.kind())
    .bind(m.author.id())
    .bind(m.thread.column())
    .bind(m.attachments.clone())
    .bind(m.sealed.clone())
    .bind(m.created_at)
    .bind(m.edited_at)
    .bind(m.deleted_at)
    .bind(m.version)
    .execute(tx)
    .await?;
    Ok(())
}

/// Stores an edited or deleted message if it is still at `version`; `false` if someone was first.
pub async fn update_message(tx: &mut Tx, m: &MessageRow, version: i64) -> Result<bool> {
    let changed = tx
        .query(
            "UPDATE messages SET sealed = $3, attachments = $4, edited_at = $5, deleted_at = $6, version = $7 \
             WHERE id = $1 AND version = $2",
        )
        .bind(m.id.as_uuid())
        .bind(version)
        .bind(m.sealed.clone())
        .bind(m.attachments.clone())
        .bind(m.edited_at)
        .bind(m.deleted_at)
        .bind(m.version)
        .execute(tx)
        .await?;
    Ok(changed == 1)
}

pub async fn find_message<'c>(conn: impl Source<'c>, id: MessageId) -> Result<Option<MessageRow>> {
    conn.query(&format!("SELECT {MESSAGE_COLUMNS} FROM messages WHERE id = $1"))
        .bind(id.as_uuid())
        .fetch_optional(conn)
        .await?
        .as_ref()
        .map(message)
        .transpose()
}

fn message(row: &Row) -> Result<MessageRow> {
    Ok(MessageRow {
        id: MessageId(row.get("id")?),
        workspace_id: WorkspaceId(row.get("workspace_id")?),
        author: actor_of(&row.get::<String>("author_kind")?, row.get("author_id")?)?,
        thread: Thread::from_column(row.get("thread_id")?),
        attachments: row.get("attachments")?,
        sealed: row.get("sealed")?,
        created_at: row.get("created_at")?,
        edited_at: row.get("edited_at")?,
        deleted_at: row.get("deleted_at")?,
        version: row.get("version")?,
    })
}

/// `sight`'s condition on content with a `thread_id` and a UUIDv7 `id`, its values bound from
/// placeholder `$n` on by [`bind_sight`].
fn sight_sql(sight: &Sight, thread_column: &str, n: usize) -> String {
    let mut sql = String::new();
    let mut next = n;
    if let Some(customers) = &sight.customers {
        if customers.is_empty() {
            sql.push_str(&format!(" AND {thread_column} IS NULL"));
        } else {
            let list: Vec<String> = (next..next + customers.len()).map(|i| format!("${i}")).collect();
            next += customers.len();
            sql.push_str(&format!(" AND ({thread_column} IS NULL OR {thread_column} IN ({}))", list.join(", ")));
        }
    }
    if sight.floor.is_some() {
        sql.push_str(&format!(" AND id >= ${next}"));
    }
    sql
}

fn bind_sight<'q>(mut query: Query<'q>, sight: &Sight) -> Query<'q> {
    for customer in sight.customers.iter().flatten() {
        query = query.bind(*customer);
    }
    if let Some(floor) = sight.floor {
        query = query.bind(floor.id);
    }
    query
}

/// Messages of a workspace in the order they were posted, or newest first.
pub async fn messages_page(
    db: &Db,
    id: WorkspaceId,
    sight: &Sight,
    page: &PageRequest,
    newest_first: bool,
) -> Result<Vec<MessageRow>> {
    // Ids are UUIDv7, so their order is the order of posting; the page token is the last id.
    let (beyond, order, start) = if newest_first { ("<", "DESC", Uuid::max()) } else { (">", "ASC", Uuid::nil()) };
    let sql = format!(
        "SELECT {MESSAGE_COLUMNS} FROM messages WHERE workspace_id = $1 AND id {beyond} $2{} ORDER BY id {order} LIMIT $3",
        sight_sql(sight, "thread_id", 4)
    );
    let query = db.query(&sql).bind(id.as_uuid()).bind(page.after.unwrap_or(start)).bind(page.fetch_limit());
    bind_sight(query, sight).fetch_all(db).await?.iter().map(message).collect()
}

/// The caller has read up to `message`.
pub async fn mark_read(
    tx: &mut Tx,
    id: WorkspaceId,
    actor: Actor,
    message: MessageId,
    now: DateTime<Utc>,
) -> Result<()> {
    tx.query(
        "INSERT INTO read_markers (workspace_id, member_kind, member_id, last_read_message_id, at) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (workspace_id, member_kind, member_id) DO UPDATE SET last_read_message_id = excluded.last_read_message_id, at = excluded.at \
         WHERE read_markers.last_read_message_id < excluded.last_read_message_id",
    )
    .bind(id.as_uuid())
    .bind(actor.kind())
    .bind(actor.id())
    .bind(message.as_uuid())
    .bind(now)
    .execute(tx)
    .await?;
    Ok(())
}

pub async fn read_marker<'c>(
    conn: impl Source<'c>,
    id: WorkspaceId,
    actor: Actor,
) -> Result<Option<(MessageId, DateTime<Utc>)>> {
    let row = conn
        .query("SELECT last_read_message_id, at FROM read_markers WHERE workspace_id = $1 AND member_kind = $2 AND member_id = $3")
        .bind(id.as_uuid())
        .bind(actor.kind())
        .bind(actor.id())
        .fetch_optional(conn)
        .await?;
    row.map(|r| Ok((MessageId(r.get("last_read_message_id")?), r.get("at")?))).transpose()
}

// ---------------------------------------------------------------------------------------------
// Invitations

pub struct InvitationRow {
    pub id: InvitationId,
    pub workspace_id: WorkspaceId,
    pub token_hash: String,
    pub contact_sealed: Vec<u8>,
    pub bound_customer_id: Option<Uuid>,
    pub state: InvitationState,
    pub invited_by: Uuid,
    pub expires_at: DateTime<Utc>,
    pub sent_count: i64,
    pub accepted_by: Option<Uuid>,
    pub version: i64,
    pub created_at: DateTime<Utc>,
}

const INVITATION_COLUMNS: &str = "id, workspace_id, token_hash, contact_sealed, bound_customer_id, state, invited_by, expires_at, sent_count, accepted_by, version, created_at";

fn invitation(row: &Row) -> Result<InvitationRow> {
    Ok(InvitationRow {
        id: InvitationId(row.get("id")?),
        workspace_id: WorkspaceId(row.get("workspace_id")?),
        token_hash: row.get("token_hash")?,
        contact_sealed: row.get("contact_sealed")?,
        bound_customer_id: row.get("bound_customer_id")?,
        state: InvitationState::parse(&row.get::<String>("state")?)
            .ok_or_else(|| WorkspacesError::Corrupt("stored invitation state".into()))?,
        invited_by: row.get("invited_by")?,
        expires_at: row.get("expires_at")?,
        sent_count: row.get("sent_count")?,
        accepted_by: row.get("accepted_by")?,
        version: row.get("version")?,
        created_at: row.get("created_at")?,
    })
}

pub async fn insert_invitation(tx: &mut Tx, i: &InvitationRow) -> Result<()> {
    tx.query(&format!(
        "INSERT INTO invitations ({INVITATION_COLUMNS}, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12)"
    ))
    .bind(i.id.as_uuid())
    .bind(i.workspace_id.as_uuid())
    .bind(i.token_hash.clone())
    .bind(i.contact_sealed.clone())
    .bind(i.bound_customer_id)
    .bind(i.state.as_str())
    .bind(i.invited_by)
    .bind(i.expires_at)
    .bind(i.sent_count)
    .bind(i.accepted_by)
    .bind(i.version)
    .bind(i.created_at)
    .execute(tx)
    .await?;
    Ok(())
}

/// Stores a changed invitation if it is still at `version`; `false` if someone was first.
pub async fn update_invitation(tx: &mut Tx, i: &InvitationRow, version: i64, now: DateTime<Utc>) -> Result<bool> {
    let changed = tx
        .query(
            "UPDATE invitations SET token_hash = $3, state = $4, expires_at = $5, sent_count = $6, accepted_by = $7, \
             version = $8, updated_at = $9 WHERE id = $1 AND version = $2",
        )
        .bind(i.id.as_uuid())
        .bind(version)
        .bind(i.token_hash.clone())
        .bind(i.state.as_str())
        .bind(i.expires_at)
        .bind(i.sent_count)
        .bind(i.accepted_by)
        .bind(i.version)
        .bind(now)
        .execute(tx)
        .await?;
    Ok(changed == 1)
}

pub async fn find_invitation<'c>(conn: impl Source<'c>, id: InvitationId) -> Result<Option<InvitationRow>> {
    conn.query(&format!("SELECT {INVITATION_COLUMNS} FROM invitations WHERE id = $1"))
        .bind(id.as_uuid())
        .fetch_optional(conn)
        .await?
        .as_ref()
        .map(invitation)
        .transpose()
}

pub async fn invitation_by_token<'c>(conn: impl Source<'c>, token_hash: &str) -> Result<Option<InvitationRow>> {
    conn.query(&format!("SELECT {INVITATION_COLUMNS} FROM invitations WHERE token_hash = $1"))
        .bind(token_hash.to_owned())
        .fetch_optional(conn)
        .await?
        .as_ref()
        .map(invitation)
        .transpose()
}

pub async fn invitations_page(db: &Db, id: WorkspaceId, page: &PageRequest) -> Result<Vec<InvitationRow>> {
    db.query(&format!(
        "SELECT {INVITATION_COLUMNS} FROM invitations WHERE workspace_id = $1 AND id > $2 ORDER BY id LIMIT $3"
    ))
    .bind(id.as_uuid())
    .bind(page.after.unwrap_or(Uuid::nil()))
    .bind(page.fetch_limit())
    .fetch_all(db)
    .await?
    .iter()
    .map(invitation)
    .collect()
}

// ---------------------------------------------------------------------------------------------
// Files

pub struct FileRow {
    pub id: FileId,
    pub workspace_id: WorkspaceId,
    pub thread: Thread,
    pub name_sealed: Vec<u8>,
    pub content_type: String,
    pub size: i64,
    pub uploaded_by: Actor,
    pub object_key: String,
    pub created_at: DateTime<Utc>,
}

const FILE_COLUMNS: &str = "id, workspace_id, thread_id, name_sealed, content_type, size, uploaded_by_kind, uploaded_by, object_key, created_at";

fn file(row: &Row) -> Result<FileRow> {
    Ok(FileRow {
        id: FileId(row.get("id")?),
        workspace_id: WorkspaceId(row.get("workspace_id")?),
        thread: Thread::from_column(row.get("thread_id")?),
        name_sealed: row.get("name_sealed")?,
        content_type: row.get("content_type")?,
        size: row.get("size")?,
        uploaded_by: actor_of(&row.get::<String>("uploaded_by_kind")?, row.get("uploaded_by")?)?,
        object_key: row.get("object_key")?,
        created_at: row.get("created_at")?,
    })
}

pub async fn insert_file(tx: &mut Tx, f: &FileRow) -> Result<()> {
    tx.query(&format!("INSERT INTO files ({FILE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"))
        .bind(f.id.as_uuid())
        .bind(f.workspace_id.as_uuid())
        .bind(f.thread.column())
        .bind(f.name_sealed.clone())
        .bind(f.content_type.clone())
        .bind(f.size)
        .bind(f.uploaded_by.kind())
        .bind(f.uploaded_by.id())
        .bind(f.object_key.clone())
        .bind(f.created_at)
        .execute(tx)
        .await?;
    Ok(())
}

pub async fn find_file<'c>(conn: impl Source<'c>, id: FileId) -> Result<Option<FileRow>> {
    conn.query(&format!("SELECT {FILE_COLUMNS} FROM files WHERE id = $1"))
        .bind(id.as_uuid())
        .fetch_optional(conn)
        .await?
        .as_ref()
        .map(file)
        .transpose()
}

pub async fn files_page(db: &Db, id: WorkspaceId, sight: &Sight, page: &PageRequest) -> Result<Vec<FileRow>> {
    let sql = format!(
        "SELECT {FILE_COLUMNS} FROM files WHERE workspace_id = $1 AND id > $2{} ORDER BY id LIMIT $3",
        sight_sql(sight, "thread_id", 4)
    );
    let query = db.query(&sql).bind(id.as_uuid()).bind(page.after.unwrap_or(Uuid::nil())).bind(page.fetch_limit());
    bind_sight(query, sight).fetch_all(db).await?.iter().map(file).collect()
}

// ---------------------------------------------------------------------------------------------
// Notifications and mail

pub struct NotificationRow {
    pub id: NotificationId,
    pub recipient: Actor,
    pub workspace_id: WorkspaceId,
    pub kind: String,
    pub subject_id: Uuid,
    pub created_at: DateTime<Utc>,
    pub read_at: Option<DateTime<Utc>>,
}

pub async fn insert_notification(tx: &mut Tx, n: &NotificationRow) -> Result<()> {
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
) -> Result<Vec<NotificationRow>> {
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

pub async fn unread_count(db: &Db, recipient: Actor) -> Result<i64> {
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
) -> Result<u64> {
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

/// Recipients with unread, unmailed notifications who were not mailed since `mailed_before`:
/// `(recipient, workspace, count)`, one row per recipient and workspace.
pub async fn due_for_mail(db: &Db, mailed_before: DateTime<Utc>, limit: i64) -> Result<Vec<(Actor, WorkspaceId, i64)>> {
    db.query(
        "SELECT n.recipient_kind, n.recipient_id, n.workspace_id, COUNT(*) AS n FROM notifications n \
         LEFT JOIN mail_state s ON s.recipient_kind = n.recipient_kind AND s.recipient_id = n.recipient_id \
         WHERE n.mailed_at IS NULL AND n.read_at IS NULL AND (s.last_mailed_at IS NULL OR s.last_mailed_at <= $1) \
         GROUP BY n.recipient_kind, n.recipient_id, n.workspace_id LIMIT $2",
    )
    .bind(mailed_before)
    .bind(limit)
    .fetch_all(db)
    .await?
    .iter()
    .map(|row| {
        Ok((
            actor_of(&row.get::<String>("recipient_kind")?, row.get("recipient_id")?)?,
            WorkspaceId(row.get("workspace_id")?),
            row.get("n")?,
        ))
    })
    .collect()
}

/// Marks the recipient's notifications mailed and remembers when.
pub async fn mark_mailed(tx: &mut Tx, recipient: Actor, now: DateTime<Utc>) -> Result<()> {
    tx.query(
        "UPDATE notifications SET mailed_at = $3 WHERE recipient_kind = $1 AND recipient_id = $2 AND mailed_at IS NULL",
    )
    .bind(recipient.kind())
    .bind(recipient.id())
    .bind(now)
    .execute(&mut *tx)
    .await?;
    tx.query(
        "INSERT INTO mail_state (recipient_kind, recipient_id, last_mailed_at) VALUES ($1, $2, $3) \
         ON CONFLICT (recipient_kind, recipient_id) DO UPDATE SET last_mailed_at = excluded.last_mailed_at",
    )
    .bind(recipient.kind())
    .bind(recipient.id())
    .bind(now)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

pub struct OutgoingMailRow {
    pub id: Uuid,
    pub workspace_id: WorkspaceId,
    pub sealed: Vec<u8>,
    pub attempts: i64,
}

/// Takes a due mail for `lease`: `false` if another worker (another replica) took it first.
pub async fn claim_mail(db: &Db, id: Uuid, now: DateTime<Utc>, lease_until: DateTime<Utc>) -> Result<bool> {
    let claimed = db
        .query("UPDATE outgoing_mail SET next_attempt_at = $3 WHERE id = $1 AND next_attempt_at <= $2")
        .bind(id)
        .bind(now)
        .bind(lease_until)
        .execute(db)
        .await?;
    Ok(claimed == 1)
}

pub async fn queue_mail(tx: &mut Tx, row: &OutgoingMailRow, now: DateTime<Utc>) -> Result<()> {
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

pub async fn due_mail(db: &Db, now: DateTime<Utc>, limit: i64) -> Result<Vec<OutgoingMailRow>> {
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

pub async fn mail_sent(db: &Db, id: Uuid) -> Result<()> {
    db.query("DELETE FROM outgoing_mail WHERE id = $1").bind(id).execute(db).await?;
    Ok(())
}

pub async fn mail_retry(db: &Db, id: Uuid, attempts: i64, next: DateTime<Utc>) -> Result<()> {
    db.query("UPDATE outgoing_mail SET attempts = $2, next_attempt_at = $3 WHERE id = $1")
        .bind(id)
        .bind(attempts)
        .bind(next)
        .execute(db)
        .await?;
    Ok(())
}

pub struct AccessRow {
    pub id: Uuid,
    pub at: DateTime<Utc>,
    pub actor_kind: String,
    pub actor_id: String,
    pub actor_role: String,
    pub organization_id: Option<Uuid>,
    pub what: String,
}

pub async fn log_access(tx: &mut Tx, workspace: WorkspaceId, entry: &AccessRow) -> Result<()> {
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
pub async fn access_page(db: &Db, workspace: WorkspaceId, sight: &Sight, page: &PageRequest) -> Result<Vec<AccessRow>> {
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

// ---------------------------------------------------------------------------------------------
// Guidance items and the summary

pub struct ItemRow {
    pub id: ItemId,
    pub workspace_id: WorkspaceId,
    pub thread: Thread,
    pub author: Actor,
    pub private: bool,
    pub details: Details,
    pub completed: Option<(DateTime<Utc>, Actor)>,
    /// Title, body, location and the author's name.
    pub sealed: Vec<u8>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub deleted_at: Option<DateTime<Utc>>,
    pub version: i64,
}

const ITEM_COLUMNS: &str = "id, workspace_id, kind, thread_id, author_kind, author_id, private, phase_status, due_on, \
     assignee, completed_at, completed_by_kind, completed_by, starts_at, ends_at, sealed, created_at, updated_at, \
     deleted_at, version";

/// The clear columns of an item's details: phase status, due date, assignee, start, end.
type DetailColumns =
    (Option<&'static str>, Option<NaiveDate>, Option<&'static str>, Option<DateTime<Utc>>, Option<DateTime<Utc>>);

fn detail_columns(details: Details) -> DetailColumns {
    match details {
        Details::Phase { status } => (Some(status.as_str()), None, None, None, None),
        Details::Task { due_on, assignee } => (None, due_on, Some(assignee.as_str()), None, None),
        Details::Event { starts_at, ends_at } => (None, None, None, Some(starts_at), ends_at),
        Details::Note => (None, None, None, None, None),
    }
}

pub async fn insert_item(tx: &mut Tx, i: &ItemRow) -> Result<()> {
    let (status, due_on, assignee, starts_at, ends_at) = detail_columns(i.details);
    tx.query(&format!(
        "INSERT INTO guidance_items ({ITEM_COLUMNS}) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)"
    ))
    .bind(i.id.as_uuid())
    .bind(i.workspace_id.as_uuid())
    .bind(i.details.kind().as_str())
    .bind(i.thread.column())
    .bind(i.author.kind())
    .bind(i.author.id())
    .bind(i.private)
    .bind(status)
    .bind(due_on)
    .bind(assignee)
    .bind(i.completed.map(|(at, _)| at))
    .bind(i.completed.map(|(_, by)| by.kind()))
    .bind(i.completed.map(|(_, by)| by.id()))
    .bind(starts_at)
    .bind(ends_at)
    .bind(i.sealed.clone())
    .bind(i.created_at)
    .bind(i.updated_at)
    .bind(i.deleted_at)
    .bind(i.version)
    .execute(tx)
    .await?;
    Ok(())
}

/// Stores a changed item if it is still at `version`; `false` if someone was first.
pub async fn update_item(tx: &mut Tx, i: &ItemRow, version: i64) -> Result<bool> {
    let (status, due_on, assignee, starts_at, ends_at) = detail_columns(i.details);
    let changed = tx
        .query(
            "UPDATE guidance_items SET phase_status = $3, due_on = $4, assignee = $5, starts_at = $6, ends_at = $7, \
             completed_at = $8, completed_by_kind = $9, completed_by = $10, sealed = $11, updated_at = $12, \
             deleted_at = $13, version = $14 WHERE id = $1 AND version = $2",
        )
        .bind(i.id.as_uuid())
        .bind(version)
        .bind(status)
        .bind(due_on)
        .bind(assignee)
        .bind(starts_at)
        .bind(ends_at)
        .bind(i.completed.map(|(at, _)| at))
        .bind(i.completed.map(|(_, by)| by.kind()))
        .bind(i.completed.map(|(_, by)| by.id()))
        .bind(i.sealed.clone())
        .bind(i.updated_at)
        .bind(i.deleted_at)
        .bind(i.version)
        .execute(tx)
        .await?;
    Ok(changed == 1)
}

pub async fn find_item<'c>(conn: impl Source<'c>, id: ItemId) -> Result<Option<ItemRow>> {
    conn.query(&format!("SELECT {ITEM_COLUMNS} FROM guidance_items WHERE id = $1"))
        .bind(id.as_uuid())
        .fetch_optional(conn)
        .await?
        .as_ref()
        .map(item)
        .transpose()
}

fn item(row: &Row) -> Result<ItemRow> {
    let corrupt = |what: &str| WorkspacesError::Corrupt(format!("guidance item {what}"));
    let kind = ItemKind::parse(&row.get::<String>("kind")?).ok_or_else(|| corrupt("kind"))?;
    let details = match kind {
        ItemKind::Phase => {
            let status: Option<String> = row.get("phase_status")?;
            Details::Phase { status: status.as_deref().and_then(PhaseStatus::parse).ok_or_else(|| corrupt("status"))? }
        }
        ItemKind::Task => {
            let assignee: Option<String> = row.get("assignee")?;
            Details::Task {
                due_on: row.get("due_on")?,
                assignee: assignee.as_deref().and_then(Assignee::parse).ok_or_else(|| corrupt("assignee"))?,
            }
        }
        ItemKind::Event => Details::Event {
            starts_at: row.get::<Option<DateTime<Utc>>>("starts_at")?.ok_or_else(|| corrupt("start"))?,
            ends_at: row.get("ends_at")?,
        },
        ItemKind::Note => Details::Note,
    };
    let completed_at: Option<DateTime<Utc>> = row.get("completed_at")?;
    let completed_by_kind: Option<String> = row.get("completed_by_kind")?;
    let completed_by: Option<Uuid> = row.get("completed_by")?;
    let completed = match (completed_at, completed_by_kind, completed_by) {
        (Some(at), Some(kind), Some(id)) => Some((at, actor_of(&kind, id)?)),
        _ => None,
    };
    Ok(ItemRow {
        id: ItemId(row.get("id")?),
        workspace_id: WorkspaceId(row.get("workspace_id")?),
        thread: Thread::from_column(row.get("thread_id")?),
        author: actor_of(&row.get::<String>("author_kind")?, row.get("author_id")?)?,
        private: row.get("private")?,
        details,
        completed,
        sealed: row.get("sealed")?,
        created_at: row.get("created_at")?,
        updated_at: row.get("updated_at")?,
        deleted_at: row.get("deleted_at")?,
        version: row.get("version")?,
    })
}

/// Items of one kind that `reader` sees, in the order they were made: not deleted, in the
/// reader's threads, and private notes only if they wrote them.
pub async fn items_page(
    db: &Db,
    id: WorkspaceId,
    kind: ItemKind,
    sight: &Sight,
    page: &PageRequest,
) -> Result<Vec<ItemRow>> {
    let reader = sight.actor;
    let sql = format!(
        "SELECT {ITEM_COLUMNS} FROM guidance_items WHERE workspace_id = $1 AND id > $2 AND kind = $4 \
         AND deleted_at IS NULL AND (NOT private OR (author_kind = $5 AND author_id = $6)){} ORDER BY id LIMIT $3",
        sight_sql(sight, "thread_id", 7)
    );
    let query = db
        .query(&sql)
        .bind(id.as_uuid())
        .bind(page.after.unwrap_or(Uuid::nil()))
        .bind(page.fetch_limit())
        .bind(kind.as_str())
        .bind(reader.kind())
        .bind(reader.id());
    bind_sight(query, sight).fetch_all(db).await?.iter().map(item).collect()
}

pub struct SummaryRow {
    pub workspace_id: WorkspaceId,
    /// The text and the writer's name.
    pub sealed: Vec<u8>,
    pub updated_by: Actor,
    pub updated_at: DateTime<Utc>,
    pub version: i64,
}

pub async fn find_summary<'c>(conn: impl Source<'c>, id: WorkspaceId) -> Result<Option<SummaryRow>> {
    let row = conn
        .query("SELECT workspace_id, sealed, updated_by_kind, updated_by, updated_at, version FROM summaries WHERE workspace_id = $1")
        .bind(id.as_uuid())
        .fetch_optional(conn)
        .await?;
    row.map(|r| {
        Ok(SummaryRow {
            workspace_id: WorkspaceId(r.get("workspace_id")?),
            sealed: r.get("sealed")?,
            updated_by: actor_of(&r.get::<String>("updated_by_kind")?, r.get("updated_by")?)?,
            updated_at: r.get("updated_at")?,
            version: r.get("version")?,
        })
    })
    .transpose()
}

/// Writes the summary if it is still at `version` (0: none yet); `false` if someone was first.
pub async fn put_summary(tx: &mut Tx, s: &SummaryRow, version: i64) -> Result<bool> {
    let changed = if version == 0 {
        tx.query(
            "INSERT INTO summaries (workspace_id, sealed, updated_by_kind, updated_by, updated_at, version) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (workspace_id) DO NOTHING",
        )
        .bind(s.workspace_id.as_uuid())
        .bind(s.sealed.clone())
        .bind(s.updated_by.kind())
        .bind(s.updated_by.id())
        .bind(s.updated_at)
        .bind(s.version)
        .execute(tx)
        .await?
    } else {
        tx.query(
            "UPDATE summaries SET sealed = $3, updated_by_kind = $4, updated_by = $5, updated_at = $6, version = $7 \
             WHERE workspace_id = $1 AND version = $2",
        )
        .bind(s.workspace_id.as_uuid())
        .bind(version)
        .bind(s.sealed.clone())
        .bind(s.updated_by.kind())
        .bind(s.updated_by.id())
        .bind(s.updated_at)
        .bind(s.version)
        .execute(tx)
        .await?
    };
    Ok(changed == 1)
}

// ---------------------------------------------------------------------------------------------
// Consent grants

const GRANT_COLUMNS: &str = "request_id, expert_id, expert_organization_id, customer_id, visible_from_id, visible_from";

fn grant(row: &Row) -> Result<Grant> {
    let floor_id: Option<Uuid> = row.get("visible_from_id")?;
    let floor_at: Option<DateTime<Utc>> = row.get("visible_from")?;
    Ok(Grant {
        request_id: row.get("request_id")?,
        expert: row.get("expert_id")?,
        organization: row.get("expert_organization_id")?,
        customer: row.get("customer_id")?,
        floor: floor_id.zip(floor_at).map(|(id, at)| Floor { id, at }),
    })
}

/// The consents in force in a workspace (all experts' or one expert's).
pub async fn active_grants<'c>(conn: impl Source<'c>, id: WorkspaceId, expert: Option<Uuid>) -> Result<Vec<Grant>> {
    let one = if expert.is_some() { " AND expert_id = $2" } else { "" };
    let sql = format!(
        "SELECT {GRANT_COLUMNS} FROM consent_grants WHERE workspace_id = $1 AND state = 'active'{one} ORDER BY request_id"
    );
    let mut query = conn.query(&sql).bind(id.as_uuid());
    if let Some(expert) = expert {
        query = query.bind(expert);
    }
    query.fetch_all(conn).await?.iter().map(grant).collect()
}

/// Records an accepted consent as active; `false` if the request was heard of before (already
/// active, or already ended — an ending that overtook its acceptance keeps the expert out).
pub async fn insert_grant(tx: &mut Tx, id: WorkspaceId, g: &Grant, now: DateTime<Utc>) -> Result<bool> {
    let inserted = tx
        .query(&format!(
            "INSERT INTO consent_grants (workspace_id, state, changed_at, {GRANT_COLUMNS}) \
             VALUES ($1, 'active', $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (request_id) DO NOTHING"
        ))
        .bind(id.as_uuid())
        .bind(now)
        .bind(g.request_id)
        .bind(g.expert)
        .bind(g.organization)
        .bind(g.customer)
        .bind(g.floor.map(|f| f.id))
        .bind(g.floor.map(|f| f.at))
        .execute(&mut *tx)
        .await?;
    Ok(inserted == 1)
}

/// Marks the consent ended, remembering it even if its acceptance has not arrived (yet, or
/// ever); `true` if it was in force until now.
pub async fn end_grant(tx: &mut Tx, id: WorkspaceId, g: &Grant, now: DateTime<Utc>) -> Result<bool> {
    let ended = tx
        .query("UPDATE consent_grants SET state = 'ended', changed_at = $3 WHERE request_id = $1 AND workspace_id = $2 AND state = 'active'")
        .bind(g.request_id)
        .bind(id.as_uuid())
        .bind(now)
        .execute(&mut *tx)
        .await?;
    if ended == 1 {
        return Ok(true);
    }
    tx.query(&format!(
        "INSERT INTO consent_grants (workspace_id, state, changed_at, {GRANT_COLUMNS}) \
         VALUES ($1, 'ended', $2, $3, $4, $5, $6, NULL, NULL) ON CONFLICT (request_id) DO NOTHING"
    ))
    .bind(id.as_uuid())
    .bind(now)
    .bind(g.request_id)
    .bind(g.expert)
    .bind(g.organization)
    .bind(g.customer)
    .execute(&mut *tx)
    .await?;
    Ok(false)
}

/// Removes an expert who is a member by consent only; the workspace's own guides stay.
pub async fn remove_consent_member(tx: &mut Tx, id: WorkspaceId, expert: Uuid) -> Result<bool> {
    let removed = tx
        .query("DELETE FROM members WHERE workspace_id = $1 AND member_kind = 'expert' AND member_id = $2 AND role = 'expert'")
        .bind(id.as_uuid())
        .bind(expert)
        .execute(&mut *tx)
        .await?;
    Ok(removed == 1)
}

/// Marks a notification as already announced by its own mail, so the batch does not repeat it.
pub async fn mark_notification_mailed(tx: &mut Tx, id: NotificationId, now: DateTime<Utc>) -> Result<()> {
    tx.query("UPDATE notifications SET mailed_at = $2 WHERE id = $1")
        .bind(id.as_uuid())
        .bind(now)
        .execute(&mut *tx)
        .await?;
    Ok(())
}
