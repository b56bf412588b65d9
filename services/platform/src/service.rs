//! What every service's gRPC face shares, so a service crate keeps only what is its own:
//!
//! - [`ServiceError`], the one error type of every handler, mapped once to a gRPC status with
//!   details (and so, in the gateway, to an HTTP problem) and logged once with the place it
//!   failed;
//! - [`peer_refusal`], how a peer service's answer becomes ours;
//! - [`unary!`](crate::unary), the adapter from a tonic trait method to a handler that takes the
//!   caller's principal and the request message;
//! - [`RequestKey`], the idempotency steps of a creating request: "go on in this transaction"
//!   or "here is what the first request made" (the shape of zero2prod's `try_processing`);
//! - [`Core`], what a publishing service's handlers share: its database, clock and outbox, with
//!   the steps "now", "emit the event in this transaction" and "commit and wake the relay".
//!
//! A handler reads as a list of steps: parse the request into a command (every field
//! violation at once, see [`Violations`](crate::error::Violations)), authorize, begin, write,
//! remember the key, emit the event, commit.

use std::panic::Location;

use chrono::{DateTime, Utc};
use prost::Message;
use tonic::Status;
use uuid::Uuid;

use crate::{
    auth::Principal,
    clock::SharedClock,
    db::{Db, DbError, Tx},
    error::{ErrorCode, Failure, FieldViolation},
    events::{Event, HandlerError, Outbox},
    i18n::Language,
    idempotency::{self, Earlier, caller_key, parse_request_id, request_hash},
};

/// Refuses anyone but another Ohjaus service: the guard of internal RPCs (principal tokens of
/// users never carry `Service`).
pub fn services_only(principal: &Principal) -> ServiceResult<()> {
    match principal {
        Principal::Service { .. } => Ok(()),
        _ => Err(ErrorCode::PermissionDenied.into()),
    }
}

/// Refuses anyone but the Ohjaus service called `name` (e.g. the retention worker's RPCs).
pub fn service_only(principal: &Principal, name: &str) -> ServiceResult<()> {
    match principal {
        Principal::Service { name: caller } if caller == name => Ok(()),
        _ => Err(ErrorCode::PermissionDenied.into()),
    }
}

/// What a service handler fails with. Refusals go to the caller as they are; every other
/// variant is internal: the caller learns only "unavailable" or "internal", the log learns
/// where and why (never content or personal data: causes are driver and peer messages).
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The caller is told this: a code and, for invalid values, the fields.
    #[error("refused: {:?}", .0.code)]
    Refused(Failure),
    /// Another request with the same idempotency key committed first; a retry will answer.
    #[error("concurrent request with the same idempotency key")]
    ConcurrentReplay,
    #[error("database error at {at}: {source}")]
    Db { source: DbError, at: &'static Location<'static> },
    /// A peer service or store failed (not a refusal: those pass through [`peer_refusal`]).
    #[error("{peer} failed at {at}: {cause}")]
    Peer { peer: &'static str, cause: String, at: &'static Location<'static> },
    /// Stored data does not read back, or sealed data does not open.
    #[error("stored data is inconsistent at {at}: {what}")]
    Corrupt { what: String, at: &'static Location<'static> },
}

pub type ServiceResult<T> = Result<T, ServiceError>;

impl ServiceError {
    /// Invalid values, each field named.
    pub fn invalid(violations: Vec<FieldViolation>) -> Self {
        ServiceError::Refused(Failure::invalid(violations))
    }

    /// The values clash with existing data (a taken name, say), each field named.
    pub fn conflict(violations: Vec<FieldViolation>) -> Self {
        ServiceError::Refused(Failure::with_violations(ErrorCode::AlreadyExists, violations))
    }

    pub fn not_found() -> Self {
        ServiceError::Refused(Failure::new(ErrorCode::NotFound))
    }

    /// A peer failed; `at` is the caller's place in the code.
    #[track_caller]
    pub fn peer(peer: &'static str, cause: impl std::fmt::Display) -> Self {
        ServiceError::Peer { peer, cause: cause.to_string(), at: Location::caller() }
    }

