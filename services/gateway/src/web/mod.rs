//! The project's own web frontend: server-rendered pages (askama templates in `templates/`)
//! that work without JavaScript, in Finnish, Swedish and English, on GOV.UK Frontend's
//! patterns re-styled with the Finnish public-sector design tokens (`assets/`, vendored).
//!
//! Pages call the services through the same gRPC clients and principals as the JSON routes, so
//! there is one authorization path: a foreign workspace is "not found" here as there, and every
//! read lands in the access log. Sessions are the same cookies; an unsafe request carries the
//! session's CSRF token in a form field instead of a header.

mod account;
mod consents;
pub(crate) mod forms;
mod guidance;
mod invitations;
mod messages;
mod operator;
mod organisation;
// contact forms: the advisors' queue, canned answers and the form editor
mod form_editor;
mod queue;
// rounds: the 3X10D meter's pages.
mod rounds;
mod shell;
mod workspaces;
// Reports (issue 15).
mod reports;

use axum::{
    Form, Router,
    extract::{DefaultBodyLimit, State},
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Redirect, Response},
    routing::{get, post},
};
use ohjaus_platform::{i18n::Language, proto::identity::v1 as identity_pb};
use serde::Deserialize;
use tower_http::set_header::SetResponseHeaderLayer;

pub use shell::Visitor;
use shell::{Shell, Texts};

use crate::{routes::auth::cleared_cookies, state::AppState};

/// Pages may load our own stylesheet and script, read from us (the live stream, fragments) and
/// post forms to us; nothing else, from nowhere else, and no inline script.
const PAGE_CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self'; script-src 'self'; connect-src 'self'; \
     form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/// The compiled stylesheet (`assets/refresh.sh` rebuilds it from its pinned sources).
const STYLESHEET: &str = include_str!("../../assets/ohjaus.css");

/// The pages' own script: live updates, sending without a reload, the session-expiry warning.
const SCRIPT: &str = include_str!("../../assets/ohjaus.js");

/// The API reference's viewer, Scalar's browser bundle (vendored by `assets/refresh.sh`).
const API_VIEWER: &str = include_str!("../../assets/scalar-api-reference.js");

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(front))
        .route("/app", get(workspaces::list))
        .route("/app/workspaces/new", get(workspaces::new_form).post(workspaces::create))
        .route("/app/workspaces/{id}", get(workspaces::show))
        .route("/app/workspaces/{id}/messages", post(messages::send).layer(DefaultBodyLimit::disable()))
        .route("/app/workspaces/{id}/messages/{message}", get(messages::fragment))
        .route("/app/workspaces/{id}/consents/new", get(consents::new_form))
        .route("/app/workspaces/{id}/consents", post(consents::propose))
        .route("/app/workspaces/{id}/guidance", get(guidance::show))
        .route("/app/workspaces/{id}/items", post(guidance::create))
        .route("/app/workspaces/{id}/items/{item}/done", post(guidance::set_done))
        .route("/app/workspaces/{id}/summary", post(guidance::put_summary))
        .route("/app/workspaces/{id}/{action}", post(workspaces::change_state))
        .route("/app/notifications", get(account::notifications))
        .route("/app/notifications/read", post(account::read_all))
        .route("/app/sessions", get(account::sessions))
        .route("/app/sessions/{id}/end", post(account::end_session))
        .route("/app/organisations/{id}", get(organisation::show))
        .route("/app/organisations/{id}/offices", post(organisation::add_office))
        .route("/app/organisations/{id}/handover", post(organisation::hand_over))
        .route("/app/organisations/{id}/clients", post(organisation::add_client))
        .route("/app/organisations/{id}/clients/{client}/revoke", post(organisation::revoke_client))
        .route("/app/operator", get(operator::show))
        .route("/app/operator/organisations", post(operator::create))
        .route("/app/operator/organisations/{id}/{status}", post(operator::set_status))
        .route("/app/session", get(session_state))
        .route("/app/workspaces/{id}/invitations", post(workspaces::invite))
        .route("/app/workspaces/{id}/access-log", get(workspaces::access_log))
        .route("/app/consents/{request}/{decision}", post(workspaces::decide))
        .route("/app/invitations/{token}", get(invitations::landing).post(invitations::accept))
        .route("/app/logout", post(logout))
        // web: guidance items changed and removed; the organisation's forms (registry data,
        // offices, experts' roles and listing)
        .route("/app/workspaces/{id}/items/{item}/edit", get(guidance::edit_form))
        .route("/app/workspaces/{id}/items/{item}", post(guidance::update))
        .route("/app/workspaces/{id}/items/{item}/delete", post(guidance::delete))
        .route("/app/organisations/{id}/offices/{office}", post(organisation::rename_office))
        .route("/app/organisations/{id}/experts/{expert}", get(organisation::expert))
        .route("/app/organisations/{id}/experts/{expert}/roles", post(organisation::set_roles))
        .route("/app/organisations/{id}/experts/{expert}/listing", post(organisation::set_listing))
        .route("/app/operator/organisations/{id}", get(operator::edit_form).post(operator::update))
        // contact forms: the advisors' queue, canned answers and the form editor
        .route("/app/organisations/{id}/queue", get(queue::list))
        .route("/app/submissions/{id}", get(queue::show))
        .route("/app/submissions/{id}/{action}", post(queue::act))
        .route("/app/organisations/{id}/canned-answers", get(queue::canned).post(queue::create_canned))
        .route("/app/organisations/{id}/canned-answers/{canned}/delete", post(queue::delete_canned))
        .route("/app/organisations/{id}/forms", get(form_editor::list).post(form_editor::create))
        .route("/app/organisations/{id}/forms/{form}", get(form_editor::edit).post(form_editor::update))
        .route("/app/organisations/{id}/forms/{form}/{publish}", post(form_editor::set_published))
        // rounds: the 3X10D meter (ask, answer, one round, the change between two).
        .route("/app/workspaces/{id}/rounds", get(rounds::list).post(rounds::ask))
        .route("/app/workspaces/{id}/rounds/change", get(rounds::change))
        .route("/app/workspaces/{id}/rounds/{round}", get(rounds::show).post(rounds::answer))
        // Reports (issue 15).
        .route("/app/reports", get(reports::show))
        .layer(SetResponseHeaderLayer::overriding(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(PAGE_CSP)))
        .route("/assets/ohjaus.css", get(stylesheet))
        .route("/assets/ohjaus.js", get(script))
        .route("/assets/scalar-api-reference.js", get(api_viewer))
        .merge(forms::router())
}

