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

use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use ::config::{Value, ValueKind};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map as JsonMap, Value as Json};

/// The built-in defaults: every key with a comment explaining it.
///
/// Embedded so the binary is self-contained; a test guarantees it parses to
/// exactly [`Settings::default()`], so the documentation cannot go stale.
pub const DEFAULT_TOML: &str = include_str!("../config/default.toml");

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
const MAP_KEYS: [&str; 1] = ["hooks.sound.events"];
/// The scopes an API key may grant.
const KNOWN_SCOPES: [&str; 4] = ["read", "send", "control", "admin"];

/// Complete daemon configuration, as produced by [`load`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    pub server: ServerSettings,
    pub storage: StorageSettings,
    pub devices: DevicesSettings,
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
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            bind: SocketAddr::from((Ipv4Addr::LOCALHOST, 3000)),
            public_url: "http://localhost:3000".to_owned(),
            socket_path: "/ws".to_owned(),
            cors_origins: vec!["http://localhost:4000".to_owned()],
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
            synchronous: Synchronous::Full,
            wal_limit_mb: 256,
            upload_retention_days: 30,
        }
    }
}

impl StorageSettings {
    /// Path of the SQLite database inside [`data_dir`](Self::data_dir).
    pub fn database_path(&self) -> PathBuf {
        self.data_dir.join("devicebridge.db")
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

/// Overrides from CLI flags (highest precedence).
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// `--config FILE`: a file layer that must exist.
    pub config_file: Option<PathBuf>,
    /// `--bind`
    pub bind: Option<SocketAddr>,
    /// `--data-dir`
    pub data_dir: Option<PathBuf>,
    /// `--devices-dir`
    pub devices_dir: Option<PathBuf>,
}

/// Where the layers come from — injectable so tests don't depend on the
/// process's cwd/env.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    /// `Some("config/local.toml")` normally; used only if it exists, so a
    /// missing local file is not an error.
    pub local_file: Option<PathBuf>,
    /// Environment variables, normally those of the process.
    pub env: Vec<(String, String)>,
}

impl Sources {
    /// The real sources: `config/local.toml` in the current directory and the
    /// process environment.
    ///
    /// Only `DEVICEBRIDGE*` variables are copied, since no others are read;
    /// this also avoids `std::env::vars`' panic on non-UTF-8 variables.
    pub fn from_process() -> Sources {
        let env = std::env::vars_os()
            .filter_map(|(name, value)| {
                let name = name.into_string().ok()?;
                if !name.starts_with("DEVICEBRIDGE") {
                    return None;
                }
                let value = value
                    .into_string()
                    .unwrap_or_else(|raw| raw.to_string_lossy().into_owned());
                Some((name, value))
            })
            .collect();
        Sources {
            local_file: Some(PathBuf::from("config/local.toml")),
            env,
        }
    }
}

/// Every configuration problem found, one human-readable line each.
///
/// Each line names the key (full dotted path, e.g. `server.bind` or
/// `auth.api_keys[0].scopes[1]`) or, for file-level problems, the file.
#[derive(Debug, thiserror::Error)]
#[error("{}", .0.join("\n"))]
pub struct ConfigErrors(pub Vec<String>);

/// Builds the settings from all layers, checks them and returns them, or
/// returns every problem found.
pub fn load(
    sources: &Sources,
    overrides: &Overrides,
    checks: &[&dyn SectionCheck],
) -> Result<Settings, ConfigErrors> {
    let schema = schema();
    let mut problems = Vec::new();

    let mut layers = Vec::new();
    layers.extend(toml_layer(
        DEFAULT_TOML,
        "built-in defaults",
        "in the built-in defaults",
        &mut problems,
    ));
    if let Some(path) = sources.local_file.as_deref().filter(|p| p.exists()) {
        layers.extend(file_layer(path, false, &mut problems));
    }
    if let Some(path) = &overrides.config_file {
        layers.extend(file_layer(path, true, &mut problems));
    }
    layers.push(env_layer(&sources.env, &schema, &mut problems));
    layers.push(cli_layer(overrides));
    let env_api_key = env_api_key(&sources.env, &mut problems);

    let mut builder = ::config::Config::builder();
    for layer in layers {
        builder = builder.add_source(layer);
    }
    let merged = match builder.build() {
        Ok(merged) => merged.cache,
        Err(err) => {
            problems.push(format!("cannot merge configuration layers: {err}"));
            return Err(ConfigErrors(problems));
        }
    };

    let mut checker = Checker::default();
    let checked = match (&merged.kind, &schema) {
        (ValueKind::Table(table), Json::Object(schema)) => checker.table("", table, schema),
        _ => JsonMap::new(),
    };
    problems.append(&mut checker.problems);

    // Keys with problems were left out of `checked`, so this normally
    // succeeds and yields defaults in their place; that lets validation run
    // on the rest and report its problems in the same pass.
    let mut settings: Settings = match serde_json::from_value(Json::Object(checked)) {
        Ok(settings) => settings,
        Err(err) => {
            problems.push(format!("invalid configuration: {err}"));
            return Err(ConfigErrors(problems));
        }
    };

    // The flags went through the layers as text (so they take part in the
    // checks above); set them again exactly, since a path need not be UTF-8.
    if let Some(bind) = overrides.bind {
        settings.server.bind = bind;
    }
    if let Some(dir) = &overrides.data_dir {
        settings.storage.data_dir = dir.clone();
    }
    if let Some(dir) = &overrides.devices_dir {
        settings.devices.dir = dir.clone();
    }
    if let Some(key) = env_api_key {
        settings.auth.api_keys.push(ApiKeySetting {
            name: "env".to_owned(),
            key: Some(key),
            ..ApiKeySetting::default()
        });
    }

    // A key that already failed its type check was replaced by its default;
    // judging that default would only add confusing noise.
    let mut found = settings.problems();
    for check in checks {
        check.problems(&settings, &mut found);
    }
    problems.extend(
        found
            .into_iter()
            .filter(|p| {
                !p.keys
                    .iter()
                    .any(|key| checker.failed.iter().any(|bad| paths_overlap(key, bad)))
            })
            .map(|p| p.message),
    );

    if problems.is_empty() {
        Ok(settings)
    } else {
        Err(ConfigErrors(problems))
    }
}

