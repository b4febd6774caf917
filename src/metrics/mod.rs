//! What the daemon counts and measures, exposed in the OpenMetrics text format at
//! `GET /metrics` (`docs/metrics.md` describes every family).
//!
//! The families live in a `prometheus_client` [`Registry`] owned by the daemon's [`Metrics`],
//! which `app` builds and hands to the components that count, rather than in a global
//! registry: two daemons in one test process keep their own counts. Each component keeps
//! handles on its own series, resolved once when it starts (a device resolves its
//! connector's), so counting on a hot path (a send, an ack, a commit) is an atomic addition:
//! no label lookup, no lock, no allocation.
//!
//! Some figures are not counted but read when scraped: what waits in the webhook outbox and
//! the relay queue and how many devices are in each state (from the store), the Socket.IO
//! connections (from the server), and the process's own figures (from `/proc`). The caller of
//! [`Metrics::render`] reads them into a [`Snapshot`].

mod histogram;
mod process;

use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::{Registry, Unit};

pub use histogram::Histogram;

use crate::bus::Changes;
use crate::model::{spec::ConnectorKind, StateName};

/// The media type of the exposition [`Metrics::render`] writes.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The label set of a family with one label.
type OneLabel = [(&'static str, &'static str); 1];
/// The label set of a family with two labels.
type TwoLabels = [(&'static str, &'static str); 2];

/// One counter family with a fixed set of values of one label (`outcome`, or `reason`), all
/// shown from the start. Every count bumps [`Changes`], so a test can wait for one.
pub struct Counters {
    name: &'static str,
    outcomes: &'static [&'static str],
    values: Box<[Counter]>,
    changes: Changes,
}

impl Counters {
    /// Registers the family `name` (without its `_total`) in `registry`.
    fn register(
        registry: &mut Registry,
        name: &'static str,
        help: &'static str,
        label: &'static str,
        outcomes: &'static [&'static str],
        changes: &Changes,
    ) -> Self {
        let family = Family::<OneLabel, Counter>::default();
        let values = outcomes
            .iter()
            .map(|outcome| family.get_or_create_owned(&[(label, *outcome)]))
            .collect();
        registry.register(name, help, family);
        Self {
            name,
            outcomes,
            values,
            changes: changes.clone(),
        }
    }

    /// Adds `n` to `outcome`, which must be one of the family's outcomes.
    pub fn add(&self, outcome: &str, n: u64) {
        match self.outcomes.iter().position(|known| *known == outcome) {
            Some(index) => {
                self.values[index].inc_by(n);
                self.changes.bump();
            }
            None => debug_assert!(false, "{} has no outcome {outcome}", self.name),
        }
    }

    pub fn inc(&self, outcome: &str) {
        self.add(outcome, 1);
    }

    pub fn get(&self, outcome: &str) -> u64 {
        self.outcomes
            .iter()
            .position(|known| *known == outcome)
            .map_or(0, |index| self.values[index].get())
    }
}

/// A counter without labels whose counts bump [`Changes`], like [`Counters`].
pub struct Tally {
    counter: Counter,
    changes: Changes,
}

impl Tally {
    fn register(
        registry: &mut Registry,
        name: &'static str,
        help: &'static str,
        changes: &Changes,
    ) -> Self {
        let counter = Counter::default();
        registry.register(name, help, counter.clone());
        Self {
            counter,
            changes: changes.clone(),
        }
    }

    pub fn add(&self, n: u64) {
        if n > 0 {
            self.counter.inc_by(n);
            self.changes.bump();
        }
    }

    pub fn inc(&self) {
        self.add(1);
    }
}

/// What the devices of one connector did, shared by all of them.
///
/// These are counted inside, or just before, the store writes that record the same thing,
/// and do not bump [`Changes`]: the commit that follows does.
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

/// What the store's writer measures of each group commit.
struct Commits {
    waited: Histogram,
    taken: Histogram,
    writes: Histogram,
    events: Counter,
}

/// Gauges set from a [`Snapshot`] at each scrape.
struct Gauges {
    socket_connections: Gauge,
    devices: Vec<(StateName, Gauge)>,
    relay_queue: Vec<(ConnectorKind, Gauge)>,
    webhook_queue: Gauge,
    webhook_oldest: Gauge<f64, AtomicU64>,
}

/// What is read rather than counted, at the moment of a scrape.
#[derive(Debug, Default)]
pub struct Snapshot {
    /// Socket.IO connections open, one per namespace a client joined.
    pub socket_connections: u64,
    /// Devices per state (`state` as stored); a state not listed has none.
    pub devices: Vec<(String, u64)>,
    /// Messages waiting in the relay queue per connector (as stored).
    pub relay_queue: Vec<(String, u64)>,
    /// Webhook deliveries waiting (pending or retrying) for enabled subscriptions.
    pub webhook_queue: u64,
    /// Age of the oldest of them, in seconds (0 when none waits).
    pub webhook_oldest_age_secs: f64,
}

