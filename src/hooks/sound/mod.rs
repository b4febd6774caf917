//! Sounds on the daemon's host (rodio).
//!
//! Each configured event plays a sound file (WAV, MP3, Ogg Vorbis or FLAC) from
//! `hooks.sound.dir`, or one of the shipped sounds (embedded in the binary, so they play from
//! any working directory) when that directory has no file of the name, scaled to
//! `hooks.sound.volume`. Every configured sound is read and
//! decoded once, when the daemon starts: a missing or broken file is a configuration error
//! then, never a silent failure at the first message. At most one sound plays per
//! `hooks.sound.min_interval_ms` (a burst makes one sound), none in quiet hours, none for our own
//! messages, for messages of a muted chat, or for a device whose file says
//! `[hooks] sound = false`.
//!
//! Decoding and scaling are always built; sending the result to the audio device is the cargo
//! feature `sound`, since the audio backend needs the system's ALSA headers to build. The device
//! is driven by a [`Speaker`] on a thread of its own; without an audio device (or without the
//! feature) each sound counts as `failed`, and one line at info level says how to get sounds.

pub mod tones;

use std::collections::HashMap;
use std::io::{Cursor, Read};
use std::path::Path;
use std::sync::mpsc as std_mpsc;
use std::sync::Arc;
use std::time::Duration;

use rodio::buffer::SamplesBuffer;
use rodio::source::Amplify;
use rodio::{Decoder, Source};
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::{triggers, HookRules, Listener, OneReport, Trigger};
use crate::config::SoundSettings;
use crate::metrics::Metrics;
use crate::model::event::JournaledEvent;

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

/// The largest sound file read from `hooks.sound.dir`. Sounds last a second or two, and each
/// configured one is held in memory decoded (a minute of CD-quality audio is ~10 MB).
pub const MAX_FILE_BYTES: u64 = 4 << 20;

/// Reads and decodes the sound `name`: the file of that name in `dir` if there is one, else
/// the shipped sound of that name. The error says what to fix.
pub fn load(dir: &Path, name: &str) -> Result<SamplesBuffer, String> {
    if name.is_empty() || Path::new(name).file_name() != Some(name.as_ref()) || name.contains('\\')
    {
        return Err(format!(
            "{name:?} must be the name of a file in {} (no directories)",
            dir.display()
        ));
    }
    let path = dir.join(name);
    let bytes = match std::fs::File::open(&path) {
        Ok(file) => read_small(file, &path)?,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            match FILES.iter().find(|(file, _)| *file == name) {
                Some((_, shipped)) => shipped.to_vec(),
                None => {
                    let shipped: Vec<&str> = FILES.iter().map(|(file, _)| *file).collect();
                    return Err(format!(
                        "{name:?} is neither a file in {} nor a shipped sound ({}); use \"\" for none",
                        dir.display(),
                        shipped.join(", ")
                    ));
                }
            }
        }
        Err(error) => return Err(format!("cannot read {}: {error}", path.display())),
    };
    decode(bytes).map_err(|error| {
        format!(
            "{} is not a sound that can be played (WAV, MP3, Ogg Vorbis or FLAC): {error}",
            path.display()
        )
    })
}

/// Reads a sound file, refusing one over [`MAX_FILE_BYTES`].
fn read_small(file: std::fs::File, path: &Path) -> Result<Vec<u8>, String> {
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|error| format!("cannot read {}: {error}", path.display()))?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(format!(
            "{} is over {} MiB; sounds are short",
            path.display(),
            MAX_FILE_BYTES >> 20
        ));
    }
    Ok(bytes)
}

/// Decodes a sound file (WAV, MP3, Ogg Vorbis or FLAC, told apart by their contents, not their
/// names) into samples ready to be played (and replayed: the buffer is shared).
pub fn decode<B>(bytes: B) -> Result<SamplesBuffer, rodio::decoder::DecoderError>
where
    B: AsRef<[u8]> + Send + Sync + 'static,
{
    let decoder = Decoder::new(Cursor::new(bytes))?;
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
    /// The file each trigger plays, from `settings.events`.
    files: Files,
    metrics: Arc<Metrics>,
    clips: HashMap<String, SamplesBuffer>,
    last_played: Option<Instant>,
    speaker: std_mpsc::SyncSender<Clip>,
}

