//! The relay's view of a message it sent: awaiting its server ack from the outcome that sent
//! it until its first ack, on SQLite and on PostgreSQL. On PostgreSQL the acks after the
//! first change no column an index names, so they update the row in place.

use super::{our_text, Backend, Db};
use crate::model::{Ack, DeviceId, RelayStatus};
use crate::store::messages::{self, RelayUpdate};
use crate::store::{sql, Store};

const SENT_AT: &str = "2026-01-01T00:00:01.000Z";

async fn unacked(store: &Store, device: &DeviceId) -> messages::Unacked {
    let device = device.clone();
    store
        .read(move |conn| messages::unacked(conn, &device))
        .await
        .unwrap()
}

/// Merges `ack` into message `msg_1`, found by its upstream id `up_1`; on PostgreSQL, also
/// how many rows of messages its transaction updated in place ("HOT"), as the writer's
/// backend counts them before the commit.
async fn ack(store: &Store, device: &DeviceId, ack: Ack) -> Option<i64> {
    let device = device.clone();
    store
        .write(move |tx| {
            let mut subject = messages::ack_subject(tx.conn(), &device, "up_1")?.unwrap();
            tx.merge_ack(&device, &mut subject, ack)?;
            if !tx.conn().is_postgres() {
                return Ok(None);
            }
            tx.conn()
                .query_one(
                    "SELECT n_tup_hot_upd FROM pg_stat_xact_user_tables
                     WHERE relname = 'messages'",
                    sql::params![],
                    |row| row.get::<i64>(0),
                )
                .map(Some)
        })
        .await
        .unwrap()
}

on_both! {
async fn a_sent_message_awaits_its_server_ack_until_any_ack_comes(backend) {
    let db = Db::new(backend);
    let (store, _bus) = db.open();
    let device = DeviceId::parse("demo").unwrap();
    let id = device.clone();
    store
        .write(move |tx| {
            our_text(tx, &id, ("msg_1", "hello"), None)?;
            let sent = RelayUpdate {
                attempts: 1,
                next_attempt_at: None,
                sent_at: Some(SENT_AT),
                upstream_id: Some("up_1"),
                ack: None,
            };
            tx.set_relay_status(&id, "msg_1", RelayStatus::Sent, &sent)
        })
        .await
        .unwrap();
    let waiting = unacked(&store, &device).await;
    assert_eq!(waiting.count, 1);
    assert_eq!(waiting.oldest, Some(crate::store::parse_time(SENT_AT)));
    let id = device.clone();
    let overdue = store
        .read(move |conn| messages::overdue_acks(conn, &id, "2026-01-01T00:00:02.000Z"))
        .await
        .unwrap();
    assert_eq!(overdue.len(), 1);

    let first = ack(&store, &device, Ack::Server).await;
    assert_eq!(unacked(&store, &device).await.count, 0);
    let second = ack(&store, &device, Ack::Device).await;
    assert_eq!(unacked(&store, &device).await.count, 0);
    if backend_is_postgres(&db) {
        assert_eq!(first, Some(0), "the first ack leaves the index of messages awaiting one");
        assert_eq!(second, Some(1), "a later ack updates the row in place");
    }
}
}

fn backend_is_postgres(db: &Db) -> bool {
    db.url.is_some()
}
