//! The book of pairing codes: what links a simulated device when its QR code is scanned.
//!
//! A simulated device registers each code it shows here; the "phone side" (`POST
//! /api/v1/pairings`, `/pair/{code}` or `devicebridge pair`) claims it, and the device hears of
//! the scan on its upstream events. Like a real linking QR code, each code is single-use and
//! short-lived. The book belongs to the device layer, so the API can offer the phone side
//! without knowing the simulator.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::distributions::Alphanumeric;
use rand::Rng;
use serde_json::json;
use tokio::sync::{mpsc, oneshot};

use super::upstream::UpstreamEvent;
use crate::model::{event::Me, DeviceId};

/// How long a used or replaced code is remembered, so reusing it gets a clear "expired".
const REMEMBER_FOR: Duration = Duration::from_secs(3600);
/// How long a scan waits for its device to take the link. A device answers in moments; one
/// that does not is stuck on something the phone cannot help with, and the phone is told so
/// rather than kept waiting.
const DEVICE_PATIENCE: Duration = Duration::from_secs(30);

/// Why a pairing code could not be claimed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PairingError {
    #[error("this QR code is expired, was already used, or was never issued")]
    Expired,
    #[error("the device did not answer the scan in time; see its state before scanning its current code")]
    Unanswered,
}

enum CodeState {
    Active {
        device: DeviceId,
        expires: Instant,
        events: mpsc::Sender<UpstreamEvent>,
        me: Me,
    },
    Spent {
        at: Instant,
    },
}

/// Every pairing code issued by this daemon's simulated devices.
#[derive(Clone)]
pub struct Pairings {
    codes: Arc<Mutex<HashMap<String, CodeState>>>,
    /// How long a scan waits for its device: [`DEVICE_PATIENCE`], shorter in tests.
    patience: Duration,
}

impl Default for Pairings {
    fn default() -> Self {
        Self {
            codes: Arc::default(),
            patience: DEVICE_PATIENCE,
        }
    }
}

impl Pairings {
    /// The device a still-valid code would link, without using the code up.
    pub fn peek(&self, qr: &str) -> Result<DeviceId, PairingError> {
        let codes = self.codes.lock().expect("pairings lock");
        match codes.get(code_of(qr)) {
            Some(CodeState::Active {
                device, expires, ..
            }) if *expires > Instant::now() => Ok(device.clone()),
            _ => Err(PairingError::Expired),
        }
    }

    /// Claims a code from a scanned QR text (the full `…/pair/{code}` URL or the bare code)
    /// and links its device. Returns the device that was linked.
    pub async fn claim(&self, qr: &str) -> Result<DeviceId, PairingError> {
        let code = code_of(qr).to_owned();
        let claimed = {
            let mut codes = self.codes.lock().expect("pairings lock");
            match codes.insert(code.clone(), CodeState::Spent { at: Instant::now() }) {
                Some(CodeState::Active {
                    device,
                    expires,
                    events,
                    me,
                }) if expires > Instant::now() => (device, events, me),
                Some(spent) => {
                    codes.insert(code, spent);
                    return Err(PairingError::Expired);
                }
                None => {
                    codes.remove(&code);
                    return Err(PairingError::Expired);
                }
            }
        };
        let (device, events, me) = claimed;
        let (linked, accepted) = oneshot::channel();
        let session = json!({ "token": random_token(32), "me": me });
        let answered = tokio::time::timeout(self.patience, async {
            let scanned = UpstreamEvent::Scanned {
                session,
                me,
                linked,
            };
            match events.send(scanned).await {
                Ok(()) => accepted.await.unwrap_or(false),
                // The device stopped since it showed the code.
                Err(_) => false,
            }
        })
        .await;
        match answered {
            Ok(true) => Ok(device),
            Ok(false) => Err(PairingError::Expired),
            Err(_) => {
                tracing::warn!(device_id = %device, "the device did not answer the scan of its pairing code");
                Err(PairingError::Unanswered)
            }
        }
    }

    /// Registers a device's new code, retiring its previous ones.
    pub fn issue(
        &self,
        device: &DeviceId,
        ttl: Duration,
        events: mpsc::Sender<UpstreamEvent>,
        me: Me,
    ) -> String {
        let code = random_token(24);
        let mut codes = self.codes.lock().expect("pairings lock");
        let now = Instant::now();
        retire(&mut codes, device, now);
        codes.retain(|_, state| !matches!(state, CodeState::Spent { at } if now.duration_since(*at) > REMEMBER_FOR));
        codes.insert(
            code.clone(),
            CodeState::Active {
                device: device.clone(),
                expires: now + ttl,
                events,
                me,
            },
        );
        code
    }

    /// Retires every code of `device`: it was linked, or stopped.
    pub fn retire_device(&self, device: &DeviceId) {
        retire(
            &mut self.codes.lock().expect("pairings lock"),
            device,
            Instant::now(),
        );
    }
}

/// The code in a QR code's text (the last segment of its URL), or the bare code itself.
pub(super) fn code_of(qr: &str) -> &str {
    qr.trim().rsplit('/').next().unwrap_or_default()
}

fn retire(codes: &mut HashMap<String, CodeState>, device: &DeviceId, now: Instant) {
    for state in codes.values_mut() {
        if matches!(state, CodeState::Active { device: owner, .. } if owner == device) {
            *state = CodeState::Spent { at: now };
        }
    }
}

/// `len` random letters and digits: a pairing code, or a simulated upstream's message id.
pub fn random_token(len: usize) -> String {
    rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(len)
        .map(char::from)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn me() -> Me {
        Me {
            id: "15550000001@c.us".into(),
            name: "Phone".into(),
        }
    }

    #[tokio::test]
    async fn a_scan_its_device_does_not_answer_is_refused_in_time() {
        let pairings = Pairings {
            patience: Duration::from_millis(50),
            ..Pairings::default()
        };
        let device = DeviceId::parse("shop").unwrap();
        // A device that holds its events but never reads them.
        let (events, _unread) = mpsc::channel(8);
        let code = pairings.issue(&device, Duration::from_secs(60), events, me());
        assert_eq!(pairings.claim(&code).await, Err(PairingError::Unanswered));
        assert_eq!(
            pairings.claim(&code).await,
            Err(PairingError::Expired),
            "the code was used"
        );
    }

    #[tokio::test]
    async fn a_scan_its_device_takes_links_it_and_uses_the_code_up() {
        let pairings = Pairings::default();
        let device = DeviceId::parse("shop").unwrap();
        let (events, mut device_side) = mpsc::channel(8);
        let code = pairings.issue(&device, Duration::from_secs(60), events, me());
        let answering = tokio::spawn(async move {
            match device_side.recv().await {
                Some(UpstreamEvent::Scanned { linked, .. }) => linked.send(true).unwrap(),
                _ => panic!("the device heard no scan"),
            }
        });
        assert_eq!(
            pairings
                .claim(&format!("http://localhost:3000/pair/{code}"))
                .await,
            Ok(device)
        );
        answering.await.unwrap();
        assert_eq!(pairings.peek(&code), Err(PairingError::Expired));
    }
}