impl Sound {
    /// Decodes the configured sounds and starts the hook, fed by `listener`: a task that picks
    /// and throttles, and a thread that plays. Returns the task so the daemon can stop it (the
    /// thread ends with it); `None` if the thread could not start.
    pub fn start(
        rules: HookRules,
        settings: SoundSettings,
        metrics: Arc<Metrics>,
        listener: &mut Listener,
        make_speaker: MakeSpeaker,
    ) -> Option<tokio::task::JoinHandle<()>> {
        let mut clips = HashMap::new();
        for name in settings.events.values().filter(|file| !file.is_empty()) {
            if clips.contains_key(name) {
                continue;
            }
            // The configuration was checked with the same files at startup; one that went
            // away since leaves its events silent (counted as `failed`).
            match load(&settings.dir, name) {
                Ok(buffer) => {
                    clips.insert(name.clone(), buffer);
                }
                Err(error) => tracing::error!(%error, "cannot load a sound"),
            }
        }
        let (speaker, clips_to_play) = std_mpsc::sync_channel(SPEAKER_QUEUE);
        let player_metrics = metrics.clone();
        let spawned = std::thread::Builder::new()
            .name("sound".into())
            .spawn(move || play(make_speaker(), clips_to_play, &player_metrics));
        if let Err(error) = spawned {
            tracing::error!(%error, "cannot start the sound thread");
            return None;
        }
        // Checked with the rest of the configuration at load time.
        let files: Files = settings
            .events
            .iter()
            .filter_map(|(name, file)| Some((Trigger::parse(name)?, file.clone())))
            .collect();
        let wanted = files.clone();
        let queue = listener.hear(
            |metrics| &metrics.sounds,
            move |fired| file_for(&wanted, fired).is_some(),
        );
        let sound = Sound {
            rules,
            settings,
            files,
            metrics,
            clips,
            last_played: None,
            speaker,
        };
        Some(tokio::spawn(sound.run(queue)))
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
        let file = file_for(&self.files, &triggers(event))?.to_owned();
        match self.rules.device(&event.device_id).await {
            Ok(Some(device)) if device.hooks.sound => {}
            Ok(_) => return Some("muted"),
            Err(error) => {
                tracing::error!(%error, "cannot look up a device for a sound");
                return Some("failed");
            }
        }
        match self.rules.in_muted_chat(event).await {
            Ok(false) => {}
            Ok(true) => return Some("muted"),
            Err(error) => {
                tracing::error!(%error, "cannot look up a chat for a sound");
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

/// The sound file of each trigger that has one configured.
type Files = HashMap<Trigger, String>;

/// The sound configured for an event that `fired` these triggers, if any (an empty file name
/// turns a default off).
fn file_for<'s>(files: &'s Files, fired: &[Trigger]) -> Option<&'s str> {
    fired
        .iter()
        .find_map(|trigger| files.get(trigger))
        .map(String::as_str)
        .filter(|file| !file.is_empty())
}

/// The sound thread: plays clips until the hook stops.
fn play(mut speaker: Box<dyn Speaker>, clips: std_mpsc::Receiver<Clip>, metrics: &Metrics) {
    let mut report = OneReport::default();
    while let Ok(clip) = clips.recv() {
        match speaker.play(clip) {
            Ok(()) => {
                metrics.sounds.inc("played");
                report.worked();
            }
            Err(error) => {
                metrics.sounds.inc("failed");
                report.failed("sound", &error, TO_ENABLE);
            }
        }
    }
}

/// What makes sounds play on a host where they cannot.
#[cfg(feature = "sound")]
const TO_ENABLE: &str =
    "give the host an audio output, or turn sounds off: hooks.sound.enabled = false";
#[cfg(not(feature = "sound"))]
const TO_ENABLE: &str = "build with the `sound` feature (cargo install --path . --features sound, \
     which needs ALSA's headers: libasound2-dev), or turn sounds off: hooks.sound.enabled = false";

#[cfg(test)]
mod tests;
