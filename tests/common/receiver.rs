//! A webhook receiver on 127.0.0.1:0: records every request and answers with the status its
//! responder picks. Signatures are checked here independently of the daemon's code, with the
//! `hmac`, `sha2` and `base64` crates, as a receiver would.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;
use tokio::sync::{mpsc, oneshot};

use super::WAIT;

/// One request the receiver got, and what it answered.
#[derive(Debug, Clone)]
pub struct Received {
    pub headers: HeaderMap,
    pub body: String,
    pub json: Value,
    pub answered: u16,
}

impl Received {
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
    }

    pub fn webhook_id(&self) -> &str {
        self.header("webhook-id")
    }
}

/// Picks the status to answer a request with; it is given the request's JSON body.
pub type Responder = Arc<dyn Fn(&Value) -> u16 + Send + Sync>;

pub struct Receiver {
    pub url: String,
    requests: mpsc::UnboundedReceiver<Received>,
    _stop: oneshot::Sender<()>,
}

impl Receiver {
    /// A receiver that answers 200 to everything.
    pub async fn start() -> Receiver {
        Self::answering(Arc::new(|_| 200)).await
    }

    pub async fn answering(responder: Responder) -> Receiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hooks", listener.local_addr().unwrap());
        let (record, requests) = mpsc::unbounded_channel();
        let handler = move |headers: HeaderMap, body: Bytes| {
            let (record, responder) = (record.clone(), responder.clone());
            async move {
                let body = String::from_utf8_lossy(&body).into_owned();
                let json: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
                let answered = responder(&json);
                let _ = record.send(Received {
                    headers,
                    body,
                    json,
                    answered,
                });
                StatusCode::from_u16(answered).unwrap()
            }
        };
        let app = axum::Router::new().route("/hooks", axum::routing::post(handler));
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stopped.await;
                })
                .await
                .unwrap();
        });
        Receiver {
            url,
            requests,
            _stop: stop,
        }
    }

    /// Answers `failures` requests with `status`, then 200.
    pub async fn failing_first(failures: usize, status: u16) -> Receiver {
        let count = AtomicUsize::new(0);
        Self::answering(Arc::new(move |_| {
            if count.fetch_add(1, Ordering::SeqCst) < failures {
                status
            } else {
                200
            }
        }))
        .await
    }

    /// The next request, within [`WAIT`].
    pub async fn next(&mut self) -> Received {
        tokio::time::timeout(WAIT, self.requests.recv())
            .await
            .expect("a webhook request within the timeout")
            .expect("the receiver runs")
    }

    /// Requests until one satisfies `done`, which is returned last.
    pub async fn until(&mut self, mut done: impl FnMut(&Received) -> bool) -> Vec<Received> {
        let mut seen = Vec::new();
        loop {
            let request = self.next().await;
            let stop = done(&request);
            seen.push(request);
            if stop {
                return seen;
            }
        }
    }

    /// Whether a request arrived that was not read yet.
    pub fn has_pending(&mut self) -> bool {
        !self.requests.is_empty()
    }
}

/// Checks the Standard Webhooks signature of `request` against `secret` (`whsec_…`), computing
/// the HMAC here rather than with the daemon's code.
pub fn assert_signed(request: &Received, secret: &str) {
    let key = STANDARD
        .decode(secret.strip_prefix("whsec_").expect("a whsec_ secret"))
        .expect("a base64 secret");
    let (id, timestamp) = (request.webhook_id(), request.header("webhook-timestamp"));
    assert!(id.starts_with("whd_"), "webhook-id {id:?}");
    let sent: i64 = timestamp.parse().expect("a numeric webhook-timestamp");
    let now = chrono::Utc::now().timestamp();
    assert!(
        (now - sent).abs() < 300,
        "webhook-timestamp {sent} is not now ({now})"
    );
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
    mac.update(format!("{id}.{timestamp}.{}", request.body).as_bytes());
    let expected = format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()));
    let signatures = request.header("webhook-signature");
    assert!(
        signatures.split(' ').any(|signature| signature == expected),
        "signature {signatures:?} is not {expected:?}"
    );
    assert_eq!(request.header("content-type"), "application/json");
}
