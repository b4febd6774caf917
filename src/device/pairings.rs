//! The book of pairing codes: what links a simulated device when its QR code is scanned, or
//! when the code it gave for a phone number is typed on that phone.
//!
//! A simulated device registers each code it shows here; the "phone side" (`POST
//! /api/v1/pairings`, `/pair/{code}` or `devicebridge pair`) claims it, and the device hears of
//! the scan on its upstream events. Like a real linking code, each code is single-use and
//! short-lived, and a code for a phone number links only from that phone. The book belongs to
//! the device layer, so the API can offer the phone side without knowing the simulator.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::distributions::Alphanumeric;
use rand::Rng;
use serde_json::json;
use tokio::sync::{mpsc, oneshot};

use super::upstream::UpstreamEvent;
use crate::model::pairing::{shown_code, typed_code, LinkingPhone, CODE_ALPHABET, CODE_LENGTH};
use crate::model::{event::Me, DeviceId};

/// How long a used or replaced code is remembered, so reusing it gets a clear "expired".
const REMEMBER_FOR: Duration = Duration::from_secs(3600);
/// How long a scan waits for its device to take the link. A device answers in moments; one
/// that does not is stuck on something the phone cannot help with, and the phone is told so
/// rather than kept waiting.
const DEVICE_PATIENCE: Duration = Duration::from_secs(30);
/// What a code for a phone number is filed under, before its typed form: such a code is never
/// taken for a QR code's, whose text a scan carries, nor the other way round.
const PHONE_CODE_KEY: &str = "phone:";

/// Why a pairing code could not be claimed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PairingError {
    #[error("this code is expired, was already used, or was never issued")]
    Expired,
    #[error("this code was given for another phone number: type it on the phone it was asked for")]
    WrongPhone,
    #[error("the device did not answer the scan in time; see its state before scanning its current code")]
    Unanswered,
}

/// What the phone side presents: the text of a scanned QR code (the full `…/pair/{code}` URL
/// or the bare code), or a code typed on the phone whose number is `phone`.
#[derive(Debug, Clone)]
pub enum Scan<'a> {
    Qr(&'a str),
    Code { code: &'a str, phone: LinkingPhone },
}

impl Scan<'_> {
    /// Where the book files the code.
    fn key(&self) -> String {
        match self {
            Scan::Qr(qr) => code_of(qr).to_owned(),
            Scan::Code { code, .. } => format!("{PHONE_CODE_KEY}{}", typed_code(code)),
        }
    }

    /// The scan as the phone side's body (`POST /api/v1/pairings`) writes it: how a node
    /// carries it to the node that runs its device.
    pub fn body(&self) -> serde_json::Value {
        match self {
            Scan::Qr(qr) => json!({ "qr": qr }),
            Scan::Code { code, phone } => json!({ "code": code, "phone": phone.digits() }),
        }
    }

    /// Whether the code may be claimed from here: a code for a phone number only from that
    /// phone. A QR code was shown to whoever looks at the screen.
    fn fits(&self, bound: Option<&LinkingPhone>) -> bool {
        match self {
            Scan::Qr(_) => true,
            Scan::Code { phone, .. } => bound == Some(phone),
        }
    }
}

