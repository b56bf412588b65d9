//! Runs any set of Ohjaus services in one process.
//!
//! `--target all` (the default) is the embedded mode's whole system; `--target tenants` is one
//! Kubernetes Deployment. A service that runs here is called through its server directly
//! (no socket); one that runs elsewhere through a network channel. The same principal, trace
//! and deadline layers apply either way.

use std::{fmt, net::SocketAddr, str::FromStr, sync::Arc, time::Duration};

use anyhow::{Context, bail};
use ohjaus_gateway::{AppState, ReadinessCheck};
use ohjaus_identity::{
    dev_idp,
    domain::{SessionPolicy, operator_identities},
    grpc::{Connector, IdentityConfig},
    oidc::OidcConnector,
};
use ohjaus_platform::{
    auth::TokenKeys,
    clock::SharedClock,
    config::{ProviderSettings, Secret, Settings},
    db::Db,
    events::{self, Bus, Outbox},
    grpc::{self, Transport},
    proto::{
        consent::v1::consent_service_server::ConsentServiceServer,
        identity::v1::identity_service_server::IdentityServiceServer,
        tenants::v1::tenants_service_server::TenantsServiceServer,
        workspaces::v1::workspaces_service_server::WorkspacesServiceServer,
    },
    types::IdentityCodeHasher,
};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// A module the binary can run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Target {
    Gateway,
    Identity,
    Tenants,
    Workspaces,
    Consent,
}

impl Target {
    pub const ALL: [Target; 5] =
        [Target::Gateway, Target::Identity, Target::Tenants, Target::Workspaces, Target::Consent];

    pub fn name(self) -> &'static str {
        match self {
            Target::Gateway => "gateway",
            Target::Identity => "identity",
            Target::Tenants => "tenants",
            Target::Workspaces => "workspaces",
            Target::Consent => "consent",
        }
    }

    /// What the target needs to run, for `--list-targets`.
    pub fn needs(self) -> &'static str {
        match self {
            Target::Gateway => {
                "HTTP listener (gateway.listen); tenants and identity, here or at services.<name>.address"
            }
            Target::Identity => {
                "its database (schema `identity` / identity.db), identity providers (identity.providers), tenants here or at services.tenants.address, gRPC listener"
            }
            Target::Tenants => {
                "its database (schema `tenants` / tenants.db), the event bus, gRPC listener (grpc.listen)"
            }
            Target::Workspaces => {
                "its database (schema `workspaces` / workspaces.db), the event bus, security.key_encryption_key, tenants here or at services.tenants.address, gRPC listener"
            }
            Target::Consent => {
                "its database (schema `consent` / consent.db), the event bus, security.key_encryption_key, security.consent_ledger_key, tenants and workspaces here or at services.<name>.address, gRPC listener"
            }
        }
    }

    /// Whether the target owns a database.
    pub fn has_database(self) -> bool {
        !matches!(self, Target::Gateway)
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Target {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Target::ALL.into_iter().find(|t| t.name() == s).ok_or_else(|| {
            let names: Vec<&str> = Target::ALL.iter().map(|t| t.name()).collect();
            format!("unknown target `{s}`; known: all, {}", names.join(", "))
        })
    }
}

/// Parses `all` or a comma-separated list of targets.
pub fn parse_targets(value: &str) -> Result<Vec<Target>, String> {
    let mut targets = Vec::new();
    for part in value.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        if part == "all" {
            targets.extend(Target::ALL);
        } else {
            targets.push(part.parse()?);
        }
    }
    targets.sort_by_key(|t| t.name());
    targets.dedup();
    if targets.is_empty() {
        return Err("no target given".into());
    }
    Ok(targets)
}

/// How to start.
pub struct Options {
    pub targets: Vec<Target>,
    pub clock: SharedClock,
    /// Apply migrations before serving (embedded mode and tests; clusters use `ohjaus migrate`).
    pub migrate: bool,
}

/// A started system.
pub struct Running {
    pub gateway_addr: Option<SocketAddr>,
    pub grpc_addr: Option<SocketAddr>,
    /// The development identity provider's issuer, when it runs.
    pub dev_idp: Option<String>,
    shutdown: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
    databases: Vec<Db>,
}

impl Running {
    /// Asks every task to stop.
    pub fn shutdown(&self) {
        self.shutdown.cancel();
    }

