//! SQL of the identity service.

pub mod retention;

use chrono::{DateTime, Utc};
use ohjaus_platform::{
    db::{Db, Row},
    service::{ServiceError, ServiceResult},
    types::IdentityCodeHash,
};
use uuid::Uuid;

use crate::domain::{CustomerId, SessionId, SessionKind};

type Result<T> = ServiceResult<T>;

pub struct LoginTransaction {
    pub binding_hash: String,
    pub provider_id: String,
    pub intent: String,
    pub nonce: String,
    pub pkce_verifier: String,
    pub return_to: String,
    pub language: String,
    pub created_at: DateTime<Utc>,
}

pub async fn insert_login(db: &Db, state_hash: &str, login: &LoginTransaction) -> Result<()> {
    db.query(
        "INSERT INTO login_transactions (state_hash, binding_hash, provider_id, intent, nonce, pkce_verifier, return_to, language, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(state_hash.to_owned())
    .bind(login.binding_hash.clone())
    .bind(login.provider_id.clone())
    .bind(login.intent.clone())
    .bind(login.nonce.clone())
    .bind(login.pkce_verifier.clone())
    .bind(login.return_to.clone())
    .bind(login.language.clone())
    .bind(login.created_at)
    .execute(db)
    .await?;
    Ok(())
}

/// Takes a login transaction out: it can be completed once.
pub async fn take_login(db: &Db, state_hash: &str) -> Result<Option<LoginTransaction>> {
    let mut tx = db.begin().await?;
    let row = tx
        .query("SELECT binding_hash, provider_id, intent, nonce, pkce_verifier, return_to, language, created_at FROM login_transactions WHERE state_hash = $1")
        .bind(state_hash.to_owned())
        .fetch_optional(&mut tx)
        .await?;
    let Some(row) = row else {
        tx.rollback().await?;
        return Ok(None);
    };
    let deleted = tx
        .query("DELETE FROM login_transactions WHERE state_hash = $1")
        .bind(state_hash.to_owned())
        .execute(&mut tx)
        .await?;
    tx.commit().await?;
    if deleted == 0 {
        return Ok(None);
    }
    Ok(Some(LoginTransaction {
        binding_hash: row.get("binding_hash")?,
        provider_id: row.get("provider_id")?,
        intent: row.get("intent")?,
        nonce: row.get("nonce")?,
        pkce_verifier: row.get("pkce_verifier")?,
        return_to: row.get("return_to")?,
        language: row.get("language")?,
        created_at: row.get("created_at")?,
    }))
}

/// Removes logins that were never completed.
pub async fn purge_logins(db: &Db, before: DateTime<Utc>) -> Result<u64> {
    Ok(db.query("DELETE FROM login_transactions WHERE created_at < $1").bind(before).execute(db).await?)
}

pub async fn customer_by_identity(db: &Db, hash: &IdentityCodeHash) -> Result<Option<CustomerId>> {
    let row = db
        .query("SELECT id FROM customer_accounts WHERE identity_hash = $1")
        .bind(hash.as_str().to_owned())
        .fetch_optional(db)
        .await?;
    row.map(|r| Ok(CustomerId(r.get("id")?))).transpose()
}

/// The account of this person, created if missing; `true` when created now.
pub async fn ensure_customer(db: &Db, hash: &IdentityCodeHash, now: DateTime<Utc>) -> Result<(CustomerId, bool)> {
    let id = CustomerId::of_identity(hash);
    let inserted = db
        .query("INSERT INTO customer_accounts (id, identity_hash, created_at) VALUES ($1, $2, $3) ON CONFLICT (identity_hash) DO NOTHING")
        .bind(id.as_uuid())
        .bind(hash.as_str().to_owned())
        .bind(now)
        .execute(db)
        .await?;
    if inserted == 1 {
        return Ok((id, true));
    }
    let existing = customer_by_identity(db, hash).await?.ok_or_else(|| ServiceError::corrupt("customer vanished"))?;
    Ok((existing, false))
}

pub async fn customer_exists(db: &Db, id: CustomerId) -> Result<bool> {
    Ok(db
        .query("SELECT id FROM customer_accounts WHERE id = $1")
        .bind(id.as_uuid())
        .fetch_optional(db)
        .await?
        .is_some())
}

/// The identity a pending session of the customer-to-be `id` carries, if one is open.
pub async fn pending_identity(db: &Db, id: CustomerId) -> Result<Option<IdentityCodeHash>> {
    let row = db
        .query(
            "SELECT pending_identity_hash FROM sessions WHERE kind = 'customer' AND subject = $1 \
             AND pending_identity_hash IS NOT NULL AND ended_at IS NULL LIMIT 1",
        )
        .bind(id.to_string())
        .fetch_optional(db)
        .await?;
    row.map(|r| Ok(IdentityCodeHash::from_stored(r.get("pending_identity_hash")?))).transpose()
}

/// Makes the account `id` for `hash` and turns the person's pending sessions into ordinary
/// ones; `true` when the account was made now.
pub async fn activate_customer(db: &Db, id: CustomerId, hash: &IdentityCodeHash, now: DateTime<Utc>) -> Result<bool> {
    let mut tx = db.begin().await?;
    let inserted = tx
        .query(
            "INSERT INTO customer_accounts (id, identity_hash, created_at, last_login_at) VALUES ($1, $2, $3, $3) \
             ON CONFLICT (identity_hash) DO NOTHING",
        )
        .bind(id.as_uuid())
        .bind(hash.as_str().to_owned())
        .bind(now)
        .execute(&mut tx)
        .await?;
    tx.query("UPDATE sessions SET pending_identity_hash = NULL WHERE kind = 'customer' AND subject = $1")
        .bind(id.to_string())
        .execute(&mut tx)
        .await?;
    tx.commit().await?;
    Ok(inserted == 1)
}

/// Deletes pending sessions (of people who followed an invitation link and never accepted)
/// last used before `idle_before` or begun before `begun_before`: nothing of them stays.
pub async fn purge_pending_sessions(db: &Db, idle_before: DateTime<Utc>, begun_before: DateTime<Utc>) -> Result<u64> {
    Ok(db
        .query(
            "DELETE FROM sessions WHERE pending_identity_hash IS NOT NULL \
             AND (last_seen_at < $1 OR created_at < $2 OR ended_at IS NOT NULL)",
        )
        .bind(idle_before)
        .bind(begun_before)
        .execute(db)
        .await?)
}

pub async fn touch_customer(db: &Db, id: CustomerId, now: DateTime<Utc>) -> Result<()> {
    db.query("UPDATE customer_accounts SET last_login_at = $2 WHERE id = $1")
        .bind(id.as_uuid())
        .bind(now)
        .execute(db)
        .await?;
    Ok(())
}

pub struct SessionRow {
    pub id: SessionId,
    pub csrf_token: String,
    pub kind: SessionKind,
    pub subject: String,
    pub display_name: String,
    pub provider_id: String,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    /// The provider's name for this login, for single logout (SAML).
    pub federation: Option<Federation>,
    /// A customer-to-be (an invitation's login, no account yet): who they are, until they
    /// accept an invitation meant for them or the session ends.
    pub pending_identity: Option<IdentityCodeHash>,
}

/// How a SAML provider knows a login: its NameID and SessionIndex.
#[derive(Clone, Debug)]
pub struct Federation {
    pub name_id: String,
    pub name_id_format: String,
    pub session_index: Option<String>,
}

const SESSION_COLUMNS: &str = "id, csrf_token, kind, subject, display_name, provider_id, created_at, last_seen_at, idp_name_id, idp_name_id_format, idp_session_index, pending_identity_hash";

fn session(row: &Row) -> Result<SessionRow> {
    let kind: String = row.get("kind")?;
    Ok(SessionRow {
        id: SessionId(row.get("id")?),
        csrf_token: row.get("csrf_token")?,
        kind: SessionKind::parse(&kind).ok_or_else(|| ServiceError::corrupt("session kind"))?,
        subject: row.get("subject")?,
        display_name: row.get("display_name")?,
        provider_id: row.get("provider_id")?,
        created_at: row.get("created_at")?,
        last_seen_at: row.get("last_seen_at")?,
        federation: row
            .get::<Option<String>>("idp_name_id")?
            .map(|name_id| -> Result<Federation> {
                Ok(Federation {
                    name_id,
                    name_id_format: row.get::<Option<String>>("idp_name_id_format")?.unwrap_or_default(),
                    session_index: row.get("idp_session_index")?,
                })
            })
            .transpose()?,
        pending_identity: row.get::<Option<String>>("pending_identity_hash")?.map(IdentityCodeHash::from_stored),
    })
}

pub async fn insert_session(db: &Db, token_hash: &str, s: &SessionRow) -> Result<()> {
    db.query(&format!(
        "INSERT INTO sessions (token_hash, {SESSION_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
    ))
    .bind(token_hash.to_owned())
    .bind(s.id.as_uuid())
    .bind(s.csrf_token.clone())
    .bind(s.kind.as_str())
    .bind(s.subject.clone())
    .bind(s.display_name.clone())
    .bind(s.provider_id.clone())
    .bind(s.created_at)
    .bind(s.last_seen_at)
    .bind(s.federation.as_ref().map(|f| f.name_id.clone()))
    .bind(s.federation.as_ref().map(|f| f.name_id_format.clone()))
    .bind(s.federation.as_ref().and_then(|f| f.session_index.clone()))
    .bind(s.pending_identity.as_ref().map(|h| h.as_str().to_owned()))
    .execute(db)
    .await?;
    Ok(())
}

/// A session that has not been ended, by its token's hash.
pub async fn open_session(db: &Db, token_hash: &str) -> Result<Option<SessionRow>> {
    db.query(&format!("SELECT {SESSION_COLUMNS} FROM sessions WHERE token_hash = $1 AND ended_at IS NULL"))
        .bind(token_hash.to_owned())
        .fetch_optional(db)
        .await?
        .as_ref()
        .map(session)
        .transpose()
}

pub async fn touch_session(db: &Db, id: SessionId, now: DateTime<Utc>) -> Result<()> {
    db.query("UPDATE sessions SET last_seen_at = $2 WHERE id = $1 AND ended_at IS NULL")
        .bind(id.as_uuid())
        .bind(now)
        .execute(db)
        .await?;
    Ok(())
}

/// Ends a session; `false` if it was already ended. A pending session (no account behind it)
/// is deleted rather than kept as ended: nothing of a person who never accepted stays.
pub async fn end_session(db: &Db, id: SessionId, reason: &str, now: DateTime<Utc>) -> Result<bool> {
    let deleted = db
        .query("DELETE FROM sessions WHERE id = $1 AND pending_identity_hash IS NOT NULL AND ended_at IS NULL")
        .bind(id.as_uuid())
        .execute(db)
        .await?;
    if deleted == 1 {
        return Ok(true);
    }
    let changed = db
        .query("UPDATE sessions SET ended_at = $2, end_reason = $3 WHERE id = $1 AND ended_at IS NULL")
        .bind(id.as_uuid())
        .bind(now)
        .bind(reason.to_owned())
        .execute(db)
        .await?;
    Ok(changed == 1)
}

/// Open sessions of one principal, newest first.
pub async fn sessions_of(db: &Db, kind: SessionKind, subject: &str) -> Result<Vec<SessionRow>> {
    db.query(&format!(
        "SELECT {SESSION_COLUMNS} FROM sessions WHERE kind = $1 AND subject = $2 AND ended_at IS NULL ORDER BY id DESC LIMIT 100"
    ))
    .bind(kind.as_str())
    .bind(subject.to_owned())
    .fetch_all(db)
    .await?
    .iter()
    .map(session)
    .collect()
}

/// Open sessions a provider knows by this NameID (its single logout ends them).
pub async fn sessions_of_federated(db: &Db, provider_id: &str, name_id: &str) -> Result<Vec<SessionRow>> {
    db.query(&format!(
        "SELECT {SESSION_COLUMNS} FROM sessions WHERE provider_id = $1 AND idp_name_id = $2 AND ended_at IS NULL"
    ))
    .bind(provider_id.to_owned())
    .bind(name_id.to_owned())
    .fetch_all(db)
    .await?
    .iter()
    .map(session)
    .collect()
}

/// Remembers a SAML message id until `expires_at`; `false` if it is remembered already.
pub async fn remember_saml_message(
    db: &Db,
    provider_id: &str,
    kind: &str,
    message_id: &str,
    expires_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<bool> {
    db.query("DELETE FROM saml_messages WHERE expires_at < $1").bind(now).execute(db).await?;
    let inserted = db
        .query(
            "INSERT INTO saml_messages (provider_id, kind, message_id, expires_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (provider_id, kind, message_id) DO NOTHING",
        )
        .bind(provider_id.to_owned())
        .bind(kind.to_owned())
        .bind(message_id.to_owned())
        .bind(expires_at)
        .execute(db)
        .await?;
    Ok(inserted == 1)
}

/// Forgets a remembered message (an answered logout request); `false` if it was not there.
pub async fn forget_saml_message(
    db: &Db,
    provider_id: &str,
    kind: &str,
    message_id: &str,
    now: DateTime<Utc>,
) -> Result<bool> {
    let deleted = db
        .query(
            "DELETE FROM saml_messages WHERE provider_id = $1 AND kind = $2 AND message_id = $3 AND expires_at >= $4",
        )
        .bind(provider_id.to_owned())
        .bind(kind.to_owned())
        .bind(message_id.to_owned())
        .bind(now)
        .execute(db)
        .await?;
    Ok(deleted == 1)
}

/// One audit entry. Never an identity code, a name or a token.
pub struct AuditEntry<'a> {
    pub event: &'a str,
    pub outcome: &'a str,
    pub provider_id: &'a str,
    pub principal_kind: Option<&'a str>,
    pub tenant_ids: Vec<Uuid>,
    pub session_id: Option<SessionId>,
}

pub async fn audit(db: &Db, entry: &AuditEntry<'_>, now: DateTime<Utc>) -> Result<()> {
    let tenants: Vec<String> = entry.tenant_ids.iter().map(Uuid::to_string).collect();
    db.query(
        "INSERT INTO audit_log (id, at, event, outcome, provider_id, principal_kind, tenant_ids, session_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(ohjaus_platform::ids::new_id())
    .bind(now)
    .bind(entry.event.to_owned())
    .bind(entry.outcome.to_owned())
    .bind(entry.provider_id.to_owned())
    .bind(entry.principal_kind.map(str::to_owned))
    .bind(tenants.join(","))
    .bind(entry.session_id.map(|s| s.as_uuid()))
    .execute(db)
    .await?;
    tracing::info!(
        audit = true,
        event = entry.event,
        outcome = entry.outcome,
        provider = entry.provider_id,
        principal_kind = entry.principal_kind.unwrap_or(""),
        tenants = %tenants.join(","),
        "identity audit"
    );
    Ok(())
}
