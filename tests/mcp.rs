//! The Model Context Protocol at `/mcp` against the real daemon, driven by the official
//! TypeScript SDK client (`tests/e2e/mcp.js`): a request without a credential is refused in
//! the error envelope; a `read` token for one device lists the nine tools, lists that device's
//! chats a page at a time, reads and searches its messages and its journal, and is refused
//! sending, marking read, the QR code and every other device; a `send` key, given as the
//! bearer, sends a text that reaches the simulated phone, once however often it is retried
//! with the same idempotency key.

mod common;

use common::node::run_scenario;
use common::TestDaemon;
use reqwest::StatusCode;
use serde_json::{json, Value};

const ALICE: &str = "15550000002@c.us";
const BOB: &str = "15550000003@c.us";
const ALICE_WROTE: &str = "Shall we meet on Friday?";
const AGENT_WROTE: &str = "Friday works, see you at noon";

fn simulator() -> Value {
    json!({
        "server_ack_ms": 10, "delivered_ms": 20, "read_ms": 30,
        "contacts": [
            { "id": ALICE, "name": "Alice", "behaviour": "silent" },
            { "id": BOB, "name": "Bob", "behaviour": "silent" }
        ]
    })
}

#[tokio::test]
async fn a_request_without_a_credential_is_refused_in_the_error_envelope() {
    let daemon = TestDaemon::start().await;
    let initialize = json!({
        "jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {
            "protocolVersion": "2025-06-18", "capabilities": {},
            "clientInfo": { "name": "curl", "version": "0" }
        }
    });
    for bearer in [None, Some("dbk_not_a_key"), Some("a.b.c")] {
        let mut request = daemon
            .http
            .post(format!("{}/mcp", daemon.base))
            .header("accept", "application/json, text/event-stream")
            .json(&initialize);
        if let Some(bearer) = bearer {
            request = request.bearer_auth(bearer);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{bearer:?}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], "unauthorized", "{bearer:?}: {body}");
    }
    daemon.stop().await;
}

/// A `POST /mcp` with the daemon's admin key.
fn with_key(daemon: &TestDaemon) -> reqwest::RequestBuilder {
    daemon
        .http
        .post(format!("{}/mcp", daemon.base))
        .header("x-api-key", &daemon.key)
}

/// A client that accepts JSON is answered whether or not it names the event stream too (the
/// daemon answers JSON only): `curl` with a key lists the tools. One that accepts no JSON is
/// refused `406` in the error envelope, as a body that is no message of the protocol is `400`.
#[tokio::test]
async fn a_client_that_accepts_json_is_answered_and_one_that_does_not_is_refused() {
    let daemon = TestDaemon::start().await;
    let list = json!({ "jsonrpc": "2.0", "id": 7, "method": "tools/list" });
    for accept in [
        None,
        Some("*/*"),
        Some("application/json"),
        Some("text/html, application/*;q=0.5"),
    ] {
        let mut request = with_key(&daemon).json(&list);
        if let Some(accept) = accept {
            request = request.header("accept", accept);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{accept:?}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["id"], 7, "{accept:?}: {body}");
        let tools = body["result"]["tools"].as_array().expect("the tools");
        assert!(
            tools.iter().any(|tool| tool["name"] == "list_devices"),
            "{accept:?}: {body}"
        );
    }
    let response = with_key(&daemon)
        .header("accept", "text/html")
        .json(&list)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_ACCEPTABLE);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "bad_request", "{body}");
    // JSON that is no message of the protocol is a bad request; a body that is not JSON, one
    // of a type the protocol does not take.
    for (kind, body, status) in [
        ("application/json", "{}", StatusCode::BAD_REQUEST),
        (
            "text/plain",
            "tools/list",
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
    ] {
        let response = with_key(&daemon)
            .header("content-type", kind)
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), status, "{kind}");
        let answer: Value = response.json().await.unwrap();
        assert_eq!(answer["error"]["code"], "bad_request", "{kind}: {answer}");
    }
    daemon.stop().await;
}

#[tokio::test]
async fn official_mcp_client_reads_within_its_token_and_sends_with_a_send_key() {
    let daemon = TestDaemon::start().await;
    daemon.ready_device("agent", simulator()).await;
    daemon.ready_device("other", simulator()).await;
    daemon
        .send_message("agent", BOB, json!({ "text": "The invoice is attached" }))
        .await;
    let (status, acted) = daemon
        .post(
            "/api/v1/devices/agent/simulator/act",
            json!({ "do": "message", "from": ALICE, "text": ALICE_WROTE }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{acted}");
    daemon
        .wait_until("Alice's message to be found", || async {
            let (_, page) = daemon.get("/api/v1/devices/agent/messages?q=Friday").await;
            (page["items"].as_array()?.len() == 1).then_some(())
        })
        .await;
    let token = daemon.read_token_for("agent-reader", &["agent"]).await;
    let send_key = daemon.key_for(&["agent"], &["send"]).await;

    run_scenario(
        &daemon,
        "mcp.js",
        &[
            ("E2E_DEVICE", "agent"),
            ("E2E_OTHER", "other"),
            ("E2E_CHAT", ALICE),
            ("E2E_SEEN", ALICE_WROTE),
            ("E2E_SEARCH", "Friday"),
            ("E2E_READ_TOKEN", &token),
            ("E2E_SEND_KEY", &send_key),
            ("E2E_TEXT", AGENT_WROTE),
        ],
    )
    .await;

    let received = daemon
        .wait_until("the agent's text on the phone", || async {
            let (_, inbox) = daemon.get("/api/v1/devices/agent/simulator/inbox").await;
            let entries = inbox["items"].as_array()?.clone();
            let ours: Vec<Value> = entries
                .into_iter()
                .filter(|entry| entry["body"] == AGENT_WROTE)
                .collect();
            (!ours.is_empty()).then_some(ours)
        })
        .await;
    assert_eq!(received.len(), 1, "sent once: {received:?}");
    assert_eq!(received[0]["chatId"], ALICE);
    daemon.stop().await;
}
