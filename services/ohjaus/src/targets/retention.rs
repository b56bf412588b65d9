//! The retention worker: closes, archives and deletes on time by asking the services that own
//! the data, and keeps the evidence. In the embedded mode it runs periodically by itself; in a
//! cluster the chart's CronJob runs `ohjaus retention` (one run) and this target's Deployment
//! serves the evidence to the gateway.

use ohjaus_platform::events::Outbox;
use ohjaus_retention::{Peers, Periods, Retention, grpc::RetentionConfig};

use crate::{
    runner::{StartContext, Started},
    targets::Target,
};

pub async fn start(ctx: &mut StartContext<'_>) -> anyhow::Result<Started> {
    let settings = &ctx.settings.retention;
    let periods = Periods {
        close_after: settings.close_after().chrono(),
        close_notice: settings.close_notice().chrono(),
        reopen_window: ctx.settings.workspaces.reopen_window().chrono(),
        archive_notice: settings.archive_notice().chrono(),
        archived_for: settings.archived_for().chrono(),
        login_audit: settings.login_audit_kept().chrono(),
        submissions: settings.submission_kept().chrono(),
    };
    let config = RetentionConfig {
        periods,
        batch_size: i32::try_from(settings.batch_size).unwrap_or(500),
        lease: settings.lease().chrono(),
    };
    let peers = Peers {
        workspaces: ctx.peer(Target::Workspaces)?,
        consent: ctx.peer(Target::Consent)?,
        surveys: ctx.peer(Target::Surveys)?,
        identity: ctx.peer(Target::Identity)?,
        forms: ctx.peer(Target::Forms)?,
    };
    let outbox = Outbox::new(ohjaus_retention::SERVICE, ctx.clock.clone());
    let retention = Retention::new(ctx.db()?, ctx.clock.clone(), outbox.clone(), peers, config);
    if settings.periodic {
        ctx.spawn(ohjaus_retention::grpc::run_periodically(
            retention.clone(),
            settings.interval().std(),
            ctx.shutdown.clone(),
        ));
    }
    // The gauges come from the evidence: true here whichever process made the runs.
    ctx.spawn(ohjaus_retention::metrics::publish_periodically(
        retention.db().clone(),
        ctx.clock.clone(),
        ctx.shutdown.clone(),
    ));
    Ok(ctx.grpc(retention.server())?.publishing(outbox).with_retention(retention))
}
