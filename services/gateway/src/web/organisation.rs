//! `/app/organisations/{id}`: the main user's page of their organisation — its registry data,
//! offices (added here), experts with their roles and directory listing, and integration
//! clients (made here, the secret shown once; revoked here). The tenants service decides who
//! may read and change what; to anyone else the organisation is not found.

use axum::{
    Form,
    extract::{Path, State},
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Redirect, Response},
};
use ohjaus_platform::{auth::Principal, proto::tenants::v1 as pb};
use serde::Deserialize;

use super::{
    CsrfForm,
    consents::role_text,
    shell::{FieldError, Shell, Texts, Visitor},
    workspaces::{localized, shown},
};
use crate::{problem::ApiError, state::AppState, views::timestamp};

/// A labelled value of the registry data.
struct Fact {
    label: String,
    value: String,
}

struct ExpertRow {
    id: String,
    /// A guide may be handed workspaces.
    guide: bool,
    name: String,
    roles: String,
    listed: bool,
}

struct ClientRow {
    id: String,
    name: String,
    scopes: String,
    created: String,
    revoked: bool,
}

/// A client made just now: its id and secret, shown on this answer only.
struct NewSecret {
    id: String,
    secret: String,
}

#[derive(Clone, Default, Deserialize)]
pub struct OfficeForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    office_name: String,
}

#[derive(Clone, Default, Deserialize)]
pub struct ClientForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    client_name: String,
    #[serde(default)]
    read: Option<String>,
    #[serde(default)]
    write: Option<String>,
}

#[derive(Clone, Default, Deserialize)]
pub struct HandoverForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    workspace: String,
    #[serde(default)]
    new_owner: String,
}

#[derive(askama::Template)]
#[template(path = "organisation.html")]
struct OrganisationPage {
    shell: Shell,
    id: String,
    facts: Vec<Fact>,
    offices: Vec<String>,
    experts: Vec<ExpertRow>,
    clients: Vec<ClientRow>,
    office: OfficeForm,
    client: ClientForm,
    handover: HandoverForm,
    /// A workspace was just handed over.
    handed_over: bool,
    errors: Vec<FieldError>,
    new_secret: Option<NewSecret>,
}

impl OrganisationPage {
    fn error_for(&self, field: &str) -> Option<&str> {
        FieldError::find(&self.errors, field)
    }
}

/// What the page shows besides the organisation: a refused form, or a new client's secret.
#[derive(Default)]
struct Extras {
    office: OfficeForm,
    client: ClientForm,
    handover: HandoverForm,
    handed_over: bool,
    errors: Vec<FieldError>,
    new_secret: Option<NewSecret>,
}

/// What the page shows of the organisation.
struct Organisation {
    facts: Vec<Fact>,
    offices: Vec<String>,
    experts: Vec<ExpertRow>,
    clients: Vec<ClientRow>,
}

async fn read_all(state: &AppState, caller: &Principal, id: &str, t: &Texts) -> Result<Organisation, ApiError> {
    let tenants = state.tenants();
    let request = pb::GetOrganizationRequest { id: id.to_owned() };
    let organisation = tenants.clone().get_organization(state.as_caller(caller, request)).await?.into_inner();
    let registry = organisation.registry.unwrap_or_default();
    let contact = registry.contact.unwrap_or_default();
    let dpo = registry.data_protection_officer.unwrap_or_default();
    let facts = [
        ("web-org-official-name", registry.official_name.clone()),
        ("web-org-display-name", localized(registry.display_name, t.0)),
        ("web-org-business-id", registry.business_id),
        ("web-org-website", registry.website),
        (
            "web-org-contact",
            [contact.name, contact.email, contact.phone]
                .into_iter()
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>()
                .join(", "),
        ),
        ("web-org-dpo", [dpo.name, dpo.email].into_iter().filter(|s| !s.is_empty()).collect::<Vec<_>>().join(", ")),
        ("web-org-privacy", localized(registry.privacy_notice_url, t.0)),
        ("web-org-data-request", registry.data_request_url),
    ]
    .into_iter()
    .map(|(key, value)| Fact { label: t.get(key), value })
    .collect();
    let request = pb::ListOfficesRequest { organization_id: id.to_owned(), page_size: 100, page_token: String::new() };
    let offices = tenants.clone().list_offices(state.as_caller(caller, request)).await?.into_inner().offices;
    let request = pb::ListExpertsRequest { organization_id: id.to_owned(), page_size: 100, page_token: String::new() };
    let experts = tenants.clone().list_experts(state.as_caller(caller, request)).await?.into_inner().experts;
    let request =
        pb::ListIntegrationClientsRequest { organization_id: id.to_owned(), page_size: 100, page_token: String::new() };
    let clients =
        tenants.clone().list_integration_clients(state.as_caller(caller, request)).await?.into_inner().clients;
    Ok(Organisation {
        facts,
        offices: offices.into_iter().map(|o| o.name).collect(),
        experts: experts
            .into_iter()
            .map(|e| ExpertRow {
                id: e.id,
                guide: e.roles.contains(&(pb::Role::Guide as i32)),
                name: e.name,
                roles: e.roles.iter().filter_map(|r| role_text(t, *r)).collect::<Vec<_>>().join(", "),
                listed: e.listed,
            })
            .collect(),
        clients: clients
            .into_iter()
            .map(|c| ClientRow {
                id: c.id,
                name: c.name,
                scopes: c.scopes.join(", "),
                created: shown(timestamp(c.created_at)).0,
                revoked: c.revoked_at.is_some(),
            })
            .collect(),
    })
}

