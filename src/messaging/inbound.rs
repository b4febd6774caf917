//! What the upstream tells us about chats and messages, applied to the store.
//!
//! Connectors report [`Inbound`] items; the device actor applies a whole batch of them in one
//! write with [`apply`], so a burst of acks costs one
//! commit. Upstreams repeat themselves (webhook retries, resyncs): everything here is
//! idempotent — a message already stored by its upstream id is not stored twice, and acks
//! merge by maximum.

use std::collections::{BTreeMap, BTreeSet};

use chrono::Utc;

use super::acks::{acked, journal_ack, leaves_acked_alone, time_acks};
use crate::metrics::ConnectorMetrics;
use crate::model::event::{
    ChatMerged, MessageReaction, MessageRead, MessageRevoked, Notification, StatusNew,
};
use crate::model::{
    event::EventData,
    ids::phone_of,
    inbound::{Directory, Inbound, Incoming, TypingChange},
    rfc3339,
    spec::{Broadcast, DeviceFilters, Filtered},
    Ack, ChatFlags, DeviceId, Message,
};
use crate::store::messages::{AckSubject, AckSubjects, NewMessage};
use crate::store::{self, StoreResult, Tx};

fn chat_kind(group: bool) -> &'static str {
    if group {
        "group"
    } else {
        "direct"
    }
}

/// Stores the upstream's contacts, chats and recent messages, journaling what is new or
/// renamed: one `chat:update` per chat that changed. Messages missed in chats that had some
/// arrive like new ones, and are counted in `metrics`; history is not. Stories and channels
/// are no chats: the upstream's list of them and their past posts are left out.
pub fn apply_directory(
    tx: &mut Tx<'_>,
    device: &DeviceId,
    directory: &Directory,
    metrics: &ConnectorMetrics,
) -> StoreResult<()> {
    let is_chat = |chat_id: &str| Broadcast::of(chat_id).is_none();
    let now = rfc3339(Utc::now());
    for contact in &directory.contacts {
        if let Some(changed) = tx.upsert_contact(
            device,
            &contact.id,
            &contact.name,
            contact.push_name.as_deref(),
        )? {
            tx.journal(device, EventData::ContactUpdate(changed))?;
        }
    }
    // Chats without messages before this sync take the history silently.
    let mut quiet: BTreeSet<&str> = BTreeSet::new();
    let history: Vec<&Incoming> = directory
        .history
        .iter()
        .filter(|incoming| is_chat(&incoming.chat_id))
        .collect();
    for incoming in &history {
        if !store::messages::chat_has_messages(tx.conn(), device, &incoming.chat_id)? {
            quiet.insert(&incoming.chat_id);
        }
    }
    for chat in directory.chats.iter().filter(|chat| is_chat(&chat.id)) {
        if tx
            .upsert_chat(device, &chat.id, &chat.name, chat_kind(chat.group), &now)?
            .is_some()
        {
            tx.chat_changed(device, &chat.id);
        }
    }
    // A quiet chat's history touches it (`store_once`), which journals its `chat:update`.
    for incoming in history {
        if !quiet.contains(incoming.chat_id.as_str()) {
            receive(tx, device, incoming, metrics)?;
        } else {
            store_once(tx, device, incoming, true)?;
        }
    }
    Ok(())
}

