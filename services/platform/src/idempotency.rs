//! Idempotency keys of creating requests: a retry with the same key returns what the first
//! request made; the same key with a different request is refused. Keys are per caller and
//! operation. Each service keeps its own table
//! `idempotency_keys (caller, operation, request_id, request_hash, resource_id, created_at)`.

use chrono::{DateTime, Utc};
use prost::Message;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::{
    auth::Principal,
    db::{DbError, Source, Tx},
    error::FieldViolation,
};

/// Who made a request, as the key's owner.
pub fn caller_key(principal: &Principal) -> String {
    match principal {
        Principal::Operator { subject } => format!("operator:{subject}"),
        Principal::Expert { person_id, .. } => format!("expert:{person_id}"),
        Principal::Customer { customer_id } => format!("customer:{customer_id}"),
        Principal::IntegrationClient { client_id, .. } => format!("client:{client_id}"),
        Principal::Service { name } => format!("service:{name}"),
    }
}

/// Hash of a request without its key, to tell a retry from a different request.
pub fn request_hash<M: Message + Clone>(message: &M, clear_key: impl FnOnce(&mut M)) -> String {
    let mut copy = message.clone();
    clear_key(&mut copy);
    hex::encode(Sha256::digest(copy.encode_to_vec()))
}

/// The key a request carries (`Idempotency-Key`), if any: at most 200 visible ASCII characters.
pub fn parse_request_id(value: &str) -> Result<Option<String>, FieldViolation> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        Ok(None)
    } else if trimmed.len() > 200 || !trimmed.chars().all(|c| c.is_ascii_graphic()) {
        Err(FieldViolation::new("request_id", "field-too-long"))
    } else {
        Ok(Some(trimmed.to_owned()))
    }
}

/// What an earlier request under the same key did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Earlier {
    /// The key is new.
    None,
    /// The same request made this resource: answer with it.
    Made(Uuid),
    /// A different request used the key.
    Different,
}

pub async fn earlier<'c>(
    conn: impl Source<'c>,
    caller: &str,
    operation: &str,
    request_id: &str,
    hash: &str,
) -> Result<Earlier, DbError> {
    let row = conn
        .query("SELECT request_hash, resource_id FROM idempotency_keys WHERE caller = $1 AND operation = $2 AND request_id = $3")
        .bind(caller.to_owned())
        .bind(operation.to_owned())
        .bind(request_id.to_owned())
        .fetch_optional(conn)
        .await?;
    let Some(row) = row else { return Ok(Earlier::None) };
    let stored: String = row.get("request_hash")?;
    Ok(if stored == hash { Earlier::Made(row.get("resource_id")?) } else { Earlier::Different })
}

/// Records the key with the resource made; `false` if a concurrent request took it first
/// (its transaction should then be rolled back).
pub async fn remember(
    tx: &mut Tx,
    caller: &str,
    operation: &str,
    request_id: &str,
    hash: &str,
    resource: Uuid,
    now: DateTime<Utc>,
) -> Result<bool, DbError> {
    let inserted = tx
        .query(
            "INSERT INTO idempotency_keys (caller, operation, request_id, request_hash, resource_id, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(caller.to_owned())
        .bind(operation.to_owned())
        .bind(request_id.to_owned())
        .bind(hash.to_owned())
        .bind(resource)
        .bind(now)
        .execute(tx)
        .await;
    match inserted {
        Ok(_) => Ok(true),
        Err(e) if e.is_unique_violation() => Ok(false),
        Err(e) => Err(e),
    }
}
