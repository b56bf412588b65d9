//! Runs any set of Ohjaus services in one process.
//!
//! `--target all` (the default) is the embedded mode's whole system; `--target tenants` is one
//! Kubernetes Deployment. A service that runs here is called through its server directly
//! (no socket); one that runs elsewhere through a network channel. The same principal, trace
//! and deadline layers apply either way.

use std::{fmt, net::SocketAddr, str::FromStr, sync::Arc, time::Duration};

use anyhow::{Context, bail};
use ohjaus_gateway::{AppState, ReadinessCheck};
use ohjaus_platform::{
    auth::TokenKeys,
    clock::SharedClock,
    config::Settings,
    db::Db,
    events::{self, Bus, Outbox},
    grpc::{self, Transport},
    types::IdentityCodeHasher,
};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// A module the binary can run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Target {
    Gateway,
    Tenants,
}

impl Target {
    pub const ALL: [Target; 2] = [Target::Gateway, Target::Tenants];

    pub fn name(self) -> &'static str {
        match self {
            Target::Gateway => "gateway",
            Target::Tenants => "tenants",
        }
    }

    /// What the target needs to run, for `--list-targets`.
    pub fn needs(self) -> &'static str {
        match self {
            Target::Gateway => {
                "HTTP listener (gateway.listen); the tenants service, here or at services.tenants.address"
            }
            Target::Tenants => {
                "its database (schema `tenants` / tenants.db), the event bus, gRPC listener (grpc.listen)"
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
                (_, _, rest) = futures::future::select_all(pending.iter_mut()) => {
                    // A task ended before shutdown was asked for.
                    let _ = rest;
                    failed = true;
                    shutdown.cancel();
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
        Target::Gateway => return Ok(db),
    };
    db.migrate(&migrations).await.with_context(|| format!("migrating the {target} database"))?;
    Ok(db)
}

/// Starts the targets; they run until `shutdown` is cancelled.
pub async fn start(settings: &Settings, options: Options, shutdown: CancellationToken) -> anyhow::Result<Running> {
    let keys = TokenKeys::from_settings(&settings.auth, options.clock.clone())?;
    let timeout = Duration::from_millis(settings.grpc.timeout_ms);
    let runs = |t: Target| options.targets.contains(&t);
    let mut tasks = Vec::new();
    let mut databases = Vec::new();
    let mut readiness: Vec<(String, ReadinessCheck)> = Vec::new();

    let bus: Option<Arc<dyn Bus>> = if options.targets.iter().any(|t| t.has_database()) {
        Some(events::connect(&settings.bus).await.context("connecting to the event bus")?)
    } else {
        None
    };

    let (health_reporter, health_service) = tonic_health::server::health_reporter();
    let mut routes = tonic::service::RoutesBuilder::default();
    routes.add_service(health_service);
    routes.add_service(grpc::reflection()?);
    let mut serves_grpc = false;

    // Tenants.
    let mut tenants_transport: Option<Transport> = None;
    if runs(Target::Tenants) {
        let db = if options.migrate {
            open_database(settings, Target::Tenants).await?
        } else {
            Db::connect(settings, "tenants").await?
        };
        let outbox = Outbox::new(ohjaus_tenants::SERVICE, options.clock.clone());
        let hasher = IdentityCodeHasher::new(settings.security.identity_code_key.clone());
        let tenants = ohjaus_tenants::Tenants::new(db.clone(), options.clock.clone(), outbox.clone(), hasher);
        if settings.is_embedded() && settings.demo.seed {
            ohjaus_tenants::seed::seed_demo(&tenants)
                .await
                .map_err(|e| anyhow::anyhow!("seeding the demo organisation: {e}"))?;
        }
        if let Some(bus) = &bus {
            tasks.push(tokio::spawn(events::run_relay(db.clone(), bus.clone(), outbox.waker(), shutdown.clone())));
        }
        routes.add_service(tenants.server());
        health_reporter.set_serving::<ohjaus_platform::proto::tenants::v1::tenants_service_server::TenantsServiceServer<ohjaus_tenants::Tenants>>().await;
        tenants_transport = Some(grpc::in_process(tenants.server(), &keys, timeout));
        readiness.push(("tenants-database".into(), db_check(db.clone())));
        databases.push(db);
        serves_grpc = true;
    }
    if let Some(bus) = &bus {
        readiness.push(("event-bus".into(), bus_check(bus.clone())));
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

    let gateway_addr = if runs(Target::Gateway) {
        let tenants = match tenants_transport {
            Some(transport) => transport,
            None => {
                let Some(address) = settings.services.address_of("tenants") else {
                    bail!(
                        "configuration key `services.tenants.address` is required when the gateway runs without the tenants target"
                    );
                };
                let transport =
                    grpc::remote(address, &keys, timeout).context("configuration key `services.tenants.address`")?;
                readiness.push(("tenants".into(), grpc_health_check(transport.clone())));
                transport
            }
        };
        let state = AppState::new(settings, keys.clone(), tenants, readiness);
        let app = ohjaus_gateway::app(state, settings);
        let (addr, task) =
            ohjaus_gateway::serve(app, settings.gateway.listen, shutdown.clone()).await.with_context(|| {
                format!("configuration key `gateway.listen`: cannot listen on {}", settings.gateway.listen)
            })?;
        tasks.push(task);
        Some(addr)
    } else {
        None
    };

    let reporter = health_reporter.clone();
    let stop = shutdown.clone();
    tasks.push(tokio::spawn(async move {
        stop.cancelled().await;
        reporter.set_not_serving::<ohjaus_platform::proto::tenants::v1::tenants_service_server::TenantsServiceServer<ohjaus_tenants::Tenants>>().await;
    }));

    Ok(Running { gateway_addr, grpc_addr, shutdown, tasks, databases })
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
