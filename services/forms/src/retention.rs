//! The retention worker's hook: submissions that led to no workspace are deleted once their last
//! change is older than the retention period (`retention.submission_days`), with everything
//! that belongs to them; their keys go first, so any copy of their content left in a backup
//! stays unreadable.

use std::collections::HashMap;

use ohjaus_platform::{
    auth::Principal,
    error::FieldViolation,
    grpc::from_timestamp,
    ids::{parse_canonical, parse_uuid},
    proto::forms::v1 as pb,
    receipts,
    service::{ServiceError, ServiceResult, service_only},
};

use crate::{Forms, grpc::key_owner, store};

/// The only caller: the retention worker.
const RETENTION: &str = "retention";
/// Submissions claimed per batch.
const BATCH: i64 = 200;

impl Forms {
    pub(crate) async fn delete_stale_submissions(
        &self,
        principal: &Principal,
        request: pb::DeleteStaleSubmissionsRequest,
    ) -> ServiceResult<pb::DeleteStaleSubmissionsResponse> {
        service_only(principal, RETENTION)?;
        let before = request
            .before
            .as_ref()
            .and_then(from_timestamp)
            .ok_or_else(|| ServiceError::invalid(vec![FieldViolation::new("before", "field-required")]))?;
        let mut deleted: HashMap<String, i64> = HashMap::new();
        let mut count = |table: &str, n: u64| {
            *deleted.entry(table.to_owned()).or_default() += i64::try_from(n).unwrap_or(i64::MAX);
        };
        let mut after = None;
        loop {
            let batch = store::stale_submissions(self.db(), before, after, BATCH).await?;
            let Some(last) = batch.last() else { break };
            after = Some(last.as_uuid());
            for id in batch {
                // The rule is checked again by the deletion itself; the key goes only if the
                // submission does, before the deletion commits.
                let mut tx = self.db().begin().await?;
                let rows = store::delete_stale_submission(&mut tx, id, before).await?;
                if rows.iter().any(|(table, n)| *table == "submissions" && *n > 0) {
                    count("keys", self.inner().keyring.delete(key_owner(id)).await?);
                }
                tx.commit().await?;
                for (table, n) in rows {
                    count(table, n);
                }
            }
        }
        let mut tx = self.db().begin().await?;
        count("used_challenges", store::purge_used_challenges(&mut tx, self.core().now()).await?);
        tx.commit().await?;
        Ok(pb::DeleteStaleSubmissionsResponse { deleted })
    }

    /// A deleted workspace's converted submissions go with it: each key first, then its rows.
    pub(crate) async fn delete_workspace_submissions(
        &self,
        principal: &Principal,
        request: pb::DeleteWorkspaceSubmissionsRequest,
    ) -> ServiceResult<pb::DeleteStaleSubmissionsResponse> {
        service_only(principal, RETENTION)?;
        let workspace = parse_canonical(&request.workspace_id).ok_or_else(ServiceError::not_found)?;
        let deletion = parse_uuid("deletion_id", &request.deletion_id)?;
        if let Some(deleted) = receipts::find(self.db(), deletion).await? {
            return Ok(pb::DeleteStaleSubmissionsResponse { deleted: deleted.into_iter().collect() });
        }
        let mut deleted = std::collections::BTreeMap::<String, i64>::new();
        let mut tx = self.db().begin().await?;
        for id in store::converted_into(&mut tx, workspace).await? {
            *deleted.entry("keys".to_owned()).or_default() +=
                i64::try_from(self.inner().keyring.delete(key_owner(id)).await?).unwrap_or(i64::MAX);
            for (table, n) in store::delete_submission(&mut tx, id).await? {
                *deleted.entry(table.to_owned()).or_default() += i64::try_from(n).unwrap_or(i64::MAX);
            }
        }
        receipts::remember(&mut tx, deletion, &deleted, self.core().now()).await?;
        tx.commit().await?;
        self.db().purge_deleted().await?;
        Ok(pb::DeleteStaleSubmissionsResponse { deleted: deleted.into_iter().collect() })
    }
}
