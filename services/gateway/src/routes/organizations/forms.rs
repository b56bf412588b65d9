//! `/organizations/{id}/forms`: an organisation's contact forms (the forms service): its main
//! users create them, give each version its definition, and publish or unpublish them.

use axum::{
    extract::State,
    http::{HeaderMap, StatusCode},
    response::Response,
};
use chrono::{DateTime, Utc};
use ohjaus_platform::{error::ErrorCode, proto::forms::v1 as pb};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use uuid::Uuid;

use crate::{
    docs::{ActionProblems, BasicProblems, CreateProblems, ListProblems, UpdateProblems, routes},
    extract::{ApiJson, ApiPath, ApiQuery, Caller, PageParams, idempotency_key, if_match},
    ids::service_id,
    problem::ApiError,
    state::AppState,
    views::{LocalizedText, Page, timestamp, versioned, view_all},
};

const TAG: &str = "forms";

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_form, list_forms))
        .routes(routes!(get_form, update_form))
        .routes(routes!(publish_form))
        .routes(routes!(unpublish_form))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FormInput {
    /// The form's name as the organisation's experts see it (1–200 characters).
    pub name: String,
}

/// A form's name and the definition of its next version.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FormVersionInput {
    /// The form's name as the organisation's experts see it (1–200 characters).
    pub name: String,
    pub definition: Definition,
}

/// What a version of a form asks, in which languages, and where its submissions go.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Definition {
    /// `fi` always; `sv` and `en` if the form offers them.
    pub languages: Vec<String>,
    /// The title visitors see (1–300 characters in each offered language).
    pub title: LocalizedText,
    /// An introduction above the fields (at most 2000 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intro: Option<LocalizedText>,
    /// 1–30 fields.
    pub fields: Vec<Field>,
    /// A guidance topic: general-situation, health, everyday-life, social-relationships,
    /// mental-wellbeing, self-esteem, skills, studies, work-and-careers, finances, hobbies,
    /// housing, addictions.
    pub topic: String,
    /// The office of the organisation that receives the submissions.
    pub office_id: Uuid,
    /// The websites allowed to embed the form: `https://host[:port]` (plain `http` only for
    /// `localhost`), at most 20.
    #[serde(default)]
    pub origins: Vec<String>,
    /// The privacy notice; absent: the organisation's from the registry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub privacy_url: Option<LocalizedText>,
}

/// One question of a form.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Field {
    /// Letters, digits and `-` (1–40), unique in the form.
    pub key: String,
    /// `short_text`, `long_text`, `choice`, `email` (the reply address; at most one) or
    /// `consent` (a checkbox).
    pub kind: String,
    #[serde(default)]
    pub required: bool,
    pub label: LocalizedText,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub help: Option<LocalizedText>,
    /// The options of a `choice` field (1–30).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub choices: Vec<Choice>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Choice {
    /// Letters, digits and `-` (1–40): what a submission stores.
    pub key: String,
    pub label: LocalizedText,
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
    pub updated_at: DateTime<Utc>,
    /// The current definition; absent while the form has only its name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub definition: Option<Definition>,
}

const KINDS: [(pb::FieldKind, &str); 5] = [
    (pb::FieldKind::ShortText, "short_text"),
    (pb::FieldKind::LongText, "long_text"),
    (pb::FieldKind::Choice, "choice"),
    (pb::FieldKind::Email, "email"),
    (pb::FieldKind::Consent, "consent"),
];

fn local(text: Option<pb::LocalizedText>) -> Option<LocalizedText> {
    text.filter(|t| !(t.fi.is_empty() && t.sv.is_empty() && t.en.is_empty())).map(|t| LocalizedText {
        fi: t.fi,
        sv: Some(t.sv).filter(|s| !s.is_empty()),
        en: Some(t.en).filter(|s| !s.is_empty()),
    })
}

fn to_pb_text(text: LocalizedText) -> pb::LocalizedText {
    pb::LocalizedText { fi: text.fi, sv: text.sv.unwrap_or_default(), en: text.en.unwrap_or_default() }
}

