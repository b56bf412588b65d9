//! Who may log in, how long a session lasts, and what an identity provider's answer means.
//! No I/O here.

use chrono::{DateTime, Duration, Utc};
use ohjaus_platform::{
    id_type,
    types::{IdentityCodeHash, PersonalIdentityCode},
};
use sha2::{Digest, Sha256};

id_type!(
    /// A browser session.
    SessionId
);
id_type!(
    /// A citizen's account.
    CustomerId
);

impl CustomerId {
    /// The id of the account of the person with this identity: fixed by it, so an invitation
    /// can be bound to a person before their account exists (the account is made only when they
    /// accept). Derived from the keyed hash, so it reveals nothing without the hashing key.
    pub fn of_identity(hash: &IdentityCodeHash) -> Self {
        let digest = Sha256::new().chain_update(b"ohjaus-customer-account:").chain_update(hash.as_str()).finalize();
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(&digest[..16]);
        Self(uuid::Builder::from_custom_bytes(bytes).into_uuid())
    }
}

/// What the person logging in wants to be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Intent {
    Customer,
    Expert,
    /// A customer accepting an invitation: the account is made if there is none.
    Invitation,
}

impl Intent {
    pub fn as_str(self) -> &'static str {
        match self {
            Intent::Customer => "customer",
            Intent::Expert => "expert",
            Intent::Invitation => "invitation",
        }
    }
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "customer" => Some(Intent::Customer),
            "expert" => Some(Intent::Expert),
            "invitation" => Some(Intent::Invitation),
            _ => None,
        }
    }
}

/// The attributes an identity provider vouched for, after its answer verified.
#[derive(Clone, Debug, Default)]
pub struct Attributes {
    /// Suomi.fi: the personal identity code (urn:oid:1.2.246.21).
    pub identity_code: Option<PersonalIdentityCode>,
    /// Virtu: virtuHomeOrganization (1.3.6.1.4.1.31350.1.5) and virtuLocalID (1.3.6.1.4.1.31350.1.8).
    pub virtu: Option<(String, String)>,
    pub display_name: Option<String>,
    pub email: Option<String>,
    /// Level of assurance the provider reported.
    pub acr: Option<String>,
}

/// Attribute names, as OpenID claims and as SAML attributes (by OID and by friendly name).
const IDENTITY_CODE: &[&str] = &["urn:oid:1.2.246.21", "nationalIdentificationNumber", "hetu", "personalIdentityCode"];
const VIRTU_HOME: &[&str] = &["urn:oid:1.3.6.1.4.1.31350.1.5", "virtuHomeOrganization"];
const VIRTU_LOCAL: &[&str] = &["urn:oid:1.3.6.1.4.1.31350.1.8", "virtuLocalID"];
const DISPLAY_NAME: &[&str] = &["name", "urn:oid:2.16.840.1.113730.3.1.241", "displayName", "urn:oid:2.5.4.3", "cn"];
const GIVEN_NAME: &[&str] = &["given_name", "urn:oid:2.5.4.42", "givenName", "urn:oid:1.2.246.575.1.14", "FirstName"];
const FAMILY_NAME: &[&str] = &["family_name", "urn:oid:2.5.4.4", "sn"];
const EMAIL: &[&str] = &["email", "mail", "urn:oid:0.9.2342.19200300.100.1.3"];

/// The personal identity code a provider sent does not validate.
#[derive(Debug)]
pub struct InvalidIdentityCode;

impl Attributes {
    /// Maps what a provider vouched for, by whichever name it used, to attributes. `value`
    /// looks a name up; an invalid identity code refuses the whole login.
    pub fn from_named_values(
        value: impl Fn(&str) -> Option<String>,
        acr: Option<String>,
    ) -> Result<Self, InvalidIdentityCode> {
        let first = |names: &[&str]| names.iter().find_map(|n| value(n)).filter(|v| !v.trim().is_empty());
        let identity_code = first(IDENTITY_CODE)
            .map(|code| PersonalIdentityCode::parse("urn:oid:1.2.246.21", &code).map_err(|_| InvalidIdentityCode))
            .transpose()?;
        let virtu = first(VIRTU_HOME).zip(first(VIRTU_LOCAL));
        let display_name = first(DISPLAY_NAME).or_else(|| match (first(GIVEN_NAME), first(FAMILY_NAME)) {
            (Some(given), Some(family)) => Some(format!("{given} {family}")),
            (given, family) => given.or(family),
        });
        Ok(Attributes { identity_code, virtu, display_name, email: first(EMAIL), acr })
    }
}

/// Why a login is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    InvalidResponse,
    NoWorkspace,
    UnknownExpert,
    Suspended,
    InsufficientAssurance,
    Expired,
    Cancelled,
    /// The same assertion was presented a second time.
    Replayed,
    /// The login was finished without the binding cookie of the browser that started it.
    OtherBrowser,
}

