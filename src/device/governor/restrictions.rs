//! WhatsApp's own restrictions on an account (SPEC §12): while one is in force, messages to
//! chats that never wrote to the account would fail for certain (and count against it), so
//! they are held until it ends; the session is never restarted for it, which WAHA warns makes
//! it worse.

use chrono::DateTime;

use crate::model::event::LimitWarning;
use crate::model::governor::{MessageCapping, ReachoutTimelock, Restrictions, CAPPED};
use crate::model::time::rfc3339_of_millis;

pub const REACHOUT_TIMELOCK: &str = "reachout_timelock";
pub const MESSAGE_CAPPING: &str = "message_capping";

/// How long messages to new contacts are held after WhatsApp refused one under a restriction
/// the upstream had not reported (its error 463 or 475): the restriction's end is not known,
/// so the next message to a new contact after this tries again, once. A report of the
/// restriction with its end replaces the guess.
pub const REFUSAL_HOLD: std::time::Duration = std::time::Duration::from_secs(3_600);

/// The restrictions after WhatsApp refused a message with its error `code` at `now`: the
/// restriction it names holds for [`REFUSAL_HOLD`], unless it holds already (as reported,
/// with its own end, or from an earlier refusal). `None` when nothing changes.
pub fn after_refusal(current: &Restrictions, code: u16, now_ms: i64) -> Option<Restrictions> {
    let ends = rfc3339_of_millis(now_ms + REFUSAL_HOLD.as_millis() as i64);
    let mut after = current.clone();
    match code {
        463 if current
            .reachout_timelock
            .as_ref()
            .and_then(|lock| timelock_hold(lock, now_ms))
            .is_none() =>
        {
            after.reachout_timelock = Some(ReachoutTimelock {
                is_active: true,
                enforcement_type: None,
                time_enforcement_ends: ends,
            });
        }
        475 if current
            .message_capping
            .as_ref()
            .and_then(|capping| capping_hold(capping, now_ms))
            .is_none() =>
        {
            after.message_capping = Some(MessageCapping {
                capping_status: CAPPED.to_owned(),
                total_quota: None,
                used_quota: None,
                cycle_start: None,
                cycle_end: ends,
            });
        }
        _ => return None,
    }
    Some(after)
}

fn millis(at: &Option<String>) -> Option<i64> {
    at.as_deref()
        .and_then(|at| DateTime::parse_from_rfc3339(at).ok())
        .map(|at| at.timestamp_millis())
}

/// Until when a restriction holds, if it holds at `now`: `Some(None)` when it gives no end.
fn holds_until(in_force: bool, ends: Option<i64>, now_ms: i64) -> Option<Option<i64>> {
    match (in_force, ends) {
        (false, _) => None,
        (true, Some(ends)) if ends <= now_ms => None,
        (true, ends) => Some(ends),
    }
}

fn timelock_hold(lock: &ReachoutTimelock, now_ms: i64) -> Option<Option<i64>> {
    holds_until(lock.is_active, millis(&lock.time_enforcement_ends), now_ms)
}

fn capping_hold(capping: &MessageCapping, now_ms: i64) -> Option<Option<i64>> {
    holds_until(
        capping.capping_status == CAPPED,
        millis(&capping.cycle_end),
        now_ms,
    )
}

/// Whether messages to new chats are held at `now`, and until when (`Some(None)`: until
/// WhatsApp says otherwise). With both in force, the later end holds.
pub fn hold(restrictions: &Restrictions, now_ms: i64) -> Option<Option<i64>> {
    let holds = [
        restrictions
            .reachout_timelock
            .as_ref()
            .and_then(|lock| timelock_hold(lock, now_ms)),
        restrictions
            .message_capping
            .as_ref()
            .and_then(|capping| capping_hold(capping, now_ms)),
    ];
    holds.into_iter().flatten().reduce(|a, b| match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        _ => None,
    })
}

