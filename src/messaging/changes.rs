//! What a client does to a message once it is sent: edits its text, votes on a poll, forwards
//! it to another chat. Each is one store write that checks everything first, changes the
//! message, journals the change and keeps for the upstream what it must be told.

use chrono::{DateTime, Duration, Utc};

use crate::model::event::{EventData, MessageEdited, PollVote};
use crate::model::{capability::Capability, ids::phone_of, rfc3339, DeviceId, Message};
use crate::store::actions::Action;
use crate::store::{Store, Tx};

use super::send::{NewPoll, SendRequest};
use super::{check_id, invalid, me_for, message_of, write, MessagingError, Result};

/// How long after sending a message may be edited: WhatsApp's window.
pub const EDIT_WINDOW_MINUTES: i64 = 15;

/// Replaces the text (or a file's caption) of a message this account sent, within
/// [`EDIT_WINDOW_MINUTES`]: stores it with `editedAt`, journals `message:edited` and keeps the
/// edit for the upstream. Returns the message as edited.
pub async fn edit(
    store: &Store,
    device: &DeviceId,
    message_id: String,
    text: String,
) -> Result<Message> {
    check_id("messageId", &message_id)?;
    let device = device.clone();
    write(store, move |tx| {
        me_for(tx, &device, Capability::MessageEdit)?;
        let message = message_of(tx, &device, &message_id)?;
        if !message.from_me || message.revoked {
            return Err(invalid(
                "only a message sent from this device, and not revoked, can be edited",
            ));
        }
        let editable = message.kind == "text" || message.media.is_some();
        if !editable {
            return Err(invalid(format!(
                "a {} has no text to edit: only a text or a file's caption can be",
                message.kind
            )));
        }
        if message.kind == "text" && text.trim().is_empty() {
            return Err(invalid(
                "`text` must not be empty: revoke the message instead",
            ));
        }
        let now = Utc::now();
        let sent = DateTime::parse_from_rfc3339(&message.timestamp)
            .map(|sent| sent.with_timezone(&Utc))
            .unwrap_or(now);
        if now - sent > Duration::minutes(EDIT_WINDOW_MINUTES) {
            return Err(MessagingError::EditWindowClosed);
        }
        let edited_at = rfc3339(now);
        edited(tx, &device, &message, &text, &edited_at)?;
        let action = Action::Edit {
            message_id: message.id.clone(),
            text: text.clone(),
        };
        tx.queue_action(&device, &message.chat_id, &action)?;
        Ok(Message {
            body: text,
            edited_at: Some(edited_at),
            ..message
        })
    })
    .await
}

/// Stores an edit of `message`, from either side, and journals `message:edited`.
pub(super) fn edited(
    tx: &mut Tx<'_>,
    device: &DeviceId,
    message: &Message,
    body: &str,
    edited_at: &str,
) -> crate::store::StoreResult<()> {
    tx.edit_message(device, message, body, edited_at)?;
    tx.journal(
        device,
        EventData::MessageEdited(MessageEdited {
            chat_id: message.chat_id.clone(),
            message_id: message.id.clone(),
            body: body.to_owned(),
            edited_at: edited_at.to_owned(),
        }),
    )?;
    Ok(())
}

/// This account votes `options` on a poll (none: takes its vote back): the poll's tally
/// changes, `poll:vote` is journaled and the vote kept for the upstream.
pub async fn vote(
    store: &Store,
    device: &DeviceId,
    message_id: String,
    options: Vec<String>,
) -> Result<()> {
    check_id("messageId", &message_id)?;
    let device = device.clone();
    write(store, move |tx| {
        let me = me_for(tx, &device, Capability::SendPoll)?;
        let message = message_of(tx, &device, &message_id)?;
        let Some(poll) = &message.content.poll else {
            return Err(invalid("only a poll takes votes"));
        };
        poll.check_vote(&options).map_err(invalid)?;
        voted(tx, &device, &message, &me, &options)?;
        let action = Action::Vote {
            message_id: message.id.clone(),
            options,
        };
        tx.queue_action(&device, &message.chat_id, &action)?;
        Ok(())
    })
    .await
}

/// Records `voter`'s vote on the poll `message`, from either side: the new tally and
/// `poll:vote`, unless it changes nothing (a vote repeated).
pub(super) fn voted(
    tx: &mut Tx<'_>,
    device: &DeviceId,
    message: &Message,
    voter: &str,
    options: &[String],
) -> crate::store::StoreResult<()> {
    let mut content = message.content.clone();
    let Some(poll) = content.poll.as_mut() else {
        return Ok(());
    };
    let options: Vec<String> = options
        .iter()
        .filter(|option| poll.options.contains(option))
        .cloned()
        .collect();
    if !poll.vote(voter, &options) {
        return Ok(());
    }
    tx.set_content(device, message, &content)?;
    tx.journal(
        device,
        EventData::PollVote(PollVote {
            chat_id: message.chat_id.clone(),
            message_id: message.id.clone(),
            voter: voter.to_owned(),
            from_phone: phone_of(voter).map(str::to_owned),
            options,
        }),
    )?;
    Ok(())
}

/// What forwarding `message` to `chat_id` sends: a copy of its text, file and content,
/// marked forwarded (a poll's votes are not copied: it is a new poll).
pub fn forwarded_copy(message: &Message, chat_id: String) -> Result<SendRequest> {
    if message.revoked {
        return Err(invalid("a revoked message has nothing to forward"));
    }
    if message.template.is_some() || message.kind == "system" {
        return Err(invalid(format!(
            "a {} cannot be forwarded",
            if message.kind == "system" {
                "system line"
            } else {
                "template"
            }
        )));
    }
    let content = &message.content;
    Ok(SendRequest {
        chat_id,
        text: message.body.clone(),
        media: message.media.clone().map(|mut media| {
            media.kind = crate::model::MediaKind::of_type(&message.kind);
            media
        }),
        location: content.location.clone(),
        contacts: content.contacts.clone(),
        poll: content.poll.as_ref().map(|poll| NewPoll {
            question: poll.question.clone(),
            options: poll.options.clone(),
            multiple: poll.multiple,
        }),
        reply_to: None,
        temp_id: None,
        template: None,
        forwarded: true,
        forward_of: message.upstream_id.clone(),
    })
}
