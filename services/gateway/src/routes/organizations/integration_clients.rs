//! `/organizations/{id}/integration-clients`: an organisation's integration clients.

use axum::{
    extract::State,
    http::{HeaderMap, StatusCode},
};
use chrono::{DateTime, Utc};
use ohjaus_platform::proto::tenants::v1 as pb;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use uuid::Uuid;

use super::TAG;
use crate::{
    docs::{BasicProblems, CreateProblems, ListProblems, routes},
    extract::{ApiJson, ApiPath, ApiQuery, Caller, PageParams, idempotency_key},
    ids::service_id,
    problem::ApiError,
    state::AppState,
    views::{Page, timestamp, view_all},
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_integration_client, list_integration_clients))
        .routes(routes!(revoke_integration_client))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewIntegrationClient {
    pub name: String,
    /// `tenants.read` (registry data, offices, experts), `tenants.write` (offices and experts,
    /// no main user), `tenants.admin` (making, changing or removing main users).
    pub scopes: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct IntegrationClient {
    pub id: Uuid,
    pub organization_id: Uuid,
    pub name: String,
    pub scopes: Vec<String>,
    pub created_at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<DateTime<Utc>>,
}

fn client(c: pb::IntegrationClient) -> Result<IntegrationClient, ApiError> {
    Ok(IntegrationClient {
        id: service_id(&c.id)?,
        organization_id: service_id(&c.organization_id)?,
        name: c.name,
        scopes: c.scopes,
        created_at: timestamp(c.created_at),
        revoked_at: c.revoked_at.map(|t| timestamp(Some(t))),
    })
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedIntegrationClient {
    pub client: IntegrationClient,
    /// Shown only in this response; use HTTP Basic `client_id:secret`. Empty when this is a
    /// replay of an earlier request with the same `Idempotency-Key`.
    pub secret: String,
}

/// Create an integration client (main user). The secret is shown once.
#[utoipa::path(post, path = "/organizations/{id}/integration-clients", tag = TAG, params(("id" = Uuid, Path), ("Idempotency-Key" = Option<String>, Header)),
    request_body = NewIntegrationClient,
    responses((status = 201, body = CreatedIntegrationClient, headers(("Location" = String, description = "The new client (the address its revocation is sent to)"))),
        CreateProblems),
    security(("session" = [], "csrf" = [])))]
async fn create_integration_client(
    state: State<AppState>,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<Uuid>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<NewIntegrationClient>,
) -> Result<(StatusCode, [(axum::http::HeaderName, String); 1], axum::Json<CreatedIntegrationClient>), ApiError> {
    let request = pb::CreateIntegrationClientRequest {
        organization_id: id.to_string(),
        name: body.name,
        scopes: body.scopes,
        request_id: idempotency_key(&headers)?,
    };
    let created = state.tenants().create_integration_client(state.as_caller(&caller, request)).await?.into_inner();
    let client_body = client(created.client.unwrap_or_default())?;
    let location = format!("/api/v1/organizations/{id}/integration-clients/{}", client_body.id);
    let body = CreatedIntegrationClient { client: client_body, secret: created.secret };
    Ok((StatusCode::CREATED, [(axum::http::header::LOCATION, location)], axum::Json(body)))
}

/// List an organisation's integration clients (main user).
#[utoipa::path(get, path = "/organizations/{id}/integration-clients", tag = TAG, params(("id" = Uuid, Path), PageParams),
    responses((status = 200, body = Page<IntegrationClient>),
        ListProblems),
    security(("session" = [])))]
async fn list_integration_clients(
    state: State<AppState>,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<Uuid>,
    ApiQuery(page): ApiQuery<PageParams>,
) -> Result<axum::Json<Page<IntegrationClient>>, ApiError> {
    let request = pb::ListIntegrationClientsRequest {
        organization_id: id.to_string(),
        page_size: page.size(),
        page_token: page.token(),
    };
    let response = state.tenants().list_integration_clients(state.as_caller(&caller, request)).await?.into_inner();
    Ok(axum::Json(Page::new(view_all(response.clients, client)?, response.next_page_token)))
}

/// Revoke an integration client (main user); its credentials stop working at once.
#[utoipa::path(delete, path = "/organizations/{id}/integration-clients/{client_id}", tag = TAG, params(("id" = Uuid, Path), ("client_id" = Uuid, Path)),
    responses((status = 200, body = IntegrationClient),
        BasicProblems),
    security(("session" = [], "csrf" = [])))]
async fn revoke_integration_client(
    state: State<AppState>,
    Caller(caller): Caller,
    ApiPath((id, client_id)): ApiPath<(Uuid, Uuid)>,
) -> Result<axum::Json<IntegrationClient>, ApiError> {
    let request =
        pb::RevokeIntegrationClientRequest { organization_id: id.to_string(), client_id: client_id.to_string() };
    let revoked = state.tenants().revoke_integration_client(state.as_caller(&caller, request)).await?.into_inner();
    Ok(axum::Json(client(revoked)?))
}
