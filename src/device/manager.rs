//! The device manager: the one front the API and `app` call for the fleet. It puts together
//! the fleet's definitions ([`super::fleet`]), the supervisor that runs the devices
//! ([`super::supervisor`]), in a cluster the node's view of devices owned elsewhere
//! ([`Remote`]), and the upstreams' webhook deliveries ([`super::webhooks`]).

use std::path::Path;

use super::actor::ActorContext;
use super::cluster::{Ownership, Remote};
use super::fleet::{self, DevicePatch};
use super::governor::{self, Governor};
use super::media::Library;
use super::pictures::Pictures;
use super::spec::DeviceFileError;
use super::supervisor::{self, Supervisor};
use super::webhooks::{self, WebhookReceiver};
use super::{definition, DeviceError, DeviceHandle, DeviceView};
use crate::model::{
    governor::{GovernorView, Restrictions},
    spec::{ConnectorKind, DeviceSpec},
    upstream::Download,
    DeviceId,
};
use crate::store::{self, DeviceRecord};

#[derive(Clone)]
pub struct DeviceManager {
    context: ActorContext,
    supervisor: Supervisor,
    /// This node's part in a cluster, if it is one of several.
    remote: Option<Remote>,
}

impl DeviceManager {
    pub fn new(context: ActorContext) -> Self {
        Self {
            context,
            supervisor: Supervisor::default(),
            remote: None,
        }
    }

    /// A manager for one node of a cluster: it runs the devices `ownership` holds, and
    /// carries requests for the others to their owners, authenticated with `key`.
    pub fn in_cluster(context: ActorContext, ownership: Ownership, key: &str) -> Self {
        let supervisor = Supervisor::default();
        let remote = Remote::new(ownership, key, supervisor.clone(), context.clone());
        Self {
            context,
            supervisor,
            remote: Some(remote),
        }
    }

    /// This node's part in the cluster, if it is one of several.
    pub fn remote(&self) -> Option<&Remote> {
        self.remote.as_ref()
    }

    /// This node's leases, in a cluster.
    pub fn ownership(&self) -> Option<&Ownership> {
        self.remote.as_ref().map(Remote::ownership)
    }

    /// The handle of a device whose actor runs on this node.
    pub fn local_handle(&self, id: &DeviceId) -> Option<DeviceHandle> {
        self.supervisor.local_handle(id)
    }

    pub fn handle(&self, id: &DeviceId) -> Option<DeviceHandle> {
        self.supervisor.handle(id)
    }

    pub fn ids(&self) -> Vec<DeviceId> {
        self.supervisor.ids()
    }

    /// Syncs `dir` into the store, then supervises every stored device. Returns the files
    /// that could not be used.
    pub async fn boot(&self, dir: &Path) -> Result<Vec<DeviceFileError>, DeviceError> {
        let errors = fleet::sync_dir(&self.context.store, dir).await?;
        let records = self.context.store.read(store::devices::list).await?;
        for record in records {
            self.supervise(record.id);
        }
        Ok(errors)
    }

    /// What a device's send governor stands at, and WhatsApp's restrictions on it, from its
    /// record and the governor's stored ledger (`store::governors`), as any node can tell.
    pub fn governor_of(
        &self,
        record: &DeviceRecord,
        ledger: Option<String>,
    ) -> (GovernorView, Restrictions) {
        let file = definition(record)
            .map(|spec| spec.governor)
            .unwrap_or_default();
        let connector = ConnectorKind::named(&record.connector).unwrap_or_default();
        let base = governor::base_limits(connector, &self.context.settings.governor, &file);
        let governor = Governor::new(base, governor::read_ledger(&record.id, ledger));
        let now = chrono::Utc::now().timestamp_millis();
        (governor.view(now), governor.ledger().restrictions().clone())
    }

    pub async fn create(&self, id: DeviceId, spec: DeviceSpec) -> Result<DeviceView, DeviceError> {
        let created = fleet::create(&self.context.store, id.clone(), spec).await?;
        self.supervise(id);
        Ok(DeviceView::from(&created))
    }

