//! Workspaces, their members and states, and who may do what. No I/O.

use chrono::{DateTime, Duration, Utc};
/// The guidance topics (shared with contact forms: the platform's list).
pub use ohjaus_platform::types::{TOPICS, Topic};
use ohjaus_platform::{
    auth::{Principal, Role},
    error::{ErrorCode, Failure, FieldViolation},
    id_type,
    types::{Text, has_visible, is_bidi_control},
};
use uuid::Uuid;

pub mod guidance;
pub mod sight;

id_type!(WorkspaceId);
id_type!(MessageId);
id_type!(InvitationId);
id_type!(FileId);
id_type!(NotificationId);

pub const TITLE_MAX: usize = 200;
pub const MESSAGE_MAX: usize = 10_000;
pub const FILE_NAME_MAX: usize = 200;
/// Attachments of one message.
pub const ATTACHMENTS_MAX: usize = 10;

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

    /// Where the role comes in a list of members: the owner first, customers last.
    pub fn rank(self) -> u8 {
        match self {
            MemberRole::Owner => 0,
            MemberRole::Guide => 1,
            MemberRole::Expert => 2,
            MemberRole::Customer => 3,
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
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
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
/// Everyone else — main users, the operator, other guides — finds nothing. An archived
/// workspace is the customer's alone: it is hidden from every expert until it is deleted.
pub fn may_read(principal: &Principal, workspace: &Workspace, role: Option<MemberRole>) -> Result<(), ErrorCode> {
    let archived = workspace.state == State::Archived;
    match (principal, role) {
        (Principal::Customer { .. }, Some(MemberRole::Customer)) => Ok(()),
        (Principal::Expert { .. }, Some(MemberRole::Expert)) if !archived => Ok(()),
        (Principal::Expert { .. }, Some(MemberRole::Owner | MemberRole::Guide))
            if !archived && principal.belongs_to(workspace.organization_id) =>
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
    closing(workspace, now)
}

/// A main user of the workspace's organisation looks after it without being a member or
/// reading it: hands it to another guide, closes it. To anyone else it does not exist, and an
/// archived workspace is hidden from every expert, main users included.
pub fn may_steward(principal: &Principal, workspace: &Workspace) -> Result<(), ErrorCode> {
    if principal.has_role(workspace.organization_id, Role::Admin) && workspace.state != State::Archived {
        Ok(())
    } else {
        Err(ErrorCode::NotFound)
    }
}

/// What closing makes of the workspace: closed from `now`, if it is active.
pub fn closing(workspace: &Workspace, now: DateTime<Utc>) -> Result<(State, Option<DateTime<Utc>>), ErrorCode> {
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

/// Where a message or file belongs in a group workspace: everyone, or one customer's private
/// thread with the guides. A personal workspace has only `Everyone`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Thread {
    Everyone,
    Customer(Uuid),
}

impl Thread {
    pub fn from_column(value: Option<Uuid>) -> Self {
        value.map_or(Thread::Everyone, Thread::Customer)
    }
    pub fn column(self) -> Option<Uuid> {
        match self {
            Thread::Everyone => None,
            Thread::Customer(id) => Some(id),
        }
    }
}

/// The thread a new message or file goes to. A customer in a group always writes to their own
/// thread; a guide writes to everyone or to the customer they name (checked as a member by the
/// caller).
pub fn thread_for(kind: Kind, actor: Actor, requested: Option<Uuid>) -> Result<Thread, FieldViolation> {
    match (kind, actor, requested) {
        (Kind::Personal, _, None) => Ok(Thread::Everyone),
        (Kind::Personal, _, Some(_)) => Err(FieldViolation::new("thread_id", "invalid-thread")),
        (Kind::Group, Actor::Customer(me), None) => Ok(Thread::Customer(me)),
        (Kind::Group, Actor::Customer(me), Some(id)) if id == me => Ok(Thread::Customer(me)),
        (Kind::Group, Actor::Customer(_), Some(_)) => Err(FieldViolation::new("thread_id", "invalid-thread")),
        (Kind::Group, Actor::Expert(_), None) => Ok(Thread::Everyone),
        (Kind::Group, Actor::Expert(_), Some(id)) => Ok(Thread::Customer(id)),
    }
}

/// The author changes or removes their own message, within `window` of posting it, while the
/// workspace is active. Anyone else's message is not theirs to touch.
pub fn may_change_message(
    actor: Actor,
    author: Actor,
    posted_at: DateTime<Utc>,
    now: DateTime<Utc>,
    window: Duration,
    state: State,
) -> Result<(), Failure> {
    if actor != author {
        return Err(Failure::new(ErrorCode::PermissionDenied));
    }
    if state != State::Active {
        return Err(Failure::new(ErrorCode::WrongState));
    }
    if now > posted_at + window {
        return Err(Failure::invalid(vec![FieldViolation::new("message_id", "edit-window-passed")]));
    }
    Ok(())
}

/// An invitation as stored: `pending` until accepted or revoked; expiry is read from the clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InvitationState {
    Pending,
    Accepted,
    Revoked,
}

impl InvitationState {
    pub fn as_str(self) -> &'static str {
        match self {
            InvitationState::Pending => "pending",
            InvitationState::Accepted => "accepted",
            InvitationState::Revoked => "revoked",
        }
    }
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "pending" => Some(InvitationState::Pending),
            "accepted" => Some(InvitationState::Accepted),
            "revoked" => Some(InvitationState::Revoked),
            _ => None,
        }
    }
}

