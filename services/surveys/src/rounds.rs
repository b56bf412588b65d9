//! The rounds of a workspace: a guide asks, the customer answers and submits, both see the
//! change. Answers are sealed with the workspace's data key in this service's key store.

use ohjaus_platform::{
    auth::Principal,
    error::{ErrorCode, FieldViolation},
    grpc::timestamp,
    ids::parse_canonical,
    keyring::Owner,
    proto::surveys::v1 as pb,
    service::{NextAction, ServiceError, ServiceResult},
};

use crate::{
    KEY_OWNER,
    domain::{
        Instrument,
        rounds::{self, Answers, AskRound, Kind, Round, RoundId, Standing},
    },
    events,
    grpc::Surveys,
    store::{self, RoundRow},
};

impl Surveys {
    pub(crate) async fn ask_round(
        &self,
        principal: &Principal,
        request: pb::AskRoundRequest,
    ) -> ServiceResult<pb::Round> {
        let command = AskRound::parse(&request)?;
        rounds::may_ask(&self.standing(principal, command.workspace_id).await?)?;
        if !self.is_customer_of(command.customer_id, command.workspace_id).await? {
            return Err(FieldViolation::new("customer_id", "invalid-round-customer").into());
        }
        let instrument = store::find_instrument(self.core().db(), &command.instrument_id, None)
            .await?
            .ok_or_else(|| ServiceError::from(FieldViolation::new("instrument_id", "invalid-instrument")))?
            .instrument;
        let Principal::Expert { person_id, .. } = principal else { return Err(ServiceError::not_found()) };
        let mut tx = match command.key.begin(self.core().db(), principal).await? {
            NextAction::Replay(id) => {
                let row = store::find_round(self.core().db(), RoundId(id))
                    .await?
                    .ok_or_else(|| ServiceError::corrupt("replayed round"))?;
                return self.round_to_pb(row).await;
            }
            NextAction::Proceed(tx) => tx,
        };
        let row = RoundRow {
            id: RoundId::new(),
            workspace_id: command.workspace_id,
            customer_id: command.customer_id,
            kind: command.kind.as_str().to_owned(),
            instrument_id: instrument.id.clone(),
            instrument_version: i64::from(instrument.version),
            asked_by: *person_id,
            asked_at: self.core().now(),
            submitted_at: None,
            answers_sealed: None,
            version: 1,
        };
        store::insert_round(&mut tx, &row).await?;
        command.key.remember(&mut tx, principal, row.id.as_uuid(), row.asked_at).await?;
        let event = events::RoundAsked {
            workspace_id: row.workspace_id.to_string(),
            round_id: row.id.to_string(),
            customer_id: row.customer_id.to_string(),
        };
        self.outbox().write(&mut tx, None, &event).await?;
        self.core().commit(tx).await?;
        self.round_to_pb(row).await
    }

    pub(crate) async fn list_rounds(
        &self,
        principal: &Principal,
        request: pb::ListRoundsRequest,
    ) -> ServiceResult<pb::ListRoundsResponse> {
        let workspace = parse_canonical(&request.workspace_id).ok_or(ErrorCode::NotFound)?;
        let standing = self.standing(principal, workspace).await?;
        if standing == Standing::Stranger {
            return Err(ServiceError::not_found());
        }
        let mut rounds = Vec::new();
        for row in store::rounds_of_workspace(self.core().db(), workspace).await? {
            let round = self.open(row).await?;
            if rounds::may_see(principal, &standing, &round.0) {
                rounds.push(round_pb(&round.0, &round.1));
            }
        }
        Ok(pb::ListRoundsResponse { rounds })
    }

    pub(crate) async fn get_round(
        &self,
        principal: &Principal,
        request: pb::GetRoundRequest,
    ) -> ServiceResult<pb::Round> {
        let (round, instrument) = self.visible(principal, &request.round_id).await?;
        Ok(round_pb(&round, &instrument))
    }

    pub(crate) async fn save_answers(
        &self,
        principal: &Principal,
        request: pb::SaveAnswersRequest,
    ) -> ServiceResult<pb::Round> {
        let id = RoundId::parse_ref(&request.round_id)?;
        let row = store::find_round(self.core().db(), id).await?.ok_or_else(ServiceError::not_found)?;
        let (mut round, instrument) = self.open(row).await?;
        rounds::may_answer(principal, &round)?;
        let answers = Answers::parse(&instrument, &request.answers).map_err(ServiceError::invalid)?;
        let now = self.core().now();
        let submitted_at = request.submit.then_some(now);
        let sealed = self.seal(&round, &answers).await?;
        let mut tx = self.core().db().begin().await?;
        if !store::save_answers(&mut tx, round.id, round.version, sealed, submitted_at).await? {
            // Submitted or saved by a twin request in the meantime.
            return Err(ErrorCode::VersionMismatch.into());
        }
        if submitted_at.is_some() {
            let event =
                events::RoundSubmitted { workspace_id: round.workspace_id.to_string(), round_id: round.id.to_string() };
            self.outbox().write(&mut tx, None, &event).await?;
        }
        self.core().commit(tx).await?;
        round.answers = answers;
        round.submitted_at = submitted_at;
        round.version += 1;
        Ok(round_pb(&round, &instrument))
    }

