//! HTTP routes, one module per URL root; a resource with sub-resources is a directory with one
//! child module per sub-resource. Each module's router mounts its own paths only; here they are
//! put together, so this is where the whole URL tree reads at a glance. Under `/api/v1` except
//! [`browser_router`]'s.

pub mod admin;
pub mod auth;
pub mod consents;
pub mod directory;
pub mod instruments;
pub mod invitations;
pub mod me;
pub mod notifications;
pub mod oauth;
pub mod organizations;
pub mod public;
pub mod submissions;
pub mod workspaces;
// Reports and feedback (issue 15).
pub mod reports;

use utoipa_axum::router::OpenApiRouter;

use crate::state::AppState;

/// Everything under `/api/v1` that needs no special layer (`/public` is rate limited apart).
pub fn api_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(organizations_router())
        .merge(directory::router())
        .merge(workspaces_router())
        .merge(notifications::router())
        .merge(invitations::router())
        .merge(consents::router())
        .merge(me::router())
        .merge(admin::deletions::router())
        .merge(instruments::router())
        .merge(submissions::router())
        // Reports and feedback (issue 15).
        .merge(reports::router())
}

/// `/organizations` and below.
fn organizations_router() -> OpenApiRouter<AppState> {
    use organizations::{experts, forms, integration_clients, offices};
    OpenApiRouter::new()
        .merge(organizations::router())
        .merge(offices::router())
        .merge(experts::router())
        .merge(integration_clients::router())
        .merge(forms::router())
        .merge(organizations::submissions::router())
        .merge(organizations::canned_answers::router())
}

/// `/workspaces` and below.
fn workspaces_router() -> OpenApiRouter<AppState> {
    use workspaces::{
        access_log, consent_ledger, consents, export, files, invitations, items, live, members, messages, summary,
        transfer,
    };
    OpenApiRouter::new()
        .merge(workspaces::router())
        .merge(messages::router())
        .merge(access_log::router())
        .merge(members::router())
        .merge(invitations::router())
        .merge(files::router())
        .merge(export::router())
        .merge(live::router())
        .merge(transfer::router())
        .merge(items::router())
        .merge(summary::router())
        .merge(consents::router())
        .merge(consent_ledger::router())
        // rounds: the 3X10D meter's rounds (surveys).
        .merge(workspaces::rounds::router())
}

/// The routes outside `/api/v1`: the browser's logins and the integration clients' tokens.
pub fn browser_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().merge(auth::router()).merge(oauth::router())
}
