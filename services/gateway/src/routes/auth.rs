//! `/auth/…`: the browser's login through identity providers and its logout, outside
//! `/api/v1`; also the browser's `/invitations/{token}`, the invitation mail's link, which
//! starts a login.

use axum::{
    Form, Json,
    extract::{RawQuery, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{Html, IntoResponse, Redirect, Response},
};
use axum_extra::extract::cookie::{Cookie, SameSite};
use ohjaus_platform::{html::escape, i18n::Language, proto::identity::v1 as pb};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;

use crate::{
    docs::routes,
    extract::{ApiPath, ApiQuery, CSRF_COOKIE, CurrentSession, SESSION_COOKIE},
    problem::{ApiError, Problem},
    state::AppState,
};

pub const TAG: &str = "auth";

/// Binds a login under way to the browser that started it.
const LOGIN_COOKIE: &str = "ohjaus_login";

/// Routes outside `/api/v1`: the browser is sent to and from identity providers here.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(login))
        .routes(routes!(invitation_link))
        .routes(routes!(callback))
        .routes(routes!(logout))
        .routes(routes!(logged_out))
        .routes(routes!(list_providers))
        .routes(routes!(saml_metadata))
        .routes(routes!(saml_acs))
        .routes(routes!(saml_slo))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LoginParams {
    /// `customer` (default), `expert` (experts and operators) or `invitation` (a citizen
    /// following an invitation link; needs `invitation`).
    pub intent: Option<String>,
    /// The invitation link's secret, with `intent=invitation`.
    pub invitation: Option<String>,
    /// Path to return to after login.
    pub return_to: Option<String>,
    /// Passed to the provider; the development provider logs this test identity in directly.
    pub login_hint: Option<String>,
    /// `fi`, `sv` or `en`; defaults to `Accept-Language`.
    pub lang: Option<String>,
}

fn language_of(headers: &HeaderMap, explicit: Option<&str>) -> Language {
    explicit
        .and_then(|l| l.parse().ok())
        .unwrap_or_else(|| Language::negotiate(headers.get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok())))
}

/// Start a login: redirects to the identity provider.
#[utoipa::path(get, path = "/auth/login/{provider}", tag = TAG, params(("provider" = String, Path), LoginParams),
    responses((status = 303, description = "To the identity provider"), (status = 400, body = Problem, description = "Malformed query", content_type = "application/problem+json"),
        (status = 404, body = Problem, description = "No such provider", content_type = "application/problem+json"),
        (status = 410, body = Problem, description = "`intent=invitation` with an invitation that is no longer usable", content_type = "application/problem+json"),
        (status = 422, body = Problem, description = "Unknown `intent`", content_type = "application/problem+json")))]
async fn login(
    state: State<AppState>,
    ApiPath(provider): ApiPath<String>,
    headers: HeaderMap,
    ApiQuery(params): ApiQuery<LoginParams>,
) -> Result<Response, ApiError> {
    let mut return_to = params.return_to.unwrap_or_else(|| "/".into());
    let intent = match params.intent.as_deref() {
        None | Some("customer") => pb::LoginIntent::Customer,
        Some("expert") => pb::LoginIntent::Expert,
        // Only a usable invitation lets a person without an account through (the account is
        // made at this login); anything else is an ordinary customer login.
        Some("invitation") => {
            let token = params.invitation.unwrap_or_default();
            if !invitation_usable(&state, &token).await? {
                return Err(ApiError::code(ohjaus_platform::error::ErrorCode::InvitationUnusable));
            }
            return_to = format!("/app/invitations/{token}");
            pb::LoginIntent::Invitation
        }
        Some(_) => return Err(ApiError::invalid("intent", "invalid-role")),
    };
    let language = language_of(&headers, params.lang.as_deref());
    let request = state.as_service(pb::BeginLoginRequest {
        provider_id: provider,
        intent: intent as i32,
        return_to,
        language: language.code().into(),
        login_hint: params.login_hint.unwrap_or_default(),
    });
    let started = state.identity().begin_login(request).await?.into_inner();
    let mut response = Redirect::to(&started.redirect_url).into_response();
    // Only the browser that started the login can finish it (login CSRF).
    if let Ok(value) = HeaderValue::from_str(&login_cookie(started.browser_binding).to_string()) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    Ok(response)
}

