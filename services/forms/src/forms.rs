//! Forms as data: a main user creates, reads, lists, changes (a new version each time) and
//! publishes or unpublishes the organisation's forms.

use ohjaus_platform::{
    auth::Principal,
    error::{ErrorCode, FieldViolation},
    grpc::timestamp,
    ids::{PageRequest, parse_uuid},
    proto::{forms::v1 as pb, tenants::v1 as tenants_pb},
    service::{NextAction, ServiceError, ServiceResult, peer_refusal},
};
use tonic::Request;
use uuid::Uuid;

use crate::{
    Forms,
    domain::{self, CreateForm, Form, FormId, UpdateForm},
    events, store,
};

impl Forms {
    /// Creates an unpublished form for a main user of its organisation.
    pub(crate) async fn create_form(
        &self,
        principal: &Principal,
        request: pb::CreateFormRequest,
    ) -> ServiceResult<pb::Form> {
        let command = CreateForm::parse(&request)?;
        domain::may_manage(principal, command.organization_id)?;
        let mut tx = match command.key.begin(self.db(), principal).await? {
            NextAction::Replay(id) => return self.form(FormId(id)).await.map(|f| form_to_pb(&f)),
            NextAction::Proceed(tx) => tx,
        };
        let now = self.core().now();
        let form = Form {
            id: FormId::new(),
            organization_id: command.organization_id,
            name: command.name.as_str().to_owned(),
            published: false,
            version: 1,
            created_at: now,
            updated_at: now,
            definition: None,
        };
        store::insert_form(&mut tx, &form).await?;
        command.key.remember(&mut tx, principal, form.id.as_uuid(), form.created_at).await?;
        let event =
            events::FormCreated { organization_id: form.organization_id.to_string(), form_id: form.id.to_string() };
        self.core().emit(&mut tx, form.organization_id, event).await?;
        self.core().commit(tx).await?;
        Ok(form_to_pb(&form))
    }

    pub(crate) async fn get_form(&self, principal: &Principal, request: pb::GetFormRequest) -> ServiceResult<pb::Form> {
        let form = self.managed(principal, &request.form_id).await?;
        Ok(form_to_pb(&form))
    }

    pub(crate) async fn list_forms(
        &self,
        principal: &Principal,
        request: pb::ListFormsRequest,
    ) -> ServiceResult<pb::ListFormsResponse> {
        let organization = parse_uuid("organization_id", &request.organization_id).map_err(|_| ErrorCode::NotFound)?;
        // Main users see the definitions; the queue's readers only which forms there are (its
        // filter names them), without what they ask.
        let definitions = domain::may_manage(principal, organization).is_ok();
        if !definitions {
            domain::queue::access(principal, organization)?;
        }
        let page = PageRequest::parse(request.page_size, &request.page_token)
            .map_err(|violation| ServiceError::invalid(vec![violation]))?;
        let rows = store::list_forms(self.db(), organization, page).await?;
        let (rows, next_page_token) = page.finish(rows, |f| f.id.as_uuid());
        let shown = |f: &Form| {
            let mut form = form_to_pb(f);
            if !definitions {
                form.definition = None;
            }
            form
        };
        Ok(pb::ListFormsResponse { forms: rows.iter().map(shown).collect(), next_page_token })
    }

