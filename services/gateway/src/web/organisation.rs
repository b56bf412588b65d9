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

struct OfficeRow {
    id: String,
    name: String,
    version: i64,
    /// The name in the rename form: as it is, or as refused.
    value: String,
    error: Option<String>,
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
    #[serde(default)]
    admin: Option<String>,
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
    offices: Vec<OfficeRow>,
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
    /// A refused new name of an office: the office's id and what was written.
    renamed: Option<(String, String)>,
    client: ClientForm,
    handover: HandoverForm,
    handed_over: bool,
    errors: Vec<FieldError>,
    new_secret: Option<NewSecret>,
}

/// What the page shows of the organisation.
struct Organisation {
    facts: Vec<Fact>,
    offices: Vec<OfficeRow>,
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
        offices: offices
            .into_iter()
            .map(|o| OfficeRow { value: o.name.clone(), id: o.id, name: o.name, version: o.version, error: None })
            .collect(),
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
    let mut offices = found.offices;
    if let Some((office, written)) = extras.renamed {
        for row in offices.iter_mut().filter(|o| o.id == office) {
            row.error = FieldError::find(&extras.errors, &format!("office-{office}")).map(str::to_owned);
            row.value = written.clone();
        }
    }
    let page = OrganisationPage {
        shell: visitor.shell(t.get("web-organisation")),
        id,
        facts: found.facts,
        offices,
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
    let (caller, [organisation]) = match visitor.acting_on(&form.csrf_token, [&id]) {
        Ok(acting) => acting,
        Err(answer) => return *answer,
    };
    let t = Texts(visitor.language);
    let refuse = |field: &str, key: &str, form: HandoverForm| Extras {
        errors: vec![FieldError { field: field.to_owned(), message: t.get(key) }],
        handover: form,
        ..Extras::default()
    };
    // A workspace id that is not one is no workspace (as the service would say).
    let Some(workspace) = ohjaus_platform::ids::parse_canonical(form.workspace.trim()) else {
        let extras = refuse("workspace", "web-handover-no-workspace", form);
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
                ohjaus_platform::error::ErrorCode::NotFound => refuse("workspace", "web-handover-no-workspace", form),
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

/// How a form of these pages ends: on to `done` (Post/Redirect/Get) when the service took it;
/// the page `again` with the refused fields (the service's names `rename`d to the form's) when
/// it refused fields; the failure page for anything else.
async fn form_answer<T, Again>(
    visitor: &Visitor,
    answer: Result<tonic::Response<T>, tonic::Status>,
    done: impl FnOnce(T) -> String,
    rename: &[(&str, &str)],
    again: impl FnOnce(Vec<FieldError>) -> Again,
) -> Response
where
    Again: Future<Output = Response>,
{
    match answer {
        Ok(answer) => visitor.finish(Redirect::to(&done(answer.into_inner())).into_response()),
        Err(status) => refused(visitor, status, rename, again).await,
    }
}

/// The page `again` with the refused fields of the service's refusal, or the failure page when
/// it refused no field.
async fn refused<Again>(
    visitor: &Visitor,
    status: tonic::Status,
    rename: &[(&str, &str)],
    again: impl FnOnce(Vec<FieldError>) -> Again,
) -> Response
where
    Again: Future<Output = Response>,
{
    let error = ApiError::from(status);
    if error.0.violations.is_empty() {
        return visitor.failure(error);
    }
    again(FieldError::of(&error, visitor.language, rename)).await
}

/// Adds an office.
pub async fn add_office(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(id): Path<String>,
    Form(form): Form<OfficeForm>,
) -> Response {
    let (caller, [organisation]) = match visitor.acting_on(&form.csrf_token, [&id]) {
        Ok(acting) => acting,
        Err(answer) => return *answer,
    };
    let request = pb::CreateOfficeRequest {
        organization_id: organisation.clone(),
        name: form.office_name.clone(),
        request_id: String::new(),
    };
    let answer = state.tenants().create_office(state.as_caller(&caller, request)).await;
    let (state, visitor, organisation) = (&state, &visitor, organisation.as_str());
    let done = |_| format!("/app/organisations/{organisation}#offices");
    form_answer(visitor, answer, done, &[("name", "office_name")], async move |errors| {
        let extras = Extras { office: form, errors, ..Extras::default() };
        organisation_page(state, visitor, organisation, StatusCode::UNPROCESSABLE_ENTITY, extras).await
    })
    .await
}

#[derive(Deserialize)]
pub struct RenameForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    version: i64,
    #[serde(default)]
    office_name: String,
}

/// Changes an office's name, over the version the page showed.
pub async fn rename_office(
    State(state): State<AppState>,
    visitor: Visitor,
    Path((id, office)): Path<(String, String)>,
    Form(form): Form<RenameForm>,
) -> Response {
    let (caller, [organisation, office]) = match visitor.acting_on(&form.csrf_token, [&id, &office]) {
        Ok(acting) => acting,
        Err(answer) => return *answer,
    };
    let request = pb::UpdateOfficeRequest {
        organization_id: organisation.clone(),
        office_id: office.clone(),
        name: form.office_name.clone(),
        expected_version: form.version,
    };
    let answer = state.tenants().update_office(state.as_caller(&caller, request)).await;
    let (state, visitor, organisation) = (&state, &visitor, organisation.as_str());
    let field = format!("office-{office}");
    let done = |_| format!("/app/organisations/{organisation}#offices");
    let rename = [("name", field.as_str()), ("expected_version", field.as_str())];
    form_answer(visitor, answer, done, &rename, async move |errors| {
        let extras = Extras { renamed: Some((office, form.office_name)), errors, ..Extras::default() };
        organisation_page(state, visitor, organisation, StatusCode::UNPROCESSABLE_ENTITY, extras).await
    })
    .await
}

/// Makes an integration client and shows its secret, once.
pub async fn add_client(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(id): Path<String>,
    Form(form): Form<ClientForm>,
) -> Response {
    let (caller, [organisation]) = match visitor.acting_on(&form.csrf_token, [&id]) {
        Ok(acting) => acting,
        Err(answer) => return *answer,
    };
    let scopes = [
        (form.read.is_some(), "tenants.read"),
        (form.write.is_some(), "tenants.write"),
        (form.admin.is_some(), "tenants.admin"),
    ]
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
            let (state, visitor, organisation) = (&state, &visitor, organisation.as_str());
            let rename = [("name", "client_name"), ("scopes", "read")];
            refused(visitor, status, &rename, async move |errors| {
                let extras = Extras { client: form, errors, ..Extras::default() };
                organisation_page(state, visitor, organisation, StatusCode::UNPROCESSABLE_ENTITY, extras).await
            })
            .await
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
    let (caller, [organisation, client]) = match visitor.acting_on(&form.csrf_token, [&id, &client]) {
        Ok(acting) => acting,
        Err(answer) => return *answer,
    };
    let request = pb::RevokeIntegrationClientRequest { organization_id: organisation.clone(), client_id: client };
    match state.tenants().revoke_integration_client(state.as_caller(&caller, request)).await {
        Ok(_) => visitor.finish(Redirect::to(&format!("/app/organisations/{organisation}#clients")).into_response()),
        Err(status) => visitor.failure(ApiError::from(status)),
    }
}

/// A role as the expert page offers it.
struct RoleChoice {
    value: &'static str,
    label: String,
    checked: bool,
}

/// The roles the page offers, in its order, with their form names.
const ROLES: [(pb::Role, &str); 4] = [
    (pb::Role::Guide, "guide"),
    (pb::Role::Advisor, "advisor"),
    (pb::Role::Supervisor, "supervisor"),
    (pb::Role::Admin, "admin"),
];

#[derive(Clone, Default, Deserialize)]
pub struct RolesForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    version: i64,
    #[serde(default)]
    guide: Option<String>,
    #[serde(default)]
    advisor: Option<String>,
    #[serde(default)]
    supervisor: Option<String>,
    #[serde(default)]
    admin: Option<String>,
}

impl RolesForm {
    fn chosen(&self) -> Vec<pb::Role> {
        let marks = [&self.guide, &self.advisor, &self.supervisor, &self.admin];
        ROLES.iter().zip(marks).filter(|(_, mark)| mark.is_some()).map(|((role, _), _)| *role).collect()
    }
}

#[derive(Clone, Default, Deserialize)]
pub struct ListingForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    version: i64,
    #[serde(default)]
    listed: Option<String>,
    #[serde(default)]
    description: String,
}

