//! The one timestamp format on the wire.

use chrono::{DateTime, SecondsFormat, Utc};

/// RFC 3339 UTC with millisecond precision: what every event, message and record carries.
pub fn rfc3339(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// [`rfc3339`] of a time given in milliseconds since the epoch (which the journal keeps).
pub fn rfc3339_of_millis(millis: i64) -> Option<String> {
    DateTime::from_timestamp_millis(millis).map(rfc3339)
}
