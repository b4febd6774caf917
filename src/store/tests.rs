//! The store against a real SQLite file and a real PostgreSQL server. The tests of what both
//! must do alike are written once ([`on_both`]) and run on each; the tests of SQLite's own
//! files (its log, its permissions) run on SQLite alone.

use super::*;
use crate::bus::EventBus;
use crate::config::{StorageSettings, Synchronous};
use crate::model::event::Disconnected;
use crate::model::event::{EventData, EventKind, EventPattern};
use crate::model::DeviceId;

/// Storage in `dir`, synced as in production.
fn settings(dir: &std::path::Path) -> StorageSettings {
    StorageSettings {
        data_dir: dir.to_owned(),
        synchronous: Synchronous::Full,
        ..StorageSettings::default()
    }
}

fn open() -> (tempfile::TempDir, Store, EventBus) {
    let dir = tempfile::tempdir().unwrap();
    let bus = EventBus::new();
    let store = Store::open(&settings(dir.path()), bus.clone()).unwrap();
    (dir, store, bus)
}

/// The integration tests' PostgreSQL harness: its shared server, and a server of a test's own.
#[path = "../../tests/common/postgres.rs"]
#[allow(dead_code)]
mod test_postgres;

mod schema;

/// `migrate --to`'s copy reports a long table as it goes, every [`copy::PROGRESS_ROWS`] rows,
/// then once done, and lands every row.
#[test]
fn a_long_table_is_copied_into_postgresql_with_progress_and_whole() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("devicebridge.db");
    let mut sqlite = rusqlite::Connection::open(&path).unwrap();
    migrations::migrate(&mut sqlite).unwrap();
    let rows = copy::PROGRESS_ROWS + copy::PROGRESS_ROWS / 2;
    sqlite
        .execute(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?1)
             INSERT INTO events (key, kind, data, at) SELECT i, 7, '{}', 0 FROM n",
            [rows as i64],
        )
        .unwrap();
    drop(sqlite);
    let url = test_postgres::database();
    let mut reports = Vec::new();
    let uploads = dir.path().join("uploads");
    let copied = std::thread::spawn(move || {
        copy::sqlite_to_postgres(
            &path,
            &url,
            None,
            copy::UploadBytes::IntoDatabase(&uploads),
            |table| {
                if table.table == "events" {
                    reports.push((table.rows, table.done));
                }
            },
        )
        .map(|tables| (tables, reports))
    })
    .join()
    .unwrap();
    let (tables, reports) = copied.unwrap();
    assert_eq!(reports, [(copy::PROGRESS_ROWS, false), (rows, true)]);
    let events = tables.iter().find(|table| table.table == "events").unwrap();
    assert_eq!(events.rows, rows);
}

/// On PostgreSQL, reads share at most [`readers::POSTGRES_READERS`] connections: with every
/// one of them busy, one more read waits for a turn instead of opening another.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_on_postgresql_share_a_bounded_number_of_connections() {
    use std::sync::{Arc, Barrier};
    let db = Db::new(Backend::Postgres);
    let (store, _bus) = db.open();
    let bound = readers::POSTGRES_READERS;
    // Every reader holds its connection until the test has counted them.
    let (arrived, counted) = (
        Arc::new(Barrier::new(bound + 1)),
        Arc::new(Barrier::new(bound + 1)),
    );
    let busy: Vec<_> = (0..bound)
        .map(|_| {
            let (store, arrived, counted) = (store.clone(), arrived.clone(), counted.clone());
            tokio::spawn(async move {
                store
                    .read(move |_| {
                        arrived.wait();
                        counted.wait();
                        Ok(())
                    })
                    .await
            })
        })
        .collect();
    let waiting = tokio::spawn({
        let store = store.clone();
        async move {
            store
                .read(|conn| journal::head(conn, &DeviceId::parse("demo").unwrap()))
                .await
        }
    });
    let url = db.url.clone().unwrap();
    let connections = tokio::task::spawn_blocking(move || {
        arrived.wait();
        let mut admin = postgres::Client::connect(&url, postgres::NoTls).unwrap();
        let count: i64 = admin
            .query_one(
                "SELECT COUNT(*) FROM pg_stat_activity
                 WHERE datname = current_database() AND pid <> pg_backend_pid()",
                &[],
            )
            .unwrap()
            .get(0);
        counted.wait();
        count
    })
    .await
    .unwrap();
    // The busy readers' connections, the writer's and the one that hears the other nodes.
    assert_eq!(connections, bound as i64 + 2);
    for read in busy {
        read.await.unwrap().unwrap();
    }
    assert_eq!(
        waiting.await.unwrap().unwrap(),
        0,
        "the waiting read had its turn"
    );
}

/// The databases the store runs on.
#[derive(Debug, Clone, Copy)]
enum Backend {
    Sqlite,
    Postgres,
}

/// One test's database: a SQLite file in a directory of its own, or a database of its own on
/// the tests' PostgreSQL server.
struct Db {
    dir: tempfile::TempDir,
    url: Option<String>,
}

impl Db {
    fn new(backend: Backend) -> Db {
        Db {
            dir: tempfile::tempdir().unwrap(),
            url: match backend {
                Backend::Sqlite => None,
                Backend::Postgres => Some(test_postgres::database()),
            },
        }
    }

    /// The store on this database, as a daemon would open it (again).
    fn open(&self) -> (Store, EventBus) {
        let mut settings = settings(self.dir.path());
        if let Some(url) = &self.url {
            settings.url = url.clone();
        }
        let bus = EventBus::new();
        (Store::open(&settings, bus.clone()).unwrap(), bus)
    }
}

/// Runs each test once on SQLite (`on_sqlite::…`) and once on PostgreSQL (`on_postgres::…`).
macro_rules! on_both {
    ($(async fn $name:ident($backend:ident) $body:block)*) => {
        $(async fn $name($backend: Backend) $body)*
        mod on_sqlite {
            $(#[tokio::test]
            async fn $name() {
                super::$name(super::Backend::Sqlite).await
            })*
        }
        mod on_postgres {
            $(#[tokio::test]
            async fn $name() {
                super::$name(super::Backend::Postgres).await
            })*
        }
    };
}

mod changes;
mod chat_pages;
mod contacts;
mod current_view;
mod naming;
mod numbered;
mod relay;
mod search;
mod simulator_numbers;
mod sinks;
mod synced;

fn disconnected(reason: &str) -> EventData {
    EventData::Disconnected(Disconnected {
        reason: reason.into(),
    })
}

/// Keeps the writer busy inside a write until released, so that the writes queued meanwhile
/// run in one transaction, in the order they were queued.
struct HeldWriter {
    release: std::sync::mpsc::Sender<()>,
    write: tokio::task::JoinHandle<StoreResult<()>>,
}

impl HeldWriter {
    async fn hold(store: &Store) -> HeldWriter {
        let (started, running) = oneshot::channel();
        let (release, released) = std::sync::mpsc::channel();
        let store = store.clone();
        let write = tokio::spawn(async move {
            store
                .write(move |_| {
                    let _ = started.send(());
                    let _ = released.recv();
                    Ok(())
                })
                .await
        });
        running.await.unwrap();
        HeldWriter { release, write }
    }

    async fn release(self) {
        self.wake().await.unwrap();
    }

    /// Lets the held write go on, as a frozen process that wakes; how it ended.
    async fn wake(self) -> StoreResult<()> {
        self.release.send(()).unwrap();
        self.write.await.unwrap()
    }
}

/// The first ten events of a device's journal.
async fn journal_from_start(store: &Store, device: DeviceId) -> JournalRead {
    store
        .read(move |conn| journal::read_after(conn, &device, 0, 10))
        .await
        .unwrap()
}

/// The demo device's payloads after `after`, read `limit` at a time, and whether the read is
/// complete.
async fn demo_payloads_after(store: &Store, after: u64, limit: u64) -> (Vec<String>, bool) {
    let demo = DeviceId::parse("demo").unwrap();
    let read = store
        .read(move |conn| journal::read_after(conn, &demo, after, limit))
        .await
        .unwrap();
    let payloads = read.events.iter().map(|e| e.payload.get().to_owned());
    (payloads.collect(), read.complete)
}

/// Journals `events` for `device` in one write; their payloads as they were published.
async fn journal_in_one_write<const N: usize>(
    store: &Store,
    bus: &EventBus,
    device: &DeviceId,
    events: [EventData; N],
) -> Vec<String> {
    let mut live = bus.subscribe();
    let device = device.clone();
    store
        .write(move |tx| {
            events
                .into_iter()
                .try_for_each(|e| tx.journal(&device, e).map(drop))
        })
        .await
        .unwrap();
    published(&mut live, N).await
}

