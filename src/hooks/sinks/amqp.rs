//! `amqp`: RabbitMQ. A durable topic exchange (`devicebridge` unless renamed) is declared;
//! each event is published to it with the routing key `<deviceId>.<event>`, persistent, with
//! `message_id` `<deviceId>:<seq>`, on a channel in confirm mode: a page counts as sent once
//! the broker has confirmed all of it.

use lapin::options::{BasicPublishOptions, ConfirmSelectOptions, ExchangeDeclareOptions};
use lapin::types::FieldTable;
use lapin::{
    BasicProperties, Channel, Connection, ConnectionProperties, ExchangeKind, PublisherConfirm,
};

use super::{Outgoing, Publisher, SinkError};
use crate::store::sinks::SinkRecord;

/// AMQP's delivery mode of a message the broker writes to disk.
const PERSISTENT: u8 = 2;

pub(super) struct Amqp {
    /// Kept open for as long as the channel is used.
    _connection: Connection,
    channel: Channel,
    exchange: String,
}

pub(super) async fn connect(sink: &SinkRecord) -> Result<Box<dyn Publisher>, SinkError> {
    let connection = Connection::connect(&sink.url, ConnectionProperties::default())
        .await
        .map_err(SinkError::connect)?;
    let channel = connection
        .create_channel()
        .await
        .map_err(SinkError::connect)?;
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await
        .map_err(SinkError::connect)?;
    let durable = ExchangeDeclareOptions {
        durable: true,
        ..ExchangeDeclareOptions::default()
    };
    channel
        .exchange_declare(
            sink.target.as_str().into(),
            ExchangeKind::Topic,
            durable,
            FieldTable::default(),
        )
        .await
        .map_err(SinkError::connect)?;
    Ok(Box::new(Amqp {
        _connection: connection,
        channel,
        exchange: sink.target.clone(),
    }))
}

#[async_trait::async_trait]
impl Publisher for Amqp {
    async fn publish(&mut self, batch: &[Outgoing]) -> Result<(), SinkError> {
        let mut confirms: Vec<PublisherConfirm> = Vec::with_capacity(batch.len());
        for message in batch {
            let properties = BasicProperties::default()
                .with_message_id(message.id.as_str().into())
                .with_content_type("application/json".into())
                .with_delivery_mode(PERSISTENT);
            let confirm = self
                .channel
                .basic_publish(
                    self.exchange.as_str().into(),
                    format!("{}.{}", message.device, message.event).into(),
                    BasicPublishOptions::default(),
                    message.body.as_bytes(),
                    properties,
                )
                .await
                .map_err(SinkError::publish)?;
            confirms.push(confirm);
        }
        for confirm in confirms {
            let confirmation = confirm.await.map_err(SinkError::publish)?;
            if !confirmation.is_ack() {
                return Err(SinkError::Publish(
                    "the broker did not confirm a message (nack)".into(),
                ));
            }
        }
        Ok(())
    }
}
