//! `/public`: endpoints without login. Rate limited per client address.

use axum::extract::State;
use ohjaus_platform::proto::tenants::v1 as pb;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use uuid::Uuid;

use super::organizations::DataProtectionOfficer;
use crate::{
    docs::routes,
    extract::ApiPath,
    problem::{ApiError, Problem},
    state::AppState,
    views::LocalizedText,
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_organization_profile))
}

/// What every customer view shows about the controller of their data.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrganizationProfile {
    pub id: Uuid,
    pub display_name: LocalizedText,
    pub official_name: String,
    pub business_id: String,
    pub website: String,
    pub privacy_notice_url: LocalizedText,
    pub data_request_url: String,
    pub data_protection_officer: DataProtectionOfficer,
    /// Whether the organisation currently uses the service.
    pub active: bool,
}

/// An organisation's customer-facing data (no login).
#[utoipa::path(get, path = "/public/organizations/{id}", tag = "public", operation_id = "organization_profile", params(("id" = Uuid, Path)),
    responses((status = 200, body = OrganizationProfile),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 429, body = Problem, content_type = "application/problem+json")))]
async fn get_organization_profile(
    state: State<AppState>,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<axum::Json<OrganizationProfile>, ApiError> {
    let profile = state
        .tenants()
        .get_public_profile(tonic::Request::new(pb::GetPublicProfileRequest { id: id.to_string() }))
        .await?
        .into_inner();
    Ok(axum::Json(organization(id, profile)))
}

/// An organisation's public controller data as customers are shown it.
pub fn organization(id: Uuid, profile: pb::PublicProfile) -> OrganizationProfile {
    let dpo = profile.data_protection_officer.unwrap_or_default();
    OrganizationProfile {
        id,
        display_name: profile.display_name.unwrap_or_default().into(),
        official_name: profile.official_name,
        business_id: profile.business_id,
        website: profile.website,
        privacy_notice_url: profile.privacy_notice_url.unwrap_or_default().into(),
        data_request_url: profile.data_request_url,
        data_protection_officer: DataProtectionOfficer { name: dpo.name, email: dpo.email },
        active: profile.status == pb::OrganizationStatus::Active as i32,
    }
}
