//! Multi-professional guidance: the owner guide proposes another expert for a customer of the
//! workspace, the customer accepts or rejects and may withdraw, the owner guide may end the
//! participation; the workspace's consent ledger is exported to its customer and to the
//! controller's main users. Everything is answered by the consent service as the caller; to
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
    proto::{consent::v1 as pb, workspaces::v1 as workspaces_pb},
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::{LocalizedText, Page, public::OrganizationProfile, timestamp, versioned};
use crate::{
    AppState,
    extract::{ApiJson, ApiPath, ApiQuery, Caller, PageParams, idempotency_key, if_match},
    problem::{ApiError, Problem},
};

pub const TAG: &str = "consent";

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(request_consent, list_consents))
        .routes(routes!(get_consent))
        .routes(routes!(accept_consent))
        .routes(routes!(reject_consent))
        .routes(routes!(withdraw_consent))
        .routes(routes!(end_participation))
        .routes(routes!(export_ledger))
        .routes(routes!(verify_ledger))
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

fn uuid(value: &str) -> Uuid {
    Uuid::parse_str(value).unwrap_or_default()
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

pub(crate) fn consent_request(r: pb::ConsentRequest) -> ConsentRequest {
    let expert_organization_id = uuid(&r.expert_organization_id);
    ConsentRequest {
        id: uuid(&r.id),
        workspace_id: uuid(&r.workspace_id),
        organization_id: uuid(&r.organization_id),
        customer_id: uuid(&r.customer_id),
        expert_id: uuid(&r.expert_id),
        expert_organization_id,
        expert_name: r.expert_name,
        expert_roles: r.expert_roles,
        expert_organization_name: r.expert_organization_name.unwrap_or_default().into(),
        expert_organization: r
            .expert_organization
            .map(|profile| super::public::organization(expert_organization_id, profile)),
        purpose: r.purpose,
        language: r.language,
        state: state_name(r.state).to_owned(),
        requested_by: uuid(&r.requested_by),
        requested_at: timestamp(r.requested_at),
        decided_at: r.decided_at.map(|t| timestamp(Some(t))),
        visible_from: r.visible_from.map(|t| timestamp(Some(t))),
        ended_at: r.ended_at.map(|t| timestamp(Some(t))),
        version: r.version,
    }
}

fn answer(status: StatusCode, r: pb::ConsentRequest, location: Option<String>) -> Response {
    let version = r.version;
    versioned(status, consent_request(r), version, location)
}

/// Propose an expert (of this or another organisation) for a customer of the workspace (its
/// owner guide). Nothing of the workspace is shown to the expert before the customer accepts.
#[utoipa::path(post, path = "/workspaces/{id}/consents", tag = TAG,
    params(("id" = Uuid, Path), ("Idempotency-Key" = Option<String>, Header)),
    request_body = ConsentInput,
    responses((status = 201, body = ConsentRequest, headers(("ETag" = String), ("Location" = String))),
        (status = 403, body = Problem, description = "A member but not the owner guide", content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, description = "The expert is already in the workspace or proposed", content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")))]
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
    Ok(answer(StatusCode::CREATED, created, Some(location)))
}

/// The workspace's consent requests as the caller may see them, or 404.
async fn requests_of(
    state: &AppState,
    caller: &Principal,
    workspace: Uuid,
) -> Result<Vec<pb::ConsentRequest>, ApiError> {
    let request = pb::ListConsentRequestsRequest { workspace_id: workspace.to_string() };
    let requests = state.consent().list_consent_requests(state.as_caller(caller, request)).await?.into_inner().requests;
    // The service shows a customer the requests that name them; a customer with none must
    // still be a member, or the workspace does not exist for them.
    if requests.is_empty()
        && matches!(caller, Principal::Customer { .. })
        && !is_my_workspace(state, caller, workspace).await?
    {
        return Err(ApiError::code(ErrorCode::NotFound));
    }
    Ok(requests)
}

/// Whether `workspace` is among the caller's own workspaces (their list, which reads no content).
async fn is_my_workspace(state: &AppState, caller: &Principal, workspace: Uuid) -> Result<bool, ApiError> {
    let wanted = workspace.to_string();
    let mut page_token = String::new();
    loop {
        let request = workspaces_pb::ListWorkspacesRequest { page_size: 100, page_token };
        let page = state.workspaces().list_workspaces(state.as_caller(caller, request)).await?.into_inner();
        if page.workspaces.iter().any(|w| w.id == wanted) {
            return Ok(true);
        }
        if page.next_page_token.is_empty() {
            return Ok(false);
        }
        page_token = page.next_page_token;
    }
}

/// Consent requests of a workspace, oldest first: the owner guide sees all of them, a customer
/// those that ask them.
#[utoipa::path(get, path = "/workspaces/{id}/consents", tag = TAG, params(("id" = Uuid, Path), PageParams),
    responses((status = 200, body = Page<ConsentRequest>),
        (status = 403, body = Problem, description = "A member but not the owner guide", content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, description = "Bad page size or token", content_type = "application/problem+json")))]
