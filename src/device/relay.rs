//! The device's outgoing queue: hands accepted messages to the upstream in acceptance order.
//!
//! The queue lives in the store (each message's `relay_status`), so it survives a crash: a
//! message is acknowledged to its sender once stored as `queued`, and the relay picks it up
//! from there. The relay runs inside the device actor, which owns the upstream; it sends in
//! batches (one write before and one after each batch) so a burst of messages costs a few
//! commits rather than a few per message.
//!
//! Per-chat order: messages are taken oldest first, and once a message of a chat waits for a
//! retry, the later messages of that chat wait behind it.

use std::collections::HashSet;
use std::time::Duration;

use chrono::Utc;
use tokio::time::Instant;

use super::DeviceId;
use crate::backoff;
use crate::connector::{ConnectorError, Upstream};
use crate::messaging::relay::{self, Outcome};
use crate::store::messages::Queued;
use crate::store::{self, Store};

/// Most messages read from the queue and handed to the upstream at once.
const BATCH: u32 = 256;
/// Backoff between attempts after a transient failure.
const RETRY_INITIAL: Duration = Duration::from_secs(1);
const RETRY_MAX: Duration = Duration::from_secs(60);

pub struct Relay {
    device: DeviceId,
    store: Store,
    ack_timeout: Duration,
    max_attempts: u32,
    /// When the oldest sent message without a server ack times out.
    ack_deadline: Option<Instant>,
    /// When the first message waiting for a retry is due.
    retry_deadline: Option<Instant>,
}

impl Relay {
    pub fn new(device: DeviceId, store: Store, ack_timeout: Duration, max_attempts: u32) -> Self {
        Self {
            device,
            store,
            ack_timeout,
            max_attempts: max_attempts.max(1),
            ack_deadline: None,
            retry_deadline: None,
        }
    }

    /// The next moment the relay has something to do by itself.
    pub fn deadline(&self) -> Option<Instant> {
        match (self.ack_deadline, self.retry_deadline) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Stops the timers while the upstream is not ready; [`Relay::resume`] restarts them.
    pub fn pause(&mut self) {
        self.ack_deadline = None;
        self.retry_deadline = None;
    }

    /// The upstream is ready: times the acks still awaited, then sends what is queued.
    /// Returns whether more may be waiting (see [`Relay::pump`]).
    pub async fn resume(&mut self, upstream: &mut dyn Upstream) -> bool {
        self.arm_ack_deadline().await;
        self.pump(upstream).await
    }

    /// A deadline passed: messages without a server ack go back to the queue (or fail), and
    /// what is due is sent. Returns whether more may be waiting (see [`Relay::pump`]).
    pub async fn on_deadline(&mut self, upstream: &mut dyn Upstream) -> bool {
        if self.ack_deadline.is_some_and(|at| at <= Instant::now()) {
            let (device, timeout) = (self.device.clone(), self.ack_timeout);
            let max_attempts = self.max_attempts;
            let sent_before = Utc::now() - timeout;
            let expired = self
                .store
                .write(move |tx| {
                    relay::expire_acks(tx, &device, sent_before, timeout.as_secs(), max_attempts)
                })
                .await;
            if let Err(error) = expired {
                tracing::error!(device_id = %self.device, %error, "cannot expire unacknowledged messages");
            }
            self.arm_ack_deadline().await;
        }
        self.retry_deadline = None;
        self.pump(upstream).await
    }

    /// Sends one batch of what is due. Returns whether more may be waiting: the actor then
    /// rings itself again, so acks and commands are handled between batches instead of
    /// waiting behind a long queue.
    pub async fn pump(&mut self, upstream: &mut dyn Upstream) -> bool {
        {
            let device = self.device.clone();
            let queue = match self
                .store
                .read(move |conn| store::messages::relay_queue(conn, &device, BATCH))
                .await
            {
                Ok(queue) => queue,
                Err(error) => {
                    tracing::error!(device_id = %self.device, %error, "cannot read the relay queue");
                    return false;
                }
            };
            let due = self.due(queue);
            if due.is_empty() {
                return false;
            }
            let device = self.device.clone();
            let batch = due.clone();
            if let Err(error) = self
                .store
                .write(move |tx| relay::start_attempts(tx, &device, &batch))
                .await
            {
                tracing::error!(device_id = %self.device, %error, "cannot record sending");
                return false;
            }
            let messages: Vec<_> = due.iter().map(|q| q.message.clone()).collect();
            let results = upstream.send(&messages).await;
            let outcomes = self.outcomes(due, results);
            let must_wait = outcomes
                .iter()
                .any(|(_, o)| !matches!(o, Outcome::Sent { .. }));
            if outcomes
                .iter()
                .any(|(_, o)| matches!(o, Outcome::Sent { .. }))
                && self.ack_deadline.is_none()
            {
                self.ack_deadline = Some(Instant::now() + self.ack_timeout);
            }
            let device = self.device.clone();
            if let Err(error) = self
                .store
                .write(move |tx| relay::record_outcomes(tx, &device, &outcomes))
                .await
            {
                tracing::error!(device_id = %self.device, %error, "cannot record sent messages");
                return false;
            }
            // More may be due (accepted meanwhile, or beyond this batch) unless something
            // asked to wait.
            !must_wait
        }
    }

    /// The queued messages that may go now, keeping each chat's order; arms the retry timer
    /// for the first one that must wait.
    fn due(&mut self, queue: Vec<Queued>) -> Vec<Queued> {
        let now = Utc::now();
        let mut waiting_chats = HashSet::new();
        let mut due = Vec::new();
        for queued in queue {
            if waiting_chats.contains(&queued.message.chat_id) {
                continue;
            }
            match queued.next_attempt_at {
                Some(at) if at > now => {
                    let wait = (at - now).to_std().unwrap_or_default();
                    let at = Instant::now() + wait;
                    self.retry_deadline = Some(self.retry_deadline.map_or(at, |d| d.min(at)));
                    waiting_chats.insert(queued.message.chat_id.clone());
                }
                _ => due.push(queued),
            }
        }
        due
    }

    /// Turns the upstream's answers into queue outcomes.
    fn outcomes(
        &self,
        due: Vec<Queued>,
        results: Vec<Result<String, ConnectorError>>,
    ) -> Vec<(Queued, Outcome)> {
        let mut results = results.into_iter();
        due.into_iter()
            .map(|queued| {
                let attempt = queued.attempts + 1;
                let outcome = match results.next() {
                    None => Outcome::NotAttempted,
                    Some(Ok(upstream_id)) => Outcome::Sent { upstream_id },
                    Some(Err(ConnectorError::Unreachable(error)))
                        if attempt < self.max_attempts =>
                    {
                        let delay = backoff::delay(
                            attempt,
                            RETRY_INITIAL,
                            RETRY_MAX,
                            &mut rand::thread_rng(),
                        );
                        Outcome::Retry {
                            error,
                            at: Utc::now() + delay,
                        }
                    }
                    Some(Err(error)) => Outcome::Failed {
                        error: error.to_string(),
                    },
                };
                (queued, outcome)
            })
            .collect()
    }

    /// Times out the oldest message still waiting for its server ack.
    async fn arm_ack_deadline(&mut self) {
        let device = self.device.clone();
        let oldest = self
            .store
            .read(move |conn| store::messages::oldest_unacked(conn, &device))
            .await
            .ok()
            .flatten();
        self.ack_deadline = oldest.map(|sent_at| {
            let due = sent_at + self.ack_timeout;
            Instant::now() + (due - Utc::now()).to_std().unwrap_or_default()
        });
    }
}
