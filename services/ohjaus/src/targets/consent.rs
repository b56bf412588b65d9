//! Consent requests between organisations, and the ledger of what was agreed.

use ohjaus_consent::{Consent, Peers, domain::ledger::LedgerKey};
use ohjaus_platform::events::Outbox;

use crate::{
    runner::{StartContext, Started},
    targets::Target,
};

pub async fn start(ctx: &mut StartContext<'_>) -> anyhow::Result<Started> {
    let ledger_key = LedgerKey::new(ctx.settings.security.consent_ledger_key.clone());
    let peers = Peers { tenants: ctx.peer(Target::Tenants)?, workspaces: ctx.peer(Target::Workspaces)? };
    let outbox = Outbox::new(ohjaus_consent::SERVICE, ctx.clock.clone());
    let consent = Consent::new(ctx.db()?, ctx.clock.clone(), outbox.clone(), ctx.keyring()?, ledger_key, peers);
    Ok(ctx.grpc(consent.server())?.publishing(outbox))
}
