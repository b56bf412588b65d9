//! One error model for every service: a machine-readable [`ErrorCode`] plus field
//! violations, mapped once to a gRPC `Status` (with `tonic-types` details) and, in the
//! gateway, to an HTTP status with a localized RFC 9457 problem document.

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

/// What went wrong, as clients may rely on it. The gateway localizes by [`ErrorCode::reason`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorCode {
    /// Well-formed request with invalid values (HTTP 422).
    InvalidArgument,
    /// Not parseable at all: broken JSON, wrong types (HTTP 400).
    MalformedRequest,
    NotFound,
    AlreadyExists,
    /// The client's copy is stale (`If-Match` / expected version).
    VersionMismatch,
    /// An update came without `If-Match`.
    PreconditionRequired,
    Unauthenticated,
    PermissionDenied,
    /// An unsafe request with a session cookie but without its CSRF token.
    CsrfRejected,
    OrganizationSuspended,
    /// The object is not in a state that allows this (a closed workspace, say).
    WrongState,
    /// The same idempotency key was used for a different request.
    IdempotencyKeyReused,
    /// An invitation link that has expired, been used or been revoked (HTTP 410).
    InvitationUnusable,
    /// An invitation bound to another person's identity code.
    InvitationForAnotherPerson,
    RateLimited,
    PayloadTooLarge,
    /// The request's body stopped arriving (HTTP 408).
    RequestTimeout,
    UnsupportedMediaType,
    MethodNotAllowed,
    Unavailable,
    Internal,
}

const DOMAIN: &str = "ohjaus";

impl ErrorCode {
    pub const ALL: [ErrorCode; 21] = [
        ErrorCode::InvalidArgument,
        ErrorCode::MalformedRequest,
        ErrorCode::NotFound,
        ErrorCode::AlreadyExists,
        ErrorCode::VersionMismatch,
        ErrorCode::PreconditionRequired,
        ErrorCode::Unauthenticated,
        ErrorCode::PermissionDenied,
        ErrorCode::CsrfRejected,
        ErrorCode::OrganizationSuspended,
        ErrorCode::WrongState,
        ErrorCode::IdempotencyKeyReused,
        ErrorCode::InvitationUnusable,
        ErrorCode::InvitationForAnotherPerson,
        ErrorCode::RateLimited,
        ErrorCode::PayloadTooLarge,
        ErrorCode::RequestTimeout,
        ErrorCode::UnsupportedMediaType,
        ErrorCode::MethodNotAllowed,
        ErrorCode::Unavailable,
        ErrorCode::Internal,
    ];

