//! `/app/organisations/{id}/forms`: a main user's contact forms — the list (and a new form by
//! its name), and a form's page: a new version of its definition (languages, texts, fields with
//! their labels and help per language, topic, office, allowed websites, privacy link), publish or
//! unpublish, and the snippet that embeds it. Without script the fields are rows: the form's
//! own and one empty row to add another (saved, a new empty row appears). The forms service
//! decides who may do this (the organisation's main users); to anyone else it is not found.

use axum::{
    Form,
    extract::{Path, Query, State},
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Redirect, Response},
};
use ohjaus_platform::{
    auth::Principal,
    proto::{forms::v1 as pb, tenants::v1 as tenants_pb},
};
use serde::Deserialize;

use super::{
    queue::{Choice, topic_choices},
    shell::{FieldError, Shell, Texts, Visitor},
    workspaces::shown,
};
use crate::{problem::ApiError, state::AppState, views::timestamp};

/// The kinds of field, as the form's select offers them.
const KINDS: [(pb::FieldKind, &str); 5] = [
    (pb::FieldKind::ShortText, "short-text"),
    (pb::FieldKind::LongText, "long-text"),
    (pb::FieldKind::Choice, "choice"),
    (pb::FieldKind::Email, "email"),
    (pb::FieldKind::Consent, "consent"),
];

struct FormRow {
    id: String,
    name: String,
    published: bool,
    version: i64,
    updated: (String, String),
}

#[derive(Clone, Default, Deserialize)]
pub struct NewForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    name: String,
}

#[derive(askama::Template)]
#[template(path = "queue/forms.html")]
struct FormsPage {
    shell: Shell,
    organisation: String,
    rows: Vec<FormRow>,
    form: NewForm,
    errors: Vec<FieldError>,
}

impl FormsPage {
    fn error_for(&self, field: &str) -> Option<&str> {
        FieldError::find(&self.errors, field)
    }
}

async fn forms_page(
    state: &AppState,
    visitor: &Visitor,
    id: &str,
    status: StatusCode,
    form: NewForm,
    errors: Vec<FieldError>,
) -> Response {
    let caller = match visitor.principal() {
        Ok(caller) => caller,
        Err(answer) => return *answer,
    };
    let organisation = match visitor.id(id) {
        Ok(id) => id,
        Err(answer) => return *answer,
    };
    let t = Texts(visitor.language);
    // The list of a main user (the queue's readers get names only; this page is for editing).
    let Ok(org) = uuid::Uuid::parse_str(&organisation) else {
        return visitor.failure(ApiError::code(ohjaus_platform::error::ErrorCode::NotFound));
    };
    if !caller.has_role(org, ohjaus_platform::auth::Role::Admin) {
        return visitor.failure(ApiError::code(ohjaus_platform::error::ErrorCode::NotFound));
    }
    let request =
        pb::ListFormsRequest { organization_id: organisation.clone(), page_size: 100, page_token: String::new() };
    let forms = match state.forms().list_forms(state.as_caller(&caller, request)).await {
        Ok(answer) => answer.into_inner().forms,
        Err(status) => return visitor.failure(ApiError::from(status)),
    };
    let rows = forms
        .into_iter()
        .map(|f| FormRow {
            id: f.id,
            name: f.name,
            published: f.published,
            version: f.version,
            updated: shown(timestamp(f.updated_at.or(f.created_at))),
        })
        .collect();
    let page = FormsPage { shell: visitor.shell(t.get("forms-editor-title")), organisation, rows, form, errors };
    visitor.render(status, &page)
}

/// The organisation's forms.
pub async fn list(State(state): State<AppState>, visitor: Visitor, Path(id): Path<String>) -> Response {
    forms_page(&state, &visitor, &id, StatusCode::OK, NewForm::default(), Vec::new()).await
}

