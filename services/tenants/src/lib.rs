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

use ohjaus_platform::db::Migrations;

pub use grpc::Tenants;

/// The service's name: its database schema or file, its subjects, its target.
pub const SERVICE: &str = "tenants";

pub fn migrations() -> Migrations {
    Migrations {
        postgres: || sqlx::migrate!("../../migrations/tenants/postgres"),
        sqlite: || sqlx::migrate!("../../migrations/tenants/sqlite"),
    }
}
