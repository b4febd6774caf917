//! `nats`: JetStream. The stream (`DEVICEBRIDGE` unless renamed) is made over
//! `devicebridge.>` if it is missing; each event goes to `devicebridge.<deviceId>.<event>`
//! (`:` in an event's name as `_`: `message:ack` is `message_ack`), with `Nats-Msg-Id`, which
//! the stream dedupes within its duplicate window.

use async_nats::jetstream::{self, context::PublishAckFuture};

use super::{Outgoing, Publisher, SinkError, CONNECT_TIMEOUT};
use crate::store::sinks::SinkRecord;

/// The subjects every stream of events is made over.
const SUBJECTS: &str = "devicebridge.>";

pub(super) struct Nats {
    jetstream: jetstream::Context,
}

/// The subject of one event.
fn subject(message: &Outgoing) -> String {
    format!(
        "devicebridge.{}.{}",
        message.device,
        message.event.replace(':', "_")
    )
}

pub(super) async fn connect(sink: &SinkRecord) -> Result<Box<dyn Publisher>, SinkError> {
    let client = async_nats::ConnectOptions::new()
        .connection_timeout(CONNECT_TIMEOUT)
        .connect(sink.url.as_str())
        .await
        .map_err(SinkError::connect)?;
    let jetstream = jetstream::new(client);
    jetstream
        .get_or_create_stream(jetstream::stream::Config {
            name: sink.target.clone(),
            subjects: vec![SUBJECTS.to_owned()],
            ..Default::default()
        })
        .await
        .map_err(SinkError::connect)?;
    Ok(Box::new(Nats { jetstream }))
}

#[async_trait::async_trait]
impl Publisher for Nats {
    async fn publish(&mut self, batch: &[Outgoing]) -> Result<(), SinkError> {
        // Published one after the other on the connection, in order; the acknowledgements are
        // awaited together, so a page costs one round trip rather than one per event.
        let mut acks: Vec<PublishAckFuture> = Vec::with_capacity(batch.len());
        for message in batch {
            let mut headers = async_nats::HeaderMap::new();
            headers.insert("Nats-Msg-Id", message.id.as_str());
            let ack = self
                .jetstream
                .publish_with_headers(subject(message), headers, message.body.clone().into())
                .await
                .map_err(SinkError::publish)?;
            acks.push(ack);
        }
        for ack in acks {
            ack.await.map_err(SinkError::publish)?;
        }
        Ok(())
    }
}
