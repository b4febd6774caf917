//! Every kind of message a WhatsApp user sends, against the real daemon and its simulated
//! phone: voice notes, videos, places, contact cards and polls sent over REST and Socket.IO,
//! received from the simulated world, kept across a restart, and what bad input gets.

mod common;

use common::sio::SioClient;
use common::{TestDaemon, WAIT};
use reqwest::StatusCode;
use serde_json::{json, Value};

const ALICE: &str = "15550000002@c.us";
const BOB: &str = "15550000003@c.us";

fn contacts() -> Value {
    json!({
        "server_ack_ms": 10, "delivered_ms": 20, "read_ms": 30, "typing_ms": 20,
        "contacts": [
            { "id": ALICE, "name": "Alice", "behaviour": "echo" },
            { "id": BOB, "name": "Bob", "behaviour": "silent" }
        ]
    })
}

fn place() -> Value {
    json!({ "latitude": 52.3731, "longitude": 4.8922, "name": "Dam Square", "address": "Dam, Amsterdam" })
}

fn card() -> Value {
    json!({ "name": "Carol Jones", "phones": ["+1 555 000 0009"] })
}

/// Sends `body` to `chat` over REST; returns the accepted message.
async fn send(daemon: &TestDaemon, chat: &str, body: Value) -> Value {
    daemon.send_message("kinds", chat, body).await
}

/// What the simulated phone received, by message id.
async fn received(daemon: &TestDaemon, id: &Value) -> Value {
    daemon
        .wait_until("the phone to receive the message", || async {
            let (_, inbox) = daemon.get("/api/v1/devices/kinds/simulator/inbox").await;
            inbox["items"]
                .as_array()
                .unwrap()
                .iter()
                .find(|entry| entry["messageId"] == *id)
                .cloned()
        })
        .await
}

/// Waits for Alice's echo of the message the phone knows as `upstream_id`.
async fn echo_of(client: &mut SioClient, message: &Value) -> Value {
    let id = message["id"].clone();
    client
        .wait_until(WAIT, |e| {
            e.name == "message" && e.data["fromMe"] == false && e.data["replyTo"] == id
        })
        .await
        .expect("Alice's echo")
        .data
}

