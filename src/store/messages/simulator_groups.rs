//! The groups of the simulated phones' worlds: who is in each and with what role, its name,
//! description and invite code, kept so that a group made or changed on cue is the same after
//! the daemon restarts. Each group is the simulator's JSON (`connector::simulator`): the store
//! does not read it.

use crate::model::DeviceId;
use crate::store::sql::{params, Conn};
use crate::store::{StoreResult, Tx};

/// The simulator's record of group `chat_id` of a device's world, if it has one.
pub fn simulator_group(
    conn: &Conn,
    device: &DeviceId,
    chat_id: &str,
) -> StoreResult<Option<String>> {
    conn.query_opt(
        "SELECT state FROM simulator_groups WHERE device_id = ?1 AND chat_id = ?2",
        params![device.as_str(), chat_id],
        |row| row.get(0),
    )
}

impl Tx<'_> {
    /// Keeps group `chat_id` of a device's simulated world as it is now.
    pub fn simulator_keep_group(
        &mut self,
        device: &DeviceId,
        chat_id: &str,
        state: &str,
    ) -> StoreResult<()> {
        self.execute(
            "INSERT INTO simulator_groups (device_id, chat_id, state) VALUES (?1, ?2, ?3)
             ON CONFLICT (device_id, chat_id) DO UPDATE SET state = excluded.state",
            params![device.as_str(), chat_id, state],
        )?;
        Ok(())
    }
}
