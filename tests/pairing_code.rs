//! Linking by phone number, end to end in-process: a code asked for over REST or Socket.IO
//! while the device shows its QR codes, journaled as `pairing:code` for control credentials
//! only, typed on the simulated phone (`POST /api/v1/pairings { code, phone }`), and asked of a
//! stub WAHA (`POST /api/{session}/auth/request-code`).

mod common;

use common::sio::SioClient;
use common::waha_stub::{WahaStub, API_KEY};
use common::{wait_state, TestDaemon, WAIT};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

const PHONE: &str = "+15550000009";

/// Connects to `device`'s namespace with `key`, resuming from the journal's start.
async fn socket_as(daemon: &TestDaemon, device: &str, key: &str) -> SioClient {
    daemon
        .socket(device, json!({ "apiKey": key, "lastSeq": 0 }))
        .await
}

/// Asks for a code for `phone` for `device` with the admin key.
async fn ask_code(daemon: &TestDaemon, device: &str, phone: &str) -> (StatusCode, Value) {
    let path = format!("/api/v1/devices/{device}/pairing-code");
    daemon.post(&path, json!({ "phone": phone })).await
}

/// Types `code` on the simulated phone whose number is `phone`.
async fn type_code(daemon: &TestDaemon, code: &Value, phone: &str) -> (StatusCode, Value) {
    let typed = json!({ "code": code, "phone": phone });
    daemon.post("/api/v1/pairings", typed).await
}

/// The error code of a refusal, after checking its status.
#[track_caller]
fn refused(answer: (StatusCode, Value), status: StatusCode) -> String {
    assert_eq!(answer.0, status, "{}", answer.1);
    answer.1["error"]["code"].as_str().unwrap().to_owned()
}

/// The names of the journaled events of `device`, as `key` reads them.
async fn journal_as(daemon: &TestDaemon, device: &str, key: &str) -> Vec<String> {
    let path = format!("/api/v1/devices/{device}/events?after=0&limit=500");
    let (status, page) = daemon.call_as(key, Method::GET, &path, None).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|event| event["type"].as_str().unwrap().to_owned())
        .collect()
}

/// What a dashboard opened on device `shop` with `key` is shown before `sync` (it connects without
/// `lastSeq`): the events' names, and the pairing code among them if any.
async fn opened(daemon: &TestDaemon, key: &str) -> (Vec<String>, Option<Value>) {
    let mut client = daemon.socket("shop", json!({ "apiKey": key })).await;
    client.wait_for("sync", WAIT).await.unwrap();
    let names = client.history().iter().map(|e| e.name.clone()).collect();
    let code = client
        .history()
        .iter()
        .find(|e| e.name == "pairing:code")
        .map(|e| e.data["code"].clone());
    client.close().await;
    (names, code)
}

