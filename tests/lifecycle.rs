//! The device state machine driven through the real daemon: QR rotation and timeout, dropped
//! connections, exhausted reconnects, remote logout, invalid commands and daemon restarts.

mod common;

use common::{wait_state, TestDaemon, WAIT};
use devicebridge::config::Settings;
use reqwest::StatusCode;
use serde_json::json;

fn fast(settings: &mut Settings) {
    settings.reconnect.initial_ms = 20;
    settings.reconnect.max_ms = 100;
}

/// Creates `id`, links it and returns a client that has seen it become ready.
async fn linked(daemon: &TestDaemon, id: &str) -> common::sio::SioClient {
    daemon.create_device(id).await;
    let mut client = daemon.socket(id, json!({ "lastSeq": 0 })).await;
    client.wait_for("qr", WAIT).await.unwrap();
    daemon.link(id).await;
    wait_state(&mut client, "ready").await;
    client
}

#[tokio::test]
async fn qr_codes_rotate_then_time_out() {
    let daemon = TestDaemon::start_with(|s, _| {
        s.qr.first_ttl_secs = 1;
        s.qr.ttl_secs = 1;
        s.qr.max_attempts = 2;
    })
    .await;
    daemon.create_device("slow").await;
    let mut client = daemon.socket("slow", json!({ "lastSeq": 0 })).await;
    let first = client.wait_for("qr", WAIT).await.unwrap();
    assert_eq!(
        (
            first.data["attempt"].as_u64(),
            first.data["maxAttempts"].as_u64()
        ),
        (Some(1), Some(2))
    );
    let second = client.wait_for("qr", WAIT).await.unwrap();
    assert_eq!(second.data["attempt"], 2);
    assert_ne!(first.data["qr"], second.data["qr"], "each code is new");
    let stopped = wait_state(&mut client, "stopped").await;
    assert_eq!(stopped.data["reason"], "qr_timeout");
    assert_eq!(stopped.data["previous"], "qr");

    for old in [&first, &second] {
        let (status, body) = daemon
            .post("/api/v1/pairings", json!({ "qr": old.data["qr"] }))
            .await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (StatusCode::GONE, Some("qr_expired"))
        );
    }
    let (status, body) = daemon.get("/api/v1/devices/slow/qr").await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("invalid_state"))
    );
    daemon.stop().await;
}

#[tokio::test]
async fn a_dropped_connection_reconnects_without_a_new_qr() {
    let daemon = TestDaemon::start_with(|s, _| fast(s)).await;
    let mut client = linked(&daemon, "flaky").await;
    let (status, _) = daemon
        .post("/api/v1/devices/flaky/simulator/drop", json!({}))
        .await;
    assert_eq!(status, StatusCode::OK);
    let disconnected = client.wait_for("disconnected", WAIT).await.unwrap();
    assert_eq!(disconnected.data["reason"], "connection_lost");
    let status_event = client.wait_for("connection:status", WAIT).await.unwrap();
    assert_eq!(status_event.data["upstream"], "disconnected");
    wait_state(&mut client, "starting").await;
    wait_state(&mut client, "authenticated").await;
    wait_state(&mut client, "ready").await;
    let since_drop: Vec<_> = client
        .history()
        .iter()
        .skip_while(|e| e.name != "disconnected")
        .map(|e| e.name.clone())
        .collect();
    assert!(
        !since_drop.contains(&"qr".to_owned()),
        "no QR on reconnect: {since_drop:?}"
    );
    daemon.stop().await;
}

/// `connection:status` follows the upstream connection, which is up exactly while the device
/// is ready: `connected` with the round trip of the call that opened it, `disconnected` on
/// any way out (here a stop).
#[tokio::test]
async fn connection_status_follows_ready_with_the_upstreams_round_trip() {
    let daemon = TestDaemon::start().await;
    let mut client = linked(&daemon, "timed").await;
    let connected = client.wait_for("connection:status", WAIT).await.unwrap();
    assert_eq!(
        connected.data["upstream"], "connected",
        "{}",
        connected.data
    );
    assert!(connected.data["latencyMs"].is_u64(), "{}", connected.data);
    let (status, _) = daemon.post("/api/v1/devices/timed/stop", json!({})).await;
    assert_eq!(status, StatusCode::OK);
    wait_state(&mut client, "stopped").await;
    let disconnected = client.wait_for("connection:status", WAIT).await.unwrap();
    assert_eq!(
        (
            &disconnected.data["upstream"],
            &disconnected.data["latencyMs"]
        ),
        (&json!("disconnected"), &json!(null))
    );
    daemon.stop().await;
}