/// Every family of the daemon.
pub struct Metrics {
    /// Webhook attempts: `ok` (2xx), `retrying` (failed, tried again later), `failed` (given up
    /// or `410 Gone`).
    pub webhook_deliveries: Counters,
    /// From when a webhook delivery became due (its event, or a replay) to its receiver's 2xx.
    pub webhook_delivery_latency: Histogram,
    /// Desktop notifications: `shown`, `failed` (no or slow session bus), `muted` (quiet hours,
    /// own message, device override), `dropped` (the hook's queue was full).
    pub desktop_notifications: Counters,
    /// Sounds: `played`, `throttled`, `muted`, `failed` (no audio device), `dropped`.
    pub sounds: Counters,
    /// Socket.IO connections the daemon closed, by reason: `slow_consumer` (more than
    /// `limits.client_queue_bytes` or `limits.client_queue_packets` waiting to be written; the
    /// whole connection goes, every namespace with it), `token_expired`, `key_revoked`,
    /// `device_removed`, `journal_pruned` (pruned past a client while it was replayed),
    /// `journal_unreadable` (its resume could not be read).
    pub socket_disconnects: Counters,
    /// Socket.IO handshakes: `accepted`, `unauthorized`, `forbidden`, `bad_request` (a
    /// `lastSeq` that is not one), `over_capacity` (the connection opening a session was
    /// refused over `limits.max_connections`).
    pub socket_handshakes: Counters,
    /// TCP connections refused over `limits.max_connections`, answered or not.
    pub http_connections_refused: Tally,
    /// Journal events removed by `journal.retention_*`.
    pub journal_pruned: Tally,
    /// A WAHA server's HTTP requests.
    pub waha_requests: UpstreamRequests,
    /// The WhatsApp Cloud API's HTTP requests.
    pub cloud_api_requests: UpstreamRequests,
    /// Time a device's fanout took to queue one live event for every socket that sees it: with
    /// a write's wait and its commit, the daemon's share of a message's way to its readers.
    pub socket_fanout: Histogram,
    /// In a cluster, this node's device leases: `taken` (a device it did not run, taken over or
    /// never run before), `handed_over` (given up: on shutdown, or to a node that joined),
    /// `lost` (it lapsed: the node froze or lost the database, and another may run the device).
    pub cluster_leases: Counters,
    connectors: Vec<(ConnectorKind, Arc<ConnectorMetrics>)>,
    commits: Commits,
    gauges: Gauges,
    changes: Changes,
    registry: Registry,
}

/// Every connector, in the order their series are shown.
const CONNECTORS: [ConnectorKind; 3] = [
    ConnectorKind::Simulator,
    ConnectorKind::Waha,
    ConnectorKind::CloudApi,
];

impl Metrics {
    /// Every family at zero; counts bump `changes` (see [`Counters`]).
    pub fn new(changes: Changes) -> Self {
        let mut root = Registry::default();
        root.register_collector(Box::new(process::Process));
        let registry = root.sub_registry_with_prefix("devicebridge");
        let counters = |registry: &mut Registry, name, help, label, outcomes| {
            Counters::register(registry, name, help, label, outcomes, &changes)
        };
        let webhook_deliveries = counters(
            registry,
            "webhook_deliveries",
            "Webhook delivery attempts by outcome",
            "outcome",
            &["ok", "retrying", "failed"],
        );
        let webhook_delivery_latency = Histogram::seconds(histogram::DELIVERY_SECONDS);
        registry.register_with_unit(
            "webhook_delivery_latency",
            "Time from when a webhook delivery became due to its receiver's 2xx answer",
            Unit::Seconds,
            webhook_delivery_latency.clone(),
        );
        let desktop_notifications = counters(
            registry,
            "desktop_notifications",
            "Desktop notifications by outcome",
            "outcome",
            &["shown", "failed", "muted", "dropped"],
        );
        let sounds = counters(
            registry,
            "sounds",
            "Hook sounds by outcome",
            "outcome",
            &["played", "throttled", "muted", "failed", "dropped"],
        );
        let socket_disconnects = counters(
            registry,
            "socket_disconnects",
            "Socket.IO connections closed by the daemon, by reason",
            "reason",
            &[
                "slow_consumer",
                "token_expired",
                "key_revoked",
                "device_removed",
                "journal_pruned",
                "journal_unreadable",
            ],
        );
        let socket_handshakes = counters(
            registry,
            "socket_handshakes",
            "Socket.IO handshakes by outcome",
            "outcome",
            &[
                "accepted",
                "unauthorized",
                "forbidden",
                "bad_request",
                "unknown_profile",
                "over_capacity",
            ],
        );
        let http_connections_refused = Tally::register(
            registry,
            "http_connections_refused",
            "TCP connections refused over limits.max_connections",
            &changes,
        );
        let journal_pruned = Tally::register(
            registry,
            "journal_events_pruned",
            "Journal events removed by the retention settings",
            &changes,
        );
        let cluster_leases = counters(
            registry,
            "cluster_leases",
            "This node's device leases, by what became of them",
            "event",
            &["taken", "handed_over", "lost"],
        );
        let connectors = Self::register_connectors(registry);
        let (waha_requests, cloud_api_requests) = Self::register_requests(registry);
        let commits = Self::register_commits(registry);
        let socket_fanout = Histogram::seconds(histogram::STEP_SECONDS);
        registry.register_with_unit(
            "socket_fanout_duration",
            "Time a device's fanout took to queue one live event for every socket that sees it",
            Unit::Seconds,
            socket_fanout.clone(),
        );
        let gauges = Self::register_gauges(registry);
        Self {
            webhook_deliveries,
            webhook_delivery_latency,
            desktop_notifications,
            sounds,
            socket_disconnects,
            socket_handshakes,
            http_connections_refused,
            journal_pruned,
            waha_requests,
            cloud_api_requests,
            socket_fanout,
            cluster_leases,
            connectors,
            commits,
            gauges,
            changes,
            registry: root,
        }
    }

