//! `/consents/{request}/…`: deciding on a consent request. The customer it asks accepts or
//! rejects it and may withdraw an acceptance; the owner guide may end the participation. (The
//! requests themselves are at `/workspaces/{id}/consents`.)

use axum::{
    extract::State,
    http::{HeaderMap, StatusCode},
    response::Response,
};
use ohjaus_platform::{auth::Principal, proto::consent::v1 as pb};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use uuid::Uuid;

use super::workspaces::consents::{ConsentRequest, TAG, answer};
use crate::{
    docs::{ActionProblems, UpdateProblems, routes},
    extract::{ApiPath, Caller, OptionalJson, if_match},
    problem::{ApiError, Problem},
    state::AppState,
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(accept_consent))
        .routes(routes!(reject_consent))
        .routes(routes!(withdraw_consent))
        .routes(routes!(end_participation))
}

/// The customer's acceptance; every field is optional, and so is the body itself (none is `{}`).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsentAcceptance {
    /// The expert sees only what is made in the workspace after the acceptance.
    #[serde(default)]
    pub from_now_on_only: bool,
}

/// Accept a pending request (the customer it asks). Needs `If-Match` with the version seen.
#[utoipa::path(post, path = "/consents/{request}/accept", tag = TAG,
    params(("request" = Uuid, Path), ("If-Match" = String, Header)),
    request_body(content = Option<ConsentAcceptance>, description = "Optional: no body is `{}`"),
    responses((status = 200, body = ConsentRequest, headers(("ETag" = String))),
        UpdateProblems,
        (status = 409, body = Problem, description = "Not pending", content_type = "application/problem+json")),
    security(("session" = [], "csrf" = [])))]
async fn accept_consent(
    state: State<AppState>,
    Caller(caller): Caller,
    ApiPath(request): ApiPath<Uuid>,
    headers: HeaderMap,
    OptionalJson(body): OptionalJson<ConsentAcceptance>,
) -> Result<Response, ApiError> {
    let message = pb::AcceptConsentRequest {
        request_id: request.to_string(),
        version: if_match(&headers)?,
        from_now_on_only: body.from_now_on_only,
    };
    let changed = state.consent().accept_consent(state.as_caller(&caller, message)).await?.into_inner();
    answer(StatusCode::OK, changed, None)
}

/// Reject a pending request (the customer it asks). Needs `If-Match`.
#[utoipa::path(post, path = "/consents/{request}/reject", tag = TAG,
    params(("request" = Uuid, Path), ("If-Match" = String, Header)),
    responses((status = 200, body = ConsentRequest, headers(("ETag" = String))),
        ActionProblems,
        (status = 409, body = Problem, description = "Not pending", content_type = "application/problem+json")),
    security(("session" = [], "csrf" = [])))]
async fn reject_consent(
    state: State<AppState>,
    Caller(caller): Caller,
    ApiPath(request): ApiPath<Uuid>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    decide(&state, &caller, request, &headers, Decision::Reject).await
}

/// Withdraw an accepted consent (the customer); the expert's access ends at once. Needs
/// `If-Match`.
#[utoipa::path(post, path = "/consents/{request}/withdraw", tag = TAG,
    params(("request" = Uuid, Path), ("If-Match" = String, Header)),
    responses((status = 200, body = ConsentRequest, headers(("ETag" = String))),
        ActionProblems,
        (status = 409, body = Problem, description = "Not accepted", content_type = "application/problem+json")),
    security(("session" = [], "csrf" = [])))]
async fn withdraw_consent(
    state: State<AppState>,
    Caller(caller): Caller,
    ApiPath(request): ApiPath<Uuid>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    decide(&state, &caller, request, &headers, Decision::Withdraw).await
}

/// End an expert's participation or take back a pending proposal (the owner guide). Needs
/// `If-Match`.
#[utoipa::path(post, path = "/consents/{request}/end", tag = TAG,
    params(("request" = Uuid, Path), ("If-Match" = String, Header)),
    responses((status = 200, body = ConsentRequest, headers(("ETag" = String))),
        ActionProblems,
        (status = 403, body = Problem, description = "A member but not the owner guide", content_type = "application/problem+json"),
        (status = 409, body = Problem, description = "Already decided against, withdrawn or ended", content_type = "application/problem+json")),
    security(("session" = [], "csrf" = [])))]
async fn end_participation(
    state: State<AppState>,
    Caller(caller): Caller,
    ApiPath(request): ApiPath<Uuid>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    decide(&state, &caller, request, &headers, Decision::End).await
}

enum Decision {
    Reject,
    Withdraw,
    End,
}

/// A decision at the version the caller saw (`If-Match`).
async fn decide(
    state: &AppState,
    caller: &Principal,
    request: Uuid,
    headers: &HeaderMap,
    decision: Decision,
) -> Result<Response, ApiError> {
    let message = state
        .as_caller(caller, pb::DecideConsentRequest { request_id: request.to_string(), version: if_match(headers)? });
    let mut consent = state.consent();
    let changed = match decision {
        Decision::Reject => consent.reject_consent(message).await?,
        Decision::Withdraw => consent.withdraw_consent(message).await?,
        Decision::End => consent.end_participation(message).await?,
    }
    .into_inner();
    answer(StatusCode::OK, changed, None)
}