    pub async fn update(
        &self,
        id: &DeviceId,
        patch: DevicePatch,
    ) -> Result<DeviceView, DeviceError> {
        let updated = fleet::update(&self.context.store, id, patch).await?;
        Ok(DeviceView::from(&updated))
    }

    /// Stops the device's actor and deletes the device with its journal and its uploads.
    pub async fn delete(&self, id: &DeviceId) -> Result<(), DeviceError> {
        fleet::check_removable(&self.context.store, id).await?;
        self.forget(id).await;
        fleet::delete(&self.context.store, id).await?;
        self.library().uploads().forget(id).await;
        Ok(())
    }

    /// Learns of a device defined on another node of the cluster.
    pub fn adopt(&self, id: &DeviceId) {
        if !self.supervisor.knows(id) {
            self.supervise(id.clone());
        }
    }

    /// Stops the device's actor, if it runs here, and forgets the device.
    pub async fn forget(&self, id: &DeviceId) {
        supervisor::stop(self.supervisor.remove(id)).await;
    }

    /// Stops every actor (each records its shutdown), each within the supervisor's deadline.
    pub async fn shutdown(&self) {
        self.supervisor.shutdown().await;
    }

    /// Starts supervising a device new to the manager: on one node its actor runs at once
    /// (there is nothing before it to stop); in a cluster it is followed until this node
    /// takes its lease.
    fn supervise(&self, id: DeviceId) {
        match &self.remote {
            None => drop(self.supervisor.run_here(id, self.context.clone())),
            Some(remote) => remote.supervise(id),
        }
    }

    /// The largest upstream webhook body a receiver reads (`limits.max_upstream_body_bytes`).
    pub fn webhook_body_limit(&self) -> usize {
        self.context.settings.limits.max_upstream_body_bytes
    }

    /// The device a webhook delivery from upstream `from` is for (see [`webhooks::receiver`]).
    pub async fn webhook_receiver(
        &self,
        id: &DeviceId,
        from: ConnectorKind,
    ) -> Result<WebhookReceiver, DeviceError> {
        webhooks::receiver(&self.context.store, id, from).await
    }

    /// A webhook delivery from a device's upstream: verified against the device's secret over
    /// the raw body, read, and handed to the device, which stores what it reports before this
    /// returns (through the node that runs it, in a cluster). Nothing changes when the
    /// signature is wrong.
    pub async fn receive_webhook(
        &self,
        receiver: WebhookReceiver,
        headers: &reqwest::header::HeaderMap,
        body: &[u8],
    ) -> Result<(), DeviceError> {
        let settings = &self.context.settings;
        let reports = receiver.read(
            self.context.connectors.as_ref(),
            &settings.server.public_url,
            headers,
            body,
        )?;
        if reports.is_empty() {
            return Ok(());
        }
        let id = &receiver.id;
        if let (Some(remote), None) = (&self.remote, self.local_handle(id)) {
            // Verified here, read again by the node that runs the device.
            return remote
                .forward_webhook(id, receiver.from(), headers, body)
                .await;
        }
        self.handle(id)
            .ok_or(DeviceError::NotFound)?
            .deliver(reports)
            .await
    }

    /// Meta's check of a Cloud API device's callback URL.
    pub async fn verify_cloud_subscription(
        &self,
        id: &DeviceId,
        mode: Option<&str>,
        token: Option<&str>,
    ) -> Result<(), DeviceError> {
        let receiver = self.webhook_receiver(id, ConnectorKind::CloudApi).await?;
        receiver.verify_subscription(self.context.connectors.as_ref(), mode, token)
    }

    /// Opens media the device's upstream keeps behind its credentials (a Cloud API device's
    /// files, those WAHA serves itself), for `GET /api/v1/devices/{id}/media/{mediaId}`, the
    /// URL its messages carry.
    pub async fn media(&self, id: &DeviceId, media_id: &str) -> Result<Download, DeviceError> {
        self.library().open(id, media_id).await
    }

    /// The files the daemon serves for its devices.
    pub fn library(&self) -> Library {
        self.context.library()
    }

    /// The contacts' profile pictures the daemon serves.
    pub fn pictures(&self) -> Pictures {
        let budget = self.context.settings.limits.picture_cache_bytes;
        Pictures::new(self.context.store.clone(), budget)
    }
}
