//! What the surveys service asks the workspaces service: a caller's place in a workspace,
//! asked as this service (`CheckMembership`), so that it does not count as the caller's read.

use ohjaus_platform::{
    auth::Principal,
    proto::workspaces::v1 as workspaces_pb,
    service::{ServiceResult, peer_refusal},
};
use tonic::Request;
use uuid::Uuid;

use crate::{SERVICE, domain::rounds::Standing, grpc::Surveys};

impl Surveys {
    /// The caller's standing in `workspace`: guides and consented experts as experts, the
    /// customer as herself; anyone else is a stranger.
    pub(crate) async fn standing(&self, principal: &Principal, workspace: Uuid) -> ServiceResult<Standing> {
        let (kind, id) = match principal {
            Principal::Expert { person_id, .. } => ("expert", *person_id),
            Principal::Customer { customer_id } => ("customer", *customer_id),
            _ => return Ok(Standing::Stranger),
        };
        let standing = self.member(workspace, kind, id).await?;
        // An expert's answer never makes them the customer, nor a customer's a guide.
        Ok(match (kind, standing) {
            ("expert", Standing::Guide | Standing::ConsentedExpert) | ("customer", Standing::Customer) => standing,
            _ => Standing::Stranger,
        })
    }

    /// Whether `customer` is a customer of `workspace`.
    pub(crate) async fn is_customer_of(&self, customer: Uuid, workspace: Uuid) -> ServiceResult<bool> {
        Ok(self.member(workspace, "customer", customer).await? == Standing::Customer)
    }

    async fn member(&self, workspace: Uuid, kind: &str, id: Uuid) -> ServiceResult<Standing> {
        let mut request = Request::new(workspaces_pb::CheckMembershipRequest {
            workspace_id: workspace.to_string(),
            member_kind: kind.to_owned(),
            member_id: id.to_string(),
        });
        request.extensions_mut().insert(Principal::Service { name: SERVICE.to_owned() });
        let answer =
            self.workspaces().check_membership(request).await.map_err(|s| peer_refusal("workspaces", &s))?.into_inner();
        Ok(Standing::from_role(answer.member, &answer.role))
    }
}
