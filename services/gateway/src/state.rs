//! What every handler shares: the service clients, the live hub, the caller-checking keys, the
//! readiness probes and the public rate limiter.

use std::{future::Future, net::IpAddr, num::NonZeroU32, pin::Pin, sync::Arc};

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use ohjaus_platform::{
    auth::{Principal, TokenKeys},
    config::Settings,
    grpc::Transport,
    proto::{
        consent::v1::consent_service_client::ConsentServiceClient, forms::v1::forms_service_client::FormsServiceClient,
        identity::v1::identity_service_client::IdentityServiceClient,
        retention::v1::retention_service_client::RetentionServiceClient,
        surveys::v1::surveys_service_client::SurveysServiceClient,
        tenants::v1::tenants_service_client::TenantsServiceClient,
        workspaces::v1::workspaces_service_client::WorkspacesServiceClient,
    },
};
use sha2::{Digest, Sha256};

use crate::live;

/// A readiness probe of one dependency.
pub type ReadinessCheck = Arc<dyn Fn() -> Pin<Box<dyn Future<Output = Result<(), String>> + Send>> + Send + Sync>;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<StateInner>,
}

pub struct StateInner {
    tenants: TenantsServiceClient<Transport>,
    identity: IdentityServiceClient<Transport>,
    workspaces: WorkspacesServiceClient<Transport>,
    consent: ConsentServiceClient<Transport>,
    forms: FormsServiceClient<Transport>,
    surveys: SurveysServiceClient<Transport>,
    retention: RetentionServiceClient<Transport>,
    live: Option<live::LiveHub>,
    pub(crate) operator_token_hash: Option<Vec<u8>>,
    pub(crate) keys: TokenKeys,
    pub(crate) readiness: Vec<(String, ReadinessCheck)>,
    pub(crate) public_limiter: DefaultKeyedRateLimiter<IpAddr>,
    /// The public contact forms' limits: per client address and per form, the trusted proxies.
    pub(crate) form_limits: crate::web::forms::FormLimits,
    /// The largest JSON body (`gateway.body_limit_bytes`).
    pub(crate) json_limit: u64,
    /// The largest file (`files.max_bytes`).
    pub(crate) file_limit: u64,
    /// How long an upload's call may go without a piece (`grpc.stream_idle_timeout_ms`).
    pub(crate) stream_idle: std::time::Duration,
}

impl std::ops::Deref for AppState {
    type Target = StateInner;
    fn deref(&self) -> &Self::Target {
        &self.inner
    }
}

impl AppState {
    /// One transport per service the gateway calls.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        settings: &Settings,
        keys: TokenKeys,
        tenants: Transport,
        identity: Transport,
        workspaces: Transport,
        consent: Transport,
        forms: Transport,
        surveys: Transport,
        retention: Transport,
        live: Option<live::LiveHub>,
        readiness: Vec<(String, ReadinessCheck)>,
    ) -> Self {
        let rate = NonZeroU32::new(u32::try_from(settings.gateway.public_rate_per_second).unwrap_or(u32::MAX))
            .unwrap_or(NonZeroU32::MIN);
        let burst = NonZeroU32::new(settings.gateway.public_burst).unwrap_or(NonZeroU32::MIN);
        Self {
            inner: Arc::new(StateInner {
                tenants: TenantsServiceClient::new(tenants),
                identity: IdentityServiceClient::new(identity),
                workspaces: WorkspacesServiceClient::new(workspaces),
                consent: ConsentServiceClient::new(consent),
                forms: FormsServiceClient::new(forms),
                surveys: SurveysServiceClient::new(surveys),
                retention: RetentionServiceClient::new(retention),
                live,
                keys,
                operator_token_hash: settings
                    .auth
                    .operator_token
                    .as_ref()
                    .map(|t| Sha256::digest(t.expose().as_bytes()).to_vec()),
                readiness,
                public_limiter: RateLimiter::keyed(Quota::per_second(rate).allow_burst(burst)),
                form_limits: crate::web::forms::FormLimits::new(settings),
                // usize to u64 is lossless on every target Rust supports.
                json_limit: settings.gateway.body_limit_bytes as u64,
                file_limit: settings.files.max_bytes,
                stream_idle: settings.grpc.stream_idle_timeout().std(),
            }),
        }
    }

    pub fn tenants(&self) -> TenantsServiceClient<Transport> {
        self.inner.tenants.clone()
    }

    pub fn identity(&self) -> IdentityServiceClient<Transport> {
        self.inner.identity.clone()
    }

    pub fn workspaces(&self) -> WorkspacesServiceClient<Transport> {
        self.inner.workspaces.clone()
    }

    pub fn consent(&self) -> ConsentServiceClient<Transport> {
        self.inner.consent.clone()
    }

    pub fn forms(&self) -> FormsServiceClient<Transport> {
        self.inner.forms.clone()
    }

    pub fn surveys(&self) -> SurveysServiceClient<Transport> {
        self.inner.surveys.clone()
    }

    pub fn retention(&self) -> RetentionServiceClient<Transport> {
        self.inner.retention.clone()
    }

    /// Workspace changes for live streams; absent when the gateway has no event bus.
    pub fn live(&self) -> Option<&live::LiveHub> {
        self.inner.live.as_ref()
    }

    /// A gRPC request made on behalf of `caller`.
    pub fn as_caller<T>(&self, caller: &Principal, message: T) -> tonic::Request<T> {
        let mut request = tonic::Request::new(message);
        request.extensions_mut().insert(caller.clone());
        request
    }

    /// A gRPC request on behalf of `caller` whose message is a stream of pieces (an upload):
    /// its deadline bounds the pauses between pieces, not the whole transfer.
    pub fn as_caller_streaming<T>(&self, caller: &Principal, stream: T) -> tonic::Request<T> {
        let mut request = self.as_caller(caller, stream);
        request.extensions_mut().insert(ohjaus_platform::grpc::StreamIdle(self.stream_idle));
        request
    }

    /// A gRPC request the gateway makes on its own behalf.
    pub fn as_service<T>(&self, message: T) -> tonic::Request<T> {
        self.as_caller(&Principal::Service { name: "gateway".into() }, message)
    }
}
