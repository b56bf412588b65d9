//! `/app/workspaces/{id}/guidance`: the guidance of a workspace — its phases, tasks (marked done
//! here), events, notes (shared, and the reader's private ones) and summary — and the forms that
//! add to it. Who may write what is the workspaces service's rule; the page offers the forms
//! by role and shows any refusal by its fields.

use axum::{
    Form,
    extract::{Path, State},
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
};
use chrono::{NaiveDateTime, TimeZone, Utc};
use ohjaus_platform::{auth::Principal, proto::workspaces::v1 as pb};
use serde::Deserialize;

use super::{
    shell::{FieldError, Shell, Texts, Visitor},
    workspaces::{shown, visitors_workspace},
};
use crate::{problem::ApiError, state::AppState, views::timestamp};

/// The kinds in the order the page shows them.
const KINDS: [(pb::ItemKind, &str); 4] = [
    (pb::ItemKind::Phase, "phase"),
    (pb::ItemKind::Task, "task"),
    (pb::ItemKind::Event, "event"),
    (pb::ItemKind::Note, "note"),
];

/// An item as the page shows it.
struct ItemView {
    id: String,
    version: i64,
    title: String,
    body: String,
    /// Status, due day, assignee, time and place, "only you": what the kind has.
    details: Vec<String>,
    done: bool,
    /// Tasks: the form to mark it done (or not done again).
    can_toggle: bool,
    /// The link to change or remove it (what the service lets the reader write).
    can_edit: bool,
}

/// One kind's items under its heading.
struct Section {
    kind: &'static str,
    heading: String,
    items: Vec<ItemView>,
}

#[derive(Clone, Default, Deserialize)]
pub struct ItemForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    body: String,
    #[serde(default)]
    due_on: String,
    #[serde(default)]
    assignee: String,
    #[serde(default)]
    starts_at: String,
    #[serde(default)]
    ends_at: String,
    #[serde(default)]
    location: String,
    #[serde(default)]
    private: Option<String>,
    /// Phases being changed: `planned`, `current` or `done`.
    #[serde(default)]
    phase_status: String,
    /// Changes: the version the writer saw.
    #[serde(default)]
    version: i64,
}

#[derive(askama::Template)]
#[template(path = "guidance.html")]
struct GuidancePage {
    shell: Shell,
    id: String,
    sections: Vec<Section>,
    summary: String,
    summary_by: String,
    summary_version: i64,
    /// Guides and experts run the guidance; a customer adds shared notes.
    expert: bool,
    can_write: bool,
    form: ItemForm,
    errors: Vec<FieldError>,
    /// An item was just removed.
    removed: bool,
}

impl GuidancePage {
    fn error_for(&self, field: &str) -> Option<&str> {
        FieldError::find(&self.errors, field)
    }
}

/// A time as a `datetime-local` field shows it (UTC, as the pages show times).
fn local_time(at: Option<ohjaus_platform::proto::prost_types::Timestamp>) -> String {
    if at.is_none() {
        return String::new();
    }
    timestamp(at).format("%Y-%m-%dT%H:%M").to_string()
}

/// The phase status's form value.
fn phase_value(status: i32) -> &'static str {
    match pb::PhaseStatus::try_from(status) {
        Ok(pb::PhaseStatus::Current) => "current",
        Ok(pb::PhaseStatus::Done) => "done",
        _ => "planned",
    }
}

/// Whether `me` may change the item: staff write phases, tasks and events; a note is its
/// author's (the service says so again).
fn may_edit(kind: pb::ItemKind, expert: bool, me: Option<&str>, item: &pb::Item) -> bool {
    if kind == pb::ItemKind::Note { me == Some(item.author_id.as_str()) } else { expert }
}