/// The payloads of the next `count` events published to `live`.
async fn published(
    live: &mut tokio::sync::broadcast::Receiver<std::sync::Arc<JournaledEvent>>,
    count: usize,
) -> Vec<String> {
    let mut sent = Vec::with_capacity(count);
    for _ in 0..count {
        sent.push(live.recv().await.unwrap().payload.get().to_owned());
    }
    sent
}

/// The device's newest event of `kind`, as kept beside its journal.
async fn newest(store: &Store, device: DeviceId, kind: EventKind) -> JournaledEvent {
    store
        .read(move |conn| journal::latest(conn, &device, kind))
        .await
        .unwrap()
        .unwrap()
}

/// The payloads of the device's journal from its start, as a resuming client receives them.
async fn replayed_payloads(store: &Store, device: DeviceId) -> Vec<String> {
    journal_from_start(store, device)
        .await
        .events
        .iter()
        .map(|event| event.payload.get().to_owned())
        .collect()
}

/// Polls a write once: it is queued for the writer and now waits for its answer.
async fn queue<F: std::future::Future + Unpin>(write: &mut F) {
    assert!(futures_util::poll!(write).is_pending());
}

/// Chat `id` of the demo device with `unread_count` unread messages.
fn chat(id: &str, unread_count: u64) -> crate::model::Chat {
    crate::model::Chat {
        id: id.into(),
        device_id: "demo".into(),
        name: id.into(),
        kind: "direct".into(),
        unread_count,
        pinned: false,
        marked_unread: false,
        last_message: None,
        updated_at: "2026-01-02T03:04:05.678Z".into(),
        archived: false,
        muted: false,
    }
}

/// The salt in the write-ahead log's header, which SQLite changes each time it starts the
/// log over.
fn log_salt(dir: &std::path::Path) -> Option<[u8; 8]> {
    use std::io::Read;
    let mut header = [0; 24];
    std::fs::File::open(dir.join("devicebridge.db-wal"))
        .and_then(|mut log| log.read_exact(&mut header))
        .ok()?;
    header[16..].try_into().ok()
}

/// `bytes` of text that packs to nearly as much: journal rows are packed
/// ([`journal::packing`]), and a test that fills the log needs rows that stay large.
fn noise(bytes: usize) -> String {
    use rand::{distributions::Alphanumeric, Rng};
    rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(bytes)
        .map(char::from)
        .collect()
}

async fn journal_disconnect(store: &Store, reason: String) {
    let demo = DeviceId::parse("demo").unwrap();
    store
        .write(move |tx| tx.journal(&demo, disconnected(&reason)))
        .await
        .unwrap();
}

/// A store whose write-ahead log is limited to 1 MiB, in a directory of its own.
fn store_with_a_1_mib_log() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let settings = StorageSettings {
        wal_limit_mb: 1,
        ..settings(dir.path())
    };
    let store = Store::open(&settings, EventBus::new()).unwrap();
    (dir, store)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_steady_writes_the_log_starts_over() {
    let (dir, store) = store_with_a_1_mib_log();
    journal_disconnect(&store, String::new()).await;
    let created = log_salt(dir.path()).expect("the log has a header after a write");
    // A new database's log holds its migrations too: counting starts once it started over.
    let reason = noise(16 * 1024);
    tokio::time::timeout(std::time::Duration::from_secs(30), async {
        while log_salt(dir.path()) == Some(created) {
            journal_disconnect(&store, reason.clone()).await;
        }
    })
    .await
    .expect("the log started over once");
    let first = log_salt(dir.path()).expect("the log has a header after a write");
    // Four writers append 3 MiB in all, about six times what the writer lets the log hold
    // before it starts the log over, each noting the log's salt after each write. The
    // checkpointer's round each second may also find the log all copied between two commits,
    // and SQLite then starts it over at the next write: that is rare, and counted as well.
    let writers: Vec<_> = (0..4)
        .map(|_| {
            let store = store.clone();
            let dir = dir.path().to_owned();
            tokio::spawn(async move {
                let reason = noise(16 * 1024);
                let mut salts = Vec::new();
                for _ in 0..48 {
                    journal_disconnect(&store, reason.clone()).await;
                    salts.extend(log_salt(&dir));
                }
                salts
            })
        })
        .collect();
    let mut salts = tokio::time::timeout(std::time::Duration::from_secs(30), async {
        let mut salts = Vec::new();
        for writer in writers {
            salts.extend(writer.await.unwrap());
        }
        salts
    })
    .await
    .expect("the writes went on");
    // A salt was noted after each write.
    let written = salts.len();
    salts.retain(|salt| *salt != first);
    salts.sort_unstable();
    salts.dedup();
    // SQLite draws a new salt each time the log starts over.
    let restarts = salts.len();
    assert!(
        restarts > 0,
        "the log never started over in {written} writes"
    );
    // Not at each write, nor at each batch: once it held half its limit.
    assert!(
        written >= 8 * restarts,
        "the log started over {restarts} times in {written} writes"
    );
}

