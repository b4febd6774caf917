//! What clients do to chats and the messages in them besides sending: reading, reacting,
//! revoking, flags, notifications, and opening a chat with a phone number.

use chrono::Utc;
use utoipa::openapi::schema::{
    AdditionalProperties, AnyOfBuilder, ObjectBuilder, SchemaType, Type,
};
use utoipa::openapi::{RefOr, Schema};

use crate::model::event::{MessageReaction, MessageRead, MessageRevoked, NotificationRead};
use crate::model::{
    capability::Capability, event::EventData, ids::phone_of, rfc3339, Chat, ChatFlags, DeviceId,
};
use crate::store::actions::Action;
use crate::store::messages::NotificationSet;
use crate::store::{self, Store};

use super::{
    chat_must_exist, check_id, invalid, me_for, me_of, message_of, new_chat_name, write,
    MessagingError, Result,
};

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
            // Nothing new to read, but a chat marked unread by hand is read now.
            let unmark = ChatFlags {
                unread: Some(false),
                ..ChatFlags::default()
            };
            if tx.set_chat_flags(&device, &chat_id, &unmark)?.is_some() {
                tx.chat_changed(&device, &chat_id);
            }
            return Ok(Vec::new());
        }
        let (message_ids, upstream_ids): (Vec<_>, Vec<_>) = seen.into_iter().unzip();
        let upstream_ids: Vec<String> = upstream_ids.into_iter().flatten().collect();
        if !upstream_ids.is_empty() {
            tx.queue_action(&device, &chat_id, &Action::MarkRead { upstream_ids })?;
        }
        tx.journal(
            &device,
            EventData::MessageRead(MessageRead {
                chat_id: chat_id.clone(),
                message_ids: message_ids.clone(),
                read_by: me,
            }),
        )?;
        if tx.recount_unread(&device, &chat_id)?.is_some() {
            tx.chat_changed(&device, &chat_id);
        }
        let cleared = tx.read_notifications(&device, NotificationSet::Chat(&chat_id))?;
        if !cleared.is_empty() {
            tx.journal(
                &device,
                EventData::NotificationRead(NotificationRead {
                    ids: cleared,
                    all: false,
                }),
            )?;
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
        let me = me_for(tx, &device, Capability::MessageReact)?;
        let message = message_of(tx, &device, &message_id)?;
        let action = Action::React {
            message_id: message_id.clone(),
            emoji: emoji.clone(),
        };
        tx.queue_action(&device, &message.chat_id, &action)?;
        tx.journal(
            &device,
            EventData::MessageReaction(MessageReaction {
                chat_id: message.chat_id,
                message_id,
                from_phone: phone_of(&me).map(str::to_owned),
                from: me,
                emoji,
            }),
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
        me_for(tx, &device, Capability::MessageRevoke)?;
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
                EventData::MessageRevoked(MessageRevoked {
                    chat_id: message.chat_id,
                    message_id,
                }),
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
            tx.journal(
                &device,
                EventData::NotificationRead(NotificationRead {
                    ids: ids.clone(),
                    all: matches!(which, NotificationsRead::All),
                }),
            )?;
        }
        Ok(ids)
    })
    .await
}

/// Described as the flags with one of them given, which [`set_chat_flags`] checks: a change
/// of nothing (no flag, or both `null`) is refused as the mistake it is.
impl utoipa::PartialSchema for ChatFlags {
    fn schema() -> RefOr<Schema> {
        let flags = ["archived", "muted", "pinned", "unread"];
        let one_given = flags.map(|given| {
            let mut object = ObjectBuilder::new().schema_type(Type::Object);
            for flag in flags {
                let kind = match flag == given {
                    true => SchemaType::Type(Type::Boolean),
                    false => SchemaType::from_iter([Type::Boolean, Type::Null]),
                };
                object = object.property(flag, ObjectBuilder::new().schema_type(kind));
            }
            object
                .required(given)
                .additional_properties(Some(AdditionalProperties::FreeForm(false)))
        });
        one_given
            .into_iter()
            .fold(AnyOfBuilder::new(), AnyOfBuilder::item)
            .description(Some(
                "How a chat is to be shown: `archived`, `muted`, `pinned`, marked `unread` by \
                 hand. A flag left out (or `null`) stays as it is; one of them must be given.",
            ))
            .examples([serde_json::json!({ "archived": true })])
            .into()
    }
}

impl utoipa::ToSchema for ChatFlags {}

/// Archives, mutes, pins or marks a chat unread (or undoes it), for every client of the device
/// (one `chat:update` when something changed), and keeps what the upstream follows (archiving,
/// marking unread) for it. Returns the chat as it now is.
pub async fn set_chat_flags(
    store: &Store,
    device: &DeviceId,
    chat_id: String,
    flags: ChatFlags,
) -> Result<Chat> {
    check_id("chatId", &chat_id)?;
    if flags.is_empty() {
        return Err(invalid(
            "nothing to change: give `archived`, `muted`, `pinned` and/or `unread`",
        ));
    }
    let device = device.clone();
    write(store, move |tx| {
        match tx.set_chat_flags(&device, &chat_id, &flags)? {
            Some(chat) => {
                if let Some(archived) = flags.archived {
                    tx.queue_action(&device, &chat_id, &Action::Archive { archived })?;
                }
                if let Some(unread) = flags.unread {
                    tx.queue_action(&device, &chat_id, &Action::MarkUnread { unread })?;
                }
                tx.chat_changed(&device, &chat_id);
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
        tx.chat_changed(&device, &chat.id);
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
