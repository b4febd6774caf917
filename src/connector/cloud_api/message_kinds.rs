//! Every kind of message Meta's webhooks carry, as devicebridge's message types: what each one
//! says (`body`), its file, and what it carries beside them (a place, contact cards, a voice
//! note's mark). Separate from the rest of the webhook because Meta's list of kinds is long
//! and grows; a kind devicebridge does not know yet still arrives, as a `system` line naming
//! it, rather than vanishing.

use serde_json::Value;

use super::media;
use crate::model::content::{ContactCard, Content, Location};
use crate::model::Media;

/// A message of Meta's, read: its type, text, file and content.
pub(super) struct Read {
    pub kind: &'static str,
    pub body: String,
    pub media: Option<Media>,
    pub content: Content,
}

impl Read {
    fn said(kind: &'static str, body: String) -> Self {
        Read {
            kind,
            body,
            media: None,
            content: Content::default(),
        }
    }
}

/// Reads `message` (one of `messages[]`, not a reaction); files are served under `media_base`.
pub(super) fn read(message: &Value, media_base: &str) -> Read {
    let kind = message["type"].as_str().unwrap_or_default();
    let text = |path: &[&str]| {
        let found = path.iter().fold(message, |value, key| &value[*key]);
        found.as_str().unwrap_or_default().to_owned()
    };
    let mut read = match kind {
        "text" => Read::said("text", text(&["text", "body"])),
        // Media comes as an id to download from the Graph API; the caption is the body.
        "image" | "sticker" | "video" | "audio" | "document" => {
            let object = &message[kind];
            let shown = match kind {
                "image" => "image",
                "sticker" => "sticker",
                "video" => "video",
                "audio" if object["voice"] == true => "voice",
                "audio" => "audio",
                _ => "document",
            };
            Read {
                media: media_of(object, media_base),
                ..Read::said(shown, text(&[kind, "caption"]))
            }
        }
        "location" => {
            let place = &message["location"];
            let content = Content {
                location: Some(Location {
                    latitude: place["latitude"].as_f64().unwrap_or_default(),
                    longitude: place["longitude"].as_f64().unwrap_or_default(),
                    name: place["name"].as_str().map(str::to_owned),
                    address: place["address"].as_str().map(str::to_owned),
                }),
                ..Content::default()
            };
            Read {
                content,
                ..Read::said("location", String::new())
            }
        }
        "contacts" => {
            let cards: Vec<ContactCard> = message["contacts"]
                .as_array()
                .into_iter()
                .flatten()
                .map(card)
                .collect();
            Read {
                content: Content {
                    contacts: Some(cards),
                    ..Content::default()
                },
                ..Read::said("contact", String::new())
            }
        }
        "button" => Read::said("text", text(&["button", "text"])),
        "interactive" => Read::said("text", interactive_reply(&message["interactive"])),
        "order" => Read::said("text", order(&message["order"])),
        // The customer changed number, or the like: Meta's own words.
        "system" => Read::said("system", text(&["system", "body"])),
        "request_welcome" => Read::said("system", "opened the chat".into()),
        other => Read::said("system", format!("unsupported message type: {other}")),
    };
    read.content.forwarded = message["context"]["forwarded"] == true
        || message["context"]["frequently_forwarded"] == true;
    // A message that came from an ad says which, as WhatsApp shows it above the message.
    if let Some(ad) = message["referral"]["headline"].as_str() {
        read.body = match read.body.is_empty() {
            true => format!("(from the ad \"{ad}\")"),
            false => format!("{} (from the ad \"{ad}\")", read.body),
        };
    }
    read
}

/// The media a message's `image`, `video`, … object announces, served under `media_base`.
fn media_of(object: &Value, media_base: &str) -> Option<Media> {
    let id = object["id"].as_str().filter(|id| media::is_media_id(id))?;
    Some(Media {
        url: format!("{media_base}{id}"),
        mime: object["mime_type"]
            .as_str()
            .unwrap_or("application/octet-stream")
            .to_owned(),
        name: object["filename"].as_str().map(str::to_owned),
        size: None,
        kind: None,
    })
}

/// One of Meta's `contacts[]` cards.
fn card(contact: &Value) -> ContactCard {
    let name = &contact["name"];
    let name = name["formatted_name"]
        .as_str()
        .or_else(|| name["first_name"].as_str())
        .unwrap_or_default()
        .to_owned();
    let phones = contact["phones"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|phone| phone["phone"].as_str().or_else(|| phone["wa_id"].as_str()))
        .map(str::to_owned)
        .collect();
    let mut card = ContactCard {
        name,
        phones,
        vcard: None,
    };
    card.vcard = Some(card.to_vcard());
    card
}