/// Has four writers append 12 MiB in all, far more than the checkpointer's rounds alone would
/// keep up with, and returns the size of the log's file: the most the log ever held.
async fn largest_log_under_steady_writes(dir: &std::path::Path, store: &Store) -> u64 {
    let writers: Vec<_> = (0..4)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move {
                let reason = noise(16 * 1024);
                for _ in 0..192 {
                    journal_disconnect(&store, reason.clone()).await;
                }
            })
        })
        .collect();
    for writer in writers {
        writer.await.unwrap();
    }
    let log = dir.join("devicebridge.db-wal");
    std::fs::metadata(&log).map(|m| m.len()).unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_steady_writes_the_log_stays_near_its_limit() {
    let (dir, store) = store_with_a_1_mib_log();
    // The writer starts the log over when another batch would take it past its limit. Without
    // the writer's part the log grew past 5 MiB here.
    let largest = largest_log_under_steady_writes(dir.path(), &store).await;
    assert!(
        largest <= (1 << 20) + (1 << 18),
        "the log reached {largest} bytes with a limit of 1 MiB"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_steady_reads_and_writes_the_log_stays_near_its_limit() {
    let (dir, store) = store_with_a_1_mib_log();
    // Readers one after another, as a fleet's clients polling the REST API: there is nearly
    // always one reading an older state of the log, which SQLite then cannot start over.
    let reading = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let readers: Vec<_> = (0..8)
        .map(|_| {
            let (store, reading) = (store.clone(), reading.clone());
            tokio::spawn(async move {
                let demo = DeviceId::parse("demo").unwrap();
                while reading.load(std::sync::atomic::Ordering::Relaxed) {
                    let demo = demo.clone();
                    store
                        .read(move |conn| journal::read_after(conn, &demo, 0, 64))
                        .await
                        .unwrap();
                }
            })
        })
        .collect();
    let largest = largest_log_under_steady_writes(dir.path(), &store).await;
    reading.store(false, std::sync::atomic::Ordering::Relaxed);
    for reader in readers {
        reader.await.unwrap();
    }
    assert!(
        largest <= (1 << 20) + (1 << 18),
        "the log reached {largest} bytes with a limit of 1 MiB"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn once_writes_stop_the_log_is_cut_back_to_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let bus = EventBus::new();
    let changes = bus.changes();
    let store = Store::open(&settings(dir.path()), bus).unwrap();
    for _ in 0..8 {
        journal_disconnect(&store, noise(128 * 1024)).await;
    }
    let log = dir.path().join("devicebridge.db-wal");
    let log_size = || std::fs::metadata(&log).map(|m| m.len()).unwrap_or(0);
    assert!(log_size() > 512 * 1024, "the writes went to the log first");
    let mut changed = changes.subscribe();
    tokio::time::timeout(std::time::Duration::from_secs(30), async {
        loop {
            changed.mark_unchanged();
            if log_size() == 0 {
                return;
            }
            changed.changed().await.unwrap();
        }
    })
    .await
    .expect("the log was cut back once the writes stopped");
    let demo = DeviceId::parse("demo").unwrap();
    let events = store
        .read(move |conn| journal::read_after(conn, &demo, 0, 100))
        .await
        .unwrap();
    assert_eq!(
        events.events.len(),
        8,
        "everything written is in the database file"
    );
}

#[test]
fn a_newer_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("devicebridge.db");
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.pragma_update(None, "user_version", 999).unwrap();
    drop(conn);
    match Store::open(&settings(dir.path()), EventBus::new()) {
        Err(StoreError::NewerSchema { found: 999, .. }) => {}
        other => panic!("expected a refusal, got {:?}", other.err()),
    }
}

fn subscription(
    id: &str,
    events: &[&str],
    devices: &[&str],
    enabled: bool,
) -> webhooks::WebhookRecord {
    let now = chrono::Utc::now();
    webhooks::WebhookRecord {
        id: id.into(),
        url: "https://example.com/hooks".into(),
        events: events
            .iter()
            .map(|e| EventPattern::parse(e).unwrap())
            .collect(),
        devices: devices.iter().map(|d| d.to_string()).collect(),
        secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".into(),
        enabled,
        source: webhooks::WebhookSource::Api,
        disabled_reason: None,
        created_at: now,
        updated_at: now,
    }
}

/// The subscriptions' deliveries as (webhook, device, seq), oldest first.
async fn outbox(store: &Store) -> Vec<(String, String, u64)> {
    store
        .read(|conn| {
            let mut all = Vec::new();
            for webhook in webhooks::list(conn)? {
                let page = webhooks::list_deliveries(conn, &webhook.id, None, 100)?;
                all.extend(
                    page.items
                        .into_iter()
                        .rev()
                        .map(|d| (d.webhook_id, d.device_id, d.seq)),
                );
            }
            Ok(all)
        })
        .await
        .unwrap()
}

#[tokio::test]
async fn old_finished_deliveries_are_found_through_their_index() {
    let (_dir, store, _bus) = open();
    let plan: String = store
        .read(|conn| {
            let sql = format!("EXPLAIN QUERY PLAN {}", webhooks::OLD_FINISHED);
            conn.query_one(
                &sql,
                sql::params!["2026-01-01T00:00:00.000Z", 10_i64],
                |row| row.get(3),
            )
        })
        .await
        .unwrap();
    assert!(plan.contains("webhook_deliveries_finished"), "{plan}");
}

/// The newest delivery of the `wh_all` subscription.
async fn newest_delivery(store: &Store) -> webhooks::DeliveryRecord {
    store
        .read(|conn| webhooks::list_deliveries(conn, "wh_all", None, 1))
        .await
        .unwrap()
        .items
        .remove(0)
}

fn succeeded() -> webhooks::Attempt {
    webhooks::Attempt {
        status: webhooks::DeliveryStatus::Delivered,
        status_code: Some(200),
        error: None,
        next_attempt_at: chrono::Utc::now(),
    }
}

/// The database holds webhook secrets and connector tokens: it, its log and its shared memory
/// are readable by their owner only, whether the store creates the file or finds it.
#[cfg(unix)]
#[tokio::test]
async fn the_database_files_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let mode =
        |path: &std::path::Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    let dir = tempfile::tempdir().unwrap();
    let existing = settings(dir.path());
    let db = existing.database_path();
    std::fs::write(&db, b"").unwrap();
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();
    let store = Store::open(&existing, EventBus::new()).unwrap();
    store
        .write(|tx| {
            tx.execute("CREATE TABLE probe (x)", sql::params![])?;
            Ok(())
        })
        .await
        .unwrap();
    for suffix in ["", "-wal", "-shm"] {
        let mut path = db.as_os_str().to_owned();
        path.push(suffix);
        assert_eq!(mode(std::path::Path::new(&path)), 0o600, "{suffix}");
    }
    store.close().await;

    let fresh = tempfile::tempdir().unwrap();
    let created = settings(fresh.path());
    let store = Store::open(&created, EventBus::new()).unwrap();
    assert_eq!(mode(&created.database_path()), 0o600);
    store.close().await;
}

/// A read asked for while the runtime shuts down (a task being dropped, a guard's drop) is
/// never run; whoever waits for it gets an error instead of a panic.
#[test]
fn a_read_during_the_runtimes_shutdown_is_an_error() {
    use std::future::Future;
    use std::task::{Context, Poll, Waker};

    let (_dir, store, _bus) = open();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let handle = runtime.handle().clone();
    runtime.shutdown_background();
    let _inside = handle.enter();
    let mut read = std::pin::pin!(store.read(|_| Ok(())));
    match read.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(Err(StoreError::Closed)) => {}
        other => panic!("expected the store to answer closed, got {other:?}"),
    }
}

/// Stores one of our messages, known to the upstream as `upstream_id`.
fn known_message(tx: &mut Tx<'_>, device: &DeviceId, upstream_id: &str) -> StoreResult<()> {
    our_text(tx, device, ("msg_1", "hello"), Some(upstream_id))
}

/// Stores one of our texts, `(id, body)`, known to the upstream as `upstream_id` if given.
fn our_text(
    tx: &mut Tx<'_>,
    device: &DeviceId,
    text: (&str, &str),
    upstream_id: Option<&str>,
) -> StoreResult<()> {
    our_message(tx, device, text, upstream_id).map(drop)
}

/// [`our_text`], returning the message stored.
fn our_message(
    tx: &mut Tx<'_>,
    device: &DeviceId,
    text: (&str, &str),
    upstream_id: Option<&str>,
) -> StoreResult<crate::model::Message> {
    message_in(tx, device, ("15550000002@c.us", true), text, upstream_id)
}

/// Stores a text `(id, body)` in chat `chat`, ours if `from_me`, known to the upstream as
/// `upstream_id` if given.
fn message_in(
    tx: &mut Tx<'_>,
    device: &DeviceId,
    (chat_id, from_me): (&str, bool),
    (id, body): (&str, &str),
    upstream_id: Option<&str>,
) -> StoreResult<crate::model::Message> {
    let now = crate::model::rfc3339(chrono::Utc::now());
    tx.insert_message(
        device,
        &messages::NewMessage {
            id,
            chat_id,
            upstream_id,
            from: "15550000001@c.us",
            from_me,
            kind: "text",
            body,
            media: None,
            template: None,
            content: &Default::default(),
            reply_to: None,
            timestamp: &now,
            temp_id: None,
            idempotency_key: None,
            relay: None,
            seen: true,
            now: &now,
        },
    )
}

/// A row of the small `governors` table, which the tests of statements sent ahead write.
const INSERT: &str = "INSERT INTO governors (device_id, ledger) VALUES (?1, '{}')";

/// The devices of the `governors` rows stored, in order.
async fn governed(store: &Store) -> Vec<String> {
    store
        .read(|conn| {
            conn.query_all(
                "SELECT device_id FROM governors ORDER BY device_id",
                sql::params![],
                |row| row.get::<String>(0),
            )
        })
        .await
        .unwrap()
}

