//! Events between services: a transactional outbox, a relay to the bus, and durable consumers
//! with an inbox so that a redelivered event has no second effect.
//!
//! Two buses share one contract: NATS JetStream in the server mode (publish acknowledged by
//! the stream, `Nats-Msg-Id` = event id for de-duplication, durable pull consumers with
//! explicit ack) and an in-process bus in the embedded mode, whose publish returns only after
//! every consumer has acknowledged, so the outbox row stays until the event was applied.
//! An event that keeps failing is parked in `parked_events` and counted, never dropped.

use std::{sync::Arc, time::Duration};

use async_trait::async_trait;
use bytes::Bytes;
use futures::{StreamExt, stream::BoxStream};
use ohjaus_proto::events::v1::EventEnvelope;
use prost::Message as _;
use tokio::sync::{Mutex, Notify, mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::{
    clock::SharedClock,
    config::{BusKind, BusSettings},
    db::{Db, DbError, Tx},
    telemetry,
};

pub use ohjaus_proto::Event;

#[derive(Debug, thiserror::Error)]
pub enum BusError {
    #[error("bus unavailable: {0}")]
    Unavailable(String),
    #[error(transparent)]
    Db(#[from] DbError),
}

/// Writes events into the outbox of one service, inside the caller's transaction.
#[derive(Clone)]
pub struct Outbox {
    source: &'static str,
    clock: SharedClock,
    wake: Arc<Notify>,
}

impl std::fmt::Debug for Outbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outbox").field("source", &self.source).finish()
    }
}

impl Outbox {
    pub fn new(source: &'static str, clock: SharedClock) -> Self {
        Self { source, clock, wake: Arc::new(Notify::new()) }
    }

    /// Adds `event` to the outbox in `tx`. Call [`Outbox::committed`] after the commit.
    pub async fn write<E: Event>(&self, tx: &mut Tx, tenant: Option<Uuid>, event: &E) -> Result<Uuid, DbError> {
        let id = crate::ids::new_id();
        let now = self.clock.now();
        let envelope = EventEnvelope {
            id: id.to_string(),
            r#type: E::TYPE.to_owned(),
            tenant_id: tenant.map(|t| t.to_string()).unwrap_or_default(),
            occurred_at: Some(prost_types::Timestamp {
                seconds: now.timestamp(),
                nanos: i32::try_from(now.timestamp_subsec_nanos()).unwrap_or(0),
            }),
            trace_context: telemetry::current_trace_map(),
            payload: event.encode_to_vec(),
            source: self.source.to_owned(),
        };
        tx.query("INSERT INTO outbox (id, subject, envelope, created_at) VALUES ($1, $2, $3, $4)")
            .bind(id)
            .bind(E::SUBJECT)
            .bind(envelope.encode_to_vec())
            .bind(now)
            .execute(&mut *tx)
            .await?;
        Ok(id)
    }

    /// Wakes the relay so committed events leave at once rather than at the next poll.
    pub fn committed(&self) {
        self.wake.notify_one();
    }

    pub fn waker(&self) -> Arc<Notify> {
        self.wake.clone()
    }
}

/// A delivery from the bus to one consumer.
pub struct Delivery {
    pub subject: String,
    pub payload: Bytes,
    /// 1 on the first delivery.
    pub attempt: u64,
    acker: Box<dyn Acker>,
}

#[async_trait]
trait Acker: Send + Sync {
    async fn ack(self: Box<Self>);
    async fn retry(self: Box<Self>, delay: Duration);
}

/// What a consumer wants: a durable name and one subject filter (`tenants.>`), without prefix.
#[derive(Clone, Debug)]
pub struct Subscription {
    pub durable: String,
    pub filter: String,
}

#[async_trait]
pub trait Bus: Send + Sync + 'static {
    /// Publishes and returns once the bus has the event durably (or every local consumer has it).
    async fn publish(&self, subject: &str, event_id: Uuid, envelope: Bytes) -> Result<(), BusError>;
    async fn subscribe(&self, subscription: Subscription) -> Result<BoxStream<'static, Delivery>, BusError>;
    /// Events from now on matching `filter` (without prefix), for live views: no durability, no
    /// acknowledgement, nothing replayed. A slow watcher may miss events and must re-read.
    async fn watch(&self, filter: &str) -> Result<BoxStream<'static, (String, Bytes)>, BusError>;
    async fn ping(&self) -> Result<(), BusError>;
    fn prefix(&self) -> &str;
}