    /// Stored data is inconsistent; `what` names the data, never its content.
    #[track_caller]
    pub fn corrupt(what: impl Into<String>) -> Self {
        ServiceError::Corrupt { what: what.into(), at: Location::caller() }
    }

    /// The refusal's code, if this is a refusal.
    pub fn refusal(&self) -> Option<ErrorCode> {
        match self {
            ServiceError::Refused(failure) => Some(failure.code),
            _ => None,
        }
    }

    /// Worth trying again later: a peer was down, or a concurrent twin is committing.
    pub fn is_transient(&self) -> bool {
        matches!(self, ServiceError::ConcurrentReplay | ServiceError::Peer { .. })
    }

    /// What the caller is told; internal causes stay in the log.
    pub fn failure(&self) -> Failure {
        match self {
            ServiceError::Refused(failure) => failure.clone(),
            ServiceError::ConcurrentReplay | ServiceError::Peer { .. } => Failure::new(ErrorCode::Unavailable),
            ServiceError::Db { .. } | ServiceError::Corrupt { .. } => Failure::new(ErrorCode::Internal),
        }
    }

    /// The status for the caller, logging an internal failure once with where it happened.
    pub fn into_status(self) -> Status {
        self.into_status_in(None)
    }

    /// As [`ServiceError::into_status`], with a message for a person in `language`.
    pub fn into_status_in(self, language: Option<Language>) -> Status {
        if self.refusal().is_none() && !matches!(self, ServiceError::ConcurrentReplay) {
            tracing::error!(error = %self, "request failed");
        }
        self.failure().to_status_in(language)
    }
}

impl From<Failure> for ServiceError {
    fn from(failure: Failure) -> Self {
        ServiceError::Refused(failure)
    }
}

impl From<ErrorCode> for ServiceError {
    fn from(code: ErrorCode) -> Self {
        ServiceError::Refused(Failure::new(code))
    }
}

impl From<FieldViolation> for ServiceError {
    fn from(violation: FieldViolation) -> Self {
        ServiceError::invalid(vec![violation])
    }
}

impl From<DbError> for ServiceError {
    /// `?` on a database result records the line of the `?`: the log names the failed step.
    #[track_caller]
    fn from(source: DbError) -> Self {
        ServiceError::Db { source, at: Location::caller() }
    }
}

impl From<crate::keyring::KeyringError> for ServiceError {
    /// The key store failed like a database, or a key did not open (corrupt).
    #[track_caller]
    fn from(error: crate::keyring::KeyringError) -> Self {
        match error {
            crate::keyring::KeyringError::Db(source) => ServiceError::Db { source, at: Location::caller() },
            other => ServiceError::Corrupt { what: other.to_string(), at: Location::caller() },
        }
    }
}

impl From<ServiceError> for Status {
    fn from(error: ServiceError) -> Self {
        error.into_status()
    }
}

/// An event consumer's view: transient failures are retried, refusals and corruption parked.
impl From<ServiceError> for HandlerError {
    fn from(error: ServiceError) -> Self {
        match error {
            ServiceError::Db { source, .. } => HandlerError::Db(source),
            error if error.is_transient() => HandlerError::Transient(error.to_string()),
            error => HandlerError::Permanent(error.to_string()),
        }
    }
}

/// A peer service's answer as ours. Its not-found and refusals pass through (the caller asked
/// as themselves, so the peer's answer is theirs to hear); anything else means the peer failed.
#[track_caller]
pub fn peer_refusal(peer: &'static str, status: &Status) -> ServiceError {
    match status.code() {
        tonic::Code::NotFound => ServiceError::not_found(),
        tonic::Code::PermissionDenied => ErrorCode::PermissionDenied.into(),
        code => ServiceError::Peer { peer, cause: format!("{code}"), at: Location::caller() },
    }
}

