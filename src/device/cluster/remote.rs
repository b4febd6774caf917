//! A cluster node's devices: the actors of those whose lease it holds, and a handle for every
//! other one that carries requests to its owner ([`ToOwner`]) and mirrors where the device
//! stands from the owner's events.

use std::sync::Arc;

use async_trait::async_trait;
use tokio::sync::watch;

use super::leased::{Claim, LeasedConnectors};
use super::owners::{webhook_path, ForwardedWebhook, Owners, ToOwner, SCAN_PATH};
use super::ownership::{Ownership, Runner};
use crate::device::actor::ActorContext;
use crate::device::mirror::Mirror;
use crate::device::pairings::Scan;
use crate::device::relay_bell::RelayBell;
use crate::device::route::Answer;
use crate::device::supervisor::{self, Supervisor};
use crate::device::{DeviceError, DeviceHandle};
use crate::model::event::{EventKind, HealthStatus, JournaledEvent};
use crate::model::spec::ConnectorKind;
use crate::model::DeviceId;
use crate::store;

/// This node's part in the cluster: its leases, how it reaches the other nodes, and the
/// devices it runs or follows.
#[derive(Clone)]
pub struct Remote {
    ownership: Ownership,
    owners: Owners,
    supervisor: Supervisor,
    context: ActorContext,
}

impl Remote {
    /// The devices `ownership` holds run under `supervisor` with `context`; requests for the
    /// others go to their owners, authenticated with the cluster's `key`.
    pub(in crate::device) fn new(
        ownership: Ownership,
        key: &str,
        supervisor: Supervisor,
        context: ActorContext,
    ) -> Self {
        let owners = Owners::new(context.store.clone(), ownership.node(), key);
        Self {
            ownership,
            owners,
            supervisor,
            context,
        }
    }

    pub fn ownership(&self) -> &Ownership {
        &self.ownership
    }

    /// Whether `key` is the cluster's shared key, which requests carried from another node
    /// present.
    pub fn is_cluster_key(&self, key: &str) -> bool {
        self.owners.is_key(key)
    }

    /// A device new to this node: followed until this node takes its lease, which the next
    /// round of the lease keeper, asked for now, may do.
    pub(in crate::device) fn supervise(&self, id: DeviceId) {
        self.follow(id);
        self.ownership.wake();
    }

    /// The device that runs on another node and shows the pairing code `scan` presents, if
    /// one does.
    pub fn showing(&self, scan: &Scan<'_>) -> Option<DeviceId> {
        self.supervisor.showing(scan)
    }

    /// Has the node that runs `device` claim the pairing code `scan` presents: a phone scanned
    /// it, or typed it, through this node.
    pub async fn scan_on_owner(
        &self,
        device: &DeviceId,
        scan: &Scan<'_>,
    ) -> Result<(), DeviceError> {
        let _: serde_json::Value = self.owners.call(device, SCAN_PATH, &scan.body()).await?;
        Ok(())
    }

    /// Hands a verified webhook delivery for `device` to the node that runs it, which reads it
    /// again.
    pub(in crate::device) async fn forward_webhook(
        &self,
        device: &DeviceId,
        from: ConnectorKind,
        headers: &reqwest::header::HeaderMap,
        body: &[u8],
    ) -> Result<(), DeviceError> {
        let forwarded = ForwardedWebhook::new(from, headers, body);
        let _: Answer = self
            .owners
            .call(device, &webhook_path(device), &forwarded)
            .await?;
        Ok(())
    }

    /// Gives a device that runs on another node a handle that carries requests to it, and
    /// reads where it stands (QR code, account, readiness) from the store; its events keep
    /// that up to date from then on ([`Self::heard`]). A device whose actor runs here
    /// keeps its handle.
    fn follow(&self, id: DeviceId) {
        let (qr, qr_receiver) = watch::channel(None);
        let (me, me_receiver) = watch::channel(None);
        let (health, health_receiver) = watch::channel(HealthStatus::Healthy);
        let bell = Arc::new(RelayBell::default());
        let route = ToOwner {
            device: id.clone(),
            owners: self.owners.clone(),
        };
        let handle = DeviceHandle::new(
            id.clone(),
            Arc::new(route),
            qr_receiver,
            me_receiver,
            health_receiver,
            bell.clone(),
        );
        let mirror = Mirror {
            qr,
            phone_code: watch::channel(None).0,
            me,
            health,
            bell,
            heard: Default::default(),
        };
        if !self.supervisor.mirror(handle, mirror.clone()) {
            return;
        }
        let store = self.context.store.clone();
        tokio::spawn(async move {
            let read = store
                .read(move |conn| {
                    let record = store::devices::get(conn, &id)?;
                    let qr = store::journal::latest(conn, &id, EventKind::Qr)?;
                    Ok((record, qr))
                })
                .await;
            if let Ok((Some(record), qr)) = read {
                mirror.start_from(&record, qr.as_ref());
            }
        });
    }

    /// Keeps the cluster's view of its devices up to date with an event another node
    /// committed, before the bus's subscribers hear of it: it rings the relay of a device that
    /// runs here (a message was queued there), and updates the QR code, account and readiness
    /// of a device that runs elsewhere.
    pub fn heard(&self, event: &JournaledEvent) {
        self.supervisor.heard(event);
    }
}

#[async_trait]
impl Runner for Remote {
    /// Runs the device here: this node took its lease. Its handle is replaced, so callers
    /// that ask for it from now on reach the new actor.
    async fn take(&self, id: &DeviceId) {
        let Some((fence, clock)) = self.ownership.held(id) else {
            return;
        };
        let store = self.context.store.fenced(fence);
        let context = ActorContext {
            connectors: Arc::new(LeasedConnectors {
                inner: self.context.connectors.clone(),
                claim: Claim {
                    clock,
                    store: store.clone(),
                },
            }),
            store,
            ..self.context.clone()
        };
        // Replaced in one step: a device's definition heard meanwhile (`adopt`) cannot slip
        // a handle of its own in between.
        let replaced = self.supervisor.run_here(id.clone(), context);
        supervisor::stop(replaced).await;
    }

    /// Stops the device's actor here, if it runs here, and follows it on its next owner: this
    /// node lost or gave up its lease.
    async fn let_go(&self, id: &DeviceId) {
        let Some(running) = self.supervisor.remove_if_here(id) else {
            return;
        };
        // Callers reach the device's next owner from now on, while its actor here stops.
        self.follow(id.clone());
        supervisor::stop(Some(running)).await;
    }
}
