//! What the retention worker asks of the workspaces service: one batch of a rule at a time
//! (notices before closing and archiving, the closing, the archiving, the list of archived
//! workspaces due for deletion), and the customers of a workspace for the account rule. The
//! worker decides the times; this service re-checks each rule on the row it changes, in the
//! transaction that changes it.

use chrono::{DateTime, Utc};
use ohjaus_platform::{
    auth::Principal,
    db::Tx,
    error::{FieldViolation, Violations},
    grpc::{from_timestamp, timestamp},
    i18n::Language,
    ids::parse_uuid,
    proto::workspaces::v1 as pb,
    service::{ServiceError, ServiceResult, service_only},
};
use uuid::Uuid;

use crate::{
    domain::{Actor, MemberRole, NotificationId, State, WorkspaceId},
    events as ev,
    members::MemberContact,
    notify::{MailContent, render_mail},
    service::Workspaces,
    store::{
        self, NotificationRow,
        retention::{DueRow, Sweep},
    },
};

/// Only the retention worker sweeps.
/// The most rows one sweep call handles.
const MAX_BATCH: i64 = 1000;

/// One batch of a rule, parsed.
struct SweepCommand {
    sweep: Sweep,
    due_before: DateTime<Utc>,
    notice_before: DateTime<Utc>,
    after: Uuid,
    limit: i64,
    dry_run: bool,
    notice_days: i64,
}

impl SweepCommand {
    fn parse(msg: &pb::SweepRetentionRequest) -> ServiceResult<Self> {
        let mut v = Violations::new();
        let sweep = match pb::RetentionAction::try_from(msg.action) {
            Ok(pb::RetentionAction::CloseNotice) => Some(Sweep::CloseNotice),
            Ok(pb::RetentionAction::Close) => Some(Sweep::Close),
            Ok(pb::RetentionAction::ArchiveNotice) => Some(Sweep::ArchiveNotice),
            Ok(pb::RetentionAction::Archive) => Some(Sweep::Archive),
            Ok(pb::RetentionAction::ListDeletable) => Some(Sweep::ListDeletable),
            _ => {
                v.push(FieldViolation::new("action", "invalid-value"));
                None
            }
        };
        let due_before = msg.due_before.as_ref().and_then(from_timestamp);
        if due_before.is_none() {
            v.push(FieldViolation::new("due_before", "field-required"));
        }
        let notice_before = match &msg.notice_before {
            Some(t) => from_timestamp(t),
            None => Some(DateTime::<Utc>::MIN_UTC),
        };
        if notice_before.is_none() {
            v.push(FieldViolation::new("notice_before", "invalid-value"));
        }
        let after =
            if msg.after_id.is_empty() { Some(Uuid::nil()) } else { v.check(parse_uuid("after_id", &msg.after_id)) };
        if !(1..=i32::try_from(MAX_BATCH).unwrap_or(i32::MAX)).contains(&msg.limit) {
            v.push(FieldViolation::new("limit", "invalid-value"));
        }
        Ok(v.finish_with(|| {
            Some(Self {
                sweep: sweep?,
                due_before: due_before?,
                notice_before: notice_before?,
                after: after?,
                limit: i64::from(msg.limit),
                dry_run: msg.dry_run,
                notice_days: i64::from(msg.notice_days.max(0)),
            })
        })?)
    }
}

impl Workspaces {
    pub(crate) async fn sweep_retention(
        &self,
        principal: &Principal,
        msg: pb::SweepRetentionRequest,
    ) -> ServiceResult<pb::SweepRetentionResponse> {
        service_only(principal, "retention")?;
        let cmd = SweepCommand::parse(&msg)?;
        // Listing and dry runs change nothing and lock nothing.
        if cmd.dry_run || cmd.sweep == Sweep::ListDeletable {
            let rows = store::retention::due_batch(
                self.db(),
                cmd.sweep,
                cmd.due_before,
                cmd.notice_before,
                cmd.after,
                cmd.limit,
                false,
            )
            .await?;
            return Ok(answer(&rows, cmd.limit));
        }
        let now = self.core().now();
        let mut tx = self.db().begin().await?;
        let rows = store::retention::due_batch(
            &mut tx,
            cmd.sweep,
            cmd.due_before,
            cmd.notice_before,
            cmd.after,
            cmd.limit,
            true,
        )
        .await?;
        let mut mailed = false;
        for row in &rows {
            match cmd.sweep {
                Sweep::CloseNotice => {
                    store::retention::mark_close_notice(&mut tx, row.id, now).await?;
                    mailed |= self.tell_of_retention(&mut tx, row, "workspace-closing", cmd.notice_days, now).await?;
                }
                Sweep::ArchiveNotice => {
                    store::retention::mark_archive_notice(&mut tx, row.id, now).await?;
                    mailed |= self.tell_of_retention(&mut tx, row, "workspace-archiving", cmd.notice_days, now).await?;
                }
                Sweep::Close => {
                    store::retention::retire(&mut tx, row.id, State::Closed, now).await?;
                    let event = ev::WorkspaceClosed {
                        organization_id: row.organization_id.to_string(),
                        workspace_id: row.id.to_string(),
                    };
                    self.core().emit(&mut tx, row.organization_id, event).await?;
                }
                Sweep::Archive => {
                    store::retention::retire(&mut tx, row.id, State::Archived, now).await?;
                    let event = ev::WorkspaceArchived {
                        organization_id: row.organization_id.to_string(),
                        workspace_id: row.id.to_string(),
                    };
                    self.core().emit(&mut tx, row.organization_id, event).await?;
                }
                Sweep::ListDeletable => {}
            }
        }
        self.core().commit(tx).await?;
        if mailed {
            self.inner().mail_waker.notify_one();
        }
        Ok(answer(&rows, cmd.limit))
    }

