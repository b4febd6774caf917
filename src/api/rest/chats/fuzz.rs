//! Property tests of the chat routes' bodies: a send, a read, a chat opened, a chat's flags.

use serde_json::json;

use super::*;
use crate::api::extract::fuzz::decode;
use crate::fuzz::{self, Field, Kind};

#[test]
fn a_send() {
    const FIELDS: &[Field] = &[
        Field::defaulted("text", Kind::String),
        Field::optional("media", Kind::Object),
        Field::optional("replyTo", Kind::String),
        Field::optional("template", Kind::Object),
    ];
    let valid = json!({
        "text": "see you at 5", "replyTo": "msg_1",
        "media": { "url": "http://files.test/a.pdf", "mime": "application/pdf", "name": "a.pdf" }
    });
    fuzz::object_decoder(valid, FIELDS, decode::<NewMessage>);
}

#[test]
fn a_read_up_to_a_message() {
    const FIELDS: &[Field] = &[Field::optional("messageId", Kind::String)];
    fuzz::object_decoder(json!({ "messageId": "msg_1" }), FIELDS, decode::<ReadUpTo>);
}

#[test]
fn a_chat_opened_with_a_number() {
    const FIELDS: &[Field] = &[Field::required("phone", Kind::String)];
    fuzz::object_decoder(
        json!({ "phone": "15550000002" }),
        FIELDS,
        decode::<OpenChat>,
    );
}

#[test]
fn a_chats_flags() {
    const FIELDS: &[Field] = &[
        Field::optional("archived", Kind::Bool),
        Field::optional("muted", Kind::Bool),
    ];
    let valid = json!({ "archived": true, "muted": false });
    fuzz::object_decoder(valid, FIELDS, decode::<ChatFlags>);
}

#[test]
fn a_media_link_given_as_a_list_is_refused() {
    let body = json!({ "text": "see you at 5", "media": ["", ""] });
    assert!(decode::<NewMessage>(body.to_string().as_bytes()).is_err());
}
