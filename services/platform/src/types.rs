//! Value types shared by services. Each is built only through its parser, so a value that
//! exists is valid: an identity code with a correct check character, a business ID with a
//! correct check digit, an email address that parses.

use std::fmt;

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::{config::Secret, error::FieldViolation};

/// Trimmed text of at most `max` characters with something visible in it: a text of spaces,
/// zero-width characters and direction marks alone would show as nothing, or as what it is
/// not, beside a person's name.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Text(String);

impl Text {
    pub fn parse(field: &str, value: &str, max: usize) -> Result<Self, FieldViolation> {
        let trimmed = value.trim();
        if trimmed.is_empty() {
            return Err(FieldViolation::new(field, "field-required"));
        }
        if trimmed.chars().count() > max {
            return Err(FieldViolation::new(field, "field-too-long"));
        }
        if trimmed.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
            return Err(FieldViolation::new(field, "field-required"));
        }
        if !has_visible(trimmed) {
            return Err(FieldViolation::new(field, "field-no-visible-text"));
        }
        Ok(Self(trimmed.to_owned()))
    }

    /// A text the service itself parsed when it was written, read back as it was: a rule added
    /// since must not make stored data unreadable.
    pub fn from_stored(value: String) -> Self {
        Self(value)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
    pub fn into_string(self) -> String {
        self.0
    }
}

/// The bidirectional controls (embeddings, overrides, isolates and marks): in a name they can
/// reverse how the rest reads, so `\u{202e}gpj.txt` shows as "txt.jpg".
pub fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}' | '\u{061c}')
}

/// Characters that show nothing by themselves: white space, and the format characters
/// (Unicode category `Cf`: zero-width spaces and joiners, the word joiner, the byte order mark,
/// bidirectional controls, soft hyphens, tags) together with the other default-ignorable code
/// points (variation selectors, fillers) as Unicode 15 lists them.
pub fn is_invisible(c: char) -> bool {
    c.is_whitespace()
        || is_bidi_control(c)
        || matches!(
            c,
            '\u{00ad}'
                | '\u{034f}'
                | '\u{0600}'..='\u{0605}'
                | '\u{06dd}'
                | '\u{070f}'
                | '\u{0890}'..='\u{0891}'
                | '\u{08e2}'
                | '\u{115f}'..='\u{1160}'
                | '\u{17b4}'..='\u{17b5}'
                | '\u{180b}'..='\u{180f}'
                | '\u{200b}'..='\u{200d}'
                | '\u{2060}'..='\u{2065}'
                | '\u{206a}'..='\u{206f}'
                | '\u{2800}'
                | '\u{3164}'
                | '\u{fe00}'..='\u{fe0f}'
                | '\u{feff}'
                | '\u{ffa0}'
                | '\u{fff0}'..='\u{fffb}'
                | '\u{110bd}'
                | '\u{110cd}'
                | '\u{13430}'..='\u{1343f}'
                | '\u{1bca0}'..='\u{1bca3}'
                | '\u{1d173}'..='\u{1d17a}'
                | '\u{e0000}'..='\u{e0fff}'
        )
}

/// Whether `value` shows anything once its invisible characters are gone.
pub fn has_visible(value: &str) -> bool {
    value.chars().any(|c| !is_invisible(c))
}

impl fmt::Display for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The guidance topics a workspace or a contact form can be about (DESIGN's list).
pub const TOPICS: [&str; 13] = [
    "general-situation",
    "health",
    "everyday-life",
    "social-relationships",
    "mental-wellbeing",
    "self-esteem",
    "skills",
    "studies",
    "work-and-careers",
    "finances",
    "hobbies",
    "housing",
    "addictions",
];

/// A known topic code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Topic(&'static str);

impl Topic {
    pub fn parse(field: &str, value: &str) -> Result<Self, FieldViolation> {
        TOPICS
            .iter()
            .find(|t| **t == value.trim())
            .map(|t| Topic(t))
            .ok_or_else(|| FieldViolation::new(field, "invalid-topic"))
    }

    pub fn as_str(&self) -> &'static str {
        self.0
    }
}

/// An email address (RFC 5322 address part), stored as given but trimmed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Email(String);

