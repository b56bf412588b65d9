//! Benchmark program (not a test): how fast messages go through the whole system compared with
//! what the same PostgreSQL does for a bare insert, and how long live updates take to arrive.
//!
//! ```sh
//! cargo run --release -p ohjaus-integration-tests --bin bench -- --clients 16 --seconds 10
//! ```
//!
//! It needs the same servers as the integration tests (`OHJAUS_TEST_POSTGRES_URL`,
//! `OHJAUS_TEST_NATS_URL`; defaults: the local servers). In one run on one machine it prints:
//!
//! (a) raw PostgreSQL: N connections each looping `BEGIN; INSERT one row; COMMIT` for D seconds;
//! (b) the whole system on PostgreSQL + NATS (`TestSystem::start(Backend::Server)`): N logged-in
//!     guide sessions, each posting ~200-byte messages to its own workspace for D seconds;
//! (c) the ratio (b)/(a) of the two throughputs;
//! (d) delivery latency of `GET /api/v1/workspaces/{id}/live` (server-sent events) to M
//!     listeners while one poster posts K messages; skipped with a clear line when the endpoint
//!     answers 404, or with `--skip-sse`;
//! (e) contact-form submissions on the same system: N clients posting a published form's public
//!     page (`POST /forms/{id}`) for D seconds, each with a proof of work the service verifies
//!     (signature, hash, expiry, fill time, the replay store); the challenges are fetched and
//!     solved before the clock starts; and the ratio (e)/(a). Left out with `--skip-forms`.
//!
//! Everything runs in this one process: the system under test and the load clients share the
//! machine's cores (and PostgreSQL and NATS run beside them), so the figures are for comparing
//! runs on the same machine, not absolute capacity. The system's logs stay off (tracing is not
//! initialised here).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::{
    collections::{BTreeMap, HashSet},
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use anyhow::{Context, Result, ensure};
use clap::Parser;
use futures::StreamExt;
use ohjaus_integration_tests::{
    BUSINESS_IDS, Backend, Browser, Storage, TestSystem, expert, nats_url, postgres_url, registry,
};
use ohjaus_platform::auth::Role;
use reqwest::Method;
use serde_json::{Value, json};
use tokio::sync::mpsc;
use uuid::Uuid;

/// The guide every session logs in as: the development provider's Virtu user `olli.ohjaaja`
/// (the demo organisation's guide; the benchmark adds him to its own organisation, as the
/// workspaces tests do).
const GUIDE_HINT: &str = "olli.ohjaaja";
const GUIDE_NAME: &str = "Olli Ohjaaja";
const VIRTU_HOME: &str = "demo.ohjaus.invalid";
/// Size of a benchmark message body (and of the raw insert's `body`).
const BODY_BYTES: usize = 200;
/// Pause between the SSE poster's messages, so one message's fan-out is not queued behind the last.
const SSE_GAP: Duration = Duration::from_millis(20);
/// Time for listeners to be subscribed after their response headers arrived.
const SSE_SETTLE: Duration = Duration::from_millis(500);
/// How long to wait for outstanding deliveries after the last post.
const SSE_DRAIN: Duration = Duration::from_secs(10);
/// How many error answers to show.
const SHOWN_ERRORS: usize = 5;

#[derive(Parser, Debug)]
#[command(
    name = "bench",
    about = "Throughput and latency of message posting and live delivery, with a raw PostgreSQL baseline"
)]
struct Args {
    /// Concurrent PostgreSQL connections in (a) and concurrent HTTP clients in (b).
    #[arg(long, default_value_t = 16)]
    clients: usize,
    /// Length of each of the timed runs (a) and (b), in seconds.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Connected SSE listeners in (d).
    #[arg(long, default_value_t = 50)]
    listeners: usize,
    /// Messages the poster posts in (d).
    #[arg(long, default_value_t = 50)]
    sse_messages: usize,
    /// Leave out (d).
    #[arg(long)]
    skip_sse: bool,
    /// Solved proofs of work prepared for (e); the timed run ends early when they run out.
    #[arg(long, default_value_t = 4000)]
    form_proofs: usize,
    /// Leave out (e).
    #[arg(long)]
    skip_forms: bool,
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    ensure!(args.clients >= 1, "--clients must be at least 1");
    ensure!(args.seconds >= 1, "--seconds must be at least 1");
    let duration = Duration::from_secs(args.seconds);

    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    println!("Ohjaus benchmark");
    println!("machine: {cores} cores; the system under test, the load clients, PostgreSQL and NATS all share them");
    println!(
        "settings: --clients {} --seconds {} --listeners {} --sse-messages {}{}",
        args.clients,
        args.seconds,
        args.listeners,
        args.sse_messages,
        if args.skip_sse { " --skip-sse" } else { "" }
    );
    println!("postgres: {}", redacted(&postgres_url()));
    println!("nats: {}", redacted(&nats_url()));
    println!("message body: {BODY_BYTES} bytes; latencies are nearest-rank percentiles");
    println!();

