//! The workspaces service: the private space where a guide and a customer work together.
//!
//! A guide of an organisation opens a workspace (personal or group) and owns it (`workspace`).
//! Only members read it: to a main user, the operator, another guide or another customer it does
//! not exist. Titles and messages are sealed with the workspace's own data key, which is stored
//! only wrapped by the key-encryption key, in the service's key store apart from the content
//! (`platform::keyring`). Every read of content is written to
//! the workspace's access log, which its members can read (`access_log`). Guides close a
//! workspace and may reopen it within a configured window; archiving and deletion belong to
//! retention.
//!
//! Members write messages (`messages`) and see who else is there (`members`); customers join by
//! invitation (`invitations`), members share files (`files`), guides plan the work in phases,
//! tasks, events, notes and a summary (`guidance`), members are notified in the app and by
//! batched mail without content (`notify`), a customer downloads their workspace (`export`), and
//! main users and retention look after it (`lifecycle`). Experts of other organisations join and
//! leave with the customer's consent (`consent`), seeing the workspace through it
//! (`domain::sight`).
//!
//! `grpc` maps each RPC to the handler of the same name in its feature's module; `service` holds
//! what the handlers share: the opened workspace and the caller who may read it.

mod access_log;
pub mod consent;
pub mod domain;
pub mod events;
mod export;
mod files;
pub mod grpc;
mod guidance;
mod invitations;
mod lifecycle;
mod members;
mod messages;
pub mod notify;
mod retention;
mod service;
pub mod store;
mod workspace;
// rounds: the surveys service's round notices and the sight of its rounds.
pub mod surveys;

use ohjaus_platform::{db::Migrations, keyring::LegacyKeys};

pub use consent::{CONSENT_CONSUMER, ConsentEffects};
pub use notify::run_mail_worker;
pub use service::{Peers, Workspaces, WorkspacesConfig};
// rounds
pub use surveys::{RoundNotices, SURVEYS_CONSUMER};

/// The service's name: its database schema or file, its subjects, its target.
pub const SERVICE: &str = "workspaces";

pub fn migrations() -> Migrations {
    Migrations {
        postgres: || sqlx::migrate!("../../migrations/workspaces/postgres"),
        sqlite: || sqlx::migrate!("../../migrations/workspaces/sqlite"),
    }
}

/// What a workspace's data key belongs to in the service's key store.
pub const KEY_OWNER: &str = "workspace";

/// Where workspaces' data keys were kept before the key store; moved there on migration.
pub const LEGACY_KEYS: &[LegacyKeys] = &[LegacyKeys {
    owner_kind: KEY_OWNER,
    table: "workspaces",
    id_column: "id",
    key_column: "data_key",
    dropped_by: 20261205001601,
}];