/// Opens the configured bus.
pub async fn connect(settings: &BusSettings) -> Result<Arc<dyn Bus>, BusError> {
    match settings.kind {
        BusKind::InProcess => Ok(Arc::new(InProcessBus::new(settings.subject_prefix.clone()))),
        BusKind::Nats => Ok(Arc::new(NatsBus::connect(settings).await?)),
    }
}

fn subject_matches(filter: &str, subject: &str) -> bool {
    let mut f = filter.split('.');
    let mut s = subject.split('.');
    loop {
        match (f.next(), s.next()) {
            (Some(">"), Some(_)) => return true,
            (Some("*"), Some(_)) => {}
            (Some(a), Some(b)) if a == b => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// In-process bus

type LocalDelivery = (String, Bytes, u64, oneshot::Sender<Option<Duration>>);

/// The embedded mode's bus. Subscribe every consumer before starting the relays.
///
/// A consumer that has stopped makes every publish to its subjects fail, so the relay keeps
/// the events in the outbox until a consumer of the same durable name subscribes again.
pub struct InProcessBus {
    prefix: String,
    consumers: Mutex<Vec<LocalConsumer>>,
    watchers: tokio::sync::broadcast::Sender<(String, Bytes)>,
}

struct LocalConsumer {
    durable: String,
    filter: String,
    sender: mpsc::Sender<LocalDelivery>,
}

impl InProcessBus {
    pub fn new(prefix: String) -> Self {
        Self { prefix, consumers: Mutex::new(Vec::new()), watchers: tokio::sync::broadcast::channel(1024).0 }
    }
}

struct LocalAcker(oneshot::Sender<Option<Duration>>);

#[async_trait]
impl Acker for LocalAcker {
    async fn ack(self: Box<Self>) {
        let _ = self.0.send(None);
    }
    async fn retry(self: Box<Self>, delay: Duration) {
        let _ = self.0.send(Some(delay));
    }
}

#[async_trait]
impl Bus for InProcessBus {
    async fn publish(&self, subject: &str, _event_id: Uuid, envelope: Bytes) -> Result<(), BusError> {
        let targets: Vec<mpsc::Sender<LocalDelivery>> = self
            .consumers
            .lock()
            .await
            .iter()
            .filter(|consumer| subject_matches(&consumer.filter, subject))
            .map(|consumer| consumer.sender.clone())
            .collect();
        for target in targets {
            let mut attempt = 1;
            loop {
                let (ack_tx, ack_rx) = oneshot::channel();
                target
                    .send((subject.to_owned(), envelope.clone(), attempt, ack_tx))
                    .await
                    .map_err(|_| BusError::Unavailable("a local consumer has stopped".into()))?;
                match ack_rx.await {
                    Ok(None) => break,
                    Ok(Some(delay)) => {
                        tokio::time::sleep(delay).await;
                        attempt += 1;
                    }
                    Err(_) => return Err(BusError::Unavailable("a local consumer stopped mid-event".into())),
                }
            }
        }
        // Live watchers get what the durable consumers have applied; none may be listening.
        let _ = self.watchers.send((subject.to_owned(), envelope));
        Ok(())
    }

    async fn watch(&self, filter: &str) -> Result<BoxStream<'static, (String, Bytes)>, BusError> {
        let filter = format!("{}.{filter}", self.prefix);
        let stream = tokio_stream::wrappers::BroadcastStream::new(self.watchers.subscribe()).filter_map(move |item| {
            let keep = match item {
                Ok((subject, payload)) if subject_matches(&filter, &subject) => Some((subject, payload)),
                // Lagged: the watcher missed some; live views re-read on their own.
                _ => None,
            };
            async move { keep }
        });
        Ok(stream.boxed())
    }

    async fn subscribe(&self, subscription: Subscription) -> Result<BoxStream<'static, Delivery>, BusError> {
        let (tx, rx) = mpsc::channel::<LocalDelivery>(16);
        let filter = format!("{}.{}", self.prefix, subscription.filter);
        // As with a durable NATS consumer, the name is the consumer: a restarted consumer takes
        // the place of its stopped predecessor instead of leaving a dead entry that fails
        // every later publish.
        let mut consumers = self.consumers.lock().await;
        consumers.retain(|consumer| consumer.durable != subscription.durable);
        consumers.push(LocalConsumer { durable: subscription.durable, filter, sender: tx });
        drop(consumers);
        let stream = tokio_stream::wrappers::ReceiverStream::new(rx).map(|(subject, payload, attempt, ack)| Delivery {
            subject,
            payload,
            attempt,
            acker: Box::new(LocalAcker(ack)),
        });
        Ok(stream.boxed())
    }

    async fn ping(&self) -> Result<(), BusError> {
        Ok(())
    }

    fn prefix(&self) -> &str {
        &self.prefix
    }
}

// ---------------------------------------------------------------------------------------------
// NATS JetStream

pub struct NatsBus {
    prefix: String,
    client: async_nats::Client,
    jetstream: async_nats::jetstream::Context,
    stream: String,
    max_deliver: i64,
}

/// How many times stream set-up is retried at start.
const STREAM_SETUP_RETRIES: u64 = 3;

impl NatsBus {
    pub async fn connect(settings: &BusSettings) -> Result<Self, BusError> {
        let url = settings.nats_url.as_deref().unwrap_or("nats://127.0.0.1:4222");
        let client = async_nats::ConnectOptions::new()
            .connection_timeout(Duration::from_secs(5))
            .connect(url)
            .await
            .map_err(|e| BusError::Unavailable(e.to_string()))?;
        let jetstream = async_nats::jetstream::new(client.clone());
        let config = async_nats::jetstream::stream::Config {
            name: settings.stream.clone(),
            subjects: vec![format!("{}.>", settings.subject_prefix)],
            storage: async_nats::jetstream::stream::StorageType::File,
            duplicate_window: Duration::from_secs(120),
            max_age: settings.max_age().std(),
            ..Default::default()
        };
        // Created at first start, brought up to date on later ones. A server that is busy
        // creating or removing other streams' storage can fail once (seen with concurrent
        // stream deletion on nats-server 2.9): try a few times before giving up.
        let mut attempt = 0;
        loop {
            let result = match jetstream.get_stream(&settings.stream).await {
                Ok(_) => jetstream.update_stream(config.clone()).await.map(|_| ()).map_err(|e| e.to_string()),
                Err(_) => jetstream.create_stream(config.clone()).await.map(|_| ()).map_err(|e| e.to_string()),
            };
            match result {
                Ok(()) => break,
                Err(error) if attempt >= STREAM_SETUP_RETRIES => return Err(BusError::Unavailable(error)),
                Err(error) => {
                    attempt += 1;
                    tracing::warn!(%error, attempt, "setting up the JetStream stream failed; retrying");
                    tokio::time::sleep(Duration::from_millis(200 * attempt)).await;
                }
            }
        }
        Ok(Self {
            prefix: settings.subject_prefix.clone(),
            client,
            jetstream,
            stream: settings.stream.clone(),
            max_deliver: i64::from(settings.max_deliver),
        })
    }
}

struct NatsAcker(async_nats::jetstream::Message);

#[async_trait]
impl Acker for NatsAcker {
    async fn ack(self: Box<Self>) {
        if let Err(error) = self.0.double_ack().await {
            tracing::warn!(%error, "ack failed; the event will be redelivered and skipped by the inbox");
        }
    }
    async fn retry(self: Box<Self>, delay: Duration) {
        let _ = self.0.ack_with(async_nats::jetstream::AckKind::Nak(Some(delay))).await;
    }
}

#[async_trait]
impl Bus for NatsBus {
    async fn publish(&self, subject: &str, event_id: Uuid, envelope: Bytes) -> Result<(), BusError> {
        let mut headers = async_nats::HeaderMap::new();
        headers.insert("Nats-Msg-Id", event_id.to_string().as_str());
        let ack = self
            .jetstream
            .publish_with_headers(subject.to_owned(), headers, envelope)
            .await
            .map_err(|e| BusError::Unavailable(e.to_string()))?;
        ack.await.map_err(|e| BusError::Unavailable(e.to_string()))?;
        Ok(())
    }

    async fn subscribe(&self, subscription: Subscription) -> Result<BoxStream<'static, Delivery>, BusError> {
        use async_nats::jetstream::consumer::{AckPolicy, pull};
        let stream = self.jetstream.get_stream(&self.stream).await.map_err(|e| BusError::Unavailable(e.to_string()))?;
        let config = pull::Config {
            durable_name: Some(subscription.durable.clone()),
            filter_subject: format!("{}.{}", self.prefix, subscription.filter),
            ack_policy: AckPolicy::Explicit,
            ack_wait: Duration::from_secs(30),
            // The consumer parks an event itself after `max_deliver` attempts; the server's
            // limit is a backstop above that.
            max_deliver: self.max_deliver + 2,
            ..Default::default()
        };
        let consumer = stream
            .get_or_create_consumer(&subscription.durable, config)
            .await
            .map_err(|e| BusError::Unavailable(e.to_string()))?;
        let messages = consumer.messages().await.map_err(|e| BusError::Unavailable(e.to_string()))?;
        let stream = messages.filter_map(|message| async move {
            match message {
                Ok(message) => {
                    let attempt = message.info().map(|i| u64::try_from(i.delivered).unwrap_or(1)).unwrap_or(1);
                    Some(Delivery {
                        subject: message.subject.to_string(),
                        payload: message.payload.clone(),
                        attempt,
                        acker: Box::new(NatsAcker(message)),
                    })
                }
                Err(error) => {
                    tracing::warn!(%error, "NATS consumer error; retrying");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    None
                }
            }
        });
        Ok(stream.boxed())
    }

    async fn watch(&self, filter: &str) -> Result<BoxStream<'static, (String, Bytes)>, BusError> {
        // JetStream's subjects are plain NATS subjects too: a core subscription sees every
        // event as it is stored, without a consumer on the server.
        let subscriber = self
            .client
            .subscribe(format!("{}.{filter}", self.prefix))
            .await
            .map_err(|e| BusError::Unavailable(e.to_string()))?;
        Ok(subscriber.map(|message| (message.subject.to_string(), message.payload)).boxed())
    }

    async fn ping(&self) -> Result<(), BusError> {
        self.client.flush().await.map_err(|e| BusError::Unavailable(e.to_string()))
    }

    fn prefix(&self) -> &str {
        &self.prefix
    }
}

