//! Guidance: the phases, tasks, events and notes of a workspace and its summary — their shapes,
//! and who may write, change and read them. No I/O.

use chrono::{DateTime, NaiveDate, Utc};
use ohjaus_platform::{
    error::{ErrorCode, FieldViolation, Violations},
    id_type,
    types::Text,
};

use super::{Actor, MemberRole, Thread, sight::Sight};

id_type!(ItemId);

pub const ITEM_TITLE_MAX: usize = 200;
pub const ITEM_BODY_MAX: usize = 10_000;
pub const LOCATION_MAX: usize = 200;
pub const SUMMARY_MAX: usize = 20_000;

/// What a guidance item is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ItemKind {
    /// A stage of the guidance.
    Phase,
    /// Something to do, for the customer or the guides.
    Task,
    /// A meeting or another happening at a time.
    Event,
    Note,
}

impl ItemKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ItemKind::Phase => "phase",
            ItemKind::Task => "task",
            ItemKind::Event => "event",
            ItemKind::Note => "note",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "phase" => Some(ItemKind::Phase),
            "task" => Some(ItemKind::Task),
            "event" => Some(ItemKind::Event),
            "note" => Some(ItemKind::Note),
            _ => None,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum PhaseStatus {
    #[default]
    Planned,
    Current,
    Done,
}

impl PhaseStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            PhaseStatus::Planned => "planned",
            PhaseStatus::Current => "current",
            PhaseStatus::Done => "done",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "planned" => Some(PhaseStatus::Planned),
            "current" => Some(PhaseStatus::Current),
            "done" => Some(PhaseStatus::Done),
            _ => None,
        }
    }
}

/// Whose task it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Assignee {
    #[default]
    Customer,
    Guides,
}

impl Assignee {
    pub fn as_str(self) -> &'static str {
        match self {
            Assignee::Customer => "customer",
            Assignee::Guides => "guides",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "customer" => Some(Assignee::Customer),
            "guides" => Some(Assignee::Guides),
            _ => None,
        }
    }
}

/// The part of an item that depends on its kind. Kept in the clear: the service sorts, filters
/// and decides by it; nothing here is what the people wrote.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Details {
    Phase { status: PhaseStatus },
    Task { due_on: Option<NaiveDate>, assignee: Assignee },
    Event { starts_at: DateTime<Utc>, ends_at: Option<DateTime<Utc>> },
    Note,
}

impl Details {
    pub fn kind(self) -> ItemKind {
        match self {
            Details::Phase { .. } => ItemKind::Phase,
            Details::Task { .. } => ItemKind::Task,
            Details::Event { .. } => ItemKind::Event,
            Details::Note => ItemKind::Note,
        }
    }
}

/// An item's fields as a caller sent them, before parsing. `None` is "not given".
#[derive(Clone, Debug, Default)]
pub struct RawItem<'a> {
    pub title: &'a str,
    pub body: &'a str,
    pub location: &'a str,
    pub phase_status: Option<PhaseStatus>,
    pub due_on: &'a str,
    pub assignee: Option<Assignee>,
    pub starts_at: Option<DateTime<Utc>>,
    pub ends_at: Option<DateTime<Utc>>,
}

/// A valid item's content (sealed when stored) and details (clear).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ItemInput {
    /// Empty only for notes.
    pub title: String,
    /// Never empty for notes.
    pub body: String,
    /// Events only; may be empty.
    pub location: String,
    pub details: Details,
}

/// Text that may be left out; if given, it must be valid text of at most `max` characters.
fn optional_text(field: &str, value: &str, max: usize) -> Result<String, FieldViolation> {
    if value.trim().is_empty() { Ok(String::new()) } else { Text::parse(field, value, max).map(Text::into_string) }
}