    /// Stable identifier: the gRPC `ErrorInfo.reason` and the last part of the problem `type`.
    pub fn reason(self) -> &'static str {
        match self {
            ErrorCode::InvalidArgument => "invalid-argument",
            ErrorCode::MalformedRequest => "malformed-request",
            ErrorCode::NotFound => "not-found",
            ErrorCode::AlreadyExists => "already-exists",
            ErrorCode::VersionMismatch => "version-mismatch",
            ErrorCode::PreconditionRequired => "precondition-required",
            ErrorCode::Unauthenticated => "unauthenticated",
            ErrorCode::PermissionDenied => "permission-denied",
            ErrorCode::CsrfRejected => "csrf-rejected",
            ErrorCode::OrganizationSuspended => "organization-suspended",
            ErrorCode::WrongState => "wrong-state",
            ErrorCode::IdempotencyKeyReused => "idempotency-key-reused",
            ErrorCode::InvitationUnusable => "invitation-unusable",
            ErrorCode::InvitationForAnotherPerson => "invitation-for-another-person",
            ErrorCode::RateLimited => "rate-limited",
            ErrorCode::PayloadTooLarge => "payload-too-large",
            ErrorCode::RequestTimeout => "request-timeout",
            ErrorCode::UnsupportedMediaType => "unsupported-media-type",
            ErrorCode::MethodNotAllowed => "method-not-allowed",
            ErrorCode::Unavailable => "unavailable",
            ErrorCode::Internal => "internal",
        }
    }

    pub fn from_reason(reason: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.reason() == reason)
    }

    pub fn grpc_code(self) -> Code {
        match self {
            ErrorCode::InvalidArgument
            | ErrorCode::MalformedRequest
            | ErrorCode::PayloadTooLarge
            | ErrorCode::UnsupportedMediaType
            | ErrorCode::MethodNotAllowed => Code::InvalidArgument,
            ErrorCode::NotFound => Code::NotFound,
            ErrorCode::AlreadyExists | ErrorCode::IdempotencyKeyReused => Code::AlreadyExists,
            ErrorCode::VersionMismatch
            | ErrorCode::PreconditionRequired
            | ErrorCode::WrongState
            | ErrorCode::InvitationUnusable => Code::FailedPrecondition,
            ErrorCode::Unauthenticated => Code::Unauthenticated,
            ErrorCode::PermissionDenied
            | ErrorCode::OrganizationSuspended
            | ErrorCode::CsrfRejected
            | ErrorCode::InvitationForAnotherPerson => Code::PermissionDenied,
            ErrorCode::RateLimited => Code::ResourceExhausted,
            ErrorCode::RequestTimeout => Code::DeadlineExceeded,
            ErrorCode::Unavailable => Code::Unavailable,
            ErrorCode::Internal => Code::Internal,
        }
    }

    pub fn http_status(self) -> u16 {
        match self {
            ErrorCode::InvalidArgument => 422,
            ErrorCode::MalformedRequest => 400,
            ErrorCode::NotFound => 404,
            ErrorCode::AlreadyExists | ErrorCode::WrongState => 409,
            ErrorCode::IdempotencyKeyReused => 422,
            ErrorCode::VersionMismatch => 412,
            ErrorCode::PreconditionRequired => 428,
            ErrorCode::Unauthenticated => 401,
            ErrorCode::PermissionDenied
            | ErrorCode::OrganizationSuspended
            | ErrorCode::CsrfRejected
            | ErrorCode::InvitationForAnotherPerson => 403,
            ErrorCode::InvitationUnusable => 410,
            ErrorCode::RateLimited => 429,
            ErrorCode::PayloadTooLarge => 413,
            ErrorCode::RequestTimeout => 408,
            ErrorCode::UnsupportedMediaType => 415,
            ErrorCode::MethodNotAllowed => 405,
            ErrorCode::Unavailable => 503,
            ErrorCode::Internal => 500,
        }
    }

    /// Best guess for a status that carries no `ErrorInfo` (e.g. a transport failure).
    fn from_grpc_code(code: Code) -> Self {
        match code {
            Code::InvalidArgument | Code::OutOfRange => ErrorCode::InvalidArgument,
            Code::NotFound => ErrorCode::NotFound,
            Code::AlreadyExists => ErrorCode::AlreadyExists,
            Code::FailedPrecondition => ErrorCode::VersionMismatch,
            Code::Unauthenticated => ErrorCode::Unauthenticated,
            Code::PermissionDenied => ErrorCode::PermissionDenied,
            Code::ResourceExhausted => ErrorCode::RateLimited,
            Code::Unavailable | Code::DeadlineExceeded | Code::Cancelled | Code::Aborted => ErrorCode::Unavailable,
            _ => ErrorCode::Internal,
        }
    }
}

/// A field that failed validation; `reason` is a message id the gateway localizes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldViolation {
    pub field: String,
    pub reason: String,
}

impl FieldViolation {
    pub fn new(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self { field: field.into(), reason: reason.into() }
    }
}

/// What a service reports to its caller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    pub code: ErrorCode,
    pub violations: Vec<FieldViolation>,
    /// For a permission refused to an integration client: the scope that would have allowed
    /// it (`ErrorInfo` metadata `missing_scope` over gRPC; named in the problem's detail).
    pub missing_scope: Option<String>,
}

impl Failure {
    pub fn new(code: ErrorCode) -> Self {
        Self::with_violations(code, Vec::new())
    }
    pub fn invalid(violations: Vec<FieldViolation>) -> Self {
        Self::with_violations(ErrorCode::InvalidArgument, violations)
    }
    pub fn with_violations(code: ErrorCode, violations: Vec<FieldViolation>) -> Self {
        Self { code, violations, missing_scope: None }
    }
    /// Permission denied to a client whose token lacks `scope`.
    pub fn missing_scope(scope: &str) -> Self {
        Self { code: ErrorCode::PermissionDenied, violations: Vec::new(), missing_scope: Some(scope.to_owned()) }
    }

    /// The text that tells a person what went wrong and what to do, in `language`.
    pub fn detail(&self, language: crate::i18n::Language) -> String {
        match &self.missing_scope {
            Some(scope) => language.text_with("error-permission-denied-scope-detail", &[("scope", scope)]),
            None => language.text(&format!("error-{}-detail", self.code.reason())),
        }
    }

    /// The gRPC status: a generic English message, the code as `ErrorInfo`, field violations as
    /// `BadRequest` (each violation's description is its reason id, the key of its text in the
    /// catalogue). Never any internal detail.
    pub fn to_status(&self) -> Status {
        self.to_status_in(None)
    }

