//! What this node knows of a device whose actor runs on another node of the cluster: the QR
//! code it shows (and the code it gave for a phone number), the account it is linked to, its
//! health and whether it sends. Callers read them from the
//! device's handle as they would for a device that runs here; the owner's events, which reach
//! this node's bus from the journal, keep them up to date.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use serde::Deserialize;
use tokio::sync::watch;

use super::pairings::{code_of, Scan};
use super::relay_bell::RelayBell;
use super::CurrentQr;
use crate::model::event::{EventKind, HealthStatus, JournaledEvent, Me};
use crate::model::pairing::typed_code;
use crate::model::{DeviceId, StateName};
use crate::store::DeviceRecord;

/// The handle's view of a device that runs elsewhere, written here.
#[derive(Clone)]
pub(super) struct Mirror {
    pub(super) qr: watch::Sender<Option<CurrentQr>>,
    /// The code the device last gave for a phone number, as typed, while it shows QR codes.
    pub(super) phone_code: watch::Sender<Option<String>>,
    pub(super) me: watch::Sender<Option<Me>>,
    pub(super) health: watch::Sender<HealthStatus>,
    pub(super) bell: Arc<RelayBell>,
    /// What the owner's events have set since this node began to follow the device.
    pub(super) heard: Arc<Heard>,
}

/// Which parts of a [`Mirror`] an event has set. The device as stored is read after the node
/// begins to follow it, and its events may overtake that read: what an event set is newer
/// than the read (or as new), and the read must not put an older QR code, account or
/// readiness back over it.
#[derive(Default)]
pub(super) struct Heard {
    qr: AtomicBool,
    me: AtomicBool,
    sending: AtomicBool,
}

impl Heard {
    fn set(flag: &AtomicBool) {
        flag.store(true, Ordering::Release);
    }

    fn is_set(flag: &AtomicBool) -> bool {
        flag.load(Ordering::Acquire)
    }
}

/// A `device:health` event's fields, as far as the mirror reads them.
#[derive(Deserialize)]
struct HealthFields {
    status: HealthStatus,
}

/// A `ready` event's fields, as far as the mirror reads them.
#[derive(Deserialize)]
struct ReadyFields {
    me: Me,
}

/// A `pairing:code` event's fields, as far as the mirror reads them.
#[derive(Deserialize)]
struct PairingCodeFields {
    code: String,
}

/// A `state` event's fields, as far as the mirror reads them.
#[derive(Deserialize)]
struct StateFields {
    state: String,
}

/// A `qr` event's fields.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct QrFields {
    qr: String,
    image: String,
    expires_at: String,
    attempt: u32,
    max_attempts: u32,
}

impl Mirror {
    /// Where the device stood when this node began to follow it: as stored, with the code
    /// its last `qr` event showed if it is still showing one; what an event has set since
    /// the node began to follow it stays (see [`Heard`]).
    pub(super) fn start_from(&self, record: &DeviceRecord, latest_qr: Option<&JournaledEvent>) {
        let heard = &self.heard;
        if !Heard::is_set(&heard.me) {
            self.me.send_replace(record.me.clone());
        }
        if !Heard::is_set(&heard.sending) {
            self.bell.set_sending(record.state == StateName::Ready);
        }
        if record.state == StateName::Qr && !Heard::is_set(&heard.qr) {
            self.qr.send_replace(latest_qr.and_then(current_qr));
        }
    }

    /// What one event of the device changes in the view.
    pub(super) fn follow(&self, device: &DeviceId, event: &JournaledEvent) {
        match event.kind {
            EventKind::Qr => {
                Heard::set(&self.heard.qr);
                self.qr.send_replace(current_qr(event));
            }
            EventKind::PairingCode => match fields::<PairingCodeFields>(event) {
                Some(given) => {
                    self.phone_code.send_replace(Some(typed_code(&given.code)));
                }
                None => unreadable(device, event),
            },
            EventKind::DeviceHealth => match fields::<HealthFields>(event) {
                Some(health) => {
                    self.health.send_replace(health.status);
                }
                None => unreadable(device, event),
            },
            EventKind::Ready => match fields::<ReadyFields>(event) {
                Some(ready) => {
                    Heard::set(&self.heard.me);
                    self.me.send_replace(Some(ready.me));
                }
                None => unreadable(device, event),
            },
            EventKind::State => {
                match fields::<StateFields>(event).map(|fields| StateName::parse(&fields.state)) {
                    Some(Some(state)) => {
                        Heard::set(&self.heard.sending);
                        self.bell.set_sending(state == StateName::Ready);
                        if state != StateName::Qr {
                            Heard::set(&self.heard.qr);
                            self.qr.send_replace(None);
                            self.phone_code.send_replace(None);
                        }
                        if state == StateName::LoggedOut {
                            Heard::set(&self.heard.me);
                            self.me.send_replace(None);
                        }
                    }
                    _ => unreadable(device, event),
                }
            }
            _ => {}
        }
    }
}

