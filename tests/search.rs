//! Message search (`GET /devices/{id}/messages?q=`) against the real daemon, on SQLite and on
//! PostgreSQL: the words of a text find it as soon as it is acknowledged, newest first, in one
//! chat or all, paged; an edit is found by its new words only and a revoked message not at
//! all; another device's messages are never found, and a key for one device cannot search
//! another.

mod common;

use common::{TestDaemon, WAIT};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

const ALICE: &str = "15550000002@c.us";
const BOB: &str = "15550000003@c.us";

fn simulator() -> Value {
    json!({
        "server_ack_ms": 10, "delivered_ms": 20, "read_ms": 30,
        "contacts": [
            { "id": ALICE, "name": "Alice", "behaviour": "silent" },
            { "id": BOB, "name": "Bob", "behaviour": "silent" }
        ]
    })
}

/// The bodies a search finds, in the order it gives them.
async fn found(daemon: &TestDaemon, device: &str, query: &str) -> Vec<String> {
    let (status, page) = daemon
        .get(&format!("/api/v1/devices/{device}/messages?{query}"))
        .await;
    assert_eq!(status, StatusCode::OK, "{query}: {page}");
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["body"].as_str().unwrap().to_owned())
        .collect()
}

async fn searches_find_messages_by_their_words(daemon: TestDaemon) {
    daemon.ready_device("s", simulator()).await;
    daemon.ready_device("other", simulator()).await;
    let mut client = daemon.socket("s", json!({})).await;
    let lunch = daemon
        .send_message("s", ALICE, json!({ "text": "Lunch tomorrow at noon?" }))
        .await;
    daemon
        .send_message("s", BOB, json!({ "text": "lunch with Bob, déjà vu" }))
        .await;
    daemon
        .send_message("s", ALICE, json!({ "text": "nothing to see here" }))
        .await;
    daemon
        .send_message(
            "other",
            ALICE,
            json!({ "text": "lunch on the other device" }),
        )
        .await;
    let (status, _) = daemon
        .post(
            "/api/v1/devices/s/simulator/act",
            json!({ "do": "message", "from": ALICE, "text": "Yes, lunch! Where?" }),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    client
        .wait_until(WAIT, |e| {
            e.name == "message" && e.data["body"] == "Yes, lunch! Where?"
        })
        .await
        .expect("Alice's answer");

    assert_eq!(
        found(&daemon, "s", "q=lunch").await,
        [
            "Yes, lunch! Where?",
            "lunch with Bob, déjà vu",
            "Lunch tomorrow at noon?"
        ],
        "newest first, this device's only, whatever the case"
    );
    assert_eq!(
        found(&daemon, "s", &format!("q=lun&chatId={ALICE}")).await,
        ["Yes, lunch! Where?", "Lunch tomorrow at noon?"],
        "the start of a word, in one chat"
    );
    assert_eq!(
        found(&daemon, "s", "q=lunch%20noon").await,
        ["Lunch tomorrow at noon?"],
        "every word"
    );
    assert_eq!(
        found(&daemon, "s", "q=%22lunch%22%20OR%20x*").await,
        Vec::<String>::new(),
        "what looks like query syntax is words: no message has all of lunch, OR and x"
    );

    // Paged like every list.
    let (_, first) = daemon
        .get("/api/v1/devices/s/messages?q=lunch&limit=2")
        .await;
    let cursor = first["nextCursor"]
        .as_str()
        .expect("a next page")
        .to_owned();
    assert_eq!(
        found(&daemon, "s", &format!("q=lunch&limit=2&before={cursor}")).await,
        ["Lunch tomorrow at noon?"]
    );

    // An edit is found by its new words; a revoked message is not found.
    let lunch_path = format!(
        "/api/v1/devices/s/messages/{}",
        lunch["id"].as_str().unwrap()
    );
    let (status, edited) = daemon
        .call(
            Method::PATCH,
            &lunch_path,
            Some(json!({ "text": "Dinner tomorrow?" })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{edited}");
    assert_eq!(found(&daemon, "s", "q=dinner").await, ["Dinner tomorrow?"]);
    assert!(!found(&daemon, "s", "q=noon")
        .await
        .iter()
        .any(|b| b.contains("noon")));
    let (_, bobs) = daemon
        .get(&format!("/api/v1/devices/s/chats/{BOB}/messages"))
        .await;
    let revoked = client
        .emit_with_ack(
            "message:revoke",
            json!({ "messageId": bobs["items"][0]["id"] }),
            WAIT,
        )
        .await
        .unwrap();
    assert_eq!(revoked["ok"], true, "{revoked}");
    assert_eq!(found(&daemon, "s", "q=bob").await, Vec::<String>::new());

    // Bad searches are clear errors; a key for another device may not search this one.
    assert_eq!(
        found(&daemon, "s", "q=%20%2A%22").await,
        Vec::<String>::new(),
        "no word finds nothing"
    );
    for (query, code) in [
        ("", StatusCode::BAD_REQUEST),
        ("q=lunch&limit=0", StatusCode::BAD_REQUEST),
        ("q=lunch&chatId=19999999999@c.us", StatusCode::NOT_FOUND),
    ] {
        let (status, body) = daemon
            .get(&format!("/api/v1/devices/s/messages?{query}"))
            .await;
        assert_eq!(status, code, "{query}: {body}");
    }
    let other_key = daemon.key_for(&["other"], &["read"]).await;
    let refused = daemon
        .http
        .get(format!("{}/api/v1/devices/s/messages?q=lunch", daemon.base))
        .header("x-api-key", other_key)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);

    // The index is kept with the messages: found the same after a restart.
    let daemon = daemon.restart().await;
    assert_eq!(found(&daemon, "s", "q=dinner").await, ["Dinner tomorrow?"]);
    daemon.stop().await;
}

#[tokio::test]
async fn searches_find_messages_by_their_words_on_sqlite() {
    searches_find_messages_by_their_words(TestDaemon::start().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn searches_find_messages_by_their_words_on_postgresql() {
    let database = common::postgres::database();
    let daemon = TestDaemon::start_with(move |settings, _| settings.storage.url = database).await;
    searches_find_messages_by_their_words(daemon).await;
}