on_both! {
async fn a_dropped_close_guard_commits_what_was_queued_and_stops_the_writer(backend) {
    let db = Db::new(backend);
    let (store, _bus) = db.open();
    let demo = DeviceId::parse("demo").unwrap();
    let (a, b) = (demo.clone(), demo.clone());
    let held = HeldWriter::hold(&store).await;
    let mut before = Box::pin(store.write(move |tx| tx.journal(&a, disconnected("before"))));
    queue(&mut before).await;
    drop(store.close_on_drop());
    let mut after = Box::pin(store.write(move |tx| tx.journal(&b, disconnected("after"))));
    queue(&mut after).await;
    held.release().await;
    assert_eq!(
        before.await.unwrap(),
        1,
        "the write queued before the close commits"
    );
    assert!(
        matches!(after.await, Err(StoreError::Closed)),
        "the writer stopped at the close"
    );
    let reopened = db.open().0;
    let read = journal_from_start(&reopened, demo).await;
    assert_eq!(read.events.len(), 1, "{:?}", read.events);
}

async fn a_failing_write_rolls_back_its_batch_so_far_and_seqs_stay_gap_free(backend) {
    let db = Db::new(backend);
    let (store, bus) = db.open();
    let mut events = bus.subscribe();
    let demo = DeviceId::parse("demo").unwrap();
    let (a, b, c, d) = (demo.clone(), demo.clone(), demo.clone(), demo.clone());
    store
        .write(move |tx| tx.journal(&a, disconnected("before")))
        .await
        .unwrap();
    // One batch: the second write fails after journaling; the third is queued behind it.
    // It journals more rows than the packer takes at once, so that some of them are being
    // packed beside the writer when the batch is rolled back.
    let held = HeldWriter::hold(&store).await;
    let mut alongside = Box::pin(store.write(move |tx| tx.journal(&b, disconnected("alongside"))));
    let mut failing = Box::pin(store.write(move |tx| {
        for _ in 0..100 {
            tx.journal(&c, disconnected("failing"))?;
        }
        Err::<(), _>(StoreError::Closed)
    }));
    let mut after = Box::pin(store.write(move |tx| tx.journal(&d, disconnected("after"))));
    queue(&mut alongside).await;
    queue(&mut failing).await;
    queue(&mut after).await;
    held.release().await;
    assert!(matches!(failing.await, Err(StoreError::Closed)));
    assert!(matches!(alongside.await, Err(StoreError::RolledBack)));
    assert_eq!(after.await.unwrap(), 2);

    let read = journal_from_start(&store, demo).await;
    let reasons: Vec<_> = read
        .events
        .iter()
        .map(|e| e.fields()["reason"].clone())
        .collect();
    assert_eq!(reasons, ["before", "after"]);
    assert_eq!((read.head, read.complete), (2, true));
    // Published after commit, in order, without the rolled-back ones.
    assert_eq!(events.recv().await.unwrap().seq, 1);
    let after = events.recv().await.unwrap();
    assert_eq!(
        (after.seq, after.fields()["reason"].as_str()),
        (2, Some("after"))
    );
}

async fn a_statement_sent_ahead_of_its_answer_fails_the_write_that_sent_it(backend) {
    let db = Db::new(backend);
    let (store, _bus) = db.open();
    store
        .write(|tx| tx.write(INSERT, sql::params!["taken"]))
        .await
        .unwrap();
    // One batch: each write's statement is sent without waiting for its answer (on
    // PostgreSQL); the second one's fails at the server, and it reads something after it.
    let held = HeldWriter::hold(&store).await;
    let mut before = Box::pin(store.write(|tx| tx.write(INSERT, sql::params!["before"])));
    let mut failing = Box::pin(store.write(|tx| {
        tx.write(INSERT, sql::params!["taken"])?;
        tx.conn().exists("SELECT 1 FROM governors", sql::params![])
    }));
    let mut after = Box::pin(store.write(|tx| tx.write(INSERT, sql::params!["after"])));
    queue(&mut before).await;
    queue(&mut failing).await;
    queue(&mut after).await;
    held.release().await;
    let failed = failing.await.unwrap_err().to_string();
    assert!(
        failed.to_lowercase().contains("unique"),
        "the write hears its own statement's failure, not a later one's: {failed}"
    );
    assert!(matches!(before.await, Err(StoreError::RolledBack)));
    after.await.unwrap();
    let stored = governed(&store).await;
    assert_eq!(stored, ["after", "taken"]);
}

async fn a_statement_asked_ahead_sees_what_was_sent_before_it_and_fails_its_write(backend) {
    const FIND: &str = "SELECT device_id FROM governors WHERE device_id = ?1";
    let db = Db::new(backend);
    let (store, _bus) = db.open();
    let found = store
        .write(|tx| {
            let conn = tx.conn();
            conn.write(INSERT, sql::params!["a"])?;
            let a = conn.ask(FIND, sql::params!["a"], |row| row.get::<String>(0))?;
            conn.write(INSERT, sql::params!["b"])?;
            let changed = conn.ask_changed(
                "UPDATE governors SET ledger = '[]' WHERE device_id IN (?1, ?2, ?3)",
                sql::params!["a", "b", "c"],
            )?;
            let b = conn.ask(FIND, sql::params!["b"], |row| row.get::<String>(0))?;
            let none = conn.ask(FIND, sql::params!["c"], |row| row.get::<String>(0))?;
            // Taken in another order than asked.
            let found = [conn.answer(b)?, conn.answer(none)?, conn.answer(a)?];
            Ok((found, conn.answer_changed(changed)?))
        })
        .await
        .unwrap();
    assert_eq!(
        found,
        ([Some("b".to_owned()), None, Some("a".to_owned())], 2)
    );
    // A query that fails at the server fails the write that asked it, read or not.
    let failed = store
        .write(|tx| {
            tx.write(INSERT, sql::params!["lost"])?;
            tx.conn().ask(
                "SELECT abs(CAST(?1 AS BIGINT))",
                sql::params![i64::MIN],
                |_| Ok(()),
            )?;
            Ok(())
        })
        .await;
    assert!(failed.is_err(), "{failed:?}");
    let stored = governed(&store).await;
    assert_eq!(stored, ["a", "b"]);
}

async fn a_chat_changed_by_several_writes_of_a_batch_gets_one_update_at_its_end(backend) {
    let db = Db::new(backend);
    let (store, _bus) = db.open();
    let demo = DeviceId::parse("demo").unwrap();
    let device = demo.clone();
    store
        .write(move |tx| {
            for id in ["alice", "bob"] {
                tx.upsert_chat(&device, id, id, "direct", "2026-01-02T03:04:05.678Z")?;
            }
            Ok(())
        })
        .await
        .unwrap();
    let held = HeldWriter::hold(&store).await;
    // "nobody" has no chat by the batch's end: it gets no update.
    let mut writes: Vec<_> = [("alice", 1_i64), ("bob", 1), ("nobody", 1), ("alice", 2)]
        .into_iter()
        .map(|(id, unread)| {
            let demo = demo.clone();
            Box::pin(store.write(move |tx| {
                tx.journal(&demo, disconnected(id))?;
                tx.execute(
                    "UPDATE chats SET unread_count = ?3 WHERE device_id = ?1 AND id = ?2",
                    sql::params![demo.as_str(), id, unread],
                )?;
                tx.chat_changed(&demo, id);
                Ok(())
            }))
        })
        .collect();
    for write in &mut writes {
        queue(write).await;
    }
    held.release().await;
    for write in writes {
        write.await.unwrap();
    }
    let read = journal_from_start(&store, demo).await;
    let journaled: Vec<_> = read
        .events
        .iter()
        .map(|e| {
            let fields = e.fields();
            (
                e.kind.as_str().to_owned(),
                fields["reason"].clone(),
                fields["id"].clone(),
                fields["unreadCount"].clone(),
            )
        })
        .collect();
    let disconnect = |reason: &str| {
        (
            "disconnected".to_owned(),
            serde_json::json!(reason),
            serde_json::Value::Null,
            serde_json::Value::Null,
        )
    };
    let update = |id: &str, unread: u64| {
        (
            "chat:update".to_owned(),
            serde_json::Value::Null,
            serde_json::json!(id),
            serde_json::json!(unread),
        )
    };
    assert_eq!(
        journaled,
        [
            disconnect("alice"),
            disconnect("bob"),
            disconnect("nobody"),
            disconnect("alice"),
            update("alice", 2),
            update("bob", 1),
        ]
    );
}

async fn a_deleted_device_takes_its_journal_and_no_other_with_it(backend) {
    let db = Db::new(backend);
    let (store, _bus) = db.open();
    let [a, b, c] = ["a", "b", "c"].map(|id| DeviceId::parse(id).unwrap());
    store
        .write({
            let (a, b, c) = (a.clone(), b.clone(), c.clone());
            move |tx| {
                for device in [&a, &b, &c, &b] {
                    tx.journal(device, disconnected(device.as_str()))?;
                }
                tx.delete_journal(&b)
            }
        })
        .await
        .unwrap();
    let seqs = |read: JournalRead| {
        (
            read.events.iter().map(|e| e.seq).collect::<Vec<_>>(),
            read.head,
        )
    };
    assert_eq!(seqs(journal_from_start(&store, a).await), (vec![1], 1));
    // Its seqs go on past those it had, for no node to keep a new row against a deleted one.
    let past = 2 + journal::changes::REACH;
    assert_eq!(seqs(journal_from_start(&store, b).await), (vec![], past));
    assert_eq!(seqs(journal_from_start(&store, c).await), (vec![1], 1));
}

async fn a_deleted_device_leaves_no_row_in_any_table_that_names_devices(backend) {
    let db = Db::new(backend);
    let (store, _bus) = db.open();
    let demo = DeviceId::parse("demo").unwrap();
    let device = demo.clone();
    let tables = store
        .write(move |tx| {
            our_text(tx, &device, ("msg_p", "to the phone"), None)?;
            let message = messages::get_message(tx.conn(), &device, "msg_p")?.unwrap();
            let now = crate::store::parse_time("2026-01-02T03:04:05.678Z");
            let receipt = tx.simulator_receive(&device, &message, "true_a", now, "[1]")?;
            receipt.read(tx.conn(), &device, &message)?;
            let named = |conn: &crate::store::Conn| {
                let tables = match conn.is_postgres() {
                    true => {
                        "SELECT table_name::text FROM information_schema.columns
                         WHERE column_name = 'device_id' AND table_schema = current_schema()"
                    }
                    false => {
                        "SELECT m.name FROM sqlite_master m, pragma_table_info(m.name) c
                         WHERE m.type = 'table' AND c.name = 'device_id'"
                    }
                };
                // Some tables name their device by its number.
                let mut tables = conn.query_all(tables, &[], |row| row.get::<String>(0))?;
                tables.extend(messages::NUMBERED_TABLES.map(str::to_owned));
                StoreResult::Ok(tables)
            };
            let count = |conn: &crate::store::Conn, table: &str| {
                let of_device = match messages::NUMBERED_TABLES.contains(&table) {
                    true => format!("device = {}", messages::DEVICE_NUMBER),
                    false => "device_id = ?1".to_owned(),
                };
                conn.query_one(
                    &format!("SELECT COUNT(*) FROM {table} WHERE {of_device}"),
                    sql::params![device.as_str()],
                    |row| row.get::<i64>(0),
                )
            };
            let before = named(tx.conn())?
                .into_iter()
                .map(|table| Ok((count(tx.conn(), &table)?, table)))
                .collect::<StoreResult<Vec<_>>>()?;
            tx.delete_device(&device)?;
            let after = named(tx.conn())?
                .into_iter()
                .map(|table| Ok((count(tx.conn(), &table)?, table)))
                .collect::<StoreResult<Vec<_>>>()?;
            Ok((before, after))
        })
        .await
        .unwrap();
    let (before, after) = tables;
    let held = |tables: &[(i64, String)], table: &str| {
        tables.iter().any(|(rows, name)| name == table && *rows > 0)
    };
    for table in ["messages", "simulator_inbox", "simulator_plans"] {
        assert!(held(&before, table), "{table} held the device's rows: {before:?}");
    }
    // The journal's head stays, numbering the device, so that a device made again under its
    // id goes on past the seqs it had.
    let left: Vec<_> = after
        .iter()
        .filter(|(rows, table)| *rows > 0 && table != "device_seq")
        .collect();
    assert!(left.is_empty(), "rows left: {left:?}");
}

async fn a_notification_is_read_once_and_then_leaves_no_row(backend) {
    let db = Db::new(backend);
    let (store, _bus) = db.open();
    let demo = DeviceId::parse("demo").unwrap();
    let reads = store
        .write(move |tx| {
            for (id, chat) in [("ntf_1", Some("c1")), ("ntf_2", Some("c1")), ("ntf_3", None)] {
                tx.insert_notification(&demo, id, chat)?;
            }
            let ntf_1 = ["ntf_1".to_owned()];
            let reads = [
                tx.read_notifications(&demo, messages::NotificationSet::Ids(&ntf_1))?,
                tx.read_notifications(&demo, messages::NotificationSet::Ids(&ntf_1))?,
                tx.read_notifications(&demo, messages::NotificationSet::Chat("c1"))?,
                tx.read_notifications(&demo, messages::NotificationSet::All)?,
                tx.read_notifications(&demo, messages::NotificationSet::All)?,
            ];
            let left = tx.conn().query_one(
                "SELECT COUNT(*) FROM notifications",
                &[],
                |row| row.get::<i64>(0),
            )?;
            Ok((reads, left))
        })
        .await
        .unwrap();
    let ids = |ids: &[&str]| ids.iter().map(|id| id.to_string()).collect::<Vec<_>>();
    assert_eq!(
        reads,
        (
            [ids(&["ntf_1"]), ids(&[]), ids(&["ntf_2"]), ids(&["ntf_3"]), ids(&[])],
            0
        )
    );
}

async fn a_qr_event_is_kept_without_its_picture_and_read_back_with_it(backend) {
    let db = Db::new(backend);
    let (store, bus) = db.open();
    let mut live = bus.subscribe();
    let demo = DeviceId::parse("demo").unwrap();
    let text = "http://localhost:3000/pair/3f9c2a7d";
    let code = EventData::Qr(crate::model::event::QrCode {
        qr: text.into(),
        image: crate::qr::png_data_url(text).unwrap(),
        expires_at: "2026-11-23T12:00:00Z".into(),
        attempt: 1,
        max_attempts: 6,
    });
    store
        .write({
            let demo = demo.clone();
            move |tx| tx.journal(&demo, code).map(drop)
        })
        .await
        .unwrap();
    let sent = live.recv().await.unwrap().fields();

    let rows: Vec<Vec<u8>> = store
        .read(|conn| {
            let mut rows = Vec::new();
            for table in ["events", "latest_events"] {
                rows.push(
                    conn.query_one(&format!("SELECT data FROM {table}"), sql::params![], |row| {
                        row.get(0)
                    })?,
                );
            }
            Ok(rows)
        })
        .await
        .unwrap();
    for row in rows {
        assert!(row.len() < 300, "{} bytes kept", row.len());
        let fields = journal::packing::unpack(row).unwrap();
        assert!(!fields.contains("image") && fields.contains(text), "{fields}");
    }
    let replayed = journal_from_start(&store, demo.clone()).await.events[0].fields();
    assert_eq!(replayed, sent, "read back as it was sent, picture and all");
    let view = newest(&store, demo, EventKind::Qr).await;
    assert_eq!(view.fields(), sent);
}

async fn an_events_row_keeps_its_own_fields_and_is_read_back_as_sent(backend) {
    let db = Db::new(backend);
    let (store, bus) = db.open();
    let demo = DeviceId::parse("demo").unwrap();
    let events = [
        EventData::State(crate::model::event::StateChange {
            state: "starting",
            previous: "stopped",
            reason: None,
        }),
        EventData::Authenticated(crate::model::event::Authenticated {}),
        EventData::ChatUpdate(chat("15550001@c.us", 2)),
    ];
    let sent = journal_in_one_write(&store, &bus, &demo, events).await;

    let rows: Vec<String> = store
        .read(|conn| {
            conn.query_all(
                "SELECT data FROM events UNION ALL SELECT data FROM latest_events",
                sql::params![],
                |row| journal::packing::unpack(row.get(0)?),
            )
        })
        .await
        .unwrap();
    assert_eq!(rows.len(), 4, "three events and the newest state");
    for row in &rows {
        assert!(!row.contains("\"seq\"") && !row.contains("\"at\""), "{row}");
    }
    assert_eq!(
        rows.iter().filter(|row| row.contains("\"deviceId\"")).count(),
        1,
        "only the chat, whose model holds it"
    );
    let replayed = replayed_payloads(&store, demo.clone()).await;
    assert_eq!(replayed, sent, "read back byte for byte as sent");
    let state = newest(&store, demo, EventKind::State).await;
    assert_eq!(state.payload.get(), sent[0]);
}

async fn a_batchs_many_rows_are_stored_in_order_and_read_back_as_sent(backend) {
    let db = Db::new(backend);
    let (store, bus) = db.open();
    let demo = DeviceId::parse("demo").unwrap();
    // 32 + 8 + 5 rows: every size of insert, the newest state among them.
    let events: [EventData; 45] = std::array::from_fn(|n| match n {
        40 => EventData::State(crate::model::event::StateChange {
            state: "ready",
            previous: "starting",
            reason: None,
        }),
        n => disconnected(&format!("reason {n}")),
    });
    let sent = journal_in_one_write(&store, &bus, &demo, events).await;
    let device = demo.clone();
    let read = store
        .read(move |conn| journal::read_after(conn, &device, 0, 100))
        .await
        .unwrap();
    let seqs: Vec<u64> = read.events.iter().map(|event| event.seq).collect();
    assert_eq!(seqs, (1..=45).collect::<Vec<_>>());
    let replayed: Vec<_> = read.events.iter().map(|e| e.payload.get().to_owned()).collect();
    assert_eq!(replayed, sent, "read back byte for byte as sent");
    let state = newest(&store, demo, EventKind::State).await;
    assert_eq!((state.seq, state.payload.get()), (41, sent[40].as_str()));
}

async fn journal_rows_are_packed_and_rows_kept_as_text_are_read_as_they_are(backend) {
    let db = Db::new(backend);
    let (store, bus) = db.open();
    let demo = DeviceId::parse("demo").unwrap();
    let events = [
        disconnected("connection_lost"),
        EventData::ChatUpdate(chat("15550001@c.us", 2)),
    ];
    let sent = journal_in_one_write(&store, &bus, &demo, events).await;

    let rows: Vec<Vec<u8>> = store
        .read(|conn| {
            let sql = "SELECT data FROM events ORDER BY key";
            conn.query_all(sql, sql::params![], |row| row.get(0))
        })
        .await
        .unwrap();
    let chat_fields = journal::packing::unpack(rows[1].clone()).unwrap();
    assert_ne!(rows[1][0], b'{', "packed, not text");
    assert!(
        rows[1].len() * 2 < chat_fields.len(),
        "{} bytes kept for {} of fields",
        rows[1].len(),
        chat_fields.len()
    );

    // The chat's row as a build before packing wrote it: its fields as text.
    store
        .write(move |tx| {
            let text = match tx.conn().is_postgres() {
                true => "convert_to(?1, 'UTF8')",
                false => "CAST(?1 AS TEXT)",
            };
            let newest = "(SELECT MAX(key) FROM events)";
            let sql = format!("UPDATE events SET data = {text} WHERE key = {newest}");
            tx.execute(&sql, sql::params![chat_fields]).map(drop)
        })
        .await
        .unwrap();
    let replayed = replayed_payloads(&store, demo).await;
    assert_eq!(replayed, sent, "packed rows and rows of text alike read back as sent");
}

async fn pruned_journals_report_incomplete_reads(backend) {
    let db = Db::new(backend);
    let (store, _bus) = db.open();
    let demo = DeviceId::parse("demo").unwrap();
    // The newest events stay whatever the retention: the rows after them may be kept against
    // them. Each is unlike the others, so that none is kept against another.
    let newest = journal::changes::REACH;
    for _ in 0..3 + newest {
        journal_disconnect(&store, noise(64)).await;
    }
    let removed = store
        .prune_journal(2, chrono::Utc::now() - chrono::Duration::days(1))
        .await
        .unwrap();
    assert_eq!(removed, 3);
    let (a, b) = (demo.clone(), demo.clone());
    let from_start = store
        .read(move |conn| journal::read_after(conn, &a, 0, 100))
        .await
        .unwrap();
    assert!(!from_start.complete);
    let recent = store
        .read(move |conn| journal::read_after(conn, &b, 3, 100))
        .await
        .unwrap();
    assert!(recent.complete);
    assert_eq!(
        recent.events.iter().map(|e| e.seq).collect::<Vec<_>>(),
        (4..=3 + newest).collect::<Vec<_>>()
    );
}

async fn pruning_drops_each_devices_oldest_events_in_batches_and_leaves_no_gap(backend) {
    let db = Db::new(backend);
    let (store, _bus) = db.open();
    let (busy, quiet) = (
        DeviceId::parse("busy").unwrap(),
        DeviceId::parse("quiet").unwrap(),
    );
    // More events than several pruning writes delete, each unlike the others, so that none is
    // kept against another and the cuts fall where the retention says.
    for _ in 0..9 {
        let (busy, quiet) = (busy.clone(), quiet.clone());
        store
            .write(move |tx| {
                for _ in 0..500 {
                    tx.journal(&busy, disconnected(&noise(24)))?;
                }
                tx.journal(&quiet, disconnected("now and then"))?;
                Ok(())
            })
            .await
            .unwrap();
    }
    let a_day_ago = chrono::Utc::now() - chrono::Duration::days(1);
    let removed = store.prune_journal(1_000, a_day_ago).await.unwrap();
    assert_eq!(removed, 4_500 - 1_000, "the quiet device keeps its nine");
    let seqs_of = |device: &DeviceId, after: u64| {
        let device = device.clone();
        let store = store.clone();
        async move {
            let read = store
                .read(move |conn| journal::read_after(conn, &device, after, 5_000))
                .await
                .unwrap();
            let seqs: Vec<u64> = read.events.iter().map(|e| e.seq).collect();
            (seqs, read.complete)
        }
    };
    let (kept, complete) = seqs_of(&busy, 0).await;
    assert!(!complete);
    assert_eq!(kept, (3_501..=4_500).collect::<Vec<_>>());
    assert_eq!(seqs_of(&quiet, 0).await, ((1..=9).collect(), true));

    // By age: everything journaled before the cutoff goes, whatever the count allows, but
    // each device's newest events, which the rows after them may be kept against.
    let later = chrono::Utc::now() + chrono::Duration::seconds(1);
    let newest = journal::changes::REACH;
    assert_eq!(
        store.prune_journal(1_000, later).await.unwrap() as u64,
        1_000 - newest
    );
    let (kept, complete) = seqs_of(&busy, 0).await;
    assert!(!complete);
    assert_eq!(kept, (4_501 - newest..=4_500).collect::<Vec<_>>());
    assert_eq!(seqs_of(&quiet, 0).await, ((1..=9).collect(), true));
    // The seqs go on where they were.
    let id = busy.clone();
    let next = store
        .write(move |tx| tx.journal(&id, disconnected("after")))
        .await
        .unwrap();
    assert_eq!(next, 4_501);
}

async fn close_commits_what_was_queued_and_data_survives_reopening(backend) {
    let db = Db::new(backend);
    let demo = DeviceId::parse("demo").unwrap();
    {
        let store = db.open().0;
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
    let store = db.open().0;
    let read = journal_from_start(&store, demo).await;
    assert_eq!(read.events.len(), 1);
}

async fn events_get_their_deliveries_in_their_own_write(backend) {
    let db = Db::new(backend);
    let (store, _bus) = db.open();
    let demo = DeviceId::parse("demo").unwrap();
    let (a, b, c) = (demo.clone(), demo.clone(), demo.clone());
    // One batch: subscriptions are created, then an event journaled by a later write of the
    // same batch sees them.
    let held = HeldWriter::hold(&store).await;
    let mut subscribe = Box::pin(store.write(|tx| {
        tx.upsert_webhook(&subscription("wh_all", &["*"], &["*"], true))?;
        tx.upsert_webhook(&subscription("wh_off", &["*"], &["*"], false))?;
        tx.upsert_webhook(&subscription(
            "wh_other",
            &["disconnected"],
            &["other"],
            true,
        ))?;
        tx.upsert_webhook(&subscription("wh_state", &["state"], &["demo"], true))
    }));
    let mut first = Box::pin(store.write(move |tx| tx.journal(&a, disconnected("one"))));
    queue(&mut subscribe).await;
    queue(&mut first).await;
    held.release().await;
    subscribe.await.unwrap();
    assert_eq!(first.await.unwrap(), 1);
    // A failing write takes its delivery with it.
    let failing = store.write(move |tx| {
        tx.journal(&b, disconnected("rolled back"))?;
        Err::<(), _>(StoreError::Closed)
    });
    assert!(failing.await.is_err());
    let second = store.write(move |tx| tx.journal(&c, disconnected("two")));
    assert_eq!(second.await.unwrap(), 2);
    let demo_id = "demo".to_string();
    assert_eq!(
        outbox(&store).await,
        [
            ("wh_all".to_string(), demo_id.clone(), 1),
            ("wh_all".to_string(), demo_id.clone(), 2)
        ]
    );

    // Disabling takes effect for the very next event.
    let id = demo.clone();
    store
        .write(move |tx| {
            tx.set_webhook_enabled("wh_all", false, Some("test"))?;
            tx.journal(&id, disconnected("three"))
        })
        .await
        .unwrap();
    assert_eq!(outbox(&store).await.len(), 2);

    // Finished deliveries are pruned, outstanding ones kept.
    let delivered = newest_delivery(&store).await;
    store
        .write(move |tx| {
            assert!(tx.record_attempt(&delivered, &succeeded())?);
            Ok(())
        })
        .await
        .unwrap();
    let pruned = store
        .prune_deliveries(chrono::Utc::now() + chrono::Duration::seconds(1))
        .await
        .unwrap();
    assert_eq!(pruned, 1);
    assert_eq!(outbox(&store).await, [("wh_all".to_string(), demo_id, 1)]);
}

async fn a_replay_during_an_attempt_outlives_the_attempt(backend) {
    let db = Db::new(backend);
    let (store, _bus) = db.open();
    let demo = DeviceId::parse("demo").unwrap();
    store
        .write(move |tx| {
            tx.upsert_webhook(&subscription("wh_all", &["*"], &["*"], true))?;
            tx.journal(&demo, disconnected("one"))
        })
        .await
        .unwrap();
    let attempted = newest_delivery(&store).await;
    // The replay lands while the attempt is under way.
    let id = attempted.id.clone();
    store
        .write(move |tx| tx.replay_delivery(&id))
        .await
        .unwrap();
    let recorded = store
        .write(move |tx| tx.record_attempt(&attempted, &succeeded()))
        .await
        .unwrap();
    assert!(!recorded, "the stale outcome is dropped");
    let after = newest_delivery(&store).await;
    assert_eq!(after.status, webhooks::DeliveryStatus::Pending);
    assert_eq!(after.attempts, 0);
}

async fn a_simulated_phones_steps_count_once_each_in_order_and_only_for_a_known_message(backend) {
    let db = Db::new(backend);
    let (store, _bus) = db.open();
    let demo = DeviceId::parse("demo").unwrap();
    // The phone receives a message, twice: the second time it is the same row, not new, and
    // keeps the upstream id and the plan of the first.
    let device = demo.clone();
    let [first, again] = store
        .write(move |tx| {
            our_text(tx, &device, ("msg_p", "to the phone"), None)?;
            let message = messages::get_message(tx.conn(), &device, "msg_p")?.unwrap();
            let mut receive = |upstream_id: &str, plan: &str| {
                let now = crate::store::parse_time("2026-01-02T03:04:05.678Z");
                let receipt = tx.simulator_receive(&device, &message, upstream_id, now, plan)?;
                receipt.read(tx.conn(), &device, &message)
            };
            Ok([
                receive("true_a", "[\"the simulator's own\"]")?,
                receive("true_b", "[\"another\"]")?,
            ])
        })
        .await
        .unwrap();
    assert!(first.first && !again.first);
    assert_eq!((again.row, again.upstream_id.as_str()), (first.row, "true_a"));
    let duties = messages::PhoneDuties {
        row: first.row,
        upstream_id: "true_a".into(),
        received_at: parse_time("2026-01-02T03:04:05.678Z"),
        plan: "[\"the simulator's own\"]".into(),
        done: 0,
    };
    let step_in = |row: i64, from: u32, step: u32, last: bool| {
        let (store, demo) = (store.clone(), demo.clone());
        async move {
            store
                .write(move |tx| {
                    let mark = tx.simulator_step_done(&demo, "true_a", row, from, step, last)?;
                    Ok(tx.conn().answer_changed(mark)? > 0)
                })
                .await
                .unwrap()
        }
    };
    let step = |from: u32, step: u32, last: bool| step_in(first.row, from, step, last);
    let owed = || {
        let (store, device) = (store.clone(), demo.clone());
        async move {
            store
                .read(move |conn| messages::simulator_duties(conn, &device))
                .await
                .unwrap()
        }
    };
    assert_eq!(owed().await, std::slice::from_ref(&duties));
    // Until the relay records the message's upstream id, nothing counts.
    assert!(!step(0, 0, false).await);
    let device = demo.clone();
    store
        .write(move |tx| known_message(tx, &device, "true_a"))
        .await
        .unwrap();
    assert!(!step_in(first.row + 1, 0, 0, false).await, "a step of another row");
    assert!(
        !step(1, 2, false).await,
        "a step after a marked one not done"
    );
    assert!(step(0, 0, false).await);
    assert!(!step(0, 0, false).await, "a step made twice");
    assert_eq!(owed().await, [messages::PhoneDuties { done: 1, ..duties.clone() }]);
    // Steps 1 and 2 are acks, which the phone does not mark: step 3 counts them with itself.
    assert!(step(1, 3, false).await);
    assert!(!step(1, 3, false).await, "a step made twice");
    assert_eq!(owed().await, [messages::PhoneDuties { done: 4, ..duties }]);
    assert!(step(4, 4, true).await);
    assert_eq!(owed().await, [], "the last step leaves nothing owed");
    assert!(!step(4, 4, true).await);
}

async fn a_shared_secret_is_made_once_and_kept(backend) {
    let db = Db::new(backend);
    let (store, _bus) = db.open();
    let first = store
        .write(|tx| tx.shared_secret("jwt", || "first".into()))
        .await
        .unwrap();
    let (reopened, _bus) = {
        store.close().await;
        db.open()
    };
    let second = reopened
        .write(|tx| tx.shared_secret("jwt", || "second".into()))
        .await
        .unwrap();
    assert_eq!((first.as_str(), second.as_str()), ("first", "first"));
}

async fn a_catch_up_reads_the_devices_stored_and_the_keys_revoked(backend) {
    let db = Db::new(backend);
    let (store, _bus) = db.open();
    let shop = stored_device(&store, "shop").await;
    let demo = stored_device(&store, "demo").await;
    assert_eq!(store.read(devices::ids).await.unwrap(), [demo, shop]);
    let key = |id: &str| crate::store::KeyRecord {
        id: id.into(),
        name: id.into(),
        key_sha256: format!("digest of {id}"),
        devices: vec!["*".into()],
        scopes: vec!["read".into()],
        created_at: chrono::Utc::now(),
    };
    let (live, revoked) = (key("key_live"), key("key_revoked"));
    store
        .write(move |tx| {
            tx.insert_key(&live)?;
            tx.insert_key(&revoked)?;
            tx.revoke_key("key_revoked")
        })
        .await
        .unwrap();
    let revoked = store.read(crate::store::keys::revoked_ids).await.unwrap();
    assert_eq!(revoked, std::collections::HashSet::from(["key_revoked".to_owned()]));
}
}

/// A device stored in `store`, for the cluster's leases (which cover stored devices only).
async fn stored_device(store: &Store, id: &str) -> DeviceId {
    let id = DeviceId::parse(id).unwrap();
    let spec: crate::model::spec::DeviceSpec =
        serde_json::from_value(serde_json::json!({ "name": id.as_str() })).unwrap();
    let record = DeviceRecord::new(id.clone(), &spec, DeviceSource::Api);
    store
        .write(move |tx| tx.upsert_device(&record))
        .await
        .unwrap();
    id
}

/// `device` leased to node "a" for a minute (its first lease: epoch 1), and the store as a's
/// actor of the device writes through it.
async fn leased_to_a(store: &Store, device: &DeviceId) -> Store {
    store
        .coordinate(|conn| cluster::claim(conn, "a", 60_000, 1))
        .await
        .unwrap();
    store.fenced(cluster::Fence {
        device: device.clone(),
        node: "a".into(),
        epoch: 1,
    })
}

/// A read connection kept in the pool learns that the server closed it (a restart, an idle
/// timeout) only when it is next used: the read that meets it runs again on a new connection,
/// and its caller sees nothing of it.
#[tokio::test]
async fn a_read_on_a_connection_the_server_closed_runs_again_on_a_new_one() {
    let server = test_postgres::own_server();
    let url = server.create_database();
    let store = Store::open_postgres(&url, EventBus::new()).unwrap();
    stored_device(&store, "shop").await;
    let count = || store.read(|conn| devices::list(conn).map(|list| list.len()));
    assert_eq!(count().await.unwrap(), 1, "a connection is kept");
    server.stop();
    server.run();
    assert_eq!(count().await.unwrap(), 1, "read again on a new connection");
    assert_eq!(count().await.unwrap(), 1);
    store.close().await;
}

/// On a new PostgreSQL database, each of the writer's lookups of a message goes through the
/// index made for it once the writer has written enough to analyze the tables: the plan a
/// session keeps for a statement (the one a prepared statement gets after its first runs)
/// does not scan the device's part of another index instead, as it did with no statistics.
#[tokio::test]
async fn a_new_postgresql_database_finds_a_message_by_the_index_made_for_the_lookup() {
    let db = Db::new(Backend::Postgres);
    let (store, _bus) = db.open();
    let writes = (0..statistics::ANALYZE_AFTER_WRITES).map(|n| {
        store.write(move |tx| {
            let device = tx.device_number(&DeviceId::parse("demo").unwrap())?;
            tx.write(
                "INSERT INTO messages (id, device, chat_id, upstream_id, from_id, from_me,
                    type, body, timestamp, ack, created_at)
                 VALUES (?1, ?3, 'alice@c.us', ?2, 'me@c.us', 1, 'text', 'hi', 0, 0, 0)",
                sql::params![
                    format!("msg_{n:05}"),
                    format!("true_alice@c.us_{n:05}"),
                    device
                ],
            )
        })
    });
    for written in futures_util::future::join_all(writes).await {
        written.unwrap();
    }
    // Queued after the write that reached the count: it runs once the writer analyzed.
    store.write(|_| Ok(())).await.unwrap();
    store.close().await;
    let url = db.url.clone().unwrap();
    let plans = tokio::task::spawn_blocking(move || {
        let mut client = postgres::Client::connect(&url, postgres::NoTls).unwrap();
        client
            .batch_execute("SET plan_cache_mode = force_generic_plan")
            .unwrap();
        // The writer's statements: by the device's number it knows, or by its id.
        let by_id = format!(
            "device = {} AND",
            messages::DEVICE_NUMBER.replace("?1", "$1")
        );
        [
            (
                "bigint",
                "UPDATE messages SET ack = $2 WHERE device = $1 AND id = $3".into(),
            ),
            (
                "text",
                format!("SELECT id FROM messages WHERE {by_id} temp_id = $3"),
            ),
            (
                "text",
                format!("SELECT id FROM messages WHERE {by_id} upstream_id = $3"),
            ),
        ]
        .map(|(device, statement)| {
            client
                .batch_execute(&format!(
                    "DEALLOCATE ALL; PREPARE lookup ({device}, bigint, text) AS {statement}"
                ))
                .unwrap();
            let device = if device == "text" { "'demo'" } else { "1" };
            client
                .query(&format!("EXPLAIN EXECUTE lookup ({device}, 2, 'key')"), &[])
                .unwrap()
                .iter()
                .map(|row| row.get::<_, String>(0))
                .collect::<Vec<_>>()
                .join("\n")
        })
    })
    .await
    .unwrap();
    for (plan, index, condition) in [
        (&plans[0], "messages_pkey", "(id = $3)"),
        (&plans[1], "messages_by_temp_id", "(temp_id = $3)"),
        (&plans[2], "messages_by_upstream_id", "(upstream_id = $3)"),
    ] {
        assert!(
            plan.contains(&format!("Index Scan using {index} on messages")),
            "{plan}"
        );
        let cond = plan
            .lines()
            .find(|line| line.contains("Index Cond"))
            .unwrap_or_default();
        assert!(cond.contains(condition), "{plan}");
    }
}

