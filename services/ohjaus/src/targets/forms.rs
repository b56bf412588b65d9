//! Contact forms: an organisation's forms and what visitors ask through them.

use ohjaus_forms::{Forms, FormsConfig, Peers, domain::proof::ProofKey};
use anyhow::Context;
use ohjaus_platform::{events::Outbox, mail::Mailer};

use crate::{
    runner::{StartContext, Started},
    targets::Target,
};

pub async fn start(ctx: &mut StartContext<'_>) -> anyhow::Result<Started> {
    let settings = ctx.settings;
    let config = FormsConfig {
        min_fill: settings.forms.min_fill().chrono(),
        challenge_valid: settings.forms.challenge_valid().chrono(),
        challenge_max_number: settings.forms.challenge_max_number,
        // Every replica signs and checks challenges with the same key, derived from the secret
        // the services already share.
        proof_key: ProofKey::derive(settings.auth.signing_key.expose().as_bytes()),
    };
    let peers = Peers {
        tenants: ctx.peer(Target::Tenants)?,
        workspaces: ctx.peer(Target::Workspaces)?,
        mailer: Mailer::from_settings(settings).context("configuration section `mail`")?,
    };
    let outbox = Outbox::new(ohjaus_forms::SERVICE, ctx.clock.clone());
    let forms = Forms::new(ctx.db()?, ctx.clock.clone(), outbox.clone(), ctx.keyring()?, peers, config);
    // New submissions are announced to the advisors, batched in the workspaces' mail window.
    let announcements = ohjaus_forms::Announcements {
        window: settings.workspaces.notification_batch().chrono(),
        public_base_url: ctx.public_base_url.clone(),
    };
    ctx.spawn(ohjaus_forms::run_announcer(forms.clone(), announcements, ctx.shutdown.clone()));
    let advisors = std::sync::Arc::new(ohjaus_forms::AdvisorDirectory);
    Ok(ctx.grpc(forms.server())?.publishing(outbox).consuming(advisors))
}
