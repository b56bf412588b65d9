//! `/oauth/token`: OAuth 2.0 client credentials for integration clients.

use axum::{
    Form, Json,
    extract::{State, rejection::FormRejection},
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
};
use base64::{Engine, engine::general_purpose::STANDARD};
use ohjaus_platform::proto::identity::v1 as pb;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;

use crate::docs::routes;
use crate::{problem::ApiError, state::AppState};

/// Documented with the logins.
const TAG: &str = "auth";

/// Outside `/api/v1`, like the browser's login routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(issue_token))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct TokenRequest {
    /// Must be `client_credentials`.
    pub grant_type: String,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: String,
    pub expires_in: i64,
    pub scope: String,
}

/// An RFC 6749 §5.2 error.
#[derive(Debug, Serialize, ToSchema)]
pub struct OAuthError {
    /// `invalid_request`, `unsupported_grant_type` or `invalid_client`.
    pub error: String,
}

fn oauth_error(status: StatusCode, error: &str) -> Response {
    // RFC 6749 §5.2 error document.
    (status, [(header::CACHE_CONTROL, "no-store")], Json(json!({ "error": error }))).into_response()
}

/// OAuth 2.0 client credentials (RFC 6749 §4.4): a short-lived access token for an
/// integration client, for the HTTP API and the gRPC APIs.
#[utoipa::path(post, path = "/oauth/token", tag = TAG, operation_id = "token", request_body(content = TokenRequest, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, body = TokenResponse),
        (status = 400, body = OAuthError, description = "`unsupported_grant_type`, or `invalid_request` (also a body that is not such a form)"),
        (status = 401, body = OAuthError, description = "`invalid_client`")),
    security(("client_credentials" = []), ()))]
async fn issue_token(
    state: State<AppState>,
    headers: HeaderMap,
    form: Result<Form<TokenRequest>, FormRejection>,
) -> Response {
    // RFC 6749 §5.2: a request that cannot be read is `invalid_request`, whatever went wrong.
    let Ok(Form(form)) = form else {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_request");
    };
    if form.grant_type != "client_credentials" {
        return oauth_error(StatusCode::BAD_REQUEST, "unsupported_grant_type");
    }
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| STANDARD.decode(b.trim()).ok())
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| s.split_once(':').map(|(i, p)| (i.to_owned(), p.to_owned())));
    let Some((client_id, client_secret)) =
        basic.or_else(|| Some((form.client_id.clone()?, form.client_secret.clone()?)))
    else {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_request");
    };
    match state
        .identity()
        .issue_client_token(state.as_service(pb::IssueClientTokenRequest { client_id, client_secret }))
        .await
    {
        Ok(issued) => {
            let issued = issued.into_inner();
            let body = TokenResponse {
                access_token: issued.access_token,
                token_type: "Bearer".into(),
                expires_in: issued.expires_in,
                scope: issued.scopes.join(" "),
            };
            (StatusCode::OK, [(header::CACHE_CONTROL, "no-store")], Json(body)).into_response()
        }
        Err(status)
            if status.code() == tonic::Code::Unauthenticated || status.code() == tonic::Code::PermissionDenied =>
        {
            oauth_error(StatusCode::UNAUTHORIZED, "invalid_client")
        }
        Err(status) => ApiError::from(status).into_response(),
    }
}
