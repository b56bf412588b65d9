//! The 3X10D life-situation meter, feedback on guidance and anonymised reports.

use anyhow::anyhow;
use ohjaus_platform::events::Outbox;
use ohjaus_surveys::Surveys;

use crate::{
    runner::{StartContext, Started},
    targets::Target,
};

pub async fn start(ctx: &mut StartContext<'_>) -> anyhow::Result<Started> {
    let outbox = Outbox::new(ohjaus_surveys::SERVICE, ctx.clock.clone());
    let workspaces = ctx.peer(Target::Workspaces)?;
    let surveys = Surveys::new(ctx.db()?, ctx.clock.clone(), outbox.clone(), ctx.keyring()?, workspaces);
    surveys.load_embedded_instruments().await.map_err(|e| anyhow!(e))?;
    Ok(ctx.grpc(surveys.server())?.publishing(outbox))
}
