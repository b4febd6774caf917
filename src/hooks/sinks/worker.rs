//! One sink's worker: connect, publish the journal from the sink's cursors, wait for news.
//!
//! The worker holds at most one page of events ([`PAGE`]) at a time, read from the journal
//! and published before the next is read: a sink whose server is down or slow makes the
//! journal, not memory, hold its backlog, so it needs no byte budget of `limits.*` of its
//! own. The page's events are the journal's (each bounded by `limits.max_message_bytes` on
//! the way in).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

use super::{connect, Outgoing, Publisher, SinkError, Sinks};
use crate::backoff;
use crate::model::event::JournaledEvent;
use crate::store::journal;
use crate::store::sinks::{self, Behind, SinkRecord};

/// Events read from one device's journal, and published, at a time.
const PAGE: u64 = 500;
/// The first wait before connecting again after a failure; it doubles, with full jitter,
/// up to [`RETRY_MAX`].
const RETRY_INITIAL: Duration = Duration::from_millis(250);
/// The longest wait between two tries: a server that comes back is used again within this.
const RETRY_MAX: Duration = Duration::from_secs(5);
/// How long a publish may wait for its server's confirmation before the connection is given
/// up and made again.
const PUBLISH_TIMEOUT: Duration = Duration::from_secs(15);
/// How long a worker waits with nothing new before it looks at the journal anyway: an event
/// the bus could not keep for it is found then at the latest.
const IDLE: Duration = Duration::from_secs(30);
/// In a cluster, how long a node's claim on a sink lasts from its last page: longer than a
/// page may take to be published, so that no other node takes over a node that is working.
const CLAIM_HOLD: Duration = Duration::from_secs(PUBLISH_TIMEOUT.as_secs() + 5);
/// In a cluster, how often a worker whose sink another node publishes tries to claim it: a
/// node that died is replaced within [`CLAIM_HOLD`] and this.
const STANDBY: Duration = Duration::from_secs(5);

/// Who publishes the sink's events.
enum Published {
    /// This node: it holds the sink's claim (always, on a single node).
    Here,
    /// Another node of the cluster, which holds the claim.
    Elsewhere,
}

pub(super) struct Worker {
    pub(super) sinks: Sinks,
    pub(super) sink: SinkRecord,
    pub(super) events: broadcast::Receiver<Arc<JournaledEvent>>,
    pub(super) stop: CancellationToken,
}

impl Worker {
    /// Runs until `stop` fires.
    pub(super) async fn run(mut self) {
        let mut failures = 0;
        let stop = self.stop.clone();
        loop {
            let error = tokio::select! {
                _ = stop.cancelled() => break,
                error = self.connected() => error,
            };
            // A sink that was working starts its backoff over.
            let was_up = self.sinks.status(&self.sink.id).connected;
            self.report(Err(&error));
            failures = if was_up { 1 } else { failures + 1 };
            let delay = backoff::delay(failures, RETRY_INITIAL, RETRY_MAX, &mut rand::thread_rng());
            tokio::select! {
                _ = stop.cancelled() => break,
                _ = tokio::time::sleep(delay) => {}
            }
        }
    }

    /// Connects, then publishes what the journal holds past the cursors each time something
    /// may have been journaled, until connecting or publishing fails: why.
    async fn connected(&mut self) -> SinkError {
        let mut publisher = match connect(&self.sink).await {
            Ok(publisher) => publisher,
            Err(error) => return error,
        };
        loop {
            let published = match self.catch_up(publisher.as_mut()).await {
                Ok(published) => published,
                Err(error) => return error,
            };
            self.report(Ok(()));
            match published {
                Published::Here => self.news().await,
                Published::Elsewhere => tokio::time::sleep(STANDBY).await,
            }
        }
    }

    /// Records how the sink is doing, unless it is being stopped: a sink disabled or changed
    /// meanwhile is no longer this worker's to describe.
    fn report(&self, outcome: Result<(), &SinkError>) {
        if !self.stop.is_cancelled() {
            self.sinks.report(&self.sink, outcome);
        }
    }

    /// Waits for an event of a device the sink follows (or [`IDLE`]), then takes in every
    /// event that came meanwhile: a burst needs one look at the journal.
    async fn news(&mut self) {
        let follows = |event: &JournaledEvent| self.sink.follows(event.device_id.as_str());
        let deadline = tokio::time::sleep(IDLE);
        tokio::pin!(deadline);
        loop {
            tokio::select! {
                _ = &mut deadline => return,
                received = self.events.recv() => match received {
                    Ok(event) if !follows(&event) => continue,
                    // Closed: the daemon is stopping, and `stop` ends the worker.
                    Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => break,
                    Err(broadcast::error::RecvError::Closed) => return deadline.await,
                },
            }
        }
        while self.events.try_recv().is_ok() {}
    }

    /// Publishes the journal past the sink's cursors, a page per device in turn, until no
    /// device the sink follows has more; or nothing, while another node holds the sink.
    async fn catch_up(&self, publisher: &mut dyn Publisher) -> Result<Published, SinkError> {
        loop {
            let sink = self.sink.clone();
            let behind = self
                .sinks
                .store()
                .read(move |conn| sinks::behind(conn, &sink))
                .await?;
            if behind.is_empty() {
                return Ok(Published::Here);
            }
            for device in behind {
                // Claimed for each page, so that a claim outlasts the page it covers.
                if !self.sinks.claim(&self.sink.id, CLAIM_HOLD).await? {
                    return Ok(Published::Elsewhere);
                }
                self.page(publisher, device).await?;
            }
        }
    }

    /// Publishes one page of `device`'s journal past the cursor, and moves the cursor past
    /// it once the server confirmed it (past the events the sink does not select too).
    async fn page(&self, publisher: &mut dyn Publisher, device: Behind) -> Result<(), SinkError> {
        let id = device.device.clone();
        let read = self
            .sinks
            .store()
            .read(move |conn| journal::read_after(conn, &id, device.cursor, PAGE))
            .await?;
        if !read.complete {
            tracing::warn!(
                sink_id = %self.sink.id, device_id = %device.device, after = device.cursor,
                "the journal was pruned past this sink's cursor: the pruned events are not published"
            );
        }
        // Nothing left to read (pruned up to the head): the cursor goes to the head.
        let last = read.events.last().map_or(read.head, |event| event.seq);
        let batch: Vec<Outgoing> = read
            .events
            .iter()
            .filter(|event| self.sink.selects(event))
            .map(outgoing)
            .collect::<Result<_, _>>()?;
        if !batch.is_empty() {
            tokio::time::timeout(PUBLISH_TIMEOUT, publisher.publish(&batch))
                .await
                .unwrap_or_else(|_| Err(SinkError::Publish("timed out".into())))?;
        }
        let (sink, device) = (self.sink.id.clone(), device.device);
        self.sinks
            .store()
            .write(move |tx| tx.advance_sink(&sink, &device, last))
            .await?;
        Ok(())
    }
}

/// The message of one event.
fn outgoing(event: &JournaledEvent) -> Result<Outgoing, SinkError> {
    let body = serde_json::to_string(&event.envelope()).map_err(crate::store::StoreError::from)?;
    Ok(Outgoing {
        id: format!("{}:{}", event.device_id, event.seq),
        device: event.device_id.clone(),
        event: event.kind.as_str(),
        seq: event.seq,
        body,
    })
}
