//! What happens to a message after it is sent, against the real daemon and its simulated
//! phone: edits (ours and a contact's), poll votes (ours and a contact's) and forwards, over
//! REST and Socket.IO, and what bad input gets.

mod common;

use common::sio::SioClient;
use common::{TestDaemon, WAIT};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

const ALICE: &str = "15550000002@c.us";
const BOB: &str = "15550000003@c.us";

fn contacts() -> Value {
    json!({
        "server_ack_ms": 10, "delivered_ms": 20, "read_ms": 30, "typing_ms": 20,
        "contacts": [
            { "id": ALICE, "name": "Alice", "behaviour": "silent" },
            { "id": BOB, "name": "Bob", "behaviour": "silent" }
        ]
    })
}

async fn ready() -> (TestDaemon, SioClient) {
    let daemon = TestDaemon::start().await;
    daemon.ready_device("phone", contacts()).await;
    let client = daemon.socket("phone", json!({})).await;
    (daemon, client)
}

async fn act(daemon: &TestDaemon, body: Value) -> (StatusCode, Value) {
    daemon
        .post("/api/v1/devices/phone/simulator/act", body)
        .await
}

/// A message as the API shows it now.
async fn stored(daemon: &TestDaemon, id: &Value) -> Value {
    let path = format!("/api/v1/devices/phone/messages/{}", id.as_str().unwrap());
    let (status, message) = daemon.get(&path).await;
    assert_eq!(status, StatusCode::OK, "{message}");
    message
}

/// Waits until the phone knows our message (it has an upstream id).
async fn relayed(client: &mut SioClient, message: &Value) {
    common::wait_relayed(client, &message["id"]).await;
}

