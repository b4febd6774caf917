//! The translation on its own: each shipped profile against the conventions it is for (table
//! tests), and properties that hold for any payload.

use proptest::prelude::*;
use serde_json::{json, Value};

use super::*;
use crate::api::error::{ApiError, ErrorCode};

fn shipped(name: &str) -> Arc<Profile> {
    Profiles::load(std::path::Path::new("/nonexistent"))
        .expect("the shipped profiles compile")
        .get(name)
        .expect("shipped")
}

fn inbound(profile: &str, event: &str, payload: Value) -> Inbound {
    shipped(profile)
        .inbound(event, Some(payload))
        .expect("translated")
}

fn message() -> Value {
    json!({
        "id": "msg_1", "upstreamId": "u1", "deviceId": "demo", "chatId": "15550000002@c.us",
        "from": "15550000001@c.us", "fromMe": true, "type": "text", "body": "hi",
        "media": null, "replyTo": null, "timestamp": "2026-01-01T00:00:00Z",
        "ack": 3, "ackName": "read", "tempId": 1732000000000u64, "seq": 7, "at": "2026-01-01T00:00:00Z",
    })
}

#[test]
fn client_events_become_native_ones() {
    let cases = [
        (
            "chat-gateway",
            "message:send",
            json!({ "conversationId": "c1", "content": "Hello!", "messageType": "text", "tempId": 5,
                    "attachmentUrl": "http://h/f.pdf", "attachmentName": "f.pdf" }),
            "message:send",
            json!({ "chatId": "c1", "text": "Hello!", "tempId": 5,
                    "media": { "url": "http://h/f.pdf", "name": "f.pdf" } }),
        ),
        (
            "conversation-rooms",
            "join:conversation",
            json!("c1"),
            "chat:join",
            json!({ "chatId": "c1" }),
        ),
        (
            "conversation-rooms",
            "notification:read",
            json!("ntf_1"),
            "notification:read",
            json!({ "ids": ["ntf_1"] }),
        ),
        (
            "conversation-rooms",
            "users:get-status",
            json!(["a", "b"]),
            "presence:get",
            json!({ "ids": ["a", "b"] }),
        ),
        (
            "chat-gateway",
            "user:check:online",
            json!({ "userId": "a", "userType": "brand" }),
            "presence:get",
            json!({ "ids": ["a"] }),
        ),
        (
            "snake-case-chat",
            "typing",
            json!({ "conversationId": "c1", "userId": "me", "isTyping": true }),
            "typing:start",
            json!({ "chatId": "c1" }),
        ),
        (
            "snake-case-chat",
            "typing",
            json!({ "conversationId": "c1", "userId": "me", "isTyping": false }),
            "typing:stop",
            json!({ "chatId": "c1" }),
        ),
        (
            "snake-case-chat",
            "send_message",
            json!({ "conversationId": "c1", "senderId": "me", "receiverId": "you",
                    "content": "Hello!", "messageType": "TEXT" }),
            "message:send",
            json!({ "chatId": "c1", "text": "Hello!" }),
        ),
        (
            "direct-chat",
            "message:send",
            json!({ "recipientId": "c1", "content": "Hello!", "type": "TEXT", "tempId": "t1" }),
            "message:send",
            json!({ "chatId": "c1", "text": "Hello!", "tempId": "t1" }),
        ),
        (
            "direct-chat",
            "message:send",
            json!({ "recipientId": "c1", "content": "Look", "type": "IMAGE",
                    "attachmentUrl": "https://example.com/a.png" }),
            "message:send",
            json!({ "chatId": "c1", "text": "Look",
                    "media": { "url": "https://example.com/a.png", "type": "image" } }),
        ),
    ];
    for (profile, event, payload, native, expected) in cases {
        let translated = inbound(profile, event, payload);
        assert_eq!(translated.event, native, "{profile} {event}");
        assert_eq!(translated.payload, expected, "{profile} {event}");
    }
}

#[test]
fn an_event_without_a_payload_gets_the_constants() {
    let read_all = shipped("conversation-rooms")
        .inbound("notifications:read-all", None)
        .unwrap();
    assert_eq!(read_all.event, "notification:read");
    assert_eq!(read_all.payload, json!({ "all": true }));
}

