//! Chats, contacts and messages: what clients may do to them, and what the upstream tells us.
//!
//! Every operation here is one store write that validates, changes the rows and journals the
//! events describing the change, so a client's acknowledgement, the stored data and the events
//! every other client sees can never disagree. Talking to the upstream is the device actor's
//! job; callers hand it the follow-up (relay a message, send a read receipt) after the commit.

pub mod inbound;
pub mod relay;

use chrono::{Duration, Utc};
use serde::Deserialize;

use crate::model::{
    event::EventData, rfc3339, spec::ConnectorKind, Chat, DeviceId, Media, Message, RelayStatus,
    Template,
};
use crate::store::actions::Action;
use crate::store::messages::{NewMessage, NotificationSet};
use crate::store::turn::Turn;
use crate::store::{self, Store, StoreError, StoreResult, Tx};

/// How long an `Idempotency-Key` is remembered.
pub const IDEMPOTENCY_WINDOW_HOURS: i64 = 24;
/// Longest `tempId` or `Idempotency-Key` accepted.
const MAX_KEY_LEN: usize = 128;
/// Longest chat or message id accepted.
const MAX_ID_LEN: usize = 256;

#[derive(Debug, thiserror::Error)]
pub enum MessagingError {
    #[error("no device with this id")]
    DeviceNotFound,
    #[error("the device is not linked yet; scan its QR code first")]
    DeviceNotReady,
    #[error("no chat {0} on this device")]
    ChatNotFound(String),
    #[error("no message {0} on this device")]
    MessageNotFound(String),
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

type Result<T> = std::result::Result<T, MessagingError>;

fn invalid(message: impl Into<String>) -> MessagingError {
    MessagingError::Invalid(message.into())
}

/// `message:send` and `POST …/chats/{chatId}/messages`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SendRequest {
    pub chat_id: String,
    #[serde(default)]
    pub text: String,
    #[serde(default, deserialize_with = "crate::model::nested::optional_object")]
    pub media: Option<Media>,
    #[serde(default)]
    pub reply_to: Option<String>,
    #[serde(default)]
    pub temp_id: Option<String>,
    /// Sent as this template instead of as text (Cloud API devices only).
    #[serde(default, deserialize_with = "crate::model::nested::optional_object")]
    pub template: Option<Template>,
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
    /// Whether this asks for what `original` holds: a retry of the same send. (A revoked
    /// message no longer holds its text, so it is not asked.)
    fn repeats(&self, original: &Message) -> bool {
        self.text == original.body
            && self.reply_to == original.reply_to
            && self.media.as_ref().map(|media| &media.url)
                == original.media.as_ref().map(|media| &media.url)
    }

    fn validate(&self) -> Result<()> {
        check_id("chatId", &self.chat_id)?;
        if self.text.trim().is_empty() && self.media.is_none() && self.template.is_none() {
            return Err(invalid(
                "a message needs a non-empty `text`, a `media` link or a `template`",
            ));
        }
        if let Some(template) = &self.template {
            check_template(template)?;
            if self.media.is_some() {
                return Err(invalid(
                    "a `template` carries its own media: send it without `media`",
                ));
            }
        }
        if let Some(media) = &self.media {
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
        if let Some(temp_id) = &self.temp_id {
            check_key("tempId", temp_id)?;
        }
        Ok(())
    }
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

/// How many digits a phone number has, country code included (E.164 allows 15).
const NUMBER_DIGITS: std::ops::RangeInclusive<usize> = 5..=15;

fn is_number(digits: &str) -> bool {
    NUMBER_DIGITS.contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit())
}

/// The digits of a phone number as people write it: country code first, with or without a
/// `+`, and with any spaces, dashes, dots and parentheses.
pub fn phone_digits(raw: &str) -> Result<String> {
    let kept: String = raw
        .trim()
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')'))
        .collect();
    let digits = kept.strip_prefix('+').unwrap_or(&kept);
    if !is_number(digits) {
        return Err(invalid(format!(
            "`phone` must be a number with its country code: {} to {} digits, with or without `+`",
            NUMBER_DIGITS.start(),
            NUMBER_DIGITS.end()
        )));
    }
    Ok(digits.to_owned())
}

