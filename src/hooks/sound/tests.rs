//! The shipped sounds, and the hook against a real store and bus with a recording speaker.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};

use super::tones::{samples, wav, Note, SAMPLE_RATE, SOUNDS};
use super::*;
use crate::bus::EventBus;
use crate::config::{HookSettings, StorageSettings, Synchronous};
use crate::model::event::{QrCode, Ready, StateChange};
use crate::model::{
    event::{EventData, Me},
    DeviceId, Message,
};
use crate::store::{DeviceRecord, DeviceSource, Store};

const WAIT: Duration = Duration::from_secs(10);

#[test]
fn the_committed_sounds_are_the_generated_ones_and_decode() {
    for (name, notes) in SOUNDS {
        let (_, committed) = FILES.iter().find(|(file, _)| *file == name).unwrap();
        let expected = wav(&samples(notes));
        assert_eq!(committed.len(), expected.len(), "{name}: size");
        assert_eq!(committed[..44], expected[..44], "{name}: header");
        // Sines may differ in the last bit between math libraries: allow one step.
        for (i, (a, b)) in committed[44..]
            .chunks(2)
            .zip(expected[44..].chunks(2))
            .enumerate()
        {
            let (a, b) = (
                i16::from_le_bytes([a[0], a[1]]),
                i16::from_le_bytes([b[0], b[1]]),
            );
            assert!(
                (a - b).abs() <= 1,
                "{name}: sample {i} is {a}, expected {b}"
            );
        }
        let decoded = decode(committed).unwrap();
        assert_eq!(decoded.sample_rate().get(), SAMPLE_RATE);
        assert_eq!(decoded.channels().get(), 1);
        let length: u32 = notes.iter().map(|note| note.ms).sum();
        let seconds = decoded.total_duration().unwrap().as_secs_f64();
        assert!(
            (seconds * 1000.0 - f64::from(length)).abs() < 2.0,
            "{name}: {seconds}s"
        );
        assert!(committed.len() < 32 * 1024, "{name} is small");
    }
}

/// What the recording speaker heard.
#[derive(Debug, Clone, PartialEq)]
struct Heard {
    file: String,
    peak: f32,
}

struct Recorder(UnboundedSender<Heard>);

/// The loudest sample of a sound.
fn peak(samples: impl Iterator<Item = rodio::Sample>) -> f32 {
    samples.fold(0.0f32, |peak, sample| peak.max(sample.abs()))
}

impl Speaker for Recorder {
    fn play(&mut self, clip: Clip) -> Result<(), String> {
        let _ = self.0.send(Heard {
            file: clip.file,
            peak: peak(clip.source),
        });
        Ok(())
    }
}

struct Rig {
    _dir: tempfile::TempDir,
    store: Store,
    metrics: Arc<Metrics>,
    heard: UnboundedReceiver<Heard>,
    _tasks: Vec<tokio::task::JoinHandle<()>>,
}

/// The hooks' settings without quiet hours, so a test hears sounds at any time of day.
fn awake() -> HookSettings {
    HookSettings {
        quiet_hours: String::new(),
        ..HookSettings::default()
    }
}

fn device(id: &str, hooks: serde_json::Value) -> DeviceRecord {
    let spec = serde_json::from_value(json!({ "name": id, "hooks": hooks })).unwrap();
    DeviceRecord::new(DeviceId::parse(id).unwrap(), &spec, DeviceSource::Api)
}

async fn rig(hooks: HookSettings, sound: SoundSettings) -> Rig {
    let dir = tempfile::tempdir().unwrap();
    let bus = EventBus::new();
    let storage = StorageSettings {
        data_dir: dir.path().to_owned(),
        synchronous: Synchronous::Normal,
        ..StorageSettings::default()
    };
    let store = Store::open(&storage, bus.clone()).unwrap();
    store
        .write(|tx| {
            tx.upsert_device(&device("loud", json!({})))?;
            tx.upsert_device(&device("quiet", json!({ "sound": false })))
        })
        .await
        .unwrap();
    let metrics = Arc::new(Metrics::default());
    let (heard_tx, heard) = unbounded_channel();
    let rules = HookRules::new(store.clone(), &hooks);
    let mut listener = Listener::default();
    let sound = Sound::start(
        rules.clone(),
        sound,
        metrics.clone(),
        &mut listener,
        Box::new(move || Box::new(Recorder(heard_tx))),
    );
    let stop = tokio_util::sync::CancellationToken::new();
    let tasks = sound
        .into_iter()
        .chain(listener.start(&bus, stop, rules, metrics.clone()))
        .collect();
    Rig {
        _dir: dir,
        store,
        metrics,
        heard,
        _tasks: tasks,
    }
}

