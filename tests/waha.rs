//! The `waha` connector against a stub WAHA server (tests/common/waha_stub.rs): the requests
//! devicebridge makes, and WAHA's documented webhooks driven back in, signed by the test.

mod common;

use base64::Engine;
use common::sio::SioClient;
use common::stub::hmac_sha512_hex;
use common::waha_stub::{self, WahaStub, API_KEY, FILE, FILE_BYTES};
use common::{
    assert_unseen, expect_call_notification, wait_healthy_again, wait_message_ack,
    wait_message_status, wait_relayed, wait_stalled, wait_state, TestDaemon, WAIT,
};
use devicebridge::config::Settings;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

const SECRET: &str = "waha-hmac-secret";
const ME: &str = "15550001111@c.us";
const ALICE: &str = "15550002222@c.us";

fn device_file(stub: &WahaStub) -> String {
    format!(
        "name = \"Waha phone\"\nconnector = \"waha\"\n[waha]\nbase_url = \"{}\"\napi_key = \"{API_KEY}\"\nsession = \"default\"\nwebhook_secret = \"{SECRET}\"\n",
        stub.base()
    )
}

/// Short reconnect rhythms and upstream timeouts, so outages play out in a test's time.
fn fast(settings: &mut Settings) {
    settings.reconnect.initial_ms = 20;
    settings.reconnect.max_ms = 200;
    settings.reconnect.max_attempts = 1000;
    settings.upstream.timeout_ms = 2000;
    settings.upstream.connect_timeout_ms = 500;
}

/// A daemon with the device `wa` relayed to `stub`, and a client that sees its whole journal.
async fn start(stub: &WahaStub) -> (TestDaemon, SioClient) {
    TestDaemon::start_with_device("wa", &device_file(stub), fast).await
}

/// A WAHA whose session is linked already, with Alice's chat to backfill, and the device
/// `wa` ready on it.
async fn ready() -> (WahaStub, TestDaemon, SioClient) {
    ready_with(fast).await
}

/// [`ready`] with the daemon's settings adjusted by `adjust` rather than [`fast`].
async fn ready_with(adjust: impl FnOnce(&mut Settings)) -> (WahaStub, TestDaemon, SioClient) {
    let stub = WahaStub::start("unused").await;
    stub.with(|waha| {
        waha.status_after_start = "WORKING".into();
        waha.chats = vec![json!({ "id": ALICE, "name": "Alice" })];
        waha.messages.insert(
            ALICE.into(),
            vec![message(
                "false_15550002222@c.us_OLD1",
                false,
                "from before",
                1_700_000_000,
            )],
        );
    });
    let (daemon, mut client) =
        TestDaemon::start_with_device("wa", &device_file(&stub), adjust).await;
    wait_state(&mut client, "ready").await;
    (stub, daemon, client)
}

/// A WAHA message (`WAMessage`) between Alice and us.
fn message(id: &str, from_me: bool, body: &str, timestamp: i64) -> Value {
    let (from, to) = if from_me { (ME, ALICE) } else { (ALICE, ME) };
    json!({
        "id": id, "timestamp": timestamp, "from": from, "fromMe": from_me, "to": to,
        "body": body, "hasMedia": false, "ack": 1, "ackName": "SERVER",
        "_data": { "notifyName": "Alice" }
    })
}

/// The whole envelope WAHA posts for an event of session `default`.
fn envelope(event: &str, payload: Value) -> Vec<u8> {
    waha_stub::envelope(event, payload, ME)
}

/// Posts an event as WAHA does, signed with the session's HMAC key.
async fn webhook(daemon: &TestDaemon, event: &str, payload: Value) -> StatusCode {
    let body = envelope(event, payload);
    let signed = waha_stub::signature_headers(SECRET, &body);
    let headers: Vec<(&str, &str)> = signed.iter().map(|(n, v)| (*n, v.as_str())).collect();
    let (status, text) = daemon
        .deliver(Method::POST, "/upstream/waha/wa", body, &headers)
        .await;
    assert!(
        status.is_success() || status.is_client_error(),
        "{status} {text}"
    );
    status
}

async fn status_webhook(daemon: &TestDaemon, status: &str) {
    let payload = json!({ "name": "default", "status": status, "statuses": [] });
    assert_eq!(
        webhook(daemon, "session.status", payload).await,
        StatusCode::OK
    );
}

/// Archives, mutes or brings back Alice's chat over REST.
async fn set_alice_chat(daemon: &TestDaemon, flags: Value) {
    let path = format!("/api/v1/devices/wa/chats/{ALICE}");
    let (status, chat) = daemon.call(Method::PATCH, &path, Some(flags)).await;
    assert_eq!(status, StatusCode::OK, "{chat}");
}