/// Runs a unary handler `self.$method(&principal, message)` from a tonic trait method: the
/// caller's verified principal, then the handler's answer or its status.
///
/// ```ignore
/// async fn create_workspace(&self, request: Request<pb::CreateWorkspaceRequest>) -> Result<Response<pb::Workspace>, Status> {
///     ohjaus_platform::unary!(self.create_workspace, request)
/// }
/// ```
#[macro_export]
macro_rules! unary {
    ($self:ident . $method:ident, $request:ident) => {{
        let principal = $crate::auth::principal_of(&$request)?.clone();
        let language = $crate::service::requested_language($request.metadata());
        match $self.$method(&principal, $request.into_inner()).await {
            Ok(answer) => Ok(::tonic::Response::new(answer)),
            Err(error) => Err($crate::service::LocalizedStatus::localized_status(error, language)),
        }
    }};
}

/// A handler's error as the status its caller receives, in the caller's language where it is ours.
pub trait LocalizedStatus {
    fn localized_status(self, language: Option<Language>) -> Status;
}

impl LocalizedStatus for ServiceError {
    fn localized_status(self, language: Option<Language>) -> Status {
        self.into_status_in(language)
    }
}

impl LocalizedStatus for Failure {
    fn localized_status(self, language: Option<Language>) -> Status {
        self.to_status_in(language)
    }
}

/// A status made elsewhere (a peer's, a transport's) passes as it is.
impl LocalizedStatus for Status {
    fn localized_status(self, _: Option<Language>) -> Status {
        self
    }
}

/// The language a gRPC caller asked for in its `accept-language` metadata, if it asked: its
/// refusals then carry a `LocalizedMessage` in that language.
pub fn requested_language(metadata: &tonic::metadata::MetadataMap) -> Option<Language> {
    metadata.get("accept-language").and_then(|v| v.to_str().ok()).map(|header| Language::negotiate(Some(header)))
}

/// The idempotency key of a creating request, parsed with the rest of its command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestKey {
    operation: &'static str,
    key: Option<String>,
    hash: String,
}

/// What a creating request does next.
pub enum NextAction {
    /// The key is new (or there is none): make the resource in this transaction, then
    /// [`RequestKey::remember`] it before committing.
    Proceed(Tx),
    /// The same request came before and made this resource: answer with it.
    Replay(Uuid),
}

impl RequestKey {
    /// The key `message` carries in its `request_id` field (empty: none) and the hash that tells
    /// a retry from a different request under the same key.
    pub fn parse<M: Message + Clone>(
        operation: &'static str,
        message: &M,
        request_id: impl Fn(&mut M) -> &mut String,
    ) -> Result<Self, FieldViolation> {
        let mut copy = message.clone();
        let key = parse_request_id(request_id(&mut copy))?;
        let hash = request_hash(message, |m| request_id(m).clear());
        Ok(Self { operation, key, hash })
    }

    /// Either the resource an earlier identical request made, or a transaction to make it in.
    /// The same key with a different request is refused.
    pub async fn begin(&self, db: &Db, principal: &Principal) -> ServiceResult<NextAction> {
        match self.replayed(db, principal).await? {
            Some(id) => Ok(NextAction::Replay(id)),
            None => Ok(NextAction::Proceed(db.begin().await?)),
        }
    }

    /// The resource an earlier identical request made, without opening a transaction: for a
    /// handler that must ask other services before it begins (no lock is held while they
    /// answer). It then begins on its own and [`RequestKey::remember`]s as usual, which refuses
    /// a twin that committed in between. The same key with a different request is refused.
    pub async fn replayed(&self, db: &Db, principal: &Principal) -> ServiceResult<Option<Uuid>> {
        let Some(key) = &self.key else { return Ok(None) };
        match idempotency::earlier(db, &caller_key(principal), self.operation, key, &self.hash).await? {
            Earlier::Made(id) => Ok(Some(id)),
            Earlier::Different => Err(ErrorCode::IdempotencyKeyReused.into()),
            Earlier::None => Ok(None),
        }
    }

