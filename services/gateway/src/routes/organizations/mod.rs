//! `/organizations`: organisations themselves (the tenants service), with one child module per
//! sub-resource below `/organizations/{id}`.

pub mod canned_answers;
pub mod experts;
pub mod forms;
pub mod integration_clients;
pub mod offices;
pub mod submissions;

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

use crate::{
    docs::{BasicProblems, CreateProblems, ListProblems, UpdateProblems, routes},
    extract::{ApiJson, ApiPath, ApiQuery, Caller, PageParams, idempotency_key, if_match},
    ids::service_id,
    problem::ApiError,
    state::AppState,
    views::{LocalizedText, Page, timestamp, versioned, view_all},
};

pub const TAG: &str = "organizations";

/// The organisations themselves (their children mount their own paths).
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_organization, list_organizations))
        .routes(routes!(get_organization, update_organization))
        .routes(routes!(set_organization_status))
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ContactPerson {
    pub name: String,
    pub email: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DataProtectionOfficer {
    pub name: String,
    pub email: String,
}

/// Registry data of an organisation.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrganizationRegistry {
    /// Official name in the trade register.
    pub official_name: String,
    /// Name shown to customers.
    pub display_name: LocalizedText,
    /// Finnish business ID (Y-tunnus), e.g. `1234567-1`.
    pub business_id: String,
    /// https address of the organisation's website.
    pub website: String,
    pub contact: ContactPerson,
    pub data_protection_officer: DataProtectionOfficer,
    /// Link to the privacy notice in each language.
    pub privacy_notice_url: LocalizedText,
    /// Link to the page where a person requests their personal data.
    pub data_request_url: String,
}

impl From<OrganizationRegistry> for pb::OrganizationRegistry {
    fn from(r: OrganizationRegistry) -> Self {
        pb::OrganizationRegistry {
            official_name: r.official_name,
            display_name: Some(r.display_name.into()),
            business_id: r.business_id,
            website: r.website,
            contact: Some(pb::ContactPerson {
                name: r.contact.name,
                email: r.contact.email,
                phone: r.contact.phone.unwrap_or_default(),
            }),
            data_protection_officer: Some(pb::DataProtectionOfficer {
                name: r.data_protection_officer.name,
                email: r.data_protection_officer.email,
            }),
            privacy_notice_url: Some(r.privacy_notice_url.into()),
            data_request_url: r.data_request_url,
        }
    }
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum OrganizationStatus {
    Active,
    Suspended,
}

fn status_from_pb(value: i32) -> OrganizationStatus {
    match pb::OrganizationStatus::try_from(value) {
        Ok(pb::OrganizationStatus::Suspended) => OrganizationStatus::Suspended,
        _ => OrganizationStatus::Active,
    }
}

/// An organisation as the API shows it: its registry data (the fields of
/// [`OrganizationRegistry`], which a request may not add to) beside its id, status, version and
/// times. One flat object of its own, not the registry's closed schema extended: that schema
/// refuses every field it does not name, so no answer could have matched it.
#[derive(Debug, Serialize, ToSchema)]
pub struct Organization {
    pub id: Uuid,
    /// Official name in the trade register.
    pub official_name: String,
    /// Name shown to customers.
    pub display_name: LocalizedText,
    /// Finnish business ID (Y-tunnus), e.g. `1234567-1`.
    pub business_id: String,
    /// https address of the organisation's website.
    pub website: String,
    pub contact: ContactPerson,
    pub data_protection_officer: DataProtectionOfficer,
    /// Link to the privacy notice in each language.
    pub privacy_notice_url: LocalizedText,
    /// Link to the page where a person requests their personal data.
    pub data_request_url: String,
    pub status: OrganizationStatus,
    /// Send as `If-Match: "<version>"` to update.
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

fn organization(o: pb::Organization) -> Result<Organization, ApiError> {
    let r = o.registry.unwrap_or_default();
    let contact = r.contact.unwrap_or_default();
    let dpo = r.data_protection_officer.unwrap_or_default();
    Ok(Organization {
        id: service_id(&o.id)?,
        official_name: r.official_name,
        display_name: r.display_name.unwrap_or_default().into(),
        business_id: r.business_id,
        website: r.website,
        contact: ContactPerson {
            name: contact.name,
            email: contact.email,
            phone: Some(contact.phone).filter(|p| !p.is_empty()),
        },
        data_protection_officer: DataProtectionOfficer { name: dpo.name, email: dpo.email },
        privacy_notice_url: r.privacy_notice_url.unwrap_or_default().into(),
        data_request_url: r.data_request_url,
        status: status_from_pb(o.status),
        version: o.version,
        created_at: timestamp(o.created_at),
        updated_at: timestamp(o.updated_at),
    })
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusChange {
    pub status: OrganizationStatus,
}

/// Create an organisation (operator).
#[utoipa::path(post, path = "/organizations", tag = TAG, request_body = OrganizationRegistry,
    params(("Idempotency-Key" = Option<String>, Header, description = "Retry-safe key; a repeat returns the first result")),
    responses((status = 201, body = Organization, headers(("ETag" = String), ("Location" = String))),
        CreateProblems),
    security(("session" = [], "csrf" = []), ("operator_token" = [])))]
async fn create_organization(
    state: State<AppState>,
    Caller(caller): Caller,
    headers: HeaderMap,
    ApiJson(body): ApiJson<OrganizationRegistry>,
) -> Result<Response, ApiError> {
    let request = pb::CreateOrganizationRequest { registry: Some(body.into()), request_id: idempotency_key(&headers)? };
    let org = state.tenants().create_organization(state.as_caller(&caller, request)).await?.into_inner();
    let location = format!("/api/v1/organizations/{}", org.id);
    let version = org.version;
    Ok(versioned(StatusCode::CREATED, organization(org)?, version, Some(location)))
}

/// List the organisations the caller may see.
#[utoipa::path(get, path = "/organizations", tag = TAG, params(PageParams),
    responses((status = 200, body = Page<Organization>),
        ListProblems),
    security(("session" = []), ("operator_token" = []), ("client_credentials" = [])))]
