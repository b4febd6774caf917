//! The event bus: where committed events fan out to the sinks.
//!
//! Only the store's writer publishes, right after the commit that journaled the events, so every
//! subscriber sees each device's events in `seq` order. A subscriber that falls behind the
//! channel's capacity is told how many it missed and refills the gap from the journal.
//!
//! Beside the events, the bus carries [`DeviceChange`]s (a device defined or removed, which
//! its journal does not record), and takes the measure of every commit, including those that
//! journal no event, into the daemon's [`Metrics`], counting it in their [`Changes`].

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::broadcast;

use crate::metrics::{Changes, Metrics};
use crate::model::{event::JournaledEvent, DeviceId};

const CAPACITY: usize = 16_384;
/// Devices are created, edited and removed by hand, as keys are revoked: a few at a time.
const DEVICE_CHANGES_CAPACITY: usize = 256;

/// A device was created or its definition edited, or it was removed. Neither is journaled (a
/// definition is not an event of the device's, and a removed device's journal goes with it),
/// but dashboards hear of both, published after the commit like events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceChange {
    Defined(DeviceId),
    Removed(DeviceId),
}

#[derive(Clone)]
pub struct EventBus {
    sender: broadcast::Sender<Arc<JournaledEvent>>,
    devices: broadcast::Sender<DeviceChange>,
    /// The ids of API keys revoked, after the commit: the connections made with them close.
    revocations: broadcast::Sender<String>,
    metrics: Arc<Metrics>,
}

impl EventBus {
    pub fn new() -> Self {
        Self::with_metrics(Arc::new(Metrics::default()))
    }

    /// A bus whose commits are measured in `metrics`, and counted in its [`Changes`].
    pub fn with_metrics(metrics: Arc<Metrics>) -> Self {
        let (sender, _) = broadcast::channel(CAPACITY);
        let (devices, _) = broadcast::channel(DEVICE_CHANGES_CAPACITY);
        let (revocations, _) = broadcast::channel(DEVICE_CHANGES_CAPACITY);
        Self {
            sender,
            devices,
            revocations,
            metrics,
        }
    }

    pub fn publish(&self, event: JournaledEvent) {
        // No subscriber yet is fine: the journal keeps the event.
        let _ = self.sender.send(Arc::new(event));
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<JournaledEvent>> {
        self.sender.subscribe()
    }

    pub fn publish_device_change(&self, change: DeviceChange) {
        let _ = self.devices.send(change);
    }

    pub fn subscribe_device_changes(&self) -> broadcast::Receiver<DeviceChange> {
        self.devices.subscribe()
    }

    /// API key `key` was revoked (on this node or, in a cluster, another).
    pub fn publish_key_revoked(&self, key: String) {
        let _ = self.revocations.send(key);
    }

    pub fn subscribe_key_revocations(&self) -> broadcast::Receiver<String> {
        self.revocations.subscribe()
    }

    /// Called by the store's writer after each commit, whether it journaled events or not:
    /// `writes` writes journaling `events` events, `taken` from the first write to the commit.
    pub fn committed(&self, writes: usize, events: usize, taken: Duration) {
        self.metrics.committed(writes, events, taken);
        self.metrics.changes().bump();
    }

    /// Called by the store's writer as it takes a write into a group commit, `waited` after
    /// the write was queued.
    pub fn write_waited(&self, waited: Duration) {
        self.metrics.write_waited(waited);
    }

    /// The daemon's metrics, for the sinks that measure their own share of an event's path.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// The counter behind [`EventBus::committed`], for the store's other changes.
    pub fn changes(&self) -> Changes {
        self.metrics.changes().clone()
    }
}

impl Default for EventBus {
    fn default() -> Self {
        Self::new()
    }
}
