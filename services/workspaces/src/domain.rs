//! Workspaces, their members and states, and who may do what. No I/O.

use chrono::{DateTime, Duration, Utc};
use ohjaus_platform::{
    auth::{Principal, Role},
    error::{ErrorCode, FieldViolation},
    id_type,
    types::Text,
};
use uuid::Uuid;

id_type!(WorkspaceId);
id_type!(MessageId);

pub const TITLE_MAX: usize = 200;
pub const MESSAGE_MAX: usize = 10_000;

/// Personal (one customer) or group (many customers, who do not see each other).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Personal,
    Group,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Personal => "personal",
            Kind::Group => "group",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "personal" => Some(Kind::Personal),
            "group" => Some(Kind::Group),
            _ => None,
        }
    }
}

/// `active → closed → archived`; deletion removes the workspace and its key altogether.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    Active,
    Closed,
    Archived,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Active => "active",
            State::Closed => "closed",
            State::Archived => "archived",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "active" => Some(State::Active),
            "closed" => Some(State::Closed),
            "archived" => Some(State::Archived),
            _ => None,
        }
    }
}

/// The guidance topics a workspace can be about.
pub const TOPICS: [&str; 13] = [
    "general-situation",
    "health",
    "everyday-life",
    "social-relationships",
    "mental-wellbeing",
    "self-esteem",
    "skills",
    "studies",
    "work-and-careers",
    "finances",
    "hobbies",
    "housing",
    "addictions",
];

/// A known topic code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Topic(&'static str);

impl Topic {
    pub fn parse(field: &str, value: &str) -> Result<Self, FieldViolation> {
        TOPICS
            .iter()
            .find(|t| **t == value.trim())
            .map(|t| Topic(t))
            .ok_or_else(|| FieldViolation::new(field, "invalid-topic"))
    }

    pub fn as_str(&self) -> &'static str {
        self.0
    }
}

/// A member's part in a workspace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MemberRole {
    /// The guide who owns it.
    Owner,
    /// Another guide of the organisation.
    Guide,
    /// An expert who joined with the customer's consent.
    Expert,
    Customer,
}

impl MemberRole {
    pub fn as_str(self) -> &'static str {
        match self {
            MemberRole::Owner => "owner",
            MemberRole::Guide => "guide",
            MemberRole::Expert => "expert",
            MemberRole::Customer => "customer",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "owner" => Some(MemberRole::Owner),
            "guide" => Some(MemberRole::Guide),
            "expert" => Some(MemberRole::Expert),
            "customer" => Some(MemberRole::Customer),
            _ => None,
        }
    }

    /// Guides run the workspace: they may close and reopen it.
    pub fn guides(self) -> bool {
        matches!(self, MemberRole::Owner | MemberRole::Guide)
    }
}

#[derive(Clone, Debug)]
pub struct Workspace {
    pub id: WorkspaceId,
    pub organization_id: Uuid,
    pub office_id: Uuid,
    pub kind: Kind,
    pub title: Text,
    pub topics: Vec<Topic>,
    pub state: State,
    pub owner_id: Uuid,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
}

/// Who the caller is to a workspace, as stored: `(kind, id)` of a member.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Actor {
    Expert(Uuid),
    Customer(Uuid),
}

impl Actor {
    /// The member a principal could be; operators, services and clients are never members.
    pub fn of(principal: &Principal) -> Option<Self> {
        match principal {
            Principal::Expert { person_id, .. } => Some(Actor::Expert(*person_id)),
            Principal::Customer { customer_id } => Some(Actor::Customer(*customer_id)),
            _ => None,
        }
    }

    pub fn kind(self) -> &'static str {
        match self {
            Actor::Expert(_) => "expert",
            Actor::Customer(_) => "customer",
        }
    }

    pub fn id(self) -> Uuid {
        match self {
            Actor::Expert(id) | Actor::Customer(id) => id,
        }
    }
}

/// A guide of `organization` may open workspaces there.
pub fn may_create(principal: &Principal, organization: Uuid) -> Result<(), ErrorCode> {
    if principal.has_role(organization, Role::Guide) {
        Ok(())
    } else if principal.belongs_to(organization) {
        Err(ErrorCode::PermissionDenied)
    } else {
        // Strangers learn nothing about the organisation.
        Err(ErrorCode::NotFound)
    }
}

/// Content is read by members only; an expert must also still work for the organisation.
/// Everyone else — main users, the operator, other guides — finds nothing.
pub fn may_read(principal: &Principal, workspace: &Workspace, role: Option<MemberRole>) -> Result<(), ErrorCode> {
    match (principal, role) {
        (Principal::Customer { .. }, Some(MemberRole::Customer)) => Ok(()),
        (Principal::Expert { .. }, Some(MemberRole::Expert)) => Ok(()),
        (Principal::Expert { .. }, Some(MemberRole::Owner | MemberRole::Guide))
            if principal.belongs_to(workspace.organization_id) =>
        {
            Ok(())
        }
        _ => Err(ErrorCode::NotFound),
    }
}

/// Posting needs read access and an active workspace.
pub fn may_post(principal: &Principal, workspace: &Workspace, role: Option<MemberRole>) -> Result<(), ErrorCode> {
    may_read(principal, workspace, role)?;
    if workspace.state == State::Active { Ok(()) } else { Err(ErrorCode::WrongState) }
}