/// The name a chat opened with a number gets: the contact's, if the upstream reported one
/// under that id, or else the number.
fn new_chat_name(tx: &Tx<'_>, device: &DeviceId, chat_id: &str, digits: &str) -> Result<String> {
    Ok(store::chats::get_contact(tx.conn(), device, chat_id)?
        .map_or_else(|| format!("+{digits}"), |contact| contact.name))
}

fn check_id(field: &str, value: &str) -> Result<()> {
    if value.is_empty() || value.len() > MAX_ID_LEN {
        return Err(invalid(format!(
            "`{field}` must be a non-empty string of at most {MAX_ID_LEN} bytes"
        )));
    }
    Ok(())
}

pub fn check_key(field: &str, value: &str) -> Result<()> {
    if value.is_empty() || value.len() > MAX_KEY_LEN {
        return Err(invalid(format!(
            "`{field}` must be a non-empty string of at most {MAX_KEY_LEN} bytes"
        )));
    }
    Ok(())
}

/// The account a linked device speaks as; sending needs one.
fn me_of(tx: &Tx<'_>, device: &DeviceId) -> Result<String> {
    store::devices::me(tx.conn(), device)?
        .ok_or(MessagingError::DeviceNotFound)?
        .map(|me| me.id)
        .ok_or(MessagingError::DeviceNotReady)
}

fn chat_must_exist(tx: &Tx<'_>, device: &DeviceId, chat: &str) -> Result<()> {
    match store::chats::exists(tx.conn(), device, chat)? {
        true => Ok(()),
        false => Err(MessagingError::ChatNotFound(chat.to_owned())),
    }
}

fn message_of(tx: &Tx<'_>, device: &DeviceId, id: &str) -> Result<Message> {
    store::messages::get_message(tx.conn(), device, id)?
        .ok_or_else(|| MessagingError::MessageNotFound(id.to_owned()))
}

/// Runs a messaging write. A refusal (unknown chat, bad input) is the operation's answer, not
/// a store failure, so the write still commits: every operation below therefore checks
/// everything before it changes anything, and a refusal leaves no trace.
async fn write<R: Send + 'static>(
    store: &Store,
    op: impl FnOnce(&mut Tx<'_>) -> Result<R> + Send + 'static,
) -> Result<R> {
    store.write(answering(op)).await?
}

/// [`write`] in a client connection's line (see [`Turn`]), when it has one.
async fn write_in_turn<R: Send + 'static>(
    store: &Store,
    turn: Option<Turn>,
    op: impl FnOnce(&mut Tx<'_>) -> Result<R> + Send + 'static,
) -> Result<R> {
    match turn {
        Some(turn) => store.write_in_turn(turn, answering(op)).await?,
        None => write(store, op).await,
    }
}

/// A messaging operation as a store write whose answer is the operation's outcome.
fn answering<R>(
    op: impl FnOnce(&mut Tx<'_>) -> Result<R>,
) -> impl FnOnce(&mut Tx<'_>) -> StoreResult<Result<R>> {
    move |tx| match op(tx) {
        Err(MessagingError::Store(error)) => Err(error),
        answer => Ok(answer),
    }
}

/// Accepts a message for sending: stores it at ack `pending` and journals `message`,
/// `message:status queued` and `chat:update`. Returns the message and whether it is new (a
/// repeated `tempId` or `Idempotency-Key` returns the original). With a `turn`, the message
/// is stored after the requests that arrived before it on the same connection.
pub async fn send(
    store: &Store,
    device: &DeviceId,
    request: SendRequest,
    dedup: Dedup,
    turn: Option<Turn>,
) -> Result<(Message, bool)> {
    request.validate()?;
    if let Dedup::IdempotencyKey(key) = &dedup {
        check_key("Idempotency-Key", key)?;
    }
    let device = device.clone();
    write_in_turn(store, turn, move |tx| {
        let me = me_of(tx, &device)?;
        let now = Utc::now();
        let since = rfc3339(now - Duration::hours(IDEMPOTENCY_WINDOW_HOURS));
        let original = match (&dedup, &request.temp_id) {
            (Dedup::IdempotencyKey(key), _) => {
                store::messages::by_idempotency_key(tx.conn(), &device, key, &since)?
            }
            (Dedup::TempId, Some(temp_id)) => {
                store::messages::by_temp_id(tx.conn(), &device, temp_id)?
            }
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
            None => {
                chat_must_exist(tx, &device, &request.chat_id)?;
                None
            }
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
        let kind = request.media.as_ref().map_or("text", Media::message_type);
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
                reply_to: request.reply_to.as_deref(),
                timestamp: &at,
                temp_id: request.temp_id.as_deref(),
                idempotency_key: key,
                relay: Some(RelayStatus::Queued),
                seen: true,
                now: &at,
            },
        )?;
        tx.journal(&device, EventData::Message(message.clone()))?;
        tx.journal(
            &device,
            EventData::MessageStatus {
                message_id: id.clone(),
                status: RelayStatus::Queued.as_str(),
                attempt: 0,
                error: None,
            },
        )?;
        if let Some(chat) = tx.touch_chat(&device, &message, &at, false)? {
            tx.chat_changed(&device, chat);
        }
        Ok((message, true))
    })
    .await
}

