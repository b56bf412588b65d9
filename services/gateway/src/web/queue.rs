//! The advisors' queue as pages: `/app/organisations/{id}/queue` lists an organisation's
//! contact-form submissions (filtered by status, topic, office and form, a page at a time, no
//! content), `/app/submissions/{id}` shows one (the read is logged by the forms service, as for
//! the JSON route) with its actions — claim, internal note, topic, reply from a canned answer in
//! the visitor's language, conversion to a workspace, close — and
//! `/app/organisations/{id}/canned-answers` is the organisation's library of canned answers. The
//! forms service decides who may read and act (advisors and guides act, supervisors read, main
//! users keep canned answers but do not read submissions); to anyone else it is all not found.

use axum::{
    Form,
    extract::{Path, Query, State},
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
};
use ohjaus_platform::{
    auth::{Principal, Role},
    error::ErrorCode,
    i18n::Language,
    proto::{forms::v1 as pb, tenants::v1 as tenants_pb},
    types::TOPICS,
};
use serde::Deserialize;
use uuid::Uuid;

use super::{
    CsrfForm,
    shell::{FieldError, Shell, Texts, Visitor},
    workspaces::shown,
};
use crate::{problem::ApiError, state::AppState, views::timestamp};

/// The queue's statuses, in the order a submission passes them.
pub(super) const STATUSES: [&str; 5] = ["new", "in_progress", "answered", "closed", "converted"];

/// A topic's name in the visitor's language.
pub(super) fn topic_name(t: &Texts, code: &str) -> String {
    if TOPICS.contains(&code) { t.get(&format!("forms-topic-{code}")) } else { code.to_owned() }
}

fn status_name(t: &Texts, code: &str) -> String {
    if STATUSES.contains(&code) {
        t.get(&format!("forms-queue-status-{}", code.replace('_', "-")))
    } else {
        code.to_owned()
    }
}

/// An option of a select, or a checkbox.
pub(super) struct Choice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

pub(super) fn topic_choices(t: &Texts, selected: &[&str]) -> Vec<Choice> {
    TOPICS
        .iter()
        .map(|code| Choice { value: (*code).to_owned(), label: topic_name(t, code), selected: selected.contains(code) })
        .collect()
}

/// The queue's entries of the main navigation: one per organisation whose queue the expert works
/// or reads (numbered when there are several), and the form editor for a main user.
pub(super) fn navigation(t: &Texts, principal: &Principal) -> Vec<(String, String)> {
    let Principal::Expert { memberships, .. } = principal else { return Vec::new() };
    let numbered = |key: &str, i: usize, n: usize| if n > 1 { format!("{} {}", t.get(key), i + 1) } else { t.get(key) };
    let queues: Vec<_> = memberships
        .iter()
        .filter(|m| m.roles.iter().any(|r| matches!(r, Role::Advisor | Role::Guide | Role::Supervisor)))
        .collect();
    let forms: Vec<_> = memberships.iter().filter(|m| m.roles.contains(&Role::Admin)).collect();
    let mut links = Vec::new();
    for (i, m) in queues.iter().enumerate() {
        links.push((format!("/app/organisations/{}/queue", m.tenant_id), numbered("forms-queue-nav", i, queues.len())));
    }
    for (i, m) in forms.iter().enumerate() {
        links.push((format!("/app/organisations/{}/forms", m.tenant_id), numbered("forms-editor-nav", i, forms.len())));
    }
    links
}

fn acts_in(principal: &Principal, organisation: &str) -> bool {
    Uuid::parse_str(organisation)
        .map(|o| principal.roles_in(o).iter().any(|r| matches!(r, Role::Advisor | Role::Guide)))
        .unwrap_or(false)
}

fn keeps_canned(principal: &Principal, organisation: &str) -> bool {
    Uuid::parse_str(organisation)
        .map(|o| principal.roles_in(o).iter().any(|r| matches!(r, Role::Advisor | Role::Admin)))
        .unwrap_or(false)
}

fn me(principal: &Principal) -> String {
    super::shell::subject_of(principal).unwrap_or_default()
}

/// The organisation's offices, id and name.
async fn offices(state: &AppState, caller: &Principal, organisation: &str) -> Result<Vec<(String, String)>, ApiError> {
    let request = tenants_pb::ListOfficesRequest {
        organization_id: organisation.to_owned(),
        page_size: 100,
        page_token: String::new(),
    };
    let offices = state.tenants().list_offices(state.as_caller(caller, request)).await?.into_inner().offices;
    Ok(offices.into_iter().map(|o| (o.id, o.name)).collect())
}