impl Settings {
    /// Every duration setting: its key, its value, and how many milliseconds a unit of it is.
    fn durations(&self) -> [(&'static str, u64, u64); 19] {
        const MS: u64 = 1;
        const SECS: u64 = 1_000;
        const DAYS: u64 = 86_400_000;
        [
            (
                "storage.upload_retention_days",
                self.storage.upload_retention_days,
                DAYS,
            ),
            ("qr.first_ttl_secs", self.qr.first_ttl_secs, SECS),
            ("qr.ttl_secs", self.qr.ttl_secs, SECS),
            ("reconnect.initial_ms", self.reconnect.initial_ms, MS),
            ("reconnect.max_ms", self.reconnect.max_ms, MS),
            (
                "messages.ack_timeout_secs",
                self.messages.ack_timeout_secs,
                SECS,
            ),
            ("upstream.timeout_ms", self.upstream.timeout_ms, MS),
            (
                "upstream.connect_timeout_ms",
                self.upstream.connect_timeout_ms,
                MS,
            ),
            (
                "upstream.check_interval_secs",
                self.upstream.check_interval_secs,
                SECS,
            ),
            ("journal.retention_secs", self.journal.retention_secs, SECS),
            (
                "limits.header_timeout_secs",
                self.limits.header_timeout_secs,
                SECS,
            ),
            (
                "journal.prune_interval_secs",
                self.journal.prune_interval_secs,
                SECS,
            ),
            ("webhooks.timeout_secs", self.webhooks.timeout_secs, SECS),
            (
                "webhooks.retry_initial_ms",
                self.webhooks.retry_initial_ms,
                MS,
            ),
            ("webhooks.retry_max_ms", self.webhooks.retry_max_ms, MS),
            (
                "webhooks.retry_window_secs",
                self.webhooks.retry_window_secs,
                SECS,
            ),
            (
                "hooks.sound.min_interval_ms",
                self.hooks.sound.min_interval_ms,
                MS,
            ),
            (
                "hooks.desktop.coalesce_ms",
                self.hooks.desktop.coalesce_ms,
                MS,
            ),
            (
                "hooks.desktop.timeout_ms",
                self.hooks.desktop.timeout_ms,
                MS,
            ),
        ]
    }

    /// Semantic checks, all problems at once: socket_path starts with '/',
    /// public_url is http(s)://, cors origins look like origins, ttl/attempt
    /// values ≥ 1, initial_ms ≤ max_ms, max_message_bytes ≥ 1024, api key
    /// entries valid (exactly one of key/key_sha256, sha256 is 64 hex, scopes
    /// known, devices non-empty), jwt_secret ≥ 32 bytes if set.
    ///
    /// These are values that deserialize fine but would make the daemon
    /// misbehave later (a QR code that expires immediately, a backoff that
    /// never grows, an origin a browser never sends), so they are rejected at
    /// startup where the message can name the key.
    pub fn validate(&self) -> Result<(), ConfigErrors> {
        let problems = self.problems();
        if problems.is_empty() {
            Ok(())
        } else {
            Err(ConfigErrors(
                problems.into_iter().map(|p| p.message).collect(),
            ))
        }
    }

    fn problems(&self) -> Vec<Problem> {
        let mut out = Vec::new();

        let server = &self.server;
        if !server.socket_path.starts_with('/') {
            out.push(Problem::new(
                "server.socket_path",
                format!("must start with '/', got {:?}", server.socket_path),
            ));
        }
        if let Some(why) = url_problem(&server.public_url) {
            out.push(Problem::new(
                "server.public_url",
                format!("{:?} {why}", server.public_url),
            ));
        }
        for (i, origin) in server.cors_origins.iter().enumerate() {
            if let Some(why) = origin_problem(origin) {
                out.push(Problem::new(
                    format!("server.cors_origins[{i}]"),
                    format!("{origin:?} {why}"),
                ));
            }
        }

        for (key, dir) in [
            ("storage.data_dir", &self.storage.data_dir),
            ("devices.dir", &self.devices.dir),
        ] {
            if dir.as_os_str().is_empty() {
                out.push(Problem::new(
                    key,
                    "must not be empty; use \".\" for the current directory",
                ));
            }
        }

        // Zero would mean a QR code that is expired when shown, a timeout
        // that fires at once, a backoff stuck at zero (a busy reconnect
        // loop), or a feature that gives up before trying.
        for (key, value) in [
            ("qr.first_ttl_secs", self.qr.first_ttl_secs),
            ("qr.ttl_secs", self.qr.ttl_secs),
            ("qr.max_attempts", u64::from(self.qr.max_attempts)),
            ("reconnect.initial_ms", self.reconnect.initial_ms),
            (
                "reconnect.max_attempts",
                u64::from(self.reconnect.max_attempts),
            ),
            ("messages.ack_timeout_secs", self.messages.ack_timeout_secs),
            (
                "messages.max_send_attempts",
                u64::from(self.messages.max_send_attempts),
            ),
            ("upstream.timeout_ms", self.upstream.timeout_ms),
            (
                "upstream.connect_timeout_ms",
                self.upstream.connect_timeout_ms,
            ),
            (
                "upstream.check_interval_secs",
                self.upstream.check_interval_secs,
            ),
            (
                "limits.events_per_minute",
                u64::from(self.limits.events_per_minute),
            ),
            (
                "limits.client_queue_packets",
                self.limits.client_queue_packets as u64,
            ),
            ("limits.max_connections", self.limits.max_connections as u64),
            (
                "limits.header_timeout_secs",
                self.limits.header_timeout_secs,
            ),
            (
                "journal.prune_interval_secs",
                self.journal.prune_interval_secs,
            ),
            (
                "storage.upload_retention_days",
                self.storage.upload_retention_days,
            ),
            ("webhooks.timeout_secs", self.webhooks.timeout_secs),
            ("webhooks.retry_initial_ms", self.webhooks.retry_initial_ms),
            (
                "webhooks.retry_window_secs",
                self.webhooks.retry_window_secs,
            ),
            ("webhooks.concurrency", self.webhooks.concurrency as u64),
            ("hooks.desktop.timeout_ms", self.hooks.desktop.timeout_ms),
        ] {
            if value == 0 {
                out.push(Problem::new(key, "must be at least 1, got 0"));
            }
        }
        for (key, value, unit_ms) in self.durations() {
            if value.saturating_mul(unit_ms) > LONGEST_DURATION_MS {
                out.push(Problem::new(
                    key,
                    format!("must be at most ten years, got {value}"),
                ));
            }
        }
        if self.reconnect.initial_ms > self.reconnect.max_ms {
            out.push(Problem {
                keys: vec!["reconnect.initial_ms".into(), "reconnect.max_ms".into()],
                message: format!(
                    "`reconnect.initial_ms`: {} must not exceed `reconnect.max_ms` ({})",
                    self.reconnect.initial_ms, self.reconnect.max_ms
                ),
            });
        }
        // Below this even a modest Socket.IO handshake or REST request would
        // be refused.
        if self.limits.max_message_bytes < 1024 {
            out.push(Problem::new(
                "limits.max_message_bytes",
                format!(
                    "must be at least 1024, got {}",
                    self.limits.max_message_bytes
                ),
            ));
        }

        // Below 1 KiB no page of messages or upstream delivery would fit.
        for (key, value) in [
            ("limits.max_reply_bytes", self.limits.max_reply_bytes),
            (
                "limits.max_upstream_body_bytes",
                self.limits.max_upstream_body_bytes,
            ),
        ] {
            if value < 1024 {
                out.push(Problem::new(
                    key,
                    format!("must be at least 1024, got {value}"),
                ));
            }
        }
        // A reply that fits its own budget must fit the queue it is written to.
        if self.limits.client_queue_bytes < self.limits.max_reply_bytes {
            out.push(Problem {
                keys: vec![
                    "limits.client_queue_bytes".into(),
                    "limits.max_reply_bytes".into(),
                ],
                message: format!(
                    "`limits.client_queue_bytes` ({}) must be at least `limits.max_reply_bytes` ({})",
                    self.limits.client_queue_bytes, self.limits.max_reply_bytes
                ),
            });
        }

        for (i, entry) in self.auth.api_keys.iter().enumerate() {
            entry.problems(&format!("auth.api_keys[{i}]"), &mut out);
        }
        if self.webhooks.retry_initial_ms > self.webhooks.retry_max_ms {
            out.push(Problem {
                keys: vec![
                    "webhooks.retry_initial_ms".into(),
                    "webhooks.retry_max_ms".into(),
                ],
                message: format!(
                    "`webhooks.retry_initial_ms`: {} must not exceed `webhooks.retry_max_ms` ({})",
                    self.webhooks.retry_initial_ms, self.webhooks.retry_max_ms
                ),
            });
        }
        let subscriptions = &self.webhooks.subscriptions;
        for (i, entry) in subscriptions.iter().enumerate() {
            let base = format!("webhooks.subscriptions[{i}]");
            entry.problems(&base, &mut out);
            if subscriptions[..i]
                .iter()
                .any(|other| other.name == entry.name)
            {
                out.push(Problem::new(
                    format!("{base}.name"),
                    format!(
                        "{:?} names another subscription too; names must be unique",
                        entry.name
                    ),
                ));
            }
        }
        self.hooks.problems(&mut out);
        if let Some(secret) = &self.auth.jwt_secret {
            // HS256 is only as strong as its key; RFC 7518 asks for at least
            // the hash size, 256 bits.
            if secret.len() < 32 {
                out.push(Problem::new(
                    "auth.jwt_secret",
                    format!(
                        "must be at least 32 bytes, got {}; remove it to have one generated",
                        secret.len()
                    ),
                ));
            }
        }
        if let Some(why) = log_level_problem(&self.log.level) {
            out.push(Problem::new(
                "log.level",
                format!("{:?} {why}", self.log.level),
            ));
        }

        out
    }
}

/// Why `level` is not a log filter the daemon accepts, if it is not. `EnvFilter` reads a
/// bare word as a target to log everything of (`verbose` logs only a target named
/// `verbose`: nothing at all), so a directive without `=` must be a level; a target is
/// written `target=level`.
fn log_level_problem(level: &str) -> Option<String> {
    if let Err(error) = tracing_subscriber::EnvFilter::try_new(level) {
        return Some(format!("is not a log filter: {error}"));
    }
    let bare_word = level.split(',').map(str::trim).find(|directive| {
        !directive.is_empty()
            && !directive.contains(['=', '['])
            && directive
                .parse::<tracing::level_filters::LevelFilter>()
                .is_err()
    })?;
    Some(format!(
        "has {bare_word:?}, which is not a level (off, error, warn, info, debug, trace); \
         name a target with `target=level`"
    ))
}

impl ApiKeySetting {
    fn problems(&self, base: &str, out: &mut Vec<Problem>) {
        if self.name.trim().is_empty() {
            out.push(Problem::new(
                format!("{base}.name"),
                "must not be empty; it identifies the key in logs",
            ));
        }
        match (&self.key, &self.key_sha256) {
            (Some(_), Some(_)) => out.push(Problem::new(
                base,
                "set exactly one of `key` and `key_sha256`, not both",
            )),
            (None, None) => out.push(Problem::new(
                base,
                "set one of `key` (the key itself) or `key_sha256` (its SHA-256 digest in hex)",
            )),
            (Some(key), None) if key.is_empty() => {
                out.push(Problem::new(format!("{base}.key"), "must not be empty"));
            }
            (None, Some(digest)) if !is_sha256_hex(digest) => out.push(Problem::new(
                format!("{base}.key_sha256"),
                format!(
                    "must be a SHA-256 digest: 64 hexadecimal characters, got {} characters{}",
                    digest.chars().count(),
                    if digest.chars().all(|c| c.is_ascii_hexdigit()) {
                        ""
                    } else {
                        " including non-hex ones"
                    }
                ),
            )),
            _ => {}
        }
        if self.devices.is_empty() {
            out.push(Problem::new(
                format!("{base}.devices"),
                "must not be empty; use [\"*\"] for every device",
            ));
        }
        for (j, device) in self.devices.iter().enumerate() {
            if device.trim().is_empty() {
                out.push(Problem::new(
                    format!("{base}.devices[{j}]"),
                    "must not be empty",
                ));
            }
        }
        if self.scopes.is_empty() {
            out.push(Problem::new(
                format!("{base}.scopes"),
                format!(
                    "must not be empty, as such a key could do nothing; known scopes: {}",
                    KNOWN_SCOPES.join(", ")
                ),
            ));
        }
        for (j, scope) in self.scopes.iter().enumerate() {
            if !KNOWN_SCOPES.contains(&scope.as_str()) {
                out.push(Problem::new(
                    format!("{base}.scopes[{j}]"),
                    format!(
                        "unknown scope {scope:?}; known scopes: {}",
                        KNOWN_SCOPES.join(", ")
                    ),
                ));
            }
        }
    }
}

impl WebhookSubscriptionSetting {
    /// The entry's shape; what its address, events and secret mean is the webhook hook's to
    /// judge (see [`SectionCheck`]).
    fn problems(&self, base: &str, out: &mut Vec<Problem>) {
        if crate::model::DeviceId::parse(&self.name).is_err() {
            out.push(Problem::new(
                format!("{base}.name"),
                format!(
                    "{:?} must be 1 to 64 lowercase letters, digits, '-' or '_', starting with a letter or digit; it names the subscription's id",
                    self.name
                ),
            ));
        }
        if let Some(why) = url_problem(&self.url) {
            out.push(Problem::new(
                format!("{base}.url"),
                format!("{:?} {why}", self.url),
            ));
        }
        if let Err(why) = crate::model::check_selection(&self.devices) {
            out.push(Problem::new(format!("{base}.devices"), why));
        }
    }
}

impl HookSettings {
    /// The values' ranges; what the events, quiet hours and sound files mean is the hooks' to
    /// judge (see [`SectionCheck`]).
    fn problems(&self, out: &mut Vec<Problem>) {
        let volume = self.sound.volume;
        if !(0.0..=1.0).contains(&volume) {
            out.push(Problem::new(
                "hooks.sound.volume",
                format!("must be between 0.0 and 1.0, got {volume}"),
            ));
        }
    }
}

/// A validation problem and the keys it concerns, so that [`load`] can drop
/// problems about keys that already failed their type check.
pub struct Problem {
    keys: Vec<String>,
    message: String,
}

/// A component's check of the settings it reads. Config knows each section's shape; the hook
/// or connector that reads a section knows what its values mean (an address that must not be
/// private, an event name, a sound file that must play), so config reads none of their files
/// and imports none of their code. `app` passes every component's check to [`load`].
pub trait SectionCheck: Sync {
    fn problems(&self, settings: &Settings, out: &mut Vec<Problem>);
}

impl Problem {
    /// A problem with `key` (its full dotted path, e.g. `hooks.quiet_hours`).
    pub fn new(key: impl Into<String>, detail: impl fmt::Display) -> Self {
        let key = key.into();
        Self {
            message: format!("`{key}`: {detail}"),
            keys: vec![key],
        }
    }
}

fn is_sha256_hex(digest: &str) -> bool {
    digest.len() == 64 && digest.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Why `url` is not an absolute http(s) URL, if it is not.
fn url_problem(url: &str) -> Option<&'static str> {
    let Some(rest) = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
    else {
        return Some("must start with http:// or https://");
    };
    if url.chars().any(char::is_whitespace) {
        return Some("must not contain whitespace");
    }
    if rest
        .split(['/', '?', '#'])
        .next()
        .unwrap_or_default()
        .is_empty()
    {
        return Some("has no host");
    }
    None
}

/// Why `origin` is not something a browser would send in its `Origin`
/// header, if it is not. Matching is exact, so an entry that differs from
/// the browser's spelling (a trailing slash, a default port, uppercase)
/// would silently never match.
fn origin_problem(origin: &str) -> Option<&'static str> {
    if origin.contains('*') {
        return Some("is a wildcard, which is not supported; list each origin exactly");
    }
    let (rest, default_port) = if let Some(rest) = origin.strip_prefix("https://") {
        (rest, "443")
    } else if let Some(rest) = origin.strip_prefix("http://") {
        (rest, "80")
    } else {
        return Some("is not an origin: it must start with http:// or https://");
    };
    if rest.contains(['/', '?', '#']) {
        return Some(
            "is not an origin: it must not have a path or trailing slash (scheme://host[:port])",
        );
    }
    if rest.contains(|c: char| c.is_whitespace() || c == '@') {
        return Some("is not an origin (scheme://host[:port])");
    }
    if origin != origin.to_ascii_lowercase() {
        return Some("must be lowercase, as browsers send it");
    }
    let (host, port) = if let Some(bracketed) = rest.strip_prefix('[') {
        let Some((host, after)) = bracketed.split_once(']') else {
            return Some("is not an origin: unclosed '[' in the host");
        };
        match after.strip_prefix(':') {
            Some(port) => (host, Some(port)),
            None if after.is_empty() => (host, None),
            None => return Some("is not an origin (scheme://host[:port])"),
        }
    } else {
        match rest.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (rest, None),
        }
    };
    if host.is_empty() {
        return Some("is not an origin: it has no host");
    }
    if let Some(port) = port {
        if port.is_empty()
            || !port.bytes().all(|b| b.is_ascii_digit())
            || port.parse::<u16>().is_err()
        {
            return Some("is not an origin: the port must be a number from 0 to 65535");
        }
        if port == default_port {
            return Some("must leave out the scheme's default port, as browsers do");
        }
    }
    None
}

