//! Organisations, offices, experts and integration clients (the tenants service).

use axum::{
    http::{HeaderMap, StatusCode},
    response::Response,
};
use chrono::{DateTime, Utc};
use ohjaus_platform::proto::tenants::v1 as pb;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::{LocalizedText, Page, timestamp, versioned};
use crate::{
    AppState,
    extract::{ApiJson, ApiPath, ApiQuery, Caller, PageParams, idempotency_key, if_match},
    problem::{ApiError, Problem},
};

pub const TAG: &str = "organizations";

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_organization, list_organizations))
        .routes(routes!(get_organization, update_organization))
        .routes(routes!(set_organization_status))
        .routes(routes!(create_office, list_offices))
        .routes(routes!(update_office, delete_office))
        .routes(routes!(add_expert, list_experts))
        .routes(routes!(get_expert, remove_expert))
        .routes(routes!(set_expert_roles))
        .routes(routes!(set_expert_listing))
        .routes(routes!(list_directory_experts))
        .routes(routes!(create_integration_client, list_integration_clients))
        .routes(routes!(revoke_integration_client))
}

// ---------------------------------------------------------------------------- schemas

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

#[derive(Debug, Serialize, ToSchema)]
pub struct Organization {
    pub id: Uuid,
    #[serde(flatten)]
    pub registry: OrganizationRegistry,
    pub status: OrganizationStatus,
    /// Send as `If-Match: "<version>"` to update.
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

fn organization(o: pb::Organization) -> Organization {
    let r = o.registry.unwrap_or_default();
    let contact = r.contact.unwrap_or_default();
    let dpo = r.data_protection_officer.unwrap_or_default();
    Organization {
        id: Uuid::parse_str(&o.id).unwrap_or_default(),
        registry: OrganizationRegistry {
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
        },
        status: status_from_pb(o.status),
        version: o.version,
        created_at: timestamp(o.created_at),
        updated_at: timestamp(o.updated_at),
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusChange {
    pub status: OrganizationStatus,
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

fn office(o: pb::Office) -> Office {
    Office {
        id: Uuid::parse_str(&o.id).unwrap_or_default(),
        organization_id: Uuid::parse_str(&o.organization_id).unwrap_or_default(),
        name: o.name,
        version: o.version,
        created_at: timestamp(o.created_at),
    }
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Main user (pääkäyttäjä): manages experts, offices and clients; never reads content.
    Admin,
    /// Guide (ohjaaja): works with customers in workspaces.
    Guide,
    /// Advisor (neuvoja): answers contact-form questions.
    Advisor,
    /// Supervisor (valvoja): sees anonymised reports.
    Supervisor,
}

fn role_to_pb(role: Role) -> i32 {
    let role = match role {
        Role::Admin => pb::Role::Admin,
        Role::Guide => pb::Role::Guide,
        Role::Advisor => pb::Role::Advisor,
        Role::Supervisor => pb::Role::Supervisor,
    };
    role as i32
}

fn role_from_pb(value: i32) -> Option<Role> {
    match pb::Role::try_from(value).ok()? {
        pb::Role::Admin => Some(Role::Admin),
        pb::Role::Guide => Some(Role::Guide),
        pb::Role::Advisor => Some(Role::Advisor),
        pb::Role::Supervisor => Some(Role::Supervisor),
        pb::Role::Unspecified => None,
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VirtuIdentity {
    /// `virtuHomeOrganization`.
    pub home_organization: String,
    /// `virtuLocalID`.
    pub local_id: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewExpert {
    pub name: String,
    pub email: String,
    /// `fi`, `sv` or `en` (default `fi`).
    #[serde(default)]
    pub language: Option<String>,
    #[serde(default)]
    pub virtu: Option<VirtuIdentity>,
    /// For Suomi.fi login; stored only as a keyed hash and never shown again.
    #[serde(default)]
    pub personal_identity_code: Option<String>,
    pub roles: Vec<Role>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RolesInput {
    pub roles: Vec<Role>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Expert {
    pub id: Uuid,
    pub organization_id: Uuid,
    pub name: String,
    pub email: String,
    pub language: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub virtu: Option<VirtuIdentity>,
    /// Whether a Suomi.fi identity is linked (the code itself is never shown).
    pub has_suomifi_link: bool,
    pub roles: Vec<Role>,
    /// Listed in the consent directory: other organisations' guides may find and propose them.
    pub listed: bool,
    /// Public description of what the expert helps with.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listing_description: Option<String>,
    pub version: i64,
    pub added_at: DateTime<Utc>,
}

/// Whether an expert is listed in the consent directory.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ListingInput {
    /// A main user alone (no other role) cannot be listed.
    pub listed: bool,
    /// What the expert helps with: plain text, at most 300 characters; public while listed.
    #[serde(default)]
    pub description: Option<String>,
}

/// A listed expert as the consent directory shows them (no contact or identity data).
#[derive(Debug, Serialize, ToSchema)]
pub struct DirectoryExpert {
    /// Propose this expert with `expert_id` and `expert_organization_id`.
    pub expert_id: Uuid,
    pub organization_id: Uuid,
    pub organization_name: LocalizedText,
    pub name: String,
    /// Roles other than main user.
    pub roles: Vec<Role>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

fn directory_expert(e: pb::DirectoryExpert) -> DirectoryExpert {
    DirectoryExpert {
        expert_id: Uuid::parse_str(&e.expert_id).unwrap_or_default(),
        organization_id: Uuid::parse_str(&e.organization_id).unwrap_or_default(),
        organization_name: e.organization_name.unwrap_or_default().into(),
        name: e.name,
        roles: e.roles.into_iter().filter_map(role_from_pb).collect(),
        description: Some(e.description).filter(|d| !d.is_empty()),
    }
}

/// The consent directory's filter and page.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DirectoryParams {
    /// Only this organisation's experts; absent or empty for every active organisation.
    pub organization_id: Option<String>,
    /// Items per page, 1–100 (default 50).
    pub page_size: Option<i32>,
    /// `next_page_token` of the previous page.
    pub page_token: Option<String>,
}

fn expert(e: pb::Expert) -> Expert {
    Expert {
        id: Uuid::parse_str(&e.id).unwrap_or_default(),
        organization_id: Uuid::parse_str(&e.organization_id).unwrap_or_default(),
        name: e.name,
        email: e.email,
        language: e.language,
        virtu: e.virtu.map(|v| VirtuIdentity { home_organization: v.home_organization, local_id: v.local_id }),
        has_suomifi_link: e.has_suomifi_link,
        roles: e.roles.into_iter().filter_map(role_from_pb).collect(),
        listed: e.listed,
        listing_description: Some(e.listing_description).filter(|d| !d.is_empty()),
        version: e.version,
        added_at: timestamp(e.added_at),
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewIntegrationClient {
    pub name: String,
    /// e.g. `tenants.read`, `tenants.write`.
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

fn client(c: pb::IntegrationClient) -> IntegrationClient {
    IntegrationClient {
        id: Uuid::parse_str(&c.id).unwrap_or_default(),
        organization_id: Uuid::parse_str(&c.organization_id).unwrap_or_default(),
        name: c.name,
        scopes: c.scopes,
        created_at: timestamp(c.created_at),
        revoked_at: c.revoked_at.map(|t| timestamp(Some(t))),
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedIntegrationClient {
    pub client: IntegrationClient,
    /// Shown only in this response; use HTTP Basic `client_id:secret`. Empty when this is a
    /// replay of an earlier request with the same `Idempotency-Key`.
    pub secret: String,
}

// ---------------------------------------------------------------------------- organisations

/// Create an organisation (operator).
#[utoipa::path(post, path = "/organizations", tag = TAG, request_body = OrganizationRegistry,
    params(("Idempotency-Key" = Option<String>, Header, description = "Retry-safe key; a repeat returns the first result")),
    responses((status = 201, body = Organization, headers(("ETag" = String), ("Location" = String))),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json")),
    security(("operator_token" = []), ("client_credentials" = [])))]
async fn create_organization(
    state: axum::extract::State<AppState>,
    Caller(caller): Caller,
    headers: HeaderMap,
    ApiJson(body): ApiJson<OrganizationRegistry>,
) -> Result<Response, ApiError> {
    let request = pb::CreateOrganizationRequest { registry: Some(body.into()), request_id: idempotency_key(&headers)? };
    let org = state.tenants().create_organization(state.as_caller(&caller, request)).await?.into_inner();
    let location = format!("/api/v1/organizations/{}", org.id);
    let version = org.version;
    Ok(versioned(StatusCode::CREATED, organization(org), version, Some(location)))
}

/// List the organisations the caller may see.
#[utoipa::path(get, path = "/organizations", tag = TAG, params(PageParams),
    responses((status = 200, body = Page<Organization>), (status = 401, body = Problem, content_type = "application/problem+json")),
    security(("operator_token" = []), ("client_credentials" = [])))]
async fn list_organizations(
    state: axum::extract::State<AppState>,
    Caller(caller): Caller,
    ApiQuery(page): ApiQuery<PageParams>,
) -> Result<axum::Json<Page<Organization>>, ApiError> {
    let request = pb::ListOrganizationsRequest { page_size: page.size(), page_token: page.token() };
    let response = state.tenants().list_organizations(state.as_caller(&caller, request)).await?.into_inner();
    Ok(axum::Json(Page::new(response.organizations.into_iter().map(organization).collect(), response.next_page_token)))
}

/// Get an organisation.
#[utoipa::path(get, path = "/organizations/{id}", tag = TAG, params(("id" = Uuid, Path)),
    responses((status = 200, body = Organization, headers(("ETag" = String))), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("operator_token" = []), ("client_credentials" = [])))]
async fn get_organization(
    state: axum::extract::State<AppState>,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Response, ApiError> {
    let org = state
        .tenants()
        .get_organization(state.as_caller(&caller, pb::GetOrganizationRequest { id: id.to_string() }))
        .await?
        .into_inner();
    let version = org.version;
    Ok(versioned(StatusCode::OK, organization(org), version, None))
}

/// Replace an organisation's registry data (operator). Requires `If-Match`.
#[utoipa::path(put, path = "/organizations/{id}", tag = TAG, params(("id" = Uuid, Path), ("If-Match" = String, Header)),
    request_body = OrganizationRegistry,
    responses((status = 200, body = Organization, headers(("ETag" = String))),
        (status = 412, body = Problem, content_type = "application/problem+json"),
        (status = 428, body = Problem, content_type = "application/problem+json")),
    security(("operator_token" = [])))]
async fn update_organization(
    state: axum::extract::State<AppState>,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<Uuid>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<OrganizationRegistry>,
) -> Result<Response, ApiError> {
    let expected_version = if_match(&headers)?;
    let request = pb::UpdateOrganizationRequest { id: id.to_string(), registry: Some(body.into()), expected_version };
    let org = state.tenants().update_organization(state.as_caller(&caller, request)).await?.into_inner();
    let version = org.version;
    Ok(versioned(StatusCode::OK, organization(org), version, None))
}

/// Suspend or reactivate an organisation (operator). Requires `If-Match`.
#[utoipa::path(put, path = "/organizations/{id}/status", tag = TAG, params(("id" = Uuid, Path), ("If-Match" = String, Header)),
    request_body = StatusChange,
    responses((status = 200, body = Organization, headers(("ETag" = String))), (status = 412, body = Problem, content_type = "application/problem+json")),
    security(("operator_token" = [])))]
async fn set_organization_status(
    state: axum::extract::State<AppState>,
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
    Ok(versioned(StatusCode::OK, organization(org), version, None))
}

// ---------------------------------------------------------------------------- offices

/// Add an office (main user).
#[utoipa::path(post, path = "/organizations/{id}/offices", tag = TAG, params(("id" = Uuid, Path), ("Idempotency-Key" = Option<String>, Header)),
    request_body = OfficeInput,
    responses((status = 201, body = Office, headers(("ETag" = String), ("Location" = String))), (status = 400, body = Problem, content_type = "application/problem+json")),
    security(("client_credentials" = [])))]
async fn create_office(
    state: axum::extract::State<AppState>,
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
    Ok(versioned(StatusCode::CREATED, office(created), version, Some(location)))
}

/// List an organisation's offices.
#[utoipa::path(get, path = "/organizations/{id}/offices", tag = TAG, params(("id" = Uuid, Path), PageParams),
    responses((status = 200, body = Page<Office>), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("operator_token" = []), ("client_credentials" = [])))]
async fn list_offices(
    state: axum::extract::State<AppState>,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<Uuid>,
    ApiQuery(page): ApiQuery<PageParams>,
) -> Result<axum::Json<Page<Office>>, ApiError> {
    let request =
        pb::ListOfficesRequest { organization_id: id.to_string(), page_size: page.size(), page_token: page.token() };
    let response = state.tenants().list_offices(state.as_caller(&caller, request)).await?.into_inner();
    Ok(axum::Json(Page::new(response.offices.into_iter().map(office).collect(), response.next_page_token)))
}

/// Rename an office (main user). Requires `If-Match`.
#[utoipa::path(put, path = "/organizations/{id}/offices/{office_id}", tag = TAG,
    params(("id" = Uuid, Path), ("office_id" = Uuid, Path), ("If-Match" = String, Header)), request_body = OfficeInput,
    responses((status = 200, body = Office, headers(("ETag" = String))), (status = 412, body = Problem, content_type = "application/problem+json")),
    security(("client_credentials" = [])))]
