//! gRPC plumbing: serving a process's services, and client transports that behave the same
//! whether the callee runs in this process (its server wrapped directly, no socket) or
//! elsewhere (a network channel). Both paths pass the same principal, trace and deadline layers.

use std::{
    convert::Infallible,
    net::SocketAddr,
    sync::Arc,
    task::{Context, Poll},
    time::Duration,
};

use tokio_util::sync::CancellationToken;
use tonic::{Status, body::Body, service::Routes};
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

/// Adds the reflection services (`grpc.reflection.v1` and `v1alpha`, which many clients still
/// speak), listing exactly what the process serves: `services` (fully-qualified names), the
/// health service and reflection itself.
pub fn add_reflection(
    routes: &mut tonic::service::RoutesBuilder,
    services: &[&str],
) -> Result<(), tonic_reflection::server::Error> {
    let names: Vec<&str> = services
        .iter()
        .copied()
        .chain([
            "grpc.health.v1.Health",
            "grpc.reflection.v1.ServerReflection",
            "grpc.reflection.v1alpha.ServerReflection",
        ])
        .collect();
    let builder = || {
        let builder = tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(ohjaus_proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_reflection::pb::v1::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_reflection::pb::v1alpha::FILE_DESCRIPTOR_SET)
            .include_reflection_service(false);
        names.iter().fold(builder, |builder, name| builder.with_service_name(*name))
    };
    routes.add_service(builder().build_v1()?);
    routes.add_service(builder().build_v1alpha()?);
    Ok(())
}

/// Put into a call's extensions (as `tonic::Request::extensions_mut().insert(..)`), marks a call
/// whose request streams, such as an upload: its deadline then bounds the pauses rather than
/// the transfer. The call is cut when no message has passed for this long, and, after the last
/// one, when the answer takes this long; a slow transfer that keeps going is never cut.
#[derive(Clone, Copy, Debug)]
pub struct StreamIdle(pub Duration);

/// When a transfer last moved, and how long it may rest: a deadline that bounds pauses.
#[derive(Clone, Debug)]
pub struct Pace {
    idle: Duration,
    last: Arc<std::sync::Mutex<tokio::time::Instant>>,
}

impl Pace {
    pub fn new(idle: Duration) -> Self {
        Self { idle, last: Arc::new(std::sync::Mutex::new(tokio::time::Instant::now())) }
    }

    /// The transfer moved just now.
    pub fn moved(&self) {
        if let Ok(mut last) = self.last.lock() {
            *last = tokio::time::Instant::now();
        }
    }

    fn deadline(&self) -> tokio::time::Instant {
        let last = self.last.lock().map(|l| *l).unwrap_or_else(|poisoned| *poisoned.into_inner());
        last + self.idle
    }

    /// `call`'s outcome, or `None` once the request has rested longer than allowed.
    pub async fn bound<F: std::future::Future>(&self, call: F) -> Option<F::Output> {
        tokio::pin!(call);
        loop {
            let deadline = self.deadline();
            tokio::select! {
                outcome = &mut call => return Some(outcome),
                () = tokio::time::sleep_until(deadline) => {
                    if self.deadline() <= tokio::time::Instant::now() {
                        return None;
                    }
                }
            }
        }
    }
}

/// A request body that tells its [`Pace`] whenever a frame passes.
pub(crate) struct PacedBody {
    pub(crate) inner: tonic::body::Body,
    pub(crate) pace: Pace,
}

impl http_body::Body for PacedBody {
    type Data = bytes::Bytes;
    type Error = Status;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        let polled = std::pin::Pin::new(&mut self.inner).poll_frame(cx);
        if polled.is_ready() {
            self.pace.moved();
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}
