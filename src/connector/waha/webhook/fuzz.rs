//! Property tests of WAHA's webhook deliveries: only signed ones are read, a signed body that
//! is not JSON is refused, and no change to any field of any event devicebridge follows makes
//! the reading panic or report what the event no longer says.

use proptest::prop_assert;
use proptest::strategy::Union;
use reqwest::header::HeaderValue;
use serde_json::json;

use super::*;
use crate::connector::http::hex_hmac;
use crate::fuzz::{self, check};
use crate::model::spec::Secret;

const SECRET: &str = "waha-hmac-key";
const MEDIA_BASE: &str = "http://bridge.test/api/v1/devices/wa/media/";

/// A delivery of `body` with `signature` as its `X-Webhook-Hmac`.
fn deliver(body: &[u8], signature: Option<&str>) -> Result<Vec<Reported>, WebhookError> {
    let spec = WahaSpec {
        base_url: "http://waha.test:3001".into(),
        webhook_secret: Secret::new(SECRET),
        ..WahaSpec::default()
    };
    let mut headers = HeaderMap::new();
    if let Some(value) = signature.and_then(|s| HeaderValue::from_str(s).ok()) {
        headers.insert("x-webhook-hmac", value);
    }
    read(&spec, MEDIA_BASE, &headers, body)
}

/// A delivery of `body`, signed as WAHA signs it.
fn signed(body: &[u8]) -> Result<Vec<Reported>, WebhookError> {
    deliver(body, Some(&hex_hmac::<HmacSha512>(SECRET, body)))
}

/// One delivery of each event devicebridge follows, as WAHA sends them.
fn followed() -> Vec<Value> {
    let event = |name: &str, payload: Value| json!({ "event": name, "session": "default", "me": { "id": "15550000001@c.us" }, "payload": payload });
    vec![
        event(
            "message",
            json!({
                "id": "false_15550000002@c.us_3EB0A", "timestamp": 1_700_000_000, "from": "15550000002@c.us",
                "fromMe": false, "to": "15550000001@c.us", "body": "hi", "hasMedia": true,
                "media": { "url": "http://waha.test:3001/api/files/default/a.jpg", "mimetype": "image/jpeg", "filename": "a.jpg" },
                "replyTo": { "id": "true_15550000002@c.us_3EB0B" },
                "_data": { "notifyName": "Alice", "key": { "remoteJid": "2077@lid", "remoteJidAlt": "15550000002@s.whatsapp.net" } }
            }),
        ),
        event(
            "message.any",
            json!({
                "id": { "_serialized": "false_120363@g.us_3EB0C_15550000003@c.us" }, "from": "120363@g.us",
                "participant": "15550000003@c.us", "body": "in the group", "location": { "latitude": 1.5 }
            }),
        ),
        event(
            "message.ack",
            json!({ "id": "true_15550000002@c.us_3EB0D", "ack": 3 }),
        ),
        event(
            "message.ack.group",
            json!({ "id": "true_120363@g.us_3EB0E_15550000003@c.us", "ack": 2, "participant": "15550000003@c.us" }),
        ),
        event(
            "message.revoked",
            json!({ "revokedMessageId": "3EB0F", "after": { "id": "false_15550000002@c.us_3EB10", "from": "15550000002@c.us" } }),
        ),
        event(
            "message.reaction",
            json!({ "from": "15550000002@c.us", "reaction": { "messageId": "true_15550000002@c.us_3EB0D", "text": "👍" } }),
        ),
        event(
            "presence.update",
            json!({ "id": "15550000002@c.us", "presences": [{ "participant": "15550000002@c.us", "lastKnownPresence": "typing" }] }),
        ),
        event(
            "chat.archive",
            json!({ "id": "15550000002@c.us", "archived": true }),
        ),
        event(
            "group.v2.join",
            json!({ "group": { "id": "120363@g.us", "subject": "Family" } }),
        ),
        event(
            "call.received",
            json!({ "from": "15550000002@c.us", "isVideo": true }),
        ),
        event("session.status", json!({ "status": "WORKING" })),
    ]
}

/// Whether a WAHA message id can be read from `value`: text, or an object with it in
/// `_serialized` (WEBJS).
fn is_message_id(value: &Value) -> bool {
    let id = value.as_str().or_else(|| value["_serialized"].as_str());
    id.is_some_and(|id| !id.is_empty())
}

#[test]
fn only_rightly_signed_json_is_read() {
    fuzz::signed_receiver(&followed()[0], deliver, signed);
}

#[test]
fn a_changed_event_reports_only_what_it_still_says() {
    let events = Union::new(followed().into_iter().map(fuzz::mutated_anywhere));
    check(events, |event| {
        let reports = signed(event.to_string().as_bytes()).expect("signed JSON is read");
        if event["session"] != "default" {
            prop_assert!(reports.is_empty(), "another session's event: {:?}", reports);
        }
        let payload = &event["payload"];
        let says = |what: fn(&Reported) -> bool| reports.iter().any(what);
        if !is_message_id(&payload["id"]) {
            let said = says(|r| {
                matches!(
                    r,
                    Reported::Inbound(
                        Inbound::Message(_) | Inbound::Ack { .. } | Inbound::Failed { .. }
                    )
                )
            });
            prop_assert!(!said, "{:?} reported from {}", reports, event);
        }
        if !(-1..=4).contains(&payload["ack"].as_i64().unwrap_or(i64::MIN)) {
            let said = says(|r| {
                matches!(
                    r,
                    Reported::Inbound(Inbound::Ack { .. } | Inbound::Failed { .. })
                )
            });
            prop_assert!(!said, "{:?} reported from {}", reports, event);
        }
        if !payload["archived"].is_boolean() {
            let said = says(|r| matches!(r, Reported::Inbound(Inbound::Archived { .. })));
            prop_assert!(!said, "{:?} reported from {}", reports, event);
        }
        Ok(())
    });
}
