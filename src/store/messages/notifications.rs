//! Notifications and their read state, apart from the messages': a notification may name no
//! chat, and is read by id, by chat or all at once.

use rusqlite::params;

use crate::model::DeviceId;
use crate::store::{StoreResult, Tx};

impl Tx<'_> {
    pub fn insert_notification(
        &mut self,
        device: &DeviceId,
        id: &str,
        chat: Option<&str>,
    ) -> StoreResult<()> {
        self.execute(
            "INSERT INTO notifications (device_id, id, chat_id) VALUES (?1, ?2, ?3)",
            params![device.as_str(), id, chat],
        )?;
        Ok(())
    }

    /// Marks unread notifications read: the given ids, or those of one chat, or all of them.
    /// Returns the ids that were unread.
    pub fn read_notifications(
        &mut self,
        device: &DeviceId,
        which: NotificationSet<'_>,
    ) -> StoreResult<Vec<String>> {
        let (filter, value) = match which {
            NotificationSet::All => ("?2 IS NULL", None),
            NotificationSet::Chat(chat) => ("chat_id = ?2", Some(chat.to_owned())),
            NotificationSet::Ids(ids) => (
                "id IN (SELECT value FROM json_each(?2))",
                Some(serde_json::to_string(ids)?),
            ),
        };
        let mut stmt = self.conn().prepare_cached(&format!(
            "UPDATE notifications SET read = 1 WHERE device_id = ?1 AND read = 0 AND ({filter})
             RETURNING id"
        ))?;
        let mut ids = stmt
            .query_map(params![device.as_str(), value], |row| row.get(0))?
            .collect::<rusqlite::Result<Vec<String>>>()?;
        ids.sort();
        Ok(ids)
    }
}

/// Which notifications a read applies to.
#[derive(Debug, Clone, Copy)]
pub enum NotificationSet<'a> {
    All,
    Chat(&'a str),
    Ids(&'a [String]),
}
