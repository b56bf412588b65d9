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

use anyhow::Context;
use ohjaus_platform::{clock::SharedClock, config::Settings, keyring::Rewrapped};
use tokio_util::sync::CancellationToken;

pub use runner::{Databases, Running, StartContext, Started};
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

/// Applies the migrations of the given targets (and of their key stores) and returns.
pub async fn migrate(settings: &Settings, targets: &[Target]) -> anyhow::Result<()> {
    for target in targets {
        let databases = runner::open_databases(settings, *target, true).await?;
        if databases.db.is_some() {
            tracing::info!(service = %target, "migrations applied");
        }
        databases.close().await;
    }
    Ok(())
}

/// What `ohjaus keyring rewrap` did to one target's key store.
#[derive(Debug)]
pub struct RewrapReport {
    pub target: Target,
    pub rewrapped: Rewrapped,
}

/// Rewraps every data key in the key stores of the given targets with the current
/// key-encryption key (`security.key_encryption_key`), opening older wrappings with
/// `security.accepted_key_encryption_keys`; content is not touched. Each store is compacted
/// after, so the older wrappings are gone from its files. Fails, after doing what it can, when
/// a key names a key-encryption key that is not configured or does not open.
pub async fn rewrap_keys(settings: &Settings, targets: &[Target]) -> anyhow::Result<Vec<RewrapReport>> {
    let mut reports = Vec::new();
    for target in targets.iter().copied().filter(|t| t.spec().keyring().is_some()) {
        let keyring = runner::open_keyring(settings, target).await?;
        let result = keyring.rewrap().await;
        keyring.db().close().await;
        let rewrapped = result.with_context(|| format!("rewrapping the data keys of {target}"))?;
        tracing::info!(
            service = %target, found = rewrapped.found, rewrapped = rewrapped.rewrapped,
            "data keys rewrapped with the current key-encryption key"
        );
        reports.push(RewrapReport { target, rewrapped });
    }
    let problems: Vec<String> = reports
        .iter()
        .flat_map(|r| {
            let unknown = r.rewrapped.unknown.iter().map(move |(kek, n)| {
                format!(
                    "{}: {n} keys are wrapped by key-encryption key `{kek}`, which is not configured \
                     (add it to security.accepted_key_encryption_keys and run again)",
                    r.target
                )
            });
            let unopened = (r.rewrapped.unopened > 0)
                .then(|| format!("{}: {} keys do not open with the key they name", r.target, r.rewrapped.unopened));
            unknown.chain(unopened)
        })
        .collect();
    if !problems.is_empty() {
        anyhow::bail!("some data keys were not rewrapped:\n  {}", problems.join("\n  "));
    }
    Ok(reports)
}
