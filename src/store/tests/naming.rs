//! A `chat:update` row that names the `message` row journaled with it (`journal::naming`):
//! read back whole from any seq, and never left by pruning without the row it names; on
//! SQLite and on PostgreSQL.

use super::{
    chat, demo_payloads_after, disconnected, our_message, published, replayed_payloads, Backend, Db,
};
use crate::bus::EventBus;
use crate::model::event::EventData;
use crate::model::{Ack, DeviceId};
use crate::store::{journal, sql, Store};

/// In one write: our message (seq 1), another event (2), the update of the message's chat
/// naming it (3) and the update of a chat whose last message is that message acked since (4),
/// which cannot name it. Their payloads as published.
async fn message_and_its_chats_update(store: &Store, bus: &EventBus) -> Vec<String> {
    let mut live = bus.subscribe();
    store
        .write(|tx| {
            let demo = DeviceId::parse("demo").unwrap();
            let message = our_message(tx, &demo, ("msg_1", "hello"), None)?;
            tx.journal(&demo, EventData::Message(message.clone()))?;
            tx.journal(&demo, disconnected("connection_lost"))?;
            let mut its_chat = chat("15550000002@c.us", 0);
            its_chat.last_message = Some(message.clone());
            tx.journal(&demo, EventData::ChatUpdate(its_chat))?;
            let mut acked = chat("15550000003@c.us", 0);
            acked.last_message = Some(crate::model::Message {
                ack: Ack::Server.level(),
                ack_name: Ack::Server.name(),
                ..message
            });
            tx.journal(&demo, EventData::ChatUpdate(acked))
        })
        .await
        .unwrap();
    published(&mut live, 4).await
}

on_both! {
async fn a_chats_update_names_its_message_row_and_reads_back_whole_from_any_seq(backend) {
    let db = Db::new(backend);
    let (store, bus) = db.open();
    let sent = message_and_its_chats_update(&store, &bus).await;

    let rows: Vec<(Vec<u8>, String)> = store
        .read(|conn| {
            let sql = "SELECT data FROM events ORDER BY key";
            conn.query_all(sql, sql::params![], |row| {
                let data: Vec<u8> = row.get(0)?;
                Ok((data.clone(), journal::packing::unpack(data)?))
            })
        })
        .await
        .unwrap();
    assert_eq!(journal::naming::named(&rows[2].1), Some(2), "{:?}", rows[2].1);
    assert_eq!(journal::naming::named(&rows[3].1), None, "{:?}", rows[3].1);
    assert!(
        rows[2].0.len() + 20 < rows[3].0.len(),
        "the row naming its message is the smaller: {} bytes against {}",
        rows[2].0.len(),
        rows[3].0.len()
    );

    let demo = DeviceId::parse("demo").unwrap();
    assert_eq!(replayed_payloads(&store, demo).await, sent);
    // The named row outside the read: it is read on its own.
    for after in 1..=3 {
        let (read, complete) = demo_payloads_after(&store, after, 100).await;
        assert!(complete);
        assert_eq!(read, sent[after as usize..], "after seq {after}");
    }
}

async fn pruning_keeps_every_row_that_a_kept_row_names(backend) {
    let db = Db::new(backend);
    let (store, bus) = db.open();
    let sent = message_and_its_chats_update(&store, &bus).await;
    let a_day_ago = chrono::Utc::now() - chrono::Duration::days(1);

    // Keeping the newest two or three would drop the message the update at seq 3 names.
    for keep in [2, 3] {
        assert_eq!(store.prune_journal(keep, a_day_ago).await.unwrap(), 0);
        assert_eq!(demo_payloads_after(&store, 0, 100).await, (sent.clone(), true));
    }
    // Once no kept row names it, it goes with the rest, but for the newest events, which the
    // rows after them may be kept against.
    let demo = DeviceId::parse("demo").unwrap();
    let newest = journal::changes::REACH;
    store
        .write(move |tx| {
            for n in 0..newest {
                tx.journal(&demo, disconnected(&format!("again {n}")))?;
            }
            Ok(())
        })
        .await
        .unwrap();
    assert_eq!(store.prune_journal(2, a_day_ago).await.unwrap(), 4);
    let (kept, complete) = demo_payloads_after(&store, 4, 100).await;
    assert!(complete);
    assert_eq!(kept.len() as u64, newest);
}
}