    /// Waits until every task has stopped, after [`Running::shutdown`], a signal, or a task
    /// that ended on its own (a server that failed): then the rest are stopped too and an
    /// error says so, so the process exits and its orchestrator restarts it.
    pub async fn wait(self) -> anyhow::Result<()> {
        let Running { shutdown, tasks, databases, .. } = self;
        let mut pending = tasks;
        let mut failed = false;
        while !pending.is_empty() && !shutdown.is_cancelled() {
            tokio::select! {
                () = shutdown.cancelled() => {}
                _ = futures::future::select_all(pending.iter_mut()) => {
                    // A task that ends before shutdown was asked for has failed.
                    if !shutdown.is_cancelled() {
                        failed = true;
                        shutdown.cancel();
                    }
                }
            }
            pending.retain(|task| !task.is_finished());
        }
        for task in pending {
            let _ = tokio::time::timeout(Duration::from_secs(30), task).await;
        }
        for db in databases {
            db.close().await;
        }
        if failed { Err(anyhow::anyhow!("a server task stopped unexpectedly; shutting down")) } else { Ok(()) }
    }
}

/// Applies the migrations of the given targets and returns.
pub async fn migrate(settings: &Settings, targets: &[Target]) -> anyhow::Result<()> {
    for target in targets.iter().filter(|t| t.has_database()) {
        let db = open_database(settings, *target).await?;
        db.close().await;
        tracing::info!(service = %target, "migrations applied");
    }
    Ok(())
}

async fn open_database(settings: &Settings, target: Target) -> anyhow::Result<Db> {
    let db = Db::connect(settings, target.name()).await.with_context(|| format!("opening the {target} database"))?;
    let migrations = match target {
        Target::Tenants => ohjaus_tenants::migrations(),
        Target::Identity => ohjaus_identity::migrations(),
        Target::Workspaces => ohjaus_workspaces::migrations(),
        Target::Consent => ohjaus_consent::migrations(),
        Target::Gateway => return Ok(db),
    };
    db.migrate(&migrations).await.with_context(|| format!("migrating the {target} database"))?;
    Ok(db)
}

/// A transport to `service`: in-process if it runs here, otherwise at its configured address.
fn transport_to(
    settings: &Settings,
    service: &str,
    local: Option<&Transport>,
    keys: &TokenKeys,
    timeout: Duration,
    readiness: &mut Vec<(String, ReadinessCheck)>,
) -> anyhow::Result<Transport> {
    if let Some(local) = local {
        return Ok(local.clone());
    }
    let Some(address) = settings.services.address_of(service) else {
        bail!(
            "configuration key `services.{service}.address` is required when the {service} target does not run in this process"
        );
    };
    let transport = grpc::remote(address, keys, timeout)
        .with_context(|| format!("configuration key `services.{service}.address`"))?;
    readiness.push((service.to_owned(), grpc_health_check(transport.clone())));
    Ok(transport)
}

