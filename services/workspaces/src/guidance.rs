//! Guidance: the phases, tasks, events and notes of a workspace and its summary. What people
//! wrote (titles, bodies, places, names) is sealed with the workspace key; kinds, statuses and
//! dates stay clear so the service can sort and decide. Reads are logged like any content.

use chrono::{DateTime, Utc};
use ohjaus_platform::{
    auth::Principal,
    db::Tx,
    error::{ErrorCode, FieldViolation, Violations},
    grpc::{from_timestamp, timestamp},
    ids::PageRequest,
    proto::workspaces::v1 as pb,
    service::{NextAction, RequestKey, ServiceError, ServiceResult},
    types::Text,
};
use serde::{Deserialize, Serialize};

use crate::{
    domain::{
        self, Actor, MemberRole, Thread, WorkspaceId,
        guidance::{self as rules, Assignee, Details, ItemId, ItemInput, ItemKind, PhaseStatus, RawItem, SUMMARY_MAX},
    },
    events as ev,
    members::display_name,
    service::{Opened, Reader, Workspaces},
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

fn item_kind(value: i32) -> Result<ItemKind, FieldViolation> {
    match pb::ItemKind::try_from(value) {
        Ok(pb::ItemKind::Phase) => Ok(ItemKind::Phase),
        Ok(pb::ItemKind::Task) => Ok(ItemKind::Task),
        Ok(pb::ItemKind::Event) => Ok(ItemKind::Event),
        Ok(pb::ItemKind::Note) => Ok(ItemKind::Note),
        _ => Err(FieldViolation::new("kind", "invalid-item-kind")),
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
fn item_input(kind: ItemKind, fields: Option<&pb::ItemFields>) -> Result<ItemInput, Vec<FieldViolation>> {
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
        Ok(_) => Err(violations),
        Err(more) => {
            violations.extend(more);
            Err(violations)
        }
    }
}

/// A new item as its author sent it.
struct CreateItem {
    workspace: WorkspaceId,
    kind: ItemKind,
    input: ItemInput,
    /// Only a note is private.
    private: bool,
    /// Checked against the workspace and its members once the author is known.
    thread_id: String,
    author_name: String,
    key: RequestKey,
}

impl CreateItem {
    fn parse(msg: &pb::CreateItemRequest) -> ServiceResult<Self> {
        let workspace = WorkspaceId::parse_ref(&msg.workspace_id)?;
        let mut v = Violations::new();
        let kind = v.check(item_kind(msg.kind));
        let input = kind.and_then(|kind| match item_input(kind, msg.fields.as_ref()) {
            Ok(input) => Some(input),
            Err(violations) => {
                violations.into_iter().for_each(|violation| v.push(violation));
                None
            }
        });
        let key = v.check(RequestKey::parse("create_item", msg, |m| &mut m.request_id));
        Ok(v.finish_with(|| {
            let kind = kind?;
            Some(Self {
                workspace,
                kind,
                input: input?,
                private: kind == ItemKind::Note && msg.private,
                thread_id: msg.thread_id.clone(),
                author_name: display_name(&msg.author_name),
                key: key?,
            })
        })?)
    }
}

/// An item the caller names: unknown or malformed ids name nothing they may see.
struct ItemTarget {
    workspace: WorkspaceId,
    item: ItemId,
}

impl ItemTarget {
    fn parse(workspace: &str, item: &str) -> ServiceResult<Self> {
        Ok(Self { workspace: WorkspaceId::parse_ref(workspace)?, item: ItemId::parse_ref(item)? })
    }
}

/// The summary's new text, written over `version` (0: there is none yet).
struct PutSummary {
    workspace: WorkspaceId,
    text: Text,
    author_name: String,
    version: i64,
}

impl PutSummary {
    fn parse(msg: &pb::PutSummaryRequest) -> ServiceResult<Self> {
        Ok(Self {
            workspace: WorkspaceId::parse_ref(&msg.workspace_id)?,
            text: Text::parse("text", &msg.text, SUMMARY_MAX)?,
            author_name: display_name(&msg.author_name),
            version: msg.version,
        })
    }
}

impl Workspaces {
    /// An item as its reader sees it: a deleted one with its id and kind only.
    pub(crate) fn item_to_pb(&self, opened: &Opened, row: &ItemRow) -> ServiceResult<pb::Item> {
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
    async fn item_changed(&self, tx: &mut Tx, opened: &Opened, item: ItemId) -> ServiceResult<()> {
        let org = opened.workspace.organization_id;
        let event = ev::ItemChanged {
            organization_id: org.to_string(),
            workspace_id: opened.workspace.id.to_string(),
            item_id: item.to_string(),
        };
        self.core().emit(tx, org, event).await
    }

    pub(crate) async fn create_item(
        &self,
        principal: &Principal,
        msg: pb::CreateItemRequest,
    ) -> ServiceResult<pb::Item> {
        let command = CreateItem::parse(&msg)?;
        // Begun before the caller's rights are read, so they are read in the transaction that
        // writes: the workspace cannot close, nor the caller leave, in between. A retry is
        // answered after the same checks.
        let mut tx = match command.key.begin(self.db(), principal).await? {
            NextAction::Replay(made) => return self.created_item(principal, &command, ItemId(made)).await,
            NextAction::Proceed(tx) => tx,
        };
        let (Reader { opened, actor, .. }, thread) = self.may_create_item(&mut tx, principal, &command).await?;
        let now = self.core().now();
        let item = ItemId::new();
        let content = ItemContent {
            title: command.input.title,
            body: command.input.body,
            location: command.input.location,
            author_name: command.author_name,
        };
        let row = ItemRow {
            id: item,
            workspace_id: command.workspace,
            thread,
            author: actor,
            private: command.private,
            details: command.input.details,
            completed: None,
            sealed: opened.seal_json(&content, &item_aad(command.workspace, item))?,
            created_at: now,
            updated_at: now,
            deleted_at: None,
            version: 1,
        };
        store::insert_item(&mut tx, &row).await?;
        command.key.remember(&mut tx, principal, item.as_uuid(), now).await?;
        self.item_changed(&mut tx, &opened, item).await?;
        self.core().commit(tx).await?;
        self.item_to_pb(&opened, &row)
    }

    /// Whether the caller may write the item, and the thread it goes to.
    async fn may_create_item(
        &self,
        tx: &mut Tx,
        principal: &Principal,
        command: &CreateItem,
    ) -> ServiceResult<(Reader, Thread)> {
        let reader = self.readable(tx, principal, command.workspace).await?;
        domain::may_post(principal, &reader.opened.workspace, reader.role)?;
        rules::may_write(reader.role, command.kind, command.private)?;
        // A private note belongs to no customer's thread: nobody but its author reads it.
        let thread = if command.private {
            Thread::Everyone
        } else {
            self.thread_of_new(tx, &reader.opened.workspace, &reader.sight, &command.thread_id).await?
        };
        Ok((reader, thread))
    }

    /// The answer to a retry: the item the first request wrote, if the caller may still write
    /// it.
    async fn created_item(&self, principal: &Principal, command: &CreateItem, made: ItemId) -> ServiceResult<pb::Item> {
        let mut tx = self.db().begin().await?;
        let (Reader { opened, .. }, _) = self.may_create_item(&mut tx, principal, command).await?;
        let row =
            store::find_item(&mut tx, made).await?.ok_or_else(|| ServiceError::corrupt("remembered item is gone"))?;
        tx.commit().await?;
        self.item_to_pb(&opened, &row)
    }

    /// One item the caller may see; anything else is not found.
    async fn visible_item(
        &self,
        tx: &mut Tx,
        principal: &Principal,
        target: &ItemTarget,
    ) -> ServiceResult<(Reader, ItemRow)> {
        let reader = self.readable(tx, principal, target.workspace).await?;
        let row = store::find_item(&mut *tx, target.item).await?.ok_or_else(ServiceError::not_found)?;
        if row.workspace_id != target.workspace
            || !rules::sees_item(&reader.sight, row.id, row.thread, row.private, row.author)
        {
            return Err(ServiceError::not_found());
        }
        Ok((reader, row))
    }

    pub(crate) async fn get_item(&self, principal: &Principal, msg: pb::ItemRef) -> ServiceResult<pb::Item> {
        let target = ItemTarget::parse(&msg.workspace_id, &msg.item_id)?;
        let mut tx = self.db().begin().await?;
        let (Reader { opened, role, actor, .. }, row) = self.visible_item(&mut tx, principal, &target).await?;
        self.log_read(&mut tx, &opened.workspace, actor, role, row.details.kind().as_str()).await?;
        tx.commit().await?;
        self.item_to_pb(&opened, &row)
    }

    pub(crate) async fn list_items(
        &self,
        principal: &Principal,
        msg: pb::ListItemsRequest,
    ) -> ServiceResult<pb::ListItemsResponse> {
        let id = WorkspaceId::parse_ref(&msg.workspace_id)?;
        let kind = item_kind(msg.kind)?;
        let page = PageRequest::parse(msg.page_size, &msg.page_token)?;
        let mut tx = self.db().begin().await?;
        let Reader { opened, role, actor, sight } = self.readable(&mut tx, principal, id).await?;
        let what = format!("{}s", kind.as_str());
        self.log_read(&mut tx, &opened.workspace, actor, role, &what).await?;
        tx.commit().await?;
        let rows = store::items_page(self.db(), id, kind, &sight, &page).await?;
        let (rows, next_page_token) = page.finish(rows, |r| r.id.as_uuid());
        let items = rows.iter().map(|row| self.item_to_pb(&opened, row)).collect::<ServiceResult<_>>()?;
        Ok(pb::ListItemsResponse { items, next_page_token })
    }

    /// Changes an item the caller may change, in an active workspace, if `version` is current
    /// (0: whatever it is). `change` gets the row and the opened content and edits them.
    async fn change_item(
        &self,
        principal: &Principal,
        target: &ItemTarget,
        version: i64,
        change: impl FnOnce(Actor, Option<MemberRole>, &mut ItemRow, &mut ItemContent, DateTime<Utc>) -> ServiceResult<()>,
    ) -> ServiceResult<pb::Item> {
        let mut tx = self.db().begin().await?;
        let (Reader { opened, role, actor, .. }, row) = self.visible_item(&mut tx, principal, target).await?;
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
        let now = self.core().now();
        change(actor, role, &mut changed, &mut content, now)?;
        changed.updated_at = now;
        changed.sealed = opened.seal_json(&content, &aad)?;
        if !store::update_item(&mut tx, &changed, changed.version - 1).await? {
            return Err(ErrorCode::VersionMismatch.into());
        }
        self.item_changed(&mut tx, &opened, changed.id).await?;
        self.core().commit(tx).await?;
        self.item_to_pb(&opened, &changed)
    }

    pub(crate) async fn update_item(
        &self,
        principal: &Principal,
        msg: pb::UpdateItemRequest,
    ) -> ServiceResult<pb::Item> {
        let target = ItemTarget::parse(&msg.workspace_id, &msg.item_id)?;
        let fields = msg.fields;
        self.change_item(principal, &target, msg.version, |actor, role, row, content, _| {
            let kind = row.details.kind();
            rules::may_change(actor, role, kind, row.author)?;
            // The fields an item has depend on its kind, which the stored item tells.
            let input = item_input(kind, fields.as_ref()).map_err(ServiceError::invalid)?;
            row.details = input.details;
            content.title = input.title;
            content.body = input.body;
            content.location = input.location;
            Ok(())
        })
        .await
    }

    pub(crate) async fn set_task_done(
        &self,
        principal: &Principal,
        msg: pb::SetTaskDoneRequest,
    ) -> ServiceResult<pb::Item> {
        let target = ItemTarget::parse(&msg.workspace_id, &msg.item_id)?;
        self.change_item(principal, &target, msg.version, |actor, role, row, _, now| {
            let Details::Task { assignee, .. } = row.details else {
                return Err(FieldViolation::new("item_id", "invalid-item-kind").into());
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

    pub(crate) async fn delete_item(&self, principal: &Principal, msg: pb::ItemRef) -> ServiceResult<pb::Item> {
        let target = ItemTarget::parse(&msg.workspace_id, &msg.item_id)?;
        self.change_item(principal, &target, msg.version, |actor, role, row, content, now| {
            rules::may_change(actor, role, row.details.kind(), row.author)?;
            // What was written is gone for good; the row keeps the item's place for live streams.
            *content = ItemContent::default();
            row.deleted_at = Some(now);
            Ok(())
        })
        .await
    }

    pub(crate) fn summary_to_pb(&self, opened: &Opened, row: Option<&SummaryRow>) -> ServiceResult<pb::Summary> {
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

    pub(crate) async fn get_summary(
        &self,
        principal: &Principal,
        msg: pb::GetSummaryRequest,
    ) -> ServiceResult<pb::Summary> {
        let id = WorkspaceId::parse_ref(&msg.workspace_id)?;
        let mut tx = self.db().begin().await?;
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

    pub(crate) async fn put_summary(
        &self,
        principal: &Principal,
        msg: pb::PutSummaryRequest,
    ) -> ServiceResult<pb::Summary> {
        let command = PutSummary::parse(&msg)?;
        let id = command.workspace;
        let mut tx = self.db().begin().await?;
        let Reader { opened, role, actor, .. } = self.readable(&mut tx, principal, id).await?;
        domain::may_post(principal, &opened.workspace, role)?;
        rules::may_write_summary(role)?;
        let content = SummaryContent { text: command.text.into_string(), author_name: command.author_name };
        let row = SummaryRow {
            workspace_id: id,
            sealed: opened.seal_json(&content, &summary_aad(id))?,
            updated_by: actor,
            updated_at: self.core().now(),
            version: command.version + 1,
        };
        // The summary is one text that several people edit: a stale version never overwrites.
        if command.version < 0 || !store::put_summary(&mut tx, &row, command.version).await? {
            return Err(ErrorCode::VersionMismatch.into());
        }
        let org = opened.workspace.organization_id;
        self.core()
            .emit(&mut tx, org, ev::SummaryChanged { organization_id: org.to_string(), workspace_id: id.to_string() })
            .await?;
        self.core().commit(tx).await?;
        self.summary_to_pb(&opened, Some(&row))
    }
}