    let raw = raw_postgres(args.clients, duration).await?;

    // Contact forms (e): challenges that are quick to solve ahead of time (verifying costs the
    // same whatever their size) and limits that let the clients through.
    let forms_settings = [
        ("OHJAUS__FORMS__CHALLENGE_MAX_NUMBER", "1000".to_owned()),
        ("OHJAUS__FORMS__RATE_PER_ADDRESS_PER_MINUTE", "10000".to_owned()),
        ("OHJAUS__FORMS__RATE_PER_FORM_PER_MINUTE", "100000".to_owned()),
    ];
    let system = TestSystem::start_on(std::sync::Arc::new(Storage::new(Backend::Server).await), &forms_settings).await;
    let (org, office) = organisation(&system).await?;
    let posted = gateway_posting(&system, &org, &office, args.clients, duration).await?;

    println!();
    println!("(c) ratio (b)/(a) of throughputs");
    if raw.per_second > 0.0 && posted.per_second > 0.0 {
        println!(
            "    {:.3}  (one posted message costs the throughput of {:.1} raw insert transactions)",
            posted.per_second / raw.per_second,
            raw.per_second / posted.per_second
        );
    } else {
        println!("    not computable: a throughput is zero");
    }

    println!();
    if args.skip_sse {
        println!("(d) SSE delivery latency: skipped (--skip-sse)");
    } else {
        sse_delivery(&system, &org, &office, args.listeners, args.sse_messages).await?;
    }

    println!();
    if args.skip_forms {
        println!("(e) contact-form submissions: skipped (--skip-forms)");
    } else {
        let sent = form_submissions(&system, &org, &office, args.clients, duration, args.form_proofs).await?;
        if raw.per_second > 0.0 && sent.per_second > 0.0 {
            println!(
                "    ratio (e)/(a): {:.3}  (one accepted submission costs the throughput of {:.1} raw insert transactions)",
                sent.per_second / raw.per_second,
                raw.per_second / sent.per_second
            );
        }
    }

