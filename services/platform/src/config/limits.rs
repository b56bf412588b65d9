//! Durations and sizes in configuration: the range each key must be in (checked at load) and
//! the typed values handed out, so whoever uses them needs no fallback and no unit arithmetic.
//!
//! The file and the environment keep giving whole minutes, hours, days, seconds, milliseconds
//! or bytes; the key's name says which.

use std::time::Duration;

use super::{
    AuthSettings, BusSettings, ConfigError, FormsSettings, GatewaySettings, GrpcSettings, IdentitySettings,
    KeyringSettings, RetentionSettings, Settings, WorkspacesSettings,
};

/// A length of time from configuration: positive and within its key's range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Span(Duration);

impl Span {
    fn millis(value: u64) -> Self {
        Self(Duration::from_millis(value))
    }
    fn seconds(value: u64) -> Self {
        Self(Duration::from_secs(value))
    }
    fn minutes(value: u64) -> Self {
        Self::seconds(value.saturating_mul(60))
    }
    fn hours(value: u64) -> Self {
        Self::minutes(value.saturating_mul(60))
    }
    fn days(value: u64) -> Self {
        Self::hours(value.saturating_mul(24))
    }

    /// For timers and deadlines.
    pub fn std(self) -> Duration {
        self.0
    }

    /// For date arithmetic. The ranges checked at load keep every span far inside chrono's
    /// (about 292 million years), so the saturation never happens.
    pub fn chrono(self) -> chrono::TimeDelta {
        chrono::TimeDelta::from_std(self.0).unwrap_or(chrono::TimeDelta::MAX)
    }
}

impl From<Span> for Duration {
    fn from(span: Span) -> Self {
        span.0
    }
}

impl IdentitySettings {
    /// A session ends after this long without use (`identity.session_idle_minutes`).
    pub fn session_idle(&self) -> Span {
        Span::minutes(self.session_idle_minutes)
    }
    /// A session ends this long after login (`identity.session_absolute_hours`).
    pub fn session_absolute(&self) -> Span {
        Span::hours(self.session_absolute_hours)
    }
    /// A login must come back from the provider within this (`identity.login_timeout_minutes`).
    pub fn login_timeout(&self) -> Span {
        Span::minutes(self.login_timeout_minutes)
    }
    /// Lifetime of integration clients' access tokens (`identity.access_token_ttl_seconds`).
    pub fn access_token_ttl(&self) -> Span {
        Span::seconds(self.access_token_ttl_seconds)
    }
}

impl WorkspacesSettings {
    /// `workspaces.reopen_window_days`.
    pub fn reopen_window(&self) -> Span {
        Span::days(self.reopen_window_days)
    }
    /// `workspaces.invitation_valid_days`.
    pub fn invitation_valid(&self) -> Span {
        Span::days(self.invitation_valid_days)
    }
    /// `workspaces.notification_batch_minutes`.
    pub fn notification_batch(&self) -> Span {
        Span::minutes(self.notification_batch_minutes)
    }
    /// `workspaces.message_edit_minutes`.
    pub fn message_edit_window(&self) -> Span {
        Span::minutes(self.message_edit_minutes)
    }
}

impl RetentionSettings {
    /// `retention.close_after_days`.
    pub fn close_after(&self) -> Span {
        Span::days(self.close_after_days)
    }
    /// `retention.close_notice_days`.
    pub fn close_notice(&self) -> Span {
        Span::days(self.close_notice_days)
    }
    /// `retention.archive_notice_days`.
    pub fn archive_notice(&self) -> Span {
        Span::days(self.archive_notice_days)
    }
    /// `retention.archived_days`.
    pub fn archived_for(&self) -> Span {
        Span::days(self.archived_days)
    }
    /// `retention.submission_days`.
    pub fn submission_kept(&self) -> Span {
        Span::days(self.submission_days)
    }
    /// `retention.login_audit_days`.
    pub fn login_audit_kept(&self) -> Span {
        Span::days(self.login_audit_days)
    }
    /// `retention.interval_minutes`.
    pub fn interval(&self) -> Span {
        Span::minutes(self.interval_minutes)
    }
    /// `retention.lease_seconds`.
    pub fn lease(&self) -> Span {
        Span::seconds(self.lease_seconds)
    }
}

