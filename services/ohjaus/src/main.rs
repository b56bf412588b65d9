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
