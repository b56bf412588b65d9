//! The reports' and feedback's SQL: de-identified facts, workspaces' places, frozen reports.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use ohjaus_platform::db::{DbResult, Row, Source, Tx};
use uuid::Uuid;

use crate::domain::reports::Fact;

/// A workspace's organisation and office.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Placement {
    pub organization_id: Uuid,
    pub office_id: Uuid,
}

pub async fn find_placement<'c>(conn: impl Source<'c>, workspace: Uuid) -> DbResult<Option<Placement>> {
    let row = conn
        .query("SELECT organization_id, office_id FROM report_placements WHERE workspace_id = $1")
        .bind(workspace)
        .fetch_optional(conn)
        .await?;
    row.map(|r| Ok(Placement { organization_id: r.get("organization_id")?, office_id: r.get("office_id")? }))
        .transpose()
}

pub async fn remember_placement(tx: &mut Tx, workspace: Uuid, placement: Placement) -> DbResult<()> {
    tx.query(
        "INSERT INTO report_placements (workspace_id, organization_id, office_id) VALUES ($1, $2, $3) \
         ON CONFLICT (workspace_id) DO NOTHING",
    )
    .bind(workspace)
    .bind(placement.organization_id)
    .bind(placement.office_id)
    .execute(tx)
    .await?;
    Ok(())
}

/// A submitted round not yet in the reports.
#[derive(Clone, Debug)]
pub struct Pending {
    pub round_id: Uuid,
    pub workspace_id: Uuid,
    pub customer_id: Uuid,
    pub instrument_id: String,
    pub submitted_at: DateTime<Utc>,
    pub answers_sealed: Option<Vec<u8>>,
}

/// Up to `limit` submitted rounds not yet taken into the reports, oldest first.
pub async fn pending_rounds<'c>(conn: impl Source<'c>, limit: i64) -> DbResult<Vec<Pending>> {
    let rows = conn
        .query(
            "SELECT r.id, r.workspace_id, r.customer_id, r.instrument_id, r.submitted_at, r.answers_sealed \
             FROM rounds r LEFT JOIN report_intake i ON i.round_id = r.id \
             WHERE r.submitted_at IS NOT NULL AND i.round_id IS NULL ORDER BY r.submitted_at, r.id LIMIT $1",
        )
        .bind(limit)
        .fetch_all(conn)
        .await?;
    rows.iter()
        .map(|r| {
            Ok(Pending {
                round_id: r.get("id")?,
                workspace_id: r.get("workspace_id")?,
                customer_id: r.get("customer_id")?,
                instrument_id: r.get("instrument_id")?,
                submitted_at: r.get("submitted_at")?,
                answers_sealed: r.get("answers_sealed")?,
            })
        })
        .collect()
}

/// Marks a round taken; false if another report took it first (then nothing else is written).
pub async fn take_round(tx: &mut Tx, round: Uuid, workspace: Uuid) -> DbResult<bool> {
    let done = tx
        .query("INSERT INTO report_intake (round_id, workspace_id) VALUES ($1, $2) ON CONFLICT (round_id) DO NOTHING")
        .bind(round)
        .bind(workspace)
        .execute(tx)
        .await?;
    Ok(done == 1)
}

/// One answered item, de-identified.
#[derive(Clone, Debug)]
pub struct AnswerFact {
    pub placement: Placement,
    pub workspace_id: Uuid,
    pub month: String,
    pub at: DateTime<Utc>,
    pub instrument_id: String,
    pub item: u32,
    pub customer_key: i64,
    pub value: u32,
}

pub async fn insert_answer(tx: &mut Tx, fact: &AnswerFact) -> DbResult<()> {
    tx.query(
        "INSERT INTO report_answers (organization_id, office_id, workspace_id, month, answered_at, instrument_id, \
         item, customer_key, value) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(fact.placement.organization_id)
    .bind(fact.placement.office_id)
    .bind(fact.workspace_id)
    .bind(fact.month.clone())
    .bind(fact.at)
    .bind(fact.instrument_id.clone())
    .bind(i64::from(fact.item))
    .bind(fact.customer_key)
    .bind(i64::from(fact.value))
    .execute(tx)
    .await?;
    Ok(())
}

/// The scan every report makes: the facts of an instrument in a span of months, of one
/// organisation or (`None`) of all.
pub fn answers_sql(organization: bool) -> String {
    format!(
        "SELECT organization_id, office_id, customer_key, answered_at, item, value FROM report_answers \
         WHERE instrument_id = $1 AND month >= $2 AND month <= $3{}",
        if organization { " AND organization_id = $4" } else { "" }
    )
}

pub async fn answers<'c>(
    conn: impl Source<'c>,
    instrument: &str,
    first: &str,
    last: &str,
    organization: Option<Uuid>,
) -> DbResult<Vec<Fact>> {
    let sql = answers_sql(organization.is_some());
    let mut query = conn.query(&sql).bind(instrument.to_owned()).bind(first.to_owned()).bind(last.to_owned());
    if let Some(org) = organization {
        query = query.bind(org);
    }
    query.fetch_all(conn).await?.iter().map(|r| fact(r, "answered_at")).collect()
}

fn fact(r: &Row, at: &str) -> DbResult<Fact> {
    let at: DateTime<Utc> = r.get(at)?;
    let item: i64 = r.get("item")?;
    let value: i64 = r.get("value")?;
    Ok(Fact {
        organization: r.get("organization_id")?,
        office: r.get("office_id")?,
        customer: r.get("customer_key")?,
        at: at.timestamp_micros(),
        item: u32::try_from(item).unwrap_or(u32::MAX),
        value: u32::try_from(value).unwrap_or(u32::MAX),
    })
}

