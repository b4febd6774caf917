//! Webhook deliveries from a device's upstream (WAHA's events, Meta's notifications): the
//! device found and checked before the body is read, the body verified against the device's
//! own secret and read into what the device must apply. Handing them to the device is the
//! manager's, which knows where the device runs.

use super::upstream::Connectors;
use super::{definition, stored, DeviceError};
use crate::model::{
    spec::{ConnectorKind, DeviceSpec},
    upstream::{media_base, Reported, WebhookError},
    DeviceId,
};
use crate::store::Store;

/// A device found to take webhooks from one upstream (see [`receiver`]), with the definition
/// its deliveries are checked against.
pub struct WebhookReceiver {
    pub(super) id: DeviceId,
    from: ConnectorKind,
    spec: DeviceSpec,
}

/// The device a webhook delivery from upstream `from` is for, checked before the delivery's
/// body is read: the device must exist and be relayed to that upstream, so that a post for
/// any other id costs nothing.
pub(super) async fn receiver(
    store: &Store,
    id: &DeviceId,
    from: ConnectorKind,
) -> Result<WebhookReceiver, DeviceError> {
    let spec = definition(&stored(store, id).await?)?;
    if spec.connector != from {
        return Err(WebhookError::NotThisConnector(from.as_str()).into());
    }
    Ok(WebhookReceiver {
        id: id.clone(),
        from,
        spec,
    })
}

impl WebhookReceiver {
    /// The upstream the delivery came from.
    pub(super) fn from(&self) -> ConnectorKind {
        self.from
    }

    /// Verifies a delivery over its raw body and reads what it reports; nothing when the
    /// signature is wrong. `public_url` is where the daemon serves the device's media.
    pub(super) fn read(
        &self,
        connectors: &dyn Connectors,
        public_url: &str,
        headers: &reqwest::header::HeaderMap,
        body: &[u8],
    ) -> Result<Vec<Reported>, DeviceError> {
        let media_base = media_base(public_url, &self.id);
        Ok(connectors.read_webhook(&self.spec, self.from, &media_base, headers, body)?)
    }

    /// Meta's check of a Cloud API device's callback URL.
    pub(super) fn verify_subscription(
        &self,
        connectors: &dyn Connectors,
        mode: Option<&str>,
        token: Option<&str>,
    ) -> Result<(), DeviceError> {
        Ok(connectors.verify_subscription(&self.spec, mode, token)?)
    }
}
