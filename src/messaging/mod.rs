//! Chats, contacts and messages: what clients may do to them, and what the upstream tells us.
//!
//! Every operation here is one store write that validates, changes the rows and journals the
//! events describing the change, so a client's acknowledgement, the stored data and the events
//! every other client sees can never disagree. Talking to the upstream is the device actor's
//! job; callers hand it the follow-up (relay a message, send a read receipt) after the commit.

mod acks;
pub mod attempts;
mod changes;
mod chats;
mod contacts;
mod groups;
pub mod inbound;
mod send;

use crate::model::{capability::Capability, spec::ConnectorKind, DeviceId, Message};
use crate::store::sql::Conn;
use crate::store::turn::Turn;
use crate::store::{self, Store, StoreError, StoreResult, Tx};

/// How long an `Idempotency-Key` is remembered.
pub const IDEMPOTENCY_WINDOW_HOURS: i64 = 24;
/// Longest `tempId` or `Idempotency-Key` accepted, in characters (as JSON Schema's
/// `maxLength` counts, so that the OpenAPI document can say it).
const MAX_KEY_LEN: usize = 128;
/// Longest chat or message id accepted, in characters.
const MAX_ID_LEN: usize = 256;

#[derive(Debug, thiserror::Error)]
pub enum MessagingError {
    #[error("no device with this id")]
    DeviceNotFound,
    #[error("the device is not linked yet; scan its QR code first")]
    DeviceNotReady,
    #[error("no chat {0} on this device")]
    ChatNotFound(String),
    #[error("no contact {0} on this device")]
    ContactNotFound(String),
    #[error("no message {0} on this device")]
    MessageNotFound(String),
    #[error("{0}")]
    Invalid(String),
    #[error(
        "a message can be edited for {} minutes after it was sent",
        changes::EDIT_WINDOW_MINUTES
    )]
    EditWindowClosed,
    #[error("a {connector} device cannot do {}", .operation.as_str())]
    Unsupported {
        connector: &'static str,
        operation: Capability,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

type Result<T> = std::result::Result<T, MessagingError>;

fn invalid(message: impl Into<String>) -> MessagingError {
    MessagingError::Invalid(message.into())
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
    Ok(store::contacts::get_contact(tx.conn(), device, chat_id)?
        .map_or_else(|| format!("+{digits}"), |contact| contact.name))
}

/// Checks the form of a chat or message id: what an upstream could have given.
pub fn check_id(field: &str, value: &str) -> Result<()> {
    if value.is_empty() || value.chars().count() > MAX_ID_LEN {
        return Err(invalid(format!(
            "`{field}` must be a non-empty string of at most {MAX_ID_LEN} characters"
        )));
    }
    Ok(())
}

pub fn check_key(field: &str, value: &str) -> Result<()> {
    if value.is_empty() || value.chars().count() > MAX_KEY_LEN {
        return Err(invalid(format!(
            "`{field}` must be a non-empty string of at most {MAX_KEY_LEN} characters"
        )));
    }
    Ok(())
}

/// The account a linked device speaks as; anything a client asks of the upstream needs one.
fn me_of(tx: &Tx<'_>, device: &DeviceId) -> Result<String> {
    speaker(tx, device, None)
}

/// [`me_of`], for an operation the device's connector must be able to do: one it cannot is
/// refused before anything is stored.
fn me_for(tx: &Tx<'_>, device: &DeviceId, operation: Capability) -> Result<String> {
    speaker(tx, device, Some(operation))
}

fn speaker(tx: &Tx<'_>, device: &DeviceId, operation: Option<Capability>) -> Result<String> {
    linked(able(tx.conn(), device, operation, None)?)
}

/// [`me_for`], and whether `chat` is one of the device's, read together: a send needs both.
fn me_for_chat(
    tx: &Tx<'_>,
    device: &DeviceId,
    operation: Capability,
    chat: &str,
) -> Result<(String, bool)> {
    let speaker = able(tx.conn(), device, Some(operation), Some(chat))?;
    let has_chat = speaker.has_chat;
    Ok((linked(speaker)?, has_chat))
}

fn linked(speaker: store::devices::Speaker) -> Result<String> {
    speaker
        .me
        .map(|me| me.id)
        .ok_or(MessagingError::DeviceNotReady)
}

/// Device `device` (with whether `chat` is one of its chats), once it is known that the
/// device exists and that its connector can do `operation`.
fn able(
    conn: &Conn,
    device: &DeviceId,
    operation: Option<Capability>,
    chat: Option<&str>,
) -> Result<store::devices::Speaker> {
    let speaker =
        store::devices::speaker(conn, device, chat)?.ok_or(MessagingError::DeviceNotFound)?;
    let kind = ConnectorKind::named(&speaker.connector);
    if let (Some(kind), Some(operation)) = (kind, operation) {
        if !kind.can(operation) {
            return Err(MessagingError::Unsupported {
                connector: kind.as_str(),
                operation,
            });
        }
    }
    Ok(speaker)
}

/// Checks, before the upstream is asked anything, that device `device` exists and that its
/// connector can do `operation`: what is only looked up is refused as a write would be.
pub async fn require(store: &Store, device: &DeviceId, operation: Capability) -> Result<()> {
    let device = device.clone();
    store
        .read(move |conn| Ok(able(conn, &device, Some(operation), None)))
        .await?
        .map(drop)
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

pub use changes::{edit, forwarded_copy, vote};
pub use chats::{
    mark_read, open_chat, react, read_notifications, require_chat, revoke, set_chat_flags,
    NotificationsRead,
};
pub use contacts::{keep_profile, set_blocked};
pub use send::{send, Dedup, NewPoll, SendRequest};