/// One rated statement, de-identified.
#[derive(Clone, Debug)]
pub struct RatingFact {
    pub placement: Placement,
    pub workspace_id: Uuid,
    pub month: String,
    pub at: DateTime<Utc>,
    pub statement: u32,
    pub customer_key: i64,
    pub value: u32,
}

pub async fn insert_rating(tx: &mut Tx, fact: &RatingFact) -> DbResult<()> {
    tx.query(
        "INSERT INTO feedback_ratings (organization_id, office_id, workspace_id, month, given_at, statement, \
         customer_key, value) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(fact.placement.organization_id)
    .bind(fact.placement.office_id)
    .bind(fact.workspace_id)
    .bind(fact.month.clone())
    .bind(fact.at)
    .bind(i64::from(fact.statement))
    .bind(fact.customer_key)
    .bind(i64::from(fact.value))
    .execute(tx)
    .await?;
    Ok(())
}

pub async fn ratings<'c>(
    conn: impl Source<'c>,
    first: &str,
    last: &str,
    organization: Option<Uuid>,
) -> DbResult<Vec<Fact>> {
    let sql = format!(
        "SELECT organization_id, office_id, customer_key, given_at, statement AS item, value FROM feedback_ratings \
         WHERE month >= $1 AND month <= $2{}",
        if organization.is_some() { " AND organization_id = $3" } else { "" }
    );
    let mut query = conn.query(&sql).bind(first.to_owned()).bind(last.to_owned());
    if let Some(org) = organization {
        query = query.bind(org);
    }
    query.fetch_all(conn).await?.iter().map(|r| fact(r, "given_at")).collect()
}

/// A free text of feedback, sealed.
#[derive(Clone, Debug)]
pub struct TextRow {
    pub id: Uuid,
    pub placement: Placement,
    pub workspace_id: Uuid,
    pub month: String,
    pub customer_key: i64,
    pub text_sealed: Vec<u8>,
}

pub async fn insert_text(tx: &mut Tx, row: &TextRow) -> DbResult<()> {
    tx.query(
        "INSERT INTO feedback_texts (id, organization_id, office_id, workspace_id, month, customer_key, text_sealed) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(row.id)
    .bind(row.placement.organization_id)
    .bind(row.placement.office_id)
    .bind(row.workspace_id)
    .bind(row.month.clone())
    .bind(row.customer_key)
    .bind(row.text_sealed.clone())
    .execute(tx)
    .await?;
    Ok(())
}

pub async fn texts<'c>(
    conn: impl Source<'c>,
    first: &str,
    last: &str,
    organization: Option<Uuid>,
) -> DbResult<Vec<TextRow>> {
    let sql = format!(
        "SELECT id, organization_id, office_id, workspace_id, month, customer_key, text_sealed FROM feedback_texts \
         WHERE month >= $1 AND month <= $2{}",
        if organization.is_some() { " AND organization_id = $3" } else { "" }
    );
    let mut query = conn.query(&sql).bind(first.to_owned()).bind(last.to_owned());
    if let Some(org) = organization {
        query = query.bind(org);
    }
    query
        .fetch_all(conn)
        .await?
        .iter()
        .map(|r| {
            Ok(TextRow {
                id: r.get("id")?,
                placement: Placement { organization_id: r.get("organization_id")?, office_id: r.get("office_id")? },
                workspace_id: r.get("workspace_id")?,
                month: r.get("month")?,
                customer_key: r.get("customer_key")?,
                text_sealed: r.get("text_sealed")?,
            })
        })
        .collect()
}

/// The frozen report of a scope, instrument, month and threshold, if one is stored.
pub async fn find_frozen<'c>(
    conn: impl Source<'c>,
    scope: &str,
    instrument: &str,
    period: &str,
    threshold: u32,
) -> DbResult<Option<Vec<u8>>> {
    let row = conn
        .query(
            "SELECT content FROM frozen_reports WHERE scope = $1 AND instrument_id = $2 AND period = $3 \
             AND threshold = $4",
        )
        .bind(scope.to_owned())
        .bind(instrument.to_owned())
        .bind(period.to_owned())
        .bind(i64::from(threshold))
        .fetch_optional(conn)
        .await?;
    row.map(|r| r.get("content")).transpose()
}

/// Stores a frozen report unless one is already there (the first one stays).
pub async fn freeze(
    tx: &mut Tx,
    scope: &str,
    instrument: &str,
    period: &str,
    threshold: u32,
    content: Vec<u8>,
    at: DateTime<Utc>,
) -> DbResult<()> {
    tx.query(
        "INSERT INTO frozen_reports (scope, instrument_id, period, threshold, content, frozen_at) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (scope, instrument_id, period, threshold) DO NOTHING",
    )
    .bind(scope.to_owned())
    .bind(instrument.to_owned())
    .bind(period.to_owned())
    .bind(i64::from(threshold))
    .bind(content)
    .bind(at)
    .execute(tx)
    .await?;
    Ok(())
}

/// Deletes what the reports keep of a workspace (frozen reports stay: aggregates only); the
/// counts by table, added to `counts`.
pub async fn delete_workspace(tx: &mut Tx, workspace: Uuid, counts: &mut BTreeMap<String, i64>) -> DbResult<()> {
    for table in ["report_answers", "report_intake", "feedback_ratings", "feedback_texts", "report_placements"] {
        let n =
            tx.query(&format!("DELETE FROM {table} WHERE workspace_id = $1")).bind(workspace).execute(&mut *tx).await?;
        counts.insert(table.to_owned(), i64::try_from(n).unwrap_or(i64::MAX));
    }
    Ok(())
}