/// A new form by its name; its page follows.
pub async fn create(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(id): Path<String>,
    Form(form): Form<NewForm>,
) -> Response {
    let caller = match visitor.acting(&form.csrf_token) {
        Ok(caller) => caller,
        Err(answer) => return *answer,
    };
    let organisation = match visitor.id(&id) {
        Ok(id) => id,
        Err(answer) => return *answer,
    };
    let request = pb::CreateFormRequest {
        organization_id: organisation.clone(),
        name: form.name.clone(),
        request_id: String::new(),
    };
    match state.forms().create_form(state.as_caller(&caller, request)).await {
        Ok(created) => {
            let created = created.into_inner();
            visitor.finish(
                Redirect::to(&format!("/app/organisations/{organisation}/forms/{}", created.id)).into_response(),
            )
        }
        Err(status) => {
            let error = ApiError::from(status);
            if error.0.violations.is_empty() {
                return visitor.failure(error);
            }
            let errors = FieldError::of(&error, visitor.language, &[]);
            forms_page(&state, &visitor, &organisation, StatusCode::UNPROCESSABLE_ENTITY, form, errors).await
        }
    }
}

/// One field of the definition as its row of the page holds it.
#[derive(Clone, Default)]
struct FieldRow {
    key: String,
    kind: String,
    required: bool,
    label: [String; 3],
    help: [String; 3],
    /// One option a line: `key | fi | sv | en`.
    choices: String,
}

impl FieldRow {
    fn of(field: &pb::Field) -> Self {
        let texts = |t: &Option<pb::LocalizedText>| {
            let t = t.clone().unwrap_or_default();
            [t.fi, t.sv, t.en]
        };
        let kind = KINDS.iter().find(|(k, _)| *k as i32 == field.kind).map(|(_, name)| *name).unwrap_or_default();
        FieldRow {
            key: field.key.clone(),
            kind: kind.to_owned(),
            required: field.required,
            label: texts(&field.label),
            help: texts(&field.help),
            choices: field
                .choices
                .iter()
                .map(|c| {
                    let l = c.label.clone().unwrap_or_default();
                    format!("{} | {} | {} | {}", c.key, l.fi, l.sv, l.en)
                })
                .collect::<Vec<_>>()
                .join("\n"),
        }
    }

    fn is_blank(&self) -> bool {
        self.key.trim().is_empty()
            && self.label.iter().all(|l| l.trim().is_empty())
            && self.help.iter().all(|l| l.trim().is_empty())
            && self.choices.trim().is_empty()
    }

    fn to_pb(&self) -> pb::Field {
        let text = |t: &[String; 3]| pb::LocalizedText { fi: t[0].clone(), sv: t[1].clone(), en: t[2].clone() };
        let kind = KINDS.iter().find(|(_, name)| *name == self.kind).map_or(0, |(k, _)| *k as i32);
        let choices = self
            .choices
            .lines()
            .filter(|line| !line.trim().is_empty())
            .map(|line| {
                let mut parts = line.split('|').map(|p| p.trim().to_owned());
                let key = parts.next().unwrap_or_default();
                let label = pb::LocalizedText {
                    fi: parts.next().unwrap_or_default(),
                    sv: parts.next().unwrap_or_default(),
                    en: parts.next().unwrap_or_default(),
                };
                pb::Choice { key, label: Some(label) }
            })
            .collect();
        pb::Field {
            key: self.key.trim().to_owned(),
            kind,
            required: self.required,
            label: Some(text(&self.label)),
            help: Some(text(&self.help)),
            choices,
        }
    }
}

/// The page's form: the definition as typed.
#[derive(Clone, Default)]
struct Draft {
    name: String,
    version: i64,
    sv: bool,
    en: bool,
    title: [String; 3],
    intro: [String; 3],
    privacy: [String; 3],
    topic: String,
    office: String,
    origins: String,
    fields: Vec<FieldRow>,
}

const LANGS: [&str; 3] = ["fi", "sv", "en"];

impl Draft {
    fn of(form: &pb::Form) -> Self {
        let d = form.definition.clone().unwrap_or_default();
        let texts = |t: Option<pb::LocalizedText>| {
            let t = t.unwrap_or_default();
            [t.fi, t.sv, t.en]
        };
        Draft {
            name: form.name.clone(),
            version: form.version,
            sv: d.languages.iter().any(|l| l == "sv"),
            en: d.languages.iter().any(|l| l == "en"),
            title: texts(d.title),
            intro: texts(d.intro),
            privacy: texts(d.privacy_url),
            topic: d.topic,
            office: d.office_id,
            origins: d.origins.join("\n"),
            fields: d.fields.iter().map(FieldRow::of).collect(),
        }
    }

