//! New submissions announced to the organisation's advisors: the advisors (a copy fed by the
//! tenants service's events), the organisations with submissions not yet announced, and when
//! each organisation's advisors were last mailed.

use chrono::{DateTime, Utc};
use ohjaus_platform::db::{DbResult, Row, Source, Tx};
use uuid::Uuid;

/// Remembers that `person` is (or, `advisor` false, is no longer) an advisor of `organization`.
pub async fn set_advisor(tx: &mut Tx, organization: Uuid, person: Uuid, advisor: bool) -> DbResult<()> {
    let sql = if advisor {
        "INSERT INTO queue_advisors (organization_id, person_id) VALUES ($1, $2) \
         ON CONFLICT (organization_id, person_id) DO NOTHING"
    } else {
        "DELETE FROM queue_advisors WHERE organization_id = $1 AND person_id = $2"
    };
    tx.query(sql).bind(organization).bind(person).execute(tx).await?;
    Ok(())
}

pub async fn advisors<'c>(conn: impl Source<'c>, organization: Uuid) -> DbResult<Vec<Uuid>> {
    let rows = conn
        .query("SELECT person_id FROM queue_advisors WHERE organization_id = $1 ORDER BY person_id")
        .bind(organization)
        .fetch_all(conn)
        .await?;
    rows.iter().map(|r: &Row| r.get("person_id")).collect()
}

/// A new submission of `organization` waits to be announced (one row however many wait).
pub async fn announce_later(tx: &mut Tx, organization: Uuid, at: DateTime<Utc>) -> DbResult<()> {
    tx.query(
        "INSERT INTO pending_announcements (organization_id, first_at) VALUES ($1, $2) \
         ON CONFLICT (organization_id) DO NOTHING",
    )
    .bind(organization)
    .bind(at)
    .execute(tx)
    .await?;
    Ok(())
}

/// The organisations with submissions waiting whose advisors were not mailed since `since`.
pub async fn due_announcements<'c>(conn: impl Source<'c>, since: DateTime<Utc>) -> DbResult<Vec<Uuid>> {
    let rows = conn
        .query(
            "SELECT p.organization_id FROM pending_announcements p \
             LEFT JOIN announcement_batches b ON b.organization_id = p.organization_id \
             WHERE b.sent_at IS NULL OR b.sent_at <= $1 ORDER BY p.first_at LIMIT 100",
        )
        .bind(since)
        .fetch_all(conn)
        .await?;
    rows.iter().map(|r: &Row| r.get("organization_id")).collect()
}

/// Takes `organization`'s waiting announcement for this run (false: another run took it) and
/// records the batch's time.
pub async fn take_announcement(tx: &mut Tx, organization: Uuid, now: DateTime<Utc>) -> DbResult<bool> {
    let taken = tx
        .query("DELETE FROM pending_announcements WHERE organization_id = $1")
        .bind(organization)
        .execute(&mut *tx)
        .await?;
    if taken == 0 {
        return Ok(false);
    }
    tx.query(
        "INSERT INTO announcement_batches (organization_id, sent_at) VALUES ($1, $2) \
         ON CONFLICT (organization_id) DO UPDATE SET sent_at = $2",
    )
    .bind(organization)
    .bind(now)
    .execute(tx)
    .await?;
    Ok(true)
}
