//! The device's outgoing queue: hands accepted messages to the upstream in acceptance order.
//!
//! The queue lives in the store (each message's `relay_status`), so it survives a crash: a
//! message is acknowledged to its sender once stored as `queued`, and the relay picks it up
//! from there. The relay runs inside the device actor, which owns the upstream; it sends in
//! batches (one write before and one after each batch) so a burst of messages costs a few
//! commits rather than a few per message. An upstream that cannot recognise a message handed
//! to it again gets batches of one ([`Upstream::recognises_resends`]): a crash between its
//! answer and our write then repeats one message, not a batch.
//!
//! Per-chat order: messages are taken oldest first, and once a message of a chat waits for a
//! retry, the later messages of that chat wait behind it.
//!
//! What a failure means depends on its kind ([`ConnectorError`]): an unreachable or failing
//! (5xx, throttling) upstream is retried with backoff; a rejection (4xx) fails that message with the
//! upstream's reason; refused credentials leave the message queued. An unreachable upstream
//! or refused credentials also concern the whole device, which the actor is told through
//! [`Pumped::trouble`].
//!
//! Each turn then tells the upstream what our side did meanwhile (see [`super::actions`]).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::time::Instant;

use super::actions::ActionQueue;
use super::governor::{self, Candidate, Governor, HoldReason, Verdict};
use super::relay_bell::RelayBell;
use super::retry::{after_failure, wake_by, AfterFailure, Pumped};
use crate::device::upstream::Upstream;
use crate::messaging::attempts::{self, Outcome};
use crate::metrics::ConnectorMetrics;
use crate::model::{
    event::LimitWarning,
    time::rfc3339_of_millis,
    upstream::{Accepted, ConnectorError, Outbound, Outgoing},
    DeviceId,
};
use crate::store::messages::Queued;
use crate::store::{self, Store};

/// Messages read from the queue and handed to the upstream at once, while the relay keeps up.
const BATCH: u32 = 256;
/// The most at once, while it does not (see [`Relay::batch`]).
const BATCH_MAX: u32 = 1024;
/// What the governor made of a turn's due messages.
#[derive(Default)]
struct Governed {
    /// To hand to the upstream now.
    go: Vec<Queued>,
    /// Held, and not yet told why: told now.
    held: Vec<(Queued, Outcome)>,
    /// Something waits for a later turn.
    waiting: bool,
    warnings: Vec<LimitWarning>,
}

/// How a batch handed to the upstream went.
struct Attempt {
    outcomes: Vec<(Queued, Outcome)>,
    /// A failure that says the upstream is unreachable or refuses the device's credentials.
    trouble: Option<ConnectorError>,
    /// What the governor warns of, after WhatsApp refused a message under a restriction.
    warnings: Vec<LimitWarning>,
}

/// The batch after one of `batch` messages from which `read` came back: twice as large (at
/// most [`BATCH_MAX`]) if the queue filled it, [`BATCH`] again if not.
fn next_batch(batch: u32, read: usize) -> u32 {
    if read >= batch as usize {
        batch.saturating_mul(2).min(BATCH_MAX)
    } else {
        BATCH
    }
}

pub struct Relay {
    device: DeviceId,
    store: Store,
    /// What our side did that the upstream must be told, told after the messages.
    actions: ActionQueue,
    ack_timeout: Duration,
    max_attempts: u32,
    /// When the oldest sent message without a server ack times out.
    ack_deadline: Option<Instant>,
    /// When the first message waiting for a retry is due.
    retry_deadline: Option<Instant>,
    /// How many messages the next turn reads from the queue: doubled (up to [`BATCH_MAX`])
    /// each time a turn finds a full batch, back to [`BATCH`] when it does not. A relay round
    /// takes a few commits whatever its size, so when senders outpace it, only larger
    /// batches let it catch up; when it keeps up, smaller ones keep each commit short for the
    /// sends waiting behind it.
    batch: u32,
    /// The series of the device's connector: attempts, failures, sends and their acks.
    metrics: Arc<ConnectorMetrics>,
    /// Decides when each message may go (SPEC §12).
    governor: Governor,
    /// The held messages whose clients were told why they wait, and that reason: each is told
    /// once, and again only if the reason changes.
    told: HashMap<String, HoldReason>,
    /// When the first held message may go, or the typing shown before one ends.
    governor_deadline: Option<Instant>,
}

