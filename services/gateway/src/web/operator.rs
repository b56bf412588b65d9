//! `/app/operator`: the operator's page — the organisations on the platform, a new one
//! created from its registry data, and an organisation suspended or made active again. The
//! tenants service lets only operators do this; to anyone else the page is not found.

use axum::{
    Form,
    extract::{Path, State},
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
};
use ohjaus_platform::{error::ErrorCode, proto::tenants::v1 as pb};
use serde::Deserialize;

use super::{
    shell::{FieldError, Shell, Texts, Visitor},
    workspaces::{localized, shown},
};
use crate::{problem::ApiError, state::AppState, views::timestamp};

/// An organisation as its row shows it.
struct OrganisationRow {
    id: String,
    name: String,
    business_id: String,
    created: String,
    active: bool,
    version: i64,
}

/// One input of the new organisation's form.
struct Input {
    id: &'static str,
    label: String,
    value: String,
    kind: &'static str,
    error: Option<String>,
}

/// The registry data's form: its field, the service's name for it, its input type, required.
const FIELDS: [(&str, &str, &str); 15] = [
    ("official_name", "registry.official_name", "text"),
    ("business_id", "registry.business_id", "text"),
    ("display_name_fi", "registry.display_name.fi", "text"),
    ("display_name_sv", "registry.display_name.sv", "text"),
    ("display_name_en", "registry.display_name.en", "text"),
    ("website", "registry.website", "url"),
    ("contact_name", "registry.contact.name", "text"),
    ("contact_email", "registry.contact.email", "email"),
    ("contact_phone", "registry.contact.phone", "tel"),
    ("dpo_name", "registry.data_protection_officer.name", "text"),
    ("dpo_email", "registry.data_protection_officer.email", "email"),
    ("privacy_fi", "registry.privacy_notice_url.fi", "url"),
    ("privacy_sv", "registry.privacy_notice_url.sv", "url"),
    ("privacy_en", "registry.privacy_notice_url.en", "url"),
    ("data_request_url", "registry.data_request_url", "url"),
];

/// The new organisation's form as sent (every field by its name in [`FIELDS`]).
#[derive(Clone, Default, Deserialize)]
pub struct NewOrganisationForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(flatten)]
    values: std::collections::HashMap<String, String>,
}

impl NewOrganisationForm {
    fn get(&self, field: &str) -> String {
        self.values.get(field).map(|v| v.trim().to_owned()).unwrap_or_default()
    }
}

#[derive(askama::Template)]
#[template(path = "operator.html")]
struct OperatorPage {
    shell: Shell,
    organisations: Vec<OrganisationRow>,
    inputs: Vec<Input>,
    errors: Vec<FieldError>,
    /// What was just done, as the banner says it (a text's key).
    banner: Option<&'static str>,
}