    drop(system.stop().await);
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// (e) contact-form submissions with the proof of work verified

async fn form_submissions(
    system: &TestSystem,
    org: &str,
    office: &str,
    clients: usize,
    duration: Duration,
    proofs: usize,
) -> Result<Throughput> {
    let admin = system.as_principal(&expert(Uuid::parse_str(org)?, &[Role::Admin]));
    let created = admin.post(&format!("/api/v1/organizations/{org}/forms"), json!({"name": "Bench"})).await;
    ensure!(created.status == 201, "creating the form answered {}: {}", created.status, created.body);
    let form = created.id();
    let path = format!("/api/v1/organizations/{org}/forms/{form}");
    let definition = json!({"name": "Bench", "definition": {
        "languages": ["fi"], "title": {"fi": "Kysy"}, "topic": "finances", "office_id": office,
        "origins": ["https://www.example.fi"],
        "fields": [{"key": "kysymys", "kind": "long_text", "required": true, "label": {"fi": "Kysymys"}},
                   {"key": "suostumus", "kind": "consent", "required": true, "label": {"fi": "Hyväksyn"}}]}});
    let defined = admin.put(&path, definition, "\"1\"").await;
    ensure!(defined.status == 200, "defining the form answered {}: {}", defined.status, defined.body);
    let published = admin.send(Method::POST, &format!("{path}/publish"), None, &[("if-match", "\"2\"".into())]).await;
    ensure!(published.status == 200, "publishing the form answered {}: {}", published.status, published.body);

    // The browsers' part, before the clock starts: fetch and solve the challenges.
    let prepared = Instant::now();
    let mut pool = Vec::with_capacity(proofs);
    for _ in 0..proofs {
        let reply = system.anonymous().get(&format!("/forms/{form}/challenge")).await;
        ensure!(reply.status == 200, "a challenge answered {}: {}", reply.status, reply.body);
        let text = |key: &str| reply.body[key].as_str().unwrap_or_default().to_owned();
        let challenge = ohjaus_platform::proto::forms::v1::Challenge {
            algorithm: text("algorithm"),
            challenge: text("challenge"),
            max_number: reply.body["maxnumber"].as_i64().unwrap_or(0),
            salt: text("salt"),
            signature: text("signature"),
        };
        pool.push(ohjaus_forms::domain::proof::solve(&challenge).context("a challenge without a solution")?);
    }
    // The minimum fill time passes on the system's clock.
    system.clock.advance(chrono::Duration::seconds(10));
    println!(
        "(e) contact-form submissions, whole system on PostgreSQL + NATS: POST /forms/{{id}} (form-encoded, a \
         {BODY_BYTES}-byte question), proof of work verified and kept as used, sealed with a new data key"
    );
    println!(
        "    {clients} clients for {} s; {proofs} challenges fetched and solved beforehand in {:.1} s",
        duration.as_secs(),
        prepared.elapsed().as_secs_f64()
    );

    let pool = std::sync::Arc::new(std::sync::Mutex::new(pool));
    let question = padded("Voinko saada apua?".to_owned());
    let started = Instant::now();
    let deadline = started + duration;
    let mut tasks = Vec::with_capacity(clients);
    for _ in 0..clients {
        let (pool, http, url, question) =
            (pool.clone(), system.http.clone(), system.url(&format!("/forms/{form}?lang=fi")), question.clone());
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut errors: Vec<String> = Vec::new();
            let mut error_count = 0usize;
            while Instant::now() < deadline {
                let Some(proof) = pool.lock().map(|mut p| p.pop()).unwrap_or(None) else { break };
                let sent = Instant::now();
                let fields = [
                    ("version", "2"),
                    ("answer.kysymys", question.as_str()),
                    ("answer.suostumus", "yes"),
                    ("proof", proof.as_str()),
                    ("website", ""),
                ];
                match http.post(&url).form(&fields).send().await {
                    Ok(response) if response.status() == 200 => latencies.push(sent.elapsed()),
                    Ok(response) => {
                        error_count += 1;
                        if errors.len() < SHOWN_ERRORS {
                            errors.push(format!("status {}", response.status()));
                        }
                    }
                    Err(e) => {
                        error_count += 1;
                        if errors.len() < SHOWN_ERRORS {
                            errors.push(e.to_string());
                        }
                    }
                }
            }
            (latencies, error_count, errors)
        }));
    }
    let mut latencies = Vec::new();
    let mut error_count = 0;
    let mut errors = Vec::new();
    for task in tasks {
        let (l, n, e) = task.await?;
        latencies.extend(l);
        error_count += n;
        errors.extend(e);
    }
    let elapsed = started.elapsed();
    let accepted = latencies.len();
    let per_second = accepted as f64 / elapsed.as_secs_f64();
    println!("    submissions accepted: {accepted} in {:.2} s = {per_second:.1} submissions/s", elapsed.as_secs_f64());
    if let Some(summary) = Summary::of(latencies) {
        println!("    latency per submission: {}", summary.line());
    }
    if accepted + error_count >= proofs {
        println!("    (the prepared proofs ran out before the time did: raise --form-proofs)");
    }
    println!("    errors: {error_count}");
    for error in errors.iter().take(SHOWN_ERRORS) {
        println!("      {error}");
    }
    Ok(Throughput { per_second })
}

/// The throughput of a timed run.
struct Throughput {
    per_second: f64,
}

/// Nearest-rank percentiles of a set of latencies.
struct Summary {
    count: usize,
    p50: Duration,
    p99: Duration,
    max: Duration,
}

impl Summary {
    fn of(mut latencies: Vec<Duration>) -> Option<Self> {
        if latencies.is_empty() {
            return None;
        }
        latencies.sort_unstable();
        let at = |q: f64| {
            let rank = ((q * latencies.len() as f64).ceil() as usize).clamp(1, latencies.len());
            latencies[rank - 1]
        };
        Some(Self { count: latencies.len(), p50: at(0.50), p99: at(0.99), max: latencies[latencies.len() - 1] })
    }

