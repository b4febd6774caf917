//! Which node runs which device, in a cluster (SPEC §10): the lease keeper.
//!
//! Each node renews its row and its device leases in the database once a round (a tenth of
//! `cluster.lease_secs`, at most a second), takes over devices no live node holds, up to its
//! fair share of them, and gives up what it held beyond that share. A device it takes gets an
//! actor here, whose writes are fenced by the lease's epoch and whose upstream calls are first
//! claimed under it (see `super::leased`); a device it loses or gives up has its actor stopped
//! and is followed from the others' events instead.
//!
//! A lease lasts, as this node sees it, from the moment the round that renewed it began, by
//! the process's monotonic clock: a node frozen past its lease (a pause, `SIGSTOP`) knows it
//! when it wakes, before its next round, and makes no upstream call under a lapsed lease,
//! while the database already refuses its writes.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::metrics::Metrics;
use crate::model::DeviceId;
use crate::store::cluster::{self, Fence, Held};
use crate::store::{Store, StoreResult};

/// The longest time between two rounds.
const LONGEST_ROUND: Duration = Duration::from_secs(1);

/// Whoever runs the devices whose leases this node holds: told when the node takes a
/// device's lease, and when it loses or gives one up.
#[async_trait]
pub trait Runner: Send + Sync {
    /// Runs the device here; its lease's fence and clock are in [`Ownership::held`].
    async fn take(&self, id: &DeviceId);
    /// Stops running the device here, once its actor has recorded its state.
    async fn let_go(&self, id: &DeviceId);
}

/// How long a device's lease lasts, as this node counts it.
#[derive(Clone, Debug)]
pub struct LeaseClock(Arc<Mutex<Instant>>);

impl LeaseClock {
    fn until(deadline: Instant) -> Self {
        Self(Arc::new(Mutex::new(deadline)))
    }

    fn extend(&self, deadline: Instant) {
        *self.0.lock().expect("lease clock lock") = deadline;
    }

    /// Whether the lease still runs: an upstream call is made only while it does.
    pub fn is_live(&self) -> bool {
        Instant::now() < *self.0.lock().expect("lease clock lock")
    }
}

/// A lease this node holds.
struct Lease {
    epoch: i64,
    clock: LeaseClock,
}

/// This node's identity in the cluster and the leases it holds.
#[derive(Clone)]
pub struct Ownership {
    inner: Arc<Inner>,
}

struct Inner {
    node: String,
    metrics: Arc<Metrics>,
    url: String,
    lease: Duration,
    store: Store,
    held: Mutex<HashMap<DeviceId, Lease>>,
    /// Rung when a device was defined, so that it finds an owner without waiting for a round.
    wake: Notify,
}