/// A device is leased to one node at a time: a second node claims nothing while the lease is
/// live, takes it over under a new epoch once it lapsed, and the first node's renewal no
/// longer returns it.
#[tokio::test]
async fn a_device_is_leased_to_one_node_and_a_lapsed_lease_is_taken_under_a_new_epoch() {
    let db = Db::new(Backend::Postgres);
    let (store, _bus) = db.open();
    let shop = stored_device(&store, "shop").await;
    let claim = |node: &'static str, lease_ms: i64| {
        store.coordinate(move |conn| cluster::claim(conn, node, lease_ms, 5))
    };
    let taken = claim("a", 60_000).await.unwrap();
    assert_eq!(
        taken,
        [cluster::Held {
            device: shop.clone(),
            epoch: 1
        }]
    );
    assert_eq!(
        claim("b", 60_000).await.unwrap(),
        [],
        "live: not b's to take"
    );
    // a's lease runs out (renewed for no time at all).
    let renewed = store
        .coordinate(|conn| cluster::renew(conn, "a", -1))
        .await
        .unwrap();
    assert_eq!(renewed.len(), 1);
    let taken = claim("b", 60_000).await.unwrap();
    assert_eq!(
        taken,
        [cluster::Held {
            device: shop.clone(),
            epoch: 2
        }]
    );
    let renewed = store
        .coordinate(|conn| cluster::renew(conn, "a", 60_000))
        .await
        .unwrap();
    assert_eq!(renewed, [], "a's lease is gone");
    let owner = store
        .coordinate(move |conn| {
            cluster::heartbeat(conn, "b", "http://b.example", false)?;
            cluster::owner(conn, &shop)
        })
        .await
        .unwrap()
        .expect("b owns it");
    assert_eq!(
        (owner.node.as_str(), owner.url.as_str(), owner.epoch),
        ("b", "http://b.example", 2)
    );
}

