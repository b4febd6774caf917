//! The simulated contacts' profile pictures: a person's outline on a colour picked by their
//! id, drawn as a PNG when asked for. Each contact has the same picture every time, and there
//! is no file to ship or to lose.

use crate::model::upstream::Picture;

/// The picture's side, in pixels.
const SIDE: usize = 96;

/// Backgrounds dark enough for the white outline to stand out on each.
const BACKGROUNDS: [[u8; 3]; 8] = [
    [0x1f, 0x6f, 0x8b],
    [0x8b, 0x3a, 0x62],
    [0x2e, 0x7d, 0x32],
    [0x6a, 0x1b, 0x9a],
    [0xad, 0x4e, 0x00],
    [0x00, 0x69, 0x5c],
    [0x45, 0x5a, 0x64],
    [0xb7, 0x1c, 0x1c],
];

const OUTLINE: [u8; 3] = [0xf5, 0xf5, 0xf5];

/// The picture of contact `contact_id`.
pub fn draw(contact_id: &str) -> Picture {
    let background = BACKGROUNDS[(fnv1a(contact_id) % BACKGROUNDS.len() as u64) as usize];
    let mut pixels = Vec::with_capacity(SIDE * SIDE * 3);
    for y in 0..SIDE {
        for x in 0..SIDE {
            let colour = match in_outline(x as f32 + 0.5, y as f32 + 0.5) {
                true => OUTLINE,
                false => background,
            };
            pixels.extend_from_slice(&colour);
        }
    }
    let mut bytes = Vec::new();
    let mut encoder = png::Encoder::new(&mut bytes, SIDE as u32, SIDE as u32);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    // Writing a picture of a fixed size into memory has nothing that can fail.
    let mut writer = encoder.write_header().expect("a PNG header");
    writer.write_image_data(&pixels).expect("the PNG's pixels");
    writer.finish().expect("the PNG's end");
    Picture {
        mime: "image/png".into(),
        bytes,
    }
}

/// Whether a point is on the person: a head, and shoulders cut by the picture's bottom edge.
fn in_outline(x: f32, y: f32) -> bool {
    let side = SIDE as f32;
    let (cx, head_y, head_r) = (side / 2.0, side * 0.38, side * 0.19);
    let head = (x - cx).powi(2) + (y - head_y).powi(2) <= head_r.powi(2);
    let (rx, ry) = (side * 0.36, side * 0.30);
    let shoulders = ((x - cx) / rx).powi(2) + ((y - side) / ry).powi(2) <= 1.0;
    head || shoulders
}

/// FNV-1a: a stable hash (the standard library's is seeded per process).
fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_contact_has_a_picture_of_its_own_the_same_every_time() {
        let alice = draw("15550000002@c.us");
        assert_eq!(alice, draw("15550000002@c.us"));
        assert_ne!(alice.bytes, draw("15550000003@c.us").bytes);
        let decoder = png::Decoder::new(alice.bytes.as_slice());
        let reader = decoder.read_info().unwrap();
        assert_eq!(
            (reader.info().width, reader.info().height),
            (SIDE as u32, SIDE as u32)
        );
        assert_eq!(alice.mime, "image/png");
    }
}
