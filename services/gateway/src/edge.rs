//! The edge of every request: a body announced larger than anything here takes is refused
//! before a byte of it is read; a body that stops arriving is answered 408; and the answer to
//! a request that has arrived must come within the request timeout. Uploads that keep
//! sending are never cut: the request timeout counts from the body's latest piece.
//!
//! This runs inside the problem renderer, so each of these answers is a localized problem.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use axum::{
    body::Body,
    extract::{Request, State},
    http::{HeaderMap, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use http_body_util::BodyExt;
use ohjaus_platform::{error::ErrorCode, grpc::Pace};
use tower_http::timeout::{TimeoutBody, TimeoutError};

use crate::problem::ApiError;

/// The bounds [`bound_requests`] applies.
#[derive(Clone, Copy, Debug)]
pub struct RequestLimits {
    /// The longest pause within a request body (`gateway.body_timeout_ms`).
    pub body_timeout: Duration,
    /// The longest wait for the answer after the request's latest piece
    /// (`gateway.request_timeout_ms`).
    pub request_timeout: Duration,
    /// The largest body any route takes: a file upload's or a JSON body's limit.
    pub largest_body: u64,
}

/// The body length a request announces in `Content-Length`, if any.
fn announced_length(headers: &HeaderMap) -> Option<u64> {
    headers.get(header::CONTENT_LENGTH)?.to_str().ok()?.trim().parse().ok()
}

/// Refuses, before reading it, a body announced larger than `limit` bytes.
pub fn announced_within(headers: &HeaderMap, limit: u64) -> Result<(), ApiError> {
    match announced_length(headers) {
        Some(length) if length > limit => Err(ApiError::code(ErrorCode::PayloadTooLarge)),
        _ => Ok(()),
    }
}

/// The middleware; see the module.
pub async fn bound_requests(State(limits): State<RequestLimits>, request: Request, next: Next) -> Response {
    if let Err(refused) = announced_within(request.headers(), limits.largest_body) {
        return refused.into_response();
    }
    let pace = Pace::new(limits.request_timeout);
    let stalled = Arc::new(AtomicBool::new(false));
    let (parts, body) = request.into_parts();
    let body = TimeoutBody::new(limits.body_timeout, body)
        .map_frame({
            let pace = pace.clone();
            move |frame| {
                pace.moved();
                frame
            }
        })
        .map_err({
            let stalled = stalled.clone();
            move |error| {
                if error.is::<TimeoutError>() {
                    stalled.store(true, Ordering::Relaxed);
                }
                error
            }
        });
    let answer = pace.bound(next.run(Request::from_parts(parts, Body::new(body)))).await;
    // Whatever the handler made of a body that stopped coming (a parse error, a refused
    // upload), the request itself never arrived whole.
    if stalled.load(Ordering::Relaxed) {
        return ApiError::code(ErrorCode::RequestTimeout).into_response();
    }
    match answer {
        Some(response) => response,
        None => {
            tracing::warn!("no answer within gateway.request_timeout_ms");
            ApiError::code(ErrorCode::Unavailable).into_response()
        }
    }
}
