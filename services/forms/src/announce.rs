//! New submissions announced to the receiving organisation's advisors, batched and without
//! content: a submission marks its organisation as waiting (in the submission's transaction), and
//! a worker mails each advisor of that organisation "new questions are waiting" with a link to
//! the queue — at most once per window per organisation, however many arrive meanwhile, by one
//! replica however many run. Who the advisors are is a copy fed by the tenants service's events
//! (ids only); their addresses and languages are asked from it when mailing (`ResolveExpert`).
//! Experts are not tied to offices in the registry, so "the receiving office's advisors" are
//! the advisors of the office's organisation.

use std::time::Duration;

use async_trait::async_trait;
use chrono::TimeDelta;
use ohjaus_platform::{
    auth::{Principal, Role},
    db::Tx,
    events::{EventHandler, HandlerError, decode},
    html::escape,
    i18n::Language,
    mail::Mail,
    proto::{
        events::v1::{EventEnvelope, ExpertAdded, ExpertRemoved, ExpertRolesChanged},
        tenants::v1 as tenants_pb,
    },
    service::{ServiceError, ServiceResult, peer_refusal},
    types::Email,
};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::{Forms, store};

/// The durable consumer of the tenants service's events.
const CONSUMER: &str = "forms-advisors";

/// How the announcements are sent.
#[derive(Clone, Debug)]
pub struct Announcements {
    /// At most one mail per organisation's advisors in this window.
    pub window: TimeDelta,
    /// Where people reach the pages (`gateway.public_base_url`): the mail's link.
    pub public_base_url: String,
}

/// Keeps the copy of who the organisations' advisors are.
pub struct AdvisorDirectory;

fn id_of(value: &str, what: &str) -> Result<Uuid, HandlerError> {
    Uuid::parse_str(value).map_err(|_| HandlerError::Permanent(format!("a tenants event with a malformed {what}")))
}

#[async_trait]
impl EventHandler for AdvisorDirectory {
    fn durable_name(&self) -> &str {
        CONSUMER
    }

    fn filter(&self) -> &str {
        "tenants.>"
    }

    async fn handle(&self, tx: &mut Tx, envelope: &EventEnvelope) -> Result<(), HandlerError> {
        let advisor = |roles: &[String]| roles.iter().any(|r| r == Role::Advisor.as_str());
        let (organization, person, is_advisor) = if let Some(e) = decode::<ExpertAdded>(envelope)? {
            (e.organization_id, e.expert_id, advisor(&e.roles))
        } else if let Some(e) = decode::<ExpertRolesChanged>(envelope)? {
            (e.organization_id, e.expert_id, advisor(&e.roles))
        } else if let Some(e) = decode::<ExpertRemoved>(envelope)? {
            (e.organization_id, e.expert_id, false)
        } else {
            return Ok(());
        };
        let organization = id_of(&organization, "organisation")?;
        let person = id_of(&person, "expert")?;
        store::set_advisor(tx, organization, person, is_advisor).await?;
        Ok(())
    }
}

/// Mails the announcements that are due until `shutdown`.
pub async fn run_announcer(service: Forms, settings: Announcements, shutdown: CancellationToken) {
    loop {
        if let Err(error) = service.announce_due(&settings).await {
            tracing::error!(%error, "announcing new submissions failed");
        }
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(Duration::from_secs(2)) => {}
        }
    }
}

impl Forms {
    /// One run: each organisation with waiting submissions whose advisors were not mailed within
    /// the window gets its batch. A failed mail leaves the batch waiting for the next run.
    pub async fn announce_due(&self, settings: &Announcements) -> ServiceResult<usize> {
        let now = self.core().now();
        let due = store::due_announcements(self.db(), now - settings.window).await?;
        let mut sent = 0;
        for organization in due {
            let mut tx = self.db().begin().await?;
            if !store::take_announcement(&mut tx, organization, now).await? {
                continue;
            }
            for person in store::advisors(&mut tx, organization).await? {
                if self.announce_to(organization, person, settings).await? {
                    sent += 1;
                }
            }
            tx.commit().await?;
        }
        Ok(sent)
    }

    /// Mails one advisor, in their language, that new questions wait; nothing of them.
    async fn announce_to(&self, organization: Uuid, person: Uuid, settings: &Announcements) -> ServiceResult<bool> {
        let request = tenants_pb::ResolveExpertRequest {
            identity: Some(tenants_pb::resolve_expert_request::Identity::PersonId(person.to_string())),
        };
        let mut call = tonic::Request::new(request);
        call.extensions_mut().insert(Principal::Service { name: crate::SERVICE.into() });
        let expert = match self.inner().tenants.clone().resolve_expert(call).await {
            Ok(expert) => expert.into_inner(),
            // Gone from the registry (or its organisation suspended): nobody to tell.
            Err(status) if status.code() == tonic::Code::NotFound => return Ok(false),
            Err(status) => return Err(peer_refusal("tenants", &status)),
        };
        // Still an advisor there, as the registry says now.
        let member = expert.memberships.iter().any(|m| {
            m.organization_id == organization.to_string() && m.roles.contains(&(tenants_pb::Role::Advisor as i32))
        });
        let Some(to) = Email::parse("email", &expert.email).ok().filter(|_| member) else { return Ok(false) };
        let language = expert.language.parse::<Language>().unwrap_or(Language::Fi);
        let name = self.organization_name(organization, language).await?;
        let link = format!("{}/app/organisations/{organization}/queue", settings.public_base_url.trim_end_matches('/'));
        let text = language.text_with("forms-mail-new-body", &[("organization", &name), ("link", &link)]);
        let mut html = format!("<!doctype html><html lang=\"{}\"><body>", language.code());
        for paragraph in text.split("\n\n") {
            html.push_str(&format!("<p>{}</p>", escape(paragraph)));
        }
        html.push_str(&format!("<p><a href=\"{}\">{}</a></p></body></html>", escape(&link), escape(&link)));
        let mail = Mail {
            to,
            subject: language.text("forms-mail-new-subject"),
            text,
            html,
            language: language.code().to_owned(),
        };
        self.inner().mailer.send(&mail).await.map_err(|e| ServiceError::peer("mail", e))?;
        Ok(true)
    }
}
