//! WhatsApp's restrictions on an account as WAHA reports them: in `session.status`'s
//! `payload.data` while the session stays `WORKING` — a Reachout Timelock
//! (`reachoutTimelock { enforcementType, isActive, timeEnforcementEnds }`: no messages to new
//! contacts until it ends) and Message Capping (`messageCapping { cappingStatus, totalQuota,
//! usedQuota, cycleStart, cycleEnd }`: a quota of new contacts per cycle).

use chrono::DateTime;
use serde_json::Value;

use crate::model::governor::{MessageCapping, ReachoutTimelock, Restrictions};
use crate::model::time::rfc3339_of_millis;

/// The restrictions a `session.status` payload reports, if it says anything of them.
pub fn read(payload: &Value) -> Option<Restrictions> {
    let data = &payload["data"];
    let lock = data.get("reachoutTimelock").filter(|lock| lock.is_object());
    let capping = data
        .get("messageCapping")
        .filter(|capping| capping.is_object());
    if lock.is_none() && capping.is_none() {
        return None;
    }
    Some(Restrictions {
        reachout_timelock: lock.map(|lock| ReachoutTimelock {
            is_active: lock["isActive"].as_bool().unwrap_or(false),
            enforcement_type: lock["enforcementType"].as_str().map(str::to_owned),
            time_enforcement_ends: time(&lock["timeEnforcementEnds"]),
        }),
        message_capping: capping.map(|capping| MessageCapping {
            capping_status: capping["cappingStatus"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            total_quota: capping["totalQuota"].as_u64(),
            used_quota: capping["usedQuota"].as_u64(),
            cycle_start: time(&capping["cycleStart"]),
            cycle_end: time(&capping["cycleEnd"]),
        }),
    })
}

/// A time as WAHA may write it: an ISO 8601 text, or a Unix time in seconds or milliseconds;
/// as RFC 3339.
fn time(value: &Value) -> Option<String> {
    let millis = match value {
        Value::String(text) => match DateTime::parse_from_rfc3339(text) {
            Ok(at) => at.timestamp_millis(),
            Err(_) => text.parse::<i64>().ok().map(unix_millis)?,
        },
        Value::Number(number) => unix_millis(number.as_i64()?),
        _ => return None,
    };
    rfc3339_of_millis(millis)
}

/// Seconds and milliseconds told apart by size: 10¹² seconds is some 30,000 years away.
fn unix_millis(value: i64) -> i64 {
    match value.abs() < 1_000_000_000_000 {
        true => value * 1_000,
        false => value,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_timelock_and_a_cap_are_read_as_waha_writes_them() {
        let payload = json!({ "status": "WORKING", "data": {
            "reachoutTimelock": { "enforcementType": "REACHOUT_TIMELOCK", "isActive": true,
                "timeEnforcementEnds": "2027-01-15T08:00:00.000Z" },
            "messageCapping": { "cappingStatus": "CAPPED", "totalQuota": 100, "usedQuota": 100,
                "cycleStart": 1_790_000_000, "cycleEnd": 1_790_604_800_000_i64 } } });
        let read = read(&payload).unwrap();
        let lock = read.reachout_timelock.unwrap();
        assert!(lock.is_active);
        assert_eq!(
            lock.time_enforcement_ends.as_deref(),
            Some("2027-01-15T08:00:00.000Z")
        );
        let capping = read.message_capping.unwrap();
        assert_eq!(capping.capping_status, "CAPPED");
        assert_eq!(
            (capping.used_quota, capping.total_quota),
            (Some(100), Some(100))
        );
        assert_eq!(
            capping.cycle_start.as_deref(),
            Some("2026-09-21T14:13:20.000Z")
        );
        assert_eq!(
            capping.cycle_end.as_deref(),
            Some("2026-09-28T14:13:20.000Z")
        );
    }

    #[test]
    fn a_status_without_restrictions_says_nothing_of_them() {
        assert_eq!(read(&json!({ "status": "WORKING" })), None);
        assert_eq!(read(&json!({ "status": "WORKING", "data": {} })), None);
    }
}