    fn line(&self) -> String {
        format!("p50 {}, p99 {}, max {}  ({} samples)", ms(self.p50), ms(self.p99), ms(self.max), self.count)
    }
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

/// A server address without its password.
fn redacted(address: &str) -> String {
    match url::Url::parse(address) {
        Ok(mut url) if url.password().is_some() => {
            let _ = url.set_password(Some("***"));
            url.to_string()
        }
        _ => address.to_owned(),
    }
}

fn unix_nanos() -> u128 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0)
}

/// `prefix` padded with `x` to [`BODY_BYTES`].
fn padded(prefix: String) -> String {
    let mut body = prefix;
    body.push(' ');
    while body.len() < BODY_BYTES {
        body.push('x');
    }
    body
}

// ---------------------------------------------------------------------------------------------
// (a) raw PostgreSQL

async fn raw_postgres(connections: usize, duration: Duration) -> Result<Throughput> {
    // A throwaway database, made and dropped as the harness does for a test.
    let storage = Storage::new(Backend::Server).await;
    let url = storage.database_url.clone().context("the server backend has a database")?;
    let connections_u32 = u32::try_from(connections).context("--clients is too large")?;
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(connections_u32)
        .min_connections(connections_u32)
        .acquire_timeout(Duration::from_secs(30))
        .connect(&url)
        .await
        .with_context(|| format!("connecting to the benchmark database {}", redacted(&url)))?;
    sqlx::query(
        "CREATE TABLE bench_messages (id uuid PRIMARY KEY, workspace_id uuid NOT NULL, body bytea NOT NULL, \
         created_at timestamptz NOT NULL)",
    )
    .execute(&pool)
    .await?;
    let version: String = sqlx::query_scalar("SHOW server_version").fetch_one(&pool).await?;
    let synchronous_commit: String = sqlx::query_scalar("SHOW synchronous_commit").fetch_one(&pool).await?;
    let fsync: String = sqlx::query_scalar("SHOW fsync").fetch_one(&pool).await?;
    // Open every connection before the clock starts.
    let mut held = Vec::with_capacity(connections);
    for _ in 0..connections {
        held.push(pool.acquire().await?);
    }
    drop(held);

    println!(
        "(a) raw PostgreSQL {version} (synchronous_commit={synchronous_commit}, fsync={fsync}): \
         BEGIN; INSERT one row; COMMIT"
    );
    println!(
        "    {connections} connections (sqlx PgPool), each looping for {} s; row = uuid id, uuid workspace_id, \
         {BODY_BYTES}-byte bytea, timestamptz",
        duration.as_secs()
    );

    let started = Instant::now();
    let deadline = started + duration;
    let mut tasks = Vec::with_capacity(connections);
    for _ in 0..connections {
        let pool = pool.clone();
        tasks.push(tokio::spawn(async move {
            let workspace_id = Uuid::now_v7();
            let body = [b'x'; BODY_BYTES];
            let mut latencies = Vec::new();
            let mut errors: Vec<String> = Vec::new();
            let mut error_count = 0usize;
            while Instant::now() < deadline {
                let sent = Instant::now();
                let result = async {
                    let mut tx = pool.begin().await?;
                    sqlx::query(
                        "INSERT INTO bench_messages (id, workspace_id, body, created_at) VALUES ($1, $2, $3, now())",
                    )
                    .bind(Uuid::now_v7())
                    .bind(workspace_id)
                    .bind(&body[..])
                    .execute(&mut *tx)
                    .await?;
                    tx.commit().await
                }
                .await;
                match result {
                    Ok(()) => latencies.push(sent.elapsed()),
                    Err(e) => {
                        error_count += 1;
                        if errors.len() < SHOWN_ERRORS {
                            errors.push(e.to_string());
                        }
                    }
                }
            }
            (latencies, error_count, errors)
        }));
    }
    let mut latencies = Vec::new();
    let mut error_count = 0;
    let mut errors = Vec::new();
    for task in tasks {
        let (l, n, e) = task.await?;
        latencies.extend(l);
        error_count += n;
        errors.extend(e);
    }
    let elapsed = started.elapsed();
    let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM bench_messages").fetch_one(&pool).await?;
    pool.close().await;
    drop(storage);

    let committed = latencies.len();
    let per_second = committed as f64 / elapsed.as_secs_f64();
    println!("    rows committed: {committed} in {:.2} s = {per_second:.1} rows/s", elapsed.as_secs_f64());
    if let Some(summary) = Summary::of(latencies) {
        println!("    latency per insert transaction: {}", summary.line());
    }
    println!("    rows in the table afterwards: {rows}");
    println!("    errors: {error_count}");
    for error in errors.iter().take(SHOWN_ERRORS) {
        println!("      {error}");
    }
    Ok(Throughput { per_second })
}

