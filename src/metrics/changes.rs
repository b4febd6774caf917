//! The signal that something the daemon keeps changed.

use tokio::sync::watch;

/// A counter bumped after every store commit, every time the store cuts its write-ahead log
/// back, and by every count of [`Metrics`](super::Metrics) that no commit follows (see
/// [`Counters`](super::Counters)).
///
/// Some effects raise no event: a commit that prunes the journal or records a webhook attempt,
/// the log's file cut back once writes stop, a hook's count of what it did. An embedder that
/// must wait for one (the integration tests) subscribes here and checks again each time
/// something changed, rather than checking on a timer. Nothing in the daemon reads it.
///
/// It lives with the metrics, which own it and bump it with their counts; the bus hands it to
/// the store's writer, which bumps it for its commits.
#[derive(Debug, Clone)]
pub struct Changes(watch::Sender<u64>);

impl Changes {
    pub fn bump(&self) {
        self.0.send_modify(|count| *count = count.wrapping_add(1));
    }

    /// A receiver that sees every bump from now on.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.0.subscribe()
    }
}

impl Default for Changes {
    fn default() -> Self {
        Self(watch::Sender::new(0))
    }
}
