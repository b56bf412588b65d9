//! The binary as operators run it: migrations as a separate command, then `--target
//! tenants,workspaces` and `--target gateway` as two processes on PostgreSQL + NATS, answering
//! like `--target all`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::{
    net::TcpListener,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use ohjaus_integration_tests::{BUSINESS_IDS, Backend, NatsPeer, OPERATOR_TOKEN, Storage, registry};
use serde_json::Value;

/// Held by each test that runs whole systems as processes over PostgreSQL: every such process
/// opens a pool per service, and three at once outgrow a stock PostgreSQL's 100 connections
/// (then anything, this test's own queries included, times out waiting for one). One at a time.
static WHOLE_SYSTEMS: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The server-mode environment of `storage`, as the chart would set it.
fn environment(storage: &Storage) -> Vec<(String, String)> {
    let settings_env = [
        ("OHJAUS__DATABASE__BACKEND", "postgres".to_owned()),
        ("OHJAUS__DATABASE__URL", storage.database_url.clone().unwrap()),
        ("OHJAUS__BUS__KIND", "nats".to_owned()),
        ("OHJAUS__BUS__NATS_URL", ohjaus_integration_tests::nats_url()),
        ("OHJAUS__BUS__STREAM", format!("T_{}", storage.suffix)),
        ("OHJAUS__BUS__SUBJECT_PREFIX", format!("t{}", storage.suffix)),
        ("OHJAUS__AUTH__SIGNING_KEY", "proc:process-test-signing-key-0123456789abcdefghij".to_owned()),
        ("OHJAUS__AUTH__OPERATOR_TOKEN", OPERATOR_TOKEN.to_owned()),
        ("OHJAUS__SECURITY__IDENTITY_CODE_KEY", "process-test-identity-code-key-0123456789abc".to_owned()),
        ("OHJAUS__SECURITY__CONSENT_LEDGER_KEY", "process-test-consent-ledger-key-0123456789abc".to_owned()),
        (
            "OHJAUS__SECURITY__KEY_ENCRYPTION_KEY",
            "k1:5f4dcc3b5aa765d61d8327deb882cf995f4dcc3b5aa765d61d8327deb882cf99".to_owned(),
        ),
        // Mail and files stay on the local disk here; the integration suite covers SMTP.
        ("OHJAUS__MAIL__TRANSPORT", "files".to_owned()),
        ("OHJAUS__FILES__STORE", "local".to_owned()),
        ("OHJAUS__TELEMETRY__FORMAT", "json".to_owned()),
        ("OHJAUS__TELEMETRY__LEVEL", "warn".to_owned()),
    ];
    settings_env.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn(storage: &Storage, args: &[&str], extra: &[(&str, String)]) -> Process {
    let mut command = Command::new(env!("CARGO_BIN_EXE_ohjaus"));
    command
        .args(args)
        .current_dir(storage.data_dir())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    for (k, v) in environment(storage) {
        command.env(k, v);
    }
    for (k, v) in extra {
        command.env(k, v);
    }
    Process(command.spawn().unwrap())
}

async fn wait_ready(base: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    let http = reqwest::Client::new();
    while Instant::now() < deadline {
        if let Ok(response) = http.get(format!("{base}/readyz")).send().await
            && response.status() == 200
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{base} did not become ready");
}

/// The services listed by `grpc.reflection.v1` (sorted), checked equal to `v1alpha`'s.
async fn reflected_services(port: u16) -> Vec<String> {
    use tonic_reflection::pb::{v1, v1alpha};
    let channel =
        tonic::transport::Endpoint::from_shared(format!("http://127.0.0.1:{port}")).unwrap().connect().await.unwrap();
    let request = v1::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(v1::server_reflection_request::MessageRequest::ListServices(String::new())),
    };
    let mut answers = v1::server_reflection_client::ServerReflectionClient::new(channel.clone())
        .server_reflection_info(futures::stream::iter([request]))
        .await
        .unwrap()
        .into_inner();
    let Some(v1::server_reflection_response::MessageResponse::ListServicesResponse(list)) =
        answers.message().await.unwrap().unwrap().message_response
    else {
        panic!("v1 reflection did not list services");
    };
    let mut names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    names.sort();
    let request = v1alpha::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(v1alpha::server_reflection_request::MessageRequest::ListServices(String::new())),
    };
    let mut answers = v1alpha::server_reflection_client::ServerReflectionClient::new(channel)
        .server_reflection_info(futures::stream::iter([request]))
        .await
        .unwrap()
        .into_inner();
    let Some(v1alpha::server_reflection_response::MessageResponse::ListServicesResponse(list)) =
        answers.message().await.unwrap().unwrap().message_response
    else {
        panic!("v1alpha reflection did not list services");
    };
    let mut alpha: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    alpha.sort();
    assert_eq!(alpha, names, "v1alpha lists what v1 lists");
    names
}

