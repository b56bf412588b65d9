//! Retention ends a workspace's consents: its data key (in the key store), requests, ledger
//! entries and head are deleted, so no copy of a sealed purpose text opens any more. Every other
//! workspace's chain is its own and still verifies.

use ohjaus_platform::{
    auth::Principal,
    proto::consent::v1 as pb,
    service::{ServiceResult, service_only},
};

use crate::{
    domain::WorkspaceId,
    grpc::{Consent, key_owner},
    store,
};

/// Only the retention worker deletes.
impl Consent {
    pub(crate) async fn delete_workspace_ledger(
        &self,
        principal: &Principal,
        msg: pb::WorkspaceLedgerRequest,
    ) -> ServiceResult<pb::DeleteWorkspaceLedgerResponse> {
        service_only(principal, "retention")?;
        let workspace = WorkspaceId::parse_ref(&msg.workspace_id)?;
        // The key first: from here on no sealed purpose text of it opens, wherever a copy is.
        // Idempotent; the key store is compacted right after, so the key leaves its files too.
        self.inner().keyring.delete(key_owner(workspace)).await?;
        let db = self.db();
        let mut tx = db.begin().await?;
        let deleted = store::delete_workspace(&mut tx, workspace).await?;
        tx.commit().await?;
        db.purge_deleted().await?;
        tracing::info!(workspace = %workspace, entries = deleted, "consent ledger of a workspace deleted");
        Ok(pb::DeleteWorkspaceLedgerResponse {
            workspace_id: workspace.to_string(),
            deleted_entries: i64::try_from(deleted).unwrap_or(i64::MAX),
        })
    }
}