/// A node frozen in the middle of a write keeps its transaction open and, with it, the lock on
/// its lease row that a takeover's claim skips. The server ends such an idle transaction well
/// inside a lease, so another node takes the lapsed lease over under a new epoch while the
/// first is still frozen; the frozen write fails when it wakes, and the writer goes on with a
/// new connection.
#[tokio::test]
async fn a_node_frozen_mid_write_loses_its_lapsed_lease_to_another() {
    let db = Db::new(Backend::Postgres);
    let (store, _bus) = db.open();
    let shop = stored_device(&store, "shop").await;
    let fenced = leased_to_a(&store, &shop).await;
    let frozen = HeldWriter::hold(&fenced).await;
    store
        .coordinate(|conn| cluster::renew(conn, "a", -1))
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut tries = tokio::time::interval(std::time::Duration::from_millis(100));
    let taken = loop {
        tries.tick().await;
        let taken = store
            .coordinate(|conn| cluster::claim(conn, "b", 60_000, 1))
            .await
            .unwrap();
        if !taken.is_empty() {
            break taken;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the frozen node's write kept its lease from being taken over"
        );
    };
    assert_eq!(
        taken,
        [cluster::Held {
            device: shop.clone(),
            epoch: 2
        }]
    );
    assert!(frozen.wake().await.is_err(), "the frozen write is ended");
    let id = shop.clone();
    let written = store
        .write(move |tx| tx.journal(&id, disconnected("after")))
        .await;
    assert!(written.is_ok(), "the writer goes on: {written:?}");
}

