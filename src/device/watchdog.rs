//! The decisions of the watchdog over a device's upstream session and of the damping of a
//! connection that keeps dropping (SPEC §12), kept free of I/O so that they are tested with
//! times passed in. The actor tells them what happened and carries out what they decide.
//!
//! A session can say it works and do nothing: the upstream answers its status calls but
//! neither delivers sends nor reports anything. Silence alone proves nothing (an idle account
//! is silent too), so the watchdog only counts silence while a message has waited too long for
//! its server ack; a probe that fails twice in a row is enough on its own.

use std::collections::VecDeque;
use std::time::Duration;

use rand::Rng;

use crate::config::WatchdogSettings;
use crate::model::event::HealthStatus;

/// The longest a flapping device waits before reconnecting.
const LONGEST_DAMPED_WAIT: Duration = Duration::from_secs(600);
/// Failed probes in a row that stall a device.
const FAILED_PROBES: u32 = 2;

/// Why a session counts as stalled; `device:health`'s `reason`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StallReason {
    /// Silent for `silence_secs` while a message waited longer than `ack_timeout_secs`.
    SilentWithWaitingAcks,
    /// The probe failed twice in a row.
    ProbeFailed,
}

impl StallReason {
    pub fn as_str(self) -> &'static str {
        match self {
            StallReason::SilentWithWaitingAcks => "silent_with_waiting_acks",
            StallReason::ProbeFailed => "probe_failed",
        }
    }
}

/// What the watchdog knows of one device. Times are milliseconds since the Unix epoch, so
/// that they are also what the journal reports.
#[derive(Debug)]
pub struct Watchdog {
    silence_ms: i64,
    ack_timeout_ms: i64,
    flaps: usize,
    flap_window_ms: i64,
    /// When the upstream was last heard: an event, a report, an ack, an answered call.
    last_heard_ms: i64,
    failed_probes: u32,
    /// When the connection dropped, within the flap window.
    drops: VecDeque<i64>,
    health: HealthStatus,
}

impl Watchdog {
    pub fn new(settings: &WatchdogSettings, now_ms: i64) -> Watchdog {
        let ms = |secs: u64| i64::try_from(secs.saturating_mul(1_000)).unwrap_or(i64::MAX);
        Watchdog {
            silence_ms: ms(settings.silence_secs),
            ack_timeout_ms: ms(settings.ack_timeout_secs),
            flaps: usize::try_from(settings.flaps).unwrap_or(usize::MAX),
            flap_window_ms: ms(settings.flap_window_secs),
            last_heard_ms: now_ms,
            failed_probes: 0,
            drops: VecDeque::new(),
            health: HealthStatus::Healthy,
        }
    }

    /// The upstream said something: it is not silent.
    pub fn heard(&mut self, now_ms: i64) {
        self.last_heard_ms = self.last_heard_ms.max(now_ms);
    }

    /// When the upstream was last heard, for `lastUpstreamEventAt`.
    pub fn last_heard_ms(&self) -> i64 {
        self.last_heard_ms
    }

    /// How long the upstream has been silent, for the silence gauge.
    pub fn silence(&self, now_ms: i64) -> Duration {
        Duration::from_millis(u64::try_from(now_ms - self.last_heard_ms).unwrap_or(0))
    }

    /// A probe answered: the failures in a row start over. The answer does not end the
    /// silence, since a stalled session answers its probes too.
    pub fn probe_answered(&mut self) {
        self.failed_probes = 0;
    }

    pub fn probe_failed(&mut self) {
        self.failed_probes = self.failed_probes.saturating_add(1);
    }

    /// Whether a `ready` device is stalled now, given when its oldest message still waiting
    /// for a server ack was sent (`None`: nothing waits).
    pub fn judge(&self, now_ms: i64, oldest_unacked_ms: Option<i64>) -> Option<StallReason> {
        if self.failed_probes >= FAILED_PROBES {
            return Some(StallReason::ProbeFailed);
        }
        let silent = now_ms - self.last_heard_ms >= self.silence_ms;
        let waiting = oldest_unacked_ms.is_some_and(|sent| now_ms - sent > self.ack_timeout_ms);
        (silent && waiting).then_some(StallReason::SilentWithWaitingAcks)
    }

    /// The session is being restarted for a stall: it starts afresh.
    pub fn restarting(&mut self, now_ms: i64) {
        self.failed_probes = 0;
        self.last_heard_ms = now_ms;
    }

    /// Records a drop of the connection, and whether the device now flaps: more than `flaps`
    /// drops within the window.
    pub fn dropped(&mut self, now_ms: i64) -> bool {
        self.drops.push_back(now_ms);
        self.flapping(now_ms)
    }

    /// Whether more than `flaps` drops fell within the window before `now_ms`.
    pub fn flapping(&mut self, now_ms: i64) -> bool {
        while self
            .drops
            .front()
            .is_some_and(|&at| now_ms - at > self.flap_window_ms)
        {
            self.drops.pop_front();
        }
        self.drops.len() > self.flaps
    }