    /// A new version of the name and definition; the office must be the organisation's.
    pub(crate) async fn update_form(
        &self,
        principal: &Principal,
        request: pb::UpdateFormRequest,
    ) -> ServiceResult<pb::Form> {
        let command = UpdateForm::parse(&request)?;
        let current = self.managed(principal, &request.form_id).await?;
        if current.version != command.expected_version {
            return Err(ErrorCode::VersionMismatch.into());
        }
        self.check_office(principal, current.organization_id, command.definition.office_id).await?;
        let now = self.core().now();
        let form = Form {
            name: command.name.as_str().to_owned(),
            version: current.version + 1,
            updated_at: now,
            definition: Some((current.version + 1, command.definition)),
            ..current
        };
        let mut tx = self.db().begin().await?;
        if !store::update_form(&mut tx, &form, command.expected_version).await? {
            return Err(ErrorCode::VersionMismatch.into());
        }
        if let Some((version, definition)) = &form.definition {
            store::insert_definition(&mut tx, form.id, *version, definition, now).await?;
        }
        let event = events::FormUpdated {
            organization_id: form.organization_id.to_string(),
            form_id: form.id.to_string(),
            version: form.version,
        };
        self.core().emit(&mut tx, form.organization_id, event).await?;
        self.core().commit(tx).await?;
        Ok(form_to_pb(&form))
    }

    /// Publishes (only with a definition) or unpublishes a form.
    pub(crate) async fn set_form_published(
        &self,
        principal: &Principal,
        request: pb::SetFormPublishedRequest,
    ) -> ServiceResult<pb::Form> {
        let expected = domain::parse_version(request.expected_version)
            .map_err(|violation| ServiceError::invalid(vec![violation]))?;
        let current = self.managed(principal, &request.form_id).await?;
        if current.version != expected {
            return Err(ErrorCode::VersionMismatch.into());
        }
        if request.published && current.definition.is_none() {
            return Err(ServiceError::invalid(vec![FieldViolation::new("definition", "form-incomplete")]));
        }
        if current.published == request.published {
            return Ok(form_to_pb(&current));
        }
        let form = Form {
            published: request.published,
            version: current.version + 1,
            updated_at: self.core().now(),
            ..current
        };
        let mut tx = self.db().begin().await?;
        if !store::update_form(&mut tx, &form, expected).await? {
            return Err(ErrorCode::VersionMismatch.into());
        }
        let event = events::FormPublished {
            organization_id: form.organization_id.to_string(),
            form_id: form.id.to_string(),
            published: form.published,
        };
        self.core().emit(&mut tx, form.organization_id, event).await?;
        self.core().commit(tx).await?;
        Ok(form_to_pb(&form))
    }

    /// A form its caller manages; to anyone else it does not exist.
    async fn managed(&self, principal: &Principal, id: &str) -> ServiceResult<Form> {
        let form = self.form(FormId::parse_ref(id)?).await?;
        domain::may_manage(principal, form.organization_id)?;
        Ok(form)
    }

    pub(crate) async fn form(&self, id: FormId) -> ServiceResult<Form> {
        store::find_form(self.db(), id).await?.ok_or_else(ServiceError::not_found)
    }

    /// The office must be one of the organisation's (asked of the tenants service as the caller).
    async fn check_office(&self, principal: &Principal, organization: Uuid, office: Uuid) -> ServiceResult<()> {
        let mut tenants = self.inner().tenants.clone();
        let mut token = String::new();
        loop {
            let mut request = Request::new(tenants_pb::ListOfficesRequest {
                organization_id: organization.to_string(),
                page_size: 100,
                page_token: token,
            });
            request.extensions_mut().insert(principal.clone());
            let page = tenants.list_offices(request).await.map_err(|s| peer_refusal("tenants", &s))?.into_inner();
            if page.offices.iter().any(|o| o.id == office.to_string()) {
                return Ok(());
            }
            if page.next_page_token.is_empty() {
                return Err(FieldViolation::new("definition.office_id", "invalid-office").into());
            }
            token = page.next_page_token;
        }
    }
}

pub(crate) fn form_to_pb(form: &Form) -> pb::Form {
    pb::Form {
        id: form.id.to_string(),
        organization_id: form.organization_id.to_string(),
        name: form.name.clone(),
        published: form.published,
        version: form.version,
        created_at: Some(timestamp(form.created_at)),
        definition: form.definition.as_ref().map(|(_, d)| d.to_pb()),
        updated_at: Some(timestamp(form.updated_at)),
    }
}
