//! Accepting a message for sending: the request, its checks, and the write that stores it
//! and journals its events before the relay hands it to the upstream.

use chrono::{Duration, Utc};
use serde::Deserialize;

use crate::model::content::{
    ContactCard, Content, Location, Poll, MAX_CONTACT_CARDS, MAX_LABEL_CHARS, MAX_VCARD_BYTES,
    POLL_OPTIONS,
};
use crate::model::event::MessageStatus;
use crate::model::{
    capability::Capability, event::EventData, rfc3339, spec::ConnectorKind, DeviceId, Media,
    Message, RelayStatus, TempId, Template,
};
use crate::store::messages::NewMessage;
use crate::store::turn::Turn;
use crate::store::{self, Store, Tx};

use super::{
    check_id, check_key, invalid, is_number, me_for_chat, message_of, new_chat_name, write_in_turn,
    MessagingError, Result, IDEMPOTENCY_WINDOW_HOURS,
};

/// `message:send` and `POST …/chats/{chatId}/messages`.
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS), ts(optional_fields))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SendRequest {
    pub chat_id: String,
    #[serde(default)]
    #[cfg_attr(test, ts(optional = nullable))]
    pub text: String,
    #[serde(default, deserialize_with = "crate::model::nested::optional_object")]
    pub media: Option<Media>,
    #[serde(default, deserialize_with = "crate::model::nested::optional_object")]
    pub location: Option<Location>,
    #[serde(default)]
    pub contacts: Option<Vec<ContactCard>>,
    #[serde(default, deserialize_with = "crate::model::nested::optional_object")]
    pub poll: Option<NewPoll>,
    #[serde(default)]
    pub reply_to: Option<String>,
    /// A string or a number, given back as it came (see [`TempId`]).
    #[serde(default)]
    pub temp_id: Option<TempId>,
    /// Sent as this template instead of as text (Cloud API devices only).
    #[serde(default, deserialize_with = "crate::model::nested::optional_object")]
    pub template: Option<Template>,
    /// A copy of another message (see [`super::forwarded_copy`]); never given by a client.
    #[serde(skip)]
    #[cfg_attr(test, ts(skip))]
    pub forwarded: bool,
    /// The original's upstream id, on a forwarded copy (see [`Content::forward_of`]).
    #[serde(skip)]
    #[cfg_attr(test, ts(skip))]
    pub forward_of: Option<String>,
}

/// A poll to send: its question, 2 to 12 distinct options, and whether one may pick several.
#[derive(Debug, Clone, PartialEq, Deserialize, utoipa::ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct NewPoll {
    #[schema(min_length = 1, max_length = 256, example = "Lunch at one?")]
    pub question: String,
    #[schema(min_items = 2, max_items = 12, example = json!(["Yes", "No"]))]
    pub options: Vec<String>,
    #[serde(default)]
    #[cfg_attr(test, ts(optional = nullable))]
    pub multiple: bool,
}

/// What makes a repeated send the same message.
#[derive(Debug, Clone, PartialEq)]
pub enum Dedup {
    /// The request's own `tempId`, if any: forever.
    TempId,
    /// An `Idempotency-Key` header: for 24 hours.
    IdempotencyKey(String),
}

impl SendRequest {
    /// A text to `chat_id`, answering `reply_to` if given: the plainest send.
    pub fn text(chat_id: String, text: String, reply_to: Option<String>) -> Self {
        SendRequest {
            chat_id,
            text,
            media: None,
            location: None,
            contacts: None,
            poll: None,
            reply_to,
            temp_id: None,
            template: None,
            forwarded: false,
            forward_of: None,
        }
    }

    /// Whether this asks for what `original` holds: a retry of the same send. (A revoked
    /// message no longer holds its text, so it is not asked.)
    fn repeats(&self, original: &Message) -> bool {
        self.text == original.body
            && self.reply_to == original.reply_to
            && self.media.as_ref().map(|media| &media.url)
                == original.media.as_ref().map(|media| &media.url)
            && self.content() == original.content
    }

    /// The message's type and content once the request is checked as a send is: what the
    /// simulated world's contacts send is made with it, so they send what users can.
    pub fn composed(&self) -> Result<(&'static str, Content)> {
        self.validate()?;
        Ok((self.kind().0, self.content()))
    }

