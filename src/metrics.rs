//! Counters of the hooks, rendered in the Prometheus text format at `GET /metrics`.
//!
//! Each family counts outcomes of one kind of work (a webhook attempt, a desktop notification,
//! a sound). Plain atomics, owned by the daemon and passed to the hooks, rather than a global
//! registry: two daemons in one test process keep their own counts.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::bus::Changes;

/// One counter family with a fixed set of values of one label (`outcome`, or `reason`).
pub struct Counters {
    name: &'static str,
    help: &'static str,
    label: &'static str,
    outcomes: &'static [&'static str],
    values: Box<[AtomicU64]>,
    changes: Changes,
}

impl Counters {
    fn new(
        name: &'static str,
        help: &'static str,
        label: &'static str,
        outcomes: &'static [&'static str],
        changes: Changes,
    ) -> Self {
        Self {
            name,
            help,
            label,
            outcomes,
            values: outcomes.iter().map(|_| AtomicU64::new(0)).collect(),
            changes,
        }
    }

    /// Adds `n` to `outcome`, which must be one of the family's outcomes.
    pub fn add(&self, outcome: &str, n: u64) {
        match self.outcomes.iter().position(|known| *known == outcome) {
            Some(index) => {
                self.values[index].fetch_add(n, Ordering::Relaxed);
                self.changes.bump();
            }
            None => debug_assert!(false, "{} has no outcome {outcome}", self.name),
        }
    }

    pub fn inc(&self, outcome: &str) {
        self.add(outcome, 1);
    }

    pub fn get(&self, outcome: &str) -> u64 {
        self.outcomes
            .iter()
            .position(|known| *known == outcome)
            .map_or(0, |index| self.values[index].load(Ordering::Relaxed))
    }

    fn render(&self, out: &mut String) {
        let _ = writeln!(out, "# HELP {} {}", self.name, self.help);
        let _ = writeln!(out, "# TYPE {} counter", self.name);
        for outcome in self.outcomes {
            let _ = writeln!(
                out,
                "{}{{{}=\"{outcome}\"}} {}",
                self.name,
                self.label,
                self.get(outcome)
            );
        }
    }
}

/// Every counter of the daemon.
pub struct Metrics {
    /// Webhook attempts: `ok` (2xx), `retrying` (failed, tried again later), `failed` (given up
    /// or `410 Gone`).
    pub webhook_deliveries: Counters,
    /// Desktop notifications: `shown`, `failed` (no or slow session bus), `muted` (quiet hours,
    /// own message, device override), `dropped` (the hook's queue was full).
    pub desktop_notifications: Counters,
    /// Sounds: `played`, `throttled`, `muted`, `failed` (no audio device), `dropped`.
    pub sounds: Counters,
    /// Socket.IO connections the daemon closed, by reason: `slow_consumer` (more than
    /// `limits.client_queue_bytes` or `limits.client_queue_packets` waiting to be written).
    pub socket_disconnects: Counters,
}

impl Metrics {
    /// Counters that bump `changes` on every count.
    pub fn new(changes: Changes) -> Self {
        Self {
            webhook_deliveries: Counters::new(
                "devicebridge_webhook_deliveries_total",
                "Webhook delivery attempts by outcome.",
                "outcome",
                &["ok", "retrying", "failed"],
                changes.clone(),
            ),
            desktop_notifications: Counters::new(
                "devicebridge_desktop_notifications_total",
                "Desktop notifications by outcome.",
                "outcome",
                &["shown", "failed", "muted", "dropped"],
                changes.clone(),
            ),
            sounds: Counters::new(
                "devicebridge_sounds_total",
                "Hook sounds by outcome.",
                "outcome",
                &["played", "throttled", "muted", "failed", "dropped"],
                changes.clone(),
            ),
            socket_disconnects: Counters::new(
                "devicebridge_socket_disconnects_total",
                "Socket.IO connections closed by the daemon, by reason.",
                "reason",
                &["slow_consumer"],
                changes,
            ),
        }
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new(Changes::default())
    }
}

/// The webhook outbox as seen at scrape time.
pub struct Backlog {
    /// Deliveries waiting (pending or retrying) for enabled subscriptions.
    pub depth: u64,
    /// Age of the oldest of them, in seconds (0 when none waits).
    pub oldest_age_secs: f64,
}

impl Metrics {
    /// The Prometheus text exposition of every counter and the outbox gauges.
    pub fn render(&self, backlog: &Backlog) -> String {
        let mut out = String::new();
        for family in [
            &self.webhook_deliveries,
            &self.desktop_notifications,
            &self.sounds,
            &self.socket_disconnects,
        ] {
            family.render(&mut out);
        }
        for (name, help, value) in [
            (
                "devicebridge_webhook_queue_depth",
                "Webhook deliveries waiting to be delivered.",
                backlog.depth as f64,
            ),
            (
                "devicebridge_webhook_oldest_pending_age_seconds",
                "Age of the oldest webhook delivery still waiting.",
                backlog.oldest_age_secs,
            ),
        ] {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}"
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_the_text_format() {
        let metrics = Metrics::default();
        metrics.webhook_deliveries.inc("ok");
        metrics.webhook_deliveries.add("retrying", 2);
        metrics.sounds.inc("throttled");
        let text = metrics.render(&Backlog {
            depth: 3,
            oldest_age_secs: 1.5,
        });
        for line in [
            "# TYPE devicebridge_webhook_deliveries_total counter",
            "devicebridge_webhook_deliveries_total{outcome=\"ok\"} 1",
            "devicebridge_webhook_deliveries_total{outcome=\"retrying\"} 2",
            "devicebridge_webhook_deliveries_total{outcome=\"failed\"} 0",
            "devicebridge_sounds_total{outcome=\"throttled\"} 1",
            "devicebridge_desktop_notifications_total{outcome=\"dropped\"} 0",
            "# TYPE devicebridge_webhook_queue_depth gauge",
            "devicebridge_webhook_queue_depth 3",
            "devicebridge_webhook_oldest_pending_age_seconds 1.5",
        ] {
            assert!(text.lines().any(|l| l == line), "no {line:?} in\n{text}");
        }
    }
}