// ---------------------------------------------------------------------------------------------
// The system: an organisation, the guide's sessions, workspaces

/// An organisation with an office and the guide, made as the workspaces tests make theirs.
async fn organisation(system: &TestSystem) -> Result<(String, String)> {
    let created = system.operator().post("/api/v1/organizations", registry("Bench", BUSINESS_IDS[0])).await;
    ensure!(created.status == 201, "creating the organisation answered {}: {}", created.status, created.body);
    let org = created.id();
    let admin = system.as_principal(&expert(Uuid::parse_str(&org)?, &[Role::Admin]));
    let office = admin.post(&format!("/api/v1/organizations/{org}/offices"), json!({"name": "Keskusta"})).await;
    ensure!(office.status == 201, "creating the office answered {}: {}", office.status, office.body);
    let added = admin
        .post(
            &format!("/api/v1/organizations/{org}/experts"),
            json!({"name": GUIDE_NAME, "email": format!("{GUIDE_HINT}@demo.fi"), "virtu": {"home_organization": VIRTU_HOME, "local_id": GUIDE_HINT}, "roles": ["guide"]}),
        )
        .await;
    ensure!(added.status == 201, "adding the guide answered {}: {}", added.status, added.body);
    Ok((org, office.id()))
}

/// A new browser session of the guide.
async fn guide_session(system: &TestSystem) -> Result<Browser<'_>> {
    let mut browser = Browser::new(system);
    let login = browser.login("expert", GUIDE_HINT).await;
    ensure!(login.status == 303, "logging in as {GUIDE_HINT} answered {}: {}", login.status, login.body);
    Ok(browser)
}

/// A workspace of the guide; returns its id.
async fn workspace(browser: &mut Browser<'_>, org: &str, office: &str, title: &str) -> Result<String> {
    let input = json!({"organization_id": org, "office_id": office, "kind": "personal", "title": title, "topics": ["work-and-careers"]});
    let created = browser.send_with_csrf(Method::POST, "/api/v1/workspaces", Some(input)).await;
    ensure!(created.status == 201, "creating a workspace answered {}: {}", created.status, created.body);
    Ok(created.id())
}

/// A logged-in browser session that can move to another task: the same requests
/// `Browser::send_with_csrf` and `Browser::get` send (session cookies, `Accept-Language`,
/// `X-CSRF-Token` on unsafe requests), on its own HTTP client (own connections).
#[derive(Clone)]
struct Session {
    http: reqwest::Client,
    base: String,
    cookie: String,
    csrf: String,
}

impl Session {
    fn of(browser: &Browser<'_>) -> Self {
        let cookie = browser.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ");
        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        Self { http, base: browser.system.base.clone(), cookie, csrf: browser.csrf() }
    }

    /// Posts a message; the status and the body of the answer.
    async fn post_message(&self, workspace: &str, body: &str) -> reqwest::Result<(u16, String)> {
        let response = self
            .http
            .post(format!("{}/api/v1/workspaces/{workspace}/messages", self.base))
            .header("accept-language", "en")
            .header("cookie", &self.cookie)
            .header("x-csrf-token", &self.csrf)
            .json(&json!({ "body": body }))
            .send()
            .await?;
        let status = response.status().as_u16();
        Ok((status, response.text().await?))
    }

    /// Opens the workspace's live stream (answers as soon as the headers arrive).
    async fn live(&self, workspace: &str) -> reqwest::Result<reqwest::Response> {
        self.http
            .get(format!("{}/api/v1/workspaces/{workspace}/live", self.base))
            .header("accept-language", "en")
            .header("accept", "text/event-stream")
            .header("cookie", &self.cookie)
            .send()
            .await
    }
}

fn snippet(text: &str) -> String {
    let text = text.replace('\n', " ");
    if text.chars().count() > 160 { format!("{}…", text.chars().take(160).collect::<String>()) } else { text }
}

// ---------------------------------------------------------------------------------------------
// (b) posting through the gateway

