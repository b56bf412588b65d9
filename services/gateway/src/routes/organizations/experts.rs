//! `/organizations/{id}/experts`: an organisation's experts, their roles and their listing in
//! the consent directory.

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
    OpenApiRouter::new()
        .routes(routes!(add_expert, list_experts))
        .routes(routes!(get_expert, remove_expert))
        .routes(routes!(set_expert_roles))
        .routes(routes!(set_expert_listing))
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

pub fn role_from_pb(value: i32) -> Option<Role> {
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

fn expert(e: pb::Expert) -> Result<Expert, ApiError> {
    Ok(Expert {
        id: service_id(&e.id)?,
        organization_id: service_id(&e.organization_id)?,
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
    })
}

/// Add an expert (main user), or name a main user (operator).
#[utoipa::path(post, path = "/organizations/{id}/experts", tag = TAG, params(("id" = Uuid, Path), ("Idempotency-Key" = Option<String>, Header)),
    request_body = NewExpert,
    responses((status = 201, body = Expert, headers(("ETag" = String), ("Location" = String))),
        CreateProblems),
    security(("session" = [], "csrf" = []), ("operator_token" = []), ("client_credentials" = [])))]
async fn add_expert(
    state: State<AppState>,
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
    Ok(versioned(StatusCode::CREATED, expert(added)?, version, Some(location)))
}

/// List an organisation's experts.
#[utoipa::path(get, path = "/organizations/{id}/experts", tag = TAG, params(("id" = Uuid, Path), PageParams),
    responses((status = 200, body = Page<Expert>),
        ListProblems),
    security(("session" = []), ("operator_token" = []), ("client_credentials" = [])))]
async fn list_experts(
    state: State<AppState>,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<Uuid>,
    ApiQuery(page): ApiQuery<PageParams>,
) -> Result<axum::Json<Page<Expert>>, ApiError> {
    let request =
        pb::ListExpertsRequest { organization_id: id.to_string(), page_size: page.size(), page_token: page.token() };
    let response = state.tenants().list_experts(state.as_caller(&caller, request)).await?.into_inner();
    Ok(axum::Json(Page::new(view_all(response.experts, expert)?, response.next_page_token)))
}

/// Get an expert of an organisation.
#[utoipa::path(get, path = "/organizations/{id}/experts/{expert_id}", tag = TAG, params(("id" = Uuid, Path), ("expert_id" = Uuid, Path)),
    responses((status = 200, body = Expert, headers(("ETag" = String))),
        BasicProblems),
    security(("session" = []), ("operator_token" = []), ("client_credentials" = [])))]
async fn get_expert(
    state: State<AppState>,
    Caller(caller): Caller,
    ApiPath((id, expert_id)): ApiPath<(Uuid, Uuid)>,
) -> Result<Response, ApiError> {
    let request = pb::GetExpertRequest { organization_id: id.to_string(), expert_id: expert_id.to_string() };
    let found = state.tenants().get_expert(state.as_caller(&caller, request)).await?.into_inner();
    let version = found.version;
    Ok(versioned(StatusCode::OK, expert(found)?, version, None))
}

/// Remove an expert from an organisation (main user).
#[utoipa::path(delete, path = "/organizations/{id}/experts/{expert_id}", tag = TAG, params(("id" = Uuid, Path), ("expert_id" = Uuid, Path)),
    responses((status = 204),
        BasicProblems),
    security(("session" = [], "csrf" = []), ("operator_token" = []), ("client_credentials" = [])))]
async fn remove_expert(
    state: State<AppState>,
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
    responses((status = 200, body = Expert, headers(("ETag" = String))),
        UpdateProblems),
    security(("session" = [], "csrf" = []), ("operator_token" = []), ("client_credentials" = [])))]
async fn set_expert_roles(
    state: State<AppState>,
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
    Ok(versioned(StatusCode::OK, expert(updated)?, version, None))
}

/// List an expert in the consent directory, or take them off it (main user). Requires `If-Match`.
#[utoipa::path(put, path = "/organizations/{id}/experts/{expert_id}/listing", tag = TAG,
    params(("id" = Uuid, Path), ("expert_id" = Uuid, Path), ("If-Match" = String, Header)), request_body = ListingInput,
    responses((status = 200, body = Expert, headers(("ETag" = String))),
        UpdateProblems),
    security(("session" = [], "csrf" = []), ("operator_token" = []), ("client_credentials" = [])))]
async fn set_expert_listing(
    state: State<AppState>,
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
    Ok(versioned(StatusCode::OK, expert(updated)?, version, None))
}