/// The organisation's forms, id and name (the names only, for the queue's filter).
async fn forms(state: &AppState, caller: &Principal, organisation: &str) -> Result<Vec<(String, String)>, ApiError> {
    let request =
        pb::ListFormsRequest { organization_id: organisation.to_owned(), page_size: 100, page_token: String::new() };
    let forms = state.forms().list_forms(state.as_caller(caller, request)).await?.into_inner().forms;
    Ok(forms.into_iter().map(|f| (f.id, f.name)).collect())
}

/// The organisation's experts, id and name, as far as the caller may list them; `guides` only
/// the guides.
async fn experts(state: &AppState, caller: &Principal, organisation: &str, guides: bool) -> Vec<(String, String)> {
    let request = tenants_pb::ListExpertsRequest {
        organization_id: organisation.to_owned(),
        page_size: 100,
        page_token: String::new(),
    };
    match state.tenants().list_experts(state.as_caller(caller, request)).await {
        Ok(answer) => answer
            .into_inner()
            .experts
            .into_iter()
            .filter(|e| !guides || e.roles.contains(&(tenants_pb::Role::Guide as i32)))
            .map(|e| (e.id, e.name))
            .collect(),
        Err(_) => Vec::new(),
    }
}

// ---------------------------------------------------------------------------------------------
// The list

#[derive(Clone, Default, Deserialize)]
pub struct QueueQuery {
    #[serde(default)]
    status: String,
    #[serde(default)]
    topic: String,
    #[serde(default)]
    office: String,
    #[serde(default)]
    form: String,
    #[serde(default)]
    page: String,
}

impl QueueQuery {
    /// The filters as a query string, for the next page's link.
    fn filters(&self) -> String {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        for (name, value) in
            [("status", &self.status), ("topic", &self.topic), ("office", &self.office), ("form", &self.form)]
        {
            if !value.is_empty() {
                query.append_pair(name, value);
            }
        }
        query.finish()
    }
}

struct Row {
    id: String,
    received: (String, String),
    form: String,
    topic: String,
    status: String,
    status_code: String,
    language: String,
    assigned: String,
}

#[derive(askama::Template)]
#[template(path = "queue/list.html")]
struct QueuePage {
    shell: Shell,
    organisation: String,
    statuses: Vec<Choice>,
    topics: Vec<Choice>,
    offices: Vec<Choice>,
    forms: Vec<Choice>,
    rows: Vec<Row>,
    next: Option<String>,
    filtered: bool,
    keeps_canned: bool,
    errors: Vec<FieldError>,
}

impl QueuePage {
    fn error_for(&self, field: &str) -> Option<&str> {
        FieldError::find(&self.errors, field)
    }
}

fn choices(all: &[(String, String)], selected: &str) -> Vec<Choice> {
    all.iter()
        .map(|(value, label)| Choice { value: value.clone(), label: label.clone(), selected: value == selected })
        .collect()
}