/// A guide of the workspace closes it.
pub fn close(
    principal: &Principal,
    workspace: &Workspace,
    role: Option<MemberRole>,
    now: DateTime<Utc>,
) -> Result<(State, Option<DateTime<Utc>>), ErrorCode> {
    may_read(principal, workspace, role)?;
    if !role.is_some_and(MemberRole::guides) {
        return Err(ErrorCode::PermissionDenied);
    }
    match workspace.state {
        State::Active => Ok((State::Closed, Some(now))),
        State::Closed | State::Archived => Err(ErrorCode::WrongState),
    }
}

/// A guide of the workspace reopens it within `window` of closing.
pub fn reopen(
    principal: &Principal,
    workspace: &Workspace,
    role: Option<MemberRole>,
    now: DateTime<Utc>,
    window: Duration,
) -> Result<(State, Option<DateTime<Utc>>), ErrorCode> {
    may_read(principal, workspace, role)?;
    if !role.is_some_and(MemberRole::guides) {
        return Err(ErrorCode::PermissionDenied);
    }
    match (workspace.state, workspace.closed_at) {
        (State::Closed, Some(closed_at)) if now <= closed_at + window => Ok((State::Active, None)),
        _ => Err(ErrorCode::WrongState),
    }
}

#[cfg(test)]
mod tests {
    use ohjaus_platform::auth::Membership;

    use super::*;

    fn expert(org: Uuid, roles: &[Role]) -> Principal {
        Principal::Expert {
            person_id: Uuid::now_v7(),
            memberships: vec![Membership { tenant_id: org, roles: roles.to_vec() }],
        }
    }

    fn workspace(org: Uuid, state: State, closed_at: Option<DateTime<Utc>>) -> Workspace {
        Workspace {
            id: WorkspaceId::new(),
            organization_id: org,
            office_id: Uuid::now_v7(),
            kind: Kind::Personal,
            title: Text::parse("title", "Työnhaku", TITLE_MAX).unwrap(),
            topics: vec![Topic::parse("topics", "work-and-careers").unwrap()],
            state,
            owner_id: Uuid::now_v7(),
            version: 1,
            created_at: Utc::now(),
            closed_at,
        }
    }

    #[test]
    fn only_guides_create_and_strangers_learn_nothing() {
        let org = Uuid::now_v7();
        assert!(may_create(&expert(org, &[Role::Guide]), org).is_ok());
        assert_eq!(may_create(&expert(org, &[Role::Admin]), org), Err(ErrorCode::PermissionDenied));
        assert_eq!(may_create(&expert(Uuid::now_v7(), &[Role::Guide]), org), Err(ErrorCode::NotFound));
        assert_eq!(may_create(&Principal::Operator { subject: "op".into() }, org), Err(ErrorCode::NotFound));
    }

    #[test]
    fn only_members_read_and_main_users_do_not() {
        let org = Uuid::now_v7();
        let ws = workspace(org, State::Active, None);
        let guide = expert(org, &[Role::Guide]);
        assert!(may_read(&guide, &ws, Some(MemberRole::Owner)).is_ok());
        assert_eq!(may_read(&expert(org, &[Role::Admin]), &ws, None), Err(ErrorCode::NotFound));
        assert_eq!(may_read(&expert(org, &[Role::Guide]), &ws, None), Err(ErrorCode::NotFound));
        assert_eq!(may_read(&Principal::Operator { subject: "op".into() }, &ws, None), Err(ErrorCode::NotFound));
        // A guide who left the organisation no longer reads its workspaces.
        assert_eq!(
            may_read(&expert(Uuid::now_v7(), &[Role::Guide]), &ws, Some(MemberRole::Owner)),
            Err(ErrorCode::NotFound)
        );
        let customer = Principal::Customer { customer_id: Uuid::now_v7() };
        assert!(may_read(&customer, &ws, Some(MemberRole::Customer)).is_ok());
        assert_eq!(may_read(&customer, &ws, None), Err(ErrorCode::NotFound));
    }

    #[test]
    fn close_and_reopen_within_the_window() {
        let org = Uuid::now_v7();
        let now = Utc::now();
        let guide = expert(org, &[Role::Guide]);
        let active = workspace(org, State::Active, None);
        assert_eq!(close(&guide, &active, Some(MemberRole::Owner), now), Ok((State::Closed, Some(now))));
        let customer = Principal::Customer { customer_id: Uuid::now_v7() };
        assert_eq!(close(&customer, &active, Some(MemberRole::Customer), now), Err(ErrorCode::PermissionDenied));
        let closed = workspace(org, State::Closed, Some(now));
        let window = Duration::days(30);
        assert_eq!(
            reopen(&guide, &closed, Some(MemberRole::Owner), now + Duration::days(29), window),
            Ok((State::Active, None))
        );
        assert_eq!(
            reopen(&guide, &closed, Some(MemberRole::Owner), now + Duration::days(31), window),
            Err(ErrorCode::WrongState)
        );
        assert_eq!(may_post(&guide, &closed, Some(MemberRole::Owner)), Err(ErrorCode::WrongState));
    }

    #[test]
    fn topics_are_from_the_list() {
        assert!(Topic::parse("topics", "finances").is_ok());
        assert!(Topic::parse("topics", "astrology").is_err());
    }
}
