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
//! workspace's own data key (kept in the service's key store, apart from the content), so
//! retention deletes one workspace's ledger and key (`lifecycle`) while every other chain still
//! verifies. The customer and the controller's main users export it.

mod decisions;
pub mod domain;
pub mod events;
pub mod grpc;
mod ledger;
mod lifecycle;
mod peers;
mod requests;
pub mod store;

use ohjaus_platform::{db::Migrations, keyring::LegacyKeys};

pub use grpc::{Consent, Peers};

/// The service's name: its database schema or file, its subjects, its target.
pub const SERVICE: &str = "consent";

pub fn migrations() -> Migrations {
    Migrations {
        postgres: || sqlx::migrate!("../../migrations/consent/postgres"),
        sqlite: || sqlx::migrate!("../../migrations/consent/sqlite"),
    }
}

/// What a workspace's data key belongs to in the service's key store (consent's own key of the
/// workspace, not the workspaces service's).
pub const KEY_OWNER: &str = "workspace";

/// Where consent's data keys were kept before the key store; moved there on migration.
pub const LEGACY_KEYS: &[LegacyKeys] = &[LegacyKeys {
    owner_kind: KEY_OWNER,
    table: "workspace_keys",
    id_column: "workspace_id",
    key_column: "data_key",
    dropped_by: 20261205001601,
}];
