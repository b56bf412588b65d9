//! Configuration: embedded defaults → optional file → environment `OHJAUS__SECTION__KEY`.
//!
//! The defaults are the embedded mode: SQLite files and the in-process bus under `./data`,
//! so `ohjaus` with no configuration at all runs the whole system on a laptop. Secrets are
//! wrapped in [`Secret`] so they never reach a log or a `Debug` print.

use std::{fmt, net::SocketAddr, path::Path, path::PathBuf, str::FromStr};

use serde::{Deserialize, Deserializer};

mod limits;
pub use ipnet::IpNet;
pub use limits::Span;

/// Embedded defaults. Each can be overridden by the file or the environment.
const DEFAULTS: &str = include_str!("defaults.toml");

/// Signing key used only when nothing is configured; refused outside the embedded mode.
pub const EMBEDDED_DEV_SIGNING_KEY: &str = "embedded-dev:ohjaus-embedded-development-key-not-for-production";
/// Identity-code key used only when nothing is configured; refused outside the embedded mode.
pub const EMBEDDED_DEV_IDENTITY_CODE_KEY: &str = "ohjaus-embedded-identity-code-key-not-for-production";
/// Consent-ledger key used only when nothing is configured; refused outside the embedded mode.
pub const EMBEDDED_DEV_CONSENT_LEDGER_KEY: &str = "ohjaus-embedded-consent-ledger-key-not-for-production";

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub data_dir: PathBuf,
    pub database: DatabaseSettings,
    pub bus: BusSettings,
    pub grpc: GrpcSettings,
    pub gateway: GatewaySettings,
    pub auth: AuthSettings,
    pub security: SecuritySettings,
    pub keyring: KeyringSettings,
    pub telemetry: TelemetrySettings,
    pub demo: DemoSettings,
    pub identity: IdentitySettings,
    pub workspaces: WorkspacesSettings,
    pub mail: MailSettings,
    pub files: FileSettings,
    pub retention: RetentionSettings,
    pub forms: FormsSettings,
    #[serde(default)]
    pub services: ServiceAddresses,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdentitySettings {
    /// A session ends after this long without use.
    pub session_idle_minutes: u64,
    /// A session ends this long after login, however busy.
    pub session_absolute_hours: u64,
    /// A login must come back from the provider within this time.
    pub login_timeout_minutes: u64,
    /// Lifetime of access tokens issued to integration clients.
    pub access_token_ttl_seconds: u64,
    /// Comma-separated Virtu identities (`virtu:<home organisation>/<local id>`) of operators.
    #[serde(default)]
    pub operators: String,
    pub dev_idp: DevIdpSettings,
    /// OpenID Connect login connectors by id; the id is part of the callback address.
    #[serde(default)]
    pub providers: std::collections::BTreeMap<String, ProviderSettings>,
    /// SAML 2.0 login connectors by id (ids are shared with `providers`); the id is part of
    /// the SP metadata, ACS and SLO addresses under `/auth/saml/`.
    #[serde(default)]
    pub saml_providers: std::collections::BTreeMap<String, SamlProviderSettings>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkspacesSettings {
    /// A closed workspace can be reopened for this many days.
    pub reopen_window_days: u64,
    /// An invitation can be accepted for this many days after it was sent (or resent).
    pub invitation_valid_days: u64,
    /// New-message emails to one person are sent at most once per this many minutes.
    pub notification_batch_minutes: u64,
    /// Authors may edit or delete their message for this many minutes after posting it.
    pub message_edit_minutes: u64,
}

/// How mail leaves the system.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum MailTransport {
    /// Each mail is written as an `.eml` file into `mail.directory` (the embedded mode).
    Files,
    /// Each mail is sent to the SMTP server at `mail.smtp_url`.
    Smtp,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MailSettings {
    /// Default: `files` in the embedded mode, `smtp` otherwise.
    pub transport: Option<MailTransport>,
    /// Default: `<data_dir>/mail`.
    pub directory: Option<PathBuf>,
    /// `smtps://user:pass@host:465`, `smtp://host:587?tls=required` (STARTTLS) or
    /// `smtp://host:25` (plain, for a relay on the same network).
    pub smtp_url: Option<Secret>,
    /// The sender, e.g. `Ohjaus <noreply@example.fi>`.
    pub from: String,
}

/// Where attachments are kept.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum FileStoreKind {
    /// A folder on the local disk (the embedded mode).
    Local,
    /// An S3-compatible object store.
    S3,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSettings {
    /// Default: `local` in the embedded mode, `s3` otherwise.
    pub store: Option<FileStoreKind>,
    /// Default: `<data_dir>/files`.
    pub directory: Option<PathBuf>,
    /// Largest accepted attachment.
    pub max_bytes: u64,
    pub s3_bucket: Option<String>,
    /// For S3-compatible stores other than AWS (MinIO, Ceph...).
    pub s3_endpoint: Option<String>,
    pub s3_region: Option<String>,
    pub s3_access_key_id: Option<Secret>,
    pub s3_secret_access_key: Option<Secret>,
    /// Plain-http endpoints are refused unless this is set (a test store on loopback).
    #[serde(default)]
    pub s3_allow_http: bool,
}

/// A SAML 2.0 identity provider (Suomi.fi's SAML interface, Virtu).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SamlProviderSettings {
    pub display_name: String,
    /// The provider's metadata: an https URL (plain http only to this machine) or a file.
    pub idp_metadata: String,
    /// Our entity id; by default `<public base URL>/auth/saml/metadata/<id>`.
    #[serde(default)]
    pub sp_entity_id: Option<String>,
    /// PEM private key that signs our requests and decrypts assertions (mount it as a secret).
    pub sp_private_key_file: std::path::PathBuf,
    /// PEM certificate of that key, published in our metadata.
    pub sp_certificate_file: std::path::PathBuf,
    /// AuthnContextClassRef values to request, comma-separated.
    #[serde(default)]
    pub requested_authn_context: String,
    /// AuthnContextClassRef values accepted in the assertion, comma-separated; empty accepts any.
    #[serde(default)]
    pub accepted_authn_context: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DevIdpSettings {
    /// Unset: on in the embedded mode only. `true` elsewhere turns it on deliberately.
    #[serde(default)]
    pub enabled: Option<bool>,
    pub listen: SocketAddr,
}

/// An OpenID Connect provider (Suomi.fi's OIDC interface, a broker, or Virtu through one).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderSettings {
    pub display_name: String,
    /// Issuer URL; discovery is read from `<issuer>/.well-known/openid-configuration`.
    pub issuer: String,
    pub client_id: String,
    pub client_secret: Secret,
    /// Space-separated scopes besides `openid`.
    #[serde(default)]
    pub scopes: String,
    /// Requested level of assurance (`acr_values`), space-separated.
    #[serde(default)]
    pub acr_values: String,
    /// Comma-separated `acr` values accepted in the ID token; empty accepts any.
    #[serde(default)]
    pub accepted_acr: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DatabaseBackend {
    Sqlite,
    Postgres,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSettings {
    pub backend: DatabaseBackend,
    /// PostgreSQL URL; every service keeps its tables in its own schema of this database.
    #[serde(default)]
    pub url: Option<Secret>,
    pub max_connections: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BusKind {
    InProcess,
    Nats,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BusSettings {
    pub kind: BusKind,
    #[serde(default)]
    pub nats_url: Option<String>,
    /// JetStream stream that holds every event.
    pub stream: String,
    /// First token of every subject (`<prefix>.<service>.<event>`); tests give each run its own.
    pub subject_prefix: String,
    /// Deliveries of one event before it is parked as poison.
    pub max_deliver: u32,
    /// The JetStream stream keeps an event this many days at most (events carry ids only, and
    /// even those leave within this time of a deletion).
    pub max_age_days: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GrpcSettings {
    /// Where this process serves the gRPC APIs of the services it runs, if any runs apart.
    pub listen: SocketAddr,
    /// Deadline of every call between services, in milliseconds.
    pub timeout_ms: u64,
    /// A call whose request streams (a file upload) has no deadline for the whole transfer:
    /// it is cut when no message has passed for this long, in milliseconds.
    pub stream_idle_timeout_ms: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatewaySettings {
    pub listen: SocketAddr,
    /// Address users reach the gateway at; used in links.
    pub public_base_url: String,
    pub body_limit_bytes: usize,
    /// The longest wait for an answer once the request has arrived, in milliseconds.
    pub request_timeout_ms: u64,
    /// The longest pause within a request body (answered 408) or while a client takes an
    /// answer, in milliseconds.
    pub body_timeout_ms: u64,
    /// A request's headers must be complete this long after their first byte, in milliseconds.
    pub header_timeout_ms: u64,
    /// A connection with no request under way is closed after this long without a byte from
    /// its client, in milliseconds.
    pub idle_timeout_ms: u64,
    /// Open client connections at most; more wait to be accepted.
    pub max_connections: usize,
    /// Requests per second allowed per client address on public (no login) endpoints.
    pub public_rate_per_second: u64,
    pub public_burst: u32,
    /// Comma-separated CIDRs of the proxies in front of the gateway (an ingress): only a peer
    /// inside one of them is believed about the client's address (`X-Forwarded-For`).
    #[serde(default)]
    pub trusted_proxies: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthSettings {
    /// `kid:secret`; signs principal tokens between services.
    pub signing_key: Secret,
    /// Comma-separated `kid:secret` of earlier keys, still accepted during rotation.
    #[serde(default)]
    pub previous_keys: Option<Secret>,
    /// Lifetime of a principal token, in seconds.
    pub token_ttl_seconds: u64,
    /// Bootstrap API token of the operator (optional).
    #[serde(default)]
    pub operator_token: Option<Secret>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecuritySettings {
    /// HMAC key for personal identity codes; they are never stored in plain text.
    pub identity_code_key: Secret,
    /// HMAC key that chains the consent ledger's entries, so a changed, removed or reordered
    /// entry shows.
    pub consent_ledger_key: Secret,
    /// Wraps per-workspace data keys: `<id>:<64 hex digits>`. Unset: the built-in
    /// development key, in the embedded mode only.
    #[serde(default)]
    pub key_encryption_key: Option<Secret>,
    /// Comma-separated further key-encryption keys that still open data keys wrapped by them
    /// (never wrap new ones): the old key during a rotation, until `ohjaus keyring rewrap`.
    #[serde(default)]
    pub accepted_key_encryption_keys: Option<Secret>,
}

/// The key store ("keyring"): every data key, wrapped, apart from the content it opens, so a
/// backup of the content holds ciphertext only.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyringSettings {
    /// PostgreSQL URL of the key store's database (server mode). Each service keeps its keys in
    /// a schema of its own there, `<service>_keyring`. Unset: `database.url`, in those schemas.
    #[serde(default)]
    pub url: Option<Secret>,
    /// Folder of the key store's SQLite files, one per service (embedded mode). Unset:
    /// `<data_dir>/keyring`.
    #[serde(default)]
    pub directory: Option<PathBuf>,
    /// After a deletion, the store is compacted (its files rewritten without the deleted keys)
    /// once no further deletion has come for this long; during a long run of deletions at the
    /// latest a minute after the first.
    pub compact_after_ms: u64,
    /// The operating rule for backups of the key store: keep none longer than this. A deleted
    /// workspace's content in any backup becomes unreadable when the last key store backup
    /// that still holds its key is gone, so every retention period is true only up to this.
    pub backup_max_age_days: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LogFormat {
    Pretty,
    Json,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TelemetrySettings {
    pub format: LogFormat,
    pub level: String,
    #[serde(default)]
    pub otlp_endpoint: Option<String>,
    /// Prometheus `/metrics`; empty turns it off.
    #[serde(default)]
    pub metrics_listen: Option<SocketAddr>,
}

/// The retention periods of the privacy notice, platform-wide, and how the worker runs. The
/// reopening window is `workspaces.reopen_window_days`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionSettings {
    /// An active workspace closes when none of its customers has visited it for this many days.
    pub close_after_days: u64,
    /// Its customers and owner are told this many days before it closes.
    pub close_notice_days: u64,
    /// They are told this many days before a closed workspace is archived.
    pub archive_notice_days: u64,
    /// An archived workspace is deleted after this many days.
    pub archived_days: u64,
    /// A contact-form submission that led to no workspace is deleted after this many days.
    pub submission_days: u64,
    /// The login audit keeps entries this many days.
    pub login_audit_days: u64,
    /// The retention target runs every rule this often by itself (the embedded mode's periodic
    /// run); `false` leaves it to the chart's CronJob (`ohjaus retention`).
    pub periodic: bool,
    /// Minutes between periodic runs.
    pub interval_minutes: u64,
    /// Workspaces or deletions claimed per batch.
    pub batch_size: u64,
    /// A run's claim on a deletion lasts this many seconds; a killed run's claims lapse then.
    pub lease_seconds: u64,
}

/// Contact forms: what a visitor's submission must show to be accepted, and how often one may
/// come. The retention of submissions is `retention.submission_days`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FormsSettings {
    /// A form sent sooner than this after its page was served is refused as automated.
    pub min_fill_seconds: u64,
    /// A proof-of-work challenge expires this long after it was issued.
    pub challenge_valid_seconds: u64,
    /// The largest secret number of a challenge: the work a browser does (on average half).
    pub challenge_max_number: u64,
    /// Submissions per minute accepted from one client address.
    pub rate_per_address_per_minute: u64,
    /// Submissions per minute accepted to one form, from everyone.
    pub rate_per_form_per_minute: u64,
    /// The largest submission body, in bytes.
    pub max_body_bytes: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DemoSettings {
    /// Seed a demo organisation with an office once (embedded mode).
    pub seed: bool,
}

/// Network addresses of services that run in other processes, e.g. `http://tenants:50051`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceAddresses {
    #[serde(default)]
    pub tenants: Option<ServiceAddress>,
    #[serde(default)]
    pub identity: Option<ServiceAddress>,
    #[serde(default)]
    pub workspaces: Option<ServiceAddress>,
    #[serde(default)]
    pub consent: Option<ServiceAddress>,
    #[serde(default)]
    pub forms: Option<ServiceAddress>,
    #[serde(default)]
    pub surveys: Option<ServiceAddress>,
    #[serde(default)]
    pub retention: Option<ServiceAddress>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceAddress {
    pub address: String,
}

impl ServiceAddresses {
    pub fn address_of(&self, service: &str) -> Option<&str> {
        let entry = match service {
            "tenants" => &self.tenants,
            "identity" => &self.identity,
            "workspaces" => &self.workspaces,
            "consent" => &self.consent,
            "forms" => &self.forms,
            "surveys" => &self.surveys,
            "retention" => &self.retention,
            _ => return None,
        };
        entry.as_ref().map(|a| a.address.as_str())
    }
}

/// A configuration value that must never be printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Secret)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration could not be read: {0}")]
    Read(String),
    #[error("configuration key `{key}` is invalid: {reason}")]
    Invalid { key: &'static str, reason: String },
}

impl Settings {
    /// The key that wraps workspace data keys (checked at load).
    pub fn key_encryption_key(&self) -> Result<crate::crypto::KeyEncryptionKey, crate::crypto::CryptoError> {
        let value = self.security.key_encryption_key.as_ref().map(Secret::expose);
        crate::crypto::KeyEncryptionKey::parse(value.unwrap_or(crate::crypto::EMBEDDED_DEV_KEY_ENCRYPTION_KEY))
    }

    /// The current key-encryption key and those still accepted (checked at load).
    pub fn key_encryption_keys(&self) -> Result<crate::crypto::KeyEncryptionKeys, crate::crypto::CryptoError> {
        let mut accepted = Vec::new();
        if let Some(keys) = &self.security.accepted_key_encryption_keys {
            for key in keys.expose().split(',').map(str::trim).filter(|k| !k.is_empty()) {
                accepted.push(crate::crypto::KeyEncryptionKey::parse(key)?);
            }
        }
        crate::crypto::KeyEncryptionKeys::new(self.key_encryption_key()?, accepted)
    }

    /// The PostgreSQL URL of the key store: `keyring.url`, or else the content's `database.url`.
    pub fn keyring_url(&self) -> Option<&Secret> {
        self.keyring.url.as_ref().or(self.database.url.as_ref())
    }

    /// The folder of the key store's SQLite files.
    pub fn keyring_directory(&self) -> PathBuf {
        self.keyring.directory.clone().unwrap_or_else(|| self.data_dir.join("keyring"))
    }

    /// Defaults, then the file (if given), then `OHJAUS__*` environment variables.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        Self::load_with(file, std::env::vars())
    }

    /// As [`Settings::load`], with the environment given explicitly (tests).
    pub fn load_with(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let env_map: config::Map<String, String> = env.into_iter().filter(|(k, _)| k.starts_with("OHJAUS__")).collect();
        let mut builder =
            config::Config::builder().add_source(config::File::from_str(DEFAULTS, config::FileFormat::Toml));
        if let Some(path) = file {
            builder = builder.add_source(config::File::from(path).required(true));
        }
        builder = builder.add_source(
            config::Environment::with_prefix("OHJAUS")
                .prefix_separator("__")
                .separator("__")
                .try_parsing(true)
                .source(Some(env_map)),
        );
        let settings: Settings =
            builder.build().and_then(config::Config::try_deserialize).map_err(|e| ConfigError::Read(e.to_string()))?;
        settings.validate()?;
        Ok(settings)
    }

    /// Embedded mode: SQLite and the in-process bus, nothing to install.
    pub fn is_embedded(&self) -> bool {
        self.database.backend == DatabaseBackend::Sqlite && self.bus.kind == BusKind::InProcess
    }

    pub fn mail_transport(&self) -> MailTransport {
        self.mail.transport.unwrap_or(if self.is_embedded() { MailTransport::Files } else { MailTransport::Smtp })
    }

    pub fn mail_directory(&self) -> PathBuf {
        self.mail.directory.clone().unwrap_or_else(|| self.data_dir.join("mail"))
    }

    pub fn file_store(&self) -> FileStoreKind {
        self.files.store.unwrap_or(if self.is_embedded() { FileStoreKind::Local } else { FileStoreKind::S3 })
    }

    pub fn files_directory(&self) -> PathBuf {
        self.files.directory.clone().unwrap_or_else(|| self.data_dir.join("files"))
    }

    /// The development identity provider runs in the embedded mode, and elsewhere only when
    /// explicitly enabled.
    pub fn dev_idp_enabled(&self) -> bool {
        self.identity.dev_idp.enabled.unwrap_or_else(|| self.is_embedded())
    }

    fn validate(&self) -> Result<(), ConfigError> {
        limits::check(self)?;
        if self.database.backend == DatabaseBackend::Postgres && self.database.url.is_none() {
            return Err(invalid("database.url", "required when database.backend = postgres"));
        }
        if self.database.max_connections == 0 {
            return Err(invalid("database.max_connections", "must be at least 1"));
        }
        if self.bus.kind == BusKind::Nats && self.bus.nats_url.is_none() {
            return Err(invalid("bus.nats_url", "required when bus.kind = nats"));
        }
        if self.bus.subject_prefix.is_empty()
            || !self.bus.subject_prefix.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return Err(invalid("bus.subject_prefix", "letters, digits, '_' and '-' only"));
        }
        if self.bus.max_deliver == 0 {
            return Err(invalid("bus.max_deliver", "must be at least 1"));
        }
        SigningKeys::from_settings(&self.auth)?;
        if let Some(token) = &self.auth.operator_token
            && token.expose().len() < 32
        {
            return Err(invalid("auth.operator_token", "must be at least 32 characters"));
        }
        if self.security.identity_code_key.expose().len() < 32 {
            return Err(invalid("security.identity_code_key", "must be at least 32 characters"));
        }
        if self.security.consent_ledger_key.expose().len() < 32 {
            return Err(invalid("security.consent_ledger_key", "must be at least 32 characters"));
        }
        let identity = &self.identity;
        for entry in identity.operators.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let valid = entry
                .strip_prefix("virtu:")
                .and_then(|r| r.split_once('/'))
                .is_some_and(|(h, l)| !h.is_empty() && !l.is_empty());
            if !valid {
                return Err(invalid("identity.operators", "expected `virtu:<home organisation>/<local id>` entries"));
            }
        }
        for (id, provider) in &identity.providers {
            if id.is_empty() || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') || id == "dev" {
                return Err(invalid(
                    "identity.providers",
                    "provider ids are letters, digits, '-' and '_' (and not `dev`)",
                ));
            }
            if url::Url::parse(&provider.issuer).is_err() {
                return Err(invalid("identity.providers.<id>.issuer", "not an absolute URL"));
            }
        }
        if identity.dev_idp.enabled == Some(true) && !self.is_embedded() {
            tracing::warn!("the development identity provider is enabled outside the embedded mode");
        }
        if url::Url::parse(&self.gateway.public_base_url).is_err() {
            return Err(invalid("gateway.public_base_url", "not an absolute URL"));
        }
        if self.gateway.body_timeout_ms >= self.grpc.stream_idle_timeout_ms {
            // Otherwise an upload's pause the gateway still allows would cut its call first.
            return Err(invalid("gateway.body_timeout_ms", "must be shorter than grpc.stream_idle_timeout_ms"));
        }
        if self.gateway.trusted_proxies().is_err() {
            return Err(invalid("gateway.trusted_proxies", "comma-separated CIDRs such as `10.0.0.0/8`"));
        }
        if self.gateway.public_rate_per_second == 0 || self.gateway.public_burst == 0 {
            return Err(invalid("gateway.public_rate_per_second", "rate and burst must be positive"));
        }
        if self.mail_transport() == MailTransport::Smtp {
            match &self.mail.smtp_url {
                None => return Err(invalid("mail.smtp_url", "required when mail.transport = smtp")),
                Some(url) if !url.expose().starts_with("smtp://") && !url.expose().starts_with("smtps://") => {
                    return Err(invalid("mail.smtp_url", "must start with smtp:// or smtps://"));
                }
                Some(_) => {}
            }
        }
        if self.mail.from.parse::<lettre::message::Mailbox>().is_err() {
            return Err(invalid("mail.from", "not a mailbox such as `Ohjaus <noreply@example.fi>`"));
        }
        if self.file_store() == FileStoreKind::S3 && self.files.s3_bucket.as_deref().is_none_or(str::is_empty) {
            return Err(invalid("files.s3_bucket", "required when files.store = s3"));
        }
        if let Some(kek) = &self.security.key_encryption_key
            && crate::crypto::KeyEncryptionKey::parse(kek.expose()).is_err()
        {
            return Err(invalid("security.key_encryption_key", "must be `<id>:<64 hex digits>` (256 bits)"));
        }
        if let Err(error) = self.key_encryption_keys() {
            let reason = match error {
                crate::crypto::CryptoError::DuplicateKeyId(id) => {
                    format!("the key id `{id}` is given twice (the current key's included)")
                }
                _ => "comma-separated `<id>:<64 hex digits>` (256 bits each)".to_owned(),
            };
            return Err(ConfigError::Invalid { key: "security.accepted_key_encryption_keys", reason });
        }
        // Development secrets are public: only a laptop run may use them.
        if !self.is_embedded() {
            if self.auth.signing_key.expose() == EMBEDDED_DEV_SIGNING_KEY {
                return Err(invalid(
                    "auth.signing_key",
                    "the built-in development key is only allowed in the embedded mode",
                ));
            }
            let kek = self.security.key_encryption_key.as_ref().map(Secret::expose);
            if kek.is_none_or(|k| k == crate::crypto::EMBEDDED_DEV_KEY_ENCRYPTION_KEY) {
                return Err(invalid(
                    "security.key_encryption_key",
                    "required outside the embedded mode (the built-in development key is only allowed there)",
                ));
            }
            if self.security.identity_code_key.expose() == EMBEDDED_DEV_IDENTITY_CODE_KEY {
                return Err(invalid(
                    "security.identity_code_key",
                    "the built-in development key is only allowed in the embedded mode",
                ));
            }
            if self.security.consent_ledger_key.expose() == EMBEDDED_DEV_CONSENT_LEDGER_KEY {
                return Err(invalid(
                    "security.consent_ledger_key",
                    "the built-in development key is only allowed in the embedded mode",
                ));
            }
        }
        Ok(())
    }
}

impl GatewaySettings {
    /// The networks whose peers are believed about the client's address (checked at load).
    pub fn trusted_proxies(&self) -> Result<Vec<IpNet>, ipnet::AddrParseError> {
        self.trusted_proxies.split(',').map(str::trim).filter(|c| !c.is_empty()).map(str::parse).collect()
    }
}

fn invalid(key: &'static str, reason: &str) -> ConfigError {
    ConfigError::Invalid { key, reason: reason.to_owned() }
}

/// The key that signs principal tokens now, and every key still accepted.
#[derive(Clone)]
pub struct SigningKeys {
    pub current: (String, Secret),
    pub accepted: Vec<(String, Secret)>,
}

impl fmt::Debug for SigningKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kids: Vec<&str> = self.accepted.iter().map(|(k, _)| k.as_str()).collect();
        f.debug_struct("SigningKeys").field("current", &self.current.0).field("accepted", &kids).finish()
    }
}

impl SigningKeys {
    pub fn from_settings(auth: &AuthSettings) -> Result<Self, ConfigError> {
        let current = parse_key("auth.signing_key", auth.signing_key.expose())?;
        let mut accepted = vec![current.clone()];
        if let Some(previous) = &auth.previous_keys {
            for part in previous.expose().split(',').map(str::trim).filter(|p| !p.is_empty()) {
                accepted.push(parse_key("auth.previous_keys", part)?);
            }
        }
        Ok(Self { current, accepted })
    }
}

fn parse_key(key: &'static str, value: &str) -> Result<(String, Secret), ConfigError> {
    let (kid, secret) = value.split_once(':').ok_or_else(|| invalid(key, "expected `kid:secret`"))?;
    if kid.is_empty() || secret.len() < 32 {
        return Err(invalid(key, "the key id must not be empty and the secret needs at least 32 characters"));
    }
    Ok((kid.to_owned(), Secret::new(secret)))
}

impl FromStr for DatabaseBackend {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "sqlite" => Ok(Self::Sqlite),
            "postgres" => Ok(Self::Postgres),
            other => Err(format!("unknown backend {other}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn defaults_are_the_embedded_mode() {
        let settings = Settings::load_with(None, env(&[])).unwrap();
        assert!(settings.is_embedded());
        assert_eq!(settings.gateway.listen.to_string(), "127.0.0.1:8080");
    }

    #[test]
    fn environment_overrides_defaults() {
        let settings = Settings::load_with(
            None,
            env(&[("OHJAUS__GATEWAY__LISTEN", "0.0.0.0:9999"), ("OHJAUS__DATABASE__MAX_CONNECTIONS", "7")]),
        )
        .unwrap();
        assert_eq!(settings.gateway.listen.port(), 9999);
        assert_eq!(settings.database.max_connections, 7);
    }

    #[test]
    fn bad_value_names_the_key() {
        let err = Settings::load_with(None, env(&[("OHJAUS__AUTH__SIGNING_KEY", "nokid")])).unwrap_err();
        assert!(err.to_string().contains("auth.signing_key"), "{err}");
    }

    #[test]
    fn development_keys_are_refused_outside_embedded_mode() {
        let err = Settings::load_with(
            None,
            env(&[
                ("OHJAUS__DATABASE__BACKEND", "postgres"),
                ("OHJAUS__DATABASE__URL", "postgres://localhost/x"),
                ("OHJAUS__MAIL__TRANSPORT", "files"),
                ("OHJAUS__FILES__STORE", "local"),
            ]),
        )
        .unwrap_err();
        assert!(err.to_string().contains("auth.signing_key"), "{err}");
    }

    #[test]
    fn development_ledger_key_is_refused_outside_embedded_mode() {
        let server = [
            ("OHJAUS__DATABASE__BACKEND", "postgres"),
            ("OHJAUS__DATABASE__URL", "postgres://localhost/x"),
            ("OHJAUS__MAIL__TRANSPORT", "files"),
            ("OHJAUS__FILES__STORE", "local"),
            ("OHJAUS__AUTH__SIGNING_KEY", "k:0123456789abcdef0123456789abcdef"),
            ("OHJAUS__SECURITY__IDENTITY_CODE_KEY", "identity-code-key-0123456789abcdef"),
            (
                "OHJAUS__SECURITY__KEY_ENCRYPTION_KEY",
                "k1:000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
            ),
        ];
        let err = Settings::load_with(None, env(&server)).unwrap_err();
        assert!(err.to_string().contains("security.consent_ledger_key"), "{err}");
        let mut configured = server.to_vec();
        configured.push(("OHJAUS__SECURITY__CONSENT_LEDGER_KEY", "short"));
        let err = Settings::load_with(None, env(&configured)).unwrap_err();
        assert!(err.to_string().contains("security.consent_ledger_key"), "{err}");
        configured.pop();
        configured.push(("OHJAUS__SECURITY__CONSENT_LEDGER_KEY", "consent-ledger-key-0123456789abcdef"));
        assert!(Settings::load_with(None, env(&configured)).is_ok());
    }

    #[test]
    fn server_mode_needs_smtp_and_object_storage() {
        let server = [("OHJAUS__DATABASE__BACKEND", "postgres"), ("OHJAUS__DATABASE__URL", "postgres://localhost/x")];
        let err = Settings::load_with(None, env(&server)).unwrap_err();
        assert!(err.to_string().contains("mail.smtp_url"), "{err}");
        let mut with_smtp = server.to_vec();
        with_smtp.push(("OHJAUS__MAIL__SMTP_URL", "smtp://mail.example:25"));
        let err = Settings::load_with(None, env(&with_smtp)).unwrap_err();
        assert!(err.to_string().contains("files.s3_bucket"), "{err}");
        let err = Settings::load_with(None, env(&[("OHJAUS__MAIL__FROM", "not a mailbox")])).unwrap_err();
        assert!(err.to_string().contains("mail.from"), "{err}");
    }

    #[test]
    fn accepted_key_encryption_keys_are_checked_at_load() {
        let k2 = "k2:202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f";
        let key = "OHJAUS__SECURITY__ACCEPTED_KEY_ENCRYPTION_KEYS";
        let settings = Settings::load_with(None, env(&[(key, k2)])).unwrap();
        assert_eq!(settings.key_encryption_keys().unwrap().current_id(), "embedded-dev");
        for bad in ["k2:00", "nonsense", &format!("{k2},{k2}"), crate::crypto::EMBEDDED_DEV_KEY_ENCRYPTION_KEY] {
            let err = Settings::load_with(None, env(&[(key, bad)])).unwrap_err();
            assert!(err.to_string().contains("security.accepted_key_encryption_keys"), "{bad}: {err}");
            assert!(!err.to_string().contains("2021222324"), "a key is printed: {err}");
        }
    }

    #[test]
    fn the_key_store_defaults_to_the_data_folder_and_the_content_database() {
        let settings = Settings::load_with(None, env(&[("OHJAUS__DATA_DIR", "/srv/ohjaus")])).unwrap();
        assert_eq!(settings.keyring_directory(), std::path::Path::new("/srv/ohjaus/keyring"));
        assert!(settings.keyring_url().is_none());
        let content = ("OHJAUS__DATABASE__URL", "postgres://db/content");
        let settings = Settings::load_with(None, env(&[content])).unwrap();
        assert_eq!(settings.keyring_url().map(Secret::expose), Some("postgres://db/content"));
        let apart =
            [content, ("OHJAUS__KEYRING__URL", "postgres://keys/keyring"), ("OHJAUS__KEYRING__DIRECTORY", "/keys")];
        let settings = Settings::load_with(None, env(&apart)).unwrap();
        assert_eq!(settings.keyring_url().map(Secret::expose), Some("postgres://keys/keyring"));
        assert_eq!(settings.keyring_directory(), std::path::Path::new("/keys"));
    }

    #[test]
    fn secrets_are_not_printed() {
        let settings = Settings::load_with(None, env(&[])).unwrap();
        let printed = format!("{settings:?}");
        assert!(!printed.contains("not-for-production"), "{printed}");
    }
}
