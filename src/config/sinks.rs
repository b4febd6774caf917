//! `[[sinks]]`: event sinks declared in the configuration (SPEC §13).

use serde::{Deserialize, Serialize};

use super::check::Problem;
use crate::model::sink::{target_problem, SinkKind};

/// A sink declared in the configuration; its id is `cfg_<name>`, stable across restarts, so
/// its cursor in the journal survives them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SinkSetting {
    /// Lowercase letters, digits, `-` and `_`; names the sink in its id.
    pub name: String,
    /// `nats`, `redis` or `amqp`; required (an `Option` only so that a missing kind is
    /// reported with the entry's other problems).
    pub kind: Option<SinkKind>,
    /// The server: `nats://`, `redis://` (`rediss://`) or `amqp://` (`amqps://`).
    pub url: String,
    /// Event names, or `["*"]` for all.
    pub events: Vec<String>,
    /// Device ids, or `["*"]` for all.
    pub devices: Vec<String>,
    /// `nats` only: the JetStream stream (`DEVICEBRIDGE`).
    pub stream: Option<String>,
    /// `redis` only: the stream's key (`devicebridge:events`).
    pub key: Option<String>,
    /// `amqp` only: the topic exchange (`devicebridge`).
    pub exchange: Option<String>,
}

impl Default for SinkSetting {
    fn default() -> Self {
        Self {
            name: String::new(),
            kind: None,
            url: String::new(),
            events: vec!["*".to_owned()],
            devices: vec!["*".to_owned()],
            stream: None,
            key: None,
            exchange: None,
        }
    }
}

impl SinkSetting {
    /// The renamed stream, key or exchange, if set, whichever kind's setting holds it.
    pub fn target(&self) -> Option<&str> {
        self.stream
            .as_deref()
            .or(self.key.as_deref())
            .or(self.exchange.as_deref())
    }

    /// The entry's shape: its name, kind, URL, devices and renamed target; what its events
    /// mean is the hooks' to judge (see [`super::SectionCheck`]).
    pub(super) fn problems(&self, base: &str, out: &mut Vec<Problem>) {
        if crate::model::DeviceId::parse(&self.name).is_err() {
            out.push(Problem::new(
                format!("{base}.name"),
                format!(
                    "{:?} must be 1 to 64 lowercase letters, digits, '-' or '_', starting with a letter or digit; it names the sink's id",
                    self.name
                ),
            ));
        }
        if let Err(why) = crate::model::check_selection(&self.devices) {
            out.push(Problem::new(format!("{base}.devices"), why));
        }
        let Some(kind) = self.kind else {
            let kinds = SinkKind::ALL.map(SinkKind::as_str).join(", ");
            out.push(Problem::new(
                format!("{base}.kind"),
                format!("is required: one of {kinds}"),
            ));
            return;
        };
        if let Some(why) = kind.url_problem(&self.url) {
            out.push(Problem::new(format!("{base}.url"), why));
        }
        for (setting, value) in [
            ("stream", &self.stream),
            ("key", &self.key),
            ("exchange", &self.exchange),
        ] {
            let Some(value) = value else { continue };
            let key = format!("{base}.{setting}");
            if setting != kind.target_setting() {
                out.push(Problem::new(
                    key,
                    format!(
                        "is not a setting of a {} sink (it renames with `{}`)",
                        kind.as_str(),
                        kind.target_setting()
                    ),
                ));
            } else if let Some(why) = target_problem(value) {
                out.push(Problem::new(key, why));
            }
        }
    }
}
