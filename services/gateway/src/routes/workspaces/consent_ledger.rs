//! `/workspaces/{id}/consent-ledger`: a workspace's consent ledger, exported with its
//! verification, and the verification alone.

use axum::extract::State;
use chrono::{DateTime, Utc};
use ohjaus_platform::proto::consent::v1 as pb;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use uuid::Uuid;

use crate::{
    docs::{BasicProblems, routes},
    extract::{ApiPath, Caller},
    ids::service_id,
    problem::ApiError,
    state::AppState,
    views::{timestamp, view_all},
};

/// The ledger is documented with consent.
const TAG: &str = "consent";

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(export_ledger)).routes(routes!(verify_ledger))
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

fn entry(e: pb::LedgerEntry) -> Result<LedgerEntry, ApiError> {
    Ok(LedgerEntry {
        seq: e.seq,
        id: service_id(&e.id)?,
        at: timestamp(e.at),
        action: e.action,
        actor_kind: e.actor_kind,
        actor_id: e.actor_id,
        request_id: service_id(&e.request_id)?,
        workspace_id: service_id(&e.workspace_id)?,
        organization_id: service_id(&e.organization_id)?,
        customer_id: service_id(&e.customer_id)?,
        expert_id: service_id(&e.expert_id)?,
        expert_organization_id: service_id(&e.expert_organization_id)?,
        purpose: e.purpose,
        visible_from: e.visible_from.map(|t| timestamp(Some(t))),
        prev_mac: e.prev_mac,
        mac: e.mac,
    })
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
    responses((status = 200, body = LedgerExport),
        BasicProblems),
    security(("session" = [])))]
async fn export_ledger(
    state: State<AppState>,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<axum::Json<LedgerExport>, ApiError> {
    let request = pb::WorkspaceLedgerRequest { workspace_id: id.to_string() };
    let export = state.consent().export_ledger(state.as_caller(&caller, request)).await?.into_inner();
    Ok(axum::Json(LedgerExport {
        workspace_id: service_id(&export.workspace_id)?,
        organization_id: service_id(&export.organization_id)?,
        entries: view_all(export.entries, entry)?,
        verification: verification(export.verification.unwrap_or_default()),
    }))
}

/// Recompute the workspace's consent ledger chain (whoever may export it).
#[utoipa::path(get, path = "/workspaces/{id}/consent-ledger/verification", tag = TAG, params(("id" = Uuid, Path)),
    responses((status = 200, body = LedgerVerification),
        BasicProblems),
    security(("session" = [])))]
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
    use super::*;

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
}
