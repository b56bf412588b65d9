//! The consent service on real databases: each test body runs on SQLite and on PostgreSQL,
//! each run in a database of its own.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

mod grpc;
mod ledger;
