//! Socket.IO handshakes, the root namespace, and resuming with `lastSeq`.

mod common;

use common::sio::{ConnectOutcome, SioClient};
use common::{wait_state, TestDaemon, WAIT};
use serde_json::{json, Value};

async fn connect(
    daemon: &TestDaemon,
    ns: &str,
    query: &[(&str, &str)],
    headers: &[(&str, &str)],
    auth: Value,
) -> ConnectOutcome {
    SioClient::connect(&daemon.base, "/ws", ns, query, headers, auth)
        .await
        .unwrap()
}

/// A reading token for `devices`, valid for ten minutes.
async fn token(daemon: &TestDaemon, devices: &[&str]) -> String {
    let issued = issue_token(daemon, devices, 600).await;
    issued["token"].as_str().unwrap().to_owned()
}

/// `{ token, expiresAt }` of a reading token for `devices`, valid for `ttl_secs`.
async fn issue_token(daemon: &TestDaemon, devices: &[&str], ttl_secs: u64) -> Value {
    let (_, body) = daemon
        .post(
            "/api/v1/tokens",
            json!({ "sub": "dash", "devices": devices, "scopes": ["read"], "ttlSecs": ttl_secs }),
        )
        .await;
    body
}

#[tokio::test]
async fn every_credential_place_is_accepted_and_failures_say_why() {
    let daemon = TestDaemon::start().await;
    daemon.create_device("demo").await;
    daemon.create_device("other").await;
    let key = daemon.key.clone();
    let token = token(&daemon, &["demo"]).await;
    let bearer = format!("Bearer {token}");
    let lower_bearer = format!("bearer {token}");
    let ns = "/device/demo";

    let accepted = [
        connect(&daemon, ns, &[], &[], json!({ "apiKey": key })).await,
        connect(&daemon, ns, &[("apiKey", &key)], &[], Value::Null).await,
        connect(&daemon, ns, &[], &[("x-api-key", &key)], Value::Null).await,
        connect(&daemon, ns, &[], &[], json!({ "token": token })).await,
        // The header's value as it is, scheme and all, in any case.
        connect(&daemon, ns, &[], &[], json!({ "token": bearer })).await,
        connect(&daemon, ns, &[], &[], json!({ "token": lower_bearer })).await,
        connect(&daemon, ns, &[("access-token", &token)], &[], Value::Null).await,
        connect(&daemon, ns, &[], &[("authorization", &bearer)], Value::Null).await,
        connect(
            &daemon,
            ns,
            &[],
            &[("authorization", &lower_bearer)],
            Value::Null,
        )
        .await,
        connect(
            &daemon,
            ns,
            &[("apiKey", &key), ("access-token", &token)],
            &[],
            Value::Null,
        )
        .await,
    ];
    for (index, outcome) in accepted.into_iter().enumerate() {
        assert!(
            matches!(outcome, ConnectOutcome::Connected(_)),
            "variant {index} refused"
        );
    }

    let refusals = [
        (
            connect(&daemon, ns, &[], &[], Value::Null).await,
            "unauthorized",
        ),
        (
            connect(&daemon, ns, &[], &[], json!({ "apiKey": "nope" })).await,
            "unauthorized",
        ),
        (
            connect(
                &daemon,
                ns,
                &[],
                &[],
                json!({ "apiKey": key, "token": "not.a.token" }),
            )
            .await,
            "unauthorized",
        ),
        (
            connect(
                &daemon,
                ns,
                &[],
                &[],
                json!({ "token": format!("Basic {token}") }),
            )
            .await,
            "unauthorized",
        ),
        (
            connect(
                &daemon,
                "/device/other",
                &[],
                &[],
                json!({ "token": token }),
            )
            .await,
            "forbidden",
        ),
    ];
    for (outcome, expected) in refusals {
        assert_eq!(outcome.unwrap_rejected(), expected);
    }
    let limited = daemon.key_for(&["other"], &["read"]).await;
    let outcome = connect(&daemon, ns, &[], &[], json!({ "apiKey": limited })).await;
    assert_eq!(outcome.unwrap_rejected(), "forbidden");
    let outcome = connect(&daemon, "/device/ghost", &[], &[], json!({ "apiKey": key })).await;
    assert!(
        matches!(outcome, ConnectOutcome::Rejected(_)),
        "an unknown device is refused"
    );
    daemon.stop().await;
}

