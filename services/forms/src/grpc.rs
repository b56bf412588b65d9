//! The gRPC face of the forms service: the service and what its handlers share, and the trait
//! impl with one `unary!` line per RPC (each handler, named as its RPC, lives in the module of
//! its feature).

use std::sync::Arc;

use chrono::TimeDelta;
use ohjaus_platform::{
    clock::SharedClock,
    db::Db,
    events::Outbox,
    grpc::Transport,
    keyring::{Keyring, Owner},
    mail::Mailer,
    proto::{
        forms::v1 as pb, tenants::v1::tenants_service_client::TenantsServiceClient,
        workspaces::v1::workspaces_service_client::WorkspacesServiceClient,
    },
    service::Core,
    unary,
};
use tonic::{Request, Response, Status};

use crate::domain::{SubmissionId, proof::ProofKey};

/// What the service is told at start.
#[derive(Clone, Debug)]
pub struct FormsConfig {
    /// A form sent sooner after its page was served is refused (`forms.min_fill_seconds`).
    pub min_fill: TimeDelta,
    /// A challenge expires this long after it was issued (`forms.challenge_valid_seconds`).
    pub challenge_valid: TimeDelta,
    /// The largest secret number of a challenge (`forms.challenge_max_number`).
    pub challenge_max_number: u64,
    /// Signs challenges; every replica derives the same one.
    pub proof_key: ProofKey,
}

/// Who the service calls.
pub struct Peers {
    pub tenants: Transport,
    /// Conversion to a workspace.
    pub workspaces: Transport,
    /// Replies to visitors.
    pub mailer: Mailer,
}

/// The forms service.
#[derive(Clone)]
pub struct Forms {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) core: Core,
    /// The submissions' data keys, apart from their content.
    pub(crate) keyring: Keyring,
    pub(crate) tenants: TenantsServiceClient<Transport>,
    pub(crate) workspaces: WorkspacesServiceClient<Transport>,
    pub(crate) mailer: Mailer,
    pub(crate) config: FormsConfig,
}

/// What a submission's data key belongs to in the key store.
pub(crate) fn key_owner(id: SubmissionId) -> Owner {
    Owner::new(crate::KEY_OWNER, id.as_uuid())
}

impl Forms {
    pub fn new(
        db: Db,
        clock: SharedClock,
        outbox: Outbox,
        keyring: Keyring,
        peers: Peers,
        config: FormsConfig,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                core: Core::new(db, clock, outbox),
                keyring,
                tenants: TenantsServiceClient::new(peers.tenants),
                workspaces: WorkspacesServiceClient::new(peers.workspaces),
                mailer: peers.mailer,
                config,
            }),
        }
    }

    /// The tonic server of this service, for a process's routes or an in-process transport.
    pub fn server(&self) -> pb::forms_service_server::FormsServiceServer<Self> {
        pb::forms_service_server::FormsServiceServer::new(self.clone())
    }

    pub fn db(&self) -> &Db {
        self.inner.core.db()
    }

    pub(crate) fn inner(&self) -> &Inner {
        &self.inner
    }

    /// Its database, clock and outbox: `now`, `emit` and `commit`.
    pub(crate) fn core(&self) -> &Core {
        &self.inner.core
    }
}

#[tonic::async_trait]
impl pb::forms_service_server::FormsService for Forms {
    async fn create_form(&self, request: Request<pb::CreateFormRequest>) -> Result<Response<pb::Form>, Status> {
        unary!(self.create_form, request)
    }

    async fn get_form(&self, request: Request<pb::GetFormRequest>) -> Result<Response<pb::Form>, Status> {
        unary!(self.get_form, request)
    }

    async fn list_forms(
        &self,
        request: Request<pb::ListFormsRequest>,
    ) -> Result<Response<pb::ListFormsResponse>, Status> {
        unary!(self.list_forms, request)
    }