// ---------------------------------------------------------------------------------------------
// Relay

/// Moves committed outbox rows to the bus, oldest first, until `shutdown`.
pub async fn run_relay(db: Db, bus: Arc<dyn Bus>, wake: Arc<Notify>, shutdown: CancellationToken) {
    let mut backoff = Duration::from_millis(100);
    loop {
        match relay_batch(&db, bus.as_ref()).await {
            Ok(0) => {
                backoff = Duration::from_millis(100);
                tokio::select! {
                    () = shutdown.cancelled() => return,
                    () = wake.notified() => {},
                    () = tokio::time::sleep(Duration::from_secs(1)) => {},
                }
            }
            Ok(_) => backoff = Duration::from_millis(100),
            Err(error) => {
                tracing::warn!(%error, "outbox relay could not publish; retrying");
                metrics::counter!("ohjaus_outbox_publish_failures_total").increment(1);
                tokio::select! {
                    () = shutdown.cancelled() => return,
                    () = tokio::time::sleep(backoff) => {},
                }
                backoff = (backoff * 2).min(Duration::from_secs(10));
            }
        }
        if shutdown.is_cancelled() {
            return;
        }
    }
}

/// Publishes up to 100 outbox rows; a row leaves the outbox only after the bus accepted it.
pub async fn relay_batch(db: &Db, bus: &dyn Bus) -> Result<usize, BusError> {
    match db {
        Db::Postgres(_) => relay_batch_locked(db, bus).await,
        Db::Sqlite(_) => relay_batch_unlocked(db, bus).await,
    }
}

