//! What customers' consents (decided in the consent service) do to workspaces. An accepted
//! consent makes the expert a member who sees the workspace through it; a withdrawn or ended
//! one takes them out at once. Requests and decisions become notifications and mail without
//! content.
//!
//! The events arrive through a durable consumer whose inbox row is written in the same
//! transaction as the effect, so every event has its effect exactly once whatever restarts in
//! between. Each consent request leaves a row in `consent_grants` that only moves from active
//! to ended, so an ending that overtakes its acceptance keeps the expert out for good.

use async_trait::async_trait;
use ohjaus_platform::{
    auth::Principal,
    db::Tx,
    events::{EventHandler, HandlerError, decode},
    grpc::from_timestamp,
    i18n::Language,
    proto::{
        events::v1::{
            ConsentAccepted, ConsentEnded, ConsentRejected, ConsentRequested, ConsentWithdrawn, EventEnvelope,
        },
        tenants::v1 as tenants_pb,
    },
    service::{ServiceError, ServiceResult},
};
use tonic::Request;
use uuid::Uuid;

use crate::{
    SERVICE,
    domain::{
        Actor, MemberRole, NotificationId, WorkspaceId,
        sight::{Floor, Grant},
    },
    events as ev,
    members::{MemberContact, member_aad},
    notify::{MailContent, render_mail},
    service::{Opened, Workspaces},
    store::{self, AccessRow, NotificationRow},
};

/// The durable consumer's name: stable across restarts and replicas.
pub const CONSENT_CONSUMER: &str = "workspaces-consent";

/// Applies consent events to the workspaces' data.
pub struct ConsentEffects {
    service: Workspaces,
}

impl ConsentEffects {
    pub fn new(service: Workspaces) -> Self {
        Self { service }
    }
}

/// The ids every consent event carries.
struct Consent {
    workspace: WorkspaceId,
    request: Uuid,
    customer: Uuid,
    expert: Uuid,
    expert_organization: Uuid,
}

impl Consent {
    fn parse(
        workspace: &str,
        request: &str,
        customer: &str,
        expert: &str,
        expert_organization: &str,
    ) -> Result<Self, HandlerError> {
        let id = |value: &str| {
            Uuid::parse_str(value).map_err(|_| HandlerError::Permanent("a consent event with a malformed id".into()))
        };
        Ok(Consent {
            workspace: WorkspaceId(id(workspace)?),
            request: id(request)?,
            customer: id(customer)?,
            expert: id(expert)?,
            expert_organization: id(expert_organization)?,
        })
    }

    fn grant(&self, floor: Option<Floor>) -> Grant {
        Grant {
            request_id: self.request,
            expert: self.expert,
            organization: self.expert_organization,
            customer: self.customer,
            floor,
        }
    }
}

macro_rules! consent_of {
    ($e:expr) => {
        Consent::parse(&$e.workspace_id, &$e.request_id, &$e.customer_id, &$e.expert_id, &$e.expert_organization_id)
    };
}

/// Why an expert's access ended, as the access log and the MemberRemoved event say it.
#[derive(Clone, Copy)]
enum Ending {
    Withdrawn,
    Ended,
}

impl Ending {
    fn reason(self) -> &'static str {
        match self {
            Ending::Withdrawn => "withdrawn",
            Ending::Ended => "ended",
        }
    }
    fn logged(self) -> &'static str {
        match self {
            Ending::Withdrawn => "consent-withdrawn",
            Ending::Ended => "participation-ended",
        }
    }
}

#[async_trait]
impl EventHandler for ConsentEffects {
    fn durable_name(&self) -> &str {
        CONSENT_CONSUMER
    }

    fn filter(&self) -> &str {
        "consent.>"
    }

    async fn handle(&self, tx: &mut Tx, envelope: &EventEnvelope) -> Result<(), HandlerError> {
        let result = if let Some(e) = decode::<ConsentRequested>(envelope)? {
            self.requested(tx, consent_of!(e)?).await
        } else if let Some(e) = decode::<ConsentAccepted>(envelope)? {
            let floor = match (e.visible_from.as_ref().and_then(from_timestamp), e.visible_from_id.as_str()) {
                (Some(at), id) if !id.is_empty() => Some(Floor {
                    id: Uuid::parse_str(id)
                        .map_err(|_| HandlerError::Permanent("a consent event with a malformed floor".into()))?,
                    at,
                }),
                _ => None,
            };
            self.accepted(tx, consent_of!(e)?, floor).await
        } else if let Some(e) = decode::<ConsentRejected>(envelope)? {
            self.rejected(tx, consent_of!(e)?).await
        } else if let Some(e) = decode::<ConsentWithdrawn>(envelope)? {
            self.ended(tx, consent_of!(e)?, Ending::Withdrawn).await
        } else if let Some(e) = decode::<ConsentEnded>(envelope)? {
            self.ended(tx, consent_of!(e)?, Ending::Ended).await
        } else {
            Ok(())
        };
        // A peer that failed is tried again; a refusal or corrupt data is parked.
        result.map_err(HandlerError::from)
    }
}

