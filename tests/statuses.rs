//! Stories (`status@broadcast`) and channels' posts (`…@newsletter`) are not chats: against the
//! real daemon and its simulated world, they never open a chat, count as unread or notify;
//! a device's `[filters]` decide whether they are dropped or journaled as `status:new`.

mod common;

use common::sio::SioClient;
use common::{TestDaemon, WAIT};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

const ALICE: &str = "15550000002@c.us";

fn simulator() -> Value {
    json!({
        "server_ack_ms": 10, "delivered_ms": 20, "read_ms": 30,
        "contacts": [{ "id": ALICE, "name": "Alice", "behaviour": "silent" }]
    })
}

/// Has the simulated world act on `device`; returns the upstream id of what it made.
async fn act(daemon: &TestDaemon, device: &str, body: Value) -> String {
    let (status, acted) = daemon
        .post(&format!("/api/v1/devices/{device}/simulator/act"), body)
        .await;
    assert_eq!(status, StatusCode::OK, "{acted}");
    acted["upstreamId"]
        .as_str()
        .expect("an upstream id")
        .to_owned()
}

/// A story by Alice and a channel's post, then a message from Alice, which is stored after
/// them: once the client has the message, whatever the two made has been stored too.
async fn post_both_then_write(daemon: &TestDaemon, device: &str, client: &mut SioClient) {
    act(
        daemon,
        device,
        json!({ "do": "status", "from": ALICE, "text": "At the beach" }),
    )
    .await;
    act(
        daemon,
        device,
        json!({ "do": "channel_post", "channel": "120363000000000001", "text": "Today's news" }),
    )
    .await;
    act(
        daemon,
        device,
        json!({ "do": "message", "from": ALICE, "text": "are you there?" }),
    )
    .await;
    client
        .wait_until(WAIT, |e| {
            e.name == "message" && e.data["body"] == "are you there?"
        })
        .await
        .expect("Alice's message");
}

/// The ids of the device's chats.
async fn chat_ids(daemon: &TestDaemon, device: &str) -> Vec<String> {
    let (status, chats) = daemon.get(&format!("/api/v1/devices/{device}/chats")).await;
    assert_eq!(status, StatusCode::OK, "{chats}");
    common::ids(&chats)
}

/// What every client of the device saw about the two posts: no chat, no notification.
async fn assert_no_chat_and_no_notification(daemon: &TestDaemon, device: &str) {
    let chats = chat_ids(daemon, device).await;
    assert!(
        chats
            .iter()
            .all(|id| id != "status@broadcast" && !id.ends_with("@newsletter")),
        "{chats:?}"
    );
    let notified: Vec<Value> = daemon
        .journaled(device, "notification")
        .await
        .into_iter()
        .map(|event| event["data"]["body"].clone())
        .collect();
    assert_eq!(notified, [json!("are you there?")]);
    let (_, alice) = daemon
        .get(&format!("/api/v1/devices/{device}/chats/{ALICE}"))
        .await;
    assert_eq!(alice["unreadCount"], 1, "{alice}");
}

#[tokio::test]
async fn stories_and_channel_posts_are_dropped_by_default_and_open_no_chat() {
    let daemon = TestDaemon::start().await;
    daemon.ready_device("quiet", simulator()).await;
    let mut client = daemon.socket("quiet", json!({})).await;
    post_both_then_write(&daemon, "quiet", &mut client).await;
    assert_no_chat_and_no_notification(&daemon, "quiet").await;
    assert!(daemon.journaled("quiet", "status:new").await.is_empty());
    common::assert_unseen(&daemon, &client, "quiet", "At the beach").await;
    common::assert_unseen(&daemon, &client, "quiet", "Today's news").await;
}

#[tokio::test]
async fn filters_set_to_event_journal_them_as_status_new_only() {
    let daemon = TestDaemon::start().await;
    daemon.ready_device("stories", simulator()).await;
    let (status, device) = daemon
        .call(
            Method::PATCH,
            "/api/v1/devices/stories",
            Some(json!({ "filters": { "statuses": "event", "channels": "event" } })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{device}");
    // The filters are read at a fresh start, as the linking settings are.
    let (status, _) = daemon
        .post("/api/v1/devices/stories/restart", json!({}))
        .await;
    assert_eq!(status, StatusCode::OK);
    let mut client = daemon.socket("stories", json!({})).await;
    common::wait_state(&mut client, "ready").await;
    post_both_then_write(&daemon, "stories", &mut client).await;
    assert_no_chat_and_no_notification(&daemon, "stories").await;

    let posts: Vec<Value> = daemon
        .journaled("stories", "status:new")
        .await
        .into_iter()
        .map(|event| event["data"].clone())
        .collect();
    assert_eq!(posts.len(), 2, "{posts:?}");
    let story = &posts[0];
    assert_eq!(
        (
            story["from"].as_str(),
            story["message"]["chatId"].as_str(),
            story["message"]["from"].as_str(),
            story["message"]["body"].as_str(),
            story["message"]["type"].as_str(),
        ),
        (
            Some(ALICE),
            Some("status@broadcast"),
            Some(ALICE),
            Some("At the beach"),
            Some("text")
        )
    );
    let channel = "120363000000000001@newsletter";
    assert_eq!(
        (
            posts[1]["from"].as_str(),
            posts[1]["message"]["chatId"].as_str(),
            posts[1]["message"]["body"].as_str()
        ),
        (Some(channel), Some(channel), Some("Today's news"))
    );
    // Sockets get them live too, with the journal's seq.
    let live = client
        .history()
        .iter()
        .filter(|e| e.name == "status:new")
        .count();
    assert_eq!(live, 2);
    // A post is no message: its id names nothing to read or reply to.
    let id = story["message"]["id"].as_str().unwrap();
    let (status, _) = daemon
        .get(&format!("/api/v1/devices/stories/messages/{id}"))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_simulated_world_acts_on_cue_and_refuses_what_it_cannot_read() {
    let daemon = TestDaemon::start().await;
    daemon.ready_device("world", simulator()).await;
    let mut client = daemon.socket("world", json!({})).await;
    let upstream_id = act(
        &daemon,
        "world",
        json!({ "do": "message", "from": ALICE, "text": "hello from Alice" }),
    )
    .await;
    let arrived = client
        .wait_until(WAIT, |e| e.name == "message")
        .await
        .unwrap();
    assert_eq!(
        (
            arrived.data["upstreamId"].as_str(),
            arrived.data["chatId"].as_str(),
            arrived.data["fromMe"].as_bool()
        ),
        (Some(upstream_id.as_str()), Some(ALICE), Some(false))
    );
    client.wait_for("notification", WAIT).await.unwrap();

    for (body, why) in [
        (
            json!({ "do": "status", "from": ALICE, "text": "" }),
            "empty text",
        ),
        (json!({ "do": "dance", "from": ALICE }), "unknown act"),
        (
            json!({ "do": "status", "from": ALICE, "text": "x", "poll": {} }),
            "unknown field",
        ),
        (json!({ "do": "status", "text": "x" }), "no author"),
        (
            json!({ "do": "message", "from": "", "text": "x" }),
            "empty id",
        ),
    ] {
        let (status, refused) = daemon
            .post("/api/v1/devices/world/simulator/act", body)
            .await;
        assert_eq!(
            (status, refused["error"]["code"].as_str()),
            (StatusCode::BAD_REQUEST, Some("bad_request")),
            "{why}: {refused}"
        );
    }
    let (status, refused) = daemon
        .post(
            "/api/v1/devices/nobody/simulator/act",
            json!({ "do": "status", "from": ALICE, "text": "x" }),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{refused}");
}
