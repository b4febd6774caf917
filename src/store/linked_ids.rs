//! The numbers behind linked ids (`…@lid`) that each device's upstream told us, so one is
//! asked about once, not after every restart; and what was stored under a linked id before
//! its number was known, made the number's (see [`Tx::merge_person`]).

use std::collections::HashMap;

use super::chats::get_chat;
use super::contacts::get_contact;
use super::messages::DEVICE_NUMBER;
use super::sql::{params, Conn};
use super::{StoreResult, Tx};
use crate::model::{Chat, DeviceId};

/// The known numbers among `lids`, by linked id.
pub fn numbers_behind(
    conn: &Conn,
    device: &DeviceId,
    lids: &[String],
) -> StoreResult<HashMap<String, String>> {
    let mut found = HashMap::new();
    for lid in lids {
        let number = conn.query_opt(
            "SELECT number FROM linked_ids WHERE device_id = ?1 AND lid = ?2",
            params![device.as_str(), lid],
            |row| row.get(0),
        )?;
        if let Some(number) = number {
            found.insert(lid.clone(), number);
        }
    }
    Ok(found)
}

impl Tx<'_> {
    /// Records the numbers behind linked ids; a number that changed replaces the old one.
    pub fn remember_numbers(
        &mut self,
        device: &DeviceId,
        numbers: &[(String, String)],
    ) -> StoreResult<()> {
        for (lid, number) in numbers {
            self.execute(
                "INSERT INTO linked_ids (device_id, lid, number) VALUES (?1, ?2, ?3)
                 ON CONFLICT (device_id, lid) DO UPDATE SET number = excluded.number",
                params![device.as_str(), lid, number],
            )?;
        }
        Ok(())
    }
}

/// Whether a chat or contact name is only an id (a number's or a linked one), not a name a
/// person gave.
fn is_only_an_id(name: &str) -> bool {
    name.contains('@')
}

impl Tx<'_> {
    /// Makes what was stored under the linked id `lid` the person's whose number's chat id is
    /// `number`: their messages (in any chat) are from `number`; their contact is one; and
    /// their linked id's chat, if there is one, becomes the number's chat — renamed if the
    /// number has none, otherwise merged into it: its messages listed there (in the order
    /// they came, as ids are), its unread count added, and a flag a person set on either
    /// (pinned, muted, marked unread) kept; archived only if both were. Returns the merged
    /// chat, or `None` when there was no chat under `lid`.
    pub fn merge_person(
        &mut self,
        device: &DeviceId,
        lid: &str,
        number: &str,
    ) -> StoreResult<Option<Chat>> {
        let d = device.as_str();
        let device_number = self.device_number(device)?;
        self.execute(
            "UPDATE messages SET from_id = ?3 WHERE device = ?1 AND from_id = ?2",
            params![device_number, lid, number],
        )?;
        let contact = get_contact(self.conn(), device, number)?;
        if let Some(old) = get_contact(self.conn(), device, lid)? {
            match &contact {
                None => {
                    self.execute(
                        "UPDATE contacts SET id = ?3 WHERE device_id = ?1 AND id = ?2",
                        params![d, lid, number],
                    )?;
                }
                Some(kept) => {
                    if is_only_an_id(&kept.name) && !is_only_an_id(&old.name) {
                        self.execute(
                            "UPDATE contacts SET name = ?3 WHERE device_id = ?1 AND id = ?2",
                            params![d, number, old.name],
                        )?;
                    }
                    self.execute(
                        "DELETE FROM contacts WHERE device_id = ?1 AND id = ?2",
                        params![d, lid],
                    )?;
                }
            }
        }
        let Some(from) = get_chat(self.conn(), device, lid)? else {
            return Ok(None);
        };
        let of_numbered = format!("device = {DEVICE_NUMBER}");
        for (table, of_device) in [
            ("messages", of_numbered.as_str()),
            ("notifications", of_numbered.as_str()),
            ("outbound_actions", "device_id = ?1"),
        ] {
            self.execute(
                &format!("UPDATE {table} SET chat_id = ?3 WHERE {of_device} AND chat_id = ?2"),
                params![d, lid, number],
            )?;
        }
        match get_chat(self.conn(), device, number)? {
            None => {
                let name = match get_contact(self.conn(), device, number)? {
                    Some(contact) if !is_only_an_id(&contact.name) => contact.name,
                    _ if is_only_an_id(&from.name) => number.to_owned(),
                    _ => from.name.clone(),
                };
                self.execute(
                    "UPDATE chats SET id = ?3, name = ?4 WHERE device_id = ?1 AND id = ?2",
                    params![d, lid, number, name],
                )?;
            }
            Some(_) => {
                let flag = |set: bool| i64::from(set);
                self.execute(
                    "UPDATE chats SET unread_count = unread_count + ?3,
                        archived = CASE WHEN ?4 = 0 THEN 0 ELSE archived END,
                        muted = CASE WHEN ?5 = 1 THEN 1 ELSE muted END,
                        pinned = CASE WHEN ?6 = 1 THEN 1 ELSE pinned END,
                        marked_unread = CASE WHEN ?7 = 1 THEN 1 ELSE marked_unread END,
                        last_message_id = CASE
                            WHEN last_message_id IS NULL OR last_message_id < ?8 THEN ?8
                            ELSE last_message_id END,
                        updated_at = CASE WHEN updated_at > ?9 THEN updated_at ELSE ?9 END
                     WHERE device_id = ?1 AND id = ?2",
                    params![
                        d,
                        number,
                        i64::try_from(from.unread_count).unwrap_or(i64::MAX),
                        flag(from.archived),
                        flag(from.muted),
                        flag(from.pinned),
                        flag(from.marked_unread),
                        from.last_message.as_ref().map(|m| m.id.as_str()),
                        from.updated_at
                    ],
                )?;
                self.execute(
                    "DELETE FROM chats WHERE device_id = ?1 AND id = ?2",
                    params![d, lid],
                )?;
            }
        }
        get_chat(self.conn(), device, number)
    }
}