/// Whether one key path is, or lies inside, the other
/// (`auth.api_keys[0]` and `auth.api_keys[0].key_sha256`).
fn paths_overlap(a: &str, b: &str) -> bool {
    let (short, long) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    long.strip_prefix(short)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with(['.', '[']))
}

// ---------------------------------------------------------------------------
// Layers

/// One layer of settings, handed to the `config` crate for merging. Keys
/// are dotted paths; every value records where it came from.
#[derive(Debug, Clone, Default)]
struct Layer {
    values: Vec<(String, Value)>,
}

impl ::config::Source for Layer {
    fn clone_into_box(&self) -> Box<dyn ::config::Source + Send + Sync> {
        Box::new(self.clone())
    }

    fn collect(&self) -> Result<::config::Map<String, Value>, ::config::ConfigError> {
        Ok(self.values.iter().cloned().collect())
    }
}

/// Reads and parses a config file. `required` files (`--config`) must exist.
fn file_layer(path: &Path, required: bool, problems: &mut Vec<String>) -> Option<Layer> {
    let shown = path.display().to_string();
    match std::fs::read_to_string(path) {
        Ok(text) => toml_layer(&text, &shown, &format!("in {shown}"), problems),
        Err(err) if required && err.kind() == std::io::ErrorKind::NotFound => {
            problems.push(format!(
                "config file {shown} (given with --config) does not exist"
            ));
            None
        }
        Err(err) => {
            problems.push(format!("cannot read config file {shown}: {err}"));
            None
        }
    }
}

