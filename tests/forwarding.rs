//! Forwarding a file from one device through another: a WAHA device and a Cloud API device
//! in one daemon, each on its stub (tests/common/waha_stub.rs, tests/common/cloud_stub.rs).
//! Neither upstream can fetch the daemon's media URLs, so the file's bytes go over.

mod common;

use base64::Engine;
use common::cloud_stub::{
    self, CloudStub, MEDIA_BYTES, MEDIA_ID, PHONE_NUMBER_ID, TOKEN, UPLOADED_ID,
};
use common::waha_stub::{WahaStub, API_KEY, FILE, FILE_BYTES};
use common::{wait_state, write_device_file, TestDaemon, WAIT};
use reqwest::{Method, StatusCode};
use serde_json::json;

const ALICE: &str = "15550002222@c.us";
const CUSTOMER: &str = "15551234567";
const APP_SECRET: &str = "meta-app-secret";

/// A daemon with `wa` on a WAHA stub and `cl` on a Cloud API stub, both ready, and a chat on
/// each: Alice's on WAHA, a customer's who wrote to the business number.
async fn two_upstreams() -> (WahaStub, CloudStub, TestDaemon) {
    let waha = WahaStub::start("unused").await;
    waha.with(|waha| {
        waha.status_after_start = "WORKING".into();
        waha.chats = vec![json!({ "id": ALICE, "name": "Alice" })];
    });
    let cloud = CloudStub::start().await;
    let waha_file = format!(
        "name = \"Waha phone\"\nconnector = \"waha\"\n[waha]\nbase_url = \"{}\"\napi_key = \"{API_KEY}\"\nsession = \"default\"\nwebhook_secret = \"waha-hmac-secret\"\n",
        waha.base()
    );
    let cloud_file = format!(
        "name = \"Support line\"\nconnector = \"cloud_api\"\n[cloud_api]\nphone_number_id = \"{PHONE_NUMBER_ID}\"\naccess_token = \"{TOKEN}\"\napp_secret = \"{APP_SECRET}\"\nverify_token = \"verify-me\"\ngraph_url = \"{}\"\n",
        cloud.graph_url()
    );
    let daemon = TestDaemon::start_with(|settings, dir| {
        settings.upstream.timeout_ms = 2000;
        write_device_file(dir, "wa", &waha_file);
        write_device_file(dir, "cl", &cloud_file);
    })
    .await;
    for device in ["wa", "cl"] {
        let mut client = daemon.socket(device, json!({ "lastSeq": 0 })).await;
        wait_state(&mut client, "ready").await;
    }
    let mut client = daemon.socket("cl", json!({})).await;
    let body = serde_json::to_vec(&json!({
        "object": "whatsapp_business_account",
        "entry": [{ "id": "102290129340398", "changes": [{ "field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": { "display_phone_number": "15550100000", "phone_number_id": PHONE_NUMBER_ID },
            "contacts": [{ "profile": { "name": "Maria" }, "wa_id": CUSTOMER }],
            "messages": [{ "from": CUSTOMER, "id": "wamid.IN1", "timestamp": "1700000000", "type": "text", "text": { "body": "hello" } }]
        } }] }]
    }))
    .unwrap();
    let (status, text) = cloud_stub::deliver(&daemon, "cl", APP_SECRET, body).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    client
        .wait_until(WAIT, |e| e.name == "message" && e.data["body"] == "hello")
        .await
        .unwrap();
    (waha, cloud, daemon)
}