#[test]
fn read_all_reaches_other_clients_as_one_read_all_event() {
    let profile = shipped("conversation-rooms");
    let all = json!({ "ids": ["n1", "n2"], "all": true });
    assert_eq!(
        profile.outbound("notification:read", &all, None, Place::Room),
        [("notifications:read-all".to_owned(), json!({}))]
    );
}

#[test]
fn native_events_pass_and_unknown_ones_are_refused_by_name() {
    let profile = shipped("chat-gateway");
    let passed = profile
        .inbound("chats:list", Some(json!({ "limit": 5 })))
        .unwrap();
    assert_eq!(passed.event, "chats:list");
    assert_eq!(passed.payload, json!({ "limit": 5 }));
    let refused = profile.inbound("send_message", None).unwrap_err();
    assert_eq!(refused.code, ErrorCode::BadRequest);
    assert!(
        refused.message.contains("chat-gateway"),
        "{}",
        refused.message
    );
    let unchosen = shipped("snake-case-chat")
        .inbound("typing", Some(json!({ "conversationId": "c1" })))
        .unwrap_err();
    assert!(
        unchosen.message.contains("typing:start"),
        "{}",
        unchosen.message
    );
}

#[test]
fn emitted_events_take_the_conventions_names() {
    let gateway = shipped("chat-gateway").outbound("message", &message(), None, Place::Room);
    assert_eq!(gateway.len(), 1);
    let (name, payload) = &gateway[0];
    assert_eq!(name, "message:new");
    assert_eq!(payload["conversationId"], "15550000002@c.us");
    assert_eq!(payload["content"], "hi");
    assert_eq!(payload["sender"]["id"], "15550000001@c.us");
    assert_eq!(payload["senderType"], "operator");
    assert_eq!(payload["isRead"], true);
    assert_eq!(payload["attachmentUrl"], Value::Null);
    assert_eq!(payload["tempId"], 1732000000000u64);
    assert!(payload.get("chatId").is_none() && payload.get("body").is_none());

    let snake = shipped("snake-case-chat").outbound("message", &message(), None, Place::Room);
    assert_eq!(snake[0].0, "new_message");
    assert_eq!(snake[0].1["messageType"], "TEXT");

    let direct = shipped("direct-chat").outbound("message", &message(), None, Place::Room);
    assert_eq!(direct[0].1["type"], "TEXT");
    assert_eq!(
        direct[0].1["chatId"], "15550000002@c.us",
        "native fields kept"
    );
    assert_eq!(direct[0].1["recipientId"], "15550000002@c.us");
}

#[test]
fn a_file_is_the_first_attachment_both_ways() {
    let sent = inbound(
        "snake-case-chat",
        "send_message",
        json!({ "conversationId": "c1", "content": "the brief", "messageType": "FILE",
                "attachments": [{ "fileUrl": "http://h/f.pdf", "fileName": "f.pdf",
                                  "mimeType": "application/pdf", "fileSize": 9 }] }),
    );
    assert_eq!(
        sent.payload,
        json!({ "chatId": "c1", "text": "the brief",
                "media": { "url": "http://h/f.pdf", "name": "f.pdf", "mime": "application/pdf" } })
    );
    let profile = shipped("snake-case-chat");
    let mut file = message();
    file["type"] = json!("document");
    file["media"] =
        json!({ "url": "http://h/f.pdf", "mime": "application/pdf", "name": "f.pdf", "size": 9 });
    let out = &profile.outbound("message", &file, None, Place::Room)[0].1;
    assert_eq!(out["messageType"], "FILE");
    assert_eq!(
        out["attachments"],
        json!([{ "fileUrl": "http://h/f.pdf", "fileName": "f.pdf",
                 "mimeType": "application/pdf", "fileSize": 9 }])
    );
    let text = &profile.outbound("message", &message(), None, Place::Room)[0].1;
    assert_eq!(text["attachments"], json!([]));
}