    /// How long a flapping device waits before reconnecting: twice as long for each drop past
    /// `flaps`, from `base`, up to ten minutes, half of it drawn at random so that devices
    /// dropped together do not come back together, while each wait still grows.
    pub fn damped_wait(&self, base: Duration, rng: &mut impl Rng) -> Duration {
        let excess = self.drops.len().saturating_sub(self.flaps).min(31) as u32;
        let cap = base.saturating_mul(1u32 << excess).min(LONGEST_DAMPED_WAIT);
        let half = cap / 2;
        half + Duration::from_millis(rng.gen_range(0..=half.as_millis() as u64))
    }

    /// Moves to `health`, and says so only when that is a change: the journal holds real
    /// transitions, not one event per check or per flap.
    pub fn settle(&mut self, health: HealthStatus) -> Option<HealthStatus> {
        (self.health != health).then(|| {
            self.health = health;
            health
        })
    }

    pub fn health(&self) -> HealthStatus {
        self.health
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    const SECOND: i64 = 1_000;

    fn watchdog() -> Watchdog {
        let settings = WatchdogSettings {
            silence_secs: 120,
            ack_timeout_secs: 60,
            probe_secs: 30,
            flaps: 5,
            flap_window_secs: 600,
        };
        Watchdog::new(&settings, 0)
    }

    #[test]
    fn silence_with_a_message_waiting_too_long_stalls() {
        let dog = watchdog();
        let now = 121 * SECOND;
        assert_eq!(
            dog.judge(now, Some(now - 61 * SECOND)),
            Some(StallReason::SilentWithWaitingAcks)
        );
    }

    #[test]
    fn an_idle_silent_device_is_not_stalled() {
        let dog = watchdog();
        assert_eq!(dog.judge(3_600 * SECOND, None), None);
    }

    #[test]
    fn a_message_not_yet_overdue_does_not_stall() {
        let dog = watchdog();
        let now = 200 * SECOND;
        assert_eq!(dog.judge(now, Some(now - 30 * SECOND)), None);
    }

    #[test]
    fn hearing_the_upstream_ends_the_silence() {
        let mut dog = watchdog();
        dog.heard(100 * SECOND);
        let now = 150 * SECOND;
        assert_eq!(dog.judge(now, Some(0)), None);
        assert_eq!(dog.silence(now), Duration::from_secs(50));
        assert_eq!(dog.last_heard_ms(), 100 * SECOND);
    }

    #[test]
    fn two_failed_probes_in_a_row_stall_one_does_not() {
        let mut dog = watchdog();
        dog.probe_failed();
        assert_eq!(dog.judge(SECOND, None), None);
        dog.probe_answered();
        dog.probe_failed();
        assert_eq!(dog.judge(3 * SECOND, None), None);
        dog.probe_failed();
        assert_eq!(dog.judge(4 * SECOND, None), Some(StallReason::ProbeFailed));
        dog.restarting(5 * SECOND);
        assert_eq!(dog.judge(6 * SECOND, Some(0)), None);
    }

    #[test]
    fn health_is_reported_only_when_it_changes() {
        let mut dog = watchdog();
        assert_eq!(dog.settle(HealthStatus::Healthy), None);
        assert_eq!(
            dog.settle(HealthStatus::Stalled),
            Some(HealthStatus::Stalled)
        );
        assert_eq!(dog.settle(HealthStatus::Stalled), None);
        assert_eq!(
            dog.settle(HealthStatus::Healthy),
            Some(HealthStatus::Healthy)
        );
        assert_eq!(dog.health(), HealthStatus::Healthy);
    }

    #[test]
    fn more_than_flaps_drops_in_the_window_flap() {
        let mut dog = watchdog();
        for i in 0..5 {
            assert!(!dog.dropped(i * SECOND), "drop {i}");
        }
        assert!(dog.dropped(5 * SECOND));
        // Once the early drops leave the window, the device is calm again.
        assert!(!dog.flapping(606 * SECOND));
    }

    #[test]
    fn damped_waits_grow_and_stop_at_ten_minutes() {
        let mut dog = watchdog();
        let mut rng = StdRng::seed_from_u64(3);
        let base = Duration::from_secs(1);
        let mut last = Duration::ZERO;
        for i in 0..8 {
            dog.dropped(i * SECOND);
        }
        for i in 8..20 {
            dog.dropped(i * SECOND);
            let wait = dog.damped_wait(base, &mut rng);
            assert!(
                wait >= last.min(LONGEST_DAMPED_WAIT / 2),
                "drop {i}: {wait:?}"
            );
            assert!(wait <= LONGEST_DAMPED_WAIT);
            last = wait;
        }
        assert!(last >= LONGEST_DAMPED_WAIT / 2);
    }
}