#[tokio::test]
async fn a_file_received_on_one_device_is_forwarded_through_another_with_its_bytes() {
    let (mut waha, mut cloud, daemon) = two_upstreams().await;
    let waha_url = format!(
        "{}/api/v1/devices/wa/media/default%2F{}",
        daemon.base,
        FILE.replace('@', "%40")
    );
    let cloud_url = format!("{}/api/v1/devices/cl/media/{MEDIA_ID}", daemon.base);

    // WAHA's file through the business number: fetched from WAHA with its key, uploaded to
    // Meta, and sent by the media id Meta gave it.
    daemon
        .send_message(
            "cl",
            &format!("{CUSTOMER}@c.us"),
            json!({ "text": "from the phone", "media": { "url": waha_url, "mime": "image/jpeg" } }),
        )
        .await;
    let fetched = waha
        .requests
        .wait_line(WAIT, &format!("GET /api/files/default/{FILE}"))
        .await;
    assert_eq!(fetched.header("x-api-key"), Some(API_KEY));
    let upload = cloud
        .requests
        .wait_line(WAIT, &format!("POST {}", CloudStub::upload_path()))
        .await;
    let form = String::from_utf8_lossy(&upload.raw);
    assert!(
        upload
            .header("content-type")
            .is_some_and(|t| t.starts_with("multipart/form-data")),
        "{upload:?}"
    );
    assert!(
        form.contains("name=\"messaging_product\"\r\n\r\nwhatsapp"),
        "{form}"
    );
    assert!(form.contains("name=\"type\"\r\n\r\nimage/jpeg"), "{form}");
    assert!(
        upload
            .raw
            .windows(FILE_BYTES.len())
            .any(|w| w == FILE_BYTES),
        "the upload carries the file's bytes: {form}"
    );
    let sent = cloud
        .requests
        .wait_line(WAIT, &format!("POST {}", CloudStub::messages_path()))
        .await;
    assert_eq!(
        sent.body["image"],
        json!({ "id": UPLOADED_ID, "caption": "from the phone" })
    );

    // Meta's file through the WAHA phone: fetched from Meta, sent to WAHA inline.
    daemon
        .send_message(
            "wa",
            ALICE,
            json!({ "text": "", "media": { "url": cloud_url, "mime": "image/jpeg" } }),
        )
        .await;
    let forward = waha.requests.wait_line(WAIT, "POST /api/sendImage").await;
    assert_eq!(
        forward.body["file"],
        json!({
            "data": base64::engine::general_purpose::STANDARD.encode(MEDIA_BYTES),
            "mimetype": "image/jpeg"
        })
    );

    // A credential for the WAHA phone only may not send the business number's files on.
    let key = daemon.key_for(&["wa"], &["read", "send"]).await;
    let (status, body) = daemon
        .call_as(
            &key,
            Method::POST,
            &format!("/api/v1/devices/wa/chats/{ALICE}/messages"),
            Some(json!({ "text": "", "media": { "url": cloud_url, "mime": "image/jpeg" } })),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("device `cl`"),
        "{body}"
    );
    let (_, messages) = daemon
        .get(&format!("/api/v1/devices/wa/chats/{ALICE}/messages"))
        .await;
    assert_eq!(
        messages["items"].as_array().unwrap().len(),
        1,
        "nothing was stored for the refused send: {messages}"
    );

    // A file that is not there fails the message with the upstream's reason.
    let mut client = daemon.socket("wa", json!({})).await;
    let gone = daemon
        .send_message(
            "wa",
            ALICE,
            json!({ "text": "", "media": { "url": format!("{}/api/v1/devices/cl/media/999", daemon.base), "mime": "image/jpeg" } }),
        )
        .await;
    let failed = common::wait_message_status(&mut client, &gone["id"], "failed").await;
    assert!(
        failed["error"].as_str().unwrap().contains("999"),
        "{failed}"
    );

    waha.server.stop().await;
    cloud.server.stop().await;
    daemon.stop().await;
}

#[tokio::test]
async fn an_uploaded_file_reaches_waha_inline_and_meta_by_upload() {
    let (mut waha, mut cloud, daemon) = two_upstreams().await;
    let document = b"%PDF-1.7 minutes of the meeting";

    let to_waha = daemon.upload("wa", document, "application/pdf").await;
    daemon
        .send_message("wa", ALICE, json!({ "text": "minutes", "media": to_waha }))
        .await;
    let sent = waha.requests.wait_line(WAIT, "POST /api/sendFile").await;
    assert_eq!(
        sent.body["file"],
        json!({
            "data": base64::engine::general_purpose::STANDARD.encode(document),
            "mimetype": "application/pdf"
        }),
        "{}",
        sent.body
    );

    let to_meta = daemon.upload("cl", document, "application/pdf").await;
    daemon
        .send_message(
            "cl",
            &format!("{CUSTOMER}@c.us"),
            json!({ "text": "minutes", "media": to_meta }),
        )
        .await;
    let upload = cloud
        .requests
        .wait_line(WAIT, &format!("POST {}", CloudStub::upload_path()))
        .await;
    assert!(
        upload.raw.windows(document.len()).any(|w| w == document),
        "Meta receives the file's bytes"
    );
    let sent = cloud
        .requests
        .wait_line(WAIT, &format!("POST {}", CloudStub::messages_path()))
        .await;
    assert_eq!(sent.body["document"]["id"], UPLOADED_ID, "{}", sent.body);

    waha.server.stop().await;
    cloud.server.stop().await;
    daemon.stop().await;
}
