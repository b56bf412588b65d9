//! Starts the selected targets from the target table. What every target shares is done here,
//! once: the listeners, the event bus, each target's database (migrated first when asked),
//! transports to the targets it calls, its gRPC routes and health, its outbox relay and event
//! consumer, and the readiness checks the gateway reports.

use std::{collections::HashMap, convert::Infallible, net::SocketAddr, sync::Arc, time::Duration};

use anyhow::{Context, bail};
use ohjaus_gateway::ReadinessCheck;
use ohjaus_platform::{
    auth::TokenKeys,
    clock::SharedClock,
    config::{DatabaseBackend, Settings},
    db::Db,
    events::{self, Bus, EventHandler, Outbox},
    grpc::{self, Transport},
    keyring::{self, Keyring},
    types::IdentityCodeHasher,
};
use tokio::{net::TcpListener, task::JoinHandle};
use tokio_util::sync::CancellationToken;
use tonic::{
    body::Body,
    codegen::{Service, http},
    server::NamedService,
    service::RoutesBuilder,
};
use tonic_health::{ServingStatus, server::HealthReporter};

use crate::{
    Options,
    targets::{self, Need, TABLE, Target},
};

/// What a target's start function gets: the configuration, the process's shared parts, and
/// what its row in the table asks for. Asking for something the row does not declare is an
/// error, so the table stays the truth about what each target uses.
pub struct StartContext<'r> {
    pub settings: &'r Settings,
    pub clock: SharedClock,
    pub keys: TokenKeys,
    pub shutdown: CancellationToken,
    /// Where users reach the gateway, without a trailing `/`; login callbacks and links in
    /// mail point at it.
    pub public_base_url: String,
    target: Target,
    timeout: Duration,
    db: Option<Db>,
    keyring: Option<Keyring>,
    bus: Option<Arc<dyn Bus>>,
    peers: Vec<(Target, Transport)>,
    http_listener: Option<TcpListener>,
    readiness: Vec<(String, ReadinessCheck)>,
    tasks: Vec<JoinHandle<()>>,
}

impl StartContext<'_> {
    fn require(&self, wanted: fn(&Need) -> bool, what: &str) -> anyhow::Result<()> {
        if self.target.spec().needs(wanted) {
            Ok(())
        } else {
            bail!("the {} target uses {what} but its row in the target table does not say so", self.target)
        }
    }

    /// Its own database, migrated when the process migrates.
    pub fn db(&self) -> anyhow::Result<Db> {
        self.require(|n| matches!(n, Need::Database(_)), "a database")?;
        self.db.clone().context("the database is not open")
    }

    pub fn bus(&self) -> anyhow::Result<Arc<dyn Bus>> {
        self.require(|n| matches!(n, Need::Bus), "the event bus")?;
        self.bus.clone().context("the event bus is not connected")
    }

    /// A transport to `target`: its server in this process, or its `services.<name>.address`.
    pub fn peer(&self, target: Target) -> anyhow::Result<Transport> {
        match self.peers.iter().find(|(t, _)| *t == target) {
            Some((_, transport)) => Ok(transport.clone()),
            None => bail!("the {} target calls {target} but its row in the target table does not say so", self.target),
        }
    }

    /// The bound public HTTP listener (`gateway.listen`); it can be taken once.
    pub fn http_listener(&mut self) -> anyhow::Result<TcpListener> {
        self.require(|n| matches!(n, Need::HttpListener), "the HTTP listener")?;
        self.http_listener.take().context("the HTTP listener was taken already")
    }

    pub fn identity_code_hasher(&self) -> anyhow::Result<IdentityCodeHasher> {
        self.require(|n| matches!(n, Need::IdentityCodeKey), "security.identity_code_key")?;
        Ok(IdentityCodeHasher::new(self.settings.security.identity_code_key.clone()))
    }

    /// Its key store, migrated with its database.
    pub fn keyring(&self) -> anyhow::Result<Keyring> {
        self.require(|n| matches!(n, Need::Keyring(_)), "a key store")?;
        self.keyring.clone().context("the key store is not open")
    }

    /// The readiness checks of everything started before this target: databases, the bus and
    /// the targets called over the network.
    pub fn readiness(&self) -> Vec<(String, ReadinessCheck)> {
        self.readiness.clone()
    }

    /// Keeps a background task of the target: the process stops when one ends on its own.
    pub fn keep(&mut self, task: JoinHandle<()>) {
        self.tasks.push(task);
    }

    pub fn spawn(&mut self, task: impl Future<Output = ()> + Send + 'static) {
        self.keep(tokio::spawn(task));
    }

    /// The target's gRPC server: routed on the process's gRPC listener, reported serving by
    /// the health service, and called in-process by the targets started after it.
    pub fn grpc<S>(&self, server: S) -> anyhow::Result<Started>
    where
        S: Service<http::Request<Body>, Response = http::Response<Body>, Error = Infallible>
            + NamedService
            + Clone
            + Send
            + Sync
            + 'static,
        S::Future: Send + 'static,
    {
        self.require(|n| matches!(n, Need::GrpcListener), "the gRPC listener")?;
        let transport = grpc::in_process(server.clone(), &self.keys, self.timeout);
        let register: Box<dyn FnOnce(&mut RoutesBuilder) + Send> = Box::new(move |routes| {
            routes.add_service(server);
        });
        Ok(Started { grpc: Some(Served { name: S::NAME, transport, register }), ..Started::default() })
    }
}