async fn list_consents(
    state: State<AppState>,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<Uuid>,
    ApiQuery(page): ApiQuery<PageParams>,
) -> Result<axum::Json<Page<ConsentRequest>>, ApiError> {
    let page = PageRequest::parse(page.size(), &page.token()).map_err(|v| ApiError(Failure::invalid(vec![v])))?;
    let requests = requests_of(&state, &caller, id).await?;
    let start = match page.after {
        None => 0,
        Some(after) => {
            let after = after.to_string();
            requests.iter().position(|r| r.id == after).map_or(requests.len(), |i| i + 1)
        }
    };
    let fetched = requests.into_iter().skip(start).take(usize::try_from(page.fetch_limit()).unwrap_or(usize::MAX));
    let (rows, token) = page.finish(fetched.collect(), |r| uuid(&r.id));
    Ok(axum::Json(Page::new(rows.into_iter().map(consent_request).collect(), token)))
}

/// One consent request of a workspace (as in the list).
#[utoipa::path(get, path = "/workspaces/{id}/consents/{request}", tag = TAG,
    params(("id" = Uuid, Path), ("request" = Uuid, Path)),
    responses((status = 200, body = ConsentRequest, headers(("ETag" = String))),
        (status = 404, body = Problem, content_type = "application/problem+json")))]
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
    Ok(answer(StatusCode::OK, found, None))
}

/// The customer's acceptance.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AcceptInput {
    /// The expert sees only what is made in the workspace after the acceptance.
    #[serde(default)]
    pub from_now_on_only: bool,
}

/// Accept a pending request (the customer it asks). Needs `If-Match` with the version seen.
#[utoipa::path(post, path = "/consents/{request}/accept", tag = TAG,
    params(("request" = Uuid, Path), ("If-Match" = String, Header)),
    request_body = AcceptInput,
    responses((status = 200, body = ConsentRequest, headers(("ETag" = String))),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, description = "Not pending", content_type = "application/problem+json"),
        (status = 412, body = Problem, description = "Stale version", content_type = "application/problem+json"),
        (status = 428, body = Problem, description = "No If-Match", content_type = "application/problem+json")))]
async fn accept_consent(
    state: State<AppState>,
    Caller(caller): Caller,
    ApiPath(request): ApiPath<Uuid>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<AcceptInput>,
) -> Result<Response, ApiError> {
    let message = pb::AcceptConsentRequest {
        request_id: request.to_string(),
        version: if_match(&headers)?,
        from_now_on_only: body.from_now_on_only,
    };
    let changed = state.consent().accept_consent(state.as_caller(&caller, message)).await?.into_inner();
    Ok(answer(StatusCode::OK, changed, None))
}

/// Reject a pending request (the customer it asks). Needs `If-Match`.
#[utoipa::path(post, path = "/consents/{request}/reject", tag = TAG,
    params(("request" = Uuid, Path), ("If-Match" = String, Header)),
    responses((status = 200, body = ConsentRequest, headers(("ETag" = String))),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, description = "Not pending", content_type = "application/problem+json"),
        (status = 412, body = Problem, description = "Stale version", content_type = "application/problem+json"),
        (status = 428, body = Problem, description = "No If-Match", content_type = "application/problem+json")))]
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
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, description = "Not accepted", content_type = "application/problem+json"),
        (status = 412, body = Problem, description = "Stale version", content_type = "application/problem+json"),
        (status = 428, body = Problem, description = "No If-Match", content_type = "application/problem+json")))]
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
        (status = 403, body = Problem, description = "A member but not the owner guide", content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, description = "Already decided against, withdrawn or ended", content_type = "application/problem+json"),
        (status = 412, body = Problem, description = "Stale version", content_type = "application/problem+json"),
        (status = 428, body = Problem, description = "No If-Match", content_type = "application/problem+json")))]
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
    Ok(answer(StatusCode::OK, changed, None))
}

