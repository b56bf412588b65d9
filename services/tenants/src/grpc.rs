//! The gRPC face of the tenants service, one module per part of the API. Each RPC has a handler
//! of its name; a changing RPC first parses its request into a command (every field violation
//! at once), then authorizes, writes, announces the change through the outbox and commits.
//!
//! Where a request names an organisation, its id is read first and the caller authorized on it
//! before the rest of the command is judged, so an outsider learns nothing from field
//! violations; the order of these steps is each RPC's answer to clients and stays as it is.

mod clients;
mod directory;
mod experts;
mod offices;
mod organizations;

use std::sync::Arc;

use ohjaus_platform::{
    auth::Principal,
    clock::SharedClock,
    db::{Db, Source},
    error::{ErrorCode, FieldViolation},
    events::Outbox,
    proto::tenants::v1 as pb,
    service::{Core, ServiceError, ServiceResult},
    types::IdentityCodeHasher,
    unary,
};
use tonic::{Request, Response, Status};

use crate::{
    domain::{self, Action, ClientId, Organization, OrganizationId},
    store,
};

/// The tenants service.
#[derive(Clone)]
pub struct Tenants {
    inner: Arc<Inner>,
}

struct Inner {
    /// Its database, clock and outbox.
    core: Core,
    hasher: IdentityCodeHasher,
}

impl Tenants {
    pub fn new(db: Db, clock: SharedClock, outbox: Outbox, hasher: IdentityCodeHasher) -> Self {
        Self { inner: Arc::new(Inner { core: Core::new(db, clock, outbox), hasher }) }
    }

    pub fn db(&self) -> &Db {
        self.inner.core.db()
    }

    /// Its database, clock and outbox: `now`, `emit` and `commit`.
    pub(crate) fn core(&self) -> &Core {
        &self.inner.core
    }

    pub fn server(&self) -> pb::tenants_service_server::TenantsServiceServer<Self> {
        pb::tenants_service_server::TenantsServiceServer::new(self.clone())
    }

    /// The organisation, if the caller may do `action` on it; otherwise the refusal. Read from
    /// the pool or inside the caller's transaction.
    async fn authorized<'c>(
        &self,
        conn: impl Source<'c>,
        principal: &Principal,
        id: OrganizationId,
        action: Action,
    ) -> ServiceResult<Organization> {
        let found = match principal {
            Principal::IntegrationClient { client_id, .. } if principal.belongs_to(id.as_uuid()) => {
                let active = store::find_organization_for_client(conn, id, ClientId(*client_id)).await?;
                Some(active.ok_or(ServiceError::from(ErrorCode::Unauthenticated))?)
            }
            _ => store::find_organization(conn, id).await?,
        };
        let org = found.ok_or_else(ServiceError::not_found)?;
        domain::authorize(principal, id, org.status, action)?;
        Ok(org)
    }
}

/// An optional request field: blank is none, anything else must parse.
fn optional<T>(
    value: &str,
    parse: impl FnOnce(&str) -> Result<T, FieldViolation>,
) -> Result<Option<T>, FieldViolation> {
    if value.trim().is_empty() { Ok(None) } else { parse(value).map(Some) }
}

#[tonic::async_trait]
impl pb::tenants_service_server::TenantsService for Tenants {
    async fn create_organization(
        &self,
        request: Request<pb::CreateOrganizationRequest>,
    ) -> Result<Response<pb::Organization>, Status> {
        unary!(self.create_organization, request)
    }

    async fn get_organization(
        &self,
        request: Request<pb::GetOrganizationRequest>,
    ) -> Result<Response<pb::Organization>, Status> {
        unary!(self.get_organization, request)
    }

    async fn list_organizations(
        &self,
        request: Request<pb::ListOrganizationsRequest>,
    ) -> Result<Response<pb::ListOrganizationsResponse>, Status> {
        unary!(self.list_organizations, request)
    }

    async fn update_organization(
        &self,
        request: Request<pb::UpdateOrganizationRequest>,
    ) -> Result<Response<pb::Organization>, Status> {
        unary!(self.update_organization, request)
    }