/// What a target brought up, for the runner to wire.
#[derive(Default)]
pub struct Started {
    grpc: Option<Served>,
    outbox: Option<Outbox>,
    consumer: Option<Arc<dyn EventHandler>>,
    http_addr: Option<SocketAddr>,
    dev_idp: Option<String>,
    retention: Option<ohjaus_retention::Retention>,
}

struct Served {
    name: &'static str,
    transport: Transport,
    register: Box<dyn FnOnce(&mut RoutesBuilder) + Send>,
}

impl Started {
    /// A target that serves HTTP at `addr`.
    pub fn http(addr: SocketAddr) -> Self {
        Self { http_addr: Some(addr), ..Self::default() }
    }

    /// Its outbox's events are relayed to the bus.
    pub fn publishing(self, outbox: Outbox) -> Self {
        Self { outbox: Some(outbox), ..self }
    }

    /// `handler` gets the events it subscribes to, from before any target after this one
    /// publishes.
    pub fn consuming(self, handler: Arc<dyn EventHandler>) -> Self {
        Self { consumer: Some(handler), ..self }
    }

    /// The development identity provider runs at `issuer`.
    pub fn with_dev_idp(self, issuer: Option<String>) -> Self {
        Self { dev_idp: issuer, ..self }
    }

    /// The retention worker runs here (for `ohjaus retention`, which runs it once).
    pub fn with_retention(self, retention: ohjaus_retention::Retention) -> Self {
        Self { retention: Some(retention), ..self }
    }
}

