//! What one member sees of a workspace's content. Customers of a group see the announcements
//! and their own thread; an expert who joined by consent sees what the consenting customers
//! see, and only from the acceptance on when a customer chose "from now on only". Everyone
//! else who may read the workspace sees all of it.

use chrono::{DateTime, Utc};
use ohjaus_platform::{auth::Principal, error::ErrorCode};
use uuid::Uuid;

use super::{Actor, Kind, MemberRole, Thread};

/// The point from which a "from now on only" consent shows content.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Floor {
    /// Content ids are UUIDv7: an id below this one was made before the acceptance.
    pub id: Uuid,
    /// For what is rewritten in place (the summary): written before this, hidden.
    pub at: DateTime<Utc>,
}

/// An active consent that lets an expert into a workspace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Grant {
    pub request_id: Uuid,
    pub expert: Uuid,
    pub organization: Uuid,
    pub customer: Uuid,
    pub floor: Option<Floor>,
}

/// A member's view of the content.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sight {
    pub actor: Actor,
    /// `None`: every thread. `Some(customers)`: the announcements and these customers' threads.
    pub customers: Option<Vec<Uuid>>,
    pub floor: Option<Floor>,
}

impl Sight {
    /// Everything, as the workspace's own guides and personal customers see it.
    pub fn everything(actor: Actor) -> Self {
        Sight { actor, customers: None, floor: None }
    }

    /// The sight of `actor` with `role` and the active `grants` naming them. An expert member
    /// sees through the grants of organisations they still work for; with none left, nothing.
    pub fn of(
        principal: Option<&Principal>,
        kind: Kind,
        actor: Actor,
        role: Option<MemberRole>,
        grants: &[Grant],
    ) -> Result<Self, ErrorCode> {
        match (actor, role) {
            (Actor::Customer(me), _) if kind == Kind::Group => {
                Ok(Sight { actor, customers: Some(vec![me]), floor: None })
            }
            (Actor::Expert(_), Some(MemberRole::Expert)) => {
                let valid: Vec<&Grant> = grants
                    .iter()
                    .filter(|g| g.expert == actor.id())
                    .filter(|g| principal.is_none_or(|p| p.belongs_to(g.organization)))
                    .collect();
                if valid.is_empty() {
                    return Err(ErrorCode::NotFound);
                }
                let customers = (kind == Kind::Group).then(|| {
                    let mut customers: Vec<Uuid> = valid.iter().map(|g| g.customer).collect();
                    customers.sort();
                    customers.dedup();
                    customers
                });
                // With several consents the latest floor holds for all: never show what one
                // customer kept back, at the price of hiding some of what another allowed.
                let floor = valid.iter().filter_map(|g| g.floor).max_by_key(|f| f.id);
                Ok(Sight { actor, customers, floor })
            }
            _ => Ok(Sight::everything(actor)),
        }
    }

    /// Whether content `id` written to `thread` is in sight.
    pub fn sees(&self, thread: Thread, id: Uuid) -> bool {
        self.sees_thread(thread) && self.floor.is_none_or(|f| id >= f.id)
    }

    pub fn sees_thread(&self, thread: Thread) -> bool {
        match (&self.customers, thread) {
            (None, _) | (_, Thread::Everyone) => true,
            (Some(customers), Thread::Customer(owner)) => customers.contains(&owner),
        }
    }

    /// Whether something rewritten in place, last written at `at`, is in sight.
    pub fn sees_written_at(&self, at: DateTime<Utc>) -> bool {
        self.floor.is_none_or(|f| at >= f.at)
    }

    /// Whether `member` shows in the member list and the access log: in a group, customers
    /// outside the sight are not named.
    pub fn sees_member(&self, member: Actor) -> bool {
        match (&self.customers, member) {
            (Some(customers), Actor::Customer(id)) => member == self.actor || customers.contains(&id),
            _ => true,
        }
    }

    /// The thread something new of this member goes to, when they name `requested` or none.
    /// `None` means the workspace's usual rule decides.
    pub fn thread_of_new(&self, requested: Option<Uuid>) -> Option<Result<Thread, ()>> {
        let (Actor::Expert(_), Some(customers)) = (self.actor, &self.customers) else { return None };
        // An expert in a group by consent writes to the consenting customer's thread, never to
        // the announcements the other customers read.
        Some(match (requested, customers.as_slice()) {
            (None, [only]) => Ok(Thread::Customer(*only)),
            (Some(id), _) if customers.contains(&id) => Ok(Thread::Customer(id)),
            _ => Err(()),
        })
    }
}

