//! The numbers simulated phones hold or talk to, kept so that a new phone's number is found
//! without reading every device's definition: the ten-thousandth device is created as fast as
//! the first.
//!
//! `simulator_numbers` has a row for each number a simulator device's stored definition names:
//! its phone's and its contacts' (the part of a contact's id before `@`). It is written with
//! the definition ([`Tx::upsert_device`]) and leaves with the device. Only the numbers a phone
//! could be given are kept ([`assignable`]); no other can be mistaken for one.
//!
//! `simulator_numbers_free_from` keeps one number below which none is free, so that the search
//! starts there rather than at the first number and walks the numbers in use once, not once a
//! device. A number let go lowers it. Its row is locked by the search until the commit, so
//! two nodes of a cluster creating devices at once do not both pick the same number.

use std::collections::BTreeSet;

use super::devices::DeviceRecord;
use super::sql::params;
use super::{StoreResult, Tx};
use crate::model::spec::FIRST_SIMULATED_PHONE;
use crate::model::DeviceId;

/// The first number a phone is given.
fn first() -> i64 {
    FIRST_SIMULATED_PHONE.parse().expect("a number")
}

/// `text` as a number a phone could be given: digits with no leading zero, from
/// [`FIRST_SIMULATED_PHONE`] up (at most 18 of them, which any such number has for long).
pub fn assignable(text: &str) -> Option<i64> {
    let digits = !text.is_empty() && text.len() <= 18 && text.bytes().all(|b| b.is_ascii_digit());
    if !digits || text.starts_with('0') {
        return None;
    }
    text.parse().ok().filter(|number| *number >= first())
}

/// The number of a contact's id (`15550000002@c.us`), if a phone could have it.
pub fn of_contact(id: &str) -> Option<i64> {
    assignable(id.split('@').next().unwrap_or_default())
}

/// The numbers `record`'s simulated phone holds or talks to, read from its stored definition
/// as the step that made this table reads them (`migrations::simulator_numbers`).
fn named_by(record: &DeviceRecord) -> BTreeSet<i64> {
    if record.connector != "simulator" {
        return BTreeSet::new();
    }
    let simulator = &record.settings["simulator"];
    let phone = simulator["phone"].as_str().and_then(assignable);
    let contacts = simulator["contacts"].as_array().into_iter().flatten();
    let contacts = contacts.filter_map(|contact| contact["id"].as_str().and_then(of_contact));
    phone.into_iter().chain(contacts).collect()
}

impl Tx<'_> {
    /// Records the numbers `record`'s definition names as the device's, in place of those
    /// it named before.
    pub(super) fn hold_simulator_numbers(&mut self, record: &DeviceRecord) -> StoreResult<()> {
        self.hold_numbers(&record.id, named_by(record))
    }

    /// Lets go of every number `device` held.
    pub(super) fn release_simulator_numbers(&mut self, device: &DeviceId) -> StoreResult<()> {
        self.hold_numbers(device, BTreeSet::new())
    }

    fn hold_numbers(&mut self, device: &DeviceId, numbers: BTreeSet<i64>) -> StoreResult<()> {
        let held: BTreeSet<i64> = self
            .conn()
            .query_all(
                "SELECT number FROM simulator_numbers WHERE device_id = ?1",
                params![device.as_str()],
                |row| row.get(0),
            )?
            .into_iter()
            .collect();
        let released: Vec<i64> = held.difference(&numbers).copied().collect();
        for number in &released {
            self.execute(
                "DELETE FROM simulator_numbers WHERE device_id = ?1 AND number = ?2",
                params![device.as_str(), *number],
            )?;
        }
        if let Some(lowest) = released.first() {
            // It may be free now: the search must look at it again.
            self.execute(
                "UPDATE simulator_numbers_free_from SET number = ?1 WHERE number > ?1",
                params![*lowest],
            )?;
        }
        for number in numbers.difference(&held) {
            self.execute(
                "INSERT INTO simulator_numbers (device_id, number) VALUES (?1, ?2)",
                params![device.as_str(), *number],
            )?;
        }
        Ok(())
    }

    /// The lowest number from [`FIRST_SIMULATED_PHONE`] up that no stored simulated phone
    /// holds or talks to and that is not one of `besides` (numbers of definitions not stored
    /// yet). The caller stores the device that gets it in the same transaction.
    pub fn free_simulator_number(&mut self, besides: &BTreeSet<i64>) -> StoreResult<i64> {
        let mut number: i64 = self.conn().query_one(
            "INSERT INTO simulator_numbers_free_from (id, number) VALUES (1, ?1)
             ON CONFLICT (id) DO UPDATE SET number = simulator_numbers_free_from.number
             RETURNING number",
            params![first()],
            |row| row.get(0),
        )?;
        // The search starts next time at the first number skipped that is not held: one of
        // `besides` is held only once its definition is stored.
        let mut start_next = None;
        loop {
            let held = self.conn().exists(
                "SELECT 1 FROM simulator_numbers WHERE number = ?1",
                params![number],
            )?;
            if !held && !besides.contains(&number) {
                break;
            }
            if !held {
                start_next.get_or_insert(number);
            }
            number += 1;
        }
        self.execute(
            "UPDATE simulator_numbers_free_from SET number = ?1",
            params![start_next.unwrap_or(number)],
        )?;
        Ok(number)
    }
}

/// The numbers each device holds, by device, as the store keeps them.
#[cfg(test)]
pub(super) fn held(conn: &super::Conn) -> Vec<(String, i64)> {
    conn.query_all(
        "SELECT device_id, number FROM simulator_numbers ORDER BY device_id, number",
        params![],
        |row| Ok((row.get(0)?, row.get(1)?)),
    )
    .unwrap()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_numbers_a_phone_could_be_given_are_kept() {
        assert_eq!(assignable("15550000001"), Some(15_550_000_001));
        assert_eq!(assignable("447700900123"), Some(447_700_900_123));
        for text in [
            "",
            "015550000001",
            "+15550000001",
            "123",
            "1555000000x",
            "9".repeat(19).as_str(),
        ] {
            assert_eq!(assignable(text), None, "{text}");
        }
        assert_eq!(of_contact("15550000002@c.us"), Some(15_550_000_002));
        assert_eq!(of_contact("alice@c.us"), None);
    }

    #[test]
    fn a_definition_names_its_phone_and_its_contacts_numbers_if_it_is_a_simulators() {
        let settings = serde_json::json!({ "simulator": {
            "phone": "15550000009",
            "contacts": [{ "id": "15550000002@c.us" }, { "id": "bob@c.us" }, { "id": "15550000002@c.us" }]
        }});
        let spec = serde_json::from_value(serde_json::json!({ "name": "demo" })).unwrap();
        let id = DeviceId::parse("demo").unwrap();
        let mut record = DeviceRecord::new(id, &spec, super::super::devices::DeviceSource::Api);
        record.settings = settings;
        assert_eq!(
            named_by(&record),
            BTreeSet::from([15_550_000_002, 15_550_000_009])
        );
        record.connector = "waha".into();
        assert!(named_by(&record).is_empty());
    }
}