/// Applies a batch of upstream reports in order, counting the messages received and timing
/// the acks in the series of the device's connector. Stories and channels' posts go where
/// the device's `filters` send them, never into a chat. Returns the typing indicators that
/// changed.
pub fn apply(
    tx: &mut Tx<'_>,
    device: &DeviceId,
    batch: &[Inbound],
    filters: &DeviceFilters,
    metrics: &ConnectorMetrics,
) -> StoreResult<Vec<TypingChange>> {
    let mut typing = Vec::new();
    // Read receipts are gathered per (chat, reader), like one receipt for several messages.
    let mut reads: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    let now = rfc3339(Utc::now());
    let mut subjects = AckSubjects::read(tx, device, batch.iter().filter_map(acked))?;
    for item in batch {
        if !leaves_acked_alone(item) {
            subjects.forget();
        }
        match item {
            Inbound::Message(incoming) => match Broadcast::of(&incoming.chat_id) {
                None => receive(tx, device, incoming, metrics)?,
                Some(broadcast) => posted(tx, device, incoming, filters.of(broadcast))?,
            },
            Inbound::Ack {
                upstream_id,
                ack,
                by,
            } => {
                let Some(mut subject) = subjects.get(tx, device, upstream_id)? else {
                    tracing::debug!(device_id = %device, %upstream_id, "ack for an unknown message");
                    continue;
                };
                let before = subject.ack;
                if !tx.merge_ack(device, &mut subject, *ack)? {
                    continue;
                }
                subjects.changed(&subject);
                time_acks(&subject, before, metrics);
                journal_ack(tx, device, &subject)?;
                if *ack >= Ack::Read && before < Ack::Read {
                    let reader = by.clone().unwrap_or_else(|| subject.chat_id.clone());
                    reads
                        .entry((subject.chat_id, reader))
                        .or_default()
                        .push(subject.id);
                }
            }
            Inbound::ReadBy {
                upstream_id,
                reader,
            } => {
                // Once the whole group has read the message, a member's receipt is no news.
                let unread = subjects
                    .get(tx, device, upstream_id)?
                    .filter(|subject| subject.ack < Ack::Read);
                if let Some(subject) = unread {
                    reads
                        .entry((subject.chat_id, reader.clone()))
                        .or_default()
                        .push(subject.id);
                }
            }
            Inbound::Failed { upstream_id, error } => {
                match store::messages::by_upstream_id(tx.conn(), device, upstream_id)? {
                    Some(message) => super::attempts::upstream_failed(tx, device, &message, error)?,
                    None => {
                        tracing::debug!(device_id = %device, %upstream_id, "failure of an unknown message")
                    }
                }
            }
            Inbound::Typing {
                chat_id,
                contact_id,
                typing: on,
            } => {
                tx.journal(
                    device,
                    EventData::typing(chat_id.clone(), contact_id.clone(), *on),
                )?;
                let presence = if *on { "typing" } else { "online" };
                if let Some(contact) = tx.set_presence(device, contact_id, presence, &now)? {
                    tx.journal(device, EventData::ContactUpdate(contact))?;
                }
                typing.push(TypingChange {
                    chat_id: chat_id.clone(),
                    contact_id: contact_id.clone(),
                    typing: *on,
                });
            }
            Inbound::Presence { contact_id, online } => {
                let presence = if *online { "online" } else { "offline" };
                if let Some(contact) = tx.set_presence(device, contact_id, presence, &now)? {
                    tx.journal(device, EventData::ContactUpdate(contact))?;
                }
            }
            Inbound::Reaction {
                upstream_id,
                from,
                emoji,
            } => {
                if let Some(message) =
                    store::messages::by_upstream_id(tx.conn(), device, upstream_id)?
                {
                    tx.journal(
                        device,
                        EventData::MessageReaction(MessageReaction {
                            chat_id: message.chat_id,
                            message_id: message.id,
                            from: from.clone(),
                            from_phone: phone_of(from).map(str::to_owned),
                            emoji: emoji.clone(),
                        }),
                    )?;
                }
            }
            Inbound::Edited {
                upstream_id,
                body,
                at,
            } => {
                if let Some(message) =
                    store::messages::by_upstream_id(tx.conn(), device, upstream_id)?
                {
                    if message.body != *body && !message.revoked {
                        super::changes::edited(tx, device, &message, body, &rfc3339(*at))?;
                    }
                }
            }
            Inbound::Voted {
                upstream_id,
                voter,
                options,
            } => {
                if let Some(message) =
                    store::messages::by_upstream_id(tx.conn(), device, upstream_id)?
                {
                    super::changes::voted(tx, device, &message, voter, options)?;
                }
            }
            Inbound::Revoked { upstream_id } => {
                let message = store::messages::by_upstream_id(tx.conn(), device, upstream_id)?;
                revoke(tx, device, message)?;
            }
            Inbound::RevokedInChat {
                chat_id,
                message_id,
            } => {
                let message =
                    store::messages::by_short_id_in_chat(tx.conn(), device, chat_id, message_id)?;
                revoke(tx, device, message)?;
            }
            Inbound::Archived { chat_id, archived } => {
                let flags = ChatFlags {
                    archived: Some(*archived),
                    ..ChatFlags::default()
                };
                if let Some(chat) = tx.set_chat_flags(device, chat_id, &flags)? {
                    tx.chat_changed(device, &chat.id);
                }
            }
            Inbound::Call {
                chat_id,
                from,
                video,
            } => ring(tx, device, chat_id, from, *video)?,
            Inbound::GroupNamed { chat_id, name } => {
                if tx
                    .upsert_chat(device, chat_id, name, "group", &now)?
                    .is_some()
                {
                    tx.chat_changed(device, chat_id);
                }
            }
            Inbound::Group {
                update,
                upstream_id,
                at,
            } => super::groups::changed(tx, device, update, upstream_id.as_deref(), *at)?,
            Inbound::Linked { .. } => {}
        }
    }
    for ((chat_id, read_by), message_ids) in reads {
        tx.journal(
            device,
            EventData::MessageRead(MessageRead {
                chat_id,
                message_ids,
                read_by,
            }),
        )?;
    }
    Ok(typing)
}

