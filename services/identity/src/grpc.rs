//! The gRPC face of the identity service, one module per part of the API: logins, sessions,
//! integration clients' tokens and customer accounts. Each RPC has a handler of its name.
//! Only the gateway (a service principal) calls it, apart from the provider list and a SAML
//! provider's metadata, which are public. Every login, logout, failure and refusal is audited.

mod customers;
mod logins;
mod retention;
mod sessions;
mod tokens;

use std::{collections::BTreeMap, sync::Arc, time::Duration as StdDuration};

use chrono::Duration;
use ohjaus_platform::{
    auth::{Principal, TokenKeys},
    clock::SharedClock,
    db::Db,
    grpc::Transport,
    proto::{
        identity::v1 as pb,
        tenants::v1::{self as tenants_pb, tenants_service_client::TenantsServiceClient},
    },
    service::{ServiceError, ServiceResult},
    types::IdentityCodeHasher,
    unary,
};
use tonic::{Request, Response, Status};

#[cfg(feature = "saml")]
use crate::saml::SamlConnector;
use crate::{
    SERVICE,
    domain::SessionPolicy,
    oidc::OidcConnector,
    store::{self, AuditEntry},
};

/// A login connector: how one identity provider is spoken to.
pub enum Connector {
    Oidc(OidcConnector),
    #[cfg(feature = "saml")]
    Saml(SamlConnector),
}

impl Connector {
    pub fn id(&self) -> &str {
        match self {
            Connector::Oidc(c) => &c.id,
            #[cfg(feature = "saml")]
            Connector::Saml(c) => &c.id,
        }
    }

    fn display_name(&self) -> &str {
        match self {
            Connector::Oidc(c) => &c.display_name,
            #[cfg(feature = "saml")]
            Connector::Saml(c) => &c.display_name,
        }
    }

    fn protocol(&self) -> &'static str {
        match self {
            Connector::Oidc(_) => "oidc",
            #[cfg(feature = "saml")]
            Connector::Saml(_) => "saml",
        }
    }

    /// Levels of assurance accepted from this provider; empty accepts any.
    fn accepted_assurance(&self) -> Vec<String> {
        match self {
            Connector::Oidc(c) => c.accepted_acr(),
            #[cfg(feature = "saml")]
            Connector::Saml(c) => c.accepted_authn_context(),
        }
    }
}

/// How the identity service is set up.
pub struct IdentityConfig {
    pub policy: SessionPolicy,
    pub login_timeout: Duration,
    pub access_token_ttl: StdDuration,
    /// Virtu identities (home organisation, local id) of operators.
    pub operators: Vec<(String, String)>,
    /// Where the browser returns after single logout at a provider.
    pub post_logout_redirect: String,
}

#[derive(Clone)]
pub struct Identity {
    inner: Arc<Inner>,
}

struct Inner {
    db: Db,
    clock: SharedClock,
    keys: TokenKeys,
    hasher: IdentityCodeHasher,
    tenants: TenantsServiceClient<Transport>,
    connectors: BTreeMap<String, Arc<Connector>>,
    config: IdentityConfig,
}

/// Calls that only the gateway (a service principal) may make.
impl Identity {
    pub fn new(
        db: Db,
        clock: SharedClock,
        keys: TokenKeys,
        hasher: IdentityCodeHasher,
        tenants: Transport,
        connectors: Vec<Connector>,
        config: IdentityConfig,
    ) -> Self {
        let connectors = connectors.into_iter().map(|c| (c.id().to_owned(), Arc::new(c))).collect();
        Self {
            inner: Arc::new(Inner {
                db,
                clock,
                keys,
                hasher,
                tenants: TenantsServiceClient::new(tenants),
                connectors,
                config,
            }),
        }
    }

    pub fn server(&self) -> pb::identity_service_server::IdentityServiceServer<Self> {
        pb::identity_service_server::IdentityServiceServer::new(self.clone())
    }

    pub fn db(&self) -> &Db {
        &self.inner.db
    }

    fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.inner.clock.now()
    }

    fn as_service<T>(&self, message: T) -> Request<T> {
        let mut request = Request::new(message);
        request.extensions_mut().insert(Principal::Service { name: SERVICE.into() });
        request
    }

    /// The provider's connector; an unknown provider is not found.
    fn connector(&self, id: &str) -> ServiceResult<Arc<Connector>> {
        self.inner.connectors.get(id).cloned().ok_or_else(ServiceError::not_found)
    }

    async fn audit(&self, entry: AuditEntry<'_>) {
        if let Err(error) = store::audit(&self.inner.db, &entry, self.now()).await {
            // The audit must not be lost silently; the log still has the entry.
            tracing::error!(%error, event = entry.event, "could not store an audit entry");
        }
    }

    /// The expert tenants knows by `identity`, asked as this service; `None` if none.
    async fn resolve_expert(
        &self,
        identity: tenants_pb::resolve_expert_request::Identity,
    ) -> ServiceResult<Option<tenants_pb::ResolvedExpert>> {
        let mut tenants = self.inner.tenants.clone();
        match tenants
            .resolve_expert(self.as_service(tenants_pb::ResolveExpertRequest { identity: Some(identity) }))
            .await
        {
            Ok(response) => Ok(Some(response.into_inner())),
            Err(status) if status.code() == tonic::Code::NotFound => Ok(None),
            Err(status) => Err(ServiceError::peer("tenants", status.code())),
        }
    }
}

#[tonic::async_trait]
impl pb::identity_service_server::IdentityService for Identity {
    async fn list_providers(
        &self,
        request: Request<pb::ListProvidersRequest>,
    ) -> Result<Response<pb::ListProvidersResponse>, Status> {
        // Public: the login page lists them before anyone is known.
        Ok(Response::new(self.list_providers(request.into_inner())))
    }

    async fn begin_login(
        &self,
        request: Request<pb::BeginLoginRequest>,
    ) -> Result<Response<pb::BeginLoginResponse>, Status> {
        unary!(self.begin_login, request)
    }

    async fn complete_login(
        &self,
        request: Request<pb::CompleteLoginRequest>,
    ) -> Result<Response<pb::CompleteLoginResponse>, Status> {
        unary!(self.complete_login, request)
    }

    async fn resolve_session(
        &self,
        request: Request<pb::ResolveSessionRequest>,
    ) -> Result<Response<pb::ResolvedSession>, Status> {
        unary!(self.resolve_session, request)
    }

    async fn logout(&self, request: Request<pb::LogoutRequest>) -> Result<Response<pb::LogoutResponse>, Status> {
        unary!(self.logout, request)
    }

    async fn list_my_sessions(
        &self,
        request: Request<pb::ListMySessionsRequest>,
    ) -> Result<Response<pb::ListMySessionsResponse>, Status> {
        unary!(self.list_my_sessions, request)
    }

    async fn end_my_session(
        &self,
        request: Request<pb::EndMySessionRequest>,
    ) -> Result<Response<pb::EndMySessionResponse>, Status> {
        unary!(self.end_my_session, request)
    }

    async fn issue_client_token(
        &self,
        request: Request<pb::IssueClientTokenRequest>,
    ) -> Result<Response<pb::IssueClientTokenResponse>, Status> {
        unary!(self.issue_client_token, request)
    }

    async fn saml_metadata(
        &self,
        request: Request<pb::SamlMetadataRequest>,
    ) -> Result<Response<pb::SamlMetadataResponse>, Status> {
        // Public: the provider fetches it.
        Ok(Response::new(self.saml_metadata(request.into_inner())?))
    }

    async fn saml_logout(
        &self,
        request: Request<pb::SamlLogoutRequest>,
    ) -> Result<Response<pb::SamlLogoutResponse>, Status> {
        unary!(self.saml_logout, request)
    }

    async fn ensure_customer_account(
        &self,
        request: Request<pb::EnsureCustomerAccountRequest>,
    ) -> Result<Response<pb::CustomerAccount>, Status> {
        unary!(self.ensure_customer_account, request)
    }

    async fn refer_customer(
        &self,
        request: Request<pb::ReferCustomerRequest>,
    ) -> Result<Response<pb::CustomerReference>, Status> {
        unary!(self.refer_customer, request)
    }

    async fn activate_customer_account(
        &self,
        request: Request<pb::ActivateCustomerAccountRequest>,
    ) -> Result<Response<pb::CustomerAccount>, Status> {
        unary!(self.activate_customer_account, request)
    }

    async fn delete_customer_account(
        &self,
        request: Request<pb::DeleteCustomerAccountRequest>,
    ) -> Result<Response<pb::DeletedCounts>, Status> {
        unary!(self.delete_customer_account, request)
    }

    async fn purge_login_audit(
        &self,
        request: Request<pb::PurgeLoginAuditRequest>,
    ) -> Result<Response<pb::DeletedCounts>, Status> {
        unary!(self.purge_login_audit, request)
    }
}
