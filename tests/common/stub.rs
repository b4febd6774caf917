//! What the stub upstreams share: an axum server on 127.0.0.1 that can be stopped and started
//! again on the same port (an upstream that is down for a while), a record of every request
//! it received, and the webhook signatures the real upstreams compute.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use hmac::{Hmac, Mac};
use serde_json::Value;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;

/// One request a stub received.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: Method,
    pub path: String,
    pub query: Option<String>,
    pub headers: HeaderMap,
    /// The JSON body, `Null` when there was none or it is not JSON.
    pub body: Value,
    /// The body as it came (a multipart upload's, say).
    pub raw: Bytes,
    /// Left unanswered until the test releases it (see [`Stub::hold`]).
    pub held: bool,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// `METHOD /path`, for assertions on the order of calls.
    pub fn line(&self) -> String {
        format!("{} {}", self.method, self.path)
    }
}

/// A JSON answer with a status.
pub fn answer(status: u16, body: Value) -> Response {
    (StatusCode::from_u16(status).unwrap(), Json(body)).into_response()
}

/// The requests a stub received, in order, as the test awaits them.
pub struct Requests {
    receiver: mpsc::UnboundedReceiver<Recorded>,
}

pub fn recorder() -> (mpsc::UnboundedSender<Recorded>, Requests) {
    let (sender, receiver) = mpsc::unbounded_channel();
    (sender, Requests { receiver })
}

impl Requests {
    /// The next request, waiting up to `within`.
    pub async fn next(&mut self, within: Duration) -> Recorded {
        tokio::time::timeout(within, self.receiver.recv())
            .await
            .expect("the stub got a request in time")
            .expect("the stub is alive")
    }

    /// The next request matching `wanted`, skipping the others (periodic checks, …).
    pub async fn wait_for(
        &mut self,
        within: Duration,
        wanted: impl Fn(&Recorded) -> bool,
    ) -> Recorded {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let request = tokio::time::timeout(left, self.receiver.recv())
                .await
                .expect("the expected request reached the stub in time")
                .expect("the stub is alive");
            if wanted(&request) {
                return request;
            }
        }
    }

    /// The next request to `METHOD path`.
    pub async fn wait_line(&mut self, within: Duration, line: &str) -> Recorded {
        self.wait_for(within, |r| r.line() == line).await
    }

    /// Checks that no request received so far had one of `parts` in its path: what the
    /// daemon must refuse before asking the upstream never reached it.
    pub fn assert_none_reached(&mut self, parts: &[&str]) {
        let reached = self.drain();
        assert!(
            reached
                .iter()
                .all(|r| parts.iter().all(|part| !r.path.contains(part))),
            "{reached:?}"
        );
    }

    /// Everything received so far, without waiting.
    pub fn drain(&mut self) -> Vec<Recorded> {
        let mut all = Vec::new();
        while let Ok(request) = self.receiver.try_recv() {
            all.push(request);
        }
        all
    }
}

/// How a stub answers a request, given what it holds.
pub type Answer<S> = fn(&mut S, &Recorded) -> Response;

struct Shared<S> {
    state: Arc<Mutex<S>>,
    record: mpsc::UnboundedSender<Recorded>,
    answer: Answer<S>,
    hold: Arc<watch::Sender<Option<Hold>>>,
}

impl<S> Clone for Shared<S> {
    fn clone(&self) -> Self {
        Self {
            state: self.state.clone(),
            record: self.record.clone(),
            answer: self.answer,
            hold: self.hold.clone(),
        }
    }
}

/// Requests to `path` beyond the next `let_through` are recorded, then left unanswered until
/// the test releases them (see [`Stub::hold`]).
#[derive(Debug)]
struct Hold {
    path: String,
    let_through: usize,
}

/// Whether a request to `path` may be answered now; counts it against the hold if so.
fn passes(hold: &watch::Sender<Option<Hold>>, path: &str) -> bool {
    let mut passes = true;
    hold.send_if_modified(|held| {
        if let Some(held) = held.as_mut().filter(|held| held.path == path) {
            passes = held.let_through > 0;
            held.let_through = held.let_through.saturating_sub(1);
        }
        false
    });
    passes
}