/// The organisation's queue: filters, a page of submissions, the link to the next page.
pub async fn list(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(id): Path<String>,
    Query(query): Query<QueueQuery>,
) -> Response {
    let caller = match visitor.principal() {
        Ok(caller) => caller,
        Err(answer) => return *answer,
    };
    let organisation = match visitor.id(&id) {
        Ok(id) => id,
        Err(answer) => return *answer,
    };
    let t = Texts(visitor.language);
    let request = pb::ListSubmissionsRequest {
        organization_id: organisation.clone(),
        status: query.status.clone(),
        topic: query.topic.clone(),
        office_id: query.office.clone(),
        form_id: query.form.clone(),
        page_size: 25,
        page_token: query.page.clone(),
    };
    let (listed, errors, status) = match state.forms().list_submissions(state.as_caller(&caller, request)).await {
        Ok(answer) => (answer.into_inner(), Vec::new(), StatusCode::OK),
        Err(status) => {
            let error = ApiError::from(status);
            if error.0.violations.is_empty() {
                return visitor.failure(error);
            }
            let renamed =
                [("office_id", "office"), ("form_id", "form"), ("page_token", "status"), ("page_size", "status")];
            let errors = FieldError::of(&error, visitor.language, &renamed);
            (pb::ListSubmissionsResponse::default(), errors, StatusCode::UNPROCESSABLE_ENTITY)
        }
    };
    let offices = match offices(&state, &caller, &organisation).await {
        Ok(offices) => offices,
        Err(error) => return visitor.failure(error),
    };
    let forms = match forms(&state, &caller, &organisation).await {
        Ok(forms) => forms,
        Err(error) => return visitor.failure(error),
    };
    let mine = me(&caller);
    let named = |all: &[(String, String)], id: &str| {
        all.iter().find(|(k, _)| k == id).map(|(_, name)| name.clone()).unwrap_or_default()
    };
    let rows = listed
        .submissions
        .iter()
        .map(|s| Row {
            id: s.id.clone(),
            received: shown(timestamp(s.created_at)),
            form: named(&forms, &s.form_id),
            topic: topic_name(&t, &s.topic),
            status: status_name(&t, &s.status),
            status_code: s.status.clone(),
            language: s.language.parse::<Language>().map(|l| super::language_name(l).to_owned()).unwrap_or_default(),
            assigned: if s.assignee_id.is_empty() {
                String::new()
            } else if s.assignee_id == mine {
                t.get("forms-queue-assigned-me")
            } else {
                t.get("forms-queue-assigned-other")
            },
        })
        .collect();
    let next = Some(listed.next_page_token).filter(|n| !n.is_empty()).map(|token| {
        let filters = query.filters();
        let sep = if filters.is_empty() { "" } else { "&" };
        let page = url::form_urlencoded::Serializer::new(String::new()).append_pair("page", &token).finish();
        format!("/app/organisations/{organisation}/queue?{filters}{sep}{page}")
    });
    let statuses = STATUSES
        .iter()
        .map(|s| Choice { value: (*s).to_owned(), label: status_name(&t, s), selected: query.status == *s })
        .collect();
    let page = QueuePage {
        shell: visitor.shell(t.get("forms-queue-title")),
        keeps_canned: keeps_canned(&caller, &organisation),
        organisation,
        statuses,
        topics: topic_choices(&t, &[query.topic.as_str()]),
        offices: choices(&offices, &query.office),
        forms: choices(&forms, &query.form),
        rows,
        next,
        filtered: !query.filters().is_empty() || !query.page.is_empty(),
        errors,
    };
    visitor.render(status, &page)
}

// ---------------------------------------------------------------------------------------------
// One submission

struct Entry {
    who: String,
    at: (String, String),
    text: String,
}

struct Shown {
    id: String,
    organisation: String,
    status: String,
    status_code: String,
    topic: String,
    language: String,
    received: (String, String),
    has_email: bool,
    assigned: String,
    assigned_to_me: bool,
    workspace: String,
    version: i64,
    answers: Vec<(String, String)>,
    notes: Vec<Entry>,
    replies: Vec<Entry>,
}

/// What the actions' forms hold after a refusal (so nothing typed is lost), or a canned answer
/// chosen for the reply.
#[derive(Clone, Default, Deserialize)]
pub struct ActionForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    version: i64,
    #[serde(default)]
    topic: String,
    #[serde(default)]
    note: String,
    #[serde(default)]
    reply: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    owner: String,
}

#[derive(askama::Template)]
#[template(path = "queue/submission.html")]
struct SubmissionPage {
    shell: Shell,
    s: Shown,
    can_act: bool,
    is_guide: bool,
    open: bool,
    topics: Vec<Choice>,
    canned: Vec<Choice>,
    guides: Vec<Choice>,
    form: ActionForm,
    done: String,
    errors: Vec<FieldError>,
}

impl SubmissionPage {
    fn done_text(&self) -> String {
        self.shell.t.get(&format!("forms-queue-done-{}", self.done))
    }
    fn error_for(&self, field: &str) -> Option<&str> {
        FieldError::find(&self.errors, field)
    }
}

#[derive(Default, Deserialize)]
pub struct ShowQuery {
    /// A canned answer to start the reply from.
    #[serde(default)]
    canned: String,
    /// The action just done (Post/Redirect/Get).
    #[serde(default)]
    done: String,
}

/// The text of a canned answer in `language`, Finnish when it has none in it.
fn in_language(text: Option<pb::LocalizedText>, language: &str) -> String {
    let text = text.unwrap_or_default();
    let wanted = match language {
        "sv" => &text.sv,
        "en" => &text.en,
        _ => &text.fi,
    };
    if wanted.is_empty() { text.fi } else { wanted.clone() }
}

