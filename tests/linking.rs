//! Linking a simulator device over REST and Socket.IO, end to end in-process.

mod common;

use common::{wait_state, TestDaemon, WAIT};
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn a_device_links_and_becomes_ready() {
    let daemon = TestDaemon::start().await;
    daemon.create_device("phone").await;
    let mut client = daemon.socket("phone", json!({ "lastSeq": 0 })).await;
    wait_state(&mut client, "starting").await;
    wait_state(&mut client, "qr").await;
    let qr = client.wait_for("qr", WAIT).await.unwrap();
    assert_eq!(qr.data["attempt"], 1);
    assert!(qr.data["image"]
        .as_str()
        .unwrap()
        .starts_with("data:image/png;base64,"));
    assert!(qr.data["qr"]
        .as_str()
        .unwrap()
        .starts_with(&format!("{}/pair/", daemon.base)));

    let (status, body) = daemon
        .post("/api/v1/pairings", json!({ "qr": qr.data["qr"] }))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["deviceId"], "phone");
    wait_state(&mut client, "authenticated").await;
    client.wait_for("authenticated", WAIT).await.unwrap();
    wait_state(&mut client, "ready").await;
    let ready = client.wait_for("ready", WAIT).await.unwrap();
    assert_eq!(ready.data["me"]["id"], "15550000001@c.us");

    // Seqs are gap-free and every payload names its device.
    let seqs: Vec<u64> = client
        .history()
        .iter()
        .filter_map(|e| e.data["seq"].as_u64())
        .collect();
    assert_eq!(seqs, (1..=seqs.len() as u64).collect::<Vec<_>>());
    assert!(client
        .history()
        .iter()
        .all(|e| e.name == "sync" || e.data["deviceId"] == "phone"));

    // The used code cannot link again.
    let (status, body) = daemon
        .post("/api/v1/pairings", json!({ "qr": qr.data["qr"] }))
        .await;
    assert_eq!(status, StatusCode::GONE);
    assert_eq!(body["error"]["code"], "qr_expired");
    // A phone opening the used code's page gets the page that says so, not a JSON error.
    let page = reqwest::get(qr.data["qr"].as_str().unwrap()).await.unwrap();
    assert_eq!(page.status(), StatusCode::GONE);
    assert!(page.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    assert!(page.text().await.unwrap().contains("QR code expired"));
    let (_, device) = daemon.get("/api/v1/devices/phone").await;
    assert_eq!(device["state"], "ready");
    daemon.stop().await;
}
