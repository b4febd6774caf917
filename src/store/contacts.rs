//! Contact rows: the people a device knows, their presence, what their profile said when it
//! was last looked up, and whether this account blocked them.
//!
//! A contact's `phone` and `lid` are read, not stored: a phone id (`…@c.us`) is its number,
//! and the numbers behind linked ids are what the upstream told ([`super::linked_ids`]), so
//! both follow whatever the device learns later, with one row to keep. Its `pictureUrl` is
//! the daemon's own address for the picture unless the upstream said, when it was last asked
//! ([`super::pictures`]), that there is none.

use super::sql::{params, Conn, Exists, Row};
use super::{StoreResult, Tx};
use crate::model::{
    capability::Capability, ids::phone_of, spec::ConnectorKind, upstream::Profile, Contact,
    DeviceId,
};

/// A contact row with what the other tables tell of it: its device's connector, the number
/// behind it if it is a linked id, the linked id of its number, and whether it is known to
/// have no picture.
const CONTACT_QUERY: &str = "SELECT c.id, c.device_id, c.name, c.push_name, c.presence,
        c.last_seen_at, c.about, c.blocked, d.connector,
        (SELECT l.number FROM linked_ids l WHERE l.device_id = c.device_id AND l.lid = c.id),
        (SELECT MIN(l.lid) FROM linked_ids l
            WHERE l.device_id = c.device_id AND l.number = c.id AND l.lid LIKE '%@lid'),
        (SELECT COUNT(*) FROM contact_pictures p
            WHERE p.device_id = c.device_id AND p.contact_id = c.id AND p.mime IS NULL)
    FROM contacts c JOIN devices d ON d.id = c.device_id";

fn contact_from_row(row: &Row<'_>) -> StoreResult<Contact> {
    let id: String = row.get(0)?;
    let device_id: String = row.get(1)?;
    let connector: String = row.get(8)?;
    let number_behind: Option<String> = row.get(9)?;
    let has_pictures =
        ConnectorKind::named(&connector).is_some_and(|kind| kind.can(Capability::ContactsPicture));
    let known_without = row.get::<i64>(11)? > 0;
    let phone = phone_of(&id)
        .or_else(|| number_behind.as_deref().and_then(phone_of))
        .map(str::to_owned);
    let lid = match id.ends_with("@lid") {
        true => Some(id.clone()),
        false => row.get(10)?,
    };
    Ok(Contact {
        picture_url: (has_pictures && !known_without)
            .then(|| Contact::picture_path(&device_id, &id)),
        name: row.get(2)?,
        push_name: row.get(3)?,
        presence: row.get(4)?,
        last_seen_at: row.get(5)?,
        about: row.get(6)?,
        blocked: row.get::<i64>(7)? != 0,
        phone,
        lid,
        id,
        device_id,
    })
}

pub fn get_contact(conn: &Conn, device: &DeviceId, contact: &str) -> StoreResult<Option<Contact>> {
    conn.query_opt(
        &format!("{CONTACT_QUERY} WHERE c.device_id = ?1 AND c.id = ?2"),
        params![device.as_str(), contact],
        contact_from_row,
    )
}

pub fn list_contacts(conn: &Conn, device: &DeviceId) -> StoreResult<Vec<Contact>> {
    conn.query_all(
        &format!("{CONTACT_QUERY} WHERE c.device_id = ?1 ORDER BY c.name, c.id"),
        params![device.as_str()],
        contact_from_row,
    )
}

/// Whether this account blocked contact `id` of `device`.
pub fn is_blocked(conn: &Conn, device: &DeviceId, id: &str) -> StoreResult<bool> {
    conn.answer_exists(ask_blocked(conn, device, id)?)
}

/// [`is_blocked`], asked ahead of its answer ([`Conn::ask_exists`]).
pub fn ask_blocked(conn: &Conn, device: &DeviceId, id: &str) -> StoreResult<Exists> {
    conn.ask_exists(
        "SELECT 1 FROM contacts WHERE device_id = ?1 AND id = ?2 AND blocked = 1",
        params![device.as_str(), id],
    )
}

impl Tx<'_> {
    /// Adds or renames a contact. Returns it if it changed.
    pub fn upsert_contact(
        &mut self,
        device: &DeviceId,
        id: &str,
        name: &str,
        push_name: Option<&str>,
    ) -> StoreResult<Option<Contact>> {
        let changed = self.execute(
            "INSERT INTO contacts (device_id, id, name, push_name) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (device_id, id) DO UPDATE SET name = excluded.name, push_name = excluded.push_name
             WHERE contacts.name <> excluded.name
                OR contacts.push_name IS DISTINCT FROM excluded.push_name",
            params![device.as_str(), id, name, push_name],
        )?;
        self.changed_contact(changed, device, id)
    }

    /// Records what the upstream's profile of a contact says, adding the contact if it is
    /// new: the names it tells (keeping those it does not, and naming a new contact by its
    /// id), and its `about` as told. Returns the contact if it changed.
    pub fn keep_profile(
        &mut self,
        device: &DeviceId,
        id: &str,
        profile: &Profile,
    ) -> StoreResult<Option<Contact>> {
        let changed = self.execute(
            "INSERT INTO contacts (device_id, id, name, push_name, about)
                VALUES (?1, ?2, COALESCE(?3, ?4, ?2), ?4, ?5)
             ON CONFLICT (device_id, id) DO UPDATE SET
                name = COALESCE(?3, contacts.name),
                push_name = COALESCE(?4, contacts.push_name),
                about = excluded.about
             WHERE contacts.name <> COALESCE(?3, contacts.name)
                OR contacts.push_name IS DISTINCT FROM COALESCE(?4, contacts.push_name)
                OR contacts.about IS DISTINCT FROM excluded.about",
            params![
                device.as_str(),
                id,
                profile.name,
                profile.push_name,
                profile.about
            ],
        )?;
        self.changed_contact(changed, device, id)
    }

    /// Records that this account blocked a contact, or unblocked them. Returns the contact if
    /// that changed it.
    pub fn set_blocked(
        &mut self,
        device: &DeviceId,
        id: &str,
        blocked: bool,
    ) -> StoreResult<Option<Contact>> {
        let changed = self.execute(
            "UPDATE contacts SET blocked = ?3 WHERE device_id = ?1 AND id = ?2 AND blocked <> ?3",
            params![device.as_str(), id, i64::from(blocked)],
        )?;
        self.changed_contact(changed, device, id)
    }

    /// Records a contact's presence; going offline records when it was last seen. Returns the
    /// contact if its presence changed.
    pub fn set_presence(
        &mut self,
        device: &DeviceId,
        contact: &str,
        presence: &str,
        now: &str,
    ) -> StoreResult<Option<Contact>> {
        let changed = self.execute(
            "UPDATE contacts SET presence = ?3,
                last_seen_at = CASE WHEN ?3 = 'offline' THEN ?4 ELSE last_seen_at END
             WHERE device_id = ?1 AND id = ?2 AND presence != ?3",
            params![device.as_str(), contact, presence, now],
        )?;
        self.changed_contact(changed, device, contact)
    }

    /// The contact a statement changed `changed` rows of, if it changed any.
    fn changed_contact(
        &self,
        changed: usize,
        device: &DeviceId,
        id: &str,
    ) -> StoreResult<Option<Contact>> {
        match changed {
            0 => Ok(None),
            _ => get_contact(self.conn(), device, id),
        }
    }
}
