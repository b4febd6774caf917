//! The watchdog and flap damping through the real daemon (SPEC §12): a session that says it
//! works and does nothing is found, restarted and its messages delivered once each; an idle
//! one is left alone; a connection that keeps dropping is damped and journaled once.

mod common;

use std::time::Duration;

use chrono::{DateTime, Utc};
use common::{wait_state, TestDaemon, WAIT};
use devicebridge::config::Settings;
use reqwest::StatusCode;
use serde_json::{json, Value};

const BOB: &str = "15550000002@c.us";

fn contacts() -> Value {
    json!({
        "server_ack_ms": 10, "delivered_ms": 30, "read_ms": 60,
        "contacts": [{ "id": BOB, "name": "Bob", "behaviour": "silent" }]
    })
}

/// Small watchdog values, so that a stall is found within a few seconds.
fn watchful(settings: &mut Settings) {
    settings.watchdog.silence_secs = 2;
    settings.watchdog.ack_timeout_secs = 1;
    settings.watchdog.probe_secs = 1;
    settings.reconnect.initial_ms = 20;
    settings.reconnect.max_ms = 100;
}

/// Sends `texts` to Bob and returns the ids of the accepted messages.
async fn send_all(daemon: &TestDaemon, device: &str, texts: &[&str]) -> Vec<String> {
    let mut ids = Vec::new();
    for text in texts {
        let message = daemon
            .send_message(device, BOB, json!({ "text": text }))
            .await;
        ids.push(message["id"].as_str().unwrap().to_owned());
    }
    ids
}

/// Waits for the server ack of each message in `ids`.
async fn server_acked(client: &mut common::sio::SioClient, ids: &[String]) {
    for id in ids {
        client
            .wait_until(WAIT, |e| {
                e.name == "message:ack" && e.data["messageId"] == id.as_str() && e.data["ack"] == 1
            })
            .await
            .unwrap_or_else(|e| panic!("no server ack for {id}: {e}"));
    }
}

