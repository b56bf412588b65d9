//! What the views of every resource share: localized texts, pages of a list, timestamps, and
//! answers carrying a resource's version.

use axum::{
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use ohjaus_platform::proto::tenants::v1 as pb;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::{extract::etag, problem::ApiError};

/// A text in Finnish, Swedish and English. Finnish is required; the others fall back to it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct LocalizedText {
    pub fi: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sv: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub en: Option<String>,
}

impl From<LocalizedText> for pb::LocalizedText {
    fn from(t: LocalizedText) -> Self {
        pb::LocalizedText { fi: t.fi, sv: t.sv.unwrap_or_default(), en: t.en.unwrap_or_default() }
    }
}

impl From<pb::LocalizedText> for LocalizedText {
    fn from(t: pb::LocalizedText) -> Self {
        let some = |s: String| if s.is_empty() { None } else { Some(s) };
        LocalizedText { fi: t.fi, sv: some(t.sv), en: some(t.en) }
    }
}

/// One page of a list.
#[derive(Debug, Serialize, ToSchema)]
pub struct Page<T: ToSchema> {
    pub items: Vec<T>,
    /// Pass as `page_token` to get the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_page_token: Option<String>,
}

impl<T: ToSchema> Page<T> {
    pub fn new(items: Vec<T>, token: String) -> Self {
        Self { items, next_page_token: if token.is_empty() { None } else { Some(token) } }
    }
}

pub(crate) fn timestamp(ts: Option<ohjaus_platform::proto::prost_types::Timestamp>) -> chrono::DateTime<chrono::Utc> {
    ts.as_ref().and_then(ohjaus_platform::grpc::from_timestamp).unwrap_or_default()
}

/// A JSON answer with the resource's version as its `ETag` (and `Location` when created).
pub(crate) fn versioned<T: Serialize>(status: StatusCode, body: T, version: i64, location: Option<String>) -> Response {
    let mut response = (status, axum::Json(body)).into_response();
    if let Ok(value) = HeaderValue::from_str(&etag(version)) {
        response.headers_mut().insert(header::ETAG, value);
    }
    if let Some(location) = location.and_then(|l| HeaderValue::from_str(&l).ok()) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    response
}

/// Every item a service answered with, as the gateway shows it; one that cannot be shown (a
/// malformed id) fails them all.
pub fn view_all<P, V>(items: Vec<P>, view: impl Fn(P) -> Result<V, ApiError>) -> Result<Vec<V>, ApiError> {
    items.into_iter().map(view).collect()
}
