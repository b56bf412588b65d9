//! What consent asks other services: workspaces (as the caller) who owns a workspace and who
//! its members are, tenants (as this service) who an expert is and an organisation's public
//! controller data.

use ohjaus_platform::{
    auth::Principal,
    error::FieldViolation,
    proto::{tenants::v1 as tenants_pb, workspaces::v1 as workspaces_pb},
    service::{ServiceError, ServiceResult, peer_refusal},
};
use tonic::{Request, Response};
use uuid::Uuid;

use crate::{
    SERVICE,
    domain::{Actor, Standing, WorkspaceId},
    grpc::Consent,
};

/// What the workspaces service tells the caller about a workspace.
pub(crate) struct Membership {
    pub(crate) standing: Standing,
    pub(crate) members: Vec<workspaces_pb::Member>,
}

impl Membership {
    pub(crate) fn has(&self, kind: &str, id: Uuid, role: Option<&str>) -> bool {
        let id = id.to_string();
        self.members.iter().any(|m| m.kind == kind && m.id == id && role.is_none_or(|r| m.role == r))
    }
}

fn role_name(role: i32) -> Option<&'static str> {
    match tenants_pb::Role::try_from(role).ok()? {
        tenants_pb::Role::Admin => Some("admin"),
        tenants_pb::Role::Guide => Some("guide"),
        tenants_pb::Role::Advisor => Some("advisor"),
        tenants_pb::Role::Supervisor => Some("supervisor"),
        tenants_pb::Role::Unspecified => None,
    }
}

impl Consent {
    /// The caller's standing in a workspace and its members, asked of workspaces as the caller.
    pub(crate) async fn membership(&self, principal: &Principal, workspace: WorkspaceId) -> ServiceResult<Membership> {
        // Every page: a group can have more members than one page holds.
        let mut members = Vec::new();
        let mut page_token = String::new();
        loop {
            let mut request = Request::new(workspaces_pb::ListMembersRequest {
                workspace_id: workspace.to_string(),
                page_size: 100,
                page_token,
            });
            request.extensions_mut().insert(principal.clone());
            match self.inner().workspaces.clone().list_members(request).await {
                Ok(response) => {
                    let page = response.into_inner();
                    members.extend(page.members);
                    if page.next_page_token.is_empty() {
                        break;
                    }
                    page_token = page.next_page_token;
                }
                Err(status) if status.code() == tonic::Code::NotFound => {
                    return Ok(Membership { standing: Standing::Stranger, members: Vec::new() });
                }
                Err(status) => return Err(peer_refusal("workspaces", &status)),
            }
        }
        let owner = match Actor::of(principal) {
            Some(Actor::Expert(me)) => {
                let me = me.to_string();
                members.iter().any(|m| m.kind == "expert" && m.id == me && m.role == "owner")
            }
            _ => false,
        };
        Ok(Membership { standing: if owner { Standing::Owner } else { Standing::Member }, members })
    }

    /// Whether `customer` is a member of `workspace`, asked as this service (not a read of theirs).
    pub(crate) async fn is_customer_of(&self, customer: Uuid, workspace: WorkspaceId) -> ServiceResult<bool> {
        let mut request = Request::new(workspaces_pb::CheckMembershipRequest {
            workspace_id: workspace.to_string(),
            member_kind: "customer".into(),
            member_id: customer.to_string(),
            ..Default::default()
        });
        request.extensions_mut().insert(Principal::Service { name: SERVICE.to_owned() });
        let answer = self
            .inner()
            .workspaces
            .clone()
            .check_membership(request)
            .await
            .map_err(|s| peer_refusal("workspaces", &s))?;
        Ok(answer.into_inner().member)
    }

    /// The workspace's organisation, read as the caller.
    pub(crate) async fn organization_of(&self, principal: &Principal, workspace: WorkspaceId) -> ServiceResult<Uuid> {
        let mut request = Request::new(workspaces_pb::GetWorkspaceRequest { workspace_id: workspace.to_string() });
        request.extensions_mut().insert(principal.clone());
        let found = self
            .inner()
            .workspaces
            .clone()
            .get_workspace(request)
            .await
            .map_err(|s| peer_refusal("workspaces", &s))?
            .into_inner();
        Uuid::parse_str(&found.organization_id).map_err(|_| ServiceError::peer("workspaces", "organisation id"))
    }

    /// The expert's name and roles in `organization`, asked of tenants as this service; refused
    /// unless the organisation lists them in its consent directory.
    pub(crate) async fn expert(&self, person: Uuid, organization: Uuid) -> ServiceResult<(String, Vec<String>)> {
        let refused = || ServiceError::from(FieldViolation::new("expert_id", "invalid-consent-expert"));
        let mut request = Request::new(tenants_pb::ResolveExpertRequest {
            identity: Some(tenants_pb::resolve_expert_request::Identity::PersonId(person.to_string())),
        });
        request.extensions_mut().insert(Principal::Service { name: SERVICE.to_owned() });
        let resolved = match self.inner().tenants.clone().resolve_expert(request).await {
            Ok(response) => response.into_inner(),
            Err(status) if status.code() == tonic::Code::NotFound => return Err(refused()),
            Err(status) => return Err(ServiceError::peer("tenants", status.code())),
        };
        let organization = organization.to_string();
        let membership = resolved.memberships.iter().find(|m| m.organization_id == organization).ok_or_else(refused)?;
        let roles: Vec<String> = membership.roles.iter().filter_map(|r| role_name(*r)).map(str::to_owned).collect();
        // A main user alone does no customer work; and only experts the organisation lists in
        // its consent directory may be proposed.
        if roles.iter().all(|r| r == "admin") || !membership.listed {
            return Err(refused());
        }
        Ok((resolved.name, roles))
    }

    /// An organisation's public controller data (needs no principal).
    pub(crate) async fn public_profile(&self, organization: Uuid) -> ServiceResult<tenants_pb::PublicProfile> {
        let request = Request::new(tenants_pb::GetPublicProfileRequest { id: organization.to_string() });
        self.inner()
            .tenants
            .clone()
            .get_public_profile(request)
            .await
            .map(Response::into_inner)
            .map_err(|s| ServiceError::peer("tenants", s.code()))
    }
}
