//! The access log: every read of a workspace's content is written down with who read what,
//! and so is what a main user did to it (handed it over, closed it); its members read the log
//! as their sight allows.

use chrono::{DateTime, Utc};
use ohjaus_platform::{
    auth::Principal, db::Tx, grpc::timestamp, ids::PageRequest, proto::workspaces::v1 as pb, service::ServiceResult,
};
use uuid::Uuid;

use crate::{
    domain::{Actor, MemberRole, Workspace, WorkspaceId},
    service::{Reader, Workspaces},
    store::{self, AccessRow},
};

impl Workspaces {
    /// Writes who read `what` of the workspace to its access log.
    pub(crate) async fn log_read(
        &self,
        tx: &mut Tx,
        workspace: &Workspace,
        actor: Actor,
        role: Option<MemberRole>,
        what: &str,
    ) -> ServiceResult<()> {
        let entry = AccessRow {
            id: ohjaus_platform::ids::new_id(),
            at: self.core().now(),
            actor_kind: actor.kind().to_owned(),
            actor_id: actor.id().to_string(),
            actor_role: role.map(MemberRole::as_str).unwrap_or("none").to_owned(),
            organization_id: matches!(actor, Actor::Expert(_)).then_some(workspace.organization_id),
            what: what.to_owned(),
        };
        store::log_access(tx, workspace.id, &entry).await?;
        if matches!(actor, Actor::Customer(_)) {
            store::touch_customer_visit(tx, workspace.id, entry.at).await?;
        }
        Ok(())
    }

    /// Writes what an expert did to the workspace with the part they did it in (`admin` for a
    /// main user, who is no member): a hand-over or a closing is in the log beside the reads.
    pub(crate) async fn log_act(
        &self,
        tx: &mut Tx,
        workspace: &Workspace,
        expert: Uuid,
        part: &str,
        what: &str,
        at: DateTime<Utc>,
    ) -> ServiceResult<()> {
        let entry = AccessRow {
            id: ohjaus_platform::ids::new_id(),
            at,
            actor_kind: Actor::Expert(expert).kind().to_owned(),
            actor_id: expert.to_string(),
            actor_role: part.to_owned(),
            organization_id: Some(workspace.organization_id),
            what: what.to_owned(),
        };
        store::log_access(tx, workspace.id, &entry).await
    }

    pub(crate) async fn list_access_log(
        &self,
        principal: &Principal,
        msg: pb::ListAccessLogRequest,
    ) -> ServiceResult<pb::ListAccessLogResponse> {
        let id = WorkspaceId::parse_ref(&msg.workspace_id)?;
        let page = PageRequest::parse(msg.page_size, &msg.page_token)?;
        let mut tx = self.db().begin().await?;
        let Reader { opened, role, actor, sight } = self.readable(&mut tx, principal, id).await?;
        self.log_read(&mut tx, &opened.workspace, actor, role, "access-log").await?;
        tx.commit().await?;
        let rows = store::access_page(self.db(), id, &sight, &page).await?;
        let (rows, next_page_token) = page.finish(rows, |r| r.id);
        let names = self.member_names(&opened).await?;
        let entries = rows
            .into_iter()
            .map(|r| {
                let actor = Uuid::parse_str(&r.actor_id).ok().and_then(|id| match r.actor_kind.as_str() {
                    "expert" => Some(Actor::Expert(id)),
                    "customer" => Some(Actor::Customer(id)),
                    _ => None,
                });
                let actor_name = actor.and_then(|a| names.get(&a)).map(|c| c.name.clone()).unwrap_or_default();
                pb::AccessLogEntry {
                    at: Some(timestamp(r.at)),
                    actor_kind: r.actor_kind,
                    actor_id: r.actor_id,
                    actor_role: r.actor_role,
                    organization_id: r.organization_id.map(|o| o.to_string()).unwrap_or_default(),
                    what: r.what,
                    actor_name,
                }
            })
            .collect();
        Ok(pb::ListAccessLogResponse { entries, next_page_token })
    }
}
