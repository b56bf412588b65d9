//! The consent service: multi-professional guidance happens only with the customer's consent.
//!
//! The owner guide of a workspace proposes another expert (of the same or another
//! organisation) for one customer of it, with a purpose. The customer sees who is proposed,
//! why, and — when the expert works for another organisation — that controller's data and
//! privacy links; they accept (optionally "from now on only") or reject, and may withdraw an
//! accepted consent at any time. The owner guide may end an expert's participation. Workspaces
//! are asked, as the caller, who owns a workspace and who its customers are; tenants who the
//! expert is. Each change is announced by an event (ids and states only) in the same
//! transaction.
//!
//! Every request, decision, withdrawal and ending is an entry of the workspace's append-only
//! ledger: entries are chained by HMAC (`domain::ledger`), purpose texts are sealed with the
//! workspace's own data key, so retention deletes one workspace's ledger (`lifecycle`) while
//! every other chain still verifies. The customer and the controller's main users export it.

mod decisions;
pub mod domain;
pub mod events;
pub mod grpc;
mod ledger;
mod lifecycle;
mod peers;
mod requests;
pub mod store;

use ohjaus_platform::db::Migrations;

pub use grpc::{Consent, Peers};

/// The service's name: its database schema or file, its subjects, its target.
pub const SERVICE: &str = "consent";

pub fn migrations() -> Migrations {
    Migrations {
        postgres: || sqlx::migrate!("../../migrations/consent/postgres"),
        sqlite: || sqlx::migrate!("../../migrations/consent/sqlite"),
    }
}
