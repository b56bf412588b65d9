//! `/organizations/{id}/submissions`: the advisors' queue of an organisation's contact-form
//! submissions, filtered and paginated (no content in the list).

use axum::extract::State;
use ohjaus_platform::proto::forms::v1 as pb;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use uuid::Uuid;

use crate::{
    docs::{ListProblems, routes},
    extract::{ApiPath, ApiQuery, Caller},
    problem::ApiError,
    routes::submissions::{Submission, TAG, submission},
    state::AppState,
    views::{Page, view_all},
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_submissions))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct QueueParams {
    /// `new`, `in_progress`, `answered`, `closed` or `converted`.
    pub status: Option<String>,
    /// A guidance topic code.
    pub topic: Option<String>,
    pub office_id: Option<String>,
    pub form_id: Option<String>,
    /// Items per page, 1–100 (default 50).
    #[param(minimum = 1, maximum = 100)]
    pub page_size: Option<i32>,
    /// `next_page_token` of the previous page.
    pub page_token: Option<String>,
}

/// List the organisation's submissions, oldest first (its advisors, guides and supervisors).
#[utoipa::path(get, path = "/organizations/{id}/submissions", tag = TAG, params(("id" = Uuid, Path), QueueParams),
    responses((status = 200, body = Page<Submission>),
        ListProblems),
    security(("session" = [])))]
async fn list_submissions(
    state: State<AppState>,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<Uuid>,
    ApiQuery(query): ApiQuery<QueueParams>,
) -> Result<axum::Json<Page<Submission>>, ApiError> {
    let request = pb::ListSubmissionsRequest {
        organization_id: id.to_string(),
        status: query.status.unwrap_or_default(),
        topic: query.topic.unwrap_or_default(),
        office_id: query.office_id.unwrap_or_default(),
        form_id: query.form_id.unwrap_or_default(),
        page_size: query.page_size.unwrap_or(0),
        page_token: query.page_token.unwrap_or_default(),
    };
    let response = state.forms().list_submissions(state.as_caller(&caller, request)).await?.into_inner();
    Ok(axum::Json(Page::new(view_all(response.submissions, submission)?, response.next_page_token)))
}
