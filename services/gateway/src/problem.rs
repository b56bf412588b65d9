//! Errors as RFC 9457 `application/problem+json`, localized by `Accept-Language`.
//!
//! Handlers and extractors return [`ApiError`], which carries only the error code and field
//! violations. One middleware ([`render_problems`]) turns those — and any bare error status
//! from the router or a layer (unknown route, body limit, the edge's timeouts) — into a problem document
//! in the caller's language, with the request id.

use axum::{
    body::Body,
    extract::Request,
    http::{HeaderValue, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use ohjaus_platform::{
    error::{ErrorCode, Failure, FieldViolation},
    i18n::Language,
};
use serde::Serialize;
use utoipa::ToSchema;

/// An error a handler returns.
#[derive(Debug)]
pub struct ApiError(pub Failure);

impl ApiError {
    pub fn code(code: ErrorCode) -> Self {
        Self(Failure::new(code))
    }
    pub fn invalid(field: &str, reason: &str) -> Self {
        Self(Failure::invalid(vec![FieldViolation::new(field, reason)]))
    }
}

impl From<tonic::Status> for ApiError {
    fn from(status: tonic::Status) -> Self {
        let failure = Failure::from_status(&status);
        if failure.code == ErrorCode::Internal || failure.code == ErrorCode::Unavailable {
            tracing::warn!(code = ?status.code(), "service call failed");
        }
        Self(failure)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.0.code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = status.into_response();
        response.extensions_mut().insert(self.0);
        response
    }
}

/// RFC 9457 problem details.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// URI naming the kind of problem; its last part is the stable error code.
    #[serde(rename = "type")]
    pub kind: String,
    /// Short summary in the caller's language.
    pub title: String,
    pub status: u16,
    /// What to do about it, in the caller's language.
    pub detail: String,
    /// The request id, to quote to support.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// Field-level problems of a rejected request.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<ProblemField>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProblemField {
    /// JSON field path.
    pub field: String,
    /// Stable reason code.
    pub reason: String,
    /// Message in the caller's language.
    pub message: String,
}

/// The problem document for `failure` in `language`.
pub fn problem(failure: &Failure, language: Language, request_id: Option<String>) -> Problem {
    let reason = failure.code.reason();
    Problem {
        kind: format!("urn:ohjaus:problem:{reason}"),
        title: language.text(&format!("error-{reason}-title")),
        status: failure.code.http_status(),
        detail: failure.detail(language),
        request_id,
        errors: failure
            .violations
            .iter()
            .map(|v| ProblemField {
                // Fields of a request's nested registry are top-level in the HTTP body.
                field: v.field.strip_prefix("registry.").unwrap_or(&v.field).to_owned(),
                reason: v.reason.clone(),
                message: language.text(&v.reason),
            })
            .collect(),
    }
}

fn code_for_status(status: StatusCode) -> ErrorCode {
    match status.as_u16() {
        404 => ErrorCode::NotFound,
        405 => ErrorCode::MethodNotAllowed,
        408 => ErrorCode::RequestTimeout,
        503 | 504 => ErrorCode::Unavailable,
        413 => ErrorCode::PayloadTooLarge,
        415 => ErrorCode::UnsupportedMediaType,
        429 => ErrorCode::RateLimited,
        401 => ErrorCode::Unauthenticated,
        403 => ErrorCode::PermissionDenied,
        422 => ErrorCode::InvalidArgument,
        400..=499 => ErrorCode::MalformedRequest,
        _ => ErrorCode::Internal,
    }
}

/// Renders every error response as a localized problem document.
pub async fn render_problems(request: Request, next: Next) -> Response {
    let language = Language::negotiate(request.headers().get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok()));
    let request_id = request.headers().get("x-request-id").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let response = next.run(request).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let failure = match response.extensions().get::<Failure>() {
        Some(failure) => failure.clone(),
        // A body made on purpose (a problem, an OAuth error document, a refusal page) stays;
        // bare statuses and plain-text rejections become problems.
        None if response
            .headers()
            .get(header::CONTENT_TYPE)
            .is_some_and(|v| !v.as_bytes().starts_with(b"text/plain")) =>
        {
            return response;
        }
        None => Failure::new(code_for_status(status)),
    };
    let body = problem(&failure, language, request_id);
    let (mut parts, _) = response.into_parts();
    parts.status = StatusCode::from_u16(body.status).unwrap_or(status);
    parts.headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
    parts.headers.insert(header::CONTENT_LANGUAGE, HeaderValue::from_static(language.code()));
    parts.headers.remove(header::CONTENT_LENGTH);
    let json = serde_json::to_vec(&body).unwrap_or_default();
    Response::from_parts(parts, Body::from(json))
}