/// A write fenced by a lease that another node took over is refused, stores nothing, and
/// leaves the other writes of its group commit alone.
#[tokio::test]
async fn a_write_under_a_lapsed_lease_is_refused_alone() {
    let db = Db::new(Backend::Postgres);
    let (store, _bus) = db.open();
    let shop = stored_device(&store, "shop").await;
    let fenced = leased_to_a(&store, &shop).await;
    let id = shop.clone();
    let seq = fenced
        .write(move |tx| tx.journal(&id, disconnected("held")))
        .await
        .unwrap();
    assert_eq!(seq, 1, "a holds the lease: its write lands");

    store
        .coordinate(|conn| cluster::renew(conn, "a", -1))
        .await
        .unwrap();
    store
        .coordinate(|conn| cluster::claim(conn, "b", 60_000, 1))
        .await
        .unwrap();
    let held = HeldWriter::hold(&store).await;
    let id = shop.clone();
    let mut refused = Box::pin(fenced.write(move |tx| tx.journal(&id, disconnected("late"))));
    let id = shop.clone();
    let mut beside = Box::pin(store.write(move |tx| tx.journal(&id, disconnected("beside"))));
    queue(&mut refused).await;
    queue(&mut beside).await;
    held.release().await;
    assert!(
        matches!(refused.await, Err(StoreError::Fenced(_))),
        "the lapsed lease's write is refused"
    );
    assert_eq!(
        beside.await.unwrap(),
        2,
        "the write beside it lands, next in seq"
    );
    let read = journal_from_start(&store, shop).await;
    assert_eq!(read.events.len(), 2);
}