/// A started system.
pub struct Running {
    pub gateway_addr: Option<SocketAddr>,
    pub grpc_addr: Option<SocketAddr>,
    /// The development identity provider's issuer, when it runs.
    pub dev_idp: Option<String>,
    /// The retention worker, when it runs here.
    pub retention: Option<ohjaus_retention::Retention>,
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

/// What a target keeps: its database and, if it has one, its key store.
#[derive(Default)]
pub struct Databases {
    pub db: Option<Db>,
    pub keyring: Option<Keyring>,
}

impl Databases {
    pub async fn close(&self) {
        if let Some(db) = &self.db {
            db.close().await;
        }
        if let Some(keyring) = &self.keyring {
            keyring.db().close().await;
        }
    }
}

/// Opens `target`'s database, applying its migrations when `migrate` is set.
pub async fn open_database(settings: &Settings, target: Target, migrate: bool) -> anyhow::Result<Option<Db>> {
    let databases = open_databases(settings, target, migrate).await?;
    if let Some(keyring) = &databases.keyring {
        keyring.db().close().await;
    }
    Ok(databases.db)
}

/// Opens `target`'s database and its key store; with `migrate`, applies their migrations (and
/// moves data keys still kept in content tables into the key store).
pub async fn open_databases(settings: &Settings, target: Target, migrate: bool) -> anyhow::Result<Databases> {
    let Some(migrations) = target.spec().migrations() else { return Ok(Databases::default()) };
    let db = Db::connect(settings, target.name()).await.with_context(|| format!("opening the {target} database"))?;
    let Some(legacy) = target.spec().keyring() else {
        if migrate {
            db.migrate(&migrations).await.with_context(|| format!("migrating the {target} database"))?;
        }
        return Ok(Databases { db: Some(db), keyring: None });
    };
    let keyring = open_keyring(settings, target).await?;
    if migrate {
        keyring::migrate_with_keyring(&db, &migrations, &keyring, legacy)
            .await
            .with_context(|| format!("migrating the {target} database and its key store"))?;
    }
    // Deletions a stopped process left uncompacted are compacted now.
    keyring.resume().await.with_context(|| format!("the key store of {target} (is it migrated?)"))?;
    Ok(Databases { db: Some(db), keyring: Some(keyring) })
}

/// `target`'s key store, not migrated.
pub async fn open_keyring(settings: &Settings, target: Target) -> anyhow::Result<Keyring> {
    let keys = settings.key_encryption_keys().context("configuration key `security.key_encryption_key`")?;
    if settings.database.backend == DatabaseBackend::Postgres && settings.keyring.url.is_none() {
        tracing::warn!(
            service = %target,
            "keyring.url is not set: the key store is the schema {}_keyring of the content database; \
             keep it out of content backups (pg_dump --exclude-schema='*_keyring') and back it up apart",
            target
        );
    }
    let db = keyring::connect(settings, target.name())
        .await
        .with_context(|| format!("opening the key store of {target} (keyring.url / keyring.directory)"))?;
    Ok(Keyring::new(target.name(), db, keys, settings.keyring.compact_after().std()))
}

/// The process while its targets start.
struct Process<'s> {
    settings: &'s Settings,
    options: Options,
    keys: TokenKeys,
    timeout: Duration,
    shutdown: CancellationToken,
    public_base_url: String,
    http_listener: Option<TcpListener>,
    bus: Option<Arc<dyn Bus>>,
    /// Transports to the targets served here, and to those called over the network.
    local: HashMap<Target, Transport>,
    remote: HashMap<Target, Transport>,
    routes: RoutesBuilder,
    health: HealthReporter,
    served: Vec<&'static str>,
    readiness: Vec<(String, ReadinessCheck)>,
    tasks: Vec<JoinHandle<()>>,
    databases: Vec<Db>,
    gateway_addr: Option<SocketAddr>,
    dev_idp: Option<String>,
    retention: Option<ohjaus_retention::Retention>,
}

/// Starts `options.targets` in dependency order; they run until `shutdown` is cancelled.
pub async fn run(settings: &Settings, options: Options, shutdown: CancellationToken) -> anyhow::Result<Running> {
    let order = targets::start_order(TABLE, &options.targets)?;
    let needed = |wanted: fn(&Need) -> bool| order.iter().any(|t| t.spec().needs(wanted));
    let keys = TokenKeys::from_settings(&settings.auth, options.clock.clone())?;

    // The gateway's address is known before the services start: login callbacks point at it.
    let mut public_base_url = settings.gateway.public_base_url.clone();
    let http_listener = if needed(|n| matches!(n, Need::HttpListener)) {
        let listen = settings.gateway.listen;
        let listener = TcpListener::bind(listen)
            .await
            .with_context(|| format!("configuration key `gateway.listen`: cannot listen on {listen}"))?;
        // With port 0 (tests) the public address follows the bound one.
        if listen.port() == 0 {
            public_base_url = format!("http://{}", listener.local_addr()?);
        }
        Some(listener)
    } else {
        None
    };

    let mut readiness: Vec<(String, ReadinessCheck)> = Vec::new();
    let bus = if needed(|n| matches!(n, Need::Bus)) {
        let bus = events::connect(&settings.bus).await.context("connecting to the event bus")?;
        readiness.push(("event-bus".into(), bus_check(bus.clone())));
        Some(bus)
    } else {
        None
    };

    let (health, health_service) = tonic_health::server::health_reporter();
    let mut routes = RoutesBuilder::default();
    routes.add_service(health_service);

    let mut process = Process {
        settings,
        keys,
        timeout: settings.grpc.timeout().std(),
        shutdown,
        public_base_url: public_base_url.trim_end_matches('/').to_owned(),
        http_listener,
        bus,
        local: HashMap::new(),
        remote: HashMap::new(),
        routes,
        health,
        served: Vec::new(),
        readiness,
        tasks: Vec::new(),
        databases: Vec::new(),
        gateway_addr: None,
        dev_idp: None,
        retention: None,
        options,
    };
    for &target in &order {
        process.start(target).await?;
    }

    let grpc_addr = if needed(|n| matches!(n, Need::GrpcListener)) {
        let listen = settings.grpc.listen;
        let mut routes = std::mem::take(&mut process.routes);
        grpc::add_reflection(&mut routes, &process.served)?;
        let routes = routes.routes();
        let (addr, task) = grpc::serve(listen, routes, &process.keys, process.shutdown.clone())
            .await
            .with_context(|| format!("configuration key `grpc.listen`: cannot listen on {listen}"))?;
        process.tasks.push(task);
        Some(addr)
    } else {
        None
    };

    let (health, served, stop) = (process.health.clone(), process.served.clone(), process.shutdown.clone());
    process.tasks.push(tokio::spawn(async move {
        stop.cancelled().await;
        for name in served {
            health.set_service_status(name, ServingStatus::NotServing).await;
        }
    }));

    Ok(Running {
        gateway_addr: process.gateway_addr,
        grpc_addr,
        dev_idp: process.dev_idp,
        retention: process.retention,
        shutdown: process.shutdown,
        tasks: process.tasks,
        databases: process.databases,
    })
}

