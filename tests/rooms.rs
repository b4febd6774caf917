//! Rooms against the real daemon: a socket that joined chats (`chat:join`, or `auth.chats` in
//! its handshake) is sent those chats' events only, live and replayed, while the device's own
//! events and the sockets that joined nothing are unaffected.

mod common;

use common::sio::{SioClient, SioEvent};
use common::{TestDaemon, WAIT};
use reqwest::StatusCode;
use serde_json::{json, Value};

const ALICE: &str = "15550000002@c.us";
const BOB: &str = "15550000003@c.us";

/// Alice echoes (she comes online, types and answers), Bob never reads.
fn contacts() -> Value {
    json!({
        "server_ack_ms": 10, "delivered_ms": 20, "read_ms": 40, "typing_ms": 20,
        "contacts": [
            { "id": ALICE, "name": "Alice", "behaviour": "echo" },
            { "id": BOB, "name": "Bob", "behaviour": "silent" }
        ]
    })
}

/// The `ok: true` data of an ack, or a panic showing the refusal.
#[track_caller]
fn ok(ack: Value) -> Value {
    assert_eq!(ack["ok"], true, "refused: {ack}");
    ack["data"].clone()
}

/// The chat an event is about, for the events that are about one.
fn chat_of(event: &str, data: &Value) -> Option<Value> {
    match event {
        "chat:update" => Some(data["id"].clone()),
        "message" | "typing:start" | "typing:stop" => Some(data["chatId"].clone()),
        name if name.starts_with("message:") => Some(data["chatId"].clone()),
        _ => None,
    }
}

/// The events of `events` about chat `chat`, by name.
fn about(events: &[SioEvent], chat: &str) -> Vec<String> {
    events
        .iter()
        .filter(|e| chat_of(&e.name, &e.data).is_some_and(|c| c == chat))
        .map(|e| e.name.clone())
        .collect()
}

async fn join(client: &mut SioClient, event: &str, chat: &str) -> Value {
    let ack = client.emit_with_ack(event, json!({ "chatId": chat }), WAIT);
    ok(ack.await.unwrap())
}

/// Sends `text` to `chat` over REST; returns the message's id.
async fn send(daemon: &TestDaemon, device: &str, chat: &str, text: &str) -> Value {
    let message = daemon
        .send_message(device, chat, json!({ "text": text }))
        .await;
    message["id"].clone()
}