async fn update_office(
    state: axum::extract::State<AppState>,
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
    Ok(versioned(StatusCode::OK, office(updated), version, None))
}

/// Remove an office (main user).
#[utoipa::path(delete, path = "/organizations/{id}/offices/{office_id}", tag = TAG,
    params(("id" = Uuid, Path), ("office_id" = Uuid, Path)),
    responses((status = 204), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("client_credentials" = [])))]
async fn delete_office(
    state: axum::extract::State<AppState>,
    Caller(caller): Caller,
    ApiPath((id, office_id)): ApiPath<(Uuid, Uuid)>,
) -> Result<StatusCode, ApiError> {
    let request = pb::DeleteOfficeRequest { organization_id: id.to_string(), office_id: office_id.to_string() };
    state.tenants().delete_office(state.as_caller(&caller, request)).await?;
    Ok(StatusCode::NO_CONTENT)
}

// ---------------------------------------------------------------------------- experts

/// Add an expert (main user), or name a main user (operator).
#[utoipa::path(post, path = "/organizations/{id}/experts", tag = TAG, params(("id" = Uuid, Path), ("Idempotency-Key" = Option<String>, Header)),
    request_body = NewExpert,
    responses((status = 201, body = Expert, headers(("ETag" = String), ("Location" = String))),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json")),
    security(("operator_token" = []), ("client_credentials" = [])))]
