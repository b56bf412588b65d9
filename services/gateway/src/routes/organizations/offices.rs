//! `/organizations/{id}/offices`: an organisation's offices.

use axum::{
    extract::State,
    http::{HeaderMap, StatusCode},
    response::Response,
};
use chrono::{DateTime, Utc};
use ohjaus_platform::proto::tenants::v1 as pb;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use uuid::Uuid;

use super::TAG;
use crate::{
    docs::{BasicProblems, CreateProblems, ListProblems, UpdateProblems, routes},
    extract::{ApiJson, ApiPath, ApiQuery, Caller, PageParams, idempotency_key, if_match},
    ids::service_id,
    problem::ApiError,
    state::AppState,
    views::{Page, timestamp, versioned, view_all},
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(create_office, list_offices)).routes(routes!(update_office, delete_office))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OfficeInput {
    pub name: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Office {
    pub id: Uuid,
    pub organization_id: Uuid,
    pub name: String,
    pub version: i64,
    pub created_at: DateTime<Utc>,
}

fn office(o: pb::Office) -> Result<Office, ApiError> {
    Ok(Office {
        id: service_id(&o.id)?,
        organization_id: service_id(&o.organization_id)?,
        name: o.name,
        version: o.version,
        created_at: timestamp(o.created_at),
    })
}

/// Add an office (main user).
#[utoipa::path(post, path = "/organizations/{id}/offices", tag = TAG, params(("id" = Uuid, Path), ("Idempotency-Key" = Option<String>, Header)),
    request_body = OfficeInput,
    responses((status = 201, body = Office, headers(("ETag" = String), ("Location" = String))),
        CreateProblems),
    security(("session" = [], "csrf" = []), ("operator_token" = []), ("client_credentials" = [])))]
async fn create_office(
    state: State<AppState>,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<Uuid>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<OfficeInput>,
) -> Result<Response, ApiError> {
    let request = pb::CreateOfficeRequest {
        organization_id: id.to_string(),
        name: body.name,
        request_id: idempotency_key(&headers)?,
    };
    let created = state.tenants().create_office(state.as_caller(&caller, request)).await?.into_inner();
    let location = format!("/api/v1/organizations/{id}/offices/{}", created.id);
    let version = created.version;
    Ok(versioned(StatusCode::CREATED, office(created)?, version, Some(location)))
}

/// List an organisation's offices.
#[utoipa::path(get, path = "/organizations/{id}/offices", tag = TAG, params(("id" = Uuid, Path), PageParams),
    responses((status = 200, body = Page<Office>),
        ListProblems),
    security(("session" = []), ("operator_token" = []), ("client_credentials" = [])))]
async fn list_offices(
    state: State<AppState>,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<Uuid>,
    ApiQuery(page): ApiQuery<PageParams>,
) -> Result<axum::Json<Page<Office>>, ApiError> {
    let request =
        pb::ListOfficesRequest { organization_id: id.to_string(), page_size: page.size(), page_token: page.token() };
    let response = state.tenants().list_offices(state.as_caller(&caller, request)).await?.into_inner();
    Ok(axum::Json(Page::new(view_all(response.offices, office)?, response.next_page_token)))
}

/// Rename an office (main user). Requires `If-Match`.
#[utoipa::path(put, path = "/organizations/{id}/offices/{office_id}", tag = TAG,
    params(("id" = Uuid, Path), ("office_id" = Uuid, Path), ("If-Match" = String, Header)), request_body = OfficeInput,
    responses((status = 200, body = Office, headers(("ETag" = String))),
        UpdateProblems),
    security(("session" = [], "csrf" = []), ("operator_token" = []), ("client_credentials" = [])))]
async fn update_office(
    state: State<AppState>,
    Caller(caller): Caller,
    ApiPath((id, office_id)): ApiPath<(Uuid, Uuid)>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<OfficeInput>,
) -> Result<Response, ApiError> {
    let expected_version = if_match(&headers)?;
    let request = pb::UpdateOfficeRequest {
        organization_id: id.to_string(),
        office_id: office_id.to_string(),
        name: body.name,
        expected_version,
    };
    let updated = state.tenants().update_office(state.as_caller(&caller, request)).await?.into_inner();
    let version = updated.version;
    Ok(versioned(StatusCode::OK, office(updated)?, version, None))
}

/// Remove an office (main user).
#[utoipa::path(delete, path = "/organizations/{id}/offices/{office_id}", tag = TAG,
    params(("id" = Uuid, Path), ("office_id" = Uuid, Path)),
    responses((status = 204),
        BasicProblems),
    security(("session" = [], "csrf" = []), ("operator_token" = []), ("client_credentials" = [])))]
async fn delete_office(
    state: State<AppState>,
    Caller(caller): Caller,
    ApiPath((id, office_id)): ApiPath<(Uuid, Uuid)>,
) -> Result<StatusCode, ApiError> {
    let request = pb::DeleteOfficeRequest { organization_id: id.to_string(), office_id: office_id.to_string() };
    state.tenants().delete_office(state.as_caller(&caller, request)).await?;
    Ok(StatusCode::NO_CONTENT)
}
