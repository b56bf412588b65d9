//! The reports: supervisors and main users read their organisation's, the operator the
//! platform's. Reports never open the sealed answers at query time: a submitted round is taken
//! in once (its answers opened, each answered item written as a de-identified fact: place,
//! month, time, item, value and a one-way pseudonym of the customer) and every report reads
//! only the facts. A published monthly report is frozen (its suppressed aggregates, no texts)
//! and read as frozen from then on.

use std::collections::HashMap;

use ohjaus_platform::{
    auth::Principal,
    grpc::timestamp,
    keyring::Owner,
    proto::{surveys::v1 as pb, workspaces::v1 as workspaces_pb},
    service::{ServiceError, ServiceResult, peer_refusal},
};
use prost::Message;
use rand::seq::SliceRandom;
use sha2::{Digest, Sha256};
use tonic::Request;
use uuid::Uuid;

use crate::{
    KEY_OWNER, SERVICE,
    domain::{
        Instrument, feedback,
        reports::{self, Band, Fact, GetReport, Measure, Places, Scope},
        rounds::Answers,
    },
    grpc::Surveys,
    store::{
        self,
        reports::{self as report_store, AnswerFact, Placement},
    },
};

/// How many rounds one intake batch takes in.
const INTAKE_BATCH: i64 = 200;

/// The customer's pseudonym in the facts: one-way, the same in every workspace (so that a
/// customer counts once in an organisation), never stored beside her id.
pub(crate) fn customer_key(customer: Uuid) -> i64 {
    let digest =
        Sha256::new().chain_update(b"ohjaus-surveys-report-customer:").chain_update(customer.as_bytes()).finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    i64::from_be_bytes(first)
}

impl Surveys {
    pub(crate) async fn get_report(
        &self,
        principal: &Principal,
        request: pb::GetReportRequest,
    ) -> ServiceResult<pb::Report> {
        let query = GetReport::parse(principal, &request)?;
        let threshold = self.report_threshold();
        let scope_key = query.scope.key();
        let now = self.core().now();
        let frozen = query.period.is_closed_month(now);
        if frozen {
            let stored = report_store::find_frozen(
                self.core().db(),
                &scope_key,
                &query.instrument_id,
                &query.period.text,
                threshold.get(),
            )
            .await?;
            if let Some(content) = stored {
                return pb::Report::decode(content.as_slice()).map_err(|_| ServiceError::corrupt("frozen report"));
            }
        }
        let instrument = store::find_instrument(self.core().db(), &query.instrument_id, None)
            .await?
            .ok_or_else(ServiceError::not_found)?
            .instrument;
        self.take_in_rounds().await?;
        let mut report = self.compute_report(&query, &instrument).await?;
        if frozen {
            report.frozen_at = Some(timestamp(now));
            // Aggregates only: the free texts stay with the answers they came from.
            report.texts.clear();
            let content = report.clone();
            let mut tx = self.core().db().begin().await?;
            report_store::freeze(
                &mut tx,
                &scope_key,
                &query.instrument_id,
                &query.period.text,
                threshold.get(),
                content.encode_to_vec(),
                now,
            )
            .await?;
            tx.commit().await?;
            // A twin request may have frozen first: the stored one is the report.
            if let Some(stored) = report_store::find_frozen(
                self.core().db(),
                &scope_key,
                &query.instrument_id,
                &query.period.text,
                threshold.get(),
            )
            .await?
            {
                return pb::Report::decode(stored.as_slice()).map_err(|_| ServiceError::corrupt("frozen report"));
            }
        }
        Ok(report)
    }