#[cfg(test)]
mod tests {
    use ohjaus_platform::auth::{Membership, Role};

    use super::*;

    fn grant(expert: Uuid, organization: Uuid, customer: Uuid, floor: Option<Floor>) -> Grant {
        Grant { request_id: Uuid::now_v7(), expert, organization, customer, floor }
    }

    fn expert_in(person: Uuid, organization: Uuid) -> Principal {
        Principal::Expert {
            person_id: person,
            memberships: vec![Membership { tenant_id: organization, roles: vec![Role::Advisor] }],
        }
    }

    #[test]
    fn a_consented_expert_sees_the_consenting_customers_threads_only() {
        let (expert, org, anna, bert) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        let principal = expert_in(expert, org);
        let grants = [grant(expert, org, anna, None)];
        let sight =
            Sight::of(Some(&principal), Kind::Group, Actor::Expert(expert), Some(MemberRole::Expert), &grants).unwrap();
        assert!(sight.sees_thread(Thread::Everyone));
        assert!(sight.sees_thread(Thread::Customer(anna)));
        assert!(!sight.sees_thread(Thread::Customer(bert)));
        assert!(sight.sees_member(Actor::Customer(anna)));
        assert!(!sight.sees_member(Actor::Customer(bert)));
        // Writes go to Anna's thread, never to everyone or to Bert.
        assert_eq!(sight.thread_of_new(None), Some(Ok(Thread::Customer(anna))));
        assert_eq!(sight.thread_of_new(Some(bert)), Some(Err(())));
        // In a personal workspace the one customer's consent shows everything.
        let personal =
            Sight::of(Some(&principal), Kind::Personal, Actor::Expert(expert), Some(MemberRole::Expert), &grants)
                .unwrap();
        assert_eq!(personal.customers, None);
        assert_eq!(personal.thread_of_new(None), None);
    }

    #[test]
    fn from_now_on_only_hides_what_came_before() {
        let (expert, org, anna) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        let before = Uuid::now_v7();
        let floor = Floor { id: Uuid::now_v7(), at: Utc::now() };
        let after = Uuid::now_v7();
        let grants = [grant(expert, org, anna, Some(floor))];
        let sight = Sight::of(
            Some(&expert_in(expert, org)),
            Kind::Personal,
            Actor::Expert(expert),
            Some(MemberRole::Expert),
            &grants,
        )
        .unwrap();
        assert!(!sight.sees(Thread::Everyone, before));
        assert!(sight.sees(Thread::Everyone, floor.id));
        assert!(sight.sees(Thread::Everyone, after));
        assert!(!sight.sees_written_at(floor.at - chrono::Duration::seconds(1)));
        assert!(sight.sees_written_at(floor.at));
        // The workspace's own guide is not limited.
        let guide =
            Sight::of(None, Kind::Personal, Actor::Expert(Uuid::now_v7()), Some(MemberRole::Guide), &[]).unwrap();
        assert!(guide.sees(Thread::Everyone, before));
    }

    #[test]
    fn an_expert_without_a_valid_grant_sees_nothing() {
        let (expert, org, anna) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        let grants = [grant(expert, org, anna, None)];
        // Left the organisation the consent named.
        let moved = expert_in(expert, Uuid::now_v7());
        let role = Some(MemberRole::Expert);
        assert_eq!(
            Sight::of(Some(&moved), Kind::Personal, Actor::Expert(expert), role, &grants),
            Err(ErrorCode::NotFound)
        );
        // Someone else's grant is not theirs.
        let other = Uuid::now_v7();
        assert_eq!(
            Sight::of(Some(&expert_in(other, org)), Kind::Personal, Actor::Expert(other), role, &grants),
            Err(ErrorCode::NotFound)
        );
        assert_eq!(Sight::of(None, Kind::Personal, Actor::Expert(expert), role, &[]), Err(ErrorCode::NotFound));
    }
}