fn definition(d: pb::Definition) -> Result<Definition, ApiError> {
    let fields = d
        .fields
        .into_iter()
        .map(|f| Field {
            kind: KINDS.iter().find(|(k, _)| *k as i32 == f.kind).map_or("", |(_, name)| name).to_owned(),
            key: f.key,
            required: f.required,
            label: local(f.label).unwrap_or(LocalizedText { fi: String::new(), sv: None, en: None }),
            help: local(f.help),
            choices: f
                .choices
                .into_iter()
                .map(|c| Choice {
                    key: c.key,
                    label: local(c.label).unwrap_or(LocalizedText { fi: String::new(), sv: None, en: None }),
                })
                .collect(),
        })
        .collect();
    Ok(Definition {
        languages: d.languages,
        title: local(d.title).unwrap_or(LocalizedText { fi: String::new(), sv: None, en: None }),
        intro: local(d.intro),
        fields,
        topic: d.topic,
        office_id: service_id(&d.office_id)?,
        origins: d.origins,
        privacy_url: local(d.privacy_url),
    })
}

fn definition_to_pb(d: Definition) -> pb::Definition {
    pb::Definition {
        languages: d.languages,
        title: Some(to_pb_text(d.title)),
        intro: d.intro.map(to_pb_text),
        fields: d
            .fields
            .into_iter()
            .map(|f| pb::Field {
                // An unknown kind goes as unspecified, which the service names.
                kind: KINDS.iter().find(|(_, name)| *name == f.kind).map_or(0, |(k, _)| *k as i32),
                key: f.key,
                required: f.required,
                label: Some(to_pb_text(f.label)),
                help: f.help.map(to_pb_text),
                choices: f
                    .choices
                    .into_iter()
                    .map(|c| pb::Choice { key: c.key, label: Some(to_pb_text(c.label)) })
                    .collect(),
            })
            .collect(),
        topic: d.topic,
        office_id: d.office_id.to_string(),
        origins: d.origins,
        privacy_url: d.privacy_url.map(to_pb_text),
    }
}

fn form(f: pb::Form) -> Result<Form, ApiError> {
    Ok(Form {
        id: service_id(&f.id)?,
        organization_id: service_id(&f.organization_id)?,
        name: f.name,
        published: f.published,
        version: f.version,
        created_at: timestamp(f.created_at),
        updated_at: timestamp(f.updated_at),
        definition: f.definition.map(definition).transpose()?,
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

/// List the organisation's contact forms (main user of the organisation).
#[utoipa::path(get, path = "/organizations/{id}/forms", tag = TAG, params(("id" = Uuid, Path), PageParams),
    responses((status = 200, body = Page<Form>),
        ListProblems),
    security(("session" = [])))]
async fn list_forms(
    state: State<AppState>,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<Uuid>,
    ApiQuery(page): ApiQuery<PageParams>,
) -> Result<axum::Json<Page<Form>>, ApiError> {
    let request =
        pb::ListFormsRequest { organization_id: id.to_string(), page_size: page.size(), page_token: page.token() };
    let response = state.forms().list_forms(state.as_caller(&caller, request)).await?.into_inner();
    Ok(axum::Json(Page::new(view_all(response.forms, form)?, response.next_page_token)))
}

/// The organisation's form `form_id`, answered only if it is that organisation's.
async fn form_of(
    state: &AppState,
    caller: &ohjaus_platform::auth::Principal,
    id: Uuid,
    form_id: Uuid,
) -> Result<pb::Form, ApiError> {
    let request = pb::GetFormRequest { form_id: form_id.to_string() };
    let found = state.forms().get_form(state.as_caller(caller, request)).await?.into_inner();
    if found.organization_id != id.to_string() {
        return Err(ApiError::code(ErrorCode::NotFound));
    }
    Ok(found)
}

/// Read a contact form with its current definition (main user of the organisation).
#[utoipa::path(get, path = "/organizations/{id}/forms/{form_id}", tag = TAG, params(("id" = Uuid, Path), ("form_id" = Uuid, Path)),
    responses((status = 200, body = Form, headers(("ETag" = String))),
        BasicProblems),
    security(("session" = [])))]
