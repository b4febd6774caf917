//! The daily cap on messages to chats that never wrote to the account, and its warnings at
//! 80 % and 100 %. Days are UTC days: the cap starts over at midnight UTC, which every
//! operator can tell without knowing the device's time zone.

use serde::{Deserialize, Serialize};

use crate::model::event::LimitWarning;
use crate::model::time::rfc3339_of_millis;

const DAY_MS: i64 = 86_400_000;
/// The warning's `kind`.
pub const NEW_CHATS_PER_DAY: &str = "new_chats_per_day";

/// Today's count, stored with the governor so that a restart does not start it over.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct DailyCount {
    /// The UTC day counted, in days since the epoch.
    pub day: i64,
    pub used: u32,
    /// The highest warning given that day: 0, 80 or 100 (per cent).
    pub warned: u8,
}

impl DailyCount {
    /// Starts the count over on a new day.
    pub fn roll(&mut self, now_ms: i64) {
        let today = now_ms.div_euclid(DAY_MS);
        if today != self.day {
            *self = DailyCount {
                day: today,
                ..DailyCount::default()
            };
        }
    }

    /// When the count starts over: the next midnight UTC.
    pub fn resets_at(&self) -> i64 {
        (self.day + 1) * DAY_MS
    }

    pub fn is_full(&self, cap: u32) -> bool {
        self.used >= cap
    }

    /// One more message went: the warning it brings, if it crosses 80 % or 100 % of `cap`.
    pub fn count(&mut self, cap: u32) -> Option<LimitWarning> {
        self.used = self.used.saturating_add(1);
        if self.is_full(cap) {
            return self.warn(100, cap);
        }
        // 80 % without rounding: 40 of 50, 4 of 5.
        (u64::from(self.used) * 5 >= u64::from(cap) * 4)
            .then(|| self.warn(80, cap))
            .flatten()
    }

    /// A message is held for the cap: the 100 % warning, if it was not given yet (a cap of
    /// zero, or one lowered below today's count).
    pub fn held(&mut self, cap: u32) -> Option<LimitWarning> {
        self.warn(100, cap)
    }

    fn warn(&mut self, per_cent: u8, cap: u32) -> Option<LimitWarning> {
        if self.warned >= per_cent {
            return None;
        }
        self.warned = per_cent;
        Some(LimitWarning {
            kind: NEW_CHATS_PER_DAY,
            active: per_cent == 100,
            used: Some(u64::from(self.used)),
            limit: Some(u64::from(cap)),
            resets_at: rfc3339_of_millis(self.resets_at()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warns_once_at_80_and_once_at_100_per_cent() {
        let mut count = DailyCount::default();
        count.roll(0);
        let warned: Vec<(u32, bool)> = (0..50)
            .filter_map(|_| count.count(50).map(|w| (count.used, w.active)))
            .collect();
        assert_eq!(warned, [(40, false), (50, true)]);
        assert!(count.is_full(50));
        assert!(count.held(50).is_none());
    }

    #[test]
    fn a_new_day_starts_over() {
        let mut count = DailyCount::default();
        count.roll(10);
        count.count(1);
        assert!(count.is_full(1));
        assert_eq!(count.resets_at(), DAY_MS);
        count.roll(DAY_MS + 5);
        assert_eq!((count.used, count.warned), (0, 0));
    }

    #[test]
    fn a_cap_of_zero_warns_when_it_first_holds() {
        let mut count = DailyCount::default();
        assert!(count.is_full(0));
        let warning = count.held(0).unwrap();
        assert_eq!((warning.used, warning.limit), (Some(0), Some(0)));
        assert!(count.held(0).is_none());
    }
}
