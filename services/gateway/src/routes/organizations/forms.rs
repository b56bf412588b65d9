//! `/organizations/{id}/forms`: an organisation's contact forms (the forms service).

use axum::{
    extract::State,
    http::{HeaderMap, StatusCode},
    response::Response,
};
use chrono::{DateTime, Utc};
use ohjaus_platform::proto::forms::v1 as pb;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use uuid::Uuid;

use crate::{
    docs::{CreateProblems, routes},
    extract::{ApiJson, ApiPath, Caller, idempotency_key},
    ids::service_id,
    problem::ApiError,
    state::AppState,
    views::{timestamp, versioned},
};

const TAG: &str = "forms";

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(create_form))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FormInput {
    /// The form's name as the organisation's experts see it (1–200 characters).
    pub name: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Form {
    pub id: Uuid,
    pub organization_id: Uuid,
    pub name: String,
    /// Whether visitors can use the form; a new form is unpublished.
    pub published: bool,
    pub version: i64,
    pub created_at: DateTime<Utc>,
}

fn form(f: pb::Form) -> Result<Form, ApiError> {
    Ok(Form {
        id: service_id(&f.id)?,
        organization_id: service_id(&f.organization_id)?,
        name: f.name,
        published: f.published,
        version: f.version,
        created_at: timestamp(f.created_at),
    })
}

/// Create an unpublished contact form (main user of the organisation).
#[utoipa::path(post, path = "/organizations/{id}/forms", tag = TAG, params(("id" = Uuid, Path), ("Idempotency-Key" = Option<String>, Header)),
    request_body = FormInput,
    responses((status = 201, body = Form, headers(("ETag" = String))),
        CreateProblems),
    security(("session" = [], "csrf" = [])))]
async fn create_form(
    state: State<AppState>,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<Uuid>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<FormInput>,
) -> Result<Response, ApiError> {
    let request = pb::CreateFormRequest {
        organization_id: id.to_string(),
        name: body.name,
        request_id: idempotency_key(&headers)?,
    };
    let created = state.forms().create_form(state.as_caller(&caller, request)).await?.into_inner();
    let version = created.version;
    Ok(versioned(StatusCode::CREATED, form(created)?, version, None))
}
