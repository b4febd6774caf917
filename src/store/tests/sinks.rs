//! Event sinks' cursors as the store keeps them: where a new sink starts, its lag, a cursor
//! that never goes back, and the journal kept for an enabled sink's backlog whatever the
//! retention; on SQLite and on PostgreSQL.

use chrono::Utc;

use super::{disconnected, stored_device, Backend, Db};
use crate::model::event::EventPattern;
use crate::model::sink::SinkKind;
use crate::model::DeviceId;
use crate::store::sinks::{self, Behind, SinkRecord};
use crate::store::{journal, Store};

fn sink(id: &str) -> SinkRecord {
    SinkRecord {
        id: id.into(),
        kind: SinkKind::Redis,
        url: "redis://127.0.0.1:1/0".into(),
        target: SinkKind::Redis.default_target().into(),
        events: vec![EventPattern::Every],
        devices: vec!["*".into()],
        enabled: true,
        created_at: Utc::now(),
        updated_at: Utc::now(),
    }
}

/// Journals `count` events, each unlike the others, so that none is kept against another and
/// pruning cuts where the retention and the sinks say.
async fn journal_some(store: &Store, device: &DeviceId, count: usize) {
    for _ in 0..count {
        let id = device.clone();
        store
            .write(move |tx| tx.journal(&id, disconnected(&super::noise(24))))
            .await
            .unwrap();
    }
}

async fn behind(store: &Store, id: &str) -> Vec<Behind> {
    let id = id.to_owned();
    store
        .read(move |conn| {
            let sink = sinks::get(conn, &id)?.expect("a stored sink");
            sinks::behind(conn, &sink)
        })
        .await
        .unwrap()
}

on_both! {
async fn a_sink_starts_at_the_heads_and_its_backlog_outlives_the_retention(backend) {
    let db = Db::new(backend);
    let (store, _bus) = db.open();
    let (old, new) = (
        stored_device(&store, "old").await,
        stored_device(&store, "new").await,
    );
    journal_some(&store, &old, 3).await;
    store.write(|tx| tx.upsert_sink(&sink("snk_a"))).await.unwrap();
    assert!(behind(&store, "snk_a").await.is_empty(), "it starts at the heads");

    journal_some(&store, &old, 2).await;
    journal_some(&store, &new, 4).await;
    let expected = |device: &DeviceId, cursor, head| Behind { device: device.clone(), cursor, head };
    assert_eq!(
        behind(&store, "snk_a").await,
        [expected(&new, 0, 4), expected(&old, 3, 5)]
    );
    let (id, device) = ("snk_a".to_owned(), old.clone());
    store
        .write(move |tx| {
            tx.advance_sink(&id, &device, 5)?;
            // A cursor never goes back (another node confirmed less).
            tx.advance_sink(&id, &device, 4)
        })
        .await
        .unwrap();
    let lag = store
        .read(|conn| sinks::lag(conn, &sinks::get(conn, "snk_a")?.unwrap()))
        .await
        .unwrap();
    assert_eq!(lag, 4);

    // Retention would drop everything but each device's newest events (which the rows after
    // them may be kept against): what the sink has not had confirmed stays.
    let newest = journal::changes::REACH as usize;
    journal_some(&store, &old, newest).await;
    journal_some(&store, &new, newest).await;
    let later = Utc::now() + chrono::Duration::seconds(1);
    assert_eq!(store.prune_journal(0, later).await.unwrap(), 5, "all of old's go");
    let first = new.clone();
    let kept = store
        .read(move |conn| journal::read_after(conn, &first, 0, 100))
        .await
        .unwrap();
    assert!(kept.complete);
    assert_eq!(kept.events.len(), 4 + newest);
    // Disabled, it holds nothing back.
    store
        .write(|tx| tx.set_sink_enabled("snk_a", false))
        .await
        .unwrap();
    assert_eq!(store.prune_journal(0, later).await.unwrap(), 4);
    store.write(|tx| tx.delete_sink("snk_a")).await.unwrap();
    assert!(store.read(sinks::list).await.unwrap().is_empty());
}
}
