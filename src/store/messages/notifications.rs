//! Notifications not read yet, apart from the messages': a notification may name no chat, and
//! is read by id, by chat or all at once. Reading one deletes its row: nothing asks for a
//! notification once it was read (its event and the `notification:read` that followed stay in
//! the journal), and a device whose notifications are read keeps none.

use crate::model::DeviceId;
use crate::store::sql::params;
use crate::store::{StoreResult, Tx};

impl Tx<'_> {
    pub fn insert_notification(
        &mut self,
        device: &DeviceId,
        id: &str,
        chat: Option<&str>,
    ) -> StoreResult<()> {
        let device = self.device_number(device)?;
        self.execute(
            "INSERT INTO notifications (device, id, chat_id) VALUES (?1, ?2, ?3)",
            params![device, id, chat],
        )?;
        Ok(())
    }

    /// Reads unread notifications: the given ids, or those of one chat, or all of them.
    /// Returns the ids that were unread.
    pub fn read_notifications(
        &mut self,
        device: &DeviceId,
        which: NotificationSet<'_>,
    ) -> StoreResult<Vec<String>> {
        const READ: &str = "DELETE FROM notifications WHERE device = ?1";
        let device = self.device_number(device)?;
        let id = |row: &crate::store::sql::Row<'_>| row.get::<String>(0);
        let mut ids = match which {
            NotificationSet::All => {
                self.conn()
                    .query_all(&format!("{READ} RETURNING id"), params![device], id)?
            }
            NotificationSet::Chat(chat) => self.conn().query_all(
                &format!("{READ} AND chat_id = ?2 RETURNING id"),
                params![device, chat],
                id,
            )?,
            NotificationSet::Ids(wanted) => {
                let mut read = Vec::new();
                for wanted in wanted {
                    read.extend(self.conn().query_opt(
                        &format!("{READ} AND id = ?2 RETURNING id"),
                        params![device, wanted],
                        id,
                    )?);
                }
                read
            }
        };
        ids.sort();
        ids.dedup();
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