/// Parses TOML text into a layer; `name` names the text in a syntax error,
/// `origin` is attached to every value.
fn toml_layer(text: &str, name: &str, origin: &str, problems: &mut Vec<String>) -> Option<Layer> {
    let table: toml::Table = match toml::from_str(text) {
        Ok(table) => table,
        Err(err) => {
            let at = err
                .span()
                .map(|span| {
                    let before = &text[..span.start.min(text.len())];
                    let line = before.matches('\n').count() + 1;
                    let column = before
                        .rsplit('\n')
                        .next()
                        .unwrap_or_default()
                        .chars()
                        .count()
                        + 1;
                    format!(" at line {line}, column {column}")
                })
                .unwrap_or_default();
            let message = err.message().trim().replace('\n', "; ");
            problems.push(format!("{name}: invalid TOML{at}: {message}"));
            return None;
        }
    };
    let origin = origin.to_owned();
    let mut values = Vec::new();
    for (key, value) in table {
        // The config crate reads these keys as paths ("a.b", "a[0]"); a
        // quoted TOML key containing such characters must not be taken
        // apart, and cannot be a section name anyway.
        if key.is_empty()
            || !key
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            problems.push(format!("unknown key `{key}` ({origin})"));
            continue;
        }
        values.push((key, toml_to_value(value, &origin)));
    }
    Some(Layer { values })
}

fn toml_to_value(value: toml::Value, origin: &String) -> Value {
    let at = Some(origin);
    match value {
        toml::Value::String(s) => Value::new(at, s),
        toml::Value::Integer(i) => Value::new(at, i),
        toml::Value::Float(f) => Value::new(at, f),
        toml::Value::Boolean(b) => Value::new(at, b),
        toml::Value::Datetime(d) => Value::new(at, d.to_string()),
        toml::Value::Array(items) => Value::new(
            at,
            items
                .into_iter()
                .map(|item| toml_to_value(item, origin))
                .collect::<Vec<_>>(),
        ),
        toml::Value::Table(table) => Value::new(
            at,
            table
                .into_iter()
                .map(|(k, v)| (k, toml_to_value(v, origin)))
                .collect::<::config::Map<_, _>>(),
        ),
    }
}

/// The `DEVICEBRIDGE__SECTION__KEY` variables as a layer.
///
/// Text is converted according to the type of the key it sets: integers and
/// booleans are parsed when they parse (otherwise the text is kept and the
/// type check reports it), lists are split on commas, strings are taken
/// as they are. Unknown keys are reported here because the schema is needed
/// anyway to know the type.
fn env_layer(env: &[(String, String)], schema: &Json, problems: &mut Vec<String>) -> Layer {
    let mut vars: Vec<&(String, String)> = env
        .iter()
        .filter(|(name, _)| name.starts_with(ENV_PREFIX))
        .collect();
    vars.sort();

    let mut layer = Layer::default();
    for (name, raw) in vars {
        let segments: Vec<String> = name[ENV_PREFIX.len()..]
            .split(ENV_SEPARATOR)
            .map(str::to_ascii_lowercase)
            .collect();
        let path = segments.join(".");
        let origin = format!("from environment variable {name}");
        let at = Some(&origin);
        let in_map = segments.len() > 1
            && MAP_KEYS.contains(&segments[..segments.len() - 1].join(".").as_str());
        if in_map {
            // A user-chosen key of a map: its value is text.
            layer.values.push((path, Value::new(at, raw.as_str())));
            continue;
        }
        let found = segments
            .iter()
            .try_fold(schema, |node, segment| node.as_object()?.get(segment));
        let value = match found {
            None => {
                problems.push(format!("unknown key `{path}` ({origin})"));
                continue;
            }
            Some(Json::Object(_)) => {
                problems.push(format!(
                    "`{path}` is a section, not a value; set its keys one by one, \
                     like {name}{ENV_SEPARATOR}<KEY> ({origin})"
                ));
                continue;
            }
            Some(Json::Array(items)) if items.first().is_some_and(Json::is_object) => {
                let shortcut = if path == "auth.api_keys" {
                    format!(", or {ENV_API_KEY} for a single admin key")
                } else {
                    String::new()
                };
                problems.push(format!(
                    "`{path}` cannot be set from the environment; use a config file{shortcut} ({origin})"
                ));
                continue;
            }
            Some(Json::Array(_)) => Value::new(
                at,
                raw.split(',')
                    .map(str::trim)
                    .filter(|item| !item.is_empty())
                    .map(|item| Value::new(at, item))
                    .collect::<Vec<_>>(),
            ),
            Some(Json::Number(kind)) => {
                let text = raw.trim();
                if let Ok(n) = text.parse::<i64>() {
                    Value::new(at, n)
                } else if let Ok(n) = text.parse::<u64>() {
                    Value::new(at, n)
                } else if let Some(n) = text.parse::<f64>().ok().filter(|_| kind.is_f64()) {
                    Value::new(at, n)
                } else {
                    Value::new(at, raw.as_str())
                }
            }
            Some(Json::Bool(_)) => match raw.trim().to_ascii_lowercase().as_str() {
                "true" => Value::new(at, true),
                "false" => Value::new(at, false),
                _ => Value::new(at, raw.as_str()),
            },
            Some(_) => Value::new(at, raw.as_str()),
        };
        layer.values.push((path, value));
    }
    layer
}

/// The `DEVICEBRIDGE_API_KEY` shortcut, if set.
fn env_api_key(env: &[(String, String)], problems: &mut Vec<String>) -> Option<String> {
    let (_, raw) = env.iter().rev().find(|(name, _)| name == ENV_API_KEY)?;
    // Surrounding whitespace is never part of a key but easily slips in,
    // e.g. a newline from `$(cat keyfile)`.
    let key = raw.trim();
    if key.is_empty() {
        problems.push(format!("{ENV_API_KEY} is set but empty"));
        return None;
    }
    Some(key.to_owned())
}

/// The command-line flags as the top layer, as text so they go through the
/// same checks as every other layer.
fn cli_layer(overrides: &Overrides) -> Layer {
    let mut layer = Layer::default();
    let mut add = |key: &str, flag: &str, text: String| {
        let origin = format!("from command-line flag {flag}");
        layer
            .values
            .push((key.to_owned(), Value::new(Some(&origin), text)));
    };
    if let Some(bind) = overrides.bind {
        add("server.bind", "--bind", bind.to_string());
    }
    if let Some(dir) = &overrides.data_dir {
        add(
            "storage.data_dir",
            "--data-dir",
            dir.to_string_lossy().into_owned(),
        );
    }
    if let Some(dir) = &overrides.devices_dir {
        add(
            "devices.dir",
            "--devices-dir",
            dir.to_string_lossy().into_owned(),
        );
    }
    layer
}

// ---------------------------------------------------------------------------
// Checking the merged tree

/// The key structure and value kinds of [`Settings`], as JSON.
///
/// Serialized from a fully populated value so that optional fields (which
/// are left out when `None`) and the fields of an API key entry appear too.
/// Arrays hold one sample element describing their elements.
fn schema() -> Json {
    let mut sample = Settings::default();
    sample.auth.jwt_secret = Some(String::new());
    sample.auth.api_keys = vec![ApiKeySetting {
        key: Some(String::new()),
        key_sha256: Some(String::new()),
        ..ApiKeySetting::default()
    }];
    sample.webhooks.subscriptions = vec![WebhookSubscriptionSetting::default()];
    serde_json::to_value(sample).expect("plain data structs always serialize to JSON")
}

/// Deserializes one field on its own into its struct, so that a type error
/// is attributed to that field; the struct's other fields take defaults.
type Probe = fn(&str, &Json) -> Result<(), serde_json::Error>;

fn probe_field<T: DeserializeOwned>(field: &str, value: &Json) -> Result<(), serde_json::Error> {
    let mut object = JsonMap::new();
    object.insert(field.to_owned(), value.clone());
    serde_json::from_value::<T>(Json::Object(object)).map(drop)
}

