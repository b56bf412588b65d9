//! Benchmark program (not a test): a 3X10D report over a million answers on PostgreSQL.
//!
//! ```sh
//! cargo run --release -p ohjaus-integration-tests --bin surveys_bench
//! ```
//!
//! It makes a fresh surveys database on PostgreSQL (as the server-backend tests do), writes
//! `--customers` customers' answers as the reports keep them (de-identified facts: place,
//! month, item, value, a pseudonym) straight into `report_answers`: `--offices` offices in
//! organisations of ten, `--months` months, two rounds of five items per customer (1,000,000
//! answers by default). Then the platform's report over every month (organisations → offices,
//! each of the ten items with its own suppression pattern, impact with its own) and prints:
//!
//! (a) the ceiling: PostgreSQL scanning the report's own query (`SELECT count(*), sum(value)`
//!     over it, server side, nothing sent);
//! (b) the report's read of those rows into the service;
//! (c) computing the cells (distinct customers, means, band shares, impact) and suppressing;
//! (d) the ratio of (b + c) to the ceiling, and of (c) alone; the goal is b + c ≤ 1 s.
//!
//! PostgreSQL and the program share the machine's cores; compare runs on one machine only.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::time::Instant;

use clap::Parser;
use ohjaus_integration_tests::{Backend, Storage};
use ohjaus_platform::db::Db;
use ohjaus_surveys::{
    domain::{
        Instrument,
        disclosure::Threshold,
        reports::{self, Band, Measure, Period, Places, Scope},
    },
    store::reports as report_store,
};

#[derive(Parser, Debug)]
#[command(name = "surveys_bench", about = "A 3X10D report over a million answers, against a raw scan ceiling")]
struct Args {
    #[arg(long, default_value_t = 100_000)]
    customers: u32,
    #[arg(long, default_value_t = 200)]
    offices: u32,
    #[arg(long, default_value_t = 24)]
    months: u32,
    /// Times each measurement is repeated (the best is printed).
    #[arg(long, default_value_t = 3)]
    repeat: u32,
}

fn secs(d: std::time::Duration) -> f64 {
    d.as_secs_f64()
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let storage = Storage::new(Backend::Server).await;
    let settings = storage.settings(&[]);
    let db = Db::connect(&settings, ohjaus_surveys::SERVICE).await.unwrap();
    db.migrate(&ohjaus_surveys::migrations()).await.unwrap();

    let started = Instant::now();
    let seed = format!(
        "INSERT INTO report_answers (organization_id, office_id, workspace_id, month, answered_at, instrument_id, \
         item, customer_key, value) \
         SELECT md5('org' || ((c % {offices}) / 10))::uuid, md5('office' || (c % {offices}))::uuid, \
         md5('ws' || c)::uuid, \
         to_char(timestamp '2025-01-01' + make_interval(months => ((c * 7 + r) % {months})::int), 'YYYY-MM'), \
         timestamptz '2025-01-01 00:00:00+00' + make_interval(months => ((c * 7 + r) % {months})::int) \
           + make_interval(secs => (c % 86400)::double precision), \
         '3x10d', ((c + i) % 10) + 1, c, (c * 31 + i * 7 + r * 3 + (c % 3) * r) % 11 \
         FROM generate_series(0, {last}::bigint) c, generate_series(0, 1) r, generate_series(1, 5) i",
        offices = args.offices,
        months = args.months,
        last = i64::from(args.customers) - 1,
    );
    db.query(&seed).execute(&db).await.unwrap();
    db.query("ANALYZE report_answers").execute(&db).await.unwrap();
    let rows: i64 =
        db.query("SELECT count(*) AS n FROM report_answers").fetch_one(&db).await.unwrap().get("n").unwrap();
    println!(
        "seeded {rows} answers ({} customers, {} offices, {} months) in {:.1} s",
        args.customers,
        args.offices,
        args.months,
        secs(started.elapsed())
    );

    let instrument = Instrument::parse(ohjaus_surveys::EMBEDDED_INSTRUMENTS[0]).unwrap();
    let last_month = 2025 + (args.months.max(1) - 1) / 12;
    let last_month_of_year = (args.months.max(1) - 1) % 12 + 1;
    let period = Period::parse(&format!("2025-01/{last_month:04}-{last_month_of_year:02}")).unwrap();
    let measure = Measure {
        items: instrument.items.iter().map(|i| (i.number, i.key.clone())).collect(),
        bands: instrument.bands.iter().map(|b| Band { key: b.key.clone(), from: b.from, to: b.to }).collect(),
        impact: true,
    };
    let ceiling_sql = format!(
        "SELECT count(*) AS n, sum(value) AS s FROM ({}) q",
        report_store::answers_sql(false)
            .replace("$1", "'3x10d'")
            .replace("$2", &format!("'{}'", period.first))
            .replace("$3", &format!("'{}'", period.last))
    );

    let (mut scan, mut read, mut compute) = (f64::MAX, f64::MAX, f64::MAX);
    let mut published = (0usize, 0usize, 0usize);
    for _ in 0..args.repeat {
        let t = Instant::now();
        let row = db.query(&ceiling_sql).fetch_one(&db).await.unwrap();
        let n: i64 = row.get("n").unwrap();
        assert_eq!(n, rows);
        scan = scan.min(secs(t.elapsed()));

        let t = Instant::now();
        let facts = report_store::answers(&db, "3x10d", &period.first, &period.last, None).await.unwrap();
        read = read.min(secs(t.elapsed()));

        let t = Instant::now();
        let places = Places::new(Scope::Platform, &facts).unwrap();
        let cells = reports::cells(&places, &measure, &facts, Threshold::default()).unwrap();
        compute = compute.min(secs(t.elapsed()));
        let all: Vec<_> = cells.iter().flat_map(|(_, _, c)| c).collect();
        published = (
            all.len(),
            all.iter().filter(|c| !c.suppressed).count(),
            all.iter().filter(|c| c.impact.as_ref().is_some_and(|i| !i.suppressed)).count(),
        );
    }
    println!("report: platform → organisations → offices, 10 items, period {}", period.text);
    println!("cells: {} ({} published, {} with impact published)", published.0, published.1, published.2);
    println!("(a) ceiling, PostgreSQL scanning the report's query: {scan:.3} s");
    println!("(b) the report reading its rows:                     {read:.3} s");
    println!("(c) computing the cells and suppressing:             {compute:.3} s");
    println!("(d) report (b + c) / ceiling: {:.1}×; (c) / ceiling: {:.1}×", (read + compute) / scan, compute / scan);
    println!("goal: report ≤ 1 s — {:.3} s, {}", read + compute, if read + compute <= 1.0 { "met" } else { "not met" });
}
