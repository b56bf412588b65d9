//! Contact forms: an organisation's forms and what visitors ask through them.

use ohjaus_forms::Forms;
use ohjaus_platform::events::Outbox;

use crate::runner::{StartContext, Started};

pub async fn start(ctx: &mut StartContext<'_>) -> anyhow::Result<Started> {
    let outbox = Outbox::new(ohjaus_forms::SERVICE, ctx.clock.clone());
    let forms = Forms::new(ctx.db()?, ctx.clock.clone(), outbox.clone());
    Ok(ctx.grpc(forms.server())?.publishing(outbox))
}