/// PostgreSQL: replicas of a service share the outbox; each takes rows the others have not
/// locked, and holds them until its transaction ends.
async fn relay_batch_locked(db: &Db, bus: &dyn Bus) -> Result<usize, BusError> {
    let mut tx = db.begin().await?;
    let rows = tx
        .query("SELECT id, subject, envelope FROM outbox ORDER BY id LIMIT 100 FOR UPDATE SKIP LOCKED")
        .fetch_all(&mut tx)
        .await?;
    let mut published = 0;
    for row in &rows {
        let id = match publish_row(bus, row).await {
            Ok(id) => id,
            Err(error) => {
                tx.commit().await?;
                return if published > 0 { Ok(published) } else { Err(error) };
            }
        };
        tx.query("DELETE FROM outbox WHERE id = $1").bind(id).execute(&mut tx).await?;
        published += 1;
    }
    tx.commit().await?;
    Ok(published)
}

/// SQLite: no transaction is held while publishing. SQLite has one writer at a time, and the
/// in-process bus returns only after the consumers have applied the event in their own write
/// transactions (to this very file when a service consumes its own events); a write lock held
/// meanwhile would shut them, and every other writer of the service, out until the busy
/// timeout. The embedded mode runs one relay per database file; should a row be published
/// again after a crash between publish and delete, the consumers' inboxes turn it away.
async fn relay_batch_unlocked(db: &Db, bus: &dyn Bus) -> Result<usize, BusError> {
    let rows = db.query("SELECT id, subject, envelope FROM outbox ORDER BY id LIMIT 100").fetch_all(db).await?;
    let mut published = 0;
    for row in &rows {
        let id = match publish_row(bus, row).await {
            Ok(id) => id,
            Err(error) => return if published > 0 { Ok(published) } else { Err(error) },
        };
        db.query("DELETE FROM outbox WHERE id = $1").bind(id).execute(db).await?;
        published += 1;
    }
    // A published event leaves no copy on disk: the write-ahead log and the pages it held are
    // overwritten now (events carry ids only, but a deleted workspace's ids must go too).
    if published > 0
        && let Err(error) = db.purge_deleted().await
    {
        tracing::warn!(%error, "could not purge published events from the write-ahead log");
    }
    Ok(published)
}

