//! The event bus: where committed events fan out to the sinks.
//!
//! Only the store's writer publishes, right after the commit that journaled the events, so every
//! subscriber sees each device's events in `seq` order. A subscriber that falls behind the
//! channel's capacity is told how many it missed and refills the gap from the journal.
//!
//! Beside the events, the bus carries [`DeviceChange`]s (a device defined or removed, which
//! its journal does not record), and takes the measure of every commit, including those that
//! journal no event, into the daemon's [`Metrics`], counting it in their [`Changes`].

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use tokio::sync::broadcast;

use crate::metrics::{Changes, Metrics};
use crate::model::{event::JournaledEvent, DeviceId};

const CAPACITY: usize = 16_384;
/// Devices are created, edited and removed by hand, as keys are revoked: a few commits at a
/// time. Each commit's changes go as one message, however many it made (a provisioning
/// script's hundreds of devices, a cluster node catching up with what it did not hear): one
/// message a change let a burst of more than this overtake subscribers, which then missed the
/// oldest (a namespace never opened, a revoked key's connections left open).
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
    /// The devices each commit defined or removed, in its order.
    devices: broadcast::Sender<Arc<[DeviceChange]>>,
    /// The ids of the API keys each commit revoked: the connections made with them close.
    revocations: broadcast::Sender<Arc<[String]>>,
    metrics: Arc<Metrics>,
    /// Told of each event another node committed before any subscriber hears of it: the
    /// cluster's view of its devices, so that a client that saw a QR or pairing code on its
    /// socket finds the node it types it into already knowing it.
    remote_first: Arc<OnceLock<RemoteHearer>>,
}

/// What [`EventBus::hear_remote_first`] registers.
type RemoteHearer = Box<dyn Fn(&JournaledEvent) + Send + Sync>;

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
            remote_first: Arc::default(),
        }
    }

    pub fn publish(&self, event: JournaledEvent) {
        if event.remote {
            if let Some(hear) = self.remote_first.get() {
                hear(&event);
            }
        }
        // No subscriber yet is fine: the journal keeps the event.
        let _ = self.sender.send(Arc::new(event));
    }

    /// Has `hear` told of every event another node committed, on the publishing thread and
    /// before the subscribers, for as long as the bus lives. Only the first call counts: a
    /// node has one view of the cluster.
    pub fn hear_remote_first(&self, hear: impl Fn(&JournaledEvent) + Send + Sync + 'static) {
        let _ = self.remote_first.set(Box::new(hear));
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<JournaledEvent>> {
        self.sender.subscribe()
    }

    /// The devices one commit defined or removed, together; nothing if there are none.
    pub fn publish_device_changes(&self, changes: Vec<DeviceChange>) {
        if !changes.is_empty() {
            let _ = self.devices.send(changes.into());
        }
    }

    pub fn subscribe_device_changes(&self) -> broadcast::Receiver<Arc<[DeviceChange]>> {
        self.devices.subscribe()
    }

    /// The API keys one commit revoked (on this node or, in a cluster, another), together;
    /// nothing if there are none.
    pub fn publish_keys_revoked(&self, keys: Vec<String>) {
        if !keys.is_empty() {
            let _ = self.revocations.send(keys.into());
        }
    }

    pub fn subscribe_key_revocations(&self) -> broadcast::Receiver<Arc<[String]>> {
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

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    fn event(seq: u64, remote: bool) -> JournaledEvent {
        JournaledEvent {
            device_id: DeviceId::parse("demo").unwrap(),
            seq,
            at: crate::model::rfc3339(chrono::Utc::now()),
            kind: "qr".parse().unwrap(),
            payload: serde_json::value::to_raw_value(&serde_json::json!({})).unwrap(),
            remote,
        }
    }

    #[test]
    fn another_nodes_event_reaches_the_remote_hearer_before_any_subscriber() {
        let bus = EventBus::new();
        let subscriber = Mutex::new(bus.subscribe());
        // For each event heard: its seq, and the seqs the subscriber had been handed by then.
        let heard = Arc::new(Mutex::new(Vec::new()));
        bus.hear_remote_first({
            let heard = heard.clone();
            move |event| {
                let mut delivered = Vec::new();
                while let Ok(earlier) = subscriber.lock().unwrap().try_recv() {
                    delivered.push(earlier.seq);
                }
                heard.lock().unwrap().push((event.seq, delivered));
            }
        });
        bus.publish(event(1, false));
        bus.publish(event(2, true));
        bus.publish(event(3, true));
        // This node's own seq 1 is not the hearer's; each remote one is heard before it is
        // handed on.
        assert_eq!(*heard.lock().unwrap(), vec![(2, vec![1]), (3, vec![2])]);
    }
}