#[tokio::test]
async fn exhausted_reconnects_fail_the_device() {
    let daemon = TestDaemon::start_with(|s, _| {
        fast(s);
        s.reconnect.max_attempts = 2;
    })
    .await;
    let mut client = linked(&daemon, "dead").await;
    let (status, _) = daemon
        .post(
            "/api/v1/devices/dead/simulator/drop",
            json!({ "failReconnects": 10 }),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let failed = wait_state(&mut client, "failed").await;
    assert_eq!(failed.data["reason"], "reconnect_exhausted");
    let attempts = client
        .history()
        .iter()
        .filter(|e| e.name == "state" && e.data["state"] == "starting")
        .count();
    assert_eq!(
        attempts,
        1 + 2,
        "the first start and two reconnect attempts"
    );
    // A failed device can be started again by hand; it keeps its link.
    let (status, _) = daemon.post("/api/v1/devices/dead/start", json!({})).await;
    assert_eq!(status, StatusCode::OK);
    wait_state(&mut client, "ready").await;
    daemon.stop().await;
}

#[tokio::test]
async fn remote_logout_wipes_the_link_and_start_shows_a_new_qr() {
    let daemon = TestDaemon::start().await;
    let mut client = linked(&daemon, "gone").await;
    let (status, _) = daemon
        .post("/api/v1/devices/gone/simulator/logout", json!({}))
        .await;
    assert_eq!(status, StatusCode::OK);
    let logged_out = wait_state(&mut client, "logged_out").await;
    assert_eq!(logged_out.data["reason"], "remote_logout");
    let (_, device) = daemon.get("/api/v1/devices/gone").await;
    assert_eq!(
        (device["state"].as_str(), &device["me"]),
        (Some("logged_out"), &serde_json::Value::Null)
    );
    let (status, _) = daemon.post("/api/v1/devices/gone/start", json!({})).await;
    assert_eq!(status, StatusCode::OK);
    wait_state(&mut client, "starting").await;
    wait_state(&mut client, "qr").await;
    daemon.stop().await;
}

#[tokio::test]
async fn commands_not_allowed_in_the_current_state_change_nothing() {
    let daemon = TestDaemon::start().await;
    let mut client = linked(&daemon, "busy").await;
    let (status, body) = daemon.post("/api/v1/devices/busy/start", json!({})).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("invalid_state"))
    );
    assert_eq!(body["error"]["message"], "cannot start while ready");
    let (status, _) = daemon.post("/api/v1/devices/busy/stop", json!({})).await;
    assert_eq!(status, StatusCode::OK);
    wait_state(&mut client, "stopped").await;
    for action in ["stop", "logout", "simulator/drop", "simulator/logout"] {
        let (status, body) = daemon
            .post(&format!("/api/v1/devices/busy/{action}"), json!({}))
            .await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (StatusCode::CONFLICT, Some("invalid_state")),
            "{action}"
        );
    }
    let (_, events) = daemon
        .get("/api/v1/devices/busy/events?after=0&limit=1000")
        .await;
    let head = events["head"].as_u64().unwrap();
    // The journal ends with what the stop itself journaled.
    let tail: Vec<_> = events["items"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .take(2)
        .map(|e| (e["type"].clone(), e["data"]["state"].clone()))
        .collect();
    assert_eq!(
        tail,
        [
            (json!("connection:status"), json!(null)),
            (json!("state"), json!("stopped"))
        ]
    );
    let (_, device) = daemon.get("/api/v1/devices/busy").await;
    assert_eq!(device["state"], "stopped");
    // Restart from stopped starts it; the link is kept, so it comes back ready without a QR.
    let (status, _) = daemon.post("/api/v1/devices/busy/restart", json!({})).await;
    assert_eq!(status, StatusCode::OK);
    let ready = wait_state(&mut client, "ready").await;
    assert!(ready.data["seq"].as_u64().unwrap() > head);
    daemon.stop().await;
}

#[tokio::test]
async fn a_daemon_restart_keeps_a_linked_device_linked() {
    let daemon = TestDaemon::start().await;
    let client = linked(&daemon, "keeper").await;
    let last_seq = client
        .history()
        .iter()
        .filter_map(|e| e.data["seq"].as_u64())
        .max()
        .unwrap();
    client.close().await;
    let daemon = daemon.restart().await;
    let mut client = daemon
        .socket("keeper", json!({ "lastSeq": last_seq }))
        .await;
    common::greeting(&mut client).await;
    let first = client.next_event(WAIT).await.unwrap();
    assert_eq!(
        first.data["seq"].as_u64(),
        Some(last_seq + 1),
        "resumes exactly after lastSeq"
    );
    let stopped = wait_state(&mut client, "stopped").await;
    assert_eq!(stopped.data["reason"], "shutdown");
    wait_state(&mut client, "starting").await;
    wait_state(&mut client, "authenticated").await;
    wait_state(&mut client, "ready").await;
    assert!(
        client.history().iter().all(|e| e.name != "qr"),
        "no new QR after a restart"
    );
    daemon.stop().await;
}

#[tokio::test]
async fn a_stopped_device_stays_stopped_after_a_restart() {
    let daemon = TestDaemon::start().await;
    daemon.create_device("resting").await;
    let (status, _) = daemon.post("/api/v1/devices/resting/stop", json!({})).await;
    assert_eq!(status, StatusCode::OK);
    let daemon = daemon.restart().await;
    let (_, device) = daemon.get("/api/v1/devices/resting").await;
    assert_eq!(device["state"], "stopped");
    daemon.stop().await;
}
