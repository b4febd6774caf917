//! Meta's webhooks: the callback URL check (`hub.challenge`) and deliveries signed with
//! `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body under the app secret>`.
//!
//! Meta retries a delivery that was not answered 2xx, for days, and does not keep statuses in
//! order (`delivered` may never come when a message is read at once). Reading is therefore
//! plain mapping: messages are stored once per `wamid` and acks merge by maximum downstream,
//! so a repeated or late delivery changes nothing.

use chrono::{DateTime, Utc};
use reqwest::header::HeaderMap;
use serde_json::Value;
use subtle::ConstantTimeEq;

use super::message_kinds;
use crate::connector::http::{verify_hmac, HmacSha256};
use crate::model::{
    ids::is_business_scoped_id,
    inbound::{Inbound, Incoming},
    spec::CloudApiSpec,
    upstream::{Reported, WebhookError},
    Ack,
};

/// Meta's check of the callback URL: it must send `hub.mode=subscribe` and our verify token.
pub fn verify_subscription(
    spec: &CloudApiSpec,
    mode: Option<&str>,
    token: Option<&str>,
) -> Result<(), WebhookError> {
    let expected = spec.verify_token.expose().as_bytes();
    let matches = token.is_some_and(|token| bool::from(token.as_bytes().ct_eq(expected)));
    match (mode, matches) {
        (Some("subscribe"), true) => Ok(()),
        _ => Err(WebhookError::WrongVerifyToken),
    }
}

/// Verifies a delivery and reads its messages, statuses and calls. Changes for another phone
/// number (an app can have several) report nothing. `media_base` is where the daemon serves this
/// device's media: a media id appended to it is the file's URL (see [`super::media`]).
pub fn read(
    spec: &CloudApiSpec,
    media_base: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Vec<Reported>, WebhookError> {
    let signature = headers
        .get("x-hub-signature-256")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("sha256="));
    verify_hmac::<HmacSha256>(spec.app_secret.expose(), body, signature)?;
    let payload: Value =
        serde_json::from_slice(body).map_err(|error| WebhookError::Malformed(error.to_string()))?;
    let mut reports = Vec::new();
    let changes = payload["entry"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|entry| entry["changes"].as_array().into_iter().flatten());
    for change in changes {
        let value = &change["value"];
        let field = change["field"].as_str().unwrap_or_default();
        if field != "messages" && field != "calls" {
            continue;
        }
        if value["metadata"]["phone_number_id"].as_str() != Some(&spec.phone_number_id) {
            tracing::debug!(phone_number_id = ?value["metadata"]["phone_number_id"], "change for another phone number ignored");
            continue;
        }
        let contacts = Contacts::of(&value["contacts"]);
        reports.extend(contacts.linked());
        let messages = value["messages"].as_array().into_iter().flatten();
        reports
            .extend(messages.filter_map(|message| inbound_message(message, &contacts, media_base)));
        if field == "calls" {
            let calls = value["calls"].as_array().into_iter().flatten();
            reports.extend(calls.filter_map(|call| ringing(call, &contacts)));
            // A call's own statuses (`RINGING`, `ACCEPTED`, …) name the call, not a message.
            continue;
        }
        let statuses = value["statuses"].as_array().into_iter().flatten();
        reports.extend(statuses.filter_map(status).map(Reported::Inbound));
    }
    Ok(reports)
}

/// The chat id of a customer Meta names by `id`: their number (`wa_id`) as a WhatsApp chat
/// id, or their business-scoped user id as it is.
fn chat_of(id: &str) -> String {
    if is_business_scoped_id(id) {
        id.to_owned()
    } else {
        format!("{id}@c.us")
    }
}

/// One of a change's `contacts[]`: a customer by number (`wa_id`, left out for one who chose a
/// username), by business-scoped user id (`user_id`), and by name.
struct Contact<'a> {
    wa_id: Option<&'a str>,
    user_id: Option<&'a str>,
    name: Option<&'a str>,
}