    fn register_connectors(registry: &mut Registry) -> Vec<(ConnectorKind, Arc<ConnectorMetrics>)> {
        let received = Family::<OneLabel, Counter>::default();
        let sent = Family::<OneLabel, Counter>::default();
        let attempts = Family::<OneLabel, Counter>::default();
        let failures = Family::<OneLabel, Counter>::default();
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
    fn register_requests(registry: &mut Registry) -> (UpstreamRequests, UpstreamRequests) {
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

    fn register_commits(registry: &mut Registry) -> Commits {
        let commits = Commits {
            waited: Histogram::seconds(histogram::STEP_SECONDS),
            taken: Histogram::seconds(histogram::COMMIT_SECONDS),
            writes: Histogram::counts(histogram::COMMIT_WRITES),
            events: Counter::default(),
        };
        registry.register_with_unit(
            "store_commit_duration",
            "Time a group commit of the store took, from its first write to its commit",
            Unit::Seconds,
            commits.taken.clone(),
        );
        registry.register_with_unit(
            "store_write_wait_duration",
            "Time a write waited in the store's queue before the writer took it into a group commit",
            Unit::Seconds,
            commits.waited.clone(),
        );
        registry.register(
            "store_commit_batch_size",
            "Writes committed together in one group commit",
            commits.writes.clone(),
        );
        registry.register(
            "journal_events_appended",
            "Events journaled and committed",
            commits.events.clone(),
        );
        commits
    }

    fn register_gauges(registry: &mut Registry) -> Gauges {
        let socket_connections = Gauge::default();
        registry.register(
            "socket_connections",
            "Socket.IO connections open, one per namespace a client joined",
            socket_connections.clone(),
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
        Gauges {
            socket_connections,
            devices: per_state,
            relay_queue: per_connector,
            webhook_queue,
            webhook_oldest,
        }
    }

    /// The series of the devices of connector `kind`.
    pub fn connector(&self, kind: ConnectorKind) -> Arc<ConnectorMetrics> {
        self.connectors
            .iter()
            .find(|(known, _)| *known == kind)
            .map(|(_, metrics)| metrics.clone())
            .expect("every connector has its series")
    }

    /// A group commit of `writes` writes journaling `events` events took `taken`. Called by
    /// the store's writer after the commit and before [`Changes`] is bumped for it.
    pub fn committed(&self, writes: usize, events: usize, taken: Duration) {
        self.commits.taken.observe_duration(taken);
        self.commits.writes.observe_count(writes as u64);
        self.commits.events.inc_by(events as u64);
    }

    /// A write waited `waited` in the store's queue before the writer took it.
    pub fn write_waited(&self, waited: Duration) {
        self.commits.waited.observe_duration(waited);
    }

    /// The counter every count of a [`Counters`] or a [`Tally`] bumps.
    pub fn changes(&self) -> &Changes {
        &self.changes
    }

    /// The OpenMetrics text exposition of every family, with `now` read at this scrape.
    pub fn render(&self, now: &Snapshot) -> String {
        let gauges = &self.gauges;
        gauges.socket_connections.set(gauge(now.socket_connections));
        let stored = |list: &[(String, u64)], name: &str| {
            list.iter()
                .find(|(stored, _)| stored == name)
                .map_or(0, |(_, count)| *count)
        };
        for (state, series) in &gauges.devices {
            series.set(gauge(stored(&now.devices, state.as_str())));
        }
        for (connector, series) in &gauges.relay_queue {
            series.set(gauge(stored(&now.relay_queue, connector.as_str())));
        }
        gauges.webhook_queue.set(gauge(now.webhook_queue));
        gauges.webhook_oldest.set(now.webhook_oldest_age_secs);
        let mut text = String::new();
        encode(&mut text, &self.registry).expect("writing to a String cannot fail");
        text
    }
}

/// A count as a gauge's value.
fn gauge(count: u64) -> i64 {
    i64::try_from(count).unwrap_or(i64::MAX)
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new(Changes::default())
    }
}

#[cfg(test)]
mod tests;