impl BusSettings {
    /// `bus.max_age_days`.
    pub fn max_age(&self) -> Span {
        Span::days(self.max_age_days)
    }
}

impl KeyringSettings {
    /// How long after the last deletion the key store is compacted (`keyring.compact_after_ms`).
    pub fn compact_after(&self) -> Span {
        Span::millis(self.compact_after_ms)
    }
    /// The longest a backup of the key store may be kept (`keyring.backup_max_age_days`).
    pub fn backup_max_age(&self) -> Span {
        Span::days(self.backup_max_age_days)
    }
}

impl GrpcSettings {
    /// The deadline of every call between services (`grpc.timeout_ms`).
    pub fn timeout(&self) -> Span {
        Span::millis(self.timeout_ms)
    }
    /// How long a call whose request streams may go without a message
    /// (`grpc.stream_idle_timeout_ms`).
    pub fn stream_idle_timeout(&self) -> Span {
        Span::millis(self.stream_idle_timeout_ms)
    }
}

impl GatewaySettings {
    /// `gateway.request_timeout_ms`.
    pub fn request_timeout(&self) -> Span {
        Span::millis(self.request_timeout_ms)
    }
    /// `gateway.body_timeout_ms`.
    pub fn body_timeout(&self) -> Span {
        Span::millis(self.body_timeout_ms)
    }
    /// `gateway.header_timeout_ms`.
    pub fn header_timeout(&self) -> Span {
        Span::millis(self.header_timeout_ms)
    }
    /// `gateway.idle_timeout_ms`.
    pub fn idle_timeout(&self) -> Span {
        Span::millis(self.idle_timeout_ms)
    }
}

impl FormsSettings {
    /// `forms.min_fill_seconds`.
    pub fn min_fill(&self) -> Span {
        Span::seconds(self.min_fill_seconds)
    }
    /// `forms.challenge_valid_seconds`.
    pub fn challenge_valid(&self) -> Span {
        Span::seconds(self.challenge_valid_seconds)
    }
}

impl AuthSettings {
    /// The lifetime of a principal token (`auth.token_ttl_seconds`).
    pub fn token_ttl(&self) -> Span {
        Span::seconds(self.token_ttl_seconds)
    }
}

const MINUTES_PER_DAY: u64 = 24 * 60;
const TEN_MINUTES_MS: u64 = 10 * 60 * 1000;
const KIB: u64 = 1024;
const YEARS_10: u64 = 3653;
const GIB: u64 = 1 << 30;

/// A numeric key's value and the range it must be in (both ends included).
struct Bounded {
    key: &'static str,
    value: u64,
    least: u64,
    most: u64,
    unit: &'static str,
}

impl Bounded {
    fn check(&self) -> Result<(), ConfigError> {
        let Bounded { key, value, least, most, unit } = *self;
        if (least..=most).contains(&value) {
            return Ok(());
        }
        Err(ConfigError::Invalid { key, reason: format!("must be between {least} and {most} {unit} (is {value})") })
    }
}