    pub(crate) async fn compare_rounds(
        &self,
        principal: &Principal,
        request: pb::CompareRoundsRequest,
    ) -> ServiceResult<pb::Comparison> {
        let (from, from_instrument) = self.visible(principal, &request.from_round_id).await?;
        let (to, to_instrument) = self.visible(principal, &request.to_round_id).await?;
        let changes = rounds::compare((&from, &from_instrument), (&to, &to_instrument)).map_err(ServiceError::from)?;
        Ok(pb::Comparison {
            from_round_id: from.id.to_string(),
            to_round_id: to.id.to_string(),
            items: changes
                .into_iter()
                .map(|c| pb::ItemChange {
                    item: c.item,
                    key: c.key,
                    from: c.from.as_ref().map(|(v, _)| *v),
                    from_band: c.from.map(|(_, b)| b).unwrap_or_default(),
                    to: c.to.as_ref().map(|(v, _)| *v),
                    to_band: c.to.map(|(_, b)| b).unwrap_or_default(),
                    change: c.change.and_then(|d| i32::try_from(d).ok()),
                })
                .collect(),
        })
    }

    /// A round the caller may see, with its instrument version; anything else is not found.
    async fn visible(&self, principal: &Principal, id: &str) -> ServiceResult<(Round, Instrument)> {
        let id = RoundId::parse_ref(id)?;
        let row = store::find_round(self.core().db(), id).await?.ok_or_else(ServiceError::not_found)?;
        let standing = self.standing(principal, row.workspace_id).await?;
        let (round, instrument) = self.open(row).await?;
        if !rounds::may_see(principal, &standing, &round) {
            return Err(ServiceError::not_found());
        }
        Ok((round, instrument))
    }

    async fn round_to_pb(&self, row: RoundRow) -> ServiceResult<pb::Round> {
        let (round, instrument) = self.open(row).await?;
        Ok(round_pb(&round, &instrument))
    }

    /// The round with its answers opened, and its instrument version.
    async fn open(&self, row: RoundRow) -> ServiceResult<(Round, Instrument)> {
        let version = u32::try_from(row.instrument_version).map_err(|_| ServiceError::corrupt("round's version"))?;
        let instrument = store::find_instrument(self.core().db(), &row.instrument_id, Some(version))
            .await?
            .ok_or_else(|| ServiceError::corrupt("round's instrument"))?
            .instrument;
        let answers = match &row.answers_sealed {
            None => Answers::default(),
            Some(sealed) => {
                let key = self
                    .keyring()
                    .find(Owner::new(KEY_OWNER, row.workspace_id))
                    .await?
                    .ok_or_else(|| ServiceError::corrupt("workspace's data key"))?;
                let plain = key
                    .open(sealed, row.id.as_uuid().as_bytes())
                    .map_err(|_| ServiceError::corrupt("round's answers"))?;
                serde_json::from_slice(&plain).map_err(|_| ServiceError::corrupt("round's answers"))?
            }
        };
        let kind = Kind::parse("kind", &row.kind).map_err(|_| ServiceError::corrupt("round's kind"))?;
        let round = Round {
            id: row.id,
            workspace_id: row.workspace_id,
            customer_id: row.customer_id,
            kind,
            instrument_id: row.instrument_id,
            instrument_version: version,
            asked_by: row.asked_by,
            asked_at: row.asked_at,
            submitted_at: row.submitted_at,
            answers,
            version: row.version,
        };
        Ok((round, instrument))
    }

    async fn seal(&self, round: &Round, answers: &Answers) -> ServiceResult<Vec<u8>> {
        let key = self.keyring().ensure(Owner::new(KEY_OWNER, round.workspace_id)).await?;
        let plain = serde_json::to_vec(answers).map_err(|_| ServiceError::corrupt("answers"))?;
        key.seal(&plain, round.id.as_uuid().as_bytes()).map_err(|_| ServiceError::corrupt("sealing answers"))
    }
}

/// A round with one answer per item of its instrument (no value: no answer).
fn round_pb(round: &Round, instrument: &Instrument) -> pb::Round {
    pb::Round {
        id: round.id.to_string(),
        workspace_id: round.workspace_id.to_string(),
        customer_id: round.customer_id.to_string(),
        kind: round.kind.as_str().to_owned(),
        instrument_id: round.instrument_id.clone(),
        instrument_version: round.instrument_version,
        asked_at: Some(timestamp(round.asked_at)),
        submitted_at: round.submitted_at.map(timestamp),
        answers: instrument
            .items
            .iter()
            .map(|item| {
                let value = round.answers.0.get(&item.number).copied();
                pb::Answer {
                    item: item.number,
                    value,
                    band: value.and_then(|v| instrument.band_of(v)).map(|b| b.key.clone()).unwrap_or_default(),
                }
            })
            .collect(),
        version: round.version,
    }
}
