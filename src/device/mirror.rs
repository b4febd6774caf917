//! What this node knows of a device whose actor runs on another node of the cluster: the QR
//! code it shows (and the code it gave for a phone number), the account it is linked to, its
//! health and whether it sends. Callers read them from the
//! device's handle as they would for a device that runs here; the owner's events, which reach
//! this node's bus from the journal, keep them up to date.

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
    /// its last `qr` event showed if it is still showing one.
    pub(super) fn start_from(&self, record: &DeviceRecord, latest_qr: Option<&JournaledEvent>) {
        self.me.send_replace(record.me.clone());
        self.bell.set_sending(record.state == StateName::Ready);
        if record.state == StateName::Qr {
            self.qr.send_replace(latest_qr.and_then(current_qr));
        }
    }

    /// What one event of the device changes in the view.
    pub(super) fn follow(&self, device: &DeviceId, event: &JournaledEvent) {
        match event.kind {
            EventKind::Qr => {
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
                    self.me.send_replace(Some(ready.me));
                }
                None => unreadable(device, event),
            },
            EventKind::State => {
                match fields::<StateFields>(event).map(|fields| StateName::parse(&fields.state)) {
                    Some(Some(state)) => {
                        self.bell.set_sending(state == StateName::Ready);
                        if state != StateName::Qr {
                            self.qr.send_replace(None);
                            self.phone_code.send_replace(None);
                        }
                        if state == StateName::LoggedOut {
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
