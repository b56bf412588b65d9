//! gRPC plumbing: serving a process's services, and client transports that behave the same
//! whether the callee runs in this process (its server wrapped directly, no socket) or
//! elsewhere (a network channel). Both paths pass the same principal, trace and deadline layers.

use std::{convert::Infallible, net::SocketAddr, time::Duration};

use tokio_util::sync::CancellationToken;
use tonic::{body::Body, service::Routes};
use tower::{Layer, Service, util::BoxCloneSyncService};

use crate::auth::{InboundLayer, OutboundLayer, TokenKeys};

/// A protobuf timestamp of a UTC time.
pub fn timestamp(t: chrono::DateTime<chrono::Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp { seconds: t.timestamp(), nanos: i32::try_from(t.timestamp_subsec_nanos()).unwrap_or(0) }
}

/// The UTC time of a protobuf timestamp; `None` if it is out of range.
pub fn from_timestamp(t: &prost_types::Timestamp) -> Option<chrono::DateTime<chrono::Utc>> {
    chrono::DateTime::from_timestamp(t.seconds, u32::try_from(t.nanos).ok()?)
}

/// What a generated client is built on, in either mode.
pub type Transport = BoxCloneSyncService<http::Request<Body>, http::Response<Body>, Infallible>;

/// A transport to a server in this process.
pub fn in_process<S>(server: S, keys: &TokenKeys, timeout: Duration) -> Transport
where
    S: Service<http::Request<Body>, Response = http::Response<Body>, Error = Infallible>
        + Clone
        + Send
        + Sync
        + 'static,
    S::Future: Send + 'static,
{
    let inbound = InboundLayer::new(keys.clone()).layer(server);
    BoxCloneSyncService::new(OutboundLayer::new(keys.clone(), timeout).layer(inbound))
}

/// A transport to a server elsewhere; connects lazily, so start-up order does not matter.
pub fn remote(address: &str, keys: &TokenKeys, timeout: Duration) -> Result<Transport, tonic::transport::Error> {
    let channel = tonic::transport::Endpoint::from_shared(address.to_owned())?
        .connect_timeout(Duration::from_secs(5))
        .tcp_keepalive(Some(Duration::from_secs(30)))
        .connect_lazy();
    Ok(BoxCloneSyncService::new(OutboundLayer::new(keys.clone(), timeout).layer(channel)))
}

/// Serves `routes` (plus health and reflection) on `listen` until `shutdown`, finishing
/// in-flight calls. Returns the bound address (port 0 picks a free one).
pub async fn serve(
    listen: SocketAddr,
    routes: Routes,
    keys: &TokenKeys,
    shutdown: CancellationToken,
) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let listener = tokio::net::TcpListener::bind(listen).await?;
    let addr = listener.local_addr()?;
    let incoming = tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
    let router = tonic::transport::Server::builder().layer(InboundLayer::new(keys.clone())).add_routes(routes);
    let handle = tokio::spawn(async move {
        if let Err(error) = router.serve_with_incoming_shutdown(incoming, shutdown.cancelled_owned()).await {
            tracing::error!(%error, "gRPC server stopped");
        }
    });
    tracing::info!(%addr, "gRPC listening");
    Ok((addr, handle))
}

/// gRPC reflection over every Ohjaus package.
pub fn reflection() -> Result<
    tonic_reflection::server::v1::ServerReflectionServer<impl tonic_reflection::server::v1::ServerReflection>,
    tonic_reflection::server::Error,
> {
    tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(ohjaus_proto::FILE_DESCRIPTOR_SET)
        .build_v1()
}