impl ItemInput {
    /// Parses an item of `kind`. Phases, tasks and events need a title, notes a body, events a
    /// start; an event cannot end before it starts. Fields of other kinds are ignored. Every
    /// problem is reported at once.
    pub fn parse(kind: ItemKind, raw: &RawItem<'_>) -> Result<Self, Vec<FieldViolation>> {
        let mut v = Violations::new();
        let title = if kind == ItemKind::Note {
            v.check(optional_text("title", raw.title, ITEM_TITLE_MAX))
        } else {
            v.check(Text::parse("title", raw.title, ITEM_TITLE_MAX).map(Text::into_string))
        };
        let body = if kind == ItemKind::Note {
            v.check(Text::parse("body", raw.body, ITEM_BODY_MAX).map(Text::into_string))
        } else {
            v.check(optional_text("body", raw.body, ITEM_BODY_MAX))
        };
        let mut location = String::new();
        let details = match kind {
            ItemKind::Phase => Some(Details::Phase { status: raw.phase_status.unwrap_or_default() }),
            ItemKind::Task => {
                let due_on = if raw.due_on.trim().is_empty() {
                    Some(None)
                } else {
                    v.check(
                        NaiveDate::parse_from_str(raw.due_on.trim(), "%Y-%m-%d")
                            .map(Some)
                            .map_err(|_| FieldViolation::new("due_on", "invalid-date")),
                    )
                };
                due_on.map(|due_on| Details::Task { due_on, assignee: raw.assignee.unwrap_or_default() })
            }
            ItemKind::Event => {
                location = v.check(optional_text("location", raw.location, LOCATION_MAX)).unwrap_or_default();
                match (raw.starts_at, raw.ends_at) {
                    (None, _) => {
                        v.push(FieldViolation::new("starts_at", "field-required"));
                        None
                    }
                    (Some(starts_at), Some(ends_at)) if ends_at < starts_at => {
                        v.push(FieldViolation::new("ends_at", "invalid-time-range"));
                        None
                    }
                    (Some(starts_at), ends_at) => Some(Details::Event { starts_at, ends_at }),
                }
            }
            ItemKind::Note => Some(Details::Note),
        };
        match (title, body, details) {
            (Some(title), Some(body), Some(details)) if v.is_empty() => Ok(Self { title, body, location, details }),
            _ => Err(v.into_failure().violations),
        }
    }
}

/// Guides, the owner and consenting experts run the guidance; customers take part in it.
fn professional(role: Option<MemberRole>) -> bool {
    matches!(role, Some(MemberRole::Owner | MemberRole::Guide | MemberRole::Expert))
}

/// Who may write a new item: guides and experts anything; a customer shared notes only.
pub fn may_write(role: Option<MemberRole>, kind: ItemKind, private: bool) -> Result<(), ErrorCode> {
    match role {
        _ if professional(role) => Ok(()),
        Some(MemberRole::Customer) if kind == ItemKind::Note && !private => Ok(()),
        _ => Err(ErrorCode::PermissionDenied),
    }
}

/// Who may change or delete an item: a note only its author; phases, tasks and events any guide
/// or expert of the workspace, since they plan the guidance together.
pub fn may_change(actor: Actor, role: Option<MemberRole>, kind: ItemKind, author: Actor) -> Result<(), ErrorCode> {
    let allowed = if kind == ItemKind::Note { actor == author } else { professional(role) };
    if allowed { Ok(()) } else { Err(ErrorCode::PermissionDenied) }
}

/// Who may mark a task done: guides and experts, and the customer a task that is theirs.
pub fn may_set_done(role: Option<MemberRole>, assignee: Assignee) -> Result<(), ErrorCode> {
    match role {
        _ if professional(role) => Ok(()),
        Some(MemberRole::Customer) if assignee == Assignee::Customer => Ok(()),
        _ => Err(ErrorCode::PermissionDenied),
    }
}

/// Whether an item is in `sight`: its thread and its making must be in sight, and a private
/// note is its author's alone.
pub fn sees_item(sight: &Sight, id: ItemId, thread: Thread, private: bool, author: Actor) -> bool {
    sight.sees(thread, id.as_uuid()) && (!private || sight.actor == author)
}