fn sound_settings(min_interval_ms: u64) -> SoundSettings {
    let events: BTreeMap<String, String> = [
        ("message", "message.wav"),
        ("qr", "qr.wav"),
        ("failed", "alert.wav"),
    ]
    .into_iter()
    .map(|(event, file)| (event.into(), file.into()))
    .collect();
    SoundSettings {
        enabled: true,
        volume: 0.5,
        min_interval_ms,
        events,
        ..SoundSettings::default()
    }
}

fn qr(attempt: u32) -> EventData {
    EventData::Qr(QrCode {
        qr: "code".into(),
        image: String::new(),
        expires_at: String::new(),
        attempt,
        max_attempts: 6,
    })
}

fn message(device: &str, from_me: bool) -> EventData {
    EventData::Message(Message {
        device_id: device.into(),
        from: "15550000002@c.us".into(),
        from_me,
        ..Message::sample("15550000002@c.us", "see you at 5")
    })
}

impl Rig {
    async fn journal(&self, device: &str, data: EventData) {
        let id = DeviceId::parse(device).unwrap();
        self.store
            .write(move |tx| tx.journal(&id, data))
            .await
            .unwrap();
    }

    async fn next_heard(&mut self) -> Heard {
        tokio::time::timeout(WAIT, self.heard.recv())
            .await
            .expect("a sound within the timeout")
            .unwrap()
    }

