//! Canned answers: an organisation's answer templates (a title, a text per language, topics),
//! kept by its main users and advisors and used by its advisors and guides when they reply.

use ohjaus_platform::{
    auth::Principal,
    error::ErrorCode,
    grpc::timestamp,
    ids::{new_id, parse_uuid},
    proto::forms::v1 as pb,
    service::{NextAction, ServiceError, ServiceResult},
    types::Topic,
};
use uuid::Uuid;

use crate::{
    Forms,
    domain::{
        Localized,
        queue::{self, CreateCanned},
    },
    store::{self, CannedRow},
};

fn to_pb(row: &CannedRow) -> ServiceResult<pb::CannedAnswer> {
    let text: Localized = serde_json::from_str(&row.texts).map_err(|_| ServiceError::corrupt("canned answer texts"))?;
    Ok(pb::CannedAnswer {
        id: row.id.to_string(),
        organization_id: row.organization_id.to_string(),
        title: row.title.clone(),
        text: Some(text.to_pb()),
        topics: row.topics.split(',').filter(|t| !t.is_empty()).map(str::to_owned).collect(),
        created_at: Some(timestamp(row.created_at)),
    })
}

impl Forms {
    pub(crate) async fn create_canned_answer(
        &self,
        principal: &Principal,
        request: pb::CreateCannedAnswerRequest,
    ) -> ServiceResult<pb::CannedAnswer> {
        let command = CreateCanned::parse(&request)?;
        queue::may_keep_canned(principal, command.organization_id)?;
        let mut tx = match command.key.begin(self.db(), principal).await? {
            NextAction::Replay(id) => {
                let row = store::find_canned(self.db(), id).await?.ok_or_else(|| ServiceError::corrupt("replay"))?;
                return to_pb(&row);
            }
            NextAction::Proceed(tx) => tx,
        };
        let row = CannedRow {
            id: new_id(),
            organization_id: command.organization_id,
            title: command.title.into_string(),
            texts: serde_json::to_string(&command.text).map_err(|e| ServiceError::corrupt(e.to_string()))?,
            topics: command.topics.join(","),
            created_at: self.core().now(),
        };
        store::insert_canned(&mut tx, &row).await?;
        command.key.remember(&mut tx, principal, row.id, row.created_at).await?;
        tx.commit().await?;
        to_pb(&row)
    }

    pub(crate) async fn list_canned_answers(
        &self,
        principal: &Principal,
        request: pb::ListCannedAnswersRequest,
    ) -> ServiceResult<pb::ListCannedAnswersResponse> {
        let organization = parse_uuid("organization_id", &request.organization_id).map_err(|_| ErrorCode::NotFound)?;
        queue::may_read_canned(principal, organization)?;
        let topic = match request.topic.trim() {
            "" => None,
            given => Some(Topic::parse("topic", given).map_err(|v| ServiceError::invalid(vec![v]))?),
        };
        let rows = store::list_canned(self.db(), organization).await?;
        let canned_answers = rows
            .iter()
            .filter(|row| topic.as_ref().is_none_or(|t| row.topics.split(',').any(|r| r == t.as_str())))
            .map(to_pb)
            .collect::<ServiceResult<_>>()?;
        Ok(pb::ListCannedAnswersResponse { canned_answers })
    }

    pub(crate) async fn delete_canned_answer(
        &self,
        principal: &Principal,
        request: pb::DeleteCannedAnswerRequest,
    ) -> ServiceResult<pb::DeleteCannedAnswerResponse> {
        let id: Uuid = ohjaus_platform::ids::parse_canonical(&request.canned_answer_id).ok_or(ErrorCode::NotFound)?;
        let row = store::find_canned(self.db(), id).await?.ok_or_else(ServiceError::not_found)?;
        queue::may_keep_canned(principal, row.organization_id)?;
        let mut tx = self.db().begin().await?;
        store::delete_canned(&mut tx, id).await?;
        tx.commit().await?;
        Ok(pb::DeleteCannedAnswerResponse {})
    }
}
