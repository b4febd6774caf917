//! The `cloud_api` connector against a stub Graph API (tests/common/cloud_stub.rs): the
//! requests devicebridge makes, and Meta's documented webhooks driven back in, signed by the
//! test.

mod common;

use common::cloud_stub::{self, CloudStub, MEDIA_BYTES, MEDIA_ID, PHONE_NUMBER_ID, TOKEN};
use common::sio::SioClient;
use common::stub::meta_signature;
use common::{
    assert_unseen, expect_call_notification, wait_healthy_again, wait_message_ack,
    wait_message_status, wait_relayed, wait_stalled, wait_state, TestDaemon, WAIT,
};
use devicebridge::config::Settings;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

const APP_SECRET: &str = "meta-app-secret";
const VERIFY_TOKEN: &str = "verify-me-please";
const CUSTOMER: &str = "15551234567";
const CHAT: &str = "15551234567@c.us";

fn device_file(stub: &CloudStub, token: &str) -> String {
    format!(
        "name = \"Support line\"\nconnector = \"cloud_api\"\n[cloud_api]\nphone_number_id = \"{PHONE_NUMBER_ID}\"\naccess_token = \"{token}\"\napp_secret = \"{APP_SECRET}\"\nverify_token = \"{VERIFY_TOKEN}\"\ngraph_url = \"{}\"\n",
        stub.graph_url()
    )
}

/// A daemon with the device `cl` on `stub`, and a client that sees its whole journal.
async fn start(stub: &CloudStub, token: &str) -> (TestDaemon, SioClient) {
    start_with(stub, token, |_| {}).await
}

async fn start_with(
    stub: &CloudStub,
    token: &str,
    adjust: impl FnOnce(&mut Settings),
) -> (TestDaemon, SioClient) {
    TestDaemon::start_with_device("cl", &device_file(stub, token), |settings| {
        settings.upstream.timeout_ms = 2000;
        adjust(settings);
    })
    .await
}

async fn ready() -> (CloudStub, TestDaemon, SioClient) {
    let stub = CloudStub::start().await;
    let (daemon, mut client) = start(&stub, TOKEN).await;
    wait_state(&mut client, "ready").await;
    (stub, daemon, client)
}

/// Meta's envelope around one change of our phone number's messages.
fn envelope(value: Value) -> Vec<u8> {
    change("messages", value)
}

/// Meta's envelope around one change of our phone number, of webhook field `field`.
fn change(field: &str, value: Value) -> Vec<u8> {
    let mut value = value;
    value["messaging_product"] = json!("whatsapp");
    value["metadata"] =
        json!({ "display_phone_number": "15550100000", "phone_number_id": PHONE_NUMBER_ID });
    serde_json::to_vec(&json!({
        "object": "whatsapp_business_account",
        "entry": [{ "id": "102290129340398", "changes": [{ "field": field, "value": value }] }]
    }))
    .unwrap()
}

fn text_from_customer(id: &str, text: &str) -> Vec<u8> {
    envelope(json!({
        "contacts": [{ "profile": { "name": "Maria" }, "wa_id": CUSTOMER }],
        "messages": [{ "from": CUSTOMER, "id": id, "timestamp": "1700000000", "type": "text", "text": { "body": text } }]
    }))
}

fn status(id: &str, status: &str) -> Vec<u8> {
    envelope(
        json!({ "statuses": [{ "id": id, "status": status, "timestamp": "1700000100", "recipient_id": CUSTOMER }] }),
    )
}

/// Posts a delivery as Meta does, signed with the app secret.
async fn deliver(daemon: &TestDaemon, body: Vec<u8>) -> StatusCode {
    let (status, text) = cloud_stub::deliver(daemon, "cl", APP_SECRET, body).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    status
}

/// Gets a text from the customer and waits until it is shown; returns the message.
async fn customer_writes(
    daemon: &TestDaemon,
    client: &mut SioClient,
    id: &str,
    text: &str,
) -> Value {
    deliver(daemon, text_from_customer(id, text)).await;
    shown(client, id).await
}

/// Waits until the message with upstream id `id` is shown; returns it.
async fn shown(client: &mut SioClient, id: &str) -> Value {
    client
        .wait_until(WAIT, |e| e.name == "message" && e.data["upstreamId"] == id)
        .await
        .unwrap()
        .data
}

