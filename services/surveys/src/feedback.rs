//! Feedback on guidance: a customer of a workspace rates statements and may write a text. It is
//! stored only as de-identified facts (and the text sealed with the workspace's key), so no
//! RPC can show it as hers; it enters only the reports.

use ohjaus_platform::{
    auth::Principal,
    keyring::Owner,
    proto::surveys::v1 as pb,
    service::{ServiceError, ServiceResult},
};
use uuid::Uuid;

use crate::{
    KEY_OWNER,
    domain::{
        feedback::{self, GiveFeedback},
        reports::month_of,
    },
    grpc::Surveys,
    reports::customer_key,
    store::reports::{self as report_store, RatingFact, TextRow},
};

impl Surveys {
    pub(crate) async fn list_feedback_statements(
        &self,
        _principal: &Principal,
        _request: pb::ListFeedbackStatementsRequest,
    ) -> ServiceResult<pb::ListFeedbackStatementsResponse> {
        Ok(pb::ListFeedbackStatementsResponse { statements: feedback::statements_pb() })
    }

    /// Only a customer of the workspace gives feedback on it; to anyone else it is not found.
    pub(crate) async fn give_feedback(
        &self,
        principal: &Principal,
        request: pb::GiveFeedbackRequest,
    ) -> ServiceResult<pb::GiveFeedbackResponse> {
        let Principal::Customer { customer_id } = principal else { return Err(ServiceError::not_found()) };
        let command = GiveFeedback::parse(&request)?;
        let placement =
            self.placement(command.workspace_id, *customer_id).await?.ok_or_else(ServiceError::not_found)?;
        // A remembered place says nothing of membership: ask it too.
        if !self.is_customer_of(*customer_id, command.workspace_id).await? {
            return Err(ServiceError::not_found());
        }
        let now = self.core().now();
        let month = month_of(now);
        let key = customer_key(*customer_id);
        let text = match &command.text {
            Some(text) => {
                let id = Uuid::now_v7();
                let data_key = self.keyring().ensure(Owner::new(KEY_OWNER, command.workspace_id)).await?;
                let sealed = data_key
                    .seal(text.as_bytes(), id.as_bytes())
                    .map_err(|_| ServiceError::corrupt("sealing feedback"))?;
                Some(TextRow {
                    id,
                    placement,
                    workspace_id: command.workspace_id,
                    month: month.clone(),
                    customer_key: key,
                    text_sealed: sealed,
                })
            }
            None => None,
        };
        let mut tx = self.core().db().begin().await?;
        report_store::remember_placement(&mut tx, command.workspace_id, placement).await?;
        for (statement, value) in &command.ratings {
            let fact = RatingFact {
                placement,
                workspace_id: command.workspace_id,
                month: month.clone(),
                at: now,
                statement: *statement,
                customer_key: key,
                value: *value,
            };
            report_store::insert_rating(&mut tx, &fact).await?;
        }
        if let Some(text) = &text {
            report_store::insert_text(&mut tx, text).await?;
        }
        tx.commit().await?;
        Ok(pb::GiveFeedbackResponse {})
    }
}
