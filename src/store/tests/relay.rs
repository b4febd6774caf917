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
                sent_at: Some(crate::store::parse_time(SENT_AT)),
                upstream_id: Some("up_1"),
                ack: None,
            };
            tx.set_relay_status(&id, ("msg_1", None), RelayStatus::Sent, &sent)
        })
        .await
        .unwrap();
    let waiting = unacked(&store, &device).await;
    assert_eq!(waiting.count, 1);
    assert_eq!(waiting.oldest, Some(crate::store::parse_time(SENT_AT)));
    let id = device.clone();
    let overdue = store
        .read(move |conn| messages::overdue_acks(conn, &id, crate::store::parse_time("2026-01-01T00:00:02.000Z")))
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

async fn an_ack_finds_its_message_at_the_row_kept_for_it_or_else_by_its_upstream_id(backend) {
    let db = Db::new(backend);
    let (store, _bus) = db.open();
    let device = DeviceId::parse("demo").unwrap();
    let id = device.clone();
    store
        .write(move |tx| {
            for message in ["msg_1", "msg_2", "msg_3"] {
                our_text(tx, &id, (message, "hello"), None)?;
                let queued = RelayUpdate::default();
                tx.set_relay_status(&id, (message, None), RelayStatus::Queued, &queued)?;
            }
            Ok(())
        })
        .await
        .unwrap();
    let id = device.clone();
    let queue = store
        .read(move |conn| messages::relay_queue(conn, &id, 10))
        .await
        .unwrap();
    let order: Vec<&str> = queue.iter().map(|queued| queued.message.id.as_str()).collect();
    assert_eq!(order, ["msg_1", "msg_2", "msg_3"], "the queue in the order stored");
    let rows: Vec<Option<i64>> = queue.iter().map(|queued| queued.rowid).collect();
    assert_eq!(rows.iter().all(Option::is_some), !backend_is_postgres(&db), "{rows:?}");
    let id = device.clone();
    let subjects = store
        .write(move |tx| {
            // The third is stored with the first's row, as after the file was rebuilt.
            let stale = [queue[0].rowid, queue[1].rowid, queue[0].rowid];
            for ((queued, rowid), upstream_id) in queue.iter().zip(stale).zip(["up_1", "up_2", "up_3"]) {
                let sent = RelayUpdate {
                    attempts: 1,
                    sent_at: Some(crate::store::parse_time(SENT_AT)),
                    upstream_id: Some(upstream_id),
                    ..RelayUpdate::default()
                };
                let row = (queued.message.id.as_str(), rowid);
                tx.set_relay_status(&id, row, RelayStatus::Sent, &sent)?;
            }
            if let (Some(first), Some(second)) = (rows[0], rows[1]) {
                assert_eq!(tx.sent_rows.row_of(&id, "up_1"), Some(first));
                // Kept at another message's row: that one is not the message acked.
                tx.sent_rows.remember(&id, "up_1", second);
            }
            let upstream_ids = ["up_1", "up_2", "up_3", "up_4"];
            let subjects = messages::AckSubjects::read(tx, &id, upstream_ids)?;
            upstream_ids
                .map(|upstream_id| subjects.get(tx, &id, upstream_id))
                .into_iter()
                .map(|subject| Ok(subject?.map(|subject| subject.id)))
                .collect::<crate::store::StoreResult<Vec<_>>>()
        })
        .await
        .unwrap();
    assert_eq!(
        subjects,
        [Some("msg_1"), Some("msg_2"), Some("msg_3"), None].map(|id| id.map(str::to_owned))
    );
}
}

fn backend_is_postgres(db: &Db) -> bool {
    db.url.is_some()
}
