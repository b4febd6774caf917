//! Contacts' profile pictures, served by the daemon at `…/contacts/{contactId}/picture`.
//!
//! The upstream's own address for a picture (WhatsApp's CDN, through WAHA) expires within days
//! and carries the signature that lets it be fetched, so it is never handed to clients: the
//! daemon fetches the picture itself on the first ask and keeps it, with the news that a
//! contact has none, for [`FRESH_FOR`]. Asked again after that, it fetches it anew; if the
//! upstream cannot be asked then (the device is not ready, the upstream does not answer), the
//! picture kept is served as it is rather than nothing.
//!
//! What is kept lives in the store ([`crate::store::pictures`]), shared by the nodes of a
//! cluster, and its bytes are held to `limits.picture_cache_bytes`, the oldest going first:
//! contacts come from outside, and without a budget enough of them would fill the disk.

use chrono::{TimeDelta, Utc};

use super::{DeviceError, DeviceHandle};
use crate::model::upstream::Picture;
use crate::store::{pictures, Store};

/// How long a picture (or the news that there is none) is served before it is fetched again.
pub const FRESH_FOR: TimeDelta = TimeDelta::hours(24);

/// The pictures of every device's contacts.
#[derive(Clone)]
pub struct Pictures {
    store: Store,
    /// `limits.picture_cache_bytes`.
    budget: u64,
}

impl Pictures {
    pub fn new(store: Store, budget: u64) -> Self {
        Self { store, budget }
    }

    /// The picture of contact `contact_id` of the device `handle` names: kept, or fetched from
    /// its upstream and kept. `None` when the contact has none.
    pub async fn picture(
        &self,
        handle: &DeviceHandle,
        contact_id: &str,
    ) -> Result<Option<Picture>, DeviceError> {
        let (device, contact) = (handle.id.clone(), contact_id.to_owned());
        let kept = self
            .store
            .read(move |conn| pictures::kept(conn, &device, &contact))
            .await?;
        let now = Utc::now();
        if let Some(kept) = &kept {
            if now - kept.fetched_at < FRESH_FOR {
                return Ok(kept.picture.clone());
            }
        }
        let fetched = match (handle.picture(contact_id.to_owned()).await, kept) {
            (Ok(fetched), _) => fetched,
            (Err(error), Some(stale)) => {
                tracing::debug!(device_id = %handle.id, contact_id, %error, "the upstream gave no fresh picture; the one kept is served");
                return Ok(stale.picture);
            }
            (Err(error), None) => return Err(error),
        };
        let (device, contact, budget) = (handle.id.clone(), contact_id.to_owned(), self.budget);
        Ok(self
            .store
            .write(move |tx| {
                tx.keep_picture(&device, &contact, fetched.as_ref(), now, budget)?;
                Ok(fetched)
            })
            .await?)
    }
}
