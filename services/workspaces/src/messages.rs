//! Messages: members write to the workspace (in a group, to everyone or to one customer's
//! thread), read what their sight allows, and edit or delete their own for a while. Bodies are
//! sealed with the workspace key; every read is logged.

use chrono::{DateTime, Utc};
use ohjaus_platform::{
    auth::Principal,
    db::Tx,
    error::{ErrorCode, FieldViolation, Violations},
    grpc::timestamp,
    ids::PageRequest,
    proto::workspaces::v1 as pb,
    service::{NextAction, RequestKey, ServiceError, ServiceResult},
    types::Text,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{
    domain::{
        self, ATTACHMENTS_MAX, Actor, FileId, MESSAGE_MAX, MessageId, Thread, Workspace, WorkspaceId, sight::Sight,
    },
    events as ev,
    members::display_name,
    service::{Opened, Reader, Workspaces},
    store::{self, MessageRow},
};

/// What a message seals: the body with its author's name as shown.
#[derive(Serialize, Deserialize)]
pub(crate) struct MessageContent {
    pub(crate) body: String,
    pub(crate) author_name: String,
}

fn message_aad(workspace: WorkspaceId, message: MessageId) -> Vec<u8> {
    format!("workspace:{workspace}:message:{message}").into_bytes()
}

/// A new message as its author sent it.
struct PostMessage {
    workspace: WorkspaceId,
    body: Text,
    author_name: String,
    /// Checked against the workspace and its members once the author is known.
    thread_id: String,
    /// Checked against the author's uploads once the author is known.
    attachment_ids: Vec<String>,
    key: RequestKey,
}

impl PostMessage {
    fn parse(msg: pb::PostMessageRequest) -> ServiceResult<Self> {
        let workspace = WorkspaceId::parse_ref(&msg.workspace_id)?;
        let mut v = Violations::new();
        let body = v.check(Text::parse("body", &msg.body, MESSAGE_MAX));
        let key = v.check(RequestKey::parse("post_message", &msg, |m| &mut m.request_id));
        Ok(v.finish_with(|| {
            Some(Self {
                workspace,
                body: body?,
                author_name: display_name(&msg.author_name),
                thread_id: msg.thread_id,
                attachment_ids: msg.attachment_ids,
                key: key?,
            })
        })?)
    }
}

/// A message the caller names: unknown or malformed ids name nothing they may see.
struct MessageRef {
    workspace: WorkspaceId,
    message: MessageId,
}

impl MessageRef {
    fn parse(workspace: &str, message: &str) -> ServiceResult<Self> {
        Ok(Self { workspace: WorkspaceId::parse_ref(workspace)?, message: MessageId::parse_ref(message)? })
    }
}

/// A new body for the caller's own message.
struct EditMessage {
    target: MessageRef,
    /// 0: whatever the message's version is.
    version: i64,
    body: Text,
}

impl EditMessage {
    fn parse(msg: &pb::EditMessageRequest) -> ServiceResult<Self> {
        // A body that is not valid is refused whatever the ids name.
        let body = Text::parse("body", &msg.body, MESSAGE_MAX)?;
        Ok(Self { target: MessageRef::parse(&msg.workspace_id, &msg.message_id)?, version: msg.version, body })
    }
}

impl Workspaces {
    pub(crate) async fn post_message(
        &self,
        principal: &Principal,
        msg: pb::PostMessageRequest,
    ) -> ServiceResult<pb::Message> {
        let command = PostMessage::parse(msg)?;
        // Begun before the caller's rights are read, so they are read in the transaction that
        // writes: the workspace cannot close, nor the caller leave, in between. A retry is
        // answered after the same checks.
        let mut tx = match command.key.begin(self.db(), principal).await? {
            NextAction::Replay(made) => return self.posted_message(principal, &command, MessageId(made)).await,
            NextAction::Proceed(tx) => tx,
        };
        let (Reader { opened, actor, .. }, thread) = self.may_post_message(&mut tx, principal, &command).await?;
        let attachments =
            self.attachments_of(&mut tx, command.workspace, actor, thread, &command.attachment_ids).await?;
        let now = self.core().now();
        let id = MessageId::new();
        let content = MessageContent { body: command.body.as_str().to_owned(), author_name: command.author_name };
        let row = MessageRow {
            id,
            workspace_id: command.workspace,
            author: actor,
            thread,
            attachments: attachments.iter().map(ToString::to_string).collect::<Vec<_>>().join(","),
            sealed: opened.seal_json(&content, &message_aad(command.workspace, id))?,
            created_at: now,
            edited_at: None,
            deleted_at: None,
            version: 1,
        };
        store::insert_message(&mut tx, &row).await?;
        command.key.remember(&mut tx, principal, id.as_uuid(), now).await?;
        self.notify_of_message(&mut tx, &opened.workspace, actor, thread, id, now).await?;
        let org = opened.workspace.organization_id;
        let event = ev::MessagePosted {
            organization_id: org.to_string(),
            workspace_id: command.workspace.to_string(),
            message_id: id.to_string(),
        };
        self.core().emit(&mut tx, org, event).await?;
        self.core().commit(tx).await?;
        self.message_to_pb(&opened, &row).await
    }

    /// Whether the caller may post the message, and the thread it goes to.
    async fn may_post_message(
        &self,
        tx: &mut Tx,
        principal: &Principal,
        command: &PostMessage,
    ) -> ServiceResult<(Reader, Thread)> {
        let reader = self.readable(tx, principal, command.workspace).await?;
        domain::may_post(principal, &reader.opened.workspace, reader.role)?;
        let thread = self.thread_of_new(tx, &reader.opened.workspace, &reader.sight, &command.thread_id).await?;
        Ok((reader, thread))
    }

    /// The answer to a retry: the message the first request posted, if the caller may still
    /// post it.
    async fn posted_message(
        &self,
        principal: &Principal,
        command: &PostMessage,
        made: MessageId,
    ) -> ServiceResult<pb::Message> {
        let mut tx = self.db().begin().await?;
        let (Reader { opened, .. }, _) = self.may_post_message(&mut tx, principal, command).await?;
        let row = store::find_message(&mut tx, made)
            .await?
            .ok_or_else(|| ServiceError::corrupt("remembered message is gone"))?;
        tx.commit().await?;
        self.message_to_pb(&opened, &row).await
    }

    pub(crate) async fn list_messages(
        &self,
        principal: &Principal,
        msg: pb::ListMessagesRequest,
    ) -> ServiceResult<pb::ListMessagesResponse> {
        let id = WorkspaceId::parse_ref(&msg.workspace_id)?;
        let page = PageRequest::parse(msg.page_size, &msg.page_token)?;
        let mut tx = self.db().begin().await?;
        let Reader { opened, role, actor, sight } = self.readable(&mut tx, principal, id).await?;
        self.log_read(&mut tx, &opened.workspace, actor, role, "messages").await?;
        tx.commit().await?;
        let rows = store::messages_page(self.db(), id, &sight, &page, msg.newest_first).await?;
        let (rows, next_page_token) = page.finish(rows, |r| r.id.as_uuid());
        let mut messages = Vec::with_capacity(rows.len());
        for row in &rows {
            messages.push(self.message_to_pb(&opened, row).await?);
        }
        Ok(pb::ListMessagesResponse { messages, next_page_token })
    }

    pub(crate) async fn get_message(
        &self,
        principal: &Principal,
        msg: pb::GetMessageRequest,
    ) -> ServiceResult<pb::Message> {
        let target = MessageRef::parse(&msg.workspace_id, &msg.message_id)?;
        let mut tx = self.db().begin().await?;
        let (Reader { opened, role, actor, .. }, row) = self.visible_message(&mut tx, principal, &target).await?;
        self.log_read(&mut tx, &opened.workspace, actor, role, "message").await?;
        tx.commit().await?;
        self.message_to_pb(&opened, &row).await
    }

    pub(crate) async fn edit_message(
        &self,
        principal: &Principal,
        msg: pb::EditMessageRequest,
    ) -> ServiceResult<pb::Message> {
        let command = EditMessage::parse(&msg)?;
        self.change_message(principal, &command.target, command.version, Some(command.body)).await
    }

    pub(crate) async fn delete_message(
        &self,
        principal: &Principal,
        msg: pb::DeleteMessageRequest,
    ) -> ServiceResult<pb::Message> {
        let target = MessageRef::parse(&msg.workspace_id, &msg.message_id)?;
        self.change_message(principal, &target, msg.version, None).await
    }

    /// Edits (`Some(body)`) or deletes (`None`) the caller's own message if `version` is
    /// current (0: whatever it is).
    async fn change_message(
        &self,
        principal: &Principal,
        target: &MessageRef,
        version: i64,
        body: Option<Text>,
    ) -> ServiceResult<pb::Message> {
        let mut tx = self.db().begin().await?;
        let (Reader { opened, actor, .. }, row) = self.visible_message(&mut tx, principal, target).await?;
        let now = self.core().now();
        domain::may_change_message(
            actor,
            row.author,
            row.created_at,
            now,
            self.inner().config.message_edit_window,
            opened.workspace.state,
        )?;
        if row.deleted_at.is_some() {
            return Err(ErrorCode::WrongState.into());
        }
        if version != 0 && version != row.version {
            return Err(ErrorCode::VersionMismatch.into());
        }
        let aad = message_aad(row.workspace_id, row.id);
        let mut content: MessageContent = opened.open_json(&row.sealed, &aad, "message")?;
        let mut changed = MessageRow { version: row.version + 1, ..row };
        match body {
            Some(body) => {
                content.body = body.into_string();
                changed.edited_at = Some(now);
            }
            None => {
                // The body is gone for good; only the author's name keeps the message's place.
                content.body = String::new();
                changed.attachments = String::new();
                changed.deleted_at = Some(now);
            }
        }
        changed.sealed = opened.seal_json(&content, &aad)?;
        if !store::update_message(&mut tx, &changed, changed.version - 1).await? {
            return Err(ErrorCode::VersionMismatch.into());
        }
        let org = opened.workspace.organization_id;
        let event = ev::MessageChanged {
            organization_id: org.to_string(),
            workspace_id: changed.workspace_id.to_string(),
            message_id: changed.id.to_string(),
        };
        self.core().emit(&mut tx, org, event).await?;
        self.core().commit(tx).await?;
        self.message_to_pb(&opened, &changed).await
    }

    pub(crate) async fn mark_read(
        &self,
        principal: &Principal,
        msg: pb::MarkReadRequest,
    ) -> ServiceResult<pb::ReadMarker> {
        let target = MessageRef::parse(&msg.workspace_id, &msg.message_id)?;
        let mut tx = self.db().begin().await?;
        let (Reader { opened, actor, .. }, row) = self.visible_message(&mut tx, principal, &target).await?;
        let now = self.core().now();
        store::mark_read(&mut tx, opened.workspace.id, actor, row.id, now).await?;
        let marker = store::read_marker(&mut tx, opened.workspace.id, actor).await?;
        tx.commit().await?;
        let (last, at) = marker.unwrap_or((row.id, now));
        Ok(pb::ReadMarker {
            workspace_id: opened.workspace.id.to_string(),
            last_read_message_id: last.to_string(),
            at: Some(timestamp(at)),
        })
    }

    /// One message the caller may see; anything else is not found.
    async fn visible_message(
        &self,
        tx: &mut Tx,
        principal: &Principal,
        target: &MessageRef,
    ) -> ServiceResult<(Reader, MessageRow)> {
        let reader = self.readable(tx, principal, target.workspace).await?;
        let row = store::find_message(&mut *tx, target.message).await?.ok_or_else(ServiceError::not_found)?;
        if row.workspace_id != target.workspace || !reader.sight.sees(row.thread, row.id.as_uuid()) {
            return Err(ServiceError::not_found());
        }
        Ok((reader, row))
    }

    /// A message as its reader sees it: a deleted one without body or attachments.
    pub(crate) async fn message_to_pb(&self, opened: &Opened, row: &MessageRow) -> ServiceResult<pb::Message> {
        let content: MessageContent =
            opened.open_json(&row.sealed, &message_aad(row.workspace_id, row.id), "message")?;
        let mut attachments = Vec::new();
        if row.deleted_at.is_none() {
            for id in row.attachments.split(',').filter(|a| !a.is_empty()) {
                let id = FileId(Uuid::parse_str(id).map_err(|_| ServiceError::corrupt("attachment id"))?);
                if let Some(file) = store::find_file(self.db(), id).await? {
                    attachments.push(self.file_to_pb(opened, &file)?);
                }
            }
        }
        Ok(pb::Message {
            id: row.id.to_string(),
            workspace_id: row.workspace_id.to_string(),
            author_id: row.author.id().to_string(),
            author_kind: row.author.kind().to_owned(),
            author_name: content.author_name,
            body: if row.deleted_at.is_some() { String::new() } else { content.body },
            created_at: Some(timestamp(row.created_at)),
            attachments,
            thread_id: row.thread.column().map(|t| t.to_string()).unwrap_or_default(),
            edited_at: row.edited_at.map(timestamp),
            deleted: row.deleted_at.is_some(),
            version: row.version,
        })
    }

    /// The files a new message refers to: uploaded to this workspace by its author, in the same
    /// thread.
    async fn attachments_of(
        &self,
        tx: &mut Tx,
        workspace: WorkspaceId,
        author: Actor,
        thread: Thread,
        ids: &[String],
    ) -> ServiceResult<Vec<FileId>> {
        if ids.len() > ATTACHMENTS_MAX {
            return Err(FieldViolation::new("attachment_ids", "invalid-attachment").into());
        }
        let mut files = Vec::new();
        for (i, id) in ids.iter().enumerate() {
            let field = format!("attachment_ids[{i}]");
            let refused = || ServiceError::from(FieldViolation::new(&field, "invalid-attachment"));
            let id = FileId::parse(&field, id).map_err(|_| refused())?;
            let file = store::find_file(&mut *tx, id).await?.ok_or_else(refused)?;
            if file.workspace_id != workspace || file.uploaded_by != author || file.thread != thread {
                return Err(refused());
            }
            if !files.contains(&id) {
                files.push(id);
            }
        }
        Ok(files)
    }

    /// Tells every other member who sees `thread` that a message is there.
    async fn notify_of_message(
        &self,
        tx: &mut Tx,
        workspace: &Workspace,
        author: Actor,
        thread: Thread,
        message: MessageId,
        now: DateTime<Utc>,
    ) -> ServiceResult<()> {
        let grants = store::active_grants(&mut *tx, workspace.id, None).await?;
        for member in store::members_of(&mut *tx, workspace.id).await? {
            if member.actor == author {
                continue;
            }
            match Sight::of(None, workspace.kind, member.actor, Some(member.role), &grants) {
                Ok(sight) if sight.sees(thread, message.as_uuid()) => {}
                _ => continue,
            }
            let notification = store::NotificationRow {
                id: domain::NotificationId::new(),
                recipient: member.actor,
                workspace_id: workspace.id,
                kind: "message".to_owned(),
                subject_id: message.as_uuid(),
                created_at: now,
                read_at: None,
            };
            store::insert_notification(tx, &notification).await?;
        }
        Ok(())
    }
}
