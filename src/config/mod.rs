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
//! known keys are exactly the fields of the section structs and cannot drift
//! from them. Each field is then deserialized on its own into its section
//! struct, which attributes every type error to its key instead of stopping
//! at the first. Finally [`Settings::validate`] checks values that are
//! well-typed but unusable.
//!
//! Here: [`Settings`], the constants the layers share, and the sections' modules, each named
//! for what its sections set: `server` (the listener, profiles, limits), `storage` (the
//! database and the journal), `cluster`, `devices` (definitions, pairing, reconnection,
//! sending, upstreams), `watchdog` (stalled sessions, flapping connections), `auth`, `hooks` (webhooks, sounds, desktop notifications), `sinks` (event sinks) and `log`.
//! Reading the layers is in `load` and `typecheck`, judging values in `check`.

mod auth;
mod check;
mod cluster;
mod devices;
#[cfg(test)]
mod fuzz;
mod hooks;
mod load;
mod log;
mod server;
mod sinks;
mod storage;
#[cfg(test)]
mod tests;
mod typecheck;
mod watchdog;

use serde::{Deserialize, Serialize};

use crate::model::governor::GovernorChanges;
use auth::KNOWN_SCOPES;
pub use auth::{ApiKeySetting, AuthSettings};
pub use check::{Problem, SectionCheck};
pub use cluster::ClusterSettings;
pub use devices::{
    DevicesSettings, MessageSettings, QrSettings, ReconnectSettings, Timeouts, UpstreamSettings,
};
pub use hooks::{
    DesktopSettings, HookSettings, SoundSettings, WebhookSettings, WebhookSubscriptionSetting,
};
pub use load::{load, ConfigErrors, Overrides, Sources};
pub use log::{LogFormat, LogSettings};
pub use server::{LimitSettings, ProfilesSettings, ServerSettings};
pub use sinks::SinkSetting;
pub use storage::{JournalSettings, StorageSettings, Synchronous, POSTGRES_SCHEMES};
pub use watchdog::WatchdogSettings;

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
    pub watchdog: WatchdogSettings,
    /// The send governor's limits over SPEC §12's defaults, for every device; a device file's
    /// `[governor]` and an admin's changes go over these.
    pub governor: GovernorChanges,
    pub limits: LimitSettings,
    pub journal: JournalSettings,
    pub webhooks: WebhookSettings,
    pub hooks: HookSettings,
    /// Event sinks declared here rather than over the API (`[[sinks]]`).
    pub sinks: Vec<SinkSetting>,
    pub log: LogSettings,
}