/// The warnings a new report of the restrictions brings: one for each restriction whose state
/// changed (in force or not, its end, the capping status), not one per report.
pub fn warnings(before: &Restrictions, after: &Restrictions, now_ms: i64) -> Vec<LimitWarning> {
    let mut warnings = Vec::new();
    if let Some(lock) = &after.reachout_timelock {
        let was = before.reachout_timelock.as_ref();
        let changed = was.is_none_or(|was| {
            (was.is_active, &was.time_enforcement_ends)
                != (lock.is_active, &lock.time_enforcement_ends)
        });
        if changed {
            warnings.push(LimitWarning {
                kind: REACHOUT_TIMELOCK,
                active: timelock_hold(lock, now_ms).is_some(),
                used: None,
                limit: None,
                resets_at: lock.time_enforcement_ends.clone(),
            });
        }
    }
    if let Some(capping) = &after.message_capping {
        let was = before.message_capping.as_ref();
        let changed = was.is_none_or(|was| {
            (&was.capping_status, &was.cycle_end) != (&capping.capping_status, &capping.cycle_end)
        });
        if changed {
            warnings.push(LimitWarning {
                kind: MESSAGE_CAPPING,
                active: capping_hold(capping, now_ms).is_some(),
                used: capping.used_quota,
                limit: capping.total_quota,
                resets_at: capping.cycle_end.clone(),
            });
        }
    }
    warnings
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-09-21, before the restrictions below end.
    const NOW: i64 = 1_790_000_000_000;

    fn timelock(active: bool, ends: &str) -> Restrictions {
        Restrictions {
            reachout_timelock: Some(ReachoutTimelock {
                is_active: active,
                enforcement_type: Some("REACHOUT_TIMELOCK".into()),
                time_enforcement_ends: Some(ends.into()),
            }),
            message_capping: None,
        }
    }

    fn capping(status: &str, cycle_end: &str) -> Restrictions {
        Restrictions {
            reachout_timelock: None,
            message_capping: Some(MessageCapping {
                capping_status: status.into(),
                total_quota: Some(100),
                used_quota: Some(100),
                cycle_start: None,
                cycle_end: Some(cycle_end.into()),
            }),
        }
    }

    #[test]
    fn an_active_timelock_holds_until_it_ends() {
        let ends = "2027-01-15T08:00:00.000Z";
        let ends_ms = millis(&Some(ends.into())).unwrap();
        assert_eq!(hold(&timelock(true, ends), NOW), Some(Some(ends_ms)));
        assert_eq!(hold(&timelock(true, ends), ends_ms), None);
        assert_eq!(hold(&timelock(false, ends), NOW), None);
        assert_eq!(hold(&Restrictions::default(), NOW), None);
    }

    #[test]
    fn a_refused_message_holds_new_contacts_an_hour_unless_a_restriction_holds_already() {
        let hour = REFUSAL_HOLD.as_millis() as i64;
        let locked = after_refusal(&Restrictions::default(), 463, NOW).unwrap();
        assert_eq!(hold(&locked, NOW), Some(Some(NOW + hour)));
        assert!(locked.message_capping.is_none());
        assert_eq!(after_refusal(&locked, 463, NOW + 1_000), None);
        let reported = timelock(true, "2027-01-15T08:00:00.000Z");
        assert_eq!(after_refusal(&reported, 463, NOW), None);
        let lifted = timelock(false, "2027-01-15T08:00:00.000Z");
        assert_eq!(
            hold(&after_refusal(&lifted, 463, NOW).unwrap(), NOW),
            Some(Some(NOW + hour))
        );
        let capped = after_refusal(&locked, 475, NOW).unwrap();
        assert_eq!(capped.reachout_timelock, locked.reachout_timelock);
        assert_eq!(
            capped.message_capping.as_ref().unwrap().capping_status,
            CAPPED
        );
        assert_eq!(after_refusal(&Restrictions::default(), 500, NOW), None);
    }

    #[test]
    fn only_a_capped_account_is_held() {
        let end = "2027-02-01T00:00:00Z";
        assert!(hold(&capping(CAPPED, end), NOW).is_some());
        assert_eq!(hold(&capping("APPROACHING", end), NOW), None);
    }

    #[test]
    fn a_warning_for_each_change_not_for_each_report() {
        let ends = "2027-01-15T08:00:00.000Z";
        let locked = timelock(true, ends);
        let first = warnings(&Restrictions::default(), &locked, NOW);
        assert_eq!(first.len(), 1);
        assert!(first[0].active && first[0].kind == REACHOUT_TIMELOCK);
        assert!(warnings(&locked, &locked, NOW).is_empty());
        let lifted = warnings(&locked, &timelock(false, ends), NOW);
        assert!(!lifted[0].active);
    }
}