/// Marks a message the upstream reports revoked, once: `message:revoked`. An unknown message
/// (`None`) changes nothing.
fn revoke(tx: &mut Tx<'_>, device: &DeviceId, message: Option<Message>) -> StoreResult<()> {
    let Some(message) = message else {
        return Ok(());
    };
    if tx.revoke_message(device, &message.id)? {
        tx.journal(
            device,
            EventData::MessageRevoked(MessageRevoked {
                chat_id: message.chat_id,
                message_id: message.id,
            }),
        )?;
    }
    Ok(())
}

/// A story or a channel's post: journaled as `status:new` if the filter says so, and nothing
/// else, so it never opens a chat, counts as unread or rings. Upstreams repeat themselves, but
/// a post is not stored, so a repeated one is journaled again: a sink keys them by
/// `message.upstreamId`.
fn posted(
    tx: &mut Tx<'_>,
    device: &DeviceId,
    incoming: &Incoming,
    filtered: Filtered,
) -> StoreResult<()> {
    if filtered == Filtered::Drop {
        return Ok(());
    }
    let from = match Broadcast::of(&incoming.chat_id) {
        Some(Broadcast::Channel) => incoming.chat_id.clone(),
        _ => incoming.from.clone(),
    };
    let message = Message {
        id: tx.new_id("msg_"),
        upstream_id: Some(incoming.upstream_id.clone()),
        device_id: device.to_string(),
        chat_id: incoming.chat_id.clone(),
        from: incoming.from.clone(),
        from_phone: phone_of(&incoming.from).map(str::to_owned),
        from_me: incoming.from_me,
        kind: incoming.kind.clone(),
        body: incoming.body.clone(),
        media: incoming.media.clone(),
        reply_to: None,
        timestamp: rfc3339(incoming.timestamp),
        ack: Ack::Server.level(),
        ack_name: Ack::Server.name(),
        temp_id: None,
        revoked: false,
        template: None,
        content: incoming.content.clone(),
        edited_at: None,
    };
    tx.journal(device, EventData::StatusNew(StatusNew { from, message }))?;
    Ok(())
}

/// Stores an incoming message once (counting it), updates its chat and raises a notification.
fn receive(
    tx: &mut Tx<'_>,
    device: &DeviceId,
    incoming: &Incoming,
    metrics: &ConnectorMetrics,
) -> StoreResult<()> {
    let Some(message) = store_once(tx, device, incoming, false)? else {
        return Ok(());
    };
    metrics.received.inc();
    let now = rfc3339(Utc::now());
    tx.journal(device, EventData::Message(message.clone()))?;
    tx.touch_chat(device, &message, &now, !incoming.from_me)?;
    if !incoming.from_me {
        if let Some(name) = store::chats::name_unless_muted(tx.conn(), device, &message.chat_id)? {
            notify(tx, device, &name, incoming, &message)?;
        }
    }
    Ok(())
}

/// Stores a message from the upstream unless its upstream id is known, creating its chat
/// (and its sender's contact) if need be. History is stored as read and becomes its chat's
/// last message without counting as unread. Returns the new message.
fn store_once(
    tx: &mut Tx<'_>,
    device: &DeviceId,
    incoming: &Incoming,
    history: bool,
) -> StoreResult<Option<Message>> {
    if store::messages::by_upstream_id(tx.conn(), device, &incoming.upstream_id)?.is_some() {
        return Ok(None);
    }
    if incoming.from_me
        && super::attempts::recognise_echo(
            tx,
            device,
            &incoming.chat_id,
            &incoming.body,
            incoming.media.is_some(),
            &incoming.upstream_id,
        )?
    {
        return Ok(None);
    }
    let now = rfc3339(Utc::now());
    let chat_name = incoming
        .chat_name
        .clone()
        .or_else(|| {
            (!incoming.group)
                .then(|| incoming.from_name.clone())
                .flatten()
        })
        .unwrap_or_else(|| incoming.chat_id.clone());
    if store::chats::get_chat(tx.conn(), device, &incoming.chat_id)?.is_none() {
        tx.upsert_chat(
            device,
            &incoming.chat_id,
            &chat_name,
            chat_kind(incoming.group),
            &now,
        )?;
    }
    if let (false, Some(name)) = (incoming.from_me, &incoming.from_name) {
        if store::contacts::get_contact(tx.conn(), device, &incoming.from)?.is_none() {
            if let Some(contact) = tx.upsert_contact(device, &incoming.from, name, Some(name))? {
                tx.journal(device, EventData::ContactUpdate(contact))?;
            }
        }
    }
    let reply_to = match &incoming.reply_to {
        Some(quoted) => store::messages::by_upstream_id(tx.conn(), device, quoted)?.map(|m| m.id),
        None => None,
    };
    let id = tx.new_id("msg_");
    let timestamp = rfc3339(incoming.timestamp);
    let message = tx.insert_message(
        device,
        &NewMessage {
            id: &id,
            chat_id: &incoming.chat_id,
            upstream_id: Some(&incoming.upstream_id),
            from: &incoming.from,
            from_me: incoming.from_me,
            kind: &incoming.kind,
            body: &incoming.body,
            media: incoming.media.as_ref(),
            template: None,
            content: &incoming.content,
            reply_to: reply_to.as_deref(),
            timestamp: &timestamp,
            temp_id: None,
            idempotency_key: None,
            relay: None,
            seen: incoming.from_me || history,
            now: &now,
        },
    )?;
    let message = match incoming.from_me {
        // Sent from the phone itself: the server has it already.
        true => {
            let mut subject = AckSubject::of(&message);
            tx.merge_ack(device, &mut subject, Ack::Server)?;
            Message {
                ack: subject.ack.level(),
                ack_name: subject.ack.name(),
                ..message
            }
        }
        false => message,
    };
    if history {
        tx.touch_chat(device, &message, &now, false)?;
    }
    Ok(Some(message))
}

