//! SQL of retention's requests: a customer account with everything about her, and the login
//! audit past its period.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use ohjaus_platform::{
    db::{Db, Tx},
    service::ServiceResult,
};
use uuid::Uuid;

/// Deletes the account, its sessions and the audit entries of those sessions; the counts.
pub async fn delete_customer(tx: &mut Tx, customer: Uuid) -> ServiceResult<BTreeMap<String, i64>> {
    let subject = customer.to_string();
    let audit = tx
        .query(
            "DELETE FROM audit_log WHERE session_id IN \
             (SELECT id FROM sessions WHERE kind = 'customer' AND subject = $1)",
        )
        .bind(subject.clone())
        .execute(&mut *tx)
        .await?;
    let sessions = tx
        .query("DELETE FROM sessions WHERE kind = 'customer' AND subject = $1")
        .bind(subject)
        .execute(&mut *tx)
        .await?;
    let accounts = tx.query("DELETE FROM customer_accounts WHERE id = $1").bind(customer).execute(&mut *tx).await?;
    let count = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
    Ok(BTreeMap::from([
        ("audit_log".to_owned(), count(audit)),
        ("customer_accounts".to_owned(), count(accounts)),
        ("sessions".to_owned(), count(sessions)),
    ]))
}

/// Removes the login audit entries, sessions last used and receipts made before `before`.
pub async fn purge_before(db: &Db, before: DateTime<Utc>) -> ServiceResult<BTreeMap<String, i64>> {
    let audit = db.query("DELETE FROM audit_log WHERE at < $1").bind(before).execute(db).await?;
    let sessions = db.query("DELETE FROM sessions WHERE last_seen_at < $1").bind(before).execute(db).await?;
    let receipts = db.query("DELETE FROM retention_receipts WHERE completed_at < $1").bind(before).execute(db).await?;
    let count = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
    Ok(BTreeMap::from([
        ("audit_log".to_owned(), count(audit)),
        ("retention_receipts".to_owned(), count(receipts)),
        ("sessions".to_owned(), count(sessions)),
    ]))
}
