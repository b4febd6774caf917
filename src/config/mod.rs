//! Daemon configuration: layered sources, strict keys, every problem at once.
//!
//! Settings come from five layers; a later layer overrides single keys of the
//! earlier ones:
//!
//! 1. built-in defaults ([`DEFAULT_TOML`], `config/default.toml` embedded in
//!    the binary), so the daemon starts with no file at all and the defaults
//!    live in one documented place;
//! 2. `config/local.toml` relative to the working directory, if it exists, for
//!    a developer's checkout;
//! 3. the file named by `--config FILE`, which must exist, for deployments;
//! 4. environment variables `DEVICEBRIDGE__SECTION__KEY`, for containers;
//! 5. command-line flags ([`Overrides`]), for one-off runs.
//!
//! Two rules shape the code:
//!
//! * **Unknown keys are errors.** A misspelt key (`server.bnd`) would
//!   otherwise be ignored and the daemon would quietly run with the default,
//!   which is worse than refusing to start.
//! * **All problems are reported at once.** Fixing one error, restarting and
//!   meeting the next one is tedious, so [`load`] collects unknown keys, wrong
//!   types and invalid values from every layer into one [`ConfigErrors`].
//!
//! The `config` crate merges the layers, but every layer is
//! built here as a custom source rather than with `config::File` or
//! `config::Environment`:
//!
//! * file layers are parsed with `toml`, so a syntax error becomes one line
//!   naming the file, line and column, and a broken file does not hide the
//!   problems of the others;
//! * environment values are converted according to the type of the key they
//!   set (a numeric-looking `jwt_secret` stays a string, `cors_origins` is
//!   split on commas), instead of guessing from the text;
//! * every value carries its origin ("in /etc/devicebridge.toml", "from
//!   environment variable DEVICEBRIDGE__QR__TTL_SECS"), which the error
//!   messages repeat so the user knows which layer to fix.
//!
//! Checking works on the merged tree: it is walked against the key structure
//! of a fully populated [`Settings`] serialized to JSON (the *schema*), so the
//! known keys are exactly the fields of the structs below and cannot drift
//! from them. Each field is then deserialized on its own into its section
//! struct, which attributes every type error to its key instead of stopping
//! at the first. Finally [`Settings::validate`] checks values that are
//! well-typed but unusable.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The built-in defaults: every key with a comment explaining it.
///
/// Embedded so the binary is self-contained; a test guarantees it parses to
/// exactly [`Settings::default()`], so the documentation cannot go stale.
pub const DEFAULT_TOML: &str = include_str!("../../config/default.toml");

/// The longest any duration setting may be. Durations are added to the current time, and
/// past a few hundred years that overflows (a panic, or a retention cut-off in the future
/// that empties the journal); ten years is already surely a typo.
const LONGEST_DURATION_MS: u64 = 10 * 365 * 86_400_000;

/// Prefix of environment variables that set configuration keys. The double
/// underscore also separates sections from keys, because keys themselves
/// contain single underscores (`TTL_SECS`).
const ENV_PREFIX: &str = "DEVICEBRIDGE__";
const ENV_SEPARATOR: &str = "__";
/// Shortcut that adds one admin API key. It has a single underscore, so it can
/// never be read as a configuration key.
pub const ENV_API_KEY: &str = "DEVICEBRIDGE_API_KEY";
/// Keys whose tables are free-form maps of strings rather than sections of known keys.
const MAP_KEYS: [&str; 2] = ["hooks.sound.events", "server.profiles"];
/// The scopes an API key may grant.
const KNOWN_SCOPES: [&str; 4] = ["read", "send", "control", "admin"];

/// Complete daemon configuration, as produced by [`load`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    pub server: ServerSettings,
    pub storage: StorageSettings,
    pub cluster: ClusterSettings,
    pub devices: DevicesSettings,
    pub profiles: ProfilesSettings,
    pub auth: AuthSettings,
    pub qr: QrSettings,
    pub reconnect: ReconnectSettings,
    pub messages: MessageSettings,
    pub upstream: UpstreamSettings,
    pub limits: LimitSettings,
    pub journal: JournalSettings,
    pub webhooks: WebhookSettings,
    pub hooks: HookSettings,
    pub log: LogSettings,
}

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

/// Persistent state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StorageSettings {
    /// Holds the SQLite file `devicebridge.db` and generated secrets, so a
    /// single directory is all that needs backing up.
    pub data_dir: PathBuf,
    /// Where the database is: `sqlite:` (the file `devicebridge.db` in `data_dir`) or a
    /// PostgreSQL URL, `postgres://user:password@host:port/database`, shared by every node of
    /// a cluster.
    pub url: String,
    /// SQLite durability/speed trade-off.
    pub synchronous: Synchronous,
    /// How large SQLite's write-ahead log may grow under a sustained load before the writer
    /// pauses a moment so that it can start over (see `store::run_checkpointer`).
    pub wal_limit_mb: u64,
    /// How long files uploaded to send are kept (see `device::uploads`).
    pub upload_retention_days: u64,
}