#[derive(askama::Template)]
#[template(path = "expert.html")]
struct ExpertPage {
    shell: Shell,
    id: String,
    expert: String,
    email: String,
    roles: Vec<RoleChoice>,
    listed: bool,
    description: String,
    version: i64,
    errors: Vec<FieldError>,
}

impl ExpertPage {
    fn error_for(&self, field: &str) -> Option<&str> {
        FieldError::find(&self.errors, field)
    }
}

/// A refused form of the expert page, to show again as written.
enum Written {
    Roles(RolesForm),
    Listing(ListingForm),
}

async fn expert_page(
    state: &AppState,
    visitor: &Visitor,
    (id, expert): (&str, &str),
    status: StatusCode,
    written: Option<Written>,
    errors: Vec<FieldError>,
) -> Response {
    let caller = match visitor.principal() {
        Ok(caller) => caller,
        Err(answer) => return *answer,
    };
    let (id, expert) = match (visitor.id(id), visitor.id(expert)) {
        (Ok(id), Ok(expert)) => (id, expert),
        (Err(answer), _) | (_, Err(answer)) => return *answer,
    };
    let request = pb::GetExpertRequest { organization_id: id.clone(), expert_id: expert };
    let found = match state.tenants().get_expert(state.as_caller(&caller, request)).await {
        Ok(found) => found.into_inner(),
        Err(status) => return visitor.failure(ApiError::from(status)),
    };
    let t = Texts(visitor.language);
    let mut held: Vec<pb::Role> = found.roles.iter().filter_map(|r| pb::Role::try_from(*r).ok()).collect();
    let (mut listed, mut description) = (found.listed, found.listing_description.clone());
    match written {
        Some(Written::Roles(form)) => held = form.chosen(),
        Some(Written::Listing(form)) => (listed, description) = (form.listed.is_some(), form.description),
        None => {}
    }
    let roles = ROLES
        .iter()
        .map(|(role, value)| RoleChoice {
            value,
            label: role_text(&t, *role as i32).unwrap_or_default(),
            checked: held.contains(role),
        })
        .collect();
    let page = ExpertPage {
        shell: visitor.shell(found.name),
        id,
        expert: found.id,
        email: found.email,
        roles,
        listed,
        description,
        version: found.version,
        errors,
    };
    visitor.render(status, &page)
}