/// Records every request, then lets the stub answer it.
async fn serve_one<S>(
    State(shared): State<Shared<S>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request = Recorded {
        method,
        held: !passes(&shared.hold, uri.path()),
        path: uri.path().to_owned(),
        query: uri.query().map(str::to_owned),
        headers,
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
        raw: body,
    };
    let _ = shared.record.send(request.clone());
    if request.held {
        let _ = shared
            .hold
            .subscribe()
            .wait_for(|held| held.is_none())
            .await;
    }
    (shared.answer)(&mut shared.state.lock().unwrap(), &request)
}

/// A stub upstream: its state (which the test changes), its server and the requests it got.
pub struct Stub<S> {
    state: Arc<Mutex<S>>,
    hold: Arc<watch::Sender<Option<Hold>>>,
    pub server: StubServer,
    pub requests: Requests,
}

impl<S: Send + 'static> Stub<S> {
    /// Serves every request with `answer`.
    pub async fn launch(state: S, answer: Answer<S>) -> Self {
        let state = Arc::new(Mutex::new(state));
        let hold = Arc::new(watch::channel(None).0);
        let (record, requests) = recorder();
        let shared = Shared {
            state: state.clone(),
            record,
            answer,
            hold: hold.clone(),
        };
        let router = Router::new().fallback(serve_one::<S>).with_state(shared);
        Stub {
            state,
            hold,
            server: StubServer::start(router).await,
            requests,
        }
    }

    /// Answers the next `let_through` requests to `path`, then leaves the later ones
    /// unanswered (recorded all the same) until [`Stub::release`]: a request in hand.
    pub fn hold(&self, path: &str, let_through: usize) {
        self.hold.send_replace(Some(Hold {
            path: path.to_owned(),
            let_through,
        }));
    }

    /// Answers the held requests, and every one from now on.
    pub fn release(&self) {
        self.hold.send_replace(None);
    }

    pub fn base(&self) -> String {
        self.server.base()
    }

    /// Changes what the stub holds.
    pub fn with<R>(&self, change: impl FnOnce(&mut S) -> R) -> R {
        change(&mut self.state.lock().unwrap())
    }
}

/// A stub server that can go down and come back on the same port.
pub struct StubServer {
    pub address: SocketAddr,
    router: Router,
    running: Option<(oneshot::Sender<()>, JoinHandle<()>)>,
}

impl StubServer {
    pub async fn start(router: Router) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let mut server = StubServer {
            address,
            router,
            running: None,
        };
        server.serve(listener);
        server
    }

    pub fn base(&self) -> String {
        format!("http://{}", self.address)
    }

    fn serve(&mut self, listener: tokio::net::TcpListener) {
        let (stop, stopped) = oneshot::channel::<()>();
        let router = self.router.clone();
        let task = tokio::spawn(async move {
            axum::serve(listener, router)
                .with_graceful_shutdown(async move {
                    let _ = stopped.await;
                })
                .await
                .unwrap();
        });
        self.running = Some((stop, task));
    }

    /// Goes down: the listener closes and open connections end, so calls are refused.
    pub async fn stop(&mut self) {
        if let Some((stop, task)) = self.running.take() {
            let _ = stop.send(());
            tokio::time::timeout(Duration::from_secs(10), task)
                .await
                .expect("the stub stops")
                .unwrap();
        }
    }

    /// Comes back on the same port.
    pub async fn restart(&mut self) {
        let listener = tokio::net::TcpListener::bind(self.address).await.unwrap();
        self.serve(listener);
    }
}

/// Hex HMAC-SHA512 of a body, as WAHA signs its webhooks (`X-Webhook-Hmac`).
pub fn hmac_sha512_hex(key: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<sha2::Sha512>::new_from_slice(key.as_bytes()).unwrap();
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

/// `sha256=<hex HMAC-SHA256>`, as Meta signs its webhooks (`X-Hub-Signature-256`).
pub fn meta_signature(app_secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(app_secret.as_bytes()).unwrap();
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}