/// What a customer picked or sent back from an interactive message: a button's or a list
/// row's title, or a WhatsApp Flow's answer (`nfm_reply`), whose fields are its body.
fn interactive_reply(reply: &Value) -> String {
    if let Some(title) = reply["button_reply"]["title"]
        .as_str()
        .or_else(|| reply["list_reply"]["title"].as_str())
    {
        return title.to_owned();
    }
    let flow = &reply["nfm_reply"];
    let answer = flow["response_json"]
        .as_str()
        .and_then(|json| serde_json::from_str::<Value>(json).ok())
        .and_then(|fields| match fields {
            Value::Object(fields) => Some(
                fields
                    .into_iter()
                    .filter(|(key, _)| key != "flow_token")
                    .map(|(key, value)| match value {
                        Value::String(text) => format!("{key}: {text}"),
                        other => format!("{key}: {other}"),
                    })
                    .collect::<Vec<_>>()
                    .join("\n"),
            ),
            _ => None,
        })
        .filter(|answer| !answer.is_empty());
    answer
        .or_else(|| flow["body"].as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// A cart sent from the business's catalog: what it holds, and the customer's note.
fn order(order: &Value) -> String {
    let items = order["product_items"].as_array().map_or(0, Vec::len);
    let mut line = format!("Order of {items} item{}", if items == 1 { "" } else { "s" });
    if let Some(note) = order["text"].as_str().filter(|note| !note.is_empty()) {
        line += &format!(": {note}");
    }
    line
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const BASE: &str = "http://localhost:3000/api/v1/devices/cl/media/";

    #[test]
    fn every_kind_meta_sends_is_read_as_a_type_of_ours() {
        let voice = read(
            &json!({ "type": "audio", "audio": { "id": "8765", "mime_type": "audio/ogg; codecs=opus", "voice": true } }),
            BASE,
        );
        assert_eq!(
            (voice.kind, voice.media.unwrap().url),
            ("voice", format!("{BASE}8765"))
        );
        let place = read(
            &json!({ "type": "location", "location": { "latitude": 52.37, "longitude": 4.89, "name": "Dam", "address": "Dam 1" } }),
            BASE,
        );
        assert_eq!(place.kind, "location");
        let location = place.content.location.unwrap();
        assert_eq!(
            (location.latitude, location.name.as_deref()),
            (52.37, Some("Dam"))
        );
        let cards = read(
            &json!({ "type": "contacts", "contacts": [{ "name": { "formatted_name": "Bob Lee", "first_name": "Bob" },
                "phones": [{ "phone": "+1 555 000 0003", "wa_id": "15550000003", "type": "CELL" }] }] }),
            BASE,
        );
        let card = &cards.content.contacts.unwrap()[0];
        assert_eq!((cards.kind, card.name.as_str()), ("contact", "Bob Lee"));
        assert_eq!(card.phones, ["+1 555 000 0003"]);
        assert!(card.vcard.as_ref().unwrap().contains("waid=15550000003"));
        let system = read(
            &json!({ "type": "system", "system": { "body": "Maria changed her number", "type": "user_changed_number" } }),
            BASE,
        );
        assert_eq!(
            (system.kind, system.body.as_str()),
            ("system", "Maria changed her number")
        );
        let welcome = read(&json!({ "type": "request_welcome" }), BASE);
        assert_eq!(welcome.kind, "system");
        let cart = read(
            &json!({ "type": "order", "order": { "catalog_id": "1", "text": "by Friday", "product_items": [{}, {}] } }),
            BASE,
        );
        assert_eq!(cart.body, "Order of 2 items: by Friday");
        let flow = read(
            &json!({ "type": "interactive", "interactive": { "type": "nfm_reply", "nfm_reply": {
                "name": "flow", "body": "Sent", "response_json": "{\"flow_token\":\"t\",\"size\":\"M\"}" } } }),
            BASE,
        );
        assert_eq!((flow.kind, flow.body.as_str()), ("text", "size: M"));
        let from_ad = read(
            &json!({ "type": "text", "text": { "body": "Is it in stock?" }, "referral": { "headline": "Spring sale", "source_type": "ad" },
                "context": { "forwarded": true } }),
            BASE,
        );
        assert_eq!(
            from_ad.body,
            "Is it in stock? (from the ad \"Spring sale\")"
        );
        assert!(from_ad.content.forwarded);
        let unknown = read(&json!({ "type": "hologram" }), BASE);
        assert_eq!(
            (unknown.kind, unknown.body.as_str()),
            ("system", "unsupported message type: hologram")
        );
    }
}
