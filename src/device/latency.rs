//! How long the upstream takes to answer, for `connection:status`'s `latencyMs`.
//!
//! Each session call the actor makes anyway (opening it, and the regular check while the device
//! is up) is timed; no extra request is made to measure. A dashboard is told the figure when
//! the device becomes ready, and again only when a check finds it markedly different from what
//! it was last told, so a steady connection journals nothing between transitions.

use std::time::Duration;

use tokio::time::Instant;

/// A check's round trip is reported when it is at least this far from the last reported one...
const NOTABLE_MS: u64 = 100;
/// ...and at least this many times it, or this fraction of it.
const NOTABLE_FACTOR: u64 = 2;

#[derive(Debug, Default)]
pub struct Latency {
    /// The last round trip measured, in milliseconds.
    measured: Option<u64>,
    /// The last one reported to dashboards.
    reported: Option<u64>,
}

impl Latency {
    /// Records the round trip of a session call that started at `started`.
    pub fn measure(&mut self, started: Instant) {
        let taken = started.elapsed().min(Duration::from_secs(3600));
        self.measured = Some(taken.as_millis() as u64);
    }

    /// The figure to report as the device becomes ready: the latest measured.
    pub fn report(&mut self) -> Option<u64> {
        self.reported = self.measured;
        self.measured
    }

    /// The latest figure, if it moved enough since the last report to be worth one.
    pub fn notable_change(&mut self) -> Option<u64> {
        let now = self.measured?;
        let notable = match self.reported {
            None => true,
            Some(before) => {
                now.abs_diff(before) >= NOTABLE_MS
                    && (now >= before * NOTABLE_FACTOR || now * NOTABLE_FACTOR <= before)
            }
        };
        notable.then(|| self.report()).flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn latency(reported: u64, measured: u64) -> Latency {
        Latency {
            measured: Some(measured),
            reported: Some(reported),
        }
    }

    #[test]
    fn only_a_change_both_large_and_relative_is_reported() {
        assert_eq!(latency(20, 90).notable_change(), None, "under 100 ms apart");
        assert_eq!(latency(300, 450).notable_change(), None, "under twice");
        assert_eq!(latency(300, 700).notable_change(), Some(700));
        assert_eq!(latency(700, 300).notable_change(), Some(300));
        let mut steady = latency(20, 400);
        assert_eq!(steady.notable_change(), Some(400));
        assert_eq!(steady.notable_change(), None, "reported once");
    }
}
