//! The shipped sounds, synthesised: each is a few soft sine notes, written as a small mono
//! 16-bit WAV file. `cargo run --example make-sounds` writes them to `assets/sounds/`, and a
//! test checks that the committed files are what this module makes.

/// Samples per second: plenty for short chimes, and it keeps the files small.
pub const SAMPLE_RATE: u32 = 22_050;

/// One note: its pitch and length.
#[derive(Debug, Clone, Copy)]
pub struct Note {
    pub hz: f64,
    pub ms: u32,
}

const fn note(hz: f64, ms: u32) -> Note {
    Note { hz, ms }
}

/// Every shipped sound: its file name and its notes.
pub const SOUNDS: [(&str, &[Note]); 3] = [
    // Two rising notes, short and light: a message came in.
    ("message.wav", &[note(1318.5, 70), note(1760.0, 120)]),
    // Three notes going up: there is a code to scan.
    (
        "qr.wav",
        &[note(880.0, 90), note(1108.7, 90), note(1318.5, 160)],
    ),
    // Two falling notes, twice: something is wrong.
    (
        "alert.wav",
        &[
            note(987.8, 110),
            note(659.3, 160),
            note(987.8, 110),
            note(659.3, 200),
        ],
    ),
];

/// Peak amplitude, as a share of full scale: chimes, not alarms.
const LOUDNESS: f64 = 0.5;
/// Fade in and out of each note, so that no note starts or ends with a click.
const FADE_MS: f64 = 8.0;

/// The samples of `notes`, one after the other.
pub fn samples(notes: &[Note]) -> Vec<i16> {
    let rate = f64::from(SAMPLE_RATE);
    let mut out = Vec::new();
    for note in notes {
        let count = (rate * f64::from(note.ms) / 1000.0) as usize;
        let fade = rate * FADE_MS / 1000.0;
        for n in 0..count {
            let t = n as f64 / rate;
            let edge = (n as f64).min((count - n) as f64);
            let envelope = (edge / fade).min(1.0);
            // A slow decay over the note makes it sound struck rather than held.
            let decay = 1.0 - 0.4 * n as f64 / count as f64;
            let value = (2.0 * std::f64::consts::PI * note.hz * t).sin();
            out.push((value * envelope * decay * LOUDNESS * f64::from(i16::MAX)).round() as i16);
        }
    }
    out
}

/// A mono 16-bit PCM WAV file holding `samples`.
pub fn wav(samples: &[i16]) -> Vec<u8> {
    let data_len = (samples.len() * 2) as u32;
    let mut out = Vec::with_capacity(44 + data_len as usize);
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(36 + data_len).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes()); // format chunk size
    out.extend_from_slice(&1u16.to_le_bytes()); // PCM
    out.extend_from_slice(&1u16.to_le_bytes()); // mono
    out.extend_from_slice(&SAMPLE_RATE.to_le_bytes());
    out.extend_from_slice(&(SAMPLE_RATE * 2).to_le_bytes()); // bytes per second
    out.extend_from_slice(&2u16.to_le_bytes()); // bytes per frame
    out.extend_from_slice(&16u16.to_le_bytes()); // bits per sample
    out.extend_from_slice(b"data");
    out.extend_from_slice(&data_len.to_le_bytes());
    for sample in samples {
        out.extend_from_slice(&sample.to_le_bytes());
    }
    out
}