    /// The draft from the posted pairs (field rows are `f{i}_…`).
    fn parse(pairs: &[(String, String)]) -> Self {
        let value = |name: &str| pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()).unwrap_or_default();
        let three = |prefix: &str| LANGS.map(|l| value(&format!("{prefix}_{l}")));
        let mut fields = Vec::new();
        for i in 0..pb_fields_max() {
            let p = format!("f{i}");
            if !pairs.iter().any(|(k, _)| k == &format!("{p}_key")) {
                break;
            }
            if !value(&format!("{p}_remove")).is_empty() {
                continue;
            }
            fields.push(FieldRow {
                key: value(&format!("{p}_key")),
                kind: value(&format!("{p}_kind")),
                required: !value(&format!("{p}_required")).is_empty(),
                label: three(&format!("{p}_label")),
                help: three(&format!("{p}_help")),
                choices: value(&format!("{p}_choices")),
            });
        }
        Draft {
            name: value("name"),
            version: value("version").parse().unwrap_or(0),
            sv: !value("lang_sv").is_empty(),
            en: !value("lang_en").is_empty(),
            title: three("title"),
            intro: three("intro"),
            privacy: three("privacy"),
            topic: value("topic"),
            office: value("office"),
            origins: value("origins"),
            fields,
        }
    }

    /// The request, and for each field sent the row it came from (errors go to that row).
    fn request(&self, form_id: &str) -> (pb::UpdateFormRequest, Vec<usize>) {
        let text = |t: &[String; 3]| Some(pb::LocalizedText { fi: t[0].clone(), sv: t[1].clone(), en: t[2].clone() });
        let mut languages = vec!["fi".to_owned()];
        if self.sv {
            languages.push("sv".to_owned());
        }
        if self.en {
            languages.push("en".to_owned());
        }
        let sent: Vec<usize> = (0..self.fields.len()).filter(|i| !self.fields[*i].is_blank()).collect();
        let definition = pb::Definition {
            languages,
            title: text(&self.title),
            intro: text(&self.intro),
            fields: sent.iter().map(|i| self.fields[*i].to_pb()).collect(),
            topic: self.topic.clone(),
            office_id: self.office.clone(),
            origins: self.origins.lines().map(str::trim).filter(|o| !o.is_empty()).map(str::to_owned).collect(),
            privacy_url: text(&self.privacy),
        };
        let request = pb::UpdateFormRequest {
            form_id: form_id.to_owned(),
            name: self.name.clone(),
            definition: Some(definition),
            expected_version: self.version,
        };
        (request, sent)
    }
}

/// Rows read from a post at most (the service allows fewer fields; this bounds the loop).
const fn pb_fields_max() -> usize {
    60
}

/// A violation's field as the page's input id (`definition.fields[2].label.sv` → `f{row}_label_sv`).
fn input_of(field: &str, rows: &[usize]) -> String {
    let Some(rest) = field.strip_prefix("definition.") else {
        return match field {
            "definition" => "title_fi".to_owned(),
            "expected_version" => "name".to_owned(),
            other => other.to_owned(),
        };
    };
    if let Some(indexed) = rest.strip_prefix("fields[") {
        let (index, tail) = indexed.split_once(']').unwrap_or((indexed, ""));
        let row = index.parse::<usize>().ok().and_then(|i| rows.get(i).copied()).unwrap_or(0);
        let tail = tail.trim_start_matches('.');
        let part = if tail.starts_with("choices") {
            "choices".to_owned()
        } else if tail.is_empty() {
            "key".to_owned()
        } else {
            tail.replace('.', "_")
        };
        return format!("f{row}_{part}");
    }
    match rest {
        "fields" => "f0_key".to_owned(),
        "topic" => "topic".to_owned(),
        "office_id" => "office".to_owned(),
        r if r.starts_with("origins") => "origins".to_owned(),
        r if r.starts_with("languages") => "lang_sv".to_owned(),
        r if r.starts_with("privacy_url") => r.replace("privacy_url.", "privacy_"),
        r => r.replace('.', "_"),
    }
}

#[derive(askama::Template)]
#[template(path = "queue/form.html")]
struct FormPage {
    shell: Shell,
    organisation: String,
    id: String,
    published: bool,
    draft: Draft,
    topics: Vec<Choice>,
    offices: Vec<Choice>,
    kinds: Vec<(String, String)>,
    snippet: String,
    link: String,
    done: String,
    errors: Vec<FieldError>,
}

