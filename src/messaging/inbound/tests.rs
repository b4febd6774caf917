//! A batch of upstream reports applied in one write: its acks read their messages together,
//! before the batch, and must still see what the batch did before them.

use super::*;
use crate::model::content::Content;
use crate::model::event::EventKind;
use crate::model::spec::ConnectorKind;
use crate::model::RelayStatus;
use crate::store::Store;

const CHAT: &str = "15550000002@c.us";

struct Fixture {
    store: Store,
    device: DeviceId,
    _dir: tempfile::TempDir,
}

/// A store with one chat and, for each of `upstream_ids`, a message we sent, not acked yet.
fn fixture(upstream_ids: &[&'static str]) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = crate::config::Settings::default();
    settings.storage.data_dir = dir.path().to_owned();
    let store = Store::open(&settings.storage, crate::bus::EventBus::new()).unwrap();
    let device = DeviceId::parse("demo").unwrap();
    Fixture {
        store,
        device,
        _dir: dir,
    }
    .with_sent(upstream_ids)
}

impl Fixture {
    fn with_sent(self, upstream_ids: &[&'static str]) -> Self {
        let (device, upstream_ids) = (self.device.clone(), upstream_ids.to_vec());
        block_on(self.store.write(move |tx| {
            let now = rfc3339(Utc::now());
            tx.upsert_chat(&device, CHAT, "Alice", "direct", &now)?;
            for (n, upstream_id) in upstream_ids.into_iter().enumerate() {
                let id = format!("msg_{n}");
                tx.insert_message(
                    &device,
                    &NewMessage {
                        id: &id,
                        chat_id: CHAT,
                        upstream_id: Some(upstream_id),
                        from: "15550000001@c.us",
                        from_me: true,
                        kind: "text",
                        body: "hello",
                        media: None,
                        template: None,
                        content: &Content::default(),
                        reply_to: None,
                        timestamp: &now,
                        temp_id: None,
                        idempotency_key: None,
                        relay: Some(RelayStatus::Sent),
                        seen: true,
                        now: &now,
                    },
                )?;
            }
            Ok(())
        }))
        .unwrap();
        self
    }

    /// Applies `batch` in one write; the `message:ack` levels it journaled, in order.
    fn apply(&self, batch: Vec<Inbound>) -> Vec<(String, i64)> {
        let device = self.device.clone();
        let from = block_on(self.store.read({
            let device = device.clone();
            move |conn| store::journal::head(conn, &device)
        }))
        .unwrap();
        block_on(self.store.write(move |tx| {
            let metrics = crate::metrics::Metrics::new(Default::default());
            let metrics = metrics.connector(ConnectorKind::Simulator);
            apply(tx, &device, &batch, &DeviceFilters::default(), &metrics).map(drop)
        }))
        .unwrap();
        let device = self.device.clone();
        let read = block_on(
            self.store
                .read(move |conn| store::journal::read_after(conn, &device, from, 100)),
        )
        .unwrap();
        read.events
            .iter()
            .filter(|event| event.kind == EventKind::MessageAck)
            .map(|event| {
                let fields = event.fields();
                let id = fields["messageId"].as_str().unwrap().to_owned();
                (id, fields["ack"].as_i64().unwrap())
            })
            .collect()
    }

    fn ack_of(&self, upstream_id: &'static str) -> i64 {
        let device = self.device.clone();
        block_on(
            self.store
                .read(move |conn| store::messages::by_upstream_id(conn, &device, upstream_id)),
        )
        .unwrap()
        .unwrap()
        .ack
    }
}

fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(future)
}

fn ack(upstream_id: &str, ack: Ack) -> Inbound {
    Inbound::Ack {
        upstream_id: upstream_id.into(),
        ack,
        by: None,
    }
}

#[test]
fn acks_of_one_message_in_one_batch_only_move_it_forward() {
    let fixture = fixture(&["up-1", "up-2"]);
    let journaled = fixture.apply(vec![
        ack("up-1", Ack::Device),
        ack("up-2", Ack::Server),
        ack("up-1", Ack::Server),
        ack("up-2", Ack::Device),
    ]);
    let (device, server) = (Ack::Device.level(), Ack::Server.level());
    assert_eq!(
        journaled,
        [
            ("msg_0".to_owned(), device),
            ("msg_1".to_owned(), server),
            ("msg_1".to_owned(), device)
        ],
        "the later server ack of msg_0 is no news: the batch's device ack came first"
    );
    assert_eq!(fixture.ack_of("up-1"), device);
    assert_eq!(fixture.ack_of("up-2"), device);
}

#[test]
fn an_ack_finds_a_message_the_same_batch_stored_before_it() {
    let fixture = fixture(&[]);
    let from_phone = Incoming {
        upstream_id: "up-phone".into(),
        chat_id: CHAT.into(),
        chat_name: None,
        group: false,
        from: "15550000001@c.us".into(),
        from_name: None,
        from_me: true,
        kind: "text".into(),
        body: "sent from the phone".into(),
        media: None,
        content: Content::default(),
        reply_to: None,
        timestamp: Utc::now(),
    };
    let journaled = fixture.apply(vec![
        ack("up-phone", Ack::Read),
        Inbound::Message(Box::new(from_phone)),
        ack("up-phone", Ack::Read),
    ]);
    // The first ack names a message not stored yet; the second finds it.
    assert_eq!(journaled.len(), 1, "{journaled:?}");
    assert_eq!(journaled[0].1, Ack::Read.level());
    assert_eq!(fixture.ack_of("up-phone"), Ack::Read.level());
}
