//! `/workspaces/{id}/consents`: multi-professional guidance in a workspace. The owner guide
//! proposes another expert for a customer of the workspace; the customer decides at
//! `/consents/{request}/…`. Everything is answered by the consent service as the caller; to
//! anyone else a workspace's consents do not exist (404).

use axum::{
    extract::State,
    http::{HeaderMap, StatusCode},
    response::Response,
};
use chrono::{DateTime, Utc};
use ohjaus_platform::{
    auth::Principal,
    error::{ErrorCode, Failure},
    ids::PageRequest,
    proto::consent::v1 as pb,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use uuid::Uuid;

use crate::{
    docs::{BasicProblems, CreateProblems, ListProblems, routes},
    extract::{ApiJson, ApiPath, ApiQuery, Caller, PageParams, idempotency_key},
    ids::service_id,
    problem::{ApiError, Problem},
    routes::public::{OrganizationProfile, organization},
    state::AppState,
    views::{LocalizedText, Page, timestamp, versioned, view_all},
};

/// Consent is documented apart from the rest of a workspace.
pub const TAG: &str = "consent";

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(request_consent, list_consents)).routes(routes!(get_consent))
}

/// A proposal of another expert for one customer of the workspace.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsentInput {
    /// The customer of this workspace who is asked.
    #[schema(format = Uuid)]
    pub customer_id: String,
    /// Person id of the proposed expert.
    #[schema(format = Uuid)]
    pub expert_id: String,
    /// The organisation the expert works for here (this one or another).
    #[schema(format = Uuid)]
    pub expert_organization_id: String,
    /// Why the expert is proposed, as the customer will read it; at most 2000 characters.
    pub purpose: String,
    /// The customer's language: `fi`, `sv` or `en`.
    pub language: String,
}

/// A consent request as its reader sees it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConsentRequest {
    pub id: Uuid,
    pub workspace_id: Uuid,
    /// The workspace's organisation: the controller.
    pub organization_id: Uuid,
    pub customer_id: Uuid,
    /// Person id of the proposed expert.
    pub expert_id: Uuid,
    pub expert_organization_id: Uuid,
    /// Who is proposed, as their organisation knew them when the request was made.
    pub expert_name: String,
    /// The expert's roles in their organisation: `guide`, `advisor`, `supervisor`.
    pub expert_roles: Vec<String>,
    /// The name customers are shown of the expert's organisation.
    pub expert_organization_name: LocalizedText,
    /// When the expert works for another organisation than the workspace's: that controller's
    /// data and privacy links, as they are now.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expert_organization: Option<OrganizationProfile>,
    /// Why the expert is proposed.
    pub purpose: String,
    /// `fi`, `sv` or `en`.
    pub language: String,
    /// `pending`, `accepted`, `rejected`, `withdrawn` or `ended`.
    pub state: String,
    /// Person id of the owner guide who proposed.
    pub requested_by: Uuid,
    pub requested_at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decided_at: Option<DateTime<Utc>>,
    /// Accepted "from now on only": the expert sees content created from this time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub visible_from: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<DateTime<Utc>>,
    /// Send it back as `If-Match` with a decision.
    pub version: i64,
}

fn state_name(state: i32) -> &'static str {
    match pb::ConsentState::try_from(state) {
        Ok(pb::ConsentState::Accepted) => "accepted",
        Ok(pb::ConsentState::Rejected) => "rejected",
        Ok(pb::ConsentState::Withdrawn) => "withdrawn",
        Ok(pb::ConsentState::Ended) => "ended",
        _ => "pending",
    }
}

/// A consent request as its reader sees it, here and at `/consents/{request}/…`.
pub fn consent_request(r: pb::ConsentRequest) -> Result<ConsentRequest, ApiError> {
    let expert_organization_id = service_id(&r.expert_organization_id)?;
    Ok(ConsentRequest {
        id: service_id(&r.id)?,
        workspace_id: service_id(&r.workspace_id)?,
        organization_id: service_id(&r.organization_id)?,
        customer_id: service_id(&r.customer_id)?,
        expert_id: service_id(&r.expert_id)?,
        expert_organization_id,
        expert_name: r.expert_name,
        expert_roles: r.expert_roles,
        expert_organization_name: r.expert_organization_name.unwrap_or_default().into(),
        expert_organization: r.expert_organization.map(|profile| organization(expert_organization_id, profile)),
        purpose: r.purpose,
        language: r.language,
        state: state_name(r.state).to_owned(),
        requested_by: service_id(&r.requested_by)?,
        requested_at: timestamp(r.requested_at),
        decided_at: r.decided_at.map(|t| timestamp(Some(t))),
        visible_from: r.visible_from.map(|t| timestamp(Some(t))),
        ended_at: r.ended_at.map(|t| timestamp(Some(t))),
        version: r.version,
    })
}

/// A consent request answered with its version as the `ETag`.
pub fn answer(status: StatusCode, r: pb::ConsentRequest, location: Option<String>) -> Result<Response, ApiError> {
    let version = r.version;
    Ok(versioned(status, consent_request(r)?, version, location))
}

