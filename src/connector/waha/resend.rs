//! Sending a message once, even when WAHA's answer to the first try was lost.
//!
//! WAHA's send endpoints take no id of ours, so a try that got no answer (a timeout, a
//! dropped connection, a server error after the engine had already sent it) leaves it unknown
//! whether WhatsApp has the message. Trying again blindly sends it twice. So before a message
//! is handed to WAHA again — a retry, or a message that was waiting when the session opened
//! and may have been in flight when the daemon stopped — the connector lists the chat's
//! newest messages (`GET /api/{session}/chats/{chatId}/messages`) and, if one of ours there
//! is this message, takes its id instead of sending.
//!
//! A chat is listed once per session for the messages that were waiting when it opened (after
//! an outage they are many, and what WAHA had then does not change by our listing it again);
//! a retry, whose earlier try may have just reached WAHA, lists it afresh.
//!
//! "Is this message" means: from us, no older than the message's acceptance (less
//! [`CLOCK_SKEW`]), the same content (text, caption and file, or place), and not an id
//! WAHA already named for another of our sends. That last test is what keeps two identical
//! texts sent seconds apart from being taken for one; it is kept in memory, so the one case
//! left is two identical messages within seconds of each other with the daemon stopping in
//! between. Contact cards and polls are not recognised (WAHA's listing of them differs by
//! engine) and are sent again, as before.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use reqwest::Method;
use serde_json::Value;

use super::engines::id_of;
use super::Waha;
use crate::model::{
    upstream::{ConnectorError, Outgoing},
    Message,
};

/// How far WAHA's clock may be behind ours and a message still be recognised.
const CLOCK_SKEW_SECS: i64 = 5;
/// How many of the chat's newest messages are looked through.
const LOOK_BACK: &str = "20";
/// How many ids of our sends are remembered.
const REMEMBERED: usize = 4096;

/// The ids WAHA named for our sends, newest last.
#[derive(Debug, Default)]
pub(super) struct SentIds {
    order: Mutex<(VecDeque<String>, HashSet<String>)>,
}

impl SentIds {
    pub(super) fn remember(&self, id: &str) {
        let mut guard = self
            .order
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let (order, known) = &mut *guard;
        if known.insert(id.to_owned()) {
            order.push_back(id.to_owned());
        }
        while order.len() > REMEMBERED {
            if let Some(oldest) = order.pop_front() {
                known.remove(&oldest);
            }
        }
    }

    fn knows(&self, id: &str) -> bool {
        let guard = self
            .order
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        guard.1.contains(id)
    }
}

/// The chats' newest messages as WAHA listed them since the session opened, by chat.
#[derive(Debug, Default)]
pub(super) struct Listings(Mutex<HashMap<String, Value>>);

impl Listings {
    /// Forgets every listing: a session opened again may have sent more meanwhile.
    pub(super) fn clear(&self) {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clear();
    }

    fn get(&self, chat_id: &str) -> Option<Value> {
        let guard = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        guard.get(chat_id).cloned()
    }

    fn keep(&self, chat_id: &str, listed: &Value) {
        let mut guard = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        guard.insert(chat_id.to_owned(), listed.clone());
    }
}

/// Whether `outgoing` may already have reached WAHA: it was tried before, or it was accepted
/// before the session opened (and so may have been in hand when the daemon stopped).
pub(super) fn may_have_been_sent(outgoing: &Outgoing, opened_at: DateTime<Utc>) -> bool {
    outgoing.attempts > 0 || accepted_at(&outgoing.message).is_some_and(|at| at < opened_at)
}

fn accepted_at(message: &Message) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(&message.timestamp)
        .ok()
        .map(Into::into)
}

impl Waha {
    /// The id of `outgoing` if WAHA already has it among the chat's newest messages.
    pub(super) async fn already_sent(
        &self,
        outgoing: &Outgoing,
    ) -> Result<Option<String>, ConnectorError> {
        let message = &outgoing.message;
        let recognisable = message.content.contacts.is_none() && message.content.poll.is_none();
        let Some(accepted) = accepted_at(message).filter(|_| recognisable) else {
            return Ok(None);
        };
        let listed = match self.listings.get(&message.chat_id) {
            Some(listed) if outgoing.attempts == 0 => listed,
            _ => {
                let session = self.spec.session.as_str();
                let listed = self
                    .http
                    .call(
                        self.request(
                            Method::GET,
                            &["api", session, "chats", &message.chat_id, "messages"],
                        )
                        .query(&[("limit", LOOK_BACK), ("downloadMedia", "false")]),
                    )
                    .await?;
                self.listings.keep(&message.chat_id, &listed);
                listed
            }
        };
        let found = listed
            .as_array()
            .into_iter()
            .flatten()
            .filter(|listed| listed["fromMe"] == true)
            .filter(|listed| {
                listed["timestamp"]
                    .as_i64()
                    .is_some_and(|secs| secs >= accepted.timestamp() - CLOCK_SKEW_SECS)
            })
            .filter(|listed| same_content(message, listed))
            .filter_map(|listed| id_of(&listed["id"]))
            .filter(|id| !self.sent_ids.knows(id))
            .min_by_key(|id| id.clone());
        if let Some(id) = &found {
            tracing::info!(
                message_id = %message.id,
                upstream_id = %id,
                "WAHA already had a message whose answer was lost; it is not sent again"
            );
        }
        Ok(found)
    }
}

/// Whether a message WAHA lists carries what `message` does.
fn same_content(message: &Message, listed: &Value) -> bool {
    if let Some(place) = &message.content.location {
        let close = |field: &str, ours: f64| {
            listed["location"][field]
                .as_f64()
                .or_else(|| listed["location"][field].as_str()?.parse().ok())
                .is_some_and(|theirs| (theirs - ours).abs() < 1e-6)
        };
        return close("latitude", place.latitude) && close("longitude", place.longitude);
    }
    let has_media = listed["hasMedia"].as_bool().unwrap_or(false);
    let body = listed["body"].as_str().unwrap_or_default();
    has_media == message.media.is_some() && body == message.body
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_text_is_recognised_by_its_body_and_not_by_a_file_with_that_caption() {
        let message = Message::sample("1@c.us", "hello");
        assert!(same_content(
            &message,
            &json!({ "body": "hello", "hasMedia": false })
        ));
        assert!(!same_content(
            &message,
            &json!({ "body": "hello", "hasMedia": true })
        ));
        assert!(!same_content(&message, &json!({ "body": "hello!" })));
    }

    #[test]
    fn remembered_ids_are_bounded() {
        let ids = SentIds::default();
        for n in 0..=REMEMBERED {
            ids.remember(&format!("id{n}"));
        }
        assert!(!ids.knows("id0"), "the oldest is forgotten");
        assert!(ids.knows(&format!("id{REMEMBERED}")));
    }
}