impl ConsentEffects {
    /// The workspace, open, if it still exists; a deleted one has nothing left to change.
    async fn workspace(&self, tx: &mut Tx, id: WorkspaceId) -> ServiceResult<Option<Opened>> {
        match store::find_workspace(&mut *tx, id).await? {
            Some(row) => self.service.open_if_keyed(&row).await,
            None => Ok(None),
        }
    }

    /// The customer waits for their decision: an in-app notification and a mail without names
    /// or purpose.
    async fn requested(&self, tx: &mut Tx, c: Consent) -> ServiceResult<()> {
        let Some(opened) = self.workspace(tx, c.workspace).await? else { return Ok(()) };
        let customer = Actor::Customer(c.customer);
        if store::member_role(&mut *tx, c.workspace, customer).await? != Some(MemberRole::Customer) {
            return Ok(());
        }
        self.notify(tx, &opened, customer, "consent-requested", c.request, Some(MailKind::Requested)).await
    }

    async fn accepted(&self, tx: &mut Tx, c: Consent, floor: Option<Floor>) -> ServiceResult<()> {
        let Some(opened) = self.workspace(tx, c.workspace).await? else { return Ok(()) };
        let now = self.service.core().now();
        // Heard of before: a redelivery, or an ending that came first and keeps the expert out.
        if !store::insert_grant(tx, c.workspace, &c.grant(floor), now).await? {
            return Ok(());
        }
        let expert = Actor::Expert(c.expert);
        match store::member_role(&mut *tx, c.workspace, expert).await? {
            None => {
                let contact = self.expert_contact(c.expert).await?;
                let sealed = opened.seal_json(&contact, &member_aad(c.workspace, expert))?;
                store::add_member(tx, c.workspace, expert, MemberRole::Expert, Some(sealed), now).await?;
                let org = opened.workspace.organization_id;
                let event = ev::MemberAdded {
                    organization_id: org.to_string(),
                    workspace_id: c.workspace.to_string(),
                    member_kind: expert.kind().to_owned(),
                    member_id: c.expert.to_string(),
                    reason: "consent".into(),
                };
                self.service.core().emit(tx, org, event).await?;
            }
            // Already in through another customer's consent: this one widens what they see.
            Some(MemberRole::Expert) => {}
            // One of the workspace's own guides: they see it anyway; the grant changes nothing.
            Some(_) => return Ok(()),
        }
        self.log(tx, &c, "consent-joined").await?;
        self.notify(
            tx,
            &opened,
            Actor::Expert(opened.workspace.owner_id),
            "consent-accepted",
            c.request,
            Some(MailKind::Decided),
        )
        .await?;
        self.notify(tx, &opened, expert, "consent-granted", c.request, None).await
    }

    async fn rejected(&self, tx: &mut Tx, c: Consent) -> ServiceResult<()> {
        let Some(opened) = self.workspace(tx, c.workspace).await? else { return Ok(()) };
        let owner = Actor::Expert(opened.workspace.owner_id);
        self.notify(tx, &opened, owner, "consent-rejected", c.request, Some(MailKind::Decided)).await
    }

    /// The consent no longer holds: with no other consent left, the expert is out at once.
    async fn ended(&self, tx: &mut Tx, c: Consent, ending: Ending) -> ServiceResult<()> {
        let Some(opened) = self.workspace(tx, c.workspace).await? else { return Ok(()) };
        let now = self.service.core().now();
        let was_active = store::end_grant(tx, c.workspace, &c.grant(None), now).await?;
        // Only an expert who is in by consent leaves by it; one of the workspace's own guides
        // stays what they are.
        let joined_by_consent =
            store::member_role(&mut *tx, c.workspace, Actor::Expert(c.expert)).await? == Some(MemberRole::Expert);
        if was_active && joined_by_consent {
            let remaining = store::active_grants(&mut *tx, c.workspace, Some(c.expert)).await?;
            if remaining.is_empty() && store::remove_consent_member(tx, c.workspace, c.expert).await? {
                let org = opened.workspace.organization_id;
                let event = ev::MemberRemoved {
                    organization_id: org.to_string(),
                    workspace_id: c.workspace.to_string(),
                    member_kind: "expert".into(),
                    member_id: c.expert.to_string(),
                    reason: ending.reason().into(),
                };
                self.service.core().emit(tx, org, event).await?;
            }
            self.log(tx, &c, ending.logged()).await?;
        }
        match ending {
            Ending::Withdrawn => {
                let owner = Actor::Expert(opened.workspace.owner_id);
                self.notify(tx, &opened, owner, "consent-withdrawn", c.request, Some(MailKind::Decided)).await
            }
            Ending::Ended => {
                self.notify(tx, &opened, Actor::Customer(c.customer), "consent-ended", c.request, None).await
            }
        }
    }

