//! The gateway's HTTP server: connections under limits that a crowd of slow or idle clients
//! cannot exhaust.
//!
//! - At most `gateway.max_connections` are open; more wait (in the listen backlog) until one
//!   closes.
//! - A request's headers must be complete within `gateway.header_timeout_ms` of their first
//!   byte, or the connection is closed: a client that sends half a request holds nothing for
//!   long.
//! - A connection with no request under way is closed after `gateway.idle_timeout_ms` without
//!   a byte from its client (a kept-alive connection between requests, or one that never
//!   sends anything). A request under way is never cut by these: its body and its answer
//!   have their own bounds (`edge`).
//!
//! Each connection has a watchdog that knows its phase (waiting, reading a request's head,
//! answering) from the bytes that arrive and the requests that start and end; it closes the
//! connection when a phase outlasts its bound.

use std::{
    convert::Infallible,
    net::SocketAddr,
    pin::Pin,
    sync::{Arc, Mutex},
    task::{Context, Poll},
    time::Duration,
};

use axum::{Router, body::Body, extract::ConnectInfo};
use hyper::body::Incoming;
use hyper_util::{
    rt::{TokioExecutor, TokioIo, TokioTimer},
    server::conn::auto,
};
use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::{TcpListener, TcpStream},
    sync::{Notify, Semaphore, watch},
    time::Instant,
};
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

/// The bounds of the server's connections.
#[derive(Clone, Copy, Debug)]
pub struct ConnectionLimits {
    /// `gateway.header_timeout_ms`.
    pub header_timeout: Duration,
    /// `gateway.idle_timeout_ms`.
    pub idle_timeout: Duration,
    /// `gateway.max_connections`.
    pub max_connections: usize,
}

/// Where a connection is, as its watchdog sees it.
#[derive(Clone, Copy, Debug)]
enum Phase {
    /// No request under way, nothing received since `since`.
    Waiting { since: Instant },
    /// A request's first bytes arrived at `since`; it has not started yet.
    Reading { since: Instant },
    /// This many requests are being answered.
    Answering { requests: usize },
}

/// One connection's phase, shared by its reader, its requests and its watchdog.
struct Watch {
    phase: Mutex<Phase>,
    changed: Notify,
}

impl Watch {
    fn new() -> Arc<Self> {
        Arc::new(Self { phase: Mutex::new(Phase::Waiting { since: Instant::now() }), changed: Notify::new() })
    }

    fn update(&self, change: impl FnOnce(Phase) -> Phase) {
        let mut phase = self.phase.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        *phase = change(*phase);
        drop(phase);
        self.changed.notify_one();
    }

    fn phase(&self) -> Phase {
        *self.phase.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Bytes arrived from the client.
    fn received(&self) {
        let mut phase = self.phase.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Phase::Waiting { .. } = *phase {
            *phase = Phase::Reading { since: Instant::now() };
            drop(phase);
            self.changed.notify_one();
        }
    }

    /// A request has started; the guard ends it when its answer is done (or dropped).
    fn started(self: &Arc<Self>) -> RequestGuard {
        self.update(|phase| match phase {
            Phase::Answering { requests } => Phase::Answering { requests: requests + 1 },
            _ => Phase::Answering { requests: 1 },
        });
        RequestGuard(self.clone())
    }

    /// Resolves when the connection has outlasted its phase's bound.
    async fn expired(&self, limits: ConnectionLimits) {
        loop {
            let deadline = match self.phase() {
                Phase::Waiting { since } => Some(since + limits.idle_timeout),
                Phase::Reading { since } => Some(since + limits.header_timeout),
                Phase::Answering { .. } => None,
            };
            let changed = self.changed.notified();
            match deadline {
                Some(deadline) => {
                    tokio::select! {
                        () = changed => {}
                        () = tokio::time::sleep_until(deadline) => {
                            let still = match self.phase() {
                                Phase::Waiting { since } => since + limits.idle_timeout <= Instant::now(),
                                Phase::Reading { since } => since + limits.header_timeout <= Instant::now(),
                                Phase::Answering { .. } => false,
                            };
                            if still {
                                return;
                            }
                        }
                    }
                }
                None => changed.await,
            }
        }
    }
}

/// Ends its request in the connection's [`Watch`] when dropped with the answer's body.
struct RequestGuard(Arc<Watch>);

impl Drop for RequestGuard {
    fn drop(&mut self) {
        self.0.update(|phase| match phase {
            Phase::Answering { requests } if requests > 1 => Phase::Answering { requests: requests - 1 },
            _ => Phase::Waiting { since: Instant::now() },
        });
    }
}

/// An answer's body that keeps its request under way until it is sent (or dropped).
struct Guarded {
    body: Body,
    _guard: RequestGuard,
}

impl http_body::Body for Guarded {
    type Data = axum::body::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}

/// A client connection that tells its [`Watch`] when bytes arrive.
struct Watched {
    stream: TcpStream,
    watch: Arc<Watch>,
}

impl AsyncRead for Watched {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.stream).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.watch.received();
        }
        polled
    }
}