async fn add_expert(
    state: axum::extract::State<AppState>,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<Uuid>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<NewExpert>,
) -> Result<Response, ApiError> {
    let request = pb::AddExpertRequest {
        organization_id: id.to_string(),
        name: body.name,
        email: body.email,
        language: body.language.unwrap_or_default(),
        virtu: body.virtu.map(|v| pb::VirtuIdentity { home_organization: v.home_organization, local_id: v.local_id }),
        personal_identity_code: body.personal_identity_code.unwrap_or_default(),
        roles: body.roles.into_iter().map(role_to_pb).collect(),
        request_id: idempotency_key(&headers)?,
    };
    let added = state.tenants().add_expert(state.as_caller(&caller, request)).await?.into_inner();
    let location = format!("/api/v1/organizations/{id}/experts/{}", added.id);
    let version = added.version;
    Ok(versioned(StatusCode::CREATED, expert(added), version, Some(location)))
}

/// List an organisation's experts.
#[utoipa::path(get, path = "/organizations/{id}/experts", tag = TAG, params(("id" = Uuid, Path), PageParams),
    responses((status = 200, body = Page<Expert>), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("operator_token" = []), ("client_credentials" = [])))]
async fn list_experts(
    state: axum::extract::State<AppState>,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<Uuid>,
    ApiQuery(page): ApiQuery<PageParams>,
) -> Result<axum::Json<Page<Expert>>, ApiError> {
    let request =
        pb::ListExpertsRequest { organization_id: id.to_string(), page_size: page.size(), page_token: page.token() };
    let response = state.tenants().list_experts(state.as_caller(&caller, request)).await?.into_inner();
    Ok(axum::Json(Page::new(response.experts.into_iter().map(expert).collect(), response.next_page_token)))
}