#[test]
fn who_received_a_message_depends_on_who_sent_it() {
    let me = Some("15550000001@c.us");
    let mut incoming = message();
    incoming["fromMe"] = json!(false);
    incoming["from"] = json!("15550000002@c.us");
    for (profile, field) in [
        ("direct-chat", "recipientId"),
        ("snake-case-chat", "receiverId"),
    ] {
        let profile = shipped(profile);
        let sent = &profile.outbound("message", &message(), me, Place::Room)[0].1;
        assert_eq!(
            sent[field], "15550000002@c.us",
            "{field} of our own message"
        );
        let received = &profile.outbound("message", &incoming, me, Place::Room)[0].1;
        assert_eq!(received[field], "15550000001@c.us", "{field} of theirs");
        let unlinked = &profile.outbound("message", &incoming, None, Place::Room)[0].1;
        assert_eq!(unlinked[field], Value::Null, "no account, no {field}");
    }
}

#[test]
fn outside_a_chats_room_a_profile_sends_only_its_outside_emits() {
    let gateway = shipped("chat-gateway");
    let mut incoming = message();
    incoming["fromMe"] = json!(false);
    let told = gateway.outbound("message", &incoming, None, Place::Outside);
    assert_eq!(told.len(), 1);
    let (name, payload) = &told[0];
    assert_eq!(name, "message:notification");
    assert_eq!(payload["conversationId"], "15550000002@c.us");
    assert_eq!(
        payload["message"],
        gateway.outbound("message", &incoming, None, Place::Room)[0].1,
        "the message as `message:new` carries it"
    );
    assert!(gateway.speaks_outside("message"));
    // Our own messages raise no notification, and nothing else is sent outside a room.
    assert!(gateway
        .outbound("message", &message(), None, Place::Outside)
        .is_empty());
    assert!(!gateway.speaks_outside("typing:start"));
    assert!(gateway
        .outbound(
            "typing:start",
            &json!({ "chatId": "c1" }),
            None,
            Place::Outside
        )
        .is_empty());
    assert!(!shipped("direct-chat").speaks_outside("message"));
}

#[test]
fn an_ack_may_also_arrive_as_a_status() {
    let ack = json!({ "messageId": "m", "chatId": "c1", "ack": 1, "ackName": "server" });
    let told = shipped("message-status").outbound("message:ack", &ack, None, Place::Room);
    assert_eq!(told.len(), 2);
    assert_eq!(told[0], ("message:ack".to_owned(), ack.clone()));
    assert_eq!(told[1].0, "message:status");
    assert_eq!(told[1].1["messageId"], "m");
    assert_eq!(told[1].1["status"], "sent");
    assert_eq!(told[1].1["ackName"], "server", "native fields kept");
}

#[test]
fn an_outside_has_no_outside_of_its_own() {
    let text = r#"
        description = "d"
        [emits.message.outside]
        event = "news"
        [emits.message.outside.outside]
        event = "more news"
    "#;
    let problems = compile("p", Origin::User, text).unwrap_err();
    assert!(
        problems
            .iter()
            .any(|p| p.contains("no `also` or `outside` of its own")),
        "{problems:?}"
    );
}

#[test]
fn one_native_event_may_become_several_or_none() {
    let read = json!({ "ids": ["ntf_1", "ntf_2"], "all": false, "deviceId": "demo", "seq": 3 });
    assert_eq!(
        shipped("conversation-rooms").outbound("notification:read", &read, None, Place::Room),
        vec![
            ("notification:read".to_owned(), json!("ntf_1")),
            ("notification:read".to_owned(), json!("ntf_2")),
        ]
    );
    assert!(shipped("direct-chat")
        .outbound(
            "message:status",
            &json!({ "messageId": "m", "status": "retrying" }),
            None,
            Place::Room
        )
        .is_empty());
    let online = json!({ "id": "c1", "presence": "online", "name": "Alice" });
    let offline = json!({ "id": "c1", "presence": "offline", "name": "Alice" });
    let gateway = shipped("chat-gateway");
    assert_eq!(
        gateway.outbound("contact:update", &online, None, Place::Room)[0].0,
        "user:online"
    );
    assert_eq!(
        gateway.outbound("contact:update", &offline, None, Place::Room)[0].0,
        "user:offline"
    );
    assert_eq!(
        gateway.outbound("contact:update", &online, None, Place::Room)[0].1["userId"],
        "c1"
    );
}