/// The lease a group commit checked holds off a takeover until the commit, but not its
/// owner's renewal: the renewal, which locks every lease of the node, cannot end up waiting
/// for a commit that waits for it.
#[tokio::test]
async fn a_fenced_write_holds_off_a_takeover_but_not_the_renewal() {
    let db = Db::new(Backend::Postgres);
    let (store, _bus) = db.open();
    let shop = stored_device(&store, "shop").await;
    let fenced = leased_to_a(&store, &shop).await;
    // The writer is inside a's write, with the lease checked and locked.
    let held = HeldWriter::hold(&fenced).await;
    let renewal = store.coordinate(|conn| cluster::renew(conn, "a", -1));
    let renewed = tokio::time::timeout(std::time::Duration::from_secs(10), renewal)
        .await
        .expect("the renewal does not wait for the write")
        .unwrap();
    assert_eq!(renewed.len(), 1, "renewed, for no time at all");
    let taken = store
        .coordinate(|conn| cluster::claim(conn, "b", 60_000, 1))
        .await
        .unwrap();
    assert_eq!(taken, [], "the lapsed lease is still being written under");
    held.release().await;
    let taken = store
        .coordinate(|conn| cluster::claim(conn, "b", 60_000, 1))
        .await
        .unwrap();
    assert_eq!(
        taken,
        [cluster::Held {
            device: shop,
            epoch: 2
        }],
        "taken once the write committed"
    );
}

/// A webhook delivery is claimed by one node at a time: another node's claim fails while the
/// first one's lasts, and succeeds once it ran out.
#[tokio::test]
async fn a_webhook_delivery_is_claimed_by_one_node_at_a_time() {
    let db = Db::new(Backend::Postgres);
    let (store, _bus) = db.open();
    let demo = DeviceId::parse("demo").unwrap();
    store
        .write(|tx| tx.upsert_webhook(&subscription("wh_all", &["*"], &["*"], true)))
        .await
        .unwrap();
    store
        .write(move |tx| tx.journal(&demo, disconnected("one")))
        .await
        .unwrap();
    let delivery = newest_delivery(&store).await.id;
    let claim = |node: &'static str, hold_ms: i64| {
        let delivery = delivery.clone();
        store.coordinate(move |conn| cluster::claim_delivery(conn, &delivery, node, hold_ms))
    };
    assert!(
        claim("a", -1).await.unwrap(),
        "a claims it, for no time at all"
    );
    assert!(
        claim("b", 60_000).await.unwrap(),
        "a's claim ran out: b's turn"
    );
    assert!(!claim("a", 60_000).await.unwrap(), "b's claim lasts");
    assert!(claim("b", 60_000).await.unwrap(), "b holds it still");
}
