//! The identity service: who may log in and how they stay logged in.
//!
//! Customers log in with Suomi.fi strong authentication only, and only when a customer account
//! exists (made when they accept a workspace invitation). Experts log in with Virtu (or
//! Suomi.fi) and must be experts of an active organisation; operators are listed in
//! configuration. Nobody has a password. Logins go through OpenID Connect and SAML 2.0
//! connectors (any number, per identity provider); in the embedded mode a built-in development provider stands in
//! for Suomi.fi and Virtu. Sessions are opaque 256-bit tokens stored only as hashes, with idle
//! and absolute timeouts; integration clients get short-lived access tokens by client
//! credentials. Every login, logout, failure and refusal is audited without identity codes.

pub mod dev_idp;
pub mod domain;
pub mod grpc;
pub mod oidc;
#[cfg(feature = "saml")]
pub mod saml;
pub mod store;

use ohjaus_platform::db::Migrations;

pub use grpc::Identity;

pub const SERVICE: &str = "identity";

pub fn migrations() -> Migrations {
    Migrations {
        postgres: || sqlx::migrate!("../../migrations/identity/postgres"),
        sqlite: || sqlx::migrate!("../../migrations/identity/sqlite"),
    }
}
