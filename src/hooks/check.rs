//! The hooks' check of their settings: what config can only see the shape of (a webhook's
//! address, its event names and secret; a sink's event names; quiet hours; the events hooks listen to; the sound
//! files, which must play) is judged here, at startup, where a problem can name its key.

use crate::config::{Problem, SectionCheck, Settings};

use super::webhook::{address, parse_events, signing::Secret};
use super::{sound, QuietHours, Trigger, STATE_TRIGGERS};
use crate::model::StateName;

/// The check `app` passes to `config::load` for the hooks' sections.
pub struct HookSettingsCheck;

impl SectionCheck for HookSettingsCheck {
    fn problems(&self, settings: &Settings, out: &mut Vec<Problem>) {
        webhook_problems(settings, out);
        sink_problems(settings, out);
        hook_problems(settings, out);
    }
}

/// Each subscription's events and secret; with `webhooks.allow_private` off, a URL whose host
/// is a private address written out is refused here, as one given over REST is (a name is
/// checked each time a delivery connects, since what it resolves to can change).
fn webhook_problems(settings: &Settings, out: &mut Vec<Problem>) {
    let webhooks = &settings.webhooks;
    for (i, entry) in webhooks.subscriptions.iter().enumerate() {
        let base = format!("webhooks.subscriptions[{i}]");
        // A URL that is not one at all is config's problem, reported there.
        if let (false, Ok(url)) = (webhooks.allow_private, url::Url::parse(&entry.url)) {
            if let Err(why) = address::check_literal(&url) {
                out.push(Problem::new(format!("{base}.url"), why));
            }
        }
        if let Err(why) = parse_events(&entry.events) {
            out.push(Problem::new(format!("{base}.events"), why));
        }
        if let Err(why) = Secret::parse(&entry.secret) {
            out.push(Problem::new(format!("{base}.secret"), why));
        }
    }
}

/// Each sink's events.
fn sink_problems(settings: &Settings, out: &mut Vec<Problem>) {
    for (i, entry) in settings.sinks.iter().enumerate() {
        if let Err(why) = parse_events(&entry.events) {
            out.push(Problem::new(format!("sinks[{i}].events"), why));
        }
    }
}