#[tokio::test]
async fn a_socket_is_greeted_with_its_session_before_anything_else() {
    let daemon = TestDaemon::start().await;
    daemon.ready_device("demo", json!({})).await;
    let key = daemon.key_for(&["demo"], &["read", "send"]).await;
    let token = token(&daemon, &["demo"]).await;
    for (auth, sub, scopes) in [
        (
            json!({ "apiKey": key, "lastSeq": 0 }),
            "test",
            json!(["read", "send"]),
        ),
        (json!({ "token": token }), "dash", json!(["read"])),
    ] {
        let mut client = connect(&daemon, "/device/demo", &[], &[], auth)
            .await
            .unwrap_connected();
        client.wait_for("sync", WAIT).await.unwrap();
        let history = client.history();
        let mut session = history[0].clone();
        assert_eq!(session.name, "session", "{history:?}");
        let at = session.data["at"].take();
        assert!(at.as_str().is_some_and(|at| at.ends_with('Z')), "{at}");
        assert_eq!(
            session.data,
            json!({ "sub": sub, "deviceId": "demo", "socketId": client.sid(), "scopes": scopes, "at": null })
        );
        // Not an event of the journal: the replay or snapshot, then `sync`, follow it.
        let rest: Vec<&str> = history[1..].iter().map(|e| e.name.as_str()).collect();
        assert!(rest.len() >= 2 && rest.ends_with(&["sync"]), "{rest:?}");
        assert!(
            history[1..history.len() - 1]
                .iter()
                .all(|e| e.data["seq"].is_u64()),
            "{history:?}"
        );
        client.close().await;
    }
    // The root namespace has no device to greet for.
    let mut root = connect(&daemon, "/", &[], &[], json!({ "apiKey": daemon.key }))
        .await
        .unwrap_connected();
    root.wait_for("device:update", WAIT).await.unwrap();
    assert!(root.history().iter().all(|e| e.name != "session"));
    daemon.stop().await;
}

#[tokio::test]
async fn a_reconnect_with_last_seq_gets_exactly_what_it_missed_then_sync() {
    let daemon = TestDaemon::start().await;
    daemon.create_device("demo").await;
    let mut first = daemon.socket("demo", json!({ "lastSeq": 0 })).await;
    first.wait_for("qr", WAIT).await.unwrap();
    let seen = first
        .history()
        .iter()
        .filter_map(|e| e.data["seq"].as_u64())
        .max()
        .unwrap();
    first.close().await;

    // Things happen while the client is away.
    let mut watcher = daemon.socket("demo", json!({})).await;
    daemon.link("demo").await;
    wait_state(&mut watcher, "ready").await;
    let (_, journal) = daemon
        .get(&format!("/api/v1/devices/demo/events?after={seen}"))
        .await;
    let missed: Vec<(String, u64)> = journal["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["type"].as_str().unwrap().to_owned(),
                i["seq"].as_u64().unwrap(),
            )
        })
        .collect();
    let head = journal["head"].as_u64().unwrap();
    assert!(missed.len() >= 4, "{missed:?}");

    let mut back = daemon.socket("demo", json!({ "lastSeq": seen })).await;
    let sync = back.wait_for("sync", WAIT).await.unwrap();
    assert_eq!(sync.data["fromSeq"].as_u64(), Some(seen + 1));
    assert_eq!(sync.data["toSeq"].as_u64(), Some(head));
    assert_eq!(sync.data["recovered"], true);
    let replayed: Vec<(String, u64)> = common::after_greeting(&back)
        .iter()
        .filter(|e| e.name != "sync")
        .map(|e| (e.name.clone(), e.data["seq"].as_u64().unwrap()))
        .collect();
    assert_eq!(replayed, missed);
    daemon.stop().await;
}