/// Get an expert of an organisation.
#[utoipa::path(get, path = "/organizations/{id}/experts/{expert_id}", tag = TAG, params(("id" = Uuid, Path), ("expert_id" = Uuid, Path)),
    responses((status = 200, body = Expert, headers(("ETag" = String))), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("operator_token" = []), ("client_credentials" = [])))]
async fn get_expert(
    state: axum::extract::State<AppState>,
    Caller(caller): Caller,
    ApiPath((id, expert_id)): ApiPath<(Uuid, Uuid)>,
) -> Result<Response, ApiError> {
    let request = pb::GetExpertRequest { organization_id: id.to_string(), expert_id: expert_id.to_string() };
    let found = state.tenants().get_expert(state.as_caller(&caller, request)).await?.into_inner();
    let version = found.version;
    Ok(versioned(StatusCode::OK, expert(found), version, None))
}

/// Remove an expert from an organisation (main user).
#[utoipa::path(delete, path = "/organizations/{id}/experts/{expert_id}", tag = TAG, params(("id" = Uuid, Path), ("expert_id" = Uuid, Path)),
    responses((status = 204), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("client_credentials" = [])))]
async fn remove_expert(
    state: axum::extract::State<AppState>,
    Caller(caller): Caller,
    ApiPath((id, expert_id)): ApiPath<(Uuid, Uuid)>,
) -> Result<StatusCode, ApiError> {
    let request = pb::RemoveExpertRequest { organization_id: id.to_string(), expert_id: expert_id.to_string() };
    state.tenants().remove_expert(state.as_caller(&caller, request)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Replace an expert's roles (main user). Requires `If-Match`.
#[utoipa::path(put, path = "/organizations/{id}/experts/{expert_id}/roles", tag = TAG,
    params(("id" = Uuid, Path), ("expert_id" = Uuid, Path), ("If-Match" = String, Header)), request_body = RolesInput,
    responses((status = 200, body = Expert, headers(("ETag" = String))), (status = 412, body = Problem, content_type = "application/problem+json")),
    security(("client_credentials" = [])))]
