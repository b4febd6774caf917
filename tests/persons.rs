//! One person, one chat: against the real daemon and its simulated world, a contact who first
//! writes from their linked id (`…@lid`) gets a chat of that id, and once the upstream tells
//! whose it is, the two chats are one — the whole history, once, in order — with `chat:merged`
//! journaled, the old id still answering, and the number (`fromPhone`) on what follows.

mod common;

use common::receiver::Receiver;
use common::{TestDaemon, WAIT};
use reqwest::StatusCode;
use serde_json::{json, Value};

const ALICE: &str = "15550000002@c.us";
const ALICE_LID: &str = "207700000002@lid";

fn simulator() -> Value {
    json!({
        "server_ack_ms": 10, "delivered_ms": 20, "read_ms": 30,
        "contacts": [{ "id": ALICE, "name": "Alice", "lid": ALICE_LID, "behaviour": "silent" }]
    })
}

async fn act(daemon: &TestDaemon, body: Value) -> (StatusCode, Value) {
    daemon.post("/api/v1/devices/p/simulator/act", body).await
}

async fn messages(daemon: &TestDaemon, chat: &str) -> Vec<Value> {
    let (status, page) = daemon
        .get(&format!("/api/v1/devices/p/chats/{chat}/messages"))
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let mut items = page["items"].as_array().unwrap().clone();
    items.sort_by(|a, b| a["id"].as_str().cmp(&b["id"].as_str()));
    items
}

fn bodies(messages: &[Value]) -> Vec<&str> {
    messages
        .iter()
        .map(|m| m["body"].as_str().unwrap())
        .collect()
}

