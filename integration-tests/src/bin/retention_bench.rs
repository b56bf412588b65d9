//! Benchmark program (not a test): one retention run over many workspaces on PostgreSQL.
//!
//! ```sh
//! cargo run --release -p ohjaus-integration-tests --bin retention_bench -- --workspaces 1000000
//! ```
//!
//! It starts the whole system on PostgreSQL + NATS (as the server-backend tests do), writes
//! `--workspaces` workspaces straight into the workspaces schema (each with an owner and a
//! customer) in a realistic mix: most active and recently visited, `--due-percent` of them due
//! under each rule (closing notice, closing, archiving notice, archiving), and `--deletions`
//! archived workspaces past their period. Then it prints:
//!
//! (a) the ceiling: the same rows' state changes as bare set-based `UPDATE`s in one rolled-back
//!     transaction (no notifications, events or per-row re-checks): what PostgreSQL itself needs;
//! (b) one retention run (the sweep: notices, closing, archiving; then the deletion decisions and
//!     the deletions themselves, each phase timed), with the counts;
//! (c) the ratio of the sweep to the ceiling;
//! (d) a second run with nothing due (the cost of looking at every row);
//! (e) the process's peak resident memory before and after the runs (VmHWM).
//!
//! The system, PostgreSQL and NATS share the machine's cores; compare runs on one machine only.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::{sync::Arc, time::Instant};

use chrono::{DateTime, Duration, Utc};
use clap::Parser;
use ohjaus_integration_tests::{Backend, Storage, TestSystem};
use ohjaus_platform::{
    auth::Principal,
    clock::Clock,
    db::Db,
    proto::retention::v1::{RunReport, RunRetentionRequest, retention_service_client::RetentionServiceClient},
};
use uuid::Uuid;

#[derive(Parser, Debug)]
#[command(
    name = "retention_bench",
    about = "One retention run over many workspaces on PostgreSQL, against a raw UPDATE ceiling"
)]
struct Args {
    /// Workspaces in all.
    #[arg(long, default_value_t = 1_000_000)]
    workspaces: usize,
    /// Percent of the workspaces due under each of the four sweep rules.
    #[arg(long, default_value_t = 1.0)]
    due_percent: f64,
    /// Archived workspaces due for deletion (part of `--workspaces`).
    #[arg(long, default_value_t = 10_000)]
    deletions: usize,
}

/// The peak resident set of this process, in MiB.
fn peak_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|n| n.parse::<f64>().ok())
        .unwrap_or(0.0);
    kib / 1024.0
}

struct Category {
    name: &'static str,
    count: usize,
    state: &'static str,
    seen: DateTime<Utc>,
    closed: Option<DateTime<Utc>>,
    archived: Option<DateTime<Utc>>,
    close_notice: Option<DateTime<Utc>>,
    archive_notice: Option<DateTime<Utc>>,
}

async fn seed(db: &Db, categories: &[Category]) {
    let organization = Uuid::now_v7();
    let owner = Uuid::now_v7();
    for category in categories {
        let started = Instant::now();
        db.query(
            "INSERT INTO workspaces (id, organization_id, office_id, kind, title_sealed, topics, state, owner_id, \
             version, created_at, updated_at, closed_at, customer_last_seen_at, archived_at, \
             close_notice_at, archive_notice_at) \
             SELECT md5($1 || i::text)::uuid, $2, $2, 'personal', '\\x00'::bytea, '', $3, $4, 1, \
             $5 - (i % 1000) * interval '1 second', $5, $6, $5 - (i % 1000) * interval '1 second', $7, $8, $9 \
             FROM generate_series(1, $10) AS i",
        )
        .bind(category.name)
        .bind(organization)
        .bind(category.state)
        .bind(owner)
        .bind(category.seen)
        .bind(category.closed)
        .bind(category.archived)
        .bind(category.close_notice)
        .bind(category.archive_notice)
        .bind(i64::try_from(category.count).unwrap())
        .execute(db)
        .await
        .unwrap();
        println!("  seeded {:>8} {:<16} in {:.1} s", category.count, category.name, started.elapsed().as_secs_f64());
    }
    let started = Instant::now();
    db.query(
        "INSERT INTO members (workspace_id, member_kind, member_id, role, added_at) \
         SELECT id, 'expert', owner_id, 'owner', created_at FROM workspaces",
    )
    .execute(db)
    .await
    .unwrap();
    db.query(
        "INSERT INTO members (workspace_id, member_kind, member_id, role, added_at) \
         SELECT id, 'customer', md5('customer' || id::text)::uuid, 'customer', created_at FROM workspaces",
    )
    .execute(db)
    .await
    .unwrap();
    db.query("ANALYZE workspaces").execute(db).await.unwrap();
    db.query("ANALYZE members").execute(db).await.unwrap();
    println!("  members and statistics in {:.1} s", started.elapsed().as_secs_f64());
}