/// Who writes the summary: guides and experts. Members read it.
pub fn may_write_summary(role: Option<MemberRole>) -> Result<(), ErrorCode> {
    if professional(role) { Ok(()) } else { Err(ErrorCode::PermissionDenied) }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use uuid::Uuid;

    use super::*;

    fn fields(violations: &[FieldViolation]) -> Vec<&str> {
        violations.iter().map(|v| v.field.as_str()).collect()
    }

    #[test]
    fn items_need_what_their_kind_needs() {
        let empty = RawItem::default();
        assert_eq!(fields(&ItemInput::parse(ItemKind::Phase, &empty).unwrap_err()), ["title"]);
        assert_eq!(fields(&ItemInput::parse(ItemKind::Note, &empty).unwrap_err()), ["body"]);
        assert_eq!(fields(&ItemInput::parse(ItemKind::Event, &empty).unwrap_err()), ["title", "starts_at"]);

        let task = RawItem { title: "Apply for housing benefit", due_on: "2026-12-01", ..RawItem::default() };
        let parsed = ItemInput::parse(ItemKind::Task, &task).unwrap();
        assert_eq!(
            parsed.details,
            Details::Task { due_on: NaiveDate::from_ymd_opt(2026, 12, 1), assignee: Assignee::Customer }
        );
        let bad_date = RawItem { due_on: "1.12.2026", ..task };
        assert_eq!(fields(&ItemInput::parse(ItemKind::Task, &bad_date).unwrap_err()), ["due_on"]);

        let start = Utc.with_ymd_and_hms(2026, 12, 2, 10, 0, 0).unwrap();
        let backwards = RawItem {
            title: "Meeting",
            starts_at: Some(start),
            ends_at: Some(start - chrono::Duration::hours(1)),
            ..RawItem::default()
        };
        assert_eq!(fields(&ItemInput::parse(ItemKind::Event, &backwards).unwrap_err()), ["ends_at"]);
        let long = "x".repeat(ITEM_TITLE_MAX + 1);
        let too_long = RawItem { title: &long, ..RawItem::default() };
        assert_eq!(fields(&ItemInput::parse(ItemKind::Phase, &too_long).unwrap_err()), ["title"]);
    }

    #[test]
    fn customers_write_shared_notes_and_finish_their_own_tasks() {
        let customer = Some(MemberRole::Customer);
        assert!(may_write(customer, ItemKind::Note, false).is_ok());
        assert_eq!(may_write(customer, ItemKind::Note, true), Err(ErrorCode::PermissionDenied));
        assert_eq!(may_write(customer, ItemKind::Task, false), Err(ErrorCode::PermissionDenied));
        assert!(may_write(Some(MemberRole::Expert), ItemKind::Phase, false).is_ok());
        assert!(may_set_done(customer, Assignee::Customer).is_ok());
        assert_eq!(may_set_done(customer, Assignee::Guides), Err(ErrorCode::PermissionDenied));
        assert_eq!(may_write_summary(customer), Err(ErrorCode::PermissionDenied));
    }

    #[test]
    fn notes_are_their_authors_and_private_notes_are_seen_by_them_alone() {
        let guide = Actor::Expert(Uuid::now_v7());
        let other = Actor::Expert(Uuid::now_v7());
        let customer = Actor::Customer(Uuid::now_v7());
        assert!(may_change(guide, Some(MemberRole::Owner), ItemKind::Note, guide).is_ok());
        assert_eq!(may_change(other, Some(MemberRole::Guide), ItemKind::Note, guide), Err(ErrorCode::PermissionDenied));
        assert!(may_change(other, Some(MemberRole::Guide), ItemKind::Task, guide).is_ok());
        assert_eq!(
            may_change(customer, Some(MemberRole::Customer), ItemKind::Task, guide),
            Err(ErrorCode::PermissionDenied)
        );
        let item = ItemId::new();
        let sight = |kind, actor, role| Sight::of(None, kind, actor, Some(role), &[]).unwrap();
        let personal = super::super::Kind::Personal;
        assert!(sees_item(&sight(personal, guide, MemberRole::Owner), item, Thread::Everyone, true, guide));
        assert!(!sees_item(&sight(personal, other, MemberRole::Guide), item, Thread::Everyone, true, guide));
        assert!(!sees_item(&sight(personal, customer, MemberRole::Customer), item, Thread::Everyone, true, guide));
        assert!(sees_item(&sight(personal, customer, MemberRole::Customer), item, Thread::Everyone, false, guide));
        let someone_else = Uuid::now_v7();
        let group = sight(super::super::Kind::Group, customer, MemberRole::Customer);
        assert!(!sees_item(&group, item, Thread::Customer(someone_else), false, guide));
    }
}
