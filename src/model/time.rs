//! The one timestamp format on the wire.

use chrono::{DateTime, SecondsFormat, Utc};

/// RFC 3339 UTC with millisecond precision: what every event, message and record carries.
pub fn rfc3339(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// An [`rfc3339`] time as milliseconds since the epoch, which give the same text back.
pub fn millis(rfc3339: &str) -> Option<i64> {
    DateTime::parse_from_rfc3339(rfc3339)
        .ok()
        .map(|at| at.timestamp_millis())
}

/// [`rfc3339`] of a time given in milliseconds since the epoch.
pub fn rfc3339_of_millis(millis: i64) -> Option<String> {
    DateTime::from_timestamp_millis(millis).map(rfc3339)
}