/// Publishes one outbox row; returns its id once the bus has it.
async fn publish_row(bus: &dyn Bus, row: &crate::db::Row) -> Result<Uuid, BusError> {
    let id: Uuid = row.get("id")?;
    let subject: String = row.get("subject")?;
    let envelope: Vec<u8> = row.get("envelope")?;
    bus.publish(&format!("{}.{subject}", bus.prefix()), id, Bytes::from(envelope)).await?;
    metrics::counter!("ohjaus_events_published_total").increment(1);
    Ok(id)
}

// ---------------------------------------------------------------------------------------------
// Consumers

#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// Worth another try (a peer was down, a lock timed out).
    #[error("transient: {0}")]
    Transient(String),
    /// Will never succeed; park at once.
    #[error("permanent: {0}")]
    Permanent(String),
    #[error(transparent)]
    Db(#[from] DbError),
}

/// Applies events of one kind of subject to a service's own data.
#[async_trait]
pub trait EventHandler: Send + Sync + 'static {
    /// Durable consumer name; stable across restarts.
    fn durable_name(&self) -> &str;
    /// Subject filter without the prefix, e.g. `tenants.>`.
    fn filter(&self) -> &str;
    /// Applies the event inside `tx`; the inbox row is written in the same transaction.
    async fn handle(&self, tx: &mut Tx, envelope: &EventEnvelope) -> Result<(), HandlerError>;
}

/// Decodes an event payload of a known type.
pub fn decode<E: Event>(envelope: &EventEnvelope) -> Result<Option<E>, HandlerError> {
    if envelope.r#type != E::TYPE {
        return Ok(None);
    }
    E::decode(envelope.payload.as_slice())
        .map(Some)
        .map_err(|e| HandlerError::Permanent(format!("undecodable {}: {e}", E::TYPE)))
}

/// Subscribes `handler` to the bus; the returned task applies deliveries until `shutdown`.
pub async fn start_consumer(
    db: Db,
    bus: Arc<dyn Bus>,
    handler: Arc<dyn EventHandler>,
    clock: SharedClock,
    max_deliver: u32,
    shutdown: CancellationToken,
) -> Result<tokio::task::JoinHandle<()>, BusError> {
    let subscription = Subscription { durable: handler.durable_name().to_owned(), filter: handler.filter().to_owned() };
    let mut deliveries = bus.subscribe(subscription).await?;
    Ok(tokio::spawn(async move {
        loop {
            let delivery = tokio::select! {
                () = shutdown.cancelled() => return,
                next = deliveries.next() => match next {
                    Some(delivery) => delivery,
                    None => return,
                },
            };
            process(&db, handler.as_ref(), clock.as_ref(), max_deliver, delivery).await;
        }
    }))
}

/// The outcome of one delivery, for tests and metrics.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    Applied,
    Duplicate,
    Retrying,
    Parked,
}