/// Our side read a chat up to `up_to` (everything if `None`): journals `message:read`, the
/// chat's new unread count and the notifications this clears, and keeps the read receipt for
/// the upstream. Returns the ids of the messages newly read.
pub async fn mark_read(
    store: &Store,
    device: &DeviceId,
    chat_id: String,
    up_to: Option<String>,
) -> Result<Vec<String>> {
    check_id("chatId", &chat_id)?;
    let device = device.clone();
    write(store, move |tx| {
        let me = me_of(tx, &device)?;
        chat_must_exist(tx, &device, &chat_id)?;
        if let Some(up_to) = &up_to {
            let message = message_of(tx, &device, up_to)?;
            if message.chat_id != chat_id {
                return Err(invalid("`messageId` must be a message of this chat"));
            }
        }
        let seen = tx.mark_seen(&device, &chat_id, up_to.as_deref())?;
        if seen.is_empty() {
            return Ok(Vec::new());
        }
        let (message_ids, upstream_ids): (Vec<_>, Vec<_>) = seen.into_iter().unzip();
        let upstream_ids: Vec<String> = upstream_ids.into_iter().flatten().collect();
        if !upstream_ids.is_empty() {
            tx.queue_action(&device, &chat_id, &Action::MarkRead { upstream_ids })?;
        }
        tx.journal(
            &device,
            EventData::MessageRead {
                chat_id: chat_id.clone(),
                message_ids: message_ids.clone(),
                read_by: me,
            },
        )?;
        if let Some(chat) = tx.recount_unread(&device, &chat_id)? {
            tx.chat_changed(&device, chat);
        }
        let cleared = tx.read_notifications(&device, NotificationSet::Chat(&chat_id))?;
        if !cleared.is_empty() {
            tx.journal(&device, EventData::NotificationRead { ids: cleared })?;
        }
        Ok(message_ids)
    })
    .await
}

/// Our side reacted to a message (an empty emoji removes the reaction), to be told upstream.
pub async fn react(
    store: &Store,
    device: &DeviceId,
    message_id: String,
    emoji: String,
) -> Result<()> {
    check_id("messageId", &message_id)?;
    if emoji.len() > 32 || emoji.chars().any(char::is_control) {
        return Err(invalid(
            "`emoji` must be one emoji (or empty to remove a reaction)",
        ));
    }
    let device = device.clone();
    write(store, move |tx| {
        let me = me_of(tx, &device)?;
        let message = message_of(tx, &device, &message_id)?;
        let action = Action::React {
            message_id: message_id.clone(),
            emoji: emoji.clone(),
        };
        tx.queue_action(&device, &message.chat_id, &action)?;
        tx.journal(
            &device,
            EventData::MessageReaction {
                chat_id: message.chat_id,
                message_id,
                from: me,
                emoji,
            },
        )?;
        Ok(())
    })
    .await
}

/// Deletes one of our messages for everyone: the upstream is told once it has the message,
/// and one still in the relay queue is never sent.
pub async fn revoke(store: &Store, device: &DeviceId, message_id: String) -> Result<()> {
    check_id("messageId", &message_id)?;
    let device = device.clone();
    write(store, move |tx| {
        me_of(tx, &device)?;
        let message = message_of(tx, &device, &message_id)?;
        if !message.from_me {
            return Err(invalid(
                "only messages sent from this device can be revoked",
            ));
        }
        if tx.revoke_message(&device, &message_id)? {
            let action = Action::Revoke {
                message_id: message_id.clone(),
            };
            tx.queue_action(&device, &message.chat_id, &action)?;
            tx.journal(
                &device,
                EventData::MessageRevoked {
                    chat_id: message.chat_id,
                    message_id,
                },
            )?;
        }
        Ok(())
    })
    .await
}

