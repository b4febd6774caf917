//! The checks of values that deserialize fine but would make the daemon misbehave later,
//! each naming its key; and [`SectionCheck`], through which a component judges its own section.

use super::*;
use std::fmt;

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
            ("cluster.lease_secs", self.cluster.lease_secs, SECS),
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

    pub(super) fn problems(&self) -> Vec<Problem> {
        let mut out = Vec::new();
        self.watchdog_problems(&mut out);
        if let Some((key, detail)) = self.governor.problem() {
            out.push(Problem::new(format!("governor.{key}"), detail));
        }

        let server = &self.server;
        if !server.socket_path.starts_with('/') {
            out.push(Problem::new(
                "server.socket_path",
                format!("must start with '/', got {:?}", server.socket_path),
            ));
        }
        for path in server.profiles.keys() {
            if !path.starts_with('/')
                || path.len() < 2
                || path.trim_end_matches('/') == server.socket_path.trim_end_matches('/')
            {
                out.push(Problem::new(
                    format!("server.profiles.{path:?}"),
                    "a socket path starts with '/' and differs from server.socket_path",
                ));
            }
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

        let storage = &self.storage;
        if storage.url != "sqlite:" && storage.postgres_url().is_none() {
            out.push(Problem::new(
                "storage.url",
                format!(
                    "{:?} is neither \"sqlite:\" nor a PostgreSQL URL \
                     (postgres://user:password@host:port/database)",
                    storage.url
                ),
            ));
        }
        let advertised = &self.cluster.advertise_url;
        if !advertised.is_empty() {
            if let Some(why) = url_problem(advertised) {
                out.push(Problem::new(
                    "cluster.advertise_url",
                    format!("{advertised:?} {why}"),
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
            ("cluster.lease_secs", self.cluster.lease_secs),
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
            entry.problems(&format!("webhooks.subscriptions[{i}]"), &mut out);
        }
        let names = subscriptions.iter().map(|entry| entry.name.as_str());
        unique_names("webhooks.subscriptions", "subscription", names, &mut out);
        for (i, entry) in self.sinks.iter().enumerate() {
            entry.problems(&format!("sinks[{i}]"), &mut out);
        }
        let names = self.sinks.iter().map(|entry| entry.name.as_str());
        unique_names("sinks", "sink", names, &mut out);
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
pub(super) fn log_level_problem(level: &str) -> Option<String> {
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
    pub(super) keys: Vec<String>,
    pub(super) message: String,
}

/// A component's check of the settings it reads. Config knows each section's shape; the hook
/// or connector that reads a section knows what its values mean (an address that must not be
/// private, an event name, a sound file that must play), so config reads none of their files
/// and imports none of their code. `app` passes every component's check to [`load`].
pub trait SectionCheck: Sync {
    fn problems(&self, settings: &Settings, out: &mut Vec<Problem>);
}

impl Problem {
    /// What is wrong, starting with the key.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// A problem with `key` (its full dotted path, e.g. `hooks.quiet_hours`).
    pub fn new(key: impl Into<String>, detail: impl fmt::Display) -> Self {
        let key = key.into();
        Self {
            message: format!("`{key}`: {detail}"),
            keys: vec![key],
        }
    }
}

/// A problem for each entry of the list `section` whose name an earlier entry has: the name
/// makes the entry's id (`cfg_<name>`).
fn unique_names<'a>(
    section: &str,
    what: &str,
    names: impl Iterator<Item = &'a str>,
    out: &mut Vec<Problem>,
) {
    let names: Vec<&str> = names.collect();
    for (i, name) in names.iter().enumerate() {
        if names[..i].contains(name) {
            out.push(Problem::new(
                format!("{section}[{i}].name"),
                format!("{name:?} names another {what} too; names must be unique"),
            ));
        }
    }
}

pub(super) fn is_sha256_hex(digest: &str) -> bool {
    digest.len() == 64 && digest.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Why `url` is not an absolute http(s) URL, if it is not.
pub(super) fn url_problem(url: &str) -> Option<&'static str> {
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
pub(super) fn origin_problem(origin: &str) -> Option<&'static str> {
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
