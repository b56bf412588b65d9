//! Runs any set of Ohjaus services in one process.
//!
//! `--target all` (the default) is the embedded mode's whole system; `--target tenants` is one
//! Kubernetes Deployment. Every target is a row of the target table ([`targets`]) and a module
//! with one start function; the runner ([`runner`]) starts the selected ones in dependency
//! order. A target that runs here is called through its server directly (no socket); one that
//! runs elsewhere through a network channel. The same principal, trace and deadline layers
//! apply either way.

pub mod runner;
pub mod targets;

use ohjaus_platform::{clock::SharedClock, config::Settings};
use tokio_util::sync::CancellationToken;

pub use runner::{Running, StartContext, Started};
pub use targets::{Target, parse_targets};

/// How to start.
pub struct Options {
    pub targets: Vec<Target>,
    pub clock: SharedClock,
    /// Apply migrations before serving (embedded mode and tests; clusters use `ohjaus migrate`).
    pub migrate: bool,
}

/// Starts the targets; they run until `shutdown` is cancelled.
pub async fn start(settings: &Settings, options: Options, shutdown: CancellationToken) -> anyhow::Result<Running> {
    runner::run(settings, options, shutdown).await
}

/// Applies the migrations of the given targets and returns.
pub async fn migrate(settings: &Settings, targets: &[Target]) -> anyhow::Result<()> {
    for target in targets {
        if let Some(db) = runner::open_database(settings, *target, true).await? {
            db.close().await;
            tracing::info!(service = %target, "migrations applied");
        }
    }
    Ok(())
}