/// Which notifications `notification:read` clears.
pub enum NotificationsRead {
    All,
    Ids(Vec<String>),
}

/// Marks notifications read and journals `notification:read` so every client clears them.
/// Returns the ids that were unread.
pub async fn read_notifications(
    store: &Store,
    device: &DeviceId,
    which: NotificationsRead,
) -> Result<Vec<String>> {
    if let NotificationsRead::Ids(ids) = &which {
        for id in ids {
            check_id("ids[]", id)?;
        }
    }
    let device = device.clone();
    write(store, move |tx| {
        let set = match &which {
            NotificationsRead::All => NotificationSet::All,
            NotificationsRead::Ids(ids) => NotificationSet::Ids(ids),
        };
        let ids = tx.read_notifications(&device, set)?;
        if !ids.is_empty() {
            tx.journal(&device, EventData::NotificationRead { ids: ids.clone() })?;
        }
        Ok(ids)
    })
    .await
}

/// How a chat is to be shown: archived or not, muted or not (`chat:archive`, `chat:mute`,
/// `PATCH …/chats/{chatId}`). A flag left out stays as it is.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({ "archived": true }))]
pub struct ChatFlags {
    #[serde(default)]
    pub archived: Option<bool>,
    #[serde(default)]
    pub muted: Option<bool>,
}

/// Archives, unarchives, mutes or unmutes a chat, for every client of the device (one
/// `chat:update` when something changed), and keeps an archive for the upstream. Returns the
/// chat as it now is.
pub async fn set_chat_flags(
    store: &Store,
    device: &DeviceId,
    chat_id: String,
    flags: ChatFlags,
) -> Result<Chat> {
    check_id("chatId", &chat_id)?;
    if flags.archived.is_none() && flags.muted.is_none() {
        return Err(invalid("nothing to change: give `archived` and/or `muted`"));
    }
    let device = device.clone();
    write(store, move |tx| {
        match tx.set_chat_flags(&device, &chat_id, flags.archived, flags.muted)? {
            Some(chat) => {
                if let Some(archived) = flags.archived {
                    tx.queue_action(&device, &chat_id, &Action::Archive { archived })?;
                }
                tx.chat_changed(&device, chat.clone());
                Ok(chat)
            }
            // No row changed: the chat is as asked already, or there is no such chat.
            None => store::chats::get_chat(tx.conn(), &device, &chat_id)?
                .ok_or(MessagingError::ChatNotFound(chat_id)),
        }
    })
    .await
}

/// Opens a direct chat with `chat_id`, the id the upstream gave for the phone number `digits`,
/// and journals its `chat:update`. Returns the chat and whether it is new; a chat that exists
/// already is returned as it is.
pub async fn open_chat(
    store: &Store,
    device: &DeviceId,
    chat_id: String,
    digits: String,
) -> Result<(Chat, bool)> {
    check_id("chatId", &chat_id)?;
    let device = device.clone();
    write(store, move |tx| {
        if let Some(chat) = store::chats::get_chat(tx.conn(), &device, &chat_id)? {
            return Ok((chat, false));
        }
        let name = new_chat_name(tx, &device, &chat_id, &digits)?;
        let at = rfc3339(Utc::now());
        let chat = tx
            .upsert_chat(&device, &chat_id, &name, "direct", &at)?
            .ok_or(MessagingError::ChatNotFound(chat_id))?;
        tx.chat_changed(&device, chat.clone());
        Ok((chat, true))
    })
    .await
}

/// Checks that a chat exists (before typing in it).
pub async fn require_chat(store: &Store, device: &DeviceId, chat_id: &str) -> Result<Chat> {
    check_id("chatId", chat_id)?;
    let (device, lookup) = (device.clone(), chat_id.to_owned());
    store
        .read(move |conn| store::chats::get_chat(conn, &device, &lookup))
        .await?
        .ok_or_else(|| MessagingError::ChatNotFound(chat_id.to_owned()))
}
