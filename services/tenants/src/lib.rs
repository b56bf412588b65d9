//! The tenants service: organisations (the controllers of customer data), their offices, the
//! experts who work for them with their roles, and the integration clients of their systems.
//!
//! Only the operator creates, edits and suspends organisations and names their first main
//! users; main users manage their own organisations' experts, roles, offices and clients;
//! anyone else learns nothing (not found). Experts of a suspended organisation are refused.
//! Every change is announced on the bus through the outbox.

pub mod domain;
pub mod events;
pub mod grpc;
pub mod seed;
pub mod store;

use ohjaus_platform::{
    db::{DbError, Migrations},
    error::{ErrorCode, Failure, FieldViolation},
};

pub use grpc::Tenants;

/// The service's name: its database schema or file, its subjects, its target.
pub const SERVICE: &str = "tenants";

pub fn migrations() -> Migrations {
    Migrations {
        postgres: || sqlx::migrate!("../../migrations/tenants/postgres"),
        sqlite: || sqlx::migrate!("../../migrations/tenants/sqlite"),
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TenantsError {
    #[error("invalid request")]
    Invalid(Vec<FieldViolation>),
    #[error("conflicts with existing data")]
    Conflict(Vec<FieldViolation>),
    #[error("refused: {0:?}")]
    Refused(ErrorCode),
    /// Another request with the same idempotency key committed first.
    #[error("concurrent request with the same idempotency key")]
    ConcurrentReplay,
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("stored data is inconsistent: {0}")]
    Corrupt(String),
}

impl TenantsError {
    /// What the caller is told; internal causes stay in the log.
    pub fn failure(&self) -> Failure {
        match self {
            TenantsError::Invalid(violations) => Failure::invalid(violations.clone()),
            TenantsError::Conflict(violations) => {
                Failure { code: ErrorCode::AlreadyExists, violations: violations.clone() }
            }
            TenantsError::Refused(code) => Failure::new(*code),
            TenantsError::ConcurrentReplay => Failure::new(ErrorCode::Unavailable),
            TenantsError::Db(_) | TenantsError::Corrupt(_) => Failure::new(ErrorCode::Internal),
        }
    }
}

impl From<Failure> for TenantsError {
    fn from(failure: Failure) -> Self {
        if failure.code == ErrorCode::InvalidArgument {
            TenantsError::Invalid(failure.violations)
        } else {
            TenantsError::Refused(failure.code)
        }
    }
}

impl From<TenantsError> for tonic::Status {
    fn from(error: TenantsError) -> Self {
        if matches!(error, TenantsError::Db(_) | TenantsError::Corrupt(_)) {
            tracing::error!(%error, "tenants request failed");
        }
        error.failure().to_status()
    }
}
