//! What the actor tells the device's send governor beyond the relay's turns (SPEC §12):
//! WhatsApp's restrictions as the upstream reports them, an admin's changes to the limits,
//! and each check of a number, which the governor paces. What the governor changes is stored
//! with the warnings it gives in one write, and the relay is woken, since a lifted
//! restriction or a higher limit may let held messages go.

use std::time::Duration;

use chrono::Utc;

use super::Actor;
use crate::device::governor;
use crate::device::DeviceError;
use crate::model::event::LimitWarning;
use crate::model::governor::{GovernorChanges, Restrictions};

impl Actor {
    /// The upstream reported WhatsApp's restrictions on the account. The session is left as
    /// it is: restarting or logging out a restricted session makes it worse.
    pub(super) async fn restricted(&mut self, restrictions: Restrictions) {
        let now = Utc::now().timestamp_millis();
        let warnings = self.relay.governor().restrict(restrictions, now);
        if !warnings.is_empty() {
            tracing::warn!(device_id = %self.id, "WhatsApp's restrictions on the account changed");
        }
        self.keep_governor(warnings).await;
    }

    /// An admin changed the device's limits.
    pub(super) async fn govern(&mut self, changes: GovernorChanges) -> Result<(), DeviceError> {
        changes.validate().map_err(DeviceError::Definition)?;
        self.relay.governor().change(&changes);
        self.keep_governor(Vec::new()).await;
        Ok(())
    }

    /// A number is about to be checked: refused while the checks of the last minute are at
    /// the governor's limit, with the time until one more may go.
    pub(super) fn check_a_number(&mut self) -> Result<(), DeviceError> {
        let now = Utc::now().timestamp_millis();
        self.relay
            .governor()
            .number_check(now)
            .map_err(|retry_after| DeviceError::Paced { retry_after })
    }

    /// Stores what the governor changed with `warnings`, then wakes the relay.
    async fn keep_governor(&mut self, warnings: Vec<LimitWarning>) {
        let ledger = self.relay.governor().take_changed();
        if ledger.is_none() && warnings.is_empty() {
            return;
        }
        let id = self.id.clone();
        let kept = self
            .context
            .store
            .write(move |tx| governor::record(tx, &id, ledger.as_ref(), warnings))
            .await;
        if let Err(error) = kept {
            tracing::error!(device_id = %self.id, %error, "cannot store the governor's changes");
        }
        self.bell.ring();
    }
}

/// How a paced request reads: when one more may go, in whole seconds.
pub fn seconds_until(retry_after: Duration) -> u64 {
    retry_after.as_millis().div_ceil(1_000) as u64
}