/// The `contacts[]` of a change: who its messages are from.
struct Contacts<'a> {
    entries: Vec<Contact<'a>>,
}

impl<'a> Contacts<'a> {
    fn of(contacts: &'a Value) -> Self {
        let entries = contacts
            .as_array()
            .into_iter()
            .flatten()
            .map(|contact| Contact {
                wa_id: contact["wa_id"].as_str(),
                user_id: contact["user_id"].as_str(),
                // A username is what WhatsApp shows for a customer who has no name set.
                name: contact["profile"]["name"]
                    .as_str()
                    .or_else(|| contact["profile"]["username"].as_str()),
            })
            .collect();
        Contacts { entries }
    }

    /// Customers named by number and user id together: the number behind the user id.
    fn linked(&self) -> impl Iterator<Item = Reported> + '_ {
        self.entries.iter().filter_map(|contact| {
            Some(Reported::Inbound(Inbound::Linked {
                id: contact.user_id?.to_owned(),
                number: chat_of(contact.wa_id?),
            }))
        })
    }

    /// The name of the customer named `id` (by number or user id).
    fn name(&self, id: &str) -> Option<&'a str> {
        self.entries
            .iter()
            .find(|contact| contact.wa_id == Some(id) || contact.user_id == Some(id))
            .and_then(|contact| contact.name)
    }

    /// Who a message (or a call) is from: its `from` (a number), else its `from_user_id`,
    /// else the one contact of the change.
    fn sender(&self, message: &'a Value) -> Option<&'a str> {
        message["from"]
            .as_str()
            .or_else(|| message["from_user_id"].as_str())
            .or(match self.entries.as_slice() {
                [only] => only.wa_id.or(only.user_id),
                _ => None,
            })
    }
}

fn timestamp(value: &Value) -> DateTime<Utc> {
    value
        .as_str()
        .and_then(|secs| secs.parse().ok())
        .and_then(|secs| DateTime::<Utc>::from_timestamp(secs, 0))
        .unwrap_or_else(Utc::now)
}

/// One of `messages[]`: a message to us, or a reaction to one of ours.
fn inbound_message(message: &Value, contacts: &Contacts, media_base: &str) -> Option<Reported> {
    let from = contacts.sender(message)?;
    let upstream_id = message["id"].as_str()?.to_owned();
    let kind = message["type"].as_str().unwrap_or_default();
    if kind == "reaction" {
        let reaction = &message["reaction"];
        return Some(Reported::Inbound(Inbound::Reaction {
            upstream_id: reaction["message_id"].as_str()?.to_owned(),
            from: chat_of(from),
            emoji: reaction["emoji"].as_str().unwrap_or_default().to_owned(),
        }));
    }
    let read = message_kinds::read(message, media_base);
    Some(Reported::Inbound(Inbound::Message(Box::new(Incoming {
        upstream_id,
        chat_id: chat_of(from),
        chat_name: None,
        group: false,
        from: chat_of(from),
        from_name: contacts.name(from).map(str::to_owned),
        from_me: false,
        kind: read.kind.to_owned(),
        body: read.body,
        media: read.media,
        content: read.content,
        reply_to: message["context"]["id"].as_str().map(str::to_owned),
        timestamp: timestamp(&message["timestamp"]),
    }))))
}

/// One of a `calls` change's `calls[]`: a customer calling the business (`connect`,
/// `USER_INITIATED`) rings as a `call` notification. The call's later events (`terminate`) and
/// the business's own calls ring nothing. Meta's calls are voice only.
fn ringing(call: &Value, contacts: &Contacts) -> Option<Reported> {
    let incoming = call["event"] == "connect"
        && call["direction"]
            .as_str()
            .is_none_or(|direction| direction == "USER_INITIATED");
    if !incoming {
        return None;
    }
    let from = chat_of(contacts.sender(call)?);
    Some(Reported::Inbound(Inbound::Call {
        chat_id: from.clone(),
        from,
        video: false,
    }))
}