impl Relay {
    pub fn new(
        device: DeviceId,
        store: Store,
        ack_timeout: Duration,
        max_attempts: u32,
        bell: Arc<RelayBell>,
        metrics: Arc<ConnectorMetrics>,
        governor: Governor,
    ) -> Self {
        Self {
            metrics,
            governor,
            told: HashMap::new(),
            governor_deadline: None,
            actions: ActionQueue::new(device.clone(), store.clone(), max_attempts, bell),
            device,
            store,
            ack_timeout,
            max_attempts: max_attempts.max(1),
            ack_deadline: None,
            retry_deadline: None,
            batch: BATCH,
        }
    }

    /// The next moment the relay has something to do by itself.
    pub fn deadline(&self) -> Option<Instant> {
        [
            self.ack_deadline,
            self.retry_deadline,
            self.governor_deadline,
            self.actions.deadline(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Stops the timers while the upstream is not ready; [`Relay::resume`] restarts them.
    pub fn pause(&mut self) {
        self.ack_deadline = None;
        self.retry_deadline = None;
        self.governor_deadline = None;
        self.actions.pause();
    }

    /// The upstream is ready: times the acks still awaited, then sends what is queued.
    pub async fn resume(&mut self, upstream: &mut dyn Upstream) -> Pumped {
        self.arm_ack_deadline().await;
        self.pump(upstream).await
    }

    /// A deadline passed: messages without a server ack go back to the queue (or fail), and
    /// what is due is sent.
    pub async fn on_deadline(&mut self, upstream: &mut dyn Upstream) -> Pumped {
        if self.ack_deadline.is_some_and(|at| at <= Instant::now()) {
            self.expire_acks(Utc::now() - self.ack_timeout).await;
        }
        self.retry_deadline = None;
        self.pump(upstream).await
    }

    /// A stalled session was restarted: whatever it took and never acknowledged goes back to
    /// the queue at once, to be sent again once (an attempt like any other), instead of
    /// waiting out its ack timeout on the new session.
    pub async fn resend_unacked(&mut self) {
        self.expire_acks(Utc::now()).await;
    }

    /// Messages sent before `sent_before` without a server ack are sent again, or fail.
    async fn expire_acks(&mut self, sent_before: DateTime<Utc>) {
        let (device, timeout) = (self.device.clone(), self.ack_timeout);
        let max_attempts = self.max_attempts;
        let expired = self
            .store
            .write(move |tx| {
                attempts::expire_acks(tx, &device, sent_before, timeout.as_secs(), max_attempts)
            })
            .await;
        if let Err(error) = expired {
            tracing::error!(device_id = %self.device, %error, "cannot expire unacknowledged messages");
        }
        self.arm_ack_deadline().await;
    }

    /// The messages still waiting for their server ack, for the watchdog; none if the store
    /// cannot say.
    pub async fn unacked(&self) -> store::messages::Unacked {
        let device = self.device.clone();
        let unacked = self
            .store
            .read(move |conn| store::messages::unacked(conn, &device))
            .await;
        unacked.unwrap_or_else(|error| {
            tracing::warn!(device_id = %self.device, %error, "cannot read the messages waiting for acks");
            Default::default()
        })
    }

    /// Sends one batch of the messages due, then tells the upstream the actions due.
    pub async fn pump(&mut self, upstream: &mut dyn Upstream) -> Pumped {
        let sent = self.send_messages(upstream).await;
        if sent.trouble.is_some() {
            return sent;
        }
        let told = self.actions.pump(upstream).await;
        Pumped {
            more: sent.more || told.more,
            trouble: told.trouble,
        }
    }

    /// Sends one batch of the messages due.
    async fn send_messages(&mut self, upstream: &mut dyn Upstream) -> Pumped {
        {
            let (device, batch) = (self.device.clone(), self.batch);
            let queue = match self
                .store
                .read(move |conn| store::messages::relay_queue(conn, &device, batch))
                .await
            {
                Ok(queue) => queue,
                Err(error) => {
                    tracing::error!(device_id = %self.device, %error, "cannot read the relay queue");
                    return Pumped::default();
                }
            };
            self.batch = next_batch(batch, queue.len());
            self.governor_deadline = None;
            let due = self.due(queue);
            if due.is_empty() {
                return Pumped::default();
            }
            // A message revoked while it waited is not sent, and holds up nothing behind it.
            let (withdrawn, due): (Vec<_>, Vec<_>) =
                due.into_iter().partition(|queued| queued.message.revoked);
            let max_go = match upstream.recognises_resends() {
                true => usize::MAX,
                false => 1,
            };
            let governed = self.govern(upstream, due, max_go).await;
            let mut outcomes: Vec<_> = withdrawn
                .into_iter()
                .map(|queued| (queued, Outcome::Withdrawn))
                .chain(governed.held)
                .collect();
            let mut trouble = None;
            let mut warnings = governed.warnings;
            let went = !governed.go.is_empty();
            if went {
                let sent = self.attempt(upstream, governed.go).await;
                trouble = sent.trouble;
                outcomes.extend(sent.outcomes);
                warnings.extend(sent.warnings);
            }
            let must_wait = (governed.waiting && !went)
                || outcomes
                    .iter()
                    .any(|(_, o)| matches!(o, Outcome::Retry { .. } | Outcome::NotAttempted));
            let (device, metrics) = (self.device.clone(), self.metrics.clone());
            let ledger = self.governor.take_changed();
            if outcomes.is_empty() && ledger.is_none() && warnings.is_empty() {
                // Everything due waits, as its clients were told already.
                return Pumped::default();
            }
            if let Err(error) = self
                .store
                .write(move |tx| {
                    attempts::record_outcomes(tx, &device, &outcomes, &metrics)?;
                    governor::record(tx, &device, ledger.as_ref(), warnings)
                })
                .await
            {
                tracing::error!(device_id = %self.device, %error, "cannot record sent messages");
                // What held messages were to be told is told again on a later turn.
                self.told.clear();
                return Pumped::default();
            }
            // More may be due (accepted meanwhile, or beyond this batch) unless something
            // asked to wait.
            Pumped {
                more: !must_wait,
                trouble,
            }
        }
    }

    /// Asks the governor which of `due` may go now, at most `max_go` of them; tells the
    /// clients of those it holds why (once), shows typing where it asks, and wakes the relay
    /// when the first held message may go. An ungoverned device's messages all go.
    async fn govern(
        &mut self,
        upstream: &mut dyn Upstream,
        mut due: Vec<Queued>,
        max_go: usize,
    ) -> Governed {
        let now = Utc::now().timestamp_millis();
        if !self.governor.governs(now) {
            due.truncate(max_go);
            return Governed {
                go: due,
                ..Governed::default()
            };
        }
        let new_chats = self.new_chats(&due, now).await;
        let admission = {
            let candidates: Vec<Candidate> = due
                .iter()
                .zip(&new_chats)
                .map(|(queued, new_chat)| Candidate {
                    message_id: &queued.message.id,
                    chat_id: &queued.message.chat_id,
                    new_chat: *new_chat,
                    text_chars: (queued.message.kind == "text")
                        .then(|| queued.message.body.chars().count()),
                })
                .collect();
            self.governor
                .admit(now, &candidates, max_go, &mut rand::thread_rng())
        };
        let mut governed = Governed {
            warnings: admission.warnings,
            ..Governed::default()
        };
        for (queued, verdict) in due.into_iter().zip(admission.verdicts) {
            match verdict {
                Verdict::Go => {
                    self.told.remove(&queued.message.id);
                    governed.go.push(queued);
                }
                Verdict::TypeFirst { until } => {
                    governed.waiting = true;
                    self.wake_at(until, now);
                    let typing = Outbound::Typing {
                        chat_id: queued.message.chat_id.clone(),
                        typing: true,
                        latest_incoming: None,
                    };
                    if let Err(error) = upstream.tell(&typing).await {
                        tracing::debug!(device_id = %self.device, %error, "typing before a message was not shown");
                    }
                }
                Verdict::Hold { reason, until } => {
                    governed.waiting = true;
                    if let Some(until) = until {
                        self.wake_at(until, now);
                    }
                    if self.told.insert(queued.message.id.clone(), reason) != Some(reason) {
                        let send_at = until.and_then(rfc3339_of_millis);
                        let reason = reason.as_str();
                        governed
                            .held
                            .push((queued, Outcome::Held { reason, send_at }));
                    }
                }
                Verdict::Wait => governed.waiting = true,
            }
        }
        governed
    }

    /// Whether each message's chat never wrote to the account, asked of the store only for
    /// the chats the governor does not know yet, and only while it cares.
    async fn new_chats(&mut self, due: &[Queued], now: i64) -> Vec<bool> {
        if !self.governor.asks_about_new_chats(now) {
            return vec![false; due.len()];
        }
        let mut unknown: Vec<String> = due
            .iter()
            .map(|queued| &queued.message.chat_id)
            .filter(|chat| governor::is_person(chat) && !self.governor.knows_written(chat))
            .cloned()
            .collect();
        unknown.sort_unstable();
        unknown.dedup();
        if !unknown.is_empty() {
            let device = self.device.clone();
            let wrote = self
                .store
                .read(move |conn| {
                    let chats: Vec<&str> = unknown.iter().map(String::as_str).collect();
                    store::governors::chats_that_wrote(conn, &device, &chats)
                })
                .await;
            match wrote {
                Ok(wrote) => self.governor.learn_written(wrote),
                Err(error) => {
                    tracing::warn!(device_id = %self.device, %error, "cannot tell which chats wrote to the account; counting them as new")
                }
            }
        }
        due.iter()
            .map(|queued| {
                let chat = &queued.message.chat_id;
                governor::is_person(chat) && !self.governor.knows_written(chat)
            })
            .collect()
    }

    /// Makes sure the relay wakes up at `at` (milliseconds since the epoch; it is `now`).
    fn wake_at(&mut self, at: i64, now: i64) {
        let at = Instant::now() + Duration::from_millis(u64::try_from(at - now).unwrap_or(0));
        self.governor_deadline = Some(self.governor_deadline.map_or(at, |d| d.min(at)));
    }

    /// The device's governor, which the actor tells of what the upstream reports and an
    /// admin changes.
    pub fn governor(&mut self) -> &mut Governor {
        &mut self.governor
    }

    /// Hands `due` to the upstream.
    async fn attempt(&mut self, upstream: &mut dyn Upstream, due: Vec<Queued>) -> Attempt {
        let batch: Vec<_> = due
            .iter()
            .map(|q| Outgoing {
                message: q.message.clone(),
                reply_to: q.reply_to_upstream.clone(),
                attempts: q.attempts,
            })
            .collect();
        let results = upstream.send(&batch).await;
        let failed = results.iter().filter(|result| result.is_err()).count() as u64;
        self.metrics.relay_attempts.inc_by(results.len() as u64);
        self.metrics.relay_failures.inc_by(failed);
        self.metrics.sent.inc_by(results.len() as u64 - failed);
        let trouble = results.iter().find_map(|result| match result {
            Err(error) if error.concerns_device() => Some(error.clone()),
            _ => None,
        });
        // The upstream asked for no requests for a while: nothing goes until then. WhatsApp
        // refused a message under a restriction: messages to new contacts wait.
        let mut warnings = Vec::new();
        for result in &results {
            match result {
                Err(ConnectorError::Throttled {
                    retry_after,
                    one_chat: false,
                }) => {
                    let until = Utc::now() + *retry_after;
                    self.governor.throttle(until.timestamp_millis());
                }
                Err(ConnectorError::Restricted { code }) => {
                    tracing::warn!(device_id = %self.device, code, "WhatsApp refused a message under a restriction on new contacts");
                    let now = Utc::now().timestamp_millis();
                    warnings.extend(self.governor.refused(*code, now));
                }
                _ => {}
            }
        }
        let outcomes = self.outcomes(due, results);
        for (_, outcome) in &outcomes {
            if let Outcome::Retry { at, .. } = outcome {
                self.retry_at(*at);
            }
        }
        if outcomes
            .iter()
            .any(|(_, o)| matches!(o, Outcome::Sent { .. }))
            && self.ack_deadline.is_none()
        {
            self.ack_deadline = Some(Instant::now() + self.ack_timeout);
        }
        Attempt {
            outcomes,
            trouble,
            warnings,
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
                    self.retry_at(at);
                    waiting_chats.insert(queued.message.chat_id.clone());
                }
                _ => due.push(queued),
            }
        }
        due
    }

    /// Makes sure the relay wakes up for a retry due at `at`.
    fn retry_at(&mut self, at: DateTime<Utc>) {
        wake_by(&mut self.retry_deadline, at);
    }

    /// Turns the upstream's answers into queue outcomes.
    fn outcomes(
        &self,
        due: Vec<Queued>,
        results: Vec<Result<Accepted, ConnectorError>>,
    ) -> Vec<(Queued, Outcome)> {
        let mut results = results.into_iter();
        due.into_iter()
            .map(|queued| {
                let attempt = queued.attempts + 1;
                let outcome = match results.next() {
                    None => Outcome::NotAttempted,
                    Some(Ok(accepted)) => Outcome::Sent {
                        upstream_id: accepted.upstream_id,
                        ack: accepted.ack,
                    },
                    Some(Err(error)) => match after_failure(&error, attempt, self.max_attempts) {
                        AfterFailure::Wait => Outcome::NotAttempted,
                        AfterFailure::RetryAt(at) => Outcome::Retry {
                            error: error.to_string(),
                            at,
                        },
                        AfterFailure::GiveUp => Outcome::Failed {
                            error: error.to_string(),
                        },
                    },
                };
                (queued, outcome)
            })
            .collect()
    }

    /// Times out the oldest message still waiting for its server ack.
    async fn arm_ack_deadline(&mut self) {
        let oldest = self.unacked().await.oldest;
        self.ack_deadline = oldest.map(|sent_at| {
            let due = sent_at + self.ack_timeout;
            Instant::now() + (due - Utc::now()).to_std().unwrap_or_default()
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_batch_doubles_the_next_up_to_the_most() {
        assert_eq!(next_batch(BATCH, BATCH as usize), 2 * BATCH);
        assert_eq!(next_batch(2 * BATCH, 2 * BATCH as usize), BATCH_MAX);
        assert_eq!(next_batch(BATCH_MAX, BATCH_MAX as usize), BATCH_MAX);
    }

    #[test]
    fn a_batch_the_queue_did_not_fill_brings_the_next_back_to_the_usual_size() {
        assert_eq!(next_batch(BATCH_MAX, BATCH_MAX as usize - 1), BATCH);
        assert_eq!(next_batch(BATCH, 0), BATCH);
    }
}