    /// Records in `tx` that this request made `resource`. A concurrent twin that committed
    /// first makes this [`ServiceError::ConcurrentReplay`]: roll back, the retry will replay.
    pub async fn remember(
        &self,
        tx: &mut Tx,
        principal: &Principal,
        resource: Uuid,
        now: DateTime<Utc>,
    ) -> ServiceResult<()> {
        if let Some(key) = &self.key
            && !idempotency::remember(tx, &caller_key(principal), self.operation, key, &self.hash, resource, now)
                .await?
        {
            return Err(ServiceError::ConcurrentReplay);
        }
        Ok(())
    }
}

/// What a publishing service's handlers share: its own database, the injected clock and the
/// outbox its events leave through.
#[derive(Clone)]
pub struct Core {
    db: Db,
    clock: SharedClock,
    outbox: Outbox,
}

impl std::fmt::Debug for Core {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Core").field("outbox", &self.outbox).finish_non_exhaustive()
    }
}

impl Core {
    pub fn new(db: Db, clock: SharedClock, outbox: Outbox) -> Self {
        Self { db, clock, outbox }
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    pub fn clock(&self) -> &SharedClock {
        &self.clock
    }

    /// The time of this request's decisions: the clock's, never the database's.
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// Adds `event` of organisation `tenant` to the outbox in `tx`: it leaves only if `tx` commits.
    pub async fn emit<E: Event>(&self, tx: &mut Tx, tenant: impl Into<Uuid>, event: E) -> ServiceResult<()> {
        self.outbox.write(tx, Some(tenant.into()), &event).await?;
        Ok(())
    }

    /// Commits `tx` and wakes the relay, so its events leave at once.
    pub async fn commit(&self, tx: Tx) -> ServiceResult<()> {
        tx.commit().await?;
        self.outbox.committed();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_database_error_remembers_where_it_happened() {
        fn fails() -> ServiceResult<()> {
            Err(DbError::Config("x".into()))?;
            Ok(())
        }
        let Err(ServiceError::Db { at, .. }) = fails() else { panic!("expected a database error") };
        assert!(at.file().ends_with("service.rs"), "{at}");
        assert_eq!(fails().unwrap_err().failure().code, ErrorCode::Internal);
    }

    #[test]
    fn refusals_reach_the_caller_and_internals_do_not() {
        let invalid = ServiceError::from(FieldViolation::new("title", "field-required"));
        assert_eq!(invalid.failure(), Failure::invalid(vec![FieldViolation::new("title", "field-required")]));
        let peer = ServiceError::peer("tenants", "connection refused");
        let status = peer.into_status();
        assert_eq!(status.code(), tonic::Code::Unavailable);
        assert!(!status.message().contains("connection refused"));
    }

    #[test]
    fn peer_refusals_pass_through_and_failures_do_not() {
        assert_eq!(peer_refusal("tenants", &Status::not_found("x")).refusal(), Some(ErrorCode::NotFound));
        assert_eq!(
            peer_refusal("tenants", &Status::permission_denied("x")).refusal(),
            Some(ErrorCode::PermissionDenied)
        );
        assert!(peer_refusal("tenants", &Status::unavailable("x")).is_transient());
        assert!(peer_refusal("tenants", &Status::internal("x")).refusal().is_none());
    }

    #[test]
    fn request_keys_tell_a_retry_from_a_different_request() {
        use crate::proto::tenants::v1::CreateOfficeRequest;
        let first = CreateOfficeRequest { request_id: "k1".into(), name: "A".into(), ..Default::default() };
        let retry = first.clone();
        let other = CreateOfficeRequest { name: "B".into(), ..first.clone() };
        let parse = |m: &CreateOfficeRequest| RequestKey::parse("create_office", m, |m| &mut m.request_id);
        assert_eq!(parse(&first).unwrap(), parse(&retry).unwrap());
        assert_ne!(parse(&first).unwrap().hash, parse(&other).unwrap().hash);
        assert_eq!(parse(&first).unwrap().key.as_deref(), Some("k1"));
        let none = CreateOfficeRequest { request_id: " ".into(), ..first.clone() };
        assert_eq!(parse(&none).unwrap().key, None);
        let bad = CreateOfficeRequest { request_id: "ä".into(), ..first };
        assert!(parse(&bad).is_err());
    }
}