    /// What the message carries beside its text and file, as it is kept.
    fn content(&self) -> Content {
        Content {
            location: self.location.clone(),
            contacts: self.contacts.as_ref().map(|cards| {
                cards
                    .iter()
                    .map(|card| ContactCard {
                        vcard: Some(card.vcard.clone().unwrap_or_else(|| card.to_vcard())),
                        ..card.clone()
                    })
                    .collect()
            }),
            poll: self
                .poll
                .as_ref()
                .map(|poll| Poll::new(poll.question.clone(), poll.options.clone(), poll.multiple)),
            forwarded: self.forwarded,
            forward_of: self.forward_of.clone(),
            ..Content::default()
        }
    }

    /// The message's `type`, and what the device's connector must be able to do to send it.
    fn kind(&self) -> (&'static str, Capability) {
        if let Some(media) = &self.media {
            let kind = media.message_type();
            let operation = match kind {
                "image" => Capability::SendImage,
                "voice" => Capability::SendVoice,
                "video" => Capability::SendVideo,
                _ => Capability::SendDocument,
            };
            return (kind, operation);
        }
        match (&self.location, &self.contacts, &self.poll) {
            (Some(_), _, _) => ("location", Capability::SendLocation),
            (_, Some(_), _) => ("contact", Capability::SendContact),
            (_, _, Some(_)) => ("poll", Capability::SendPoll),
            _ => ("text", Capability::SendText),
        }
    }

    fn validate(&self) -> Result<()> {
        check_id("chatId", &self.chat_id)?;
        let given: Vec<&str> = [
            ("media", self.media.is_some()),
            ("location", self.location.is_some()),
            ("contacts", self.contacts.is_some()),
            ("poll", self.poll.is_some()),
            ("template", self.template.is_some()),
        ]
        .into_iter()
        .filter_map(|(field, given)| given.then_some(field))
        .collect();
        match given.as_slice() {
            [] if self.text.trim().is_empty() => {
                return Err(invalid(
                    "a message needs one content: a non-empty `text`, a `media` link, a `location`, `contacts`, a `poll` or a `template`",
                ))
            }
            [] | [_] => {}
            [first, second, ..] => {
                return Err(invalid(format!(
                    "a message carries one content: `{first}` or `{second}`, not both"
                )))
            }
        }
        if matches!(given.as_slice(), ["location" | "contacts" | "poll"]) && !self.text.is_empty() {
            return Err(invalid(format!(
                "`text` is a caption, for a `media`: a `{}` is sent without it",
                given[0]
            )));
        }
        if let Some(location) = &self.location {
            check_location(location)?;
        }
        if let Some(cards) = &self.contacts {
            check_cards(cards)?;
        }
        if let Some(poll) = &self.poll {
            check_poll(poll)?;
        }
        if let Some(template) = &self.template {
            check_template(template)?;
        }
        if let Some(media) = &self.media {
            if let Some(kind) = media.kind.filter(|kind| !kind.takes(&media.mime)) {
                return Err(invalid(format!(
                    "a `{}` cannot be a file of type {}",
                    kind.as_str(),
                    media.mime
                )));
            }
            let url = url::Url::parse(&media.url)
                .map_err(|_| invalid("`media.url` must be an absolute http(s) URL"))?;
            if !matches!(url.scheme(), "http" | "https") {
                return Err(invalid(
                    "`media.url` must be an http(s) link; attachments are not carried inline",
                ));
            }
            if !Media::is_mime_type(&media.mime) {
                return Err(invalid(
                    "`media.mime` must be a mime type such as image/png",
                ));
            }
        }
        if let Some(TempId::Text(temp_id)) = &self.temp_id {
            check_key("tempId", temp_id)?;
        }
        Ok(())
    }
}

/// Whether `text` is at most [`MAX_LABEL_CHARS`] characters, and not blank unless `optional`.
fn label(field: &str, text: &str, optional: bool) -> Result<()> {
    if (!optional && text.trim().is_empty()) || text.chars().count() > MAX_LABEL_CHARS {
        return Err(invalid(format!(
            "`{field}` must be a text of 1 to {MAX_LABEL_CHARS} characters"
        )));
    }
    Ok(())
}

fn check_location(location: &Location) -> Result<()> {
    if !(-90.0..=90.0).contains(&location.latitude)
        || !(-180.0..=180.0).contains(&location.longitude)
    {
        return Err(invalid(
            "`location` is out of range: `latitude` -90 to 90, `longitude` -180 to 180",
        ));
    }
    for (field, text) in [
        ("location.name", &location.name),
        ("location.address", &location.address),
    ] {
        if let Some(text) = text {
            label(field, text, false)?;
        }
    }
    Ok(())
}

