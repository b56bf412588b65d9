//! The gRPC face of the surveys service: one `unary!` line per RPC, each handler named as its RPC.

use std::sync::Arc;

use ohjaus_platform::{
    auth::Principal,
    clock::SharedClock,
    db::Db,
    events::Outbox,
    grpc::{Transport, timestamp},
    keyring::Keyring,
    proto::{surveys::v1 as pb, workspaces::v1::workspaces_service_client::WorkspacesServiceClient},
    service::{Core, ServiceError, ServiceResult},
};
use tonic::{Request, Response, Status};

use crate::{
    domain::{self, GetInstrument, Instrument, Loading, disclosure::Threshold, instrument},
    events,
    store::{self, StoredInstrument},
};

/// The surveys service.
#[derive(Clone)]
pub struct Surveys {
    core: Arc<Core>,
    outbox: Outbox,
    keyring: Keyring,
    workspaces: WorkspacesServiceClient<Transport>,
    // Reports (issue 15): distinct customers a published cell needs.
    report_threshold: Threshold,
}

impl Surveys {
    /// `keyring` is this service's key store; `workspaces` reaches the workspaces service.
    pub fn new(db: Db, clock: SharedClock, outbox: Outbox, keyring: Keyring, workspaces: Transport) -> Self {
        Self {
            core: Arc::new(Core::new(db, clock, outbox.clone())),
            outbox,
            keyring,
            workspaces: WorkspacesServiceClient::new(workspaces),
            report_threshold: Threshold::default(),
        }
    }

    /// Reports (issue 15): the disclosure threshold (at least 15 unless built with
    /// `Threshold::development` for tests and development).
    pub fn with_report_threshold(mut self, threshold: Threshold) -> Self {
        self.report_threshold = threshold;
        self
    }

    pub(crate) fn report_threshold(&self) -> Threshold {
        self.report_threshold
    }

    pub(crate) fn core(&self) -> &Core {
        &self.core
    }

    pub(crate) fn outbox(&self) -> &Outbox {
        &self.outbox
    }

    pub(crate) fn keyring(&self) -> &Keyring {
        &self.keyring
    }

    pub(crate) fn workspaces(&self) -> WorkspacesServiceClient<Transport> {
        self.workspaces.clone()
    }

    /// The tonic server of this service, for a process's routes or an in-process transport.
    pub fn server(&self) -> pb::surveys_service_server::SurveysServiceServer<Self> {
        pb::surveys_service_server::SurveysServiceServer::new(self.clone())
    }

    /// Stores the instruments shipped with the binary (start-up): a version not yet stored is
    /// stored, one stored with other content stops the start (a shipped file was edited in
    /// place instead of getting a new version).
    pub async fn load_embedded_instruments(&self) -> Result<(), String> {
        for document in crate::EMBEDDED_INSTRUMENTS {
            let instrument = Instrument::parse(document).map_err(|violations| {
                let fields: Vec<String> = violations.iter().map(|v| format!("{} ({})", v.field, v.reason)).collect();
                format!("a shipped instrument file is invalid: {}", fields.join(", "))
            })?;
            match self.load(instrument.clone()).await {
                Ok(_) => {}
                Err(ServiceError::Refused(_)) => {
                    return Err(format!(
                        "the shipped instrument {} version {} differs from the one stored: a change needs a new version",
                        instrument.id, instrument.version
                    ));
                }
                Err(other) => return Err(other.to_string()),
            }
        }
        Ok(())
    }

    async fn list_instruments(
        &self,
        _principal: &Principal,
        _request: pb::ListInstrumentsRequest,
    ) -> ServiceResult<pb::ListInstrumentsResponse> {
        let stored = store::list_instruments(self.core.db()).await?;
        Ok(pb::ListInstrumentsResponse { instruments: stored.iter().map(instrument_to_pb).collect() })
    }

    async fn get_instrument(
        &self,
        _principal: &Principal,
        request: pb::GetInstrumentRequest,
    ) -> ServiceResult<pb::Instrument> {
        let query = GetInstrument::parse(&request)?;
        let stored = store::find_instrument(self.core.db(), &query.id, query.version)
            .await?
            .ok_or_else(ServiceError::not_found)?;
        Ok(instrument_to_pb(&stored))
    }

    /// The operator loads an instrument file: stored if new, answered as stored if unchanged,
    /// refused if it changes a version already stored.
    async fn load_instrument(
        &self,
        principal: &Principal,
        request: pb::LoadInstrumentRequest,
    ) -> ServiceResult<pb::Instrument> {
        domain::may_load_instruments(principal)?;
        let instrument = Instrument::parse(&request.document).map_err(ServiceError::invalid)?;
        Ok(instrument_to_pb(&self.load(instrument).await?))
    }

