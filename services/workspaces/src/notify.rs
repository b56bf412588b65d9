//! Notifications: in-app notifications with read state, and mail. Mail is queued in the
//! database (sealed with the workspace's key, since an invitation carries a secret link) in
//! the same transaction as the change that causes it, and a worker sends it: nothing is lost
//! when the mail server is down, and nothing is sent for a change that rolled back. New-message
//! mails are batched: at most one per person per configured window, counting messages only, sent
//! by one replica however many run, and never with any content.

use std::time::Duration;

use ohjaus_platform::{
    auth::Principal,
    db::Tx,
    grpc::timestamp,
    html::escape,
    i18n::Language,
    ids::PageRequest,
    mail::{Mail, MailError},
    proto::workspaces::v1 as pb,
    service::ServiceResult,
    types::Email,
};
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::{
    domain::{Actor, NotificationId, WorkspaceId},
    members::MemberContact,
    service::{Opened, Workspaces},
    store::{self, ClaimedNotification, OutgoingMailRow},
};

/// A rendered mail as it waits in the queue.
#[derive(Serialize, Deserialize)]
pub(crate) struct MailContent {
    pub(crate) to: String,
    pub(crate) subject: String,
    pub(crate) text: String,
    pub(crate) html: String,
    pub(crate) language: String,
}

fn mail_aad(workspace: WorkspaceId, mail: Uuid) -> Vec<u8> {
    format!("workspace:{workspace}:mail:{mail}").into_bytes()
}

/// The text and HTML bodies of a mail: paragraphs and one link.
pub(crate) fn render_mail(language: Language, paragraphs: &[String], link: &str) -> (String, String) {
    let mut text = paragraphs.join("\n\n");
    text.push_str(&format!("\n\n{}: {link}\n", language.text("mail-link")));
    let mut html = format!("<!doctype html><html lang=\"{}\"><body>", language.code());
    for paragraph in paragraphs {
        html.push_str(&format!("<p>{}</p>", escape(paragraph)));
    }
    html.push_str(&format!(
        "<p><a href=\"{}\">{}</a></p></body></html>",
        escape(link),
        escape(&language.text("mail-link"))
    ));
    (text, html)
}

/// Sending attempts back off up to an hour; after this many the mail is given up and counted.
const MAX_ATTEMPTS: i64 = 48;

impl Workspaces {
    /// Queues `mail` in `tx`; the worker sends it after commit.
    pub(crate) async fn queue_mail(&self, tx: &mut Tx, opened: &Opened, mail: &MailContent) -> ServiceResult<()> {
        let id = ohjaus_platform::ids::new_id();
        let sealed = opened.seal_json(mail, &mail_aad(opened.workspace.id, id))?;
        let row = OutgoingMailRow { id, workspace_id: opened.workspace.id, sealed, attempts: 0 };
        store::queue_mail(tx, &row, self.core().now()).await
    }

    /// Where a mail sends a member: the workspace in the application.
    pub(crate) fn workspace_link(&self, id: WorkspaceId) -> String {
        format!("{}/app/workspaces/{id}", self.inner().config.public_base_url)
    }

    pub(crate) async fn list_notifications(
        &self,
        principal: &Principal,
        msg: pb::ListNotificationsRequest,
    ) -> ServiceResult<pb::ListNotificationsResponse> {
        let page = PageRequest::parse(msg.page_size, &msg.page_token)?;
        let Some(actor) = Actor::of(principal) else { return Ok(pb::ListNotificationsResponse::default()) };
        let db = self.db();
        let rows = store::notifications_page(db, actor, msg.unread_only, &page).await?;
        let (rows, next_page_token) = page.finish(rows, |r| r.id.as_uuid());
        let notifications = rows
            .iter()
            .map(|n| pb::Notification {
                id: n.id.to_string(),
                kind: n.kind.clone(),
                workspace_id: n.workspace_id.to_string(),
                subject_id: n.subject_id.to_string(),
                created_at: Some(timestamp(n.created_at)),
                read_at: n.read_at.map(timestamp),
            })
            .collect();
        Ok(pb::ListNotificationsResponse {
            notifications,
            next_page_token,
            unread: store::unread_count(db, actor).await?,
        })
    }

    pub(crate) async fn mark_notifications_read(
        &self,
        principal: &Principal,
        msg: pb::MarkNotificationsReadRequest,
    ) -> ServiceResult<pb::MarkNotificationsReadResponse> {
        // Only members have notifications; anyone else has none to mark, whatever they name.
        let Some(actor) = Actor::of(principal) else { return Ok(pb::MarkNotificationsReadResponse::default()) };
        let ids = msg
            .notification_ids
            .iter()
            .enumerate()
            .map(|(i, id)| NotificationId::parse(&format!("notification_ids[{i}]"), id))
            .collect::<Result<Vec<_>, _>>()?;
        let mut tx = self.db().begin().await?;
        let marked = store::mark_notifications_read(&mut tx, actor, &ids, self.core().now()).await?;
        tx.commit().await?;
        Ok(pb::MarkNotificationsReadResponse { marked: i64::try_from(marked).unwrap_or(i64::MAX) })
    }