impl AsyncWrite for Watched {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}

/// Serves `app` on a bound listener until `shutdown`; then stops accepting, lets every
/// connection finish what it is answering, and ends when they have closed.
pub fn serve(
    app: Router,
    listener: TcpListener,
    limits: ConnectionLimits,
    shutdown: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(%addr, "HTTP gateway listening");
    }
    tokio::spawn(async move {
        let mut builder = auto::Builder::new(TokioExecutor::new());
        // Head reading is bounded by the watchdog (from the head's first byte, not from the
        // previous answer as hyper's own timer would, which would close kept-alive
        // connections before `idle_timeout`).
        builder.http1().timer(TokioTimer::new()).header_read_timeout(None);
        builder.http2().timer(TokioTimer::new());
        let builder = Arc::new(builder);
        let permits = Arc::new(Semaphore::new(limits.max_connections));
        // Closed when every connection task has dropped its receiver.
        let (closing, closed) = watch::channel(());
        loop {
            let permit = tokio::select! {
                permit = permits.clone().acquire_owned() => permit,
                () = shutdown.cancelled() => break,
            };
            // The semaphore is never closed.
            let Ok(permit) = permit else { break };
            let (stream, remote) = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok(accepted) => accepted,
                    Err(error) => {
                        // Out of file descriptors, or a connection reset before it was
                        // accepted: wait a little rather than spin.
                        tracing::warn!(%error, "could not accept a connection");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                },
                () = shutdown.cancelled() => break,
            };
            let connection = Connection {
                app: app.clone(),
                builder: builder.clone(),
                limits,
                shutdown: shutdown.clone(),
                closed: closed.clone(),
            };
            tokio::spawn(async move {
                connection.run(stream, remote).await;
                drop(permit);
            });
        }
        drop(closed);
        closing.closed().await;
    })
}

struct Connection {
    app: Router,
    builder: Arc<auto::Builder<TokioExecutor>>,
    limits: ConnectionLimits,
    shutdown: CancellationToken,
    /// Held until the connection is done, so the server's end waits for it.
    closed: watch::Receiver<()>,
}

impl Connection {
    async fn run(self, stream: TcpStream, remote: SocketAddr) {
        let tracker = Watch::new();
        let io = TokioIo::new(Watched { stream, watch: tracker.clone() });
        let app = self.app;
        let requests = tracker.clone();
        let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
            let guard = requests.started();
            request.extensions_mut().insert(ConnectInfo(remote));
            let answer = app.clone().oneshot(request.map(Body::new));
            async move {
                let response = answer.await.unwrap_or_else(|never: Infallible| match never {});
                Ok::<_, Infallible>(response.map(|body| Guarded { body, _guard: guard }))
            }
        });
        let connection = self.builder.serve_connection(io, service);
        tokio::pin!(connection);
        let expired = tracker.expired(self.limits);
        tokio::pin!(expired);
        let mut stopping = false;
        loop {
            tokio::select! {
                result = connection.as_mut() => {
                    if let Err(error) = result {
                        tracing::debug!(%error, "connection ended with an error");
                    }
                    break;
                }
                // Nothing is under way on it: closing loses nothing but a half-sent head.
                () = &mut expired => {
                    tracing::debug!("connection closed: idle, or its request's head came too slowly");
                    break;
                }
                () = self.shutdown.cancelled(), if !stopping => {
                    stopping = true;
                    connection.as_mut().graceful_shutdown();
                }
            }
        }
        drop(self.closed);
    }
}
