//! The daemon's boundary with the upstreams, against the real daemon: what the webhook
//! receivers read before they know the device, and who may say which upstream a device talks
//! to.

mod common;

use common::stub::{hmac_sha512_hex, meta_signature};
use common::TestDaemon;
use futures_util::stream;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

const SECRET: &str = "waha-hmac-secret";

fn code(body: &Value) -> Option<&str> {
    body["error"]["code"].as_str()
}

fn waha_table() -> Value {
    json!({ "base_url": "http://127.0.0.1:9", "api_key": "k", "webhook_secret": SECRET })
}

fn cloud_table() -> Value {
    json!({ "phone_number_id": "106540352242922", "access_token": "EAAG-token",
        "app_secret": SECRET, "verify_token": "v", "graph_url": "http://127.0.0.1:9/v21.0" })
}

/// A device that stays stopped, so that it calls no upstream.
fn stopped_device(id: &str, connector: &str, table: Value) -> Value {
    json!({ "id": id, "name": id, "connector": connector, "autostart": false, connector: table })
}

/// The head of a POST announcing a body of `length` bytes.
fn post_head(path: &str, length: usize) -> String {
    format!("POST {path} HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: {length}")
}

#[tokio::test]
async fn a_delivery_for_no_device_or_another_connector_is_answered_before_its_body() {
    let daemon = TestDaemon::start().await;
    daemon.create_device("sim").await;
    // 10 MB announced, a few bytes sent, the rest never: only an answer that does not wait
    // for the body comes.
    for (path, status, expected) in [
        (
            "/upstream/waha/nobody",
            StatusCode::NOT_FOUND,
            "device_not_found",
        ),
        (
            "/upstream/cloud/nobody",
            StatusCode::NOT_FOUND,
            "device_not_found",
        ),
        ("/upstream/waha/sim", StatusCode::CONFLICT, "invalid_state"),
        ("/upstream/cloud/sim", StatusCode::CONFLICT, "invalid_state"),
    ] {
        let (answered, body) = daemon
            .raw_request(&post_head(path, 10_000_000), b"{\"event\": \"message\"")
            .await;
        assert_eq!((answered, code(&body)), (status, Some(expected)), "{path}");
    }
    let (status, body) = daemon
        .deliver(
            Method::GET,
            "/upstream/cloud/sim?hub.mode=subscribe&hub.challenge=1&hub.verify_token=v",
            Vec::new(),
            &[],
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    daemon.stop().await;
}

#[tokio::test]
async fn a_delivery_over_the_limit_gets_413_however_it_comes() {
    let daemon = TestDaemon::start_with(|settings, _| {
        settings.limits.max_upstream_body_bytes = 1024;
    })
    .await;
    for device in [
        stopped_device("wa", "waha", waha_table()),
        stopped_device("cl", "cloud_api", cloud_table()),
    ] {
        let (status, body) = daemon.post("/api/v1/devices", device).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let large =
        serde_json::to_vec(&json!({ "event": "message", "padding": "x".repeat(2000) })).unwrap();
    let waha_signature = hmac_sha512_hex(SECRET, &large);
    let meta_signature = meta_signature(SECRET, &large);
    for (path, signature) in [
        (
            "/upstream/waha/wa",
            ("x-webhook-hmac", waha_signature.as_str()),
        ),
        (
            "/upstream/cloud/cl",
            ("x-hub-signature-256", meta_signature.as_str()),
        ),
    ] {
        let too_large = |(status, body): (StatusCode, Value)| {
            assert_eq!(
                (status, code(&body)),
                (StatusCode::PAYLOAD_TOO_LARGE, Some("payload_too_large")),
                "{path}: {body}"
            );
            assert!(
                body["error"]["message"]
                    .as_str()
                    .unwrap()
                    .contains("limits.max_upstream_body_bytes"),
                "{body}"
            );
        };
        // Signed, whole, with its length.
        let (status, text) = daemon
            .deliver(Method::POST, path, large.clone(), &[signature])
            .await;
        too_large((status, serde_json::from_str(&text).unwrap()));
        // Announced too large and still on its way: refused at once.
        too_large(daemon.raw_request(&post_head(path, 10_000_000), b"{").await);
        // In chunks, with no length said.
        let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
            large.chunks(600).map(|chunk| Ok(chunk.to_vec())).collect();
        let response = daemon
            .http
            .post(format!("{}{path}", daemon.base))
            .header("content-type", "application/json")
            .header(signature.0, signature.1)
            .body(reqwest::Body::wrap_stream(stream::iter(chunks)))
            .send()
            .await
            .unwrap();
        too_large((response.status(), response.json().await.unwrap()));
    }
    daemon.stop().await;
}

#[tokio::test]
async fn connector_settings_are_set_and_changed_only_with_the_admin_scope() {
    let daemon = TestDaemon::start().await;
    let control = daemon.key_for(&["*"], &["read", "control"]).await;
    let refused = |(status, body): (StatusCode, Value), table: &str| {
        assert_eq!(
            (status, code(&body)),
            (StatusCode::FORBIDDEN, Some("forbidden")),
            "{body}"
        );
        let message = body["error"]["message"].as_str().unwrap();
        assert!(
            message.contains("`admin` scope") && message.contains(table),
            "{message}"
        );
    };

    // Creating: control may create a simulator device, not one with a connector table.
    for (id, connector, table) in [
        ("wa", "waha", waha_table()),
        ("cl", "cloud_api", cloud_table()),
    ] {
        let device = stopped_device(id, connector, table.clone());
        refused(
            daemon
                .call_as(&control, Method::POST, "/api/v1/devices", Some(device))
                .await,
            connector,
        );
        let (status, _) = daemon.get(&format!("/api/v1/devices/{id}")).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{id} was not created");
        let (status, body) = daemon
            .post("/api/v1/devices", stopped_device(id, connector, table))
            .await;
        assert_eq!(
            status,
            StatusCode::CREATED,
            "the admin creates {id}: {body}"
        );
    }
    let simulator = json!({ "id": "sim", "name": "Sim", "autostart": false,
        "simulator": { "phone": "15550000009" } });
    let (status, body) = daemon
        .call_as(&control, Method::POST, "/api/v1/devices", Some(simulator))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");

    // Changing: control may rename, not touch connector settings, on any device.
    for (id, connector, table) in [
        ("wa", "waha", waha_table()),
        ("cl", "cloud_api", cloud_table()),
        ("sim", "waha", waha_table()),
    ] {
        let path = format!("/api/v1/devices/{id}");
        let mut change = json!({ "name": "Renamed" });
        change[connector] = table.clone();
        refused(
            daemon
                .call_as(&control, Method::PATCH, &path, Some(change.clone()))
                .await,
            connector,
        );
        let (_, device) = daemon.get(&path).await;
        assert_ne!(
            device["name"], "Renamed",
            "nothing of a refused change is kept"
        );
        let rename = json!({ "name": "Renamed" });
        let (status, renamed) = daemon
            .call_as(&control, Method::PATCH, &path, Some(rename))
            .await;
        assert_eq!(
            (status, &renamed["name"]),
            (StatusCode::OK, &json!("Renamed")),
            "{renamed}"
        );
        if id != "sim" {
            let (status, body) = daemon.call(Method::PATCH, &path, Some(change)).await;
            assert_eq!(status, StatusCode::OK, "the admin changes {id}: {body}");
        }
    }
    daemon.stop().await;
}
