//! Sounds on the daemon's host (rodio).
//!
//! Each configured event plays one of the shipped sounds (embedded in the binary, so it plays
//! from any working directory), scaled to `hooks.sound.volume`. At most one sound plays per
//! `hooks.sound.min_interval_ms` (a burst makes one sound), none in quiet hours, none for our own
//! messages or for a device whose file says `[hooks] sound = false`.
//!
//! Decoding and scaling are always built; sending the result to the audio device is the cargo
//! feature `sound`, since the audio backend needs the system's ALSA headers to build. The device
//! is driven by a [`Speaker`] on a thread of its own; without an audio device (or without the
//! feature) each sound counts as `failed` and one warning is logged.

pub mod tones;

use std::collections::HashMap;
use std::io::Cursor;
use std::sync::mpsc as std_mpsc;
use std::sync::Arc;
use std::time::Duration;

use rodio::buffer::SamplesBuffer;
use rodio::source::Amplify;
use rodio::{Decoder, Source};
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::{listen, local_now, triggers, HookRules, OneWarning};
use crate::bus::EventBus;
use crate::config::SoundSettings;
use crate::event::JournaledEvent;
use crate::metrics::Metrics;

/// The shipped sound files, by name.
pub const FILES: [(&str, &[u8]); 3] = [
    (
        "message.wav",
        include_bytes!("../../../assets/sounds/message.wav"),
    ),
    ("qr.wav", include_bytes!("../../../assets/sounds/qr.wav")),
    (
        "alert.wav",
        include_bytes!("../../../assets/sounds/alert.wav"),
    ),
];

/// Sounds waiting for the speaker; more is pointless with at most one sound per interval.
const SPEAKER_QUEUE: usize = 4;

/// Whether `name` is one of the shipped sounds.
pub fn is_shipped(name: &str) -> bool {
    FILES.iter().any(|(file, _)| *file == name)
}

/// Decodes a WAV file into samples ready to be played (and replayed: the buffer is shared).
pub fn decode(bytes: &'static [u8]) -> Result<SamplesBuffer, rodio::decoder::DecoderError> {
    let decoder = Decoder::new_wav(Cursor::new(bytes))?;
    let (channels, rate) = (decoder.channels(), decoder.sample_rate());
    let samples: Vec<rodio::Sample> = decoder.collect();
    Ok(SamplesBuffer::new(channels, rate, samples))
}

/// A sound to play now.
pub struct Clip {
    pub file: String,
    pub volume: f32,
    pub source: Amplify<SamplesBuffer>,
}

/// Where clips are played: the audio device, or a test's recorder.
pub trait Speaker {
    /// Starts playing `clip` and returns at once; an error says why it cannot be heard.
    fn play(&mut self, clip: Clip) -> Result<(), String>;
}

/// Makes the speaker on the sound thread: audio streams may not be movable between threads.
pub type MakeSpeaker = Box<dyn FnOnce() -> Box<dyn Speaker> + Send>;

/// The host's default audio output (cargo feature `sound`).
#[cfg(feature = "sound")]
pub fn default_speaker() -> MakeSpeaker {
    /// Opens the device at the first sound, and again after a failure.
    struct DeviceSpeaker {
        sink: Option<rodio::MixerDeviceSink>,
    }

    impl Speaker for DeviceSpeaker {
        fn play(&mut self, clip: Clip) -> Result<(), String> {
            let sink = match self.sink.take() {
                Some(sink) => sink,
                None => {
                    let mut sink = rodio::DeviceSinkBuilder::open_default_sink()
                        .map_err(|e| format!("no audio output: {e}"))?;
                    sink.log_on_drop(false);
                    sink
                }
            };
            sink.mixer().add(clip.source);
            self.sink = Some(sink);
            Ok(())
        }
    }

    Box::new(|| Box::new(DeviceSpeaker { sink: None }))
}

/// Without the cargo feature `sound` there is no audio output to play on.
#[cfg(not(feature = "sound"))]
pub fn default_speaker() -> MakeSpeaker {
    struct NoPlayback;

    impl Speaker for NoPlayback {
        fn play(&mut self, _: Clip) -> Result<(), String> {
            Err(
                "this build cannot play sounds (it was built without the cargo feature `sound`)"
                    .into(),
            )
        }
    }

    Box::new(|| Box::new(NoPlayback))
}