impl FormPage {
    fn done_text(&self) -> String {
        self.shell.t.get(&format!("forms-editor-done-{}", self.done))
    }
    fn error_for(&self, field: &str) -> Option<&str> {
        FieldError::find(&self.errors, field)
    }
    /// A row's input id, e.g. `f2_label_fi`.
    fn input(&self, row: &usize, part: &str) -> String {
        format!("f{row}_{part}")
    }
    fn row_error(&self, row: &usize, part: &str) -> Option<&str> {
        FieldError::find(&self.errors, &format!("f{row}_{part}"))
    }
}

/// Where the embedding website loads us from: this request's own origin.
fn origin_of(headers: &HeaderMap) -> String {
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("localhost");
    let forwarded = headers.get("x-forwarded-proto").and_then(|h| h.to_str().ok());
    let local = host.starts_with("127.0.0.1") || host.starts_with("localhost") || host.starts_with("[::1]");
    let scheme = forwarded.unwrap_or(if local { "http" } else { "https" });
    format!("{scheme}://{host}")
}

#[allow(clippy::too_many_arguments)]
async fn form_page(
    state: &AppState,
    visitor: &Visitor,
    headers: &HeaderMap,
    (organisation, id): (&str, &str),
    status: StatusCode,
    draft: Option<Draft>,
    done: String,
    errors: Vec<FieldError>,
) -> Response {
    let caller = match visitor.principal() {
        Ok(caller) => caller,
        Err(answer) => return *answer,
    };
    let (organisation, id) = match (visitor.id(organisation), visitor.id(id)) {
        (Ok(organisation), Ok(id)) => (organisation, id),
        (Err(answer), _) | (_, Err(answer)) => return *answer,
    };
    let t = Texts(visitor.language);
    let form = match state.forms().get_form(state.as_caller(&caller, pb::GetFormRequest { form_id: id.clone() })).await
    {
        Ok(form) => form.into_inner(),
        Err(status) => return visitor.failure(ApiError::from(status)),
    };
    if form.organization_id != organisation {
        return visitor.failure(ApiError::code(ohjaus_platform::error::ErrorCode::NotFound));
    }
    let offices = match offices(state, &caller, &organisation).await {
        Ok(offices) => offices,
        Err(error) => return visitor.failure(error),
    };
    let mut draft = draft.unwrap_or_else(|| Draft::of(&form));
    if draft.fields.last().is_none_or(|f| !f.is_blank()) {
        draft.fields.push(FieldRow { kind: "short-text".to_owned(), ..FieldRow::default() });
    }
    let origin = origin_of(headers);
    let title = form.definition.as_ref().and_then(|d| d.title.as_ref()).map(|t| t.fi.clone()).unwrap_or_default();
    let snippet = format!(
        "<script src=\"{origin}/forms/embed.js\" data-form=\"{id}\" data-lang=\"fi\" data-title=\"{}\" async></script>",
        ohjaus_platform::html::escape(&title)
    );
    let page = FormPage {
        shell: visitor.shell(t.with("forms-editor-form-title", "name", &form.name)),
        link: format!("{origin}/forms/{id}"),
        organisation,
        id,
        published: form.published,
        topics: topic_choices(&t, &[draft.topic.as_str()]),
        offices: offices
            .into_iter()
            .map(|(value, label)| Choice { selected: value == draft.office, value, label })
            .collect(),
        kinds: KINDS
            .iter()
            .map(|(_, name)| ((*name).to_owned(), t.get(&format!("forms-editor-kind-{name}"))))
            .collect(),
        draft,
        snippet,
        done,
        errors,
    };
    visitor.render(status, &page)
}

async fn offices(state: &AppState, caller: &Principal, organisation: &str) -> Result<Vec<(String, String)>, ApiError> {
    let request = tenants_pb::ListOfficesRequest {
        organization_id: organisation.to_owned(),
        page_size: 100,
        page_token: String::new(),
    };
    let offices = state.tenants().list_offices(state.as_caller(caller, request)).await?.into_inner().offices;
    Ok(offices.into_iter().map(|o| (o.id, o.name)).collect())
}

#[derive(Default, Deserialize)]
pub struct EditQuery {
    #[serde(default)]
    done: String,
}

