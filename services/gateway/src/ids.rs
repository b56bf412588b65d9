//! Reading ids, with the answer each source deserves. An id in a request's body or query is the
//! caller's to fix: a malformed one is 422 naming the field. An id in a service's answer is the
//! service's promise: a malformed one is an internal error, never a made-up id. (An id in a URL
//! path is read by [`ApiPath`](crate::extract::ApiPath): a malformed one names nothing, 404.)

use ohjaus_platform::{
    error::{ErrorCode, Failure},
    ids::parse_uuid,
};
use uuid::Uuid;

use crate::problem::ApiError;

/// An id the caller sent in the body or query field `field`.
pub fn field_id(field: &str, value: &str) -> Result<Uuid, ApiError> {
    parse_uuid(field, value).map_err(|violation| ApiError(Failure::invalid(vec![violation])))
}

/// An optional id the caller sent in `field`: absent is none, present must be an id.
pub fn optional_field_id(field: &str, value: Option<&str>) -> Result<Option<Uuid>, ApiError> {
    value.map(|value| field_id(field, value)).transpose()
}

/// Every id the caller sent in the list field `field`; a malformed one is named by its place.
pub fn field_ids(field: &str, values: &[String]) -> Result<Vec<Uuid>, ApiError> {
    values.iter().enumerate().map(|(i, value)| field_id(&format!("{field}[{i}]"), value)).collect()
}

/// An id a service answered with.
pub fn service_id(value: &str) -> Result<Uuid, ApiError> {
    parse_uuid("", value).map_err(|_| {
        tracing::error!("a service answered with a malformed id");
        ApiError::code(ErrorCode::Internal)
    })
}

/// An id a service may leave empty (none).
pub fn optional_service_id(value: &str) -> Result<Option<Uuid>, ApiError> {
    if value.is_empty() { Ok(None) } else { service_id(value).map(Some) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reasons(error: ApiError) -> (ErrorCode, Vec<(String, String)>) {
        (error.0.code, error.0.violations.into_iter().map(|v| (v.field, v.reason)).collect())
    }

    #[test]
    fn a_malformed_field_id_is_422_naming_the_field() {
        let id = Uuid::now_v7();
        assert_eq!(field_id("thread_id", &id.to_string()).ok(), Some(id));
        let refused = field_id("thread_id", "not-a-uuid").err().map(reasons);
        assert_eq!(refused, Some((ErrorCode::InvalidArgument, vec![("thread_id".into(), "invalid-id".into())])));
        assert_eq!(ErrorCode::InvalidArgument.http_status(), 422);
        let blank = field_id("new_owner_id", " ").err().map(reasons);
        assert_eq!(blank, Some((ErrorCode::InvalidArgument, vec![("new_owner_id".into(), "field-required".into())])));
    }

    #[test]
    fn optional_and_listed_field_ids() {
        let id = Uuid::now_v7();
        assert_eq!(optional_field_id("thread_id", None).ok(), Some(None));
        assert_eq!(optional_field_id("thread_id", Some(&id.to_string())).ok(), Some(Some(id)));
        assert!(optional_field_id("thread_id", Some("x")).is_err());
        let listed = vec![id.to_string(), "nope".to_owned()];
        let refused = field_ids("attachment_ids", &listed).err().map(reasons);
        assert_eq!(
            refused,
            Some((ErrorCode::InvalidArgument, vec![("attachment_ids[1]".into(), "invalid-id".into())]))
        );
        assert_eq!(field_ids("attachment_ids", &listed[..1]).ok(), Some(vec![id]));
    }

    #[test]
    fn a_malformed_service_id_is_an_internal_error_not_the_nil_id() {
        let id = Uuid::now_v7();
        assert_eq!(service_id(&id.to_string()).ok(), Some(id));
        assert_eq!(service_id("garbage").err().map(reasons), Some((ErrorCode::Internal, vec![])));
        assert_eq!(service_id("").err().map(reasons), Some((ErrorCode::Internal, vec![])));
        assert_eq!(optional_service_id("").ok(), Some(None));
        assert_eq!(optional_service_id(&id.to_string()).ok(), Some(Some(id)));
        assert!(optional_service_id("garbage").is_err());
    }
}
