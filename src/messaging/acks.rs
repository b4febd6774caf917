//! What an ack of one of our messages changes beyond its row: the `message:ack` clients hear,
//! and the timing of the ack levels it reached, whether the upstream reported it (inbound) or
//! answered a send with it (an attempt's outcome).

use chrono::Utc;

use crate::metrics::ConnectorMetrics;
use crate::model::event::{EventData, MessageAck};
use crate::model::inbound::Inbound;
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

/// The message an ack or a receipt names, by its upstream id.
pub fn acked(item: &Inbound) -> Option<&str> {
    match item {
        Inbound::Ack { upstream_id, .. } | Inbound::ReadBy { upstream_id, .. } => Some(upstream_id),
        _ => None,
    }
}

/// Whether applying `item` changes nothing an ack reads of a message (its id, chat and ack)
/// but through [`AckSubjects`](crate::store::messages::AckSubjects): an ack, a receipt, what
/// only journals. Anything else may store a message or move one to another chat, so the
/// subjects a batch read before it are read again after it.
pub fn leaves_acked_alone(item: &Inbound) -> bool {
    matches!(
        item,
        Inbound::Ack { .. }
            | Inbound::ReadBy { .. }
            | Inbound::Typing { .. }
            | Inbound::Presence { .. }
            | Inbound::Reaction { .. }
    )
}
