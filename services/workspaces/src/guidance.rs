//! Guidance: the phases, tasks, events and notes of a workspace and its summary. What people
//! wrote (titles, bodies, places, names) is sealed with the workspace key; kinds, statuses and
//! dates stay clear so the service can sort and decide. Reads are logged like any content.

use chrono::{DateTime, Utc};
use ohjaus_platform::{
    auth::Principal,
    error::{ErrorCode, FieldViolation},
    grpc::{from_timestamp, timestamp},
    idempotency::{self, Earlier, caller_key, parse_request_id, request_hash},
    proto::workspaces::v1 as pb,
    types::Text,
};
use serde::{Deserialize, Serialize};

use crate::{
    WorkspacesError,
    domain::{
        self, Actor, MemberRole, Thread, WorkspaceId,
        guidance::{self as rules, Assignee, Details, ItemId, ItemInput, ItemKind, PhaseStatus, RawItem, SUMMARY_MAX},
    },
    events as ev,
    grpc::{Opened, Reader, Result, Workspaces, display_name, invalid, not_found, page, workspace_id},
    store::{self, ItemRow, SummaryRow},
};

/// What an item seals.
#[derive(Default, Serialize, Deserialize)]
pub(crate) struct ItemContent {
    pub(crate) title: String,
    pub(crate) body: String,
    #[serde(default)]
    pub(crate) location: String,
    pub(crate) author_name: String,
}

/// What the summary seals.
#[derive(Serialize, Deserialize)]
struct SummaryContent {
    text: String,
    author_name: String,
}

fn item_aad(workspace: WorkspaceId, item: ItemId) -> Vec<u8> {
    format!("workspace:{workspace}:item:{item}").into_bytes()
}

fn summary_aad(workspace: WorkspaceId) -> Vec<u8> {
    format!("workspace:{workspace}:summary").into_bytes()
}

fn item_kind(value: i32) -> Result<ItemKind> {
    match pb::ItemKind::try_from(value) {
        Ok(pb::ItemKind::Phase) => Ok(ItemKind::Phase),
        Ok(pb::ItemKind::Task) => Ok(ItemKind::Task),
        Ok(pb::ItemKind::Event) => Ok(ItemKind::Event),
        Ok(pb::ItemKind::Note) => Ok(ItemKind::Note),
        _ => Err(invalid(FieldViolation::new("kind", "invalid-item-kind"))),
    }
}

fn kind_to_pb(kind: ItemKind) -> pb::ItemKind {
    match kind {
        ItemKind::Phase => pb::ItemKind::Phase,
        ItemKind::Task => pb::ItemKind::Task,
        ItemKind::Event => pb::ItemKind::Event,
        ItemKind::Note => pb::ItemKind::Note,
    }
}

/// Parses the fields of an item of `kind`; every problem at once.
fn item_input(kind: ItemKind, fields: Option<&pb::ItemFields>) -> Result<ItemInput> {
    let default = pb::ItemFields::default();
    let f = fields.unwrap_or(&default);
    let mut violations = Vec::new();
    let phase_status = match pb::PhaseStatus::try_from(f.phase_status) {
        Ok(pb::PhaseStatus::Unspecified) => None,
        Ok(pb::PhaseStatus::Planned) => Some(PhaseStatus::Planned),
        Ok(pb::PhaseStatus::Current) => Some(PhaseStatus::Current),
        Ok(pb::PhaseStatus::Done) => Some(PhaseStatus::Done),
        Err(_) => {
            violations.push(FieldViolation::new("phase_status", "invalid-phase-status"));
            None
        }
    };
    let assignee = match pb::Assignee::try_from(f.assignee) {
        Ok(pb::Assignee::Unspecified) => None,
        Ok(pb::Assignee::Customer) => Some(Assignee::Customer),
        Ok(pb::Assignee::Guides) => Some(Assignee::Guides),
        Err(_) => {
            violations.push(FieldViolation::new("assignee", "invalid-assignee"));
            None
        }
    };
    let mut time = |field: &str, value: Option<&ohjaus_platform::proto::prost_types::Timestamp>| {
        let parsed = value.map(from_timestamp);
        if parsed.is_some_and(|t| t.is_none()) {
            violations.push(FieldViolation::new(field, "invalid-date"));
        }
        parsed.flatten()
    };
    let starts_at = time("starts_at", f.starts_at.as_ref());
    let ends_at = time("ends_at", f.ends_at.as_ref());
    let raw = RawItem {
        title: &f.title,
        body: &f.body,
        location: &f.location,
        phase_status,
        due_on: &f.due_on,
        assignee,
        starts_at,
        ends_at,
    };
    match ItemInput::parse(kind, &raw) {
        Ok(input) if violations.is_empty() => Ok(input),
        Ok(_) => Err(WorkspacesError::Invalid(violations)),
        Err(more) => {
            violations.extend(more);
            Err(WorkspacesError::Invalid(violations))
        }
    }
}