impl Default for StorageSettings {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("data"),
            url: "sqlite:".into(),
            synchronous: Synchronous::Full,
            wal_limit_mb: 16,
            upload_retention_days: 30,
        }
    }
}

/// How a PostgreSQL URL starts.
pub const POSTGRES_SCHEMES: [&str; 2] = ["postgres://", "postgresql://"];

impl StorageSettings {
    /// The PostgreSQL URL of [`url`](Self::url), if it names one rather than SQLite.
    pub fn postgres_url(&self) -> Option<&str> {
        POSTGRES_SCHEMES
            .iter()
            .any(|scheme| self.url.starts_with(scheme))
            .then_some(self.url.as_str())
    }

    /// Path of the SQLite database inside [`data_dir`](Self::data_dir).
    pub fn database_path(&self) -> PathBuf {
        self.data_dir.join("devicebridge.db")
    }
}

/// This node's place in a cluster: several daemons sharing one PostgreSQL database (SPEC §10).
/// Ignored on SQLite, where the one daemon runs every device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClusterSettings {
    /// The node's name in the cluster; empty: `<host name>-<process id>`, new at each start.
    pub node_id: String,
    /// Where the other nodes reach this one to carry a device's commands to it; empty: the
    /// node's `server.public_url`.
    pub advertise_url: String,
    /// How long a node holds a device without renewing its lease. A node that stops renewing
    /// (it died, froze or lost the database) loses its devices to the others after this.
    pub lease_secs: u64,
}

impl Default for ClusterSettings {
    fn default() -> Self {
        Self {
            node_id: String::new(),
            advertise_url: String::new(),
            lease_secs: 10,
        }
    }
}

impl ClusterSettings {
    /// [`node_id`](Self::node_id), or the host's name and the process id when it is empty.
    pub fn node_id(&self) -> String {
        if !self.node_id.is_empty() {
            return self.node_id.clone();
        }
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|name| name.trim().to_owned())
            .ok()
            .filter(|name| !name.is_empty())
            .unwrap_or_else(|| "node".to_owned());
        format!("{host}-{}", std::process::id())
    }

    /// [`advertise_url`](Self::advertise_url); when it is empty, the address the node is
    /// `bound` to if that is a loopback one (the only way to reach it, without the doubt of a
    /// `localhost` that may name IPv6's loopback first), else `public_url`.
    pub fn advertise_url(&self, public_url: &str, bound: SocketAddr) -> String {
        if !self.advertise_url.is_empty() {
            return self.advertise_url.trim_end_matches('/').to_owned();
        }
        match bound.ip().is_loopback() {
            true => format!("http://{bound}"),
            false => public_url.trim_end_matches('/').to_owned(),
        }
    }

    pub fn lease(&self) -> Duration {
        Duration::from_secs(self.lease_secs)
    }
}

/// SQLite `synchronous` pragma. Only the two modes that are safe with WAL are
/// offered: `full` survives power loss, `normal` may lose the latest commits
/// on power loss but never corrupts the database.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Synchronous {
    #[default]
    Full,
    Normal,
}

/// Declarative device definitions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DevicesSettings {
    /// Directory of device files.
    pub dir: PathBuf,
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

impl Default for DevicesSettings {
    fn default() -> Self {
        Self {
            dir: PathBuf::from("devices"),
        }
    }
}

/// Authentication.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthSettings {
    /// Static API keys. Empty by default: a fresh install has no way in until
    /// a key is configured (or given with `DEVICEBRIDGE_API_KEY`).
    pub api_keys: Vec<ApiKeySetting>,
    /// HS256 secret for access tokens. Unset means one is generated and kept
    /// in the data directory, so tokens survive restarts without the operator
    /// having to invent a secret.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jwt_secret: Option<String>,
}

/// One API key.
///
/// The key may be given in plain text (`key`) or as its SHA-256 digest
/// (`key_sha256`), so a config file can be shared or committed without
/// leaking the secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ApiKeySetting {
    /// Label used in logs; never the secret itself.
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// Lowercase or uppercase hex, 64 characters.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_sha256: Option<String>,
    /// Device ids this key may use; `"*"` means all.
    pub devices: Vec<String>,
    /// Subset of `read`, `send`, `control`, `admin`.
    pub scopes: Vec<String>,
}

impl Default for ApiKeySetting {
    fn default() -> Self {
        Self {
            name: String::new(),
            key: None,
            key_sha256: None,
            devices: vec!["*".to_owned()],
            scopes: vec!["admin".to_owned()],
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
    /// How often a running device checks on its upstream session: this notices an upstream
    /// that stopped answering, and a status change whose webhook never arrived.
    pub check_interval_secs: u64,
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
            check_interval_secs: 30,
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
        }
    }
}

/// Event journal retention; an event is pruned when either bound is exceeded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct JournalSettings {
    pub retention_events: u64,
    pub retention_secs: u64,
    /// How often the retention bounds are applied.
    pub prune_interval_secs: u64,
}

impl Default for JournalSettings {
    fn default() -> Self {
        Self {
            retention_events: 100_000,
            retention_secs: 86_400,
            prune_interval_secs: 60,
        }
    }
}

