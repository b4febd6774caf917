//! What clients do to contacts: block and unblock them, and keep what the upstream said of
//! them when they were looked up. Each journals the contact's `contact:update` when it
//! changed, so every client shows it.

use crate::model::{
    capability::Capability, event::EventData, upstream::Profile, Contact, DeviceId,
};
use crate::store::actions::Action;
use crate::store::{self, Store};

use super::{check_id, me_for, write, MessagingError, Result};

/// Blocks contact `contact_id` (or unblocks them): stored at once, and kept for the upstream,
/// which is told after the device's messages, as other actions are. Blocking someone blocked
/// already changes nothing. Returns the contact as it now is.
pub async fn set_blocked(
    store: &Store,
    device: &DeviceId,
    contact_id: String,
    blocked: bool,
) -> Result<Contact> {
    check_id("contactId", &contact_id)?;
    let device = device.clone();
    write(store, move |tx| {
        me_for(tx, &device, Capability::ContactsBlock)?;
        match tx.set_blocked(&device, &contact_id, blocked)? {
            Some(contact) => {
                tx.queue_action(&device, &contact_id, &Action::Block { blocked })?;
                tx.journal(&device, EventData::ContactUpdate(contact.clone()))?;
                Ok(contact)
            }
            None => store::contacts::get_contact(tx.conn(), &device, &contact_id)?
                .ok_or(MessagingError::ContactNotFound(contact_id)),
        }
    })
    .await
}

/// Keeps what the upstream's profile of contact `contact_id` says (a contact it knows but the
/// device did not is added). Returns the contact as it now is.
pub async fn keep_profile(
    store: &Store,
    device: &DeviceId,
    contact_id: String,
    profile: Profile,
) -> Result<Contact> {
    let device = device.clone();
    write(store, move |tx| {
        if let Some(changed) = tx.keep_profile(&device, &contact_id, &profile)? {
            tx.journal(&device, EventData::ContactUpdate(changed.clone()))?;
            return Ok(changed);
        }
        store::contacts::get_contact(tx.conn(), &device, &contact_id)?
            .ok_or(MessagingError::ContactNotFound(contact_id))
    })
    .await
}