impl Ownership {
    pub fn new(
        node: String,
        url: String,
        lease: Duration,
        store: Store,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                node,
                metrics,
                url,
                lease,
                store,
                held: Mutex::default(),
                wake: Notify::new(),
            }),
        }
    }

    pub fn node(&self) -> &str {
        &self.inner.node
    }

    pub fn lease(&self) -> Duration {
        self.inner.lease
    }

    fn lease_ms(&self) -> i64 {
        self.inner.lease.as_millis() as i64
    }

    /// Asks for a round now.
    pub fn wake(&self) {
        self.inner.wake.notify_one();
    }

    /// The fence and clock of a device this node holds.
    pub(super) fn held(&self, device: &DeviceId) -> Option<(Fence, LeaseClock)> {
        let held = self.inner.held.lock().expect("leases lock");
        held.get(device).map(|lease| {
            let fence = Fence {
                device: device.clone(),
                node: self.inner.node.clone(),
                epoch: lease.epoch,
            };
            (fence, lease.clock.clone())
        })
    }

    /// Keeps this node's leases until `stop`, then hands its devices over: each actor stops
    /// (recording its state) before its lease is released, and the node says it is leaving,
    /// so that the others take the devices at their next round.
    pub async fn keep(self, devices: impl Runner, stop: CancellationToken) {
        let node = self.inner.node.clone();
        // Leases left by an earlier run under the same node id belong to a process that is
        // gone: let go of them, so they are taken again under a new epoch.
        if let Err(error) = self
            .inner
            .store
            .coordinate(move |conn| cluster::release_all(conn, &node))
            .await
        {
            tracing::warn!(%error, "cannot release the leases of this node's earlier run");
        }
        let round = (self.inner.lease / 10).min(LONGEST_ROUND);
        loop {
            self.round(&devices, false).await;
            tokio::select! {
                _ = stop.cancelled() => break,
                _ = self.inner.wake.notified() => {}
                _ = tokio::time::sleep(round) => {}
            }
        }
        self.hand_over(&devices).await;
    }

    /// One round: says the node is alive, renews its leases, lets go of those it lost,
    /// gives up what it holds beyond its share and takes devices nobody holds.
    async fn round(&self, devices: &impl Runner, leaving: bool) {
        let started = Instant::now();
        let (node, url, lease_ms) = (
            self.inner.node.clone(),
            self.inner.url.clone(),
            self.lease_ms(),
        );
        let renewed = self
            .inner
            .store
            .coordinate(move |conn| -> StoreResult<(Vec<Held>, i64)> {
                cluster::heartbeat(conn, &node, &url, leaving)?;
                let renewed = cluster::renew(conn, &node, lease_ms)?;
                let (fleet, nodes) = cluster::fleet_size(conn, lease_ms)?;
                Ok((renewed, (fleet + nodes - 1) / nodes))
            })
            .await;
        let deadline = started + self.inner.lease;
        let (renewed, share) = match renewed {
            Ok(renewed) => renewed,
            Err(error) => {
                tracing::warn!(%error, "cannot renew this node's device leases");
                self.let_go_lapsed(devices).await;
                return;
            }
        };
        let kept: HashSet<(DeviceId, i64)> = renewed
            .into_iter()
            .map(|held| (held.device, held.epoch))
            .collect();
        let lost: Vec<DeviceId> = {
            let mut held = self.inner.held.lock().expect("leases lock");
            let lost = held
                .iter()
                .filter(|(device, lease)| !kept.contains(&((*device).clone(), lease.epoch)))
                .map(|(device, _)| device.clone())
                .collect::<Vec<_>>();
            for device in &lost {
                held.remove(device);
            }
            for lease in held.values() {
                lease.clock.extend(deadline);
            }
            lost
        };
        for device in lost {
            tracing::warn!(device_id = %device, "lost the device's lease; it runs on another node now");
            self.inner.metrics.cluster_leases.inc("lost");
            devices.let_go(&device).await;
        }
        if leaving {
            return;
        }
        let holding = kept.len() as i64;
        if holding > share + 1 {
            self.give_up(devices, (holding - share) as usize).await;
            return;
        }
        let (node, lease_ms) = (self.inner.node.clone(), self.lease_ms());
        let wanted = share - holding;
        let claimed = match self
            .inner
            .store
            .coordinate(move |conn| cluster::claim(conn, &node, lease_ms, wanted))
            .await
        {
            Ok(claimed) => claimed,
            Err(error) => {
                tracing::warn!(%error, "cannot take devices over");
                return;
            }
        };
        for Held { device, epoch } in claimed {
            let clock = LeaseClock::until(deadline);
            tracing::info!(device_id = %device, epoch, "took the device over");
            self.inner.metrics.cluster_leases.inc("taken");
            self.inner.held.lock().expect("leases lock").insert(
                device.clone(),
                Lease {
                    epoch,
                    clock: clock.clone(),
                },
            );
            devices.take(&device).await;
        }
    }

    /// Stops the actors of leases whose clock ran out while the database could not be asked.
    async fn let_go_lapsed(&self, devices: &impl Runner) {
        let lapsed: Vec<DeviceId> = {
            let mut held = self.inner.held.lock().expect("leases lock");
            let lapsed: Vec<DeviceId> = held
                .iter()
                .filter(|(_, lease)| !lease.clock.is_live())
                .map(|(device, _)| device.clone())
                .collect();
            for device in &lapsed {
                held.remove(device);
            }
            lapsed
        };
        for device in lapsed {
            tracing::warn!(device_id = %device, "the device's lease lapsed");
            self.inner.metrics.cluster_leases.inc("lost");
            devices.let_go(&device).await;
        }
    }

    /// The devices this node holds, by id.
    fn holding(&self) -> Vec<DeviceId> {
        let held = self.inner.held.lock().expect("leases lock");
        let mut devices: Vec<DeviceId> = held.keys().cloned().collect();
        devices.sort();
        devices
    }

    /// Hands `count` of this node's devices over to the others.
    async fn give_up(&self, devices: &impl Runner, count: usize) {
        let mut giving = self.holding();
        giving.truncate(count);
        self.release(devices, giving).await;
    }

    /// Stops the devices' actors, then releases their leases.
    async fn release(&self, devices: &impl Runner, giving: Vec<DeviceId>) {
        for device in giving {
            devices.let_go(&device).await;
            self.inner.held.lock().expect("leases lock").remove(&device);
            self.inner.metrics.cluster_leases.inc("handed_over");
            let (node, released) = (self.inner.node.clone(), device.clone());
            let outcome = self
                .inner
                .store
                .coordinate(move |conn| cluster::release(conn, &node, &released))
                .await;
            match outcome {
                Ok(()) => tracing::info!(device_id = %device, "handed the device over"),
                // Its lease runs out by itself.
                Err(error) => {
                    tracing::warn!(device_id = %device, %error, "cannot release the device's lease")
                }
            }
        }
    }

    /// On shutdown: says the node is leaving (it takes no more devices, and the others stop
    /// counting it) and releases every device it holds.
    async fn hand_over(&self, devices: &impl Runner) {
        self.round(devices, true).await;
        self.release(devices, self.holding()).await;
    }
}
