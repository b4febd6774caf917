//! The send governor's vocabulary (SPEC §12): the limits a device sends within, the changes a
//! device file or an admin makes to them, what a device shows of its governor, and the
//! restrictions WhatsApp itself puts on an account.
//!
//! Numbers get banned for sending like machines. The governor paces a device's messages to
//! the upstream, caps the messages to chats that never wrote to the account, starts a newly
//! linked account low, and obeys the upstream's own limits; the decisions are the device
//! layer's (`device::governor`), the words are here so every layer can show them.

use serde::{Deserialize, Serialize};

/// The limits a device's governor works to, once the daemon's `[governor]`, the device file's
/// and an admin's changes are laid over each other.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct GovernorLimits {
    /// Whether the pace, the daily cap, the warm-up, the number checks' pace and typing
    /// apply. WhatsApp's restrictions and an upstream's rate-limit answers are obeyed
    /// either way.
    pub enabled: bool,
    /// Messages a minute to the upstream.
    pub per_minute: u32,
    /// Messages that may go at once, before the pace applies.
    pub burst: u32,
    /// How much each gap between paced messages varies, as a share of it (0.3: ±30 %).
    pub jitter: f64,
    /// Messages a day to chats that never wrote to this account.
    pub new_chats_per_day: u32,
    /// Days over which a newly linked account rises from a quarter of the limits to all of
    /// them; 0 for none.
    pub warmup_days: u32,
    /// Checks a minute of whether a number is on WhatsApp.
    pub number_checks_per_minute: u32,
    /// Whether a text is preceded by the typing indicator, for a time that grows with it.
    pub typing: bool,
}

/// Changes to a device's limits: the `[governor]` table of a device file, and what an admin
/// sets at run time (`PATCH /devices/{id} { governor }`). A key left out (or `null`) keeps
/// the limit it would have without this change.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS), ts(optional_fields))]
#[serde(deny_unknown_fields)]
#[schema(example = json!({ "per_minute": 10, "new_chats_per_day": 20 }))]
pub struct GovernorChanges {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 1, maximum = 6000)]
    pub per_minute: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 1, maximum = 1000)]
    pub burst: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 0.0, maximum = 0.9)]
    pub jitter: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(maximum = 100000)]
    pub new_chats_per_day: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(maximum = 365)]
    pub warmup_days: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 1, maximum = 6000)]
    pub number_checks_per_minute: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub typing: Option<bool>,
}

/// The bounds [`GovernorChanges::validate`] and the daemon's `[governor]` check: zero per
/// minute would never send, a jitter of 1 could make a gap nothing.
pub const PER_MINUTE_MAX: u32 = 6000;
pub const BURST_MAX: u32 = 1000;
pub const JITTER_MAX: f64 = 0.9;
pub const NEW_CHATS_PER_DAY_MAX: u32 = 100_000;
pub const WARMUP_DAYS_MAX: u32 = 365;

impl GovernorChanges {
    /// `limits` with these changes laid over them.
    pub fn over(&self, limits: GovernorLimits) -> GovernorLimits {
        GovernorLimits {
            enabled: self.enabled.unwrap_or(limits.enabled),
            per_minute: self.per_minute.unwrap_or(limits.per_minute),
            burst: self.burst.unwrap_or(limits.burst),
            jitter: self.jitter.unwrap_or(limits.jitter),
            new_chats_per_day: self.new_chats_per_day.unwrap_or(limits.new_chats_per_day),
            warmup_days: self.warmup_days.unwrap_or(limits.warmup_days),
            number_checks_per_minute: self
                .number_checks_per_minute
                .unwrap_or(limits.number_checks_per_minute),
            typing: self.typing.unwrap_or(limits.typing),
        }
    }

    /// These changes, then `later` over them: what `later` gives wins.
    pub fn then(&self, later: &GovernorChanges) -> GovernorChanges {
        GovernorChanges {
            enabled: later.enabled.or(self.enabled),
            per_minute: later.per_minute.or(self.per_minute),
            burst: later.burst.or(self.burst),
            jitter: later.jitter.or(self.jitter),
            new_chats_per_day: later.new_chats_per_day.or(self.new_chats_per_day),
            warmup_days: later.warmup_days.or(self.warmup_days),
            number_checks_per_minute: later
                .number_checks_per_minute
                .or(self.number_checks_per_minute),
            typing: later.typing.or(self.typing),
        }
    }

    /// Checks each value given against its bounds; the message names the first bad key.
    pub fn validate(&self) -> Result<(), String> {
        match self.problem() {
            Some((key, detail)) => Err(format!("`governor.{key}` {detail}")),
            None => Ok(()),
        }
    }