/// Starts the targets; they run until `shutdown` is cancelled.
pub async fn start(settings: &Settings, options: Options, shutdown: CancellationToken) -> anyhow::Result<Running> {
    let keys = TokenKeys::from_settings(&settings.auth, options.clock.clone())?;
    let timeout = Duration::from_millis(settings.grpc.timeout_ms);
    let runs = |t: Target| options.targets.contains(&t);
    let mut tasks = Vec::new();
    let mut databases = Vec::new();
    let mut readiness: Vec<(String, ReadinessCheck)> = Vec::new();

    // The gateway's address is known before the services start: login callbacks point at it.
    let (gateway_listener, public_base_url) = if runs(Target::Gateway) {
        let listener = tokio::net::TcpListener::bind(settings.gateway.listen).await.with_context(|| {
            format!("configuration key `gateway.listen`: cannot listen on {}", settings.gateway.listen)
        })?;
        let bound = listener.local_addr()?;
        // With port 0 (tests) the public address follows the bound one.
        let base = if settings.gateway.listen.port() == 0 {
            format!("http://{bound}")
        } else {
            settings.gateway.public_base_url.clone()
        };
        (Some(listener), base)
    } else {
        (None, settings.gateway.public_base_url.clone())
    };
    let public_base_url = public_base_url.trim_end_matches('/').to_owned();

    // The gateway watches workspace events for live streams, so it needs the bus too.
    let bus: Option<Arc<dyn Bus>> =
        if runs(Target::Tenants) || runs(Target::Workspaces) || runs(Target::Consent) || runs(Target::Gateway) {
            Some(events::connect(&settings.bus).await.context("connecting to the event bus")?)
        } else {
            None
        };

    let (health_reporter, health_service) = tonic_health::server::health_reporter();
    let mut routes = tonic::service::RoutesBuilder::default();
    routes.add_service(health_service);
    routes.add_service(grpc::reflection()?);
    let mut serves_grpc = false;
    let hasher = IdentityCodeHasher::new(settings.security.identity_code_key.clone());

    // Tenants.
    let mut tenants_local: Option<Transport> = None;
    if runs(Target::Tenants) {
        let db = if options.migrate {
            open_database(settings, Target::Tenants).await?
        } else {
            Db::connect(settings, "tenants").await?
        };
        let outbox = Outbox::new(ohjaus_tenants::SERVICE, options.clock.clone());
        let tenants = ohjaus_tenants::Tenants::new(db.clone(), options.clock.clone(), outbox.clone(), hasher.clone());
        if settings.is_embedded() && settings.demo.seed {
            ohjaus_tenants::seed::seed_demo(&tenants)
                .await
                .map_err(|e| anyhow::anyhow!("seeding the demo organisation: {e}"))?;
        }
        if let Some(bus) = &bus {
            tasks.push(tokio::spawn(events::run_relay(db.clone(), bus.clone(), outbox.waker(), shutdown.clone())));
        }
        routes.add_service(tenants.server());
        health_reporter.set_serving::<TenantsServiceServer<ohjaus_tenants::Tenants>>().await;
        tenants_local = Some(grpc::in_process(tenants.server(), &keys, timeout));
        readiness.push(("tenants-database".into(), db_check(db.clone())));
        databases.push(db);
        serves_grpc = true;
    }

    // Identity.
    let mut identity_local: Option<Transport> = None;
    let mut dev_idp_issuer = None;
    if runs(Target::Identity) {
        let db = if options.migrate {
            open_database(settings, Target::Identity).await?
        } else {
            Db::connect(settings, "identity").await?
        };
        let mut providers: Vec<(String, ProviderSettings)> = settings.identity.providers.clone().into_iter().collect();
        let mut operators = operator_identities(&settings.identity.operators);
        if settings.dev_idp_enabled() {
            let running = dev_idp::start(settings.identity.dev_idp.listen, options.clock.clone(), shutdown.clone())
                .await
                .context("configuration key `identity.dev_idp.listen`")?;
            tasks.push(running.task);
            providers.push(("dev".into(), dev_provider(&running.issuer)));
            operators.push((dev_idp::DEMO_VIRTU_HOME.into(), dev_idp::OPERATOR_LOCAL_ID.into()));
            dev_idp_issuer = Some(running.issuer);
        }
        let mut connectors = providers
            .into_iter()
            .map(|(id, provider)| {
                OidcConnector::new(
                    &id,
                    provider,
                    format!("{public_base_url}/auth/callback/{id}"),
                    options.clock.clone(),
                )
                .map(Connector::Oidc)
                .with_context(|| format!("configuration key `identity.providers.{id}`"))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        connectors.extend(saml_connectors(settings, &connectors, &public_base_url, &options.clock)?);
        let tenants = transport_to(settings, "tenants", tenants_local.as_ref(), &keys, timeout, &mut readiness)?;
        let config = IdentityConfig {
            policy: SessionPolicy {
                idle: chrono::Duration::minutes(i64::try_from(settings.identity.session_idle_minutes).unwrap_or(30)),
                absolute: chrono::Duration::hours(
                    i64::try_from(settings.identity.session_absolute_hours).unwrap_or(12),
                ),
            },
            login_timeout: chrono::Duration::minutes(
                i64::try_from(settings.identity.login_timeout_minutes).unwrap_or(10),
            ),
            access_token_ttl: Duration::from_secs(settings.identity.access_token_ttl_seconds),
            operators,
            post_logout_redirect: format!("{public_base_url}/auth/logged-out"),
        };
        let identity = ohjaus_identity::Identity::new(
            db.clone(),
            options.clock.clone(),
            keys.clone(),
            hasher.clone(),
            tenants,
            connectors,
            config,
        );
        tasks.push(tokio::spawn(purge_logins(
            identity.clone(),
            options.clock.clone(),
            settings.identity.login_timeout_minutes,
            shutdown.clone(),
        )));
        routes.add_service(identity.server());
        health_reporter.set_serving::<IdentityServiceServer<ohjaus_identity::Identity>>().await;
        identity_local = Some(grpc::in_process(identity.server(), &keys, timeout));
        readiness.push(("identity-database".into(), db_check(db.clone())));
        databases.push(db);
        serves_grpc = true;
    }
    if let Some(bus) = &bus {
        readiness.push(("event-bus".into(), bus_check(bus.clone())));
    }

    // Workspaces.
    let mut workspaces_local: Option<Transport> = None;
    if runs(Target::Workspaces) {
        let db = if options.migrate {
            open_database(settings, Target::Workspaces).await?
        } else {
            Db::connect(settings, "workspaces").await?
        };
        let kek = settings.key_encryption_key().context("configuration key `security.key_encryption_key`")?;
        let tenants = transport_to(settings, "tenants", tenants_local.as_ref(), &keys, timeout, &mut readiness)?;
        let identity = transport_to(settings, "identity", identity_local.as_ref(), &keys, timeout, &mut readiness)?;
        let outbox = Outbox::new(ohjaus_workspaces::SERVICE, options.clock.clone());
        let days = |value: u64| chrono::Duration::days(i64::try_from(value).unwrap_or(30));
        let minutes = |value: u64| chrono::Duration::minutes(i64::try_from(value).unwrap_or(10));
        let config = ohjaus_workspaces::WorkspacesConfig {
            reopen_window: days(settings.workspaces.reopen_window_days),
            invitation_valid: days(settings.workspaces.invitation_valid_days),
            notification_batch: minutes(settings.workspaces.notification_batch_minutes),
            message_edit_window: minutes(settings.workspaces.message_edit_minutes),
            max_file_bytes: settings.files.max_bytes,
            public_base_url: public_base_url.clone(),
        };
        let peers = ohjaus_workspaces::Peers {
            tenants,
            identity,
            mailer: ohjaus_platform::mail::Mailer::from_settings(settings).context("configuration section `mail`")?,
            files: ohjaus_platform::storage::open(settings).context("configuration section `files`")?,
        };
        let workspaces =
            ohjaus_workspaces::Workspaces::new(db.clone(), options.clock.clone(), outbox.clone(), kek, peers, config);
        tasks.push(tokio::spawn(ohjaus_workspaces::run_mail_worker(workspaces.clone(), shutdown.clone())));
        if let Some(bus) = &bus {
            // Consent's effects (membership, notifications) arrive as events; subscribed before
            // consent's relay starts, so the in-process bus has somewhere to deliver them.
            let effects = Arc::new(ohjaus_workspaces::ConsentEffects::new(workspaces.clone()));
            let consumer = events::start_consumer(
                db.clone(),
                bus.clone(),
                effects,
                options.clock.clone(),
                settings.bus.max_deliver,
                shutdown.clone(),
            )
            .await
            .context("subscribing the workspaces service to consent events")?;
            tasks.push(consumer);
            tasks.push(tokio::spawn(events::run_relay(db.clone(), bus.clone(), outbox.waker(), shutdown.clone())));
        }
        routes.add_service(workspaces.server());
        health_reporter.set_serving::<WorkspacesServiceServer<ohjaus_workspaces::Workspaces>>().await;
        workspaces_local = Some(grpc::in_process(workspaces.server(), &keys, timeout));
        readiness.push(("workspaces-database".into(), db_check(db.clone())));
        databases.push(db);
        serves_grpc = true;
    }

    // Consent.
    let mut consent_local: Option<Transport> = None;
    if runs(Target::Consent) {
        let db = if options.migrate {
            open_database(settings, Target::Consent).await?
        } else {
            Db::connect(settings, ohjaus_consent::SERVICE).await?
        };
        let kek = settings.key_encryption_key().context("configuration key `security.key_encryption_key`")?;
        let ledger_key = ohjaus_consent::domain::ledger::LedgerKey::new(settings.security.consent_ledger_key.clone());
        let peers = ohjaus_consent::Peers {
            tenants: transport_to(settings, "tenants", tenants_local.as_ref(), &keys, timeout, &mut readiness)?,
            workspaces: transport_to(
                settings,
                "workspaces",
                workspaces_local.as_ref(),
                &keys,
                timeout,
                &mut readiness,
            )?,
        };
        let outbox = Outbox::new(ohjaus_consent::SERVICE, options.clock.clone());
        let consent =
            ohjaus_consent::Consent::new(db.clone(), options.clock.clone(), outbox.clone(), kek, ledger_key, peers);
        if let Some(bus) = &bus {
            tasks.push(tokio::spawn(events::run_relay(db.clone(), bus.clone(), outbox.waker(), shutdown.clone())));
        }
        routes.add_service(consent.server());
        health_reporter.set_serving::<ConsentServiceServer<ohjaus_consent::Consent>>().await;
        consent_local = Some(grpc::in_process(consent.server(), &keys, timeout));
        readiness.push(("consent-database".into(), db_check(db.clone())));
        databases.push(db);
        serves_grpc = true;
    }

    let grpc_addr = if serves_grpc {
        let (addr, task) = grpc::serve(settings.grpc.listen, routes.routes(), &keys, shutdown.clone())
            .await
            .with_context(|| format!("configuration key `grpc.listen`: cannot listen on {}", settings.grpc.listen))?;
        tasks.push(task);
        Some(addr)
    } else {
        None
    };

    let gateway_addr = match gateway_listener {
        Some(listener) => {
            let tenants = transport_to(settings, "tenants", tenants_local.as_ref(), &keys, timeout, &mut readiness)?;
            let identity = transport_to(settings, "identity", identity_local.as_ref(), &keys, timeout, &mut readiness)?;
            let workspaces =
                transport_to(settings, "workspaces", workspaces_local.as_ref(), &keys, timeout, &mut readiness)?;
            let consent = transport_to(settings, "consent", consent_local.as_ref(), &keys, timeout, &mut readiness)?;
            let live = match &bus {
                Some(bus) => {
                    let (hub, task) = ohjaus_gateway::live::LiveHub::start(bus.clone(), shutdown.clone())
                        .await
                        .context("watching workspace events for live streams")?;
                    tasks.push(task);
                    Some(hub)
                }
                None => None,
            };
            let state = AppState::new(settings, keys.clone(), tenants, identity, workspaces, consent, live, readiness);
            let app = ohjaus_gateway::app(state, settings);
            let addr = listener.local_addr()?;
            tasks.push(ohjaus_gateway::serve(app, listener, shutdown.clone()));
            Some(addr)
        }
        None => None,
    };

    let reporter = health_reporter.clone();
    let stop = shutdown.clone();
    tasks.push(tokio::spawn(async move {
        stop.cancelled().await;
        reporter.set_not_serving::<TenantsServiceServer<ohjaus_tenants::Tenants>>().await;
        reporter.set_not_serving::<IdentityServiceServer<ohjaus_identity::Identity>>().await;
        reporter.set_not_serving::<WorkspacesServiceServer<ohjaus_workspaces::Workspaces>>().await;
        reporter.set_not_serving::<ConsentServiceServer<ohjaus_consent::Consent>>().await;
    }));

    Ok(Running { gateway_addr, grpc_addr, dev_idp: dev_idp_issuer, shutdown, tasks, databases })
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

/// Removes logins that never came back from the provider.
async fn purge_logins(
    identity: ohjaus_identity::Identity,
    clock: SharedClock,
    timeout_minutes: u64,
    shutdown: CancellationToken,
) {
    let timeout = chrono::Duration::minutes(i64::try_from(timeout_minutes).unwrap_or(10));
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(Duration::from_secs(600)) => {}
        }
        if let Err(error) = ohjaus_identity::store::purge_logins(identity.db(), clock.now() - timeout).await {
            tracing::warn!(%error, "could not purge stale logins");
        }
    }
}

fn db_check(db: Db) -> ReadinessCheck {
    Arc::new(move || {
        let db = db.clone();
        Box::pin(async move { db.ping().await.map_err(|e| e.to_string()) })
    })
}

fn bus_check(bus: Arc<dyn Bus>) -> ReadinessCheck {
    Arc::new(move || {
        let bus = bus.clone();
        Box::pin(async move { bus.ping().await.map_err(|e| e.to_string()) })
    })
}

fn grpc_health_check(transport: Transport) -> ReadinessCheck {
    Arc::new(move || {
        let mut client = tonic_health::pb::health_client::HealthClient::new(transport.clone());
        Box::pin(async move {
            let response = client
                .check(tonic_health::pb::HealthCheckRequest { service: String::new() })
                .await
                .map_err(|s| s.code().to_string())?;
            if response.into_inner().status == tonic_health::pb::health_check_response::ServingStatus::Serving as i32 {
                Ok(())
            } else {
                Err("not serving".into())
            }
        })
    })
}
