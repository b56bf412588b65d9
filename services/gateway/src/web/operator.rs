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
    created: bool,
}

async fn operator_page(
    state: &AppState,
    visitor: &Visitor,
    status: StatusCode,
    form: NewOrganisationForm,
    errors: Vec<FieldError>,
    created: bool,
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
    let inputs = FIELDS
        .iter()
        .map(|(id, _, kind)| Input {
            id,
            label: t.get(&format!("web-operator-{}", id.replace('_', "-"))),
            value: form.get(id),
            kind,
            error: FieldError::find(&errors, id).map(str::to_owned),
        })
        .collect();
    let page = OperatorPage { shell: visitor.shell(t.get("web-operator")), organisations, inputs, errors, created };
    visitor.render(status, &page)
}

#[derive(Deserialize)]
pub struct ShowQuery {
    /// Set after an organisation was created (Post/Redirect/Get).
    created: Option<String>,
}

/// The operator's page.
pub async fn show(
    State(state): State<AppState>,
    visitor: Visitor,
    axum::extract::Query(query): axum::extract::Query<ShowQuery>,
) -> Response {
    operator_page(&state, &visitor, StatusCode::OK, NewOrganisationForm::default(), Vec::new(), query.created.is_some())
        .await
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
    let localized_text =
        |fi: &str, sv: &str, en: &str| pb::LocalizedText { fi: form.get(fi), sv: form.get(sv), en: form.get(en) };
    let registry = pb::OrganizationRegistry {
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
    };
    let request = pb::CreateOrganizationRequest { registry: Some(registry), request_id: String::new() };
    match state.tenants().create_organization(state.as_caller(&caller, request)).await {
        Ok(_) => visitor.finish(Redirect::to("/app/operator?created=1").into_response()),
        Err(status) => {
            let error = ApiError::from(status);
            let errors = match error.0.code {
                ErrorCode::AlreadyExists => vec![FieldError {
                    field: "business_id".to_owned(),
                    message: Texts(visitor.language).get("web-operator-exists"),
                }],
                _ if !error.0.violations.is_empty() => {
                    let renamed: Vec<(&str, &str)> = FIELDS.iter().map(|(id, service, _)| (*service, *id)).collect();
                    FieldError::of(&error, visitor.language, &renamed)
                }
                _ => return visitor.failure(error),
            };
            operator_page(&state, &visitor, StatusCode::UNPROCESSABLE_ENTITY, form, errors, false).await
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
    let caller = match visitor.acting(&form.csrf_token) {
        Ok(caller) => caller,
        Err(answer) => return *answer,
    };
    let id = match visitor.id(&id) {
        Ok(id) => id,
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
