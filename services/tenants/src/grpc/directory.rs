//! The consent directory: experts their organisations offer to other organisations, as the
//! guides who propose them to their customers (and the consent service) see them.

use ohjaus_platform::{
    auth::Principal,
    error::{ErrorCode, Violations},
    ids::PageRequest,
    proto::tenants::v1 as pb,
    service::ServiceResult,
};

use super::{Tenants, experts::role_to_pb, optional, organizations::localized_text};
use crate::{
    domain::{self, DirectoryEntry, DirectoryReader, OrganizationId},
    store,
};

impl Tenants {
    pub(crate) async fn list_directory_experts(
        &self,
        principal: &Principal,
        msg: pb::ListDirectoryExpertsRequest,
    ) -> ServiceResult<pb::ListDirectoryExpertsResponse> {
        if let DirectoryReader::Guide(organizations) = domain::directory_reader(principal)? {
            // A guide of suspended organisations only proposes nobody.
            if !store::any_active(self.db(), &organizations).await? {
                return Err(ErrorCode::PermissionDenied.into());
            }
        }
        let mut v = Violations::new();
        let org = v.check(optional(&msg.organization_id, |s| OrganizationId::parse("organization_id", s)));
        let page = v.check(PageRequest::parse(msg.page_size, &msg.page_token));
        let (org, page) = v.finish_with(|| Some((org?, page?)))?;
        let rows = store::directory_page(self.db(), org, &page).await?;
        let (rows, next_page_token) = page.finish(rows, |e| e.key);
        Ok(pb::ListDirectoryExpertsResponse {
            experts: rows.iter().map(directory_entry_to_pb).collect(),
            next_page_token,
        })
    }
}

fn directory_entry_to_pb(entry: &DirectoryEntry) -> pb::DirectoryExpert {
    pb::DirectoryExpert {
        expert_id: entry.person_id.to_string(),
        organization_id: entry.organization_id.to_string(),
        organization_name: Some(localized_text(&entry.organization_name)),
        name: entry.name.as_str().to_owned(),
        roles: entry.roles.without_admin().into_iter().map(role_to_pb).collect(),
        description: entry.description.as_ref().map(|d| d.as_str().to_owned()).unwrap_or_default(),
    }
}