#[tokio::test]
async fn without_last_seq_a_dashboard_gets_the_current_state_and_qr_even_of_a_device_never_started()
{
    let daemon = TestDaemon::start().await;
    daemon.create_device("demo").await;
    let mut early = daemon.socket("demo", json!({ "lastSeq": 0 })).await;
    let qr = early.wait_for("qr", WAIT).await.unwrap();
    let mut late = daemon.socket("demo", json!({})).await;
    common::greeting(&mut late).await;
    let state = late.next_event(WAIT).await.unwrap();
    assert_eq!(
        (state.name.as_str(), &state.data["state"]),
        ("state", &json!("qr"))
    );
    let shown = late.next_event(WAIT).await.unwrap();
    assert_eq!(
        (shown.name.as_str(), &shown.data["qr"]),
        ("qr", &qr.data["qr"])
    );
    let sync = late.next_event(WAIT).await.unwrap();
    assert_eq!(sync.name, "sync");

    // A device never started has journaled nothing; its state comes all the same, before
    // every seq.
    let (status, body) = daemon
        .post(
            "/api/v1/devices",
            json!({ "id": "idle", "name": "Idle phone", "autostart": false }),
        )
        .await;
    assert_eq!(status, reqwest::StatusCode::CREATED, "{body}");
    let mut fresh = daemon.socket("idle", json!({})).await;
    common::greeting(&mut fresh).await;
    let state = fresh.next_event(WAIT).await.unwrap();
    assert_eq!(state.name, "state");
    assert_eq!(
        (
            &state.data["state"],
            &state.data["previous"],
            &state.data["seq"]
        ),
        (&json!("stopped"), &Value::Null, &json!(0))
    );
    let sync = fresh.next_event(WAIT).await.unwrap();
    assert_eq!(
        (
            sync.name.as_str(),
            &sync.data["fromSeq"],
            &sync.data["toSeq"]
        ),
        ("sync", &json!(1), &json!(0))
    );
    daemon.stop().await;
}

#[tokio::test]
async fn the_root_namespace_shows_only_visible_devices() {
    let daemon = TestDaemon::start().await;
    daemon.create_device("demo").await;
    daemon.create_device("other").await;
    let limited = daemon.key_for(&["demo"], &["read"]).await;
    let mut root = connect(&daemon, "/", &[], &[], json!({ "apiKey": limited }))
        .await
        .unwrap_connected();
    // Greeted with where each visible device stands.
    let greeting = root.wait_for("device:update", WAIT).await.unwrap();
    assert_eq!(
        (&greeting.data["deviceId"], &greeting.data["device"]["name"]),
        (&json!("demo"), &json!("Device demo")),
        "{}",
        greeting.data
    );
    assert!(greeting.data["seq"].is_u64(), "{}", greeting.data);
    let listed = root
        .emit_with_ack("devices:list", Value::Null, WAIT)
        .await
        .unwrap();
    assert_eq!(listed["ok"], true);
    let ids = common::ids(&listed["data"]);
    assert_eq!(ids, ["demo"]);
    let stats = root
        .emit_with_ack("stats", Value::Null, WAIT)
        .await
        .unwrap();
    assert_eq!(stats["data"]["devices"], 1);

    for id in ["other", "demo"] {
        let (status, _) = daemon
            .post(&format!("/api/v1/devices/{id}/stop"), json!({}))
            .await;
        assert_eq!(status, reqwest::StatusCode::OK);
    }
    let update = root
        .wait_until(WAIT, |e| {
            e.name == "device:update" && e.data["device"]["state"] == "stopped"
        })
        .await
        .unwrap();
    assert_eq!(update.data["device"]["id"], "demo");
    assert!(
        root.history()
            .iter()
            .all(|e| e.data["device"]["id"] != "other"),
        "no updates about devices the key cannot see"
    );
    let refused = connect(&daemon, "/", &[], &[], json!({ "apiKey": "nope" })).await;
    assert_eq!(refused.unwrap_rejected(), "unauthorized");
    daemon.stop().await;
}