/// The struct whose fields live in the table at `path`.
fn probe_for(path: &str) -> Option<Probe> {
    let probe: Probe = match path {
        "server" => probe_field::<ServerSettings>,
        "storage" => probe_field::<StorageSettings>,
        "devices" => probe_field::<DevicesSettings>,
        "auth" => probe_field::<AuthSettings>,
        "qr" => probe_field::<QrSettings>,
        "reconnect" => probe_field::<ReconnectSettings>,
        "messages" => probe_field::<MessageSettings>,
        "upstream" => probe_field::<UpstreamSettings>,
        "limits" => probe_field::<LimitSettings>,
        "journal" => probe_field::<JournalSettings>,
        "webhooks" => probe_field::<WebhookSettings>,
        "hooks" => probe_field::<HookSettings>,
        "hooks.sound" => probe_field::<SoundSettings>,
        "hooks.desktop" => probe_field::<DesktopSettings>,
        _ if path.starts_with("webhooks.subscriptions[") && path.ends_with(']') => {
            probe_field::<WebhookSubscriptionSetting>
        }
        "log" => probe_field::<LogSettings>,
        _ if path.starts_with("auth.api_keys[") && path.ends_with(']') => {
            probe_field::<ApiKeySetting>
        }
        _ => return None,
    };
    Some(probe)
}

/// Walks the merged tree against the schema, collecting problems and
/// building a JSON copy that leaves out unknown and ill-typed keys.
#[derive(Default)]
struct Checker {
    problems: Vec<String>,
    /// Paths of keys that failed, to silence validation of their defaults.
    failed: Vec<String>,
}

impl Checker {
    fn table(
        &mut self,
        path: &str,
        table: &::config::Map<String, Value>,
        schema: &JsonMap<String, Json>,
    ) -> JsonMap<String, Json> {
        let probe = probe_for(path);
        let mut keys: Vec<&String> = table.keys().collect();
        keys.sort();

        let mut out = JsonMap::new();
        for key in keys {
            let value = &table[key];
            let child = if path.is_empty() {
                key.clone()
            } else {
                format!("{path}.{key}")
            };
            let Some(field_schema) = schema.get(key) else {
                self.problems
                    .push(format!("unknown key `{child}`{}", origin(value)));
                continue;
            };
            let Some(json) = self.value(&child, value, field_schema) else {
                continue;
            };
            // Tables and lists of tables were checked field by field inside.
            let nested = field_schema.is_object()
                || field_schema
                    .as_array()
                    .and_then(|items| items.first())
                    .is_some_and(Json::is_object);
            if let Some(probe) = probe.filter(|_| !nested) {
                if let Err(err) = probe(key, &json) {
                    self.invalid(&child, value, &err.to_string());
                    continue;
                }
            }
            out.insert(key.clone(), json);
        }
        out
    }

    fn value(&mut self, path: &str, value: &Value, schema: &Json) -> Option<Json> {
        if let (true, ValueKind::Table(table)) = (MAP_KEYS.contains(&path), &value.kind) {
            return Some(Json::Object(self.map_of_strings(path, table)));
        }
        match (schema, &value.kind) {
            (Json::Object(schema), ValueKind::Table(table)) => {
                Some(Json::Object(self.table(path, table, schema)))
            }
            (Json::Array(sample), ValueKind::Array(items)) => {
                let Some(element) = sample.first() else {
                    return Some(to_json(value));
                };
                let mut out = Vec::with_capacity(items.len());
                let mut ok = true;
                for (i, item) in items.iter().enumerate() {
                    match self.value(&format!("{path}[{i}]"), item, element) {
                        Some(json) => out.push(json),
                        // Keep the indices of later entries stable for
                        // validation messages; this entry's own problems are
                        // already reported.
                        None if element.is_object() => out.push(Json::Object(JsonMap::new())),
                        None => ok = false,
                    }
                }
                ok.then_some(Json::Array(out))
            }
            _ if same_kind(schema, value) => Some(to_json(value)),
            _ => {
                self.problems.push(format!(
                    "`{path}`: expected {}, got {}{}",
                    describe_schema(schema),
                    describe(value),
                    origin(value)
                ));
                self.failed.push(path.to_owned());
                None
            }
        }
    }

    /// A table whose keys are chosen by the user (`hooks.sound.events`): every value must be a
    /// string.
    fn map_of_strings(
        &mut self,
        path: &str,
        table: &::config::Map<String, Value>,
    ) -> JsonMap<String, Json> {
        let mut out = JsonMap::new();
        for (key, entry) in table {
            match &entry.kind {
                ValueKind::String(text) => {
                    out.insert(key.clone(), Json::String(text.clone()));
                }
                _ => {
                    let child = format!("{path}.{key}");
                    self.problems.push(format!(
                        "`{child}`: expected a string, got {}{}",
                        describe(entry),
                        origin(entry)
                    ));
                    self.failed.push(child);
                }
            }
        }
        out
    }

    /// Records a value of the right kind that still does not deserialize
    /// (out of range, not an address, not one of the allowed words).
    fn invalid(&mut self, path: &str, value: &Value, detail: &str) {
        let detail = match &value.kind {
            ValueKind::I64(n) if *n < 0 => format!("expected a non-negative integer, got {n}"),
            ValueKind::I64(_) | ValueKind::U64(_) | ValueKind::I128(_) | ValueKind::U128(_) => {
                format!("integer {} is too large", to_json(value))
            }
            ValueKind::String(s) => {
                let mut detail = detail.to_owned();
                if !detail.contains(s.as_str()) {
                    detail.push_str(&format!(", got {s:?}"));
                }
                if path == "server.bind" {
                    detail.push_str(" (expected IP:port, e.g. 127.0.0.1:3000)");
                }
                detail
            }
            _ => detail.to_owned(),
        };
        self.problems
            .push(format!("`{path}`: {detail}{}", origin(value)));
        self.failed.push(path.to_owned());
    }
}

/// Where a value came from, as a message suffix.
fn origin(value: &Value) -> String {
    find_origin(value)
        .map(|o| format!(" ({o})"))
        .unwrap_or_default()
}

/// Merging rebuilds tables without an origin (a table may gather keys from
/// several layers), so for a table the origin of its first value is used.
fn find_origin(value: &Value) -> Option<&str> {
    value.origin().or_else(|| match &value.kind {
        ValueKind::Table(table) => {
            let mut keys: Vec<&String> = table.keys().collect();
            keys.sort();
            keys.into_iter().find_map(|key| find_origin(&table[key]))
        }
        ValueKind::Array(items) => items.iter().find_map(find_origin),
        _ => None,
    })
}

fn same_kind(schema: &Json, value: &Value) -> bool {
    matches!(
        (schema, &value.kind),
        (Json::Null, _)
            | (Json::Bool(_), ValueKind::Boolean(_))
            | (Json::String(_), ValueKind::String(_))
            | (
                Json::Number(_),
                ValueKind::I64(_) | ValueKind::U64(_) | ValueKind::I128(_) | ValueKind::U128(_),
            )
    ) || matches!((schema, &value.kind), (Json::Number(n), ValueKind::Float(_)) if n.is_f64())
}

fn describe_schema(schema: &Json) -> &'static str {
    match schema {
        Json::Null => "a value",
        Json::Bool(_) => "a boolean",
        Json::Number(n) if n.is_f64() => "a number",
        Json::Number(_) => "an integer",
        Json::String(_) => "a string",
        Json::Array(_) => "a list",
        Json::Object(_) => "a table",
    }
}

fn describe(value: &Value) -> String {
    match &value.kind {
        ValueKind::Nil => "no value".to_owned(),
        ValueKind::Boolean(b) => format!("a boolean {b}"),
        ValueKind::I64(_) | ValueKind::U64(_) | ValueKind::I128(_) | ValueKind::U128(_) => {
            format!("an integer {}", to_json(value))
        }
        ValueKind::Float(f) => format!("a float {f}"),
        ValueKind::String(s) => format!("a string {s:?}"),
        ValueKind::Table(_) => "a table".to_owned(),
        ValueKind::Array(_) => "a list".to_owned(),
    }
}

