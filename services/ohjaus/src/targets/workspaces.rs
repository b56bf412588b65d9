//! Workspaces: members, messages, files and their mail.

use std::sync::Arc;

use anyhow::Context;
use ohjaus_platform::{
    events::{self, Outbox},
    mail::Mailer,
    storage,
};
use ohjaus_workspaces::{ConsentEffects, Peers, RoundNotices, Workspaces, WorkspacesConfig};

use crate::{
    runner::{StartContext, Started},
    targets::Target,
};

pub async fn start(ctx: &mut StartContext<'_>) -> anyhow::Result<Started> {
    let settings = ctx.settings;
    let config = WorkspacesConfig {
        reopen_window: settings.workspaces.reopen_window().chrono(),
        invitation_valid: settings.workspaces.invitation_valid().chrono(),
        notification_batch: settings.workspaces.notification_batch().chrono(),
        message_edit_window: settings.workspaces.message_edit_window().chrono(),
        max_file_bytes: settings.files.max_bytes,
        stream_idle: settings.grpc.stream_idle_timeout().std(),
        public_base_url: ctx.public_base_url.clone(),
    };
    let peers = Peers {
        tenants: ctx.peer(Target::Tenants)?,
        identity: ctx.peer(Target::Identity)?,
        mailer: Mailer::from_settings(settings).context("configuration section `mail`")?,
        files: storage::open(settings).context("configuration section `files`")?,
    };
    let outbox = Outbox::new(ohjaus_workspaces::SERVICE, ctx.clock.clone());
    let workspaces =
        Workspaces::new(ctx.db()?, ctx.clock.clone(), outbox.clone(), ctx.keyring()?, peers, config);
    ctx.spawn(ohjaus_workspaces::run_mail_worker(workspaces.clone(), ctx.shutdown.clone()));
    // Consent's effects (membership, notifications) arrive as events.
    let effects = Arc::new(ConsentEffects::new(workspaces.clone()));
    // rounds: a round asked of a customer becomes her notification and mail (its own durable
    // consumer; it subscribes before the surveys target, which depends on this one, publishes).
    let notices = events::start_consumer(
        ctx.db()?,
        ctx.bus()?,
        Arc::new(RoundNotices::new(workspaces.clone())),
        ctx.clock.clone(),
        settings.bus.max_deliver,
        ctx.shutdown.clone(),
    )
    .await
    .context("subscribing the workspaces service to `surveys.round_asked` events")?;
    ctx.keep(notices);
    Ok(ctx.grpc(workspaces.server())?.publishing(outbox).consuming(effects))
}
