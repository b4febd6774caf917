//! Contacts and numbers (SPEC §11): looking a contact up, their profile picture, blocking
//! them, and asking whether a number has WhatsApp. Each is refused before the upstream is
//! asked or anything is stored when the device's connector cannot do it
//! (`unsupported_by_connector`).
//!
//! A lookup asks the upstream and keeps what it says (journaling `contact:update` when that
//! changed something); when the upstream cannot be asked or does not answer, the contact is
//! answered as the device knows it, since what is kept is better than an error for a client
//! that shows a profile.

use serde::Serialize;
use utoipa::ToSchema;

use super::error::{ApiError, ErrorCode};
use crate::device::{DeviceHandle, DeviceManager};
use crate::messaging::{self, MessagingError};
use crate::model::{capability::Capability, upstream::Picture, Contact, DeviceId};
use crate::store::{self, Store};

/// `GET …/numbers/{phone}`: whether a number has WhatsApp.
#[derive(Debug, PartialEq, Serialize, ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({ "phone": "15551234567", "exists": true, "chatId": "15551234567@c.us" }))]
pub struct NumberCheck {
    /// The number's digits, country code first, as it was asked for without `+`, spaces or
    /// dashes.
    #[schema(pattern = r"^[0-9]{5,15}$")]
    pub phone: String,
    /// Whether it has a WhatsApp account.
    pub exists: bool,
    /// The chat to write to it in, as the upstream names it (for some countries it differs
    /// from the number as dialled); null when it has no account.
    pub chat_id: Option<String>,
}

#[derive(Clone)]
pub struct ContactBook {
    store: Store,
    devices: DeviceManager,
}

impl ContactBook {
    pub fn new(store: Store, devices: DeviceManager) -> Self {
        Self { store, devices }
    }

    fn handle(&self, device: &DeviceId) -> Result<DeviceHandle, ApiError> {
        self.devices
            .handle(device)
            .ok_or_else(|| ApiError::new(ErrorCode::DeviceNotFound, "no device with this id"))
    }

    /// The device's handle, once `contact_id` is an id and its connector can do `operation`.
    async fn able(
        &self,
        device: &DeviceId,
        contact_id: &str,
        operation: Capability,
    ) -> Result<DeviceHandle, ApiError> {
        let handle = self.handle(device)?;
        messaging::check_id("contactId", contact_id)?;
        messaging::require(&self.store, device, operation).await?;
        Ok(handle)
    }

    async fn stored(
        &self,
        device: &DeviceId,
        contact_id: &str,
    ) -> Result<Option<Contact>, ApiError> {
        let (device, contact_id) = (device.clone(), contact_id.to_owned());
        Ok(self
            .store
            .read(move |conn| store::contacts::get_contact(conn, &device, &contact_id))
            .await?)
    }

    /// Contact `contact_id` as the upstream describes them now, with their picture looked at
    /// too, so that `pictureUrl` says whether there is one.
    pub async fn contact(
        &self,
        device: &DeviceId,
        contact_id: String,
    ) -> Result<Contact, ApiError> {
        let handle = self
            .able(device, &contact_id, Capability::ContactsLookup)
            .await?;
        let stored = self.stored(device, &contact_id).await?;
        let profile = match (handle.profile(contact_id.clone()).await, stored) {
            (Ok(Some(profile)), _) => profile,
            (Ok(None), Some(stored)) => return Ok(stored),
            (Ok(None), None) => return Err(not_found(&contact_id)),
            (Err(error), Some(stored)) => {
                tracing::debug!(device_id = %device, contact_id, %error, "a contact is answered as stored: the upstream was not asked");
                return Ok(stored);
            }
            (Err(error), None) => return Err(error.into()),
        };
        let contact =
            messaging::keep_profile(&self.store, device, contact_id.clone(), profile).await?;
        if messaging::require(&self.store, device, Capability::ContactsPicture)
            .await
            .is_err()
        {
            return Ok(contact);
        }
        // Whether they have a picture is kept with it (looked at again once a day): the contact
        // read again shows it.
        if let Err(error) = self.devices.pictures().picture(&handle, &contact_id).await {
            tracing::debug!(device_id = %device, contact_id, %error, "a contact's picture was not looked at");
        }
        self.stored(device, &contact_id)
            .await?
            .ok_or_else(|| not_found(&contact_id))
    }

    /// The profile picture of contact `contact_id`, kept or fetched.
    pub async fn picture(
        &self,
        device: &DeviceId,
        contact_id: String,
    ) -> Result<Picture, ApiError> {
        let handle = self
            .able(device, &contact_id, Capability::ContactsPicture)
            .await?;
        // Only the device's own contacts: the pictures kept are theirs, a bounded number.
        if self.stored(device, &contact_id).await?.is_none() {
            return Err(not_found(&contact_id));
        }
        self.devices
            .pictures()
            .picture(&handle, &contact_id)
            .await?
            .ok_or_else(|| {
                ApiError::new(
                    ErrorCode::MediaNotFound,
                    format!("{contact_id} has no profile picture"),
                )
            })
    }

    /// Blocks contact `contact_id` (or unblocks them); the upstream is told by the device.
    pub async fn block(
        &self,
        device: &DeviceId,
        contact_id: String,
        blocked: bool,
    ) -> Result<Contact, ApiError> {
        let handle = self.handle(device)?;
        let contact = messaging::set_blocked(&self.store, device, contact_id, blocked).await?;
        handle.wake_for_actions();
        Ok(contact)
    }

    /// Whether `phone` has a WhatsApp account, as the upstream finds it.
    pub async fn check_number(
        &self,
        device: &DeviceId,
        phone: &str,
    ) -> Result<NumberCheck, ApiError> {
        let handle = self.handle(device)?;
        let digits = messaging::phone_digits(phone)?;
        messaging::require(&self.store, device, Capability::NumbersCheck).await?;
        let chat_id = handle.find_number(digits.clone()).await?;
        Ok(NumberCheck {
            phone: digits,
            exists: chat_id.is_some(),
            chat_id,
        })
    }
}

fn not_found(contact_id: &str) -> ApiError {
    MessagingError::ContactNotFound(contact_id.to_owned()).into()
}
