//! The watchdog over each device's upstream session and the damping of a connection that keeps
//! dropping (SPEC §12). Its own checks live here so that the section is judged in one place.

use serde::{Deserialize, Serialize};

use super::{Problem, Settings, LONGEST_DURATION_MS};

/// When a `ready` device counts as stalled, how often its upstream is probed, and when its
/// reconnects are spaced out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WatchdogSettings {
    /// Seconds without a word from the upstream, while a message waits for its server ack,
    /// after which the session counts as stalled.
    pub silence_secs: u64,
    /// Seconds a message may wait for its server ack before it counts as waiting.
    pub ack_timeout_secs: u64,
    /// How often a running device probes its upstream session. It is the one check the device
    /// makes, which also notices an upstream that stopped answering and a status change whose
    /// webhook never arrived; two failed probes in a row stall the device.
    pub probe_secs: u64,
    /// Drops of the connection within `flap_window_secs` tolerated before reconnects are
    /// spaced out exponentially.
    pub flaps: u32,
    /// The window, in seconds, over which drops are counted.
    pub flap_window_secs: u64,
}

impl Default for WatchdogSettings {
    fn default() -> Self {
        Self {
            silence_secs: 120,
            ack_timeout_secs: 60,
            probe_secs: 30,
            flaps: 5,
            flap_window_secs: 600,
        }
    }
}

impl Settings {
    /// Carries `upstream.check_interval_secs`, the former name of `watchdog.probe_secs`, over
    /// to it, so that configuration files written before the watchdog keep their pace; one
    /// setting then drives the probe. Setting both to different values is a problem, since
    /// one of them would be ignored.
    pub(super) fn carry_former_names(&mut self, out: &mut Vec<Problem>) {
        let Some(secs) = self.upstream.check_interval_secs.take() else {
            return;
        };
        let probe = self.watchdog.probe_secs;
        if probe != WatchdogSettings::default().probe_secs && probe != secs {
            out.push(Problem {
                keys: vec![
                    "upstream.check_interval_secs".into(),
                    "watchdog.probe_secs".into(),
                ],
                message: format!(
                    "`upstream.check_interval_secs` ({secs}) is the former name of \
                     `watchdog.probe_secs` ({probe}); set only `watchdog.probe_secs`"
                ),
            });
        }
        self.watchdog.probe_secs = secs;
    }

    /// Zero would stall every device at once or probe in a busy loop; past ten years a
    /// deadline overflows.
    pub(super) fn watchdog_problems(&self, out: &mut Vec<Problem>) {
        let watchdog = &self.watchdog;
        for (key, secs) in [
            ("watchdog.silence_secs", watchdog.silence_secs),
            ("watchdog.ack_timeout_secs", watchdog.ack_timeout_secs),
            ("watchdog.probe_secs", watchdog.probe_secs),
            ("watchdog.flap_window_secs", watchdog.flap_window_secs),
        ] {
            if secs == 0 {
                out.push(Problem::new(key, "must be at least 1, got 0"));
            } else if secs.saturating_mul(1_000) > LONGEST_DURATION_MS {
                out.push(Problem::new(
                    key,
                    format!("must be at most ten years, got {secs}"),
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{load, Overrides, Sources};

    fn loaded(file: &str) -> Result<Settings, Vec<String>> {
        let dir = tempfile::TempDir::new().unwrap();
        let path = dir.path().join("devicebridge.toml");
        std::fs::write(&path, file).unwrap();
        let overrides = Overrides {
            config_file: Some(path),
            ..Overrides::default()
        };
        load(&Sources::default(), &overrides, &[]).map_err(|errors| errors.0)
    }

    #[test]
    fn the_former_name_of_the_probe_interval_still_sets_it() {
        let settings = loaded("[upstream]\ncheck_interval_secs = 7\n").unwrap();
        assert_eq!(settings.watchdog.probe_secs, 7);
        assert_eq!(settings.upstream.check_interval_secs, None);
        let agreeing = "[upstream]\ncheck_interval_secs = 7\n[watchdog]\nprobe_secs = 7\n";
        assert_eq!(loaded(agreeing).unwrap().watchdog.probe_secs, 7);
    }

    #[test]
    fn both_names_of_the_probe_interval_at_odds_are_refused() {
        let file = "[upstream]\ncheck_interval_secs = 7\n[watchdog]\nprobe_secs = 9\n";
        let errors = loaded(file).unwrap_err();
        assert!(
            errors.iter().any(|e| e.contains("former name")),
            "{errors:?}"
        );
    }

    #[test]
    fn zero_durations_are_refused() {
        let errors = loaded("[watchdog]\nsilence_secs = 0\nprobe_secs = 0\n").unwrap_err();
        for key in ["watchdog.silence_secs", "watchdog.probe_secs"] {
            assert!(errors.iter().any(|e| e.contains(key)), "{key}: {errors:?}");
        }
    }
}