async fn process(
    db: &Db,
    handler: &dyn EventHandler,
    clock: &dyn crate::clock::Clock,
    max_deliver: u32,
    delivery: Delivery,
) -> Outcome {
    let name = handler.durable_name().to_owned();
    let outcome = match apply(db, handler, clock, &delivery).await {
        Ok(true) => Outcome::Applied,
        Ok(false) => Outcome::Duplicate,
        Err((event_id, error)) => {
            let permanent = matches!(error, HandlerError::Permanent(_));
            if permanent || delivery.attempt >= u64::from(max_deliver) {
                match park(db, &name, event_id, &delivery, &error, clock).await {
                    Ok(()) => {
                        tracing::error!(consumer = %name, subject = %delivery.subject, %error, "event parked");
                        Outcome::Parked
                    }
                    Err(park_error) => {
                        tracing::error!(consumer = %name, %park_error, "could not park event; will retry");
                        Outcome::Retrying
                    }
                }
            } else {
                tracing::warn!(consumer = %name, subject = %delivery.subject, attempt = delivery.attempt, %error, "event failed; will retry");
                Outcome::Retrying
            }
        }
    };
    metrics::counter!("ohjaus_events_consumed_total", "consumer" => name, "outcome" => format!("{outcome:?}"))
        .increment(1);
    match outcome {
        Outcome::Retrying => {
            let exponent = u32::try_from(delivery.attempt.min(6)).unwrap_or(6);
            delivery.acker.retry(Duration::from_millis(100 * 2u64.pow(exponent))).await;
        }
        _ => delivery.acker.ack().await,
    }
    outcome
}

/// Ok(true) when applied now, Ok(false) when the inbox shows it was applied before.
async fn apply(
    db: &Db,
    handler: &dyn EventHandler,
    clock: &dyn crate::clock::Clock,
    delivery: &Delivery,
) -> Result<bool, (Uuid, HandlerError)> {
    let envelope = EventEnvelope::decode(delivery.payload.clone())
        .map_err(|e| (Uuid::nil(), HandlerError::Permanent(format!("undecodable envelope: {e}"))))?;
    let event_id = Uuid::try_parse(&envelope.id)
        .map_err(|_| (Uuid::nil(), HandlerError::Permanent("envelope without a valid id".into())))?;
    let fail = |e: HandlerError| (event_id, e);
    let parent = telemetry::context_from_map(&envelope.trace_context);
    let span = tracing::info_span!("event", consumer = handler.durable_name(), r#type = %envelope.r#type);
    telemetry::set_parent(&span, parent);
    let _entered = span.enter();

    let mut tx = db.begin().await.map_err(|e| fail(e.into()))?;
    let fresh = tx
        .query("INSERT INTO inbox (consumer, event_id, processed_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING")
        .bind(handler.durable_name())
        .bind(event_id)
        .bind(clock.now())
        .execute(&mut tx)
        .await
        .map_err(|e| fail(e.into()))?;
    if fresh == 0 {
        tx.rollback().await.map_err(|e| fail(e.into()))?;
        return Ok(false);
    }
    match handler.handle(&mut tx, &envelope).await {
        Ok(()) => {
            tx.commit().await.map_err(|e| fail(e.into()))?;
            Ok(true)
        }
        Err(error) => {
            let _ = tx.rollback().await;
            Err(fail(error))
        }
    }
}

async fn park(
    db: &Db,
    consumer: &str,
    event_id: Uuid,
    delivery: &Delivery,
    error: &HandlerError,
    clock: &dyn crate::clock::Clock,
) -> Result<(), DbError> {
    // The event id may be unreadable; a fresh id keeps the row unique and the payload intact.
    let id = if event_id.is_nil() { crate::ids::new_id() } else { event_id };
    db.query(
        "INSERT INTO parked_events (consumer, event_id, subject, envelope, error, parked_at) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
    )
    .bind(consumer)
    .bind(id)
    .bind(delivery.subject.clone())
    .bind(delivery.payload.to_vec())
    .bind(error.to_string())
    .bind(clock.now())
    .execute(db)
    .await?;
    metrics::counter!("ohjaus_events_parked_total", "consumer" => consumer.to_owned()).increment(1);
    Ok(())
}

/// Number of events committed but not yet published (a one-off run waits for it to reach 0).
pub async fn unpublished_count(db: &Db) -> Result<i64, DbError> {
    db.query("SELECT COUNT(*) AS n FROM outbox").fetch_one(db).await?.get("n")
}

/// Number of parked events of a consumer (for health checks and tests).
pub async fn parked_count(db: &Db, consumer: &str) -> Result<i64, DbError> {
    db.query("SELECT COUNT(*) AS n FROM parked_events WHERE consumer = $1").bind(consumer).fetch_one(db).await?.get("n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subject_filters() {
        assert!(subject_matches("p.tenants.>", "p.tenants.organization_created"));
        assert!(subject_matches("p.*.expert_added", "p.tenants.expert_added"));
        assert!(!subject_matches("p.tenants.>", "p.tenants"));
        assert!(!subject_matches("p.tenants.>", "q.tenants.x"));
        assert!(subject_matches("p.tenants.x", "p.tenants.x"));
    }
}