#[tokio::test]
async fn voice_video_places_cards_and_polls_are_sent_received_and_kept() {
    let daemon = TestDaemon::start().await;
    let device = daemon.ready_device("kinds", contacts()).await;
    assert_eq!(
        device["capabilities"].as_array().unwrap().len(),
        18,
        "{device}"
    );
    let mut client = daemon.socket("kinds", json!({})).await;

    // A voice note: an audio file sent as `voice`.
    let audio = daemon
        .upload("kinds", b"OggS opus bytes", "audio/ogg")
        .await;
    let mut voice = audio.clone();
    voice["type"] = json!("voice");
    let note = send(&daemon, ALICE, json!({ "media": voice })).await;
    assert_eq!(
        (note["type"].as_str(), note["media"]["mime"].as_str()),
        (Some("voice"), Some("audio/ogg"))
    );
    assert!(note["media"].get("type").is_none(), "{note}");
    assert_eq!(received(&daemon, &note["id"]).await["type"], "voice");
    assert_eq!(echo_of(&mut client, &note).await["type"], "voice");

    // The same file without `type` is plain audio; a video is a video, with its caption.
    let plain = send(&daemon, BOB, json!({ "media": audio })).await;
    assert_eq!(plain["type"], "audio");
    let clip = daemon
        .upload("kinds", b"\0\0\0 ftypmp42", "video/mp4")
        .await;
    let video = send(&daemon, BOB, json!({ "media": clip, "text": "look" })).await;
    assert_eq!(
        (video["type"].as_str(), video["body"].as_str()),
        (Some("video"), Some("look"))
    );

    // A place, over the socket.
    let ack = client
        .emit_with_ack(
            "message:send",
            json!({ "chatId": ALICE, "location": place(), "tempId": "loc-1" }),
            WAIT,
        )
        .await
        .unwrap();
    assert_eq!(ack["ok"], true, "{ack}");
    let located = ack["data"].clone();
    assert_eq!(located["type"], "location");
    assert_eq!(located["location"], place());
    assert_eq!(located["body"], "");
    let inbox = received(&daemon, &located["id"]).await;
    assert_eq!(
        (inbox["type"].as_str(), &inbox["location"]),
        (Some("location"), &place())
    );
    let echoed = echo_of(&mut client, &located).await;
    assert_eq!(echoed["location"], place());

    // A contact card: its vCard is built from its name and numbers.
    let carded = send(&daemon, ALICE, json!({ "contacts": [card()] })).await;
    assert_eq!(carded["type"], "contact");
    let vcard = carded["contacts"][0]["vcard"].as_str().unwrap();
    assert!(vcard.contains("FN:Carol Jones"), "{vcard}");
    assert!(vcard.contains("waid=15550000009"), "{vcard}");
    let echoed = echo_of(&mut client, &carded).await;
    assert_eq!(echoed["contacts"][0]["name"], "Carol Jones");
    let note = client
        .wait_until(WAIT, |e| {
            e.name == "notification" && e.data["messageId"] == echoed["id"]
        })
        .await
        .unwrap();
    assert_eq!(note.data["body"], "contact: Carol Jones");

    // A poll, with no votes yet; it is answered by votes, not echoed.
    let poll = send(
        &daemon,
        ALICE,
        json!({ "poll": { "question": "Lunch at one?", "options": ["Yes", "No"] } }),
    )
    .await;
    assert_eq!(poll["type"], "poll");
    assert_eq!(
        poll["poll"],
        json!({ "question": "Lunch at one?", "options": ["Yes", "No"], "multiple": false,
            "votes": [{ "option": "Yes", "voters": [] }, { "option": "No", "voters": [] }] })
    );
    assert_eq!(
        received(&daemon, &poll["id"]).await["poll"]["question"],
        "Lunch at one?"
    );

    // Plain messages carry none of it, and say so.
    let text = send(&daemon, BOB, json!({ "text": "plain" })).await;
    assert_eq!(
        (text["forwarded"].as_bool(), text["editedAt"].as_null()),
        (Some(false), Some(()))
    );
    assert!(
        text.get("location").is_none() && text.get("poll").is_none(),
        "{text}"
    );

    // All of it is kept: after a restart, and for a client that resumes.
    let ids = [&located, &carded, &poll];
    let daemon = daemon.restart().await;
    for sent in ids {
        let (status, stored) = daemon
            .get(&format!(
                "/api/v1/devices/kinds/messages/{}",
                sent["id"].as_str().unwrap()
            ))
            .await;
        assert_eq!(status, StatusCode::OK, "{stored}");
        for field in ["type", "location", "contacts", "poll"] {
            assert_eq!(stored.get(field), sent.get(field), "{field}");
        }
    }
    let mut resumed = daemon.socket("kinds", json!({ "lastSeq": 0 })).await;
    resumed.wait_for("sync", WAIT).await.unwrap();
    let replayed = resumed
        .history()
        .iter()
        .find(|e| e.name == "message" && e.data["id"] == poll["id"])
        .expect("the poll replayed")
        .data
        .clone();
    assert_eq!(replayed["poll"], poll["poll"]);
}

#[tokio::test]
async fn contacts_in_the_simulated_world_send_places_cards_and_polls() {
    let daemon = TestDaemon::start().await;
    daemon.ready_device("kinds", contacts()).await;
    let mut client = daemon.socket("kinds", json!({})).await;
    for (body, kind, field) in [
        (json!({ "location": place() }), "location", "location"),
        (json!({ "contacts": [card()] }), "contact", "contacts"),
        (
            json!({ "poll": { "question": "Tea?", "options": ["Green", "Black"], "multiple": true } }),
            "poll",
            "poll",
        ),
    ] {
        let mut act = json!({ "do": "message", "from": ALICE });
        act.as_object_mut()
            .unwrap()
            .extend(body.as_object().unwrap().clone());
        let (status, acted) = daemon
            .post("/api/v1/devices/kinds/simulator/act", act)
            .await;
        assert_eq!(status, StatusCode::OK, "{acted}");
        let arrived = client
            .wait_until(WAIT, |e| {
                e.name == "message" && e.data["upstreamId"] == acted["upstreamId"]
            })
            .await
            .unwrap();
        assert_eq!(arrived.data["type"], kind);
        assert!(arrived.data[field].is_object() || arrived.data[field].is_array());
    }
    let (_, chat) = daemon
        .get(&format!("/api/v1/devices/kinds/chats/{ALICE}"))
        .await;
    assert_eq!(chat["lastMessage"]["poll"]["multiple"], true, "{chat}");
}

