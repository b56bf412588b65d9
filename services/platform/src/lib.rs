//! The shared runtime of every Ohjaus service.
//!
//! A service is a `domain` (rules, no I/O), a `store` (SQL through [`db`]), a `grpc` transport
//! and its `events`. This crate gives them what they share: configuration, one database type
//! over PostgreSQL and SQLite, the clock, events with an outbox and inbox, principals and their
//! signed tokens, one error model, localized texts, telemetry and health.

pub mod auth;
pub mod clock;
pub mod config;
pub mod crypto;
pub mod db;
pub mod error;
pub mod events;
pub mod grpc;
pub mod html;
pub mod i18n;
pub mod idempotency;
pub mod ids;
pub mod keyring;
pub mod mail;
pub mod receipts;
pub mod service;
pub mod shutdown;
pub mod storage;
pub mod telemetry;
pub mod types;

pub use ohjaus_proto as proto;
