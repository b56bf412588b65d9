//! The workspaces service: the private space where a guide and a customer work together.
//!
//! A guide of an organisation opens a workspace (personal or group) and owns it. Only members
//! read it: to a main user, the operator, another guide or another customer it does not exist.
//! Titles and messages are sealed with the workspace's own data key, which is stored only
//! wrapped by the key-encryption key from configuration. Every read of content is written to
//! the workspace's access log, which its members can read. Guides close a workspace and may
//! reopen it within a configured window; archiving and deletion belong to retention.
//!
//! Customers join by invitation (`invitations`), members share files (`files`), guides plan the
//! work in phases, tasks, events, notes and a summary (`guidance`), members are
//! notified in the app and by batched mail without content (`notify`), a customer downloads
//! their workspace (`export`), and main users and retention look after it (`lifecycle`).
//! Experts of other organisations join and leave with the customer's consent (`consent`),
//! seeing the workspace through it (`domain::sight`).

pub mod consent;
pub mod domain;
pub mod events;
mod export;
mod files;
pub mod grpc;
mod guidance;
mod invitations;
mod lifecycle;
pub mod notify;
pub mod store;

use ohjaus_platform::{
    db::{DbError, Migrations},
    error::{ErrorCode, Failure, FieldViolation},
};

pub use consent::{CONSENT_CONSUMER, ConsentEffects};
pub use grpc::{Peers, Workspaces, WorkspacesConfig};
pub use notify::run_mail_worker;

/// The service's name: its database schema or file, its subjects, its target.
pub const SERVICE: &str = "workspaces";

pub fn migrations() -> Migrations {
    Migrations {
        postgres: || sqlx::migrate!("../../migrations/workspaces/postgres"),
        sqlite: || sqlx::migrate!("../../migrations/workspaces/sqlite"),
    }
}

#[derive(Debug, thiserror::Error)]
pub enum WorkspacesError {
    #[error("invalid request")]
    Invalid(Vec<FieldViolation>),
    #[error("refused: {0:?}")]
    Refused(ErrorCode),
    /// Another request with the same idempotency key committed first.
    #[error("concurrent request with the same idempotency key")]
    ConcurrentReplay,
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("a peer service failed: {0}")]
    Peer(String),
    /// Stored data does not read back, or sealed data does not open.
    #[error("stored data is inconsistent: {0}")]
    Corrupt(String),
}

impl WorkspacesError {
    /// What the caller is told; internal causes stay in the log.
    pub fn failure(&self) -> Failure {
        match self {
            WorkspacesError::Invalid(violations) => Failure::invalid(violations.clone()),
            WorkspacesError::Refused(code) => Failure::new(*code),
            WorkspacesError::ConcurrentReplay | WorkspacesError::Peer(_) => Failure::new(ErrorCode::Unavailable),
            WorkspacesError::Db(_) | WorkspacesError::Corrupt(_) => Failure::new(ErrorCode::Internal),
        }
    }
}

impl From<ErrorCode> for WorkspacesError {
    fn from(code: ErrorCode) -> Self {
        WorkspacesError::Refused(code)
    }
}

impl From<WorkspacesError> for tonic::Status {
    fn from(error: WorkspacesError) -> Self {
        if matches!(error, WorkspacesError::Db(_) | WorkspacesError::Corrupt(_) | WorkspacesError::Peer(_)) {
            tracing::error!(%error, "workspaces request failed");
        }
        error.failure().to_status()
    }
}
