//! What the daemon does outside itself: webhooks, sounds and desktop notifications.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::model::event::EventKind;

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
                (EventKind::Message.as_str(), "message.wav"),
                (EventKind::Qr.as_str(), "qr.wav"),
                (EventKind::Disconnected.as_str(), "alert.wav"),
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
            // Besides events, a notification's kind (`call`) and a state (`failed`).
            events: [
                EventKind::Message.as_str(),
                "call",
                EventKind::Qr.as_str(),
                EventKind::Disconnected.as_str(),
                "failed",
            ]
            .into_iter()
            .map(str::to_owned)
            .collect(),
            coalesce_ms: 1_500,
            timeout_ms: 5_000,
        }
    }
}