#[tokio::test]
async fn only_the_allowed_origins_reach_socket_io_and_read_rest_answers() {
    let daemon = TestDaemon::start().await;
    let allowed = daemon.settings.server.cors_origins[0].clone();
    let handshake = format!("{}/ws/?EIO=4&transport=polling", daemon.base);
    let polling = |origin: Option<&str>| {
        let request = daemon.http.get(&handshake);
        match origin {
            Some(origin) => request.header("origin", origin),
            None => request,
        }
        .send()
    };

    let from_page = polling(Some(&allowed)).await.unwrap();
    assert_eq!(from_page.status(), 200);
    assert_eq!(
        from_page.headers()["access-control-allow-origin"],
        allowed.as_str(),
        "a page on an allowed origin can read long-polling answers"
    );
    let from_own_page = polling(Some(&daemon.base)).await.unwrap();
    assert_eq!(
        from_own_page.status(),
        200,
        "a page on the daemon's own origin"
    );
    let from_program = polling(None).await.unwrap();
    assert_eq!(from_program.status(), 200, "programs send no Origin");
    let from_elsewhere = polling(Some("http://elsewhere.example")).await.unwrap();
    assert_eq!(from_elsewhere.status(), 403);
    let body: Value = from_elsewhere.json().await.unwrap();
    assert_eq!(body["error"]["code"], "forbidden");

    let refused = SioClient::connect(
        &daemon.base,
        "/ws",
        "/device/nope",
        &[],
        &[("origin", "http://elsewhere.example")],
        json!({ "apiKey": daemon.key }),
    )
    .await;
    assert!(
        refused.is_err(),
        "no WebSocket from another origin, credentials or not"
    );
    let accepted = connect(
        &daemon,
        "/",
        &[],
        &[("origin", allowed.as_str())],
        json!({ "apiKey": daemon.key }),
    )
    .await;
    assert!(matches!(accepted, ConnectOutcome::Connected(_)));

    let rest = daemon
        .http
        .get(format!("{}/health", daemon.base))
        .header("origin", &allowed)
        .send()
        .await
        .unwrap();
    assert_eq!(
        rest.headers()["access-control-allow-origin"],
        allowed.as_str()
    );
    // A page on that origin can read the headers the API answers with.
    let exposed = rest.headers()["access-control-expose-headers"]
        .to_str()
        .unwrap()
        .to_lowercase();
    for header in ["location", "idempotent-replayed"] {
        assert!(exposed.contains(header), "{header} in {exposed:?}");
    }
    daemon.stop().await;
}

#[tokio::test]
async fn stats_count_the_messages_and_connections_of_the_devices_a_key_sees() {
    const BOB: &str = "15550000003@c.us";
    let daemon = TestDaemon::start().await;
    let simulator = json!({ "contacts": [{ "id": BOB, "name": "Bob", "behaviour": "silent" }] });
    for id in ["seen", "unseen"] {
        daemon.ready_device(id, simulator.clone()).await;
    }
    let limited = daemon.key_for(&["seen"], &["read"]).await;
    let stats = |key: String| {
        let daemon = &daemon;
        async move {
            let (status, stats) = daemon
                .call_as(&key, reqwest::Method::GET, "/api/v1/stats", None)
                .await;
            assert_eq!(status, reqwest::StatusCode::OK, "{stats}");
            stats
        }
    };
    let before = stats(limited.clone()).await;
    for (id, count) in [("seen", 2), ("unseen", 1)] {
        for n in 0..count {
            let (status, sent) = daemon
                .post(
                    &format!("/api/v1/devices/{id}/chats/{BOB}/messages"),
                    json!({ "text": format!("message {n}") }),
                )
                .await;
            assert_eq!(status, reqwest::StatusCode::ACCEPTED, "{sent}");
        }
    }
    let _on_seen = [
        daemon.socket("seen", json!({})).await,
        daemon.socket("seen", json!({})).await,
    ];
    let _on_unseen = daemon.socket("unseen", json!({})).await;

    let after = stats(limited).await;
    assert_eq!(after["devices"], 1);
    assert_eq!(
        after["messages"].as_u64().unwrap(),
        before["messages"].as_u64().unwrap() + 2,
        "only the messages of the device it sees: {after}"
    );
    assert_eq!(after["connections"], 2, "{after}");
    let everything = stats(daemon.key.clone()).await;
    assert_eq!(everything["connections"], 3, "{everything}");
    daemon.stop().await;
}

