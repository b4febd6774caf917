//! Property tests of what a client's Socket.IO event is read into: the packet's first argument
//! ([`first_argument`]), then each event's payload shape ([`parse`]).

use proptest::prop_assert_eq;
use serde_json::json;

use super::*;
use crate::fuzz::{self, check, Field, Kind};

/// The decoding a packet of `event` goes through, with `payload` (JSON text, or whatever a
/// client sent instead) as its argument. Socket.IO text frames are UTF-8, so other bytes
/// never get this far.
fn decoded<T: DeserializeOwned>(event: &'static str, payload: &[u8]) -> Result<T, ()> {
    let payload = std::str::from_utf8(payload).map_err(drop)?;
    let payload = first_argument(&format!("[{event:?},{payload}]")).map_err(drop)?;
    parse(event, payload).map_err(drop)
}

/// The properties of `event`'s payload shape, `valid` one of its payloads.
fn payload<T: DeserializeOwned>(event: &'static str, valid: Value, fields: &'static [Field]) {
    fuzz::object_decoder(valid, fields, |payload| decoded::<T>(event, payload));
}

const CHAT_ID: Field = Field::required("chatId", Kind::String);
const MESSAGE_ID: Field = Field::required("messageId", Kind::String);
const LIMIT: Field = Field::optional("limit", Kind::Unsigned(u32::MAX as u64));

#[test]
fn a_packet_is_read_when_it_is_a_json_array_with_an_event_name() {
    check(fuzz::odd_text(), |text| {
        let is_event =
            serde_json::from_str::<Vec<Value>>(&text).is_ok_and(|items| !items.is_empty());
        prop_assert_eq!(first_argument(&text).is_ok(), is_event, "{:?}", text);
        Ok(())
    });
    check(fuzz::json(), |value| {
        let is_event = value.as_array().is_some_and(|items| !items.is_empty());
        prop_assert_eq!(first_argument(&value.to_string()).is_ok(), is_event);
        Ok(())
    });
}

#[test]
fn message_send() {
    const FIELDS: &[Field] = &[
        CHAT_ID,
        Field::defaulted("text", Kind::String),
        Field::optional("media", Kind::Object),
        Field::optional("replyTo", Kind::String),
        Field::optional("tempId", Kind::StringOrNumber),
        Field::optional("template", Kind::Object),
    ];
    let valid = json!({
        "chatId": "15550000002@c.us", "text": "hi", "tempId": "t-1", "replyTo": "msg_1",
        "media": { "url": "http://files.test/a.png", "mime": "image/png" }
    });
    payload::<SendRequest>("message:send", valid, FIELDS);
    let numbered =
        json!({ "chatId": "15550000002@c.us", "text": "hi", "tempId": 1732000000000u64 });
    payload::<SendRequest>("message:send", numbered, FIELDS);
}

#[test]
fn message_read() {
    const FIELDS: &[Field] = &[CHAT_ID, Field::optional("messageId", Kind::String)];
    let valid = json!({ "chatId": "15550000002@c.us", "messageId": "msg_1" });
    payload::<ReadRequest>("message:read", valid, FIELDS);
}

#[test]
fn message_react() {
    const FIELDS: &[Field] = &[MESSAGE_ID, Field::required("emoji", Kind::String)];
    let valid = json!({ "messageId": "msg_1", "emoji": "👍" });
    payload::<ReactRequest>("message:react", valid, FIELDS);
}

#[test]
fn message_revoke() {
    payload::<MessageRef>(
        "message:revoke",
        json!({ "messageId": "msg_1" }),
        &[MESSAGE_ID],
    );
}

#[test]
fn typing() {
    for event in ["typing:start", "typing:stop"] {
        payload::<ChatRef>(event, json!({ "chatId": "15550000002@c.us" }), &[CHAT_ID]);
    }
}

#[test]
fn chat_open_archive_and_mute() {
    const PHONE: &[Field] = &[Field::required("phone", Kind::String)];
    payload::<OpenChat>("chat:open", json!({ "phone": "+1 555 000 0002" }), PHONE);
    const ARCHIVE: &[Field] = &[CHAT_ID, Field::required("archived", Kind::Bool)];
    let valid = json!({ "chatId": "15550000002@c.us", "archived": true });
    payload::<ArchiveRequest>("chat:archive", valid, ARCHIVE);
    const MUTE: &[Field] = &[CHAT_ID, Field::required("muted", Kind::Bool)];
    let valid = json!({ "chatId": "15550000002@c.us", "muted": false });
    payload::<MuteRequest>("chat:mute", valid, MUTE);
}

#[test]
fn chats_list() {
    const FIELDS: &[Field] = &[LIMIT, Field::optional("cursor", Kind::String)];
    payload::<ChatsQuery>("chats:list", json!({ "limit": 20, "cursor": "c1" }), FIELDS);
}

#[test]
fn messages_list() {
    const FIELDS: &[Field] = &[CHAT_ID, Field::optional("before", Kind::String), LIMIT];
    let valid = json!({ "chatId": "15550000002@c.us", "before": "msg_1", "limit": 50 });
    payload::<MessagesRequest>("messages:list", valid, FIELDS);
}

#[test]
fn notification_read() {
    const FIELDS: &[Field] = &[
        Field::optional("ids", Kind::Array),
        Field::optional("id", Kind::String),
        Field::defaulted("all", Kind::Bool),
    ];
    let which = |payload: &[u8]| {
        decoded::<NotificationsRequest>("notification:read", payload)
            .and_then(|request| request.which().map_err(drop))
    };
    fuzz::object_decoder(json!({ "ids": ["n1", "n2"] }), FIELDS, which);
    fuzz::object_decoder(json!({ "all": true }), FIELDS, which);
    fuzz::object_decoder(json!({ "id": "n1" }), FIELDS, which);
    for neither_or_both in [
        json!({}),
        json!({ "all": false }),
        json!({ "ids": ["n1"], "all": true }),
        json!({ "ids": ["n1"], "id": "n2" }),
        json!({ "id": "n1", "all": true }),
    ] {
        assert!(
            which(neither_or_both.to_string().as_bytes()).is_err(),
            "{neither_or_both}"
        );
    }
}

#[test]
fn chat_join_and_leave() {
    for event in ["chat:join", "chat:leave"] {
        payload::<ChatRef>(event, json!({ "chatId": "15550000002@c.us" }), &[CHAT_ID]);
    }
}

#[test]
fn presence_get() {
    const FIELDS: &[Field] = &[
        Field::optional("ids", Kind::Array),
        Field::optional("chatId", Kind::String),
    ];
    let valid = json!({ "ids": ["15550000002@c.us"], "chatId": "15550000003@c.us" });
    payload::<PresenceQuery>("presence:get", valid, FIELDS);
}

#[test]
fn events_without_fields() {
    payload::<NoFields>("devices:list", json!({}), &[]);
}

#[test]
fn a_media_link_given_as_a_list_is_refused() {
    let payload =
        json!({ "chatId": "15550000002@c.us", "media": ["http://files.test/a.png", "image/png"] });
    assert!(decoded::<SendRequest>("message:send", payload.to_string().as_bytes()).is_err());
}
