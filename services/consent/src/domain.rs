//! Consent requests, their states and who may change them. No I/O.

use chrono::{DateTime, Utc};
use ohjaus_platform::{auth::Principal, error::ErrorCode, id_type};
use uuid::Uuid;

pub mod ledger;

id_type!(WorkspaceId);
id_type!(RequestId);
id_type!(EntryId);

/// Longest purpose text.
pub const PURPOSE_MAX: usize = 2000;

/// `pending → accepted | rejected`; `accepted → withdrawn (customer) | ended (owner)`; the
/// owner may also take back a pending proposal (`pending → ended`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConsentState {
    Pending,
    Accepted,
    Rejected,
    Withdrawn,
    Ended,
}

impl ConsentState {
    pub fn as_str(self) -> &'static str {
        match self {
            ConsentState::Pending => "pending",
            ConsentState::Accepted => "accepted",
            ConsentState::Rejected => "rejected",
            ConsentState::Withdrawn => "withdrawn",
            ConsentState::Ended => "ended",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "pending" => Some(ConsentState::Pending),
            "accepted" => Some(ConsentState::Accepted),
            "rejected" => Some(ConsentState::Rejected),
            "withdrawn" => Some(ConsentState::Withdrawn),
            "ended" => Some(ConsentState::Ended),
            _ => None,
        }
    }

    /// A proposal still open or a participation still running: the same expert cannot be
    /// proposed again for the same customer.
    pub fn is_live(self) -> bool {
        matches!(self, ConsentState::Pending | ConsentState::Accepted)
    }
}

/// What a ledger entry records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Requested,
    Accepted,
    Rejected,
    Withdrawn,
    Ended,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Requested => "requested",
            Action::Accepted => "accepted",
            Action::Rejected => "rejected",
            Action::Withdrawn => "withdrawn",
            Action::Ended => "ended",
        }
    }
}

/// Who did something, as the ledger names them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Actor {
    Expert(Uuid),
    Customer(Uuid),
    Service(String),
}

impl Actor {
    pub fn of(principal: &Principal) -> Option<Self> {
        match principal {
            Principal::Expert { person_id, .. } => Some(Actor::Expert(*person_id)),
            Principal::Customer { customer_id } => Some(Actor::Customer(*customer_id)),
            Principal::Service { name } => Some(Actor::Service(name.clone())),
            Principal::Operator { .. } | Principal::IntegrationClient { .. } => None,
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Actor::Expert(_) => "expert",
            Actor::Customer(_) => "customer",
            Actor::Service(_) => "service",
        }
    }

    pub fn id(&self) -> String {
        match self {
            Actor::Expert(id) | Actor::Customer(id) => id.to_string(),
            Actor::Service(name) => name.clone(),
        }
    }
}

/// The language the customer is addressed in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Language {
    Fi,
    Sv,
    En,
}

impl Language {
    pub fn as_str(self) -> &'static str {
        match self {
            Language::Fi => "fi",
            Language::Sv => "sv",
            Language::En => "en",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        match value.trim() {
            "fi" => Some(Language::Fi),
            "sv" => Some(Language::Sv),
            "en" => Some(Language::En),
            _ => None,
        }
    }
}

/// The caller's part in a workspace, as the workspaces service told it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Standing {
    /// The owner guide.
    Owner,
    /// Any other member.
    Member,
    /// Not a member (the workspaces service answered not found).
    Stranger,
}

/// Only the owner guide proposes experts and ends participations; to a stranger the
/// workspace does not exist.
pub fn may_manage(standing: Standing) -> Result<(), ErrorCode> {
    match standing {
        Standing::Owner => Ok(()),
        Standing::Member => Err(ErrorCode::PermissionDenied),
        Standing::Stranger => Err(ErrorCode::NotFound),
    }
}

/// A consent request as the rules see it (what the customer is shown is sealed elsewhere).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsentRequest {
    pub id: RequestId,
    pub workspace_id: WorkspaceId,
    pub organization_id: Uuid,
    pub customer_id: Uuid,
    pub expert_id: Uuid,
    pub expert_organization_id: Uuid,
    pub language: Language,
    pub state: ConsentState,
    pub requested_by: Uuid,
    pub requested_at: DateTime<Utc>,
    pub decided_at: Option<DateTime<Utc>>,
    pub visible_from: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    pub version: i64,
}