/// A small page of ours: `body` is HTML already escaped.
fn page(language: Language, title: &str, body: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"{lang}\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{title}</title></head>\
         <body><main><h1>{title}</h1>{body}</main></body></html>",
        lang = language.code(),
        title = escape(title),
    )
}

/// Whether the workspaces service knows `token` as a pending invitation.
async fn invitation_usable(state: &AppState, token: &str) -> Result<bool, ApiError> {
    if token.is_empty() || token.len() > 100 {
        return Ok(false);
    }
    let request =
        state.as_service(ohjaus_platform::proto::workspaces::v1::CheckInvitationRequest { token: token.into() });
    Ok(state.workspaces().check_invitation(request).await?.into_inner().usable)
}

/// The link in an invitation mail: on to a Suomi.fi login (the only provider, or a choice),
/// or a page saying the link no longer works.
#[utoipa::path(get, path = "/invitations/{token}", tag = TAG, params(("token" = String, Path)),
    responses((status = 303, description = "To the login"), (status = 410, description = "Expired, used or revoked")))]
async fn invitation_link(
    state: State<AppState>,
    ApiPath(token): ApiPath<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let language = language_of(&headers, None);
    if !invitation_usable(&state, &token).await? {
        let detail = format!("<p>{}</p>", escape(&language.text("error-invitation-unusable-detail")));
        let page = page(language, &language.text("error-invitation-unusable-title"), &detail);
        return Ok((StatusCode::GONE, Html(page)).into_response());
    }
    let providers = state.identity().list_providers(state.as_service(pb::ListProvidersRequest {})).await?.into_inner();
    let link = |id: &str| format!("/auth/login/{id}?intent=invitation&invitation={token}&lang={}", language.code());
    match providers.providers.as_slice() {
        [only] => Ok(Redirect::to(&link(&only.id)).into_response()),
        many => {
            let choices = many
                .iter()
                .map(|p| format!("<li><a href=\"{}\">{}</a></li>", escape(&link(&p.id)), escape(&p.display_name)))
                .collect::<String>();
            let body = format!("<ul>{choices}</ul>");
            Ok(Html(page(language, &language.text("login-again"), &body)).into_response())
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CallbackParams {
    pub state: Option<String>,
    pub code: Option<String>,
    pub error: Option<String>,
}

/// The login binding cookie. SameSite=None: a SAML provider returns the browser with a
/// cross-site POST, which would not carry a Lax cookie. It protects nothing by itself being
/// sent: it only has to match the login this browser started.
fn login_cookie(value: String) -> Cookie<'static> {
    Cookie::build((LOGIN_COOKIE, value)).http_only(true).secure(true).same_site(SameSite::None).path("/auth").build()
}

fn session_cookies(token: &str, csrf: &str) -> [HeaderValue; 2] {
    let session = Cookie::build((SESSION_COOKIE, token.to_owned()))
        .http_only(true)
        .secure(true)
        .same_site(SameSite::Lax)
        .path("/")
        .build();
    let csrf = Cookie::build((CSRF_COOKIE, csrf.to_owned()))
        .http_only(false)
        .secure(true)
        .same_site(SameSite::Lax)
        .path("/")
        .build();
    [session, csrf].map(|c| HeaderValue::from_str(&c.to_string()).unwrap_or(HeaderValue::from_static("")))
}

pub(crate) fn cleared_cookies() -> [HeaderValue; 2] {
    [SESSION_COOKIE, CSRF_COOKIE].map(|name| {
        let mut cookie = Cookie::build((name, "")).secure(true).same_site(SameSite::Lax).path("/").build();
        cookie.make_removal();
        HeaderValue::from_str(&cookie.to_string()).unwrap_or(HeaderValue::from_static(""))
    })
}

fn refusal_reason(value: i32) -> &'static str {
    match pb::LoginRefusal::try_from(value).unwrap_or(pb::LoginRefusal::InvalidResponse) {
        pb::LoginRefusal::NoWorkspace => "no-workspace",
        pb::LoginRefusal::UnknownExpert => "unknown-expert",
        pb::LoginRefusal::Suspended => "suspended",
        pb::LoginRefusal::InsufficientAssurance => "insufficient-assurance",
        pb::LoginRefusal::Expired => "expired",
        pb::LoginRefusal::Cancelled => "cancelled",
        pb::LoginRefusal::OtherBrowser => "other-browser",
        pb::LoginRefusal::InvalidResponse | pb::LoginRefusal::Unspecified => "invalid-response",
    }
}

/// A refused login: a page for browsers, a problem document for scripts.
fn refused(reason: &str, language: Language, headers: &HeaderMap) -> Response {
    let title = language.text("login-refused-title");
    let detail = language.text(&format!("login-refused-{reason}"));
    let wants_html = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|a| a.contains("text/html"));
    let language_header = HeaderValue::from_static(language.code());
    if wants_html {
        let body =
            format!("<p>{}</p><p><a href=\"/\">{}</a></p>", escape(&detail), escape(&language.text("login-again")));
        let page = page(language, &title, &body);
        return (StatusCode::FORBIDDEN, [(header::CONTENT_LANGUAGE, language_header)], Html(page)).into_response();
    }
    let body = json!({
        "type": format!("urn:ohjaus:problem:login-refused:{reason}"),
        "title": title,
        "status": 403,
        "detail": detail,
        "reason": reason,
    });
    (
        StatusCode::FORBIDDEN,
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json")),
            (header::CONTENT_LANGUAGE, language_header),
        ],
        body.to_string(),
    )
        .into_response()
}

