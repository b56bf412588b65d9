//! `/submissions/{id}`: what a visitor sent through a contact form, in the advisors' queue (the
//! forms service): read it (each read logged), claim, close, change its topic, add an internal
//! note, reply by email. The organisation's list is `/organizations/{id}/submissions`.

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
    docs::{ActionProblems, BasicProblems, CreateProblems, UpdateProblems, routes},
    extract::{ApiJson, ApiPath, Caller, if_match},
    ids::service_id,
    problem::ApiError,
    state::AppState,
    views::{timestamp, versioned},
};

pub(crate) const TAG: &str = "forms";

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_submission))
        .routes(routes!(claim_submission))
        .routes(routes!(close_submission))
        .routes(routes!(set_submission_topic))
        .routes(routes!(add_submission_note))
        .routes(routes!(reply_to_submission))
        .routes(routes!(convert_submission))
}

/// One answer, labelled as the form's version had it in the visitor's language.
#[derive(Debug, Serialize, ToSchema)]
pub struct Answer {
    pub key: String,
    pub label: String,
    pub value: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Note {
    pub id: Uuid,
    pub author_id: Uuid,
    pub text: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SubmissionReply {
    pub id: Uuid,
    pub sender_id: Uuid,
    pub text: String,
    pub sent_at: DateTime<Utc>,
}

/// A submission; lists carry no `answers`, `notes` or `replies`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Submission {
    pub id: Uuid,
    pub organization_id: Uuid,
    pub form_id: Uuid,
    /// The version of the form it answered.
    pub form_version: i64,
    pub office_id: Uuid,
    pub topic: String,
    /// `new`, `in_progress`, `answered`, `closed` or `converted`.
    pub status: String,
    /// The visitor's language: replies go in it.
    pub language: String,
    /// Whether the visitor left an address for a reply.
    pub has_email: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub assignee_id: Option<Uuid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workspace_id: Option<Uuid>,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub answers: Vec<Answer>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<Note>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub replies: Vec<SubmissionReply>,
}

fn optional_id(value: &str) -> Result<Option<Uuid>, ApiError> {
    if value.is_empty() { Ok(None) } else { service_id(value).map(Some) }
}

pub(crate) fn submission(s: pb::Submission) -> Result<Submission, ApiError> {
    Ok(Submission {
        id: service_id(&s.id)?,
        organization_id: service_id(&s.organization_id)?,
        form_id: service_id(&s.form_id)?,
        form_version: s.form_version,
        office_id: service_id(&s.office_id)?,
        topic: s.topic,
        status: s.status,
        language: s.language,
        has_email: s.has_email,
        assignee_id: optional_id(&s.assignee_id)?,
        workspace_id: optional_id(&s.workspace_id)?,
        version: s.version,
        created_at: timestamp(s.created_at),
        updated_at: timestamp(s.updated_at),
        answers: s.answers.into_iter().map(|a| Answer { key: a.key, label: a.label, value: a.value }).collect(),
        notes: s
            .notes
            .into_iter()
            .map(|n| {
                Ok(Note {
                    id: service_id(&n.id)?,
                    author_id: service_id(&n.author_id)?,
                    text: n.text,
                    created_at: timestamp(n.created_at),
                })
            })
            .collect::<Result<_, ApiError>>()?,
        replies: s
            .replies
            .into_iter()
            .map(|r| {
                Ok(SubmissionReply {
                    id: service_id(&r.id)?,
                    sender_id: service_id(&r.sender_id)?,
                    text: r.text,
                    sent_at: timestamp(r.sent_at),
                })
            })
            .collect::<Result<_, ApiError>>()?,
    })
}

fn answered(status: StatusCode, s: pb::Submission) -> Result<Response, ApiError> {
    let version = s.version;
    Ok(versioned(status, submission(s)?, version, None))
}

/// Read a submission with its answers, notes and replies (the receiving organisation's
/// advisors, guides and supervisors). Every read is logged.
#[utoipa::path(get, path = "/submissions/{id}", tag = TAG, params(("id" = Uuid, Path)),
    responses((status = 200, body = Submission, headers(("ETag" = String))),
        BasicProblems),
    security(("session" = [])))]
async fn get_submission(
    state: State<AppState>,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Response, ApiError> {
    let request = pb::GetSubmissionRequest { submission_id: id.to_string() };
    answered(StatusCode::OK, state.forms().get_submission(state.as_caller(&caller, request)).await?.into_inner())
}

async fn act(
    state: &AppState,
    caller: &ohjaus_platform::auth::Principal,
    id: Uuid,
    headers: &HeaderMap,
    close: bool,
) -> Result<Response, ApiError> {
    let request = pb::SubmissionActionRequest { submission_id: id.to_string(), expected_version: if_match(headers)? };
    let request = state.as_caller(caller, request);
    let changed = if close {
        state.forms().close_submission(request).await?
    } else {
        state.forms().claim_submission(request).await?
    };
    answered(StatusCode::OK, changed.into_inner())
}

/// Take a submission: assigned to me, in progress (advisors and guides). Needs `If-Match`.
#[utoipa::path(post, path = "/submissions/{id}/claim", tag = TAG, params(("id" = Uuid, Path), ("If-Match" = String, Header)),
    responses((status = 200, body = Submission, headers(("ETag" = String))),
        ActionProblems),
    security(("session" = [], "csrf" = [])))]
