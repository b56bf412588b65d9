//! Black-box tests of the platform crate, each run on both backends: embedded (SQLite and the
//! in-process bus) and server (PostgreSQL and NATS JetStream, which must be reachable).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

mod db;
mod error_catalogue;
mod events;
mod keyring;