async fn gateway_posting(
    system: &TestSystem,
    org: &str,
    office: &str,
    clients: usize,
    duration: Duration,
) -> Result<Throughput> {
    println!();
    println!("(b) end to end on PostgreSQL + NATS: POST /api/v1/workspaces/{{id}}/messages through the gateway");
    println!(
        "    {clients} clients, each its own logged-in session of the guide and its own workspace, \
         each posting {BODY_BYTES}-byte messages one after another for {} s",
        duration.as_secs()
    );
    println!(
        "    (the system runs with the test settings: database.max_connections = {} per service)",
        system.storage.settings(&[]).database.max_connections
    );
    let mut sessions = Vec::with_capacity(clients);
    for i in 0..clients {
        let mut browser = guide_session(system).await?;
        let id = workspace(&mut browser, org, office, &format!("Bench {i}")).await?;
        let session = Session::of(&browser);
        // One message each before the clock starts: opens the connection and checks the path.
        let (status, text) = session.post_message(&id, &padded(format!("warm-up {i}"))).await?;
        ensure!(status == 201, "the warm-up message answered {status}: {}", snippet(&text));
        sessions.push((session, id));
    }

    let started = Instant::now();
    let deadline = started + duration;
    let mut tasks = Vec::with_capacity(clients);
    for (i, (session, id)) in sessions.into_iter().enumerate() {
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut error_count = 0usize;
            let mut errors: Vec<String> = Vec::new();
            let mut n = 0u64;
            while Instant::now() < deadline {
                n += 1;
                let body = padded(format!("bench client {i} message {n}"));
                let sent = Instant::now();
                match session.post_message(&id, &body).await {
                    Ok((201, _)) => latencies.push(sent.elapsed()),
                    Ok((status, text)) => {
                        error_count += 1;
                        if errors.len() < SHOWN_ERRORS {
                            errors.push(format!("{status}: {}", snippet(&text)));
                        }
                    }
                    Err(e) => {
                        error_count += 1;
                        if errors.len() < SHOWN_ERRORS {
                            errors.push(format!("no answer: {e}"));
                        }
                    }
                }
            }
            (latencies, error_count, errors)
        }));
    }
    let mut latencies = Vec::new();
    let mut error_count = 0;
    let mut errors = Vec::new();
    for task in tasks {
        let (l, n, e) = task.await?;
        latencies.extend(l);
        error_count += n;
        errors.extend(e);
    }
    let elapsed = started.elapsed();
    let posted = latencies.len();
    let per_second = posted as f64 / elapsed.as_secs_f64();
    println!("    messages posted (201): {posted} in {:.2} s = {per_second:.1} messages/s", elapsed.as_secs_f64());
    if let Some(summary) = Summary::of(latencies) {
        println!("    latency per message: {}", summary.line());
    }
    println!("    errors (any answer but 201, or none): {error_count}");
    for error in errors.iter().take(SHOWN_ERRORS) {
        println!("      {error}");
    }
    Ok(Throughput { per_second })
}

// ---------------------------------------------------------------------------------------------
// (d) live delivery over server-sent events

/// One server-sent event.
#[derive(Debug)]
struct SseEvent {
    event: String,
    id: Option<String>,
    data: String,
}

/// A line-based reader of `text/event-stream` (the WHATWG rules that matter here: `field: value`
/// lines, `:` comments, `data` lines joined with newlines, a blank line dispatches).
#[derive(Default)]
struct SseParser {
    buffer: Vec<u8>,
    event: String,
    data: String,
    has_data: bool,
    last_id: Option<String>,
}

impl SseParser {
    fn push(&mut self, bytes: &[u8]) -> Vec<SseEvent> {
        self.buffer.extend_from_slice(bytes);
        let mut events = Vec::new();
        while let Some(end) = self.buffer.iter().position(|&b| b == b'\n') {
            let mut line: Vec<u8> = self.buffer.drain(..=end).collect();
            line.pop();
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            if let Some(event) = self.line(&String::from_utf8_lossy(&line)) {
                events.push(event);
            }
        }
        events
    }

