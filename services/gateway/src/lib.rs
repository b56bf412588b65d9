//! The HTTP gateway: the JSON API for frontends and integrators under `/api/v1`, with its
//! OpenAPI 3.1 description at `/openapi.json` and a docs page at `/docs`, and the project's own
//! web pages ([`web`]: `/` and `/app/...`).
//!
//! It authenticates callers, turns them into a
//! [`Principal`](ohjaus_platform::auth::Principal) and calls the services over gRPC; every
//! service still enforces its own rules. Errors are localized problem documents.

pub mod client_address;
pub mod docs;
pub mod edge;
pub mod extract;
pub mod ids;
pub mod live;
pub mod problem;
pub mod routes;
pub mod server;
pub mod state;
pub mod views;
pub mod web;

pub use state::{AppState, ReadinessCheck};

use std::{net::SocketAddr, sync::Arc};

use axum::{
    Router,
    extract::{ConnectInfo, DefaultBodyLimit, Request, State},
    http::{HeaderName, HeaderValue, StatusCode, header},
    middleware::{self, Next},
    response::{Html, IntoResponse, Response},
    routing::get,
};
use ohjaus_platform::{config::Settings, error::ErrorCode, telemetry};
use tokio_util::sync::CancellationToken;
use tower_http::{
    request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer},
    set_header::SetResponseHeaderLayer,
    trace::TraceLayer,
};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;

use crate::problem::ApiError;

#[derive(OpenApi)]
#[openapi(
    info(title = "Ohjaus API", description = "Secure online guidance by public organisations.", license(name = "EUPL-1.2")),
    servers((url = "/api/v1")),
    modifiers(&SecuritySchemes),
    components(schemas(problem::Problem, problem::ProblemField)),
    tags((name = "organizations", description = "Organisations, offices, experts and integration clients"),
         (name = "auth", description = "Login, logout, sessions, who am I, client credentials"),
         (name = "workspaces", description = "Guided workspaces, messages and the access log"),
         (name = "guidance", description = "Phases, tasks, events, notes and the summary of a workspace"),
         (name = "consent", description = "Multi-professional guidance: consent requests, decisions and the consent ledger"),
         (name = "forms", description = "Contact forms of an organisation"),
         (name = "surveys", description = "The 3X10D life-situation meter: its instruments (versioned data)"),
         (name = "public", description = "No login needed"),
         (name = "admin", description = "The operator's records: the evidence of retention's deletions"))
)]
struct ApiDoc;

struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        docs::add_security_schemes(openapi.components.get_or_insert_with(Default::default));
    }
}

/// The OpenAPI document (also printed by `ohjaus openapi`).
pub fn openapi() -> utoipa::openapi::OpenApi {
    full_spec()
}

/// `/api/v1` paths plus the browser login paths (with their full path, outside the server prefix).
fn full_spec() -> utoipa::openapi::OpenApi {
    let mut spec = api_router().split_for_parts().1;
    let (_, auth) = auth_router().split_for_parts();
    for (path, item) in auth.paths.paths {
        let mut item = item;
        item.servers = Some(vec![utoipa::openapi::server::Server::new("/")]);
        spec.paths.paths.insert(path, item);
    }
    if let (Some(components), Some(extra)) = (spec.components.as_mut(), auth.components) {
        components.schemas.extend(extra.schemas);
    }
    for name in docs::schema_name_clashes() {
        tracing::error!(%name, "two different schemas are documented under one name");
    }
    spec
}

/// The browser-facing login routes, outside `/api/v1`.
fn auth_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi()).merge(routes::browser_router())
}

fn api_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi()).merge(routes::api_router()).merge(
        routes::public::router()
            .layer(middleware::from_fn(|req, next| async move { rate_limit_public(req, next).await })),
    )
}

/// The whole HTTP application.
pub fn app(state: AppState, settings: &Settings) -> Router {
    let (api, _) = api_router().split_for_parts();
    let (auth, _) = auth_router().split_for_parts();
    let spec = full_spec();
    let spec_json = Arc::new(spec.to_pretty_json().unwrap_or_default());
    let docs = utoipa_scalar::Scalar::new(spec).custom_html(DOCS_HTML).to_html();
    let request_id = HeaderName::from_static("x-request-id");
    let api = api.route_layer(middleware::from_fn_with_state(state.clone(), public_state_layer));
    let router = Router::new()
        .nest("/api/v1", api)
        .merge(auth)
        .route(
            "/openapi.json",
            get(move || async move { ([(header::CONTENT_TYPE, "application/json")], spec_json.as_ref().clone()) }),
        )
        .route("/docs", get(move || async move { ([(header::CONTENT_SECURITY_POLICY, DOCS_CSP)], Html(docs)) }))
        .merge(web::router())
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .fallback(|| async { ApiError::code(ErrorCode::NotFound) })
        .with_state(state)
        .layer(DefaultBodyLimit::max(settings.gateway.body_limit_bytes))
        .layer(middleware::from_fn_with_state(request_limits(settings), edge::bound_requests))
        .layer(middleware::from_fn(problem::render_problems))
        .layer(middleware::from_fn(record_metrics));
    with_security_headers(router)
        .layer(TraceLayer::new_for_http().make_span_with(|request: &Request| {
            // The path holds ids only; the query string is left out on purpose.
            let id = request.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("");
            let span =
                tracing::info_span!("http", method = %request.method(), path = %request.uri().path(), request_id = %id);
            // Continue the caller's trace (W3C `traceparent`) when it sends one.
            telemetry::set_parent(&span, telemetry::extract_trace_context(request.headers()));
            span
        }))
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
}