async fn claim_submission(
    state: State<AppState>,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<Uuid>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    act(&state, &caller, id, &headers, false).await
}

/// Close a submission (advisors and guides). Needs `If-Match`.
#[utoipa::path(post, path = "/submissions/{id}/close", tag = TAG, params(("id" = Uuid, Path), ("If-Match" = String, Header)),
    responses((status = 200, body = Submission, headers(("ETag" = String))),
        ActionProblems),
    security(("session" = [], "csrf" = [])))]
async fn close_submission(
    state: State<AppState>,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<Uuid>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    act(&state, &caller, id, &headers, true).await
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TopicInput {
    /// A guidance topic code (see the forms' `topic`).
    pub topic: String,
}

/// Change a submission's topic (advisors and guides). Needs `If-Match`.
#[utoipa::path(put, path = "/submissions/{id}/topic", tag = TAG, params(("id" = Uuid, Path), ("If-Match" = String, Header)),
    request_body = TopicInput,
    responses((status = 200, body = Submission, headers(("ETag" = String))),
        UpdateProblems),
    security(("session" = [], "csrf" = [])))]
async fn set_submission_topic(
    state: State<AppState>,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<Uuid>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<TopicInput>,
) -> Result<Response, ApiError> {
    let request = pb::SetSubmissionTopicRequest {
        submission_id: id.to_string(),
        topic: body.topic,
        expected_version: if_match(&headers)?,
    };
    answered(StatusCode::OK, state.forms().set_submission_topic(state.as_caller(&caller, request)).await?.into_inner())
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TextInput {
    /// 1–5000 characters.
    pub text: String,
}

/// Add an internal note, seen by the organisation's advisors and guides (advisors and guides).
#[utoipa::path(post, path = "/submissions/{id}/notes", tag = TAG, params(("id" = Uuid, Path)),
    request_body = TextInput,
    responses((status = 201, body = Submission, headers(("ETag" = String))),
        CreateProblems),
    security(("session" = [], "csrf" = [])))]
async fn add_submission_note(
    state: State<AppState>,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<TextInput>,
) -> Result<Response, ApiError> {
    let request = pb::AddSubmissionNoteRequest { submission_id: id.to_string(), text: body.text };
    answered(
        StatusCode::CREATED,
        state.forms().add_submission_note(state.as_caller(&caller, request)).await?.into_inner(),
    )
}

/// Reply by email to the visitor's address in the visitor's language (advisors and guides);
/// the text is typically a canned answer's, edited. The reply and its sender are kept. Needs
/// `If-Match`.
#[utoipa::path(post, path = "/submissions/{id}/replies", tag = TAG, params(("id" = Uuid, Path), ("If-Match" = String, Header)),
    request_body = TextInput,
    responses((status = 201, body = Submission, headers(("ETag" = String))),
        UpdateProblems),
    security(("session" = [], "csrf" = [])))]
async fn reply_to_submission(
    state: State<AppState>,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<Uuid>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<TextInput>,
) -> Result<Response, ApiError> {
    let request = pb::ReplyToSubmissionRequest {
        submission_id: id.to_string(),
        text: body.text,
        expected_version: if_match(&headers)?,
    };
    answered(
        StatusCode::CREATED,
        state.forms().reply_to_submission(state.as_caller(&caller, request)).await?.into_inner(),
    )
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConvertInput {
    /// The workspace's title (1–200 characters); absent: the form's title.
    #[serde(default)]
    pub title: Option<String>,
    /// The guide of the organisation who owns the workspace; absent: the caller (a guide). An
    /// advisor names one.
    #[serde(default)]
    pub owner_id: Option<Uuid>,
}

/// Open a personal workspace from a submission with a reply address (a guide of the receiving
/// organisation owns it: the caller, or the guide an advisor names): the question is its first message and the visitor is invited by
/// that address (Suomi.fi login to accept). The submission becomes `converted`. Needs `If-Match`.
#[utoipa::path(post, path = "/submissions/{id}/convert", tag = TAG, params(("id" = Uuid, Path), ("If-Match" = String, Header)),
    request_body = ConvertInput,
    responses((status = 200, body = Submission, headers(("ETag" = String))),
        UpdateProblems),
    security(("session" = [], "csrf" = [])))]
async fn convert_submission(
    state: State<AppState>,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<Uuid>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<ConvertInput>,
) -> Result<Response, ApiError> {
    let request = pb::ConvertSubmissionRequest {
        submission_id: id.to_string(),
        expected_version: if_match(&headers)?,
        title: body.title.unwrap_or_default(),
        owner_id: body.owner_id.map(|id| id.to_string()).unwrap_or_default(),
    };
    answered(StatusCode::OK, state.forms().convert_submission(state.as_caller(&caller, request)).await?.into_inner())
}
