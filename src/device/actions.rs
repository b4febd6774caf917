//! Tells the upstream what our side did (read receipts, reactions, revocations, archiving,
//! blocking), from the actions the store keeps until then (see [`crate::store::actions`]).
//!
//! Runs in the relay's turn, after the messages: an action about one of our messages waits
//! until the upstream has that message, and a message handed over in this turn is known by
//! the time its actions are told. Actions are told oldest first; once one of a chat waits
//! (for its message, or for a retry), the later ones of that chat wait behind it, so a
//! reaction and its removal reach the upstream in the order they were made.
//!
//! Failures are treated as the relay treats a message's: an unreachable or failing upstream
//! is retried with backoff up to `messages.max_send_attempts`; a rejection drops the action
//! (there is no event to report it with, so it is logged); refused credentials leave it for
//! when the device is back.

use std::collections::HashSet;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use tokio::time::Instant;

use super::relay_bell::RelayBell;
use super::retry::{after_failure, wake_by, AfterFailure, Pumped};
use crate::device::upstream::Upstream;
use crate::model::{
    upstream::{ConnectorError, Outbound},
    DeviceId,
};
use crate::store::actions::{self, Action, Pending, Subject};
use crate::store::Store;

/// Actions read from the store in one turn.
const BATCH: u32 = 64;

/// What to do with a pending action now.
enum Next {
    Tell(Outbound),
    /// Its message is still in the relay queue.
    Wait,
    /// Its message never reached the upstream: there is nothing to tell.
    Drop,
}

fn next(pending: &Pending) -> Next {
    let chat_id = pending.chat_id.clone();
    match (&pending.action, &pending.subject) {
        (_, Subject::Queued) => Next::Wait,
        (Action::MarkRead { upstream_ids }, _) => Next::Tell(Outbound::MarkRead {
            chat_id,
            upstream_ids: upstream_ids.clone(),
        }),
        (Action::Archive { archived }, _) => Next::Tell(Outbound::Archive {
            chat_id,
            archived: *archived,
        }),
        (Action::MarkUnread { unread }, _) => Next::Tell(Outbound::MarkUnread {
            chat_id,
            unread: *unread,
        }),
        (Action::Block { blocked }, _) => Next::Tell(Outbound::Block {
            contact_id: chat_id,
            blocked: *blocked,
        }),
        (Action::React { emoji, .. }, Subject::Known(upstream_id)) => Next::Tell(Outbound::React {
            chat_id,
            upstream_id: upstream_id.clone(),
            emoji: emoji.clone(),
        }),
        (Action::Revoke { .. }, Subject::Known(upstream_id)) => Next::Tell(Outbound::Revoke {
            chat_id,
            upstream_id: upstream_id.clone(),
        }),
        (Action::Edit { text, .. }, Subject::Known(upstream_id)) => Next::Tell(Outbound::Edit {
            chat_id,
            upstream_id: upstream_id.clone(),
            text: text.clone(),
        }),
        (Action::Vote { options, .. }, Subject::Known(upstream_id)) => Next::Tell(Outbound::Vote {
            chat_id,
            upstream_id: upstream_id.clone(),
            options: options.clone(),
        }),
        (
            Action::React { .. }
            | Action::Revoke { .. }
            | Action::Edit { .. }
            | Action::Vote { .. },
            _,
        ) => Next::Drop,
    }
}

/// How a turn changes the stored actions.
#[derive(Default)]
struct Outcomes {
    finished: Vec<i64>,
    retries: Vec<(i64, u32, DateTime<Utc>)>,
}

pub struct ActionQueue {
    device: DeviceId,
    store: Store,
    max_attempts: u32,
    /// Says when actions were stored.
    bell: Arc<RelayBell>,
    /// Actions were left in the store by the last turn (or by an earlier run of the daemon,
    /// before the first turn).
    left_over: bool,
    /// When the first action waiting for a retry is due.
    retry_deadline: Option<Instant>,
}

impl ActionQueue {
    pub fn new(device: DeviceId, store: Store, max_attempts: u32, bell: Arc<RelayBell>) -> Self {
        Self {
            device,
            store,
            max_attempts: max_attempts.max(1),
            bell,
            left_over: true,
            retry_deadline: None,
        }
    }