/// The customer's answer to a pending request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// `from_now_on_only`: the expert sees only content created after the acceptance.
    Accept {
        from_now_on_only: bool,
    },
    Reject,
}

/// A state change: the request as it becomes, and what the ledger records.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transition {
    pub request: ConsentRequest,
    pub action: Action,
}

impl ConsentRequest {
    /// Only the customer named in the request sees it; to anyone else it does not exist.
    pub fn visible_to_customer(&self, principal: &Principal) -> bool {
        matches!(principal, Principal::Customer { customer_id } if *customer_id == self.customer_id)
    }

    fn check_version(&self, seen: i64) -> Result<(), ErrorCode> {
        match seen {
            0 => Err(ErrorCode::PreconditionRequired),
            v if v != self.version => Err(ErrorCode::VersionMismatch),
            _ => Ok(()),
        }
    }

    fn becomes(&self, state: ConsentState, action: Action, now: DateTime<Utc>) -> Transition {
        let mut request = self.clone();
        request.state = state;
        request.version += 1;
        match action {
            Action::Accepted | Action::Rejected => request.decided_at = Some(now),
            Action::Withdrawn | Action::Ended => request.ended_at = Some(now),
            Action::Requested => {}
        }
        Transition { request, action }
    }

    /// The named customer accepts or rejects a pending request, with the version they saw.
    pub fn decide(
        &self,
        principal: &Principal,
        decision: Decision,
        seen: i64,
        now: DateTime<Utc>,
    ) -> Result<Transition, ErrorCode> {
        if !self.visible_to_customer(principal) {
            return Err(ErrorCode::NotFound);
        }
        self.check_version(seen)?;
        if self.state != ConsentState::Pending {
            return Err(ErrorCode::WrongState);
        }
        Ok(match decision {
            Decision::Accept { from_now_on_only } => {
                let mut t = self.becomes(ConsentState::Accepted, Action::Accepted, now);
                t.request.visible_from = from_now_on_only.then_some(now);
                t
            }
            Decision::Reject => self.becomes(ConsentState::Rejected, Action::Rejected, now),
        })
    }

    /// The named customer withdraws an accepted consent, with the version they saw.
    pub fn withdraw(&self, principal: &Principal, seen: i64, now: DateTime<Utc>) -> Result<Transition, ErrorCode> {
        if !self.visible_to_customer(principal) {
            return Err(ErrorCode::NotFound);
        }
        self.check_version(seen)?;
        if self.state != ConsentState::Accepted {
            return Err(ErrorCode::WrongState);
        }
        Ok(self.becomes(ConsentState::Withdrawn, Action::Withdrawn, now))
    }