    /// Tells the workspace's customers and its owner that it closes or is archived soon: in
    /// the app, and by a mail that says nothing of the workspace. Whether any mail was queued.
    async fn tell_of_retention(
        &self,
        tx: &mut Tx,
        row: &DueRow,
        kind: &str,
        days: i64,
        now: DateTime<Utc>,
    ) -> ServiceResult<bool> {
        let members = store::members_of(&mut *tx, row.id).await?;
        let recipients: Vec<_> = members
            .iter()
            .filter(|m| m.role == MemberRole::Customer || m.actor == Actor::Expert(row.owner_id))
            .collect();
        let mut opened = None;
        let mut mailed = false;
        for member in recipients {
            let notification = NotificationRow {
                id: NotificationId::new(),
                recipient: member.actor,
                workspace_id: row.id,
                kind: kind.to_owned(),
                subject_id: row.id.as_uuid(),
                created_at: now,
                read_at: None,
            };
            // Announced by its own mail, not by a batch.
            store::retention::insert_mailed_notification(tx, &notification).await?;
            if member.contact_sealed.is_none() {
                continue;
            }
            // The key is opened only for a member who left an address.
            if opened.is_none() {
                let workspace = store::find_workspace(&mut *tx, row.id).await?.ok_or_else(ServiceError::not_found)?;
                opened = Some(self.open(&workspace).await?);
            }
            let Some(opened) = opened.as_ref() else { continue };
            let Some(MemberContact { email: Some(to), language, .. }) =
                self.contact_of(tx, opened, member.actor).await?
            else {
                continue;
            };
            let language: Language = language.parse().unwrap_or_default();
            let (subject, body) = match kind {
                "workspace-closing" => ("mail-closing-subject", "mail-closing-body"),
                _ => ("mail-archiving-subject", "mail-archiving-body"),
            };
            let days = days.to_string();
            let paragraphs = [language.text_with(body, &[("days", &days)]), language.text("mail-retention-privacy")];
            let (text, html) = render_mail(language, &paragraphs, &self.workspace_link(row.id));
            let mail =
                MailContent { to, subject: language.text(subject), text, html, language: language.code().into() };
            self.queue_mail(tx, opened, &mail).await?;
            mailed = true;
        }
        Ok(mailed)
    }

    pub(crate) async fn list_retention_customers(
        &self,
        principal: &Principal,
        msg: pb::RetentionRequest,
    ) -> ServiceResult<pb::RetentionCustomers> {
        service_only(principal, "retention")?;
        let id = WorkspaceId::parse_ref(&msg.workspace_id)?;
        let customers = store::retention::customers_of(self.db(), id).await?;
        Ok(pb::RetentionCustomers { customer_ids: customers.iter().map(Uuid::to_string).collect() })
    }

    pub(crate) async fn count_customer_workspaces(
        &self,
        principal: &Principal,
        msg: pb::CustomerWorkspacesRequest,
    ) -> ServiceResult<pb::CustomerWorkspacesResponse> {
        service_only(principal, "retention")?;
        let customer = parse_uuid("customer_id", &msg.customer_id)?;
        let workspaces = store::retention::customer_workspaces(self.db(), customer).await?;
        Ok(pb::CustomerWorkspacesResponse { workspaces })
    }
}

/// The rows as the answer, with the cursor of the next batch (none after a short batch).
fn answer(rows: &[DueRow], limit: i64) -> pb::SweepRetentionResponse {
    let full = i64::try_from(rows.len()).unwrap_or(i64::MAX) >= limit;
    pb::SweepRetentionResponse {
        workspaces: rows
            .iter()
            .map(|r| pb::DueWorkspace { workspace_id: r.id.to_string(), since: Some(timestamp(r.since)) })
            .collect(),
        next_after_id: match rows.last() {
            Some(last) if full => last.id.to_string(),
            _ => String::new(),
        },
    }
}