    /// The first value out of its bounds: its key within the table, and what is wrong.
    pub fn problem(&self) -> Option<(&'static str, String)> {
        let counts = [
            ("per_minute", self.per_minute, 1, PER_MINUTE_MAX),
            ("burst", self.burst, 1, BURST_MAX),
            (
                "new_chats_per_day",
                self.new_chats_per_day,
                0,
                NEW_CHATS_PER_DAY_MAX,
            ),
            ("warmup_days", self.warmup_days, 0, WARMUP_DAYS_MAX),
            (
                "number_checks_per_minute",
                self.number_checks_per_minute,
                1,
                PER_MINUTE_MAX,
            ),
        ];
        for (key, value, min, max) in counts {
            if let Some(value) = value.filter(|value| *value < min || *value > max) {
                return Some((key, format!("must be from {min} to {max}, got {value}")));
            }
        }
        self.jitter
            .filter(|jitter| !(0.0..=JITTER_MAX).contains(jitter))
            .map(|jitter| {
                (
                    "jitter",
                    format!("must be from 0 to {JITTER_MAX}, got {jitter}"),
                )
            })
    }
}

/// WhatsApp's own restrictions on the account, as WAHA reports them in `session.status`
/// while the session stays `WORKING` (its names kept). While one is in force, messages to
/// chats that never wrote to this account are held.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct Restrictions {
    /// No messages to new contacts until it ends (sends fail with WhatsApp's error 463).
    pub reachout_timelock: Option<ReachoutTimelock>,
    /// A quota of new contacts per cycle (sends fail with error 475 once `CAPPED`).
    pub message_capping: Option<MessageCapping>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct ReachoutTimelock {
    pub is_active: bool,
    pub enforcement_type: Option<String>,
    /// When it ends (RFC 3339); `null` when WhatsApp did not say.
    #[schema(format = DateTime)]
    pub time_enforcement_ends: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct MessageCapping {
    /// WhatsApp's word for where the account stands, `CAPPED` once the quota is used up.
    pub capping_status: String,
    pub total_quota: Option<u64>,
    pub used_quota: Option<u64>,
    #[schema(format = DateTime)]
    pub cycle_start: Option<String>,
    /// When the cycle ends and the quota starts over (RFC 3339).
    #[schema(format = DateTime)]
    pub cycle_end: Option<String>,
}

/// The capping status that holds messages to new chats.
pub const CAPPED: &str = "CAPPED";

/// A device's governor as `GET /devices/{id}` shows it: its limits and where it stands.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct GovernorView {
    /// The limits in force, the warm-up not applied.
    pub limits: GovernorLimits,
    /// The share of the limits a newly linked account has today (0.25 rising to 1).
    pub warmup: f64,
    /// Messages handed to the upstream in the last minute (counted while enabled).
    pub sent_last_minute: u32,
    /// The pace in force now, the warm-up applied.
    pub per_minute_now: u32,
    /// Messages today to chats that never wrote to this account.
    pub new_chats_today: u32,
    /// Today's cap on them, the warm-up applied.
    pub new_chats_limit_today: u32,
    /// When the next paced message may go; `null` when one may go now.
    #[schema(format = DateTime)]
    pub next_send_at: Option<String>,
    /// Until when the upstream asked for no more requests (HTTP 429, `Retry-After`).
    #[schema(format = DateTime)]
    pub throttled_until: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_lay_over_the_limits_and_later_changes_win() {
        let limits = GovernorLimits {
            enabled: false,
            per_minute: 20,
            burst: 5,
            jitter: 0.3,
            new_chats_per_day: 50,
            warmup_days: 7,
            number_checks_per_minute: 10,
            typing: false,
        };
        let file = GovernorChanges {
            per_minute: Some(10),
            typing: Some(true),
            ..GovernorChanges::default()
        };
        let admin = GovernorChanges {
            per_minute: Some(5),
            enabled: Some(true),
            ..GovernorChanges::default()
        };
        let limits = file.then(&admin).over(limits);
        assert!(limits.enabled && limits.typing);
        assert_eq!((limits.per_minute, limits.burst), (5, 5));
    }

    #[test]
    fn out_of_bounds_values_are_named() {
        let zero = GovernorChanges {
            per_minute: Some(0),
            ..GovernorChanges::default()
        };
        assert_eq!(
            zero.validate().unwrap_err(),
            "`governor.per_minute` must be from 1 to 6000, got 0"
        );
        let jitter = GovernorChanges {
            jitter: Some(1.5),
            ..GovernorChanges::default()
        };
        assert!(jitter.validate().unwrap_err().contains("governor.jitter"));
        assert!(GovernorChanges::default().validate().is_ok());
    }
}