async fn create_and_fetch(base: &str) -> (Value, Value) {
    let http = reqwest::Client::new();
    let auth = format!("Bearer {OPERATOR_TOKEN}");
    let created: Value = http
        .post(format!("{base}/api/v1/organizations"))
        .header("authorization", &auth)
        .json(&registry("Prosessi", BUSINESS_IDS[0]))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let refused: Value = http
        .post(format!("{base}/api/v1/organizations"))
        .header("authorization", &auth)
        .header("accept-language", "sv")
        .json(&registry("Prosessi", "0201256-7"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    (created, refused)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_answer_like_one() {
    let _one_at_a_time = WHOLE_SYSTEMS.lock().await;
    let storage = Storage::new(Backend::Server).await;

    let status = Command::new(env!("CARGO_BIN_EXE_ohjaus"))
        .args(["migrate", "--target", "all"])
        .envs(environment(&storage))
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "ohjaus migrate failed");

    let grpc_port = free_port();
    let http_port = free_port();
    let _tenants = spawn(
        &storage,
        &["--target", "tenants,identity,workspaces,consent,forms,surveys,retention"],
        &[("OHJAUS__GRPC__LISTEN", format!("127.0.0.1:{grpc_port}"))],
    );
    let _gateway = spawn(
        &storage,
        &["--target", "gateway"],
        &[
            ("OHJAUS__GATEWAY__LISTEN", format!("127.0.0.1:{http_port}")),
            ("OHJAUS__SERVICES__TENANTS__ADDRESS", format!("http://127.0.0.1:{grpc_port}")),
            ("OHJAUS__SERVICES__IDENTITY__ADDRESS", format!("http://127.0.0.1:{grpc_port}")),
            ("OHJAUS__SERVICES__WORKSPACES__ADDRESS", format!("http://127.0.0.1:{grpc_port}")),
            ("OHJAUS__SERVICES__CONSENT__ADDRESS", format!("http://127.0.0.1:{grpc_port}")),
            ("OHJAUS__SERVICES__FORMS__ADDRESS", format!("http://127.0.0.1:{grpc_port}")),
            ("OHJAUS__SERVICES__SURVEYS__ADDRESS", format!("http://127.0.0.1:{grpc_port}")),
            ("OHJAUS__SERVICES__RETENTION__ADDRESS", format!("http://127.0.0.1:{grpc_port}")),
        ],
    );
    let split = format!("http://127.0.0.1:{http_port}");
    wait_ready(&split).await;
    // Reflection in both versions lists exactly what the process serves, and health.
    let served = reflected_services(grpc_port).await;
    assert_eq!(
        served,
        [
            "grpc.health.v1.Health",
            "grpc.reflection.v1.ServerReflection",
            "grpc.reflection.v1alpha.ServerReflection",
            "ohjaus.consent.v1.ConsentService",
            "ohjaus.forms.v1.FormsService",
            "ohjaus.identity.v1.IdentityService",
            "ohjaus.retention.v1.RetentionService",
            "ohjaus.surveys.v1.SurveysService",
            "ohjaus.tenants.v1.TenantsService",
            "ohjaus.workspaces.v1.WorkspacesService",
        ]
    );
    let (created, split_refusal) = create_and_fetch(&split).await;
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(split_refusal["status"], 422);
    drop(_gateway);
    drop(_tenants);

    let all_port = free_port();
    let _all = spawn(
        &storage,
        &["--target", "all"],
        &[
            ("OHJAUS__GATEWAY__LISTEN", format!("127.0.0.1:{all_port}")),
            ("OHJAUS__GRPC__LISTEN", "127.0.0.1:0".to_owned()),
        ],
    );
    let whole = format!("http://127.0.0.1:{all_port}");
    wait_ready(&whole).await;
    let fetched: Value = reqwest::Client::new()
        .get(format!("{whole}/api/v1/organizations/{id}"))
        .header("authorization", format!("Bearer {OPERATOR_TOKEN}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(fetched, created, "the whole system sees what the split one stored");
    let (_, whole_refusal) = create_and_fetch(&whole).await;
    assert_eq!(whole_refusal["errors"], split_refusal["errors"]);
    assert_eq!(whole_refusal["title"], split_refusal["title"]);
}

#[test]
fn list_targets_names_every_target() {
    let output = Command::new(env!("CARGO_BIN_EXE_ohjaus")).arg("--list-targets").output().unwrap();
    assert!(output.status.success());
    let text = String::from_utf8(output.stdout).unwrap();
    for target in ["gateway", "identity", "tenants", "workspaces", "consent", "forms", "surveys", "retention", "all"] {
        assert!(text.lines().any(|l| l.starts_with(target)), "{target} missing in:\n{text}");
    }
}

#[test]
fn a_bad_setting_is_named_and_stops_the_start() {
    let output =
        Command::new(env!("CARGO_BIN_EXE_ohjaus")).env("OHJAUS__GATEWAY__LISTEN", "not-an-address").output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    let text = String::from_utf8(output.stderr).unwrap();
    assert!(text.contains("`gateway.listen`"), "{text}");
    let output = Command::new(env!("CARGO_BIN_EXE_ohjaus")).env("OHJAUS__BUS__KIND", "nats").output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8(output.stderr).unwrap().contains("bus.nats_url"));
}

/// A binary built without the `saml` feature must not start without a configured SAML
/// provider's logins: it stops and names the feature.
#[cfg(not(feature = "saml"))]
#[tokio::test]
async fn a_saml_provider_needs_the_saml_feature() {
    use std::io::Read;

    let storage = Storage::new(Backend::Embedded).await;
    let provider = "OHJAUS__IDENTITY__SAML_PROVIDERS__SUOMIFI__";
    let mut command = Command::new(env!("CARGO_BIN_EXE_ohjaus"));
    command
        .current_dir(storage.data_dir())
        .env("OHJAUS__GATEWAY__LISTEN", "127.0.0.1:0")
        .env("OHJAUS__GRPC__LISTEN", "127.0.0.1:0")
        .env("OHJAUS__IDENTITY__DEV_IDP__LISTEN", "127.0.0.1:0")
        .env("NO_COLOR", "1")
        .env(format!("{provider}DISPLAY_NAME"), "Suomi.fi")
        .env(format!("{provider}IDP_METADATA"), "idp-metadata.xml")
        .env(format!("{provider}SP_PRIVATE_KEY_FILE"), "sp.key")
        .env(format!("{provider}SP_CERTIFICATE_FILE"), "sp.crt")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut process = Process(command.spawn().unwrap());
    // A binary that wrongly starts is stopped by the deadline (and by Process's drop).
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = process.0.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "ohjaus is running with a SAML provider it cannot use");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(!status.success());
    let mut text = String::new();
    process.0.stdout.take().unwrap().read_to_string(&mut text).unwrap();
    process.0.stderr.take().unwrap().read_to_string(&mut text).unwrap();
    assert!(text.contains("identity.saml_providers.suomifi") && text.contains("feature `saml`"), "{text}");
}

/// A server-mode system with `due` archived workspaces past their period, migrated by the
/// binary: the workspaces' database and retention's evidence.
async fn due_for_deletion(storage: &Storage, due: usize) -> (ohjaus_platform::db::Db, ohjaus_platform::db::Db) {
    use ohjaus_integration_tests::retention_seed::{Seeded, seed_workspaces};
    use ohjaus_platform::{config::Settings, db::Db};

    let status = Command::new(env!("CARGO_BIN_EXE_ohjaus"))
        .args(["migrate", "--target", "all"])
        .envs(environment(storage))
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "ohjaus migrate failed");
    let settings = Settings::load_with(None, environment(storage)).unwrap();
    let workspaces = Db::connect(&settings, "workspaces").await.unwrap();
    let evidence = Db::connect(&settings, "retention").await.unwrap();
    let archived_at = chrono::Utc::now() - chrono::Duration::days(400);
    seed_workspaces(&workspaces, uuid::Uuid::now_v7(), due, Seeded::Archived { archived_at }).await;
    (workspaces, evidence)
}

/// `ohjaus retention` as the CronJob runs it, to its end; what it printed.
fn run_to_the_end(storage: &Storage, run_env: &[(&str, String)]) -> String {
    let run = Command::new(env!("CARGO_BIN_EXE_ohjaus"))
        .args(["retention", "--target", "all"])
        .current_dir(storage.data_dir())
        .envs(environment(storage))
        .envs(run_env.iter().map(|(k, v)| (k.to_string(), v.clone())))
        .stdout(Stdio::piped())
        .output()
        .unwrap();
    let stdout = String::from_utf8(run.stdout).unwrap();
    // Its warnings (a step that failed and waits for the next run; the log is JSON lines beside
    // the report) explain a failed assertion.
    eprintln!("{}", String::from_utf8_lossy(&run.stderr));
    for line in stdout.lines().filter(|l| l.contains("\"WARN\"") || l.contains("\"ERROR\"")) {
        eprintln!("{line}");
    }
    assert!(run.status.success(), "the run failed");
    stdout
}

/// Runs `ohjaus retention` until no deletion is left unfinished, at most three times: a run
/// finishes what an earlier one left, and a step that fails under load (its warning in the run's
/// log) is asked again by the run after — the product's promise; any other leftover fails. The
/// number of runs made and how many deletions were complete before the last one.
async fn runs_until_finished(
    storage: &Storage,
    run_env: &[(&str, String)],
    evidence: &ohjaus_platform::db::Db,
) -> (i64, i64) {
    let unfinished = "SELECT COUNT(*) AS n FROM deletions WHERE completed_at IS NULL";
    let completed = "SELECT COUNT(*) AS n FROM deletions WHERE completed_at IS NOT NULL";
    let mut runs = 0;
    loop {
        let before = count(evidence, completed).await;
        let report = run_to_the_end(storage, run_env);
        runs += 1;
        assert!(report.contains("\"action\":\"delete\""), "{report}");
        let left = count(evidence, unfinished).await;
        if left == 0 || runs == 3 {
            return (runs, before);
        }
        assert!(
            report.contains("a deletion step failed; retried next run"),
            "{left} deletions left unfinished without a failed step"
        );
    }
}

async fn count(db: &ohjaus_platform::db::Db, sql: &str) -> i64 {
    db.query(sql).fetch_one(db).await.unwrap().get::<i64>("n").unwrap()
}

/// Waits until `at_least` deletions are complete while `run` is still going. The run first
/// decides every due deletion (a round trip and a commit each) before it deletes any, so on a
/// loaded CI machine with debug binaries the first completion can take a minute or more; the
/// deadline only bounds a run that hangs.
async fn until_deleted(evidence: &ohjaus_platform::db::Db, run: &mut Process, at_least: i64) {
    let deadline = Instant::now() + Duration::from_secs(240);
    loop {
        if count(evidence, "SELECT COUNT(*) AS n FROM deletions WHERE completed_at IS NOT NULL").await >= at_least {
            return;
        }
        assert!(run.0.try_wait().unwrap().is_none(), "the run ended before it could be interrupted");
        if Instant::now() >= deadline {
            let decided = count(evidence, "SELECT COUNT(*) AS n FROM deletions").await;
            panic!("the run completed fewer than {at_least} deletions within 240 s ({decided} decided)");
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// After the runs: every workspace's deletion complete, each of its five services (its
/// content, its consents, its survey rounds, its converted submissions, its customer's
/// account) answered once — one completion time, never pending, at most `max_attempts`
/// attempts (one per run) — and nothing of the workspaces left.
async fn every_deletion_complete_once(
    workspaces: &ohjaus_platform::db::Db,
    evidence: &ohjaus_platform::db::Db,
    due: usize,
    max_attempts: i64,
) {
    let due = i64::try_from(due).unwrap();
    assert_eq!(count(evidence, "SELECT COUNT(*) AS n FROM deletions").await, due);
    let unfinished = evidence
        .query(
            "SELECT d.id, d.claimed_until, s.service, s.outcome, s.attempts FROM deletions d \
             JOIN deletion_steps s ON s.deletion_id = d.id WHERE d.completed_at IS NULL ORDER BY d.id, s.position",
        )
        .fetch_all(evidence)
        .await
        .unwrap();
    let unfinished: Vec<String> = unfinished
        .iter()
        .map(|r| {
            format!(
                "{} claimed until {:?}: {} {} after {} attempts",
                r.get::<uuid::Uuid>("id").unwrap(),
                r.get::<Option<chrono::DateTime<chrono::Utc>>>("claimed_until").unwrap(),
                r.get::<String>("service").unwrap(),
                r.get::<String>("outcome").unwrap(),
                r.get::<i64>("attempts").unwrap()
            )
        })
        .collect();
    assert!(unfinished.is_empty(), "unfinished deletions:\n{}", unfinished.join("\n"));
    assert_eq!(
        count(evidence, "SELECT COUNT(*) AS n FROM deletion_steps WHERE completed_at IS NOT NULL").await,
        5 * due
    );
    assert_eq!(count(evidence, "SELECT COUNT(*) AS n FROM deletion_steps WHERE outcome = 'pending'").await, 0);
    let too_many = format!("SELECT COUNT(*) AS n FROM deletion_steps WHERE attempts > {max_attempts}");
    assert_eq!(count(evidence, &too_many).await, 0);
    assert_eq!(count(workspaces, "SELECT COUNT(*) AS n FROM workspaces").await, 0, "no workspace left");
    assert_eq!(count(workspaces, "SELECT COUNT(*) AS n FROM members").await, 0, "no member row left");
}

/// `kill -9` of `ohjaus retention` in the middle of its deletions: the next run finishes them
/// without leftovers, and the evidence holds every service's answer exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retention_run_killed_half_way_is_finished_by_the_next() {
    let _one_at_a_time = WHOLE_SYSTEMS.lock().await;
    let storage = Storage::new(Backend::Server).await;
    let due = 600;
    let (workspaces, evidence) = due_for_deletion(&storage, due).await;
    let run_env =
        [("OHJAUS__RETENTION__LEASE_SECONDS", "1".to_owned()), ("OHJAUS__RETENTION__BATCH_SIZE", "20".to_owned())];

    // A dry run says what is due and why, as JSON lines, and changes nothing.
    let dry = Command::new(env!("CARGO_BIN_EXE_ohjaus"))
        .args(["retention", "--dry-run", "--target", "all"])
        .current_dir(storage.data_dir())
        .envs(environment(&storage))
        .output()
        .unwrap();
    assert!(dry.status.success(), "{}", String::from_utf8_lossy(&dry.stderr));
    let lines: Vec<Value> =
        String::from_utf8(dry.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let planned: Vec<&Value> =
        lines.iter().filter(|l| l["action"] == "delete" && l["workspace_id"].is_string()).collect();
    assert_eq!(planned.len(), due);
    assert_eq!(planned[0]["rule"], "workspace-archived");
    assert!(planned[0]["since"].as_str().unwrap() < planned[0]["due_at"].as_str().unwrap(), "{}", planned[0]);
    assert!(lines.iter().any(|l| l["action"] == "delete" && l["count"] == i64::try_from(due).unwrap()), "{lines:?}");
    assert_eq!(count(&evidence, "SELECT COUNT(*) AS n FROM deletions").await, 0, "a dry run decides nothing");

    let mut first = spawn(&storage, &["retention", "--target", "all"], &run_env);
    until_deleted(&evidence, &mut first, 20).await;
    // SIGKILL: no shutdown, no release of its claims.
    first.0.kill().unwrap();
    first.0.wait().unwrap();
    let done_at_kill = count(&evidence, "SELECT COUNT(*) AS n FROM deletions WHERE completed_at IS NOT NULL").await;
    assert!(done_at_kill < i64::try_from(due).unwrap(), "the run was killed after it finished");

    // Its claims lapse after the lease; the next run finishes everything.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (runs, done_before_last) = runs_until_finished(&storage, &run_env, &evidence).await;
    every_deletion_complete_once(&workspaces, &evidence, due, 1 + runs).await;

    // The runs' processes are gone; the long-running system shows what they did, from the
    // evidence, on its metrics port (as the chart's retention Deployment does for the CronJob).
    let metrics_port = free_port();
    let _system = spawn(
        &storage,
        &["--target", "all"],
        &[
            ("OHJAUS__GATEWAY__LISTEN", format!("127.0.0.1:{}", free_port())),
            ("OHJAUS__GRPC__LISTEN", "127.0.0.1:0".to_owned()),
            ("OHJAUS__TELEMETRY__METRICS_LISTEN", format!("127.0.0.1:{metrics_port}")),
            ("OHJAUS__RETENTION__PERIODIC", "false".to_owned()),
        ],
    );
    let expected = [
        format!("ohjaus_retention_completed_deletions {due}"),
        "ohjaus_retention_unfinished_deletions 0".to_owned(),
        "ohjaus_retention_oldest_overdue_seconds 0".to_owned(),
        "ohjaus_retention_last_run_finished_timestamp_seconds ".to_owned(),
        "ohjaus_retention_last_run_duration_seconds ".to_owned(),
    ];
    let deadline = Instant::now() + Duration::from_secs(30);
    let text = loop {
        let scraped = reqwest::get(format!("http://127.0.0.1:{metrics_port}/metrics")).await;
        if let Ok(response) = scraped {
            let text = response.text().await.unwrap();
            if expected.iter().all(|line| text.contains(line.as_str())) {
                break text;
            }
        }
        assert!(Instant::now() < deadline, "the metrics did not show the runs within 30 s");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    // The newest run finished what the killed one (and any run before it) had left; the killed
    // one never recorded a run.
    let finished_by_last = i64::try_from(due).unwrap() - done_before_last;
    assert!(done_before_last >= done_at_kill);
    let deleted: Vec<&str> = text
        .lines()
        .filter(|l| {
            l.starts_with("ohjaus_retention_last_run_actions{")
                && l.contains("rule=\"workspace-archived\"")
                && l.contains("action=\"delete\"")
        })
        .collect();
    assert_eq!(deleted.len(), 1, "{text}");
    let figure: f64 = deleted[0].rsplit(' ').next().unwrap().parse().unwrap();
    assert_eq!(figure, finished_by_last as f64, "{deleted:?}");
    assert_eq!(count(&evidence, "SELECT COUNT(*) AS n FROM runs").await, runs, "only finished runs are recorded");
}

/// `kill -9` of NATS in the middle of a retention run: the run goes on (the deletion requests
/// wait in its outbox) and stops without hanging; once NATS is back, the next run publishes
/// what waited and has nothing left to do. Every deletion is complete once, and the stream holds
/// each deletion request once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retention_run_survives_nats_killed_half_way() {
    let _one_at_a_time = WHOLE_SYSTEMS.lock().await;
    let storage = Storage::new(Backend::Server).await;
    let mut nats = NatsPeer::start(&storage.data_dir()).await;
    let due = 300;
    let (workspaces, evidence) = due_for_deletion(&storage, due).await;
    let run_env = [
        ("OHJAUS__BUS__NATS_URL", nats.url()),
        ("OHJAUS__RETENTION__LEASE_SECONDS", "1".to_owned()),
        ("OHJAUS__RETENTION__BATCH_SIZE", "20".to_owned()),
    ];

    let mut first = spawn(&storage, &["retention", "--target", "all"], &run_env);
    until_deleted(&evidence, &mut first, 20).await;
    nats.stop();
    // The run finishes its work without the bus and stops on its own, within its bounds.
    let deadline = Instant::now() + Duration::from_secs(240);
    let status = loop {
        if let Some(status) = first.0.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "the run hung after NATS died");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(status.success(), "the run failed without the bus: {status}");
    // (A step cut short by the failing bus, if any, is asked again by the next run.)
    // The workspaces service's events of the deletions made after the kill wait in its outbox.
    let waiting = count(&workspaces, "SELECT COUNT(*) AS n FROM outbox").await;
    assert!(waiting > 0, "no event waited for the bus: NATS was killed too late");

    nats.restart().await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (runs, _) = runs_until_finished(&storage, &run_env, &evidence).await;
    every_deletion_complete_once(&workspaces, &evidence, due, 1 + runs).await;
    assert_eq!(count(&evidence, "SELECT COUNT(*) AS n FROM outbox").await, 0, "every deletion request was published");

    // The stream holds each deletion request exactly once: none lost with the killed server,
    // none twice from a relay that published again after it came back.
    use futures::TryStreamExt;
    let client = async_nats::connect(nats.url()).await.unwrap();
    let stream = async_nats::jetstream::new(client).get_stream(format!("T_{}", storage.suffix)).await.unwrap();
    let published = |service: &str, event: &str| {
        let subject = format!("t{}.{service}.{event}", storage.suffix);
        let stream = stream.clone();
        async move {
            let subjects: Vec<(String, usize)> =
                stream.info_with_subjects(&subject).await.unwrap().try_collect().await.unwrap();
            i64::try_from(subjects.iter().map(|(_, n)| n).sum::<usize>()).unwrap()
        }
    };
    let due = i64::try_from(due).unwrap();
    assert_eq!(published("retention", "deletion_requested").await, due);
    // Each workspace's deletion event is on the stream once, or still waits for the relay of
    // the next start: none lost with the killed server, none twice.
    let left = count(&workspaces, "SELECT COUNT(*) AS n FROM outbox").await;
    assert_eq!(published("workspaces", "workspace_deleted").await + left, due);
}
