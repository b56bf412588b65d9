//! A workspace's stewardship: a main user hands it to another guide without seeing its
//! content (an expert who left or is away), logged in the workspace's access log and told to its
//! customers, and retention archives and finally deletes it. Deleting removes the data key from
//! the key store and every row, so whatever copy of the ciphertext survives anywhere (a content
//! backup included) no longer opens.

use chrono::{DateTime, Utc};
use futures::StreamExt;
use object_store::ObjectStore;
use ohjaus_platform::{
    auth::{Principal, Role},
    db::Tx,
    error::{ErrorCode, FieldViolation},
    i18n::Language,
    ids::parse_uuid,
    proto::workspaces::v1 as pb,
    receipts,
    service::{ServiceError, ServiceResult, service_only},
};
use uuid::Uuid;

use crate::{
    domain::{Actor, MemberRole, NotificationId, State, WorkspaceId},
    events as ev,
    files::workspace_prefix,
    members::{MemberContact, member_aad},
    notify::{MailContent, render_mail},
    service::{Opened, Workspaces, key_owner},
    store::{self, NotificationRow},
};

/// A main user's handing of a workspace to another guide.
struct TransferWorkspace {
    workspace: WorkspaceId,
    new_owner: Uuid,
}

impl TransferWorkspace {
    fn parse(msg: &pb::TransferWorkspaceRequest) -> ServiceResult<Self> {
        let workspace = WorkspaceId::parse_ref(&msg.workspace_id)?;
        let new_owner = ohjaus_platform::ids::parse_canonical(&msg.new_owner_id).ok_or_else(not_a_guide)?;
        Ok(Self { workspace, new_owner })
    }
}

/// Whoever `new_owner_id` names, they cannot take the workspace over.
fn not_a_guide() -> ServiceError {
    FieldViolation::new("new_owner_id", "invalid-expert").into()
}

impl Workspaces {
    pub(crate) async fn transfer_workspace(
        &self,
        principal: &Principal,
        msg: pb::TransferWorkspaceRequest,
    ) -> ServiceResult<pb::TransferWorkspaceResponse> {
        let TransferWorkspace { workspace: id, new_owner } = TransferWorkspace::parse(&msg)?;
        let row = store::find_workspace(self.db(), id).await?.ok_or_else(ServiceError::not_found)?;
        // Only a main user of the workspace's organisation; to anyone else it does not exist.
        let main_user = match Actor::of(principal) {
            Some(Actor::Expert(person)) if principal.has_role(row.organization_id, Role::Admin) => person,
            _ => return Err(ServiceError::not_found()),
        };
        let (contact, guide) =
            self.expert_contact(principal, row.organization_id, new_owner).await.map_err(|_| not_a_guide())?;
        if !guide {
            return Err(not_a_guide());
        }
        let now = self.core().now();
        let mut tx = self.db().begin().await?;
        let row = store::find_workspace(&mut tx, id).await?.ok_or_else(ServiceError::not_found)?;
        let opened = self.open(&row).await?;
        // An archived workspace is hidden from experts, main users included.
        if row.state == State::Archived {
            return Err(ServiceError::not_found());
        }
        store::set_owner(&mut tx, id, row.owner_id, new_owner, now).await?;
        // The new owner's name for the access log; the main user never sees it or the content.
        let sealed = opened.seal_json(&contact, &member_aad(id, Actor::Expert(new_owner)))?;
        store::set_contact(&mut tx, id, Actor::Expert(new_owner), &sealed).await?;
        // Who handed it to whom, in the log the customer reads, and the customer told.
        let workspace = &opened.workspace;
        self.log_act(&mut tx, workspace, main_user, Role::Admin.as_str(), "handed-over", now).await?;
        self.log_act(&mut tx, workspace, new_owner, MemberRole::Owner.as_str(), "became-owner", now).await?;
        let mailed = self.tell_customers_of_hand_over(&mut tx, &opened, new_owner, now).await?;
        let org = row.organization_id;
        let event = ev::WorkspaceTransferred {
            organization_id: org.to_string(),
            workspace_id: id.to_string(),
            owner_id: new_owner.to_string(),
        };
        self.core().emit(&mut tx, org, event).await?;
        self.core().commit(tx).await?;
        if mailed {
            self.inner().mail_waker.notify_one();
        }
        Ok(pb::TransferWorkspaceResponse { workspace_id: id.to_string(), owner_id: new_owner.to_string() })
    }