fn item_view(t: &Texts, kind: pb::ItemKind, expert: bool, me: Option<&str>, item: pb::Item) -> ItemView {
    let can_edit = may_edit(kind, expert, me, &item);
    let mut details = Vec::new();
    match kind {
        pb::ItemKind::Phase => details.push(match pb::PhaseStatus::try_from(item.phase_status) {
            Ok(pb::PhaseStatus::Current) => t.get("web-phase-current"),
            Ok(pb::PhaseStatus::Done) => t.get("web-phase-done"),
            _ => t.get("web-phase-planned"),
        }),
        pb::ItemKind::Task => {
            if !item.due_on.is_empty() {
                details.push(t.with("web-task-due", "day", &item.due_on));
            }
            details.push(match pb::Assignee::try_from(item.assignee) {
                Ok(pb::Assignee::Customer) => t.get("web-task-for-customer"),
                _ => t.get("web-task-for-guides"),
            });
        }
        pb::ItemKind::Event => {
            match (item.starts_at.is_some(), item.ends_at.is_some()) {
                (true, true) => details.push(format!(
                    "{} – {}",
                    shown(timestamp(item.starts_at)).0,
                    shown(timestamp(item.ends_at)).0
                )),
                (true, false) => details.push(shown(timestamp(item.starts_at)).0),
                (false, true) => details.push(t.with("web-event-until", "at", &shown(timestamp(item.ends_at)).0)),
                (false, false) => {}
            }
            if !item.location.is_empty() {
                details.push(item.location.clone());
            }
        }
        _ => {
            if item.private {
                details.push(t.get("web-note-private"));
            }
        }
    }
    if !item.author_name.is_empty() {
        details.push(item.author_name.clone());
    }
    let customer_task = pb::Assignee::try_from(item.assignee) == Ok(pb::Assignee::Customer);
    ItemView {
        id: item.id,
        version: item.version,
        title: item.title,
        body: item.body,
        details,
        done: item.completed_at.is_some(),
        can_toggle: kind == pb::ItemKind::Task && (expert || customer_task),
        can_edit,
    }
}

async fn guidance_page(
    state: &AppState,
    visitor: &Visitor,
    id: &str,
    status: StatusCode,
    form: ItemForm,
    errors: Vec<FieldError>,
) -> Response {
    guidance_page_with(state, visitor, id, status, form, errors, false).await
}

async fn guidance_page_with(
    state: &AppState,
    visitor: &Visitor,
    id: &str,
    status: StatusCode,
    form: ItemForm,
    errors: Vec<FieldError>,
    removed: bool,
) -> Response {
    let (caller, id, workspace) = match visitors_workspace(state, visitor, id).await {
        Ok(found) => found,
        Err(answer) => return *answer,
    };
    let t = Texts(visitor.language);
    let expert = matches!(caller, Principal::Expert { .. });
    let me = super::shell::subject_of(&caller);
    let mut sections = Vec::new();
    for (kind, name) in KINDS {
        let request = pb::ListItemsRequest {
            workspace_id: id.clone(),
            kind: kind as i32,
            page_size: 100,
            page_token: String::new(),
        };
        let items = match state.workspaces().list_items(state.as_caller(&caller, request)).await {
            Ok(page) => page.into_inner().items,
            Err(status) => return visitor.failure(ApiError::from(status)),
        };
        let items =
            items.into_iter().filter(|i| !i.deleted).map(|i| item_view(&t, kind, expert, me.as_deref(), i)).collect();
        sections.push(Section { kind: name, heading: t.get(&format!("web-guidance-{name}s")), items });
    }
    let request = pb::GetSummaryRequest { workspace_id: id.clone() };
    let summary = match state.workspaces().get_summary(state.as_caller(&caller, request)).await {
        Ok(found) => found.into_inner(),
        Err(status) => return visitor.failure(ApiError::from(status)),
    };
    let summary_by = if summary.version == 0 {
        String::new()
    } else {
        let (at, _) = shown(timestamp(summary.updated_at));
        format!("{} · {at}", summary.updated_by_name)
    };
    let page = GuidancePage {
        shell: visitor.shell(format!("{} – {}", t.get("web-guidance"), workspace.title)),
        id,
        sections,
        summary: summary.text,
        summary_by,
        summary_version: summary.version,
        expert,
        can_write: workspace.state == pb::WorkspaceState::Active as i32,
        form: ItemForm { kind: Some(form.kind.clone()).filter(|k| !k.is_empty()).unwrap_or("task".to_owned()), ..form },
        errors,
        removed,
    };
    visitor.render(status, &page)
}

#[derive(Deserialize)]
pub struct ShowQuery {
    /// Set after an item was removed (Post/Redirect/Get).
    removed: Option<String>,
}