/// An incoming call's notification, titled like a message's (the caller, and the group if it
/// is a group call). A muted chat's calls raise none, as its messages raise none.
fn ring(
    tx: &mut Tx<'_>,
    device: &DeviceId,
    chat_id: &str,
    from: &str,
    video: bool,
) -> StoreResult<()> {
    let chat = store::chats::get_chat(tx.conn(), device, chat_id)?;
    if chat.as_ref().is_some_and(|chat| chat.muted) {
        return Ok(());
    }
    let caller = store::contacts::get_contact(tx.conn(), device, from)?
        .map_or_else(|| from.to_owned(), |contact| contact.name);
    let group = chat.filter(|chat| chat.kind == "group");
    let notice = Notice {
        kind: "call",
        title: titled(&caller, group.as_ref().map(|group| group.name.as_str())),
        body: format!("Incoming {} call", if video { "video" } else { "voice" }),
    };
    notice.raise(tx, device, chat_id, None)
}

/// A notification, before it is raised.
struct Notice {
    kind: &'static str,
    title: String,
    body: String,
}

impl Notice {
    /// Journals the notification for `chat_id` and records it unread, so reading the chat
    /// (or `notification:read`) clears it on every client.
    fn raise(
        self,
        tx: &mut Tx<'_>,
        device: &DeviceId,
        chat_id: &str,
        message_id: Option<String>,
    ) -> StoreResult<()> {
        let id = tx.new_id("ntf_");
        tx.insert_notification(device, &id, Some(chat_id))?;
        tx.journal(
            device,
            EventData::Notification(Notification {
                id,
                kind: self.kind,
                title: self.title,
                body: self.body,
                chat_id: Some(chat_id.to_owned()),
                message_id,
            }),
        )?;
        Ok(())
    }
}

/// A notification's title: who, and in which group if it happened in one.
fn titled(who: &str, group: Option<&str>) -> String {
    match group {
        Some(group) => format!("{who} in {group}"),
        None => who.to_owned(),
    }
}

/// A `notification` for an incoming message: "Alice" / "see you at 5".
fn notify(
    tx: &mut Tx<'_>,
    device: &DeviceId,
    chat_name: &str,
    incoming: &Incoming,
    message: &Message,
) -> StoreResult<()> {
    let sender = incoming.from_name.as_deref().unwrap_or(&incoming.from);
    let notice = Notice {
        kind: "message",
        title: titled(sender, incoming.group.then_some(chat_name)),
        body: match (message.body.is_empty(), message.content.summary()) {
            (false, _) => message.body.clone(),
            (true, Some(summary)) => format!("{}: {summary}", message.kind),
            (true, None) => format!("sent a {} message", message.kind),
        },
    };
    notice.raise(tx, device, &message.chat_id, Some(message.id.clone()))
}

/// The upstream told that the linked id `lid` is the person whose number's chat id is
/// `number`: what was stored under the linked id becomes theirs (see
/// [`Tx::merge_person`]), and a chat that was two is journaled as `chat:merged`, then as the
/// one chat it now is.
pub fn merge_person(
    tx: &mut Tx<'_>,
    device: &DeviceId,
    lid: &str,
    number: &str,
) -> StoreResult<()> {
    if let Some(chat) = tx.merge_person(device, lid, number)? {
        tracing::info!(device_id = %device, lid, number, "two chats are one person's: merged");
        tx.journal(
            device,
            EventData::ChatMerged(ChatMerged {
                into: number.to_owned(),
                from: lid.to_owned(),
            }),
        )?;
        tx.chat_changed(device, &chat.id);
    }
    Ok(())
}

#[cfg(test)]
mod tests;
