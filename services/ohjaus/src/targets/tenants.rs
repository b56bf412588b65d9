//! Organisations, offices, experts and integration clients.

use anyhow::anyhow;
use ohjaus_platform::events::Outbox;
use ohjaus_tenants::Tenants;

use crate::runner::{StartContext, Started};

pub async fn start(ctx: &mut StartContext<'_>) -> anyhow::Result<Started> {
    let outbox = Outbox::new(ohjaus_tenants::SERVICE, ctx.clock.clone());
    let tenants = Tenants::new(ctx.db()?, ctx.clock.clone(), outbox.clone(), ctx.identity_code_hasher()?);
    if ctx.settings.is_embedded() && ctx.settings.demo.seed {
        ohjaus_tenants::seed::seed_demo(&tenants).await.map_err(|e| anyhow!("seeding the demo organisation: {e}"))?;
    }
    Ok(ctx.grpc(tenants.server())?.publishing(outbox))
}
