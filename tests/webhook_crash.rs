//! Webhook deliveries survive `kill -9` (SPEC §8): the real binary is killed with SIGKILL after
//! its events are committed and before the receiver has accepted any of their deliveries; after
//! a restart on the same data every one of them arrives, same `webhook-id`, in order.
#![cfg(unix)]

mod common;

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use common::binary::Daemon;
use common::receiver::{assert_signed, Receiver};
use reqwest::StatusCode;
use serde_json::{json, Value};

const DEVICE: &str = "hooked";

/// The REST API of one run of the daemon.
struct Api {
    http: reqwest::Client,
    base: String,
    key: String,
}

impl Api {
    async fn start(dir: &Path) -> (Daemon, Api) {
        let mut daemon = Daemon::spawn(
            dir,
            &[
                ("DEVICEBRIDGE__WEBHOOKS__ALLOW_PRIVATE", "true".into()),
                ("DEVICEBRIDGE__WEBHOOKS__RETRY_INITIAL_MS", "50".into()),
                ("DEVICEBRIDGE__WEBHOOKS__RETRY_MAX_MS", "200".into()),
            ],
        );
        let base = daemon.base_url().await;
        let key = std::fs::read_to_string(dir.join("data").join("admin-api-key"))
            .unwrap()
            .trim()
            .to_owned();
        let http = reqwest::Client::builder().no_proxy().build().unwrap();
        (daemon, Api { http, base, key })
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = self
            .http
            .request(method, format!("{}/api/v1{path}", self.base))
            .header("x-api-key", &self.key);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliveries_pending_at_a_kill_9_are_delivered_after_the_restart() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path();
    // Until the kill, the receiver accepts nothing: every delivery stays pending.
    let accepting = Arc::new(AtomicBool::new(false));
    let open = accepting.clone();
    let mut receiver = Receiver::answering(Arc::new(move |_| {
        if open.load(Ordering::SeqCst) {
            200
        } else {
            503
        }
    }))
    .await;

    let (mut first, api) = Api::start(dir).await;
    let (status, webhook) = api
        .call(
            reqwest::Method::POST,
            "/webhooks",
            Some(json!({ "url": receiver.url, "events": ["state"] })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{webhook}");
    let secret = webhook["secret"].as_str().unwrap().to_owned();
    let (status, device) = api
        .call(
            reqwest::Method::POST,
            "/devices",
            Some(json!({ "id": DEVICE, "name": "Hooked phone" })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{device}");
    // An attempt proves the outbox holds the first delivery; it was refused.
    let refused = receiver.next().await;
    assert_eq!(refused.answered, 503);
    let (status, journal) = api
        .call(
            reqwest::Method::GET,
            &format!("/devices/{DEVICE}/events?after=0"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{journal}");
    let before: Vec<Value> = journal["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|item| item["type"] == "state")
        .cloned()
        .collect();
    assert!(!before.is_empty());
    first.kill().await;
    drop(first);

    accepting.store(true, Ordering::SeqCst);
    while receiver.has_pending() {
        receiver.next().await; // attempts answered before the kill
    }
    let (mut second, api) = Api::start(dir).await;
    let mut delivered = Vec::new();
    while delivered.len() < before.len() {
        let request = receiver.next().await;
        if request.answered == 200 {
            assert_signed(&request, &secret);
            delivered.push(request);
        }
    }
    assert_eq!(delivered[0].webhook_id(), refused.webhook_id());
    let bodies: Vec<&Value> = delivered.iter().map(|request| &request.json).collect();
    assert_eq!(bodies, before.iter().collect::<Vec<_>>());

    let (status, log) = api
        .call(
            reqwest::Method::GET,
            &format!(
                "/webhooks/{}/deliveries?limit=200",
                webhook["id"].as_str().unwrap()
            ),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{log}");
    assert!(
        log["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|entry| entry["id"] == refused.webhook_id()),
        "the first delivery is in the log: {log}"
    );
    let status = second.terminate().await;
    assert!(status.success(), "devicebridge exited with {status}");
}