#[tokio::test]
async fn a_simulator_device_links_by_a_code_typed_on_a_phone_and_stays_linked() {
    let daemon = TestDaemon::start().await;
    daemon.create_device("shop").await;
    let mut client = daemon.socket("shop", json!({ "lastSeq": 0 })).await;
    wait_state(&mut client, "qr").await;

    let (status, issued) = ask_code(&daemon, "shop", PHONE).await;
    assert_eq!(status, StatusCode::OK, "{issued}");
    let code = issued["code"].as_str().unwrap().to_owned();
    assert_eq!(code.len(), 9, "{code}");
    assert_eq!(&code[4..5], "-", "{code}");
    assert!(code
        .chars()
        .all(|c| c == '-' || "ABCDEFGHJKMNPQRSTWXYZ23456789".contains(c)));
    let expires = chrono::DateTime::parse_from_rfc3339(issued["expiresAt"].as_str().unwrap())
        .expect("an RFC 3339 time");
    assert!(expires > chrono::Utc::now(), "{issued}");
    let event = client.wait_for("pairing:code", WAIT).await.unwrap();
    assert_eq!(
        (&event.data["code"], &event.data["phone"]),
        (&json!(code), &json!("15550000009"))
    );
    assert_eq!(event.data["expiresAt"], issued["expiresAt"]);
    assert_eq!(event.data["deviceId"], "shop");

    // From another phone the code links nothing, and stays good for its own.
    let other = type_code(&daemon, &json!(code), "15550000008").await;
    assert_eq!(refused(other, StatusCode::CONFLICT), "phone_mismatch");
    // It is no QR code either.
    let as_qr = daemon.post("/api/v1/pairings", json!({ "qr": code })).await;
    assert_eq!(refused(as_qr, StatusCode::GONE), "qr_expired");
    let bad_phone = type_code(&daemon, &json!(code), "555").await;
    assert_eq!(refused(bad_phone, StatusCode::BAD_REQUEST), "bad_request");
    let (_, device) = daemon.get("/api/v1/devices/shop").await;
    assert_eq!(device["state"], "qr");

    // Typed on its phone (in any case, with or without the dash), it links the device as
    // that phone's account, as a scanned QR code would.
    let typed = code.to_lowercase().replace('-', "");
    let (status, paired) = type_code(&daemon, &json!(typed), PHONE).await;
    assert_eq!(status, StatusCode::OK, "{paired}");
    assert_eq!(paired, json!({ "deviceId": "shop", "linked": true }));
    wait_state(&mut client, "authenticated").await;
    wait_state(&mut client, "ready").await;
    let ready = client.wait_for("ready", WAIT).await.unwrap();
    assert_eq!(ready.data["me"]["id"], "15550000009@c.us");

    // The code is single-use.
    let again = type_code(&daemon, &json!(code), PHONE).await;
    assert_eq!(refused(again, StatusCode::GONE), "qr_expired");
    client.close().await;

    // After a restart the device comes back linked, as the same account.
    let daemon = daemon.restart().await;
    let mut client = daemon.socket("shop", json!({})).await;
    client
        .wait_until(WAIT, |e| e.name == "state" && e.data["state"] == "ready")
        .await
        .unwrap();
    let (_, device) = daemon.get("/api/v1/devices/shop").await;
    assert_eq!(device["state"], "ready", "{device}");
    assert_eq!(device["me"]["id"], "15550000009@c.us", "{device}");
    assert!(device["capabilities"]
        .as_array()
        .unwrap()
        .contains(&json!("pairing.code")));
    daemon.stop().await;
}

#[tokio::test]
async fn a_code_is_given_only_while_the_device_shows_qr_codes_and_for_a_number() {
    let daemon = TestDaemon::start().await;
    daemon.ready_device("linked", json!({})).await;

    // Linked already: refused, and nothing is journaled.
    let linked = ask_code(&daemon, "linked", PHONE).await;
    assert_eq!(
        refused(linked.clone(), StatusCode::CONFLICT),
        "invalid_state"
    );
    let message = linked.1["error"]["message"].as_str().unwrap();
    assert!(message.contains("while ready"), "{message}");
    let journal = journal_as(&daemon, "linked", &daemon.key).await;
    assert!(
        !journal.iter().any(|name| name == "pairing:code"),
        "{journal:?}"
    );

    // Stopped: the same.
    let (status, _) = daemon.post("/api/v1/devices/linked/stop", json!({})).await;
    assert_eq!(status, StatusCode::OK);
    let stopped = ask_code(&daemon, "linked", PHONE).await;
    assert_eq!(refused(stopped, StatusCode::CONFLICT), "invalid_state");

    // A number is digits, with or without a leading `+`, 7 to 15 of them; whatever the state.
    for phone in ["555", "+1 555 000 0009", "1555000000912345", "phone", ""] {
        let answer = ask_code(&daemon, "linked", phone).await;
        assert_eq!(
            refused(answer, StatusCode::BAD_REQUEST),
            "bad_request",
            "{phone:?}"
        );
    }
    for body in [json!({}), json!({ "phone": PHONE, "name": "x" })] {
        let answer = daemon
            .post("/api/v1/devices/linked/pairing-code", body)
            .await;
        assert_eq!(refused(answer, StatusCode::BAD_REQUEST), "bad_request");
    }
    // A typed code without its number is neither body the phone side takes.
    let (status, half) = daemon
        .post("/api/v1/pairings", json!({ "code": "K7QM-WX42" }))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{half}");
    let message = half["error"]["message"].as_str().unwrap();
    assert!(message.contains("`{ code, phone }`"), "{message}");
    let missing = ask_code(&daemon, "nobody", PHONE).await;
    assert_eq!(refused(missing, StatusCode::NOT_FOUND), "device_not_found");
    let journal = journal_as(&daemon, "linked", &daemon.key).await;
    assert!(
        !journal.iter().any(|name| name == "pairing:code"),
        "{journal:?}"
    );
    daemon.stop().await;
}

