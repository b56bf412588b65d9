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
    location: String,
    #[serde(default)]
    private: Option<String>,
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
}

impl GuidancePage {
    fn error_for(&self, field: &str) -> Option<&str> {
        FieldError::find(&self.errors, field)
    }
}

fn item_view(t: &Texts, kind: pb::ItemKind, expert: bool, item: pb::Item) -> ItemView {
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
            if item.starts_at.is_some() {
                details.push(shown(timestamp(item.starts_at)).0);
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
    let (caller, id, workspace) = match visitors_workspace(state, visitor, id).await {
        Ok(found) => found,
        Err(answer) => return *answer,
    };
    let t = Texts(visitor.language);
    let expert = matches!(caller, Principal::Expert { .. });
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
        let items = items.into_iter().filter(|i| !i.deleted).map(|i| item_view(&t, kind, expert, i)).collect();
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
    };
    visitor.render(status, &page)
}

/// The guidance page.
pub async fn show(State(state): State<AppState>, visitor: Visitor, Path(id): Path<String>) -> Response {
    guidance_page(&state, &visitor, &id, StatusCode::OK, ItemForm::default(), Vec::new()).await
}

/// `YYYY-MM-DDTHH:MM` (a `datetime-local` field), read as UTC as the pages show times.
fn starts_at(value: &str) -> Result<Option<ohjaus_platform::proto::prost_types::Timestamp>, FieldError> {
    if value.trim().is_empty() {
        return Ok(None);
    }
    NaiveDateTime::parse_from_str(value.trim(), "%Y-%m-%dT%H:%M")
        .map(|at| Some(ohjaus_platform::grpc::timestamp(Utc.from_utc_datetime(&at))))
        .map_err(|_| FieldError { field: "starts_at".to_owned(), message: String::new() })
}

/// Adds a phase, task, event or note; back to the page (Post/Redirect/Get), or the page with
/// the refused fields.
pub async fn create(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(id): Path<String>,
    Form(form): Form<ItemForm>,
) -> Response {
    let caller = match visitor.acting(&form.csrf_token) {
        Ok(caller) => caller,
        Err(answer) => return *answer,
    };
    let workspace = match visitor.id(&id) {
        Ok(id) => id,
        Err(answer) => return *answer,
    };
    let t = Texts(visitor.language);
    let kind = KINDS.iter().find(|(_, name)| *name == form.kind).map_or(pb::ItemKind::Unspecified, |(k, _)| *k);
    let starts_at = match starts_at(&form.starts_at) {
        Ok(at) => at,
        Err(error) => {
            let errors = vec![FieldError { message: t.get("web-event-time-invalid"), ..error }];
            return guidance_page(&state, &visitor, &workspace, StatusCode::UNPROCESSABLE_ENTITY, form, errors).await;
        }
    };
    let assignee = if form.assignee == "customer" { pb::Assignee::Customer } else { pb::Assignee::Guides };
    let fields = pb::ItemFields {
        title: form.title.clone(),
        body: form.body.clone(),
        phase_status: if kind == pb::ItemKind::Phase { pb::PhaseStatus::Planned as i32 } else { 0 },
        due_on: form.due_on.trim().to_owned(),
        assignee: if kind == pb::ItemKind::Task { assignee as i32 } else { 0 },
        starts_at,
        ends_at: None,
        location: form.location.clone(),
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
    let caller = match visitor.acting(&form.csrf_token) {
        Ok(caller) => caller,
        Err(answer) => return *answer,
    };
    let (workspace, item) = match (visitor.id(&id), visitor.id(&item)) {
        (Ok(workspace), Ok(item)) => (workspace, item),
        (Err(answer), _) | (_, Err(answer)) => return *answer,
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
    let caller = match visitor.acting(&form.csrf_token) {
        Ok(caller) => caller,
        Err(answer) => return *answer,
    };
    let workspace = match visitor.id(&id) {
        Ok(id) => id,
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
