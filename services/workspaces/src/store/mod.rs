//! SQL of the workspaces service, one module per feature. Titles and content arrive here
//! sealed; these modules never see plaintext content. What several features share is here: how
//! a stored member reads back, and the condition a member's sight puts on content.

mod access;
mod files;
mod grants;
mod guidance;
mod invitations;
mod members;
mod messages;
mod notify;
pub mod retention;
mod workspaces;

use ohjaus_platform::{
    db::{Query, Row},
    service::{ServiceError, ServiceResult},
};
use uuid::Uuid;

pub use self::{
    access::*, files::*, grants::*, guidance::*, invitations::*, members::*, messages::*, notify::*, workspaces::*,
};
use crate::domain::{Actor, MemberRole, sight::Sight};

fn actor_of(kind: &str, id: Uuid) -> ServiceResult<Actor> {
    match kind {
        "expert" => Ok(Actor::Expert(id)),
        "customer" => Ok(Actor::Customer(id)),
        _ => Err(ServiceError::corrupt("stored actor kind")),
    }
}

fn member_role_of(row: &Row) -> ServiceResult<MemberRole> {
    let role: String = row.get("role")?;
    MemberRole::parse(&role).ok_or_else(|| ServiceError::corrupt("stored member role"))
}

/// `sight`'s condition on content with a `thread_id` and a UUIDv7 `id`, its values bound from
/// placeholder `$n` on by [`bind_sight`].
fn sight_sql(sight: &Sight, thread_column: &str, n: usize) -> String {
    let mut sql = String::new();
    let mut next = n;
    if let Some(customers) = &sight.customers {
        if customers.is_empty() {
            sql.push_str(&format!(" AND {thread_column} IS NULL"));
        } else {
            let list: Vec<String> = (next..next + customers.len()).map(|i| format!("${i}")).collect();
            next += customers.len();
            sql.push_str(&format!(" AND ({thread_column} IS NULL OR {thread_column} IN ({}))", list.join(", ")));
        }
    }
    if sight.floor.is_some() {
        sql.push_str(&format!(" AND id >= ${next}"));
    }
    sql
}

fn bind_sight<'q>(mut query: Query<'q>, sight: &Sight) -> Query<'q> {
    for customer in sight.customers.iter().flatten() {
        query = query.bind(*customer);
    }
    if let Some(floor) = sight.floor {
        query = query.bind(floor.id);
    }
    query
}
