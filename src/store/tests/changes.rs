//! A journal row kept as how it differs from the row of its kind before it
//! (`journal::changes`): the smaller row, read back as sent from any seq, never kept against
//! a row of a rolled-back batch, and never left by pruning without the row it is kept
//! against; on SQLite and on PostgreSQL.

use super::{demo_payloads_after, disconnected, our_message, published, Backend, Db};
use crate::bus::EventBus;
use crate::model::event::{Authenticated, EventData};
use crate::model::DeviceId;
use crate::store::{journal, sql, Store, StoreError};

/// A `disconnected` event whose reason differs from the others' in its number only.
fn lost(n: u64) -> EventData {
    disconnected(&format!(
        "the upstream closed the connection while the phone was away, attempt {n} of many"
    ))
}

fn authenticated() -> EventData {
    EventData::Authenticated(Authenticated {})
}

/// `message` as sent at one time whenever it is stored: the two messages of ours that a test
/// compares differ in their ids only, as two sent in the same millisecond do.
fn sent_at_noon(message: crate::model::Message) -> crate::model::Message {
    crate::model::Message {
        timestamp: "2026-01-02T12:00:00.000Z".into(),
        ..message
    }
}

/// A message of the contact's, `id`, like `ours` but for who sent it and its upstream id.
fn theirs_like(ours: &crate::model::Message, id: &str) -> crate::model::Message {
    crate::model::Message {
        id: id.into(),
        upstream_id: Some("false_15550000002@c.us_3EB0C4A1".into()),
        from: "15550000002@c.us".into(),
        from_me: false,
        ..ours.clone()
    }
}

/// Journals each group of `events` in a write of its own; their payloads as published.
async fn journal_in_writes(
    store: &Store,
    bus: &EventBus,
    writes: Vec<Vec<EventData>>,
) -> Vec<String> {
    let mut live = bus.subscribe();
    let count: usize = writes.iter().map(Vec::len).sum();
    for events in writes {
        store
            .write(move |tx| {
                let demo = DeviceId::parse("demo").unwrap();
                for event in events {
                    tx.journal(&demo, event)?;
                }
                Ok(())
            })
            .await
            .unwrap();
    }
    published(&mut live, count).await
}

/// Each journal row's stored bytes, in seq order.
async fn rows(store: &Store) -> Vec<Vec<u8>> {
    store
        .read(|conn| {
            let sql = "SELECT data FROM events ORDER BY key";
            conn.query_all(sql, sql::params![], |row| row.get(0))
        })
        .await
        .unwrap()
}

