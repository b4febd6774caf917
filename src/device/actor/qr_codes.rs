//! Pairing codes on show: each code the upstream issues is rendered, published to the device's
//! watchers before its event is journaled, drawn on the console when there is one, and timed
//! out. Beside them, codes for phone numbers: asked for, journaled, and waited for.

use std::time::Duration;

use chrono::Utc;
use tokio::time::Instant;

use super::Actor;
use crate::device::state::{transition, Input, InvalidTransition};
use crate::device::{CurrentQr, DeviceError};
use crate::model::capability::Capability;
use crate::model::event::{PairingCode, QrCode};
use crate::model::pairing::{IssuedCode, LinkingPhone};
use crate::model::{event::EventData, rfc3339, DeviceId, StateName};
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

    /// A code that links the device when typed on the phone `phone`, journaled as
    /// `pairing:code`. Only while the device shows its QR codes, which go on rotating beside
    /// it; the code lasts as long as a first QR code does (`qr.first_ttl_secs`): the time to
    /// pick up the phone and type it.
    pub(super) async fn pairing_code(
        &mut self,
        phone: LinkingPhone,
    ) -> Result<IssuedCode, DeviceError> {
        let operation = Capability::PairingCode;
        if !self.connector.can(operation) {
            let connector = self.connector.as_str();
            return Err(DeviceError::Unsupported {
                connector,
                operation,
            });
        }
        let (StateName::Qr, Some(upstream)) = (self.state.name(), self.upstream.as_mut()) else {
            return Err(DeviceError::InvalidState(InvalidTransition {
                state: self.state.name(),
                input: "give a pairing code",
            }));
        };
        let ttl = Duration::from_secs(self.context.settings.qr.first_ttl_secs);
        let code = match upstream.request_pairing_code(&phone, ttl).await {
            Ok(code) => code,
            Err(error) => return Err(self.answered_with(error).await),
        };
        // Stated before the hold is set, so the device waits at least until the time it
        // states. A code whose event cannot be stored is not given: the dashboards would not
        // show it, nor the device wait for it.
        let expires_at = rfc3339(Utc::now() + ttl);
        self.journaled(EventData::PairingCode(PairingCode {
            code: code.clone(),
            phone: phone.digits().to_owned(),
            expires_at: expires_at.clone(),
        }))
        .await?;
        self.linking_hold = Some(Instant::now() + ttl);
        Ok(IssuedCode { code, expires_at })
    }

    /// Whether linking waits for a code given for a phone number rather than end on `input`,
    /// the QR timer's: someone may be typing the code, and it links until it expires. The
    /// timer is then set for that moment, when `input` comes again. An input that keeps the
    /// device showing codes (the next one of the round) is not held.
    pub(super) fn holds_linking(&mut self, input: &Input) -> bool {
        let Some(until) = self.linking_hold.filter(|until| *until > Instant::now()) else {
            return false;
        };
        let ends_linking = transition(&self.state, input, &self.limits)
            .is_ok_and(|(next, _)| next.name() != StateName::Qr);
        if ends_linking {
            self.qr_deadline = Some(until);
        }
        ends_linking
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