/// A dashboard's connection to the root namespace counts among the connections, for a caller
/// who sees every device its credential sees (so a dashboard's admin page counts itself), and
/// not for one who sees fewer.
#[tokio::test]
async fn stats_count_the_root_connections_of_credentials_within_the_callers_devices() {
    let daemon = TestDaemon::start().await;
    daemon.create_device("seen").await;
    daemon.create_device("unseen").await;
    let limited = daemon.key_for(&["seen"], &["read"]).await;
    let connections = |key: String| {
        let daemon = &daemon;
        async move {
            let (status, stats) = daemon
                .call_as(&key, reqwest::Method::GET, "/api/v1/stats", None)
                .await;
            assert_eq!(status, reqwest::StatusCode::OK, "{stats}");
            stats["connections"].as_u64().unwrap()
        }
    };
    assert_eq!(connections(daemon.key.clone()).await, 0);

    // Each is greeted once it is among the root's sockets.
    let mut everything = connect(&daemon, "/", &[], &[], json!({ "apiKey": daemon.key }))
        .await
        .unwrap_connected();
    everything.wait_for("device:update", WAIT).await.unwrap();
    let mut one = connect(&daemon, "/", &[], &[], json!({ "apiKey": limited }))
        .await
        .unwrap_connected();
    one.wait_for("device:update", WAIT).await.unwrap();

    assert_eq!(connections(daemon.key.clone()).await, 2);
    assert_eq!(
        connections(limited.clone()).await,
        1,
        "its own, not the one that sees the device it does not"
    );
    let _on_seen = daemon.socket("seen", json!({})).await;
    assert_eq!(connections(limited).await, 2);
    assert_eq!(connections(daemon.key.clone()).await, 3);
    daemon.stop().await;
}

/// Revoking a key disconnects the sockets that connected with it or with a token issued from
/// it, on the root namespace too, and refuses that token from then on; other sockets stay.
#[tokio::test]
async fn revoking_a_key_ends_its_tokens_and_its_connections() {
    let daemon = TestDaemon::start().await;
    daemon.create_device("demo").await;
    let (_, key) = daemon
        .post(
            "/api/v1/keys",
            json!({ "name": "dash", "devices": ["demo"], "scopes": ["read"] }),
        )
        .await;
    let secret = key["key"].as_str().unwrap().to_owned();
    let (_, issued) = daemon
        .call_as(
            &secret,
            reqwest::Method::POST,
            "/api/v1/tokens",
            Some(json!({ "sub": "dash", "devices": ["demo"], "scopes": ["read"] })),
        )
        .await;
    let token = issued["token"].as_str().unwrap().to_owned();
    let ns = "/device/demo";
    let mut revoked = Vec::new();
    for (ns, auth) in [
        (ns, json!({ "apiKey": secret })),
        (ns, json!({ "token": token })),
        ("/", json!({ "token": token })),
    ] {
        revoked.push(
            connect(&daemon, ns, &[], &[], auth)
                .await
                .unwrap_connected(),
        );
    }
    let mut admin = connect(&daemon, ns, &[], &[], json!({ "apiKey": daemon.key }))
        .await
        .unwrap_connected();
    let with_token = |token: &str| {
        daemon
            .http
            .get(format!("{}/api/v1/devices/demo", daemon.base))
            .bearer_auth(token)
            .send()
    };
    assert_eq!(with_token(&token).await.unwrap().status(), 200);

    let id = key["id"].as_str().unwrap();
    let (status, _) = daemon
        .call(reqwest::Method::DELETE, &format!("/api/v1/keys/{id}"), None)
        .await;
    assert_eq!(status, reqwest::StatusCode::NO_CONTENT);
    for client in &mut revoked {
        client.wait_disconnected(WAIT).await.unwrap();
    }
    assert_eq!(with_token(&token).await.unwrap().status(), 401);
    refused_while_others_stay(&daemon, &token, &mut admin).await;
    daemon.stop().await;
}