    fn line(&mut self, line: &str) -> Option<SseEvent> {
        if line.is_empty() {
            let event = std::mem::take(&mut self.event);
            if !self.has_data {
                return None;
            }
            self.has_data = false;
            let event = if event.is_empty() { "message".to_owned() } else { event };
            return Some(SseEvent { event, id: self.last_id.clone(), data: std::mem::take(&mut self.data) });
        }
        if line.starts_with(':') {
            return None;
        }
        let (field, value) = match line.split_once(':') {
            Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
            None => (line, ""),
        };
        match field {
            "event" => self.event = value.to_owned(),
            "data" => {
                if self.has_data {
                    self.data.push('\n');
                }
                self.data.push_str(value);
                self.has_data = true;
            }
            "id" => self.last_id = Some(value.to_owned()),
            _ => {}
        }
        None
    }
}

/// What a listener saw.
enum Seen {
    /// An event, with the instant its bytes arrived (Unix nanoseconds).
    Event { listener: usize, event: SseEvent, at: u128 },
    /// The stream ended or broke.
    Ended { listener: usize, error: Option<String> },
}

async fn listen(listener: usize, response: reqwest::Response, seen: mpsc::UnboundedSender<Seen>) {
    let mut stream = response.bytes_stream();
    let mut parser = SseParser::default();
    while let Some(chunk) = stream.next().await {
        let at = unix_nanos();
        match chunk {
            Ok(bytes) => {
                for event in parser.push(&bytes) {
                    let _ = seen.send(Seen::Event { listener, event, at });
                }
            }
            Err(e) => {
                let _ = seen.send(Seen::Ended { listener, error: Some(e.to_string()) });
                return;
            }
        }
    }
    let _ = seen.send(Seen::Ended { listener, error: None });
}

