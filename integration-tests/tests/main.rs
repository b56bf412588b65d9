//! The whole system through its HTTP and gRPC interfaces, on both backends.

#![allow(clippy::unwrap_used, clippy::expect_used)]

/// Runs `$test(Backend)` as two tests: `embedded` (SQLite + in-process bus) and `server`
/// (PostgreSQL + NATS JetStream).
macro_rules! on_both_backends {
    ($($test:ident),* $(,)?) => {
        ohjaus_test_support::on_both_backends!(ohjaus_test_support::pass_backend; $($test),*);
    };
}

mod consent_api;
mod consent_effect;
mod contract;
mod directory;
mod edge;
mod forms;
mod gateway;
mod grpc_python;
mod guidance;
mod idempotent_creation;
mod identity;
mod invisible_characters;
mod invitation_accounts;
mod isolation;
mod keyring;
mod lifecycle;
mod mail_batches;
mod migration_parity;
mod oidc_flaws;
mod oidc_peer;
mod organizations;
mod retention;
#[cfg(feature = "saml")]
mod saml_peer;
mod stewardship;
mod story;
mod support;
mod surveys;
// rounds: the 3X10D meter's pages in a browser.
mod rounds_pages;
// Reports and feedback (issue 15).
mod reports;
mod web_pages;
mod workspace_content;
mod workspaces;