/// A socket that connected with an access token is disconnected when the token ends, and the
/// token is refused from that instant on, over REST and at a handshake. A token asked for with
/// a token ends no later than it. Sockets of other credentials stay.
#[tokio::test]
async fn a_token_ends_its_connections_when_it_expires() {
    let daemon = TestDaemon::start().await;
    daemon.create_device("demo").await;
    let issued = issue_token(&daemon, &["demo"], 4).await;
    let token = issued["token"].as_str().unwrap().to_owned();
    let ends = |issued: &Value| {
        chrono::DateTime::parse_from_rfc3339(issued["expiresAt"].as_str().unwrap()).unwrap()
    };
    let as_token = |token: &str, method: reqwest::Method, path: &str| {
        daemon
            .http
            .request(method, format!("{}{path}", daemon.base))
            .bearer_auth(token)
    };
    let renewal =
        json!({ "sub": "dash", "devices": ["demo"], "scopes": ["read"], "ttlSecs": 3600 });
    let response = as_token(&token, reqwest::Method::POST, "/api/v1/tokens")
        .json(&renewal)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let renewed: Value = response.json().await.unwrap();
    assert!(
        ends(&renewed) <= ends(&issued),
        "{renewed} outlives {issued}"
    );
    let renewed = renewed["token"].as_str().unwrap().to_owned();

    let mut ending = Vec::new();
    for ns in ["/device/demo", "/"] {
        ending.push(
            connect(&daemon, ns, &[], &[], json!({ "token": token }))
                .await
                .unwrap_connected(),
        );
    }
    let mut admin = connect(
        &daemon,
        "/device/demo",
        &[],
        &[],
        json!({ "apiKey": daemon.key }),
    )
    .await
    .unwrap_connected();
    for client in &mut ending {
        client.wait_disconnected(WAIT).await.unwrap();
        assert!(
            chrono::Utc::now() >= ends(&issued),
            "disconnected before the token ended"
        );
    }
    for token in [&token, &renewed] {
        let status = as_token(token, reqwest::Method::GET, "/api/v1/devices/demo")
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(status, 401);
    }
    refused_while_others_stay(&daemon, &token, &mut admin).await;
    daemon.stop().await;
}

/// `token` is refused at a handshake on `/device/demo`, while `admin`'s socket there still
/// answers.
async fn refused_while_others_stay(daemon: &TestDaemon, token: &str, admin: &mut SioClient) {
    let refused = connect(daemon, "/device/demo", &[], &[], json!({ "token": token })).await;
    assert_eq!(refused.unwrap_rejected(), "unauthorized");
    let ack = admin
        .emit_with_ack("chats:list", json!({}), WAIT)
        .await
        .unwrap();
    assert_eq!(ack["ok"], true, "{ack}");
}

/// A client may emit the moment it is connected (in its `connect` callback): the event finds
/// its handler, on the root namespace and on a device's. Run on the daemon's production
/// runtime, where the connect handler's task may start after the client's first event arrives.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_emitted_as_soon_as_connected_is_answered() {
    let daemon = TestDaemon::start().await;
    daemon.create_device("early").await;
    for round in 0..30 {
        for (ns, event) in [("/", "stats"), ("/device/early", "chats:list")] {
            let mut client = connect(&daemon, ns, &[], &[], json!({ "apiKey": daemon.key }))
                .await
                .unwrap_connected();
            let ack = client.emit_with_ack(event, json!({}), WAIT).await;
            assert_eq!(
                ack.as_ref().map(|a| a["ok"].clone()),
                Ok(Value::Bool(true)),
                "{event} on {ns}, round {round}"
            );
            client.close().await;
        }
    }
    daemon.stop().await;
}

/// The root namespace's events pass the same gate as a device's: an unknown event, or a field
/// its event does not take, is answered with `bad_request`, and a flood with `rate_limited`.
#[tokio::test]
async fn the_root_namespace_answers_unknown_events_and_floods() {
    let daemon = TestDaemon::start_with(|settings, _| {
        settings.limits.events_per_minute = 4;
    })
    .await;
    let mut root = connect(&daemon, "/", &[], &[], json!({ "apiKey": daemon.key }))
        .await
        .unwrap_connected();
    let mut answers = Vec::new();
    let requests = [
        ("devices:list", json!({})),
        ("devices:forget", json!({})),
        ("stats", json!({ "deviceId": "demo" })),
        ("stats", json!(null)),
        ("stats", json!({})),
    ];
    for (event, payload) in requests {
        let ack = root.emit_with_ack(event, payload, WAIT).await.unwrap();
        answers.push(match ack["ok"] == true {
            true => "ok".to_owned(),
            false => ack["error"]["code"].as_str().unwrap().to_owned(),
        });
    }
    assert_eq!(
        answers,
        ["ok", "bad_request", "bad_request", "ok", "rate_limited"]
    );
    daemon.stop().await;
}