    /// Waits until `outcome` reaches `count`: no event announces a sound that was not played.
    async fn wait_count(&self, outcome: &str, count: u64) {
        let deadline = Instant::now() + WAIT;
        while self.metrics.sounds.get(outcome) < count {
            assert!(Instant::now() < deadline, "{outcome} never reached {count}");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

#[tokio::test]
async fn the_event_picks_the_sound_at_the_volume_and_bursts_are_throttled() {
    let mut rig = rig(awake(), sound_settings(60_000)).await;
    rig.journal("loud", qr(2)).await; // a rotation: no sound
    rig.journal(
        "loud",
        EventData::Ready(Ready {
            me: Me {
                id: "me".into(),
                name: "Me".into(),
            },
        }),
    )
    .await; // not configured
    rig.journal("loud", qr(1)).await;
    let heard = rig.next_heard().await;
    assert_eq!(heard.file, "qr.wav");
    let full = peak(decode(FILES[1].1).unwrap());
    assert!(
        (heard.peak - full * 0.5).abs() < 1e-3,
        "{heard:?} vs {full}"
    );

    rig.journal("loud", message("loud", false)).await;
    rig.wait_count("throttled", 1).await;
    assert!(rig.heard.try_recv().is_err(), "nothing else was played");
    assert_eq!(rig.metrics.sounds.get("played"), 1);
}

#[tokio::test]
async fn own_messages_and_silenced_devices_are_muted() {
    let mut rig = rig(awake(), sound_settings(0)).await;
    rig.journal("loud", message("loud", true)).await;
    rig.journal("quiet", message("quiet", false)).await;
    rig.journal(
        "loud",
        EventData::State(StateChange {
            state: "failed",
            previous: "disconnected",
            reason: Some("reconnect_exhausted".into()),
        }),
    )
    .await;
    // Events are handled in order: once this sound is heard, the two before it were decided.
    assert_eq!(rig.next_heard().await.file, "alert.wav");
    assert_eq!(rig.metrics.sounds.get("muted"), 2);
    rig.journal("loud", message("loud", false)).await;
    assert_eq!(rig.next_heard().await.file, "message.wav");
}

#[tokio::test]
async fn messages_of_a_muted_chat_make_no_sound() {
    let mut rig = rig(awake(), sound_settings(0)).await;
    let mute = |muted: bool| {
        let loud = DeviceId::parse("loud").unwrap();
        move |tx: &mut crate::store::Tx<'_>| {
            let alice = "15550000002@c.us";
            tx.upsert_chat(&loud, alice, "Alice", "direct", "2026-01-01T00:00:00Z")?;
            let flags = crate::model::ChatFlags {
                muted: Some(muted),
                ..Default::default()
            };
            tx.set_chat_flags(&loud, alice, &flags)
        }
    };
    rig.store.write(mute(true)).await.unwrap();
    rig.journal("loud", message("loud", false)).await;
    rig.wait_count("muted", 1).await;
    assert_eq!(rig.metrics.sounds.get("played"), 0);
    rig.store.write(mute(false)).await.unwrap();
    rig.journal("loud", message("loud", false)).await;
    assert_eq!(rig.next_heard().await.file, "message.wav");
}

#[tokio::test]
async fn quiet_hours_mute_everything() {
    let hour = chrono::Timelike::hour(&chrono::Local::now());
    let hooks = HookSettings {
        quiet_hours: format!("{hour:02}:00-{:02}:00", (hour + 2) % 24),
        ..HookSettings::default()
    };
    let rig = rig(hooks, sound_settings(0)).await;
    rig.journal("loud", qr(1)).await;
    rig.journal("loud", message("loud", false)).await;
    rig.wait_count("muted", 2).await;
    assert_eq!(rig.metrics.sounds.get("played"), 0);
}

#[tokio::test]
async fn files_in_the_sound_directory_play_and_stand_in_for_shipped_ones() {
    let sounds = tempfile::tempdir().unwrap();
    let ding = wav(&samples(&[Note { hz: 220.0, ms: 80 }]));
    std::fs::write(sounds.path().join("ding.wav"), &ding).unwrap();
    // A softer sound under a shipped sound's name.
    let soft: Vec<i16> = samples(&[Note { hz: 440.0, ms: 60 }])
        .iter()
        .map(|sample| sample / 4)
        .collect();
    let soft = wav(&soft);
    std::fs::write(sounds.path().join("qr.wav"), &soft).unwrap();
    let mut settings = sound_settings(0);
    settings.dir = sounds.path().to_owned();
    settings.events.insert("message".into(), "ding.wav".into());
    let mut rig = rig(awake(), settings).await;

    rig.journal("loud", message("loud", false)).await;
    let heard = rig.next_heard().await;
    assert_eq!(heard.file, "ding.wav");
    let expected = peak(decode(ding).unwrap()) * 0.5;
    assert!(
        (heard.peak - expected).abs() < 1e-3,
        "{heard:?} vs {expected}"
    );

    rig.journal("loud", qr(1)).await;
    let heard = rig.next_heard().await;
    assert_eq!(heard.file, "qr.wav");
    let expected = peak(decode(soft).unwrap()) * 0.5;
    let shipped = peak(decode(FILES[1].1).unwrap()) * 0.5;
    assert!(
        (heard.peak - expected).abs() < 1e-3,
        "{heard:?} vs {expected}"
    );
    assert!(
        (heard.peak - shipped).abs() > 0.05,
        "not the shipped qr.wav"
    );

    // The shipped sounds still play for names the directory has no file of.
    rig.journal(
        "loud",
        EventData::State(StateChange {
            state: "failed",
            previous: "disconnected",
            reason: None,
        }),
    )
    .await;
    assert_eq!(rig.next_heard().await.file, "alert.wav");
}

/// Sound files encoded from a fifth of a second of a 440 Hz tone at half the full scale.
const TONES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/sounds");

#[test]
fn mp3_ogg_vorbis_and_flac_files_play_and_other_bytes_are_refused() {
    for name in ["tone.mp3", "tone.ogg", "tone.flac"] {
        let sound = load(Path::new(TONES), name).unwrap_or_else(|error| panic!("{error}"));
        let seconds = sound.total_duration().unwrap().as_secs_f32();
        assert!((0.19..0.3).contains(&seconds), "{name}: {seconds} s");
        let loudest = peak(sound);
        assert!((0.4..0.6).contains(&loudest), "{name}: peak {loudest}");
    }
    let sounds = tempfile::tempdir().unwrap();
    std::fs::write(sounds.path().join("notes.mp3"), "not a sound").unwrap();
    let refused = load(sounds.path(), "notes.mp3").unwrap_err();
    assert!(
        refused.contains("is not a sound that can be played (WAV, MP3, Ogg Vorbis or FLAC)"),
        "{refused}"
    );
}

#[test]
fn a_sound_file_over_the_limit_is_refused() {
    let sounds = tempfile::tempdir().unwrap();
    let path = sounds.path().join("long.wav");
    let file = std::fs::File::create(&path).unwrap();
    file.set_len(MAX_FILE_BYTES + 1).unwrap();
    assert_eq!(
        load(sounds.path(), "long.wav").err(),
        Some(format!(
            "{} is over 4 MiB; sounds are short",
            path.display()
        ))
    );
}
