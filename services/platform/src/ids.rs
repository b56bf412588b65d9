//! Identifiers (UUIDv7, time-ordered) and cursor pagination over them.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use uuid::Uuid;

use crate::error::FieldViolation;

/// A new time-ordered identifier.
pub fn new_id() -> Uuid {
    Uuid::now_v7()
}

/// Declares a typed identifier: `id_type!(OrganizationId);`.
#[macro_export]
macro_rules! id_type {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub uuid::Uuid);

        impl $name {
            pub fn new() -> Self {
                Self($crate::ids::new_id())
            }
            /// Parses a request field; the violation names the field.
            pub fn parse(field: &str, value: &str) -> Result<Self, $crate::error::FieldViolation> {
                $crate::ids::parse_uuid(field, value).map(Self)
            }
            /// Parses a reference to an existing object (a path segment, an id the caller was
            /// given): a malformed one names nothing the caller may see, so it is not found.
            pub fn parse_ref(value: &str) -> Result<Self, $crate::error::ErrorCode> {
                $crate::ids::parse_canonical(value).map(Self).ok_or($crate::error::ErrorCode::NotFound)
            }
            pub fn as_uuid(&self) -> uuid::Uuid {
                self.0
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl From<$name> for uuid::Uuid {
            fn from(id: $name) -> Self {
                id.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

/// An id the caller sent in the request field `field`: blank is a missing field, anything but
/// the canonical form ([`parse_canonical`]) an invalid id.
pub fn parse_uuid(field: &str, value: &str) -> Result<Uuid, FieldViolation> {
    if value.trim().is_empty() {
        return Err(FieldViolation::new(field, "field-required"));
    }
    parse_canonical(value).ok_or_else(|| FieldViolation::new(field, "invalid-id"))
}

/// An id in its one canonical spelling, the hyphenated 8-4-4-4-12 hex digits (either case) that
/// ids are shown in. The other spellings the `uuid` crate reads (32 bare digits, braces,
/// `urn:uuid:`) are not ids here: one id has one spelling, in paths, queries and bodies alike.
pub fn parse_canonical(value: &str) -> Option<Uuid> {
    // Of the spellings `try_parse` accepts, only the hyphenated one is 36 characters long.
    if value.len() != 36 {
        return None;
    }
    Uuid::try_parse(value).ok()
}

/// One page of a keyset-paginated list: rows after `after`, ordered by id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PageRequest {
    pub size: u32,
    pub after: Option<Uuid>,
}

impl PageRequest {
    pub const DEFAULT_SIZE: u32 = 50;
    pub const MAX_SIZE: u32 = 100;

    /// Parses `page_size` (0 means the default) and the opaque `page_token`.
    pub fn parse(page_size: i32, page_token: &str) -> Result<Self, FieldViolation> {
        let size = match page_size {
            0 => Self::DEFAULT_SIZE,
            n if n < 0 || n > i32::try_from(Self::MAX_SIZE).unwrap_or(i32::MAX) => {
                return Err(FieldViolation::new("page_size", "invalid-page-size"));
            }
            n => u32::try_from(n).unwrap_or(Self::DEFAULT_SIZE),
        };
        let after = if page_token.is_empty() { None } else { Some(decode_token(page_token)?) };
        Ok(Self { size, after })
    }

    /// How many rows to fetch: one more than the page, to know whether another page follows.
    pub fn fetch_limit(&self) -> i64 {
        i64::from(self.size) + 1
    }

    /// Trims the extra row and gives the token of the next page, if any.
    pub fn finish<T>(&self, mut rows: Vec<T>, id_of: impl Fn(&T) -> Uuid) -> (Vec<T>, String) {
        let size = usize::try_from(self.size).unwrap_or(usize::MAX);
        if rows.len() > size {
            rows.truncate(size);
            let token = rows.last().map(|row| encode_token(id_of(row))).unwrap_or_default();
            (rows, token)
        } else {
            (rows, String::new())
        }
    }
}

const TOKEN_VERSION: u8 = 1;

fn encode_token(id: Uuid) -> String {
    let mut bytes = vec![TOKEN_VERSION];
    bytes.extend_from_slice(id.as_bytes());
    URL_SAFE_NO_PAD.encode(bytes)
}

fn decode_token(token: &str) -> Result<Uuid, FieldViolation> {
    let invalid = || FieldViolation::new("page_token", "invalid-page-token");
    let bytes = URL_SAFE_NO_PAD.decode(token).map_err(|_| invalid())?;
    match bytes.split_first() {
        Some((&TOKEN_VERSION, rest)) => Uuid::from_slice(rest).map_err(|_| invalid()),
        _ => Err(invalid()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_tokens_round_trip_and_reject_garbage() {
        let id = new_id();
        let page = PageRequest::parse(10, &encode_token(id)).unwrap();
        assert_eq!(page.after, Some(id));
        assert!(PageRequest::parse(10, "garbage!").is_err());
        assert!(PageRequest::parse(101, "").is_err());
        assert!(PageRequest::parse(-1, "").is_err());
        assert_eq!(PageRequest::parse(0, "").unwrap().size, PageRequest::DEFAULT_SIZE);
    }

    #[test]
    fn only_the_canonical_spelling_is_an_id() {
        let id = new_id();
        let canonical = id.hyphenated().to_string();
        assert_eq!(parse_canonical(&canonical), Some(id));
        assert_eq!(parse_canonical(&canonical.to_uppercase()), Some(id));
        for alias in [
            id.simple().to_string(),
            id.braced().to_string(),
            id.urn().to_string(),
            format!(" {canonical}"),
            format!("{canonical} "),
        ] {
            assert_eq!(parse_canonical(&alias), None, "{alias}");
            assert_eq!(parse_uuid("id", &alias), Err(FieldViolation::new("id", "invalid-id")), "{alias}");
        }
        assert_eq!(parse_uuid("id", " "), Err(FieldViolation::new("id", "field-required")));
        assert_eq!(parse_uuid("id", &canonical), Ok(id));
    }

    #[test]
    fn finish_gives_a_token_only_when_more_rows_exist() {
        let page = PageRequest::parse(2, "").unwrap();
        let ids: Vec<Uuid> = (0..3).map(|_| new_id()).collect();
        let (rows, token) = page.finish(ids.clone(), |id| *id);
        assert_eq!(rows.len(), 2);
        assert_eq!(PageRequest::parse(2, &token).unwrap().after, Some(ids[1]));
        let (rows, token) = page.finish(ids[..2].to_vec(), |id| *id);
        assert_eq!(rows.len(), 2);
        assert!(token.is_empty());
    }
}
