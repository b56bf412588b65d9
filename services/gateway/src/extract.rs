//! Request extractors: the caller, JSON bodies with problem errors, `If-Match`,
//! `Idempotency-Key`, pagination parameters.

use axum::{
    body::Bytes,
    extract::{FromRequest, FromRequestParts, RawPathParams, Request, rejection::JsonRejection},
    http::{HeaderMap, Method, request::Parts},
};
use base64::{Engine, engine::general_purpose::STANDARD};
use ohjaus_platform::{
    auth::{Audience, Credentials, Membership, Principal, Role},
    error::{ErrorCode, Failure, FieldViolation},
    ids::parse_canonical,
    proto::{
        identity::v1::{ResolveSessionRequest, ResolvedSession},
        tenants::v1 as pb,
    },
};
use serde::{Deserialize, de::DeserializeOwned};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use utoipa::IntoParams;
use uuid::Uuid;

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
        let credentials = Credentials::parse(header).ok_or(ApiError::code(ErrorCode::Unauthenticated))?;
        match credentials {
            Credentials::Bearer(token) => {
                let presented = Sha256::digest(token.trim().as_bytes());
                if let Some(expected) = &state.operator_token_hash
                    && bool::from(presented.as_slice().ct_eq(expected.as_slice()))
                {
                    return Ok(Caller(Principal::Operator { subject: "bootstrap-operator".into() }));
                }
                // A short-lived access token signed with the platform's keys (issued by the
                // identity service to integration clients).
                state
                    .keys
                    .verify_for(token.trim(), Audience::Api)
                    .map(Caller)
                    .map_err(|_| ApiError::code(ErrorCode::Unauthenticated))
            }
            Credentials::Basic(encoded) => {
                let decoded =
                    STANDARD.decode(encoded.trim()).map_err(|_| ApiError::code(ErrorCode::Unauthenticated))?;
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
                Ok(Caller(Principal::IntegrationClient { client_id, tenant_id, scopes: client.scopes }))
            }
        }
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
    let request = state.as_service(ResolveSessionRequest { session_token: token.clone(), check_only: false });
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
            ApiError(Failure::with_violations(ErrorCode::MalformedRequest, vec![violation]))
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

/// What an update's `If-Match` asks for (RFC 9110 §13.1.1): the version the caller read, sent
/// back as the quoted entity tag its `ETag` was, or `*`, any version there is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IfMatch {
    /// `*`: whatever the current version is.
    Any,
    /// `"<version>"`, the `ETag` the caller read.
    Version(i64),
}

impl IfMatch {
    /// Reads the header. Missing is 428. A header that is no entity tag (`1` without its quotes,
    /// a weak `W/"1"`, a list) is 400 naming `If-Match`: a client that sends it cannot be told
    /// "someone else changed this", since its tag could never match. A quoted tag that is none of
    /// our versions (`"0"`, `"x"`) is well formed and matches nothing: 412.
    pub fn read(headers: &HeaderMap) -> Result<Self, ApiError> {
        let value = headers
            .get(axum::http::header::IF_MATCH)
            .ok_or(ApiError::code(ErrorCode::PreconditionRequired))?
            .to_str()
            .map_err(|_| malformed_if_match())?
            .trim();
        if value == "*" {
            return Ok(IfMatch::Any);
        }
        let tag = value
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .filter(|tag| tag.bytes().all(|b| b == 0x21 || (0x23..=0x7e).contains(&b)))
            .ok_or_else(malformed_if_match)?;
        tag.parse::<i64>()
            .ok()
            .filter(|v| *v > 0)
            .map(IfMatch::Version)
            .ok_or(ApiError::code(ErrorCode::VersionMismatch))
    }

    /// The version to send a service whose "any version" is 0 (its proto says so).
    pub fn or_any(self) -> i64 {
        match self {
            IfMatch::Any => 0,
            IfMatch::Version(version) => version,
        }
    }

