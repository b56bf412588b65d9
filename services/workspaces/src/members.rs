//! Members: who is in a workspace, their names as shown there and how to reach them. A member's
//! contact details are sealed with the workspace key; the list shows each member what their
//! sight allows.

use std::collections::HashMap;

use ohjaus_platform::{
    auth::Principal,
    db::Tx,
    error::{ErrorCode, FieldViolation},
    ids::PageRequest,
    proto::{tenants::v1 as tenants_pb, workspaces::v1 as pb},
    service::{ServiceResult, peer_refusal},
};
use serde::{Deserialize, Serialize};
use tonic::Request;
use uuid::Uuid;

use crate::{
    domain::{Actor, WorkspaceId},
    service::{Opened, Reader, Workspaces},
    store,
};

/// A member's contact details, sealed in the members table.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub(crate) struct MemberContact {
    pub(crate) name: String,
    #[serde(default)]
    pub(crate) email: Option<String>,
    #[serde(default)]
    pub(crate) language: String,
}

pub(crate) fn member_aad(workspace: WorkspaceId, actor: Actor) -> Vec<u8> {
    format!("workspace:{workspace}:member:{}:{}", actor.kind(), actor.id()).into_bytes()
}

/// A person's name as shown beside what they wrote or did: no control characters, at most 200
/// characters.
pub(crate) fn display_name(value: &str) -> String {
    value.trim().chars().filter(|c| !c.is_control()).take(200).collect()
}

impl Workspaces {
    /// For other services: whether someone is a member, without it counting as their read.
    pub(crate) async fn check_membership(
        &self,
        principal: &Principal,
        msg: pb::CheckMembershipRequest,
    ) -> ServiceResult<pb::CheckMembershipResponse> {
        if !matches!(principal, Principal::Service { .. }) {
            return Err(ErrorCode::PermissionDenied.into());
        }
        let not_member = pb::CheckMembershipResponse::default();
        let (Ok(workspace), Ok(id)) = (Uuid::parse_str(&msg.workspace_id), Uuid::parse_str(&msg.member_id)) else {
            return Ok(not_member);
        };
        let actor = match msg.member_kind.as_str() {
            "expert" => Actor::Expert(id),
            "customer" => Actor::Customer(id),
            _ => return Err(FieldViolation::new("member_kind", "invalid-member-kind").into()),
        };
        Ok(match store::member_role(self.db(), WorkspaceId(workspace), actor).await? {
            Some(role) => {
                // rounds: with the sight of an expert who joined by consent (`surveys`).
                let mut answer = if msg.with_sight {
                    self.membership_with_sight(WorkspaceId(workspace), actor, role, &msg.expert_organizations).await?
                } else {
                    pb::CheckMembershipResponse { member: true, role: role.as_str().to_owned(), ..Default::default() }
                };
                // Reports: the surveys service places a member's answers by these.
                if let Some(placed) = store::find_workspace(self.db(), WorkspaceId(workspace)).await? {
                    answer.organization_id = placed.organization_id.to_string();
                    answer.office_id = placed.office_id.to_string();
                }
                answer
            }
            None => not_member,
        })
    }

    pub(crate) async fn list_members(
        &self,
        principal: &Principal,
        msg: pb::ListMembersRequest,
    ) -> ServiceResult<pb::ListMembersResponse> {
        let id = WorkspaceId::parse_ref(&msg.workspace_id)?;
        let page = PageRequest::parse(msg.page_size, &msg.page_token)?;
        let mut tx = self.db().begin().await?;
        let Reader { opened, role, actor, sight } = self.readable(&mut tx, principal, id).await?;
        self.log_read(&mut tx, &opened.workspace, actor, role, "members").await?;
        let mut rows = store::members_of(&mut tx, id).await?;
        tx.commit().await?;
        // The owner first, then guides, experts and customers, each in the order they joined. A
        // workspace has hundreds of members at most, so the page is cut from the sorted list;
        // the token is the last member's id.
        rows.sort_by_key(|m| m.role.rank());
        let names = self.member_names(&opened).await?;
        // In a group the customers do not see each other.
        let visible: Vec<_> = rows.into_iter().filter(|m| sight.sees_member(m.actor)).collect();
        let start =
            page.after.and_then(|after| visible.iter().position(|m| m.actor.id() == after)).map_or(0, |i| i + 1);
        let fetched = visible.into_iter().skip(start).take(usize::try_from(page.fetch_limit()).unwrap_or(usize::MAX));
        let (rows, next_page_token) = page.finish(fetched.collect(), |m| m.actor.id());
        let members = rows
            .into_iter()
            .map(|m| pb::Member {
                kind: m.actor.kind().to_owned(),
                id: m.actor.id().to_string(),
                role: m.role.as_str().to_owned(),
                name: names.get(&m.actor).map(|c| c.name.clone()).unwrap_or_default(),
            })
            .collect();
        Ok(pb::ListMembersResponse { members, next_page_token })
    }

    /// An expert's name, address and language as their organisation keeps them, read as the
    /// caller (who must be able to see that organisation's experts).
    /// Also tells whether the expert is a guide there.
    pub(crate) async fn expert_contact(
        &self,
        principal: &Principal,
        organization: Uuid,
        person: Uuid,
    ) -> ServiceResult<(MemberContact, bool)> {
        let mut request = Request::new(tenants_pb::GetExpertRequest {
            organization_id: organization.to_string(),
            expert_id: person.to_string(),
        });
        request.extensions_mut().insert(principal.clone());
        let expert = self
            .inner()
            .tenants
            .clone()
            .get_expert(request)
            .await
            .map_err(|s| peer_refusal("tenants", &s))?
            .into_inner();
        let guide = expert.roles.contains(&(tenants_pb::Role::Guide as i32));
        let contact = MemberContact {
            name: expert.name,
            email: Some(expert.email).filter(|e| !e.is_empty()),
            language: expert.language,
        };
        Ok((contact, guide))
    }

    /// One member's name, address and language, if they are a member and left them.
    pub(crate) async fn contact_of(
        &self,
        tx: &mut Tx,
        opened: &Opened,
        actor: Actor,
    ) -> ServiceResult<Option<MemberContact>> {
        let id = opened.workspace.id;
        store::member_contact(&mut *tx, id, actor)
            .await?
            .map(|sealed| opened.open_json(&sealed, &member_aad(id, actor), "member contact"))
            .transpose()
    }

    /// Members' names by actor, for the access log and the export.
    pub(crate) async fn member_names(&self, opened: &Opened) -> ServiceResult<HashMap<Actor, MemberContact>> {
        let members = store::members_of(self.db(), opened.workspace.id).await?;
        let mut names = HashMap::new();
        for member in members {
            if let Some(sealed) = &member.contact_sealed {
                let contact: MemberContact =
                    opened.open_json(sealed, &member_aad(opened.workspace.id, member.actor), "member contact")?;
                names.insert(member.actor, contact);
            }
        }
        Ok(names)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_lose_control_characters_and_length() {
        assert_eq!(display_name("  Tessa\u{0007} Testilä "), "Tessa Testilä");
        assert_eq!(display_name(&"x".repeat(500)).len(), 200);
    }
}