    async fn load(&self, instrument: Instrument) -> ServiceResult<StoredInstrument> {
        let mut tx = self.core.db().begin().await?;
        let stored = store::find_instrument(&mut tx, &instrument.id, Some(instrument.version)).await?;
        match instrument::loading(stored.as_ref().map(|s| &s.instrument), &instrument) {
            Loading::Unchanged => return stored.ok_or_else(|| ServiceError::corrupt("stored instrument")),
            Loading::Changed => return Err(ServiceError::conflict(vec![instrument::changed_version()])),
            Loading::New => {}
        }
        let loaded_at = self.core.now();
        store::insert_instrument(&mut tx, &instrument, loaded_at).await?;
        let event = events::InstrumentLoaded { instrument_id: instrument.id.clone(), version: instrument.version };
        // Instruments belong to the platform, not to an organisation.
        self.outbox.write(&mut tx, None, &event).await?;
        self.core.commit(tx).await?;
        Ok(StoredInstrument { instrument, loaded_at })
    }
}

fn localized(text: &instrument::Localized) -> Option<pb::Localized> {
    Some(pb::Localized { fi: text.fi.clone(), sv: text.sv.clone(), en: text.en.clone() })
}

fn instrument_to_pb(stored: &StoredInstrument) -> pb::Instrument {
    let i = &stored.instrument;
    pb::Instrument {
        id: i.id.clone(),
        version: i.version,
        name: localized(&i.name),
        attribution: i.attribution.clone(),
        text_sources: localized(&i.text_sources),
        prompt: localized(&i.prompt),
        scale: Some(pb::Scale {
            min: i.scale.min,
            max: i.scale.max,
            anchors: i
                .scale
                .anchors
                .iter()
                .map(|a| pb::Anchor { value: a.value, label: localized(&a.label) })
                .collect(),
        }),
        bands: i
            .bands
            .iter()
            .map(|b| pb::Band { key: b.key.clone(), from: b.from, to: b.to, label: localized(&b.label) })
            .collect(),
        items: i
            .items
            .iter()
            .map(|item| pb::Item {
                number: item.number,
                key: item.key.clone(),
                label: localized(&item.label),
                text: localized(&item.text),
            })
            .collect(),
        loaded_at: Some(timestamp(stored.loaded_at)),
    }
}

#[tonic::async_trait]
impl pb::surveys_service_server::SurveysService for Surveys {
    async fn list_instruments(
        &self,
        request: Request<pb::ListInstrumentsRequest>,
    ) -> Result<Response<pb::ListInstrumentsResponse>, Status> {
        ohjaus_platform::unary!(self.list_instruments, request)
    }

    async fn get_instrument(
        &self,
        request: Request<pb::GetInstrumentRequest>,
    ) -> Result<Response<pb::Instrument>, Status> {
        ohjaus_platform::unary!(self.get_instrument, request)
    }

    async fn load_instrument(
        &self,
        request: Request<pb::LoadInstrumentRequest>,
    ) -> Result<Response<pb::Instrument>, Status> {
        ohjaus_platform::unary!(self.load_instrument, request)
    }

    async fn ask_round(&self, request: Request<pb::AskRoundRequest>) -> Result<Response<pb::Round>, Status> {
        ohjaus_platform::unary!(self.ask_round, request)
    }

    async fn list_rounds(
        &self,
        request: Request<pb::ListRoundsRequest>,
    ) -> Result<Response<pb::ListRoundsResponse>, Status> {
        ohjaus_platform::unary!(self.list_rounds, request)
    }

    async fn get_round(&self, request: Request<pb::GetRoundRequest>) -> Result<Response<pb::Round>, Status> {
        ohjaus_platform::unary!(self.get_round, request)
    }

    async fn save_answers(&self, request: Request<pb::SaveAnswersRequest>) -> Result<Response<pb::Round>, Status> {
        ohjaus_platform::unary!(self.save_answers, request)
    }

    async fn compare_rounds(
        &self,
        request: Request<pb::CompareRoundsRequest>,
    ) -> Result<Response<pb::Comparison>, Status> {
        ohjaus_platform::unary!(self.compare_rounds, request)
    }

    async fn delete_workspace_answers(
        &self,
        request: Request<pb::DeleteWorkspaceAnswersRequest>,
    ) -> Result<Response<pb::DeleteWorkspaceAnswersResponse>, Status> {
        ohjaus_platform::unary!(self.delete_workspace_answers, request)
    }

    // Feedback and reports (issue 15).
    async fn list_feedback_statements(
        &self,
        request: Request<pb::ListFeedbackStatementsRequest>,
    ) -> Result<Response<pb::ListFeedbackStatementsResponse>, Status> {
        ohjaus_platform::unary!(self.list_feedback_statements, request)
    }

    async fn give_feedback(
        &self,
        request: Request<pb::GiveFeedbackRequest>,
    ) -> Result<Response<pb::GiveFeedbackResponse>, Status> {
        ohjaus_platform::unary!(self.give_feedback, request)
    }

    async fn get_report(&self, request: Request<pb::GetReportRequest>) -> Result<Response<pb::Report>, Status> {
        ohjaus_platform::unary!(self.get_report, request)
    }
}
