//! A device's upstream as its actor uses it in a cluster: every call that acts on the
//! upstream is first claimed under the device's lease (SPEC §10).
//!
//! An HTTP upstream cannot see an epoch, so fencing the store's writes is not enough: a node
//! frozen past its lease could still send a message the new owner sends too. Before each call
//! the node checks its own clock of the lease ([`LeaseClock`]), then makes a fenced write, which
//! the database refuses once another node holds the device; a refused claim makes no call, and
//! the call fails as an unreachable upstream would (what it was for stays queued, for the
//! device's next owner).

use async_trait::async_trait;
use reqwest::header::HeaderMap;
use serde_json::Value;
use tokio::sync::mpsc;

use super::ownership::LeaseClock;
use crate::device::media::{Downloads, Library};
use crate::device::upstream::{Connectors, Upstream, UpstreamEvent};
use crate::device::DeviceError;
use crate::model::{
    inbound::Directory,
    pairing::LinkingPhone,
    spec::{ConnectorKind, DeviceSpec},
    upstream::{
        Accepted, ConnectorError, Cue, Download, Outbound, Outgoing, Picture, Profile, Reported,
        Session, WebhookError,
    },
    DeviceId,
};
use crate::store::Store;

/// The connectors, building upstreams whose calls are claimed under one device's lease.
pub(super) struct LeasedConnectors {
    pub(super) inner: std::sync::Arc<dyn Connectors>,
    pub(super) claim: Claim,
}

/// How a call is claimed: the lease's clock, and the store fenced by its epoch.
#[derive(Clone)]
pub(super) struct Claim {
    pub(super) clock: LeaseClock,
    pub(super) store: Store,
}

impl Claim {
    async fn take(&self) -> Result<(), ConnectorError> {
        let lapsed =
            || ConnectorError::Unreachable("this node's lease on the device lapsed".into());
        if !self.clock.is_live() {
            return Err(lapsed());
        }
        self.store.write(|_| Ok(())).await.map_err(|_| lapsed())?;
        // The write may have waited: the clock is read again just before the call.
        match self.clock.is_live() {
            true => Ok(()),
            false => Err(lapsed()),
        }
    }
}

#[async_trait]
impl Connectors for LeasedConnectors {
    fn upstream(
        &self,
        id: &DeviceId,
        spec: DeviceSpec,
        events: mpsc::Sender<UpstreamEvent>,
        library: Library,
    ) -> Result<Box<dyn Upstream>, DeviceError> {
        Ok(Box::new(LeasedUpstream {
            inner: self.inner.upstream(id, spec, events, library)?,
            claim: self.claim.clone(),
        }))
    }

    fn read_webhook(
        &self,
        spec: &DeviceSpec,
        from: ConnectorKind,
        media_base: &str,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<Vec<Reported>, WebhookError> {
        self.inner
            .read_webhook(spec, from, media_base, headers, body)
    }

    fn verify_subscription(
        &self,
        spec: &DeviceSpec,
        mode: Option<&str>,
        token: Option<&str>,
    ) -> Result<(), WebhookError> {
        self.inner.verify_subscription(spec, mode, token)
    }
}

#[async_trait]
impl Downloads for LeasedConnectors {
    async fn download(
        &self,
        spec: &DeviceSpec,
        media_id: &str,
    ) -> Result<Option<Download>, ConnectorError> {
        self.inner.download(spec, media_id).await
    }
}

/// An upstream whose calls are claimed first.
struct LeasedUpstream {
    inner: Box<dyn Upstream>,
    claim: Claim,
}

#[async_trait]
impl Upstream for LeasedUpstream {
    async fn open(&mut self, session: Option<&Value>) -> Result<Session, ConnectorError> {
        self.claim.take().await?;
        self.inner.open(session).await
    }

    async fn issue_qr(&mut self, ttl: std::time::Duration) -> Result<String, ConnectorError> {
        self.claim.take().await?;
        self.inner.issue_qr(ttl).await
    }

    async fn request_pairing_code(
        &mut self,
        phone: &LinkingPhone,
        ttl: std::time::Duration,
    ) -> Result<String, ConnectorError> {
        self.claim.take().await?;
        self.inner.request_pairing_code(phone, ttl).await
    }

    fn rotates_qr(&self) -> bool {
        self.inner.rotates_qr()
    }

    async fn check(&mut self) -> Result<Option<Session>, ConnectorError> {
        self.claim.take().await?;
        self.inner.check().await
    }

    async fn sync(&mut self) -> Result<Directory, ConnectorError> {
        self.claim.take().await?;
        self.inner.sync().await
    }

    async fn send(&mut self, batch: &[Outgoing]) -> Vec<Result<Accepted, ConnectorError>> {
        match self.claim.take().await {
            Ok(()) => self.inner.send(batch).await,
            // Nothing was attempted: every message waits for the device's next owner.
            Err(lapsed) => vec![Err(lapsed)],
        }
    }

    fn recognises_resends(&self) -> bool {
        self.inner.recognises_resends()
    }

    async fn tell(&mut self, action: &Outbound) -> Result<(), ConnectorError> {
        self.claim.take().await?;
        self.inner.tell(action).await
    }

    async fn find_number(&mut self, number: &str) -> Result<Option<String>, ConnectorError> {
        self.claim.take().await?;
        self.inner.find_number(number).await
    }

    async fn number_behind(&mut self, lid: &str) -> Result<Option<String>, ConnectorError> {
        self.claim.take().await?;
        self.inner.number_behind(lid).await
    }

    async fn group_name(&mut self, group_id: &str) -> Result<Option<String>, ConnectorError> {
        self.claim.take().await?;
        self.inner.group_name(group_id).await
    }

    async fn profile(&mut self, contact_id: &str) -> Result<Option<Profile>, ConnectorError> {
        self.claim.take().await?;
        self.inner.profile(contact_id).await
    }

    async fn picture(&mut self, contact_id: &str) -> Result<Option<Picture>, ConnectorError> {
        self.claim.take().await?;
        self.inner.picture(contact_id).await
    }

    async fn close(&mut self) {
        // Closing under a lapsed lease could end the new owner's session.
        if self.claim.clock.is_live() {
            self.inner.close().await
        }
    }

    async fn logout(&mut self) {
        // Logging out under a lapsed lease would unlink the new owner's session.
        if self.claim.take().await.is_ok() {
            self.inner.logout().await
        }
    }

    async fn cue(&mut self, cue: Cue) -> Result<(), ConnectorError> {
        self.claim.take().await?;
        self.inner.cue(cue).await
    }
}