    /// The expert's name, address and language as tenants knows them, asked as this service: a
    /// consented expert is told of new messages by mail like the workspace's guides.
    async fn expert_contact(&self, expert: Uuid) -> ServiceResult<MemberContact> {
        let mut request = Request::new(tenants_pb::ResolveExpertRequest {
            identity: Some(tenants_pb::resolve_expert_request::Identity::PersonId(expert.to_string())),
        });
        request.extensions_mut().insert(Principal::Service { name: SERVICE.to_owned() });
        match self.service.inner().tenants.clone().resolve_expert(request).await {
            Ok(resolved) => {
                let resolved = resolved.into_inner();
                let email = Some(resolved.email).filter(|e| !e.is_empty());
                Ok(MemberContact { name: resolved.name, email, language: resolved.language })
            }
            // Gone from tenants since the acceptance: they join nameless rather than not at all,
            // and their own organisation no longer lets them log in anyway.
            Err(status) if status.code() == tonic::Code::NotFound => {
                Ok(MemberContact { name: String::new(), email: None, language: String::new() })
            }
            Err(status) => Err(ServiceError::peer("tenants", status.code())),
        }
    }

    /// An access-log entry about the expert's membership, with their own organisation.
    async fn log(&self, tx: &mut Tx, c: &Consent, what: &str) -> ServiceResult<()> {
        let entry = AccessRow {
            id: ohjaus_platform::ids::new_id(),
            at: self.service.core().now(),
            actor_kind: "expert".into(),
            actor_id: c.expert.to_string(),
            actor_role: MemberRole::Expert.as_str().into(),
            organization_id: Some(c.expert_organization),
            what: what.into(),
        };
        store::log_access(tx, c.workspace, &entry).await
    }

    /// An in-app notification to `recipient`, and with `mail` a mail of its own (announced
    /// here, so the new-message batch does not announce it again).
    async fn notify(
        &self,
        tx: &mut Tx,
        opened: &Opened,
        recipient: Actor,
        kind: &str,
        request: Uuid,
        mail: Option<MailKind>,
    ) -> ServiceResult<()> {
        let now = self.service.core().now();
        let notification = NotificationRow {
            id: NotificationId::new(),
            recipient,
            workspace_id: opened.workspace.id,
            kind: kind.to_owned(),
            subject_id: request,
            created_at: now,
            read_at: None,
        };
        store::insert_notification(tx, &notification).await?;
        let Some(mail) = mail else { return Ok(()) };
        store::mark_notification_mailed(tx, notification.id, now).await?;
        let contact = self.service.contact_of(tx, opened, recipient).await?;
        let Some(MemberContact { email: Some(to), language, .. }) = contact else { return Ok(()) };
        let language: Language = language.parse().unwrap_or_default();
        let (subject, body) = mail.texts();
        let link = self.service.workspace_link(opened.workspace.id);
        let (text, html) = render_mail(language, &[language.text(body), language.text("mail-consent-privacy")], &link);
        let content = MailContent { to, subject: language.text(subject), text, html, language: language.code().into() };
        self.service.queue_mail(tx, opened, &content).await?;
        self.service.inner().mail_waker.notify_one();
        Ok(())
    }
}

/// The two mails consent sends; neither names anyone or says why.
#[derive(Clone, Copy)]
enum MailKind {
    /// To the customer: a request waits for their decision.
    Requested,
    /// To the owner guide: a customer decided, withdrew, or the like.
    Decided,
}

impl MailKind {
    fn texts(self) -> (&'static str, &'static str) {
        match self {
            MailKind::Requested => ("mail-consent-requested-subject", "mail-consent-requested-body"),
            MailKind::Decided => ("mail-consent-decided-subject", "mail-consent-decided-body"),
        }
    }
}
