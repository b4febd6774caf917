//! The relay queue's bookkeeping: how each attempt to hand an outgoing message to the upstream
//! ended, written (with the events it means) before the next step happens.
//!
//! Clients hear of an attempt only through what the acks do not tell: a message back in the
//! queue to wait for the upstream (`message:status queued`), a retry (`retrying`) or a failure
//! for good (`failed`). A message the upstream took
//! is told by its `message:ack`; saying `sending` and `sent` as well cost every subscriber two
//! events per message, and the writer a commit before each attempt.
//!
//! A message's row stays `queued` (or `retrying`) while it is being sent, and changes with the
//! attempt's outcome: recording `sending` in the row as well cost the writer an update of the
//! row and of the queue's index for every message, and said nothing a restart needs. A message
//! that was being sent when the daemon stopped is sent again with the same id; upstreams
//! recognise it.

use chrono::{DateTime, Utc};

use super::acks::{journal_ack, time_acks};
use crate::metrics::ConnectorMetrics;
use crate::model::event::MessageStatus;
use crate::model::{event::EventData, Ack, DeviceId, Message, RelayStatus};
use crate::store::messages::{AckSubject, Queued, RelayUpdate};
use crate::store::{self, StoreResult, Tx};

/// How one attempt to hand a message to the upstream ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The upstream took it, under this id if it named one; its answer may already mean an ack.
    Sent {
        upstream_id: Option<String>,
        ack: Ack,
    },
    /// A transient failure: try again at `at`.
    Retry { error: String, at: DateTime<Utc> },
    /// The upstream refused it for good, or the attempts ran out.
    Failed { error: String },
    /// Not tried because an earlier message failed: back to the queue as it was.
    NotAttempted,
    /// Revoked by a client before the upstream had it: it is not sent at all.
    Withdrawn,
    /// Held back by the device's governor for `reason` (`paced`, `restricted`) until about
    /// `send_at`: it stays queued as it is, and its clients are told why it waits.
    Held {
        reason: &'static str,
        send_at: Option<String>,
    },
}

/// The error a withdrawn message's `message:status` `failed` gives.
const WITHDRAWN: &str = "revoked before it was sent";

fn status(
    tx: &mut Tx<'_>,
    device: &DeviceId,
    message: &Message,
    status: RelayStatus,
    attempt: u32,
    error: Option<String>,
) -> StoreResult<()> {
    journal_status(
        tx,
        device,
        MessageStatus {
            message_id: message.id.clone(),
            chat_id: message.chat_id.clone(),
            status: status.as_str(),
            attempt,
            error,
            reason: None,
            send_at: None,
        },
    )
}

fn journal_status(tx: &mut Tx<'_>, device: &DeviceId, status: MessageStatus) -> StoreResult<()> {
    tx.journal(device, EventData::MessageStatus(status))?;
    Ok(())
}

/// Records how each attempt ended. A failure for good also sets ack `error`. An ack that
/// came with the upstream's answer is timed in `metrics`.
pub fn record_outcomes(
    tx: &mut Tx<'_>,
    device: &DeviceId,
    outcomes: &[(Queued, Outcome)],
    metrics: &ConnectorMetrics,
) -> StoreResult<()> {
    let now = Utc::now();
    for (queued, outcome) in outcomes {
        let id = (queued.message.id.as_str(), queued.rowid);
        let attempt = queued.attempts + 1;
        match outcome {
            Outcome::Sent { upstream_id, ack } => sent(
                tx,
                device,
                queued,
                attempt,
                (upstream_id.as_deref(), *ack),
                now,
                Some(metrics),
            )?,
            Outcome::Retry { error, at } => {
                let update = RelayUpdate {
                    attempts: attempt,
                    next_attempt_at: Some(*at),
                    ..RelayUpdate::default()
                };
                tx.set_relay_status(device, id, RelayStatus::Retrying, &update)?;
                status(
                    tx,
                    device,
                    &queued.message,
                    RelayStatus::Retrying,
                    attempt,
                    Some(error.clone()),
                )?;
            }
            Outcome::Failed { error } => fail(tx, device, &queued.message, attempt, error)?,
            // Back in the queue, waiting for the upstream (it failed the device, or took
            // none of the batch after an earlier message failed): that is worth telling.
            Outcome::NotAttempted => {
                let update = RelayUpdate {
                    attempts: queued.attempts,
                    next_attempt_at: queued.next_attempt_at,
                    ..RelayUpdate::default()
                };
                tx.set_relay_status(device, id, RelayStatus::Queued, &update)?;
                status(
                    tx,
                    device,
                    &queued.message,
                    RelayStatus::Queued,
                    queued.attempts,
                    None,
                )?;
            }
            // The row stays as it is: only the reason it waits is news.
            Outcome::Held { reason, send_at } => journal_status(
                tx,
                device,
                MessageStatus {
                    message_id: queued.message.id.clone(),
                    chat_id: queued.message.chat_id.clone(),
                    status: RelayStatus::Queued.as_str(),
                    attempt: queued.attempts,
                    error: None,
                    reason: Some(reason),
                    send_at: send_at.clone(),
                },
            )?,
            // No ack `error`: nothing went wrong, the message is gone as its sender wanted.
            Outcome::Withdrawn => {
                let update = RelayUpdate {
                    attempts: queued.attempts,
                    ..RelayUpdate::default()
                };
                tx.set_relay_status(device, id, RelayStatus::Failed, &update)?;
                let error = Some(WITHDRAWN.to_owned());
                status(
                    tx,
                    device,
                    &queued.message,
                    RelayStatus::Failed,
                    queued.attempts,
                    error,
                )?;
            }
        }
    }
    Ok(())
}