/// The result of recomputing a ledger's chain.
#[derive(Debug, Serialize, ToSchema)]
pub struct LedgerVerification {
    /// Whether every entry and the head still match their MACs, in order.
    pub ok: bool,
    /// Entries checked.
    pub entries: i64,
    /// When not ok: the first bad entry's sequence number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bad_seq: Option<i64>,
    /// When not ok: `changed`, `missing`, `out-of-order` or `head-mismatch`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

fn verification(v: pb::LedgerVerification) -> LedgerVerification {
    let problem = match pb::LedgerProblem::try_from(v.problem) {
        Ok(pb::LedgerProblem::Changed) => Some("changed"),
        Ok(pb::LedgerProblem::Missing) => Some("missing"),
        Ok(pb::LedgerProblem::OutOfOrder) => Some("out-of-order"),
        Ok(pb::LedgerProblem::HeadMismatch) => Some("head-mismatch"),
        _ => None,
    };
    LedgerVerification {
        ok: v.ok,
        entries: v.entries,
        bad_seq: (!v.ok).then_some(v.bad_seq),
        problem: if v.ok { None } else { problem.map(str::to_owned) },
    }
}

/// One entry of a workspace's consent ledger.
#[derive(Debug, Serialize, ToSchema)]
pub struct LedgerEntry {
    /// Place in the workspace's chain, from 1.
    pub seq: i64,
    pub id: Uuid,
    pub at: DateTime<Utc>,
    /// `requested`, `accepted`, `rejected`, `withdrawn` or `ended`.
    pub action: String,
    /// `expert`, `customer` or `service`.
    pub actor_kind: String,
    /// The actor's person or customer id, or a service's name.
    pub actor_id: String,
    pub request_id: Uuid,
    pub workspace_id: Uuid,
    pub organization_id: Uuid,
    pub customer_id: Uuid,
    pub expert_id: Uuid,
    pub expert_organization_id: Uuid,
    /// The purpose text of the request.
    pub purpose: String,
    /// Acceptances "from now on only": from when the expert sees content.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub visible_from: Option<DateTime<Utc>>,
    /// Hex HMAC-SHA256 of the previous entry (empty for the first) and of this one.
    pub prev_mac: String,
    pub mac: String,
}

/// A workspace's consent ledger as its reader may export it.
#[derive(Debug, Serialize, ToSchema)]
pub struct LedgerExport {
    pub workspace_id: Uuid,
    /// The controller.
    pub organization_id: Uuid,
    pub entries: Vec<LedgerEntry>,
    /// The whole chain's state at export.
    pub verification: LedgerVerification,
}

/// Export the workspace's consent ledger with purpose texts and its verification: the
/// workspace's customer gets the entries about them, the controller's main users every entry.
#[utoipa::path(get, path = "/workspaces/{id}/consent-ledger", tag = TAG, params(("id" = Uuid, Path)),
    responses((status = 200, body = LedgerExport), (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn export_ledger(
    state: State<AppState>,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<axum::Json<LedgerExport>, ApiError> {
    let request = pb::WorkspaceLedgerRequest { workspace_id: id.to_string() };
    let export = state.consent().export_ledger(state.as_caller(&caller, request)).await?.into_inner();
    let entries = export
        .entries
        .into_iter()
        .map(|e| LedgerEntry {
            seq: e.seq,
            id: uuid(&e.id),
            at: timestamp(e.at),
            action: e.action,
            actor_kind: e.actor_kind,
            actor_id: e.actor_id,
            request_id: uuid(&e.request_id),
            workspace_id: uuid(&e.workspace_id),
            organization_id: uuid(&e.organization_id),
            customer_id: uuid(&e.customer_id),
            expert_id: uuid(&e.expert_id),
            expert_organization_id: uuid(&e.expert_organization_id),
            purpose: e.purpose,
            visible_from: e.visible_from.map(|t| timestamp(Some(t))),
            prev_mac: e.prev_mac,
            mac: e.mac,
        })
        .collect();
    Ok(axum::Json(LedgerExport {
        workspace_id: uuid(&export.workspace_id),
        organization_id: uuid(&export.organization_id),
        entries,
        verification: verification(export.verification.unwrap_or_default()),
    }))
}

/// Recompute the workspace's consent ledger chain (whoever may export it).
#[utoipa::path(get, path = "/workspaces/{id}/consent-ledger/verification", tag = TAG, params(("id" = Uuid, Path)),
    responses((status = 200, body = LedgerVerification), (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn verify_ledger(
    state: State<AppState>,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<axum::Json<LedgerVerification>, ApiError> {
    let request = pb::WorkspaceLedgerRequest { workspace_id: id.to_string() };
    let verified = state.consent().verify_ledger(state.as_caller(&caller, request)).await?.into_inner();
    Ok(axum::Json(verification(verified)))
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
    fn a_broken_chain_says_where_and_why_a_sound_one_does_not() {
        let sound = verification(pb::LedgerVerification { ok: true, entries: 3, bad_seq: 0, problem: 0 });
        assert_eq!((sound.ok, sound.entries, sound.bad_seq, sound.problem), (true, 3, None, None));
        let broken = verification(pb::LedgerVerification {
            ok: false,
            entries: 3,
            bad_seq: 2,
            problem: pb::LedgerProblem::Changed as i32,
        });
        assert_eq!((broken.bad_seq, broken.problem.as_deref()), (Some(2), Some("changed")));
    }

    #[test]
    fn states_have_their_names() {
        assert_eq!(state_name(pb::ConsentState::Pending as i32), "pending");
        assert_eq!(state_name(pb::ConsentState::Withdrawn as i32), "withdrawn");
        assert_eq!(state_name(pb::ConsentState::Ended as i32), "ended");
    }
}
