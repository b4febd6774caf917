//! `redis`: a Redis Stream (`devicebridge:events` unless renamed), one `XADD` per event with
//! the fields `id` (`<deviceId>:<seq>`, for consumers to dedupe by), `type`, `deviceId`, `seq`
//! and `envelope` (the event's JSON).

use redis::aio::MultiplexedConnection;

use super::{Outgoing, Publisher, SinkError, CONNECT_TIMEOUT};
use crate::store::sinks::SinkRecord;

pub(super) struct Redis {
    connection: MultiplexedConnection,
    key: String,
}

pub(super) async fn connect(sink: &SinkRecord) -> Result<Box<dyn Publisher>, SinkError> {
    let client = redis::Client::open(sink.url.as_str()).map_err(SinkError::connect)?;
    let config = redis::AsyncConnectionConfig::new().set_connection_timeout(Some(CONNECT_TIMEOUT));
    let connection = client
        .get_multiplexed_async_connection_with_config(&config)
        .await
        .map_err(SinkError::connect)?;
    Ok(Box::new(Redis {
        connection,
        key: sink.target.clone(),
    }))
}

#[async_trait::async_trait]
impl Publisher for Redis {
    async fn publish(&mut self, batch: &[Outgoing]) -> Result<(), SinkError> {
        // One pipeline: the entries are added in order, in one round trip.
        let mut pipeline = redis::pipe();
        for message in batch {
            pipeline
                .cmd("XADD")
                .arg(&self.key)
                .arg("*")
                .arg("id")
                .arg(&message.id)
                .arg("type")
                .arg(message.event)
                .arg("deviceId")
                .arg(message.device.as_str())
                .arg("seq")
                .arg(message.seq)
                .arg("envelope")
                .arg(&message.body)
                .ignore();
        }
        pipeline
            .query_async::<()>(&mut self.connection)
            .await
            .map_err(SinkError::publish)
    }
}
