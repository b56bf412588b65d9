//! The gRPC face of the forms service: one `unary!` line per RPC, each handler named as its RPC.

use std::sync::Arc;

use ohjaus_platform::{
    auth::Principal,
    clock::SharedClock,
    db::Db,
    events::Outbox,
    grpc::timestamp,
    proto::forms::v1 as pb,
    service::{Core, NextAction, ServiceError, ServiceResult},
};
use tonic::{Request, Response, Status};

use crate::{
    domain::{self, CreateForm, Form, FormId},
    events, store,
};

/// The forms service.
#[derive(Clone)]
pub struct Forms {
    core: Arc<Core>,
}

impl Forms {
    pub fn new(db: Db, clock: SharedClock, outbox: Outbox) -> Self {
        Self { core: Arc::new(Core::new(db, clock, outbox)) }
    }

    /// The tonic server of this service, for a process's routes or an in-process transport.
    pub fn server(&self) -> pb::forms_service_server::FormsServiceServer<Self> {
        pb::forms_service_server::FormsServiceServer::new(self.clone())
    }

    /// Creates an unpublished form for a main user of its organisation.
    async fn create_form(&self, principal: &Principal, request: pb::CreateFormRequest) -> ServiceResult<pb::Form> {
        let command = CreateForm::parse(&request)?;
        domain::may_manage(principal, command.organization_id)?;
        let mut tx = match command.key.begin(self.core.db(), principal).await? {
            NextAction::Replay(id) => return self.form(FormId(id)).await,
            NextAction::Proceed(tx) => tx,
        };
        let form = Form {
            id: FormId::new(),
            organization_id: command.organization_id,
            name: command.name.as_str().to_owned(),
            published: false,
            version: 1,
            created_at: self.core.now(),
        };
        store::insert_form(&mut tx, &form).await?;
        command.key.remember(&mut tx, principal, form.id.as_uuid(), form.created_at).await?;
        let event =
            events::FormCreated { organization_id: form.organization_id.to_string(), form_id: form.id.to_string() };
        self.core.emit(&mut tx, form.organization_id, event).await?;
        self.core.commit(tx).await?;
        Ok(form_to_pb(&form))
    }

    /// A form this service made: a replayed request's answer.
    async fn form(&self, id: FormId) -> ServiceResult<pb::Form> {
        let form = store::find_form(self.core.db(), id).await?.ok_or_else(|| ServiceError::corrupt("replayed form"))?;
        Ok(form_to_pb(&form))
    }
}

fn form_to_pb(form: &Form) -> pb::Form {
    pb::Form {
        id: form.id.to_string(),
        organization_id: form.organization_id.to_string(),
        name: form.name.clone(),
        published: form.published,
        version: form.version,
        created_at: Some(timestamp(form.created_at)),
    }
}

#[tonic::async_trait]
impl pb::forms_service_server::FormsService for Forms {
    async fn create_form(&self, request: Request<pb::CreateFormRequest>) -> Result<Response<pb::Form>, Status> {
        ohjaus_platform::unary!(self.create_form, request)
    }
}