/// Where the identity provider returns the browser (OpenID Connect redirect URI).
#[utoipa::path(get, path = "/auth/callback/{provider}", tag = TAG, params(("provider" = String, Path), CallbackParams),
    responses((status = 303, description = "Logged in: session cookie set, back to the application"),
        (status = 400, body = Problem, description = "Malformed query", content_type = "application/problem+json"),
        (status = 403, body = Problem, description = "Login refused, with a localized reason", content_type = "application/problem+json"),
        (status = 404, body = Problem, description = "No such provider", content_type = "application/problem+json")))]
async fn callback(
    state: State<AppState>,
    ApiPath(provider): ApiPath<String>,
    headers: HeaderMap,
    ApiQuery(params): ApiQuery<CallbackParams>,
) -> Result<Response, ApiError> {
    let request = pb::CompleteLoginRequest {
        provider_id: provider,
        state: params.state.unwrap_or_default(),
        code: params.code.unwrap_or_default(),
        error: params.error.unwrap_or_default(),
        ..Default::default()
    };
    finish_login(&state, &headers, request).await
}

/// Completes a login with the provider's answer: the session cookies and back to the
/// application, or a localized refusal.
async fn finish_login(
    state: &AppState,
    headers: &HeaderMap,
    mut request: pb::CompleteLoginRequest,
) -> Result<Response, ApiError> {
    let jar = axum_extra::extract::CookieJar::from_headers(headers);
    request.browser_binding = jar.get(LOGIN_COOKIE).map(|c| c.value().to_owned()).unwrap_or_default();
    let result = state.identity().complete_login(state.as_service(request)).await?.into_inner();
    let language = result.language.parse().unwrap_or_else(|_| language_of(headers, None));
    let mut response = if result.session_token.is_empty() {
        refused(refusal_reason(result.refusal), language, headers)
    } else {
        Redirect::to(&result.return_to).into_response()
    };
    // The login is over either way: its binding cookie goes.
    let mut spent = login_cookie(String::new());
    spent.make_removal();
    if let Ok(value) = HeaderValue::from_str(&spent.to_string()) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    if result.session_token.is_empty() {
        return Ok(response);
    }
    for cookie in session_cookies(&result.session_token, &result.csrf_token) {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    Ok(response)
}

/// Our SAML service provider metadata for one provider (give it to the provider's administrators).
#[utoipa::path(get, path = "/auth/saml/metadata/{provider}", tag = TAG, params(("provider" = String, Path)),
    responses((status = 200, description = "SAML 2.0 metadata", content_type = "application/samlmetadata+xml"),
        (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn saml_metadata(state: State<AppState>, ApiPath(provider): ApiPath<String>) -> Result<Response, ApiError> {
    let request = state.as_service(pb::SamlMetadataRequest { provider_id: provider });
    let metadata = state.identity().saml_metadata(request).await?.into_inner();
    Ok(([(header::CONTENT_TYPE, "application/samlmetadata+xml")], metadata.xml).into_response())
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct SamlPost {
    #[serde(rename = "SAMLResponse")]
    pub saml_response: String,
    #[serde(rename = "RelayState")]
    pub relay_state: Option<String>,
}

/// SAML assertion consumer service (HTTP-POST binding): the provider's answer to a login.
#[utoipa::path(post, path = "/auth/saml/acs/{provider}", tag = TAG, params(("provider" = String, Path)),
    request_body(content = SamlPost, content_type = "application/x-www-form-urlencoded"),
    responses((status = 303, description = "Logged in: session cookie set, back to the application"),
        (status = 400, body = Problem, description = "A form that cannot be read", content_type = "application/problem+json"),
        (status = 403, body = Problem, description = "Login refused, with a localized reason", content_type = "application/problem+json"),
        (status = 404, body = Problem, description = "No such provider", content_type = "application/problem+json"),
        (status = 415, body = Problem, description = "Not a form (`application/x-www-form-urlencoded`)", content_type = "application/problem+json"),
        (status = 422, body = Problem, description = "The form lacks `SAMLResponse`", content_type = "application/problem+json")))]
async fn saml_acs(
    state: State<AppState>,
    ApiPath(provider): ApiPath<String>,
    headers: HeaderMap,
    Form(form): Form<SamlPost>,
) -> Result<Response, ApiError> {
    let request = pb::CompleteLoginRequest {
        provider_id: provider,
        state: form.relay_state.unwrap_or_default(),
        saml_response: form.saml_response,
        ..Default::default()
    };
    finish_login(&state, &headers, request).await
}

/// SAML single logout (HTTP-Redirect binding), both directions: the provider's LogoutRequest
/// (the user logged out elsewhere; their sessions here end) or its answer to ours.
#[utoipa::path(get, path = "/auth/saml/slo/{provider}", tag = TAG, params(("provider" = String, Path)),
    responses((status = 303, description = "To the provider with our answer, or to the logged-out page"),
        (status = 404, body = Problem, description = "No such provider", content_type = "application/problem+json"),
        (status = 422, body = Problem, description = "The message is invalid or unsigned", content_type = "application/problem+json")))]