#[tokio::test]
async fn a_business_number_links_nothing() {
    let daemon = TestDaemon::start().await;
    let (status, body) = daemon
        .post(
            "/api/v1/devices",
            json!({
                "id": "biz", "name": "Support line", "connector": "cloud_api", "autostart": false,
                "cloud_api": {
                    "phone_number_id": "1234567890", "access_token": "token",
                    "app_secret": "secret", "verify_token": "verify",
                    "graph_url": "http://graph.invalid"
                }
            }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert!(!body["capabilities"]
        .as_array()
        .unwrap()
        .contains(&json!("pairing.code")));
    let answer = ask_code(&daemon, "biz", PHONE).await;
    let message = answer.1["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert_eq!(
        refused(answer, StatusCode::UNPROCESSABLE_ENTITY),
        "unsupported_by_connector"
    );
    assert!(
        message.contains("cloud_api") && message.contains("pairing.code"),
        "{message}"
    );
    let mut client = daemon.socket("biz", json!({})).await;
    let ack = client
        .emit_with_ack("pairing:code", json!({ "phone": PHONE }), WAIT)
        .await
        .unwrap();
    assert_eq!(ack["error"]["code"], "unsupported_by_connector", "{ack}");
    daemon.stop().await;
}

#[tokio::test]
async fn the_code_reaches_control_credentials_only() {
    let daemon = TestDaemon::start().await;
    daemon.create_device("shop").await;
    let control = daemon.key_for(&["shop"], &["read", "control"]).await;
    let read = daemon.key_for(&["shop"], &["read"]).await;
    let send = daemon.key_for(&["shop"], &["read", "send"]).await;
    let mut controller = socket_as(&daemon, "shop", &control).await;
    let mut reader = socket_as(&daemon, "shop", &read).await;
    let mut sender = socket_as(&daemon, "shop", &send).await;
    wait_state(&mut controller, "qr").await;

    // Asked over the socket: only a credential with `control` may.
    for client in [&mut reader, &mut sender] {
        let ack = client
            .emit_with_ack("pairing:code", json!({ "phone": PHONE }), WAIT)
            .await
            .unwrap();
        assert_eq!(ack["error"]["code"], "forbidden", "{ack}");
    }
    let (status, _) = daemon
        .call_as(
            &send,
            Method::POST,
            "/api/v1/devices/shop/pairing-code",
            Some(json!({ "phone": PHONE })),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let bad = controller
        .emit_with_ack("pairing:code", json!({ "phone": "555" }), WAIT)
        .await
        .unwrap();
    assert_eq!(bad["error"]["code"], "bad_request", "{bad}");
    let ack = controller
        .emit_with_ack("pairing:code", json!({ "phone": PHONE }), WAIT)
        .await
        .unwrap();
    assert_eq!(ack["ok"], true, "{ack}");
    let code = ack["data"]["code"].as_str().unwrap().to_owned();
    let event = controller.wait_for("pairing:code", WAIT).await.unwrap();
    assert_eq!(event.data["code"], code.as_str());

    // The phone types it: every socket hears the device link, and only the controller heard
    // the code before. Each socket's events come in the journal's order, so the ones that
    // hear `ready` would have heard the code first.
    let (status, body) = type_code(&daemon, &json!(code), PHONE).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    for client in [&mut controller, &mut reader, &mut sender] {
        wait_state(client, "ready").await;
    }
    let heard = |client: &SioClient| {
        client
            .history()
            .iter()
            .any(|event| event.name == "pairing:code")
    };
    assert!(heard(&controller));
    assert!(!heard(&reader) && !heard(&sender));

    // Nor does the journal show it to them, nor a resume replay it.
    assert!(journal_as(&daemon, "shop", &control)
        .await
        .contains(&"pairing:code".to_owned()));
    for key in [&read, &send] {
        let journal = journal_as(&daemon, "shop", key).await;
        assert!(journal.contains(&"ready".to_owned()), "{journal:?}");
        assert!(!journal.contains(&"pairing:code".to_owned()), "{journal:?}");
        let mut resumed = socket_as(&daemon, "shop", key).await;
        resumed.wait_for("sync", WAIT).await.unwrap();
        assert!(!heard(&resumed));
        resumed.close().await;
    }
    daemon.stop().await;
}

/// A dashboard opened while the code is being typed (connecting without `lastSeq`) is shown
/// it with the device's state and QR code, before `sync`, if its credential may see them; once
/// the device is linked, it is shown no more.
#[tokio::test]
async fn a_dashboard_opened_while_a_code_is_typed_is_shown_it() {
    let daemon = TestDaemon::start().await;
    daemon.create_device("shop").await;
    let read = daemon.key_for(&["shop"], &["read"]).await;
    let mut watching = daemon.socket("shop", json!({ "lastSeq": 0 })).await;
    wait_state(&mut watching, "qr").await;
    let (status, issued) = ask_code(&daemon, "shop", PHONE).await;
    assert_eq!(status, StatusCode::OK, "{issued}");
    watching.wait_for("pairing:code", WAIT).await.unwrap();

    let (names, code) = opened(&daemon, &daemon.key).await;
    assert_eq!(names, ["session", "state", "qr", "pairing:code", "sync"]);
    assert_eq!(code, Some(issued["code"].clone()));
    let (names, _) = opened(&daemon, &read).await;
    assert_eq!(names, ["session", "state", "sync"], "nor its QR code");

    let (status, body) = type_code(&daemon, &issued["code"], PHONE).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    wait_state(&mut watching, "ready").await;
    let (names, _) = opened(&daemon, &daemon.key).await;
    assert_eq!(names, ["session", "state", "sync"]);
    daemon.stop().await;
}

#[tokio::test]
async fn linking_waits_for_a_code_being_typed() {
    // A first code of two seconds, then one of one: linking would end three seconds in.
    let daemon = TestDaemon::start_with(|settings, _| {
        settings.qr.first_ttl_secs = 2;
        settings.qr.ttl_secs = 1;
        settings.qr.max_attempts = 2;
    })
    .await;
    daemon.create_device("shop").await;
    let mut client = daemon.socket("shop", json!({ "lastSeq": 0 })).await;
    client
        .wait_until(WAIT, |e| e.name == "qr" && e.data["attempt"] == 2)
        .await
        .unwrap();
    let last_qr = daemon.get("/api/v1/devices/shop/qr").await.1;
    let (status, issued) = ask_code(&daemon, "shop", PHONE).await;
    assert_eq!(status, StatusCode::OK, "{issued}");

    // The last QR code runs out, and the device keeps waiting for the code until it expires.
    let stopped = wait_state(&mut client, "stopped").await;
    assert_eq!(stopped.data["reason"], "qr_timeout");
    let at = |value: &Value| chrono::DateTime::parse_from_rfc3339(value.as_str().unwrap()).unwrap();
    assert!(
        at(&last_qr["expiresAt"]) < at(&issued["expiresAt"]),
        "{last_qr} {issued}"
    );
    assert!(
        at(&stopped.data["at"]) >= at(&issued["expiresAt"]),
        "stopped at {} before the code expired at {}",
        stopped.data["at"],
        issued["expiresAt"]
    );
    let late = type_code(&daemon, &issued["code"], PHONE).await;
    assert_eq!(refused(late, StatusCode::GONE), "qr_expired");
    daemon.stop().await;
}

#[tokio::test]
async fn a_waha_device_asks_waha_for_the_code() {
    let mut stub = WahaStub::start("qr-one").await;
    let file = format!(
        "name = \"Waha phone\"\nconnector = \"waha\"\n[waha]\nbase_url = \"{}\"\napi_key = \"{API_KEY}\"\nsession = \"default\"\nwebhook_secret = \"secret\"\n",
        stub.base()
    );
    let (daemon, mut client) = TestDaemon::start_with_device("wa", &file, |_| {}).await;
    wait_state(&mut client, "qr").await;

    let (status, issued) = ask_code(&daemon, "wa", PHONE).await;
    assert_eq!(status, StatusCode::OK, "{issued}");
    assert_eq!(issued["code"], "K7QM-WX42");
    let asked = stub
        .requests
        .wait_line(WAIT, "POST /api/default/auth/request-code")
        .await;
    assert_eq!(asked.header("x-api-key"), Some(API_KEY));
    assert_eq!(asked.body, json!({ "phoneNumber": "15550000009" }));
    let event = client.wait_for("pairing:code", WAIT).await.unwrap();
    assert_eq!(
        (&event.data["code"], &event.data["phone"]),
        (&json!("K7QM-WX42"), &json!("15550000009"))
    );

    // A WAHA that refuses (its session is no longer waiting for a link) is an upstream error.
    stub.with(|waha| waha.status = "STARTING".into());
    let refusal = ask_code(&daemon, "wa", PHONE).await;
    assert_eq!(refused(refusal, StatusCode::BAD_GATEWAY), "upstream_error");
    daemon.stop().await;
}