async fn sse_delivery(system: &TestSystem, org: &str, office: &str, listeners: usize, messages: usize) -> Result<()> {
    println!("(d) SSE delivery latency: GET /api/v1/workspaces/{{id}}/live");
    let mut poster_browser = guide_session(system).await?;
    let id = workspace(&mut poster_browser, org, office, "Bench live").await?;
    let poster = Session::of(&poster_browser);

    // Is the endpoint there at all? Ask with the poster's own session first.
    let probe = poster.live(&id).await.context("opening the live stream")?;
    match probe.status().as_u16() {
        200 => {}
        404 => {
            println!("    SSE endpoint not available (GET /api/v1/workspaces/{{id}}/live answered 404); (d) skipped");
            return Ok(());
        }
        status => {
            let text = probe.text().await.unwrap_or_default();
            println!("    the SSE endpoint answered {status}, not 200: {}; (d) skipped", snippet(&text));
            return Ok(());
        }
    }
    let content_type = probe.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    drop(probe);
    if !content_type.starts_with("text/event-stream") {
        println!(
            "    the SSE endpoint answered 200 with content-type {content_type:?}, not text/event-stream; (d) skipped"
        );
        return Ok(());
    }

    println!(
        "    {listeners} listeners (each its own session of the guide) on one workspace; one poster (another \
         session) posts {messages} messages one at a time, {} ms apart",
        SSE_GAP.as_millis()
    );
    println!("    each body starts \"bench <unix nanos at send>\"; latency = arrival at the listener - send instant");
    let mut sessions = Vec::with_capacity(listeners);
    for _ in 0..listeners {
        sessions.push(Session::of(&guide_session(system).await?));
    }
    let connected = futures::future::join_all(sessions.iter().map(|s| s.live(&id))).await;
    let (tx, mut rx) = mpsc::unbounded_channel();
    let mut readers = Vec::new();
    let mut refused: BTreeMap<String, usize> = BTreeMap::new();
    for (listener, response) in connected.into_iter().enumerate() {
        match response {
            Ok(response) if response.status() == 200 => {
                readers.push(tokio::spawn(listen(listener, response, tx.clone())));
            }
            Ok(response) => *refused.entry(format!("status {}", response.status().as_u16())).or_default() += 1,
            Err(e) => *refused.entry(format!("no answer: {e}")).or_default() += 1,
        }
    }
    drop(tx);
    let live = readers.len();
    println!("    listeners connected: {live} of {listeners}");
    for (why, n) in &refused {
        println!("      refused ({n}): {why}");
    }
    tokio::time::sleep(SSE_SETTLE).await;

    let poster_task = tokio::spawn(async move {
        let mut post_latencies = Vec::new();
        let mut failures = Vec::new();
        for n in 0..messages {
            let sent_at = unix_nanos();
            let body = padded(format!("bench {sent_at} message {n}"));
            let started = Instant::now();
            match poster.post_message(&id, &body).await {
                Ok((201, _)) => post_latencies.push(started.elapsed()),
                Ok((status, text)) => failures.push(format!("{status}: {}", snippet(&text))),
                Err(e) => failures.push(format!("no answer: {e}")),
            }
            tokio::time::sleep(SSE_GAP).await;
        }
        (post_latencies, failures)
    });
    let mut poster_task = Some(poster_task);

    let mut latencies = Vec::new();
    let mut seen_ids: Vec<HashSet<String>> = vec![HashSet::new(); listeners];
    let mut duplicates = 0usize;
    let mut unreadable: Vec<String> = Vec::new();
    let mut unreadable_count = 0usize;
    let mut other_events: BTreeMap<String, usize> = BTreeMap::new();
    let mut ended: Vec<String> = Vec::new();
    let mut posted = 0usize;
    let mut post_failures = Vec::new();
    let mut post_latencies = Vec::new();
    let mut drain_until: Option<tokio::time::Instant> = None;
    let mut listening = true;
    loop {
        if poster_task.is_none() && (latencies.len() >= posted * live || !listening) {
            break;
        }
        let sleep_until = drain_until.unwrap_or_else(|| tokio::time::Instant::now() + Duration::from_secs(3600));
        tokio::select! {
            joined = async { poster_task.as_mut().unwrap().await }, if poster_task.is_some() => {
                poster_task = None;
                let (l, f) = joined?;
                posted = l.len();
                post_latencies = l;
                post_failures = f;
                drain_until = Some(tokio::time::Instant::now() + SSE_DRAIN);
            }
            received = rx.recv(), if listening => match received {
                Some(Seen::Event { listener, event, at }) => {
                    if event.event != "message" {
                        *other_events.entry(event.event).or_default() += 1;
                        continue;
                    }
                    let payload: Option<Value> = serde_json::from_str(&event.data).ok();
                    let sent = payload
                        .as_ref()
                        .and_then(|v| v["body"].as_str())
                        .and_then(|body| body.strip_prefix("bench "))
                        .and_then(|rest| rest.split(' ').next())
                        .and_then(|nanos| nanos.parse::<u128>().ok());
                    let Some(sent) = sent else {
                        unreadable_count += 1;
                        if unreadable.len() < SHOWN_ERRORS {
                            unreadable.push(snippet(&event.data));
                        }
                        continue;
                    };
                    let key = event
                        .id
                        .clone()
                        .or_else(|| payload.as_ref().and_then(|v| v["id"].as_str()).map(str::to_owned))
                        .unwrap_or_else(|| sent.to_string());
                    if !seen_ids[listener].insert(key) {
                        duplicates += 1;
                        continue;
                    }
                    let nanos = u64::try_from(at.saturating_sub(sent)).unwrap_or(u64::MAX);
                    latencies.push(Duration::from_nanos(nanos));
                }
                Some(Seen::Ended { listener, error }) => {
                    ended.push(format!("listener {listener}: {}", error.unwrap_or_else(|| "stream ended".into())));
                }
                None => listening = false,
            },
            () = tokio::time::sleep_until(sleep_until), if drain_until.is_some() => break,
        }
    }
    for reader in &readers {
        reader.abort();
    }

    let expected = posted * live;
    println!(
        "    poster: {posted} of {messages} messages posted (201){}",
        Summary::of(post_latencies).map(|s| format!("; POST latency {}", s.line())).unwrap_or_default()
    );
    for failure in post_failures.iter().take(SHOWN_ERRORS) {
        println!("      post failed: {failure}");
    }
    println!(
        "    deliveries: {} arrived of {expected} expected ({live} listeners x {posted} messages)",
        latencies.len()
    );
    match Summary::of(latencies) {
        Some(summary) => println!("    delivery latency: {}", summary.line()),
        None => println!("    delivery latency: no deliveries"),
    }
    if duplicates > 0 {
        println!("    duplicate deliveries (same id to the same listener): {duplicates}");
    }
    if unreadable_count > 0 {
        println!("    message events without a readable \"bench <nanos>\" body: {unreadable_count}");
        for text in &unreadable {
            println!("      data: {text}");
        }
    }
    for (name, n) in &other_events {
        println!("    other events ({name}): {n}");
    }
    if !ended.is_empty() {
        println!("    streams that ended early: {}", ended.len());
        for line in ended.iter().take(SHOWN_ERRORS) {
            println!("      {line}");
        }
    }
    Ok(())
}