#[test]
fn replies_travel_as_the_convention_says() {
    let gateway = shipped("chat-gateway");
    let request = json!({ "conversationId": "c1", "content": "hi", "tempId": 42 });
    let sent = gateway.reply("message:send", &request, Ok(message()), None);
    let (name, payload) = sent.event.expect("an event");
    assert_eq!(name, "message:sent");
    assert_eq!(payload["tempId"], 42);
    assert_eq!(payload["message"]["content"], "hi");
    let failed = gateway.reply(
        "message:send",
        &request,
        Err(ApiError::bad_request("a message needs text")),
        None,
    );
    let (name, payload) = failed.event.expect("an error event");
    assert_eq!(name, "message:error");
    assert_eq!(
        payload,
        json!({ "tempId": 42, "error": "a message needs text", "code": "bad_request" })
    );
    assert_eq!(failed.ack["ok"], false);

    let presence = json!([
        { "id": "a", "presence": "online", "lastSeenAt": null },
        { "id": "b", "presence": "offline", "lastSeenAt": null },
    ]);
    let rooms = shipped("conversation-rooms");
    let online = rooms.reply(
        "conversation:get-online-users",
        &json!("c1"),
        Ok(presence.clone()),
        None,
    );
    assert_eq!(online.ack, json!(["a"]));
    let one = rooms.reply("user:get-status", &json!("a"), Ok(presence.clone()), None);
    assert_eq!(one.ack, json!({ "userId": "a", "status": "online" }));
    let many = rooms.reply(
        "users:get-status",
        &json!(["a", "b"]),
        Ok(presence.clone()),
        None,
    );
    assert_eq!(
        many.ack,
        json!([{ "userId": "a", "status": "online" }, { "userId": "b", "status": "offline" }])
    );
    let check = gateway.reply(
        "user:check:online",
        &json!({ "userId": "b", "userType": "brand" }),
        Ok(json!([{ "id": "b", "presence": "offline", "lastSeenAt": null }])),
        None,
    );
    assert_eq!(
        check.event,
        Some((
            "user:online:status".to_owned(),
            json!({ "userId": "b", "userType": "brand", "isOnline": false })
        ))
    );
}

#[test]
fn bad_profiles_are_refused_with_every_problem() {
    let text = r#"
        description = "x"
        colour = "blue"
        [events."a"]
        native = "no:such"
        [emits."nope"]
        event = "x"
    "#;
    let problems = compile("bad", Origin::User, text).unwrap_err();
    assert_eq!(problems, vec!["unknown key `colour`".to_owned()]);
    let text = r#"
        description = "x"
        [events."a"]
        native = "no:such"
        [events."b"]
        native = "chat:join"
        reply = { mode = "event" }
        [emits."nope"]
        event = "x"
        [emits."message"]
        fields = { a = "b[" }
    "#;
    let problems = compile("bad", Origin::User, text).unwrap_err();
    assert_eq!(problems.len(), 4, "{problems:?}");
    let text = "description = \"x\"\n[events.a]\nnative = \"chat:join\"\nfield = { a = \"b\" }\n";
    assert_eq!(
        compile("bad", Origin::User, text).unwrap_err(),
        vec!["unknown key `events.\"a\".field`".to_owned()]
    );
    let text = "description = \"x\"\n[events.a]\nnative = \"chat:join\"\nomit.kind = [\"NONE\"]\n";
    let problems = compile("bad", Origin::User, text).unwrap_err();
    assert!(
        problems[0].contains("`omit.kind` maps a field that `fields` does not name"),
        "{problems:?}"
    );
}