    async fn update_form(&self, request: Request<pb::UpdateFormRequest>) -> Result<Response<pb::Form>, Status> {
        unary!(self.update_form, request)
    }

    async fn set_form_published(
        &self,
        request: Request<pb::SetFormPublishedRequest>,
    ) -> Result<Response<pb::Form>, Status> {
        unary!(self.set_form_published, request)
    }

    async fn get_public_form(
        &self,
        request: Request<pb::GetPublicFormRequest>,
    ) -> Result<Response<pb::PublicForm>, Status> {
        unary!(self.get_public_form, request)
    }

    async fn issue_challenge(
        &self,
        request: Request<pb::IssueChallengeRequest>,
    ) -> Result<Response<pb::Challenge>, Status> {
        unary!(self.issue_challenge, request)
    }

    async fn submit_form(
        &self,
        request: Request<pb::SubmitFormRequest>,
    ) -> Result<Response<pb::SubmitFormResponse>, Status> {
        unary!(self.submit_form, request)
    }

    async fn delete_stale_submissions(
        &self,
        request: Request<pb::DeleteStaleSubmissionsRequest>,
    ) -> Result<Response<pb::DeleteStaleSubmissionsResponse>, Status> {
        unary!(self.delete_stale_submissions, request)
    }

    async fn delete_workspace_submissions(
        &self,
        request: Request<pb::DeleteWorkspaceSubmissionsRequest>,
    ) -> Result<Response<pb::DeleteStaleSubmissionsResponse>, Status> {
        unary!(self.delete_workspace_submissions, request)
    }

    async fn list_submissions(
        &self,
        request: Request<pb::ListSubmissionsRequest>,
    ) -> Result<Response<pb::ListSubmissionsResponse>, Status> {
        unary!(self.list_submissions, request)
    }

    async fn get_submission(
        &self,
        request: Request<pb::GetSubmissionRequest>,
    ) -> Result<Response<pb::Submission>, Status> {
        unary!(self.get_submission, request)
    }

    async fn claim_submission(
        &self,
        request: Request<pb::SubmissionActionRequest>,
    ) -> Result<Response<pb::Submission>, Status> {
        unary!(self.claim_submission, request)
    }

    async fn close_submission(
        &self,
        request: Request<pb::SubmissionActionRequest>,
    ) -> Result<Response<pb::Submission>, Status> {
        unary!(self.close_submission, request)
    }

    async fn set_submission_topic(
        &self,
        request: Request<pb::SetSubmissionTopicRequest>,
    ) -> Result<Response<pb::Submission>, Status> {
        unary!(self.set_submission_topic, request)
    }

    async fn add_submission_note(
        &self,
        request: Request<pb::AddSubmissionNoteRequest>,
    ) -> Result<Response<pb::Submission>, Status> {
        unary!(self.add_submission_note, request)
    }

    async fn reply_to_submission(
        &self,
        request: Request<pb::ReplyToSubmissionRequest>,
    ) -> Result<Response<pb::Submission>, Status> {
        unary!(self.reply_to_submission, request)
    }

    async fn create_canned_answer(
        &self,
        request: Request<pb::CreateCannedAnswerRequest>,
    ) -> Result<Response<pb::CannedAnswer>, Status> {
        unary!(self.create_canned_answer, request)
    }

    async fn list_canned_answers(
        &self,
        request: Request<pb::ListCannedAnswersRequest>,
    ) -> Result<Response<pb::ListCannedAnswersResponse>, Status> {
        unary!(self.list_canned_answers, request)
    }

    async fn delete_canned_answer(
        &self,
        request: Request<pb::DeleteCannedAnswerRequest>,
    ) -> Result<Response<pb::DeleteCannedAnswerResponse>, Status> {
        unary!(self.delete_canned_answer, request)
    }

    async fn convert_submission(
        &self,
        request: Request<pb::ConvertSubmissionRequest>,
    ) -> Result<Response<pb::Submission>, Status> {
        unary!(self.convert_submission, request)
    }
}