    pub fn deadline(&self) -> Option<Instant> {
        self.retry_deadline
    }

    pub fn pause(&mut self) {
        self.retry_deadline = None;
    }

    /// Tells the upstream what is due of the oldest actions.
    pub async fn pump(&mut self, upstream: &mut dyn Upstream) -> Pumped {
        if self.retry_deadline.is_some_and(|at| at <= Instant::now()) {
            self.retry_deadline = None;
        }
        // Taken before the read, so actions stored during it ring for the next turn.
        if !self.bell.take_actions() && !self.left_over {
            return Pumped::default();
        }
        let device = self.device.clone();
        let pending = match self
            .store
            .read(move |conn| actions::pending(conn, &device, BATCH))
            .await
        {
            Ok(pending) => pending,
            Err(error) => {
                tracing::error!(device_id = %self.device, %error, "cannot read the actions for the upstream");
                return Pumped::default();
            }
        };
        let full = pending.len() >= BATCH as usize;
        let now = Utc::now();
        let mut waiting_chats = HashSet::new();
        let mut outcomes = Outcomes::default();
        let mut trouble = None;
        for pending in &pending {
            if waiting_chats.contains(&pending.chat_id) {
                continue;
            }
            if let Some(at) = pending.next_attempt_at.filter(|at| *at > now) {
                self.retry_at(at);
                waiting_chats.insert(pending.chat_id.clone());
                continue;
            }
            let outbound = match next(pending) {
                Next::Tell(outbound) => outbound,
                Next::Wait => {
                    waiting_chats.insert(pending.chat_id.clone());
                    continue;
                }
                Next::Drop => {
                    outcomes.finished.push(pending.id);
                    continue;
                }
            };
            match upstream.tell(&outbound).await {
                Ok(()) => outcomes.finished.push(pending.id),
                Err(error) => {
                    if self.failed(pending, &error, &mut outcomes) {
                        waiting_chats.insert(pending.chat_id.clone());
                    }
                    if error.concerns_device() {
                        // The rest would fail the same way; the device reconnects first.
                        trouble = Some(error);
                        break;
                    }
                }
            }
        }
        let progressed = !outcomes.finished.is_empty();
        self.left_over = full || outcomes.finished.len() < pending.len();
        if let Err(error) = self.record(outcomes).await {
            self.left_over = true;
            tracing::error!(device_id = %self.device, %error, "cannot record the actions told to the upstream");
            return Pumped::default();
        }
        Pumped {
            more: full && progressed && trouble.is_none(),
            trouble,
        }
    }

    /// Records what a failure means for `pending`: a retry, or nothing more to do. Returns
    /// whether the action is still to be told, so the rest of its chat waits behind it.
    fn failed(
        &mut self,
        pending: &Pending,
        error: &ConnectorError,
        outcomes: &mut Outcomes,
    ) -> bool {
        let attempt = pending.attempts + 1;
        match after_failure(error, attempt, self.max_attempts) {
            AfterFailure::Wait => true,
            AfterFailure::RetryAt(at) => {
                self.retry_at(at);
                outcomes.retries.push((pending.id, attempt, at));
                true
            }
            AfterFailure::GiveUp => {
                tracing::warn!(
                    device_id = %self.device,
                    action = ?pending.action,
                    chat_id = %pending.chat_id,
                    %error,
                    attempt,
                    "the upstream was not told of an action, and will not be"
                );
                outcomes.finished.push(pending.id);
                false
            }
        }
    }

    async fn record(&self, outcomes: Outcomes) -> crate::store::StoreResult<()> {
        if outcomes.finished.is_empty() && outcomes.retries.is_empty() {
            return Ok(());
        }
        self.store
            .write(move |tx| {
                for id in &outcomes.finished {
                    tx.finish_action(*id)?;
                }
                for (id, attempts, at) in &outcomes.retries {
                    tx.retry_action(*id, *attempts, *at)?;
                }
                Ok(())
            })
            .await
    }

    /// Makes sure the relay wakes up for a retry due at `at`.
    fn retry_at(&mut self, at: DateTime<Utc>) {
        wake_by(&mut self.retry_deadline, at);
    }
}