fn hook_problems(settings: &Settings, out: &mut Vec<Problem>) {
    let hooks = &settings.hooks;
    if let Err(why) = QuietHours::parse(&hooks.quiet_hours) {
        out.push(Problem::new("hooks.quiet_hours", why));
    }
    let unknown_trigger = |name: &str| {
        format!(
            "unknown event {name:?}; use an event name (message, qr, disconnected, …) or a device state without an event of its own ({})",
            STATE_TRIGGERS.map(StateName::as_str).join(", ")
        )
    };
    for (event, file) in &hooks.sound.events {
        let key = format!("hooks.sound.events.{event}");
        if Trigger::parse(event).is_none() {
            out.push(Problem::new(&key, unknown_trigger(event)));
        }
        // A hook that is off reads no files.
        if hooks.sound.enabled && !file.is_empty() {
            if let Err(why) = sound::load(&hooks.sound.dir, file) {
                out.push(Problem::new(&key, why));
            }
        }
    }
    for (i, event) in hooks.desktop.events.iter().enumerate() {
        if Trigger::parse(event).is_none() {
            out.push(Problem::new(
                format!("hooks.desktop.events[{i}]"),
                unknown_trigger(event),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use tempfile::TempDir;

    use super::*;
    use crate::config::{
        load as load_layers, ConfigErrors, Overrides, Sources, WebhookSubscriptionSetting,
    };
    use crate::hooks::sound::tones;

    fn load(file: PathBuf) -> Result<Settings, ConfigErrors> {
        let overrides = Overrides {
            config_file: Some(file),
            ..Overrides::default()
        };
        load_layers(&Sources::default(), &overrides, &[&HookSettingsCheck])
    }

    fn problems_of(settings: &Settings) -> Vec<String> {
        let mut out = Vec::new();
        HookSettingsCheck.problems(settings, &mut out);
        out.iter()
            .map(|problem| problem.message().to_owned())
            .collect()
    }

    fn write(dir: &TempDir, name: &str, text: &str) -> PathBuf {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    fn errors(result: Result<Settings, ConfigErrors>) -> Vec<String> {
        match result {
            Ok(settings) => panic!("expected errors, got {settings:?}"),
            Err(ConfigErrors(problems)) => problems,
        }
    }

    #[test]
    fn webhook_and_hook_entries_are_checked() {
        let dir = TempDir::new().unwrap();
        let file = write(
            &dir,
            "x.toml",
            r#"
[webhooks]
retry_initial_ms = 10
retry_max_ms = 5
[[webhooks.subscriptions]]
name = "Bad Name"
url = "crm.example"
events = ["mesage"]
secret = "hunter2"
[[webhooks.subscriptions]]
name = "ok"
url = "https://crm.example/hooks"
devices = []
secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
[hooks]
quiet_hours = "22:00"
[hooks.sound]
volume = 1.5
[hooks.sound.events]
"failed" = "alert.wav"
"mesage" = "ding.wav"
[hooks.desktop]
events = ["message", "exploded"]
"#,
        );
        let problems = errors(load(file));
        let expected = [
            "`webhooks.retry_initial_ms`",
            "`webhooks.subscriptions[0].name`",
            "`webhooks.subscriptions[0].url`",
            "`webhooks.subscriptions[0].events`",
            "`webhooks.subscriptions[0].secret`",
            "`webhooks.subscriptions[1].devices`",
            "`hooks.quiet_hours`",
            "`hooks.sound.volume`",
            "`hooks.sound.events.mesage`",
            "`hooks.sound.events.mesage`",
            "`hooks.desktop.events[1]`",
        ];
        assert_eq!(problems.len(), expected.len(), "{problems:#?}");
        for key in expected {
            assert!(
                problems.iter().any(|p| p.starts_with(&format!("{key}:"))),
                "no problem for {key}: {problems:#?}"
            );
        }
        assert!(problems
            .iter()
            .any(|p| p
                .contains("\"ding.wav\" is neither a file in assets/sounds nor a shipped sound")));
    }

    #[test]
    fn sink_entries_are_checked_with_everything_else() {
        let dir = TempDir::new().unwrap();
        let file = write(
            &dir,
            "sinks.toml",
            r#"
[[sinks]]
name = "bus"
kind = "nats"
url = "nats://127.0.0.1:4222"
stream = "EVENTS"
events = ["message", "message:ack"]
[[sinks]]
name = "cache"
kind = "redis"
url = "redis://:s3cret@cache.example:6379/0"
[[sinks]]
name = "bus"
kind = "amqp"
url = "redis://guest:hunter2@rabbit.example"
key = "events"
exchange = "a.b"
events = ["mesage"]
[[sinks]]
name = "Nameless"
url = "nats://x"
devices = []
[[sinks]]
name = "typo"
kind = "kafka"
url = "kafka://x"
topic = "events"
"#,
        );
        let problems = errors(load(file));
        let expected = [
            "`sinks[2].url`",
            "`sinks[2].key`",
            "`sinks[2].exchange`",
            "`sinks[2].events`",
            "`sinks[2].name`",
            "`sinks[3].name`",
            "`sinks[3].devices`",
            "`sinks[3].kind`",
            "`sinks[4].kind`",
            "`sinks[4].topic`",
        ];
        for key in expected {
            assert!(
                problems.iter().any(|p| p.contains(key)),
                "no problem for {key}: {problems:#?}"
            );
        }
        assert_eq!(problems.len(), expected.len(), "{problems:#?}");
        assert!(
            problems.iter().all(|p| !p.contains("hunter2")),
            "a password is never repeated: {problems:#?}"
        );

        let file = write(
            &dir,
            "good.toml",
            "[[sinks]]\nname = \"bus\"\nkind = \"nats\"\nurl = \"nats://127.0.0.1:4222\"\n",
        );
        let settings = load(file).unwrap();
        assert_eq!(settings.sinks[0].events, ["*"]);
        assert_eq!(settings.sinks[0].target(), None);
    }

    #[test]
    fn sound_files_come_from_the_sound_directory_and_are_checked_at_load() {
        let dir = TempDir::new().unwrap();
        let sounds = dir.path().join("sounds");
        std::fs::create_dir(&sounds).unwrap();
        let chime = tones::wav(&tones::samples(&[tones::Note { hz: 440.0, ms: 50 }]));
        std::fs::write(sounds.join("chime.wav"), chime).unwrap();
        std::fs::write(sounds.join("notes.wav"), "not a sound").unwrap();
        let config = |events: &str| {
            format!(
                "[hooks.sound]\ndir = {:?}\n[hooks.sound.events]\n{events}\n",
                sounds.display().to_string()
            )
        };

        let file = write(
            &dir,
            "ok.toml",
            &config("message = \"chime.wav\"\nqr = \"qr.wav\""),
        );
        let settings = load(file).unwrap();
        assert_eq!(settings.hooks.sound.dir, sounds);
        assert_eq!(settings.hooks.sound.events["message"], "chime.wav");

        let file = write(
            &dir,
            "bad.toml",
            &config("message = \"notes.wav\"\nqr = \"../qr.wav\"\nfailed = \"gone.wav\""),
        );
        let problems = errors(load(file));
        let shown = sounds.display();
        assert_eq!(
            problems,
            [
                format!("`hooks.sound.events.failed`: \"gone.wav\" is neither a file in {shown} nor a shipped sound (message.wav, qr.wav, alert.wav); use \"\" for none"),
                format!("`hooks.sound.events.message`: {shown}/notes.wav is not a sound that can be played (WAV, MP3, Ogg Vorbis or FLAC): The format of the data has not been recognized."),
                format!("`hooks.sound.events.qr`: \"../qr.wav\" must be the name of a file in {shown} (no directories)"),
            ],
        );

        // A hook that is off reads no files.
        let file = write(
            &dir,
            "off.toml",
            "[hooks.sound]\nenabled = false\n[hooks.sound.events]\nfailed = \"gone.wav\"\n",
        );
        assert!(load(file).is_ok());
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
        let problems = problems_of(&settings);
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
}
