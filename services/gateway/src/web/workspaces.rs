//! `/app` (my workspaces) and `/app/workspaces/{id}` (one workspace: its conversation, and a
//! form to write to it).

use axum::{
    Form,
    extract::{Path, Query, State},
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
};
use chrono::{DateTime, Utc};
use ohjaus_platform::{
    auth::Principal,
    error::ErrorCode,
    i18n::Language,
    proto::{consent::v1 as consent_pb, tenants::v1 as tenants_pb, workspaces::v1 as pb},
};
use serde::Deserialize;

use super::shell::{FieldError, Shell, Texts, Visitor};
use crate::{problem::ApiError, state::AppState, views::timestamp};

/// How many of the latest messages a workspace's page shows.
const MESSAGES_SHOWN: i32 = 100;

/// A workspace as its row in the list.
struct WorkspaceRow {
    id: String,
    title: String,
    kind: String,
    state: String,
    created: String,
    created_iso: String,
    /// Unread messages.
    unread: usize,
}

#[derive(askama::Template)]
#[template(path = "workspaces.html")]
struct WorkspacesPage {
    shell: Shell,
    workspaces: Vec<WorkspaceRow>,
    /// An expert may open workspaces (the service says whether in a given office).
    can_create: bool,
}

/// An attachment as a message shows it.
pub(super) struct FileView {
    pub(super) id: String,
    pub(super) name: String,
    pub(super) size: String,
}

/// A file's size for people: bytes, kB or MB (decimal, as file managers mostly show).
fn size_text(bytes: i64) -> String {
    match bytes {
        b if b < 1000 => format!("{b} B"),
        b if b < 1_000_000 => format!("{:.0} kB", b as f64 / 1000.0),
        b => format!("{:.1} MB", b as f64 / 1_000_000.0),
    }
}

/// A consent request as the workspace page shows it.
struct ConsentView {
    id: String,
    version: i64,
    expert: String,
    organisation: String,
    purpose: String,
    state: String,
    /// The other organisation's controller data, when it is not the workspace's.
    controller: Option<String>,
    privacy: Option<String>,
    /// The customer may accept or decline it now.
    decide: bool,
    /// The customer may withdraw an accepted one.
    withdraw: bool,
}

pub(super) fn localized(text: Option<tenants_pb::LocalizedText>, language: Language) -> String {
    let text = text.unwrap_or_default();
    let wanted = match language {
        Language::Fi => &text.fi,
        Language::Sv => &text.sv,
        Language::En => &text.en,
    };
    [wanted, &text.fi, &text.en, &text.sv].into_iter().find(|t| !t.is_empty()).cloned().unwrap_or_default()
}

/// A role's name for people (`guide`, `advisor`, `supervisor`), or as it is if unknown.
fn role_name(t: &Texts, role: &str) -> String {
    let key = format!("web-role-{role}");
    if t.0.has_text(&key) { t.get(&key) } else { role.to_owned() }
}

/// The workspace's consent requests the caller may see (a customer's own, or all of them to
/// the owner guide); none to anyone else.
async fn consents_of(state: &AppState, caller: &Principal, workspace: &str, t: &Texts) -> Vec<ConsentView> {
    let request = consent_pb::ListConsentRequestsRequest { workspace_id: workspace.to_owned() };
    let Ok(listed) = state.consent().list_consent_requests(state.as_caller(caller, request)).await else {
        return Vec::new();
    };
    let customer = matches!(caller, Principal::Customer { .. });
    listed
        .into_inner()
        .requests
        .into_iter()
        .map(|r| {
            let consent_state =
                consent_pb::ConsentState::try_from(r.state).unwrap_or(consent_pb::ConsentState::Unspecified);
            let state_key = match consent_state {
                consent_pb::ConsentState::Accepted => "web-consent-state-accepted",
                consent_pb::ConsentState::Rejected => "web-consent-state-rejected",
                consent_pb::ConsentState::Withdrawn => "web-consent-state-withdrawn",
                consent_pb::ConsentState::Ended => "web-consent-state-ended",
                _ => "web-consent-state-pending",
            };
            let controller = r.expert_organization.as_ref().map(|p| format!("{} ({})", p.official_name, p.business_id));
            let privacy = r
                .expert_organization
                .clone()
                .map(|p| localized(p.privacy_notice_url, t.0))
                .filter(|url| url.starts_with("https://"));
            ConsentView {
                id: r.id,
                version: r.version,
                expert: format!(
                    "{} ({})",
                    r.expert_name,
                    r.expert_roles.iter().map(|role| role_name(t, role)).collect::<Vec<_>>().join(", ")
                ),
                organisation: localized(r.expert_organization_name, t.0),
                purpose: r.purpose,
                state: t.get(state_key),
                controller,
                privacy,
                decide: customer && consent_state == consent_pb::ConsentState::Pending,
                withdraw: customer && consent_state == consent_pb::ConsentState::Accepted,
            }
        })
        .collect()
}