    /// The version, for an operation that needs the caller to have read one: `*` is 400.
    pub fn version(self) -> Result<i64, ApiError> {
        match self {
            IfMatch::Any => Err(ApiError(Failure::with_violations(
                ErrorCode::MalformedRequest,
                vec![FieldViolation::new("If-Match", "if-match-any-refused")],
            ))),
            IfMatch::Version(version) => Ok(version),
        }
    }
}

fn malformed_if_match() -> ApiError {
    ApiError(Failure::with_violations(
        ErrorCode::MalformedRequest,
        vec![FieldViolation::new("If-Match", "invalid-if-match")],
    ))
}

/// The version an update is based on, from `If-Match: "<version>"`. Required; `*` is refused
/// (see [`IfMatch`] for the operations that take it).
pub fn if_match(headers: &HeaderMap) -> Result<i64, ApiError> {
    IfMatch::read(headers)?.version()
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
    #[param(minimum = 1, maximum = 100)]
    pub page_size: Option<i32>,
    /// `next_page_token` of the previous page.
    pub page_token: Option<String>,
}

impl PageParams {
    /// The page size to ask a service for (see [`page_size`]).
    pub fn size(&self) -> i32 {
        page_size(self.page_size)
    }
    pub fn token(&self) -> String {
        self.page_token.clone().unwrap_or_default()
    }
}

/// The `page_size` to ask a service for. Absent is 0, the proto's "the default". The caller's
/// own 0 is outside the documented 1–100, so it goes as -1: the service refuses it like any
/// size out of range (422 `invalid-page-size`), together with the request's other violations.
pub fn page_size(value: Option<i32>) -> i32 {
    match value {
        None => 0,
        Some(0) => -1,
        Some(size) => size,
    }
}

/// Query string parse failures as problems.
#[derive(Debug)]
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::from_request_parts(parts, state).await.map(|q| ApiQuery(q.0)).map_err(|_| {
            ApiError(Failure::with_violations(
                ErrorCode::MalformedRequest,
                vec![FieldViolation::new("query", "field-malformed-json")],
            ))
        })
    }
}

/// Path parameters; a malformed path is "not found", since it names nothing. An id in a path
/// must be spelt canonically ([`parse_canonical`]): `{id}` as 32 bare digits, in braces or as a
/// `urn:uuid:` names nothing either.
#[derive(Debug)]
pub struct ApiPath<T>(pub T);

impl<T: PathParams + Send, S: Send + Sync> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let raw =
            RawPathParams::from_request_parts(parts, state).await.map_err(|_| ApiError::code(ErrorCode::NotFound))?;
        let values: Vec<&str> = raw.iter().map(|(_, value)| value).collect();
        T::from_path(&values).map(ApiPath).ok_or(ApiError::code(ErrorCode::NotFound))
    }
}

/// What a route's path parameters are read as, in the order they stand in the path.
pub trait PathParams: Sized {
    fn from_path(values: &[&str]) -> Option<Self>;
}

impl PathParams for Uuid {
    fn from_path(values: &[&str]) -> Option<Self> {
        match values {
            [id] => parse_canonical(id),
            _ => None,
        }
    }
}

impl PathParams for (Uuid, Uuid) {
    fn from_path(values: &[&str]) -> Option<Self> {
        match values {
            [first, second] => Some((parse_canonical(first)?, parse_canonical(second)?)),
            _ => None,
        }
    }
}

impl PathParams for String {
    fn from_path(values: &[&str]) -> Option<Self> {
        match values {
            [value] => Some((*value).to_owned()),
            _ => None,
        }
    }
}

/// A JSON body whose fields are all optional: a request without a body, or with the body
/// `null`, reads as `{}`, so the body may be left out (a `POST …/accept` with nothing to say).
/// A body that is there must be JSON, as for [`ApiJson`].
#[derive(Debug)]
pub struct OptionalJson<T>(pub T);