async fn operator_page(
    state: &AppState,
    visitor: &Visitor,
    status: StatusCode,
    form: NewOrganisationForm,
    errors: Vec<FieldError>,
    banner: Option<&'static str>,
) -> Response {
    let caller = match visitor.principal() {
        Ok(caller) => caller,
        Err(answer) => return *answer,
    };
    let t = Texts(visitor.language);
    let mut organisations = Vec::new();
    let mut page_token = String::new();
    for _ in 0..10 {
        let request = pb::ListOrganizationsRequest { page_size: 100, page_token };
        let page = match state.tenants().list_organizations(state.as_caller(&caller, request)).await {
            Ok(page) => page.into_inner(),
            Err(status) => return visitor.failure(ApiError::from(status)),
        };
        organisations.extend(page.organizations.into_iter().map(|o| {
            let registry = o.registry.unwrap_or_default();
            let display = localized(registry.display_name, t.0);
            OrganisationRow {
                id: o.id,
                name: if display.is_empty() { registry.official_name } else { display },
                business_id: registry.business_id,
                created: shown(timestamp(o.created_at)).0,
                active: o.status != pb::OrganizationStatus::Suspended as i32,
                version: o.version,
            }
        }));
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    let inputs = inputs(&t, &form, &errors);
    let page = OperatorPage { shell: visitor.shell(t.get("web-operator")), organisations, inputs, errors, banner };
    visitor.render(status, &page)
}

#[derive(Deserialize)]
pub struct ShowQuery {
    /// Set after an organisation was created (Post/Redirect/Get).
    created: Option<String>,
    /// Set after an organisation's registry data was changed.
    updated: Option<String>,
}

/// The operator's page.
pub async fn show(
    State(state): State<AppState>,
    visitor: Visitor,
    axum::extract::Query(query): axum::extract::Query<ShowQuery>,
) -> Response {
    let banner = match (query.created.is_some(), query.updated.is_some()) {
        (true, _) => Some("web-operator-created"),
        (_, true) => Some("web-operator-updated"),
        _ => None,
    };
    operator_page(&state, &visitor, StatusCode::OK, NewOrganisationForm::default(), Vec::new(), banner).await
}

/// Creates an organisation from the form's registry data.
pub async fn create(
    State(state): State<AppState>,
    visitor: Visitor,
    Form(form): Form<NewOrganisationForm>,
) -> Response {
    let caller = match visitor.acting(&form.csrf_token) {
        Ok(caller) => caller,
        Err(answer) => return *answer,
    };
    let request = pb::CreateOrganizationRequest { registry: Some(registry_of(&form)), request_id: String::new() };
    match state.tenants().create_organization(state.as_caller(&caller, request)).await {
        Ok(_) => visitor.finish(Redirect::to("/app/operator?created=1").into_response()),
        Err(status) => {
            let errors = match refused_fields(&visitor, ApiError::from(status)) {
                Ok(errors) => errors,
                Err(answer) => return *answer,
            };
            operator_page(&state, &visitor, StatusCode::UNPROCESSABLE_ENTITY, form, errors, None).await
        }
    }
}

/// The form's inputs, with what was written and what was refused.
fn inputs(t: &Texts, form: &NewOrganisationForm, errors: &[FieldError]) -> Vec<Input> {
    FIELDS
        .iter()
        .map(|(id, _, kind)| Input {
            id,
            label: t.get(&format!("web-operator-{}", id.replace('_', "-"))),
            value: form.get(id),
            kind,
            error: FieldError::find(errors, id).map(str::to_owned),
        })
        .collect()
}

/// The refused fields of a refused registry, by the form's names; or the failure page.
fn refused_fields(visitor: &Visitor, error: ApiError) -> Result<Vec<FieldError>, Box<Response>> {
    match error.0.code {
        ErrorCode::AlreadyExists => Ok(vec![FieldError {
            field: "business_id".to_owned(),
            message: Texts(visitor.language).get("web-operator-exists"),
        }]),
        _ if !error.0.violations.is_empty() => {
            let mut renamed: Vec<(&str, &str)> = FIELDS.iter().map(|(id, service, _)| (*service, *id)).collect();
            renamed.push(("expected_version", "official_name"));
            Ok(FieldError::of(&error, visitor.language, &renamed))
        }
        _ => Err(Box::new(visitor.failure(error))),
    }
}

/// The registry data the form says.
fn registry_of(form: &NewOrganisationForm) -> pb::OrganizationRegistry {
    let localized_text =
        |fi: &str, sv: &str, en: &str| pb::LocalizedText { fi: form.get(fi), sv: form.get(sv), en: form.get(en) };
    pb::OrganizationRegistry {
        official_name: form.get("official_name"),
        display_name: Some(localized_text("display_name_fi", "display_name_sv", "display_name_en")),
        business_id: form.get("business_id"),
        website: form.get("website"),
        contact: Some(pb::ContactPerson {
            name: form.get("contact_name"),
            email: form.get("contact_email"),
            phone: form.get("contact_phone"),
        }),
        data_protection_officer: Some(pb::DataProtectionOfficer {
            name: form.get("dpo_name"),
            email: form.get("dpo_email"),
        }),
        privacy_notice_url: Some(localized_text("privacy_fi", "privacy_sv", "privacy_en")),
        data_request_url: form.get("data_request_url"),
    }
}

/// The registry data as the form shows it.
fn form_of(registry: pb::OrganizationRegistry, version: i64) -> NewOrganisationForm {
    let display = registry.display_name.unwrap_or_default();
    let privacy = registry.privacy_notice_url.unwrap_or_default();
    let contact = registry.contact.unwrap_or_default();
    let dpo = registry.data_protection_officer.unwrap_or_default();
    let values = [
        ("official_name", registry.official_name),
        ("business_id", registry.business_id),
        ("display_name_fi", display.fi),
        ("display_name_sv", display.sv),
        ("display_name_en", display.en),
        ("website", registry.website),
        ("contact_name", contact.name),
        ("contact_email", contact.email),
        ("contact_phone", contact.phone),
        ("dpo_name", dpo.name),
        ("dpo_email", dpo.email),
        ("privacy_fi", privacy.fi),
        ("privacy_sv", privacy.sv),
        ("privacy_en", privacy.en),
        ("data_request_url", registry.data_request_url),
        ("version", version.to_string()),
    ];
    NewOrganisationForm {
        csrf_token: String::new(),
        values: values.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
    }
}

#[derive(askama::Template)]
#[template(path = "operator_edit.html")]
struct EditPage {
    shell: Shell,
    id: String,
    version: String,
    inputs: Vec<Input>,
    errors: Vec<FieldError>,
}

async fn edit_page(
    state: &AppState,
    visitor: &Visitor,
    id: &str,
    status: StatusCode,
    written: Option<NewOrganisationForm>,
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
    let request = pb::GetOrganizationRequest { id: id.clone() };
    let found = match state.tenants().get_organization(state.as_caller(&caller, request)).await {
        Ok(found) => found.into_inner(),
        Err(status) => return visitor.failure(ApiError::from(status)),
    };
    let t = Texts(visitor.language);
    let name = found.registry.as_ref().map(|r| r.official_name.clone()).unwrap_or_default();
    let form = written.unwrap_or_else(|| form_of(found.registry.unwrap_or_default(), found.version));
    let page = EditPage {
        shell: visitor.shell(t.with("web-operator-edit", "name", &name)),
        id,
        version: form.get("version"),
        inputs: inputs(&t, &form, &errors),
        errors,
    };
    visitor.render(status, &page)
}

/// The form to change an organisation's registry data (the operator).
pub async fn edit_form(State(state): State<AppState>, visitor: Visitor, Path(id): Path<String>) -> Response {
    edit_page(&state, &visitor, &id, StatusCode::OK, None, Vec::new()).await
}

/// Changes the registry data over the version the form showed; back to the organisations.
pub async fn update(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(id): Path<String>,
    Form(form): Form<NewOrganisationForm>,
) -> Response {
    let (caller, [id]) = match visitor.acting_on(&form.csrf_token, [&id]) {
        Ok(acting) => acting,
        Err(answer) => return *answer,
    };
    let request = pb::UpdateOrganizationRequest {
        id: id.clone(),
        registry: Some(registry_of(&form)),
        expected_version: form.get("version").parse().unwrap_or_default(),
    };
    match state.tenants().update_organization(state.as_caller(&caller, request)).await {
        Ok(_) => visitor.finish(Redirect::to("/app/operator?updated=1").into_response()),
        Err(status) => {
            let errors = match refused_fields(&visitor, ApiError::from(status)) {
                Ok(errors) => errors,
                Err(answer) => return *answer,
            };
            edit_page(&state, &visitor, &id, StatusCode::UNPROCESSABLE_ENTITY, Some(form), errors).await
        }
    }
}

#[derive(Deserialize)]
pub struct StatusForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    version: i64,
}

/// Suspends an organisation (its people cannot work in it) or makes it active again.
pub async fn set_status(
    State(state): State<AppState>,
    visitor: Visitor,
    Path((id, status)): Path<(String, String)>,
    Form(form): Form<StatusForm>,
) -> Response {
    let (caller, [id]) = match visitor.acting_on(&form.csrf_token, [&id]) {
        Ok(acting) => acting,
        Err(answer) => return *answer,
    };
    let status = match status.as_str() {
        "suspend" => pb::OrganizationStatus::Suspended,
        "activate" => pb::OrganizationStatus::Active,
        _ => return visitor.failure(ApiError::code(ErrorCode::NotFound)),
    };
    let request = pb::SetOrganizationStatusRequest { id, status: status as i32, expected_version: form.version };
    match state.tenants().set_organization_status(state.as_caller(&caller, request)).await {
        Ok(_) => visitor.finish(Redirect::to("/app/operator").into_response()),
        Err(status) => visitor.failure(ApiError::from(status)),
    }
}