async fn set_expert_roles(
    state: axum::extract::State<AppState>,
    Caller(caller): Caller,
    ApiPath((id, expert_id)): ApiPath<(Uuid, Uuid)>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<RolesInput>,
) -> Result<Response, ApiError> {
    let expected_version = if_match(&headers)?;
    let request = pb::SetExpertRolesRequest {
        organization_id: id.to_string(),
        expert_id: expert_id.to_string(),
        roles: body.roles.into_iter().map(role_to_pb).collect(),
        expected_version,
    };
    let updated = state.tenants().set_expert_roles(state.as_caller(&caller, request)).await?.into_inner();
    let version = updated.version;
    Ok(versioned(StatusCode::OK, expert(updated), version, None))
}

/// List an expert in the consent directory, or take them off it (main user). Requires `If-Match`.
#[utoipa::path(put, path = "/organizations/{id}/experts/{expert_id}/listing", tag = TAG,
    params(("id" = Uuid, Path), ("expert_id" = Uuid, Path), ("If-Match" = String, Header)), request_body = ListingInput,
    responses((status = 200, body = Expert, headers(("ETag" = String))),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 412, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
        (status = 428, body = Problem, content_type = "application/problem+json")))]
async fn set_expert_listing(
    state: axum::extract::State<AppState>,
    Caller(caller): Caller,
    ApiPath((id, expert_id)): ApiPath<(Uuid, Uuid)>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<ListingInput>,
) -> Result<Response, ApiError> {
    let expected_version = if_match(&headers)?;
    let request = pb::SetExpertListingRequest {
        organization_id: id.to_string(),
        expert_id: expert_id.to_string(),
        listed: body.listed,
        description: body.description.unwrap_or_default(),
        expected_version,
    };
    let updated = state.tenants().set_expert_listing(state.as_caller(&caller, request)).await?.into_inner();
    let version = updated.version;
    Ok(versioned(StatusCode::OK, expert(updated), version, None))
}