async fn organisation_page(
    state: &AppState,
    visitor: &Visitor,
    id: &str,
    status: StatusCode,
    extras: Extras,
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
    let found = match read_all(state, &caller, &id, &t).await {
        Ok(found) => found,
        Err(error) => return visitor.failure(error),
    };
    let secret_shown = extras.new_secret.is_some();
    let page = OrganisationPage {
        shell: visitor.shell(t.get("web-organisation")),
        id,
        facts: found.facts,
        offices: found.offices,
        experts: found.experts,
        clients: found.clients,
        office: extras.office,
        client: extras.client,
        handover: extras.handover,
        handed_over: extras.handed_over,
        errors: extras.errors,
        new_secret: extras.new_secret,
    };
    let mut response = visitor.render(status, &page);
    if secret_shown {
        // The secret is on this answer only: no cache keeps it.
        response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

#[derive(Deserialize)]
pub struct ShowQuery {
    /// Set after a workspace was handed over (Post/Redirect/Get).
    handed_over: Option<String>,
}

/// The organisation's page.
pub async fn show(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(id): Path<String>,
    axum::extract::Query(query): axum::extract::Query<ShowQuery>,
) -> Response {
    let extras = Extras { handed_over: query.handed_over.is_some(), ..Extras::default() };
    organisation_page(&state, &visitor, &id, StatusCode::OK, extras).await
}

/// Hands a workspace to another guide of the organisation, without showing its content.
pub async fn hand_over(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(id): Path<String>,
    Form(form): Form<HandoverForm>,
) -> Response {
    let caller = match visitor.acting(&form.csrf_token) {
        Ok(caller) => caller,
        Err(answer) => return *answer,
    };
    let organisation = match visitor.id(&id) {
        Ok(id) => id,
        Err(answer) => return *answer,
    };
    let t = Texts(visitor.language);
    let refused = |field: &str, key: &str, form: HandoverForm| Extras {
        errors: vec![FieldError { field: field.to_owned(), message: t.get(key) }],
        handover: form,
        ..Extras::default()
    };
    // A workspace id that is not one is no workspace (as the service would say).
    let Some(workspace) = ohjaus_platform::ids::parse_canonical(form.workspace.trim()) else {
        let extras = refused("workspace", "web-handover-no-workspace", form);
        return organisation_page(&state, &visitor, &organisation, StatusCode::UNPROCESSABLE_ENTITY, extras).await;
    };
    let request = ohjaus_platform::proto::workspaces::v1::TransferWorkspaceRequest {
        workspace_id: workspace.to_string(),
        new_owner_id: form.new_owner.clone(),
    };
    match state.workspaces().transfer_workspace(state.as_caller(&caller, request)).await {
        Ok(_) => visitor
            .finish(Redirect::to(&format!("/app/organisations/{organisation}?handed_over=1#handover")).into_response()),
        Err(status) => {
            let error = ApiError::from(status);
            let extras = match error.0.code {
                ohjaus_platform::error::ErrorCode::NotFound => refused("workspace", "web-handover-no-workspace", form),
                _ if !error.0.violations.is_empty() => Extras {
                    errors: FieldError::of(
                        &error,
                        visitor.language,
                        &[("new_owner_id", "new_owner"), ("workspace_id", "workspace")],
                    ),
                    handover: form,
                    ..Extras::default()
                },
                _ => return visitor.failure(error),
            };
            organisation_page(&state, &visitor, &organisation, StatusCode::UNPROCESSABLE_ENTITY, extras).await
        }
    }
}

/// Adds an office.
pub async fn add_office(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(id): Path<String>,
    Form(form): Form<OfficeForm>,
) -> Response {
    let caller = match visitor.acting(&form.csrf_token) {
        Ok(caller) => caller,
        Err(answer) => return *answer,
    };
    let organisation = match visitor.id(&id) {
        Ok(id) => id,
        Err(answer) => return *answer,
    };
    let request = pb::CreateOfficeRequest {
        organization_id: organisation.clone(),
        name: form.office_name.clone(),
        request_id: String::new(),
    };
    match state.tenants().create_office(state.as_caller(&caller, request)).await {
        Ok(_) => visitor.finish(Redirect::to(&format!("/app/organisations/{organisation}#offices")).into_response()),
        Err(status) => {
            let error = ApiError::from(status);
            if error.0.violations.is_empty() {
                return visitor.failure(error);
            }
            let errors = FieldError::of(&error, visitor.language, &[("name", "office_name")]);
            let extras = Extras { office: form, errors, ..Extras::default() };
            organisation_page(&state, &visitor, &organisation, StatusCode::UNPROCESSABLE_ENTITY, extras).await
        }
    }
}

/// Makes an integration client and shows its secret, once.
pub async fn add_client(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(id): Path<String>,
    Form(form): Form<ClientForm>,
) -> Response {
    let caller = match visitor.acting(&form.csrf_token) {
        Ok(caller) => caller,
        Err(answer) => return *answer,
    };
    let organisation = match visitor.id(&id) {
        Ok(id) => id,
        Err(answer) => return *answer,
    };
    let scopes = [(form.read.is_some(), "tenants.read"), (form.write.is_some(), "tenants.write")]
        .into_iter()
        .filter(|(chosen, _)| *chosen)
        .map(|(_, scope)| scope.to_owned())
        .collect();
    let request = pb::CreateIntegrationClientRequest {
        organization_id: organisation.clone(),
        name: form.client_name.clone(),
        scopes,
        request_id: String::new(),
    };
    match state.tenants().create_integration_client(state.as_caller(&caller, request)).await {
        Ok(created) => {
            let created = created.into_inner();
            let id = created.client.map(|c| c.id).unwrap_or_default();
            let extras = Extras { new_secret: Some(NewSecret { id, secret: created.secret }), ..Extras::default() };
            organisation_page(&state, &visitor, &organisation, StatusCode::OK, extras).await
        }
        Err(status) => {
            let error = ApiError::from(status);
            if error.0.violations.is_empty() {
                return visitor.failure(error);
            }
            let errors = FieldError::of(&error, visitor.language, &[("name", "client_name"), ("scopes", "read")]);
            let extras = Extras { client: form, errors, ..Extras::default() };
            organisation_page(&state, &visitor, &organisation, StatusCode::UNPROCESSABLE_ENTITY, extras).await
        }
    }
}

/// Revokes an integration client: its tokens stop working.
pub async fn revoke_client(
    State(state): State<AppState>,
    visitor: Visitor,
    Path((id, client)): Path<(String, String)>,
    Form(form): Form<CsrfForm>,
) -> Response {
    let caller = match visitor.acting(&form.csrf_token) {
        Ok(caller) => caller,
        Err(answer) => return *answer,
    };
    let (organisation, client) = match (visitor.id(&id), visitor.id(&client)) {
        (Ok(organisation), Ok(client)) => (organisation, client),
        (Err(answer), _) | (_, Err(answer)) => return *answer,
    };
    let request = pb::RevokeIntegrationClientRequest { organization_id: organisation.clone(), client_id: client };
    match state.tenants().revoke_integration_client(state.as_caller(&caller, request)).await {
        Ok(_) => visitor.finish(Redirect::to(&format!("/app/organisations/{organisation}#clients")).into_response()),
        Err(status) => visitor.failure(ApiError::from(status)),
    }
}
