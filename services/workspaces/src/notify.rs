//! Notifications: in-app notifications with read state, and mail. Mail is queued in the
//! database (sealed with the workspace's key, since an invitation carries a secret link) in
//! the same transaction as the change that causes it, and a worker sends it: nothing is lost
//! when the mail server is down, and nothing is sent for a change that rolled back. New-message
//! mails are batched: at most one per person per configured window, and never any content.

use std::{collections::HashMap, time::Duration};

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
    store::{self, OutgoingMailRow},
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

    /// Turns waiting notifications into at most one mail per person per window.
    pub async fn batch_notifications(&self) -> ServiceResult<usize> {
        let inner = self.inner();
        let now = self.core().now();
        let due = store::due_for_mail(inner.core.db(), now - inner.config.notification_batch, 200).await?;
        let mut by_recipient: HashMap<Actor, (WorkspaceId, i64)> = HashMap::new();
        for (recipient, workspace, count) in due {
            by_recipient.entry(recipient).and_modify(|(_, n)| *n += count).or_insert((workspace, count));
        }
        let mut queued = 0;
        for (recipient, (workspace, count)) in by_recipient {
            let mut tx = inner.core.db().begin().await?;
            if let Some(row) = store::find_workspace(&mut tx, workspace).await? {
                let opened = self.open(&row)?;
                let contact = self.contact_of(&mut tx, &opened, recipient).await?;
                if let Some(MemberContact { email: Some(email), language, .. }) = contact {
                    let language: Language = language.parse().unwrap_or_default();
                    let link = self.workspace_link(workspace);
                    let body = language.text_with_count("mail-new-messages-body", "count", count);
                    let (text, html) =
                        render_mail(language, &[body, language.text("mail-new-messages-privacy")], &link);
                    let mail = MailContent {
                        to: email,
                        subject: language.text("mail-new-messages-subject"),
                        text,
                        html,
                        language: language.code().to_owned(),
                    };
                    self.queue_mail(&mut tx, &opened, &mail).await?;
                    queued += 1;
                }
            }
            store::mark_mailed(&mut tx, recipient, now).await?;
            tx.commit().await?;
        }
        Ok(queued)
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
            let Some(workspace) = store::find_workspace(inner.core.db(), row.workspace_id).await? else {
                store::mail_sent(inner.core.db(), row.id).await?;
                continue;
            };
            let opened = self.open(&workspace)?;
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