    /// The owner guide (as `standing` says) ends a participation or takes back a proposal.
    pub fn end(&self, standing: Standing, seen: i64, now: DateTime<Utc>) -> Result<Transition, ErrorCode> {
        may_manage(standing)?;
        self.check_version(seen)?;
        if !self.state.is_live() {
            return Err(ErrorCode::WrongState);
        }
        Ok(self.becomes(ConsentState::Ended, Action::Ended, now))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    fn pending() -> ConsentRequest {
        ConsentRequest {
            id: RequestId::new(),
            workspace_id: WorkspaceId::new(),
            organization_id: Uuid::now_v7(),
            customer_id: Uuid::now_v7(),
            expert_id: Uuid::now_v7(),
            expert_organization_id: Uuid::now_v7(),
            language: Language::Fi,
            state: ConsentState::Pending,
            requested_by: Uuid::now_v7(),
            requested_at: Utc::now(),
            decided_at: None,
            visible_from: None,
            ended_at: None,
            version: 1,
        }
    }

    fn customer(r: &ConsentRequest) -> Principal {
        Principal::Customer { customer_id: r.customer_id }
    }

    #[test]
    fn only_the_named_customer_decides_and_others_see_nothing() {
        let r = pending();
        let now = Utc::now();
        let other = Principal::Customer { customer_id: Uuid::now_v7() };
        let guide = Principal::Expert { person_id: r.requested_by, memberships: vec![] };
        let expert = Principal::Expert { person_id: r.expert_id, memberships: vec![] };
        for stranger in [&other, &guide, &expert, &Principal::Service { name: "retention".into() }] {
            assert_eq!(r.decide(stranger, Decision::Reject, 1, now), Err(ErrorCode::NotFound));
            assert_eq!(r.withdraw(stranger, 1, now), Err(ErrorCode::NotFound));
        }
        assert!(r.decide(&customer(&r), Decision::Reject, 1, now).is_ok());
    }

    #[test]
    fn decisions_need_the_current_version() {
        let r = pending();
        let now = Utc::now();
        assert_eq!(r.decide(&customer(&r), Decision::Reject, 0, now), Err(ErrorCode::PreconditionRequired));
        assert_eq!(r.decide(&customer(&r), Decision::Reject, 2, now), Err(ErrorCode::VersionMismatch));
        let accepted = r.decide(&customer(&r), Decision::Accept { from_now_on_only: false }, 1, now).unwrap();
        assert_eq!(accepted.request.version, 2);
        // The version the customer saw before acceptance is stale now.
        assert_eq!(accepted.request.withdraw(&customer(&r), 1, now), Err(ErrorCode::VersionMismatch));
    }

    #[test]
    fn only_a_pending_request_is_decided() {
        let r = pending();
        let now = Utc::now();
        let rejected = r.decide(&customer(&r), Decision::Reject, 1, now).unwrap().request;
        assert_eq!(rejected.state, ConsentState::Rejected);
        assert_eq!(rejected.decided_at, Some(now));
        assert_eq!(
            rejected.decide(&customer(&r), Decision::Accept { from_now_on_only: false }, 2, now),
            Err(ErrorCode::WrongState)
        );
        assert_eq!(rejected.withdraw(&customer(&r), 2, now), Err(ErrorCode::WrongState));
        assert_eq!(rejected.end(Standing::Owner, 2, now), Err(ErrorCode::WrongState));
        // Withdrawing needs an accepted consent.
        assert_eq!(r.withdraw(&customer(&r), 1, now), Err(ErrorCode::WrongState));
    }

    #[test]
    fn from_now_on_only_sets_the_visibility_start_to_the_acceptance() {
        let r = pending();
        let now = Utc::now() + Duration::minutes(5);
        let limited = r.decide(&customer(&r), Decision::Accept { from_now_on_only: true }, 1, now).unwrap();
        assert_eq!(limited.action, Action::Accepted);
        assert_eq!(limited.request.state, ConsentState::Accepted);
        assert_eq!(limited.request.visible_from, Some(now));
        let everything = r.decide(&customer(&r), Decision::Accept { from_now_on_only: false }, 1, now).unwrap();
        assert_eq!(everything.request.visible_from, None);
    }

    #[test]
    fn withdrawal_and_ending_end_the_participation() {
        let r = pending();
        let now = Utc::now();
        let accepted = r.decide(&customer(&r), Decision::Accept { from_now_on_only: false }, 1, now).unwrap().request;
        let later = now + Duration::days(3);
        let withdrawn = accepted.withdraw(&customer(&r), 2, later).unwrap();
        assert_eq!((withdrawn.action, withdrawn.request.state), (Action::Withdrawn, ConsentState::Withdrawn));
        assert_eq!(withdrawn.request.ended_at, Some(later));
        assert!(!withdrawn.request.state.is_live());
        let ended = accepted.end(Standing::Owner, 2, later).unwrap();
        assert_eq!((ended.action, ended.request.state), (Action::Ended, ConsentState::Ended));
        // The owner may take back a proposal the customer has not answered.
        assert_eq!(r.end(Standing::Owner, 1, later).unwrap().request.state, ConsentState::Ended);
    }

    #[test]
    fn only_the_owner_manages_and_strangers_see_nothing() {
        assert_eq!(may_manage(Standing::Owner), Ok(()));
        assert_eq!(may_manage(Standing::Member), Err(ErrorCode::PermissionDenied));
        assert_eq!(may_manage(Standing::Stranger), Err(ErrorCode::NotFound));
        let r = pending();
        assert_eq!(r.end(Standing::Member, 1, Utc::now()), Err(ErrorCode::PermissionDenied));
        assert_eq!(r.end(Standing::Stranger, 1, Utc::now()), Err(ErrorCode::NotFound));
    }
}