/// Propose an expert (of this or another organisation) for a customer of the workspace (its
/// owner guide). Nothing of the workspace is shown to the expert before the customer accepts.
#[utoipa::path(post, path = "/workspaces/{id}/consents", tag = TAG,
    params(("id" = Uuid, Path), ("Idempotency-Key" = Option<String>, Header)),
    request_body = ConsentInput,
    responses((status = 201, body = ConsentRequest, headers(("ETag" = String), ("Location" = String))),
        CreateProblems,
        (status = 403, body = Problem, description = "A member but not the owner guide", content_type = "application/problem+json"),
        (status = 409, body = Problem, description = "The expert is already in the workspace or proposed", content_type = "application/problem+json")),
    security(("session" = [], "csrf" = [])))]
async fn request_consent(
    state: State<AppState>,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<Uuid>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<ConsentInput>,
) -> Result<Response, ApiError> {
    let request = pb::RequestConsentRequest {
        workspace_id: id.to_string(),
        customer_id: body.customer_id,
        expert_id: body.expert_id,
        expert_organization_id: body.expert_organization_id,
        purpose: body.purpose,
        language: body.language,
        idempotency_key: idempotency_key(&headers)?,
    };
    let created = state.consent().request_consent(state.as_caller(&caller, request)).await?.into_inner();
    let location = format!("/api/v1/workspaces/{id}/consents/{}", created.id);
    answer(StatusCode::CREATED, created, Some(location))
}

/// The workspace's consent requests as the caller may see them, or 404 (the consent service
/// answers not-found to anyone the workspace does not exist for).
async fn requests_of(
    state: &AppState,
    caller: &Principal,
    workspace: Uuid,
) -> Result<Vec<pb::ConsentRequest>, ApiError> {
    let request = pb::ListConsentRequestsRequest { workspace_id: workspace.to_string() };
    Ok(state.consent().list_consent_requests(state.as_caller(caller, request)).await?.into_inner().requests)
}

/// Consent requests of a workspace, oldest first: the owner guide sees all of them, a customer
/// those that ask them.
#[utoipa::path(get, path = "/workspaces/{id}/consents", tag = TAG, params(("id" = Uuid, Path), PageParams),
    responses((status = 200, body = Page<ConsentRequest>),
        ListProblems,
        (status = 403, body = Problem, description = "A member but not the owner guide", content_type = "application/problem+json"),
        (status = 422, body = Problem, description = "Bad page size or token", content_type = "application/problem+json")),
    security(("session" = [])))]
async fn list_consents(
    state: State<AppState>,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<Uuid>,
    ApiQuery(page): ApiQuery<PageParams>,
) -> Result<axum::Json<Page<ConsentRequest>>, ApiError> {
    let page = PageRequest::parse(page.size(), &page.token()).map_err(|v| ApiError(Failure::invalid(vec![v])))?;
    let requests = view_all(requests_of(&state, &caller, id).await?, consent_request)?;
    let start = match page.after {
        None => 0,
        Some(after) => requests.iter().position(|r| r.id == after).map_or(requests.len(), |i| i + 1),
    };
    let fetched = requests.into_iter().skip(start).take(usize::try_from(page.fetch_limit()).unwrap_or(usize::MAX));
    let (rows, token) = page.finish(fetched.collect(), |r| r.id);
    Ok(axum::Json(Page::new(rows, token)))
}

/// One consent request of a workspace (as in the list).
#[utoipa::path(get, path = "/workspaces/{id}/consents/{request}", tag = TAG,
    params(("id" = Uuid, Path), ("request" = Uuid, Path)),
    responses((status = 200, body = ConsentRequest, headers(("ETag" = String))),
        BasicProblems),
    security(("session" = [])))]
async fn get_consent(
    state: State<AppState>,
    Caller(caller): Caller,
    ApiPath((id, request)): ApiPath<(Uuid, Uuid)>,
) -> Result<Response, ApiError> {
    let wanted = request.to_string();
    let found = requests_of(&state, &caller, id)
        .await?
        .into_iter()
        .find(|r| r.id == wanted)
        .ok_or(ApiError::code(ErrorCode::NotFound))?;
    answer(StatusCode::OK, found, None)
}

#[cfg(test)]
mod tests {
    use ohjaus_platform::i18n::Language;

    use super::*;

    /// Every field reason the consent service sends, and the gateway's own here.
    const REASONS: [&str; 8] = [
        "field-required",
        "field-too-long",
        "invalid-id",
        "invalid-language",
        "invalid-customer",
        "invalid-consent-expert",
        "invalid-page-size",
        "invalid-page-token",
    ];

    #[test]
    fn every_consent_reason_reads_in_every_language() {
        for reason in REASONS {
            let english = Language::En.text(reason);
            assert_ne!(english, reason, "{reason} in en");
            // No fallback to English: Finnish and Swedish have their own text.
            for language in [Language::Fi, Language::Sv] {
                assert_ne!(language.text(reason), english, "{reason} in {}", language.code());
            }
        }
    }

    #[test]
    fn states_have_their_names() {
        assert_eq!(state_name(pb::ConsentState::Pending as i32), "pending");
        assert_eq!(state_name(pb::ConsentState::Withdrawn as i32), "withdrawn");
        assert_eq!(state_name(pb::ConsentState::Ended as i32), "ended");
    }
}
