//! What the relay and the action queue share about telling the upstream something: the one
//! policy for a failed attempt, and what a turn reports to the actor.

use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::time::Instant;

use crate::backoff;
use crate::model::upstream::ConnectorError;

/// Backoff between attempts after a transient failure.
const RETRY_INITIAL: Duration = Duration::from_secs(1);
const RETRY_MAX: Duration = Duration::from_secs(60);

/// What a failed attempt to tell the upstream something (a message, an action) means for it.
pub(super) enum AfterFailure {
    /// Refused credentials are not its fault: it waits for the device, attempts uncounted.
    Wait,
    /// A transient failure with attempts left: again at this time.
    RetryAt(DateTime<Utc>),
    /// Rejected, or out of attempts.
    GiveUp,
}

/// The one policy for failed attempts: an unreachable or failing upstream is retried with
/// backoff until `max_attempts` (and so is a message WhatsApp refused under a restriction), a
/// rate-limited one when it said; refused credentials wait; anything else is given up.
pub(super) fn after_failure(
    error: &ConnectorError,
    attempt: u32,
    max_attempts: u32,
) -> AfterFailure {
    match error {
        ConnectorError::Refused(_) => AfterFailure::Wait,
        ConnectorError::Throttled { retry_after, .. } if attempt < max_attempts => {
            AfterFailure::RetryAt(Utc::now() + *retry_after)
        }
        // A message refused under a restriction: to a new contact, the governor holds it from
        // its next try on with the others, uncounted, until the restriction ends.
        ConnectorError::Unreachable(_)
        | ConnectorError::Failing(_)
        | ConnectorError::Restricted { .. }
            if attempt < max_attempts =>
        {
            let delay = backoff::delay(attempt, RETRY_INITIAL, RETRY_MAX, &mut rand::thread_rng());
            AfterFailure::RetryAt(Utc::now() + delay)
        }
        _ => AfterFailure::GiveUp,
    }
}

/// What one turn of the relay found.
#[derive(Debug, Default)]
pub struct Pumped {
    /// More may be waiting: the actor rings itself again, so acks and commands are handled
    /// between batches instead of waiting behind a long queue.
    pub more: bool,
    /// A failure that concerns the device rather than one message: the upstream is
    /// unreachable, or refused our credentials.
    pub trouble: Option<ConnectorError>,
}

/// Brings `deadline` forward to the wall-clock time `at`, if that comes sooner.
pub(super) fn wake_by(deadline: &mut Option<Instant>, at: DateTime<Utc>) {
    let wait = (at - Utc::now()).to_std().unwrap_or_default();
    let at = Instant::now() + wait;
    *deadline = Some(deadline.map_or(at, |d| d.min(at)));
}