/// Records that the upstream has `queued`, after `attempts`: its answer named `upstream_id`
/// and means `ack`, which is timed in `metrics` when given.
fn sent(
    tx: &mut Tx<'_>,
    device: &DeviceId,
    queued: &Queued,
    attempts: u32,
    (upstream_id, ack): (Option<&str>, Ack),
    now: DateTime<Utc>,
    metrics: Option<&ConnectorMetrics>,
) -> StoreResult<()> {
    // The message's ack is still the one read with the queue: acks find a message by its
    // upstream id, which it gets only now.
    let mut subject = AckSubject {
        upstream_id: upstream_id.map(str::to_owned),
        accepted_at: DateTime::parse_from_rfc3339(&queued.message.timestamp)
            .ok()
            .map(Into::into),
        ..AckSubject::of(&queued.message)
    };
    let acked = subject.ack.merge(ack);
    let update = RelayUpdate {
        attempts,
        next_attempt_at: None,
        sent_at: Some(now),
        upstream_id,
        ack: acked.map(Ack::level),
    };
    let row = (queued.message.id.as_str(), queued.rowid);
    tx.set_relay_status(device, row, RelayStatus::Sent, &update)?;
    if let Some(acked) = acked {
        let before = std::mem::replace(&mut subject.ack, acked);
        if let Some(metrics) = metrics {
            time_acks(&subject, before, metrics);
        }
        journal_ack(tx, device, &subject)?;
    }
    Ok(())
}

/// The upstream reports a message from us that it took, which we have not heard it take:
/// if it is one of ours whose sending is in doubt (tried, its answer lost), that message is
/// sent, under the reported id, and is not sent again. Returns whether it was.
pub fn recognise_echo(
    tx: &mut Tx<'_>,
    device: &DeviceId,
    chat_id: &str,
    body: &str,
    with_media: bool,
    upstream_id: &str,
) -> StoreResult<bool> {
    let Some(queued) = store::messages::in_doubt(tx.conn(), device, chat_id, body, with_media)?
    else {
        return Ok(false);
    };
    tracing::info!(
        device_id = %device,
        message_id = %queued.message.id,
        %upstream_id,
        "the upstream had a message whose answer was lost; it is not sent again"
    );
    let answer = (Some(upstream_id), Ack::Server);
    sent(
        tx,
        device,
        &queued,
        queued.attempts,
        answer,
        Utc::now(),
        None,
    )?;
    Ok(true)
}

/// Fails `message` for good. Its ack is read again: the one it was read with may be older.
fn fail(
    tx: &mut Tx<'_>,
    device: &DeviceId,
    message: &Message,
    attempt: u32,
    error: &str,
) -> StoreResult<()> {
    let update = RelayUpdate {
        attempts: attempt,
        ..RelayUpdate::default()
    };
    tx.set_relay_status(device, (&message.id, None), RelayStatus::Failed, &update)?;
    status(
        tx,
        device,
        message,
        RelayStatus::Failed,
        attempt,
        Some(error.to_owned()),
    )?;
    if let Some(message) = store::messages::get_message(tx.conn(), device, &message.id)? {
        let mut subject = AckSubject::of(&message);
        if tx.merge_ack(device, &mut subject, Ack::Error)? {
            journal_ack(tx, device, &subject)?;
        }
    }
    Ok(())
}

/// The upstream reports that one of our messages could not be delivered: it fails with the
/// upstream's reason, unless it got further than the server already (acks never go back),
/// so a repeated report changes nothing.
pub fn upstream_failed(
    tx: &mut Tx<'_>,
    device: &DeviceId,
    message: &Message,
    error: &str,
) -> StoreResult<()> {
    let current = Ack::from_level(message.ack).unwrap_or(Ack::Pending);
    if current.merge(Ack::Error).is_none() {
        return Ok(());
    }
    let attempts = store::messages::relay_attempts(tx.conn(), device, &message.id)?;
    fail(tx, device, message, attempts, error)
}

/// Messages sent before `sent_before` and still without a server ack are sent again, or fail
/// with ack `error` once `max_attempts` have been made. Returns how many go back to the queue.
pub fn expire_acks(
    tx: &mut Tx<'_>,
    device: &DeviceId,
    sent_before: DateTime<Utc>,
    timeout_secs: u64,
    max_attempts: u32,
) -> StoreResult<usize> {
    let overdue = store::messages::overdue_acks(tx.conn(), device, sent_before)?;
    let mut resent = 0;
    let error = format!("no server ack within {timeout_secs} s");
    for (message, attempts) in overdue {
        if attempts >= max_attempts {
            fail(tx, device, &message, attempts, &error)?;
            continue;
        }
        let update = RelayUpdate {
            attempts,
            ..RelayUpdate::default()
        };
        tx.set_relay_status(device, (&message.id, None), RelayStatus::Retrying, &update)?;
        status(
            tx,
            device,
            &message,
            RelayStatus::Retrying,
            attempts,
            Some(error.clone()),
        )?;
        resent += 1;
    }
    Ok(resent)
}
