//! The ledger of each workspace: appending an entry with each change, verifying the chain,
//! and exporting it to the customer and to the controller's main users.

use chrono::{DateTime, Utc};
use ohjaus_platform::{
    auth::{Principal, Role},
    crypto::DataKey,
    db::Tx,
    grpc::timestamp,
    proto::consent::v1 as pb,
    service::{ServiceError, ServiceResult},
};
use uuid::Uuid;

use crate::{
    domain::{
        Action, Actor, ConsentRequest, EntryId, WorkspaceId,
        ledger::{Entry, Problem, Verification, purpose_aad},
    },
    grpc::Consent,
    store::{self, WorkspaceKeyRow},
};

fn verification_to_pb(v: Verification) -> pb::LedgerVerification {
    match v {
        Verification::Ok { entries } => pb::LedgerVerification { ok: true, entries, ..Default::default() },
        Verification::Broken { entries, seq, problem } => pb::LedgerVerification {
            ok: false,
            entries,
            bad_seq: seq,
            problem: (match problem {
                Problem::Changed => pb::LedgerProblem::Changed,
                Problem::Missing => pb::LedgerProblem::Missing,
                Problem::OutOfOrder => pb::LedgerProblem::OutOfOrder,
                Problem::HeadMismatch => pb::LedgerProblem::HeadMismatch,
            }) as i32,
        },
    }
}

/// Who may read a workspace's ledger, and which entries.
enum Reader {
    /// The controller's main user or a service: every entry.
    All,
    /// A customer: the entries about them.
    Customer(Uuid),
}

impl Consent {
    /// Appends the entry of `action` on `request` to its workspace's chain, in `tx`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn append(
        &self,
        tx: &mut Tx,
        key: &DataKey,
        request: &ConsentRequest,
        action: Action,
        actor: &Actor,
        purpose: &str,
        now: DateTime<Utc>,
    ) -> ServiceResult<()> {
        let workspace = request.workspace_id;
        let head = store::lock_head(tx, workspace).await?;
        let id = EntryId::new().as_uuid();
        let purpose_sealed = key
            .seal(purpose.as_bytes(), &purpose_aad(workspace.as_uuid(), id))
            .map_err(|e| ServiceError::corrupt(format!("sealing: {e}")))?;
        let mut entry = Entry {
            workspace_id: workspace.as_uuid(),
            seq: head.last_seq + 1,
            id,
            at: now,
            action: action.as_str().to_owned(),
            actor_kind: actor.kind().to_owned(),
            actor_id: actor.id(),
            request_id: request.id.as_uuid(),
            organization_id: request.organization_id,
            customer_id: request.customer_id,
            expert_id: request.expert_id,
            expert_organization_id: request.expert_organization_id,
            purpose_sealed,
            visible_from: if action == Action::Accepted { request.visible_from } else { None },
            prev_mac: head.last_mac,
            mac: Vec::new(),
        };
        self.inner().ledger_key.seal(&mut entry);
        store::append_entry(tx, &entry).await
    }

    /// The workspace's key row and what the caller may read of its ledger; not found otherwise.
    async fn reader(
        &self,
        principal: &Principal,
        workspace: WorkspaceId,
        services: bool,
    ) -> ServiceResult<(WorkspaceKeyRow, Reader)> {
        let db = self.db();
        let key_row = store::find_workspace_key(db, workspace).await?.ok_or_else(ServiceError::not_found)?;
        let reader = match principal {
            Principal::Customer { customer_id } => {
                if !store::ledger_names_customer(db, workspace, *customer_id).await? {
                    return Err(ServiceError::not_found());
                }
                Reader::Customer(*customer_id)
            }
            Principal::Service { .. } if services => Reader::All,
            p if p.has_role(key_row.organization_id, Role::Admin) => Reader::All,
            _ => return Err(ServiceError::not_found()),
        };
        Ok((key_row, reader))
    }

    pub(crate) async fn verify_ledger(
        &self,
        principal: &Principal,
        msg: pb::WorkspaceLedgerRequest,
    ) -> ServiceResult<pb::LedgerVerification> {
        let workspace = WorkspaceId::parse_ref(&msg.workspace_id)?;
        self.reader(principal, workspace, true).await?;
        Ok(verification_to_pb(self.verify(workspace).await?))
    }

    /// Recomputes the workspace's chain as stored now.
    pub async fn verify(&self, workspace: WorkspaceId) -> ServiceResult<Verification> {
        let db = self.db();
        let entries = store::entries_of(db, workspace).await?;
        let head = store::head_of(db, workspace).await?;
        Ok(self.inner().ledger_key.verify(&entries, head.as_ref()))
    }

    pub(crate) async fn export_ledger(
        &self,
        principal: &Principal,
        msg: pb::WorkspaceLedgerRequest,
    ) -> ServiceResult<pb::LedgerExport> {
        let workspace = WorkspaceId::parse_ref(&msg.workspace_id)?;
        let (key_row, reader) = self.reader(principal, workspace, false).await?;
        let key = self.data_key(workspace).await?;
        let db = self.db();
        let entries = store::entries_of(db, workspace).await?;
        let head = store::head_of(db, workspace).await?;
        let verification = self.inner().ledger_key.verify(&entries, head.as_ref());
        let mut out = Vec::new();
        for e in &entries {
            if let Reader::Customer(me) = reader
                && e.customer_id != me
            {
                continue;
            }
            // A changed entry may not open; the verification says why, the rest still shows.
            let purpose = key
                .open(&e.purpose_sealed, &purpose_aad(e.workspace_id, e.id))
                .ok()
                .and_then(|p| String::from_utf8(p).ok())
                .unwrap_or_default();
            out.push(pb::LedgerEntry {
                seq: e.seq,
                id: e.id.to_string(),
                at: Some(timestamp(e.at)),
                action: e.action.clone(),
                actor_kind: e.actor_kind.clone(),
                actor_id: e.actor_id.clone(),
                request_id: e.request_id.to_string(),
                workspace_id: e.workspace_id.to_string(),
                organization_id: e.organization_id.to_string(),
                customer_id: e.customer_id.to_string(),
                expert_id: e.expert_id.to_string(),
                expert_organization_id: e.expert_organization_id.to_string(),
                purpose,
                visible_from: e.visible_from.map(timestamp),
                prev_mac: hex::encode(&e.prev_mac),
                mac: hex::encode(&e.mac),
            });
        }
        Ok(pb::LedgerExport {
            workspace_id: workspace.to_string(),
            organization_id: key_row.organization_id.to_string(),
            entries: out,
            verification: Some(verification_to_pb(verification)),
        })
    }
}
