//! The REST API's contract: errors and their envelope, scopes, keys, tokens, the QR formats,
//! the journal, device files and the OpenAPI document.

mod common;

use common::{write_device_file, TestDaemon, WAIT};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

fn code(body: &Value) -> Option<&str> {
    body["error"]["code"].as_str()
}

#[tokio::test]
async fn bad_input_gets_the_documented_error_and_changes_nothing() {
    let daemon = TestDaemon::start().await;
    daemon.create_device("demo").await;
    let (_, before) = daemon.get("/api/v1/devices").await;

    let (status, body) = daemon
        .post("/api/v1/devices", json!({ "id": "Bad Id", "name": "x" }))
        .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::BAD_REQUEST, Some("invalid_device_id"))
    );
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("Bad Id"));
    let (status, body) = daemon.get("/api/v1/devices/NOPE!").await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::BAD_REQUEST, Some("invalid_device_id"))
    );
    let (status, body) = daemon.get("/api/v1/devices/ghost").await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::NOT_FOUND, Some("device_not_found"))
    );
    let (status, body) = daemon.post("/api/v1/devices/ghost/start", json!({})).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::NOT_FOUND, Some("device_not_found"))
    );
    let (status, body) = daemon
        .post("/api/v1/devices", json!({ "id": "demo", "name": "again" }))
        .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::CONFLICT, Some("device_exists"))
    );
    let (status, body) = daemon
        .post(
            "/api/v1/devices",
            json!({ "id": "typo", "name": "x", "conector": "simulator" }),
        )
        .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::BAD_REQUEST, Some("bad_request"))
    );
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("conector"));

    let malformed = daemon
        .http
        .post(format!("{}/api/v1/devices", daemon.base))
        .header("x-api-key", &daemon.key)
        .header("content-type", "application/json")
        .body("{\"id\": \"x\",")
        .send()
        .await
        .unwrap();
    assert_eq!(malformed.status(), StatusCode::BAD_REQUEST);
    let body: Value = malformed.json().await.unwrap();
    assert_eq!(code(&body), Some("bad_request"));
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .starts_with("malformed JSON"));

    // Serde reads a struct from an array of its fields in order; a body must be an object.
    for (path, body) in [
        ("/api/v1/keys", json!(["n", ["*"], ["read"]])),
        ("/api/v1/devices", json!(["arr", "x"])),
        ("/api/v1/devices/demo/simulator/drop", json!([3])),
    ] {
        let (status, answer) = daemon.post(path, body).await;
        assert_eq!(
            (status, answer["error"]["message"].as_str()),
            (
                StatusCode::BAD_REQUEST,
                Some("the body must be a JSON object")
            ),
            "{path}"
        );
    }
    let (_, keys) = daemon.get("/api/v1/keys").await;
    assert_eq!(keys["items"].as_array().unwrap().len(), 1, "{keys}");

    let huge = json!({ "id": "big", "name": "x".repeat(70_000) });
    let (status, body) = daemon.post("/api/v1/devices", huge).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::PAYLOAD_TOO_LARGE, Some("payload_too_large"))
    );

    let (status, body) = daemon
        .post(
            "/api/v1/pairings",
            json!({ "qr": "http://localhost/pair/never-issued" }),
        )
        .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::GONE, Some("qr_expired"))
    );
    let (status, body) = daemon.get("/api/v1/nothing-here").await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::NOT_FOUND, Some("not_found"))
    );
    // Rejections made before any handler runs get the envelope too.
    let (status, body) = daemon.call(Method::PUT, "/api/v1/devices", None).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::METHOD_NOT_ALLOWED, Some("method_not_allowed"))
    );
    // A path segment that is not UTF-8 once decoded, in every kind of path parameter.
    for (method, path) in [
        (Method::GET, "/api/v1/devices/%FF"),
        (Method::GET, "/api/v1/devices/%FF/chats"),
        (Method::GET, "/api/v1/devices/demo/chats/%FF"),
        (Method::GET, "/api/v1/devices/demo/chats/%C3%28/messages"),
        (Method::GET, "/api/v1/devices/demo/messages/%FF"),
        (Method::GET, "/api/v1/devices/demo/media/%FF"),
        (Method::DELETE, "/api/v1/keys/%FF"),
        (Method::GET, "/api/v1/webhooks/%FF"),
        (Method::POST, "/api/v1/webhooks/deliveries/%FF/replay"),
        (Method::POST, "/upstream/waha/%FF"),
        (Method::GET, "/pair/%FF"),
    ] {
        let (status, body) = daemon.call(method.clone(), path, None).await;
        assert_eq!(
            (status, code(&body)),
            (StatusCode::BAD_REQUEST, Some("bad_request")),
            "{method} {path}: {body}"
        );
        assert!(
            body["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "{method} {path}: {body}"
        );
    }
    // A `%` that starts no escape is kept as it is, and named as a bad id.
    let (status, body) = daemon.get("/api/v1/devices/%ZZ").await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::BAD_REQUEST, Some("invalid_device_id")),
        "{body}"
    );
    let oversized = daemon
        .http
        .post(format!(
            "{}/api/v1/devices/some-device/chats/some-chat/read",
            daemon.base
        ))
        .header("x-api-key", &daemon.key)
        .body("x".repeat(daemon.settings.limits.max_message_bytes + 1))
        .send()
        .await
        .unwrap();
    assert_eq!(oversized.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let body: Value = oversized.json().await.expect("a JSON error envelope");
    assert_eq!(code(&body), Some("payload_too_large"));

    let (_, after) = daemon.get("/api/v1/devices").await;
    assert_eq!(
        before["items"].as_array().unwrap().len(),
        after["items"].as_array().unwrap().len()
    );
    daemon.stop().await;
}

