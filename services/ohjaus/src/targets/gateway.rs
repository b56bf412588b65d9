//! The public HTTP API: it calls every service, here or over the network.

use anyhow::Context;
use ohjaus_gateway::{AppState, live::LiveHub};

use crate::{
    runner::{StartContext, Started},
    targets::Target,
};

pub async fn start(ctx: &mut StartContext<'_>) -> anyhow::Result<Started> {
    let listener = ctx.http_listener()?;
    // Live streams follow workspace events.
    let (live, task) =
        LiveHub::start(ctx.bus()?, ctx.shutdown.clone()).await.context("watching workspace events for live streams")?;
    ctx.keep(task);
    let state = AppState::new(
        ctx.settings,
        ctx.keys.clone(),
        ctx.peer(Target::Tenants)?,
        ctx.peer(Target::Identity)?,
        ctx.peer(Target::Workspaces)?,
        ctx.peer(Target::Consent)?,
        ctx.peer(Target::Forms)?,
        ctx.peer(Target::Surveys)?,
        ctx.peer(Target::Retention)?,
        Some(live),
        ctx.readiness(),
    );
    let app = ohjaus_gateway::app(state, ctx.settings);
    let addr = listener.local_addr()?;
    ctx.keep(ohjaus_gateway::serve(app, listener, ctx.settings, ctx.shutdown.clone()));
    Ok(Started::http(addr))
}