#[tokio::test]
async fn our_edits_and_a_contacts_edits_reach_every_client_and_are_kept() {
    let (daemon, mut client) = ready().await;
    let sent = daemon
        .send_message("phone", ALICE, json!({ "text": "see you at 5" }))
        .await;
    relayed(&mut client, &sent).await;
    let ack = client
        .emit_with_ack(
            "message:edit",
            json!({ "messageId": sent["id"], "text": "see you at 6" }),
            WAIT,
        )
        .await
        .unwrap();
    assert_eq!(ack["ok"], true, "{ack}");
    assert_eq!(ack["data"]["body"], "see you at 6");
    let edited = client.wait_for("message:edited", WAIT).await.unwrap();
    assert_eq!(
        (
            &edited.data["messageId"],
            edited.data["chatId"].as_str(),
            edited.data["body"].as_str()
        ),
        (&sent["id"], Some(ALICE), Some("see you at 6"))
    );
    let kept = stored(&daemon, &sent["id"]).await;
    assert_eq!(kept["body"], "see you at 6");
    assert_eq!(kept["editedAt"], edited.data["editedAt"]);

    // Over REST too; and the chat's last message shows the edit.
    let path = format!(
        "/api/v1/devices/phone/messages/{}",
        sent["id"].as_str().unwrap()
    );
    let (status, again) = daemon
        .call(
            Method::PATCH,
            &path,
            Some(json!({ "text": "see you at 7" })),
        )
        .await;
    assert_eq!(
        (status, again["body"].as_str()),
        (StatusCode::OK, Some("see you at 7"))
    );
    let (_, chat) = daemon
        .get(&format!("/api/v1/devices/phone/chats/{ALICE}"))
        .await;
    assert_eq!(chat["lastMessage"]["body"], "see you at 7");

    // Alice edits hers.
    let (_, written) = act(
        &daemon,
        json!({ "do": "message", "from": ALICE, "text": "helo" }),
    )
    .await;
    client
        .wait_until(WAIT, |e| {
            e.name == "message" && e.data["upstreamId"] == written["upstreamId"]
        })
        .await
        .unwrap();
    let (status, acted) = act(
        &daemon,
        json!({ "do": "edit", "from": ALICE, "messageId": written["upstreamId"], "text": "hello" }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{acted}");
    let theirs = client
        .wait_until(WAIT, |e| {
            e.name == "message:edited" && e.data["body"] == "hello"
        })
        .await
        .unwrap();
    assert_eq!(
        stored(&daemon, &theirs.data["messageId"]).await["body"],
        "hello"
    );

    // What may not be edited, and by whom.
    let refusals = [
        (
            json!({ "messageId": theirs.data["messageId"], "text": "mine now" }),
            "bad_request",
        ),
        (
            json!({ "messageId": sent["id"], "text": "" }),
            "bad_request",
        ),
        (
            json!({ "messageId": "msg_nope", "text": "x" }),
            "message_not_found",
        ),
    ];
    for (body, code) in refusals {
        let ack = client
            .emit_with_ack("message:edit", body.clone(), WAIT)
            .await
            .unwrap();
        assert_eq!(ack["error"]["code"], code, "{body}: {ack}");
    }
    let (status, refused) = act(
        &daemon,
        json!({ "do": "edit", "from": BOB, "messageId": written["upstreamId"], "text": "not mine" }),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{refused}");
}

#[tokio::test]
async fn votes_from_us_and_from_contacts_make_the_polls_tally() {
    let (daemon, mut client) = ready().await;
    let poll = daemon
        .send_message(
            "phone",
            ALICE,
            json!({ "poll": { "question": "Lunch?", "options": ["Noon", "One", "Two"], "multiple": true } }),
        )
        .await;
    relayed(&mut client, &poll).await;
    let (status, acted) = act(
        &daemon,
        json!({ "do": "vote", "from": ALICE, "messageId": poll["id"], "options": ["One", "Two"] }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{acted}");
    let vote = client.wait_for("poll:vote", WAIT).await.unwrap();
    assert_eq!(
        (vote.data["voter"].as_str(), &vote.data["options"]),
        (Some(ALICE), &json!(["One", "Two"]))
    );
    let ack = client
        .emit_with_ack(
            "poll:vote",
            json!({ "messageId": poll["id"], "options": ["One"] }),
            WAIT,
        )
        .await
        .unwrap();
    assert_eq!(ack["ok"], true, "{ack}");
    let tally = &stored(&daemon, &poll["id"]).await["poll"]["votes"];
    assert_eq!(
        tally,
        &json!([
            { "option": "Noon", "voters": [] },
            { "option": "One", "voters": [ALICE, "15550000001@c.us"] },
            { "option": "Two", "voters": [ALICE] }
        ])
    );
    // Alice changes her mind: her vote replaces the last one.
    act(
        &daemon,
        json!({ "do": "vote", "from": ALICE, "messageId": poll["id"], "options": ["Noon"] }),
    )
    .await;
    client
        .wait_until(WAIT, |e| {
            e.name == "poll:vote" && e.data["options"] == json!(["Noon"])
        })
        .await
        .unwrap();
    let path = format!(
        "/api/v1/devices/phone/messages/{}/votes",
        poll["id"].as_str().unwrap()
    );
    let (status, answered) = daemon.post(&path, json!({ "options": [] })).await;
    assert_eq!(status, StatusCode::OK, "{answered}");
    assert_eq!(
        answered["poll"]["votes"],
        json!([
            { "option": "Noon", "voters": [ALICE] },
            { "option": "One", "voters": [] },
            { "option": "Two", "voters": [] }
        ])
    );
    for (body, why) in [
        (json!({ "options": ["Three"] }), "not an option"),
        (json!({ "options": ["One", "One"] }), "once"),
    ] {
        let (status, refused) = daemon.post(&path, body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{refused}");
        assert!(
            refused["error"]["message"].as_str().unwrap().contains(why),
            "{refused}"
        );
    }
    let text = daemon
        .send_message("phone", ALICE, json!({ "text": "no poll" }))
        .await;
    let path = format!(
        "/api/v1/devices/phone/messages/{}/votes",
        text["id"].as_str().unwrap()
    );
    let (status, _) = daemon.post(&path, json!({ "options": ["x"] })).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // A single-choice poll takes one option.
    let single = daemon
        .send_message(
            "phone",
            BOB,
            json!({ "poll": { "question": "Tea?", "options": ["Yes", "No"] } }),
        )
        .await;
    let path = format!(
        "/api/v1/devices/phone/messages/{}/votes",
        single["id"].as_str().unwrap()
    );
    let (status, refused) = daemon
        .post(&path, json!({ "options": ["Yes", "No"] }))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{refused}");
}

#[tokio::test]
async fn a_forward_is_a_new_message_marked_forwarded_in_the_other_chat() {
    let (daemon, mut client) = ready().await;
    let place = json!({ "latitude": 52.37, "longitude": 4.89, "name": "Dam" });
    let (_, written) = act(
        &daemon,
        json!({ "do": "message", "from": ALICE, "location": place }),
    )
    .await;
    let received = client
        .wait_until(WAIT, |e| {
            e.name == "message" && e.data["upstreamId"] == written["upstreamId"]
        })
        .await
        .unwrap()
        .data;
    let path = format!(
        "/api/v1/devices/phone/messages/{}/forward",
        received["id"].as_str().unwrap()
    );
    let forward = |key: &'static str| {
        let (daemon, path) = (&daemon, path.clone());
        async move {
            let (status, _, body) = daemon
                .raw(
                    Method::POST,
                    &path,
                    json!({ "chatId": BOB }),
                    &[("idempotency-key", key)],
                )
                .await;
            (status, body)
        }
    };
    let (status, copy) = forward("fw-1").await;
    assert_eq!(status, StatusCode::ACCEPTED, "{copy}");
    assert_eq!(
        (
            copy["chatId"].as_str(),
            copy["type"].as_str(),
            copy["forwarded"].as_bool(),
            copy["fromMe"].as_bool()
        ),
        (Some(BOB), Some("location"), Some(true), Some(true))
    );
    assert_eq!(copy["location"], place);
    assert_ne!(copy["id"], received["id"]);
    let (_, again) = forward("fw-1").await;
    assert_eq!(again["id"], copy["id"], "the same key is the same forward");
    // Over the socket, with a tempId.
    let ack = client
        .emit_with_ack(
            "message:forward",
            json!({ "messageId": received["id"], "chatId": ALICE, "tempId": 7 }),
            WAIT,
        )
        .await
        .unwrap();
    assert_eq!(
        (ack["data"]["forwarded"].as_bool(), &ack["data"]["tempId"]),
        (Some(true), &json!(7))
    );
    let ack = client
        .emit_with_ack(
            "message:forward",
            json!({ "messageId": received["id"], "chatId": "15559999999@c.us" }),
            WAIT,
        )
        .await
        .unwrap();
    assert_eq!(ack["error"]["code"], "chat_not_found", "{ack}");
}