impl Email {
    pub fn parse(field: &str, value: &str) -> Result<Self, FieldViolation> {
        let trimmed = value.trim();
        if trimmed.is_empty() {
            return Err(FieldViolation::new(field, "field-required"));
        }
        if trimmed.len() > 254 || !email_address::EmailAddress::is_valid(trimmed) || !trimmed.contains('.') {
            return Err(FieldViolation::new(field, "invalid-email"));
        }
        Ok(Self(trimmed.to_owned()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An absolute `https` address.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct HttpsUrl(String);

impl HttpsUrl {
    pub fn parse(field: &str, value: &str) -> Result<Self, FieldViolation> {
        let trimmed = value.trim();
        if trimmed.is_empty() {
            return Err(FieldViolation::new(field, "field-required"));
        }
        match url::Url::parse(trimmed) {
            Ok(url) if url.scheme() == "https" && url.host().is_some() && trimmed.len() <= 2000 => {
                Ok(Self(url.to_string()))
            }
            _ => Err(FieldViolation::new(field, "invalid-url")),
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A phone number: digits with an optional leading `+`, spaces and dashes allowed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Phone(String);

impl Phone {
    pub fn parse(field: &str, value: &str) -> Result<Self, FieldViolation> {
        let trimmed = value.trim();
        if trimmed.is_empty() {
            return Err(FieldViolation::new(field, "field-required"));
        }
        let body = trimmed.strip_prefix('+').unwrap_or(trimmed);
        let digits = body.chars().filter(char::is_ascii_digit).count();
        let valid = body.chars().all(|c| c.is_ascii_digit() || c == ' ' || c == '-') && (5..=15).contains(&digits);
        if valid { Ok(Self(trimmed.to_owned())) } else { Err(FieldViolation::new(field, "invalid-phone")) }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A Finnish business ID (Y-tunnus), `NNNNNNN-T` with its check digit verified.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct BusinessId(String);

impl BusinessId {
    const WEIGHTS: [u32; 7] = [7, 9, 10, 5, 8, 4, 2];

    pub fn parse(field: &str, value: &str) -> Result<Self, FieldViolation> {
        let trimmed = value.trim();
        if trimmed.is_empty() {
            return Err(FieldViolation::new(field, "field-required"));
        }
        Self::check(trimmed)
            .then(|| Self(trimmed.to_owned()))
            .ok_or_else(|| FieldViolation::new(field, "invalid-business-id"))
    }

    fn check(value: &str) -> bool {
        let bytes = value.as_bytes();
        if bytes.len() != 9 || bytes[7] != b'-' || !value.chars().enumerate().all(|(i, c)| i == 7 || c.is_ascii_digit())
        {
            return false;
        }
        let sum: u32 = bytes[..7].iter().zip(Self::WEIGHTS).map(|(b, w)| u32::from(b - b'0') * w).sum();
        let expected = match sum % 11 {
            0 => 0,
            1 => return false,
            r => 11 - r,
        };
        u32::from(bytes[8] - b'0') == expected
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A Finnish personal identity code (henkilötunnus), checked for a real date, a century sign
/// (including those in use since 2023) and its check character. It is never stored or logged:
/// only its [`IdentityCodeHash`] is kept. `Debug` hides it.
#[derive(Clone, PartialEq, Eq)]
pub struct PersonalIdentityCode(String);

impl fmt::Debug for PersonalIdentityCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PersonalIdentityCode(***)")
    }
}

impl PersonalIdentityCode {
    const CHECK_CHARS: &'static [u8; 31] = b"0123456789ABCDEFHJKLMNPRSTUVWXY";

    pub fn parse(field: &str, value: &str) -> Result<Self, FieldViolation> {
        let code = value.trim().to_ascii_uppercase();
        if code.is_empty() {
            return Err(FieldViolation::new(field, "field-required"));
        }
        Self::check(&code).then_some(Self(code)).ok_or_else(|| FieldViolation::new(field, "invalid-identity-code"))
    }

    fn check(code: &str) -> bool {
        let bytes = code.as_bytes();
        if bytes.len() != 11 {
            return false;
        }
        let digits = |range: std::ops::Range<usize>| -> Option<u32> {
            let part = code.get(range)?;
            part.chars().all(|c| c.is_ascii_digit()).then(|| part.parse().ok())?
        };
        let (Some(day), Some(month), Some(year), Some(individual)) =
            (digits(0..2), digits(2..4), digits(4..6), digits(7..10))
        else {
            return false;
        };
        let century = match bytes[6] {
            b'+' => 1800,
            b'-' | b'Y' | b'X' | b'W' | b'V' | b'U' => 1900,
            b'A' | b'B' | b'C' | b'D' | b'E' | b'F' => 2000,
            _ => return false,
        };
        let Ok(full_year) = i32::try_from(century + year) else { return false };
        if chrono::NaiveDate::from_ymd_opt(full_year, month, day).is_none() || individual < 2 {
            return false;
        }
        let number =
            u64::from(day) * 10_000_000 + u64::from(month) * 100_000 + u64::from(year) * 1000 + u64::from(individual);
        let Ok(index) = usize::try_from(number % 31) else { return false };
        Self::CHECK_CHARS[index] == bytes[10]
    }

    /// The code itself, for hashing and for comparison with an identity provider's attribute.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// Keyed hash of a personal identity code: the only form in which it is stored or compared.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct IdentityCodeHash(String);

impl IdentityCodeHash {
    pub fn from_stored(value: String) -> Self {
        Self(value)
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Computes [`IdentityCodeHash`]es with the platform's secret key (HMAC-SHA-256).
#[derive(Clone)]
pub struct IdentityCodeHasher {
    key: Secret,
}

impl fmt::Debug for IdentityCodeHasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("IdentityCodeHasher")
    }
}

impl IdentityCodeHasher {
    pub fn new(key: Secret) -> Self {
        Self { key }
    }

    pub fn hash(&self, code: &PersonalIdentityCode) -> IdentityCodeHash {
        // HMAC accepts keys of any length; this cannot fail.
        let mut mac = match Hmac::<Sha256>::new_from_slice(self.key.expose().as_bytes()) {
            Ok(mac) => mac,
            Err(_) => unreachable!("HMAC takes keys of any length"),
        };
        mac.update(code.expose().as_bytes());
        IdentityCodeHash(hex::encode(mac.finalize().into_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn business_ids() {
        assert!(BusinessId::parse("b", "0201256-6").is_ok());
        assert!(BusinessId::parse("b", "1572860-0").is_ok());
        assert!(BusinessId::parse("b", "0201256-7").is_err());
        assert!(BusinessId::parse("b", "201256-6").is_err());
        assert!(BusinessId::parse("b", "02012566").is_err());
        assert_eq!(BusinessId::parse("b", "").unwrap_err().reason, "field-required");
    }

    #[test]
    fn identity_codes_of_every_century_sign() {
        // Suomi.fi's public test identities.
        for code in ["010280-952L", "010675-9981", "040265-9985", "260991-999R"] {
            assert!(PersonalIdentityCode::parse("c", code).is_ok(), "{code}");
        }
        // The 2023 signs are the same century as '-' and 'A'.
        assert!(PersonalIdentityCode::parse("c", "010280Y952L").is_ok());
        assert!(PersonalIdentityCode::parse("c", "010280U952L").is_ok());
        assert!(PersonalIdentityCode::parse("c", "010280-952M").is_err(), "wrong check char");
        assert!(PersonalIdentityCode::parse("c", "310280-952L").is_err(), "no 31 February");
        assert!(PersonalIdentityCode::parse("c", "010280G952L").is_err(), "unknown sign");
        assert!(PersonalIdentityCode::parse("c", "010280-001L").is_err(), "individual number below 002");
    }

    #[test]
    fn identity_code_for_2000s_with_new_signs() {
        // 13 March 2010, individual number 123: 130310123 mod 31 gives the check char.
        let number: u64 = 130_310_123;
        let check = PersonalIdentityCode::CHECK_CHARS[usize::try_from(number % 31).unwrap()] as char;
        for sign in ['A', 'B', 'C', 'D', 'E', 'F'] {
            let code = format!("130310{sign}123{check}");
            assert!(PersonalIdentityCode::parse("c", &code).is_ok(), "{code}");
        }
    }

    #[test]
    fn identity_code_is_not_printed_and_hash_is_keyed() {
        let code = PersonalIdentityCode::parse("c", "010280-952l").unwrap();
        assert!(!format!("{code:?}").contains("952"));
        let a = IdentityCodeHasher::new(Secret::new("k".repeat(32))).hash(&code);
        let b = IdentityCodeHasher::new(Secret::new("j".repeat(32))).hash(&code);
        assert_ne!(a, b);
        assert!(!a.as_str().contains("010280"));
    }

    #[test]
    fn texts_need_something_visible() {
        for invisible in [
            "\u{202e}\u{200b}",
            "\u{200b}\u{200c}\u{200d}",
            " \u{2060}\u{feff} ",
            "\u{2066}\u{2069}\u{200e}\u{200f}\u{061c}",
            "\u{ad}\u{180e}\u{3164}\u{fe0f}\u{e0041}",
        ] {
            let refused = Text::parse("body", invisible, 100).unwrap_err();
            assert_eq!((refused.field.as_str(), refused.reason.as_str()), ("body", "field-no-visible-text"));
        }
        assert_eq!(Text::parse("body", " \n ", 100).unwrap_err().reason, "field-required");
        // Invisible characters beside visible ones are kept as written: joined emoji, say.
        for visible in ["Perhe 👩\u{200d}👧", "\u{202b}שלום\u{202c}", "a\u{200b}", "x"] {
            assert_eq!(Text::parse("body", visible, 100).unwrap().as_str(), visible);
        }
        assert_eq!(Text::from_stored("\u{200b}".into()).as_str(), "\u{200b}");
    }

    #[test]
    fn bidirectional_controls_are_known() {
        for c in [
            '\u{202a}', '\u{202b}', '\u{202c}', '\u{202d}', '\u{202e}', '\u{2066}', '\u{2069}', '\u{200e}', '\u{200f}',
            '\u{061c}',
        ] {
            assert!(is_bidi_control(c), "{c:?}");
            assert!(is_invisible(c), "{c:?}");
        }
        for c in ['a', 'ä', '.', '\u{200b}', '\u{05d0}'] {
            assert!(!is_bidi_control(c), "{c:?}");
        }
    }

    #[test]
    fn emails_urls_phones() {
        assert!(Email::parse("e", "tessa.testila@example.fi").is_ok());
        assert!(Email::parse("e", "not an email").is_err());
        assert!(HttpsUrl::parse("u", "https://example.fi/privacy").is_ok());
        assert!(HttpsUrl::parse("u", "http://example.fi").is_err());
        assert!(HttpsUrl::parse("u", "javascript:alert(1)").is_err());
        assert!(Phone::parse("p", "+358 40 123 4567").is_ok());
        assert!(Phone::parse("p", "call me").is_err());
    }
}
