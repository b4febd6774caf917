//! The HTTP server under REST and Socket.IO alike: it accepts connections, holds each to the
//! connection budget and the header timeout, and hands its requests to the router.
//!
//! axum's own `serve` configures neither a header read timeout nor a connection limit, so a
//! client that opens thousands of connections and sends half a request line on each holds
//! every descriptor and each connection's buffers for as long as it likes (what that came to
//! is in `docs/performance.md`, "The byte budgets and the allocator"). Here:
//!
//! - every TCP connection (HTTP, long-polling or WebSocket) takes a place under
//!   `limits.max_connections` for its whole life; past it a new connection is answered
//!   `503 over_capacity` and closed, and when even those answers are too many at once it is
//!   closed unanswered (each counted, and a refused request that opens a Socket.IO session
//!   counted as a refused handshake too);
//! - a connection must send a whole request head within `limits.header_timeout_secs`, and may
//!   sit idle between requests no longer than that (hyper runs the same timer while it waits
//!   for the next head);
//! - a head with too many or too large headers gets the JSON error envelope, not a bare status.

use std::future::Future;
use std::io;
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use axum::response::IntoResponse;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt;

use super::connection::{ConnectionMeter, Metered};
use super::error::{ApiError, ErrorCode};
use super::socket::Sessions;
use crate::config::LimitSettings;

/// Most headers one request may carry; more get `431 headers_too_large`.
const MAX_HEADERS: usize = 100;
/// Most bytes of header names and values one request may carry.
const MAX_HEADER_BYTES: usize = 64 * 1024;
/// hyper parses up to this many headers, so that a head between [`MAX_HEADERS`] and this
/// reaches [`check_head`] and gets a JSON answer; past it hyper answers a bare 431 itself.
const PARSED_HEADERS: usize = 4 * MAX_HEADERS;
/// Refusals (`503 over_capacity`) being answered at once; past it a connection over the
/// budget is closed without an answer, so refusing costs little even under a flood.
const MAX_REFUSALS: usize = 64;

/// Serves `router` on `listener` until `shutdown` resolves, then stops accepting, lets the
/// requests in flight finish and returns once every connection has closed. Refusals are
/// counted in the metrics of the socket `edge`.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: &LimitSettings,
    sessions: Arc<Sessions>,
    shutdown: impl Future<Output = ()>,
) {
    let server = Server {
        router,
        header_timeout: Duration::from_secs(limits.header_timeout_secs),
        stopping: CancellationToken::new(),
        sessions,
    };
    let places = Arc::new(Semaphore::new(limits.max_connections));
    let refusals = Arc::new(Semaphore::new(MAX_REFUSALS));
    let connections = TaskTracker::new();
    let mut shutdown = pin!(shutdown);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(error) => {
                    accept_failed(error).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        // Socket.IO packets are small and latency-bound: Nagle's algorithm would hold each
        // one back waiting for the peer's delayed ACK (tens of milliseconds per packet).
        if let Err(error) = stream.set_nodelay(true) {
            tracing::debug!(%error, "could not disable Nagle's algorithm on a connection");
        }
        if let Ok(place) = places.clone().try_acquire_owned() {
            connections.spawn(server.clone().connection(stream, place));
            continue;
        }
        server.sessions.metrics.http_connections_refused.inc();
        if let Ok(refusal) = refusals.clone().try_acquire_owned() {
            tracing::debug!("refusing a connection over `limits.max_connections`");
            connections.spawn(server.clone().refuse(stream, refusal));
        } else {
            tracing::debug!("closing a connection over `limits.max_connections` unanswered");
        }
    }
    server.stopping.cancel();
    connections.close();
    connections.wait().await;
}

#[derive(Clone)]
struct Server {
    router: Router,
    header_timeout: Duration,
    stopping: CancellationToken,
    sessions: Arc<Sessions>,
}

impl Server {
    fn http(&self, keep_alive: bool) -> hyper::server::conn::http1::Builder {
        let mut http = hyper::server::conn::http1::Builder::new();
        http.timer(TokioTimer::new())
            .header_read_timeout(self.header_timeout)
            .max_headers(PARSED_HEADERS)
            .keep_alive(keep_alive);
        http
    }

    /// Serves one admitted connection; its place is given back when the stream is dropped,
    /// which for a WebSocket is when the socket closes, long after this returns.
    async fn connection(self, stream: TcpStream, place: OwnedSemaphorePermit) {
        let meter = Arc::new(ConnectionMeter::default());
        let io = TokioIo::new(Metered::new(stream, meter.clone(), Some(place)));
        let router = self.router.clone();
        let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
            let mut request = request.map(Body::new);
            request.extensions_mut().insert(meter.clone());
            let router = router.clone();
            async move {
                match check_head(&request) {
                    Err(refused) => Ok::<_, std::convert::Infallible>(refused.into_response()),
                    Ok(()) => router.oneshot(request).await,
                }
            }
        });
        let http = self.http(true);
        let mut connection = pin!(http.serve_connection(io, service).with_upgrades());
        tokio::select! {
            served = connection.as_mut() => return finished(served),
            () = self.stopping.cancelled() => connection.as_mut().graceful_shutdown(),
        }
        finished(connection.await);
    }

    /// Answers every request of a connection over the budget `503 over_capacity`, then
    /// closes it.
    async fn refuse(self, stream: TcpStream, _refusal: OwnedSemaphorePermit) {
        let io = TokioIo::new(Metered::new(
            stream,
            Arc::new(ConnectionMeter::default()),
            None,
        ));
        let sessions = self.sessions.clone();
        let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
            if sessions.opens_session(request.uri()) {
                sessions.metrics.socket_handshakes.inc("over_capacity");
            }
            async {
                let refused = ApiError::new(
                    ErrorCode::OverCapacity,
                    "the server has as many connections as `limits.max_connections` allows; try again shortly",
                );
                Ok::<_, std::convert::Infallible>(refused.into_response())
            }
        });
        let http = self.http(false);
        let connection = http.serve_connection(io, service);
        tokio::select! {
            served = connection => finished(served),
            () = self.stopping.cancelled() => {}
        }
    }
}

fn finished(served: Result<(), hyper::Error>) {
    if let Err(error) = served {
        // A peer that goes away or times out is routine, not our fault.
        tracing::debug!(%error, "connection ended");
    }
}

/// Refuses a head with more headers, or more header bytes, than a client needs.
fn check_head(request: &Request) -> Result<(), ApiError> {
    let headers = request.headers();
    let bytes: usize = headers
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len())
        .sum();
    if headers.len() > MAX_HEADERS || bytes > MAX_HEADER_BYTES {
        return Err(ApiError::new(
            ErrorCode::HeadersTooLarge,
            format!(
                "a request may carry at most {MAX_HEADERS} headers and {MAX_HEADER_BYTES} bytes of them"
            ),
        ));
    }
    Ok(())
}

/// An accept error: a connection the peer reset before it was accepted is skipped; running out
/// of descriptors is logged and waited out, instead of spinning on a listener that cannot
/// accept.
async fn accept_failed(error: io::Error) {
    use io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(
        error.kind(),
        ConnectionRefused | ConnectionAborted | ConnectionReset
    ) {
        return;
    }
    tracing::error!(%error, "cannot accept connections; waiting a second");
    tokio::time::sleep(Duration::from_secs(1)).await;
}