#[test]
fn users_profiles_load_beside_and_over_the_shipped_ones() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("mine.toml"),
        "description = \"mine\"\n[emits.message]\nevent = \"msg\"\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("chat-gateway.toml"),
        "description = \"replaced\"\n",
    )
    .unwrap();
    let profiles = Profiles::load(dir.path()).unwrap();
    let listed = profiles.list();
    let mine = listed.iter().find(|p| p.name == "mine").unwrap();
    assert_eq!(mine.source, "user");
    assert_eq!(mine.emits["message"], "msg");
    let replaced = listed.iter().find(|p| p.name == "chat-gateway").unwrap();
    assert_eq!(
        (replaced.source.as_str(), replaced.description.as_str()),
        ("user", "replaced")
    );
    assert!(listed
        .iter()
        .any(|p| p.name == "direct-chat" && p.source == "shipped"));
    std::fs::write(dir.path().join("native.toml"), "description = \"x\"\n").unwrap();
    std::fs::write(dir.path().join("broken.toml"), "description = 5\n").unwrap();
    let problems = Profiles::load(dir.path()).unwrap_err();
    assert_eq!(problems.len(), 2, "{problems:?}");
}

/// A JSON value of a few levels, for payloads no one wrote by hand.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        "[a-z0-9 @._-]{0,12}".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-zA-Z]{1,8}", inner, 0..5)
                .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}

const PROFILES: [&str; 4] = [
    "direct-chat",
    "conversation-rooms",
    "chat-gateway",
    "snake-case-chat",
];

proptest! {
    /// Whatever a client sends, the translation answers (a native payload or a clear error)
    /// and never panics; a translated payload is an object, as native events take.
    #[test]
    fn any_client_payload_is_translated_or_refused(
        profile in 0..PROFILES.len(),
        event in prop::sample::select(vec![
            "message:send", "join:conversation", "typing", "send_message", "user:check:online",
            "users:get-status", "notification:read", "notifications:read-all", "nope",
        ]),
        payload in any_json(),
    ) {
        let profile = shipped(PROFILES[profile]);
        if let Ok(native) = profile.inbound(event, Some(payload.clone())) {
            let passed_through = native.event == event && native.payload == payload;
            prop_assert!(native.payload.is_object() || passed_through);
        }
        let _ = profile.reply(event, &payload, Ok(payload.clone()), None);
        for native in crate::model::event::EventKind::ALL {
            let _ = profile.outbound(native.as_str(), &payload, None, Place::Room);
        }
    }

    /// Nothing native is lost on the way out: every field of a message reaches the client,
    /// under its own name or the convention's, with its value (mapped where the convention
    /// names values differently); and the client's names read back in give the native fields.
    #[test]
    fn a_message_loses_nothing_on_the_way_out(
        profile in 0..PROFILES.len(),
        chat in "[0-9]{5,12}@c\\.us",
        body in ".{0,40}",
        temp in prop_oneof![any::<u32>().prop_map(Value::from), "[a-z0-9]{1,10}".prop_map(Value::from)],
    ) {
        let profile = shipped(PROFILES[profile]);
        let mut native = message();
        native["chatId"] = json!(chat);
        native["body"] = json!(body);
        native["tempId"] = temp.clone();
        let out = profile.outbound("message", &native, None, Place::Room);
        prop_assert_eq!(out.len(), 1);
        let client = &out[0].1;
        let text = client.to_string();
        for (field, value) in native.as_object().unwrap() {
            let kept = client.get(field) == Some(value);
            let renamed = value.is_null() || value.is_boolean() || value.is_number() && field != "tempId"
                || text.contains(&value.to_string()) || field == "type" || field == "ackName";
            prop_assert!(kept || renamed, "{} lost {}", profile.name, field);
        }
        prop_assert_eq!(&client["tempId"], &temp);
        // The client sends back what it received under its own names: the send it makes
        // of it names the same chat and text.
        let send = profile
            .events
            .iter()
            .find(|(_, event)| event.native.names() == ["message:send"])
            .map(|(name, _)| name.clone());
        if let Some(send) = send {
            let back = profile.inbound(&send, Some(client.clone())).unwrap();
            prop_assert_eq!(&back.payload["chatId"], &json!(chat));
            prop_assert_eq!(&back.payload["text"], &json!(body));
        }
    }
}
