//! Logins through the configured identity providers (and the development provider in the
//! embedded mode), sessions, customer accounts and access tokens.

use std::time::Duration;

use anyhow::{Context, bail};
use ohjaus_identity::{
    Identity, dev_idp,
    domain::{SessionPolicy, operator_identities},
    grpc::{Connector, IdentityConfig},
    oidc::OidcConnector,
};
use ohjaus_platform::{
    clock::SharedClock,
    config::{ProviderSettings, Secret, Settings},
};
use tokio_util::sync::CancellationToken;

use crate::{
    runner::{StartContext, Started},
    targets::Target,
};

/// How often logins that never came back from the provider are removed.
const PURGE_INTERVAL: Duration = Duration::from_secs(600);

pub async fn start(ctx: &mut StartContext<'_>) -> anyhow::Result<Started> {
    let settings = ctx.settings;
    let base = ctx.public_base_url.clone();
    let mut providers: Vec<(String, ProviderSettings)> = settings.identity.providers.clone().into_iter().collect();
    let mut operators = operator_identities(&settings.identity.operators);
    let mut dev_idp_issuer = None;
    if settings.dev_idp_enabled() {
        let running = dev_idp::start(settings.identity.dev_idp.listen, ctx.clock.clone(), ctx.shutdown.clone())
            .await
            .context("configuration key `identity.dev_idp.listen`")?;
        ctx.keep(running.task);
        providers.push(("dev".into(), dev_provider(&running.issuer)));
        operators.push((dev_idp::DEMO_VIRTU_HOME.into(), dev_idp::OPERATOR_LOCAL_ID.into()));
        dev_idp_issuer = Some(running.issuer);
    }
    let mut connectors = providers
        .into_iter()
        .map(|(id, provider)| {
            OidcConnector::new(&id, provider, format!("{base}/auth/callback/{id}"), ctx.clock.clone())
                .map(Connector::Oidc)
                .with_context(|| format!("configuration key `identity.providers.{id}`"))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    connectors.extend(saml_connectors(settings, &connectors, &base, &ctx.clock)?);
    let config = IdentityConfig {
        policy: SessionPolicy {
            idle: settings.identity.session_idle().chrono(),
            absolute: settings.identity.session_absolute().chrono(),
        },
        login_timeout: settings.identity.login_timeout().chrono(),
        access_token_ttl: settings.identity.access_token_ttl().std(),
        operators,
        post_logout_redirect: format!("{base}/auth/logged-out"),
    };
    let identity = Identity::new(
        ctx.db()?,
        ctx.clock.clone(),
        ctx.keys.clone(),
        ctx.identity_code_hasher()?,
        ctx.peer(Target::Tenants)?,
        connectors,
        config,
    );
    ctx.spawn(purge_logins(
        identity.clone(),
        ctx.clock.clone(),
        settings.identity.login_timeout().chrono(),
        ctx.shutdown.clone(),
    ));
    Ok(ctx.grpc(identity.server())?.with_dev_idp(dev_idp_issuer))
}

/// The SAML connectors of `identity.saml_providers`; their ids must differ from the OpenID ones.
#[cfg(feature = "saml")]
fn saml_connectors(
    settings: &Settings,
    oidc: &[Connector],
    public_base_url: &str,
    clock: &SharedClock,
) -> anyhow::Result<Vec<Connector>> {
    let mut connectors = Vec::new();
    for (id, provider) in settings.identity.saml_providers.clone() {
        if oidc.iter().any(|c| c.id() == id) {
            bail!("configuration key `identity.saml_providers.{id}`: the id is taken by an OpenID provider");
        }
        let connector = ohjaus_identity::saml::SamlConnector::new(&id, provider, public_base_url, clock.clone())
            .with_context(|| format!("configuration key `identity.saml_providers.{id}`"))?;
        connectors.push(Connector::Saml(connector));
    }
    Ok(connectors)
}

/// Without the `saml` feature a configured SAML provider stops the start: silently leaving out
/// a login method would lock its users out.
#[cfg(not(feature = "saml"))]
fn saml_connectors(
    settings: &Settings,
    _oidc: &[Connector],
    _public_base_url: &str,
    _clock: &SharedClock,
) -> anyhow::Result<Vec<Connector>> {
    match settings.identity.saml_providers.keys().next() {
        Some(id) => bail!(
            "configuration key `identity.saml_providers.{id}`: this ohjaus binary was built without SAML 2.0 \
             support; build it with the cargo feature `saml` (`cargo build -p ohjaus --features saml`)"
        ),
        None => Ok(Vec::new()),
    }
}

/// The connector settings of the built-in development provider.
fn dev_provider(issuer: &str) -> ProviderSettings {
    ProviderSettings {
        display_name: "Development login (test identities)".into(),
        issuer: issuer.to_owned(),
        client_id: dev_idp::CLIENT_ID.into(),
        client_secret: Secret::new(dev_idp::CLIENT_SECRET),
        scopes: "profile email".into(),
        acr_values: dev_idp::LOA_SUBSTANTIAL.into(),
        accepted_acr: format!("{},{}", dev_idp::LOA_SUBSTANTIAL, dev_idp::LOA_HIGH),
    }
}

/// Removes logins that never came back from the provider within `timeout`, and the pending
/// sessions of people who followed an invitation link and left without accepting.
async fn purge_logins(identity: Identity, clock: SharedClock, timeout: chrono::TimeDelta, shutdown: CancellationToken) {
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(PURGE_INTERVAL) => {}
        }
        if let Err(error) = ohjaus_identity::store::purge_logins(identity.db(), clock.now() - timeout).await {
            tracing::warn!(%error, "could not purge stale logins");
        }
        if let Err(error) = identity.purge_pending_sessions().await {
            tracing::warn!(%error, "could not purge pending sessions");
        }
    }
}