/// Every duration and size setting with its range. Zero is never valid: a zero timeout or
/// window would silently turn a feature off.
fn bounded(settings: &Settings) -> [Bounded; 37] {
    let row = |key, value, least, most, unit| Bounded { key, value, least, most, unit };
    let (identity, workspaces, gateway) = (&settings.identity, &settings.workspaces, &settings.gateway);
    let (retention, forms) = (&settings.retention, &settings.forms);
    // usize to u64 is lossless on every target Rust supports.
    let body_limit = gateway.body_limit_bytes as u64;
    let max_connections = gateway.max_connections as u64;
    [
        row("grpc.timeout_ms", settings.grpc.timeout_ms, 1, TEN_MINUTES_MS, "milliseconds"),
        row("grpc.stream_idle_timeout_ms", settings.grpc.stream_idle_timeout_ms, 1, TEN_MINUTES_MS, "milliseconds"),
        row("gateway.request_timeout_ms", gateway.request_timeout_ms, 1, TEN_MINUTES_MS, "milliseconds"),
        row("gateway.body_timeout_ms", gateway.body_timeout_ms, 1, TEN_MINUTES_MS, "milliseconds"),
        row("gateway.header_timeout_ms", gateway.header_timeout_ms, 1, TEN_MINUTES_MS, "milliseconds"),
        row("gateway.idle_timeout_ms", gateway.idle_timeout_ms, 1, TEN_MINUTES_MS, "milliseconds"),
        row("gateway.max_connections", max_connections, 1, 1_000_000, "connections"),
        row("gateway.body_limit_bytes", body_limit, KIB, GIB, "bytes"),
        row("auth.token_ttl_seconds", settings.auth.token_ttl_seconds, 1, 900, "seconds"),
        row("identity.session_idle_minutes", identity.session_idle_minutes, 1, MINUTES_PER_DAY, "minutes"),
        row("identity.session_absolute_hours", identity.session_absolute_hours, 1, 30 * 24, "hours"),
        row("identity.login_timeout_minutes", identity.login_timeout_minutes, 1, 60, "minutes"),
        row("identity.access_token_ttl_seconds", identity.access_token_ttl_seconds, 1, 24 * 60 * 60, "seconds"),
        row("workspaces.reopen_window_days", workspaces.reopen_window_days, 1, 365, "days"),
        row("workspaces.invitation_valid_days", workspaces.invitation_valid_days, 1, 90, "days"),
        row(
            "workspaces.notification_batch_minutes",
            workspaces.notification_batch_minutes,
            1,
            MINUTES_PER_DAY,
            "minutes",
        ),
        row("workspaces.message_edit_minutes", workspaces.message_edit_minutes, 1, MINUTES_PER_DAY, "minutes"),
        row("files.max_bytes", settings.files.max_bytes, KIB, GIB, "bytes"),
        row("bus.max_age_days", settings.bus.max_age_days, 1, 365, "days"),
        row("retention.close_after_days", retention.close_after_days, 1, YEARS_10, "days"),
        row("retention.close_notice_days", retention.close_notice_days, 1, 365, "days"),
        row("retention.archive_notice_days", retention.archive_notice_days, 1, 365, "days"),
        row("retention.archived_days", retention.archived_days, 1, YEARS_10, "days"),
        row("retention.submission_days", retention.submission_days, 1, YEARS_10, "days"),
        row("retention.login_audit_days", retention.login_audit_days, 1, YEARS_10, "days"),
        row("retention.interval_minutes", retention.interval_minutes, 1, MINUTES_PER_DAY * 7, "minutes"),
        row("retention.batch_size", retention.batch_size, 1, 1000, "rows"),
        row("retention.lease_seconds", retention.lease_seconds, 1, 24 * 60 * 60, "seconds"),
        row(
            "retention.close_notice_days",
            retention.close_notice_days,
            1,
            retention.close_after_days,
            "days (retention.close_after_days)",
        ),
        row("keyring.compact_after_ms", settings.keyring.compact_after_ms, 1, 60_000, "milliseconds"),
        row("keyring.backup_max_age_days", settings.keyring.backup_max_age_days, 1, 90, "days"),
        row("forms.min_fill_seconds", forms.min_fill_seconds, 1, 600, "seconds"),
        row("forms.challenge_valid_seconds", forms.challenge_valid_seconds, 60, 24 * 60 * 60, "seconds"),
        row("forms.challenge_max_number", forms.challenge_max_number, 1, 10_000_000, "steps"),
        row("forms.rate_per_address_per_minute", forms.rate_per_address_per_minute, 1, 10_000, "submissions"),
        row("forms.rate_per_form_per_minute", forms.rate_per_form_per_minute, 1, 100_000, "submissions"),
        // The gateway's own body limit applies first when it is the smaller.
        row("forms.max_body_bytes", forms.max_body_bytes, KIB, GIB, "bytes"),
    ]
}

