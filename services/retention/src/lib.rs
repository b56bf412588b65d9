//! The retention worker: everything closes, archives and disappears on time, in every service,
//! with evidence.
//!
//! It owns no content. Each run walks the rules of the privacy notice (`domain`): it asks the
//! workspaces service, one keyset batch at a time, to tell members before closing and
//! archiving, to close, to archive, and which archived workspaces are due for deletion. The
//! owning service re-checks every rule on the row it changes, in the transaction that changes
//! it, and skips rows another run holds, so two runs at once never act twice.
//!
//! A deletion is a protocol (`worker`): retention records the decision with one step per
//! service that holds anything about the workspace (`store`), publishes a deletion request
//! (ids only, through its outbox: `events`), asks each service in turn and keeps its answer
//! (counts, no content) exactly once; a run that is killed leaves its claims to lapse and the
//! next run finishes. The evidence (ids, rule, times, counts) is what the operator lists and
//! exports (`grpc`); `metrics` publishes the evidence's state and the newest run as gauges.

pub mod domain;
pub mod events;
pub mod grpc;
pub mod metrics;
pub mod store;
pub mod worker;

use ohjaus_platform::db::Migrations;

pub use grpc::Retention;
pub use worker::{Peers, Periods};

/// The service's name: its database schema or file, its subjects, its target, and the
/// principal it calls other services as.
pub const SERVICE: &str = "retention";

pub fn migrations() -> Migrations {
    Migrations {
        postgres: || sqlx::migrate!("../../migrations/retention/postgres"),
        sqlite: || sqlx::migrate!("../../migrations/retention/sqlite"),
    }
}