async fn list_organizations(
    state: State<AppState>,
    Caller(caller): Caller,
    ApiQuery(page): ApiQuery<PageParams>,
) -> Result<axum::Json<Page<Organization>>, ApiError> {
    let request = pb::ListOrganizationsRequest { page_size: page.size(), page_token: page.token() };
    let response = state.tenants().list_organizations(state.as_caller(&caller, request)).await?.into_inner();
    Ok(axum::Json(Page::new(view_all(response.organizations, organization)?, response.next_page_token)))
}

/// Get an organisation.
#[utoipa::path(get, path = "/organizations/{id}", tag = TAG, params(("id" = Uuid, Path)),
    responses((status = 200, body = Organization, headers(("ETag" = String))),
        BasicProblems),
    security(("session" = []), ("operator_token" = []), ("client_credentials" = [])))]
async fn get_organization(
    state: State<AppState>,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Response, ApiError> {
    let org = state
        .tenants()
        .get_organization(state.as_caller(&caller, pb::GetOrganizationRequest { id: id.to_string() }))
        .await?
        .into_inner();
    let version = org.version;
    Ok(versioned(StatusCode::OK, organization(org)?, version, None))
}

/// Replace an organisation's registry data (operator). Requires `If-Match`.
#[utoipa::path(put, path = "/organizations/{id}", tag = TAG, params(("id" = Uuid, Path), ("If-Match" = String, Header)),
    request_body = OrganizationRegistry,
    responses((status = 200, body = Organization, headers(("ETag" = String))),
        UpdateProblems),
    security(("session" = [], "csrf" = []), ("operator_token" = [])))]
async fn update_organization(
    state: State<AppState>,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<Uuid>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<OrganizationRegistry>,
) -> Result<Response, ApiError> {
    let expected_version = if_match(&headers)?;
    let request = pb::UpdateOrganizationRequest { id: id.to_string(), registry: Some(body.into()), expected_version };
    let org = state.tenants().update_organization(state.as_caller(&caller, request)).await?.into_inner();
    let version = org.version;
    Ok(versioned(StatusCode::OK, organization(org)?, version, None))
}

/// Suspend or reactivate an organisation (operator). Requires `If-Match`.
#[utoipa::path(put, path = "/organizations/{id}/status", tag = TAG, params(("id" = Uuid, Path), ("If-Match" = String, Header)),
    request_body = StatusChange,
    responses((status = 200, body = Organization, headers(("ETag" = String))),
        UpdateProblems),
    security(("session" = [], "csrf" = []), ("operator_token" = [])))]
async fn set_organization_status(
    state: State<AppState>,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<Uuid>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<StatusChange>,
) -> Result<Response, ApiError> {
    let expected_version = if_match(&headers)?;
    let status = match body.status {
        OrganizationStatus::Active => pb::OrganizationStatus::Active,
        OrganizationStatus::Suspended => pb::OrganizationStatus::Suspended,
    };
    let request = pb::SetOrganizationStatusRequest { id: id.to_string(), status: status as i32, expected_version };
    let org = state.tenants().set_organization_status(state.as_caller(&caller, request)).await?.into_inner();
    let version = org.version;
    Ok(versioned(StatusCode::OK, organization(org)?, version, None))
}
