//! The store against a real SQLite file.

use super::*;
use crate::device::DeviceId;
use crate::event::EventData;

fn open() -> (tempfile::TempDir, Store, EventBus) {
    let dir = tempfile::tempdir().unwrap();
    let bus = EventBus::new();
    let store = Store::open(dir.path(), Synchronous::Full, bus.clone()).unwrap();
    (dir, store, bus)
}

fn disconnected(reason: &str) -> EventData {
    EventData::Disconnected {
        reason: reason.into(),
    }
}

#[tokio::test]
async fn seqs_are_gap_free_even_when_a_write_fails() {
    let (_dir, store, bus) = open();
    let mut events = bus.subscribe();
    let demo = DeviceId::parse("demo").unwrap();
    let (a, b, c) = (demo.clone(), demo.clone(), demo.clone());
    // Three concurrent writes land in one batch; the middle one fails after journaling.
    let first = store.write(move |tx| tx.journal(&a, disconnected("one")));
    let failing = store.write(move |tx| {
        tx.journal(&b, disconnected("rolled back"))?;
        Err::<(), _>(StoreError::Closed)
    });
    let third = store.write(move |tx| tx.journal(&c, disconnected("two")));
    let (first, failing, third) = tokio::join!(first, failing, third);
    assert!(failing.is_err());
    assert_eq!((first.unwrap(), third.unwrap()), (1, 2));

    let read = store
        .read(move |conn| journal::read_after(conn, &demo, 0, 10))
        .await
        .unwrap();
    let reasons: Vec<_> = read
        .events
        .iter()
        .map(|e| e.data["reason"].clone())
        .collect();
    assert_eq!(reasons, ["one", "two"]);
    assert_eq!((read.head, read.complete), (2, true));
    // Published after commit, in order, without the rolled-back one.
    assert_eq!(events.recv().await.unwrap().seq, 1);
    assert_eq!(events.recv().await.unwrap().seq, 2);
}

#[tokio::test]
async fn pruned_journals_report_incomplete_reads() {
    let (_dir, store, _bus) = open();
    let demo = DeviceId::parse("demo").unwrap();
    for n in 0..5 {
        let id = demo.clone();
        store
            .write(move |tx| tx.journal(&id, disconnected(&n.to_string())))
            .await
            .unwrap();
    }
    let removed = store
        .write(|tx| tx.prune_journal(2, chrono::Utc::now() - chrono::Duration::days(1)))
        .await
        .unwrap();
    assert_eq!(removed, 3);
    let (a, b) = (demo.clone(), demo.clone());
    let from_start = store
        .read(move |conn| journal::read_after(conn, &a, 0, 10))
        .await
        .unwrap();
    assert!(!from_start.complete);
    let recent = store
        .read(move |conn| journal::read_after(conn, &b, 3, 10))
        .await
        .unwrap();
    assert!(recent.complete);
    assert_eq!(
        recent.events.iter().map(|e| e.seq).collect::<Vec<_>>(),
        [4, 5]
    );
}

#[tokio::test]
async fn close_commits_what_was_queued_and_data_survives_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let demo = DeviceId::parse("demo").unwrap();
    {
        let store = Store::open(dir.path(), Synchronous::Full, EventBus::new()).unwrap();
        let id = demo.clone();
        let pending = tokio::spawn({
            let store = store.clone();
            async move {
                store
                    .write(move |tx| tx.journal(&id, disconnected("kept")))
                    .await
            }
        });
        pending.await.unwrap().unwrap();
        store.close().await;
    }
    let store = Store::open(dir.path(), Synchronous::Full, EventBus::new()).unwrap();
    let read = store
        .read(move |conn| journal::read_after(conn, &demo, 0, 10))
        .await
        .unwrap();
    assert_eq!(read.events.len(), 1);
}

#[test]
fn a_newer_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("devicebridge.db");
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.pragma_update(None, "user_version", 999).unwrap();
    drop(conn);
    match Store::open(dir.path(), Synchronous::Full, EventBus::new()) {
        Err(StoreError::NewerSchema { found: 999, .. }) => {}
        other => panic!("expected a refusal, got {:?}", other.err()),
    }
}
