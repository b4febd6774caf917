//! Pairing codes on show: each code the upstream issues is rendered, published to the device's
//! watchers before its event is journaled, drawn on the console when there is one, and timed
//! out.

use std::time::Duration;

use chrono::Utc;
use tokio::time::Instant;

use super::Actor;
use crate::device::CurrentQr;
use crate::model::event::QrCode;
use crate::model::{event::EventData, rfc3339, DeviceId};
use crate::qr;

impl Actor {
    pub(super) async fn publish_qr(&mut self, text: String, attempt: u32, ttl: Duration) {
        let image = match qr::png_data_url(&text) {
            Ok(image) => image,
            Err(error) => {
                tracing::error!(device_id = %self.id, %error, "could not render the QR code");
                return;
            }
        };
        let expires_at = Utc::now() + ttl;
        let current = CurrentQr {
            qr: text.clone(),
            image: image.clone(),
            expires_at,
            attempt,
            max_attempts: self.limits.qr_max_attempts,
        };
        // The code is on show before its event goes out, so a client that asks for it on
        // hearing the event gets this code and not the one before.
        self.qr.send_replace(Some(current.clone()));
        let max_attempts = self.limits.qr_max_attempts;
        self.journal(EventData::Qr(QrCode {
            qr: text,
            image,
            expires_at: rfc3339(expires_at),
            attempt,
            max_attempts,
        }))
        .await;
        if let Some(console) = &self.context.console {
            if let Ok(art) = qr::terminal(&current.qr) {
                let drawing = drawing(&self.id, &current, ttl, &art);
                console.draw(self.id.as_str(), &drawing);
            }
        }
        // An upstream that rotates its codes says when a new one is due; otherwise the timer
        // is ours. For the former it is only a safety net, set with the first code, should the
        // upstream stop showing new ones: linking ends when all codes together would have. For
        // a device that keeps offering codes, that is when the upstream has shown none for as
        // long.
        let window = self.context.settings.qr.window();
        self.qr_deadline = match (self.rotates_qr(), self.limits.qr_keep_offering) {
            (false, _) => Some(Instant::now() + ttl),
            (true, true) => Some(Instant::now() + window),
            (true, false) => self.qr_deadline.or_else(|| Some(Instant::now() + window)),
        };
    }

    /// Whether the upstream rotates its pairing codes itself
    /// ([`Upstream::rotates_qr`](crate::device::upstream::Upstream::rotates_qr)).
    pub(super) fn rotates_qr(&self) -> bool {
        self.upstream.as_ref().is_some_and(|u| u.rotates_qr())
    }
}

/// What the console shows of a code: what it is for, the code, and under it the text it
/// encodes, which for a simulator is the link that links the device when opened, with the
/// command that does the same from a shell. Each line fits in 80 columns (for a short id), as a
/// line the terminal wraps would throw the redrawing off.
fn drawing(id: &DeviceId, code: &CurrentQr, ttl: Duration, art: &str) -> String {
    let link = code.qr.contains("/pair/");
    let (attempt, of, secs) = (code.attempt, code.max_attempts, ttl.as_secs());
    let mut drawing = format!("\nScan to link device `{id}` (code {attempt}/{of}, valid {secs} s)");
    drawing.push_str(if link {
        ", or open the link under it:\n"
    } else {
        ":\n"
    });
    drawing.push_str(art);
    drawing.push_str(&format!("\n{}\n", code.qr));
    if link {
        drawing.push_str(&format!("or run: devicebridge pair {}\n", code.qr));
    }
    drawing
}
