//! What operators see: gauges read from the evidence, so they are true whichever process made
//! the run. In a cluster the runs are the CronJob's short-lived processes, which no scraper
//! reaches; the retention Deployment publishes the newest run and the state of the deletions
//! every [`REFRESH`] (and each process right after its own run).

use std::{collections::BTreeSet, sync::Mutex, time::Duration};

use chrono::{DateTime, Utc};
use ohjaus_platform::{db::Db, service::ServiceResult};
use tokio_util::sync::CancellationToken;

use crate::store;

/// How often the long-running target refreshes the gauges.
pub const REFRESH: Duration = Duration::from_secs(30);

/// The (rule, action) pairs published so far: a pair the newest run did not have reads 0, not
/// an older run's figure.
static PUBLISHED: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());

/// Sets every retention gauge from the evidence as of `now`.
pub async fn publish(db: &Db, now: DateTime<Utc>) -> ServiceResult<()> {
    let oldest = store::oldest_unfinished(db).await?;
    let overdue = oldest.map(|due| (now - due).num_seconds().max(0)).unwrap_or(0);
    metrics::gauge!("ohjaus_retention_oldest_overdue_seconds").set(overdue as f64);
    metrics::gauge!("ohjaus_retention_unfinished_deletions").set(store::unfinished(db).await? as f64);
    metrics::gauge!("ohjaus_retention_completed_deletions").set(store::completed(db).await? as f64);
    let Some(run) = store::last_run(db).await? else { return Ok(()) };
    metrics::gauge!("ohjaus_retention_last_run_finished_timestamp_seconds").set(run.finished_at.timestamp() as f64);
    metrics::gauge!("ohjaus_retention_last_run_duration_seconds").set(run.duration_ms as f64 / 1000.0);
    let mut published = PUBLISHED.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    published.extend(run.counts.keys().cloned());
    for key in published.iter() {
        let Some((rule, action)) = key.split_once('/') else { continue };
        let count = run.counts.get(key).copied().unwrap_or(0);
        metrics::gauge!("ohjaus_retention_last_run_actions", "rule" => rule.to_owned(), "action" => action.to_owned())
            .set(count as f64);
    }
    Ok(())
}

/// Refreshes the gauges every [`REFRESH`] until `shutdown`.
pub async fn publish_periodically(db: Db, clock: ohjaus_platform::clock::SharedClock, shutdown: CancellationToken) {
    loop {
        if let Err(error) = publish(&db, clock.now()).await {
            tracing::warn!(%error, "could not read the retention evidence for the metrics");
        }
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(REFRESH) => {}
        }
    }
}
