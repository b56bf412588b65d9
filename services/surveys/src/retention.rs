//! Retention's request: a deleted workspace's rounds go with it. The key first, so no copy of
//! its sealed answers opens any more (in a backup too); then the rows, and the idempotency keys
//! that named its rounds. Only the retention worker asks. Published reports keep their
//! already-suppressed aggregates; no row of a person stays.

use ohjaus_platform::{
    auth::Principal,
    ids::{parse_canonical, parse_uuid},
    keyring::Owner,
    proto::surveys::v1 as pb,
    receipts,
    service::{ServiceError, ServiceResult, service_only},
};

use crate::{KEY_OWNER, grpc::Surveys, store};

impl Surveys {
    pub(crate) async fn delete_workspace_answers(
        &self,
        principal: &Principal,
        msg: pb::DeleteWorkspaceAnswersRequest,
    ) -> ServiceResult<pb::DeleteWorkspaceAnswersResponse> {
        service_only(principal, "retention")?;
        let workspace = parse_canonical(&msg.workspace_id).ok_or_else(ServiceError::not_found)?;
        let deletion = parse_uuid("deletion_id", &msg.deletion_id)?;
        let db = self.core().db();
        if let Some(deleted) = receipts::find(db, deletion).await? {
            return Ok(pb::DeleteWorkspaceAnswersResponse { deleted: deleted.into_iter().collect() });
        }
        self.keyring().delete(Owner::new(KEY_OWNER, workspace)).await?;
        let mut tx = db.begin().await?;
        let mut deleted = store::delete_workspace(&mut tx, workspace).await?;
        // Reports (issue 15): the facts of the workspace go too; frozen reports stay.
        store::reports::delete_workspace(&mut tx, workspace, &mut deleted).await?;
        receipts::remember(&mut tx, deletion, &deleted, self.core().now()).await?;
        tx.commit().await?;
        db.purge_deleted().await?;
        tracing::info!(deletion = %deletion, "survey rounds of a deleted workspace removed");
        Ok(pb::DeleteWorkspaceAnswersResponse { deleted: deleted.into_iter().collect() })
    }
}