async fn api_viewer() -> Response {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8"), (header::CACHE_CONTROL, "public, max-age=3600")],
        API_VIEWER,
    )
        .into_response()
}

async fn script() -> Response {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8"), (header::CACHE_CONTROL, "public, max-age=3600")],
        SCRIPT,
    )
        .into_response()
}

/// The session's end as the expiry warning reads it (`{"expires_at": …}`); reading it counts as
/// using the session, so it is how the warning's "continue" keeps the session alive.
async fn session_state(visitor: Visitor) -> Response {
    let Some(expires_at) = visitor.session_expires() else {
        return visitor.finish(StatusCode::UNAUTHORIZED.into_response());
    };
    let answer = axum::Json(serde_json::json!({ "expires_at": expires_at }));
    visitor.finish(([(header::CACHE_CONTROL, "no-store")], answer).into_response())
}

async fn stylesheet() -> Response {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8"), (header::CACHE_CONTROL, "public, max-age=3600")], STYLESHEET)
        .into_response()
}

/// One way to log in, as the front page offers it.
struct Login {
    href: String,
    label: String,
}

#[derive(askama::Template)]
#[template(path = "front.html")]
struct FrontPage {
    shell: Shell,
    customer_logins: Vec<Login>,
    expert_logins: Vec<Login>,
    development: bool,
}

/// The front page: log in as a customer (Suomi.fi) or as an expert (Virtu); a person already
/// logged in goes on to their workspaces.
async fn front(State(state): State<AppState>, visitor: Visitor) -> Response {
    if visitor.session.is_some() {
        return visitor.finish(Redirect::to("/app").into_response());
    }
    let t = Texts(visitor.language);
    let providers = match state.identity().list_providers(state.as_service(identity_pb::ListProvidersRequest {})).await
    {
        Ok(providers) => providers.into_inner().providers,
        Err(status) => return visitor.failure(crate::problem::ApiError::from(status)),
    };
    let lang = visitor.language.code();
    let login = |provider: &str, intent: &str, label: String| Login {
        href: format!("/auth/login/{provider}?intent={intent}&return_to=/app&lang={lang}"),
        label,
    };
    let named = |key: &str, p: &identity_pb::Provider| {
        if providers.len() == 1 { t.get(key) } else { format!("{} ({})", t.get(key), p.display_name) }
    };
    let customer_logins = providers.iter().map(|p| login(&p.id, "customer", named("web-login-customer", p))).collect();
    let expert_logins = providers.iter().map(|p| login(&p.id, "expert", named("web-login-expert", p))).collect();
    let development = providers.iter().any(|p| p.id == "dev");
    let page =
        FrontPage { shell: visitor.shell(t.get("web-front-title")), customer_logins, expert_logins, development };
    visitor.render(StatusCode::OK, &page)
}

#[derive(Deserialize)]
struct CsrfForm {
    #[serde(default)]
    csrf_token: String,
}

/// Logs out here; a page says so and links to the provider's own logout when it has one (a
/// redirect there would be a cross-origin form target, which the pages' CSP does not allow).
async fn logout(State(state): State<AppState>, visitor: Visitor, Form(form): Form<CsrfForm>) -> Response {
    let Some(session) = visitor.session_with_csrf(&form.csrf_token) else {
        return visitor.finish(Redirect::to("/").into_response());
    };
    let request = state.as_service(identity_pb::LogoutRequest { session_token: session.token.clone() });
    let provider_logout = match state.identity().logout(request).await {
        Ok(answer) => Some(answer.into_inner().provider_logout_url).filter(|u| !u.is_empty()),
        Err(status) => return visitor.failure(crate::problem::ApiError::from(status)),
    };
    let t = Texts(visitor.language);
    let link = provider_logout.map(|href| (href, t.get("web-logout-provider")));
    let visitor = visitor.logged_out();
    let mut response = visitor.notice(StatusCode::OK, t.get("web-logged-out"), String::new(), link);
    for cookie in cleared_cookies() {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}

/// A language's name in itself, as the language links show it.
pub fn language_name(language: Language) -> &'static str {
    match language {
        Language::Fi => "suomi",
        Language::Sv => "svenska",
        Language::En => "English",
    }
}