    /// Tells each customer of the workspace that it has a new guide: in the app, with the new
    /// owner as the subject, and by a mail that names no one. Whether any mail was queued.
    async fn tell_customers_of_hand_over(
        &self,
        tx: &mut Tx,
        opened: &Opened,
        new_owner: Uuid,
        now: DateTime<Utc>,
    ) -> ServiceResult<bool> {
        let id = opened.workspace.id;
        let mut mailed = false;
        for member in store::members_of(&mut *tx, id).await? {
            if member.role != MemberRole::Customer {
                continue;
            }
            let notification = NotificationRow {
                id: NotificationId::new(),
                recipient: member.actor,
                workspace_id: id,
                kind: "workspace-handed-over".into(),
                subject_id: new_owner,
                created_at: now,
                read_at: None,
            };
            store::insert_notification(tx, &notification).await?;
            // Announced by its own mail, not by a batch.
            store::mark_notification_mailed(tx, notification.id, now).await?;
            let Some(MemberContact { email: Some(to), language, .. }) =
                self.contact_of(tx, opened, member.actor).await?
            else {
                continue;
            };
            let language: Language = language.parse().unwrap_or_default();
            let paragraphs = [language.text("mail-handed-over-body"), language.text("mail-handed-over-privacy")];
            let (text, html) = render_mail(language, &paragraphs, &self.workspace_link(id));
            let mail = MailContent {
                to,
                subject: language.text("mail-handed-over-subject"),
                text,
                html,
                language: language.code().into(),
            };
            self.queue_mail(tx, opened, &mail).await?;
            mailed = true;
        }
        Ok(mailed)
    }

    pub(crate) async fn archive_workspace(
        &self,
        principal: &Principal,
        msg: pb::RetentionRequest,
    ) -> ServiceResult<pb::RetentionResponse> {
        service_only(principal, "retention")?;
        let id = WorkspaceId::parse_ref(&msg.workspace_id)?;
        let mut tx = self.db().begin().await?;
        let row = store::find_workspace(&mut tx, id).await?.ok_or_else(ServiceError::not_found)?;
        if row.state != State::Closed {
            return Err(ErrorCode::WrongState.into());
        }
        let now = self.core().now();
        if !store::set_state(&mut tx, id, row.version, State::Archived, row.closed_at, now).await? {
            return Err(ErrorCode::VersionMismatch.into());
        }
        store::retention::mark_archived(&mut tx, id, now).await?;
        let org = row.organization_id;
        let event = ev::WorkspaceArchived { organization_id: org.to_string(), workspace_id: id.to_string() };
        self.core().emit(&mut tx, org, event).await?;
        self.core().commit(tx).await?;
        Ok(pb::RetentionResponse { workspace_id: id.to_string(), deleted: Default::default() })
    }

    pub(crate) async fn delete_workspace(
        &self,
        principal: &Principal,
        msg: pb::RetentionRequest,
    ) -> ServiceResult<pb::RetentionResponse> {
        service_only(principal, "retention")?;
        let id = WorkspaceId::parse_ref(&msg.workspace_id)?;
        // A retention decision's repeated request answers what the first one deleted.
        let deletion = match msg.deletion_id.as_str() {
            "" => None,
            given => Some(parse_uuid("deletion_id", given)?),
        };
        if let Some(deletion) = deletion
            && let Some(deleted) = receipts::find(self.db(), deletion).await?
        {
            // The objects may outlive a crash between the commit and their removal.
            if deleted.get("objects").is_some_and(|n| *n > 0) {
                remove_objects(self.inner().files.as_ref(), id).await;
            }
            return Ok(pb::RetentionResponse { workspace_id: id.to_string(), deleted: deleted.into_iter().collect() });
        }
        // The key first: from here on nothing of the workspace opens, wherever a copy of it is
        // (a content backup, a row this deletion does not reach). Idempotent, so a deletion
        // that stopped half-way and is asked again finishes, whatever is left; the key store
        // is compacted right after, so the key is gone from its files too.
        self.inner().keyring.delete(key_owner(id)).await?;
        let now = self.core().now();
        let mut tx = self.db().begin().await?;
        let row = store::find_workspace(&mut tx, id).await?.ok_or_else(ServiceError::not_found)?;
        let objects = store::retention::file_count(&mut tx, id).await?;
        let mut deleted = store::retention::delete_everything(&mut tx, id).await?;
        deleted.insert("objects".to_owned(), objects);
        if let Some(deletion) = deletion {
            receipts::remember(&mut tx, deletion, &deleted, now).await?;
        }
        let org = row.organization_id;
        let event = ev::WorkspaceDeleted { organization_id: org.to_string(), workspace_id: id.to_string() };
        self.core().emit(&mut tx, org, event).await?;
        self.core().commit(tx).await?;
        if let Err(error) = self.db().purge_deleted().await {
            tracing::warn!(workspace = %id, %error, "could not purge a deleted workspace's rows from the log");
        }
        // The key went first; the ciphertext is removed too, so storage is freed.
        // Retention's deletions of workspaces that never had a file skip the listing.
        if objects > 0 || deletion.is_none() {
            remove_objects(self.inner().files.as_ref(), id).await;
        }
        tracing::info!(workspace = %id, "workspace deleted");
        Ok(pb::RetentionResponse { workspace_id: id.to_string(), deleted: deleted.into_iter().collect() })
    }
}

async fn remove_objects(files: &dyn ObjectStore, id: WorkspaceId) {
    let prefix = workspace_prefix(id);
    let mut listed = files.list(Some(&prefix));
    while let Some(object) = listed.next().await {
        let result = match object {
            Ok(meta) => files.delete(&meta.location).await,
            Err(error) => Err(error),
        };
        if let Err(error) = result {
            tracing::warn!(workspace = %id, %error, "could not remove a deleted workspace's object; its key is gone");
        }
    }
}
