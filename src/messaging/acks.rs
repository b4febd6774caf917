//! What an ack of one of our messages changes beyond its row: the `message:ack` clients hear,
//! and the timing of the ack levels it reached, whether the upstream reported it (inbound) or
//! answered a send with it (an attempt's outcome).

use chrono::Utc;

use crate::metrics::ConnectorMetrics;
use crate::model::event::{EventData, MessageAck};
use crate::model::{Ack, DeviceId};
use crate::store::messages::AckSubject;
use crate::store::{StoreResult, Tx};

/// Times the acks one of our messages reached as its ack went from `before` to what `subject`
/// has now, from the moment it was accepted for sending: its server ack, its device ack, or
/// both at once when the upstream reports the device ack first.
pub fn time_acks(subject: &AckSubject, before: Ack, metrics: &ConnectorMetrics) {
    let Some(accepted_at) = subject.accepted_at else {
        return;
    };
    let taken = (Utc::now() - accepted_at).to_std().unwrap_or_default();
    for (level, series) in [
        (Ack::Server, &metrics.server_ack),
        (Ack::Device, &metrics.device_ack),
    ] {
        if before < level && level <= subject.ack {
            series.observe_duration(taken);
        }
    }
}

/// `message:ack` for a message whose ack just changed.
pub fn journal_ack(tx: &mut Tx<'_>, device: &DeviceId, subject: &AckSubject) -> StoreResult<()> {
    tx.journal(
        device,
        EventData::MessageAck(MessageAck {
            message_id: subject.id.clone(),
            upstream_id: subject.upstream_id.clone(),
            chat_id: subject.chat_id.clone(),
            ack: subject.ack.level(),
            ack_name: subject.ack.name(),
        }),
    )?;
    Ok(())
}
