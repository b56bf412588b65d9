//! The whole system through its HTTP and gRPC interfaces, on both backends.

#![allow(clippy::unwrap_used, clippy::expect_used)]

/// Runs `$test(Backend)` as two tests: embedded (SQLite + in-process bus) and server
/// (PostgreSQL + NATS JetStream).
macro_rules! on_both_backends {
    ($($test:ident),* $(,)?) => {
        $(mod $test {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn embedded() {
                super::$test(ohjaus_integration_tests::Backend::Embedded).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres_nats() {
                super::$test(ohjaus_integration_tests::Backend::Server).await;
            }
        })*
    };
}

mod consent_api;
mod consent_effect;
mod directory;
mod gateway;
mod guidance;
mod identity;
mod isolation;
mod lifecycle;
mod oidc_flaws;
mod oidc_peer;
mod organizations;
#[cfg(feature = "saml")]
mod saml_peer;
mod story;
mod support;
mod workspace_content;
mod workspaces;
