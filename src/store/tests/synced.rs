//! On SQLite, whose log the syncer syncs after the commit: what reads the journal and the
//! webhook outbox sees a device's events only as far as the disk holds them.

use super::{disconnected, newest_delivery, open, subscription, succeeded};
use crate::model::DeviceId;
use crate::store::{journal, webhooks, Store};

/// The seqs of the demo device's journal a read finds, and the head it says.
async fn journal_read(store: &Store) -> (Vec<u64>, u64) {
    let demo = DeviceId::parse("demo").unwrap();
    let read = store
        .read(move |conn| journal::read_after(conn, &demo, 0, 10))
        .await
        .unwrap();
    let head = store
        .read(|conn| journal::head(conn, &DeviceId::parse("demo").unwrap()))
        .await
        .unwrap();
    assert_eq!(read.head, head);
    (read.events.iter().map(|event| event.seq).collect(), head)
}

/// The seqs of the deliveries the webhook sender would attempt now.
async fn sendable(store: &Store) -> Vec<u64> {
    let heads = store.read(webhooks::heads).await.unwrap();
    heads.iter().map(|head| head.delivery.seq).collect()
}

#[tokio::test]
async fn the_journal_and_its_webhooks_are_read_only_as_far_as_the_log_is_synced() {
    let (dir, store, _bus) = open();
    let demo = DeviceId::parse("demo").unwrap();
    store
        .write(|tx| tx.upsert_webhook(&subscription("wh_all", &["*"], &["*"], true)))
        .await
        .unwrap();
    let id = demo.clone();
    store
        .write(move |tx| tx.journal(&id, disconnected("first")).map(drop))
        .await
        .unwrap();
    assert_eq!(journal_read(&store).await, (vec![1], 1));
    assert_eq!(sendable(&store).await, [1]);
    let delivered = newest_delivery(&store).await;
    store
        .write(move |tx| tx.record_attempt(&delivered, &succeeded()).map(drop))
        .await
        .unwrap();

    // A commit that is made and not synced, as the writer's is until the syncer has synced the
    // log that holds it: made on a connection of the test's own, which no sync ever tells of.
    // It journals a copy of the event, with its delivery, as the device's next seq.
    let behind = rusqlite::Connection::open(dir.path().join("devicebridge.db")).unwrap();
    let columns: Vec<String> = behind
        .prepare("SELECT name FROM pragma_table_info('webhook_deliveries')")
        .unwrap()
        .query_map([], |row| row.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let copied: Vec<&str> = columns
        .iter()
        .map(|column| match column.as_str() {
            "id" => "id || '-next'",
            "seq" => "seq + 1",
            "status" => "'pending'",
            "delivered_at" => "NULL",
            other => other,
        })
        .collect();
    behind
        .execute_batch(&format!(
            "BEGIN;
             INSERT INTO events (key, kind, data, at)
                 SELECT key + 1, kind, data, at FROM events WHERE key = (SELECT MAX(key) FROM events);
             INSERT INTO webhook_deliveries ({}) SELECT {} FROM webhook_deliveries WHERE seq = 1;
             UPDATE device_seq SET last_seq = last_seq + 1 WHERE device_id = 'demo';
             COMMIT;",
            columns.join(", "),
            copied.join(", ")
        ))
        .unwrap();
    assert_eq!(
        journal_read(&store).await,
        (vec![1], 1),
        "an event the disk may not hold is not read"
    );
    assert_eq!(sendable(&store).await, [0; 0], "nor sent to a webhook");

    // The writer's next commit is synced before it is answered: everything before it is on
    // the disk, as the log is synced whole.
    let id = demo.clone();
    store
        .write(move |tx| tx.journal(&id, disconnected("third")).map(drop))
        .await
        .unwrap();
    assert_eq!(journal_read(&store).await, (vec![1, 2, 3], 3));
    assert_eq!(sendable(&store).await, [2]);
}