/// The guidance page.
pub async fn show(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(id): Path<String>,
    axum::extract::Query(query): axum::extract::Query<ShowQuery>,
) -> Response {
    let removed = query.removed.is_some();
    guidance_page_with(&state, &visitor, &id, StatusCode::OK, ItemForm::default(), Vec::new(), removed).await
}

/// `YYYY-MM-DDTHH:MM` (a `datetime-local` field), read as UTC as the pages show times.
fn time_field(value: &str) -> Result<Option<ohjaus_platform::proto::prost_types::Timestamp>, ()> {
    if value.trim().is_empty() {
        return Ok(None);
    }
    NaiveDateTime::parse_from_str(value.trim(), "%Y-%m-%dT%H:%M")
        .map(|at| Some(ohjaus_platform::grpc::timestamp(Utc.from_utc_datetime(&at))))
        .map_err(|_| ())
}

/// What the form says of an item of `kind`, or its times' refusals (the service checks the
/// rest, all at once).
fn fields_of(form: &ItemForm, kind: pb::ItemKind, t: &Texts) -> Result<pb::ItemFields, Vec<FieldError>> {
    let starts_at = time_field(&form.starts_at);
    let ends_at = time_field(&form.ends_at);
    let mut errors = Vec::new();
    for (field, parsed, key) in
        [("starts_at", &starts_at, "web-event-time-invalid"), ("ends_at", &ends_at, "web-event-end-invalid")]
    {
        if parsed.is_err() {
            errors.push(FieldError { field: field.to_owned(), message: t.get(key) });
        }
    }
    let (Ok(starts_at), Ok(ends_at)) = (starts_at, ends_at) else { return Err(errors) };
    let assignee = if form.assignee == "customer" { pb::Assignee::Customer } else { pb::Assignee::Guides };
    let phase_status = match form.phase_status.as_str() {
        "current" => pb::PhaseStatus::Current,
        "done" => pb::PhaseStatus::Done,
        _ => pb::PhaseStatus::Planned,
    };
    let event = kind == pb::ItemKind::Event;
    Ok(pb::ItemFields {
        title: form.title.clone(),
        body: form.body.clone(),
        phase_status: if kind == pb::ItemKind::Phase { phase_status as i32 } else { 0 },
        due_on: form.due_on.trim().to_owned(),
        assignee: if kind == pb::ItemKind::Task { assignee as i32 } else { 0 },
        starts_at: if event { starts_at } else { None },
        ends_at: if event { ends_at } else { None },
        location: form.location.clone(),
    })
}

/// Adds a phase, task, event or note; back to the page (Post/Redirect/Get), or the page with
/// the refused fields.
pub async fn create(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(id): Path<String>,
    Form(form): Form<ItemForm>,
) -> Response {
    let (caller, [workspace]) = match visitor.acting_on(&form.csrf_token, [&id]) {
        Ok(acting) => acting,
        Err(answer) => return *answer,
    };
    let t = Texts(visitor.language);
    let kind = KINDS.iter().find(|(_, name)| *name == form.kind).map_or(pb::ItemKind::Unspecified, |(k, _)| *k);
    let fields = match fields_of(&form, kind, &t) {
        Ok(fields) => fields,
        Err(errors) => {
            return guidance_page(&state, &visitor, &workspace, StatusCode::UNPROCESSABLE_ENTITY, form, errors).await;
        }
    };
    let author_name = visitor.session.as_ref().map(|s| s.resolved.display_name.clone()).unwrap_or_default();
    let request = pb::CreateItemRequest {
        workspace_id: workspace.clone(),
        kind: kind as i32,
        fields: Some(fields),
        thread_id: String::new(),
        private: form.private.is_some(),
        author_name,
        request_id: String::new(),
    };
    match state.workspaces().create_item(state.as_caller(&caller, request)).await {
        Ok(_) => visitor.finish(Redirect::to(&format!("/app/workspaces/{workspace}/guidance")).into_response()),
        Err(status) => {
            let error = ApiError::from(status);
            if error.0.violations.is_empty() {
                return visitor.failure(error);
            }
            let errors = FieldError::of(&error, visitor.language, &[]);
            guidance_page(&state, &visitor, &workspace, StatusCode::UNPROCESSABLE_ENTITY, form, errors).await
        }
    }
}