fn check_cards(cards: &[ContactCard]) -> Result<()> {
    if cards.is_empty() || cards.len() > MAX_CONTACT_CARDS {
        return Err(invalid(format!(
            "`contacts` must hold 1 to {MAX_CONTACT_CARDS} cards"
        )));
    }
    for card in cards {
        label("contacts[].name", &card.name, false)?;
        if card.phones.is_empty() && card.vcard.is_none() {
            return Err(invalid(
                "a contact card needs `phones` (or its own `vcard`)",
            ));
        }
        for phone in &card.phones {
            super::phone_digits(phone)?;
        }
        if card.vcard.as_ref().is_some_and(|vcard| {
            vcard.len() > MAX_VCARD_BYTES || !vcard.trim_start().starts_with("BEGIN:VCARD")
        }) {
            return Err(invalid(format!(
                "`contacts[].vcard` must be a vCard (BEGIN:VCARD …) of at most {MAX_VCARD_BYTES} bytes"
            )));
        }
    }
    Ok(())
}

fn check_poll(poll: &NewPoll) -> Result<()> {
    label("poll.question", &poll.question, false)?;
    if !POLL_OPTIONS.contains(&poll.options.len()) {
        return Err(invalid(format!(
            "a poll has {} to {} options",
            POLL_OPTIONS.start(),
            POLL_OPTIONS.end()
        )));
    }
    let mut seen = std::collections::HashSet::new();
    for option in &poll.options {
        label("poll.options[]", option, false)?;
        if !seen.insert(option.trim()) {
            return Err(invalid(format!(
                "a poll's options are distinct: {option:?} is given twice"
            )));
        }
    }
    Ok(())
}

/// Meta's rules for a template reference: a name of lowercase letters, digits and `_`, a
/// language code such as `en_US`, and `components` as a list.
fn check_template(template: &Template) -> Result<()> {
    let name_ok = (1..=512).contains(&template.name.len())
        && template
            .name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if !name_ok {
        return Err(invalid(
            "`template.name` must be a template's name: lowercase letters, digits and `_`",
        ));
    }
    let language_ok = (2..=15).contains(&template.language.len())
        && template
            .language
            .bytes()
            .all(|b| b.is_ascii_alphabetic() || b == b'_');
    if !language_ok {
        return Err(invalid(
            "`template.language` must be a language code such as `en_US`",
        ));
    }
    if template
        .components
        .as_ref()
        .is_some_and(|components| !components.is_array())
    {
        return Err(invalid("`template.components` must be a list"));
    }
    Ok(())
}

/// A template opens a conversation: on a Cloud API device it may go to a number that has no
/// chat yet (`<digits>@c.us`). Other connectors send no templates. Returns the name of the
/// chat to create, if it is new: the send creates it once every check has passed.
fn template_chat(tx: &Tx<'_>, device: &DeviceId, chat_id: &str) -> Result<Option<String>> {
    let on_cloud_api = tx
        .device(device)?
        .is_some_and(|record| record.connector == ConnectorKind::CloudApi.as_str());
    if !on_cloud_api {
        return Err(invalid(
            "only Cloud API devices send templates; send `text` instead",
        ));
    }
    if store::chats::exists(tx.conn(), device, chat_id)? {
        return Ok(None);
    }
    let digits = chat_id.strip_suffix("@c.us").unwrap_or_default();
    if !is_number(digits) {
        return Err(invalid(
            "a template to a new chat needs a number's chat id, `<digits>@c.us`",
        ));
    }
    Ok(Some(new_chat_name(tx, device, chat_id, digits)?))
}