/// What an invitation is now, counting expiry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InvitationStatus {
    Pending,
    Accepted,
    Revoked,
    Expired,
}

pub fn invitation_status(state: InvitationState, expires_at: DateTime<Utc>, now: DateTime<Utc>) -> InvitationStatus {
    match state {
        InvitationState::Accepted => InvitationStatus::Accepted,
        InvitationState::Revoked => InvitationStatus::Revoked,
        InvitationState::Pending if now >= expires_at => InvitationStatus::Expired,
        InvitationState::Pending => InvitationStatus::Pending,
    }
}

/// Guides invite, into an active workspace; a personal workspace has room for one customer.
pub fn may_invite(workspace: &Workspace, role: Option<MemberRole>, customers: i64) -> Result<(), ErrorCode> {
    if !role.is_some_and(MemberRole::guides) {
        return Err(ErrorCode::PermissionDenied);
    }
    if workspace.state != State::Active || (workspace.kind == Kind::Personal && customers > 0) {
        return Err(ErrorCode::WrongState);
    }
    Ok(())
}

/// Whether `customer` may accept an invitation in `status`, bound to `bound` (if anyone).
pub fn may_accept(status: InvitationStatus, bound: Option<Uuid>, customer: Uuid) -> Result<(), ErrorCode> {
    if status != InvitationStatus::Pending {
        return Err(ErrorCode::InvitationUnusable);
    }
    match bound {
        Some(person) if person != customer => Err(ErrorCode::InvitationForAnotherPerson),
        _ => Ok(()),
    }
}

/// A file's name as the uploader gave it: no folders, no control characters, something
/// visible, and no bidirectional controls, which could make `\u{202e}gpj.txt` show as "txt.jpg".
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileName(String);