impl Process<'_> {
    /// Starts one target after the targets it calls.
    async fn start(&mut self, target: Target) -> anyhow::Result<()> {
        let spec = target.spec();
        let mut peers = Vec::new();
        for peer in spec.depends_on {
            peers.push((*peer, self.transport_to(*peer)?));
        }
        let Databases { db, keyring } = open_databases(self.settings, target, self.options.migrate).await?;
        if let Some(db) = &db {
            self.readiness.push((format!("{target}-database"), db_check(db.clone())));
            self.databases.push(db.clone());
        }
        if let Some(keyring) = &keyring {
            self.readiness.push((format!("{target}-keyring"), db_check(keyring.db().clone())));
            self.databases.push(keyring.db().clone());
        }
        let mut ctx = StartContext {
            settings: self.settings,
            clock: self.options.clock.clone(),
            keys: self.keys.clone(),
            shutdown: self.shutdown.clone(),
            public_base_url: self.public_base_url.clone(),
            target,
            timeout: self.timeout,
            db,
            keyring,
            bus: if spec.needs(|n| matches!(n, Need::Bus)) { self.bus.clone() } else { None },
            peers,
            http_listener: if spec.needs(|n| matches!(n, Need::HttpListener)) {
                self.http_listener.take()
            } else {
                None
            },
            readiness: self.readiness.clone(),
            tasks: Vec::new(),
        };
        let started = targets::start(target, &mut ctx).await;
        self.tasks.append(&mut ctx.tasks);
        let started = started?;

        if let Some(served) = started.grpc {
            (served.register)(&mut self.routes);
            self.health.set_service_status(served.name, ServingStatus::Serving).await;
            self.served.push(served.name);
            self.local.insert(target, served.transport);
        }
        // The consumer subscribes before the relays of the targets after this one start, so
        // the in-process bus has somewhere to deliver their events.
        if let Some(handler) = started.consumer {
            let filter = handler.filter().to_owned();
            let task = events::start_consumer(
                ctx.db()?,
                ctx.bus()?,
                handler,
                ctx.clock.clone(),
                self.settings.bus.max_deliver,
                self.shutdown.clone(),
            )
            .await
            .with_context(|| format!("subscribing the {target} service to `{filter}` events"))?;
            self.tasks.push(task);
        }
        if let Some(outbox) = started.outbox {
            let relay = events::run_relay(ctx.db()?, ctx.bus()?, outbox.waker(), self.shutdown.clone());
            self.tasks.push(tokio::spawn(relay));
        }
        self.gateway_addr = self.gateway_addr.or(started.http_addr);
        self.dev_idp = self.dev_idp.take().or(started.dev_idp);
        self.retention = self.retention.take().or(started.retention);
        Ok(())
    }

    /// A transport to `target`: in-process if it runs here, otherwise at its configured
    /// address (then the gateway's readiness asks it too).
    fn transport_to(&mut self, target: Target) -> anyhow::Result<Transport> {
        if let Some(transport) = self.local.get(&target).or_else(|| self.remote.get(&target)) {
            return Ok(transport.clone());
        }
        let Some(address) = self.settings.services.address_of(target.name()) else {
            bail!(
                "configuration key `services.{target}.address` is required when the {target} target does not run in this process"
            );
        };
        let transport = grpc::remote(address, &self.keys, self.timeout)
            .with_context(|| format!("configuration key `services.{target}.address`"))?;
        self.readiness.push((target.name().to_owned(), grpc_health_check(transport.clone())));
        self.remote.insert(target, transport.clone());
        Ok(transport)
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