impl Refusal {
    pub fn as_str(self) -> &'static str {
        match self {
            Refusal::InvalidResponse => "invalid-response",
            Refusal::NoWorkspace => "no-workspace",
            Refusal::UnknownExpert => "unknown-expert",
            Refusal::Suspended => "suspended",
            Refusal::InsufficientAssurance => "insufficient-assurance",
            Refusal::Expired => "expired",
            Refusal::Cancelled => "cancelled",
            Refusal::Replayed => "replayed",
            Refusal::OtherBrowser => "other-browser",
        }
    }
}

/// The kind of principal a session stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SessionKind {
    Operator,
    Expert,
    Customer,
}

impl SessionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SessionKind::Operator => "operator",
            SessionKind::Expert => "expert",
            SessionKind::Customer => "customer",
        }
    }
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "operator" => Some(SessionKind::Operator),
            "expert" => Some(SessionKind::Expert),
            "customer" => Some(SessionKind::Customer),
            _ => None,
        }
    }
}

/// Session lifetimes (DESIGN.md: idle 30 min, absolute 12 h; configurable).
#[derive(Clone, Copy, Debug)]
pub struct SessionPolicy {
    pub idle: Duration,
    pub absolute: Duration,
}

impl SessionPolicy {
    /// Whether a session created and last used at these times is still alive at `now`.
    pub fn alive(
        &self,
        created_at: DateTime<Utc>,
        last_seen_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<(), &'static str> {
        if now >= created_at + self.absolute {
            Err("absolute-timeout")
        } else if now >= last_seen_at + self.idle {
            Err("idle-timeout")
        } else {
            Ok(())
        }
    }

    pub fn expires_at(&self, created_at: DateTime<Utc>, last_seen_at: DateTime<Utc>) -> DateTime<Utc> {
        (created_at + self.absolute).min(last_seen_at + self.idle)
    }
}

/// Whether the reported level of assurance is one of the accepted ones (an empty list accepts any).
pub fn assurance_accepted(accepted: &[String], reported: Option<&str>) -> bool {
    accepted.is_empty() || reported.is_some_and(|acr| accepted.iter().any(|a| a == acr))
}

/// Keeps `return_to` inside the application: a path, never another site.
pub fn safe_return_to(value: &str) -> String {
    let ok = value.starts_with('/')
        && !value.starts_with("//")
        && !value.contains('\\')
        && !value.chars().any(char::is_control)
        && value.len() <= 500;
    if ok { value.to_owned() } else { "/".to_owned() }
}

/// Parses the configured operator identities (`virtu:<home>/<local>`).
pub fn operator_identities(config: &str) -> Vec<(String, String)> {
    config
        .split(',')
        .map(str::trim)
        .filter_map(|e| e.strip_prefix("virtu:"))
        .filter_map(|r| r.split_once('/'))
        .map(|(h, l)| (h.to_owned(), l.to_owned()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idle_and_absolute_timeouts() {
        let policy = SessionPolicy { idle: Duration::minutes(30), absolute: Duration::hours(12) };
        let t0 = Utc::now();
        assert!(policy.alive(t0, t0, t0 + Duration::minutes(29)).is_ok());
        assert_eq!(policy.alive(t0, t0, t0 + Duration::minutes(30)), Err("idle-timeout"));
        let busy = t0 + Duration::hours(11) + Duration::minutes(59);
        assert!(policy.alive(t0, busy, busy + Duration::seconds(30)).is_ok());
        assert_eq!(policy.alive(t0, busy, t0 + Duration::hours(12)), Err("absolute-timeout"));
    }

    #[test]
    fn return_to_stays_inside() {
        assert_eq!(safe_return_to("/workspaces/1"), "/workspaces/1");
        assert_eq!(safe_return_to("https://evil.example"), "/");
        assert_eq!(safe_return_to("//evil.example"), "/");
        assert_eq!(safe_return_to("/\\evil"), "/");
    }

    #[test]
    fn assurance() {
        let accepted = vec!["http://ftn.ficora.fi/2017/loa3".to_owned(), "http://ftn.ficora.fi/2017/loa2".to_owned()];
        assert!(assurance_accepted(&accepted, Some("http://ftn.ficora.fi/2017/loa3")));
        assert!(!assurance_accepted(&accepted, Some("http://ftn.ficora.fi/2017/loa1")));
        assert!(!assurance_accepted(&accepted, None));
        assert!(assurance_accepted(&[], None));
    }

    #[test]
    fn operators_from_config() {
        assert_eq!(
            operator_identities("virtu:a.fi/x, virtu:b.fi/y"),
            vec![("a.fi".into(), "x".into()), ("b.fi".into(), "y".into())]
        );
    }
}
