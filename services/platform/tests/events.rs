//! `platform::events`: outbox → relay → bus → consumer with inbox, retries, parking, a bus that
//! is down, and consumers that restart.

use std::{
    collections::{BTreeSet, HashMap},
    sync::{Arc, Mutex},
};

use async_trait::async_trait;
use ohjaus_platform::{
    db::{Db, Tx},
    events::{
        Bus, Event, EventHandler, HandlerError, InProcessBus, Outbox, Subscription, decode, parked_count, relay_batch,
        run_relay, start_consumer,
    },
    ids::new_id,
    proto::events::v1::{EventEnvelope, OrganizationCreated},
};
use prost::Message as _;
use serde_json::json;
use sqlx::types::Json;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::support::{Backend, TestEnv, count, eventually, on_both_backends};

on_both_backends!(
    outbox_relay_consumer_applies_each_event_once,
    redelivery_has_no_second_effect,
    transient_failures_then_success,
    poison_event_is_parked_and_the_rest_flow,
    relay_keeps_rows_while_the_bus_is_down,
    consumer_restart_resumes_where_it_stopped,
);

fn envelope_bytes(envelope: &EventEnvelope) -> prost::bytes::Bytes {
    prost::bytes::Bytes::from(envelope.encode_to_vec())
}

/// Records one row in `applied` per event, in the consumer's transaction.
struct Recorder {
    durable: String,
    /// Every event fails its first `fail_first` attempts.
    fail_first: u32,
    /// Events of this organisation always fail.
    poison: Option<String>,
    /// Calls of `handle` per organisation id.
    attempts: Mutex<HashMap<String, u32>>,
}

impl Recorder {
    fn new(durable: &str) -> Self {
        Self { durable: durable.to_owned(), fail_first: 0, poison: None, attempts: Mutex::new(HashMap::new()) }
    }

    fn attempts(&self, organization: &str) -> u32 {
        self.attempts.lock().unwrap().get(organization).copied().unwrap_or(0)
    }

    fn handled(&self) -> BTreeSet<String> {
        self.attempts.lock().unwrap().keys().cloned().collect()
    }
}

#[async_trait]
impl EventHandler for Recorder {
    fn durable_name(&self) -> &str {
        &self.durable
    }

    fn filter(&self) -> &str {
        "tenants.>"
    }