async fn get_form(
    state: State<AppState>,
    Caller(caller): Caller,
    ApiPath((id, form_id)): ApiPath<(Uuid, Uuid)>,
) -> Result<Response, ApiError> {
    let found = form_of(&state, &caller, id, form_id).await?;
    let version = found.version;
    Ok(versioned(StatusCode::OK, form(found)?, version, None))
}

/// Give a form a new version: its name and definition (main user). Submissions keep the
/// version they answered. Requires `If-Match`.
#[utoipa::path(put, path = "/organizations/{id}/forms/{form_id}", tag = TAG,
    params(("id" = Uuid, Path), ("form_id" = Uuid, Path), ("If-Match" = String, Header)), request_body = FormVersionInput,
    responses((status = 200, body = Form, headers(("ETag" = String))),
        UpdateProblems),
    security(("session" = [], "csrf" = [])))]
async fn update_form(
    state: State<AppState>,
    Caller(caller): Caller,
    ApiPath((id, form_id)): ApiPath<(Uuid, Uuid)>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<FormVersionInput>,
) -> Result<Response, ApiError> {
    let expected_version = if_match(&headers)?;
    form_of(&state, &caller, id, form_id).await?;
    let request = pb::UpdateFormRequest {
        form_id: form_id.to_string(),
        name: body.name,
        definition: Some(definition_to_pb(body.definition)),
        expected_version,
    };
    let updated = state.forms().update_form(state.as_caller(&caller, request)).await?.into_inner();
    let version = updated.version;
    Ok(versioned(StatusCode::OK, form(updated)?, version, None))
}

async fn set_published(
    state: &AppState,
    caller: &ohjaus_platform::auth::Principal,
    (id, form_id): (Uuid, Uuid),
    headers: &HeaderMap,
    published: bool,
) -> Result<Response, ApiError> {
    let expected_version = if_match(headers)?;
    form_of(state, caller, id, form_id).await?;
    let request = pb::SetFormPublishedRequest { form_id: form_id.to_string(), published, expected_version };
    let changed = state.forms().set_form_published(state.as_caller(caller, request)).await?.into_inner();
    let version = changed.version;
    Ok(versioned(StatusCode::OK, form(changed)?, version, None))
}

/// Publish a form: visitors can use it (main user; the form needs a definition). Requires
/// `If-Match`.
#[utoipa::path(post, path = "/organizations/{id}/forms/{form_id}/publish", tag = TAG,
    params(("id" = Uuid, Path), ("form_id" = Uuid, Path), ("If-Match" = String, Header)),
    responses((status = 200, body = Form, headers(("ETag" = String))),
        ActionProblems,
        (status = 422, body = crate::problem::Problem, description = "The form has no definition yet", content_type = "application/problem+json")),
    security(("session" = [], "csrf" = [])))]
async fn publish_form(
    state: State<AppState>,
    Caller(caller): Caller,
    ApiPath(path): ApiPath<(Uuid, Uuid)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    set_published(&state, &caller, path, &headers, true).await
}

/// Unpublish a form: its public page answers "not available" (main user). Requires `If-Match`.
#[utoipa::path(post, path = "/organizations/{id}/forms/{form_id}/unpublish", tag = TAG,
    params(("id" = Uuid, Path), ("form_id" = Uuid, Path), ("If-Match" = String, Header)),
    responses((status = 200, body = Form, headers(("ETag" = String))),
        ActionProblems),
    security(("session" = [], "csrf" = [])))]
async fn unpublish_form(
    state: State<AppState>,
    Caller(caller): Caller,
    ApiPath(path): ApiPath<(Uuid, Uuid)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    set_published(&state, &caller, path, &headers, false).await
}
