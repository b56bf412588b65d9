//! Retention ends a workspace's consents: its data key (in the key store), requests, ledger
//! entries and head are deleted, so no copy of a sealed purpose text opens any more. Every other
//! workspace's chain is its own and still verifies.

use std::collections::BTreeMap;

use ohjaus_platform::{
    auth::Principal,
    ids::parse_uuid,
    proto::consent::v1 as pb,
    receipts,
    service::{ServiceResult, service_only},
};

use crate::{
    domain::WorkspaceId,
    grpc::{Consent, key_owner},
    store,
};

/// The receipt's one count: the ledger entries removed.
const LEDGER_ENTRIES: &str = "ledger_entries";

/// Only the retention worker deletes.
impl Consent {
    pub(crate) async fn delete_workspace_ledger(
        &self,
        principal: &Principal,
        msg: pb::DeleteWorkspaceLedgerRequest,
    ) -> ServiceResult<pb::DeleteWorkspaceLedgerResponse> {
        service_only(principal, "retention")?;
        let workspace = WorkspaceId::parse_ref(&msg.workspace_id)?;
        let deletion = parse_uuid("deletion_id", &msg.deletion_id)?;
        let db = self.db();
        if let Some(counts) = receipts::find(db, deletion).await? {
            let deleted_entries = counts.get(LEDGER_ENTRIES).copied().unwrap_or(0);
            return Ok(pb::DeleteWorkspaceLedgerResponse { workspace_id: workspace.to_string(), deleted_entries });
        }
        // The key first: from here on no sealed purpose text of it opens, wherever a copy is.
        // Idempotent; the key store is compacted right after, so the key leaves its files too.
        self.inner().keyring.delete(key_owner(workspace)).await?;
        let mut tx = db.begin().await?;
        let deleted = i64::try_from(store::delete_workspace(&mut tx, workspace).await?).unwrap_or(i64::MAX);
        let counts = BTreeMap::from([(LEDGER_ENTRIES.to_owned(), deleted)]);
        receipts::remember(&mut tx, deletion, &counts, self.core().now()).await?;
        tx.commit().await?;
        db.purge_deleted().await?;
        tracing::info!(workspace = %workspace, entries = deleted, "consent ledger of a workspace deleted");
        Ok(pb::DeleteWorkspaceLedgerResponse { workspace_id: workspace.to_string(), deleted_entries: deleted })
    }
}
