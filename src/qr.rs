//! QR code rendering: PNG (for data URLs and `image/png`), SVG and the terminal.
//!
//! The same QR text is rendered three ways so an operator can link a device from whatever is at
//! hand: a dashboard shows the PNG, a browser the SVG, and a shell the block characters.

use base64::Engine;
use qrcode::render::{svg, unicode};
use qrcode::{EcLevel, QrCode};

/// Pixels per QR module in the PNG.
const PNG_SCALE: usize = 8;
/// Light modules around the code, as the QR standard asks for.
const QUIET_ZONE: usize = 4;

#[derive(Debug, thiserror::Error)]
#[error("the text does not fit in a QR code: {0}")]
pub struct QrError(String);

fn encode(text: &str) -> Result<QrCode, QrError> {
    QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M)
        .map_err(|e| QrError(e.to_string()))
}

/// A PNG picture of the code, black on white.
pub fn png(text: &str) -> Result<Vec<u8>, QrError> {
    let code = encode(text)?;
    let modules = code.width();
    let side = (modules + 2 * QUIET_ZONE) * PNG_SCALE;
    let colors = code.to_colors();
    let mut pixels = vec![255u8; side * side];
    for (index, color) in colors.iter().enumerate() {
        if *color == qrcode::Color::Dark {
            let (mx, my) = (index % modules + QUIET_ZONE, index / modules + QUIET_ZONE);
            for y in my * PNG_SCALE..(my + 1) * PNG_SCALE {
                pixels[y * side + mx * PNG_SCALE..y * side + (mx + 1) * PNG_SCALE].fill(0);
            }
        }
    }
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, side as u32, side as u32);
    encoder.set_color(png::ColorType::Grayscale);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().map_err(|e| QrError(e.to_string()))?;
    writer
        .write_image_data(&pixels)
        .map_err(|e| QrError(e.to_string()))?;
    writer.finish().map_err(|e| QrError(e.to_string()))?;
    Ok(out)
}

/// The PNG as a `data:image/png;base64,` URL, ready for an `<img src>`.
pub fn png_data_url(text: &str) -> Result<String, QrError> {
    Ok(format!(
        "data:image/png;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(png(text)?)
    ))
}

/// An SVG document of the code.
pub fn svg(text: &str) -> Result<String, QrError> {
    Ok(encode(text)?
        .render::<svg::Color<'_>>()
        .min_dimensions(256, 256)
        .quiet_zone(true)
        .build())
}

/// The code drawn with half-block characters, two modules per character cell, for a terminal.
pub fn terminal(text: &str) -> Result<String, QrError> {
    Ok(encode(text)?
        .render::<unicode::Dense1x2>()
        .dark_color(unicode::Dense1x2::Light)
        .light_color(unicode::Dense1x2::Dark)
        .quiet_zone(true)
        .build())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn png_is_a_square_png_with_quiet_zone() {
        let bytes = png("http://localhost:3000/pair/abc").unwrap();
        let decoder = png::Decoder::new(bytes.as_slice());
        let mut reader = decoder.read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size()];
        let info = reader.next_frame(&mut buf).unwrap();
        assert_eq!(info.width, info.height);
        assert_eq!(info.width as usize % PNG_SCALE, 0);
        // The corner is in the quiet zone (white); the finder pattern starts dark right after it.
        assert_eq!(buf[0], 255);
        let first_dark = QUIET_ZONE * PNG_SCALE;
        assert_eq!(buf[first_dark * info.width as usize + first_dark], 0);
    }

    #[test]
    fn data_url_and_svg_and_terminal() {
        assert!(png_data_url("x")
            .unwrap()
            .starts_with("data:image/png;base64,iVBORw0KGgo"));
        assert!(svg("x").unwrap().contains("<svg"));
        let art = terminal("x").unwrap();
        assert!(art.lines().count() > 10 && art.contains('█'));
    }
}
