//! Request extractors: the caller, JSON bodies with problem errors, `If-Match`,
//! `Idempotency-Key`, pagination parameters.

use axum::{
    extract::{FromRequest, FromRequestParts, Request, rejection::JsonRejection},
    http::{HeaderMap, Method, request::Parts},
};
use base64::{Engine, engine::general_purpose::STANDARD};
use ohjaus_platform::{
    auth::{Audience, Membership, Principal, Role},
    error::{ErrorCode, Failure, FieldViolation},
    proto::{
        identity::v1::{ResolveSessionRequest, ResolvedSession},
        tenants::v1 as pb,
    },
};
use serde::{Deserialize, de::DeserializeOwned};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use utoipa::IntoParams;

use crate::{ids::service_id, problem::ApiError, state::AppState};

/// The authenticated caller.
///
/// A browser sends its session cookie. Otherwise `Authorization: Bearer <token>` carries the
/// operator's bootstrap API token or a short-lived access token signed with the platform keys
/// (client credentials); integration clients may also send their credentials as HTTP Basic
/// (`client_id:secret`).
#[derive(Debug, Clone)]
pub struct Caller(pub Principal);

/// The browser session behind a request, when it came with a session cookie.
#[derive(Debug, Clone)]
pub struct CurrentSession {
    pub token: String,
    pub resolved: ResolvedSession,
}

pub const SESSION_COOKIE: &str = "ohjaus_session";
pub const CSRF_COOKIE: &str = "ohjaus_csrf";
pub const CSRF_HEADER: &str = "x-csrf-token";

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        if let Some(session) = session_of(parts, state).await? {
            return principal_of_session(&session.resolved).map(Caller);
        }
        let header = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .ok_or(ApiError::code(ErrorCode::Unauthenticated))?;
        if let Some(token) = header.strip_prefix("Bearer ") {
            let presented = Sha256::digest(token.trim().as_bytes());
            if let Some(expected) = &state.operator_token_hash
                && bool::from(presented.as_slice().ct_eq(expected.as_slice()))
            {
                return Ok(Caller(Principal::Operator { subject: "bootstrap-operator".into() }));
            }
            // A short-lived access token signed with the platform's keys (issued by the
            // identity service to integration clients).
            return state
                .keys
                .verify_for(token.trim(), Audience::Api)
                .map(Caller)
                .map_err(|_| ApiError::code(ErrorCode::Unauthenticated));
        }
        if let Some(encoded) = header.strip_prefix("Basic ") {
            let decoded = STANDARD.decode(encoded.trim()).map_err(|_| ApiError::code(ErrorCode::Unauthenticated))?;
            let decoded = String::from_utf8(decoded).map_err(|_| ApiError::code(ErrorCode::Unauthenticated))?;
            let (client_id, secret) = decoded.split_once(':').ok_or(ApiError::code(ErrorCode::Unauthenticated))?;
            let request = state.as_service(pb::AuthenticateIntegrationClientRequest {
                client_id: client_id.to_owned(),
                secret: secret.to_owned(),
            });
            let client = state.tenants().authenticate_integration_client(request).await.map_err(|status| {
                let failure = Failure::from_status(&status);
                match failure.code {
                    ErrorCode::Unavailable | ErrorCode::Internal | ErrorCode::OrganizationSuspended => {
                        ApiError(failure)
                    }
                    _ => ApiError::code(ErrorCode::Unauthenticated),
                }
            })?;
            let client = client.into_inner();
            let (client_id, tenant_id) = (service_id(&client.client_id)?, service_id(&client.organization_id)?);
            return Ok(Caller(Principal::IntegrationClient { client_id, tenant_id, scopes: client.scopes }));
        }
        Err(ApiError::code(ErrorCode::Unauthenticated))
    }
}

impl FromRequestParts<AppState> for CurrentSession {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        session_of(parts, state).await?.ok_or(ApiError::code(ErrorCode::Unauthenticated))
    }
}

/// The session of the request's cookie, checked with the identity service on every request
/// so that ending a session takes effect on every gateway replica at once. Unsafe methods
/// must echo the session's CSRF token in `X-CSRF-Token`.
async fn session_of(parts: &mut Parts, state: &AppState) -> Result<Option<CurrentSession>, ApiError> {
    if let Some(found) = parts.extensions.get::<CurrentSession>() {
        return Ok(Some(found.clone()));
    }
    let Some(session) = cookie_session(&parts.headers, state).await? else { return Ok(None) };
    let unsafe_method = !matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS);
    if unsafe_method {
        let presented = parts.headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok()).unwrap_or("");
        if !csrf_matches(&session, presented) {
            return Err(ApiError::code(ErrorCode::CsrfRejected));
        }
    }
    parts.extensions.insert(session.clone());
    Ok(Some(session))
}

/// The live session of the request's session cookie, if it has one; the caller checks CSRF
/// (the JSON API by header, the web pages by a form field).
pub async fn cookie_session(headers: &HeaderMap, state: &AppState) -> Result<Option<CurrentSession>, ApiError> {
    let jar = axum_extra::extract::CookieJar::from_headers(headers);
    let Some(token) = jar.get(SESSION_COOKIE).map(|c| c.value().to_owned()).filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    let request = state.as_service(ResolveSessionRequest { session_token: token.clone() });
    let resolved = match state.identity().resolve_session(request).await {
        Ok(response) => response.into_inner(),
        Err(status) => {
            let failure = Failure::from_status(&status);
            return Err(match failure.code {
                ErrorCode::Unavailable | ErrorCode::Internal => ApiError(failure),
                _ => ApiError::code(ErrorCode::Unauthenticated),
            });
        }
    };
    Ok(Some(CurrentSession { token, resolved }))
}