    async fn set_organization_status(
        &self,
        request: Request<pb::SetOrganizationStatusRequest>,
    ) -> Result<Response<pb::Organization>, Status> {
        unary!(self.set_organization_status, request)
    }

    async fn get_public_profile(
        &self,
        request: Request<pb::GetPublicProfileRequest>,
    ) -> Result<Response<pb::PublicProfile>, Status> {
        // Public: what any customer view shows about the controller. Needs no principal.
        Ok(Response::new(self.get_public_profile(request.into_inner()).await?))
    }

    async fn create_office(&self, request: Request<pb::CreateOfficeRequest>) -> Result<Response<pb::Office>, Status> {
        unary!(self.create_office, request)
    }

    async fn list_offices(
        &self,
        request: Request<pb::ListOfficesRequest>,
    ) -> Result<Response<pb::ListOfficesResponse>, Status> {
        unary!(self.list_offices, request)
    }

    async fn update_office(&self, request: Request<pb::UpdateOfficeRequest>) -> Result<Response<pb::Office>, Status> {
        unary!(self.update_office, request)
    }

    async fn delete_office(
        &self,
        request: Request<pb::DeleteOfficeRequest>,
    ) -> Result<Response<pb::DeleteOfficeResponse>, Status> {
        unary!(self.delete_office, request)
    }

    async fn add_expert(&self, request: Request<pb::AddExpertRequest>) -> Result<Response<pb::Expert>, Status> {
        unary!(self.add_expert, request)
    }

    async fn get_expert(&self, request: Request<pb::GetExpertRequest>) -> Result<Response<pb::Expert>, Status> {
        unary!(self.get_expert, request)
    }

    async fn list_experts(
        &self,
        request: Request<pb::ListExpertsRequest>,
    ) -> Result<Response<pb::ListExpertsResponse>, Status> {
        unary!(self.list_experts, request)
    }

    async fn set_expert_roles(
        &self,
        request: Request<pb::SetExpertRolesRequest>,
    ) -> Result<Response<pb::Expert>, Status> {
        unary!(self.set_expert_roles, request)
    }

    async fn set_expert_listing(
        &self,
        request: Request<pb::SetExpertListingRequest>,
    ) -> Result<Response<pb::Expert>, Status> {
        unary!(self.set_expert_listing, request)
    }

    async fn list_directory_experts(
        &self,
        request: Request<pb::ListDirectoryExpertsRequest>,
    ) -> Result<Response<pb::ListDirectoryExpertsResponse>, Status> {
        unary!(self.list_directory_experts, request)
    }

    async fn remove_expert(
        &self,
        request: Request<pb::RemoveExpertRequest>,
    ) -> Result<Response<pb::RemoveExpertResponse>, Status> {
        unary!(self.remove_expert, request)
    }

    async fn create_integration_client(
        &self,
        request: Request<pb::CreateIntegrationClientRequest>,
    ) -> Result<Response<pb::CreateIntegrationClientResponse>, Status> {
        unary!(self.create_integration_client, request)
    }

    async fn list_integration_clients(
        &self,
        request: Request<pb::ListIntegrationClientsRequest>,
    ) -> Result<Response<pb::ListIntegrationClientsResponse>, Status> {
        unary!(self.list_integration_clients, request)
    }

    async fn revoke_integration_client(
        &self,
        request: Request<pb::RevokeIntegrationClientRequest>,
    ) -> Result<Response<pb::IntegrationClient>, Status> {
        unary!(self.revoke_integration_client, request)
    }

    async fn authenticate_integration_client(
        &self,
        request: Request<pb::AuthenticateIntegrationClientRequest>,
    ) -> Result<Response<pb::AuthenticatedClient>, Status> {
        unary!(self.authenticate_integration_client, request)
    }

    async fn resolve_expert(
        &self,
        request: Request<pb::ResolveExpertRequest>,
    ) -> Result<Response<pb::ResolvedExpert>, Status> {
        unary!(self.resolve_expert, request)
    }
}
