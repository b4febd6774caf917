//! The numbers simulated phones hold or talk to: found free without reading the devices'
//! definitions, let go with a device or a contact, never given twice, by one node or two.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::{Backend, Db};
use crate::model::{spec::DeviceSpec, DeviceId};
use crate::store::devices::{DeviceRecord, DeviceSource};
use crate::store::migrations::simulator_numbers::{written_before, POSTGRES};
use crate::store::{Store, StoreResult, Tx};

/// Stores device `id`, a simulator, with `simulator` as its table.
fn define(tx: &mut Tx<'_>, id: &str, simulator: Value) -> StoreResult<()> {
    let spec: DeviceSpec =
        serde_json::from_value(json!({ "name": id, "simulator": simulator })).unwrap();
    let id = DeviceId::parse(id).unwrap();
    tx.upsert_device(&DeviceRecord::new(id, &spec, DeviceSource::Api))
}

/// Stores device `id` with the first free number, which it answers.
fn numbered(tx: &mut Tx<'_>, id: &str) -> StoreResult<i64> {
    let number = tx.free_simulator_number(&BTreeSet::new())?;
    define(tx, id, json!({ "phone": number.to_string() }))?;
    Ok(number)
}

async fn write<T: Send + 'static>(
    store: &Store,
    write: impl FnOnce(&mut Tx<'_>) -> StoreResult<T> + Send + 'static,
) -> T {
    store.write(write).await.unwrap()
}

on_both! {
async fn each_new_phone_gets_the_first_number_no_phone_holds_or_talks_to(backend) {
    let db = Db::new(backend);
    let (store, _bus) = db.open();
    write(&store, |tx| {
        let contacts = json!([{ "id": "15550000002@c.us", "name": "Alice" },
            { "id": "15550000003@c.us", "name": "Bob" }]);
        define(tx, "demo", json!({ "phone": "15550000001", "contacts": contacts }))
    })
    .await;
    // A number of a definition not stored yet is not free either.
    let besides = BTreeSet::from([15_550_000_004]);
    let free = write(&store, move |tx| tx.free_simulator_number(&besides)).await;
    assert_eq!(free, 15_550_000_005);
    assert_eq!(write(&store, |tx| numbered(tx, "shop")).await, 15_550_000_004);
    assert_eq!(write(&store, |tx| numbered(tx, "cafe")).await, 15_550_000_005);

    // A contact dropped from a definition, and a device deleted, let their numbers go.
    write(&store, |tx| {
        let contacts = json!([{ "id": "15550000002@c.us", "name": "Alice" }]);
        define(tx, "demo", json!({ "phone": "15550000001", "contacts": contacts }))
    })
    .await;
    assert_eq!(write(&store, |tx| numbered(tx, "bar")).await, 15_550_000_003);
    write(&store, |tx| tx.delete_device(&DeviceId::parse("shop").unwrap())).await;
    assert_eq!(write(&store, |tx| numbered(tx, "deli")).await, 15_550_000_004);
    assert_eq!(write(&store, |tx| numbered(tx, "inn")).await, 15_550_000_006);
}

async fn a_number_two_devices_talk_to_stays_in_use_while_either_does(backend) {
    let db = Db::new(backend);
    let (store, _bus) = db.open();
    write(&store, |tx| {
        let alice = json!([{ "id": "15550000001@c.us", "name": "Alice" }]);
        define(tx, "demo", json!({ "phone": "15550000002", "contacts": alice.clone() }))?;
        define(tx, "shop", json!({ "phone": "15550000003", "contacts": alice }))
    })
    .await;
    write(&store, |tx| tx.delete_device(&DeviceId::parse("demo").unwrap())).await;
    // 15550000002 is free again; Alice's number is not.
    assert_eq!(write(&store, |tx| numbered(tx, "cafe")).await, 15_550_000_002);
    assert_eq!(write(&store, |tx| numbered(tx, "bar")).await, 15_550_000_004);
}
}

/// Devices stored before the numbers had a table of their own hold the numbers their
/// definitions name once PostgreSQL takes the step (SQLite's is tested with its migrations).
#[test]
fn numbers_named_by_definitions_stored_before_are_held_on_postgresql() {
    let conn = super::numbered::through_step(POSTGRES, written_before::ROWS);
    written_before::held_as_named(&conn);
}

/// Two nodes of a cluster give devices numbers at the same moment: the second waits for the
/// first's commit, then finds the number it gave in use. Without the lock on the search's row,
/// both would read the numbers committed before either and give the same one.
#[tokio::test]
async fn two_nodes_giving_numbers_at_once_give_different_ones() {
    let db = Db::new(Backend::Postgres);
    let ((one, _bus_one), (two, _bus_two)) = (db.open(), db.open());
    let (picked, has_picked) = mpsc::channel();
    let (commit, may_commit) = mpsc::channel::<()>();
    let first = tokio::spawn(async move {
        write(&one, move |tx| {
            let number = numbered(tx, "shop")?;
            picked.send(()).unwrap();
            may_commit.recv_timeout(Duration::from_secs(30)).unwrap();
            Ok(number)
        })
        .await
    });
    tokio::task::spawn_blocking(move || has_picked.recv_timeout(Duration::from_secs(30)))
        .await
        .unwrap()
        .unwrap();
    let done = Arc::new(AtomicBool::new(false));
    let second = tokio::spawn({
        let done = done.clone();
        async move {
            let number = write(&two, |tx| numbered(tx, "cafe")).await;
            done.store(true, Ordering::SeqCst);
            number
        }
    });

    // The second is let run until it waits on a lock or is done, and only then the first
    // commits.
    let url = db.url.clone().unwrap();
    tokio::task::spawn_blocking(move || {
        let mut admin = postgres::Client::connect(&url, postgres::NoTls).unwrap();
        let start = Instant::now();
        let waits_on_a_lock = |admin: &mut postgres::Client| {
            let row = admin
                .query_one(
                    "SELECT COUNT(*) FROM pg_stat_activity
                     WHERE datname = current_database() AND wait_event_type = 'Lock'",
                    &[],
                )
                .unwrap();
            row.get::<_, i64>(0) > 0
        };
        while !done.load(Ordering::SeqCst) && !waits_on_a_lock(&mut admin) {
            let waited = start.elapsed();
            assert!(
                waited < Duration::from_secs(30),
                "the second neither waited nor ended"
            );
        }
    })
    .await
    .unwrap();
    commit.send(()).unwrap();
    let (first, second) = (first.await.unwrap(), second.await.unwrap());
    assert_eq!(first, 15_550_000_001);
    assert_eq!(second, 15_550_000_002);
}