/// The device's direct chats (the simulated phone has a group too).
async fn chat_ids(daemon: &TestDaemon) -> Vec<String> {
    let (_, chats) = daemon.get("/api/v1/devices/p/chats").await;
    chats["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|chat| chat["id"].as_str().unwrap().to_owned())
        .filter(|id| !id.ends_with("@g.us"))
        .collect()
}

#[tokio::test]
async fn a_contact_who_wrote_from_a_linked_id_ends_as_one_chat_once_it_is_told() {
    let daemon = TestDaemon::start_with(|settings, _| settings.webhooks.allow_private = true).await;
    let mut receiver = Receiver::start().await;
    let (status, _) = daemon
        .post(
            "/api/v1/webhooks",
            json!({ "url": receiver.url, "events": ["message", "chat:merged"] }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    daemon.ready_device("p", simulator()).await;
    let mut client = daemon.socket("p", json!({})).await;

    for (text, as_lid) in [("from my number", false), ("from my linked id", true)] {
        let (status, acted) = act(
            &daemon,
            json!({ "do": "message", "from": ALICE, "text": text, "asLid": as_lid }),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{acted}");
        client
            .wait_until(WAIT, |e| e.name == "message" && e.data["body"] == text)
            .await
            .expect("the message");
    }
    let lid_messages = messages(&daemon, ALICE_LID).await;
    assert_eq!(bodies(&lid_messages), ["from my linked id"]);
    assert_eq!(lid_messages[0]["from"], ALICE_LID);
    assert_eq!(
        lid_messages[0]["fromPhone"],
        Value::Null,
        "the number is not known yet"
    );
    assert_eq!(
        messages(&daemon, ALICE).await[0]["fromPhone"],
        "15550000002"
    );
    let reply = daemon
        .send_message(
            "p",
            ALICE_LID,
            json!({ "text": "replied to the linked id" }),
        )
        .await;
    client
        .wait_until(WAIT, |e| {
            e.name == "message:ack" && e.data["messageId"] == reply["id"]
        })
        .await
        .expect("the reply is sent");
    let mut ids = chat_ids(&daemon).await;
    ids.sort();
    assert_eq!(
        ids,
        [ALICE, ALICE_LID],
        "two chats while the number is unknown"
    );

    let (status, _) = act(&daemon, json!({ "do": "reveal_lid", "contact": ALICE })).await;
    assert_eq!(status, StatusCode::OK);
    let merged = client
        .wait_until(WAIT, |e| e.name == "chat:merged")
        .await
        .expect("chat:merged")
        .data;
    assert_eq!(
        (&merged["into"], &merged["from"]),
        (&json!(ALICE), &json!(ALICE_LID))
    );
    let update = client
        .wait_until(WAIT, |e| e.name == "chat:update" && e.data["id"] == ALICE)
        .await
        .expect("the merged chat's update")
        .data;
    assert_eq!(update["unreadCount"], 2, "both chats' unread messages");

    let history = messages(&daemon, ALICE).await;
    assert_eq!(
        bodies(&history),
        [
            "from my number",
            "from my linked id",
            "replied to the linked id"
        ],
        "the whole history, once, in order"
    );
    assert_eq!(history[1]["from"], ALICE);
    assert_eq!(history[1]["fromPhone"], "15550000002");
    assert_eq!(chat_ids(&daemon).await, [ALICE], "one chat for one person");
    // The old id still answers, with the merged chat.
    let (status, old) = daemon
        .get(&format!("/api/v1/devices/p/chats/{ALICE_LID}"))
        .await;
    assert_eq!((status, &old["id"]), (StatusCode::OK, &json!(ALICE)));
    assert_eq!(
        bodies(&messages(&daemon, ALICE_LID).await).len(),
        3,
        "listed under the merged chat"
    );

    // From now on, the linked id is the number: a message from it lands in the one chat,
    // with the number on its webhook.
    let (status, _) = act(
        &daemon,
        json!({ "do": "message", "from": ALICE, "text": "after the pairing", "asLid": true }),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let hooks = receiver
        .until(|hook| hook.json["data"]["body"] == "after the pairing")
        .await;
    let after = &hooks.last().unwrap().json["data"];
    assert_eq!(
        (&after["chatId"], &after["fromPhone"]),
        (&json!(ALICE), &json!("15550000002"))
    );
    assert!(
        hooks.iter().any(|hook| hook.json["type"] == "chat:merged"
            && (&hook.json["data"]["into"], &hook.json["data"]["from"])
                == (&json!(ALICE), &json!(ALICE_LID))),
        "the merge reaches webhooks: {:?}",
        hooks.iter().map(|h| h.json.to_string()).collect::<Vec<_>>()
    );

    // An event about the person carries their number too: a vote on our poll.
    let poll = daemon
        .send_message(
            "p",
            ALICE,
            json!({ "poll": { "question": "Lunch?", "options": ["Yes", "No"] } }),
        )
        .await;
    client
        .wait_until(WAIT, |e| {
            e.name == "message:ack" && e.data["messageId"] == poll["id"]
        })
        .await
        .expect("the poll is sent");
    let (status, voted) = act(
        &daemon,
        json!({ "do": "vote", "from": ALICE, "messageId": poll["id"], "options": ["Yes"] }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{voted}");
    let vote = client
        .wait_until(WAIT, |e| e.name == "poll:vote")
        .await
        .expect("the vote")
        .data;
    assert_eq!(
        (&vote["voter"], &vote["fromPhone"]),
        (&json!(ALICE), &json!("15550000002"))
    );

    // Kept: after a restart the chat is still one, and a client resuming from the start
    // replays the merge.
    let daemon = daemon.restart().await;
    assert_eq!(chat_ids(&daemon).await, [ALICE]);
    assert_eq!(messages(&daemon, ALICE).await.len(), 5);
    let mut resumed = daemon.socket("p", json!({ "lastSeq": 0 })).await;
    resumed
        .wait_until(WAIT, |e| {
            e.name == "chat:merged" && e.data["from"] == ALICE_LID
        })
        .await
        .expect("the merge is replayed");
    daemon.stop().await;
}

#[tokio::test]
async fn a_linked_id_the_device_file_does_not_give_is_refused_clearly() {
    let daemon = TestDaemon::start().await;
    daemon
        .ready_device(
            "p",
            json!({ "contacts": [{ "id": ALICE, "name": "Alice", "behaviour": "silent" }] }),
        )
        .await;
    let (status, refused) = act(
        &daemon,
        json!({ "do": "message", "from": ALICE, "text": "hi", "asLid": true }),
    )
    .await;
    assert!(
        status.is_client_error() || status.is_server_error(),
        "{refused}"
    );
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap()
            .contains("no `lid`"),
        "{refused}"
    );
    let (status, refused) = daemon
        .post(
            "/api/v1/devices",
            json!({ "id": "bad", "connector": "simulator",
                    "simulator": { "contacts": [{ "id": ALICE, "name": "A", "lid": "alice" }] } }),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{refused}");
    assert!(refused["error"]["message"]
        .as_str()
        .unwrap()
        .contains("@lid"));
    daemon.stop().await;
}
