//! What the surveys service asks the workspaces service: a caller's place in a workspace,
//! asked as this service (`CheckMembership`), so that it does not count as the caller's read.

use ohjaus_platform::{
    auth::Principal,
    grpc::from_timestamp,
    proto::workspaces::v1 as workspaces_pb,
    service::{ServiceResult, peer_refusal},
};
use tonic::Request;
use uuid::Uuid;

use crate::{
    SERVICE,
    domain::rounds::{ExpertSight, Standing},
    grpc::Surveys,
};

impl Surveys {
    /// The caller's standing in `workspace`: guides and consented experts as experts (a
    /// consented expert with the sight of the consents given to them as an expert of an
    /// organisation they work for now), the customer as herself; anyone else is a stranger.
    pub(crate) async fn standing(&self, principal: &Principal, workspace: Uuid) -> ServiceResult<Standing> {
        let (kind, id, organizations) = match principal {
            Principal::Expert { person_id, memberships } => {
                ("expert", *person_id, memberships.iter().map(|m| m.tenant_id.to_string()).collect())
            }
            Principal::Customer { customer_id } => ("customer", *customer_id, Vec::new()),
            _ => return Ok(Standing::Stranger),
        };
        let standing = self.member_as(workspace, kind, id, organizations).await?;
        // An expert's answer never makes them the customer, nor a customer's a guide.
        Ok(match (kind, standing) {
            ("expert", standing @ (Standing::Guide | Standing::ConsentedExpert(_))) => standing,
            ("customer", Standing::Customer) => Standing::Customer,
            _ => Standing::Stranger,
        })
    }

    /// Whether `customer` is a customer of `workspace`.
    pub(crate) async fn is_customer_of(&self, customer: Uuid, workspace: Uuid) -> ServiceResult<bool> {
        Ok(self.member_as(workspace, "customer", customer, Vec::new()).await? == Standing::Customer)
    }

    async fn member_as(
        &self,
        workspace: Uuid,
        kind: &str,
        id: Uuid,
        expert_organizations: Vec<String>,
    ) -> ServiceResult<Standing> {
        let mut request = Request::new(workspaces_pb::CheckMembershipRequest {
            workspace_id: workspace.to_string(),
            member_kind: kind.to_owned(),
            member_id: id.to_string(),
            with_sight: true,
            expert_organizations,
        });
        request.extensions_mut().insert(Principal::Service { name: SERVICE.to_owned() });
        let answer =
            self.workspaces().check_membership(request).await.map_err(|s| peer_refusal("workspaces", &s))?.into_inner();
        let sight = ExpertSight {
            customers: answer.sight_customers.iter().filter_map(|c| Uuid::parse_str(c).ok()).collect(),
            from: answer.sight_from.as_ref().and_then(from_timestamp),
        };
        Ok(Standing::from_role(answer.member, &answer.role, sight))
    }
}
