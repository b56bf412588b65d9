//! What the surveys service's rounds ask of workspaces (rounds, issue 15): the customer asked
//! to answer the 3X10D meter is notified in the app and by a mail without content, and the
//! surveys service learns what a consented expert may see of a workspace's rounds.
//!
//! `RoundAsked` (ids only) arrives through a durable consumer of its own, whose inbox row is
//! written in the same transaction as the notification and the queued mail, so each round is
//! announced exactly once whatever restarts in between.

use async_trait::async_trait;
use ohjaus_platform::{
    db::Tx,
    events::{EventHandler, HandlerError, decode},
    grpc::timestamp,
    i18n::Language,
    proto::{
        events::v1::{EventEnvelope, RoundAsked},
        workspaces::v1 as pb,
    },
    service::ServiceResult,
};
use uuid::Uuid;

use crate::{
    domain::{Actor, MemberRole, NotificationId, WorkspaceId},
    members::MemberContact,
    notify::{MailContent, render_mail},
    service::Workspaces,
    store::{self, NotificationRow},
};

/// The durable consumer's name: stable across restarts and replicas.
pub const SURVEYS_CONSUMER: &str = "workspaces-surveys";

/// The notification's kind (its texts: `web-notification-round-asked`, `mail-round-asked-*`).
pub const ROUND_ASKED: &str = "round-asked";

/// Notifies customers of the rounds they are asked to answer.
pub struct RoundNotices {
    service: Workspaces,
}

impl RoundNotices {
    pub fn new(service: Workspaces) -> Self {
        Self { service }
    }
}

#[async_trait]
impl EventHandler for RoundNotices {
    fn durable_name(&self) -> &str {
        SURVEYS_CONSUMER
    }

    fn filter(&self) -> &str {
        "surveys.round_asked"
    }

    async fn handle(&self, tx: &mut Tx, envelope: &EventEnvelope) -> Result<(), HandlerError> {
        let Some(e) = decode::<RoundAsked>(envelope)? else { return Ok(()) };
        let id = |value: &str| {
            Uuid::parse_str(value).map_err(|_| HandlerError::Permanent("a round event with a malformed id".into()))
        };
        let (workspace, round, customer) = (WorkspaceId(id(&e.workspace_id)?), id(&e.round_id)?, id(&e.customer_id)?);
        self.asked(tx, workspace, round, customer).await.map_err(HandlerError::from)
    }
}

impl RoundNotices {
    /// The customer, if still a member of a workspace that still exists: a notification and a
    /// mail that says only that a questionnaire waits, with a link to the workspace.
    async fn asked(&self, tx: &mut Tx, workspace: WorkspaceId, round: Uuid, customer: Uuid) -> ServiceResult<()> {
        let Some(row) = store::find_workspace(&mut *tx, workspace).await? else { return Ok(()) };
        let Some(opened) = self.service.open_if_keyed(&row).await? else { return Ok(()) };
        let recipient = Actor::Customer(customer);
        if store::member_role(&mut *tx, workspace, recipient).await? != Some(MemberRole::Customer) {
            return Ok(());
        }
        let now = self.service.core().now();
        let notification = NotificationRow {
            id: NotificationId::new(),
            recipient,
            workspace_id: workspace,
            kind: ROUND_ASKED.to_owned(),
            subject_id: round,
            created_at: now,
            read_at: None,
        };
        store::insert_notification(tx, &notification).await?;
        store::mark_notification_mailed(tx, notification.id, now).await?;
        let contact = self.service.contact_of(tx, &opened, recipient).await?;
        let Some(MemberContact { email: Some(to), language, .. }) = contact else { return Ok(()) };
        let language: Language = language.parse().unwrap_or_default();
        let link = self.service.workspace_link(workspace);
        let paragraphs = [language.text("mail-round-asked-body"), language.text("mail-round-asked-privacy")];
        let (text, html) = render_mail(language, &paragraphs, &link);
        let subject = language.text("mail-round-asked-subject");
        let content = MailContent { to, subject, text, html, language: language.code().into() };
        self.service.queue_mail(tx, &opened, &content).await?;
        self.service.inner().mail_waker.notify_one();
        Ok(())
    }
}

impl Workspaces {
    /// `CheckMembership` with `with_sight`: an expert who joined by consent is a member only
    /// through the consents in force given to them as an expert of an organisation they still
    /// work for; they see those customers' rounds, and with a "from now on only" consent only
    /// what was asked since (with several consents the latest floor holds for all, as in
    /// `domain::sight`).
    pub(crate) async fn membership_with_sight(
        &self,
        workspace: WorkspaceId,
        actor: Actor,
        role: MemberRole,
        organizations: &[String],
    ) -> ServiceResult<pb::CheckMembershipResponse> {
        let member = pb::CheckMembershipResponse { member: true, role: role.as_str().to_owned(), ..Default::default() };
        if role != MemberRole::Expert {
            return Ok(member);
        }
        let organizations: Vec<Uuid> = organizations.iter().filter_map(|o| Uuid::parse_str(o).ok()).collect();
        let grants = store::active_grants(self.db(), workspace, Some(actor.id())).await?;
        let valid: Vec<_> = grants.iter().filter(|g| organizations.contains(&g.organization)).collect();
        if valid.is_empty() {
            return Ok(pb::CheckMembershipResponse::default());
        }
        let mut customers: Vec<Uuid> = valid.iter().map(|g| g.customer).collect();
        customers.sort();
        customers.dedup();
        let floor = valid.iter().filter_map(|g| g.floor).max_by_key(|f| f.id);
        Ok(pb::CheckMembershipResponse {
            sight_customers: customers.iter().map(Uuid::to_string).collect(),
            sight_from: floor.map(|f| timestamp(f.at)),
            ..member
        })
    }
}
