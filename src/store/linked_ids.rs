//! The numbers behind linked ids (`…@lid`) that each device's upstream told us, so one is
//! asked about once, not after every restart.

use std::collections::HashMap;

use super::sql::{params, Conn};
use super::{StoreResult, Tx};
use crate::model::DeviceId;

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