async fn saml_slo(
    state: State<AppState>,
    ApiPath(provider): ApiPath<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let request =
        state.as_service(pb::SamlLogoutRequest { provider_id: provider, raw_query: query.unwrap_or_default() });
    let result = state.identity().saml_logout(request).await?.into_inner();
    let mut response = Redirect::to(&result.redirect_url).into_response();
    for cookie in cleared_cookies() {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    Ok(response)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LoggedOut {
    /// Where to send the browser to log out at the identity provider too (single logout).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider_logout_url: Option<String>,
}

/// Log out: ends the session here and gives the provider's logout address. Needs `X-CSRF-Token`.
#[utoipa::path(post, path = "/auth/logout", tag = TAG,
    responses((status = 200, body = LoggedOut), (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json")),
    security(("session" = [], "csrf" = [])))]
async fn logout(state: State<AppState>, session: CurrentSession) -> Result<Response, ApiError> {
    let request = state.as_service(pb::LogoutRequest { session_token: session.token });
    let result = state.identity().logout(request).await?.into_inner();
    let url = Some(result.provider_logout_url).filter(|u| !u.is_empty());
    let mut response = Json(LoggedOut { provider_logout_url: url }).into_response();
    for cookie in cleared_cookies() {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    Ok(response)
}

/// Where the identity provider returns the browser after single logout.
#[utoipa::path(get, path = "/auth/logged-out", tag = TAG, responses((status = 200, description = "Logged out")))]
async fn logged_out(headers: HeaderMap) -> Response {
    let language = language_of(&headers, None);
    let mut response = Html(format!(
        "<!doctype html>\n<html lang=\"{}\"><head><meta charset=\"utf-8\"><title>Ohjaus</title></head><body><main><p>{}</p></main></body></html>",
        language.code(),
        escape(&language.text("logged-out"))
    ))
    .into_response();
    for cookie in cleared_cookies() {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProviderInfo {
    pub id: String,
    pub display_name: String,
    pub protocol: String,
}

/// Identity providers a login page can offer.
#[utoipa::path(get, path = "/auth/providers", tag = TAG, operation_id = "providers", responses((status = 200, body = Vec<ProviderInfo>)))]
async fn list_providers(state: State<AppState>) -> Result<Json<Vec<ProviderInfo>>, ApiError> {
    let list = state.identity().list_providers(state.as_service(pb::ListProvidersRequest {})).await?.into_inner();
    Ok(Json(
        list.providers
            .into_iter()
            .map(|p| ProviderInfo { id: p.id, display_name: p.display_name, protocol: p.protocol })
            .collect(),
    ))
}