/// Whether `presented` is the session's CSRF token (compared in constant time).
pub fn csrf_matches(session: &CurrentSession, presented: &str) -> bool {
    !presented.is_empty() && bool::from(presented.as_bytes().ct_eq(session.resolved.csrf_token.as_bytes()))
}

/// The principal a resolved session stands for.
pub fn principal_of_session(resolved: &ResolvedSession) -> Result<Principal, ApiError> {
    Ok(match resolved.kind.as_str() {
        "operator" => Principal::Operator { subject: resolved.subject.clone() },
        "customer" => Principal::Customer { customer_id: service_id(&resolved.subject)? },
        "expert" => Principal::Expert {
            person_id: service_id(&resolved.subject)?,
            memberships: resolved
                .memberships
                .iter()
                .map(|m| {
                    Ok(Membership {
                        tenant_id: service_id(&m.organization_id)?,
                        roles: m.roles.iter().filter_map(|r| Role::parse(r)).collect(),
                    })
                })
                .collect::<Result<_, ApiError>>()?,
        },
        _ => return Err(ApiError::code(ErrorCode::Internal)),
    })
}

/// A JSON body; a malformed, oversized or non-JSON body is a localized problem. One announced
/// larger than the limit is refused before it is read.
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        crate::edge::announced_within(request.headers(), state.json_limit)?;
        match axum::Json::<T>::from_request(request, state).await {
            Ok(axum::Json(value)) => Ok(ApiJson(value)),
            Err(rejection) => Err(json_rejection(&rejection)),
        }
    }
}

fn json_rejection(rejection: &JsonRejection) -> ApiError {
    match rejection.status().as_u16() {
        413 => ApiError::code(ErrorCode::PayloadTooLarge),
        415 => ApiError::code(ErrorCode::UnsupportedMediaType),
        _ => {
            let violation = match rejection {
                JsonRejection::JsonDataError(e) => data_error_violation(&e.body_text()),
                _ => FieldViolation::new("body", "field-malformed-json"),
            };
            ApiError(Failure { code: ErrorCode::MalformedRequest, violations: vec![violation] })
        }
    }
}

/// Names the offending field of a body that is JSON but not of the expected shape, from
/// serde's message (`<path>: <error>`), without echoing any input value.
fn data_error_violation(text: &str) -> FieldViolation {
    let rest = text.strip_prefix("Failed to deserialize the JSON body into the target type: ").unwrap_or("");
    let (path, error) = rest.split_once(": ").unwrap_or(("", rest));
    if let Some(missing) = error.strip_prefix("missing field `").and_then(|m| m.split('`').next()) {
        let field = if path.is_empty() || path == "." { missing.to_owned() } else { format!("{path}.{missing}") };
        return FieldViolation::new(field, "field-required");
    }
    let valid_path = !path.is_empty()
        && path != "."
        && path.len() < 100
        && path.chars().all(|c| c.is_ascii_alphanumeric() || "._[]".contains(c));
    FieldViolation::new(if valid_path { path } else { "body" }, "field-malformed-json")
}

/// The version an update is based on, from `If-Match: "<version>"`. Required.
pub fn if_match(headers: &HeaderMap) -> Result<i64, ApiError> {
    let value = headers
        .get(axum::http::header::IF_MATCH)
        .ok_or(ApiError::code(ErrorCode::PreconditionRequired))?
        .to_str()
        .map_err(|_| ApiError::code(ErrorCode::VersionMismatch))?;
    value
        .trim()
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .and_then(|v| v.parse::<i64>().ok())
        .filter(|v| *v > 0)
        .ok_or(ApiError::code(ErrorCode::VersionMismatch))
}

/// The strong entity tag of a versioned resource.
pub fn etag(version: i64) -> String {
    format!("\"{version}\"")
}

/// The `Idempotency-Key` of a creating POST, if any.
pub fn idempotency_key(headers: &HeaderMap) -> Result<String, ApiError> {
    match headers.get("idempotency-key") {
        None => Ok(String::new()),
        Some(value) => {
            let key = value.to_str().map_err(|_| ApiError::invalid("Idempotency-Key", "field-too-long"))?.trim();
            if key.is_empty() || key.len() > 200 {
                return Err(ApiError::invalid("Idempotency-Key", "field-too-long"));
            }
            Ok(key.to_owned())
        }
    }
}

/// Cursor pagination parameters.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// Items per page, 1–100 (default 50).
    pub page_size: Option<i32>,
    /// `next_page_token` of the previous page.
    pub page_token: Option<String>,
}

impl PageParams {
    pub fn size(&self) -> i32 {
        self.page_size.unwrap_or(0)
    }
    pub fn token(&self) -> String {
        self.page_token.clone().unwrap_or_default()
    }
}

/// Query string parse failures as problems.
#[derive(Debug)]
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::from_request_parts(parts, state).await.map(|q| ApiQuery(q.0)).map_err(|_| {
            ApiError(Failure {
                code: ErrorCode::MalformedRequest,
                violations: vec![FieldViolation::new("query", "field-malformed-json")],
            })
        })
    }
}

/// Path parameters; a malformed path is "not found", since it names nothing.
#[derive(Debug)]
pub struct ApiPath<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|p| ApiPath(p.0))
            .map_err(|_| ApiError::code(ErrorCode::NotFound))
    }
}