    /// As [`Failure::to_status`], plus a `LocalizedMessage` for a person in `language` (the
    /// caller's `accept-language`): the problem and what to do, then each field's problem.
    pub fn to_status_in(&self, language: Option<crate::i18n::Language>) -> Status {
        let reason = self.code.reason();
        let mut metadata = std::collections::HashMap::new();
        if let Some(scope) = &self.missing_scope {
            metadata.insert("missing_scope".to_owned(), scope.clone());
        }
        let mut details = ErrorDetails::with_error_info(reason, DOMAIN, metadata);
        for violation in &self.violations {
            details.add_bad_request_violation(violation.field.clone(), violation.reason.clone());
        }
        if let Some(language) = language {
            let mut message = format!("{}: {}", language.text(&format!("error-{reason}-title")), self.detail(language));
            for violation in &self.violations {
                message.push_str(&format!("\n{}: {}", violation.field, language.text(&violation.reason)));
            }
            details.set_localized_message(language.code(), message);
        }
        let english = crate::i18n::Language::En.text(&format!("error-{reason}-title"));
        Status::with_error_details(self.code.grpc_code(), english, details)
    }

    /// Reads back what [`Failure::to_status`] wrote; any other status gets a code by its gRPC code.
    pub fn from_status(status: &Status) -> Self {
        let details = status.get_error_details();
        let info = details.error_info().filter(|info| info.domain == DOMAIN);
        let code = info
            .and_then(|info| ErrorCode::from_reason(&info.reason))
            .unwrap_or_else(|| ErrorCode::from_grpc_code(status.code()));
        let missing_scope = info
            .and_then(|info| info.metadata.get("missing_scope").cloned())
            .filter(|_| code == ErrorCode::PermissionDenied);
        let violations = details
            .bad_request()
            .map(|bad| {
                bad.field_violations
                    .iter()
                    .map(|v| FieldViolation::new(v.field.clone(), v.description.clone()))
                    .collect()
            })
            .unwrap_or_default();
        Self { code, violations, missing_scope }
    }
}

impl From<Failure> for Status {
    fn from(failure: Failure) -> Self {
        failure.to_status()
    }
}

/// Collects field violations while parsing a request, so a client learns every problem at once.
#[derive(Debug, Default)]
pub struct Violations(Vec<FieldViolation>);

impl Violations {
    pub fn new() -> Self {
        Self::default()
    }
    /// Keeps the parsed value, or records the violation and returns `None`.
    pub fn check<T>(&mut self, result: Result<T, FieldViolation>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(violation) => {
                self.0.push(violation);
                None
            }
        }
    }
    pub fn push(&mut self, violation: FieldViolation) {
        self.0.push(violation);
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    /// `Err` with every violation if there was any.
    pub fn finish(self) -> Result<(), Failure> {
        if self.0.is_empty() { Ok(()) } else { Err(Failure::invalid(self.0)) }
    }
    pub fn into_failure(self) -> Failure {
        Failure::invalid(self.0)
    }

    /// The parsed command when nothing was recorded, else every violation at once. `build`
    /// assembles the command from the checked parts (`Some(Cmd { title: title?, .. })`); it
    /// runs only when every check passed, so its `None` cannot happen for a complete check.
    pub fn finish_with<T>(self, build: impl FnOnce() -> Option<T>) -> Result<T, Failure> {
        if !self.0.is_empty() {
            return Err(Failure::invalid(self.0));
        }
        build().ok_or_else(|| Failure::new(ErrorCode::InvalidArgument))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failure_survives_a_grpc_round_trip() {
        let failure = Failure::invalid(vec![FieldViolation::new("business_id", "invalid-business-id")]);
        let status = failure.to_status();
        assert_eq!(status.code(), Code::InvalidArgument);
        assert_eq!(Failure::from_status(&status), failure);
    }

    #[test]
    fn every_code_has_a_distinct_reason() {
        for code in ErrorCode::ALL {
            assert_eq!(ErrorCode::from_reason(code.reason()), Some(code));
        }
    }

    #[test]
    fn a_command_is_built_only_when_every_field_parsed() {
        let mut v = Violations::new();
        let a = v.check(Ok::<_, FieldViolation>(1));
        let b = v.check(Err::<i32, _>(FieldViolation::new("b", "field-required")));
        let c = v.check(Err::<i32, _>(FieldViolation::new("c", "field-required")));
        let failure = v.finish_with(|| Some((a?, b?, c?))).unwrap_err();
        assert_eq!(failure.violations.len(), 2);
        let mut v = Violations::new();
        let a = v.check(Ok::<_, FieldViolation>(1));
        assert_eq!(v.finish_with(|| Some(a? + 1)), Ok(2));
    }

    #[test]
    fn foreign_status_maps_by_grpc_code() {
        let failure = Failure::from_status(&Status::unavailable("connection refused"));
        assert_eq!(failure.code, ErrorCode::Unavailable);
        assert!(failure.violations.is_empty());
    }
}