impl Mirror {
    /// Whether the device shows the code `scan` presents: its QR code on show, or the code it
    /// gave for a phone number (whose number the owner checks).
    pub(super) fn shows(&self, scan: &Scan<'_>) -> bool {
        match scan {
            Scan::Qr(qr) => self
                .qr
                .borrow()
                .as_ref()
                .is_some_and(|shown| code_of(&shown.qr) == code_of(qr)),
            Scan::Code { code, .. } => {
                self.phone_code.borrow().as_deref() == Some(typed_code(code).as_str())
            }
        }
    }
}

/// The event's fields as `T`, if they read as one.
fn fields<T: for<'de> Deserialize<'de>>(event: &JournaledEvent) -> Option<T> {
    serde_json::from_str(event.payload.get()).ok()
}

/// An event of a known kind whose fields do not read: only a newer build's journal could
/// hold one, and the view keeps what it had.
fn unreadable(device: &DeviceId, event: &JournaledEvent) {
    tracing::warn!(device_id = %device, seq = event.seq, event = %event.kind, "an event another node journaled does not read");
}

/// The QR code a `qr` event shows.
fn current_qr(event: &JournaledEvent) -> Option<CurrentQr> {
    let fields = fields::<QrFields>(event)?;
    Some(CurrentQr {
        qr: fields.qr,
        image: fields.image,
        expires_at: fields.expires_at.parse().ok()?,
        attempt: fields.attempt,
        max_attempts: fields.max_attempts,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::event::EventKind;
    use crate::store::DeviceSource;
    use serde_json::json;

    fn mirror() -> (
        Mirror,
        watch::Receiver<Option<CurrentQr>>,
        watch::Receiver<Option<Me>>,
    ) {
        let (qr, shown) = watch::channel(None);
        let (me, account) = watch::channel(None);
        let mirror = Mirror {
            qr,
            phone_code: watch::channel(None).0,
            me,
            health: watch::channel(HealthStatus::Healthy).0,
            bell: Arc::default(),
            heard: Arc::default(),
        };
        (mirror, shown, account)
    }

    fn event(seq: u64, kind: EventKind, fields: serde_json::Value) -> JournaledEvent {
        let device = DeviceId::parse("phone").unwrap();
        let at = "2026-11-27T00:00:00.000Z".to_owned();
        JournaledEvent::from_fields(device, seq, kind, fields.to_string(), at).unwrap()
    }

    fn qr_event(seq: u64, code: &str) -> JournaledEvent {
        let fields = json!({ "qr": code, "image": "", "expiresAt": "2026-11-27T00:01:00.000Z",
            "attempt": seq, "maxAttempts": 5 });
        event(seq, EventKind::Qr, fields)
    }

    fn stored(state: StateName) -> DeviceRecord {
        let spec = serde_json::from_value(json!({ "name": "phone" })).unwrap();
        let id = DeviceId::parse("phone").unwrap();
        DeviceRecord {
            state,
            ..DeviceRecord::new(id, &spec, DeviceSource::Api)
        }
    }

    #[test]
    fn the_stored_device_fills_in_what_no_event_has_set_yet() {
        let (mirror, shown, account) = mirror();
        let record = DeviceRecord {
            me: Some(Me {
                id: "15550000001@c.us".into(),
                name: "Me".into(),
            }),
            ..stored(StateName::Qr)
        };
        mirror.start_from(&record, Some(&qr_event(1, "stored-code")));
        assert_eq!(
            shown.borrow().as_ref().map(|qr| qr.qr.as_str()),
            Some("stored-code")
        );
        assert_eq!(*account.borrow(), record.me);
    }

    #[test]
    fn a_code_heard_before_the_stored_device_is_read_back_is_kept() {
        let (mirror, shown, _) = mirror();
        let device = DeviceId::parse("phone").unwrap();
        // Read while the owner was in `qr` before its first code was journaled; the code
        // arrives as an event before the read's answer does.
        mirror.follow(&device, &qr_event(2, "new-code"));
        mirror.start_from(&stored(StateName::Qr), None);
        assert_eq!(
            shown.borrow().as_ref().map(|qr| qr.qr.as_str()),
            Some("new-code")
        );
        // An older code read back does not replace it either.
        mirror.start_from(&stored(StateName::Qr), Some(&qr_event(1, "old-code")));
        assert_eq!(
            shown.borrow().as_ref().map(|qr| qr.qr.as_str()),
            Some("new-code")
        );
    }

    #[test]
    fn a_device_heard_ready_shows_no_code_read_back_from_before_and_sends() {
        let (mirror, shown, _) = mirror();
        let device = DeviceId::parse("phone").unwrap();
        mirror.follow(
            &device,
            &event(3, EventKind::State, json!({ "state": "ready" })),
        );
        mirror.start_from(&stored(StateName::Qr), Some(&qr_event(1, "old-code")));
        assert_eq!(*shown.borrow(), None);
        assert!(mirror.bell.is_sending());
    }
}