impl<T: DeserializeOwned + Default> FromRequest<AppState> for OptionalJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        crate::edge::announced_within(request.headers(), state.json_limit)?;
        let (parts, body) = request.into_parts();
        let headers = parts.headers.clone();
        let bytes = Bytes::from_request(Request::from_parts(parts, body), state).await.map_err(|rejection| {
            if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::code(ErrorCode::PayloadTooLarge)
            } else {
                ApiError::code(ErrorCode::MalformedRequest)
            }
        })?;
        if bytes.is_empty() {
            return Ok(OptionalJson(T::default()));
        }
        let mut request = Request::new(axum::body::Body::from(bytes));
        *request.headers_mut() = headers;
        let ApiJson(value) = ApiJson::<Option<T>>::from_request(request, state).await?;
        Ok(OptionalJson(value.unwrap_or_default()))
    }
}

#[cfg(test)]
mod tests {
    use axum::http::{HeaderValue, header::IF_MATCH};

    use super::*;

    fn read(value: Option<&str>) -> Result<IfMatch, (ErrorCode, Vec<(String, String)>)> {
        let mut headers = HeaderMap::new();
        if let Some(value) = value {
            headers.insert(IF_MATCH, HeaderValue::from_str(value).unwrap());
        }
        IfMatch::read(&headers)
            .map_err(|e| (e.0.code, e.0.violations.into_iter().map(|v| (v.field, v.reason)).collect()))
    }

    #[test]
    fn if_match_takes_a_quoted_version_or_any() {
        assert_eq!(read(Some("\"3\"")), Ok(IfMatch::Version(3)));
        assert_eq!(read(Some(" \"12\" ")), Ok(IfMatch::Version(12)));
        assert_eq!(read(Some("*")), Ok(IfMatch::Any));
        assert_eq!(IfMatch::Any.or_any(), 0);
        assert_eq!(IfMatch::Version(4).or_any(), 4);
        assert_eq!(IfMatch::Version(4).version().ok(), Some(4));
        let any = IfMatch::Any.version().err().map(|e| (e.0.code, e.0.violations[0].reason.clone()));
        assert_eq!(any, Some((ErrorCode::MalformedRequest, "if-match-any-refused".to_owned())));
    }

    #[test]
    fn if_match_that_is_no_entity_tag_is_400_not_412() {
        let malformed =
            Err((ErrorCode::MalformedRequest, vec![("If-Match".to_owned(), "invalid-if-match".to_owned())]));
        for value in ["1", "W/\"1\"", "\"1\", \"2\"", "\"1", "'1'", "\"a b\"", ""] {
            assert_eq!(read(Some(value)), malformed, "{value}");
        }
        // Well-formed tags that are none of ours match nothing: the precondition fails.
        for value in ["\"0\"", "\"-1\"", "\"abc\"", "\"\""] {
            assert_eq!(read(Some(value)), Err((ErrorCode::VersionMismatch, vec![])), "{value}");
        }
        assert_eq!(read(None), Err((ErrorCode::PreconditionRequired, vec![])));
    }

    #[test]
    fn a_page_size_of_0_is_no_default() {
        assert_eq!(page_size(None), 0);
        assert_eq!(page_size(Some(1)), 1);
        assert_eq!(page_size(Some(100)), 100);
        // Out of range, as the services' page parsing refuses (0 is their default).
        for refused in [Some(0), Some(-1), Some(101)] {
            let sent = page_size(refused);
            assert_eq!(
                ohjaus_platform::ids::PageRequest::parse(sent, ""),
                Err(FieldViolation::new("page_size", "invalid-page-size")),
                "{refused:?}"
            );
        }
    }

    #[test]
    fn path_ids_are_canonical() {
        let id = Uuid::now_v7();
        let other = Uuid::now_v7();
        assert_eq!(Uuid::from_path(&[&id.to_string()]), Some(id));
        assert_eq!(<(Uuid, Uuid)>::from_path(&[&id.to_string(), &other.to_string()]), Some((id, other)));
        for alias in [id.simple().to_string(), id.braced().to_string(), id.urn().to_string()] {
            assert_eq!(Uuid::from_path(&[&alias]), None, "{alias}");
            assert_eq!(<(Uuid, Uuid)>::from_path(&[&id.to_string(), &alias]), None, "{alias}");
        }
        assert_eq!(String::from_path(&["dev"]), Some("dev".to_owned()));
    }
}