enum CodeState {
    Active {
        device: DeviceId,
        expires: Instant,
        events: mpsc::Sender<UpstreamEvent>,
        me: Me,
        /// The phone a code given for a phone number links from; `None` for a QR code.
        phone: Option<LinkingPhone>,
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
    /// The device a still-valid code would link, without using the code up. A code for
    /// another phone is refused as such, and links nothing.
    pub fn peek(&self, scan: &Scan<'_>) -> Result<DeviceId, PairingError> {
        let codes = self.codes.lock().expect("pairings lock");
        linkable(&codes, scan, &scan.key()).cloned()
    }

    /// Claims a code and links its device. Returns the device that was linked. A code for a
    /// phone number presented from another phone stays good for its own.
    pub async fn claim(&self, scan: &Scan<'_>) -> Result<DeviceId, PairingError> {
        let code = scan.key();
        let claimed = {
            let mut codes = self.codes.lock().expect("pairings lock");
            linkable(&codes, scan, &code)?;
            match codes.insert(code, CodeState::Spent { at: Instant::now() }) {
                Some(CodeState::Active {
                    device, events, me, ..
                }) => (device, events, me),
                _ => return Err(PairingError::Expired),
            }
        };
        let (device, events, me) = claimed;
        let (linked, accepted) = oneshot::channel();
        let session = json!({ "token": random_token(32), "me": me });
        let answered = tokio::time::timeout(self.patience, async {
            let scanned = UpstreamEvent::Scanned {
                session: Box::new(session),
                me: Box::new(me),
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

    /// Registers a device's new QR code, retiring its previous ones; a code it gave for a
    /// phone number stays good, as the QR codes rotate beside it.
    pub fn issue(
        &self,
        device: &DeviceId,
        ttl: Duration,
        events: mpsc::Sender<UpstreamEvent>,
        me: Me,
    ) -> String {
        let code = random_token(24);
        self.register(device, code.clone(), ttl, events, me, None);
        code
    }

    /// Registers a device's new code for the phone `phone`, which links it as that phone's
    /// account, retiring the code it gave before; returns it as shown (`ABCD-EFGH`).
    pub fn issue_for_phone(
        &self,
        device: &DeviceId,
        phone: &LinkingPhone,
        ttl: Duration,
        events: mpsc::Sender<UpstreamEvent>,
        name: String,
    ) -> String {
        let mut rng = rand::thread_rng();
        let code: String = (0..CODE_LENGTH)
            .map(|_| char::from(CODE_ALPHABET[rng.gen_range(0..CODE_ALPHABET.len())]))
            .collect();
        let me = Me {
            id: phone.account_id(),
            name,
        };
        let key = format!("{PHONE_CODE_KEY}{code}");
        self.register(device, key, ttl, events, me, Some(phone.clone()));
        shown_code(&code)
    }

    /// Files `code` as `device`'s, retiring the device's earlier codes of the same kind (a
    /// QR code, or a code for a phone) and forgetting codes spent long ago.
    fn register(
        &self,
        device: &DeviceId,
        code: String,
        ttl: Duration,
        events: mpsc::Sender<UpstreamEvent>,
        me: Me,
        phone: Option<LinkingPhone>,
    ) {
        let mut codes = self.codes.lock().expect("pairings lock");
        let now = Instant::now();
        let for_phone = phone.is_some();
        retire(&mut codes, device, now, |bound| {
            bound.is_some() == for_phone
        });
        codes.retain(|_, state| !matches!(state, CodeState::Spent { at } if now.duration_since(*at) > REMEMBER_FOR));
        codes.insert(
            code,
            CodeState::Active {
                device: device.clone(),
                expires: now + ttl,
                events,
                me,
                phone,
            },
        );
    }

    /// Retires every code of `device`: it was linked, or stopped.
    pub fn retire_device(&self, device: &DeviceId) {
        retire(
            &mut self.codes.lock().expect("pairings lock"),
            device,
            Instant::now(),
            |_| true,
        );
    }
}

/// The code in a QR code's text (the last segment of its URL), or the bare code itself.
pub(super) fn code_of(qr: &str) -> &str {
    qr.trim().rsplit('/').next().unwrap_or_default()
}

/// The device the code filed under `key` links from where `scan` comes, if it is still good.
fn linkable<'c>(
    codes: &'c HashMap<String, CodeState>,
    scan: &Scan<'_>,
    key: &str,
) -> Result<&'c DeviceId, PairingError> {
    match codes.get(key) {
        Some(CodeState::Active {
            device,
            expires,
            phone,
            ..
        }) if *expires > Instant::now() => match scan.fits(phone.as_ref()) {
            true => Ok(device),
            false => Err(PairingError::WrongPhone),
        },
        _ => Err(PairingError::Expired),
    }
}

/// Retires the active codes of `device` whose bound phone `which` picks.
fn retire(
    codes: &mut HashMap<String, CodeState>,
    device: &DeviceId,
    now: Instant,
    which: impl Fn(Option<&LinkingPhone>) -> bool,
) {
    for state in codes.values_mut() {
        if matches!(state, CodeState::Active { device: owner, phone, .. } if owner == device && which(phone.as_ref()))
        {
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
        assert_eq!(
            pairings.claim(&Scan::Qr(&code)).await,
            Err(PairingError::Unanswered)
        );
        assert_eq!(
            pairings.claim(&Scan::Qr(&code)).await,
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
                .claim(&Scan::Qr(&format!("http://localhost:3000/pair/{code}")))
                .await,
            Ok(device)
        );
        answering.await.unwrap();
        assert_eq!(pairings.peek(&Scan::Qr(&code)), Err(PairingError::Expired));
    }

    /// Answers the scan the device hears with `accept`, and tells the account it linked as.
    fn device_answering(
        mut device_side: mpsc::Receiver<UpstreamEvent>,
        accept: bool,
    ) -> tokio::task::JoinHandle<Me> {
        tokio::spawn(async move {
            match device_side.recv().await {
                Some(UpstreamEvent::Scanned { linked, me, .. }) => {
                    linked.send(accept).unwrap();
                    *me
                }
                _ => panic!("the device heard no scan"),
            }
        })
    }

    /// The device `shop`, where its events go, and what it hears on them.
    fn shop() -> (
        DeviceId,
        mpsc::Sender<UpstreamEvent>,
        mpsc::Receiver<UpstreamEvent>,
    ) {
        let (events, device_side) = mpsc::channel(8);
        (DeviceId::parse("shop").unwrap(), events, device_side)
    }

    /// A code `shop` gives for `phone`, good for a minute.
    fn code_for(
        pairings: &Pairings,
        events: &mpsc::Sender<UpstreamEvent>,
        phone: &LinkingPhone,
    ) -> String {
        let shop = DeviceId::parse("shop").unwrap();
        let minute = Duration::from_secs(60);
        pairings.issue_for_phone(&shop, phone, minute, events.clone(), "Shop".into())
    }

    fn typed<'a>(code: &'a str, phone: &LinkingPhone) -> Scan<'a> {
        Scan::Code {
            code,
            phone: phone.clone(),
        }
    }

    #[tokio::test]
    async fn a_code_for_a_phone_links_from_that_phone_only_as_its_account() {
        let pairings = Pairings::default();
        let (device, events, device_side) = shop();
        let phone = LinkingPhone::parse("+15550000009").unwrap();
        let other = LinkingPhone::parse("15550000008").unwrap();
        let code = code_for(&pairings, &events, &phone);
        assert_eq!(code.len(), 9, "{code}");
        assert_eq!(&code[4..5], "-");
        // Its QR codes rotate beside it without retiring it.
        let qr = pairings.issue(&device, Duration::from_secs(60), events, me());
        assert_eq!(
            pairings.claim(&typed(&code, &other)).await,
            Err(PairingError::WrongPhone)
        );
        assert_eq!(
            pairings.peek(&Scan::Qr(&code)),
            Err(PairingError::Expired),
            "a code for a phone is no QR code"
        );
        let answering = device_answering(device_side, true);
        let lower = code.to_lowercase().replace('-', " ");
        assert_eq!(pairings.claim(&typed(&lower, &phone)).await, Ok(device));
        assert_eq!(answering.await.unwrap().id, "15550000009@c.us");
        assert_eq!(
            pairings.claim(&typed(&code, &phone)).await,
            Err(PairingError::Expired),
            "the code was used"
        );
        assert_eq!(pairings.peek(&Scan::Qr(&qr)).map(drop), Ok(()));
    }

    #[tokio::test]
    async fn a_new_code_for_a_phone_or_a_stop_retires_the_one_before() {
        let pairings = Pairings::default();
        let (device, events, _device_side) = shop();
        let phone = LinkingPhone::parse("15550000009").unwrap();
        let (first, second) = (
            code_for(&pairings, &events, &phone),
            code_for(&pairings, &events, &phone),
        );
        let peek = |code: &str| pairings.peek(&typed(code, &phone));
        assert_eq!(peek(&first), Err(PairingError::Expired));
        assert_eq!(peek(&second), Ok(device.clone()));
        pairings.retire_device(&device);
        assert_eq!(peek(&second), Err(PairingError::Expired));
        let expired = pairings.issue_for_phone(&device, &phone, Duration::ZERO, events, "S".into());
        assert_eq!(peek(&expired), Err(PairingError::Expired));
    }
}