fn request_limits(settings: &Settings) -> edge::RequestLimits {
    // usize to u64 is lossless on every target Rust supports.
    let json = settings.gateway.body_limit_bytes as u64;
    edge::RequestLimits {
        body_timeout: settings.gateway.body_timeout().std(),
        request_timeout: settings.gateway.request_timeout().std(),
        largest_body: json.max(settings.files.max_bytes),
    }
}

/// Passes state to the public rate limiter (it runs as a plain middleware).
async fn public_state_layer(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    request.extensions_mut().insert(state);
    next.run(request).await
}

async fn rate_limit_public(request: Request, next: Next) -> Response {
    let ip = request.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
    if let (Some(state), Some(ip)) = (request.extensions().get::<AppState>(), ip)
        && state.public_limiter.check_key(&ip).is_err()
    {
        metrics::counter!("ohjaus_http_rate_limited_total").increment(1);
        return ApiError::code(ErrorCode::RateLimited).into_response();
    }
    next.run(request).await
}

async fn record_metrics(request: Request, next: Next) -> Response {
    let started = std::time::Instant::now();
    let method = request.method().to_string();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    metrics::counter!("ohjaus_http_requests_total", "method" => method.clone(), "status" => status).increment(1);
    metrics::histogram!("ohjaus_http_request_seconds", "method" => method).record(started.elapsed().as_secs_f64());
    response
}

/// Headers every response carries unless a handler set its own (the docs page sets its CSP).
fn with_security_headers(router: Router) -> Router {
    let set = |name: HeaderName, value: &'static str| {
        SetResponseHeaderLayer::if_not_present(name, HeaderValue::from_static(value))
    };
    router
        .layer(set(header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .layer(set(header::X_FRAME_OPTIONS, "DENY"))
        .layer(set(header::REFERRER_POLICY, "no-referrer"))
        .layer(set(header::STRICT_TRANSPORT_SECURITY, "max-age=63072000; includeSubDomains"))
        .layer(set(header::CONTENT_SECURITY_POLICY, "default-src 'none'; frame-ancestors 'none'"))
        .layer(set(header::CACHE_CONTROL, "no-store"))
}

/// The docs page runs the Scalar viewer we serve ourselves (`assets/scalar-api-reference.js`,
/// vendored): scripts only from us, no inline script; the viewer sets its styles inline.
const DOCS_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; font-src 'self' data:; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'";

const DOCS_HTML: &str = r#"<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Ohjaus API</title><meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body>
<noscript>The interactive reference needs JavaScript. The OpenAPI document is at <a href="/openapi.json">/openapi.json</a>.</noscript>
<script id="api-reference" type="application/json" data-configuration='{"withDefaultFonts":false,"hideClientButton":true}'>$spec</script>
<script src="/assets/scalar-api-reference.js"></script>
</body>
</html>"#;

async fn readyz(State(state): State<AppState>) -> Response {
    let mut failures = Vec::new();
    for (name, check) in &state.readiness {
        if let Err(error) = check().await {
            tracing::warn!(dependency = %name, %error, "not ready");
            failures.push(name.clone());
        }
    }
    if failures.is_empty() {
        (StatusCode::OK, "ready").into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::CONTENT_TYPE, "text/plain")],
            format!("not ready: {}", failures.join(", ")),
        )
            .into_response()
    }
}

/// Serves the gateway on a bound listener until `shutdown`, under the connection limits of
/// `settings` (see [`server`]).
pub fn serve(
    app: Router,
    listener: tokio::net::TcpListener,
    settings: &Settings,
    shutdown: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    let limits = server::ConnectionLimits {
        header_timeout: settings.gateway.header_timeout().std(),
        idle_timeout: settings.gateway.idle_timeout().std(),
        max_connections: settings.gateway.max_connections,
    };
    server::serve(app, listener, limits, shutdown)
}
