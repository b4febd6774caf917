//! The watchdog and flap damping in the actor (SPEC §12): what the decisions of
//! [`Watchdog`](crate::device::watchdog::Watchdog) are told, and what the actor does about
//! them. A stalled session is restarted like a lost connection (so it comes back without a
//! new QR code while it is linked), and what it took without acknowledging is sent again once
//! it is back; a flapping connection waits longer before each reconnect.
//!
//! Only what the upstream says on its own (an event, a report, an ack) counts as hearing
//! from it. A stalled session still answers the calls made to it (a probe, a send), so an
//! answer proves nothing about it.

use std::time::Duration;

use chrono::{TimeZone, Utc};

use super::{Actor, Resend};
use crate::backoff;
use crate::device::state::Input;
use crate::device::watchdog::StallReason;
use crate::model::event::{DeviceHealth, EventData, HealthStatus};
use crate::model::{rfc3339, StateName};

/// The `reason` a stalled session's restart gives its `disconnected` event.
const STALLED: &str = "stalled";

fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

impl Actor {
    /// The upstream said something on its own.
    pub(super) fn heard_upstream(&mut self) {
        self.watchdog.heard(now_ms());
    }

    /// After each probe of the upstream: whether it answered, and, for a `ready` device,
    /// whether its session stalled.
    pub(super) async fn watch(&mut self, probe_answered: bool) {
        match probe_answered {
            true => self.watchdog.probe_answered(),
            false => self.watchdog.probe_failed(),
        }
        if self.state.name() != StateName::Ready {
            return;
        }
        let now = now_ms();
        let silence = self.watchdog.silence(now);
        self.metrics.silence.set(self.id.as_str(), Some(silence));
        if self.watchdog.health() == HealthStatus::Flapping && !self.watchdog.flapping(now) {
            self.settle_health(HealthStatus::Healthy, None).await;
        }
        let unacked = self.relay.unacked().await;
        let oldest = unacked.oldest.map(|at| at.timestamp_millis());
        if let Some(reason) = self.watchdog.judge(now, oldest) {
            self.stall(reason, unacked.count).await;
        }
    }

    /// Journals the stall, then restarts the upstream session; what it never acknowledged is
    /// sent again once it is back (see [`Actor::back_up`]).
    async fn stall(&mut self, reason: StallReason, waiting_acks: u64) {
        tracing::warn!(device_id = %self.id, reason = reason.as_str(), waiting_acks, "the upstream session stalled; restarting it");
        self.metrics.stalls.inc();
        self.settle_health(HealthStatus::Stalled, Some((reason, waiting_acks)))
            .await;
        self.watchdog.restarting(now_ms());
        self.resend_when_back = Resend::Always;
        let lost = Input::ConnectionLost {
            reason: STALLED.into(),
        };
        if let Err(ignored) = self.feed(lost).await {
            tracing::debug!(device_id = %self.id, %ignored, "the restart of a stalled session was refused");
        }
    }

    /// The device is no longer `ready`: its silence is no longer shown.
    pub(super) fn left_ready(&self) {
        self.metrics.silence.set(self.id.as_str(), None);
    }

    /// The device is `ready` again: after a stall (or the daemon's start, see [`Resend`]),
    /// what the earlier session took without acknowledging goes back to the relay, sent again
    /// once, and the device is healthy.
    pub(super) async fn back_up(&mut self) {
        self.watchdog.restarting(now_ms());
        let recognised = self
            .upstream
            .as_ref()
            .is_some_and(|upstream| upstream.recognises_resends());
        let resend = match std::mem::replace(&mut self.resend_when_back, Resend::Nothing) {
            Resend::Always => true,
            Resend::IfRecognised => recognised,
            Resend::Nothing => false,
        };
        if resend {
            self.relay.resend_unacked().await;
        }
        if self.watchdog.health() == HealthStatus::Stalled {
            self.settle_health(HealthStatus::Healthy, None).await;
        }
    }

    /// How long to wait before reconnect `attempt`: the usual backoff, or, for a device whose
    /// connection keeps dropping, the watchdog's longer damped wait (journaled once as
    /// `flapping`). Each first attempt follows a drop, which is what is counted.
    pub(super) async fn reconnect_wait(&mut self, attempt: u32) -> Duration {
        let reconnect = &self.context.settings.reconnect;
        let initial = Duration::from_millis(reconnect.initial_ms);
        let max = Duration::from_millis(reconnect.max_ms);
        let now = now_ms();
        let flapping = match attempt {
            1 => self.watchdog.dropped(now),
            _ => self.watchdog.flapping(now),
        };
        if !flapping {
            return backoff::delay(attempt, initial, max, &mut rand::thread_rng());
        }
        if self.watchdog.health() != HealthStatus::Stalled {
            self.settle_health(HealthStatus::Flapping, None).await;
        }
        self.watchdog.damped_wait(initial, &mut rand::thread_rng())
    }

    /// Moves to `health`, journaling `device:health` only if it changed.
    async fn settle_health(&mut self, health: HealthStatus, stall: Option<(StallReason, u64)>) {
        if self.watchdog.settle(health).is_none() {
            return;
        }
        self.health.send_replace(health);
        let last_heard = Utc.timestamp_millis_opt(self.watchdog.last_heard_ms());
        let event = DeviceHealth {
            status: health,
            reason: stall.map(|(reason, _)| reason.as_str()),
            last_upstream_event_at: stall.and(last_heard.single()).map(rfc3339),
            waiting_acks: stall.map(|(_, waiting)| waiting),
        };
        self.journal(EventData::DeviceHealth(event)).await;
    }
}
