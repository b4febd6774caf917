//! What a WAHA message carries beside its text: a place, contact cards, a poll, a voice
//! note's mark and length, a forward. WAHA gives some of it in its own fields (`location`,
//! `vCards`) and the rest only in the engine's data (`_data`), each engine its own way; this is
//! where those shapes are read, apart from the webhook's envelope and events.

use serde_json::Value;

use crate::model::content::{ContactCard, Content, Location, Poll};
use crate::model::Media;

/// A text WAHA gave, unless it is empty.
pub(super) fn text(value: &Value) -> Option<&str> {
    value.as_str().filter(|text| !text.is_empty())
}

/// A message's kind and what it carries beside its text, from WAHA's `WAMessage`: its
/// `location`, `vCards`, and for what only the engine's own data tells (WEBJS's `_data`: a voice
/// note is `ptt`, a sticker `sticker`, a poll `poll_creation`), that.
pub(super) fn content_of(message: &Value, media: Option<&Media>) -> (&'static str, Content) {
    let data = &message["_data"];
    let engine_type = data["type"].as_str().unwrap_or_default();
    let mut content = Content {
        forwarded: data["isForwarded"].as_bool().unwrap_or(false),
        duration_secs: data["duration"]
            .as_str()
            .and_then(|secs| secs.parse().ok())
            .or_else(|| {
                data["duration"]
                    .as_u64()
                    .and_then(|secs| secs.try_into().ok())
            }),
        ..Content::default()
    };
    if let Some(media) = media {
        let kind = match engine_type {
            "ptt" => "voice",
            "sticker" => "sticker",
            _ => media.message_type(),
        };
        return (kind, content);
    }
    let location = &message["location"];
    if let (Some(latitude), Some(longitude)) = (
        number(&location["latitude"]),
        number(&location["longitude"]),
    ) {
        content.location = Some(Location {
            latitude,
            longitude,
            name: text(&location["description"])
                .or_else(|| text(&location["name"]))
                .map(str::to_owned),
            address: text(&location["address"]).map(str::to_owned),
        });
        return ("location", content);
    }
    let cards: Vec<ContactCard> = message["vCards"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|vcard| ContactCard::from_vcard(vcard.as_str()?))
        .collect();
    if !cards.is_empty() {
        content.contacts = Some(cards);
        return ("contact", content);
    }
    if engine_type == "poll_creation" {
        let options: Vec<String> = data["pollOptions"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|option| text(&option["name"]).map(str::to_owned))
            .collect();
        content.poll = Some(Poll::new(
            text(&data["pollName"]).unwrap_or_default().to_owned(),
            options,
            data["pollSelectableOptionsCount"].as_u64() != Some(1),
        ));
        return ("poll", content);
    }
    ("text", content)
}

/// A number WAHA gave as a number or as its text.
fn number(value: &Value) -> Option<f64> {
    value
        .as_f64()
        .or_else(|| value.as_str().and_then(|text| text.parse().ok()))
        .filter(|number: &f64| number.is_finite())
}