/// The four sweeps' state changes as bare UPDATEs in one transaction, rolled back; seconds.
async fn ceiling(db: &Db, now: DateTime<Utc>) -> (f64, u64) {
    let day = Duration::days(1);
    let seen = "COALESCE(customer_last_seen_at, created_at)";
    let statements = [
        format!(
            "UPDATE workspaces SET close_notice_at = $1 WHERE state = 'active' AND {seen} < $2 \
             AND (close_notice_at IS NULL OR close_notice_at < {seen})"
        ),
        format!(
            "UPDATE workspaces SET state = 'closed', closed_at = $1, version = version + 1 WHERE state = 'active' \
             AND {seen} < $3 AND close_notice_at >= {seen} AND close_notice_at <= $4"
        ),
        "UPDATE workspaces SET archive_notice_at = $1 WHERE state = 'closed' AND closed_at < $5 \
         AND (archive_notice_at IS NULL OR archive_notice_at < closed_at)"
            .to_owned(),
        "UPDATE workspaces SET state = 'archived', archived_at = $1, version = version + 1 WHERE state = 'closed' \
         AND closed_at < $6 AND archive_notice_at >= closed_at AND archive_notice_at <= $7"
            .to_owned(),
    ];
    let started = Instant::now();
    let mut tx = db.begin().await.unwrap();
    let mut rows = 0;
    for sql in &statements {
        rows += tx
            .query(sql)
            .bind(now)
            .bind(now - day * 76)
            .bind(now - day * 90)
            .bind(now - day * 14)
            .bind(now - day * 60)
            .bind(now - day * 90)
            .bind(now - day * 30)
            .execute(&mut tx)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
    let seconds = started.elapsed().as_secs_f64();
    tx.rollback().await.unwrap();
    (seconds, rows)
}

async fn run(system: &TestSystem) -> RunReport {
    let channel = tonic::transport::Endpoint::from_shared(system.grpc.clone()).unwrap().connect().await.unwrap();
    let header = format!("Bearer {}", system.service_token(&Principal::Operator { subject: "bench".into() }));
    let mut client = RetentionServiceClient::with_interceptor(channel, move |mut request: tonic::Request<()>| {
        request.metadata_mut().insert("authorization", header.parse().unwrap());
        Ok(request)
    });
    client.run_retention(RunRetentionRequest { dry_run: false }).await.unwrap().into_inner()
}

fn print_report(report: &RunReport) {
    for count in &report.counts {
        println!("  {:<26} {:<15} {:>8}", count.rule, count.action, count.count);
    }
    let mut phases: Vec<_> = report.phase_ms.iter().collect();
    phases.sort();
    for (phase, ms) in phases {
        println!("  phase {phase:<8} {:>8.2} s", *ms as f64 / 1000.0);
    }
    println!(
        "  total          {:>8.2} s; oldest overdue {} s",
        report.duration_ms as f64 / 1000.0,
        report.oldest_overdue_seconds
    );
}

fn main() {
    let args = Args::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    runtime.block_on(async move {
        println!("cores: {}", std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1));
        println!("{args:?}");
        let storage = Arc::new(Storage::new(Backend::Server).await);
        let system = TestSystem::start_on(
            storage.clone(),
            &[
                ("OHJAUS__WORKSPACES__REOPEN_WINDOW_DAYS", "90".into()),
                ("OHJAUS__RETENTION__PERIODIC", "false".into()),
                ("OHJAUS__RETENTION__BATCH_SIZE", "250".into()),
                ("OHJAUS__GRPC__TIMEOUT_MS", "60000".into()),
            ],
        )
        .await;
        let now = system.clock.now();
        let day = Duration::days(1);
        let due = ((args.workspaces as f64) * args.due_percent / 100.0) as usize;
        let active = args.workspaces - 4 * due - args.deletions;
        let categories = [
            Category {
                name: "active",
                count: active,
                state: "active",
                seen: now - day * 10,
                closed: None,
                archived: None,
                close_notice: None,
                archive_notice: None,
            },
            Category {
                name: "notice-close",
                count: due,
                state: "active",
                seen: now - day * 80,
                closed: None,
                archived: None,
                close_notice: None,
                archive_notice: None,
            },
            Category {
                name: "close",
                count: due,
                state: "active",
                seen: now - day * 100,
                closed: None,
                archived: None,
                close_notice: Some(now - day * 20),
                archive_notice: None,
            },
            Category {
                name: "notice-archive",
                count: due,
                state: "closed",
                seen: now - day * 70,
                closed: Some(now - day * 70),
                archived: None,
                close_notice: None,
                archive_notice: None,
            },
            Category {
                name: "archive",
                count: due,
                state: "closed",
                seen: now - day * 100,
                closed: Some(now - day * 100),
                archived: None,
                close_notice: None,
                archive_notice: Some(now - day * 40),
            },
            Category {
                name: "delete",
                count: args.deletions,
                state: "archived",
                seen: now - day * 500,
                closed: Some(now - day * 500),
                archived: Some(now - day * 400),
                close_notice: None,
                archive_notice: None,
            },
        ];
        let db = Db::connect(&storage.settings(&[]), "workspaces").await.unwrap();
        println!("seeding {} workspaces", args.workspaces);
        seed(&db, &categories).await;

        let (ceiling_s, ceiling_rows) = ceiling(&db, now).await;
        println!("(a) ceiling: bare UPDATEs of the same rows (rolled back): {ceiling_rows} rows in {ceiling_s:.2} s");

        let before = peak_mib();
        let started = Instant::now();
        let report = run(&system).await;
        let wall = started.elapsed().as_secs_f64();
        println!("(b) one retention run ({wall:.2} s wall):");
        print_report(&report);
        let sweep_s = report.phase_ms.get("sweep").copied().unwrap_or(0) as f64 / 1000.0;
        println!("(c) sweep / ceiling: {:.1}", sweep_s / ceiling_s.max(0.001));
        let deletions_s = (report.phase_ms.get("decide").copied().unwrap_or(0)
            + report.phase_ms.get("delete").copied().unwrap_or(0)) as f64
            / 1000.0;
        println!(
            "    deletions: {} decided and carried out in {deletions_s:.2} s ({:.2} s per 10,000)",
            args.deletions,
            deletions_s * 10_000.0 / (args.deletions.max(1) as f64)
        );
        let started = Instant::now();
        let idle = run(&system).await;
        println!("(d) a second run, nothing due: {:.2} s", started.elapsed().as_secs_f64());
        print_report(&idle);
        println!("(e) peak resident memory: {before:.0} MiB before the runs, {:.0} MiB after", peak_mib());
        system.stop().await;
    });
}
