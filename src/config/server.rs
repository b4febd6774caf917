//! The HTTP and Socket.IO listener, the protocol profiles it serves, and the limits on what
//! it accepts.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// HTTP and Socket.IO listener.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerSettings {
    /// Listen address; port 0 picks a free port (useful in tests).
    pub bind: SocketAddr,
    /// Base URL written into pairing QR codes and links. It is configured
    /// rather than derived from `bind` because devices reach the daemon
    /// through whatever proxy or host name sits in front of it.
    pub public_url: String,
    /// Path the Socket.IO endpoint is served under.
    pub socket_path: String,
    /// Exact-match origin allowlist for REST and Socket.IO. Exact matching
    /// (no wildcards) keeps the check simple enough to audit.
    pub cors_origins: Vec<String>,
    /// More Socket.IO paths, each with the protocol profile its connections speak, so a
    /// client written for another server keeps its own path.
    pub profiles: BTreeMap<String, String>,
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            bind: SocketAddr::from((Ipv4Addr::LOCALHOST, 3000)),
            public_url: "http://localhost:3000".to_owned(),
            socket_path: "/ws".to_owned(),
            cors_origins: vec!["http://localhost:4000".to_owned()],
            profiles: BTreeMap::new(),
        }
    }
}

/// Users' own protocol profiles, beside the shipped ones.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProfilesSettings {
    /// Directory of profile files (`<name>.toml`); a missing directory holds none.
    pub dir: PathBuf,
}

impl Default for ProfilesSettings {
    fn default() -> Self {
        Self {
            dir: PathBuf::from("profiles"),
        }
    }
}

/// Resource limits that protect the daemon from oversized or flooding clients.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitSettings {
    /// Largest Socket.IO packet / REST body accepted, in bytes.
    pub max_message_bytes: usize,
    /// Per-connection inbound event rate.
    pub events_per_minute: u32,
    /// Outgoing packets a Socket.IO connection may have waiting before it counts as too slow
    /// and is disconnected (it resumes with `lastSeq`). One group commit can publish several
    /// hundred events of a device (a relay batch of 256 messages alone is 512 statuses and
    /// acks), so the default leaves room for a few of them; the queue takes memory only for
    /// what waits in it.
    pub client_queue_packets: usize,
    /// Bytes a Socket.IO connection may have waiting to be written, over all the namespaces it
    /// multiplexes and replies included. Counting packets alone lets a few megabyte-sized
    /// replies or messages pile up gigabytes; past this budget the connection is closed as a
    /// slow consumer and resumes with `lastSeq`.
    pub client_queue_bytes: usize,
    /// Largest acknowledgement reply or REST list page, in bytes: a page that would be larger
    /// is cut short and carries `nextCursor`, so one request cannot make the daemon hold an
    /// unbounded reply.
    pub max_reply_bytes: usize,
    /// Open connections, HTTP and Socket.IO alike; past it a new one gets 503 `over_capacity`.
    pub max_connections: usize,
    /// Seconds an HTTP connection may take to send a whole request head, and may sit idle
    /// between requests, before it is closed: a client that opens connections and sends
    /// nothing cannot hold descriptors and buffers.
    pub header_timeout_secs: u64,
    /// Largest body an `/upstream/...` webhook receiver reads, after it has checked that the
    /// device exists and uses that connector.
    pub max_upstream_body_bytes: usize,
    /// Bytes of contacts' profile pictures the daemon keeps to serve them, over all devices:
    /// past it the oldest go, and a picture larger than all of it is served but not kept.
    /// Contacts come from outside, and a device with many would otherwise fill the disk.
    pub picture_cache_bytes: u64,
}

impl Default for LimitSettings {
    fn default() -> Self {
        Self {
            max_message_bytes: 65_536,
            events_per_minute: 600,
            client_queue_packets: 4096,
            client_queue_bytes: 4 * 1024 * 1024,
            max_reply_bytes: 1024 * 1024,
            max_connections: 50_000,
            header_timeout_secs: 10,
            max_upstream_body_bytes: 1024 * 1024,
            picture_cache_bytes: 64 * 1024 * 1024,
        }
    }
}