/// The sound hook's worker.
pub struct Sound {
    rules: HookRules,
    settings: SoundSettings,
    metrics: Arc<Metrics>,
    clips: HashMap<String, SamplesBuffer>,
    last_played: Option<Instant>,
    speaker: std_mpsc::SyncSender<Clip>,
}

impl Sound {
    /// Decodes the configured sounds and starts the hook: a task that picks and throttles, and
    /// a thread that plays. Returns the tasks so the daemon can stop them (the thread ends with
    /// them).
    pub fn start(
        rules: HookRules,
        settings: SoundSettings,
        metrics: Arc<Metrics>,
        bus: &EventBus,
        make_speaker: MakeSpeaker,
    ) -> Vec<tokio::task::JoinHandle<()>> {
        let mut clips = HashMap::new();
        for (name, bytes) in FILES {
            if settings.events.values().any(|file| file == name) {
                match decode(bytes) {
                    Ok(buffer) => {
                        clips.insert(name.to_owned(), buffer);
                    }
                    Err(error) => tracing::error!(file = name, %error, "cannot decode a sound"),
                }
            }
        }
        let (speaker, clips_to_play) = std_mpsc::sync_channel(SPEAKER_QUEUE);
        let player_metrics = metrics.clone();
        let spawned = std::thread::Builder::new()
            .name("sound".into())
            .spawn(move || play(make_speaker(), clips_to_play, &player_metrics));
        if let Err(error) = spawned {
            tracing::error!(%error, "cannot start the sound thread");
            return Vec::new();
        }
        let events = settings.events.clone();
        let (queue, listener) = listen(
            bus,
            metrics.clone(),
            |metrics| &metrics.sounds,
            move |event| file_for(&events, event).is_some(),
        );
        let sound = Sound {
            rules,
            settings,
            metrics,
            clips,
            last_played: None,
            speaker,
        };
        vec![listener, tokio::spawn(sound.run(queue))]
    }

    async fn run(mut self, mut queue: mpsc::Receiver<Arc<JournaledEvent>>) {
        while let Some(event) = queue.recv().await {
            if let Some(outcome) = self.consider(&event).await {
                self.metrics.sounds.inc(outcome);
            }
        }
    }

    /// Decides about one event and hands its sound to the speaker if it should be heard.
    /// Returns the outcome to count, or `None` once the sound is with the speaker thread, which
    /// alone knows whether it `played` or `failed`.
    async fn consider(&mut self, event: &JournaledEvent) -> Option<&'static str> {
        let file = file_for(&self.settings.events, event)?.to_owned();
        if self.rules.muted(event, local_now()) {
            return Some("muted");
        }
        match self.rules.device(&event.device_id).await {
            Ok(Some(device)) if device.hooks.sound => {}
            Ok(_) => return Some("muted"),
            Err(error) => {
                tracing::error!(%error, "cannot look up a device for a sound");
                return Some("failed");
            }
        }
        let interval = Duration::from_millis(self.settings.min_interval_ms);
        let now = Instant::now();
        if self
            .last_played
            .is_some_and(|last| now.duration_since(last) < interval)
        {
            return Some("throttled");
        }
        let Some(buffer) = self.clips.get(&file) else {
            return Some("failed");
        };
        self.last_played = Some(now);
        let clip = Clip {
            source: buffer.clone().amplify(self.settings.volume),
            volume: self.settings.volume,
            file,
        };
        self.speaker.try_send(clip).err().map(|_| "dropped")
    }
}

/// The sound configured for `event`, if any (an empty file name turns a default off).
fn file_for<'s>(
    events: &'s std::collections::BTreeMap<String, String>,
    event: &JournaledEvent,
) -> Option<&'s str> {
    triggers(event)
        .into_iter()
        .find_map(|name| events.get(name))
        .map(String::as_str)
        .filter(|file| !file.is_empty())
}

/// The sound thread: plays clips until the hook stops.
fn play(mut speaker: Box<dyn Speaker>, clips: std_mpsc::Receiver<Clip>, metrics: &Metrics) {
    let mut warning = OneWarning::default();
    while let Ok(clip) = clips.recv() {
        match speaker.play(clip) {
            Ok(()) => {
                metrics.sounds.inc("played");
                warning.worked();
            }
            Err(error) => {
                metrics.sounds.inc("failed");
                warning.failed("sound", &error);
            }
        }
    }
}

#[cfg(test)]
mod tests;