fn to_json(value: &Value) -> Json {
    match &value.kind {
        ValueKind::Nil => Json::Null,
        ValueKind::Boolean(b) => Json::Bool(*b),
        ValueKind::I64(n) => Json::from(*n),
        ValueKind::U64(n) => Json::from(*n),
        ValueKind::I128(n) => i64::try_from(*n)
            .map(Json::from)
            .or_else(|_| u64::try_from(*n).map(Json::from))
            .unwrap_or_else(|_| Json::String(n.to_string())),
        ValueKind::U128(n) => u64::try_from(*n)
            .map(Json::from)
            .unwrap_or_else(|_| Json::String(n.to_string())),
        ValueKind::Float(f) => serde_json::Number::from_f64(*f).map_or(Json::Null, Json::Number),
        ValueKind::String(s) => Json::String(s.clone()),
        ValueKind::Table(table) => {
            Json::Object(table.iter().map(|(k, v)| (k.clone(), to_json(v))).collect())
        }
        ValueKind::Array(items) => Json::Array(items.iter().map(to_json).collect()),
    }
}

#[cfg(test)]
mod fuzz;

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use tempfile::TempDir;

    fn env(vars: &[(&str, &str)]) -> Sources {
        Sources {
            local_file: None,
            env: vars
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        }
    }

    fn write(dir: &TempDir, name: &str, text: &str) -> PathBuf {
        let path = dir.path().join(name);
        fs::write(&path, text).unwrap();
        path
    }

    /// Loads with config's own checks only; the hooks' are theirs to test.
    fn load(sources: &Sources, overrides: &Overrides) -> Result<Settings, ConfigErrors> {
        super::load(sources, overrides, &[])
    }

    fn with_file(path: PathBuf) -> Overrides {
        Overrides {
            config_file: Some(path),
            ..Overrides::default()
        }
    }

    fn errors(result: Result<Settings, ConfigErrors>) -> Vec<String> {
        match result {
            Ok(settings) => panic!("expected errors, got {settings:?}"),
            Err(ConfigErrors(problems)) => problems,
        }
    }

    #[test]
    fn default_toml_parses_to_exactly_the_defaults() {
        let parsed: Settings = toml::from_str(DEFAULT_TOML).unwrap();
        assert_eq!(parsed, Settings::default());
        assert_eq!(
            load(&Sources::default(), &Overrides::default()).unwrap(),
            Settings::default()
        );
        Settings::default().validate().unwrap();
    }

    #[test]
    fn default_toml_documents_every_key() {
        let lines: Vec<&str> = DEFAULT_TOML.lines().map(str::trim).collect();
        for (i, line) in lines.iter().enumerate() {
            let is_setting = !line.is_empty() && !line.starts_with('#') && !line.starts_with('[');
            if is_setting {
                assert!(
                    i > 0 && lines[i - 1].starts_with('#'),
                    "no comment above `{line}`"
                );
            }
        }
        assert!(lines.contains(&"api_keys = []"));
        assert!(lines.iter().any(|l| l.starts_with("# jwt_secret =")));
        assert!(!lines.iter().any(|l| l.starts_with("jwt_secret")));
    }

    #[test]
    fn local_file_overrides_defaults_and_is_optional() {
        let dir = TempDir::new().unwrap();
        let mut sources = Sources {
            local_file: Some(dir.path().join("local.toml")),
            env: Vec::new(),
        };
        // Missing: silently skipped.
        assert_eq!(
            load(&sources, &Overrides::default()).unwrap(),
            Settings::default()
        );

        let path = write(&dir, "local.toml", "[qr]\nttl_secs = 30\n");
        sources.local_file = Some(path);
        let settings = load(&sources, &Overrides::default()).unwrap();
        assert_eq!(settings.qr.ttl_secs, 30);
        assert_eq!(settings.qr.first_ttl_secs, 60, "other keys keep defaults");
    }

    #[test]
    fn config_file_overrides_local_file() {
        let dir = TempDir::new().unwrap();
        let local = write(
            &dir,
            "local.toml",
            "[qr]\nttl_secs = 30\nmax_attempts = 9\n[server]\ncors_origins = [\"http://a.test\", \"http://b.test\"]\n",
        );
        let file = write(
            &dir,
            "x.toml",
            "[qr]\nttl_secs = 40\n[server]\ncors_origins = [\"https://c.test\"]\n",
        );
        let sources = Sources {
            local_file: Some(local),
            env: Vec::new(),
        };
        let settings = load(&sources, &with_file(file)).unwrap();
        assert_eq!(settings.qr.ttl_secs, 40);
        assert_eq!(
            settings.qr.max_attempts, 9,
            "local value kept when not overridden"
        );
        assert_eq!(
            settings.server.cors_origins,
            ["https://c.test"],
            "lists are replaced, not merged"
        );
    }

    #[test]
    fn missing_config_file_is_an_error_naming_it() {
        let dir = TempDir::new().unwrap();
        let path = dir.path().join("nope.toml");
        let problems = errors(load(&Sources::default(), &with_file(path.clone())));
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].contains(&path.display().to_string()));
        assert!(problems[0].contains("does not exist"));
    }

    #[test]
    fn env_overrides_config_file_and_parses_values() {
        let dir = TempDir::new().unwrap();
        let file = write(
            &dir,
            "x.toml",
            "[server]\nbind = \"127.0.0.1:4000\"\n[qr]\nttl_secs = 40\n",
        );
        let sources = env(&[
            ("DEVICEBRIDGE__SERVER__BIND", "0.0.0.0:8080"),
            ("DEVICEBRIDGE__QR__TTL_SECS", "45"),
            ("DEVICEBRIDGE__LIMITS__MAX_MESSAGE_BYTES", " 2048 "),
            ("DEVICEBRIDGE__STORAGE__SYNCHRONOUS", "normal"),
            ("DEVICEBRIDGE__LOG__FORMAT", "json"),
            (
                "DEVICEBRIDGE__SERVER__CORS_ORIGINS",
                "https://a.test, https://b.test:8443",
            ),
            // Numeric-looking text stays a string for string keys.
            (
                "DEVICEBRIDGE__AUTH__JWT_SECRET",
                "12345678901234567890123456789012345678901234567890",
            ),
            ("UNRELATED", "ignored"),
        ]);
        let settings = load(&sources, &with_file(file)).unwrap();
        assert_eq!(settings.server.bind, "0.0.0.0:8080".parse().unwrap());
        assert_eq!(settings.qr.ttl_secs, 45);
        assert_eq!(settings.limits.max_message_bytes, 2048);
        assert_eq!(settings.storage.synchronous, Synchronous::Normal);
        assert_eq!(settings.log.format, LogFormat::Json);
        assert_eq!(
            settings.server.cors_origins,
            ["https://a.test", "https://b.test:8443"]
        );
        assert_eq!(
            settings.auth.jwt_secret.as_deref(),
            Some("12345678901234567890123456789012345678901234567890")
        );
    }

    #[test]
    fn env_lists_are_comma_separated() {
        let mut problems = Vec::new();
        let layer = env_layer(
            &[("DEVICEBRIDGE__SERVER__CORS_ORIGINS".into(), "a,b".into())],
            &schema(),
            &mut problems,
        );
        assert!(problems.is_empty(), "{problems:?}");
        let [(key, value)] = layer.values.as_slice() else {
            panic!("expected one value: {:?}", layer.values)
        };
        assert_eq!(key, "server.cors_origins");
        assert_eq!(to_json(value), serde_json::json!(["a", "b"]));
        assert_eq!(
            value.origin(),
            Some("from environment variable DEVICEBRIDGE__SERVER__CORS_ORIGINS")
        );
    }

    #[test]
    fn env_problems_name_key_and_variable() {
        let problems = errors(load(
            &env(&[
                ("DEVICEBRIDGE__QR__TTL_SECS", "soon"),
                ("DEVICEBRIDGE__SERVER__BND", "0.0.0.0:1"),
                ("DEVICEBRIDGE__AUTH__API_KEYS", "x"),
                ("DEVICEBRIDGE__LOG", "debug"),
            ]),
            &Overrides::default(),
        ));
        assert_eq!(problems.len(), 4, "{problems:#?}");
        let has = |needle: &str| problems.iter().any(|p| p.contains(needle));
        assert!(has(
            "unknown key `server.bnd` (from environment variable DEVICEBRIDGE__SERVER__BND)"
        ));
        assert!(has(
            "`qr.ttl_secs`: expected an integer, got a string \"soon\" (from environment variable DEVICEBRIDGE__QR__TTL_SECS)"
        ));
        assert!(has("`auth.api_keys` cannot be set from the environment"));
        assert!(has("`log` is a section"));
    }

    #[test]
    fn cli_flags_override_env() {
        let dir = TempDir::new().unwrap();
        let file = write(&dir, "x.toml", "[storage]\ndata_dir = \"/from/file\"\n");
        let sources = env(&[
            ("DEVICEBRIDGE__SERVER__BIND", "0.0.0.0:8080"),
            ("DEVICEBRIDGE__STORAGE__DATA_DIR", "/from/env"),
            ("DEVICEBRIDGE__DEVICES__DIR", "/devices/env"),
        ]);
        let overrides = Overrides {
            config_file: Some(file),
            bind: Some("127.0.0.1:0".parse().unwrap()),
            data_dir: Some(PathBuf::from("/from/cli")),
            devices_dir: Some(PathBuf::from("/devices/cli")),
        };
        let settings = load(&sources, &overrides).unwrap();
        assert_eq!(settings.server.bind, "127.0.0.1:0".parse().unwrap());
        assert_eq!(settings.storage.data_dir, Path::new("/from/cli"));
        assert_eq!(settings.devices.dir, Path::new("/devices/cli"));
        assert_eq!(
            settings.storage.database_path(),
            Path::new("/from/cli/devicebridge.db")
        );
    }

    #[test]
    fn env_api_key_adds_an_admin_key() {
        let dir = TempDir::new().unwrap();
        let file = write(
            &dir,
            "x.toml",
            "[auth]\napi_keys = [{ name = \"ops\", key = \"k1\", scopes = [\"read\"] }]\n",
        );
        let sources = env(&[("DEVICEBRIDGE_API_KEY", "s3cret\n")]);
        let settings = load(&sources, &with_file(file)).unwrap();
        assert_eq!(settings.auth.api_keys.len(), 2);
        assert_eq!(settings.auth.api_keys[0].name, "ops");
        assert_eq!(
            settings.auth.api_keys[1],
            ApiKeySetting {
                name: "env".into(),
                key: Some("s3cret".into()),
                key_sha256: None,
                devices: vec!["*".into()],
                scopes: vec!["admin".into()],
            }
        );

        let problems = errors(load(
            &env(&[("DEVICEBRIDGE_API_KEY", " ")]),
            &Overrides::default(),
        ));
        assert_eq!(problems, ["DEVICEBRIDGE_API_KEY is set but empty"]);
    }

    #[test]
    fn all_problems_in_a_file_are_reported_together() {
        let dir = TempDir::new().unwrap();
        let file = write(
            &dir,
            "x.toml",
            "[server]\nbnd = \"0.0.0.0:80\"\n[qr]\nttl_secs = \"20\"\n[metrics]\nenabled = true\n",
        );
        let shown = file.display().to_string();
        let err = load(&Sources::default(), &with_file(file)).unwrap_err();
        assert_eq!(err.0.len(), 3, "{err}");
        for expected in [
            format!("unknown key `server.bnd` (in {shown})"),
            format!("unknown key `metrics` (in {shown})"),
            format!("`qr.ttl_secs`: expected an integer, got a string \"20\" (in {shown})"),
        ] {
            assert!(err.0.contains(&expected), "no {expected:?} in {err:#?}");
        }
        assert_eq!(err.to_string().lines().count(), 3, "one problem per line");
    }

    #[test]
    fn problems_from_several_layers_are_reported_together() {
        let dir = TempDir::new().unwrap();
        let local = write(&dir, "local.toml", "[qr\nttl_secs = 1\n");
        let sources = Sources {
            local_file: Some(local.clone()),
            env: vec![("DEVICEBRIDGE__QR__TTLSECS".into(), "1".into())],
        };
        let problems = errors(load(&sources, &with_file(dir.path().join("missing.toml"))));
        assert_eq!(problems.len(), 3, "{problems:#?}");
        assert!(problems[0].starts_with(&format!("{}: invalid TOML at line 1", local.display())));
        assert!(problems[1].contains("missing.toml (given with --config) does not exist"));
        assert!(problems[2].contains("unknown key `qr.ttlsecs`"));
    }

    #[test]
    fn value_errors_name_the_key() {
        let dir = TempDir::new().unwrap();
        let file = write(
            &dir,
            "x.toml",
            r#"
[server]
bind = "localhost:3000"
cors_origins = ["http://a.test", 5]
[qr]
max_attempts = -1
first_ttl_secs = 1.5
[limits]
events_per_minute = 99999999999
[log]
format = "xml"
[auth]
jwt_secret = "0123456789abcdef0123456789abcdef"
"#,
        );
        let problems = errors(load(&Sources::default(), &with_file(file)));
        assert_eq!(problems.len(), 6, "{problems:#?}");
        let has = |needle: &str| problems.iter().any(|p| p.contains(needle));
        assert!(has("`server.bind`: invalid socket address syntax"));
        assert!(has(
            "`server.cors_origins[1]`: expected a string, got an integer 5"
        ));
        assert!(has(
            "`qr.max_attempts`: expected a non-negative integer, got -1"
        ));
        assert!(has(
            "`qr.first_ttl_secs`: expected an integer, got a float 1.5"
        ));
        assert!(has(
            "`limits.events_per_minute`: integer 99999999999 is too large"
        ));
        assert!(has(
            "`log.format`: unknown variant `xml`, expected `human` or `json`"
        ));
    }

    /// Every table of settings has its probe, so a value that fails only when read into its
    /// field's type (a number too large, an unknown variant) is named by its key.
    #[test]
    fn every_table_is_probed_field_by_field() {
        fn tables(path: &str, value: &Json, found: &mut Vec<String>) {
            let Json::Object(fields) = value else { return };
            if !path.is_empty() {
                found.push(path.to_owned());
            }
            for (key, child) in fields {
                let child_path = match path {
                    "" => key.clone(),
                    _ => format!("{path}.{key}"),
                };
                tables(&child_path, child, found);
            }
        }
        let mut found = Vec::new();
        tables(
            "",
            &serde_json::to_value(Settings::default()).unwrap(),
            &mut found,
        );
        // Tables whose keys the user chooses are checked value by value instead.
        let unprobed: Vec<&String> = found
            .iter()
            .filter(|path| !MAP_KEYS.contains(&path.as_str()) && probe_for(path).is_none())
            .collect();
        assert!(unprobed.is_empty(), "{unprobed:?}");
    }

    #[test]
    fn api_key_entries_are_checked_field_by_field() {
        let dir = TempDir::new().unwrap();
        let file = write(
            &dir,
            "x.toml",
            r#"
[[auth.api_keys]]
name = "a"
key = "k"
scope = ["read"]

[[auth.api_keys]]
name = "b"
key_sha256 = 42

[[auth.api_keys]]
name = "c"
key_sha256 = "abc"
scopes = ["read", "write"]
devices = []
"#,
        );
        let problems = errors(load(&Sources::default(), &with_file(file)));
        assert_eq!(problems.len(), 5, "{problems:#?}");
        let has = |needle: &str| problems.iter().any(|p| p.contains(needle));
        assert!(has("unknown key `auth.api_keys[0].scope`"));
        // Only the type error: the entry is not also reported as lacking a key.
        assert!(has(
            "`auth.api_keys[1].key_sha256`: expected a string, got an integer 42"
        ));
        assert!(has(
            "`auth.api_keys[2].key_sha256`: must be a SHA-256 digest"
        ));
        assert!(has("`auth.api_keys[2].scopes[1]`: unknown scope \"write\""));
        assert!(has("`auth.api_keys[2].devices`: must not be empty"));
    }

    #[test]
    fn ill_typed_keys_are_not_validated_again() {
        let dir = TempDir::new().unwrap();
        let file = write(
            &dir,
            "x.toml",
            "[reconnect]\ninitial_ms = 120000\nmax_ms = \"a minute\"\n",
        );
        let problems = errors(load(&Sources::default(), &with_file(file)));
        assert_eq!(problems.len(), 1, "{problems:#?}");
        assert!(problems[0].starts_with("`reconnect.max_ms`: expected an integer"));
    }

    #[test]
    fn invalid_toml_names_the_file_and_position() {
        let dir = TempDir::new().unwrap();
        let file = write(&dir, "x.toml", "[server]\nbind = \n");
        let problems = errors(load(&Sources::default(), &with_file(file.clone())));
        assert_eq!(problems.len(), 1, "{problems:#?}");
        assert!(
            problems[0].starts_with(&format!(
                "{}: invalid TOML at line 2, column 8",
                file.display()
            )),
            "{problems:#?}"
        );
        assert!(!problems[0].contains('\n'));

        // A quoted dotted key is one (unknown) key, not a path.
        let file = write(&dir, "y.toml", "\"server.bind\" = \"0.0.0.0:1\"\n");
        let problems = errors(load(&Sources::default(), &with_file(file)));
        assert_eq!(problems.len(), 1, "{problems:#?}");
        assert!(problems[0].starts_with("unknown key `server.bind`"));
    }

    #[test]
    fn validate_catches_bad_values() {
        let mut s = Settings::default();
        s.server.socket_path = "ws".into();
        s.server.public_url = "localhost:3000".into();
        s.server.cors_origins = vec![
            "http://localhost:4000".into(),
            "http://localhost:4000/".into(),
            "*".into(),
            "https://App.example".into(),
            "https://app.example:443".into(),
            "app.example".into(),
            "http://[::1]:4000".into(),
        ];
        s.storage.data_dir = PathBuf::new();
        s.qr.ttl_secs = 0;
        s.reconnect.initial_ms = 5000;
        s.reconnect.max_ms = 1000;
        s.messages.max_send_attempts = 0;
        s.upstream.timeout_ms = 0;
        s.limits.max_message_bytes = 512;
        s.auth.jwt_secret = Some("short".into());
        s.log.level = "warn,verbose".into();
        s.auth.api_keys = vec![
            ApiKeySetting {
                name: "both".into(),
                key: Some("k".into()),
                key_sha256: Some("a".repeat(64)),
                ..ApiKeySetting::default()
            },
            ApiKeySetting {
                name: String::new(),
                ..ApiKeySetting::default()
            },
            ApiKeySetting {
                name: "hashed".into(),
                key_sha256: Some("A".repeat(64)),
                devices: vec!["dev-1".into()],
                scopes: vec!["read".into(), "send".into(), "control".into()],
                ..ApiKeySetting::default()
            },
        ];
        let problems = s.validate().unwrap_err().0;
        let expected_keys = [
            "`server.socket_path`",
            "`server.public_url`",
            "`server.cors_origins[1]`",
            "`server.cors_origins[2]`",
            "`server.cors_origins[3]`",
            "`server.cors_origins[4]`",
            "`server.cors_origins[5]`",
            "`storage.data_dir`",
            "`qr.ttl_secs`",
            "`messages.max_send_attempts`",
            "`upstream.timeout_ms`",
            "`reconnect.initial_ms`",
            "`limits.max_message_bytes`",
            "`auth.api_keys[0]`",
            "`auth.api_keys[1].name`",
            "`auth.api_keys[1]`",
            "`auth.jwt_secret`",
            "`log.level`",
        ];
        assert_eq!(problems.len(), expected_keys.len(), "{problems:#?}");
        for key in expected_keys {
            assert!(
                problems.iter().any(|p| p.starts_with(&format!("{key}:"))),
                "no problem for {key}: {problems:#?}"
            );
        }
    }

    #[test]
    fn a_log_level_is_a_level_or_target_directives() {
        for good in [
            "info",
            "WARN",
            "warn,devicebridge=debug",
            "devicebridge::store=trace",
        ] {
            assert_eq!(log_level_problem(good), None, "{good}");
        }
        for bad in ["verbose", "info,loud", "devicebridge=loud"] {
            assert!(log_level_problem(bad).is_some(), "{bad}");
        }
    }

    #[test]
    fn durations_past_ten_years_are_refused_naming_their_key() {
        let mut s = Settings::default();
        s.journal.retention_secs = i64::MAX as u64;
        s.storage.upload_retention_days = 3_651;
        s.webhooks.retry_max_ms = u64::MAX;
        let problems = s.validate().unwrap_err().0;
        assert_eq!(problems.len(), 3, "{problems:#?}");
        for key in [
            "journal.retention_secs",
            "storage.upload_retention_days",
            "webhooks.retry_max_ms",
        ] {
            assert!(
                problems
                    .iter()
                    .any(|p| p.starts_with(&format!("`{key}`: must be at most ten years"))),
                "no problem for {key}: {problems:#?}"
            );
        }
        let mut s = Settings::default();
        s.storage.upload_retention_days = 3_650;
        s.validate().expect("ten years is allowed");
    }

    #[test]
    fn a_configured_webhook_on_a_private_address_is_refused_unless_allowed() {
        let subscription = |url: &str| WebhookSubscriptionSetting {
            name: "crm".into(),
            url: url.into(),
            secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".into(),
            ..WebhookSubscriptionSetting::default()
        };
        let mut settings = Settings::default();
        settings.webhooks.subscriptions = vec![
            subscription("http://127.0.0.1:9000/hook"),
            subscription("https://[fd00::1]/hook"),
            subscription("https://203.0.113.7/hook"),
            subscription("https://crm.example/hook"),
        ];
        settings.webhooks.subscriptions[1].name = "lan".into();
        settings.webhooks.subscriptions[2].name = "docs".into();
        settings.webhooks.subscriptions[3].name = "named".into();
        let problems: Vec<String> = settings.problems().into_iter().map(|p| p.message).collect();
        let refused: Vec<&str> = problems
            .iter()
            .filter_map(|p| {
                p.strip_suffix("(set webhooks.allow_private = true to allow private ones)")
            })
            .filter_map(|p| p.split(':').next())
            .collect();
        assert_eq!(
            refused,
            [
                "`webhooks.subscriptions[0].url`",
                "`webhooks.subscriptions[1].url`",
                "`webhooks.subscriptions[2].url`"
            ],
            "{problems:#?}"
        );
        settings.webhooks.allow_private = true;
        settings
            .validate()
            .expect("private addresses are allowed now");
    }

    #[test]
    fn sound_events_are_a_map_and_the_volume_a_number() {
        let dir = TempDir::new().unwrap();
        let file = write(
            &dir,
            "x.toml",
            "[hooks.sound]\nvolume = 1\n[hooks.sound.events]\n\"failed\" = \"alert.wav\"\n\"qr\" = \"\"\n",
        );
        let sources = env(&[
            (
                "DEVICEBRIDGE__HOOKS__SOUND__EVENTS__LOGGED_OUT",
                "alert.wav",
            ),
            ("DEVICEBRIDGE__HOOKS__SOUND__VOLUME", "0.25"),
        ]);
        let settings = load(&sources, &with_file(file)).unwrap();
        assert_eq!(settings.hooks.sound.volume, 0.25);
        let events: Vec<(&str, &str)> = settings
            .hooks
            .sound
            .events
            .iter()
            .map(|(event, file)| (event.as_str(), file.as_str()))
            .collect();
        assert_eq!(
            events,
            [
                ("disconnected", "alert.wav"),
                ("failed", "alert.wav"),
                ("logged_out", "alert.wav"),
                ("message", "message.wav"),
                ("qr", "")
            ]
        );

        let file = write(
            &dir,
            "y.toml",
            "[hooks.sound]\nvolume = \"loud\"\n[hooks.sound.events]\nqr = 3\n",
        );
        let problems = errors(load(&Sources::default(), &with_file(file)));
        assert_eq!(problems.len(), 2, "{problems:#?}");
        assert!(
            problems[0].starts_with("`hooks.sound.events.qr`: expected a string, got an integer 3")
        );
        assert!(problems[1].starts_with("`hooks.sound.volume`: expected a number, got a string"));
    }

    #[test]
    fn settings_round_trip_through_toml() {
        let mut s = Settings::default();
        s.auth.api_keys.push(ApiKeySetting {
            name: "x".into(),
            key: Some("k".into()),
            ..ApiKeySetting::default()
        });
        let text = toml::to_string(&s).unwrap();
        assert_eq!(toml::from_str::<Settings>(&text).unwrap(), s);
    }

    #[test]
    fn paths_overlap_respects_segment_boundaries() {
        assert!(paths_overlap("auth.api_keys[0]", "auth.api_keys[0].key"));
        assert!(paths_overlap(
            "server.cors_origins[1]",
            "server.cors_origins"
        ));
        assert!(paths_overlap("qr.ttl_secs", "qr.ttl_secs"));
        assert!(!paths_overlap("qr.ttl_secs", "qr.ttl_secs_extra"));
        assert!(!paths_overlap("auth.api_keys[1]", "auth.api_keys[10]"));
    }
}
