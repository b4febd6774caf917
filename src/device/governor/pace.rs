//! The pace of a device's messages: a rate with a burst, kept as one time (the generic cell
//! rate algorithm), so that it is one number to store and survives a restart unchanged.
//!
//! `pace_at` is when the next message would be due if every message so far had gone at the
//! steady rate. A message may go while `pace_at` is at most `burst - 1` gaps ahead of now;
//! each message that goes moves it one gap on. Each gap varies by the jitter, so the messages
//! of a long queue do not leave at the even beat a machine keeps.

use rand::Rng;

/// A rate of `per_minute` with `burst` at once.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pace {
    /// The steady gap between two messages, in milliseconds.
    gap_ms: f64,
    /// How far ahead of now `pace_at` may be for a message to go.
    tolerance_ms: f64,
}

impl Pace {
    pub fn new(per_minute: u32, burst: u32) -> Pace {
        let gap_ms = 60_000.0 / f64::from(per_minute.max(1));
        Pace {
            gap_ms,
            tolerance_ms: gap_ms * f64::from(burst.max(1) - 1),
        }
    }

    /// The steady gap, in milliseconds.
    pub fn gap_ms(&self) -> i64 {
        self.gap_ms.round() as i64
    }

    /// When the next message may go: `None` if it may go now.
    pub fn next_free(&self, pace_at: i64, now: i64) -> Option<i64> {
        let free = pace_at - self.tolerance_ms.round() as i64;
        (free > now).then_some(free)
    }

    /// A message goes at `now`: `pace_at` moves one gap on, varied by up to `jitter` of it
    /// either way.
    pub fn take(&self, pace_at: &mut i64, now: i64, jitter: f64, rng: &mut impl Rng) {
        let spread = match jitter > 0.0 {
            true => rng.gen_range(-jitter..=jitter),
            false => 0.0,
        };
        let gap = (self.gap_ms * (1.0 + spread)).round() as i64;
        *pace_at = (*pace_at).max(now) + gap.max(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    #[test]
    fn a_burst_goes_at_once_then_the_steady_gap_applies() {
        let pace = Pace::new(20, 5);
        let mut rng = StdRng::seed_from_u64(1);
        let mut pace_at = 0;
        for _ in 0..5 {
            assert_eq!(pace.next_free(pace_at, 0), None);
            pace.take(&mut pace_at, 0, 0.0, &mut rng);
        }
        assert_eq!(pace.next_free(pace_at, 0), Some(3_000));
        assert_eq!(pace.gap_ms(), 3_000);
    }

    #[test]
    fn an_idle_device_has_its_burst_back() {
        let pace = Pace::new(60, 3);
        let mut rng = StdRng::seed_from_u64(2);
        let mut pace_at = 0;
        for _ in 0..3 {
            pace.take(&mut pace_at, 0, 0.0, &mut rng);
        }
        assert!(pace.next_free(pace_at, 0).is_some());
        assert_eq!(pace.next_free(pace_at, 60_000), None);
    }

    #[test]
    fn jitter_varies_each_gap_within_its_share() {
        let pace = Pace::new(20, 1);
        let mut rng = StdRng::seed_from_u64(3);
        let mut gaps = Vec::new();
        let mut pace_at = 0;
        for _ in 0..50 {
            let before = pace_at;
            pace.take(&mut pace_at, before, 0.3, &mut rng);
            gaps.push(pace_at - before);
        }
        assert!(
            gaps.iter().all(|gap| (2_100..=3_900).contains(gap)),
            "{gaps:?}"
        );
        let distinct: std::collections::HashSet<_> = gaps.iter().collect();
        assert!(distinct.len() > 10, "{gaps:?}");
    }
}