fn item_id(value: &str) -> Result<ItemId> {
    ItemId::parse("item_id", value).map_err(|_| not_found())
}

impl Workspaces {
    /// An item as its reader sees it: a deleted one with its id and kind only.
    pub(crate) fn item_to_pb(&self, opened: &Opened, row: &ItemRow) -> Result<pb::Item> {
        let content: ItemContent = if row.deleted_at.is_some() {
            ItemContent::default()
        } else {
            opened.open_json(&row.sealed, &item_aad(row.workspace_id, row.id), "guidance item")?
        };
        let mut item = pb::Item {
            id: row.id.to_string(),
            workspace_id: row.workspace_id.to_string(),
            kind: kind_to_pb(row.details.kind()).into(),
            title: content.title,
            body: content.body,
            thread_id: row.thread.column().map(|t| t.to_string()).unwrap_or_default(),
            author_id: row.author.id().to_string(),
            author_kind: row.author.kind().to_owned(),
            author_name: content.author_name,
            private: row.private,
            created_at: Some(timestamp(row.created_at)),
            updated_at: Some(timestamp(row.updated_at)),
            deleted: row.deleted_at.is_some(),
            version: row.version,
            ..pb::Item::default()
        };
        match row.details {
            Details::Phase { status } => {
                item.phase_status = match status {
                    PhaseStatus::Planned => pb::PhaseStatus::Planned,
                    PhaseStatus::Current => pb::PhaseStatus::Current,
                    PhaseStatus::Done => pb::PhaseStatus::Done,
                }
                .into();
            }
            Details::Task { due_on, assignee } => {
                item.due_on = due_on.map(|d| d.format("%Y-%m-%d").to_string()).unwrap_or_default();
                item.assignee = match assignee {
                    Assignee::Customer => pb::Assignee::Customer,
                    Assignee::Guides => pb::Assignee::Guides,
                }
                .into();
                item.completed_at = row.completed.map(|(at, _)| timestamp(at));
                item.completed_by = row.completed.map(|(_, by)| by.id().to_string()).unwrap_or_default();
            }
            Details::Event { starts_at, ends_at } => {
                item.starts_at = Some(timestamp(starts_at));
                item.ends_at = ends_at.map(timestamp);
                item.location = content.location;
            }
            Details::Note => {}
        }
        Ok(item)
    }

    /// Announces a changed item to live streams.
    async fn item_changed(&self, tx: &mut ohjaus_platform::db::Tx, opened: &Opened, item: ItemId) -> Result<()> {
        let org = opened.workspace.organization_id;
        let event = ev::ItemChanged {
            organization_id: org.to_string(),
            workspace_id: opened.workspace.id.to_string(),
            item_id: item.to_string(),
        };
        self.emit(tx, org, event).await
    }

    pub(crate) async fn create_item(&self, principal: &Principal, msg: pb::CreateItemRequest) -> Result<pb::Item> {
        let id = workspace_id(&msg.workspace_id)?;
        let kind = item_kind(msg.kind)?;
        let input = item_input(kind, msg.fields.as_ref())?;
        let private = kind == ItemKind::Note && msg.private;
        let key = parse_request_id(&msg.request_id).map_err(invalid)?;
        let hash = request_hash(&msg, |m| m.request_id.clear());
        let mut tx = self.inner().db.begin().await?;
        let Reader { opened, role, actor, sight } = self.readable(&mut tx, principal, id).await?;
        domain::may_post(principal, &opened.workspace, role)?;
        rules::may_write(role, kind, private)?;
        // A private note belongs to no customer's thread: nobody but its author reads it.
        let thread = if private {
            Thread::Everyone
        } else {
            self.thread_of_new(&mut tx, &opened.workspace, &sight, &msg.thread_id).await?
        };
        if let Some(key) = &key {
            match idempotency::earlier(&mut tx, &caller_key(principal), "create_item", key, &hash).await? {
                Earlier::Made(made) => {
                    let row = store::find_item(&mut tx, ItemId(made))
                        .await?
                        .ok_or_else(|| WorkspacesError::Corrupt("remembered item is gone".into()))?;
                    tx.commit().await?;
                    return self.item_to_pb(&opened, &row);
                }
                Earlier::Different => return Err(ErrorCode::IdempotencyKeyReused.into()),
                Earlier::None => {}
            }
        }
        let now = self.now();
        let item = ItemId::new();
        let content = ItemContent {
            title: input.title,
            body: input.body,
            location: input.location,
            author_name: display_name(&msg.author_name),
        };
        let row = ItemRow {
            id: item,
            workspace_id: id,
            thread,
            author: actor,
            private,
            details: input.details,
            completed: None,
            sealed: opened.seal_json(&content, &item_aad(id, item))?,
            created_at: now,
            updated_at: now,
            deleted_at: None,
            version: 1,
        };
        store::insert_item(&mut tx, &row).await?;
        if let Some(key) = &key
            && !idempotency::remember(&mut tx, &caller_key(principal), "create_item", key, &hash, item.as_uuid(), now)
                .await?
        {
            return Err(WorkspacesError::ConcurrentReplay);
        }
        self.item_changed(&mut tx, &opened, item).await?;
        self.commit(tx).await?;
        self.item_to_pb(&opened, &row)
    }

