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

#[tokio::test]
async fn a_device_that_keeps_offering_codes_never_stops_on_its_own() {
    let daemon = TestDaemon::start_with(|settings, _| {
        settings.qr.first_ttl_secs = 1;
        settings.qr.ttl_secs = 1;
        settings.qr.max_attempts = 2;
    })
    .await;
    let (status, body) = daemon
        .post(
            "/api/v1/devices",
            json!({ "id": "kiosk", "name": "Kiosk", "qr": { "keep_offering": true } }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let mut client = daemon.socket("kiosk", json!({ "lastSeq": 0 })).await;

    // Five codes where one round has two: rounds follow one another, each counted from 1.
    let mut codes = Vec::new();
    for _ in 0..5 {
        let code = client.wait_for("qr", WAIT).await.unwrap();
        codes.push((code.data["attempt"].clone(), code.data["qr"].clone()));
    }
    let attempts: Vec<_> = codes.iter().map(|(attempt, _)| attempt.clone()).collect();
    assert_eq!(attempts, [1, 2, 1, 2, 1].map(|n| json!(n)));
    let mut texts: Vec<_> = codes.iter().map(|(_, text)| text.to_string()).collect();
    texts.dedup();
    assert_eq!(texts.len(), 5, "each code is new");
    let states: Vec<_> = client
        .history()
        .iter()
        .filter(|e| e.name == "state")
        .map(|e| e.data["state"].as_str().unwrap().to_owned())
        .collect();
    assert!(states.iter().all(|s| s != "stopped"), "{states:?}");
    let (_, device) = daemon.get("/api/v1/devices/kiosk").await;
    assert_eq!(device["state"], "qr", "{device}");

    // It links as any device does.
    daemon.link("kiosk").await;
    wait_state(&mut client, "ready").await;
    daemon.stop().await;
}

/// Links `id` again from scratch (logged out, started, its code scanned) and answers the
/// number its simulated phone links as.
async fn number_linked(daemon: &TestDaemon, id: &str) -> String {
    let mut client = daemon.socket(id, json!({})).await;
    let (_, device) = daemon.get(&format!("/api/v1/devices/{id}")).await;
    if device["state"] != "qr" {
        if device["state"] != "stopped" {
            let (status, body) = daemon
                .post(&format!("/api/v1/devices/{id}/logout"), json!({}))
                .await;
            assert_eq!(status, StatusCode::OK, "{body}");
            wait_state(&mut client, "logged_out").await;
        }
        let (status, body) = daemon
            .post(&format!("/api/v1/devices/{id}/start"), json!({}))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    client
        .wait_until(WAIT, |e| e.name == "qr" || e.data["state"] == "qr")
        .await
        .unwrap();
    daemon.link(id).await;
    let ready = client.wait_for("ready", WAIT).await.unwrap();
    client.close().await;
    ready.data["me"]["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn each_new_simulator_device_has_a_number_of_its_own_for_good() {
    let daemon = TestDaemon::start_with(|_, dir| {
        common::write_device_file(dir, "filed", "name = \"Filed\"\n");
    })
    .await;
    for (id, simulator) in [
        ("first", json!({})),
        ("given", json!({ "phone": "15559990000" })),
        (
            "talker",
            json!({ "contacts": [{ "id": "15550000003@c.us", "name": "Carol" }] }),
        ),
    ] {
        let (status, body) = daemon
            .post(
                "/api/v1/devices",
                json!({ "id": id, "name": id, "simulator": simulator }),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let expected = [
        ("filed", "15550000001@c.us"),
        ("first", "15550000002@c.us"),
        ("given", "15559990000@c.us"),
        // Its contact has the next number: the phone gets the one after.
        ("talker", "15550000004@c.us"),
    ];
    for (id, number) in expected {
        assert_eq!(number_linked(&daemon, id).await, number, "{id}");
    }

    // The numbers are kept with the devices: after a restart, linked anew, each is the same.
    let daemon = daemon.restart().await;
    for (id, number) in expected {
        assert_eq!(
            number_linked(&daemon, id).await,
            number,
            "{id} after a restart"
        );
    }
    daemon.stop().await;
}