/// Webhook delivery (SPEC §7.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebhookSettings {
    /// Allow webhook URLs that resolve to loopback, private, link-local or other non-public
    /// addresses. Off by default, so that whoever may create a subscription cannot make the
    /// daemon probe its own network.
    pub allow_private: bool,
    /// Seconds one delivery attempt may take before it counts as failed.
    pub timeout_secs: u64,
    /// Base of the exponential retry backoff (with full jitter), in milliseconds.
    pub retry_initial_ms: u64,
    /// Longest wait between two attempts, in milliseconds.
    pub retry_max_ms: u64,
    /// Seconds after its creation (or replay) a delivery is retried before it is given up.
    pub retry_window_secs: u64,
    /// Attempts in flight at once, over all subscriptions.
    pub concurrency: usize,
    /// Subscriptions declared here rather than over the API.
    pub subscriptions: Vec<WebhookSubscriptionSetting>,
}

impl Default for WebhookSettings {
    fn default() -> Self {
        Self {
            allow_private: false,
            timeout_secs: 15,
            retry_initial_ms: 5_000,
            retry_max_ms: 3_600_000,
            retry_window_secs: 3 * 86_400,
            concurrency: 16,
            subscriptions: Vec::new(),
        }
    }
}

/// A subscription declared in the configuration; its id is `cfg_<name>`, stable across restarts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebhookSubscriptionSetting {
    /// Lowercase letters, digits, `-` and `_`; names the subscription in its id.
    pub name: String,
    pub url: String,
    /// Event names, or `["*"]` for all.
    pub events: Vec<String>,
    /// Device ids, or `["*"]` for all.
    pub devices: Vec<String>,
    /// `whsec_` followed by the base64 of 24 to 64 random bytes (Standard Webhooks).
    pub secret: String,
}

impl Default for WebhookSubscriptionSetting {
    fn default() -> Self {
        Self {
            name: String::new(),
            url: String::new(),
            events: vec!["*".to_owned()],
            devices: vec!["*".to_owned()],
            secret: String::new(),
        }
    }
}

/// Sound and desktop notifications on the daemon's own host (SPEC §7.2).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HookSettings {
    /// No sound and no notification for messages sent from devicebridge itself.
    pub mute_own_messages: bool,
    /// `HH:MM-HH:MM` in the host's local time, during which neither hook makes a sound or
    /// shows anything; empty for none. A range may wrap past midnight (`22:00-07:00`).
    pub quiet_hours: String,
    pub sound: SoundSettings,
    pub desktop: DesktopSettings,
}

impl Default for HookSettings {
    fn default() -> Self {
        Self {
            mute_own_messages: true,
            quiet_hours: "22:00-07:00".into(),
            sound: SoundSettings::default(),
            desktop: DesktopSettings::default(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SoundSettings {
    pub enabled: bool,
    /// From 0.0 (silent) to 1.0 (the file's own loudness).
    pub volume: f32,
    /// Shortest time between two sounds, in milliseconds; a sound due sooner is skipped, so a
    /// burst of events makes one sound, not a racket.
    pub min_interval_ms: u64,
    /// Where sound files are looked for; a name not found there plays the shipped sound of
    /// that name.
    pub dir: PathBuf,
    /// Event (or device state) → sound file.
    pub events: std::collections::BTreeMap<String, String>,
}

impl Default for SoundSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            volume: 0.8,
            min_interval_ms: 2_000,
            dir: PathBuf::from("assets/sounds"),
            events: [
                ("message", "message.wav"),
                ("qr", "qr.wav"),
                ("disconnected", "alert.wav"),
            ]
            .into_iter()
            .map(|(event, file)| (event.to_owned(), file.to_owned()))
            .collect(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DesktopSettings {
    pub enabled: bool,
    /// Events (or device states) that raise a notification.
    pub events: Vec<String>,
    /// Notifications due within this many milliseconds of the first one are shown together,
    /// so that a burst of messages from one chat is one notification.
    pub coalesce_ms: u64,
    /// Longest a notification may take to reach the session bus, in milliseconds.
    pub timeout_ms: u64,
}

impl Default for DesktopSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            events: ["message", "call", "qr", "disconnected", "failed"]
                .into_iter()
                .map(str::to_owned)
                .collect(),
            coalesce_ms: 1_500,
            timeout_ms: 5_000,
        }
    }
}

/// Logging.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogSettings {
    pub format: LogFormat,
    /// A tracing `EnvFilter` directive; `RUST_LOG` overrides it so a one-off
    /// debugging session needs no config change.
    pub level: String,
}

impl Default for LogSettings {
    fn default() -> Self {
        Self {
            format: LogFormat::Human,
            level: "info".to_owned(),
        }
    }
}

/// Log line format: readable lines for a terminal, JSON for log collectors.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Human,
    Json,
}

mod check;
#[cfg(test)]
mod fuzz;
mod load;
#[cfg(test)]
mod tests;
mod typecheck;

pub use check::{Problem, SectionCheck};
pub use load::{load, ConfigErrors, Overrides, Sources};