async fn submission_page(
    state: &AppState,
    visitor: &Visitor,
    id: &str,
    status: StatusCode,
    query: ShowQuery,
    mut form: ActionForm,
    errors: Vec<FieldError>,
) -> Response {
    let caller = match visitor.principal() {
        Ok(caller) => caller,
        Err(answer) => return *answer,
    };
    let id = match visitor.id(id) {
        Ok(id) => id,
        Err(answer) => return *answer,
    };
    let t = Texts(visitor.language);
    // The same call as the JSON route: the forms service logs the read.
    let request = pb::GetSubmissionRequest { submission_id: id.clone() };
    let s = match state.forms().get_submission(state.as_caller(&caller, request)).await {
        Ok(answer) => answer.into_inner(),
        Err(status) => return visitor.failure(ApiError::from(status)),
    };
    let organisation = s.organization_id.clone();
    let can_act = acts_in(&caller, &organisation);
    let is_guide = Uuid::parse_str(&organisation).map(|o| caller.has_role(o, Role::Guide)).unwrap_or(false);
    let people = experts(state, &caller, &organisation, false).await;
    let name_of = |id: &str| {
        people.iter().find(|(k, _)| k == id).map(|(_, n)| n.clone()).unwrap_or_else(|| t.get("forms-queue-someone"))
    };
    let mut canned = Vec::new();
    if can_act {
        let request = pb::ListCannedAnswersRequest { organization_id: organisation.clone(), topic: String::new() };
        match state.forms().list_canned_answers(state.as_caller(&caller, request)).await {
            Ok(answer) => {
                for c in answer.into_inner().canned_answers {
                    let selected = c.id == query.canned;
                    if selected && form.reply.is_empty() {
                        form.reply = in_language(c.text.clone(), &s.language);
                    }
                    canned.push(Choice { value: c.id, label: c.title, selected });
                }
            }
            Err(status) => return visitor.failure(ApiError::from(status)),
        }
    }
    let mine = me(&caller);
    let guides = if can_act {
        experts(state, &caller, &organisation, true)
            .await
            .into_iter()
            .map(|(value, label)| Choice { selected: value == form.owner, value, label })
            .collect()
    } else {
        Vec::new()
    };
    if form.topic.is_empty() {
        form.topic = s.topic.clone();
    }
    let shown_entry = |who: &str, at, text: String| Entry {
        who: if who == mine { t.get("forms-queue-you") } else { name_of(who) },
        at: shown(timestamp(at)),
        text,
    };
    let page = SubmissionPage {
        shell: visitor.shell(t.get("forms-queue-submission-title")),
        topics: topic_choices(&t, &[form.topic.as_str()]),
        open: !matches!(s.status.as_str(), "closed" | "converted"),
        s: Shown {
            id: s.id.clone(),
            organisation,
            status: status_name(&t, &s.status),
            status_code: s.status.clone(),
            topic: topic_name(&t, &s.topic),
            language: s.language.parse::<Language>().map(|l| super::language_name(l).to_owned()).unwrap_or_default(),
            received: shown(timestamp(s.created_at)),
            has_email: s.has_email,
            assigned: if s.assignee_id.is_empty() { String::new() } else { name_of(&s.assignee_id) },
            assigned_to_me: !mine.is_empty() && s.assignee_id == mine,
            workspace: s.workspace_id.clone(),
            version: s.version,
            answers: s.answers.iter().map(|a| (a.label.clone(), a.value.clone())).collect(),
            notes: s.notes.into_iter().map(|n| shown_entry(&n.author_id, n.created_at, n.text)).collect(),
            replies: s.replies.into_iter().map(|r| shown_entry(&r.sender_id, r.sent_at, r.text)).collect(),
        },
        can_act,
        is_guide,
        canned,
        guides,
        form,
        done: if ACTIONS.contains(&query.done.as_str()) { query.done } else { String::new() },
        errors,
    };
    visitor.render(status, &page)
}

/// A submission of the queue. Reading it is logged.
pub async fn show(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(id): Path<String>,
    Query(query): Query<ShowQuery>,
) -> Response {
    submission_page(&state, &visitor, &id, StatusCode::OK, query, ActionForm::default(), Vec::new()).await
}

/// What a submission's page can do.
const ACTIONS: [&str; 6] = ["claim", "note", "topic", "reply", "convert", "close"];