/// Accepts a message for sending: stores it at ack `pending` and journals `message` and
/// `chat:update`, and `message:status queued` when the message `waits` for the upstream (the
/// device is not ready); a message that goes at once is told by its acks alone. Returns the
/// message and whether it is new (a repeated `tempId` or `Idempotency-Key` returns the
/// original). With a `turn`, the message is stored after the requests that arrived before it
/// on the same connection.
pub async fn send(
    store: &Store,
    device: &DeviceId,
    request: SendRequest,
    dedup: Dedup,
    turn: Option<Turn>,
    waits: bool,
) -> Result<(Message, bool)> {
    let mut request = request;
    if let Some(media) = request.media.as_mut().filter(|media| media.mime.is_empty()) {
        let named = media.name.as_deref().unwrap_or(media.url.as_str());
        media.mime = Media::mime_for(named.split(['?', '#']).next().unwrap_or_default()).to_owned();
    }
    request.validate()?;
    if let Dedup::IdempotencyKey(key) = &dedup {
        check_key("Idempotency-Key", key)?;
    }
    let device = device.clone();
    let (kind, operation) = request.kind();
    // A forward is the connector's to make, whatever the copy holds.
    let operation = match request.forwarded {
        true => Capability::MessageForward,
        false => operation,
    };
    let content = request.content();
    write_in_turn(store, turn, move |tx| {
        // Asked first, so that its answer comes with the device's.
        let by_temp_id = match (&dedup, &request.temp_id) {
            (Dedup::TempId, Some(temp_id)) => Some(store::messages::by_temp_id(
                tx.conn(),
                &device,
                &temp_id.key(),
            )?),
            _ => None,
        };
        let (me, has_chat) = me_for_chat(tx, &device, operation, &request.chat_id)?;
        let now = Utc::now();
        let since = now - Duration::hours(IDEMPOTENCY_WINDOW_HOURS);
        let original = match (&dedup, by_temp_id) {
            (Dedup::IdempotencyKey(key), _) => {
                store::messages::by_idempotency_key(tx.conn(), &device, key, since)?
            }
            (Dedup::TempId, Some(asked)) => tx.conn().answer(asked)?,
            (Dedup::TempId, None) => None,
        };
        if let Some(original) = original {
            let key = match dedup {
                Dedup::IdempotencyKey(_) => "Idempotency-Key",
                Dedup::TempId => "tempId",
            };
            // A key names one send: reused for another chat, it is a client's mistake, and
            // answering the first chat's message would put it in the wrong conversation.
            if original.chat_id != request.chat_id {
                return Err(invalid(format!(
                    "this `{key}` was used for a message of another chat; use a new one for each message"
                )));
            }
            // Reused for another text, answering the first message would drop the second
            // without a word (and show the first to a caller who may not have sent it).
            if !original.revoked && !request.repeats(&original) {
                return Err(invalid(format!(
                    "this `{key}` was used for another message; use a new one for each message"
                )));
            }
            return Ok((original, false));
        }
        let new_chat = match &request.template {
            Some(_) => template_chat(tx, &device, &request.chat_id)?,
            None if has_chat => None,
            None => return Err(MessagingError::ChatNotFound(request.chat_id.clone())),
        };
        if let Some(reply_to) = &request.reply_to {
            let quoted = message_of(tx, &device, reply_to)?;
            if quoted.chat_id != request.chat_id {
                return Err(invalid("`replyTo` must be a message of the same chat"));
            }
        }
        let at = rfc3339(now);
        if let Some(name) = new_chat {
            tx.upsert_chat(&device, &request.chat_id, &name, "direct", &at)?;
        }
        let key = match &dedup {
            Dedup::IdempotencyKey(key) => {
                // A key older than the window may be reused: forget its old message's claim.
                tx.release_idempotency_key(&device, key)?;
                Some(key.as_str())
            }
            Dedup::TempId => None,
        };
        let id = tx.new_id("msg_");
        let message = tx.insert_message(
            &device,
            &NewMessage {
                id: &id,
                chat_id: &request.chat_id,
                upstream_id: None,
                from: &me,
                from_me: true,
                kind,
                body: &request.text,
                media: request.media.as_ref(),
                template: request.template.as_ref(),
                content: &content,
                reply_to: request.reply_to.as_deref(),
                timestamp: &at,
                temp_id: request.temp_id.as_ref(),
                idempotency_key: key,
                relay: Some(RelayStatus::Queued),
                seen: true,
                now: &at,
            },
        )?;
        tx.journal(&device, EventData::Message(message.clone()))?;
        if waits {
            tx.journal(
                &device,
                EventData::MessageStatus(MessageStatus {
                    message_id: id.clone(),
                    chat_id: request.chat_id.clone(),
                    status: RelayStatus::Queued.as_str(),
                    attempt: 0,
                    error: None,
                    reason: None,
                    send_at: None,
                }),
            )?;
        }
        tx.touch_chat(&device, &message, &at, false)?;
        Ok((message, true))
    })
    .await
}