#[derive(Deserialize)]
pub struct DoneForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    version: i64,
    #[serde(default)]
    done: String,
}

/// Marks a task done, or not done again.
pub async fn set_done(
    State(state): State<AppState>,
    visitor: Visitor,
    Path((id, item)): Path<(String, String)>,
    Form(form): Form<DoneForm>,
) -> Response {
    let (caller, [workspace, item]) = match visitor.acting_on(&form.csrf_token, [&id, &item]) {
        Ok(acting) => acting,
        Err(answer) => return *answer,
    };
    let request = pb::SetTaskDoneRequest {
        workspace_id: workspace.clone(),
        item_id: item,
        version: form.version,
        done: form.done == "true",
    };
    match state.workspaces().set_task_done(state.as_caller(&caller, request)).await {
        Ok(_) => visitor.finish(Redirect::to(&format!("/app/workspaces/{workspace}/guidance#tasks")).into_response()),
        Err(status) => visitor.failure(ApiError::from(status)),
    }
}

#[derive(Deserialize)]
pub struct SummaryForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    version: i64,
    #[serde(default)]
    summary: String,
}

/// Writes the summary (guides and experts), over the version the writer saw.
pub async fn put_summary(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(id): Path<String>,
    Form(form): Form<SummaryForm>,
) -> Response {
    let (caller, [workspace]) = match visitor.acting_on(&form.csrf_token, [&id]) {
        Ok(acting) => acting,
        Err(answer) => return *answer,
    };
    let author_name = visitor.session.as_ref().map(|s| s.resolved.display_name.clone()).unwrap_or_default();
    let request = pb::PutSummaryRequest {
        workspace_id: workspace.clone(),
        text: form.summary,
        version: form.version,
        author_name,
    };
    match state.workspaces().put_summary(state.as_caller(&caller, request)).await {
        Ok(_) => visitor.finish(Redirect::to(&format!("/app/workspaces/{workspace}/guidance#summary")).into_response()),
        Err(status) => {
            let error = ApiError::from(status);
            if error.0.violations.is_empty() {
                return visitor.failure(error);
            }
            let errors = FieldError::of(&error, visitor.language, &[("text", "summary")]);
            guidance_page(&state, &visitor, &workspace, StatusCode::UNPROCESSABLE_ENTITY, ItemForm::default(), errors)
                .await
        }
    }
}

#[derive(askama::Template)]
#[template(path = "item_edit.html")]
struct ItemEditPage {
    shell: Shell,
    id: String,
    item: String,
    /// The item's kind (`phase`, `task`, `event`, `note`).
    kind: &'static str,
    form: ItemForm,
    errors: Vec<FieldError>,
}

impl ItemEditPage {
    fn error_for(&self, field: &str) -> Option<&str> {
        FieldError::find(&self.errors, field)
    }
}

/// The item as the visitor may change it (its kind's name and the item), or the answer to give
/// instead: not found when it is not there for them, or is not theirs to change.
async fn editable_item(
    state: &AppState,
    visitor: &Visitor,
    id: &str,
    item: &str,
) -> Result<(Principal, String, &'static str, pb::Item), Box<Response>> {
    let (caller, id, _) = visitors_workspace(state, visitor, id).await?;
    let item = visitor.id(item)?;
    let request = pb::ItemRef { workspace_id: id.clone(), item_id: item, version: 0 };
    let found = match state.workspaces().get_item(state.as_caller(&caller, request)).await {
        Ok(found) => found.into_inner(),
        Err(status) => return Err(Box::new(visitor.failure(ApiError::from(status)))),
    };
    let kind = pb::ItemKind::try_from(found.kind).unwrap_or(pb::ItemKind::Unspecified);
    let name = KINDS.iter().find(|(k, _)| *k == kind).map(|(_, name)| *name);
    let me = super::shell::subject_of(&caller);
    match name {
        Some(name)
            if !found.deleted && may_edit(kind, matches!(caller, Principal::Expert { .. }), me.as_deref(), &found) =>
        {
            Ok((caller, id, name, found))
        }
        _ => Err(Box::new(visitor.failure(ApiError::code(ohjaus_platform::error::ErrorCode::NotFound)))),
    }
}