async fn wait_message(client: &mut SioClient, id: &Value) -> SioEvent {
    client
        .wait_until(WAIT, |e| e.name == "message" && e.data["id"] == *id)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_socket_in_a_chat_gets_that_chats_events_and_the_devices_until_it_leaves() {
    let daemon = TestDaemon::start().await;
    daemon.ready_device("rooms", contacts()).await;
    let mut bob_only = daemon.socket("rooms", json!({})).await;
    let mut everyone = daemon.socket("rooms", json!({})).await;
    let room = join(&mut bob_only, "chat:join", BOB).await;
    assert_eq!(
        room,
        json!({ "chatId": BOB, "room": format!("chat:{BOB}") })
    );

    // Alice's chat is busy: our message, its acks and statuses, her typing and answer, the
    // chat's updates; and, about the device, her presence and the notification.
    let hello = send(&daemon, "rooms", ALICE, "hello").await;
    everyone
        .wait_until(WAIT, |e| e.name == "message" && e.data["replyTo"] == hello)
        .await
        .unwrap();
    everyone.wait_for("notification", WAIT).await.unwrap();
    // Then one message to Bob: once it reached the socket in Bob's chat, everything journaled
    // before it had reached it too, or was kept from it.
    let marker = send(&daemon, "rooms", BOB, "for bob").await;
    wait_message(&mut bob_only, &marker).await;
    wait_message(&mut everyone, &marker).await;

    let alices = about(everyone.history(), ALICE);
    for name in ["message", "message:ack", "typing:start", "chat:update"] {
        assert!(alices.iter().any(|n| n == name), "no {name} in {alices:?}");
    }
    assert_eq!(about(bob_only.history(), ALICE), Vec::<String>::new());
    let kept: Vec<&str> = bob_only.history().iter().map(|e| e.name.as_str()).collect();
    for name in ["notification", "contact:update"] {
        assert!(kept.contains(&name), "no {name} in {kept:?}");
    }
    // The acks of the chat's messages name it.
    bob_only
        .wait_until(WAIT, |e| {
            e.name == "message:ack" && e.data["messageId"] == marker && e.data["chatId"] == BOB
        })
        .await
        .unwrap();

    // Leaving every chat is joining none: Alice's chat reaches it again.
    let left = join(&mut bob_only, "chat:leave", BOB).await;
    assert_eq!(
        left,
        json!({ "chatId": BOB, "room": format!("chat:{BOB}") })
    );
    let again = send(&daemon, "rooms", ALICE, "again").await;
    wait_message(&mut bob_only, &again).await;
    daemon.stop().await;
}

#[tokio::test]
async fn a_chat_can_be_joined_before_it_exists_and_a_chat_id_must_be_one() {
    let daemon = TestDaemon::start().await;
    daemon.ready_device("early", contacts()).await;
    let mut client = daemon.socket("early", json!({})).await;
    let stranger = "15551234567@c.us";
    join(&mut client, "chat:join", stranger).await;
    let opened = client
        .emit_with_ack("chat:open", json!({ "phone": "15551234567" }), WAIT)
        .await
        .unwrap();
    assert_eq!(ok(opened)["id"], stranger);
    client
        .wait_until(WAIT, |e| {
            e.name == "chat:update" && e.data["id"] == stranger
        })
        .await
        .unwrap();
    let first = send(&daemon, "early", stranger, "first").await;
    wait_message(&mut client, &first).await;

    for payload in [json!({}), json!({ "chatId": "" }), json!({ "chatId": 5 })] {
        for event in ["chat:join", "chat:leave"] {
            let ack = client.emit_with_ack(event, payload.clone(), WAIT).await;
            let ack = ack.unwrap();
            assert_eq!(
                ack["error"]["code"], "bad_request",
                "{event} {payload}: {ack}"
            );
        }
    }
    daemon.stop().await;
}

#[tokio::test]
async fn chats_named_in_the_handshake_filter_the_replay_the_snapshot_and_what_follows() {
    let daemon = TestDaemon::start().await;
    daemon.ready_device("resume", contacts()).await;
    let mut watcher = daemon.socket("resume", json!({})).await;
    let away_from = watcher.wait_for("sync", WAIT).await.unwrap().data["toSeq"].clone();

    // While the client is away, both chats change.
    let to_bob = send(&daemon, "resume", BOB, "while away").await;
    let to_alice = send(&daemon, "resume", ALICE, "while away").await;
    watcher
        .wait_until(WAIT, |e| {
            e.name == "message" && e.data["replyTo"] == to_alice
        })
        .await
        .unwrap();

    let auth = json!({ "lastSeq": away_from, "chats": [BOB] });
    let mut back = daemon.socket("resume", auth).await;
    let sync = back.wait_for("sync", WAIT).await.unwrap();
    assert_eq!(sync.data["recovered"], true);
    let to_seq = sync.data["toSeq"].as_u64().unwrap();
    let (status, journal) = daemon
        .get(&format!("/api/v1/devices/resume/events?after={away_from}"))
        .await;
    assert_eq!(status, StatusCode::OK, "{journal}");
    let expected: Vec<u64> = journal["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|item| item["seq"].as_u64().unwrap() <= to_seq)
        .filter(|item| {
            let chat = chat_of(item["type"].as_str().unwrap(), &item["data"]);
            chat.is_none_or(|chat| chat == BOB)
        })
        .map(|item| item["seq"].as_u64().unwrap())
        .collect();
    let replayed: Vec<u64> = back
        .history()
        .iter()
        .filter_map(|e| e.data["seq"].as_u64())
        .filter(|seq| *seq <= to_seq)
        .collect();
    assert_eq!(replayed, expected);
    assert!(
        back.history().iter().any(|e| e.data["id"] == to_bob),
        "Bob's message was replayed"
    );
    assert_eq!(about(back.history(), ALICE), Vec::<String>::new());
    assert!(
        !about(watcher.history(), ALICE).is_empty(),
        "Alice's chat did change"
    );

    // Live, the same chats; and a chat joined in the handshake is left like any other.
    let live_alice = send(&daemon, "resume", ALICE, "live").await;
    let live_bob = send(&daemon, "resume", BOB, "live").await;
    wait_message(&mut back, &live_bob).await;
    assert_eq!(about(back.history(), ALICE), Vec::<String>::new());
    join(&mut back, "chat:leave", BOB).await;
    let after_leave = send(&daemon, "resume", ALICE, "after leaving").await;
    wait_message(&mut back, &after_leave).await;
    assert!(!back.history().iter().any(|e| e.data["id"] == live_alice));

    // Without `lastSeq`, the snapshot (the device's state) comes as to anyone.
    let mut fresh = daemon.socket("resume", json!({ "chats": [BOB] })).await;
    fresh.wait_for("sync", WAIT).await.unwrap();
    let names: Vec<&str> = fresh.history().iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["session", "state", "sync"]);
    daemon.stop().await;
}

#[tokio::test]
async fn chats_that_are_not_a_list_of_chat_ids_refuse_the_handshake() {
    let daemon = TestDaemon::start().await;
    daemon.create_device("strict").await;
    let too_many: Vec<String> = (0..700).map(|n| format!("{n:0>100}@c.us")).collect();
    for chats in [
        json!("15550000002@c.us"),
        json!([5]),
        json!({ "0": ALICE }),
        json!([""]),
        json!(too_many),
    ] {
        let outcome = SioClient::connect(
            &daemon.base,
            "/ws",
            "/device/strict",
            &[],
            &[],
            json!({ "apiKey": daemon.key, "chats": chats }),
        )
        .await
        .unwrap();
        let refusal = outcome.unwrap_rejected();
        assert!(refusal.starts_with("bad_request: chats"), "{refusal}");
    }
    daemon.stop().await;
}
