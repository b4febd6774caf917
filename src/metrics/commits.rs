//! What the store's writer measures of each group commit.

use std::time::Duration;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::registry::{Registry, Unit};

use super::histogram::{self, Histogram};

/// The group commits' families.
pub(super) struct Commits {
    waited: Histogram,
    taken: Histogram,
    writes: Histogram,
    events: Counter,
    synced: Histogram,
}

impl Commits {
    pub(super) fn register(registry: &mut Registry) -> Commits {
        let commits = Commits {
            waited: Histogram::seconds(histogram::STEP_SECONDS),
            taken: Histogram::seconds(histogram::COMMIT_SECONDS),
            writes: Histogram::counts(histogram::COMMIT_WRITES),
            events: Counter::default(),
            synced: Histogram::seconds(histogram::STEP_SECONDS),
        };
        registry.register_with_unit(
            "store_commit_duration",
            "Time a group commit of the store took, from its first write until it is durable",
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
        registry.register_with_unit(
            "store_log_sync_duration",
            "Time the disk took to sync the store's log, once for the commits written since the last sync (SQLite)",
            Unit::Seconds,
            commits.synced.clone(),
        );
        commits
    }

    /// A group commit of `writes` writes journaling `events` events took `taken`.
    pub(super) fn committed(&self, writes: usize, events: usize, taken: Duration) {
        self.taken.observe_duration(taken);
        self.writes.observe_count(writes as u64);
        self.events.inc_by(events as u64);
    }

    /// A write waited `waited` in the store's queue before the writer took it.
    pub(super) fn write_waited(&self, waited: Duration) {
        self.waited.observe_duration(waited);
    }

    /// The store's log took `taken` to sync.
    pub(super) fn log_synced(&self, taken: Duration) {
        self.synced.observe_duration(taken);
    }
}