on_both! {
async fn a_row_like_the_one_of_its_kind_before_is_kept_as_changes_and_read_back_from_any_seq(backend) {
    let db = Db::new(backend);
    let (store, bus) = db.open();
    let writes = vec![
        vec![lost(1)],
        vec![lost(2)],
        vec![authenticated()],
        vec![lost(3), lost(4)],
    ];
    let sent = journal_in_writes(&store, &bus, writes).await;

    let rows = rows(&store).await;
    let kept_as_changes: Vec<bool> = rows.iter().map(|row| row[0] == 0).collect();
    assert_eq!(kept_as_changes, [false, true, false, true, true]);
    assert!(
        rows[1].len() * 4 < rows[0].len(),
        "the row kept as changes is the smaller: {} bytes against {}",
        rows[1].len(),
        rows[0].len()
    );
    // From every seq, a row at a time too, so that the earlier row is outside the read.
    for after in 0..sent.len() as u64 {
        for limit in [1, 100] {
            let (read, complete) = demo_payloads_after(&store, after, limit).await;
            assert!(complete);
            let expected = &sent[after as usize..];
            assert_eq!(read, expected[..expected.len().min(limit as usize)]);
        }
    }
}

async fn our_message_is_kept_against_our_last_one_whatever_the_contact_sent_between(backend) {
    let db = Db::new(backend);
    let (store, bus) = db.open();
    let mut live = bus.subscribe();
    store
        .write(|tx| {
            let demo = DeviceId::parse("demo").unwrap();
            let first = our_message(tx, &demo, ("msg_01JCHANGES000000000000001", "hi"), None)?;
            tx.journal(&demo, EventData::Message(sent_at_noon(first)))
        })
        .await
        .unwrap();
    store
        .write(|tx| {
            let demo = DeviceId::parse("demo").unwrap();
            let mine = our_message(tx, &demo, ("msg_01JCHANGES000000000000002", "hi"), None)?;
            let mine = sent_at_noon(mine);
            let theirs = theirs_like(&mine, "msg_01JCHANGES000000000000003");
            tx.journal(&demo, EventData::Message(theirs))?;
            tx.journal(&demo, EventData::Message(mine))
        })
        .await
        .unwrap();
    let sent = published(&mut live, 3).await;
    let rows = rows(&store).await;
    assert_ne!(rows[1][0], 0, "theirs is kept whole");
    assert_eq!(journal::changes::kept_back(&rows[2]), Some(2), "ours, against ours");
    for after in 0..3 {
        assert_eq!(demo_payloads_after(&store, after, 1).await.0, sent[after as usize..][..1]);
    }
}

async fn a_row_whose_earlier_row_the_writer_forgot_is_kept_against_the_journals_on_sqlite_only(backend) {
    let db = Db::new(backend);
    let demo = || DeviceId::parse("demo").unwrap();
    let mine = move |tx: &mut crate::store::Tx<'_>, id: &str| {
        our_message(tx, &demo(), (id, "hi"), None).map(sent_at_noon)
    };
    let (store, bus) = db.open();
    let mut live = bus.subscribe();
    store
        .write(move |tx| {
            let first = mine(tx, "msg_01JFORGOT0000000000000001")?;
            let theirs = theirs_like(&first, "msg_01JFORGOT0000000000000002");
            tx.journal(&demo(), EventData::Message(first))?;
            tx.journal(&demo(), EventData::Message(theirs))?;
            tx.journal(&demo(), lost(1))
        })
        .await
        .unwrap();
    let mut sent = published(&mut live, 3).await;
    // A writer that starts remembers no row, as one that has had more strands written to
    // since than it keeps.
    store.close().await;
    let (store, bus) = db.open();
    let mut live = bus.subscribe();
    store
        .write(move |tx| {
            let second = mine(tx, "msg_01JFORGOT0000000000000003")?;
            tx.journal(&demo(), EventData::Message(second))?;
            tx.journal(&demo(), lost(2))
        })
        .await
        .unwrap();
    sent.extend(published(&mut live, 2).await);

    let rows = rows(&store).await;
    let backs: Vec<Option<u64>> = rows[3..]
        .iter()
        .map(|row| journal::changes::kept_back(row))
        .collect();
    match backend {
        // Ours against ours, past theirs; the lost connection against the one before.
        Backend::Sqlite => assert_eq!(backs, [Some(3), Some(2)]),
        // A read back would be a round trip in the writer's batch.
        Backend::Postgres => assert_eq!(backs, [None, None]),
    }
    for after in 0..sent.len() as u64 {
        assert_eq!(demo_payloads_after(&store, after, 1).await.0, sent[after as usize..][..1]);
    }
}

async fn a_row_is_never_kept_against_a_row_of_a_rolled_back_batch(backend) {
    let db = Db::new(backend);
    let (store, bus) = db.open();
    let unlike = || disconnected("a reason unlike the one before, which no earlier row shares");
    let mut sent = journal_in_writes(&store, &bus, vec![vec![lost(1)]]).await;
    let failing = store.write(move |tx| {
        let demo = DeviceId::parse("demo").unwrap();
        tx.journal(&demo, unlike())?;
        Err::<(), _>(StoreError::Closed)
    });
    assert!(failing.await.is_err());
    // Seq 2, which the rolled-back row had, goes to another event; the same event as the
    // rolled-back one after it is kept whole.
    let writes = vec![vec![authenticated()], vec![unlike()]];
    sent.extend(journal_in_writes(&store, &bus, writes).await);
    assert_ne!(rows(&store).await[2][0], 0, "seq 3 is kept whole");
    assert_eq!(demo_payloads_after(&store, 0, 100).await, (sent, true));
}

async fn pruning_keeps_every_row_that_a_kept_row_is_kept_against(backend) {
    let db = Db::new(backend);
    let (store, bus) = db.open();
    let newest = journal::changes::REACH;
    let mut writes = vec![vec![lost(1)], vec![lost(2)]];
    writes.extend((0..newest).map(|_| vec![authenticated()]));
    let sent = journal_in_writes(&store, &bus, writes).await;
    assert_eq!(rows(&store).await[1][0], 0, "seq 2 is kept against seq 1");
    let a_day_ago = chrono::Utc::now() - chrono::Duration::days(1);

    // Keeping one more than the newest would keep seq 2 and drop seq 1.
    assert_eq!(store.prune_journal(newest + 1, a_day_ago).await.unwrap(), 0);
    assert_eq!(demo_payloads_after(&store, 0, 100).await, (sent.clone(), true));
    // Once no kept row is kept against it, it goes with the rest.
    assert_eq!(store.prune_journal(newest, a_day_ago).await.unwrap(), 2);
    assert_eq!(demo_payloads_after(&store, 2, 100).await, (sent[2..].to_vec(), true));
}
}