impl FileName {
    pub fn parse(field: &str, value: &str) -> Result<Self, FieldViolation> {
        let name = value.trim();
        if name.chars().any(is_bidi_control) {
            return Err(FieldViolation::new(field, "file-name-direction-control"));
        }
        let bad = !has_visible(name)
            || name.chars().count() > FILE_NAME_MAX
            || name.chars().any(|c| c.is_control() || c == '/' || c == '\\')
            || name == "."
            || name == "..";
        if bad { Err(FieldViolation::new(field, "invalid-file-name")) } else { Ok(Self(name.to_owned())) }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// The lower-case extension after the last dot, if any.
    pub fn extension(&self) -> Option<String> {
        self.0.rsplit_once('.').map(|(_, ext)| ext.to_ascii_lowercase()).filter(|e| !e.is_empty())
    }
}

/// The types that may be shared: extension → the type the bytes must show. Text types have no
/// signature; their bytes must be UTF-8 and show no other type.
const ALLOWED_TYPES: [(&str, &str); 19] = [
    ("pdf", "application/pdf"),
    ("png", "image/png"),
    ("jpg", "image/jpeg"),
    ("jpeg", "image/jpeg"),
    ("gif", "image/gif"),
    ("webp", "image/webp"),
    ("txt", "text/plain"),
    ("csv", "text/csv"),
    ("rtf", "text/rtf"),
    ("doc", "application/msword"),
    ("xls", "application/vnd.ms-excel"),
    ("ppt", "application/vnd.ms-powerpoint"),
    ("docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
    ("xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    ("pptx", "application/vnd.openxmlformats-officedocument.presentationml.presentation"),
    ("odt", "application/vnd.oasis.opendocument.text"),
    ("ods", "application/vnd.oasis.opendocument.spreadsheet"),
    ("odp", "application/vnd.oasis.opendocument.presentation"),
    ("heic", "image/heif"),
];

/// Every type a shared file can have, once each: what uploads may declare (besides
/// `application/octet-stream`) and downloads answer with.
pub fn file_media_types() -> Vec<&'static str> {
    let mut types: Vec<&'static str> = ALLOWED_TYPES.iter().map(|(_, t)| *t).collect();
    types.sort_unstable();
    types.dedup();
    types
}

/// Names that run code somewhere, refused whatever their bytes say.
const ACTIVE_EXTENSIONS: [&str; 22] = [
    "exe", "dll", "com", "bat", "cmd", "msi", "scr", "ps1", "vbs", "js", "mjs", "jar", "sh", "bash", "app", "apk",
    "html", "htm", "svg", "xhtml", "hta", "wsf",
];

/// The content type of a file, decided from its first bytes and checked against its name and
/// the type the uploader declared. `head` is at least the first 8 KiB, or the whole file.
pub fn file_type(name: &FileName, declared: &str, head: &[u8]) -> Result<&'static str, FieldViolation> {
    let sniffed = infer::get(head);
    if sniffed.is_some_and(|t| t.matcher_type() == infer::MatcherType::App)
        || head.starts_with(b"#!")
        || head.starts_with(b"MZ")
        || head.starts_with(b"\x7fELF")
    {
        return Err(FieldViolation::new("file", "executable-file"));
    }
    let extension = name.extension().unwrap_or_default();
    if ACTIVE_EXTENSIONS.contains(&extension.as_str()) {
        return Err(FieldViolation::new("file", "executable-file"));
    }
    let Some((_, expected)) = ALLOWED_TYPES.iter().find(|(ext, _)| *ext == extension) else {
        return Err(FieldViolation::new("file", "file-type-not-allowed"));
    };
    let matches = match (*expected, sniffed.map(|t| t.mime_type())) {
        ("text/plain" | "text/csv", None) => utf8_prefix(head),
        ("text/rtf", Some("text/rtf" | "application/rtf")) => true,
        // Old office formats share one container signature.
        (
            "application/msword" | "application/vnd.ms-excel" | "application/vnd.ms-powerpoint",
            Some(
                "application/msword"
                | "application/vnd.ms-excel"
                | "application/vnd.ms-powerpoint"
                | "application/x-ole-storage",
            ),
        ) => true,
        ("image/heif", Some("image/heif" | "image/heic")) => true,
        (expected, Some(found)) => expected == found,
        (_, None) => false,
    };
    if !matches {
        return Err(FieldViolation::new("file", "file-type-mismatch"));
    }
    let declared = declared.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    if !declared.is_empty() && declared != "application/octet-stream" && declared != *expected {
        return Err(FieldViolation::new("file", "file-type-mismatch"));
    }
    Ok(expected)
}

/// Valid UTF-8 without NULs, allowing a character cut at the end of the sample.
fn utf8_prefix(head: &[u8]) -> bool {
    if head.contains(&0) {
        return false;
    }
    match std::str::from_utf8(head) {
        Ok(_) => true,
        Err(e) => e.error_len().is_none(),
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
        // Archived, it is the customer's alone.
        let archived = workspace(org, State::Archived, Some(Utc::now()));
        assert!(may_read(&customer, &archived, Some(MemberRole::Customer)).is_ok());
        assert_eq!(may_read(&guide, &archived, Some(MemberRole::Owner)), Err(ErrorCode::NotFound));
        assert_eq!(may_read(&guide, &archived, Some(MemberRole::Expert)), Err(ErrorCode::NotFound));
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
    fn main_users_of_the_organisation_steward_and_no_one_else() {
        let org = Uuid::now_v7();
        let active = workspace(org, State::Active, None);
        let admin = expert(org, &[Role::Admin]);
        assert_eq!(may_steward(&admin, &active), Ok(()));
        let now = Utc::now();
        assert_eq!(closing(&active, now), Ok((State::Closed, Some(now))));
        assert_eq!(closing(&workspace(org, State::Closed, Some(now)), now), Err(ErrorCode::WrongState));
        // Closed, it is still theirs to look after; archived, it is hidden from them.
        assert_eq!(may_steward(&admin, &workspace(org, State::Closed, Some(now))), Ok(()));
        assert_eq!(may_steward(&admin, &workspace(org, State::Archived, Some(now))), Err(ErrorCode::NotFound));
        for stranger in [
            expert(org, &[Role::Guide, Role::Advisor, Role::Supervisor]),
            expert(Uuid::now_v7(), &[Role::Admin]),
            Principal::Operator { subject: "op".into() },
            Principal::Customer { customer_id: Uuid::now_v7() },
        ] {
            assert_eq!(may_steward(&stranger, &active), Err(ErrorCode::NotFound), "{stranger:?}");
        }
    }

    #[test]
    fn topics_are_from_the_list() {
        assert!(Topic::parse("topics", "finances").is_ok());
        assert!(Topic::parse("topics", "astrology").is_err());
    }

    #[test]
    fn group_customers_see_announcements_and_their_own_thread() {
        let (me, other, guide) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        let mine = Actor::Customer(me);
        let sight = |actor, role| sight::Sight::of(None, Kind::Group, actor, Some(role), &[]).unwrap();
        let customer = sight(mine, MemberRole::Customer);
        assert!(customer.sees_thread(Thread::Everyone));
        assert!(customer.sees_thread(Thread::Customer(me)));
        assert!(!customer.sees_thread(Thread::Customer(other)));
        assert!(sight(Actor::Expert(guide), MemberRole::Guide).sees_thread(Thread::Customer(other)));
        assert_eq!(thread_for(Kind::Group, mine, None), Ok(Thread::Customer(me)));
        assert!(thread_for(Kind::Group, mine, Some(other)).is_err());
        assert_eq!(thread_for(Kind::Group, Actor::Expert(guide), Some(other)), Ok(Thread::Customer(other)));
        assert!(thread_for(Kind::Personal, mine, Some(me)).is_err());
    }

    #[test]
    fn invitations_expire_and_bind() {
        let now = Utc::now();
        let (person, other) = (Uuid::now_v7(), Uuid::now_v7());
        let pending = invitation_status(InvitationState::Pending, now + Duration::days(1), now);
        assert_eq!(pending, InvitationStatus::Pending);
        assert_eq!(may_accept(pending, Some(person), person), Ok(()));
        assert_eq!(may_accept(pending, Some(person), other), Err(ErrorCode::InvitationForAnotherPerson));
        assert_eq!(may_accept(pending, None, other), Ok(()));
        let expired = invitation_status(InvitationState::Pending, now, now);
        assert_eq!(may_accept(expired, None, person), Err(ErrorCode::InvitationUnusable));
        let used = invitation_status(InvitationState::Accepted, now + Duration::days(1), now);
        assert_eq!(may_accept(used, None, person), Err(ErrorCode::InvitationUnusable));
    }

    #[test]
    fn file_types_are_decided_by_bytes_and_name() {
        let pdf = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n";
        let name = |n: &str| FileName::parse("name", n).unwrap();
        assert_eq!(file_type(&name("lausunto.pdf"), "application/pdf", pdf), Ok("application/pdf"));
        assert_eq!(file_type(&name("notes.txt"), "", "hyvää päivää".as_bytes()), Ok("text/plain"));
        let mismatch = |r: Result<&str, FieldViolation>| r.unwrap_err().reason;
        assert_eq!(mismatch(file_type(&name("kuva.png"), "", pdf)), "file-type-mismatch");
        assert_eq!(mismatch(file_type(&name("lausunto.pdf"), "image/png", pdf)), "file-type-mismatch");
        assert_eq!(mismatch(file_type(&name("notes.txt"), "", pdf)), "file-type-mismatch");
        assert_eq!(mismatch(file_type(&name("setup.pdf"), "", b"MZ\x90\x00\x03\x00\x00\x00")), "executable-file");
        assert_eq!(mismatch(file_type(&name("run.sh"), "", b"echo hi")), "executable-file");
        assert_eq!(mismatch(file_type(&name("page.html"), "", b"<html>")), "executable-file");
        assert_eq!(mismatch(file_type(&name("data.bin"), "", b"abc")), "file-type-not-allowed");
        assert!(FileName::parse("name", "../etc/passwd").is_err());
        assert!(FileName::parse("name", "a\u{0}b.pdf").is_err());
    }

    #[test]
    fn file_names_show_what_they_are() {
        let reason = |n: &str| FileName::parse("name", n).unwrap_err().reason;
        for spoofed in ["\u{202e}gpj.txt", "lasku\u{2066}.pdf", "a\u{200f}.txt", "b\u{061c}.txt", "\u{202a}c.txt"] {
            assert_eq!(reason(spoofed), "file-name-direction-control", "{spoofed:?}");
        }
        assert_eq!(reason("\u{200b}\u{2060}"), "invalid-file-name");
        assert_eq!(FileName::parse("name", "ansioluettelo\u{200b}.pdf").unwrap().as_str(), "ansioluettelo\u{200b}.pdf");
    }
}