/// One of `statuses[]`: sent → server, delivered → device, read → read, failed → error.
fn status(status: &Value) -> Option<Inbound> {
    let upstream_id = status["id"].as_str()?.to_owned();
    let ack = match status["status"].as_str()? {
        "sent" => Ack::Server,
        "delivered" => Ack::Device,
        "read" => Ack::Read,
        "failed" => {
            let error = &status["errors"][0];
            let title = error["title"]
                .as_str()
                .or_else(|| error["message"].as_str())
                .unwrap_or("Meta could not deliver the message");
            let error = match (
                error["code"].as_i64(),
                error["error_data"]["details"].as_str(),
            ) {
                (Some(code), Some(details)) => format!("{title} ({code}): {details}"),
                (Some(code), None) => format!("{title} ({code})"),
                (None, _) => title.to_owned(),
            };
            return Some(Inbound::Failed { upstream_id, error });
        }
        other => {
            tracing::debug!(status = other, "Cloud API status not followed");
            return None;
        }
    };
    Some(Inbound::Ack {
        upstream_id,
        ack,
        by: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Media;
    use serde_json::json;

    #[test]
    fn statuses_map_onto_acks_and_failures() {
        let at = |s: &str| status(&json!({ "id": "wamid.1", "status": s, "recipient_id": "1555" }));
        assert!(matches!(
            at("sent"),
            Some(Inbound::Ack {
                ack: Ack::Server,
                ..
            })
        ));
        assert!(matches!(
            at("delivered"),
            Some(Inbound::Ack {
                ack: Ack::Device,
                ..
            })
        ));
        assert!(matches!(
            at("read"),
            Some(Inbound::Ack { ack: Ack::Read, .. })
        ));
        assert_eq!(at("deleted"), None);
        let failed = status(&json!({ "id": "wamid.1", "status": "failed", "errors": [
            { "code": 131047, "title": "Re-engagement message", "error_data": { "details": "More than 24 hours have passed" } }
        ] }));
        assert_eq!(
            failed,
            Some(Inbound::Failed {
                upstream_id: "wamid.1".into(),
                error: "Re-engagement message (131047): More than 24 hours have passed".into()
            })
        );
    }

    #[test]
    fn media_messages_carry_the_daemons_url_for_their_file() {
        let base = "http://bridge.example/api/v1/devices/cl/media/";
        let no_contacts = Value::Null;
        let contacts = Contacts::of(&no_contacts);
        let media = |message: Value| match inbound_message(&message, &contacts, base) {
            Some(Reported::Inbound(Inbound::Message(incoming))) => {
                (incoming.kind, incoming.body, incoming.media)
            }
            other => panic!("not a message: {other:?}"),
        };
        let (kind, body, sticker) =
            media(json!({ "from": "1555", "id": "wamid.S", "type": "sticker",
            "sticker": { "id": "4321", "mime_type": "image/webp", "animated": false } }));
        assert_eq!((kind.as_str(), body.as_str()), ("sticker", ""));
        assert_eq!(
            sticker,
            Some(Media {
                url: format!("{base}4321"),
                mime: "image/webp".into(),
                name: None,
                size: None,
                kind: None,
            })
        );
        let (kind, _, voice) = media(json!({ "from": "1555", "id": "wamid.V", "type": "audio",
            "audio": { "id": "8765", "mime_type": "audio/ogg; codecs=opus", "voice": true } }));
        assert_eq!(kind, "voice");
        assert_eq!(voice.unwrap().mime, "audio/ogg; codecs=opus");
        // An id that is not Meta's shape gets no URL rather than a broken one.
        let (kind, body, none) = media(json!({ "from": "1555", "id": "wamid.B", "type": "video",
            "video": { "id": "../x", "mime_type": "video/mp4", "caption": "look" } }));
        assert_eq!(
            (kind.as_str(), body.as_str(), none),
            ("video", "look", None)
        );
    }

    #[test]
    fn business_scoped_user_ids_are_chats_of_their_own_and_numbers_are_chat_ids() {
        assert_eq!(chat_of("15551234567"), "15551234567@c.us");
        for id in ["US.13491208655302741918", "BR.ENT.1502576394655843"] {
            assert!(is_business_scoped_id(id), "{id}");
            assert_eq!(chat_of(id), id);
        }
        for not_one in [
            "15551234567",
            "us.1349",
            "USA.1349",
            "US.",
            "US.ENT.",
            "US.13-49",
        ] {
            assert!(!is_business_scoped_id(not_one), "{not_one}");
        }
    }

    #[test]
    fn a_message_without_a_number_is_from_its_user_id_or_the_one_contact() {
        let one = json!([{ "profile": { "name": "Nova" }, "user_id": "BR.1502" }]);
        let contacts = Contacts::of(&one);
        assert_eq!(contacts.sender(&json!({ "from": "1555" })), Some("1555"));
        assert_eq!(
            contacts.sender(&json!({ "from_user_id": "US.7" })),
            Some("US.7")
        );
        assert_eq!(contacts.sender(&json!({})), Some("BR.1502"));
        assert_eq!(contacts.name("BR.1502"), Some("Nova"));
        assert_eq!(contacts.linked().count(), 0, "no number, nothing linked");
        let unnamed = json!([{ "profile": { "username": "@nova" }, "user_id": "BR.1502" }]);
        assert_eq!(Contacts::of(&unnamed).name("BR.1502"), Some("@nova"));
        let two = json!([{ "user_id": "BR.1" }, { "user_id": "BR.2" }]);
        assert_eq!(Contacts::of(&two).sender(&json!({})), None, "whose is it?");
    }

    #[test]
    fn a_customers_call_rings_and_nothing_else_about_calls_does() {
        let contacts = json!([{ "profile": { "name": "Nova" }, "wa_id": "1555" }]);
        let contacts = Contacts::of(&contacts);
        let rings = |call: Value| ringing(&call, &contacts);
        let incoming = rings(json!({ "id": "wacid.1", "from": "1555", "to": "1666",
            "event": "connect", "direction": "USER_INITIATED", "timestamp": "1733734738",
            "session": { "sdp_type": "offer", "sdp": "v=0" } }));
        assert_eq!(
            incoming,
            Some(Reported::Inbound(Inbound::Call {
                chat_id: "1555@c.us".into(),
                from: "1555@c.us".into(),
                video: false,
            }))
        );
        // A customer known only by user id calls from it.
        let by_user_id = rings(json!({ "id": "wacid.2", "from_user_id": "US.7",
            "event": "connect", "direction": "USER_INITIATED" }));
        assert!(matches!(by_user_id,
            Some(Reported::Inbound(Inbound::Call { chat_id, .. })) if chat_id == "US.7"));
        for quiet in [
            json!({ "id": "wacid.1", "from": "1555", "event": "terminate",
                "direction": "USER_INITIATED", "status": "COMPLETED", "duration": 33 }),
            json!({ "id": "wacid.3", "from": "1666", "to": "1555", "event": "connect",
                "direction": "BUSINESS_INITIATED" }),
        ] {
            assert_eq!(rings(quiet.clone()), None, "{quiet}");
        }
    }

    #[test]
    fn the_subscription_check_needs_the_token() {
        let spec = CloudApiSpec {
            verify_token: crate::model::spec::Secret::new("v-token"),
            ..CloudApiSpec::default()
        };
        assert_eq!(
            verify_subscription(&spec, Some("subscribe"), Some("v-token")),
            Ok(())
        );
        for (mode, token) in [
            (Some("subscribe"), Some("nope")),
            (Some("other"), Some("v-token")),
            (None, None),
        ] {
            assert_eq!(
                verify_subscription(&spec, mode, token),
                Err(WebhookError::WrongVerifyToken)
            );
        }
    }
}

#[cfg(test)]
mod fuzz;