/// One action on a submission: claim, note, topic, reply, convert or close. A refusal shows the
/// page again with what was typed and the problem at its field.
pub async fn act(
    State(state): State<AppState>,
    visitor: Visitor,
    Path((id, action)): Path<(String, String)>,
    Form(form): Form<ActionForm>,
) -> Response {
    let caller = match visitor.acting(&form.csrf_token) {
        Ok(caller) => caller,
        Err(answer) => return *answer,
    };
    let id = match visitor.id(&id) {
        Ok(id) => id,
        Err(answer) => return *answer,
    };
    let forms = state.forms();
    let submission_id = id.clone();
    let version = form.version;
    let action_request =
        || pb::SubmissionActionRequest { submission_id: submission_id.clone(), expected_version: version };
    let (answer, renamed): (Result<_, tonic::Status>, &[(&str, &str)]) = match action.as_str() {
        "claim" => (forms.clone().claim_submission(state.as_caller(&caller, action_request())).await, &[]),
        "close" => (forms.clone().close_submission(state.as_caller(&caller, action_request())).await, &[]),
        "topic" => {
            let request = pb::SetSubmissionTopicRequest {
                submission_id: id.clone(),
                topic: form.topic.clone(),
                expected_version: form.version,
            };
            (forms.clone().set_submission_topic(state.as_caller(&caller, request)).await, &[("topic", "topic")])
        }
        "note" => {
            let request = pb::AddSubmissionNoteRequest { submission_id: id.clone(), text: form.note.clone() };
            (forms.clone().add_submission_note(state.as_caller(&caller, request)).await, &[("text", "note")])
        }
        "reply" => {
            let request = pb::ReplyToSubmissionRequest {
                submission_id: id.clone(),
                text: form.reply.clone(),
                expected_version: form.version,
            };
            (
                forms.clone().reply_to_submission(state.as_caller(&caller, request)).await,
                &[("text", "reply"), ("submission_id", "reply")],
            )
        }
        "convert" => {
            let request = pb::ConvertSubmissionRequest {
                submission_id: id.clone(),
                expected_version: form.version,
                title: form.title.clone(),
                owner_id: form.owner.clone(),
            };
            (
                forms.clone().convert_submission(state.as_caller(&caller, request)).await,
                &[("title", "title"), ("owner_id", "owner"), ("submission_id", "title")],
            )
        }
        _ => return visitor.failure(ApiError::code(ErrorCode::NotFound)),
    };
    match answer {
        Ok(_) => visitor.finish(Redirect::to(&format!("/app/submissions/{id}?done={action}#status")).into_response()),
        Err(status) => {
            let error = ApiError::from(status);
            if error.0.violations.is_empty() {
                return visitor.failure(error);
            }
            let errors = FieldError::of(&error, visitor.language, renamed);
            let query = ShowQuery::default();
            submission_page(&state, &visitor, &id, StatusCode::UNPROCESSABLE_ENTITY, query, form, errors).await
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Canned answers

struct CannedRow {
    id: String,
    title: String,
    topics: String,
    texts: Vec<(String, String)>,
}

#[derive(Clone, Default, Deserialize)]
pub struct CannedForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    text_fi: String,
    #[serde(default)]
    text_sv: String,
    #[serde(default)]
    text_en: String,
}

#[derive(askama::Template)]
#[template(path = "queue/canned.html")]
struct CannedPage {
    shell: Shell,
    organisation: String,
    rows: Vec<CannedRow>,
    keeps: bool,
    form: CannedForm,
    topics: Vec<Choice>,
    errors: Vec<FieldError>,
}

impl CannedPage {
    fn error_for(&self, field: &str) -> Option<&str> {
        FieldError::find(&self.errors, field)
    }
}

async fn canned_page(
    state: &AppState,
    visitor: &Visitor,
    id: &str,
    status: StatusCode,
    form: CannedForm,
    chosen: &[&str],
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
    let request = pb::ListCannedAnswersRequest { organization_id: organisation.clone(), topic: String::new() };
    let listed = match state.forms().list_canned_answers(state.as_caller(&caller, request)).await {
        Ok(answer) => answer.into_inner().canned_answers,
        Err(status) => return visitor.failure(ApiError::from(status)),
    };
    let rows = listed
        .into_iter()
        .map(|c| {
            let text = c.text.unwrap_or_default();
            let texts = [(Language::Fi, text.fi), (Language::Sv, text.sv), (Language::En, text.en)]
                .into_iter()
                .filter(|(_, text)| !text.is_empty())
                .map(|(l, text)| (super::language_name(l).to_owned(), text))
                .collect();
            CannedRow {
                id: c.id,
                title: c.title,
                topics: c.topics.iter().map(|code| topic_name(&t, code)).collect::<Vec<_>>().join(", "),
                texts,
            }
        })
        .collect();
    let page = CannedPage {
        shell: visitor.shell(t.get("forms-canned-title")),
        keeps: keeps_canned(&caller, &organisation),
        organisation,
        rows,
        form,
        topics: topic_choices(&t, chosen),
        errors,
    };
    visitor.render(status, &page)
}

/// The organisation's canned answers.
pub async fn canned(State(state): State<AppState>, visitor: Visitor, Path(id): Path<String>) -> Response {
    canned_page(&state, &visitor, &id, StatusCode::OK, CannedForm::default(), &[], Vec::new()).await
}

/// Adds a canned answer. The form's topics are repeated `topic` fields, so it is read as pairs.
pub async fn create_canned(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(id): Path<String>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let value = |name: &str| pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()).unwrap_or_default();
    let form = CannedForm {
        csrf_token: value("csrf_token"),
        title: value("title"),
        text_fi: value("text_fi"),
        text_sv: value("text_sv"),
        text_en: value("text_en"),
    };
    let topics: Vec<String> = pairs.iter().filter(|(k, _)| k == "topic").map(|(_, v)| v.clone()).collect();
    let caller = match visitor.acting(&form.csrf_token) {
        Ok(caller) => caller,
        Err(answer) => return *answer,
    };
    let organisation = match visitor.id(&id) {
        Ok(id) => id,
        Err(answer) => return *answer,
    };
    let request = pb::CreateCannedAnswerRequest {
        organization_id: organisation.clone(),
        title: form.title.clone(),
        text: Some(pb::LocalizedText { fi: form.text_fi.clone(), sv: form.text_sv.clone(), en: form.text_en.clone() }),
        topics: topics.clone(),
        request_id: String::new(),
    };
    match state.forms().create_canned_answer(state.as_caller(&caller, request)).await {
        Ok(_) => visitor
            .finish(Redirect::to(&format!("/app/organisations/{organisation}/canned-answers#answers")).into_response()),
        Err(status) => {
            let error = ApiError::from(status);
            if error.0.violations.is_empty() {
                return visitor.failure(error);
            }
            let mut errors = FieldError::of(
                &error,
                visitor.language,
                &[("text.fi", "text_fi"), ("text.sv", "text_sv"), ("text.en", "text_en")],
            );
            for e in &mut errors {
                if e.field.starts_with("topics") {
                    e.field = format!("topic-{}", TOPICS[0]);
                }
            }
            let chosen: Vec<&str> = topics.iter().map(String::as_str).collect();
            canned_page(&state, &visitor, &organisation, StatusCode::UNPROCESSABLE_ENTITY, form, &chosen, errors).await
        }
    }
}

/// Removes a canned answer of the organisation.
pub async fn delete_canned(
    State(state): State<AppState>,
    visitor: Visitor,
    Path((id, canned)): Path<(String, String)>,
    Form(form): Form<CsrfForm>,
) -> Response {
    let caller = match visitor.acting(&form.csrf_token) {
        Ok(caller) => caller,
        Err(answer) => return *answer,
    };
    let (organisation, canned) = match (visitor.id(&id), visitor.id(&canned)) {
        (Ok(organisation), Ok(canned)) => (organisation, canned),
        (Err(answer), _) | (_, Err(answer)) => return *answer,
    };
    // Only one of this organisation's (the delete itself names no organisation).
    let list = pb::ListCannedAnswersRequest { organization_id: organisation.clone(), topic: String::new() };
    match state.forms().list_canned_answers(state.as_caller(&caller, list)).await {
        Ok(known) if known.get_ref().canned_answers.iter().any(|c| c.id == canned) => {}
        Ok(_) => return visitor.failure(ApiError::code(ErrorCode::NotFound)),
        Err(status) => return visitor.failure(ApiError::from(status)),
    }
    let request = pb::DeleteCannedAnswerRequest { canned_answer_id: canned };
    match state.forms().delete_canned_answer(state.as_caller(&caller, request)).await {
        Ok(_) => visitor
            .finish(Redirect::to(&format!("/app/organisations/{organisation}/canned-answers#answers")).into_response()),
        Err(status) => visitor.failure(ApiError::from(status)),
    }
}
