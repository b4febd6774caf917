//! Runs the Node scenarios in `tests/e2e/` (official socket.io-client) against an in-process
//! daemon: `foundation.js` (linking, handshake authentication and resume), `messaging.js`
//! (sending, acks, echoing contacts, read receipts and typing), `native.js` (the `session`
//! greeting, rooms, numeric tempIds) and `limits.js` (one inbound rate budget per connection).

mod common;

use common::node::run_scenario;
use common::TestDaemon;
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn official_client_links_authenticates_and_resumes() {
    let daemon = TestDaemon::start_with(|settings, _| {
        settings.reconnect.initial_ms = 50;
        settings.reconnect.max_ms = 200;
    })
    .await;
    daemon.create_device("e2e").await;
    daemon.create_device("other").await;
    let other_key = daemon.key_for(&["other"], &["read"]).await;
    let token = daemon.read_token_for("e2e", &["e2e"]).await;

    run_scenario(
        &daemon,
        "foundation.js",
        &[
            ("E2E_OTHER_KEY", &other_key),
            ("E2E_TOKEN", &token),
            ("E2E_DEVICE", "e2e"),
        ],
    )
    .await;

    daemon.stop().await;
}

#[tokio::test]
async fn official_client_sends_acks_reads_and_types() {
    let daemon = TestDaemon::start().await;
    daemon
        .ready_device(
            "chat",
            json!({
                "server_ack_ms": 20,
                "delivered_ms": 60,
                "read_ms": 150,
                "typing_ms": 100,
                "contacts": [
                    { "id": "15550000002@c.us", "name": "Alice", "behaviour": "echo" },
                    { "id": "15550000003@c.us", "name": "Bob", "behaviour": "silent" },
                ],
            }),
        )
        .await;

    run_scenario(&daemon, "messaging.js", &[("E2E_DEVICE", "chat")]).await;

    daemon.stop().await;
}

#[tokio::test]
async fn official_client_is_greeted_joins_chats_and_sends_numeric_temp_ids() {
    let daemon = TestDaemon::start().await;
    daemon
        .ready_device(
            "rooms",
            json!({
                "server_ack_ms": 20,
                "delivered_ms": 60,
                "contacts": [
                    { "id": "15550000002@c.us", "name": "Alice", "behaviour": "silent" },
                    { "id": "15550000003@c.us", "name": "Bob", "behaviour": "silent" },
                ],
            }),
        )
        .await;
    let (status, body) = daemon
        .post(
            "/api/v1/tokens",
            json!({ "sub": "e2e", "devices": ["rooms"], "scopes": ["read"], "ttlSecs": 600 }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let token = body["token"].as_str().expect("a token").to_owned();

    run_scenario(
        &daemon,
        "native.js",
        &[("E2E_DEVICE", "rooms"), ("E2E_TOKEN", &token)],
    )
    .await;

    daemon.stop().await;
}

#[tokio::test]
async fn official_client_shares_one_rate_budget_across_the_namespaces_of_a_connection() {
    const BUDGET: u32 = 4;
    let daemon = TestDaemon::start_with(|settings, _| {
        settings.limits.events_per_minute = BUDGET;
    })
    .await;
    daemon.create_device("budget").await;

    run_scenario(
        &daemon,
        "limits.js",
        &[
            ("E2E_DEVICE", "budget"),
            ("E2E_BUDGET", &BUDGET.to_string()),
        ],
    )
    .await;

    daemon.stop().await;
}