    /// One item the caller may see; anything else is not found.
    async fn visible_item(
        &self,
        tx: &mut ohjaus_platform::db::Tx,
        principal: &Principal,
        workspace: &str,
        item: &str,
    ) -> Result<(Opened, Option<MemberRole>, Actor, ItemRow)> {
        let id = workspace_id(workspace)?;
        let item = item_id(item)?;
        let Reader { opened, role, actor, sight } = self.readable(tx, principal, id).await?;
        let row = store::find_item(&mut *tx, item).await?.ok_or_else(not_found)?;
        if row.workspace_id != id || !rules::sees_item(&sight, row.id, row.thread, row.private, row.author) {
            return Err(not_found());
        }
        Ok((opened, role, actor, row))
    }

    pub(crate) async fn get_item(&self, principal: &Principal, msg: pb::ItemRef) -> Result<pb::Item> {
        let mut tx = self.inner().db.begin().await?;
        let (opened, role, actor, row) = self.visible_item(&mut tx, principal, &msg.workspace_id, &msg.item_id).await?;
        self.log_read(&mut tx, &opened.workspace, actor, role, row.details.kind().as_str()).await?;
        tx.commit().await?;
        self.item_to_pb(&opened, &row)
    }

    pub(crate) async fn list_items(
        &self,
        principal: &Principal,
        msg: pb::ListItemsRequest,
    ) -> Result<pb::ListItemsResponse> {
        let id = workspace_id(&msg.workspace_id)?;
        let kind = item_kind(msg.kind)?;
        let page = page(msg.page_size, &msg.page_token)?;
        let mut tx = self.inner().db.begin().await?;
        let Reader { opened, role, actor, sight } = self.readable(&mut tx, principal, id).await?;
        let what = format!("{}s", kind.as_str());
        self.log_read(&mut tx, &opened.workspace, actor, role, &what).await?;
        tx.commit().await?;
        let rows = store::items_page(&self.inner().db, id, kind, &sight, &page).await?;
        let (rows, next_page_token) = page.finish(rows, |r| r.id.as_uuid());
        let items = rows.iter().map(|row| self.item_to_pb(&opened, row)).collect::<Result<_>>()?;
        Ok(pb::ListItemsResponse { items, next_page_token })
    }

    /// Changes an item the caller may change, in an active workspace, if `version` is current
    /// (0: whatever it is). `change` gets the row and the opened content and edits them.
    async fn change_item(
        &self,
        principal: &Principal,
        workspace: &str,
        item: &str,
        version: i64,
        change: impl FnOnce(Actor, Option<MemberRole>, &mut ItemRow, &mut ItemContent, DateTime<Utc>) -> Result<()>,
    ) -> Result<pb::Item> {
        let mut tx = self.inner().db.begin().await?;
        let (opened, role, actor, row) = self.visible_item(&mut tx, principal, workspace, item).await?;
        domain::may_post(principal, &opened.workspace, role)?;
        if row.deleted_at.is_some() {
            return Err(ErrorCode::WrongState.into());
        }
        if version != 0 && version != row.version {
            return Err(ErrorCode::VersionMismatch.into());
        }
        let aad = item_aad(row.workspace_id, row.id);
        let mut content: ItemContent = opened.open_json(&row.sealed, &aad, "guidance item")?;
        let mut changed = ItemRow { version: row.version + 1, ..row };
        let now = self.now();
        change(actor, role, &mut changed, &mut content, now)?;
        changed.updated_at = now;
        changed.sealed = opened.seal_json(&content, &aad)?;
        if !store::update_item(&mut tx, &changed, changed.version - 1).await? {
            return Err(ErrorCode::VersionMismatch.into());
        }
        self.item_changed(&mut tx, &opened, changed.id).await?;
        self.commit(tx).await?;
        self.item_to_pb(&opened, &changed)
    }

