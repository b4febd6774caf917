//! The one timestamp format on the wire.

use chrono::{DateTime, SecondsFormat, Utc};

/// RFC 3339 UTC with millisecond precision: what every event, message and record carries.
pub fn rfc3339(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}
