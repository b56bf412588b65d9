//! Many workspaces at once for retention's scale tests and benchmark, written straight into the
//! workspaces database (each with an owner and a customer, no contact details, so no mail):
//! rows as the service would keep them, in any state and at any age.

use chrono::{DateTime, Utc};
use ohjaus_platform::db::Db;
use uuid::Uuid;

/// Where a seeded workspace stands.
#[derive(Clone, Copy, Debug)]
pub enum Seeded {
    /// Active; the customer last visited at this time.
    Active { last_seen: DateTime<Utc> },
    /// Closed at this time, with the archiving notice given then (if any).
    Closed { closed_at: DateTime<Utc>, archive_notice_at: Option<DateTime<Utc>> },
    /// Archived at this time.
    Archived { archived_at: DateTime<Utc> },
}

// No data key: keys live in the key store, and a sweep opens one only for a member who left an
// address (the seeded ones left none).
const COLUMNS: &str = "id, organization_id, office_id, kind, title_sealed, topics, state, owner_id, version, \
                       created_at, updated_at, closed_at, customer_last_seen_at, archived_at, archive_notice_at";

/// Writes `count` workspaces of `organization` in `seeded`'s state; their ids, in order.
pub async fn seed_workspaces(db: &Db, organization: Uuid, count: usize, seeded: Seeded) -> Vec<Uuid> {
    let mut ids = Vec::with_capacity(count);
    let owner = Uuid::now_v7();
    let office = Uuid::now_v7();
    for chunk in 0..count.div_ceil(500) {
        let rows = (count - chunk * 500).min(500);
        let mut values = Vec::with_capacity(rows);
        for row in 0..rows {
            let base = row * 15;
            values.push(format!("({})", (1..=15).map(|i| format!("${}", base + i)).collect::<Vec<_>>().join(", ")));
        }
        let sql = format!("INSERT INTO workspaces ({COLUMNS}) VALUES {}", values.join(", "));
        let mut query = db.query(&sql);
        let mut members = Vec::with_capacity(rows);
        for _ in 0..rows {
            let id = Uuid::now_v7();
            ids.push(id);
            let customer = Uuid::now_v7();
            members.push((id, customer));
            let (state, created, closed, seen, archived, notice) = match seeded {
                Seeded::Active { last_seen } => ("active", last_seen, None, Some(last_seen), None, None),
                Seeded::Closed { closed_at, archive_notice_at } => {
                    ("closed", closed_at, Some(closed_at), Some(closed_at), None, archive_notice_at)
                }
                Seeded::Archived { archived_at } => {
                    ("archived", archived_at, Some(archived_at), Some(archived_at), Some(archived_at), None)
                }
            };
            query = query
                .bind(id)
                .bind(organization)
                .bind(office)
                .bind("personal")
                .bind(vec![0u8; 32])
                .bind("")
                .bind(state)
                .bind(owner)
                .bind(1_i64)
                .bind(created)
                .bind(created)
                .bind(closed)
                .bind(seen)
                .bind(archived)
                .bind(notice);
        }
        query.execute(db).await.expect("seeding workspaces");
        let mut values = Vec::with_capacity(rows * 2);
        for row in 0..rows * 2 {
            let base = row * 5;
            values.push(format!("(${}, ${}, ${}, ${}, ${})", base + 1, base + 2, base + 3, base + 4, base + 5));
        }
        let sql = format!(
            "INSERT INTO members (workspace_id, member_kind, member_id, role, added_at) VALUES {}",
            values.join(", ")
        );
        let mut query = db.query(&sql);
        let at = match seeded {
            Seeded::Active { last_seen } => last_seen,
            Seeded::Closed { closed_at, .. } => closed_at,
            Seeded::Archived { archived_at } => archived_at,
        };
        for (workspace, customer) in members {
            query = query.bind(workspace).bind("expert").bind(owner).bind("owner").bind(at);
            query = query.bind(workspace).bind("customer").bind(customer).bind("customer").bind(at);
        }
        query.execute(db).await.expect("seeding members");
    }
    ids
}