#[tokio::test]
async fn a_stalled_session_is_restarted_and_every_message_reaches_the_phone_once_in_order() {
    let daemon = TestDaemon::start_with(|s, _| watchful(s)).await;
    daemon.ready_device("stuck", contacts()).await;
    let mut client = daemon.socket("stuck", json!({})).await;
    let before = send_all(&daemon, "stuck", &["before 1", "before 2"]).await;
    server_acked(&mut client, &before).await;

    let (status, _) = daemon
        .post("/api/v1/devices/stuck/simulator/stall", json!({}))
        .await;
    assert_eq!(status, StatusCode::OK);
    let during = send_all(&daemon, "stuck", &["during 1", "during 2", "during 3"]).await;

    // Found within silence_secs + probe_secs of the silence, with a margin for the machine.
    let stalled = client
        .wait_until(Duration::from_secs(2 + 1 + 3), |e| {
            e.name == "device:health"
        })
        .await
        .expect("the stall is found");
    assert_eq!(stalled.data["status"], "stalled", "{}", stalled.data);
    assert_eq!(stalled.data["reason"], "silent_with_waiting_acks");
    assert_eq!(stalled.data["waitingAcks"], 3, "{}", stalled.data);
    assert!(stalled.data["lastUpstreamEventAt"].is_string());
    let disconnected = client.wait_for("disconnected", WAIT).await.unwrap();
    assert_eq!(disconnected.data["reason"], "stalled");
    wait_state(&mut client, "ready").await;
    let healthy = client
        .wait_until(WAIT, |e| e.name == "device:health")
        .await
        .unwrap();
    assert_eq!(healthy.data["status"], "healthy", "{}", healthy.data);
    let after = send_all(&daemon, "stuck", &["after 1", "after 2"]).await;
    server_acked(&mut client, &during).await;
    server_acked(&mut client, &after).await;

    let (status, inbox) = daemon.get("/api/v1/devices/stuck/simulator/inbox").await;
    assert_eq!(status, StatusCode::OK, "{inbox}");
    let received: Vec<&str> = inbox["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["messageId"].as_str().unwrap())
        .collect();
    let expected: Vec<&str> = [&before, &during, &after]
        .into_iter()
        .flatten()
        .map(String::as_str)
        .collect();
    assert_eq!(received, expected, "each message once, in chat order");
    let health: Vec<Value> = daemon
        .journaled("stuck", "device:health")
        .await
        .into_iter()
        .map(|e| e["data"]["status"].clone())
        .collect();
    assert_eq!(health, [json!("stalled"), json!("healthy")]);
    let (_, device) = daemon.get("/api/v1/devices/stuck").await;
    assert_eq!(device["health"], "healthy", "{device}");
    daemon.stop().await;
}

#[tokio::test]
async fn an_idle_stalled_session_is_not_declared_stalled() {
    let daemon = TestDaemon::start_with(|s, _| watchful(s)).await;
    daemon.ready_device("idle", contacts()).await;
    let mut client = daemon.socket("idle", json!({})).await;
    let (status, _) = daemon
        .post("/api/v1/devices/idle/simulator/stall", json!({}))
        .await;
    assert_eq!(status, StatusCode::OK);
    // Three times the silence that would stall it with a message waiting.
    let health = client
        .wait_until(Duration::from_secs(6), |e| {
            e.name == "device:health" || e.name == "disconnected"
        })
        .await;
    assert!(health.is_err(), "an idle device is left alone: {health:?}");
    let (_, device) = daemon.get("/api/v1/devices/idle").await;
    assert_eq!(
        (&device["state"], &device["health"]),
        (&json!("ready"), &json!("healthy"))
    );
    daemon.stop().await;
}

fn at(event: &Value) -> DateTime<Utc> {
    event["at"].as_str().unwrap().parse().unwrap()
}

#[tokio::test]
async fn a_flapping_connection_is_journaled_once_and_waits_longer_each_time() {
    const DROPS: usize = 7;
    let daemon = TestDaemon::start_with(|s, _| {
        s.watchdog.flaps = 2;
        s.watchdog.flap_window_secs = 600;
        s.reconnect.initial_ms = 50;
        s.reconnect.max_ms = 100;
    })
    .await;
    daemon.ready_device("flaky", contacts()).await;
    let mut client = daemon.socket("flaky", json!({})).await;
    for _ in 0..DROPS {
        let (status, _) = daemon
            .post("/api/v1/devices/flaky/simulator/drop", json!({}))
            .await;
        assert_eq!(status, StatusCode::OK);
        client.wait_for("disconnected", WAIT).await.unwrap();
        wait_state(&mut client, "ready").await;
    }

    let events = daemon.journaled("flaky", "*").await;
    let flapping: Vec<&Value> = events
        .iter()
        .filter(|e| e["type"] == "device:health")
        .collect();
    assert_eq!(flapping.len(), 1, "{flapping:?}");
    assert_eq!(flapping[0]["data"]["status"], "flapping");
    // The wait from each drop to the next start.
    let mut gaps = Vec::new();
    let mut dropped = None;
    for event in &events {
        match (event["type"].as_str(), event["data"]["state"].as_str()) {
            (Some("disconnected"), _) => dropped = Some(at(event)),
            (Some("state"), Some("starting")) => {
                if let Some(since) = dropped.take() {
                    gaps.push(at(event) - since);
                }
            }
            _ => {}
        }
    }
    assert_eq!(gaps.len(), DROPS, "{gaps:?}");
    let last = gaps[DROPS - 1];
    // Past `flaps`, each wait is at least half of a cap that doubles: 50 ms · 2⁴ / 2.
    assert!(last >= chrono::Duration::milliseconds(400), "{gaps:?}");
    assert!(last > gaps[0] && last > gaps[2], "the waits grow: {gaps:?}");
    let (_, device) = daemon.get("/api/v1/devices/flaky").await;
    assert_eq!(device["health"], "flapping", "{device}");
    daemon.stop().await;
}
