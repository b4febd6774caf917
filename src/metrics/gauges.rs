//! What is read rather than counted, set at each scrape.

use std::sync::atomic::AtomicU64;

use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::{Registry, Unit};

use super::connectors::CONNECTORS;
use super::OneLabel;
use crate::model::{spec::ConnectorKind, StateName};

/// What is read rather than counted, at the moment of a scrape.
#[derive(Debug, Default)]
pub struct Snapshot {
    /// Socket.IO connections open, one per namespace a client joined.
    pub socket_connections: u64,
    /// Devices with a fanout running: a socket attached or being brought up to date.
    pub socket_watched_devices: u64,
    /// Devices per state (`state` as stored); a state not listed has none.
    pub devices: Vec<(String, u64)>,
    /// Messages waiting in the relay queue per connector (as stored).
    pub relay_queue: Vec<(String, u64)>,
    /// Webhook deliveries waiting (pending or retrying) for enabled subscriptions.
    pub webhook_queue: u64,
    /// Age of the oldest of them, in seconds (0 when none waits).
    pub webhook_oldest_age_secs: f64,
    /// Per event sink (its id and kind): events journaled and not yet confirmed by its server.
    pub sink_lag: Vec<(String, &'static str, u64)>,
}

/// The labels of a sink's series: its id and its kind.
type SinkLabels = [(&'static str, String); 2];

/// Gauges set from a [`Snapshot`] at each scrape.
pub(super) struct Gauges {
    socket_connections: Gauge,
    socket_watched_devices: Gauge,
    devices: Vec<(StateName, Gauge)>,
    relay_queue: Vec<(ConnectorKind, Gauge)>,
    webhook_queue: Gauge,
    webhook_oldest: Gauge<f64, AtomicU64>,
    sink_lag: Family<SinkLabels, Gauge>,
}

impl Gauges {
    pub(super) fn register(registry: &mut Registry) -> Gauges {
        let socket_connections = Gauge::default();
        registry.register(
            "socket_connections",
            "Socket.IO connections open, one per namespace a client joined",
            socket_connections.clone(),
        );
        let socket_watched_devices = Gauge::default();
        registry.register(
            "socket_watched_devices",
            "Devices whose events are delivered live: a socket is attached or being brought up to date",
            socket_watched_devices.clone(),
        );
        let devices = Family::<OneLabel, Gauge>::default();
        let per_state = StateName::ALL
            .into_iter()
            .map(|state| {
                (
                    state,
                    devices.get_or_create_owned(&[("state", state.as_str())]),
                )
            })
            .collect();
        registry.register("devices", "Devices by state", devices);
        let relay_queue = Family::<OneLabel, Gauge>::default();
        let per_connector = CONNECTORS
            .into_iter()
            .map(|kind| {
                let series = relay_queue.get_or_create_owned(&[("connector", kind.as_str())]);
                (kind, series)
            })
            .collect();
        registry.register(
            "relay_queue_depth",
            "Messages waiting to be handed to the upstream, or to be tried again, by connector",
            relay_queue,
        );
        let webhook_queue = Gauge::default();
        registry.register(
            "webhook_queue_depth",
            "Webhook deliveries waiting to be delivered",
            webhook_queue.clone(),
        );
        let webhook_oldest = Gauge::<f64, AtomicU64>::default();
        registry.register_with_unit(
            "webhook_oldest_pending_age",
            "Age of the oldest webhook delivery still waiting",
            Unit::Seconds,
            webhook_oldest.clone(),
        );
        let sink_lag = Family::<SinkLabels, Gauge>::default();
        registry.register(
            "sink_lag_events",
            "Events journaled and not yet confirmed by an event sink's server, by sink",
            sink_lag.clone(),
        );
        Gauges {
            sink_lag,
            socket_connections,
            socket_watched_devices,
            devices: per_state,
            relay_queue: per_connector,
            webhook_queue,
            webhook_oldest,
        }
    }

    /// Sets every gauge to what `now` read.
    pub(super) fn set(&self, now: &Snapshot) {
        self.socket_connections.set(gauge(now.socket_connections));
        self.socket_watched_devices
            .set(gauge(now.socket_watched_devices));
        let stored = |list: &[(String, u64)], name: &str| {
            list.iter()
                .find(|(stored, _)| stored == name)
                .map_or(0, |(_, count)| *count)
        };
        for (state, series) in &self.devices {
            series.set(gauge(stored(&now.devices, state.as_str())));
        }
        for (connector, series) in &self.relay_queue {
            series.set(gauge(stored(&now.relay_queue, connector.as_str())));
        }
        self.webhook_queue.set(gauge(now.webhook_queue));
        self.webhook_oldest.set(now.webhook_oldest_age_secs);
        // Sinks come and go: a deleted one's series goes with it.
        self.sink_lag.clear();
        for (sink, kind, lag) in &now.sink_lag {
            let labels = [("sink", sink.clone()), ("kind", (*kind).to_owned())];
            self.sink_lag.get_or_create(&labels).set(gauge(*lag));
        }
    }
}

/// A count as a gauge's value.
fn gauge(count: u64) -> i64 {
    i64::try_from(count).unwrap_or(i64::MAX)
}
