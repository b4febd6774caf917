//! What each device's send governor keeps between restarts (its pace, today's count of new
//! chats, an admin's changes, WhatsApp's restrictions), as the device layer writes it: one JSON
//! document a device, which the store does not read. It is written in the same commit as the
//! messages the governor let go, so a restart never counts them twice nor forgets them.

use crate::model::DeviceId;
use crate::store::messages::DEVICE_NUMBER;
use crate::store::sql::{params, Conn};
use crate::store::{StoreResult, Tx};

/// The governor's document of a device, if it has one yet.
pub fn governor(conn: &Conn, device: &DeviceId) -> StoreResult<Option<String>> {
    conn.query_opt(
        "SELECT ledger FROM governors WHERE device_id = ?1",
        params![device.as_str()],
        |row| row.get(0),
    )
}

/// Those of `chats` that ever wrote to the account: a message of theirs is stored. Each is one
/// look along the chat's own index.
pub fn chats_that_wrote(
    conn: &Conn,
    device: &DeviceId,
    chats: &[&str],
) -> StoreResult<Vec<String>> {
    let mut wrote = Vec::new();
    for chat in chats {
        if conn.exists(
            &format!(
                "SELECT 1 FROM messages
                 WHERE device = {DEVICE_NUMBER} AND chat_id = ?2 AND from_me = 0"
            ),
            params![device.as_str(), *chat],
        )? {
            wrote.push((*chat).to_owned());
        }
    }
    Ok(wrote)
}

impl Tx<'_> {
    /// Keeps the governor's document of a device as it is now.
    pub fn keep_governor(&mut self, device: &DeviceId, ledger: &str) -> StoreResult<()> {
        self.execute(
            "INSERT INTO governors (device_id, ledger) VALUES (?1, ?2)
             ON CONFLICT (device_id) DO UPDATE SET ledger = excluded.ledger",
            params![device.as_str(), ledger],
        )?;
        Ok(())
    }
}