/// The root namespace hears of a device created, changed or deleted over REST, as of the
/// device's journal; a credential that cannot see the device hears nothing of it. A deleted
/// device's dashboards are disconnected.
#[tokio::test]
async fn the_root_namespace_hears_of_devices_created_changed_and_deleted() {
    let daemon = TestDaemon::start().await;
    daemon.create_device("demo").await;
    let limited = daemon.key_for(&["demo"], &["read"]).await;
    let mut fleet = connect(&daemon, "/", &[], &[], json!({ "apiKey": daemon.key }))
        .await
        .unwrap_connected();
    let mut narrow = connect(&daemon, "/", &[], &[], json!({ "apiKey": limited }))
        .await
        .unwrap_connected();

    let (status, _) = daemon
        .post(
            "/api/v1/devices",
            json!({ "id": "fresh", "name": "Fresh phone", "autostart": false }),
        )
        .await;
    assert_eq!(status, reqwest::StatusCode::CREATED);
    let created = fleet
        .wait_until(WAIT, |e| {
            e.name == "device:update" && e.data["deviceId"] == "fresh"
        })
        .await
        .unwrap();
    assert_eq!(
        (
            &created.data["device"]["name"],
            &created.data["device"]["state"]
        ),
        (&json!("Fresh phone"), &json!("stopped"))
    );
    assert!(created.data["seq"].is_u64() && created.data["at"].is_string());
    let mut dashboard = daemon.socket("fresh", json!({})).await;

    let (status, _) = daemon
        .call(
            reqwest::Method::PATCH,
            "/api/v1/devices/fresh",
            Some(json!({ "name": "Renamed phone" })),
        )
        .await;
    assert_eq!(status, reqwest::StatusCode::OK);
    fleet
        .wait_until(WAIT, |e| {
            e.name == "device:update" && e.data["device"]["name"] == "Renamed phone"
        })
        .await
        .unwrap();

    let (status, _) = daemon
        .call(reqwest::Method::DELETE, "/api/v1/devices/fresh", None)
        .await;
    assert_eq!(status, reqwest::StatusCode::NO_CONTENT);
    let removed = fleet.wait_for("device:removed", WAIT).await.unwrap();
    assert_eq!(removed.data["deviceId"], "fresh");
    // The device's own dashboard is told, rather than left connected to nothing.
    dashboard.wait_disconnected(WAIT).await.unwrap();

    let listed = narrow
        .emit_with_ack("devices:list", json!({}), WAIT)
        .await
        .unwrap();
    assert_eq!(common::ids(&listed["data"]), ["demo"]);
    assert!(
        narrow
            .history()
            .iter()
            .all(|e| e.data["deviceId"] != "fresh"),
        "{:?}",
        narrow.history()
    );
    daemon.stop().await;
}

/// A device whose session stalls stands out in the fleet: the root namespace tells of each
/// change of its health as of its state, and lists it as it is.
#[tokio::test]
async fn a_device_whose_session_stalls_stands_out_in_the_fleet() {
    let daemon = TestDaemon::start_with(|settings, _| {
        settings.watchdog.silence_secs = 2;
        settings.watchdog.ack_timeout_secs = 1;
        settings.watchdog.probe_secs = 1;
        settings.reconnect.initial_ms = 20;
    })
    .await;
    let bob = "15550000009@c.us";
    let phone = json!({ "server_ack_ms": 10, "contacts": [{ "id": bob, "name": "Bob", "behaviour": "silent" }] });
    daemon.ready_device("stuck", phone).await;
    let mut root = connect(&daemon, "/", &[], &[], json!({ "apiKey": daemon.key }))
        .await
        .unwrap_connected();
    root.wait_for("device:update", WAIT).await.unwrap();
    let (status, _) = daemon
        .post("/api/v1/devices/stuck/simulator/stall", json!({}))
        .await;
    assert_eq!(status, reqwest::StatusCode::OK);
    daemon
        .send_message("stuck", bob, json!({ "text": "into the void" }))
        .await;
    let stalled = root
        .wait_until(WAIT, |e| {
            e.name == "device:update" && e.data["device"]["health"] == "stalled"
        })
        .await
        .expect("the fleet hears of the stall");
    assert_eq!(stalled.data["deviceId"], "stuck");
    root.wait_until(WAIT, |e| {
        e.name == "device:update"
            && e.data["device"]["health"] == "healthy"
            && e.data["device"]["state"] == "ready"
    })
    .await
    .expect("and of the recovery");
    let listed = root
        .emit_with_ack("devices:list", Value::Null, WAIT)
        .await
        .unwrap();
    assert_eq!(listed["data"]["items"][0]["health"], "healthy");
    daemon.stop().await;
}
