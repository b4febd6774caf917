//! Writes the shipped hook sounds to `assets/sounds/`: `cargo run --example make-sounds`.

use devicebridge::hooks::sound::tones::{samples, wav, SOUNDS};

fn main() -> std::io::Result<()> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/sounds");
    std::fs::create_dir_all(&dir)?;
    for (name, notes) in SOUNDS {
        let bytes = wav(&samples(notes));
        std::fs::write(dir.join(name), &bytes)?;
        println!("{name}: {} bytes", bytes.len());
    }
    Ok(())
}