#[tokio::test]
async fn bad_contents_are_refused_and_store_nothing() {
    let daemon = TestDaemon::start().await;
    daemon.ready_device("kinds", contacts()).await;
    let picture = daemon
        .upload("kinds", b"\x89PNG picture", "image/png")
        .await;
    let mut not_audio = picture.clone();
    not_audio["type"] = json!("voice");
    let refusals = [
        (
            json!({ "poll": { "question": "One?", "options": ["Only"] } }),
            "2 to 12 options",
        ),
        (
            json!({ "poll": { "question": "Twice?", "options": ["Yes", "Yes"] } }),
            "given twice",
        ),
        (
            json!({ "poll": { "question": " ", "options": ["a", "b"] } }),
            "poll.question",
        ),
        (
            json!({ "location": { "latitude": 91.0, "longitude": 0.0 } }),
            "out of range",
        ),
        (
            json!({ "location": { "latitude": 0.0, "longitude": -180.5 } }),
            "out of range",
        ),
        (
            json!({ "media": not_audio }),
            "a `voice` cannot be a file of type image/png",
        ),
        (json!({ "location": place(), "text": "here" }), "caption"),
        (
            json!({ "location": place(), "poll": { "question": "q", "options": ["a", "b"] } }),
            "not both",
        ),
        (json!({ "contacts": [] }), "1 to 10 cards"),
        (
            json!({ "contacts": [{ "name": "Dan", "phones": ["call me"] }] }),
            "`phone`",
        ),
        (json!({ "contacts": [{ "name": "Eve" }] }), "needs `phones`"),
    ];
    let (_, before) = daemon.get("/api/v1/devices/kinds/events?after=0").await;
    for (body, why) in refusals {
        let path = format!("/api/v1/devices/kinds/chats/{ALICE}/messages");
        let (status, refused) = daemon.post(&path, body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {refused}");
        let message = refused["error"]["message"].as_str().unwrap();
        assert!(message.contains(why), "{body}: {message}");
    }
    let (_, after) = daemon.get("/api/v1/devices/kinds/events?after=0").await;
    assert_eq!(after["head"], before["head"], "nothing was journaled");
}

#[tokio::test]
async fn contacts_in_the_simulated_world_send_voice_notes_and_files_made_up_to_size() {
    let daemon = TestDaemon::start().await;
    daemon.ready_device("kinds", contacts()).await;
    let mut client = daemon.socket("kinds", json!({})).await;
    let act = |media: Value| {
        let daemon = &daemon;
        async move {
            daemon
                .post(
                    "/api/v1/devices/kinds/simulator/act",
                    json!({ "do": "message", "from": ALICE, "media": media }),
                )
                .await
        }
    };
    let (status, acted) =
        act(json!({ "type": "voice", "mime": "audio/ogg", "size": 200_000 })).await;
    assert_eq!(status, StatusCode::OK, "{acted}");
    let note = client
        .wait_until(WAIT, |e| {
            e.name == "message" && e.data["upstreamId"] == acted["upstreamId"]
        })
        .await
        .unwrap()
        .data;
    assert_eq!(
        (
            note["type"].as_str(),
            note["media"]["mime"].as_str(),
            note["media"]["size"].as_u64()
        ),
        (Some("voice"), Some("audio/ogg"), Some(200_000))
    );
    let file = daemon
        .download(note["media"]["url"].as_str().unwrap())
        .await;
    assert_eq!(file.status(), StatusCode::OK);
    let bytes = file.bytes().await.unwrap();
    assert_eq!((bytes.len(), &bytes[..4]), (200_000, &b"OggS"[..]));

    // A sticker: received only, a WebP picture of its own type.
    let (status, acted) =
        act(json!({ "type": "sticker", "mime": "image/webp", "size": 2048 })).await;
    assert_eq!(status, StatusCode::OK, "{acted}");
    let sticker = client
        .wait_until(WAIT, |e| {
            e.name == "message" && e.data["upstreamId"] == acted["upstreamId"]
        })
        .await
        .unwrap()
        .data;
    assert_eq!(
        (sticker["type"].as_str(), sticker["media"]["mime"].as_str()),
        (Some("sticker"), Some("image/webp"))
    );

    for (media, why) in [
        (
            json!({ "type": "voice", "mime": "image/png", "size": 10 }),
            "voice",
        ),
        (
            json!({ "type": "sticker", "mime": "image/png", "size": 10 }),
            "sticker",
        ),
        (
            json!({ "type": "document", "mime": "application/pdf", "size": 0 }),
            "media.size",
        ),
        (
            json!({ "type": "video", "mime": "video/mp4", "size": 16_777_217u64 }),
            "media.size",
        ),
    ] {
        let (status, refused) = act(media).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{refused}");
        assert!(
            refused["error"]["message"].as_str().unwrap().contains(why),
            "{refused}"
        );
    }
}