/// The consent directory: experts of active organisations who may be proposed to a customer's
/// workspace (guides).
#[utoipa::path(get, path = "/directory/experts", tag = TAG, params(DirectoryParams),
    responses((status = 200, body = Page<DirectoryExpert>),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")))]
async fn list_directory_experts(
    state: axum::extract::State<AppState>,
    Caller(caller): Caller,
    ApiQuery(params): ApiQuery<DirectoryParams>,
) -> Result<axum::Json<Page<DirectoryExpert>>, ApiError> {
    let request = pb::ListDirectoryExpertsRequest {
        organization_id: params.organization_id.unwrap_or_default(),
        page_size: params.page_size.unwrap_or(0),
        page_token: params.page_token.unwrap_or_default(),
    };
    let response = state.tenants().list_directory_experts(state.as_caller(&caller, request)).await?.into_inner();
    Ok(axum::Json(Page::new(response.experts.into_iter().map(directory_expert).collect(), response.next_page_token)))
}

// ---------------------------------------------------------------------------- clients

/// Create an integration client (main user). The secret is shown once.
#[utoipa::path(post, path = "/organizations/{id}/integration-clients", tag = TAG, params(("id" = Uuid, Path), ("Idempotency-Key" = Option<String>, Header)),
    request_body = NewIntegrationClient,
    responses((status = 201, body = CreatedIntegrationClient), (status = 400, body = Problem, content_type = "application/problem+json")))]
async fn create_integration_client(
    state: axum::extract::State<AppState>,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<Uuid>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<NewIntegrationClient>,
) -> Result<(StatusCode, axum::Json<CreatedIntegrationClient>), ApiError> {
    let request = pb::CreateIntegrationClientRequest {
        organization_id: id.to_string(),
        name: body.name,
        scopes: body.scopes,
        request_id: idempotency_key(&headers)?,
    };
    let created = state.tenants().create_integration_client(state.as_caller(&caller, request)).await?.into_inner();
    let client_body = client(created.client.unwrap_or_default());
    Ok((StatusCode::CREATED, axum::Json(CreatedIntegrationClient { client: client_body, secret: created.secret })))
}

/// List an organisation's integration clients (main user).
#[utoipa::path(get, path = "/organizations/{id}/integration-clients", tag = TAG, params(("id" = Uuid, Path), PageParams),
    responses((status = 200, body = Page<IntegrationClient>), (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn list_integration_clients(
    state: axum::extract::State<AppState>,
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
    Ok(axum::Json(Page::new(response.clients.into_iter().map(client).collect(), response.next_page_token)))
}

/// Revoke an integration client (main user); its credentials stop working at once.
#[utoipa::path(delete, path = "/organizations/{id}/integration-clients/{client_id}", tag = TAG, params(("id" = Uuid, Path), ("client_id" = Uuid, Path)),
    responses((status = 200, body = IntegrationClient), (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn revoke_integration_client(
    state: axum::extract::State<AppState>,
    Caller(caller): Caller,
    ApiPath((id, client_id)): ApiPath<(Uuid, Uuid)>,
) -> Result<axum::Json<IntegrationClient>, ApiError> {
    let request =
        pb::RevokeIntegrationClientRequest { organization_id: id.to_string(), client_id: client_id.to_string() };
    let revoked = state.tenants().revoke_integration_client(state.as_caller(&caller, request)).await?.into_inner();
    Ok(axum::Json(client(revoked)))
}