/// A message as the conversation shows it.
pub(super) struct MessageView {
    pub(super) id: String,
    pub(super) from: String,
    pub(super) body: String,
    pub(super) at: String,
    pub(super) at_iso: String,
    pub(super) mine: bool,
    pub(super) deleted: bool,
    pub(super) files: Vec<FileView>,
}

/// A conversation of a group workspace a guide may open: the one to everyone, or one
/// customer's own thread with the guides.
struct ThreadLink {
    /// The customer's id; empty for everyone.
    id: String,
    label: String,
    current: bool,
}

#[derive(askama::Template)]
#[template(path = "workspace.html")]
struct WorkspacePage {
    shell: Shell,
    id: String,
    state: String,
    messages: Vec<MessageView>,
    /// Group workspaces, to staff: the threads to choose from (empty otherwise), and the one
    /// shown and written to (a customer's id; empty for everyone).
    threads: Vec<ThreadLink>,
    thread: String,
    /// The shown thread's name, for the headings.
    thread_label: String,
    can_write: bool,
    /// A refused message: why, by field, and what was written (so it is not lost).
    send_errors: Vec<FieldError>,
    draft: String,
    /// The owner guide invites customers here.
    can_invite: bool,
    invite: InviteForm,
    invite_errors: Vec<FieldError>,
    /// An invitation was just sent.
    invited: bool,
    /// An expert was just proposed.
    proposed: bool,
    is_customer: bool,
    consents: Vec<ConsentView>,
    /// The owner guide closes an active workspace and reopens a closed one.
    can_close: bool,
    can_reopen: bool,
    version: i64,
}

impl WorkspacePage {
    fn send_error_for(&self, field: &str) -> Option<&str> {
        FieldError::find(&self.send_errors, field)
    }
    fn invite_error_for(&self, field: &str) -> Option<&str> {
        FieldError::find(&self.invite_errors, field)
    }
}

/// A message as the conversation shows it to `me` (the reader's subject id).
pub(super) fn message_view(t: &Texts, me: Option<&str>, m: pb::Message) -> MessageView {
    let (at, at_iso) = shown(timestamp(m.created_at));
    MessageView {
        mine: me == Some(m.author_id.as_str()),
        from: t.with("web-message-from", "name", &m.author_name),
        id: m.id,
        body: m.body,
        at,
        at_iso,
        deleted: m.deleted,
        files: m
            .attachments
            .into_iter()
            .map(|f| FileView { id: f.id, name: f.name, size: size_text(f.size) })
            .collect(),
    }
}

/// What the workspace page shows besides the workspace: a refused form and what was in it.
#[derive(Default)]
pub(super) struct Extras {
    send_errors: Vec<FieldError>,
    draft: String,
    invite: InviteForm,
    invite_errors: Vec<FieldError>,
    invited: bool,
    proposed: bool,
    /// The group thread shown (a customer's id; empty for everyone).
    thread: String,
}

