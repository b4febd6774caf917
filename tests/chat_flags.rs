//! A chat's flags against the real daemon: pinned, marked unread by hand, archived and muted,
//! over REST and over the socket's `chat:update`, told to every client and kept.

mod common;

use common::{TestDaemon, WAIT};
use reqwest::{Method, StatusCode};
use serde_json::json;

const ALICE: &str = "15550000002@c.us";

#[tokio::test]
async fn chats_are_pinned_and_marked_unread_until_read() {
    let daemon = TestDaemon::start().await;
    daemon
        .ready_device(
            "flags",
            json!({ "contacts": [{ "id": ALICE, "name": "Alice", "behaviour": "silent" }] }),
        )
        .await;
    let mut client = daemon.socket("flags", json!({})).await;
    let path = format!("/api/v1/devices/flags/chats/{ALICE}");
    let (status, chat) = daemon
        .call(Method::PATCH, &path, Some(json!({ "pinned": true })))
        .await;
    assert_eq!((status, &chat["pinned"]), (StatusCode::OK, &json!(true)));
    let update = client
        .wait_until(WAIT, |e| {
            e.name == "chat:update" && e.data["pinned"] == true
        })
        .await
        .unwrap();
    assert_eq!(update.data["id"], ALICE);

    // Over the socket, with the same body.
    let ack = client
        .emit_with_ack(
            "chat:update",
            json!({ "chatId": ALICE, "unread": true }),
            WAIT,
        )
        .await
        .unwrap();
    assert_eq!(ack["ok"], true, "{ack}");
    assert_eq!(
        (
            &ack["data"]["markedUnread"],
            &ack["data"]["pinned"],
            &ack["data"]["unreadCount"]
        ),
        (&json!(true), &json!(true), &json!(0))
    );
    // Reading the chat takes the mark off; the pin stays, after a restart too.
    let (status, _) = daemon.post(&format!("{path}/read"), json!({})).await;
    assert_eq!(status, StatusCode::OK);
    let daemon = daemon.restart().await;
    let (_, chat) = daemon.get(&path).await;
    assert_eq!(
        (&chat["markedUnread"], &chat["pinned"]),
        (&json!(false), &json!(true))
    );

    for body in [
        json!({}),
        json!({ "pinned": null }),
        json!({ "pinned": "yes" }),
    ] {
        let (status, refused) = daemon.call(Method::PATCH, &path, Some(body.clone())).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {refused}");
    }
}