/// The first duration or size setting outside its range, named.
pub(super) fn check(settings: &Settings) -> Result<(), ConfigError> {
    bounded(settings).iter().try_for_each(Bounded::check)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(pairs: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        Settings::load_with(None, pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())))
    }

    #[test]
    fn defaults_are_handed_out_as_durations_and_byte_counts() {
        let settings = load(&[]).unwrap();
        assert_eq!(settings.identity.session_idle().std(), Duration::from_secs(30 * 60));
        assert_eq!(settings.identity.session_absolute().chrono(), chrono::TimeDelta::hours(12));
        assert_eq!(settings.identity.login_timeout().chrono(), chrono::TimeDelta::minutes(10));
        assert_eq!(settings.identity.access_token_ttl().std(), Duration::from_secs(300));
        assert_eq!(settings.workspaces.reopen_window().chrono(), chrono::TimeDelta::days(90));
        assert_eq!(settings.workspaces.invitation_valid().chrono(), chrono::TimeDelta::days(14));
        assert_eq!(settings.workspaces.notification_batch().chrono(), chrono::TimeDelta::minutes(10));
        assert_eq!(settings.workspaces.message_edit_window().chrono(), chrono::TimeDelta::minutes(15));
        assert_eq!(settings.grpc.timeout().std(), Duration::from_secs(10));
        assert_eq!(Duration::from(settings.gateway.request_timeout()), Duration::from_secs(30));
        assert_eq!(settings.gateway.body_timeout().std(), Duration::from_secs(20));
        assert_eq!(settings.gateway.header_timeout().std(), Duration::from_secs(10));
        assert_eq!(settings.gateway.idle_timeout().std(), Duration::from_secs(75));
        assert_eq!(settings.gateway.max_connections, 1000);
        assert_eq!(settings.grpc.stream_idle_timeout().std(), Duration::from_secs(60));
        assert_eq!(settings.auth.token_ttl().std(), Duration::from_secs(60));
        assert_eq!(settings.files.max_bytes, 20 * 1024 * 1024);
        assert_eq!(settings.keyring.compact_after().std(), Duration::from_secs(1));
        assert_eq!(settings.keyring.backup_max_age().chrono(), chrono::TimeDelta::days(7));
    }

    #[test]
    fn the_environment_sets_the_span_in_its_keys_unit() {
        let settings = load(&[
            ("OHJAUS__WORKSPACES__MESSAGE_EDIT_MINUTES", "2"),
            ("OHJAUS__WORKSPACES__REOPEN_WINDOW_DAYS", "365"),
            ("OHJAUS__GRPC__TIMEOUT_MS", "250"),
        ])
        .unwrap();
        assert_eq!(settings.workspaces.message_edit_window().std(), Duration::from_secs(120));
        assert_eq!(settings.workspaces.reopen_window().chrono(), chrono::TimeDelta::days(365));
        assert_eq!(settings.grpc.timeout().std(), Duration::from_millis(250));
    }

    #[test]
    fn zero_is_refused_naming_the_key() {
        for (variable, key) in [
            ("OHJAUS__WORKSPACES__MESSAGE_EDIT_MINUTES", "workspaces.message_edit_minutes"),
            ("OHJAUS__WORKSPACES__REOPEN_WINDOW_DAYS", "workspaces.reopen_window_days"),
            ("OHJAUS__WORKSPACES__INVITATION_VALID_DAYS", "workspaces.invitation_valid_days"),
            ("OHJAUS__WORKSPACES__NOTIFICATION_BATCH_MINUTES", "workspaces.notification_batch_minutes"),
            ("OHJAUS__IDENTITY__SESSION_IDLE_MINUTES", "identity.session_idle_minutes"),
            ("OHJAUS__IDENTITY__SESSION_ABSOLUTE_HOURS", "identity.session_absolute_hours"),
            ("OHJAUS__IDENTITY__LOGIN_TIMEOUT_MINUTES", "identity.login_timeout_minutes"),
            ("OHJAUS__IDENTITY__ACCESS_TOKEN_TTL_SECONDS", "identity.access_token_ttl_seconds"),
            ("OHJAUS__GRPC__TIMEOUT_MS", "grpc.timeout_ms"),
            ("OHJAUS__GATEWAY__REQUEST_TIMEOUT_MS", "gateway.request_timeout_ms"),
            ("OHJAUS__GATEWAY__BODY_TIMEOUT_MS", "gateway.body_timeout_ms"),
            ("OHJAUS__GATEWAY__HEADER_TIMEOUT_MS", "gateway.header_timeout_ms"),
            ("OHJAUS__GATEWAY__IDLE_TIMEOUT_MS", "gateway.idle_timeout_ms"),
            ("OHJAUS__GATEWAY__MAX_CONNECTIONS", "gateway.max_connections"),
            ("OHJAUS__GRPC__STREAM_IDLE_TIMEOUT_MS", "grpc.stream_idle_timeout_ms"),
            ("OHJAUS__GATEWAY__BODY_LIMIT_BYTES", "gateway.body_limit_bytes"),
            ("OHJAUS__AUTH__TOKEN_TTL_SECONDS", "auth.token_ttl_seconds"),
            ("OHJAUS__FILES__MAX_BYTES", "files.max_bytes"),
            ("OHJAUS__KEYRING__COMPACT_AFTER_MS", "keyring.compact_after_ms"),
            ("OHJAUS__KEYRING__BACKUP_MAX_AGE_DAYS", "keyring.backup_max_age_days"),
        ] {
            let error = load(&[(variable, "0")]).unwrap_err();
            assert!(matches!(error, ConfigError::Invalid { key: k, .. } if k == key), "{variable}: {error}");
            assert!(error.to_string().contains(&format!("`{key}`")), "{error}");
        }
    }

    #[test]
    fn too_large_is_refused_with_the_range() {
        let error = load(&[("OHJAUS__WORKSPACES__MESSAGE_EDIT_MINUTES", "1441")]).unwrap_err();
        assert_eq!(
            error.to_string(),
            "configuration key `workspaces.message_edit_minutes` is invalid: must be between 1 and 1440 minutes (is 1441)"
        );
        let error = load(&[("OHJAUS__WORKSPACES__INVITATION_VALID_DAYS", "91")]).unwrap_err();
        assert!(error.to_string().contains("`workspaces.invitation_valid_days`"), "{error}");
        let error = load(&[("OHJAUS__FILES__MAX_BYTES", "1073741825")]).unwrap_err();
        assert!(error.to_string().contains("`files.max_bytes`"), "{error}");
        let error = load(&[("OHJAUS__AUTH__TOKEN_TTL_SECONDS", "901")]).unwrap_err();
        assert!(error.to_string().contains("`auth.token_ttl_seconds`"), "{error}");
    }

    #[test]
    fn the_ends_of_each_range_are_accepted() {
        let settings = load(&[
            ("OHJAUS__WORKSPACES__MESSAGE_EDIT_MINUTES", "1440"),
            ("OHJAUS__WORKSPACES__INVITATION_VALID_DAYS", "1"),
            ("OHJAUS__FILES__MAX_BYTES", "1024"),
            ("OHJAUS__GATEWAY__BODY_LIMIT_BYTES", "1073741824"),
        ])
        .unwrap();
        assert_eq!(settings.workspaces.message_edit_window().chrono(), chrono::TimeDelta::days(1));
        assert_eq!(settings.files.max_bytes, 1024);
    }

    #[test]
    fn an_upload_pause_the_gateway_allows_does_not_outlast_its_call() {
        let error = load(&[("OHJAUS__GATEWAY__BODY_TIMEOUT_MS", "60000")]).unwrap_err();
        assert!(matches!(error, ConfigError::Invalid { key: "gateway.body_timeout_ms", .. }), "{error}");
        assert!(error.to_string().contains("grpc.stream_idle_timeout_ms"), "{error}");
        let settings =
            load(&[("OHJAUS__GATEWAY__BODY_TIMEOUT_MS", "60000"), ("OHJAUS__GRPC__STREAM_IDLE_TIMEOUT_MS", "60001")])
                .unwrap();
        assert_eq!(settings.gateway.body_timeout().std(), Duration::from_secs(60));
    }

    #[test]
    fn a_value_that_is_not_a_number_names_the_key() {
        let error = load(&[("OHJAUS__WORKSPACES__MESSAGE_EDIT_MINUTES", "fifteen")]).unwrap_err();
        assert!(error.to_string().contains("workspaces.message_edit_minutes"), "{error}");
    }
}