impl Extras {
    /// A refused message: why, by field, what was written, and to which thread.
    pub(super) fn refused_message(send_errors: Vec<FieldError>, draft: String, thread: String) -> Self {
        Self { send_errors, draft, thread, ..Self::default() }
    }
}

#[derive(Clone, Default, Deserialize)]
pub struct InviteForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    personal_identity_code: String,
    #[serde(default)]
    language: String,
}

fn state_text(t: &Texts, state: i32) -> String {
    match pb::WorkspaceState::try_from(state).unwrap_or(pb::WorkspaceState::Unspecified) {
        pb::WorkspaceState::Closed => t.get("web-workspace-state-closed"),
        pb::WorkspaceState::Archived => t.get("web-workspace-state-archived"),
        _ => t.get("web-workspace-state-active"),
    }
}

fn kind_text(t: &Texts, kind: i32) -> String {
    match pb::WorkspaceKind::try_from(kind).unwrap_or(pb::WorkspaceKind::Unspecified) {
        pb::WorkspaceKind::Group => t.get("web-workspace-kind-group"),
        _ => t.get("web-workspace-kind-personal"),
    }
}

/// Shown as day.month.year hours:minutes (UTC, said so); machine-readable in `datetime`.
pub(super) fn shown(at: DateTime<Utc>) -> (String, String) {
    (at.format("%-d.%-m.%Y %H:%M UTC").to_string(), at.to_rfc3339())
}