    async fn handle(&self, tx: &mut Tx, envelope: &EventEnvelope) -> Result<(), HandlerError> {
        let event = decode::<OrganizationCreated>(envelope)?
            .ok_or_else(|| HandlerError::Permanent(format!("unexpected event type {}", envelope.r#type)))?;
        let attempt = {
            let mut attempts = self.attempts.lock().unwrap();
            let n = attempts.entry(event.organization_id.clone()).or_default();
            *n += 1;
            *n
        };
        // The effect is written before the failure, so a failed attempt that leaked would show.
        let event_id = Uuid::parse_str(&envelope.id).map_err(|e| HandlerError::Permanent(e.to_string()))?;
        tx.query("INSERT INTO applied (event_id, consumer, name) VALUES ($1, $2, $3)")
            .bind(event_id)
            .bind(self.durable.clone())
            .bind(event.organization_id.clone())
            .execute(&mut *tx)
            .await?;
        if self.poison.as_deref() == Some(event.organization_id.as_str()) {
            return Err(HandlerError::Transient("poison".into()));
        }
        if attempt <= self.fail_first {
            return Err(HandlerError::Transient(format!("attempt {attempt} fails on purpose")));
        }
        Ok(())
    }
}

fn organization(name: &str) -> OrganizationCreated {
    OrganizationCreated { organization_id: name.to_owned() }
}

/// Writes one event per name, each with a row in `things`, five per transaction.
async fn write_events(db: &Db, outbox: &Outbox, names: &[String]) -> Vec<Uuid> {
    let mut ids = Vec::new();
    for chunk in names.chunks(5) {
        let mut tx = db.begin().await.unwrap();
        for name in chunk {
            tx.query("INSERT INTO things (id, name, flag, payload, at, counter) VALUES ($1, $2, $3, $4, $5, $6)")
                .bind(new_id())
                .bind(name.clone())
                .bind(true)
                .bind(Json(json!({ "event": name })))
                .bind(chrono::DateTime::<chrono::Utc>::UNIX_EPOCH)
                .bind(0_i64)
                .execute(&mut tx)
                .await
                .unwrap();
            ids.push(outbox.write(&mut tx, Some(new_id()), &organization(name)).await.unwrap());
        }
        tx.commit().await.unwrap();
        outbox.committed();
    }
    ids
}

fn names(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}-{i:02}")).collect()
}

async fn applied(db: &Db, consumer: &str) -> i64 {
    db.query("SELECT COUNT(*) AS n FROM applied WHERE consumer = $1")
        .bind(consumer.to_owned())
        .fetch_one(db)
        .await
        .unwrap()
        .get("n")
        .unwrap()
}

async fn applied_names(db: &Db, consumer: &str) -> Vec<String> {
    db.query("SELECT name FROM applied WHERE consumer = $1 ORDER BY name")
        .bind(consumer.to_owned())
        .fetch_all(db)
        .await
        .unwrap()
        .iter()
        .map(|r| r.get("name").unwrap())
        .collect()
}

async fn applied_ids(db: &Db, consumer: &str) -> BTreeSet<Uuid> {
    db.query("SELECT event_id FROM applied WHERE consumer = $1")
        .bind(consumer.to_owned())
        .fetch_all(db)
        .await
        .unwrap()
        .iter()
        .map(|r| r.get("event_id").unwrap())
        .collect()
}

async fn inbox(db: &Db, consumer: &str) -> i64 {
    db.query("SELECT COUNT(*) AS n FROM inbox WHERE consumer = $1")
        .bind(consumer.to_owned())
        .fetch_one(db)
        .await
        .unwrap()
        .get("n")
        .unwrap()
}

async fn outbox_len(db: &Db) -> i64 {
    count(db, "SELECT COUNT(*) AS n FROM outbox").await
}

async fn consume(env: &TestEnv, handler: Arc<Recorder>, shutdown: &CancellationToken) -> tokio::task::JoinHandle<()> {
    start_consumer(env.db.clone(), env.bus.clone(), handler, env.shared_clock(), env.max_deliver(), shutdown.clone())
        .await
        .unwrap()
}

fn relay(env: &TestEnv, outbox: &Outbox, shutdown: &CancellationToken) -> tokio::task::JoinHandle<()> {
    tokio::spawn(run_relay(env.db.clone(), env.bus.clone(), outbox.waker(), shutdown.clone()))
}

async fn outbox_relay_consumer_applies_each_event_once(env: TestEnv) {
    let db = &env.db;
    let shutdown = CancellationToken::new();
    let handler = Arc::new(Recorder::new("pipeline"));
    // The in-process bus delivers only to consumers subscribed before the relay publishes.
    let consumer = consume(&env, handler.clone(), &shutdown).await;
    let outbox = Outbox::new("things", env.shared_clock());
    let relay = relay(&env, &outbox, &shutdown);

    // An event whose transaction rolls back never leaves.
    let mut tx = db.begin().await.unwrap();
    outbox.write(&mut tx, None, &organization("rolled-back")).await.unwrap();
    tx.rollback().await.unwrap();

    let expected = names("org", 25);
    let ids = write_events(db, &outbox, &expected).await;
    eventually("25 events applied and the outbox empty", move || async move {
        applied(db, "pipeline").await == 25 && outbox_len(db).await == 0
    })
    .await;
    shutdown.cancel();
    relay.await.unwrap();
    consumer.await.unwrap();

    assert_eq!(applied_names(db, "pipeline").await, expected, "each event applied exactly once");
    assert_eq!(applied_ids(db, "pipeline").await, ids.into_iter().collect());
    assert_eq!(inbox(db, "pipeline").await, 25);
    assert_eq!(parked_count(db, "pipeline").await.unwrap(), 0);
    assert_eq!(handler.attempts("rolled-back"), 0);
    assert_eq!(count(db, "SELECT COUNT(*) AS n FROM things").await, 25, "state and events were written together");
}

async fn redelivery_has_no_second_effect(env: TestEnv) {
    let db = &env.db;
    let shutdown = CancellationToken::new();
    let handler = Arc::new(Recorder::new("redelivery"));
    let consumer = consume(&env, handler.clone(), &shutdown).await;

    let subject = format!("{}.{}", env.bus.prefix(), OrganizationCreated::SUBJECT);
    let envelope = |id: Uuid, name: &str| EventEnvelope {
        id: id.to_string(),
        r#type: OrganizationCreated::TYPE.to_owned(),
        payload: organization(name).encode_to_vec(),
        source: "things".to_owned(),
        ..Default::default()
    };
    let twice = new_id();
    let bytes = envelope_bytes(&envelope(twice, "twice"));
    // Two message ids, so that NATS does not de-duplicate: the consumer really gets it twice.
    env.bus.publish(&subject, new_id(), bytes.clone()).await.unwrap();
    env.bus.publish(&subject, new_id(), bytes).await.unwrap();
    // One consumer applies in order: once the sentinel is in, both copies have been seen.
    let sentinel = new_id();
    env.bus.publish(&subject, sentinel, envelope_bytes(&envelope(sentinel, "sentinel"))).await.unwrap();
    eventually("the sentinel applied", move || async move {
        applied_names(db, "redelivery").await.contains(&"sentinel".to_owned())
    })
    .await;
    shutdown.cancel();
    consumer.await.unwrap();

    if env.backend == Backend::Server {
        let client = async_nats::connect(env.settings.bus.nats_url.clone().unwrap()).await.unwrap();
        let mut stream = async_nats::jetstream::new(client).get_stream(&env.settings.bus.stream).await.unwrap();
        assert_eq!(stream.info().await.unwrap().state.messages, 3, "the duplicate reached the stream");
    }
    assert_eq!(applied_names(db, "redelivery").await, ["sentinel", "twice"]);
    assert_eq!(applied_ids(db, "redelivery").await, BTreeSet::from([twice, sentinel]));
    assert_eq!(handler.attempts("twice"), 1, "the inbox turned the copy away before the handler");
    assert_eq!(inbox(db, "redelivery").await, 2);
}

async fn transient_failures_then_success(env: TestEnv) {
    let db = &env.db;
    assert_eq!(env.max_deliver(), 3);
    let shutdown = CancellationToken::new();
    let handler = Arc::new(Recorder { fail_first: 2, ..Recorder::new("flaky") });
    let consumer = consume(&env, handler.clone(), &shutdown).await;
    let outbox = Outbox::new("things", env.shared_clock());
    let relay = relay(&env, &outbox, &shutdown);

    let ids = write_events(db, &outbox, &["flaky-org".to_owned()]).await;
    eventually("the event applied on its third attempt", move || async move { applied(db, "flaky").await == 1 }).await;
    eventually("the outbox empty", move || async move { outbox_len(db).await == 0 }).await;
    shutdown.cancel();
    relay.await.unwrap();
    consumer.await.unwrap();

    assert_eq!(handler.attempts("flaky-org"), 3);
    assert_eq!(applied_ids(db, "flaky").await, ids.into_iter().collect(), "the failed attempts left no effect");
    assert_eq!(inbox(db, "flaky").await, 1);
    assert_eq!(parked_count(db, "flaky").await.unwrap(), 0);
}

async fn poison_event_is_parked_and_the_rest_flow(env: TestEnv) {
    let db = &env.db;
    let max_deliver = env.max_deliver();
    assert_eq!(max_deliver, 3);
    let shutdown = CancellationToken::new();
    let handler = Arc::new(Recorder { poison: Some("poison".to_owned()), ..Recorder::new("poisoned") });
    let consumer = consume(&env, handler.clone(), &shutdown).await;
    let outbox = Outbox::new("things", env.shared_clock());
    let relay = relay(&env, &outbox, &shutdown);

    let poison_id = write_events(db, &outbox, &["poison".to_owned()]).await[0];
    let good = names("good", 6);
    write_events(db, &outbox, &good).await;
    eventually("the poison parked and the good events applied", move || async move {
        parked_count(db, "poisoned").await.unwrap() == 1 && applied(db, "poisoned").await == 6
    })
    .await;
    // Events written after the parking flow too.
    let later = write_events(db, &outbox, &["later".to_owned()]).await[0];
    eventually("a later event applied", move || async move { applied_ids(db, "poisoned").await.contains(&later) })
        .await;
    eventually("the outbox empty", move || async move { outbox_len(db).await == 0 }).await;
    shutdown.cancel();
    relay.await.unwrap();
    consumer.await.unwrap();

    assert_eq!(handler.attempts("poison"), max_deliver, "parked after max_deliver attempts");
    let mut expected = good.clone();
    expected.push("later".to_owned());
    assert_eq!(applied_names(db, "poisoned").await, expected, "the poison has no effect");
    assert_eq!(inbox(db, "poisoned").await, 7);
    let parked = db
        .query("SELECT event_id, subject, envelope, error FROM parked_events WHERE consumer = $1")
        .bind("poisoned".to_owned())
        .fetch_one(db)
        .await
        .unwrap();
    assert_eq!(parked.get::<Uuid>("event_id").unwrap(), poison_id);
    assert_eq!(
        parked.get::<String>("subject").unwrap(),
        format!("{}.{}", env.bus.prefix(), OrganizationCreated::SUBJECT)
    );
    assert!(parked.get::<String>("error").unwrap().contains("poison"));
    let envelope = EventEnvelope::decode(parked.get::<Vec<u8>>("envelope").unwrap().as_slice()).unwrap();
    assert_eq!(envelope.id, poison_id.to_string());
    assert_eq!(decode::<OrganizationCreated>(&envelope).unwrap().unwrap().organization_id, "poison");
}

async fn relay_keeps_rows_while_the_bus_is_down(env: TestEnv) {
    let db = &env.db;
    // An in-process bus whose only consumer has gone: a publish cannot reach it.
    let bus = Arc::new(InProcessBus::new(env.settings.bus.subject_prefix.clone()));
    let gone =
        bus.subscribe(Subscription { durable: "down".to_owned(), filter: "tenants.>".to_owned() }).await.unwrap();
    drop(gone);

    let outbox = Outbox::new("things", env.shared_clock());
    let ids = write_events(db, &outbox, &["waiting".to_owned()]).await;
    for _ in 0..2 {
        assert!(relay_batch(db, bus.as_ref()).await.is_err(), "publishing to a stopped consumer fails");
        let rows = db.query("SELECT id FROM outbox").fetch_all(db).await.unwrap();
        let kept: Vec<Uuid> = rows.iter().map(|r| r.get("id").unwrap()).collect();
        assert_eq!(kept, ids, "the row stays in the outbox");
    }

    // The consumer comes back under its durable name: the kept row is delivered once.
    let shutdown = CancellationToken::new();
    let handler = Arc::new(Recorder::new("down"));
    let consumer = start_consumer(
        db.clone(),
        bus.clone(),
        handler.clone(),
        env.shared_clock(),
        env.max_deliver(),
        shutdown.clone(),
    )
    .await
    .unwrap();
    let published = tokio::time::timeout(std::time::Duration::from_secs(10), relay_batch(db, bus.as_ref()))
        .await
        .expect("the relay finishes within 10 s")
        .unwrap();
    assert_eq!(published, 1);
    assert_eq!(outbox_len(db).await, 0);
    eventually("the kept event applied", move || async move { applied(db, "down").await == 1 }).await;
    assert_eq!(relay_batch(db, bus.as_ref()).await.unwrap(), 0);
    shutdown.cancel();
    consumer.await.unwrap();
    assert_eq!(applied_ids(db, "down").await, ids.into_iter().collect());
}

async fn consumer_restart_resumes_where_it_stopped(env: TestEnv) {
    let db = &env.db;
    let relay_shutdown = CancellationToken::new();
    let outbox = Outbox::new("things", env.shared_clock());
    let first_stop = CancellationToken::new();
    let first = Arc::new(Recorder::new("restart"));
    let first_task = consume(&env, first.clone(), &first_stop).await;
    let relay = relay(&env, &outbox, &relay_shutdown);

    let before = names("before", 10);
    write_events(db, &outbox, &before).await;
    eventually("the first events applied", move || async move { applied(db, "restart").await == 10 }).await;
    first_stop.cancel();
    first_task.await.unwrap();

    // Written while the consumer is stopped; they wait in the outbox or in the stream.
    let after = names("after", 10);
    write_events(db, &outbox, &after).await;

    let second_stop = CancellationToken::new();
    let second = Arc::new(Recorder::new("restart"));
    let second_task = consume(&env, second.clone(), &second_stop).await;
    eventually("the rest applied after the restart", move || async move {
        applied(db, "restart").await == 20 && outbox_len(db).await == 0
    })
    .await;
    relay_shutdown.cancel();
    second_stop.cancel();
    relay.await.unwrap();
    second_task.await.unwrap();

    let mut expected = after.clone();
    expected.extend(before.iter().cloned());
    expected.sort();
    assert_eq!(applied_names(db, "restart").await, expected, "every event applied once");
    assert_eq!(
        first.handled(),
        before.iter().cloned().collect(),
        "the first consumer saw only what was written before it stopped"
    );
    assert_eq!(
        second.handled(),
        after.iter().cloned().collect(),
        "the restarted consumer resumed after the acknowledged events"
    );
    assert_eq!(inbox(db, "restart").await, 20);
}