    /// Turns waiting messages into at most one mail per person per window, counting messages
    /// only. Several replicas may run this at once: each recipient's window is claimed in the
    /// transaction that queues their mail, so one of them mails each person.
    pub async fn batch_notifications(&self) -> ServiceResult<usize> {
        let inner = self.inner();
        let now = self.core().now();
        let mailed_before = now - inner.config.notification_batch;
        let mut queued = 0;
        for recipient in store::due_for_mail(inner.core.db(), mailed_before, 200).await? {
            let mut tx = inner.core.db().begin().await?;
            if !store::claim_mail_window(&mut tx, recipient, mailed_before, now).await? {
                // Another replica mailed them since they were listed.
                tx.rollback().await?;
                continue;
            }
            let claimed = store::claim_notifications(&mut tx, recipient, now).await?;
            let messages: Vec<&ClaimedNotification> =
                claimed.iter().filter(|n| n.kind == "message" && n.unread).collect();
            // The link goes to the workspace of the latest message.
            let Some(latest) = messages.iter().max_by_key(|n| n.id.as_uuid()) else {
                // Read in the meantime: nothing to tell, and the window stays open.
                tx.rollback().await?;
                continue;
            };
            let count = i64::try_from(messages.len()).unwrap_or(i64::MAX);
            if self.queue_new_messages_mail(&mut tx, recipient, latest.workspace_id, count).await? {
                queued += 1;
            }
            tx.commit().await?;
        }
        Ok(queued)
    }

    /// Queues "you have `count` new messages" to `recipient`, at the address they left in
    /// `workspace`; whether they left one.
    async fn queue_new_messages_mail(
        &self,
        tx: &mut Tx,
        recipient: Actor,
        workspace: WorkspaceId,
        count: i64,
    ) -> ServiceResult<bool> {
        let Some(row) = store::find_workspace(&mut *tx, workspace).await? else { return Ok(false) };
        let Some(opened) = self.open_if_keyed(&row).await? else { return Ok(false) };
        let Some(MemberContact { email: Some(email), language, .. }) = self.contact_of(tx, &opened, recipient).await?
        else {
            return Ok(false);
        };
        let language: Language = language.parse().unwrap_or_default();
        let body = language.text_with_count("mail-new-messages-body", "count", count);
        let paragraphs = [body, language.text("mail-new-messages-privacy")];
        let (text, html) = render_mail(language, &paragraphs, &self.workspace_link(workspace));
        let mail = MailContent {
            to: email,
            subject: language.text("mail-new-messages-subject"),
            text,
            html,
            language: language.code().to_owned(),
        };
        self.queue_mail(tx, &opened, &mail).await?;
        Ok(true)
    }

    /// Sends the mail that is due; returns how many went out.
    pub async fn send_due_mail(&self) -> ServiceResult<usize> {
        let inner = self.inner();
        let now = self.core().now();
        let mut sent = 0;
        for row in store::due_mail(inner.core.db(), now, 50).await? {
            // A worker that dies mid-send leaves the mail to be tried again after the lease.
            if !store::claim_mail(inner.core.db(), row.id, now, now + chrono::Duration::minutes(5)).await? {
                continue;
            }
            let workspace = store::find_workspace(inner.core.db(), row.workspace_id).await?;
            let opened = match workspace {
                Some(workspace) => self.open_if_keyed(&workspace).await?,
                None => None,
            };
            // The workspace was deleted: its mail goes nowhere.
            let Some(opened) = opened else {
                store::mail_sent(inner.core.db(), row.id).await?;
                continue;
            };
            let content: MailContent = opened.open_json(&row.sealed, &mail_aad(row.workspace_id, row.id), "mail")?;
            let Ok(to) = Email::parse("to", &content.to) else {
                tracing::warn!(mail = %row.id, "queued mail has an unusable address; dropped");
                store::mail_sent(inner.core.db(), row.id).await?;
                continue;
            };
            let mail = Mail {
                to,
                subject: content.subject,
                text: content.text,
                html: content.html,
                language: content.language,
            };
            match inner.mailer.send(&mail).await {
                Ok(()) => {
                    store::mail_sent(inner.core.db(), row.id).await?;
                    metrics::counter!("ohjaus_mail_sent_total").increment(1);
                    sent += 1;
                }
                Err(MailError::Delivery(error)) if row.attempts + 1 < MAX_ATTEMPTS => {
                    let attempts = row.attempts + 1;
                    let wait =
                        chrono::Duration::seconds(30 * (1_i64 << attempts.min(7))).min(chrono::Duration::hours(1));
                    tracing::warn!(mail = %row.id, attempts, %error, "mail not delivered; will retry");
                    store::mail_retry(inner.core.db(), row.id, attempts, now + wait).await?;
                }
                Err(error) => {
                    tracing::error!(mail = %row.id, %error, "mail given up");
                    metrics::counter!("ohjaus_mail_failed_total").increment(1);
                    store::mail_sent(inner.core.db(), row.id).await?;
                }
            }
        }
        Ok(sent)
    }
}

/// Sends queued mail and batches notifications until `shutdown`: at once when woken, and
/// every few seconds for retries and batch windows.
pub async fn run_mail_worker(service: Workspaces, shutdown: CancellationToken) {
    let waker = service.inner().mail_waker.clone();
    loop {
        if let Err(error) = service.batch_notifications().await {
            tracing::error!(%error, "batching notifications failed");
        }
        if let Err(error) = service.send_due_mail().await {
            tracing::error!(%error, "sending mail failed");
        }
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = waker.notified() => {}
            () = tokio::time::sleep(Duration::from_secs(2)) => {}
        }
    }
}