    pub(crate) async fn update_item(&self, principal: &Principal, msg: pb::UpdateItemRequest) -> Result<pb::Item> {
        let fields = msg.fields;
        self.change_item(principal, &msg.workspace_id, &msg.item_id, msg.version, |actor, role, row, content, _| {
            let kind = row.details.kind();
            rules::may_change(actor, role, kind, row.author)?;
            let input = item_input(kind, fields.as_ref())?;
            row.details = input.details;
            content.title = input.title;
            content.body = input.body;
            content.location = input.location;
            Ok(())
        })
        .await
    }

    pub(crate) async fn set_task_done(&self, principal: &Principal, msg: pb::SetTaskDoneRequest) -> Result<pb::Item> {
        self.change_item(principal, &msg.workspace_id, &msg.item_id, msg.version, |actor, role, row, _, now| {
            let Details::Task { assignee, .. } = row.details else {
                return Err(invalid(FieldViolation::new("item_id", "invalid-item-kind")));
            };
            rules::may_set_done(role, assignee)?;
            row.completed = match (msg.done, row.completed) {
                (true, Some(done)) => Some(done),
                (true, None) => Some((now, actor)),
                (false, _) => None,
            };
            Ok(())
        })
        .await
    }

    pub(crate) async fn delete_item(&self, principal: &Principal, msg: pb::ItemRef) -> Result<pb::Item> {
        self.change_item(principal, &msg.workspace_id, &msg.item_id, msg.version, |actor, role, row, content, now| {
            rules::may_change(actor, role, row.details.kind(), row.author)?;
            // What was written is gone for good; the row keeps the item's place for live streams.
            *content = ItemContent::default();
            row.deleted_at = Some(now);
            Ok(())
        })
        .await
    }

    pub(crate) fn summary_to_pb(&self, opened: &Opened, row: Option<&SummaryRow>) -> Result<pb::Summary> {
        let id = opened.workspace.id;
        let Some(row) = row else {
            return Ok(pb::Summary { workspace_id: id.to_string(), ..pb::Summary::default() });
        };
        let content: SummaryContent = opened.open_json(&row.sealed, &summary_aad(id), "summary")?;
        Ok(pb::Summary {
            workspace_id: id.to_string(),
            text: content.text,
            updated_by: row.updated_by.id().to_string(),
            updated_by_name: content.author_name,
            updated_at: Some(timestamp(row.updated_at)),
            version: row.version,
        })
    }

    pub(crate) async fn get_summary(&self, principal: &Principal, msg: pb::GetSummaryRequest) -> Result<pb::Summary> {
        let id = workspace_id(&msg.workspace_id)?;
        let mut tx = self.inner().db.begin().await?;
        let Reader { opened, role, actor, sight } = self.readable(&mut tx, principal, id).await?;
        self.log_read(&mut tx, &opened.workspace, actor, role, "summary").await?;
        let row = store::find_summary(&mut tx, id).await?;
        tx.commit().await?;
        match row {
            // Written before a "from now on only" consent: only its version shows, so a new
            // text can still be written over it.
            Some(row) if !sight.sees_written_at(row.updated_at) => {
                Ok(pb::Summary { workspace_id: id.to_string(), version: row.version, ..pb::Summary::default() })
            }
            row => self.summary_to_pb(&opened, row.as_ref()),
        }
    }

    pub(crate) async fn put_summary(&self, principal: &Principal, msg: pb::PutSummaryRequest) -> Result<pb::Summary> {
        let id = workspace_id(&msg.workspace_id)?;
        let text = Text::parse("text", &msg.text, SUMMARY_MAX).map_err(invalid)?;
        let mut tx = self.inner().db.begin().await?;
        let Reader { opened, role, actor, .. } = self.readable(&mut tx, principal, id).await?;
        domain::may_post(principal, &opened.workspace, role)?;
        rules::may_write_summary(role)?;
        let content = SummaryContent { text: text.into_string(), author_name: display_name(&msg.author_name) };
        let row = SummaryRow {
            workspace_id: id,
            sealed: opened.seal_json(&content, &summary_aad(id))?,
            updated_by: actor,
            updated_at: self.now(),
            version: msg.version + 1,
        };
        // The summary is one text that several people edit: a stale version never overwrites.
        if msg.version < 0 || !store::put_summary(&mut tx, &row, msg.version).await? {
            return Err(ErrorCode::VersionMismatch.into());
        }
        let org = opened.workspace.organization_id;
        self.emit(&mut tx, org, ev::SummaryChanged { organization_id: org.to_string(), workspace_id: id.to_string() })
            .await?;
        self.commit(tx).await?;
        self.summary_to_pb(&opened, Some(&row))
    }
}