    /// The report from the facts: one pattern per item over the whole place hierarchy.
    pub(crate) async fn compute_report(&self, query: &GetReport, instrument: &Instrument) -> ServiceResult<pb::Report> {
        let organization = match query.scope {
            Scope::Platform => None,
            Scope::Organization(id) => Some(id),
        };
        let db = self.core().db();
        let (first, last) = (query.period.first.as_str(), query.period.last.as_str());
        let answers = report_store::answers(db, &instrument.id, first, last, organization).await?;
        let ratings = report_store::ratings(db, first, last, organization).await?;
        let texts = report_store::texts(db, first, last, organization).await?;
        let threshold = self.report_threshold();
        let text_facts: Vec<Fact> = texts
            .iter()
            .map(|t| Fact {
                organization: t.placement.organization_id,
                office: t.placement.office_id,
                customer: t.customer_key,
                at: 0,
                item: 0,
                value: 0,
            })
            .collect();
        let places = Places::new(query.scope, answers.iter().chain(&ratings).chain(&text_facts))
            .map_err(|_| ServiceError::corrupt("report's places"))?;
        let meter = Measure {
            items: instrument.items.iter().map(|i| (i.number, i.key.clone())).collect(),
            bands: instrument.bands.iter().map(|b| Band { key: b.key.clone(), from: b.from, to: b.to }).collect(),
            impact: true,
        };
        let statements = Measure {
            items: feedback::STATEMENTS.iter().map(|s| (s.number, s.key.to_owned())).collect(),
            bands: feedback::bands(),
            impact: false,
        };
        let too_large = |_| ServiceError::corrupt("report table");
        let items = reports::cells(&places, &meter, &answers, threshold).map_err(too_large)?;
        let feedback_cells = reports::cells(&places, &statements, &ratings, threshold).map_err(too_large)?;
        let givers: Vec<(Uuid, i64)> = ratings.iter().chain(&text_facts).map(|f| (f.office, f.customer)).collect();
        let offices: Vec<Uuid> = texts.iter().map(|t| t.placement.office_id).collect();
        let shown_at = reports::text_places(&places, &givers, &offices, threshold).map_err(too_large)?;
        let mut by_node: HashMap<usize, Vec<String>> = HashMap::new();
        for (row, node) in texts.iter().zip(shown_at) {
            let Some(node) = node else { continue };
            let Some(key) = self.keyring().find(Owner::new(KEY_OWNER, row.workspace_id)).await? else { continue };
            let plain =
                key.open(&row.text_sealed, row.id.as_bytes()).map_err(|_| ServiceError::corrupt("feedback text"))?;
            let text = String::from_utf8(plain).map_err(|_| ServiceError::corrupt("feedback text"))?;
            by_node.entry(node).or_default().push(text);
        }
        let mut rng = rand::thread_rng();
        let mut texts_pb: Vec<pb::FeedbackTexts> = by_node
            .into_iter()
            .map(|(node, mut texts)| {
                texts.shuffle(&mut rng);
                (node, texts)
            })
            .collect::<std::collections::BTreeMap<_, _>>()
            .into_iter()
            .map(|(node, texts)| pb::FeedbackTexts { node: places.nodes[node].id.clone(), texts })
            .collect();
        texts_pb.retain(|t| !t.texts.is_empty());
        Ok(pb::Report {
            scope: query.scope.key(),
            instrument_id: instrument.id.clone(),
            period: query.period.text.clone(),
            period_kind: query.period.kind.to_owned(),
            threshold: threshold.get(),
            frozen_at: None,
            nodes: places.nodes.clone(),
            items: items.into_iter().map(|(item, key, cells)| pb::ItemReport { item, key, cells }).collect(),
            feedback: feedback_cells
                .into_iter()
                .map(|(statement, key, cells)| pb::StatementReport { statement, key, cells })
                .collect(),
            texts: texts_pb,
        })
    }

    /// Takes every submitted round not yet in the reports in: opened once, written as facts.
    pub(crate) async fn take_in_rounds(&self) -> ServiceResult<()> {
        loop {
            let pending = report_store::pending_rounds(self.core().db(), INTAKE_BATCH).await?;
            if pending.is_empty() {
                return Ok(());
            }
            for round in pending {
                self.take_in(round).await?;
            }
        }
    }

    async fn take_in(&self, round: report_store::Pending) -> ServiceResult<()> {
        let placement = self.placement(round.workspace_id, round.customer_id).await?;
        let answers = match (&round.answers_sealed, placement) {
            (Some(sealed), Some(_)) => match self.keyring().find(Owner::new(KEY_OWNER, round.workspace_id)).await? {
                Some(key) => {
                    let plain = key
                        .open(sealed, round.round_id.as_bytes())
                        .map_err(|_| ServiceError::corrupt("round's answers"))?;
                    serde_json::from_slice::<Answers>(&plain).map_err(|_| ServiceError::corrupt("round's answers"))?
                }
                None => Answers::default(),
            },
            _ => Answers::default(),
        };
        let mut tx = self.core().db().begin().await?;
        if !report_store::take_round(&mut tx, round.round_id, round.workspace_id).await? {
            return Ok(());
        }
        if let Some(placement) = placement {
            report_store::remember_placement(&mut tx, round.workspace_id, placement).await?;
            let customer_key = customer_key(round.customer_id);
            for (item, value) in &answers.0 {
                let fact = AnswerFact {
                    placement,
                    workspace_id: round.workspace_id,
                    month: reports::month_of(round.submitted_at),
                    at: round.submitted_at,
                    instrument_id: round.instrument_id.clone(),
                    item: *item,
                    customer_key,
                    value: *value,
                };
                report_store::insert_answer(&mut tx, &fact).await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }

    /// Where a workspace belongs: remembered, or asked of the workspaces service for one of its
    /// customers. `None` when she is no longer its member (nothing of hers is then taken in).
    pub(crate) async fn placement(&self, workspace: Uuid, customer: Uuid) -> ServiceResult<Option<Placement>> {
        if let Some(known) = report_store::find_placement(self.core().db(), workspace).await? {
            return Ok(Some(known));
        }
        let mut request = Request::new(workspaces_pb::CheckMembershipRequest {
            workspace_id: workspace.to_string(),
            member_kind: "customer".to_owned(),
            member_id: customer.to_string(),
            ..Default::default()
        });
        request.extensions_mut().insert(Principal::Service { name: SERVICE.to_owned() });
        let answer =
            self.workspaces().check_membership(request).await.map_err(|s| peer_refusal("workspaces", &s))?.into_inner();
        if !answer.member || answer.role != "customer" {
            return Ok(None);
        }
        match (Uuid::parse_str(&answer.organization_id), Uuid::parse_str(&answer.office_id)) {
            (Ok(organization_id), Ok(office_id)) => Ok(Some(Placement { organization_id, office_id })),
            _ => Err(ServiceError::corrupt("workspace's place")),
        }
    }
}