/// Reads Alice's chat over REST; returns how many messages that newly read.
async fn read_alice_chat(daemon: &TestDaemon) -> usize {
    let path = format!("/api/v1/devices/wa/chats/{ALICE}/read");
    let (status, read) = daemon.post(&path, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{read}");
    read["messageIds"].as_array().map_or(0, Vec::len)
}

/// A message as `GET /api/v1/devices/wa/messages/{id}` shows it.
async fn stored_message(daemon: &TestDaemon, id: &Value) -> Value {
    let path = format!("/api/v1/devices/wa/messages/{}", id.as_str().unwrap());
    let (status, message) = daemon.get(&path).await;
    assert_eq!(status, StatusCode::OK, "{message}");
    message
}

fn count(client: &SioClient, name: &str) -> usize {
    client.history().iter().filter(|e| e.name == name).count()
}

#[tokio::test]
async fn links_through_wahas_qr_codes_and_backfills_chats() {
    let mut stub = WahaStub::start("qr-one").await;
    stub.with(|waha| {
        waha.chats = vec![
            json!({ "id": ALICE, "name": "Alice" }),
            json!({ "id": { "_serialized": "120363000000@g.us" }, "name": "Team" }),
        ];
        waha.messages.insert(
            ALICE.into(),
            vec![
                message(
                    "true_15550002222@c.us_OLD2",
                    true,
                    "my answer",
                    1_700_000_100,
                ),
                message(
                    "false_15550002222@c.us_OLD1",
                    false,
                    "from before",
                    1_700_000_000,
                ),
            ],
        );
    });
    let (daemon, mut client) = start(&stub).await;

    // The session is created with our signed webhook, started, and its QR code fetched.
    let lookup = stub.requests.next(WAIT).await;
    assert_eq!(lookup.line(), "GET /api/sessions/default");
    assert_eq!(lookup.header("x-api-key"), Some(API_KEY));
    let create = stub.requests.next(WAIT).await;
    assert_eq!(create.line(), "POST /api/sessions");
    assert_eq!(
        create.body,
        json!({ "name": "default", "start": true, "config": { "webhooks": [{
            "url": format!("{}/upstream/waha/wa", daemon.base),
            "events": ["session.status", "message", "message.any", "message.ack", "message.ack.group", "message.revoked", "message.edited", "poll.vote", "message.reaction", "presence.update", "chat.archive", "group.v2.join", "group.v2.leave", "group.v2.participants", "group.v2.update", "call.received"],
            "hmac": { "key": SECRET },
        }], "ignore": { "status": true, "channels": true } } })
    );
    assert_eq!(
        stub.requests.next(WAIT).await.line(),
        "GET /api/sessions/default"
    );
    let qr = stub.requests.next(WAIT).await;
    assert_eq!(
        (qr.line(), qr.query.as_deref()),
        ("GET /api/default/auth/qr".into(), Some("format=raw"))
    );
    wait_state(&mut client, "qr").await;
    let first = client.wait_for("qr", WAIT).await.unwrap();
    assert_eq!(
        (first.data["qr"].as_str(), first.data["attempt"].as_u64()),
        (Some("qr-one"), Some(1))
    );

    // WAHA shows a new code and says so: it is relayed as the next attempt.
    stub.with(|waha| waha.qr = "qr-two".into());
    status_webhook(&daemon, "SCAN_QR_CODE").await;
    let second = client.wait_for("qr", WAIT).await.unwrap();
    assert_eq!(
        (second.data["qr"].as_str(), second.data["attempt"].as_u64()),
        (Some("qr-two"), Some(2))
    );
    assert!(second.data["image"]
        .as_str()
        .unwrap()
        .starts_with("data:image/png;base64,"));
    let (status, shown) = daemon.get("/api/v1/devices/wa/qr").await;
    assert_eq!(
        (status, shown["qr"].as_str()),
        (StatusCode::OK, Some("qr-two"))
    );

    // The same report again, with the same code, is no news.
    status_webhook(&daemon, "SCAN_QR_CODE").await;

    // The phone scanned: WAHA works as our account.
    stub.with(|waha| waha.status = "WORKING".into());
    status_webhook(&daemon, "WORKING").await;
    wait_state(&mut client, "authenticated").await;
    wait_state(&mut client, "ready").await;
    let ready = client.wait_for("ready", WAIT).await.unwrap();
    assert_eq!(ready.data["me"], json!({ "id": ME, "name": "Waha Phone" }));
    assert_eq!(count(&client, "qr"), 2, "one qr event per code");

    // Chats and their recent messages were backfilled, as read, without message events.
    stub.requests
        .wait_line(WAIT, &format!("GET /api/default/chats/{ALICE}/messages"))
        .await;
    let (_, chats) = daemon.get("/api/v1/devices/wa/chats").await;
    let alice = chats["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == ALICE)
        .unwrap();
    assert_eq!(alice["name"], "Alice");
    assert_eq!(alice["unreadCount"], 0);
    assert_eq!(alice["lastMessage"]["body"], "my answer");
    assert!(chats["items"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["id"] == "120363000000@g.us" && c["kind"] == "group"));
    let (_, messages) = daemon
        .get(&format!("/api/v1/devices/wa/chats/{ALICE}/messages"))
        .await;
    let bodies: Vec<_> = messages["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["body"].as_str().unwrap())
        .collect();
    assert_eq!(bodies, ["my answer", "from before"], "newest first");
    assert_eq!(count(&client, "message"), 0);
    assert_eq!(count(&client, "notification"), 0);

    // Logging out tells WAHA.
    let (status, _) = daemon.post("/api/v1/devices/wa/logout", json!({})).await;
    assert_eq!(status, StatusCode::OK);
    stub.requests
        .wait_line(WAIT, "POST /api/sessions/default/logout")
        .await;
    stub.server.stop().await;
    daemon.stop().await;
}

#[tokio::test]
async fn a_qr_code_asked_for_while_the_session_starts_is_the_first_one_shown() {
    let mut stub = WahaStub::start("qr-one").await;
    stub.with(|waha| waha.status_after_start = "STARTING".into());
    let (daemon, mut client) = start(&stub).await;
    wait_state(&mut client, "starting").await;
    // The session is created and its status read back (`STARTING`) before WAHA reports a
    // code.
    stub.requests.wait_line(WAIT, "POST /api/sessions").await;
    stub.requests
        .wait_line(WAIT, "GET /api/sessions/default")
        .await;

    // Asked before WAHA shows a code: the request waits for it instead of being refused.
    let shows_a_code = async {
        stub.with(|waha| waha.status = "SCAN_QR_CODE".into());
        status_webhook(&daemon, "SCAN_QR_CODE").await;
    };
    let ((status, shown), ()) = tokio::join!(daemon.get("/api/v1/devices/wa/qr"), shows_a_code);
    assert_eq!(
        (status, shown["qr"].as_str()),
        (StatusCode::OK, Some("qr-one")),
        "{shown}"
    );
    stub.server.stop().await;
    daemon.stop().await;
}

#[tokio::test]
async fn sends_and_follows_every_ack_level() {
    let (mut stub, daemon, mut client) = ready().await;
    let sent = daemon
        .send_message("wa", ALICE, json!({ "text": "hello waha" }))
        .await;
    let request = stub.requests.wait_line(WAIT, "POST /api/sendText").await;
    assert_eq!(
        request.body,
        json!({ "session": "default", "chatId": ALICE, "text": "hello waha" })
    );
    let server = wait_message_ack(&mut client, &sent["id"], "server").await;
    let upstream_id = format!("true_{ALICE}_STUB1");
    assert_eq!(server["upstreamId"], upstream_id.as_str());

    for (ack, name) in [(2, "device"), (3, "read"), (4, "played")] {
        let payload = json!({ "id": upstream_id, "from": ME, "to": ALICE, "participant": "", "fromMe": true, "ack": ack, "ackName": name.to_uppercase() });
        assert_eq!(
            webhook(&daemon, "message.ack", payload).await,
            StatusCode::OK
        );
        wait_message_ack(&mut client, &sent["id"], name).await;
    }
    // A late error or an older level changes nothing: acks only go up.
    for ack in [-1, 2] {
        let payload = json!({ "id": upstream_id, "from": ME, "to": ALICE, "participant": "", "fromMe": true, "ack": ack, "ackName": "X" });
        assert_eq!(
            webhook(&daemon, "message.ack", payload).await,
            StatusCode::OK
        );
    }
    // WAHA also reports our own message as `message.any`: it is not stored twice.
    let echo = message(&upstream_id, true, "hello waha", 1_700_000_200);
    assert_eq!(webhook(&daemon, "message.any", echo).await, StatusCode::OK);
    let stored = stored_message(&daemon, &sent["id"]).await;
    assert_eq!(
        (stored["ack"].as_i64(), stored["ackName"].as_str()),
        (Some(4), Some("played"))
    );
    let (_, messages) = daemon
        .get(&format!("/api/v1/devices/wa/chats/{ALICE}/messages"))
        .await;
    let ours: Vec<_> = messages["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["upstreamId"] == upstream_id.as_str())
        .collect();
    assert_eq!(ours.len(), 1, "{messages}");

    // A reply quotes the upstream id of the message it answers.
    let old = messages["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["body"] == "from before")
        .unwrap();
    daemon
        .send_message(
            "wa",
            ALICE,
            json!({ "text": "quoting", "replyTo": old["id"] }),
        )
        .await;
    let request = stub.requests.wait_line(WAIT, "POST /api/sendText").await;
    assert_eq!(
        request.body,
        json!({ "session": "default", "chatId": ALICE, "text": "quoting", "reply_to": "false_15550002222@c.us_OLD1" })
    );
    stub.server.stop().await;
    daemon.stop().await;
}

/// The `POST /api/sendText` texts the stub got so far, in order.
fn sent_texts(stub: &mut WahaStub) -> Vec<String> {
    stub.requests
        .drain()
        .iter()
        .filter(|r| r.line() == "POST /api/sendText")
        .map(|r| r.body["text"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[tokio::test]
async fn every_engines_send_answer_is_taken_once_and_its_acks_follow() {
    let (mut stub, daemon, mut client) = ready().await;
    // NOWEB answers with the engine's raw message; its key holds the id.
    let noweb = json!({ "key": { "remoteJid": "15550002222@s.whatsapp.net", "fromMe": true, "id": "3EB0NOWEB" },
        "message": { "extendedTextMessage": { "text": "noweb" } }, "messageTimestamp": "1700000000", "status": "PENDING" });
    let webjs = json!({ "id": { "fromMe": true, "remote": ALICE, "id": "3EB0WEBJS", "_serialized": format!("true_{ALICE}_3EB0WEBJS") },
        "ack": 0, "body": "webjs", "fromMe": true });
    stub.with(|waha| {
        waha.send_answers
            .extend([(201, noweb), (201, webjs), (201, Value::Null)]);
    });
    let mut sent = Vec::new();
    for text in ["noweb", "webjs", "nameless", "after"] {
        sent.push(
            daemon
                .send_message("wa", ALICE, json!({ "text": text }))
                .await,
        );
    }
    for message in &sent {
        wait_relayed(&mut client, &message["id"]).await;
    }
    assert_eq!(
        sent_texts(&mut stub),
        ["noweb", "webjs", "nameless", "after"],
        "each message is handed to WAHA once"
    );
    assert!(
        !client
            .history()
            .iter()
            .any(|e| e.name == "message:status" && e.data["status"] == "retrying"),
        "no answer is taken for a failure"
    );
    for (message, upstream_id) in sent[..2].iter().zip(["3EB0NOWEB", "3EB0WEBJS"]) {
        let upstream_id = format!("true_{ALICE}_{upstream_id}");
        let stored = stored_message(&daemon, &message["id"]).await;
        assert_eq!(stored["upstreamId"], upstream_id.as_str());
        let payload = json!({ "id": upstream_id, "from": ME, "to": ALICE, "participant": null, "fromMe": true, "ack": 2, "ackName": "DEVICE" });
        assert_eq!(
            webhook(&daemon, "message.ack", payload).await,
            StatusCode::OK
        );
        wait_message_ack(&mut client, &message["id"], "device").await;
    }
    let nameless = stored_message(&daemon, &sent[2]["id"]).await;
    assert_eq!(
        (nameless["upstreamId"].clone(), nameless["ackName"].as_str()),
        (Value::Null, Some("server"))
    );
    stub.server.stop().await;
    daemon.stop().await;
}

#[tokio::test]
async fn inbound_messages_reactions_revocations_and_presence() {
    let (mut stub, daemon, mut client) = ready().await;
    let incoming = message(
        "false_15550002222@c.us_IN1",
        false,
        "hi there",
        1_700_000_300,
    );
    assert_eq!(
        webhook(&daemon, "message", incoming.clone()).await,
        StatusCode::OK
    );
    let arrived = client
        .wait_until(WAIT, |e| {
            e.name == "message" && e.data["body"] == "hi there"
        })
        .await
        .unwrap();
    assert_eq!(
        (
            arrived.data["from"].as_str(),
            arrived.data["fromMe"].as_bool()
        ),
        (Some(ALICE), Some(false))
    );
    let note = client.wait_for("notification", WAIT).await.unwrap();
    assert_eq!(
        (note.data["title"].as_str(), note.data["body"].as_str()),
        (Some("Alice"), Some("hi there"))
    );

    // The same message as `message.any`, and a redelivery: stored once.
    assert_eq!(
        webhook(&daemon, "message.any", incoming.clone()).await,
        StatusCode::OK
    );
    assert_eq!(
        webhook(&daemon, "message", incoming.clone()).await,
        StatusCode::OK
    );
    let (_, chat) = daemon
        .get(&format!("/api/v1/devices/wa/chats/{ALICE}"))
        .await;
    assert_eq!(chat["unreadCount"], 1);

    // Reading the chat sends WAHA's read receipt.
    assert_eq!(read_alice_chat(&daemon).await, 1);
    let seen = stub.requests.wait_line(WAIT, "POST /api/sendSeen").await;
    assert_eq!(
        seen.body,
        json!({ "session": "default", "chatId": ALICE, "messageIds": ["false_15550002222@c.us_IN1"] })
    );

    // Typing, both ways.
    let ack = client
        .emit_with_ack("typing:start", json!({ "chatId": ALICE }), WAIT)
        .await
        .unwrap();
    assert_eq!(ack["ok"], true, "{ack}");
    let typing = stub.requests.wait_line(WAIT, "POST /api/startTyping").await;
    assert_eq!(
        typing.body,
        json!({ "session": "default", "chatId": ALICE })
    );
    client
        .emit_with_ack("typing:stop", json!({ "chatId": ALICE }), WAIT)
        .await
        .unwrap();
    stub.requests.wait_line(WAIT, "POST /api/stopTyping").await;
    let presence = |state: &str| json!({ "id": ALICE, "presences": [{ "participant": ALICE, "lastKnownPresence": state, "lastSeen": null }] });
    assert_eq!(
        webhook(&daemon, "presence.update", presence("typing")).await,
        StatusCode::OK
    );
    let start = client
        .wait_until(WAIT, |e| {
            e.name == "typing:start" && e.data["contactId"] == ALICE
        })
        .await
        .unwrap();
    assert_eq!(start.data["chatId"], ALICE);
    assert_eq!(
        webhook(&daemon, "presence.update", presence("paused")).await,
        StatusCode::OK
    );
    client
        .wait_until(WAIT, |e| {
            e.name == "typing:stop" && e.data["contactId"] == ALICE
        })
        .await
        .unwrap();

    // A reaction, then the message is deleted for everyone.
    let reaction = json!({ "id": "false_15550002222@c.us_R1", "timestamp": 1_700_000_400, "from": ALICE, "fromMe": false,
        "source": "app", "to": ME, "participant": ALICE, "reaction": { "text": "👍", "messageId": "false_15550002222@c.us_IN1" } });
    assert_eq!(
        webhook(&daemon, "message.reaction", reaction).await,
        StatusCode::OK
    );
    let reacted = client.wait_for("message:reaction", WAIT).await.unwrap();
    assert_eq!(
        (
            reacted.data["messageId"].as_str(),
            reacted.data["emoji"].as_str(),
            reacted.data["from"].as_str()
        ),
        (arrived.data["id"].as_str(), Some("👍"), Some(ALICE))
    );
    let revoked = json!({ "revokedMessageId": "IN1", "before": incoming, "after": null });
    assert_eq!(
        webhook(&daemon, "message.revoked", revoked).await,
        StatusCode::OK
    );
    let gone = client.wait_for("message:revoked", WAIT).await.unwrap();
    assert_eq!(gone.data["messageId"], arrived.data["id"]);

    // WAHA's raw engine data can make a delivery far larger than a client request.
    let mut bulky = message("false_15550002222@c.us_IN2", false, "bulky", 1_700_000_500);
    bulky["_data"]["thumbnail"] = json!("A".repeat(200_000));
    assert_eq!(webhook(&daemon, "message", bulky).await, StatusCode::OK);
    client
        .wait_until(WAIT, |e| e.name == "message" && e.data["body"] == "bulky")
        .await
        .unwrap();

    let messages = client
        .history()
        .iter()
        .filter(|e| e.name == "message")
        .count();
    assert_eq!(
        messages, 2,
        "one message event for three deliveries, one for the bulky one"
    );
    stub.server.stop().await;
    daemon.stop().await;
}

#[tokio::test]
async fn a_group_participants_ack_raises_our_group_message_monotonically() {
    let (mut stub, daemon, mut client) = ready().await;
    const GROUP: &str = "120363000000000002@g.us";
    let joined = json!({ "group": { "id": GROUP, "subject": "Team" }, "timestamp": 1_700_000_000 });
    assert_eq!(
        webhook(&daemon, "group.v2.join", joined).await,
        StatusCode::OK
    );
    let sent = daemon
        .send_message("wa", GROUP, json!({ "text": "hello group" }))
        .await;
    wait_message_ack(&mut client, &sent["id"], "server").await;
    let upstream_id = format!("true_{GROUP}_STUB1");
    for (ack, name, participant) in [(3, "READ", ALICE), (2, "DEVICE", "15550003333@c.us")] {
        let payload = json!({ "id": format!("{upstream_id}_{participant}"), "from": GROUP,
            "participant": participant, "fromMe": true, "ack": ack, "ackName": name });
        assert_eq!(
            webhook(&daemon, "message.ack.group", payload).await,
            StatusCode::OK
        );
    }
    wait_message_ack(&mut client, &sent["id"], "read").await;
    let read = client.wait_for("message:read", WAIT).await.unwrap();
    assert_eq!(
        (read.data["chatId"].as_str(), read.data["readBy"].as_str()),
        (Some(GROUP), Some(ALICE))
    );
    let stored = stored_message(&daemon, &sent["id"]).await;
    assert_eq!(
        stored["ackName"], "read",
        "a later, lower ack changes nothing"
    );
    stub.requests.drain();
    stub.server.stop().await;
    daemon.stop().await;
}

#[tokio::test]
async fn reading_a_group_sends_one_read_receipt_per_sender_naming_them() {
    let (mut stub, daemon, mut client) = ready().await;
    const GROUP: &str = "120363000000000003@g.us";
    const BOB: &str = "15550003333@c.us";
    let in_group = |id: &str, sender: &str| {
        let mut message = message(
            &format!("false_{GROUP}_{id}_{sender}"),
            false,
            id,
            1_700_000_320,
        );
        message["from"] = json!(GROUP);
        message["participant"] = json!(sender);
        message
    };
    for incoming in [
        in_group("G1", ALICE),
        in_group("G2", BOB),
        in_group("G3", ALICE),
    ] {
        assert_eq!(webhook(&daemon, "message", incoming).await, StatusCode::OK);
    }
    client
        .wait_until(WAIT, |e| e.name == "message" && e.data["body"] == "G3")
        .await
        .unwrap();
    let path = format!("/api/v1/devices/wa/chats/{GROUP}/read");
    let (status, read) = daemon.post(&path, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{read}");
    let mut receipts = Vec::new();
    for _ in 0..2 {
        receipts.push(
            stub.requests
                .wait_line(WAIT, "POST /api/sendSeen")
                .await
                .body,
        );
    }
    receipts.sort_by_key(|body| body["participant"].as_str().map(str::to_owned));
    assert_eq!(
        receipts,
        [
            json!({ "session": "default", "chatId": GROUP, "participant": ALICE,
                "messageIds": [format!("false_{GROUP}_G1_{ALICE}"), format!("false_{GROUP}_G3_{ALICE}")] }),
            json!({ "session": "default", "chatId": GROUP, "participant": BOB,
                "messageIds": [format!("false_{GROUP}_G2_{BOB}")] }),
        ]
    );
    stub.server.stop().await;
    daemon.stop().await;
}

#[tokio::test]
async fn a_revocation_naming_the_message_by_its_bare_id_finds_it_in_its_chat() {
    let (mut stub, daemon, mut client) = ready().await;
    const GROUP: &str = "120363000000000001@g.us";
    let mut in_group = message(
        &format!("false_{GROUP}_GRP1_{ALICE}"),
        false,
        "in the group",
        1_700_000_310,
    );
    in_group["from"] = json!(GROUP);
    in_group["participant"] = json!(ALICE);
    let direct = message(
        "false_15550002222@c.us_DIR1",
        false,
        "direct",
        1_700_000_300,
    );
    let mut ids = Vec::new();
    for incoming in [direct, in_group] {
        let body = incoming["body"].clone();
        assert_eq!(webhook(&daemon, "message", incoming).await, StatusCode::OK);
        let arrived = client
            .wait_until(WAIT, |e| e.name == "message" && e.data["body"] == body)
            .await
            .unwrap();
        ids.push(arrived.data["id"].clone());
    }
    // As WAHA documents it: `before` null, the revoked message by its id alone, and `after`
    // the revoke action in the same chat (its own id).
    let revocations = [
        json!({ "revokedMessageId": "DIR1", "before": null,
            "after": { "id": "false_15550002222@c.us_ACTION1", "from": ALICE, "to": ME, "fromMe": false, "body": "" } }),
        json!({ "revokedMessageId": "GRP1", "before": null,
            "after": { "id": format!("false_{GROUP}_ACTION2_{ALICE}"), "from": GROUP, "participant": ALICE, "fromMe": false } }),
    ];
    for (revocation, id) in revocations.into_iter().zip(&ids) {
        assert_eq!(
            webhook(&daemon, "message.revoked", revocation).await,
            StatusCode::OK
        );
        let gone = client
            .wait_until(WAIT, |e| {
                e.name == "message:revoked" && e.data["messageId"] == *id
            })
            .await
            .unwrap();
        assert!(gone.data["chatId"].is_string());
    }
    stub.requests.drain();
    stub.server.stop().await;
    daemon.stop().await;
}

/// Linked ids: Alice's, Carol's, Dave's, Erin's, and those of someone who keeps their number
/// to themselves and of someone WAHA fails to look up.
const ALICE_LID: &str = "207711112222333@lid";
const STRANGER_LID: &str = "208899990000111@lid";
const UNLUCKY_LID: &str = "209900001111222@lid";
const CAROL: &str = "15550003333@c.us";
const CAROL_LID: &str = "203300003333444@lid";
const DAVE: &str = "15550004444@c.us";
const DAVE_LID: &str = "204400004444555@lid";
const ERIN_LID: &str = "205500005555666@lid";

/// A message WAHA reports from a linked id, as the WEBJS engine writes it.
fn from_linked_id(lid: &str, id: &str, body: &str) -> Value {
    json!({
        "id": format!("false_{lid}_{id}"), "timestamp": 1_700_000_600, "from": lid, "fromMe": false,
        "to": ME, "body": body, "hasMedia": false, "_data": { "notifyName": "Alice" }
    })
}

/// How many times WAHA was asked about `lid` since the last look.
fn lookups(stub: &mut WahaStub, lid: &str) -> usize {
    let line = format!("GET /api/default/lids/{lid}");
    stub.requests
        .drain()
        .iter()
        .filter(|r| r.line() == line)
        .count()
}

#[tokio::test]
async fn a_contact_named_by_a_linked_id_is_the_chat_of_their_number() {
    let (mut stub, daemon, mut client) = ready().await;
    stub.with(|waha| {
        waha.lids.insert(ALICE_LID.into(), Some(ALICE.into()));
        waha.lids.insert(STRANGER_LID.into(), None);
        waha.lids_failing.push(UNLUCKY_LID.into());
    });

    let hello = from_linked_id(ALICE_LID, "L1", "hello from my linked id");
    assert_eq!(webhook(&daemon, "message", hello).await, StatusCode::OK);
    let arrived = client
        .wait_until(WAIT, |e| {
            e.name == "message" && e.data["body"] == "hello from my linked id"
        })
        .await
        .unwrap();
    assert_eq!(
        (
            arrived.data["chatId"].as_str(),
            arrived.data["from"].as_str()
        ),
        (Some(ALICE), Some(ALICE))
    );
    assert_eq!(lookups(&mut stub, ALICE_LID), 1);

    // Typing and a second message under the linked id: Alice's chat, asked about once.
    let typing = json!({ "id": ALICE_LID, "presences": [{ "participant": ALICE_LID, "lastKnownPresence": "typing" }] });
    assert_eq!(
        webhook(&daemon, "presence.update", typing).await,
        StatusCode::OK
    );
    let start = client.wait_for("typing:start", WAIT).await.unwrap();
    assert_eq!(
        (
            start.data["chatId"].as_str(),
            start.data["contactId"].as_str()
        ),
        (Some(ALICE), Some(ALICE))
    );
    let again = from_linked_id(ALICE_LID, "L2", "still me");
    assert_eq!(webhook(&daemon, "message", again).await, StatusCode::OK);
    assert_eq!(lookups(&mut stub, ALICE_LID), 0);
    let (_, chat) = daemon
        .get(&format!("/api/v1/devices/wa/chats/{ALICE}"))
        .await;
    assert_eq!(chat["unreadCount"], 2, "{chat}");

    // The NOWEB engine names Erin's number in the message itself: nothing to ask.
    let mut noweb = from_linked_id(ERIN_LID, "E1", "hi from NOWEB");
    noweb["_data"]["key"] = json!({ "remoteJid": ERIN_LID, "remoteJidAlt": "15550005555@s.whatsapp.net", "fromMe": false, "id": "E1" });
    assert_eq!(webhook(&daemon, "message", noweb).await, StatusCode::OK);
    let erin = client
        .wait_until(WAIT, |e| {
            e.name == "message" && e.data["body"] == "hi from NOWEB"
        })
        .await
        .unwrap();
    assert_eq!(erin.data["chatId"], "15550005555@c.us");
    assert_eq!(lookups(&mut stub, ERIN_LID), 0);

    // A number WAHA cannot tell, and a lookup that fails: the messages are kept under the
    // linked id, and WAHA is not asked again at once.
    for lid in [STRANGER_LID, UNLUCKY_LID] {
        for id in ["S1", "S2"] {
            let message = from_linked_id(lid, id, &format!("{id} from {lid}"));
            assert_eq!(webhook(&daemon, "message", message).await, StatusCode::OK);
        }
        assert_eq!(lookups(&mut stub, lid), 1, "{lid}");
        let (status, chat) = daemon.get(&format!("/api/v1/devices/wa/chats/{lid}")).await;
        assert_eq!(
            (status, &chat["unreadCount"]),
            (StatusCode::OK, &json!(2)),
            "{chat}"
        );
    }
    let (_, chats) = daemon.get("/api/v1/devices/wa/chats").await;
    let mut linked: Vec<_> = common::ids(&chats)
        .into_iter()
        .filter(|id| id.ends_with("@lid"))
        .collect();
    linked.sort();
    assert_eq!(
        linked,
        [STRANGER_LID, UNLUCKY_LID],
        "Alice has no chat of her own linked id"
    );

    // At the next start WAHA lists Alice's chat under both her ids, and Carol's only under
    // her linked id.
    stub.with(|waha| {
        waha.chats.push(json!({ "id": ALICE_LID, "name": null }));
        waha.chats.push(json!({ "id": CAROL_LID, "name": "Carol" }));
        waha.lids.insert(CAROL_LID.into(), Some(CAROL.into()));
        let hi = from_linked_id(CAROL_LID, "C1", "hi, Carol here");
        waha.messages.insert(CAROL_LID.into(), vec![hi]);
    });
    // What was learned outlives a restart: Alice's linked id is not asked about again.
    let daemon = daemon.restart().await;
    let mut client = daemon.socket("wa", json!({})).await;
    wait_state(&mut client, "ready").await;
    let after = from_linked_id(ALICE_LID, "L3", "after the restart");
    assert_eq!(webhook(&daemon, "message", after).await, StatusCode::OK);
    let arrived = client
        .wait_until(WAIT, |e| {
            e.name == "message" && e.data["body"] == "after the restart"
        })
        .await
        .unwrap();
    assert_eq!(arrived.data["chatId"], ALICE);
    assert_eq!(lookups(&mut stub, ALICE_LID), 0);
    let (_, alice) = daemon
        .get(&format!("/api/v1/devices/wa/chats/{ALICE}"))
        .await;
    assert_eq!(alice["name"], "Alice", "{alice}");
    let (status, carol) = daemon
        .get(&format!("/api/v1/devices/wa/chats/{CAROL}"))
        .await;
    assert_eq!(
        (status, &carol["name"], &carol["lastMessage"]["body"]),
        (StatusCode::OK, &json!("Carol"), &json!("hi, Carol here")),
        "{carol}"
    );
    // Her linked id names no chat of its own: it answers with her number's.
    let (status, by_lid) = daemon
        .get(&format!("/api/v1/devices/wa/chats/{CAROL_LID}"))
        .await;
    assert_eq!((status, &by_lid["id"]), (StatusCode::OK, &json!(CAROL)));

    // Writing first to a number WhatsApp answers with a linked id opens the number's chat.
    stub.with(|waha| {
        waha.on_whatsapp
            .insert("15550004444".into(), DAVE_LID.into());
        waha.lids.insert(DAVE_LID.into(), Some(DAVE.into()));
    });
    let (status, dave) = daemon
        .post(
            "/api/v1/devices/wa/chats",
            json!({ "phone": "+1 555 000 4444" }),
        )
        .await;
    assert_eq!(
        (status, &dave["id"]),
        (StatusCode::CREATED, &json!(DAVE)),
        "{dave}"
    );
    stub.server.stop().await;
    daemon.stop().await;
}

#[tokio::test]
async fn groups_are_named_by_their_subject_when_first_seen_joined_or_renamed() {
    let (mut stub, daemon, mut client) = ready().await;
    const FAMILY: &str = "120363111111111111@g.us";
    const UNKNOWN: &str = "120363222222222222@g.us";
    stub.with(|waha| {
        waha.groups.insert(
            FAMILY.into(),
            json!({ "id": { "_serialized": FAMILY }, "name": "Family", "groupMetadata": { "subject": "Family" } }),
        )
    });
    let in_group = |group: &str, id: &str, body: &str| {
        json!({ "id": format!("false_{group}_{id}_{ALICE}"), "timestamp": 1_700_000_800, "from": group,
            "fromMe": false, "participant": ALICE, "to": ME, "body": body, "hasMedia": false })
    };
    for (id, body) in [("G1", "dinner at 8"), ("G2", "bring wine")] {
        assert_eq!(
            webhook(&daemon, "message", in_group(FAMILY, id, body)).await,
            StatusCode::OK
        );
    }
    let first = client
        .wait_until(WAIT, |e| e.name == "chat:update" && e.data["id"] == FAMILY)
        .await
        .unwrap();
    assert_eq!(first.data["name"], "Family");
    let group_lookups = stub
        .requests
        .drain()
        .iter()
        .filter(|r| r.path.starts_with("/api/default/groups/"))
        .count();
    assert_eq!(
        group_lookups, 1,
        "asked once, for the group's first message"
    );

    // Its subject changes: every client sees the new name.
    let renamed =
        json!({ "group": { "id": FAMILY, "subject": "Family 🏡" }, "timestamp": 1_700_000_900 });
    assert_eq!(
        webhook(&daemon, "group.v2.update", renamed).await,
        StatusCode::OK
    );
    client
        .wait_until(WAIT, |e| {
            e.name == "chat:update" && e.data["id"] == FAMILY && e.data["name"] == "Family 🏡"
        })
        .await
        .unwrap();

    // Joining a group makes its chat, named, before anyone writes in it.
    let joined = json!({ "group": { "id": "120363333333333333@g.us", "subject": "Book club" }, "timestamp": 1_700_000_950 });
    assert_eq!(
        webhook(&daemon, "group.v2.join", joined).await,
        StatusCode::OK
    );
    let (status, club) = daemon
        .get("/api/v1/devices/wa/chats/120363333333333333@g.us")
        .await;
    assert_eq!(
        (status, &club["name"], &club["kind"]),
        (StatusCode::OK, &json!("Book club"), &json!("group"))
    );

    // A group WAHA cannot tell about keeps its id as its name.
    assert_eq!(
        webhook(&daemon, "message", in_group(UNKNOWN, "U1", "hello?")).await,
        StatusCode::OK
    );
    let (status, chat) = daemon
        .get(&format!("/api/v1/devices/wa/chats/{UNKNOWN}"))
        .await;
    assert_eq!((status, &chat["name"]), (StatusCode::OK, &json!(UNKNOWN)));
    stub.server.stop().await;
    daemon.stop().await;
}

/// The group changes journaled so far, as `(change, system line)`.
async fn group_lines(daemon: &TestDaemon) -> Vec<(String, String)> {
    let updates = daemon.journaled("wa", "group:update").await;
    let lines: Vec<Value> = daemon
        .journaled("wa", "message")
        .await
        .into_iter()
        .filter(|event| event["data"]["type"] == "system")
        .collect();
    assert_eq!(updates.len(), lines.len(), "one line per change");
    updates
        .iter()
        .zip(&lines)
        .map(|(update, line)| {
            assert_eq!(line["seq"], update["seq"].as_u64().unwrap() + 1);
            (
                update["data"]["change"].as_str().unwrap().to_owned(),
                line["data"]["body"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn line(change: &str, body: &str) -> (String, String) {
    (change.to_owned(), body.to_owned())
}

#[tokio::test]
async fn groups_are_run_through_wahas_group_endpoints_and_its_group_events() {
    let (mut stub, daemon, mut client) = ready().await;
    let (_, device) = daemon.get("/api/v1/devices/wa").await;
    assert!(device["capabilities"]
        .as_array()
        .unwrap()
        .contains(&json!("groups.manage")));
    stub.requests.drain();
    let (status, chat) = daemon
        .post(
            "/api/v1/devices/wa/groups",
            json!({ "name": "Team", "participants": [ALICE] }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{chat}");
    let group = chat["id"].as_str().unwrap().to_owned();
    let made = stub
        .requests
        .drain()
        .into_iter()
        .find(|r| r.path == "/api/default/groups")
        .expect("the group is made on WAHA");
    assert_eq!(made.method.as_str(), "POST");
    assert_eq!(
        made.body,
        json!({ "name": "Team", "participants": [{ "id": ALICE }] })
    );
    let at = |rest: &str| format!("/api/v1/devices/wa/groups/{group}{rest}");
    let (_, info) = daemon.get(&at("")).await;
    assert_eq!(
        info["participants"],
        json!([{ "id": ME, "role": "superadmin" }, { "id": ALICE, "role": "member" }])
    );

    // WAHA tells of the group we made: not told twice.
    let joined = json!({ "group": { "id": group, "subject": "Team" }, "timestamp": 1_700_001_000 });
    assert_eq!(
        webhook(&daemon, "group.v2.join", joined).await,
        StatusCode::OK
    );

    let (status, outcomes) = daemon
        .post(
            &at("/participants"),
            json!({ "add": [ALICE, CAROL], "promote": [ALICE] }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{outcomes}");
    assert_eq!(
        outcomes,
        json!([
            { "id": ALICE, "action": "add", "ok": false, "error": "already_a_participant" },
            { "id": CAROL, "action": "add", "ok": true },
            { "id": ALICE, "action": "promote", "ok": true }
        ])
    );
    let (status, _) = daemon
        .call(
            Method::PATCH,
            &at(""),
            Some(json!({ "name": "Team A", "description": "Fridays" })),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    // The new subject reported back changes nothing more.
    let renamed =
        json!({ "group": { "id": group, "subject": "Team A" }, "timestamp": 1_700_001_100 });
    assert_eq!(
        webhook(&daemon, "group.v2.update", renamed).await,
        StatusCode::OK
    );
    let (_, invite) = daemon.get(&at("/invite")).await;
    assert_eq!(
        invite,
        json!({ "code": "FIRSTCODE", "url": "https://chat.whatsapp.com/FIRSTCODE" })
    );
    let (_, invite) = daemon.call(Method::DELETE, &at("/invite"), None).await;
    assert_eq!(invite["code"], "SECONDCODE");

    // Someone else's changes, as WAHA reports them (who did it, it does not say); a delivery
    // made again is stored once.
    let left = json!({ "group": { "id": group }, "type": "leave", "timestamp": 1_700_001_200,
                       "participants": [{ "id": CAROL, "role": "participant" }] });
    for _ in 0..2 {
        assert_eq!(
            webhook(&daemon, "group.v2.participants", left.clone()).await,
            StatusCode::OK
        );
    }
    let (status, _) = daemon.post(&at("/leave"), json!({})).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let gone = json!({ "group": { "id": group }, "timestamp": 1_700_001_300 });
    assert_eq!(
        webhook(&daemon, "group.v2.leave", gone).await,
        StatusCode::OK
    );
    client
        .wait_until(WAIT, |e| {
            e.name == "group:update" && e.data["change"] == "left"
        })
        .await
        .unwrap();
    assert_eq!(
        group_lines(&daemon).await,
        [
            line("created", "You created group “Team”"),
            line(
                "participants",
                "You added +15550003333; You made Alice an admin"
            ),
            line("name", "You changed the group name to “Team A”"),
            line("description", "You changed the group description"),
            line("participants", "+15550003333 left"),
            line("left", "You left"),
        ]
    );
    let paths: Vec<String> = stub
        .requests
        .drain()
        .iter()
        .filter(|r| r.path.contains("/groups/"))
        .map(|r| {
            format!(
                "{} {}",
                r.method,
                r.path.split(&group).nth(1).unwrap_or(&r.path)
            )
        })
        .collect();
    assert_eq!(
        paths,
        [
            "GET ",
            "POST /participants/add",
            "POST /admin/promote",
            "PUT /subject",
            "PUT /description",
            "GET /invite-code",
            "POST /invite-code/revoke",
            "POST /leave"
        ]
    );

    // WAHA's refusals: no admin, no such group; nothing journaled.
    let before = daemon.journaled("wa", "*").await.len();
    stub.with(|waha| waha.groups_refusing.push(group.clone()));
    let (status, refused) = daemon
        .post(&at("/participants"), json!({ "remove": [ALICE] }))
        .await;
    assert_eq!(
        (status, refused["error"]["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("not_group_admin"))
    );
    let (status, refused) = daemon
        .get("/api/v1/devices/wa/groups/120363999999999999@g.us")
        .await;
    assert_eq!(
        (status, refused["error"]["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("chat_not_found"))
    );
    assert_eq!(daemon.journaled("wa", "*").await.len(), before);
    let (_, device) = daemon.get("/api/v1/devices/wa").await;
    assert_eq!(
        device["state"], "ready",
        "a refusal is no trouble with the session"
    );
    stub.server.stop().await;
    daemon.stop().await;
}

#[tokio::test]
async fn an_incoming_call_raises_a_call_notification_unless_its_chat_is_muted() {
    let (mut stub, daemon, mut client) = ready().await;
    let call = |from: &str, video: bool| json!({ "id": "CALL1", "from": from, "timestamp": 1_700_001_000, "isVideo": video, "isGroup": false });
    assert_eq!(
        webhook(&daemon, "call.received", call(ALICE, true)).await,
        StatusCode::OK
    );
    expect_call_notification(&mut client, "Alice", "Incoming video call", ALICE).await;

    // Alice's chat muted: her call raises nothing, so the next notification is the stranger's.
    set_alice_chat(&daemon, json!({ "muted": true })).await;
    const STRANGER: &str = "15550006666@c.us";
    for from in [ALICE, STRANGER] {
        assert_eq!(
            webhook(&daemon, "call.received", call(from, false)).await,
            StatusCode::OK
        );
    }
    let next = client.wait_for("notification", WAIT).await.unwrap();
    assert_eq!(
        (
            &next.data["title"],
            &next.data["body"],
            &next.data["chatId"]
        ),
        (
            &json!(STRANGER),
            &json!("Incoming voice call"),
            &json!(STRANGER)
        )
    );
    stub.server.stop().await;
    daemon.stop().await;
}

#[tokio::test]
async fn opening_a_chat_asks_waha_once_to_report_its_presence() {
    let (mut stub, daemon, mut client) = ready().await;
    let subscribe = format!("POST /api/default/presence/{ALICE}/subscribe");
    let opened = client
        .emit_with_ack("messages:list", json!({ "chatId": ALICE }), WAIT)
        .await
        .unwrap();
    assert_eq!(opened["ok"], true, "{opened}");
    stub.requests.wait_line(WAIT, &subscribe).await;

    // Opened again, over REST, and an older page: no second subscription. The number lookup
    // after them is the next request WAHA sees.
    let (status, _) = daemon
        .get(&format!("/api/v1/devices/wa/chats/{ALICE}/messages"))
        .await;
    assert_eq!(status, StatusCode::OK);
    let newest = opened["data"]["items"][0]["id"]
        .as_str()
        .expect("a message");
    let (status, _) = daemon
        .get(&format!(
            "/api/v1/devices/wa/chats/{ALICE}/messages?before={newest}"
        ))
        .await;
    assert_eq!(status, StatusCode::OK);
    daemon
        .post(
            "/api/v1/devices/wa/chats",
            json!({ "phone": "15550009999" }),
        )
        .await;
    let next = stub
        .requests
        .wait_for(WAIT, |r| {
            r.path.contains("/presence/") || r.path.contains("check-exists")
        })
        .await;
    assert_eq!(next.line(), "GET /api/contacts/check-exists");
    stub.server.stop().await;
    daemon.stop().await;
}

#[tokio::test]
async fn files_waha_serves_are_served_by_the_daemon_without_wahas_key() {
    let (mut stub, daemon, mut client) = ready().await;
    let with_media = |id: &str, url: String| {
        let mut photo = message(id, false, "look", 1_700_000_100);
        photo["hasMedia"] = json!(true);
        photo["media"] = json!({ "url": url, "mimetype": "image/jpeg", "filename": null });
        photo
    };
    let at_waha = with_media(
        "false_15550002222@c.us_PIC",
        format!("{}/api/files/default/{FILE}", stub.base()),
    );
    let in_s3 = with_media(
        "false_15550002222@c.us_S3",
        "https://bucket.s3.example/default/x.jpeg".into(),
    );
    for payload in [at_waha, in_s3] {
        assert_eq!(webhook(&daemon, "message", payload).await, StatusCode::OK);
    }
    let mut shown = Vec::new();
    for id in ["false_15550002222@c.us_PIC", "false_15550002222@c.us_S3"] {
        let message = client
            .wait_until(WAIT, |e| e.name == "message" && e.data["upstreamId"] == id)
            .await
            .unwrap()
            .data;
        assert_eq!(message["type"], "image");
        shown.push(message["media"]["url"].as_str().unwrap().to_owned());
    }
    let url = format!(
        "{}/api/v1/devices/wa/media/default%2Ffalse_15550002222%40c.us_PIC.jpeg",
        daemon.base
    );
    assert_eq!(
        shown,
        [
            url.clone(),
            "https://bucket.s3.example/default/x.jpeg".into()
        ]
    );

    let response = daemon.download(&url).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "image/jpeg");
    assert_eq!(response.bytes().await.unwrap(), FILE_BYTES);
    let fetched = stub
        .requests
        .wait_line(WAIT, &format!("GET /api/files/default/{FILE}"))
        .await;
    assert_eq!(fetched.header("x-api-key"), Some(API_KEY));

    // Forwarded, the file goes to WAHA inline: WAHA cannot fetch the daemon's URL.
    daemon
        .send_message(
            "wa",
            ALICE,
            json!({ "text": "", "media": { "url": url, "mime": "image/jpeg" } }),
        )
        .await;
    let forward = stub.requests.wait_line(WAIT, "POST /api/sendImage").await;
    assert_eq!(
        forward.body["file"],
        json!({
            "data": base64::engine::general_purpose::STANDARD.encode(FILE_BYTES),
            "mimetype": "image/jpeg"
        })
    );

    // A file WAHA does not have; a path that would leave WAHA's files; another session's.
    for path in [
        "default%2Fgone.jpeg",
        "..%2Fapi%2Fsessions",
        "other-session%2Fx.jpeg",
    ] {
        let (status, body) = daemon
            .get(&format!("/api/v1/devices/wa/media/{path}"))
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
        assert_eq!(body["error"]["code"], "media_not_found");
    }
    stub.requests
        .wait_line(WAIT, "GET /api/files/default/gone.jpeg")
        .await;
    stub.requests.assert_none_reached(&["..", "other-session"]);
    stub.server.stop().await;
    daemon.stop().await;
}

#[tokio::test]
async fn archiving_a_chat_archives_it_on_the_phone_and_back_and_muting_stays_here() {
    let (mut stub, daemon, mut client) = ready().await;
    let path = format!("/api/v1/devices/wa/chats/{ALICE}");
    for (flags, action) in [
        (json!({ "archived": true }), "archive"),
        (json!({ "archived": false, "muted": true }), "unarchive"),
    ] {
        let (status, chat) = daemon.call(Method::PATCH, &path, Some(flags)).await;
        assert_eq!(status, StatusCode::OK, "{chat}");
        stub.requests
            .wait_line(WAIT, &format!("POST /api/default/chats/{ALICE}/{action}"))
            .await;
    }
    let (status, chat) = daemon
        .call(Method::PATCH, &path, Some(json!({ "muted": false })))
        .await;
    assert_eq!((status, &chat["muted"]), (StatusCode::OK, &json!(false)));
    // A later call shows the mute reached nothing upstream.
    daemon
        .send_message("wa", ALICE, json!({ "text": "hi" }))
        .await;
    stub.requests.wait_line(WAIT, "POST /api/sendText").await;
    stub.requests.assert_none_reached(&["archive", "mute"]);

    // Archived on the phone, then brought back there: every client sees it, and WAHA is not
    // told what it told us.
    client
        .wait_until(WAIT, |e| e.name == "message" && e.data["body"] == "hi")
        .await
        .unwrap();
    for archived in [true, false] {
        let archive = json!({ "id": ALICE, "archived": archived, "timestamp": 1_700_000_700 });
        assert_eq!(
            webhook(&daemon, "chat.archive", archive).await,
            StatusCode::OK
        );
        client
            .wait_until(WAIT, |e| {
                e.name == "chat:update" && e.data["id"] == ALICE && e.data["archived"] == archived
            })
            .await
            .unwrap();
        let (_, chat) = daemon.get(&path).await;
        assert_eq!(chat["archived"], archived, "{chat}");
    }
    stub.requests.assert_none_reached(&["archive"]);
    stub.server.stop().await;
    daemon.stop().await;
}

#[tokio::test]
async fn a_chat_opened_with_a_number_takes_the_chat_id_waha_finds_and_sends_to_it() {
    let (mut stub, daemon, mut client) = ready().await;
    // WhatsApp knows this Brazilian mobile under the id without its extra 9.
    stub.with(|waha| {
        waha.on_whatsapp
            .insert("5511987654321".into(), "551187654321@c.us".into())
    });
    let (status, chat) = daemon
        .post(
            "/api/v1/devices/wa/chats",
            json!({ "phone": "+55 (11) 98765-4321" }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{chat}");
    assert_eq!(
        (&chat["id"], &chat["name"], &chat["kind"]),
        (
            &json!("551187654321@c.us"),
            &json!("+5511987654321"),
            &json!("direct")
        )
    );
    let lookup = stub
        .requests
        .wait_line(WAIT, "GET /api/contacts/check-exists")
        .await;
    assert_eq!(
        lookup.query.as_deref(),
        Some("phone=5511987654321&session=default")
    );
    client
        .wait_until(WAIT, |e| {
            e.name == "chat:update" && e.data["id"] == "551187654321@c.us"
        })
        .await
        .unwrap();
    daemon
        .send_message("wa", "551187654321@c.us", json!({ "text": "olá" }))
        .await;
    let sent = stub.requests.wait_line(WAIT, "POST /api/sendText").await;
    assert_eq!(sent.body["chatId"], "551187654321@c.us");

    // Opening it again finds the same chat; a number without WhatsApp opens none.
    let (status, again) = daemon
        .post(
            "/api/v1/devices/wa/chats",
            json!({ "phone": "5511987654321" }),
        )
        .await;
    assert_eq!((status, &again["id"]), (StatusCode::OK, &chat["id"]));
    let (status, answer) = daemon
        .post(
            "/api/v1/devices/wa/chats",
            json!({ "phone": "+1 555 000 9999" }),
        )
        .await;
    assert_eq!(
        (status, &answer["error"]["code"]),
        (StatusCode::NOT_FOUND, &json!("chat_not_found")),
        "{answer}"
    );
    let (status, _) = daemon
        .get("/api/v1/devices/wa/chats/15550009999@c.us")
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    stub.server.stop().await;
    daemon.stop().await;
}

#[tokio::test]
async fn a_failing_send_is_retried_in_order_and_a_rejected_one_fails_with_the_reason() {
    let (mut stub, daemon, mut client) = ready().await;
    stub.with(|waha| {
        waha.send_answers.push_back((
            500,
            json!({ "statusCode": 500, "message": "engine hiccup" }),
        ))
    });
    let first = daemon
        .send_message("wa", ALICE, json!({ "text": "first" }))
        .await;
    let second = daemon
        .send_message("wa", ALICE, json!({ "text": "second" }))
        .await;
    let retrying = wait_message_status(&mut client, &first["id"], "retrying").await;
    assert_eq!(
        retrying["error"],
        "upstream error: upstream answered 500 Internal Server Error"
    );
    wait_relayed(&mut client, &first["id"]).await;
    wait_relayed(&mut client, &second["id"]).await;
    let mut texts = Vec::new();
    for _ in 0..3 {
        let request = stub.requests.wait_line(WAIT, "POST /api/sendText").await;
        texts.push(request.body["text"].as_str().unwrap().to_owned());
    }
    assert_eq!(
        texts,
        ["first", "first", "second"],
        "the retry keeps the chat's order"
    );

    stub.with(|waha| {
        waha.send_answers.push_back((
            400,
            json!({ "statusCode": 400, "message": "chatId is not a valid WhatsApp id", "error": "Bad Request" }),
        ))
    });
    let third = daemon
        .send_message("wa", ALICE, json!({ "text": "third" }))
        .await;
    let failed = wait_message_status(&mut client, &third["id"], "failed").await;
    assert_eq!(
        failed["error"],
        "upstream rejected the request: upstream answered 400 Bad Request"
    );
    wait_message_ack(&mut client, &third["id"], "error").await;
    let (_, device) = daemon.get("/api/v1/devices/wa").await;
    assert_eq!(
        device["state"], "ready",
        "one rejected message does not concern the device"
    );
    stub.server.stop().await;
    daemon.stop().await;
}

#[tokio::test]
async fn a_waha_that_is_down_for_a_while_gets_the_queue_in_order_when_back() {
    let (mut stub, daemon, mut client) = ready().await;
    stub.server.stop().await;
    let one = daemon
        .send_message("wa", ALICE, json!({ "text": "one" }))
        .await;
    wait_state(&mut client, "disconnected").await;
    let two = daemon
        .send_message("wa", ALICE, json!({ "text": "two" }))
        .await;
    let three = daemon
        .send_message("wa", ALICE, json!({ "text": "three" }))
        .await;
    // Still down after a few reconnect attempts.
    client
        .wait_until(WAIT, |e| {
            e.name == "state"
                && e.data["state"] == "disconnected"
                && e.data["previous"] == "starting"
        })
        .await
        .unwrap();

    stub.server.restart().await;
    wait_state(&mut client, "ready").await;
    for message in [&one, &two, &three] {
        wait_relayed(&mut client, &message["id"]).await;
    }
    let mut texts = Vec::new();
    while texts.len() < 3 {
        let request = stub.requests.wait_line(WAIT, "POST /api/sendText").await;
        texts.push(request.body["text"].as_str().unwrap().to_owned());
    }
    assert_eq!(texts, ["one", "two", "three"]);
    stub.server.stop().await;
    daemon.stop().await;
}

/// WAHA takes no id of ours, so a message handed to it twice is sent to WhatsApp twice. The
/// relay hands it one message at a time and stores each outcome before the next: while the
/// second of a queue is in WAHA's hands, the first is stored as sent, and a crash at that
/// moment could repeat only the second. Each is sent once.
#[tokio::test]
async fn each_message_handed_to_waha_is_stored_as_sent_before_the_next() {
    let (mut stub, daemon, mut client) = ready().await;
    stub.server.stop().await;
    let mut queued = Vec::new();
    for text in ["one", "two", "three"] {
        queued.push(
            daemon
                .send_message("wa", ALICE, json!({ "text": text }))
                .await,
        );
        if text == "one" {
            // Its attempt finds WAHA down: the others queue behind it.
            wait_state(&mut client, "disconnected").await;
        }
    }
    stub.hold("/api/sendText", 1);
    stub.server.restart().await;
    wait_state(&mut client, "ready").await;
    for text in ["one", "two"] {
        let request = stub.requests.wait_line(WAIT, "POST /api/sendText").await;
        assert_eq!(request.body["text"], text);
    }
    let path = |message: &Value| {
        format!(
            "/api/v1/devices/wa/messages/{}",
            message["id"].as_str().unwrap()
        )
    };
    let (_, first) = daemon.get(&path(&queued[0])).await;
    assert_eq!(first["ackName"], "server", "{first}");
    assert!(first["upstreamId"].is_string(), "{first}");
    let (_, second) = daemon.get(&path(&queued[1])).await;
    assert!(second["upstreamId"].is_null(), "{second}");

    stub.release();
    for message in &queued {
        wait_relayed(&mut client, &message["id"]).await;
    }
    let request = stub.requests.wait_line(WAIT, "POST /api/sendText").await;
    assert_eq!(request.body["text"], "three");
    stub.requests.assert_none_reached(&["/api/sendText"]);
    stub.server.stop().await;
    daemon.stop().await;
}

/// A regular check that finds WAHA markedly slower than when the device became ready tells
/// dashboards the new round trip; a steady one journals nothing.
#[tokio::test]
async fn a_markedly_slower_waha_is_reported_in_connection_status() {
    let (mut stub, daemon, mut client) = ready_with(|settings| {
        fast(settings);
        settings.watchdog.probe_secs = 1;
    })
    .await;
    let connected = client.wait_for("connection:status", WAIT).await.unwrap();
    let mut reported = connected.data["latencyMs"].as_u64().unwrap();
    stub.hold("/api/sessions/default", 0);
    stub.requests
        .wait_for(WAIT, |request| {
            request.held && request.line() == "GET /api/sessions/default"
        })
        .await;
    // WAHA takes its time over this check: markedly longer than the last figure reported. On
    // a loaded host the figure at ready can be hundreds of milliseconds, and a check before
    // this one may still report a quicker one meanwhile. This check's own figure comes only
    // after it is answered, and is at least as long as it was held.
    let held = std::time::Instant::now();
    loop {
        let needed = std::time::Duration::from_millis((reported * 2 + 200).max(400));
        let Some(left) = needed.checked_sub(held.elapsed()) else {
            break;
        };
        if let Ok(earlier) = client.wait_for("connection:status", left).await {
            reported = earlier.data["latencyMs"].as_u64().unwrap();
        }
    }
    stub.release();
    let least = held.elapsed().as_millis() as u64;
    let slower = client
        .wait_until(WAIT, |event| {
            event.name == "connection:status" && event.data["latencyMs"].as_u64() >= Some(least)
        })
        .await
        .unwrap();
    let latency = slower.data["latencyMs"].as_u64().unwrap();
    assert_eq!(slower.data["upstream"], "connected");
    assert!(
        latency >= 400 && latency >= reported * 2,
        "{latency} ms, {reported} ms reported before"
    );
    stub.server.stop().await;
    daemon.stop().await;
}

/// [`ready`], with one message from Alice unread; returns it as stored.
async fn ready_with_one_unread() -> (WahaStub, TestDaemon, SioClient, Value) {
    let (stub, daemon, mut client) = ready().await;
    let incoming = message("false_15550002222@c.us_IN1", false, "hi", 1_700_000_300);
    assert_eq!(webhook(&daemon, "message", incoming).await, StatusCode::OK);
    let arrived = client
        .wait_until(WAIT, |e| e.name == "message" && e.data["body"] == "hi")
        .await
        .unwrap();
    (stub, daemon, client, arrived.data)
}

/// What our side does in a chat while WAHA is down (a read, reactions, a revocation, an
/// archive) is answered at once, survives a restart, and reaches WAHA in order once it is
/// back; a reaction to a message still queued goes once WAHA has the message.
#[tokio::test]
async fn what_our_side_did_while_waha_was_down_reaches_it_in_order_once_back() {
    let (mut stub, daemon, mut client, _) = ready_with_one_unread().await;
    let mine = daemon
        .send_message("wa", ALICE, json!({ "text": "mine" }))
        .await;
    wait_relayed(&mut client, &mine["id"]).await;
    stub.requests.wait_line(WAIT, "POST /api/sendText").await;

    stub.server.stop().await;
    let later = daemon
        .send_message("wa", ALICE, json!({ "text": "later" }))
        .await;
    assert_eq!(read_alice_chat(&daemon).await, 1);
    for (event, payload) in [
        (
            "message:react",
            json!({ "messageId": mine["id"], "emoji": "👍" }),
        ),
        (
            "message:react",
            json!({ "messageId": later["id"], "emoji": "❤️" }),
        ),
        ("message:revoke", json!({ "messageId": mine["id"] })),
    ] {
        let ack = client.emit_with_ack(event, payload, WAIT).await.unwrap();
        assert_eq!(ack["ok"], true, "{event}: {ack}");
    }
    set_alice_chat(&daemon, json!({ "archived": true })).await;
    wait_state(&mut client, "disconnected").await;

    let daemon = daemon.restart().await;
    stub.server.restart().await;
    let told_lines = [
        "POST /api/sendText",
        "POST /api/sendSeen",
        "PUT /api/reaction",
        "POST /api/default/chats/15550002222@c.us/archive",
    ];
    let mut told = Vec::new();
    while told.len() < 6 {
        told.push(
            stub.requests
                .wait_for(WAIT, |r| {
                    told_lines.contains(&r.line().as_str()) || r.method == Method::DELETE
                })
                .await,
        );
    }
    let mut upstream_ids = Vec::new();
    for message in [&mine, &later] {
        let id = message["id"].as_str().unwrap();
        let (_, stored) = daemon
            .get(&format!("/api/v1/devices/wa/messages/{id}"))
            .await;
        upstream_ids.push(stored["upstreamId"].as_str().unwrap().to_owned());
    }
    let [mine_upstream, later_upstream] = <[String; 2]>::try_from(upstream_ids).unwrap();
    let sent_later = told
        .iter()
        .position(|r| r.line() == "POST /api/sendText")
        .expect("the queued message went");
    assert_eq!(told[sent_later].body["text"], "later");
    let actions: Vec<Value> = told
        .iter()
        .filter(|r| r.line() != "POST /api/sendText")
        .map(|r| json!([r.line(), r.body]))
        .collect();
    let revoke = format!("DELETE /api/default/chats/{ALICE}/messages/{mine_upstream}");
    assert_eq!(
        actions,
        [
            json!(["POST /api/sendSeen", { "session": "default", "chatId": ALICE, "messageIds": ["false_15550002222@c.us_IN1"] }]),
            json!(["PUT /api/reaction", { "session": "default", "messageId": mine_upstream, "reaction": "👍" }]),
            json!(["PUT /api/reaction", { "session": "default", "messageId": later_upstream, "reaction": "❤️" }]),
            json!([revoke, Value::Null]),
            json!([told_lines[3], Value::Null]),
        ]
    );
    let reacted_to_later = told
        .iter()
        .position(|r| r.body["messageId"] == later_upstream.as_str())
        .unwrap();
    assert!(sent_later < reacted_to_later, "{told:?}");
    stub.server.stop().await;
    daemon.stop().await;
}

/// A read receipt WAHA fails with a server error is told again, and the chat's later actions
/// wait for it; a reaction WAHA rejects is given up, and holds nothing up behind it.
#[tokio::test]
async fn a_failing_action_is_retried_in_order_and_a_rejected_one_is_given_up() {
    let (mut stub, daemon, mut client, arrived) = ready_with_one_unread().await;
    stub.with(|waha| {
        waha.tell_failures = [
            (500, json!({ "message": "engine restarting" })),
            (201, json!({})),
            (400, json!({ "message": "cannot react to this message" })),
        ]
        .into();
    });
    assert_eq!(read_alice_chat(&daemon).await, 1);
    for emoji in ["👍", "🎉", "😮"] {
        let payload = json!({ "messageId": arrived["id"], "emoji": emoji });
        let ack = client
            .emit_with_ack("message:react", payload, WAIT)
            .await
            .unwrap();
        assert_eq!(ack["ok"], true, "{ack}");
    }
    let mut told = Vec::new();
    while told.len() < 5 {
        let request = stub
            .requests
            .wait_for(WAIT, |r| {
                ["POST /api/sendSeen", "PUT /api/reaction"].contains(&r.line().as_str())
            })
            .await;
        told.push(format!("{} {}", request.line(), request.body["reaction"]));
    }
    assert_eq!(
        told,
        [
            "POST /api/sendSeen null",
            "POST /api/sendSeen null",
            "PUT /api/reaction \"👍\"",
            "PUT /api/reaction \"🎉\"",
            "PUT /api/reaction \"😮\"",
        ]
    );
    stub.server.stop().await;
    daemon.stop().await;
}

/// What WAHA answers with an error reaches clients as its status alone: its body, which could
/// be any page of the network WAHA's URL points into, goes to the log only.
#[tokio::test]
async fn wahas_error_answers_reach_clients_as_their_status_only() {
    let (mut stub, daemon, mut client) = ready().await;
    let page = |n: u8| json!({ "message": format!("<h1>intranet page {n}</h1>") });
    stub.with(|waha| waha.send_answers.push_back((422, page(1))));
    let sent = daemon
        .send_message("wa", ALICE, json!({ "text": "hello?" }))
        .await;
    let failed = wait_message_status(&mut client, &sent["id"], "failed").await;
    assert_eq!(
        failed["error"],
        "upstream rejected the request: upstream answered 422 Unprocessable Entity"
    );
    // The session is probed twice: a server error, which only counts, then a refusal, which
    // fails the device at once, straight from `ready`.
    stub.with(|waha| {
        waha.session_answers.push_back((500, page(2)));
        waha.session_answers.push_back((401, page(3)));
    });
    status_webhook(&daemon, "WORKING").await;
    status_webhook(&daemon, "WORKING").await;
    let refused = wait_state(&mut client, "failed").await;
    assert_eq!(refused.data["previous"], "ready", "{}", refused.data);
    assert_eq!(
        refused.data["reason"],
        "upstream refused: upstream answered 401 Unauthorized"
    );
    let (_, device) = daemon.get("/api/v1/devices/wa").await;
    assert_eq!(device["stateReason"], refused.data["reason"]);
    assert_unseen(&daemon, &client, "wa", "intranet page").await;
    stub.server.stop().await;
    daemon.stop().await;
}

#[tokio::test]
async fn wahas_own_status_changes_move_the_device() {
    let (mut stub, daemon, mut client) = ready().await;
    // WAHA starts the session over by itself, then works again.
    stub.with(|waha| waha.status = "STARTING".into());
    status_webhook(&daemon, "STARTING").await;
    client
        .wait_until(WAIT, |e| {
            e.name == "state" && e.data["state"] == "starting" && e.data["previous"] == "ready"
        })
        .await
        .unwrap();
    stub.with(|waha| waha.status = "WORKING".into());
    status_webhook(&daemon, "WORKING").await;
    client
        .wait_until(WAIT, |e| {
            e.name == "state" && e.data["state"] == "ready" && e.data["previous"] == "authenticated"
        })
        .await
        .unwrap();

    // WAHA stops it.
    stub.with(|waha| waha.status = "STOPPED".into());
    status_webhook(&daemon, "STOPPED").await;
    let stopped = wait_state(&mut client, "stopped").await;
    assert_eq!(stopped.data["reason"], "upstream_stopped");

    // Started again, WAHA's session fails.
    stub.with(|waha| waha.status_after_start = "FAILED".into());
    let (status, _) = daemon.post("/api/v1/devices/wa/start", json!({})).await;
    assert_eq!(status, StatusCode::OK);
    let failed = wait_state(&mut client, "failed").await;
    assert!(
        failed.data["reason"].as_str().unwrap().contains("FAILED"),
        "{}",
        failed.data
    );
    stub.server.stop().await;
    daemon.stop().await;
}

/// A probe WAHA answers "slow down" or "restarting" only counts; the second in a row stalls
/// the session, which is restarted without a new QR code, and the device never fails for it.
#[tokio::test]
async fn a_waha_that_asks_to_slow_down_or_is_restarting_twice_in_a_row_has_its_session_restarted() {
    let (mut stub, daemon, mut client) = ready().await;
    for busy in [
        (
            429,
            json!({ "statusCode": 429, "message": "Too Many Requests" }),
        ),
        (
            422,
            json!({ "error": "Session status is not as expected. Try again later or restart the session",
            "session": "default", "status": "STARTING", "expected": ["WORKING"] }),
        ),
    ] {
        stub.with(|waha| {
            waha.session_answers.push_back(busy.clone());
            waha.session_answers.push_back(busy);
        });
        status_webhook(&daemon, "WORKING").await;
        status_webhook(&daemon, "WORKING").await;
        // The first failure moved nothing: the one restart is the stall's.
        wait_stalled(&mut client, "probe_failed").await;
        wait_healthy_again(&mut client).await;
    }
    assert_eq!(
        count(&client, "qr"),
        0,
        "the linked session needs no new QR code"
    );
    assert!(
        !client
            .history()
            .iter()
            .any(|e| e.name == "state" && e.data["state"] == "failed"),
        "an answer that may pass never fails the device"
    );
    stub.server.stop().await;
    daemon.stop().await;
}

/// Each probe of a working session asks WAHA for the session and for the account its engine
/// answers for. One failed probe only counts; the second in a row stalls the session, which
/// is restarted without a new QR code (SPEC §12).
#[tokio::test]
async fn one_failed_probe_only_counts_and_the_second_in_a_row_restarts_the_session() {
    let (mut stub, daemon, mut client) = ready_with(|settings| {
        fast(settings);
        settings.watchdog.probe_secs = 1;
    })
    .await;
    let me = "GET /api/sessions/default/me";
    let probe = stub.requests.wait_line(WAIT, me).await;
    assert_eq!(probe.header("x-api-key"), Some(API_KEY));

    // One probe fails: WAHA's engine answers for no account. The probes after it, each a
    // `probe_secs` later, find it again, and nothing was restarted in between.
    stub.with(|waha| waha.me_answers.push_back((200, Value::Null)));
    for _ in 0..3 {
        stub.requests.wait_line(WAIT, me).await;
    }
    assert!(
        stub.with(|waha| waha.me_answers.is_empty()),
        "the probe failed"
    );
    let moved: Vec<Value> = daemon
        .journaled("wa", "*")
        .await
        .into_iter()
        .filter(|event| ["state", "device:health"].contains(&event["type"].as_str().unwrap()))
        .collect();
    let last = moved.last().unwrap();
    assert_eq!(
        (&last["type"], &last["data"]["state"]),
        (&json!("state"), &json!("ready")),
        "nothing moved after the device was ready: {moved:#?}"
    );

    // Two in a row: the engine answers for no account, then WAHA answers a server error.
    stub.with(|waha| {
        waha.me_answers.push_back((200, Value::Null));
        waha.me_answers
            .push_back((500, json!({ "message": "engine not responding" })));
    });
    let stalled = wait_stalled(&mut client, "probe_failed").await;
    assert_eq!(stalled.data["waitingAcks"], 0, "{}", stalled.data);
    wait_healthy_again(&mut client).await;
    assert_eq!(
        count(&client, "qr"),
        0,
        "the linked session needs no new QR code"
    );
    let (_, device) = daemon.get("/api/v1/devices/wa").await;
    assert_eq!(
        (&device["state"], &device["health"]),
        (&json!("ready"), &json!("healthy")),
        "{device}"
    );
    stub.server.stop().await;
    daemon.stop().await;
}

#[tokio::test]
async fn a_waha_that_stops_showing_new_codes_ends_linking_with_qr_timeout() {
    let mut stub = WahaStub::start("the-only-code").await;
    // Two codes of one second each: linking ends two seconds after the first code.
    let (daemon, mut client) =
        TestDaemon::start_with_device("wa", &device_file(&stub), |settings| {
            fast(settings);
            settings.qr.first_ttl_secs = 1;
            settings.qr.ttl_secs = 1;
            settings.qr.max_attempts = 2;
        })
        .await;
    wait_state(&mut client, "qr").await;
    let stopped = wait_state(&mut client, "stopped").await;
    assert_eq!(
        (
            stopped.data["previous"].as_str(),
            stopped.data["reason"].as_str()
        ),
        (Some("qr"), Some("qr_timeout"))
    );
    assert_eq!(count(&client, "qr"), 1, "WAHA showed one code only");
    stub.requests
        .wait_line(WAIT, "POST /api/sessions/default/stop")
        .await;
    stub.server.stop().await;
    daemon.stop().await;
}

#[tokio::test]
async fn a_bad_signature_gets_401_and_changes_nothing() {
    let (mut stub, daemon, _client) = ready().await;
    let (_, before) = daemon.get("/api/v1/devices/wa/events?after=0").await;
    let body = envelope(
        "message",
        message(
            "false_15550002222@c.us_FORGED",
            false,
            "forged",
            1_700_000_600,
        ),
    );
    let wrong_key = hmac_sha512_hex("not-the-secret", &body);
    let other_body = hmac_sha512_hex(SECRET, b"{}");
    for headers in [
        vec![],
        vec![("x-webhook-hmac", wrong_key.as_str())],
        vec![("x-webhook-hmac", other_body.as_str())],
        vec![("x-webhook-hmac", "not hex")],
    ] {
        let (status, text) = daemon
            .deliver(Method::POST, "/upstream/waha/wa", body.clone(), &headers)
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{headers:?}: {text}");
        let error: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(error["error"]["code"], "unauthorized");
    }
    let (_, after) = daemon.get("/api/v1/devices/wa/events?after=0").await;
    assert_eq!(before["head"], after["head"], "no event was journaled");
    let (_, messages) = daemon
        .get(&format!("/api/v1/devices/wa/chats/{ALICE}/messages"))
        .await;
    assert!(!messages.to_string().contains("forged"));

    // Unknown devices have no receiver, and devices of another connector take no delivery.
    let signature = hmac_sha512_hex(SECRET, &body);
    let signed = [("x-webhook-hmac", signature.as_str())];
    let (status, _) = daemon
        .deliver(Method::POST, "/upstream/waha/nobody", body.clone(), &signed)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = daemon
        .deliver(Method::POST, "/upstream/cloud/wa", body, &signed)
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    stub.server.stop().await;
    daemon.stop().await;
}

#[tokio::test]
async fn devices_are_created_over_rest_and_never_show_their_secrets() {
    let stub = WahaStub::start("qr-rest").await;
    let daemon = TestDaemon::start_with(|settings, _| fast(settings)).await;
    let (status, refused) = daemon
        .post("/api/v1/devices", json!({ "id": "nourl", "name": "No URL", "connector": "waha", "waha": { "webhook_secret": SECRET } }))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{refused}");
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap()
            .contains("`waha.base_url` is required"),
        "{refused}"
    );

    let (status, created) = daemon
        .post(
            "/api/v1/devices",
            json!({ "id": "wa", "name": "Waha", "connector": "waha",
                "waha": { "base_url": stub.base(), "api_key": API_KEY, "webhook_secret": SECRET } }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["connector"], "waha");
    let mut client = daemon.socket("wa", json!({ "lastSeq": 0 })).await;
    let qr = client.wait_for("qr", WAIT).await.unwrap();
    assert_eq!(qr.data["qr"], "qr-rest");

    let (_, one) = daemon.get("/api/v1/devices/wa").await;
    let (_, all) = daemon.get("/api/v1/devices").await;
    let (_, events) = daemon.get("/api/v1/devices/wa/events?after=0").await;
    for shown in [created, one, all, events] {
        let text = shown.to_string();
        assert!(!text.contains(API_KEY) && !text.contains(SECRET), "{text}");
    }
    daemon.stop().await;
}

/// A WAHA message in a story (`status@broadcast`, by Alice) or a channel's post.
fn posted(id: &str, chat: &str, body: &str) -> Value {
    json!({
        "id": format!("false_{chat}_{id}"), "timestamp": 1_700_000_400, "from": chat,
        "participant": if chat == "status@broadcast" { ALICE } else { chat },
        "fromMe": false, "to": ME, "body": body, "hasMedia": false,
        "_data": { "notifyName": "Alice" }
    })
}

const CHANNEL: &str = "120363000000000001@newsletter";

/// A story, a channel's post and then a message from Alice, delivered as WAHA posts them;
/// waits for the notification of Alice's message, journaled after whatever the two made.
async fn story_post_and_message(daemon: &TestDaemon, client: &mut SioClient) {
    for payload in [
        posted("ST1", "status@broadcast", "At the beach"),
        posted("CP1", CHANNEL, "Today's news"),
        message(
            "false_15550002222@c.us_AFTER",
            false,
            "after the story",
            1_700_000_401,
        ),
    ] {
        assert_eq!(webhook(daemon, "message", payload).await, StatusCode::OK);
    }
    client
        .wait_until(WAIT, |e| {
            e.name == "message" && e.data["body"] == "after the story"
        })
        .await
        .unwrap();
}

#[tokio::test]
async fn stories_and_channel_posts_open_no_chat_and_waha_is_told_to_leave_them_out() {
    let (stub, daemon, mut client) = ready().await;
    let config = stub.with(|waha| waha.config.clone());
    assert_eq!(
        config["ignore"],
        json!({ "status": true, "channels": true })
    );
    // A WAHA that sends them all the same (one of an older version) changes nothing.
    story_post_and_message(&daemon, &mut client).await;
    let (_, chats) = daemon.get("/api/v1/devices/wa/chats").await;
    let ids = common::ids(&chats);
    assert!(
        ids.iter()
            .all(|id| id != "status@broadcast" && id != CHANNEL),
        "{ids:?}"
    );
    let notified: Vec<Value> = daemon
        .journaled("wa", "notification")
        .await
        .into_iter()
        .map(|event| event["data"]["body"].clone())
        .collect();
    assert_eq!(notified, [json!("after the story")]);
    assert!(daemon.journaled("wa", "status:new").await.is_empty());
    assert_unseen(&daemon, &client, "wa", "At the beach").await;
    assert_unseen(&daemon, &client, "wa", "Today's news").await;
}

#[tokio::test]
async fn kept_stories_are_journaled_by_their_author_and_waha_is_told_so() {
    let mut stub = WahaStub::start("unused").await;
    stub.with(|waha| {
        // The session exists, set by someone to ignore groups and stories.
        waha.exists = true;
        waha.status = "WORKING".into();
        waha.config = json!({ "ignore": { "status": true, "groups": true } });
    });
    let file = format!("{}[filters]\nstatuses = \"event\"\n", device_file(&stub));
    let (daemon, mut client) = TestDaemon::start_with_device("wa", &file, fast).await;
    wait_state(&mut client, "ready").await;
    let put = stub
        .requests
        .wait_line(WAIT, "PUT /api/sessions/default")
        .await;
    assert_eq!(
        put.body["config"]["ignore"],
        json!({ "status": false, "groups": true, "channels": true }),
        "ours changed, the rest kept"
    );
    story_post_and_message(&daemon, &mut client).await;
    let stories: Vec<Value> = daemon
        .journaled("wa", "status:new")
        .await
        .into_iter()
        .map(|event| event["data"].clone())
        .collect();
    assert_eq!(
        stories.len(),
        1,
        "the channel's post is dropped: {stories:?}"
    );
    assert_eq!(
        (
            stories[0]["from"].as_str(),
            stories[0]["message"]["from"].as_str(),
            stories[0]["message"]["chatId"].as_str(),
            stories[0]["message"]["body"].as_str(),
        ),
        (
            Some(ALICE),
            Some(ALICE),
            Some("status@broadcast"),
            Some("At the beach")
        )
    );
    let (status, _) = daemon
        .get("/api/v1/devices/wa/chats/status@broadcast")
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn every_kind_is_sent_by_its_endpoint_and_read_from_wahas_shapes() {
    let (mut stub, daemon, mut client) = ready().await;
    stub.requests.drain();
    let sent = |body: Value| {
        let daemon = &daemon;
        async move { daemon.send_message("wa", ALICE, body).await }
    };
    sent(json!({ "location": { "latitude": 52.37, "longitude": 4.89, "name": "Dam" } })).await;
    let place = stub
        .requests
        .wait_line(WAIT, "POST /api/sendLocation")
        .await;
    assert_eq!(
        place.body,
        json!({ "session": "default", "chatId": ALICE, "latitude": 52.37, "longitude": 4.89, "title": "Dam" })
    );
    sent(json!({ "contacts": [{ "name": "Carol Jones", "phones": ["+1 555 000 0009"] }] })).await;
    let card = stub
        .requests
        .wait_line(WAIT, "POST /api/sendContactVcard")
        .await;
    let vcard = card.body["contacts"][0]["vcard"].as_str().unwrap();
    assert!(
        vcard.starts_with("BEGIN:VCARD") && vcard.contains("waid=15550000009"),
        "{vcard}"
    );
    sent(json!({ "poll": { "question": "Lunch?", "options": ["Yes", "No"], "multiple": true } }))
        .await;
    let poll = stub.requests.wait_line(WAIT, "POST /api/sendPoll").await;
    assert_eq!(
        poll.body["poll"],
        json!({ "name": "Lunch?", "options": ["Yes", "No"], "multipleAnswers": true })
    );
    let note =
        json!({ "url": "https://files.example/note.mp3", "mime": "audio/mpeg", "type": "voice" });
    sent(json!({ "media": note })).await;
    let voice = stub.requests.wait_line(WAIT, "POST /api/sendVoice").await;
    assert_eq!(
        (&voice.body["file"]["url"], &voice.body["convert"]),
        (&json!("https://files.example/note.mp3"), &json!(true)),
        "an MP3 is converted to the Opus a voice note is"
    );
    let clip = json!({ "url": "https://files.example/clip.mp4", "mime": "video/mp4" });
    sent(json!({ "media": clip, "text": "look" })).await;
    let video = stub.requests.wait_line(WAIT, "POST /api/sendVideo").await;
    assert_eq!(
        (&video.body["caption"], &video.body["convert"]),
        (&json!("look"), &json!(false))
    );

    // What WAHA reports of each kind becomes the message of our type.
    let mut incoming = message("false_15550002222@c.us_LOC", false, "Dam", 1_700_000_500);
    incoming["location"] =
        json!({ "latitude": "52.37", "longitude": "4.89", "description": "Dam" });
    webhook(&daemon, "message", incoming).await;
    let mut incoming = message(
        "false_15550002222@c.us_VC",
        false,
        "BEGIN:VCARD",
        1_700_000_501,
    );
    incoming["vCards"] = json!(["BEGIN:VCARD\nVERSION:3.0\nFN:Bob Lee\nTEL;type=CELL;waid=15550000003:+1 555 000 0003\nEND:VCARD"]);
    webhook(&daemon, "message", incoming).await;
    let mut incoming = message("false_15550002222@c.us_PTT", false, "", 1_700_000_502);
    incoming["hasMedia"] = json!(true);
    incoming["media"] = json!({ "url": format!("{}/api/files/default/{FILE}", stub.base()), "mimetype": "audio/ogg; codecs=opus" });
    incoming["_data"]["type"] = json!("ptt");
    incoming["_data"]["duration"] = json!("7");
    webhook(&daemon, "message", incoming).await;
    let mut incoming = message("false_15550002222@c.us_POLL", false, "", 1_700_000_503);
    incoming["_data"]["type"] = json!("poll_creation");
    incoming["_data"]["pollName"] = json!("Tea?");
    incoming["_data"]["pollOptions"] =
        json!([{ "name": "Green", "localId": 0 }, { "name": "Black", "localId": 1 }]);
    incoming["_data"]["pollSelectableOptionsCount"] = json!(1);
    webhook(&daemon, "message", incoming).await;
    let mut arrived = Vec::new();
    while arrived.len() < 4 {
        let event = client
            .wait_until(WAIT, |e| e.name == "message" && e.data["fromMe"] == false)
            .await
            .unwrap();
        arrived.push(event.data);
    }
    assert_eq!(
        (arrived[0]["type"].as_str(), arrived[0]["body"].as_str()),
        (Some("location"), Some(""))
    );
    assert_eq!(
        arrived[0]["location"],
        json!({ "latitude": 52.37, "longitude": 4.89, "name": "Dam" })
    );
    assert_eq!(arrived[1]["type"], "contact");
    assert_eq!(arrived[1]["contacts"][0]["name"], "Bob Lee");
    assert_eq!(
        arrived[1]["contacts"][0]["phones"],
        json!(["+1 555 000 0003"])
    );
    assert_eq!(
        (
            arrived[2]["type"].as_str(),
            arrived[2]["durationSecs"].as_u64()
        ),
        (Some("voice"), Some(7))
    );
    assert_eq!(
        arrived[3]["poll"],
        json!({ "question": "Tea?", "options": ["Green", "Black"], "multiple": false,
            "votes": [{ "option": "Green", "voters": [] }, { "option": "Black", "voters": [] }] })
    );
}

#[tokio::test]
async fn edits_and_votes_reach_waha_and_wahas_edits_and_votes_arrive() {
    let (mut stub, daemon, mut client) = ready().await;
    let sent = daemon
        .send_message("wa", ALICE, json!({ "text": "see you at 5" }))
        .await;
    wait_relayed(&mut client, &sent["id"]).await;
    let upstream = stored_message(&daemon, &sent["id"]).await["upstreamId"].clone();
    let path = format!(
        "/api/v1/devices/wa/messages/{}",
        sent["id"].as_str().unwrap()
    );
    let (status, edited) = daemon
        .call(
            Method::PATCH,
            &path,
            Some(json!({ "text": "see you at 6" })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{edited}");
    let put = stub
        .requests
        .wait_for(WAIT, |r| r.method == "PUT" && r.path.contains("/messages/"))
        .await;
    assert_eq!(
        put.path,
        format!(
            "/api/default/chats/{ALICE}/messages/{}",
            upstream.as_str().unwrap()
        )
    );
    assert_eq!(put.body, json!({ "text": "see you at 6" }));

    let poll = daemon
        .send_message(
            "wa",
            ALICE,
            json!({ "poll": { "question": "Lunch?", "options": ["Yes", "No"] } }),
        )
        .await;
    wait_relayed(&mut client, &poll["id"]).await;
    let poll_id = stored_message(&daemon, &poll["id"]).await["upstreamId"].clone();
    let ack = client
        .emit_with_ack(
            "poll:vote",
            json!({ "messageId": poll["id"], "options": ["Yes"] }),
            WAIT,
        )
        .await
        .unwrap();
    assert_eq!(ack["ok"], true, "{ack}");
    let vote = stub
        .requests
        .wait_line(WAIT, "POST /api/sendPollVote")
        .await;
    assert_eq!(
        vote.body,
        json!({ "session": "default", "chatId": ALICE, "pollMessageId": poll_id, "votes": ["Yes"] })
    );

    // Alice edits her old message, and votes.
    let mut edit = message(
        "false_15550002222@c.us_EDIT1",
        false,
        "from before, fixed",
        1_700_000_600,
    );
    edit["editedMessageId"] = json!("OLD1");
    assert_eq!(
        webhook(&daemon, "message.edited", edit).await,
        StatusCode::OK
    );
    let theirs = client
        .wait_until(WAIT, |e| {
            e.name == "message:edited" && e.data["body"] == "from before, fixed"
        })
        .await
        .unwrap();
    assert_eq!(
        stored_message(&daemon, &theirs.data["messageId"]).await["upstreamId"],
        "false_15550002222@c.us_OLD1"
    );
    let voted = json!({
        "vote": { "id": "false_15550002222@c.us_V1", "from": ALICE, "to": ME, "fromMe": false,
            "selectedOptions": ["No"], "timestamp": 1_700_000_700 },
        "poll": { "id": poll_id, "from": ME, "to": ALICE, "fromMe": true }
    });
    assert_eq!(webhook(&daemon, "poll.vote", voted).await, StatusCode::OK);
    let vote = client
        .wait_until(WAIT, |e| e.name == "poll:vote" && e.data["voter"] == ALICE)
        .await
        .unwrap();
    assert_eq!(vote.data["options"], json!(["No"]));

    // A message our phone sent long ago is past WhatsApp's window.
    let old = message(
        "true_15550002222@c.us_MINE1",
        true,
        "long ago",
        1_700_000_000,
    );
    assert_eq!(webhook(&daemon, "message.any", old).await, StatusCode::OK);
    let mine = client
        .wait_until(WAIT, |e| {
            e.name == "message" && e.data["body"] == "long ago"
        })
        .await
        .unwrap();
    let path = format!(
        "/api/v1/devices/wa/messages/{}",
        mine.data["id"].as_str().unwrap()
    );
    let (status, refused) = daemon
        .call(Method::PATCH, &path, Some(json!({ "text": "too late" })))
        .await;
    assert_eq!(
        (status, refused["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("edit_window_closed"))
    );
}

#[tokio::test]
async fn marking_a_chat_unread_marks_it_on_the_phone_and_pinning_stays_here() {
    let (mut stub, daemon, _client) = ready().await;
    let path = format!("/api/v1/devices/wa/chats/{ALICE}");
    let (status, chat) = daemon
        .call(
            Method::PATCH,
            &path,
            Some(json!({ "unread": true, "pinned": true })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{chat}");
    assert_eq!(
        (&chat["markedUnread"], &chat["pinned"]),
        (&json!(true), &json!(true))
    );
    stub.requests
        .wait_line(WAIT, &format!("POST /api/default/chats/{ALICE}/unread"))
        .await;
    daemon
        .send_message("wa", ALICE, json!({ "text": "after the mark" }))
        .await;
    stub.requests.wait_line(WAIT, "POST /api/sendText").await;
    stub.requests.assert_none_reached(&["pin"]);
}

#[tokio::test]
async fn a_send_whose_answer_was_lost_is_found_at_waha_and_not_sent_twice() {
    let (mut stub, daemon, mut client) = ready().await;
    stub.with(|waha| waha.lose_answers = 1);
    let sent = daemon
        .send_message("wa", ALICE, json!({ "text": "exactly once" }))
        .await;
    wait_relayed(&mut client, &sent["id"]).await;
    let lookup = stub
        .requests
        .wait_line(WAIT, &format!("GET /api/default/chats/{ALICE}/messages"))
        .await;
    assert!(lookup.query.as_deref().unwrap().contains("limit="));
    let stored = stored_message(&daemon, &sent["id"]).await;
    assert_eq!(stored["upstreamId"], format!("true_{ALICE}_STUB1"));

    // The same text again, on purpose: a new message, sent, not taken for the first.
    let again = daemon
        .send_message("wa", ALICE, json!({ "text": "exactly once" }))
        .await;
    wait_relayed(&mut client, &again["id"]).await;
    assert_eq!(
        stored_message(&daemon, &again["id"]).await["upstreamId"],
        format!("true_{ALICE}_STUB2")
    );
    assert_eq!(
        sent_texts(&mut stub),
        ["exactly once", "exactly once"],
        "one send per message, though the first answer was lost"
    );
    stub.server.stop().await;
    daemon.stop().await;
}

#[tokio::test]
async fn a_message_known_at_waha_is_forwarded_by_wahas_forward_endpoint() {
    let (mut stub, daemon, mut client) = ready().await;
    let (_, history) = daemon
        .get(&format!("/api/v1/devices/wa/chats/{ALICE}/messages"))
        .await;
    let original = history["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["body"] == "from before")
        .unwrap()
        .clone();
    let (status, copy) = daemon
        .post(
            &format!(
                "/api/v1/devices/wa/messages/{}/forward",
                original["id"].as_str().unwrap()
            ),
            json!({ "chatId": ALICE }),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{copy}");
    assert_eq!(copy["forwarded"], true);
    assert_eq!(copy["forwardOf"], "false_15550002222@c.us_OLD1");
    let forward = stub
        .requests
        .wait_line(WAIT, "POST /api/forwardMessage")
        .await;
    assert_eq!(
        forward.body,
        json!({ "session": "default", "chatId": ALICE, "messageId": "false_15550002222@c.us_OLD1" })
    );
    wait_relayed(&mut client, &copy["id"]).await;
    assert!(
        sent_texts(&mut stub).is_empty(),
        "no copy is sent beside it"
    );
    stub.server.stop().await;
    daemon.stop().await;
}

#[tokio::test]
async fn wahas_report_of_a_send_whose_answer_was_lost_settles_it_without_a_resend() {
    let (mut stub, daemon, mut client) = ready().await;
    stub.with(|waha| {
        waha.lose_answers = 1;
        // The connector cannot look for the message itself: only WAHA's report can tell.
        waha.listing_fails = true;
    });
    let sent = daemon
        .send_message("wa", ALICE, json!({ "text": "reported back" }))
        .await;
    wait_message_status(&mut client, &sent["id"], "retrying").await;
    let echo = stub.with(|waha| waha.messages[ALICE].last().unwrap().clone());
    let mut payload = message(echo["id"].as_str().unwrap(), true, "reported back", 0);
    payload["timestamp"] = echo["timestamp"].clone();
    assert_eq!(
        webhook(&daemon, "message.any", payload).await,
        StatusCode::OK
    );
    wait_relayed(&mut client, &sent["id"]).await;
    assert_eq!(
        stored_message(&daemon, &sent["id"]).await["upstreamId"],
        echo["id"]
    );
    let (_, history) = daemon
        .get(&format!("/api/v1/devices/wa/chats/{ALICE}/messages"))
        .await;
    let copies = history["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["body"] == "reported back")
        .count();
    assert_eq!(copies, 1, "WAHA's report is our message, not a new one");
    stub.with(|waha| waha.listing_fails = false);
    assert_eq!(sent_texts(&mut stub), ["reported back"]);
    stub.server.stop().await;
    daemon.stop().await;
}

/// A picture as WhatsApp's CDN serves it.
const PICTURE: &[u8] = b"\xff\xd8\xff\xe0 Alice's profile picture";

/// Makes every picture kept for `contact` of device `wa` a day and an hour old, as if fetched
/// then: the daemon's own database, written beside it as another process would.
fn age_kept_picture(daemon: &TestDaemon, contact: &str) {
    let db = rusqlite::Connection::open(daemon.dir().join("data/devicebridge.db")).unwrap();
    db.busy_timeout(std::time::Duration::from_secs(10)).unwrap();
    let then = (chrono::Utc::now() - chrono::TimeDelta::hours(25)).to_rfc3339();
    let aged = db
        .execute(
            "UPDATE contact_pictures SET fetched_at = ?1 WHERE device_id = 'wa' AND contact_id = ?2",
            rusqlite::params![then, contact],
        )
        .unwrap();
    assert_eq!(aged, 1, "a picture was kept for {contact}");
}

/// The query of a request the stub recorded, by name.
fn query_of(request: &common::stub::Recorded) -> std::collections::HashMap<String, String> {
    url::form_urlencoded::parse(request.query.as_deref().unwrap_or("").as_bytes())
        .into_owned()
        .collect()
}

#[tokio::test]
async fn contacts_are_looked_up_pictured_and_blocked_through_waha() {
    let (mut stub, daemon, mut client) = ready().await;
    let bob = "15550003333@c.us";
    stub.with(|waha| {
        waha.contacts.insert(
            ALICE.into(),
            waha_stub::WahaContact {
                contact: json!({ "id": ALICE, "number": "15550002222", "name": "Alice Smith",
                    "pushname": "Alice", "isMe": false, "isGroup": false, "isWAContact": true }),
                about: Some("Out hiking".into()),
                picture: Some(("image/jpeg".into(), PICTURE.to_vec())),
            },
        );
        // NOWEB names a contact's own name `notify`; Bob shows no picture.
        waha.contacts.insert(
            bob.into(),
            waha_stub::WahaContact {
                contact: json!({ "id": bob, "notify": "Bobby" }),
                about: None,
                picture: None,
            },
        );
    });
    stub.requests.drain();

    // The lookup: the contact, their about and their picture, each by contactId and session.
    let (status, alice) = daemon
        .get(&format!("/api/v1/devices/wa/contacts/{ALICE}"))
        .await;
    assert_eq!(status, StatusCode::OK, "{alice}");
    let shown = |contact: &Value, field: &str| contact[field].clone();
    assert_eq!(
        [
            "name",
            "pushName",
            "about",
            "phone",
            "lid",
            "blocked",
            "pictureUrl"
        ]
        .map(|f| shown(&alice, f)),
        [
            json!("Alice Smith"),
            json!("Alice"),
            json!("Out hiking"),
            json!("15550002222"),
            Value::Null,
            json!(false),
            json!(format!("/api/v1/devices/wa/contacts/{ALICE}/picture")),
        ]
    );
    for (line, what) in [
        ("GET /api/contacts", "the contact"),
        ("GET /api/contacts/about", "their about"),
        (
            "GET /api/contacts/profile-picture",
            "their picture's address",
        ),
    ] {
        let request = stub.requests.wait_line(WAIT, line).await;
        let query = query_of(&request);
        assert_eq!(
            (
                query.get("contactId").map(String::as_str),
                query.get("session").map(String::as_str)
            ),
            (Some(ALICE), Some("default")),
            "{what}: {request:?}"
        );
    }
    let fetched = stub
        .requests
        .wait_for(WAIT, |r| r.path.starts_with("/cdn/pictures/"))
        .await;
    assert_eq!(
        fetched.header("x-api-key"),
        None,
        "WAHA's key stays with WAHA"
    );
    let updated = client
        .wait_until(WAIT, |e| {
            e.name == "contact:update" && e.data["id"] == ALICE && e.data["about"] == "Out hiking"
        })
        .await
        .unwrap();
    assert_eq!(updated.data["name"], "Alice Smith");

    // The picture is served by the daemon from what it kept: WAHA is not asked again.
    let picture_path = format!("/api/v1/devices/wa/contacts/{ALICE}/picture");
    let response = daemon
        .download(&format!("{}{picture_path}", daemon.base))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "image/jpeg");
    assert_eq!(response.bytes().await.unwrap().as_ref(), PICTURE);
    stub.requests
        .assert_none_reached(&["profile-picture", "/cdn/"]);
    // A day later it is fetched anew.
    age_kept_picture(&daemon, ALICE);
    let response = daemon
        .download(&format!("{}{picture_path}", daemon.base))
        .await;
    assert_eq!(response.bytes().await.unwrap().as_ref(), PICTURE);
    stub.requests
        .wait_line(WAIT, "GET /api/contacts/profile-picture")
        .await;

    // Bob has no picture and shows no about; someone WAHA does not know is nobody.
    let (_, bob_shown) = daemon
        .get(&format!("/api/v1/devices/wa/contacts/{bob}"))
        .await;
    assert_eq!(
        (
            &bob_shown["name"],
            &bob_shown["pushName"],
            &bob_shown["about"],
            &bob_shown["pictureUrl"]
        ),
        (&json!("Bobby"), &json!("Bobby"), &Value::Null, &Value::Null)
    );
    let (status, none) = daemon
        .get(&format!("/api/v1/devices/wa/contacts/{bob}/picture"))
        .await;
    assert_eq!(
        (status, &none["error"]["code"]),
        (StatusCode::NOT_FOUND, &json!("media_not_found"))
    );
    let (status, nobody) = daemon
        .get("/api/v1/devices/wa/contacts/15550009999@c.us")
        .await;
    assert_eq!(
        (status, &nobody["error"]["code"]),
        (StatusCode::NOT_FOUND, &json!("contact_not_found"))
    );

    // Blocking and unblocking reach WAHA with the contact and the session.
    for (action, blocked) in [("block", true), ("unblock", false)] {
        let (status, contact) = daemon
            .post(
                &format!("/api/v1/devices/wa/contacts/{ALICE}/{action}"),
                json!({}),
            )
            .await;
        assert_eq!(
            (status, &contact["blocked"]),
            (StatusCode::OK, &json!(blocked)),
            "{contact}"
        );
        let told = stub
            .requests
            .wait_line(WAIT, &format!("POST /api/contacts/{action}"))
            .await;
        assert_eq!(
            told.body,
            json!({ "contactId": ALICE, "session": "default" })
        );
    }

    // A number check is WAHA's check-exists.
    stub.with(|waha| {
        waha.on_whatsapp
            .insert("5511987654321".into(), "551187654321@c.us".into())
    });
    let (status, found) = daemon
        .get("/api/v1/devices/wa/numbers/+55 11 98765-4321")
        .await;
    assert_eq!(status, StatusCode::OK, "{found}");
    assert_eq!(
        found,
        json!({ "phone": "5511987654321", "exists": true, "chatId": "551187654321@c.us" })
    );
    let (_, missing) = daemon.get("/api/v1/devices/wa/numbers/15550004444").await;
    assert_eq!(
        missing,
        json!({ "phone": "15550004444", "exists": false, "chatId": null })
    );
    let checked = stub
        .requests
        .wait_line(WAIT, "GET /api/contacts/check-exists")
        .await;
    assert_eq!(
        query_of(&checked).get("phone").map(String::as_str),
        Some("5511987654321")
    );
    daemon.stop().await;
}

/// Someone who never wrote to the account.
const BOB: &str = "15550003333@c.us";

/// Opens a chat with `chat_id`, whom WhatsApp finds by their number, as a dashboard does
/// before writing to someone new.
async fn open_chat(stub: &WahaStub, daemon: &TestDaemon, chat_id: &str) {
    let number = chat_id.trim_end_matches("@c.us").to_owned();
    stub.with(|waha| waha.on_whatsapp.insert(number.clone(), chat_id.to_owned()));
    let (status, chat) = daemon
        .post("/api/v1/devices/wa/chats", json!({ "phone": number }))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{chat}");
    assert_eq!(chat["id"], chat_id, "{chat}");
}

/// `session.status` as WAHA posts it while WhatsApp restricts the account: still `WORKING`,
/// with the restriction in `data`.
async fn restriction_webhook(daemon: &TestDaemon, data: Value) {
    let payload = json!({ "name": "default", "status": "WORKING", "statuses": [], "data": data });
    assert_eq!(
        webhook(daemon, "session.status", payload).await,
        StatusCode::OK
    );
}

/// With a Reachout Timelock in force, a message to someone who never wrote waits (accepted,
/// stored, `queued` with `reason: "restricted"` and the lock's end) while Alice, who wrote,
/// still gets hers; once WAHA reports the lock lifted, the held messages go once, in order.
/// Message Capping at `CAPPED` holds the same way until its cycle ends. The session is never
/// restarted meanwhile.
#[tokio::test]
async fn whatsapps_restrictions_hold_messages_to_new_contacts_and_never_restart_the_session() {
    let (mut stub, daemon, mut client) = ready().await;
    let ends = "2099-01-15T08:00:00.000Z";
    let lock = |active: bool| json!({ "reachoutTimelock": { "enforcementType": "REACHOUT_TIMELOCK", "isActive": active, "timeEnforcementEnds": ends } });
    restriction_webhook(&daemon, lock(true)).await;
    let warning = client
        .wait_until(WAIT, |e| e.name == "limit:warning")
        .await
        .unwrap();
    assert_eq!(warning.data["kind"], "reachout_timelock");
    assert_eq!(warning.data["active"], true);
    assert_eq!(warning.data["resetsAt"], ends);
    let (_, device) = daemon.get("/api/v1/devices/wa").await;
    assert_eq!(device["restrictions"]["reachoutTimelock"]["isActive"], true);

    open_chat(&stub, &daemon, BOB).await;
    let first = daemon
        .send_message("wa", BOB, json!({ "text": "bob 1" }))
        .await;
    let second = daemon
        .send_message("wa", BOB, json!({ "text": "bob 2" }))
        .await;
    let alice = daemon
        .send_message("wa", ALICE, json!({ "text": "alice" }))
        .await;
    for held in [&first, &second] {
        let status = wait_message_status(&mut client, &held["id"], "queued").await;
        assert_eq!(status["reason"], "restricted", "{status}");
        assert_eq!(status["sendAt"], ends);
    }
    wait_relayed(&mut client, &alice["id"]).await;
    assert_eq!(sent_texts(&mut stub), ["alice"]);

    restriction_webhook(&daemon, lock(false)).await;
    for held in [&first, &second] {
        wait_relayed(&mut client, &held["id"]).await;
    }
    assert_eq!(sent_texts(&mut stub), ["bob 1", "bob 2"]);
    let warnings: Vec<_> = client
        .history()
        .iter()
        .filter(|e| e.name == "limit:warning")
        .map(|e| (e.data["kind"].clone(), e.data["active"].clone()))
        .collect();
    assert_eq!(
        warnings,
        [
            (json!("reachout_timelock"), json!(true)),
            (json!("reachout_timelock"), json!(false))
        ],
        "one warning as the lock came, one as it lifted"
    );

    // Message Capping: a quota of new contacts, used up until the cycle ends.
    let capping = |status: &str| {
        json!({ "messageCapping": { "cappingStatus": status, "totalQuota": 250, "usedQuota": 250,
            "cycleStart": "2026-11-01T00:00:00Z", "cycleEnd": "2099-12-01T00:00:00Z" } })
    };
    restriction_webhook(&daemon, capping("CAPPED")).await;
    let carol = "15550004444@c.us";
    open_chat(&stub, &daemon, carol).await;
    let capped = daemon
        .send_message("wa", carol, json!({ "text": "carol" }))
        .await;
    let status = wait_message_status(&mut client, &capped["id"], "queued").await;
    assert_eq!(status["reason"], "restricted");
    assert_eq!(status["sendAt"], "2099-12-01T00:00:00.000Z");
    restriction_webhook(&daemon, capping("NOT_CAPPED")).await;
    wait_relayed(&mut client, &capped["id"]).await;

    let restarts: Vec<_> = client
        .history()
        .iter()
        .filter(|e| e.name == "state")
        .skip_while(|e| e.data["state"] != "ready")
        .skip(1)
        .map(|e| e.data["state"].clone())
        .collect();
    assert!(restarts.is_empty(), "the session went {restarts:?}");
    assert!(
        !stub
            .requests
            .drain()
            .iter()
            .any(|r| r.path.contains("/restart")
                || r.path.contains("/stop")
                || r.path.contains("logout")),
        "WAHA was never asked to restart, stop or log out the session"
    );
    stub.server.stop().await;
    daemon.stop().await;
}

/// WAHA passes on WhatsApp's error 463 for a message to a new contact before (or without)
/// reporting a Reachout Timelock: the device takes it as the lock. Messages to new contacts
/// are held `restricted` for an hour, with one `limit:warning`, the refused one among them;
/// Alice, who wrote, still gets hers; the session is never restarted; and once WAHA reports
/// the lock lifted, the held messages go, in order.
#[tokio::test]
async fn whatsapps_error_463_on_a_send_holds_messages_to_new_contacts() {
    let (mut stub, daemon, mut client) = ready().await;
    stub.with(|waha| {
        waha.send_answers.push_back((
            500,
            json!({ "statusCode": 500,
                "exception": { "message": "2 UNKNOWN: server returned error 463", "code": 2 } }),
        ));
    });
    open_chat(&stub, &daemon, BOB).await;
    let refused = daemon
        .send_message("wa", BOB, json!({ "text": "bob 1" }))
        .await;
    let retrying = wait_message_status(&mut client, &refused["id"], "retrying").await;
    assert!(
        retrying["error"].as_str().unwrap().contains("error 463"),
        "{retrying}"
    );
    let warning = client
        .wait_until(WAIT, |e| e.name == "limit:warning")
        .await
        .unwrap();
    assert_eq!(
        (&warning.data["kind"], &warning.data["active"]),
        (&json!("reachout_timelock"), &json!(true))
    );
    let ends = chrono::DateTime::parse_from_rfc3339(warning.data["resetsAt"].as_str().unwrap())
        .unwrap()
        .with_timezone(&chrono::Utc);
    let hold = ends - chrono::Utc::now();
    assert!(
        (55..=60).contains(&hold.num_minutes()),
        "held for {hold}, not an hour"
    );
    let (_, device) = daemon.get("/api/v1/devices/wa").await;
    assert_eq!(device["restrictions"]["reachoutTimelock"]["isActive"], true);

    // The refused message, once its retry is due, waits with the other new contact's.
    let held = wait_message_status(&mut client, &refused["id"], "queued").await;
    assert_eq!(held["reason"], "restricted", "{held}");
    let carol = "15550004444@c.us";
    open_chat(&stub, &daemon, carol).await;
    let second = daemon
        .send_message("wa", carol, json!({ "text": "carol" }))
        .await;
    let status = wait_message_status(&mut client, &second["id"], "queued").await;
    assert_eq!(status["reason"], "restricted", "{status}");
    let alice = daemon
        .send_message("wa", ALICE, json!({ "text": "alice" }))
        .await;
    wait_relayed(&mut client, &alice["id"]).await;
    assert_eq!(sent_texts(&mut stub), ["bob 1", "alice"]);

    restriction_webhook(
        &daemon,
        json!({ "reachoutTimelock": { "isActive": false, "enforcementType": "REACHOUT_TIMELOCK" } }),
    )
    .await;
    for message in [&refused, &second] {
        wait_relayed(&mut client, &message["id"]).await;
    }
    assert_eq!(sent_texts(&mut stub), ["bob 1", "carol"]);
    assert!(
        !stub
            .requests
            .drain()
            .iter()
            .any(|r| r.path.contains("/restart") || r.path.contains("/stop")),
        "WAHA was never asked to restart or stop the session"
    );
    stub.server.stop().await;
    daemon.stop().await;
}

/// A WAHA that answers a send `429` with `Retry-After: 30` is not sent anything more before
/// then: the message waits to be retried, and the next one is held `paced` until that time.
#[tokio::test]
async fn a_waha_that_answers_429_with_retry_after_is_not_sent_to_before_then() {
    let (mut stub, daemon, mut client) = ready().await;
    stub.with(|waha| {
        waha.send_answers.push_back((
            429,
            json!({ "statusCode": 429, "message": "Too Many Requests" }),
        ));
        waha.send_retry_after = Some("30".into());
    });
    let asked_at = chrono::Utc::now();
    let first = daemon
        .send_message("wa", ALICE, json!({ "text": "one" }))
        .await;
    let retrying = wait_message_status(&mut client, &first["id"], "retrying").await;
    assert!(
        retrying["error"]
            .as_str()
            .unwrap()
            .contains("again in 30 s"),
        "{retrying}"
    );
    open_chat(&stub, &daemon, BOB).await;
    let second = daemon
        .send_message("wa", BOB, json!({ "text": "two" }))
        .await;
    let held = wait_message_status(&mut client, &second["id"], "queued").await;
    assert_eq!(held["reason"], "paced", "{held}");
    let send_at = chrono::DateTime::parse_from_rfc3339(held["sendAt"].as_str().unwrap()).unwrap();
    let wait = send_at.with_timezone(&chrono::Utc) - asked_at;
    assert!(
        (29..=31).contains(&wait.num_seconds()),
        "held for {wait}, not the 30 s WAHA asked"
    );
    let (_, device) = daemon.get("/api/v1/devices/wa").await;
    assert_eq!(device["governor"]["throttledUntil"], held["sendAt"]);
    assert_eq!(
        sent_texts(&mut stub),
        ["one"],
        "WAHA was sent nothing after its 429"
    );
    stub.server.stop().await;
    daemon.stop().await;
}