#[tokio::test]
async fn a_valid_token_makes_the_device_ready_without_a_qr_code() {
    let (mut stub, daemon, mut client) = ready().await;
    let check = stub.requests.next(WAIT).await;
    assert_eq!(check.line(), format!("GET {}", CloudStub::number_path()));
    assert_eq!(
        check.header("authorization"),
        Some(format!("Bearer {TOKEN}").as_str())
    );
    let ready = client.wait_for("ready", WAIT).await.unwrap();
    assert_eq!(
        ready.data["me"],
        json!({ "id": "15550100000@c.us", "name": "Acme Support" })
    );
    let states: Vec<_> = client
        .history()
        .iter()
        .filter(|e| e.name == "state")
        .map(|e| e.data["state"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(states, ["starting", "authenticated", "ready"]);
    assert!(client.history().iter().all(|e| e.name != "qr"));
    let (_, device) = daemon.get("/api/v1/devices/cl").await;
    assert_eq!(
        (device["connector"].as_str(), device["me"]["id"].as_str()),
        (Some("cloud_api"), Some("15550100000@c.us"))
    );
    for secret in [TOKEN, APP_SECRET, VERIFY_TOKEN] {
        assert!(!device.to_string().contains(secret));
    }
    stub.server.stop().await;
    daemon.stop().await;
}

/// Meta's answer is logged, not shown: the reason clients see is its status.
#[tokio::test]
async fn a_refused_token_fails_the_device_with_the_status_meta_answered() {
    let mut stub = CloudStub::start().await;
    let (daemon, mut client) = start(&stub, "EAAG-expired").await;
    let failed = wait_state(&mut client, "failed").await;
    let reason = failed.data["reason"].as_str().unwrap();
    assert_eq!(
        reason,
        "upstream refused: upstream answered 401 Unauthorized"
    );
    let (_, device) = daemon.get("/api/v1/devices/cl").await;
    assert_eq!(
        (&device["state"], &device["stateReason"]),
        (&json!("failed"), &json!(reason))
    );
    for unseen in ["EAAG-expired", "Invalid OAuth access token"] {
        assert_unseen(&daemon, &client, "cl", unseen).await;
    }
    stub.server.stop().await;
    daemon.stop().await;
}

#[tokio::test]
async fn the_callback_check_answers_the_challenge_for_the_right_token() {
    let (mut stub, daemon, _client) = ready().await;
    let check = |token: &str| {
        format!("/upstream/cloud/cl?hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token={token}")
    };
    let (status, body) = daemon
        .deliver(Method::GET, &check(VERIFY_TOKEN), Vec::new(), &[])
        .await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "1158201444"));
    let (status, _) = daemon
        .deliver(Method::GET, &check("guess"), Vec::new(), &[])
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = daemon
        .deliver(
            Method::GET,
            &check(VERIFY_TOKEN).replace("/cl?", "/nobody?"),
            Vec::new(),
            &[],
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    stub.server.stop().await;
    daemon.stop().await;
}

#[tokio::test]
async fn messages_and_statuses_arrive_once_whatever_the_order() {
    let (mut stub, daemon, mut client) = ready().await;
    let incoming = customer_writes(&daemon, &mut client, "wamid.IN1", "hello business").await;
    assert_eq!(
        (incoming["from"].as_str(), incoming["fromMe"].as_bool()),
        (Some(CHAT), Some(false))
    );
    let note = client.wait_for("notification", WAIT).await.unwrap();
    assert_eq!(
        (note.data["title"].as_str(), note.data["body"].as_str()),
        (Some("Maria"), Some("hello business"))
    );
    // Meta redelivers: nothing new.
    deliver(&daemon, text_from_customer("wamid.IN1", "hello business")).await;
    let (_, chat) = daemon
        .get(&format!("/api/v1/devices/cl/chats/{CHAT}"))
        .await;
    assert_eq!(
        (chat["name"].as_str(), chat["unreadCount"].as_u64()),
        (Some("Maria"), Some(1))
    );

    // Reading marks the newest message read; typing shows against it; a stop sends nothing.
    daemon
        .post(&format!("/api/v1/devices/cl/chats/{CHAT}/read"), json!({}))
        .await;
    let read = stub
        .requests
        .wait_line(WAIT, &format!("POST {}", CloudStub::messages_path()))
        .await;
    assert_eq!(
        read.body,
        json!({ "messaging_product": "whatsapp", "status": "read", "message_id": "wamid.IN1" })
    );
    assert_eq!(
        read.header("authorization"),
        Some(format!("Bearer {TOKEN}").as_str())
    );
    client
        .emit_with_ack("typing:start", json!({ "chatId": CHAT }), WAIT)
        .await
        .unwrap();
    let typing = stub
        .requests
        .wait_line(WAIT, &format!("POST {}", CloudStub::messages_path()))
        .await;
    assert_eq!(
        typing.body,
        json!({ "messaging_product": "whatsapp", "status": "read", "message_id": "wamid.IN1", "typing_indicator": { "type": "text" } })
    );
    client
        .emit_with_ack("typing:stop", json!({ "chatId": CHAT }), WAIT)
        .await
        .unwrap();

    // Our reply quotes the customer's message; the wamid is its upstream id and ack server.
    let reply = daemon
        .send_message(
            "cl",
            CHAT,
            json!({ "text": "how can we help?", "replyTo": incoming["id"] }),
        )
        .await;
    let request = stub
        .requests
        .wait_line(WAIT, &format!("POST {}", CloudStub::messages_path()))
        .await;
    assert_eq!(
        request.body,
        json!({ "messaging_product": "whatsapp", "recipient_type": "individual", "to": CUSTOMER, "type": "text",
            "text": { "preview_url": false, "body": "how can we help?" }, "context": { "message_id": "wamid.IN1" } }),
        "the typing stop sent nothing, so the reply is next"
    );
    let server = wait_message_ack(&mut client, &reply["id"], "server").await;
    assert_eq!(server["upstreamId"], "wamid.STUB1");

    // Read at once (Meta skips `delivered`), then the late `delivered`, then repeats.
    deliver(&daemon, status("wamid.STUB1", "read")).await;
    wait_message_ack(&mut client, &reply["id"], "read").await;
    let receipt = client.wait_for("message:read", WAIT).await.unwrap();
    assert_eq!(receipt.data["messageIds"], json!([reply["id"]]));
    for late in ["delivered", "sent", "read"] {
        deliver(&daemon, status("wamid.STUB1", late)).await;
    }
    let (_, stored) = daemon
        .get(&format!(
            "/api/v1/devices/cl/messages/{}",
            reply["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(stored["ackName"], "read");

    // In order, every step shows: sent (already known from the answer), delivered, read.
    let steps = daemon
        .send_message("cl", CHAT, json!({ "text": "step by step" }))
        .await;
    wait_message_ack(&mut client, &steps["id"], "server").await;
    for (status_name, ack) in [
        ("sent", None),
        ("delivered", Some("device")),
        ("read", Some("read")),
    ] {
        deliver(&daemon, status("wamid.STUB2", status_name)).await;
        if let Some(ack) = ack {
            wait_message_ack(&mut client, &steps["id"], ack).await;
        }
    }

    // A message Meta could not deliver fails with Meta's error.
    let lost = daemon
        .send_message("cl", CHAT, json!({ "text": "are you there?" }))
        .await;
    wait_message_ack(&mut client, &lost["id"], "server").await;
    let failure = envelope(
        json!({ "statuses": [{ "id": "wamid.STUB3", "status": "failed", "timestamp": "1700000200", "recipient_id": CUSTOMER,
        "errors": [{ "code": 131047, "title": "Re-engagement message", "message": "Re-engagement message",
            "error_data": { "details": "Message failed to send because more than 24 hours have passed since the customer last replied to this number." } }] }] }),
    );
    deliver(&daemon, failure.clone()).await;
    let failed = wait_message_status(&mut client, &lost["id"], "failed").await;
    assert!(
        failed["error"]
            .as_str()
            .unwrap()
            .contains("Re-engagement message (131047)"),
        "{failed}"
    );
    wait_message_ack(&mut client, &lost["id"], "error").await;
    deliver(&daemon, failure).await;

    // Every delivery was applied once: one message event, and each ack step once.
    let acks_of = |id: &Value| {
        client
            .history()
            .iter()
            .filter(|e| e.name == "message:ack" && e.data["messageId"] == *id)
            .count()
    };
    assert_eq!(acks_of(&reply["id"]), 2, "server, read");
    assert_eq!(acks_of(&lost["id"]), 2, "server, error");
    assert_eq!(acks_of(&steps["id"]), 3, "server, device, read");
    let incoming_events = client
        .history()
        .iter()
        .filter(|e| e.name == "message" && e.data["upstreamId"] == "wamid.IN1")
        .count();
    assert_eq!(incoming_events, 1);
    stub.server.stop().await;
    daemon.stop().await;
}

#[tokio::test]
async fn media_meta_announces_is_served_at_the_url_its_message_carries() {
    let (mut stub, daemon, mut client) = ready().await;
    deliver(
        &daemon,
        envelope(json!({
            "contacts": [{ "profile": { "name": "Maria" }, "wa_id": CUSTOMER }],
            "messages": [
                { "from": CUSTOMER, "id": "wamid.IMG", "timestamp": "1700000000", "type": "image",
                  "image": { "id": MEDIA_ID, "mime_type": "image/jpeg", "sha256": "abc", "caption": "the receipt" } },
                { "from": CUSTOMER, "id": "wamid.DOC", "timestamp": "1700000001", "type": "document",
                  "document": { "id": "2000000000000001", "mime_type": "application/pdf", "filename": "invoice.pdf" } }
            ]
        })),
    )
    .await;
    let image = shown(&mut client, "wamid.IMG").await;
    let url = format!("{}/api/v1/devices/cl/media/{MEDIA_ID}", daemon.base);
    assert_eq!(
        (&image["type"], &image["body"], &image["media"]),
        (
            &json!("image"),
            &json!("the receipt"),
            &json!({ "url": url, "mime": "image/jpeg", "name": null, "size": null })
        )
    );
    let document = shown(&mut client, "wamid.DOC").await;
    assert_eq!(document["type"], "document");
    assert_eq!(document["media"]["name"], "invoice.pdf");
    assert_eq!(document["media"]["mime"], "application/pdf");

    let response = daemon.download(&url).await;
    assert_eq!(response.status(), StatusCode::OK);
    let header = |name: &str| response.headers()[name].to_str().unwrap().to_owned();
    assert_eq!(header("content-type"), "image/jpeg");
    assert_eq!(header("x-content-type-options"), "nosniff");
    assert_eq!(header("content-length"), MEDIA_BYTES.len().to_string());
    assert_eq!(response.bytes().await.unwrap(), MEDIA_BYTES);
    for path in [CloudStub::media_path(), CloudStub::download_path()] {
        let request = stub.requests.wait_line(WAIT, &format!("GET {path}")).await;
        assert_eq!(
            request.header("authorization"),
            Some(format!("Bearer {TOKEN}").as_str())
        );
    }

    // Meta does not know this one; that one is not a media id and never reaches Meta.
    let (status, body) = daemon
        .get(&document["media"]["url"].as_str().unwrap()[daemon.base.len()..])
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_eq!(body["error"]["code"], "media_not_found");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("upstream answered 400"), "{body}");
    assert!(
        !message.contains("does not exist"),
        "Meta's answer is not shown: {body}"
    );
    stub.requests
        .wait_line(WAIT, "GET /v21.0/2000000000000001")
        .await;
    let (status, body) = daemon.get("/api/v1/devices/cl/media/..%2Fme").await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (StatusCode::NOT_FOUND, &json!("media_not_found"))
    );
    let unauthenticated = reqwest::get(&url).await.unwrap();
    assert_eq!(unauthenticated.status(), StatusCode::UNAUTHORIZED);
    let elsewhere = daemon.key_for(&["other"], &["read"]).await;
    let (status, _) = daemon
        .call_as(&elsewhere, Method::GET, &url[daemon.base.len()..], None)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    stub.requests.assert_none_reached(&["me"]);
    stub.server.stop().await;
    daemon.stop().await;
}

#[tokio::test]
async fn a_received_file_is_forwarded_by_its_media_id_and_others_go_by_link() {
    let (mut stub, daemon, mut client) = ready().await;
    customer_writes(&daemon, &mut client, "wamid.HI", "can you send it back?").await;
    let ours = format!("{}/api/v1/devices/cl/media/{MEDIA_ID}", daemon.base);
    for (url, caption) in [
        (ours.as_str(), "as received"),
        ("https://cdn.example/x.jpg", ""),
    ] {
        daemon
            .send_message(
                "cl",
                CHAT,
                json!({ "text": caption, "media": { "url": url, "mime": "image/jpeg" } }),
            )
            .await;
    }
    let mut sent = Vec::new();
    for _ in 0..2 {
        let request = stub
            .requests
            .wait_line(WAIT, &format!("POST {}", CloudStub::messages_path()))
            .await;
        assert_eq!(request.body["type"], "image");
        sent.push(request.body["image"].clone());
    }
    assert_eq!(
        sent,
        [
            json!({ "id": MEDIA_ID, "caption": "as received" }),
            json!({ "link": "https://cdn.example/x.jpg" })
        ]
    );
    stub.server.stop().await;
    daemon.stop().await;
}

#[tokio::test]
async fn a_template_opens_a_chat_with_a_new_number_and_reaches_meta_by_name() {
    let (mut stub, daemon, mut client) = ready().await;
    let new_chat = "15557654321@c.us";
    let components =
        json!([{ "type": "body", "parameters": [{ "type": "text", "text": "A-17" }] }]);
    let template =
        json!({ "name": "order_shipped", "language": "en_US", "components": components });
    let message = daemon
        .send_message(
            "cl",
            new_chat,
            json!({ "text": "Your order A-17 has shipped", "template": template }),
        )
        .await;
    assert_eq!(
        (&message["type"], &message["body"], &message["template"]),
        (
            &json!("text"),
            &json!("Your order A-17 has shipped"),
            &template
        )
    );
    client
        .wait_until(WAIT, |e| {
            e.name == "chat:update" && e.data["id"] == new_chat
        })
        .await
        .unwrap();
    let sent = stub
        .requests
        .wait_line(WAIT, &format!("POST {}", CloudStub::messages_path()))
        .await;
    assert_eq!(
        sent.body,
        json!({
            "messaging_product": "whatsapp", "recipient_type": "individual", "to": "15557654321",
            "type": "template",
            "template": { "name": "order_shipped", "language": { "code": "en_US" }, "components": components }
        })
    );
    wait_relayed(&mut client, &message["id"]).await;
    let (_, stored) = daemon
        .get(&format!(
            "/api/v1/devices/cl/messages/{}",
            message["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(stored["template"], template);

    // Text still needs a chat the customer opened; a template needs a number and Meta's rules.
    let messages = |chat: &str| format!("/api/v1/devices/cl/chats/{chat}/messages");
    for (chat, body, code) in [
        (
            "15550000009@c.us",
            json!({ "text": "hi" }),
            "chat_not_found",
        ),
        (
            "a-group@g.us",
            json!({ "template": { "name": "hi", "language": "en" } }),
            "bad_request",
        ),
        (
            new_chat,
            json!({ "template": { "name": "Order Shipped", "language": "en" } }),
            "bad_request",
        ),
        (
            new_chat,
            json!({ "template": { "name": "hi", "language": "en", "components": {} } }),
            "bad_request",
        ),
        (
            new_chat,
            json!({ "template": { "name": "hi", "language": "en" }, "media": { "url": "https://cdn.example/x.jpg", "mime": "image/jpeg" } }),
            "bad_request",
        ),
    ] {
        let (status, answer) = daemon.post(&messages(chat), body).await;
        assert_eq!(answer["error"]["code"], code, "{status} {answer}");
    }
    // A refused template opens no chat.
    let (_, answer) = daemon
        .post(
            &messages("15550000008@c.us"),
            json!({ "template": { "name": "hi", "language": "en" }, "replyTo": "msg_nope" }),
        )
        .await;
    assert_eq!(answer["error"]["code"], "message_not_found");
    let (status, _) = daemon
        .get("/api/v1/devices/cl/chats/15550000008@c.us")
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // Meta looks up no numbers: a template is what opens a chat with one.
    let (_, answer) = daemon
        .post(
            "/api/v1/devices/cl/chats",
            json!({ "phone": "15550000008" }),
        )
        .await;
    assert_eq!(
        answer["error"]["code"], "unsupported_by_connector",
        "{answer}"
    );
    assert!(
        answer["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("send a template")),
        "{answer}"
    );
    stub.server.stop().await;
    daemon.stop().await;
}

#[tokio::test]
async fn send_failures_retry_fail_the_message_or_fail_the_device() {
    let (mut stub, daemon, mut client) = ready().await;
    customer_writes(&daemon, &mut client, "wamid.IN1", "hi").await;
    stub.with(|meta| {
        meta.failures.push_back((500, json!({ "error": { "message": "An unknown error has occurred.", "type": "OAuthException", "code": 1 } })));
        meta.failures.push_back((400, json!({ "error": { "message": "(#131030) Recipient phone number not in allowed list", "type": "OAuthException", "code": 131030 } })));
    });
    // 500, then it recovers: retried, in order ahead of the next message.
    let first = daemon
        .send_message("cl", CHAT, json!({ "text": "first" }))
        .await;
    let retrying = wait_message_status(&mut client, &first["id"], "retrying").await;
    assert_eq!(
        retrying["error"],
        "upstream error: upstream answered 500 Internal Server Error"
    );
    // The 400 goes to the retry of `first`: rejected for good, with the status Meta answered.
    let failed = wait_message_status(&mut client, &first["id"], "failed").await;
    assert_eq!(
        failed["error"],
        "upstream rejected the request: upstream answered 400 Bad Request"
    );
    let second = daemon
        .send_message("cl", CHAT, json!({ "text": "second" }))
        .await;
    wait_relayed(&mut client, &second["id"]).await;
    let (_, device) = daemon.get("/api/v1/devices/cl").await;
    assert_eq!(device["state"], "ready");

    // The token is revoked: the device fails, and the message waits for it.
    stub.with(|meta| meta.token = "EAAG-rotated".into());
    let third = daemon
        .send_message("cl", CHAT, json!({ "text": "third" }))
        .await;
    let failed = wait_state(&mut client, "failed").await;
    assert_eq!(
        failed.data["reason"],
        "upstream refused: upstream answered 401 Unauthorized"
    );
    // Meta's words went to the log only.
    for unseen in [
        "An unknown error has occurred",
        "not in allowed list",
        "Invalid OAuth access token",
    ] {
        assert_unseen(&daemon, &client, "cl", unseen).await;
    }
    let statuses: Vec<_> = client
        .history()
        .iter()
        .filter(|e| e.name == "message:status" && e.data["messageId"] == third["id"])
        .map(|e| e.data["status"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        statuses,
        ["queued"],
        "back in the queue to wait for the device, not failed"
    );
    // Fixed upstream, started again: it goes out.
    stub.with(|meta| meta.token = TOKEN.into());
    let (status, _) = daemon.post("/api/v1/devices/cl/start", json!({})).await;
    assert_eq!(status, StatusCode::OK);
    wait_relayed(&mut client, &third["id"]).await;
    stub.server.stop().await;
    daemon.stop().await;
}

#[tokio::test]
async fn a_send_meta_throttles_is_retried_and_then_sent() {
    let (mut stub, daemon, mut client) = ready().await;
    customer_writes(&daemon, &mut client, "wamid.IN1", "hi").await;
    stub.with(|meta| {
        meta.failures.push_back((429, json!({ "error": { "message": "(#130429) Rate limit hit", "type": "OAuthException", "code": 130429 } })));
        meta.failures.push_back((400, json!({ "error": { "message": "(#131056) (Business Account, Consumer Account) pair rate limit hit", "type": "OAuthException", "code": 131056 } })));
    });
    let sent = daemon
        .send_message("cl", CHAT, json!({ "text": "hold on" }))
        .await;
    let retrying = wait_message_status(&mut client, &sent["id"], "retrying").await;
    assert_eq!(
        retrying["error"],
        "upstream error: upstream answered 429 Too Many Requests"
    );
    wait_relayed(&mut client, &sent["id"]).await;
    let retries: Vec<_> = client
        .history()
        .iter()
        .filter(|e| e.name == "message:status" && e.data["messageId"] == sent["id"])
        .map(|e| (e.data["status"].clone(), e.data["attempt"].clone()))
        .collect();
    assert_eq!(
        retries,
        [(json!("retrying"), json!(1)), (json!("retrying"), json!(2))],
        "sent on the third attempt"
    );
    let (_, device) = daemon.get("/api/v1/devices/cl").await;
    assert_eq!(device["state"], "ready");
    stub.server.stop().await;
    daemon.stop().await;
}

#[tokio::test]
async fn an_unreachable_upstream_is_noticed_without_traffic_and_reconnected() {
    let mut stub = CloudStub::start().await;
    let (daemon, mut client) = start_with(&stub, TOKEN, |settings| {
        settings.watchdog.probe_secs = 1;
        settings.reconnect.initial_ms = 50;
        settings.reconnect.max_ms = 200;
        settings.reconnect.max_attempts = 1000;
    })
    .await;
    wait_state(&mut client, "ready").await;
    stub.server.stop().await;
    // The first probe that gets no answer only counts; the second stalls the session.
    wait_stalled(&mut client, "probe_failed").await;
    let status = client.wait_for("connection:status", WAIT).await.unwrap();
    assert_eq!(status.data["upstream"], "disconnected");
    // Restarting finds Meta still unreachable, and says so.
    let unreachable = client
        .wait_until(WAIT, |e| {
            e.name == "state"
                && e.data["state"] == "disconnected"
                && e.data["previous"] == "starting"
        })
        .await
        .unwrap();
    assert!(
        unreachable.data["reason"]
            .as_str()
            .unwrap()
            .contains("cannot connect"),
        "{}",
        unreachable.data
    );
    stub.server.restart().await;
    client
        .wait_until(WAIT, |e| {
            e.name == "state" && e.data["state"] == "ready" && e.data["previous"] == "authenticated"
        })
        .await
        .unwrap();
    stub.server.stop().await;
    daemon.stop().await;
}

/// Each probe reads the phone number with its documented health status. One failed read only
/// counts; the second in a row stalls the session, which is opened again; a number Meta
/// reports blocked from sending fails the device at once, with a reason that says so.
#[tokio::test]
async fn the_probe_reads_the_numbers_health_and_two_failures_in_a_row_restart_the_session() {
    let mut stub = CloudStub::start().await;
    let (daemon, mut client) = start_with(&stub, TOKEN, |settings| {
        settings.watchdog.probe_secs = 1;
        settings.reconnect.initial_ms = 50;
        settings.reconnect.max_ms = 200;
    })
    .await;
    wait_state(&mut client, "ready").await;
    let number = format!("GET {}", CloudStub::number_path());
    let probe = stub.requests.wait_line(WAIT, &number).await;
    assert_eq!(
        probe.query.as_deref(),
        Some("fields=display_phone_number%2Cverified_name%2Chealth_status")
    );

    // Meta fails one read ("service unavailable", which passes by itself): the reads after
    // it, a `probe_secs` apart, find the number again and nothing moved meanwhile.
    let unavailable = json!({ "error": { "message": "Service temporarily unavailable", "type": "OAuthException", "code": 2 } });
    stub.with(|meta| meta.number_answers.push_back((503, unavailable.clone())));
    for _ in 0..3 {
        stub.requests.wait_line(WAIT, &number).await;
    }
    assert!(
        stub.with(|meta| meta.number_answers.is_empty()),
        "the probe failed"
    );
    let moved = daemon.journaled("cl", "state").await;
    assert_eq!(
        moved.last().unwrap()["data"]["state"],
        "ready",
        "nothing moved: {moved:#?}"
    );
    assert!(daemon.journaled("cl", "device:health").await.is_empty());

    // Two in a row: the session is stalled and opened again.
    stub.with(|meta| {
        meta.number_answers.push_back((503, unavailable.clone()));
        meta.number_answers.push_back((500, unavailable));
    });
    wait_stalled(&mut client, "probe_failed").await;
    wait_healthy_again(&mut client).await;

    // Meta blocks the number from sending: the next probe fails the device.
    stub.with(|meta| meta.can_send_message = "BLOCKED".into());
    let failed = wait_state(&mut client, "failed").await;
    assert_eq!(failed.data["previous"], "ready", "{}", failed.data);
    assert_eq!(
        failed.data["reason"],
        "upstream refused: Meta reports the number as blocked from sending (health status BLOCKED)"
    );
    stub.server.stop().await;
    daemon.stop().await;
}

#[tokio::test]
async fn a_bad_signature_gets_401_and_changes_nothing() {
    let (mut stub, daemon, _client) = ready().await;
    let (_, before) = daemon.get("/api/v1/devices/cl/events?after=0").await;
    let body = text_from_customer("wamid.FORGED", "forged");
    let wrong = meta_signature("another-secret", &body);
    let unprefixed = meta_signature(APP_SECRET, &body).replace("sha256=", "");
    for headers in [
        vec![],
        vec![("x-hub-signature-256", wrong.as_str())],
        vec![("x-hub-signature-256", unprefixed.as_str())],
    ] {
        let (status, _) = daemon
            .deliver(Method::POST, "/upstream/cloud/cl", body.clone(), &headers)
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{headers:?}");
    }
    let (_, after) = daemon.get("/api/v1/devices/cl/events?after=0").await;
    assert_eq!(before["head"], after["head"]);
    let (status, _) = daemon
        .get(&format!("/api/v1/devices/cl/chats/{CHAT}"))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "no chat was created");
    stub.server.stop().await;
    daemon.stop().await;
}

/// Customers who chose a username: Meta names them by business-scoped user id, and by their
/// number only while it still may.
const ZOE: &str = "15557654321";
const ZOE_ID: &str = "US.13491208655302741918";
const NOVA_ID: &str = "BR.ENT.1502576394655843";

#[tokio::test]
async fn a_customer_with_a_username_keeps_one_chat_and_is_answered_by_user_id() {
    let (mut stub, daemon, mut client) = ready().await;
    let zoe_chat = format!("{ZOE}@c.us");
    // Zoe by number and user id, then by user id alone: one chat, her number's.
    let both = envelope(json!({
        "contacts": [{ "profile": { "name": "Zoe" }, "wa_id": ZOE, "user_id": ZOE_ID }],
        "messages": [{ "from": ZOE, "from_user_id": ZOE_ID, "id": "wamid.Z1", "timestamp": "1700000000",
            "type": "text", "text": { "body": "hi, Zoe here" } }]
    }));
    deliver(&daemon, both).await;
    assert_eq!(shown(&mut client, "wamid.Z1").await["chatId"], zoe_chat);
    let user_id_only = envelope(json!({
        "contacts": [{ "profile": { "name": "Zoe", "username": "@zoe" }, "user_id": ZOE_ID }],
        "messages": [{ "from_user_id": ZOE_ID, "id": "wamid.Z2", "timestamp": "1700000001",
            "type": "text", "text": { "body": "still me" } }]
    }));
    deliver(&daemon, user_id_only).await;
    let again = shown(&mut client, "wamid.Z2").await;
    assert_eq!(
        (&again["chatId"], &again["from"]),
        (&json!(zoe_chat), &json!(zoe_chat))
    );
    let (_, chat) = daemon
        .get(&format!("/api/v1/devices/cl/chats/{zoe_chat}"))
        .await;
    assert_eq!(chat["unreadCount"], 2, "{chat}");

    // Nova, whose number Meta never gave: her chat is her user id (the message names her
    // only through the change's one contact), and our answer goes to it as `recipient`.
    let nova = envelope(json!({
        "contacts": [{ "profile": { "name": "Nova", "username": "@nova" }, "user_id": NOVA_ID }],
        "messages": [{ "id": "wamid.N1", "timestamp": "1700000002", "type": "text", "text": { "body": "who am I" } }]
    }));
    deliver(&daemon, nova).await;
    let from_nova = shown(&mut client, "wamid.N1").await;
    assert_eq!(from_nova["chatId"], NOVA_ID);
    let (_, chat) = daemon
        .get(&format!("/api/v1/devices/cl/chats/{NOVA_ID}"))
        .await;
    assert_eq!(chat["name"], "Nova", "{chat}");
    daemon
        .send_message("cl", NOVA_ID, json!({ "text": "hello Nova" }))
        .await;
    let sent = stub
        .requests
        .wait_for(WAIT, |r| r.body["text"]["body"] == "hello Nova")
        .await;
    assert_eq!(
        (&sent.body["recipient"], sent.body.get("to")),
        (&json!(NOVA_ID), None),
        "{}",
        sent.body
    );
    stub.server.stop().await;
    daemon.stop().await;
}

#[tokio::test]
async fn a_customers_call_rings_as_a_notification_and_its_end_does_not() {
    let (mut stub, daemon, mut client) = ready().await;
    customer_writes(&daemon, &mut client, "wamid.BEFORE", "may I call?").await;
    client.wait_for("notification", WAIT).await.unwrap();
    let call = |event: &str| {
        change(
            "calls",
            json!({
                "contacts": [{ "profile": { "name": "Maria" }, "wa_id": CUSTOMER }],
                "calls": [{ "id": "wacid.C1", "from": CUSTOMER, "to": "15550100000", "event": event,
                    "direction": "USER_INITIATED", "timestamp": "1700000200",
                    "session": { "sdp_type": "offer", "sdp": "v=0" } }]
            }),
        )
    };
    deliver(&daemon, call("connect")).await;
    expect_call_notification(&mut client, "Maria", "Incoming voice call", CHAT).await;
    // The call ends: nothing rings, so the next notification is the message after it.
    deliver(&daemon, call("terminate")).await;
    customer_writes(&daemon, &mut client, "wamid.AFTER", "missed you").await;
    let next = client.wait_for("notification", WAIT).await.unwrap();
    assert_eq!(
        (&next.data["kind"], &next.data["body"]),
        (&json!("message"), &json!("missed you"))
    );
    stub.server.stop().await;
    daemon.stop().await;
}

#[tokio::test]
async fn what_meta_cannot_do_is_refused_before_anything_is_stored() {
    let (_stub, daemon, mut client) = ready().await;
    let (_, device) = daemon.get("/api/v1/devices/cl").await;
    assert_eq!(
        device["capabilities"],
        json!([
            "send.text",
            "send.image",
            "send.document",
            "send.voice",
            "send.video",
            "send.location",
            "send.contact",
            "message.forward",
            "message.react"
        ])
    );
    customer_writes(&daemon, &mut client, "wamid.IN9", "can you delete it?").await;
    let sent = daemon
        .send_message("cl", CHAT, json!({ "text": "oops, wrong chat" }))
        .await;
    wait_relayed(&mut client, &sent["id"]).await;
    let (_, before) = daemon.get("/api/v1/devices/cl/events?after=0").await;

    let ack = client
        .emit_with_ack("message:revoke", json!({ "messageId": sent["id"] }), WAIT)
        .await
        .unwrap();
    assert_eq!(ack["ok"], false, "{ack}");
    assert_eq!(ack["error"]["code"], "unsupported_by_connector", "{ack}");
    assert_eq!(
        ack["error"]["message"],
        "a cloud_api device cannot do message.revoke"
    );
    let (_, message) = daemon
        .get(&format!(
            "/api/v1/devices/cl/messages/{}",
            sent["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(message["revoked"], false, "{message}");
    let (status, refused) = daemon
        .post(
            "/api/v1/devices/cl/groups",
            json!({ "name": "Customers", "participants": [CHAT] }),
        )
        .await;
    assert_eq!(
        (status, refused["error"]["message"].as_str()),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("a cloud_api device cannot do groups.manage")
        )
    );
    let (status, refused) = daemon
        .post(
            &format!("/api/v1/devices/cl/chats/{CHAT}/messages"),
            json!({ "poll": { "question": "Lunch?", "options": ["Yes", "No"] } }),
        )
        .await;
    assert_eq!(
        (status, refused["error"]["code"].as_str()),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("unsupported_by_connector")
        )
    );
    let path = format!(
        "/api/v1/devices/cl/messages/{}",
        sent["id"].as_str().unwrap()
    );
    let (status, refused) = daemon
        .call(Method::PATCH, &path, Some(json!({ "text": "oops, fixed" })))
        .await;
    assert_eq!(
        (status, refused["error"]["message"].as_str()),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("a cloud_api device cannot do message.edit")
        )
    );
    let (_, after) = daemon.get("/api/v1/devices/cl/events?after=0").await;
    assert_eq!(after["head"], before["head"], "nothing was journaled");
}

#[tokio::test]
async fn places_cards_voice_notes_and_videos_reach_meta_in_its_shapes() {
    let (mut stub, daemon, mut client) = ready().await;
    customer_writes(&daemon, &mut client, "wamid.IN7", "where are you?").await;
    let path = format!("POST {}", CloudStub::messages_path());
    let sent = |body: Value| {
        let daemon = &daemon;
        async move { daemon.send_message("cl", CHAT, body).await }
    };
    sent(json!({ "location": { "latitude": 52.37, "longitude": 4.89, "name": "Dam", "address": "Dam 1" } })).await;
    let place = stub.requests.wait_line(WAIT, &path).await;
    assert_eq!(place.body["type"], "location");
    assert_eq!(
        place.body["location"],
        json!({ "latitude": 52.37, "longitude": 4.89, "name": "Dam", "address": "Dam 1" })
    );
    sent(json!({ "contacts": [{ "name": "Carol Jones", "phones": ["+1 555 000 0009"] }] })).await;
    let card = stub.requests.wait_line(WAIT, &path).await;
    assert_eq!(card.body["type"], "contacts");
    assert_eq!(
        card.body["contacts"],
        json!([{ "name": { "formatted_name": "Carol Jones", "first_name": "Carol Jones" },
            "phones": [{ "phone": "+1 555 000 0009", "type": "CELL", "wa_id": "15550000009" }] }])
    );
    let note =
        json!({ "url": "https://files.example/note.ogg", "mime": "audio/ogg", "type": "voice" });
    sent(json!({ "media": note })).await;
    let voice = stub.requests.wait_line(WAIT, &path).await;
    assert_eq!(voice.body["type"], "audio");
    assert_eq!(
        voice.body["audio"],
        json!({ "link": "https://files.example/note.ogg", "voice": true })
    );
    let clip = json!({ "url": "https://files.example/clip.mp4", "mime": "video/mp4" });
    sent(json!({ "media": clip, "text": "look" })).await;
    let video = stub.requests.wait_line(WAIT, &path).await;
    assert_eq!(
        (video.body["type"].as_str(), &video.body["video"]),
        (
            Some("video"),
            &json!({ "link": "https://files.example/clip.mp4", "caption": "look" })
        )
    );
}

/// Meta shows a business no profile, no picture and no number check, and its block list is
/// not relayed: each is `unsupported_by_connector` before the store or Meta is touched.
#[tokio::test]
async fn contacts_and_numbers_are_refused_before_anything_is_stored() {
    let (mut stub, daemon, mut client) = ready().await;
    customer_writes(&daemon, &mut client, "wamid.HELLO", "hello").await;
    let (_, contacts) = daemon.get("/api/v1/devices/cl/contacts").await;
    let maria = &contacts["items"][0];
    assert_eq!(
        (
            &maria["id"],
            &maria["phone"],
            &maria["pictureUrl"],
            &maria["blocked"]
        ),
        (&json!(CHAT), &json!(CUSTOMER), &Value::Null, &json!(false)),
        "{contacts}"
    );
    let (_, before) = daemon.get("/api/v1/devices/cl/events?after=0").await;
    stub.requests.drain();

    let contact = format!("/api/v1/devices/cl/contacts/{CHAT}");
    for (method, path, operation) in [
        (Method::GET, contact.clone(), "contacts.lookup"),
        (
            Method::GET,
            format!("{contact}/picture"),
            "contacts.picture",
        ),
        (Method::POST, format!("{contact}/block"), "contacts.block"),
        (Method::POST, format!("{contact}/unblock"), "contacts.block"),
        (
            Method::GET,
            format!("/api/v1/devices/cl/numbers/{CUSTOMER}"),
            "numbers.check",
        ),
    ] {
        let (status, refused) = daemon.call(method, &path, None).await;
        assert_eq!(
            (
                status,
                &refused["error"]["code"],
                &refused["error"]["message"]
            ),
            (
                StatusCode::UNPROCESSABLE_ENTITY,
                &json!("unsupported_by_connector"),
                &json!(format!("a cloud_api device cannot do {operation}"))
            ),
            "{path}"
        );
    }
    let (_, after) = daemon.get("/api/v1/devices/cl/events?after=0").await;
    assert_eq!(after["head"], before["head"], "nothing journaled");
    let (_, maria) = daemon.get("/api/v1/devices/cl/contacts").await;
    assert_eq!(maria["items"][0]["blocked"], false);
    stub.requests
        .assert_none_reached(&["block", "contacts", "profile", "picture"]);
    daemon.stop().await;
}