#[tokio::test]
async fn names_scopes_and_page_sizes_are_checked() {
    let daemon = TestDaemon::start_with(|settings, _| settings.webhooks.allow_private = true).await;
    daemon.create_device("demo").await;
    let (_, hook) = daemon
        .post(
            "/api/v1/webhooks",
            json!({ "url": "http://127.0.0.1:9/hook" }),
        )
        .await;
    let deliveries = format!(
        "/api/v1/webhooks/{}/deliveries",
        hook["id"].as_str().unwrap()
    );
    let refused = [
        ("/api/v1/keys", json!({ "name": " ", "scopes": ["read"] })),
        ("/api/v1/devices", json!({ "id": "nameless", "name": "" })),
        (
            "/api/v1/tokens",
            json!({ "sub": "ui", "devices": ["*"], "scopes": [] }),
        ),
    ];
    for (path, body) in refused {
        let (status, answer) = daemon.post(path, body.clone()).await;
        assert_eq!(
            (status, code(&answer)),
            (StatusCode::BAD_REQUEST, Some("bad_request")),
            "{path} {body}: {answer}"
        );
    }
    let (status, answer) = daemon
        .call(
            Method::PATCH,
            "/api/v1/devices/demo",
            Some(json!({ "name": "" })),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");

    let (_, key) = daemon
        .post(
            "/api/v1/keys",
            json!({ "name": "twice", "scopes": ["send", "read", "send"] }),
        )
        .await;
    assert_eq!(key["scopes"], json!(["read", "send"]), "{key}");

    // Every page size outside its range is refused with the range, none is clamped.
    for path in [
        "/api/v1/devices/demo/events?limit=0".to_owned(),
        "/api/v1/devices/demo/events?limit=1001".to_owned(),
        format!("{deliveries}?limit=0"),
        format!("{deliveries}?limit=201"),
        "/api/v1/devices/demo/chats?limit=201".to_owned(),
    ] {
        let (status, answer) = daemon.get(&path).await;
        assert_eq!(
            (status, code(&answer)),
            (StatusCode::BAD_REQUEST, Some("bad_request")),
            "{path}: {answer}"
        );
        assert!(
            answer["error"]["message"]
                .as_str()
                .unwrap()
                .contains("must be between 1 and"),
            "{answer}"
        );
    }
    daemon.stop().await;
}

#[tokio::test]
async fn an_admin_limited_to_some_devices_manages_only_their_keys() {
    let daemon = TestDaemon::start().await;
    daemon.create_device("mine").await;
    daemon.create_device("theirs").await;
    let admin = daemon.key_for(&["mine"], &["admin"]).await;
    let other = daemon.key_for(&["theirs"], &["read"]).await;

    for devices in [json!(["*"]), json!(["theirs"]), json!(["mine", "theirs"])] {
        let (status, body) = daemon
            .call_as(
                &admin,
                Method::POST,
                "/api/v1/keys",
                Some(json!({ "name": "wider", "devices": devices, "scopes": ["read"] })),
            )
            .await;
        assert_eq!(
            (status, code(&body)),
            (StatusCode::FORBIDDEN, Some("forbidden")),
            "a key for {devices}"
        );
    }
    let (status, created) = daemon
        .call_as(
            &admin,
            Method::POST,
            "/api/v1/keys",
            Some(json!({ "name": "helper", "devices": ["mine"], "scopes": ["send"] })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");

    let (status, list) = daemon
        .call_as(&admin, Method::GET, "/api/v1/keys", None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let devices: Vec<&Value> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|key| &key["devices"])
        .collect();
    assert_eq!(
        devices,
        [&json!(["mine"]), &json!(["mine"])],
        "its own key and the one it made: {list}"
    );
    let (_, everything) = daemon.get("/api/v1/keys").await;
    let id_of = |devices: Value| {
        everything["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|key| key["devices"] == devices)
            .map(|key| key["id"].as_str().unwrap().to_owned())
            .unwrap()
    };
    for id in [id_of(json!(["*"])), id_of(json!(["theirs"]))] {
        let (status, body) = daemon
            .call_as(&admin, Method::DELETE, &format!("/api/v1/keys/{id}"), None)
            .await;
        assert_eq!(
            (status, code(&body)),
            (StatusCode::NOT_FOUND, Some("key_not_found"))
        );
    }
    let (status, _) = daemon
        .call_as(&other, Method::GET, "/api/v1/devices/theirs", None)
        .await;
    assert_eq!(
        status,
        StatusCode::OK,
        "the key it could not revoke still works"
    );
    let helper = created["id"].as_str().unwrap();
    let (status, _) = daemon
        .call_as(
            &admin,
            Method::DELETE,
            &format!("/api/v1/keys/{helper}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    daemon.stop().await;
}

#[tokio::test]
async fn credentials_and_scopes() {
    let daemon = TestDaemon::start().await;
    daemon.create_device("mine").await;
    daemon.create_device("theirs").await;
    let (status, body) = daemon
        .call_as("wrong", Method::GET, "/api/v1/devices", None)
        .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::UNAUTHORIZED, Some("unauthorized"))
    );
    let anonymous = daemon
        .http
        .get(format!("{}/api/v1/devices", daemon.base))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);

    let reader = daemon.key_for(&["mine"], &["read"]);
    let reader = reader.await;
    let (status, list) = daemon
        .call_as(&reader, Method::GET, "/api/v1/devices", None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let ids = common::ids(&list);
    assert_eq!(ids, ["mine"], "a limited key sees only its devices");
    let (status, body) = daemon
        .call_as(&reader, Method::GET, "/api/v1/devices/theirs", None)
        .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::FORBIDDEN, Some("forbidden"))
    );
    let (status, body) = daemon
        .call_as(&reader, Method::POST, "/api/v1/devices/mine/stop", None)
        .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::FORBIDDEN, Some("forbidden"))
    );
    let (status, body) = daemon
        .call_as(&reader, Method::GET, "/api/v1/keys", None)
        .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::FORBIDDEN, Some("forbidden"))
    );

    // Keys are shown once and stored hashed.
    let (status, created) = daemon
        .post(
            "/api/v1/keys",
            json!({ "name": "ops", "scopes": ["control"] }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let secret = created["key"].as_str().unwrap().to_owned();
    let (_, keys) = daemon.get("/api/v1/keys").await;
    assert!(!keys.to_string().contains(&secret));
    let db = std::fs::read(daemon.settings.storage.data_dir.join("devicebridge.db")).unwrap();
    assert!(
        !db.windows(secret.len()).any(|w| w == secret.as_bytes()),
        "the secret is not stored"
    );
    let (status, _) = daemon
        .call_as(&secret, Method::POST, "/api/v1/devices/mine/stop", None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = daemon
        .call(
            Method::DELETE,
            &format!("/api/v1/keys/{}", created["id"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = daemon
        .call_as(&secret, Method::POST, "/api/v1/devices/mine/start", None)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "a revoked key is refused");

    // Tokens carry at most the rights of the credential that asked for them.
    let (status, token) = daemon
        .call_as(
            &reader,
            Method::POST,
            "/api/v1/tokens",
            Some(json!({ "sub": "ui", "devices": ["mine"], "scopes": ["read"] })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{token}");
    let bearer = token["token"].as_str().unwrap();
    let response = daemon
        .http
        .get(format!("{}/api/v1/devices/mine", daemon.base))
        .bearer_auth(bearer)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    // The scheme is case-insensitive.
    for scheme in ["bearer", "BEARER"] {
        let response = daemon
            .http
            .get(format!("{}/api/v1/devices/mine", daemon.base))
            .header("authorization", format!("{scheme} {bearer}"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{scheme}");
    }
    let (status, body) = daemon
        .call_as(
            &reader,
            Method::POST,
            "/api/v1/tokens",
            Some(json!({ "sub": "ui", "devices": ["*"], "scopes": ["read"] })),
        )
        .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::FORBIDDEN, Some("forbidden"))
    );
    // Left out, the devices and scopes are the asking key's own, and the answer says which.
    let (status, own) = daemon
        .call_as(
            &reader,
            Method::POST,
            "/api/v1/tokens",
            Some(json!({ "sub": "ui", "ttlSecs": 60 })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{own}");
    assert_eq!(
        (&own["devices"], &own["scopes"]),
        (&json!(["mine"]), &json!(["read"]))
    );
    let response = daemon
        .http
        .get(format!("{}/api/v1/devices/mine", daemon.base))
        .bearer_auth(own["token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    // A token, even an admin one, cannot mint an API key: the key would outlive it.
    let (status, token) = daemon
        .post(
            "/api/v1/tokens",
            json!({ "sub": "ops", "devices": ["*"], "scopes": ["admin"] }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{token}");
    let minted = daemon
        .http
        .post(format!("{}/api/v1/keys", daemon.base))
        .bearer_auth(token["token"].as_str().unwrap())
        .json(&json!({ "name": "forever", "scopes": ["admin"] }))
        .send()
        .await
        .unwrap();
    assert_eq!(minted.status(), StatusCode::FORBIDDEN);
    let body: Value = minted.json().await.unwrap();
    assert_eq!(code(&body), Some("forbidden"));
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("needs an API key"),
        "{body}"
    );
    let tampered = format!("{}x", bearer);
    let response = daemon
        .http
        .get(format!("{}/api/v1/devices/mine", daemon.base))
        .bearer_auth(tampered)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    daemon.stop().await;
}

#[tokio::test]
async fn the_qr_code_comes_as_json_png_and_svg() {
    let daemon = TestDaemon::start().await;
    daemon.create_device("pic").await;
    let mut client = daemon.socket("pic", json!({ "lastSeq": 0 })).await;
    let pushed = client.wait_for("qr", WAIT).await.unwrap();
    let (status, qr) = daemon.get("/api/v1/devices/pic/qr").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(qr["qr"], pushed.data["qr"]);
    assert_eq!(qr["image"], pushed.data["image"]);
    for (accept, kind, magic) in [
        ("image/png", "image/png", &b"\x89PNG"[..]),
        ("image/svg+xml", "image/svg+xml", &b"<?xml"[..]),
        // q-values count: q=0 is "not acceptable", and the highest quality wins.
        (
            "image/png;q=0, application/json",
            "application/json",
            &b"{"[..],
        ),
        (
            "image/png;q=0.5, image/svg+xml",
            "image/svg+xml",
            &b"<?xml"[..],
        ),
    ] {
        let response = daemon
            .http
            .get(format!("{}/api/v1/devices/pic/qr", daemon.base))
            .header("x-api-key", &daemon.key)
            .header("accept", accept)
            .send()
            .await
            .unwrap();
        assert_eq!(response.headers()["content-type"], kind, "{accept}");
        let bytes = response.bytes().await.unwrap();
        assert!(bytes.starts_with(magic), "{accept}");
    }
    // The confirmation page a phone opens from the QR code links the device.
    let url = qr["qr"].as_str().unwrap();
    let page = daemon.http.get(url).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.text().await.unwrap().contains("Link device"));
    let confirmed = daemon.http.post(url).send().await.unwrap();
    assert_eq!(confirmed.status(), StatusCode::OK);
    common::wait_state(&mut client, "ready").await;
    let again = daemon.http.post(url).send().await.unwrap();
    assert_eq!(again.status(), StatusCode::GONE);
    daemon.stop().await;
}

#[tokio::test]
async fn the_journal_pages_after_a_seq() {
    let daemon = TestDaemon::start().await;
    daemon.create_device("log").await;
    let mut client = daemon.socket("log", json!({ "lastSeq": 0 })).await;
    client.wait_for("qr", WAIT).await.unwrap();
    let (status, page) = daemon
        .get("/api/v1/devices/log/events?after=1&limit=2")
        .await;
    assert_eq!(status, StatusCode::OK);
    let items = page["items"].as_array().unwrap();
    assert_eq!(
        items
            .iter()
            .map(|i| i["seq"].as_u64().unwrap())
            .collect::<Vec<_>>(),
        [2, 3]
    );
    assert_eq!(items[0]["deviceId"], "log");
    assert_eq!(page["recovered"], true);
    // At the head nothing is missing; beyond it, the seq is one of another journal, which
    // cannot be caught up, as a Socket.IO resume from there is told.
    let head = page["head"].as_u64().unwrap();
    let (_, at_head) = daemon
        .get(&format!("/api/v1/devices/log/events?after={head}"))
        .await;
    assert_eq!(at_head["recovered"], true, "{at_head}");
    let (_, beyond) = daemon
        .get(&format!("/api/v1/devices/log/events?after={}", head + 100))
        .await;
    assert_eq!(beyond["recovered"], false, "{beyond}");
    let (status, body) = daemon.get("/api/v1/devices/log/events?after=abc").await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::BAD_REQUEST, Some("bad_request"))
    );
    daemon.stop().await;
}

#[tokio::test]
async fn device_files_load_and_a_broken_one_does_not_stop_the_others() {
    let daemon = TestDaemon::start_with(|_, dir| {
        write_device_file(dir, "good", "name = \"Good\"\n");
        write_device_file(dir, "broken", "name = \"Broken\"\nautostart = \"yes\"\n");
    })
    .await;
    let (_, list) = daemon.get("/api/v1/devices").await;
    let ids = common::ids(&list);
    assert_eq!(ids, ["good"]);
    let (status, body) = daemon
        .call(Method::DELETE, "/api/v1/devices/good", None)
        .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::CONFLICT, Some("invalid_state"))
    );
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("devices/good.toml"));
    daemon.stop().await;
}

#[tokio::test]
async fn a_removed_file_removes_its_device_but_an_unreadable_directory_removes_none() {
    let mut daemon = TestDaemon::start_with(|_, dir| {
        write_device_file(dir, "kept", "name = \"Kept\"\nautostart = false\n");
        write_device_file(dir, "gone", "name = \"Gone\"\nautostart = false\n");
    })
    .await;
    let devices = daemon.settings.devices.dir.clone();
    let (_, list) = daemon.get("/api/v1/devices").await;
    assert_eq!(common::ids(&list), ["gone", "kept"]);

    std::fs::remove_file(devices.join("gone.toml")).unwrap();
    daemon = daemon.restart().await;
    let (_, list) = daemon.get("/api/v1/devices").await;
    assert_eq!(
        common::ids(&list),
        ["kept"],
        "the device of a removed file goes"
    );

    daemon.settings.devices.dir = devices.join("missing");
    daemon = daemon.restart().await;
    let (_, list) = daemon.get("/api/v1/devices").await;
    assert_eq!(
        common::ids(&list),
        ["kept"],
        "a directory that cannot be read removes nothing"
    );
    daemon.stop().await;
}

#[tokio::test]
async fn devices_are_created_updated_and_deleted() {
    let daemon = TestDaemon::start().await;
    let created = daemon.create_device("crud").await;
    assert_eq!(
        (created["id"].as_str(), created["connector"].as_str()),
        (Some("crud"), Some("simulator"))
    );
    let (status, patched) = daemon
        .call(
            Method::PATCH,
            "/api/v1/devices/crud",
            Some(json!({ "name": "Renamed" })),
        )
        .await;
    assert_eq!(
        (status, patched["name"].as_str()),
        (StatusCode::OK, Some("Renamed"))
    );
    let (status, _) = daemon
        .call(Method::DELETE, "/api/v1/devices/crud", None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = daemon.get("/api/v1/devices/crud").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let refused = common::sio::SioClient::connect(
        &daemon.base,
        "/ws",
        "/device/crud",
        &[],
        &[],
        json!({ "apiKey": daemon.key }),
    )
    .await
    .unwrap()
    .unwrap_rejected();
    assert!(!refused.is_empty(), "the namespace is gone with the device");
    daemon.stop().await;
}

#[tokio::test]
async fn the_openapi_document_lists_every_route() {
    let daemon = TestDaemon::start().await;
    let response = daemon
        .http
        .get(format!("{}/docs-json", daemon.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let document: Value = response.json().await.unwrap();
    assert_eq!(document["openapi"], "3.1.0");
    for (path, method) in [
        ("/api/v1/devices", "post"),
        ("/api/v1/devices/{id}/qr", "get"),
        ("/api/v1/pairings", "post"),
        ("/api/v1/devices/{id}/events", "get"),
        ("/api/v1/tokens", "post"),
        ("/health", "get"),
        ("/ready", "get"),
    ] {
        assert!(
            document["paths"][path][method].is_object(),
            "{method} {path}"
        );
    }
    let paths = &document["paths"];
    let schemas = &document["components"]["schemas"];

    // Any credential mints a token, whatever its scopes: the document names no scope.
    let tokens = &paths["/api/v1/tokens"]["post"];
    assert_eq!(
        tokens["security"],
        json!([{ "apiKey": [] }, { "bearer": [] }]),
        "{tokens}"
    );
    let sender = daemon.key_for(&["*"], &["send"]).await;
    let (status, token) = daemon
        .call_as(
            &sender,
            Method::POST,
            "/api/v1/tokens",
            Some(json!({ "sub": "ui", "devices": ["*"], "scopes": ["send"] })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{token}");

    // Bodies the routes take or not; what they answer.
    for path in [
        "/api/v1/devices/{id}/chats/{chatId}/read",
        "/api/v1/devices/{id}/simulator/drop",
    ] {
        assert_ne!(
            paths[path]["post"]["requestBody"]["required"], true,
            "{path}"
        );
    }
    assert_eq!(
        paths["/api/v1/devices"]["post"]["requestBody"]["required"],
        true
    );
    let open_chat = &paths["/api/v1/devices/{id}/chats"]["post"]["responses"];
    assert!(
        open_chat["200"].is_object() && open_chat["201"].is_object(),
        "{open_chat}"
    );
    let qr = &paths["/api/v1/devices/{id}/qr"]["get"]["responses"]["200"]["content"];
    for media in ["application/json", "image/png", "image/svg+xml"] {
        assert!(qr[media].is_object(), "{media} in {qr}");
    }
    let sent = &paths["/api/v1/devices/{id}/chats/{chatId}/messages"]["post"]["responses"]["202"];
    assert!(sent["headers"]["Idempotent-Replayed"].is_object(), "{sent}");
    let uploaded = &paths["/api/v1/devices/{id}/media"]["post"]["responses"]["201"];
    assert!(uploaded["headers"]["Location"].is_object(), "{uploaded}");
    // The refusals particular to a route are listed with the error envelope, narrowed to
    // the codes the route answers.
    for (path, method, refusals) in [
        (
            "/upstream/waha/{id}",
            "post",
            &[
                ("404", "device_not_found"),
                ("409", "invalid_state"),
                ("413", "payload_too_large"),
            ][..],
        ),
        (
            "/upstream/cloud/{id}",
            "post",
            &[
                ("404", "device_not_found"),
                ("409", "invalid_state"),
                ("413", "payload_too_large"),
            ],
        ),
        (
            "/upstream/cloud/{id}",
            "get",
            &[("404", "device_not_found"), ("409", "invalid_state")],
        ),
        ("/api/v1/devices", "post", &[("403", "forbidden")]),
        ("/api/v1/devices/{id}", "patch", &[("403", "forbidden")]),
    ] {
        let responses = &paths[path][method]["responses"];
        for (status, code) in refusals {
            let schema = &responses[status]["content"]["application/json"]["schema"];
            assert_eq!(
                schema["allOf"][0]["$ref"], "#/components/schemas/ErrorEnvelope",
                "{method} {path} {status}: {responses}"
            );
            let codes = &schema["allOf"][1]["properties"]["error"]["properties"]["code"]["enum"];
            assert!(
                codes.as_array().unwrap().contains(&json!(code)),
                "{method} {path} {status}: {codes}"
            );
        }
    }
    // Request bodies refuse unknown fields, and say so: each of the alternatives of a body
    // that has some (a device by its connector, a message by its kind).
    for body in ["NewKey", "NewMessage", "NewDevice", "ReadUpTo", "DropBody"] {
        let alternatives = match schemas[body]["oneOf"].as_array() {
            Some(alternatives) => alternatives.iter().collect(),
            None => vec![&schemas[body]],
        };
        for schema in alternatives {
            assert_eq!(schema["additionalProperties"], false, "{body}: {schema}");
        }
    }
    daemon.stop().await;
}

#[tokio::test]
async fn configured_keys_replace_the_first_run_key_and_keep_their_limits() {
    use sha2::Digest;
    let secret = "dashboard-secret-0123456789";
    let digest = hex::encode(sha2::Sha256::digest(secret.as_bytes()));
    let daemon = TestDaemon::start_with(|settings, dir| {
        write_device_file(dir, "demo", "name = \"Demo\"\nautostart = false\n");
        write_device_file(dir, "other", "name = \"Other\"\nautostart = false\n");
        settings.auth.api_keys = vec![devicebridge::config::ApiKeySetting {
            name: "dashboard".into(),
            key: None,
            key_sha256: Some(digest.to_uppercase()),
            devices: vec!["demo".into()],
            scopes: vec!["read".into()],
        }];
    })
    .await;
    assert!(
        daemon.key.is_empty(),
        "no first-run key when keys are configured"
    );
    assert!(!daemon
        .settings
        .storage
        .data_dir
        .join("admin-api-key")
        .exists());
    let (status, list) = daemon
        .call_as(secret, Method::GET, "/api/v1/devices", None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    let (status, _) = daemon
        .call_as(secret, Method::POST, "/api/v1/devices/demo/start", None)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    daemon.stop().await;
}
