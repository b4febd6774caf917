//! Storing a message and what later happens to it in the writer: marked read, revoked. The
//! relay queue's and the acks' changes to a message live with the relay and the acks.

use super::millis_of;
use crate::model::{
    content::Content, ids::phone_of, Ack, DeviceId, Media, Message, RelayStatus, TempId, Template,
};
use crate::store::sql::params;
use crate::store::{StoreResult, Tx};

/// A message to store.
#[derive(Debug, Clone)]
pub struct NewMessage<'a> {
    pub id: &'a str,
    pub chat_id: &'a str,
    pub upstream_id: Option<&'a str>,
    pub from: &'a str,
    pub from_me: bool,
    pub kind: &'a str,
    pub body: &'a str,
    pub media: Option<&'a Media>,
    pub template: Option<&'a Template>,
    pub content: &'a Content,
    pub reply_to: Option<&'a str>,
    pub timestamp: &'a str,
    pub temp_id: Option<&'a TempId>,
    pub idempotency_key: Option<&'a str>,
    /// `Queued` for messages we send; `None` for messages we receive.
    pub relay: Option<RelayStatus>,
    /// Already read: our own messages, and history imported from the upstream.
    pub seen: bool,
    pub now: &'a str,
}

impl Tx<'_> {
    pub fn insert_message(
        &mut self,
        device: &DeviceId,
        new: &NewMessage<'_>,
    ) -> StoreResult<Message> {
        let media = new.media.map(serde_json::to_string).transpose()?;
        let template = new.template.map(serde_json::to_string).transpose()?;
        let content = match new.content.is_plain() {
            true => None,
            false => Some(serde_json::to_string(new.content)?),
        };
        let device_number = self.device_number(device)?;
        self.write(
            "INSERT INTO messages (id, device, chat_id, upstream_id, from_id, from_me, type, body,
                media, reply_to, timestamp, ack, temp_id, idempotency_key, seen, relay_status, created_at,
                template, content)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, 0, ?12, ?13, ?14, ?15, ?16, ?17,
                ?18)",
            params![
                new.id,
                device_number,
                new.chat_id,
                new.upstream_id,
                new.from,
                i64::from(new.from_me),
                new.kind,
                new.body,
                media,
                new.reply_to,
                millis_of(new.timestamp),
                new.temp_id.map(TempId::key),
                new.idempotency_key,
                i64::from(new.seen),
                new.relay.map(RelayStatus::as_str),
                millis_of(new.now),
                template,
                content,
            ],
        )?;
        if let Some(sqlite) = self.conn().as_sqlite() {
            self.words_to_index(sqlite.last_insert_rowid());
        }
        // Built from what was inserted rather than read back: sending is the hottest write.
        Ok(Message {
            id: new.id.to_owned(),
            upstream_id: new.upstream_id.map(str::to_owned),
            device_id: device.to_string(),
            chat_id: new.chat_id.to_owned(),
            from: new.from.to_owned(),
            from_phone: phone_of(new.from).map(str::to_owned),
            from_me: new.from_me,
            kind: new.kind.to_owned(),
            body: new.body.to_owned(),
            media: new.media.cloned(),
            reply_to: new.reply_to.map(str::to_owned),
            timestamp: new.timestamp.to_owned(),
            ack: Ack::Pending.level(),
            ack_name: Ack::Pending.name(),
            temp_id: new.temp_id.cloned(),
            revoked: false,
            template: new.template.cloned(),
            content: new.content.clone(),
            edited_at: None,
        })
    }

    /// Marks a chat's incoming messages as read, up to and including `up_to` (all if `None`).
    /// Returns the ids and upstream ids of those that were unread.
    pub fn mark_seen(
        &mut self,
        device: &DeviceId,
        chat: &str,
        up_to: Option<&str>,
    ) -> StoreResult<Vec<(String, Option<String>)>> {
        let device_number = self.device_number(device)?;
        let mut seen = self.conn().query_all(
            "UPDATE messages SET seen = 1
             WHERE device = ?1 AND chat_id = ?2 AND from_me = 0 AND seen = 0
                AND (CAST(?3 AS TEXT) IS NULL OR id <= ?3)
             RETURNING id, upstream_id",
            params![device_number, chat, up_to],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )?;
        seen.sort();
        Ok(seen)
    }

    /// Replaces a message's text (or caption) with `body`, edited at `edited_at`. A chat
    /// whose last message it was changes with it.
    pub fn edit_message(
        &mut self,
        device: &DeviceId,
        message: &Message,
        body: &str,
        edited_at: &str,
    ) -> StoreResult<()> {
        // Its old words leave the index by a trigger: the batch's new ones must be in it.
        self.index_new_words()?;
        let device_number = self.device_number(device)?;
        self.execute(
            "UPDATE messages SET body = ?3, edited_at = ?4 WHERE device = ?1 AND id = ?2",
            params![device_number, message.id, body, millis_of(edited_at)],
        )?;
        self.last_message_changed(device, &message.chat_id, &message.id)
    }

    /// Keeps what a message carries as `content` now (a poll's new tally). A chat whose last
    /// message it was changes with it.
    pub fn set_content(
        &mut self,
        device: &DeviceId,
        message: &Message,
        content: &Content,
    ) -> StoreResult<()> {
        let device_number = self.device_number(device)?;
        self.execute(
            "UPDATE messages SET content = ?3 WHERE device = ?1 AND id = ?2",
            params![device_number, message.id, serde_json::to_string(content)?],
        )?;
        self.last_message_changed(device, &message.chat_id, &message.id)
    }

    /// Deletes a message's content for everyone; returns whether it was not already revoked.
    /// A chat whose last message it was changes with it (its `chat:update` shows the message
    /// revoked, as the chat list does).
    pub fn revoke_message(&mut self, device: &DeviceId, message_id: &str) -> StoreResult<bool> {
        // As for an edit: its words leave the index, so the batch's new ones must be in it.
        self.index_new_words()?;
        let device_number = self.device_number(device)?;
        let chat_id: Option<String> = self.conn().query_opt(
            "UPDATE messages SET revoked = 1, body = '', media = NULL
             WHERE device = ?1 AND id = ?2 AND revoked = 0 RETURNING chat_id",
            params![device_number, message_id],
            |row| row.get(0),
        )?;
        let Some(chat_id) = chat_id else {
            return Ok(false);
        };
        self.last_message_changed(device, &chat_id, message_id)?;
        Ok(true)
    }
}