/// An expert of the organisation: their roles and their listing in the consent directory.
pub async fn expert(
    State(state): State<AppState>,
    visitor: Visitor,
    Path((id, expert)): Path<(String, String)>,
) -> Response {
    expert_page(&state, &visitor, (&id, &expert), StatusCode::OK, None, Vec::new()).await
}

/// Grants and revokes the expert's roles (what is checked is what they hold).
pub async fn set_roles(
    State(state): State<AppState>,
    visitor: Visitor,
    Path((id, expert)): Path<(String, String)>,
    Form(form): Form<RolesForm>,
) -> Response {
    let (caller, [organisation, expert]) = match visitor.acting_on(&form.csrf_token, [&id, &expert]) {
        Ok(acting) => acting,
        Err(answer) => return *answer,
    };
    let request = pb::SetExpertRolesRequest {
        organization_id: organisation.clone(),
        expert_id: expert.clone(),
        roles: form.chosen().into_iter().map(|r| r as i32).collect(),
        expected_version: form.version,
    };
    let answer = state.tenants().set_expert_roles(state.as_caller(&caller, request)).await;
    let (state, visitor, place) = (&state, &visitor, (organisation.as_str(), expert.as_str()));
    let done = |_| format!("/app/organisations/{organisation}#experts");
    form_answer(visitor, answer, done, &[("expected_version", "roles")], async move |errors| {
        let written = Some(Written::Roles(form));
        expert_page(state, visitor, place, StatusCode::UNPROCESSABLE_ENTITY, written, errors).await
    })
    .await
}

/// Lists the expert in the consent directory, with a short public description, or takes them
/// off it.
pub async fn set_listing(
    State(state): State<AppState>,
    visitor: Visitor,
    Path((id, expert)): Path<(String, String)>,
    Form(form): Form<ListingForm>,
) -> Response {
    let (caller, [organisation, expert]) = match visitor.acting_on(&form.csrf_token, [&id, &expert]) {
        Ok(acting) => acting,
        Err(answer) => return *answer,
    };
    let request = pb::SetExpertListingRequest {
        organization_id: organisation.clone(),
        expert_id: expert.clone(),
        listed: form.listed.is_some(),
        description: form.description.clone(),
        expected_version: form.version,
    };
    let answer = state.tenants().set_expert_listing(state.as_caller(&caller, request)).await;
    let (state, visitor, place) = (&state, &visitor, (organisation.as_str(), expert.as_str()));
    let done = |_| format!("/app/organisations/{organisation}#experts");
    form_answer(visitor, answer, done, &[("expected_version", "listed")], async move |errors| {
        let written = Some(Written::Listing(form));
        expert_page(state, visitor, place, StatusCode::UNPROCESSABLE_ENTITY, written, errors).await
    })
    .await
}
