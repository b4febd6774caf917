//! Pairing codes on show: each code the upstream issues is rendered, published to the device's
//! watchers before its event is journaled, optionally printed on the terminal, and timed out.

use std::time::Duration;

use chrono::Utc;
use tokio::time::Instant;

use super::Actor;
use crate::device::CurrentQr;
use crate::model::event::QrCode;
use crate::model::{event::EventData, rfc3339};
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
        if self.context.print_qr {
            if let Ok(art) = qr::terminal(&current.qr) {
                println!(
                    "\nScan to link device `{}` (code {attempt}/{max_attempts}, or run `devicebridge pair {}`):\n{art}",
                    self.id, current.qr
                );
            }
        }
        // An upstream that rotates its codes says when a new one is due; otherwise the timer
        // is ours. For the former it is only a safety net, set with the first code, should the
        // upstream stop showing new ones: linking ends when all codes together would have.
        self.qr_deadline = match self.rotates_qr() {
            false => Some(Instant::now() + ttl),
            true => self
                .qr_deadline
                .or_else(|| Some(Instant::now() + self.context.settings.qr.window())),
        };
    }

    /// Whether the upstream rotates its pairing codes itself
    /// ([`Upstream::rotates_qr`](crate::device::upstream::Upstream::rotates_qr)).
    pub(super) fn rotates_qr(&self) -> bool {
        self.upstream.as_ref().is_some_and(|u| u.rotates_qr())
    }
}
