//! The devices: where they are defined, how they pair, reconnect and send, and how their
//! upstreams are called.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Declarative device definitions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DevicesSettings {
    /// Directory of device files.
    pub dir: PathBuf,
}

impl Default for DevicesSettings {
    fn default() -> Self {
        Self {
            dir: PathBuf::from("devices"),
        }
    }
}

/// Pairing QR code rotation. The first code lives longer because the user
/// still has to open the scanner; later ones are short so that a code seen
/// over someone's shoulder is soon useless.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct QrSettings {
    pub first_ttl_secs: u64,
    pub ttl_secs: u64,
    /// Codes shown in one pairing attempt before it gives up.
    pub max_attempts: u32,
}

impl QrSettings {
    /// How long all of a pairing attempt's codes are shown together, from the first.
    pub fn window(&self) -> Duration {
        let later = u64::from(self.max_attempts.saturating_sub(1));
        Duration::from_secs(
            self.first_ttl_secs
                .saturating_add(later.saturating_mul(self.ttl_secs)),
        )
    }
}

impl Default for QrSettings {
    fn default() -> Self {
        Self {
            first_ttl_secs: 60,
            ttl_secs: 20,
            max_attempts: 6,
        }
    }
}

/// Device reconnection: exponential backoff with full jitter, so that many
/// devices dropped at once do not reconnect in lockstep.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReconnectSettings {
    pub initial_ms: u64,
    pub max_ms: u64,
    pub max_attempts: u32,
}

impl Default for ReconnectSettings {
    fn default() -> Self {
        Self {
            initial_ms: 1000,
            max_ms: 60_000,
            max_attempts: 20,
        }
    }
}

/// Outbound message delivery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MessageSettings {
    /// Seconds to wait for a device's acknowledgement before resending.
    pub ack_timeout_secs: u64,
    /// Sends attempted before a message is marked failed.
    pub max_send_attempts: u32,
}

impl Default for MessageSettings {
    fn default() -> Self {
        Self {
            ack_timeout_secs: 60,
            max_send_attempts: 5,
        }
    }
}

/// Talking to real upstreams (WAHA, the Cloud API). Every request is bounded, so a hung
/// upstream delays a device by at most `timeout_ms` and is then treated as unreachable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UpstreamSettings {
    /// Longest a single upstream request may take, connecting included; for a media
    /// download, longest between two reads.
    pub timeout_ms: u64,
    /// Longest to wait for a connection to the upstream.
    pub connect_timeout_ms: u64,
    /// The former name of `watchdog.probe_secs`, still read so that older files keep their
    /// pace; loading carries it over, so it is never set afterwards.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub check_interval_secs: Option<u64>,
}

/// Bounds on every upstream request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// Establishing the connection.
    pub connect: Duration,
    /// The whole request, connection included.
    pub total: Duration,
}

impl UpstreamSettings {
    /// The bounds `upstream.*` sets.
    pub fn timeouts(&self) -> Timeouts {
        Timeouts {
            connect: Duration::from_millis(self.connect_timeout_ms),
            total: Duration::from_millis(self.timeout_ms),
        }
    }
}

impl Default for UpstreamSettings {
    fn default() -> Self {
        Self {
            timeout_ms: 10_000,
            connect_timeout_ms: 5_000,
            check_interval_secs: None,
        }
    }
}
