//! What the devices of each connector did, and the HTTP requests of the connectors that make
//! them.

use std::collections::HashMap;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::{Registry, Unit};

use super::histogram::{self, Histogram};
use super::{OneLabel, TwoLabels};
use crate::model::spec::ConnectorKind;

/// Every connector, in the order their series are shown.
pub(super) const CONNECTORS: [ConnectorKind; 3] = [
    ConnectorKind::Simulator,
    ConnectorKind::Waha,
    ConnectorKind::CloudApi,
];

/// What the devices of one connector did, shared by all of them.
///
/// These are counted inside, or just before, the store writes that record the same thing,
/// and do not bump [`Changes`](super::Changes): the commit that follows does.
pub struct ConnectorMetrics {
    /// New messages the upstream reported: sent to the account, or from the phone itself.
    pub received: Counter,
    /// Messages the upstream took from the relay.
    pub sent: Counter,
    /// Messages handed to the upstream, each try counted.
    pub relay_attempts: Counter,
    /// Tries the upstream did not take (an error, a rejection, a timeout).
    pub relay_failures: Counter,
    /// From the moment a send was accepted to its server ack.
    pub server_ack: Histogram,
    /// From the moment a send was accepted to its device ack.
    pub device_ack: Histogram,
    /// Upstream sessions the watchdog found stalled and restarted.
    pub stalls: Counter,
    /// How long the ready devices' upstreams have been silent.
    pub silence: Silences,
}

/// How long each ready device's upstream has been silent, as of its last probe, shown as the
/// longest: one series per connector rather than per device, like every other family, and the
/// longest is the one an alert is about.
#[derive(Debug, Default)]
pub struct Silences {
    gauge: Gauge<f64, AtomicU64>,
    by_device: Mutex<HashMap<String, f64>>,
}

impl Silences {
    /// The device's upstream has been silent for `silence`; `None` once it is not ready.
    pub fn set(&self, device: &str, silence: Option<Duration>) {
        let mut by_device = self.by_device.lock().unwrap_or_else(|e| e.into_inner());
        match silence {
            Some(silence) => by_device.insert(device.to_owned(), silence.as_secs_f64()),
            None => by_device.remove(device),
        };
        let longest = by_device.values().copied().fold(0.0, f64::max);
        self.gauge.set(longest);
    }
}

/// An upstream's HTTP requests: how long each took, and those that failed.
#[derive(Debug, Clone)]
pub struct UpstreamRequests {
    taken: Histogram,
    unanswered: Counter,
    client_errors: Counter,
    server_errors: Counter,
}

impl UpstreamRequests {
    /// A request was answered with `status` after `taken`.
    pub fn answered(&self, status: u16, taken: Duration) {
        self.taken.observe_duration(taken);
        let errors = match status {
            400..=499 => &self.client_errors,
            500..=599 => &self.server_errors,
            _ => return,
        };
        errors.inc();
    }

    /// A request got no answer (no connection, a timeout) after `taken`.
    pub fn unanswered(&self, taken: Duration) {
        self.taken.observe_duration(taken);
        self.unanswered.inc();
    }
}

/// The families of what devices did, with the series of every connector.
pub(super) fn register_connectors(
    registry: &mut Registry,
) -> Vec<(ConnectorKind, Arc<ConnectorMetrics>)> {
    let received = Family::<OneLabel, Counter>::default();
    let sent = Family::<OneLabel, Counter>::default();
    let attempts = Family::<OneLabel, Counter>::default();
    let failures = Family::<OneLabel, Counter>::default();
    let stalls = Family::<OneLabel, Counter>::default();
    let silences = Family::<OneLabel, Gauge<f64, AtomicU64>>::default();
    let acks = Family::<TwoLabels, Histogram, fn() -> Histogram>::new_with_constructor(|| {
        Histogram::seconds(histogram::ACK_SECONDS)
    });
    let connectors = CONNECTORS
        .into_iter()
        .map(|kind| {
            let connector = [("connector", kind.as_str())];
            let ack = |ack| acks.get_or_create_owned(&[connector[0], ("ack", ack)]);
            let metrics = ConnectorMetrics {
                received: received.get_or_create_owned(&connector),
                sent: sent.get_or_create_owned(&connector),
                relay_attempts: attempts.get_or_create_owned(&connector),
                relay_failures: failures.get_or_create_owned(&connector),
                server_ack: ack("server"),
                device_ack: ack("device"),
                stalls: stalls.get_or_create_owned(&connector),
                silence: Silences {
                    gauge: silences.get_or_create_owned(&connector),
                    by_device: Mutex::default(),
                },
            };
            (kind, Arc::new(metrics))
        })
        .collect();
    registry.register(
        "messages_received",
        "New messages the upstream reported, by connector",
        received,
    );
    registry.register(
        "messages_sent",
        "Messages the upstream took from the relay, by connector",
        sent,
    );
    registry.register(
        "relay_attempts",
        "Messages handed to the upstream, each try counted, by connector",
        attempts,
    );
    registry.register(
        "relay_failures",
        "Tries to hand a message to the upstream that failed, by connector",
        failures,
    );
    registry.register(
        "device_stalls",
        "Upstream sessions the watchdog found stalled and restarted, by connector",
        stalls,
    );
    registry.register_with_unit(
        "device_upstream_silence",
        "Longest time a ready device's upstream has said nothing on its own, as of its last probe, by connector",
        Unit::Seconds,
        silences,
    );
    registry.register_with_unit(
        "message_ack_latency",
        "Time from a send's acceptance to its server or device ack, by connector",
        Unit::Seconds,
        acks,
    );
    connectors
}

/// The upstream request families, with the series of WAHA and of the Cloud API (the
/// simulator makes no requests).
pub(super) fn register_requests(registry: &mut Registry) -> (UpstreamRequests, UpstreamRequests) {
    let taken = Family::<OneLabel, Histogram, fn() -> Histogram>::new_with_constructor(|| {
        Histogram::seconds(histogram::REQUEST_SECONDS)
    });
    let errors = Family::<TwoLabels, Counter>::default();
    let requests = |kind: ConnectorKind| {
        let connector = ("connector", kind.as_str());
        let error = |kind| errors.get_or_create_owned(&[connector, ("kind", kind)]);
        UpstreamRequests {
            taken: taken.get_or_create_owned(&[connector]),
            unanswered: error("no_answer"),
            client_errors: error("4xx"),
            server_errors: error("5xx"),
        }
    };
    let both = (
        requests(ConnectorKind::Waha),
        requests(ConnectorKind::CloudApi),
    );
    registry.register_with_unit(
        "upstream_request_duration",
        "Time an upstream HTTP request took, answered or not, by connector",
        Unit::Seconds,
        taken,
    );
    registry.register(
        "upstream_request_errors",
        "Upstream HTTP requests that got no answer, or an error status, by connector",
        errors,
    );
    both
}