/// A form's page.
pub async fn edit(
    State(state): State<AppState>,
    visitor: Visitor,
    headers: HeaderMap,
    Path((id, form)): Path<(String, String)>,
    Query(query): Query<EditQuery>,
) -> Response {
    let done =
        if ["saved", "publish", "unpublish"].contains(&query.done.as_str()) { query.done } else { String::new() };
    form_page(&state, &visitor, &headers, (&id, &form), StatusCode::OK, None, done, Vec::new()).await
}

/// A new version of the form's definition.
pub async fn update(
    State(state): State<AppState>,
    visitor: Visitor,
    headers: HeaderMap,
    Path((id, form)): Path<(String, String)>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let csrf = pairs.iter().find(|(k, _)| k == "csrf_token").map(|(_, v)| v.as_str()).unwrap_or_default();
    let caller = match visitor.acting(csrf) {
        Ok(caller) => caller,
        Err(answer) => return *answer,
    };
    let (organisation, form_id) = match (visitor.id(&id), visitor.id(&form)) {
        (Ok(organisation), Ok(form)) => (organisation, form),
        (Err(answer), _) | (_, Err(answer)) => return *answer,
    };
    let draft = Draft::parse(&pairs);
    let (request, rows) = draft.request(&form_id);
    // A kind the select does not offer is named here (the service would name the field's index).
    let unknown_kind: Vec<FieldError> = draft
        .fields
        .iter()
        .enumerate()
        .filter(|(_, f)| !f.is_blank() && !KINDS.iter().any(|(_, name)| *name == f.kind))
        .map(|(i, _)| FieldError { field: format!("f{i}_kind"), message: visitor.language.text("invalid-field-kind") })
        .collect();
    let answer = if unknown_kind.is_empty() {
        state.forms().update_form(state.as_caller(&caller, request)).await.map(|_| Vec::new())
    } else {
        Ok(unknown_kind)
    };
    match answer {
        Ok(errors) if errors.is_empty() => visitor.finish(
            Redirect::to(&format!("/app/organisations/{organisation}/forms/{form_id}?done=saved")).into_response(),
        ),
        Ok(errors) => {
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            form_page(&state, &visitor, &headers, (&organisation, &form_id), status, Some(draft), String::new(), errors)
                .await
        }
        Err(status) => {
            let error = ApiError::from(status);
            if error.0.violations.is_empty() {
                return visitor.failure(error);
            }
            let errors = error
                .0
                .violations
                .iter()
                .map(|v| FieldError { field: input_of(&v.field, &rows), message: visitor.language.text(&v.reason) })
                .collect();
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            form_page(&state, &visitor, &headers, (&organisation, &form_id), status, Some(draft), String::new(), errors)
                .await
        }
    }
}

#[derive(Default, Deserialize)]
pub struct PublishForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    version: i64,
}

/// Publishes or unpublishes the form.
pub async fn set_published(
    State(state): State<AppState>,
    visitor: Visitor,
    headers: HeaderMap,
    Path((id, form, action)): Path<(String, String, String)>,
    Form(posted): Form<PublishForm>,
) -> Response {
    let caller = match visitor.acting(&posted.csrf_token) {
        Ok(caller) => caller,
        Err(answer) => return *answer,
    };
    let (organisation, form_id) = match (visitor.id(&id), visitor.id(&form)) {
        (Ok(organisation), Ok(form)) => (organisation, form),
        (Err(answer), _) | (_, Err(answer)) => return *answer,
    };
    let published = match action.as_str() {
        "publish" => true,
        "unpublish" => false,
        _ => return visitor.failure(ApiError::code(ohjaus_platform::error::ErrorCode::NotFound)),
    };
    let request = pb::SetFormPublishedRequest { form_id: form_id.clone(), published, expected_version: posted.version };
    match state.forms().set_form_published(state.as_caller(&caller, request)).await {
        Ok(_) => visitor.finish(
            Redirect::to(&format!("/app/organisations/{organisation}/forms/{form_id}?done={action}")).into_response(),
        ),
        Err(status) => {
            let error = ApiError::from(status);
            if error.0.violations.is_empty() {
                return visitor.failure(error);
            }
            // An incomplete definition cannot be published: its problems at their inputs.
            let errors = error
                .0
                .violations
                .iter()
                .map(|v| FieldError { field: input_of(&v.field, &[]), message: visitor.language.text(&v.reason) })
                .collect();
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            form_page(&state, &visitor, &headers, (&organisation, &form_id), status, None, String::new(), errors).await
        }
    }
}
