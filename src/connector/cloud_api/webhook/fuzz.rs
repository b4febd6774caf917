//! Property tests of Meta's webhook deliveries: only signed ones are read, a signed body that
//! is not JSON is refused, and no change to any field of a delivery makes the reading panic or
//! report what the delivery no longer says.

use proptest::prop_assert;
use proptest::strategy::Union;
use reqwest::header::HeaderValue;
use serde_json::json;

use super::*;
use crate::connector::http::hex_hmac;
use crate::fuzz::{self, check};
use crate::model::spec::Secret;

const APP_SECRET: &str = "meta-app-secret";
const PHONE_NUMBER_ID: &str = "106540352242922";
const MEDIA_BASE: &str = "http://bridge.test/api/v1/devices/cl/media/";

/// A delivery of `body` with `signature` as its `X-Hub-Signature-256`.
fn deliver(body: &[u8], signature: Option<&str>) -> Result<Vec<Reported>, WebhookError> {
    let spec = CloudApiSpec {
        phone_number_id: PHONE_NUMBER_ID.into(),
        app_secret: Secret::new(APP_SECRET),
        ..CloudApiSpec::default()
    };
    let mut headers = HeaderMap::new();
    if let Some(value) = signature.and_then(|s| HeaderValue::from_str(s).ok()) {
        headers.insert("x-hub-signature-256", value);
    }
    read(&spec, MEDIA_BASE, &headers, body)
}

/// A delivery of `body`, signed as Meta signs it.
fn signed(body: &[u8]) -> Result<Vec<Reported>, WebhookError> {
    let signature = format!("sha256={}", hex_hmac::<HmacSha256>(APP_SECRET, body));
    deliver(body, Some(&signature))
}

/// A delivery of one change of `field` whose value has `items` (and the phone's metadata).
fn delivery(field: &str, items: Value) -> Value {
    let mut value = json!({
        "messaging_product": "whatsapp",
        "metadata": { "display_phone_number": "15550000001", "phone_number_id": PHONE_NUMBER_ID },
        "contacts": [{ "profile": { "name": "Alice" }, "wa_id": "15550000002", "user_id": "US.13491208655302741918" }]
    });
    value
        .as_object_mut()
        .unwrap()
        .extend(items.as_object().unwrap().clone());
    json!({ "object": "whatsapp_business_account", "entry": [{ "id": "1", "changes": [{ "field": field, "value": value }] }] })
}

/// One delivery of each kind devicebridge reads, with one message, status or call each.
fn deliveries() -> Vec<Value> {
    let message = |message: Value| {
        let mut base =
            json!({ "from": "15550000002", "id": "wamid.HBgL1", "timestamp": "1700000000" });
        base.as_object_mut()
            .unwrap()
            .extend(message.as_object().unwrap().clone());
        delivery("messages", json!({ "messages": [base] }))
    };
    vec![
        message(
            json!({ "type": "text", "text": { "body": "hi" }, "context": { "id": "wamid.HBgL0" } }),
        ),
        message(
            json!({ "type": "image", "image": { "id": "1234567890", "mime_type": "image/jpeg", "caption": "look" } }),
        ),
        message(
            json!({ "type": "document", "document": { "id": "1234567891", "mime_type": "application/pdf", "filename": "a.pdf" } }),
        ),
        message(
            json!({ "type": "reaction", "reaction": { "message_id": "wamid.HBgL0", "emoji": "👍" } }),
        ),
        message(
            json!({ "type": "location", "location": { "latitude": 1.5, "longitude": -2.25, "name": "Home" } }),
        ),
        message(
            json!({ "type": "interactive", "interactive": { "button_reply": { "id": "b1", "title": "Yes" } } }),
        ),
        message(json!({ "type": "button", "button": { "text": "Stop" } })),
        delivery(
            "messages",
            json!({ "statuses": [{ "id": "wamid.HBgL0", "status": "read", "recipient_id": "15550000002" }] }),
        ),
        delivery(
            "messages",
            json!({ "statuses": [{ "id": "wamid.HBgL0", "status": "failed",
            "errors": [{ "code": 131047, "title": "Re-engagement message", "error_data": { "details": "24 hours" } }] }] }),
        ),
        delivery(
            "calls",
            json!({ "calls": [{ "id": "wacid.1", "event": "connect", "direction": "USER_INITIATED", "from": "15550000002" }] }),
        ),
    ]
}

#[test]
fn only_rightly_signed_json_is_read() {
    fuzz::signed_receiver(&deliveries()[0], deliver, signed);
}

#[test]
fn a_changed_delivery_reports_only_what_it_still_says() {
    let deliveries = Union::new(deliveries().into_iter().map(fuzz::mutated_anywhere));
    check(deliveries, |delivery| {
        let reports = signed(delivery.to_string().as_bytes()).expect("signed JSON is read");
        let value = &delivery["entry"][0]["changes"][0]["value"];
        if value["metadata"]["phone_number_id"] != PHONE_NUMBER_ID {
            prop_assert!(reports.is_empty(), "another number's change: {:?}", reports);
        }
        let says = |what: fn(&Reported) -> bool| reports.iter().any(what);
        if !value["messages"][0]["id"].is_string() {
            let said = says(|r| matches!(r, Reported::Inbound(Inbound::Message(_))));
            prop_assert!(!said, "{:?} reported from {}", reports, delivery);
        }
        if !value["statuses"][0]["id"].is_string() {
            let said = says(|r| {
                matches!(
                    r,
                    Reported::Inbound(Inbound::Ack { .. } | Inbound::Failed { .. })
                )
            });
            prop_assert!(!said, "{:?} reported from {}", reports, delivery);
        }
        Ok(())
    });
}