/// The caller's workspaces, newest first.
pub async fn list(State(state): State<AppState>, visitor: Visitor) -> Response {
    let caller = match visitor.principal() {
        Ok(caller) => caller,
        Err(answer) => return *answer,
    };
    // The operator has no workspaces: their page is the organisations'.
    if matches!(caller, Principal::Operator { .. }) {
        return visitor.finish(Redirect::to("/app/operator").into_response());
    }
    let t = Texts(visitor.language);
    let unread = super::account::unread_by_workspace(&state, &caller).await;
    let mut rows = Vec::new();
    let mut page_token = String::new();
    // A person has tens of workspaces at most; a guide's few hundred fit in a few pages.
    for _ in 0..10 {
        let request = pb::ListWorkspacesRequest { page_size: 100, page_token };
        let page = match state.workspaces().list_workspaces(state.as_caller(&caller, request)).await {
            Ok(page) => page.into_inner(),
            Err(status) => return visitor.failure(ApiError::from(status)),
        };
        for w in page.workspaces {
            let (created, created_iso) = shown(timestamp(w.created_at));
            rows.push(WorkspaceRow {
                unread: unread.get(&w.id).copied().unwrap_or(0),
                id: w.id,
                title: w.title,
                kind: kind_text(&t, w.kind),
                state: state_text(&t, w.state),
                created,
                created_iso,
            });
        }
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    let can_create = matches!(caller, Principal::Expert { .. });
    let page = WorkspacesPage { shell: visitor.shell(t.get("web-my-workspaces")), workspaces: rows, can_create };
    visitor.render(StatusCode::OK, &page)
}

#[derive(Deserialize)]
pub struct ShowQuery {
    /// Set after an invitation was sent (Post/Redirect/Get).
    invited: Option<String>,
    /// Set after an expert was proposed.
    proposed: Option<String>,
    /// Group workspaces, to staff: the customer whose thread to show (absent: everyone's).
    thread: Option<String>,
}

/// One workspace: its latest messages, oldest first, and the form to write.
pub async fn show(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(id): Path<String>,
    Query(query): Query<ShowQuery>,
) -> Response {
    let extras = Extras {
        invited: query.invited.is_some(),
        proposed: query.proposed.is_some(),
        thread: query.thread.unwrap_or_default(),
        ..Extras::default()
    };
    workspace_page(&state, &visitor, &id, StatusCode::OK, extras).await
}

/// The visitor's principal, the canonical id and the workspace it names as the visitor may
/// see it; or the answer to give instead (login, not found). Only canonical ids reach the
/// services; anything else is simply not a workspace.
pub(super) async fn visitors_workspace(
    state: &AppState,
    visitor: &Visitor,
    id: &str,
) -> Result<(Principal, String, pb::Workspace), Box<Response>> {
    let caller = visitor.principal()?;
    let id = visitor.id(id)?;
    let request = pb::GetWorkspaceRequest { workspace_id: id.clone() };
    match state.workspaces().get_workspace(state.as_caller(&caller, request)).await {
        Ok(found) => Ok((caller, id, found.into_inner())),
        Err(status) => Err(Box::new(visitor.failure(ApiError::from(status)))),
    }
}

/// The threads of a group workspace as its staff choose them: everyone's, then each customer's
/// own; `None` when `chosen` is no customer of the workspace.
async fn group_threads(
    state: &AppState,
    caller: &Principal,
    id: &str,
    t: &Texts,
    chosen: &str,
) -> Result<Option<Vec<ThreadLink>>, ApiError> {
    let mut threads =
        vec![ThreadLink { id: String::new(), label: t.get("web-thread-everyone"), current: chosen.is_empty() }];
    let mut page_token = String::new();
    // A group has tens of customers, a few pages at most.
    for _ in 0..10 {
        let request = pb::ListMembersRequest { workspace_id: id.to_owned(), page_size: 100, page_token };
        let page = state.workspaces().list_members(state.as_caller(caller, request)).await?.into_inner();
        threads.extend(page.members.into_iter().filter(|m| m.kind == "customer").map(|m| ThreadLink {
            current: m.id == chosen,
            label: t.with("web-thread-of", "name", &m.name),
            id: m.id,
        }));
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    Ok(threads.iter().any(|l| l.current).then_some(threads))
}

/// The latest [`MESSAGES_SHOWN`] messages the caller reads, newest first; with `thread`, only
/// those of that thread (a customer's id, or empty for everyone's), read through at most a few
/// pages of the whole conversation.
async fn latest_messages(
    state: &AppState,
    caller: &Principal,
    id: &str,
    thread: Option<&str>,
) -> Result<Vec<pb::Message>, ApiError> {
    let mut shown = Vec::new();
    let mut page_token = String::new();
    for _ in 0..20 {
        let request = pb::ListMessagesRequest {
            workspace_id: id.to_owned(),
            page_size: MESSAGES_SHOWN,
            page_token,
            newest_first: true,
        };
        let page = state.workspaces().list_messages(state.as_caller(caller, request)).await?.into_inner();
        shown.extend(page.messages.into_iter().filter(|m| thread.is_none_or(|t| m.thread_id == t)));
        if thread.is_none() || shown.len() >= MESSAGES_SHOWN as usize || page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    shown.truncate(MESSAGES_SHOWN as usize);
    Ok(shown)
}

pub(super) async fn workspace_page(
    state: &AppState,
    visitor: &Visitor,
    id: &str,
    status: StatusCode,
    extras: Extras,
) -> Response {
    let (caller, id, workspace) = match visitors_workspace(state, visitor, id).await {
        Ok(found) => found,
        Err(answer) => return *answer,
    };
    let t = Texts(visitor.language);
    let group = workspace.kind == pb::WorkspaceKind::Group as i32;
    // Staff of a group choose a thread; a customer reads what the service lets her (the
    // messages to everyone and her own thread).
    let (threads, thread) = if group && matches!(caller, Principal::Expert { .. }) {
        match group_threads(state, &caller, &id, &t, &extras.thread).await {
            Ok(Some(threads)) => (threads, extras.thread.clone()),
            Ok(None) => return visitor.failure(ApiError::code(ErrorCode::NotFound)),
            Err(error) => return visitor.failure(error),
        }
    } else {
        (Vec::new(), String::new())
    };
    let thread_label = threads.iter().find(|l| l.current).map(|l| l.label.clone()).unwrap_or_default();
    let wanted = (!threads.is_empty()).then_some(thread.as_str());
    let mut messages = match latest_messages(state, &caller, &id, wanted).await {
        Ok(messages) => messages,
        Err(error) => return visitor.failure(error),
    };
    messages.reverse();
    let me = crate::web::shell::subject_of(&caller);
    let messages = messages.into_iter().map(|m| message_view(&t, me.as_deref(), m)).collect();
    let id_for_consents = id.clone();
    let active = workspace.state == pb::WorkspaceState::Active as i32;
    let owner = me.as_deref() == Some(workspace.owner_id.as_str());
    let can_invite = active && owner;
    let can_reopen = owner && workspace.state == pb::WorkspaceState::Closed as i32;
    let version = workspace.version;
    let invite = InviteForm {
        language: Some(extras.invite.language)
            .filter(|l| !l.is_empty())
            .unwrap_or_else(|| visitor.language.code().to_owned()),
        ..extras.invite
    };
    let page = WorkspacePage {
        shell: visitor.shell(workspace.title),
        id,
        state: state_text(&t, workspace.state),
        messages,
        threads,
        thread,
        thread_label,
        can_write: active,
        send_errors: extras.send_errors,
        draft: extras.draft,
        can_invite,
        invite,
        invite_errors: extras.invite_errors,
        invited: extras.invited,
        proposed: extras.proposed,
        is_customer: matches!(caller, Principal::Customer { .. }),
        consents: consents_of(state, &caller, &id_for_consents, &t).await,
        can_close: can_invite,
        can_reopen,
        version,
    };
    visitor.render(status, &page)
}

/// Invites a customer (the owner guide's form on the workspace page).
pub async fn invite(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(id): Path<String>,
    Form(form): Form<InviteForm>,
) -> Response {
    let (caller, [workspace]) = match visitor.acting_on(&form.csrf_token, [&id]) {
        Ok(acting) => acting,
        Err(answer) => return *answer,
    };
    let request = pb::CreateInvitationRequest {
        workspace_id: workspace.clone(),
        email: form.email.clone(),
        language: form.language.clone(),
        personal_identity_code: form.personal_identity_code.clone(),
        request_id: String::new(),
    };
    match state.workspaces().create_invitation(state.as_caller(&caller, request)).await {
        Ok(_) => visitor.finish(Redirect::to(&format!("/app/workspaces/{workspace}?invited=1")).into_response()),
        Err(status) => {
            let error = ApiError::from(status);
            if error.0.violations.is_empty() {
                return visitor.failure(error);
            }
            let invite_errors = FieldError::of(&error, visitor.language, &[]);
            let extras = Extras { invite: form, invite_errors, ..Extras::default() };
            workspace_page(&state, &visitor, &workspace, StatusCode::UNPROCESSABLE_ENTITY, extras).await
        }
    }
}

/// One office the expert may open a workspace in.
struct OfficeChoice {
    /// `organisation id/office id`.
    value: String,
    label: String,
}

#[derive(Clone, Default, Deserialize)]
pub struct NewWorkspaceForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    office: String,
    #[serde(default)]
    kind: String,
}

#[derive(askama::Template)]
#[template(path = "new_workspace.html")]
struct NewWorkspacePage {
    shell: Shell,
    offices: Vec<OfficeChoice>,
    form: NewWorkspaceForm,
    errors: Vec<FieldError>,
}

impl NewWorkspacePage {
    fn error_for(&self, field: &str) -> Option<&str> {
        FieldError::find(&self.errors, field)
    }
}

/// The offices of the organisations the expert works for, as the expert may read them.
async fn offices_of(state: &AppState, caller: &Principal) -> Result<Vec<OfficeChoice>, ApiError> {
    let Principal::Expert { memberships, .. } = caller else { return Err(ApiError::code(ErrorCode::NotFound)) };
    let mut choices = Vec::new();
    for membership in memberships {
        let organization = membership.tenant_id.to_string();
        let request = tenants_pb::GetOrganizationRequest { id: organization.clone() };
        let name = state.tenants().get_organization(state.as_caller(caller, request)).await?.into_inner();
        let name = name.registry.map(|r| r.official_name).unwrap_or_default();
        let request = tenants_pb::ListOfficesRequest {
            organization_id: organization.clone(),
            page_size: 100,
            page_token: String::new(),
        };
        let offices = state.tenants().list_offices(state.as_caller(caller, request)).await?.into_inner().offices;
        choices.extend(offices.into_iter().map(|o| OfficeChoice {
            value: format!("{organization}/{}", o.id),
            label: if memberships.len() > 1 { format!("{} – {name}", o.name) } else { o.name },
        }));
    }
    Ok(choices)
}

async fn new_workspace_page(
    state: &AppState,
    visitor: &Visitor,
    status: StatusCode,
    form: NewWorkspaceForm,
    errors: Vec<FieldError>,
) -> Response {
    let caller = match visitor.principal() {
        Ok(caller) => caller,
        Err(answer) => return *answer,
    };
    let offices = match offices_of(state, &caller).await {
        Ok(offices) => offices,
        Err(error) => return visitor.failure(error),
    };
    let t = Texts(visitor.language);
    let page = NewWorkspacePage { shell: visitor.shell(t.get("web-workspace-new")), offices, form, errors };
    visitor.render(status, &page)
}

/// The form to open a workspace (experts).
pub async fn new_form(State(state): State<AppState>, visitor: Visitor) -> Response {
    new_workspace_page(&state, &visitor, StatusCode::OK, NewWorkspaceForm::default(), Vec::new()).await
}

/// Opens the workspace and goes to it.
pub async fn create(State(state): State<AppState>, visitor: Visitor, Form(form): Form<NewWorkspaceForm>) -> Response {
    let caller = match visitor.acting(&form.csrf_token) {
        Ok(caller) => caller,
        Err(answer) => return *answer,
    };
    let (organization, office) = form.office.split_once('/').unwrap_or_default();
    let kind = if form.kind == "group" { pb::WorkspaceKind::Group } else { pb::WorkspaceKind::Personal };
    let request = pb::CreateWorkspaceRequest {
        organization_id: organization.to_owned(),
        office_id: office.to_owned(),
        kind: kind as i32,
        title: form.title.clone(),
        topics: Vec::new(),
        request_id: String::new(),
    };
    match state.workspaces().create_workspace(state.as_caller(&caller, request)).await {
        Ok(created) => {
            visitor.finish(Redirect::to(&format!("/app/workspaces/{}", created.into_inner().id)).into_response())
        }
        Err(status) => {
            let error = ApiError::from(status);
            if error.0.violations.is_empty() {
                return visitor.failure(error);
            }
            let errors =
                FieldError::of(&error, visitor.language, &[("office_id", "office"), ("organization_id", "office")]);
            new_workspace_page(&state, &visitor, StatusCode::UNPROCESSABLE_ENTITY, form, errors).await
        }
    }
}

/// How many of the latest access-log entries the page shows.
const ACCESS_SHOWN: usize = 200;

/// An entry of the access log as its page shows it.
struct AccessView {
    at: String,
    at_iso: String,
    who: String,
    what: String,
}

#[derive(askama::Template)]
#[template(path = "access_log.html")]
struct AccessLogPage {
    shell: Shell,
    id: String,
    entries: Vec<AccessView>,
}

/// Who read what of the workspace, the latest first (at most [`ACCESS_SHOWN`] entries; the API
/// pages through all of them).
pub async fn access_log(State(state): State<AppState>, visitor: Visitor, Path(id): Path<String>) -> Response {
    let caller = match visitor.principal() {
        Ok(caller) => caller,
        Err(answer) => return *answer,
    };
    let id = match visitor.id(&id) {
        Ok(id) => id,
        Err(answer) => return *answer,
    };
    let t = Texts(visitor.language);
    // The log is kept oldest first; the page wants the latest, so it keeps the tail.
    let mut entries = std::collections::VecDeque::with_capacity(ACCESS_SHOWN);
    let mut page_token = String::new();
    loop {
        let request = pb::ListAccessLogRequest { workspace_id: id.clone(), page_size: 100, page_token };
        let page = match state.workspaces().list_access_log(state.as_caller(&caller, request)).await {
            Ok(page) => page.into_inner(),
            Err(status) => return visitor.failure(ApiError::from(status)),
        };
        for entry in page.entries {
            if entries.len() == ACCESS_SHOWN {
                entries.pop_front();
            }
            entries.push_back(entry);
        }
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    let entries = entries
        .into_iter()
        .rev()
        .map(|e| {
            let (at, at_iso) = shown(timestamp(e.at));
            let name = if e.actor_name.is_empty() { e.actor_kind.clone() } else { e.actor_name.clone() };
            let who = if e.actor_role.is_empty() { name } else { format!("{name} ({})", e.actor_role) };
            AccessView { at, at_iso, who, what: e.what }
        })
        .collect();
    let page = AccessLogPage { shell: visitor.shell(t.get("web-access-log")), id, entries };
    visitor.render(StatusCode::OK, &page)
}

#[derive(Deserialize)]
pub struct DecisionForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    version: i64,
    #[serde(default)]
    workspace: String,
    #[serde(default)]
    from_now_on_only: Option<String>,
}

/// The customer's decision on a consent request (accept, reject, withdraw), then back to the
/// workspace.
pub async fn decide(
    State(state): State<AppState>,
    visitor: Visitor,
    Path((request_id, decision)): Path<(String, String)>,
    Form(form): Form<DecisionForm>,
) -> Response {
    let caller = match visitor.acting(&form.csrf_token) {
        Ok(caller) => caller,
        Err(answer) => return *answer,
    };
    let (request_id, workspace) = match (visitor.id(&request_id), visitor.id(&form.workspace)) {
        (Ok(request_id), Ok(workspace)) => (request_id, workspace),
        (Err(answer), _) | (_, Err(answer)) => return *answer,
    };
    let decide = consent_pb::DecideConsentRequest { request_id: request_id.clone(), version: form.version };
    let consent = state.consent();
    let answer = match decision.as_str() {
        "accept" => {
            let request = consent_pb::AcceptConsentRequest {
                request_id: request_id.clone(),
                version: form.version,
                from_now_on_only: form.from_now_on_only.is_some(),
            };
            consent.clone().accept_consent(state.as_caller(&caller, request)).await
        }
        "reject" => consent.clone().reject_consent(state.as_caller(&caller, decide)).await,
        "withdraw" => consent.clone().withdraw_consent(state.as_caller(&caller, decide)).await,
        _ => return visitor.failure(ApiError::code(ErrorCode::NotFound)),
    };
    match answer {
        Ok(_) => visitor.finish(Redirect::to(&format!("/app/workspaces/{workspace}#consents")).into_response()),
        Err(status) => visitor.failure(ApiError::from(status)),
    }
}

#[derive(Deserialize)]
pub struct VersionForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    version: i64,
}

/// Closes or reopens the workspace (its owner guide), over the version the page showed.
pub async fn change_state(
    State(state): State<AppState>,
    visitor: Visitor,
    Path((id, action)): Path<(String, String)>,
    Form(form): Form<VersionForm>,
) -> Response {
    let (caller, [workspace]) = match visitor.acting_on(&form.csrf_token, [&id]) {
        Ok(acting) => acting,
        Err(answer) => return *answer,
    };
    let request = pb::ChangeStateRequest { workspace_id: workspace.clone(), version: form.version };
    let client = state.workspaces();
    let answer = match action.as_str() {
        "close" => client.clone().close_workspace(state.as_caller(&caller, request)).await,
        "reopen" => client.clone().reopen_workspace(state.as_caller(&caller, request)).await,
        _ => return visitor.failure(ApiError::code(ErrorCode::NotFound)),
    };
    match answer {
        Ok(_) => visitor.finish(Redirect::to(&format!("/app/workspaces/{workspace}")).into_response()),
        Err(status) => visitor.failure(ApiError::from(status)),
    }
}
