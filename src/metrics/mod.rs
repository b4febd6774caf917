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
//! the relay queue, how far each event sink lags behind the journal and how many devices are
//! in each state (from the store), the Socket.IO connections (from the server), and the process's own figures (from `/proc`). The caller of
//! [`Metrics::render`] reads them into a [`Snapshot`].
//!
//! Here: [`Metrics`], every family of the daemon. The counters whose counts bump [`Changes`]
//! (the signal an embedder waits on, in `changes`) are in `counts`; each connector's series and
//! its upstream requests in `connectors`; the store's group commits in `commits`; what a scrape
//! reads in `gauges`; the histogram type and its buckets in `histogram`; the process's own
//! figures in `process`.

mod changes;
mod commits;
mod connectors;
mod counts;
mod gauges;
mod histogram;
mod process;

use std::sync::Arc;
use std::time::Duration;

use prometheus_client::encoding::text::encode;
use prometheus_client::registry::{Registry, Unit};

pub use changes::Changes;
pub use connectors::{ConnectorMetrics, UpstreamRequests};
pub use counts::{Counters, Tally};
pub use gauges::Snapshot;
pub use histogram::Histogram;

use crate::model::spec::ConnectorKind;
use commits::Commits;
use gauges::Gauges;

/// The media type of the exposition [`Metrics::render`] writes.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The label set of a family with one label.
type OneLabel = [(&'static str, &'static str); 1];
/// The label set of a family with two labels.
type TwoLabels = [(&'static str, &'static str); 2];

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
    /// Time a socket's `message:send` took from its packet read to its answer: with the
    /// client's own latency, what the network and the sockets' queues added.
    pub socket_send: Histogram,
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
        let connectors = connectors::register_connectors(registry);
        let (waha_requests, cloud_api_requests) = connectors::register_requests(registry);
        let commits = Commits::register(registry);
        let socket_fanout = Histogram::seconds(histogram::STEP_SECONDS);
        registry.register_with_unit(
            "socket_fanout_duration",
            "Time a device's fanout took to queue one live event for every socket that sees it",
            Unit::Seconds,
            socket_fanout.clone(),
        );
        let socket_send = Histogram::seconds(histogram::STEP_SECONDS);
        registry.register_with_unit(
            "socket_send_duration",
            "Time a socket's message:send took in the daemon, from its packet read to its \
             answer, ready to acknowledge (the write's wait and commit included)",
            Unit::Seconds,
            socket_send.clone(),
        );
        let gauges = Gauges::register(registry);
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
            socket_send,
            cluster_leases,
            connectors,
            commits,
            gauges,
            changes,
            registry: root,
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
        self.commits.committed(writes, events, taken);
    }

    /// A write waited `waited` in the store's queue before the writer took it.
    pub fn write_waited(&self, waited: Duration) {
        self.commits.write_waited(waited);
    }

    /// The store's syncer synced the log in `taken`.
    pub fn log_synced(&self, taken: Duration) {
        self.commits.log_synced(taken);
    }

    /// The counter every count of a [`Counters`] or a [`Tally`] bumps.
    pub fn changes(&self) -> &Changes {
        &self.changes
    }

    /// The OpenMetrics text exposition of every family, with `now` read at this scrape.
    pub fn render(&self, now: &Snapshot) -> String {
        self.gauges.set(now);
        let mut text = String::new();
        encode(&mut text, &self.registry).expect("writing to a String cannot fail");
        text
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new(Changes::default())
    }
}

#[cfg(test)]
mod tests;
