//! `/app/workspaces/{id}/consents/new`: the owner guide proposes another expert — of this or
//! another organisation, from the consent directory — for a customer of the workspace. The
//! customer then decides on the workspace page.

use axum::{
    Form,
    extract::{Path, State},
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
};
use ohjaus_platform::{
    auth::Principal,
    proto::{consent::v1 as consent_pb, tenants::v1 as tenants_pb, workspaces::v1 as pb},
};
use serde::Deserialize;

use super::{
    shell::{FieldError, Shell, Texts, Visitor},
    workspaces::{localized, visitors_workspace},
};
use crate::{problem::ApiError, state::AppState};

/// The directory is read up to this many pages of 100.
const DIRECTORY_PAGES: usize = 10;

/// A customer of the workspace who may be asked.
pub(super) struct CustomerChoice {
    id: String,
    name: String,
}

/// A listed expert as the proposal form offers them.
pub(super) struct ExpertChoice {
    /// `expert id/organisation id`.
    value: String,
    name: String,
    organisation: String,
    roles: String,
    description: String,
}

#[derive(Clone, Default, Deserialize)]
pub struct ProposalForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    customer: String,
    #[serde(default)]
    expert: String,
    #[serde(default)]
    purpose: String,
    #[serde(default)]
    language: String,
}

#[derive(askama::Template)]
#[template(path = "propose.html")]
struct ProposalPage {
    shell: Shell,
    id: String,
    customers: Vec<CustomerChoice>,
    experts: Vec<ExpertChoice>,
    form: ProposalForm,
    errors: Vec<FieldError>,
}

impl ProposalPage {
    fn error_for(&self, field: &str) -> Option<&str> {
        FieldError::find(&self.errors, field)
    }
}

/// A role's name for people.
pub(super) fn role_text(t: &Texts, role: i32) -> Option<String> {
    match tenants_pb::Role::try_from(role).ok()? {
        tenants_pb::Role::Guide => Some(t.get("web-role-guide")),
        tenants_pb::Role::Advisor => Some(t.get("web-role-advisor")),
        tenants_pb::Role::Supervisor => Some(t.get("web-role-supervisor")),
        tenants_pb::Role::Admin => Some(t.get("web-role-admin")),
        tenants_pb::Role::Unspecified => None,
    }
}

/// The workspace's customers (the workspaces service answers only its members).
async fn customers_of(state: &AppState, caller: &Principal, workspace: &str) -> Result<Vec<CustomerChoice>, ApiError> {
    let request =
        pb::ListMembersRequest { workspace_id: workspace.to_owned(), page_size: 100, page_token: String::new() };
    let members = state.workspaces().list_members(state.as_caller(caller, request)).await?.into_inner().members;
    Ok(members
        .into_iter()
        .filter(|m| m.kind == "customer")
        .map(|m| CustomerChoice { id: m.id, name: m.name })
        .collect())
}

/// The consent directory: experts of active organisations who may be proposed.
async fn directory(state: &AppState, caller: &Principal, t: &Texts) -> Result<Vec<ExpertChoice>, ApiError> {
    let mut experts = Vec::new();
    let mut page_token = String::new();
    for _ in 0..DIRECTORY_PAGES {
        let request =
            tenants_pb::ListDirectoryExpertsRequest { organization_id: String::new(), page_size: 100, page_token };
        let page = state.tenants().list_directory_experts(state.as_caller(caller, request)).await?.into_inner();
        experts.extend(page.experts.into_iter().map(|e| ExpertChoice {
            value: format!("{}/{}", e.expert_id, e.organization_id),
            organisation: localized(e.organization_name, t.0),
            roles: e.roles.iter().filter_map(|r| role_text(t, *r)).collect::<Vec<_>>().join(", "),
            name: e.name,
            description: e.description,
        }));
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    Ok(experts)
}

async fn proposal_page(
    state: &AppState,
    visitor: &Visitor,
    id: &str,
    status: StatusCode,
    form: ProposalForm,
    errors: Vec<FieldError>,
) -> Response {
    let (caller, id, workspace) = match visitors_workspace(state, visitor, id).await {
        Ok(found) => found,
        Err(answer) => return *answer,
    };
    let t = Texts(visitor.language);
    // Only the owner guide proposes: anyone else finds no such page.
    if super::shell::subject_of(&caller).as_deref() != Some(workspace.owner_id.as_str()) {
        return visitor.failure(ApiError::code(ohjaus_platform::error::ErrorCode::NotFound));
    }
    let (customers, experts) = match (customers_of(state, &caller, &id).await, directory(state, &caller, &t).await) {
        (Ok(customers), Ok(experts)) => (customers, experts),
        (Err(error), _) | (_, Err(error)) => return visitor.failure(error),
    };
    let form = ProposalForm {
        language: Some(form.language.clone())
            .filter(|l| !l.is_empty())
            .unwrap_or_else(|| visitor.language.code().to_owned()),
        ..form
    };
    let page = ProposalPage { shell: visitor.shell(t.get("web-propose-title")), id, customers, experts, form, errors };
    visitor.render(status, &page)
}

/// The proposal form: the workspace's customers, the directory's experts, why.
pub async fn new_form(State(state): State<AppState>, visitor: Visitor, Path(id): Path<String>) -> Response {
    proposal_page(&state, &visitor, &id, StatusCode::OK, ProposalForm::default(), Vec::new()).await
}

/// Sends the proposal to the customer and goes back to the workspace's consents.
pub async fn propose(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(id): Path<String>,
    Form(form): Form<ProposalForm>,
) -> Response {
    let caller = match visitor.acting(&form.csrf_token) {
        Ok(caller) => caller,
        Err(answer) => return *answer,
    };
    let workspace = match visitor.id(&id) {
        Ok(id) => id,
        Err(answer) => return *answer,
    };
    let (expert, organisation) = form.expert.split_once('/').unwrap_or_default();
    let request = consent_pb::RequestConsentRequest {
        workspace_id: workspace.clone(),
        customer_id: form.customer.clone(),
        expert_id: expert.to_owned(),
        expert_organization_id: organisation.to_owned(),
        purpose: form.purpose.clone(),
        language: form.language.clone(),
        idempotency_key: String::new(),
    };
    match state.consent().request_consent(state.as_caller(&caller, request)).await {
        Ok(_) => {
            visitor.finish(Redirect::to(&format!("/app/workspaces/{workspace}?proposed=1#consents")).into_response())
        }
        Err(status) => {
            let error = ApiError::from(status);
            let errors = if error.0.violations.is_empty() {
                match error.0.code {
                    // Already in the workspace or already proposed: said of the expert.
                    ohjaus_platform::error::ErrorCode::AlreadyExists => vec![FieldError {
                        field: "expert".to_owned(),
                        message: Texts(visitor.language).get("web-propose-already"),
                    }],
                    _ => return visitor.failure(error),
                }
            } else {
                FieldError::of(
                    &error,
                    visitor.language,
                    &[("customer_id", "customer"), ("expert_id", "expert"), ("expert_organization_id", "expert")],
                )
            };
            proposal_page(&state, &visitor, &workspace, StatusCode::UNPROCESSABLE_ENTITY, form, errors).await
        }
    }
}
