//! `ohjaus`: run the whole system (default), one service, or the migrations.

use std::{path::PathBuf, process::ExitCode, sync::Arc};

use clap::{Parser, Subcommand};
use ohjaus::{Options, Target, parse_targets};
use ohjaus_platform::{clock::SystemClock, config::Settings, shutdown, telemetry};
use tokio_util::sync::CancellationToken;

#[derive(Parser)]
#[command(name = "ohjaus", version, about = "Secure online guidance for public organisations")]
struct Cli {
    /// Configuration file (TOML); `OHJAUS__SECTION__KEY` environment variables override it.
    #[arg(long, global = true, env = "OHJAUS_CONFIG")]
    config: Option<PathBuf>,
    /// `all` or a comma-separated list of targets.
    #[arg(long, global = true, default_value = "all")]
    target: String,
    /// Print the target table (what each target calls and needs), then exit.
    #[arg(long)]
    list_targets: bool,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Apply the database migrations of the targets and exit (the Kubernetes hook Job).
    Migrate,
    /// Print the OpenAPI document of the HTTP API and exit.
    Openapi,
    /// Run every retention rule once and exit (the chart's CronJob): with `--target retention`
    /// the other services are called at their addresses; with the default `all`, in-process.
    Retention {
        /// Print what would happen and why, changing nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Operate the key store of the targets (their data keys, apart from the content).
    Keyring {
        #[command(subcommand)]
        command: KeyringCommand,
    },
}

#[derive(Subcommand)]
enum KeyringCommand {
    /// Rewrap every data key with the current key-encryption key (security.key_encryption_key),
    /// opening older wrappings with security.accepted_key_encryption_keys; content is not
    /// touched. Afterwards the older key-encryption key is no longer needed.
    Rewrap,
}

#[allow(clippy::print_stdout)]
fn main() -> ExitCode {
    let cli = Cli::parse();
    if cli.list_targets {
        print!("{}", ohjaus::targets::listing());
        return ExitCode::SUCCESS;
    }
    if matches!(cli.command, Some(Command::Openapi)) {
        println!("{}", ohjaus_gateway::openapi().to_pretty_json().unwrap_or_default());
        return ExitCode::SUCCESS;
    }
    let settings = match Settings::load(cli.config.as_deref()) {
        Ok(settings) => settings,
        Err(error) => {
            eprintln!("ohjaus: {error}");
            return ExitCode::from(2);
        }
    };
    let targets = match parse_targets(&cli.target) {
        Ok(targets) => targets,
        Err(error) => {
            eprintln!("ohjaus: --target: {error}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("ohjaus: cannot start the runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        let names: Vec<&str> = targets.iter().map(|t| t.name()).collect();
        let _telemetry = match telemetry::init(&settings.telemetry, &format!("ohjaus-{}", names.join("-"))) {
            Ok(guard) => guard,
            Err(error) => {
                eprintln!("ohjaus: {error}");
                return ExitCode::from(2);
            }
        };
        let result = match cli.command {
            Some(Command::Migrate) => ohjaus::migrate(&settings, &targets).await,
            Some(Command::Openapi) => Ok(()),
            Some(Command::Retention { dry_run }) => retention(&settings, targets, dry_run).await,
            Some(Command::Keyring { command: KeyringCommand::Rewrap }) => rewrap(&settings, &targets).await,
            None => run(&settings, targets).await,
        };
        match result {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                tracing::error!("{error:#}");
                ExitCode::FAILURE
            }
        }
    })
}

#[allow(clippy::print_stdout)]
async fn rewrap(settings: &Settings, targets: &[Target]) -> anyhow::Result<()> {
    for report in ohjaus::rewrap_keys(settings, targets).await? {
        let r = &report.rewrapped;
        println!(
            "{}: {} of {} data keys rewrapped with the current key-encryption key",
            report.target, r.rewrapped, r.found
        );
    }
    Ok(())
}

async fn run(settings: &Settings, targets: Vec<Target>) -> anyhow::Result<()> {
    let token = CancellationToken::new();
    shutdown::on_signal(token.clone());
    let embedded = settings.is_embedded();
    let running =
        ohjaus::start(settings, Options { targets, clock: Arc::new(SystemClock), migrate: embedded }, token).await?;
    if let Some(addr) = running.gateway_addr {
        tracing::info!("Ohjaus is running: http://{addr}/docs (API docs), http://{addr}/api/v1");
    }
    running.wait().await?;
    tracing::info!("stopped");
    Ok(())
}

/// How long a one-off retention run waits for its events to reach the bus before it stops.
const PUBLISH_WAIT: std::time::Duration = std::time::Duration::from_secs(15);

/// One retention run: starts the targets without their periodic run, runs every rule once,
/// prints the report as JSON lines (the counts, then each planned action of a dry run), stops.
#[allow(clippy::print_stdout)]
async fn retention(settings: &Settings, targets: Vec<Target>, dry_run: bool) -> anyhow::Result<()> {
    let mut settings = settings.clone();
    settings.retention.periodic = false;
    // Nobody needs the public listeners of a one-off run.
    settings.gateway.listen = "127.0.0.1:0".parse()?;
    settings.grpc.listen = "127.0.0.1:0".parse()?;
    settings.identity.dev_idp.listen = "127.0.0.1:0".parse()?;
    let token = CancellationToken::new();
    shutdown::on_signal(token.clone());
    let embedded = settings.is_embedded();
    let running =
        ohjaus::start(&settings, Options { targets, clock: Arc::new(SystemClock), migrate: embedded }, token).await?;
    let Some(worker) = running.retention.clone() else {
        running.shutdown();
        running.wait().await?;
        anyhow::bail!("the retention target is not among --target");
    };
    let result = worker.run(dry_run).await;
    if let Ok(report) = &result {
        for count in &report.counts {
            println!(
                "{}",
                serde_json::json!({"rule": count.rule, "action": count.action, "count": count.count, "dry_run": dry_run})
            );
        }
        for planned in &report.planned {
            let at = |t: &Option<ohjaus_platform::proto::prost_types::Timestamp>| {
                t.as_ref().and_then(ohjaus_platform::grpc::from_timestamp).map(|t| t.to_rfc3339()).unwrap_or_default()
            };
            println!(
                "{}",
                serde_json::json!({"workspace_id": planned.workspace_id, "rule": planned.rule, "action": planned.action,
                    "since": at(&planned.since), "due_at": at(&planned.due_at), "dry_run": true})
            );
        }
        println!(
            "{}",
            serde_json::json!({"duration_ms": report.duration_ms, "oldest_overdue_seconds": report.oldest_overdue_seconds})
        );
    }
    // The relay publishes the run's deletion requests before the stop. When the bus is away
    // they stay in the outbox, and the next run's relay publishes them first.
    let waited = std::time::Instant::now();
    loop {
        match ohjaus_platform::events::unpublished_count(worker.db()).await {
            Ok(0) => break,
            Ok(left) if waited.elapsed() >= PUBLISH_WAIT => {
                tracing::warn!(left, "the bus did not take every event of this run; the next run publishes them");
                break;
            }
            Ok(_) => tokio::time::sleep(std::time::Duration::from_millis(50)).await,
            Err(error) => {
                tracing::warn!(%error, "could not read the outbox after the run");
                break;
            }
        }
    }
    running.shutdown();
    running.wait().await?;
    result.map(|_| ()).map_err(|e| anyhow::anyhow!("retention run failed: {e}"))
}