async fn item_edit_page(
    state: &AppState,
    visitor: &Visitor,
    (id, item): (&str, &str),
    status: StatusCode,
    form: Option<ItemForm>,
    errors: Vec<FieldError>,
) -> Response {
    let (_, id, kind, found) = match editable_item(state, visitor, id, item).await {
        Ok(found) => found,
        Err(answer) => return *answer,
    };
    let t = Texts(visitor.language);
    // First the item as it is; after a refusal, what was written.
    let form = form.unwrap_or_else(|| ItemForm {
        kind: kind.to_owned(),
        title: found.title.clone(),
        body: found.body.clone(),
        due_on: found.due_on.clone(),
        assignee: if pb::Assignee::try_from(found.assignee) == Ok(pb::Assignee::Customer) {
            "customer".to_owned()
        } else {
            "guides".to_owned()
        },
        starts_at: local_time(found.starts_at),
        ends_at: local_time(found.ends_at),
        location: found.location.clone(),
        phase_status: phase_value(found.phase_status).to_owned(),
        version: found.version,
        ..ItemForm::default()
    });
    let title = t.get(&format!("web-item-edit-{kind}"));
    let page = ItemEditPage { shell: visitor.shell(title), id, item: found.id, kind, form, errors };
    visitor.render(status, &page)
}

/// The form to change an item, and to remove it.
pub async fn edit_form(
    State(state): State<AppState>,
    visitor: Visitor,
    Path((id, item)): Path<(String, String)>,
) -> Response {
    item_edit_page(&state, &visitor, (&id, &item), StatusCode::OK, None, Vec::new()).await
}

/// Changes an item over the version the writer saw; back to the guidance page, or the form
/// with the refused fields.
pub async fn update(
    State(state): State<AppState>,
    visitor: Visitor,
    Path((id, item)): Path<(String, String)>,
    Form(form): Form<ItemForm>,
) -> Response {
    let (caller, [workspace, item]) = match visitor.acting_on(&form.csrf_token, [&id, &item]) {
        Ok(acting) => acting,
        Err(answer) => return *answer,
    };
    let t = Texts(visitor.language);
    let kind = KINDS.iter().find(|(_, name)| *name == form.kind).map_or(pb::ItemKind::Unspecified, |(k, _)| *k);
    let refused = async |form, errors| {
        item_edit_page(&state, &visitor, (&workspace, &item), StatusCode::UNPROCESSABLE_ENTITY, Some(form), errors)
            .await
    };
    let fields = match fields_of(&form, kind, &t) {
        Ok(fields) => fields,
        Err(errors) => return refused(form, errors).await,
    };
    let request = pb::UpdateItemRequest {
        workspace_id: workspace.clone(),
        item_id: item.clone(),
        version: form.version,
        fields: Some(fields),
    };
    match state.workspaces().update_item(state.as_caller(&caller, request)).await {
        Ok(updated) => {
            let anchor = format!("i-{}", updated.into_inner().id);
            visitor.finish(Redirect::to(&format!("/app/workspaces/{workspace}/guidance#{anchor}")).into_response())
        }
        Err(status) => {
            let error = ApiError::from(status);
            if error.0.violations.is_empty() {
                return visitor.failure(error);
            }
            let errors = FieldError::of(&error, visitor.language, &[]);
            refused(form, errors).await
        }
    }
}

#[derive(Deserialize)]
pub struct DeleteForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    version: i64,
}

/// Removes an item (it keeps its place without content); back to the guidance page.
pub async fn delete(
    State(state): State<AppState>,
    visitor: Visitor,
    Path((id, item)): Path<(String, String)>,
    Form(form): Form<DeleteForm>,
) -> Response {
    let (caller, [workspace, item]) = match visitor.acting_on(&form.csrf_token, [&id, &item]) {
        Ok(acting) => acting,
        Err(answer) => return *answer,
    };
    let request = pb::ItemRef { workspace_id: workspace.clone(), item_id: item, version: form.version };
    match state.workspaces().delete_item(state.as_caller(&caller, request)).await {
        Ok(_) => {
            visitor.finish(Redirect::to(&format!("/app/workspaces/{workspace}/guidance?removed=1")).into_response())
        }
        Err(status) => visitor.failure(ApiError::from(status)),
    }
}
