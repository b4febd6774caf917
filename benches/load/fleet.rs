//! `fleet`: N simulator devices, each linked through the simulated phone and exchanging a
//! message with a contact who reads it and answers, twice, then the daemon restarted. How long
//! each step takes for the whole fleet, the daemon's memory after it, and what the store weighs
//! per linked device, per restart, per first exchange and per exchange after it (the pages the
//! database holds, read through SQLite with its write-ahead log, free pages left out; of an
//! exchange's, how much the simulated phone's own tables took), and the largest the log grew
//! to at any moment (sampled every 50 ms).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Result};
use clap::Args;
use futures_util::stream::{self, StreamExt, TryStreamExt};
use serde_json::json;
use tokio::time::{sleep, Instant};

use crate::measure::{mib, progress, Summary};
use crate::target::{Api, Target};

/// The contact every device exchanges its message with: it reads and answers.
const CONTACT: &str = "15550000002@c.us";
/// How long the whole fleet may take to answer, or to be ready again after the restart.
const STEP_TIMEOUT: Duration = Duration::from_secs(600);

#[derive(Debug, Args)]
pub(crate) struct FleetArgs {
    /// Simulator devices to create, link and exchange messages with.
    #[arg(long, default_value_t = 100)]
    devices: usize,
    /// Requests in flight at a time while linking, sending and waiting for answers.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
}

/// The store's files: the database and its write-ahead log.
struct StoreFiles {
    database: PathBuf,
    log: PathBuf,
}

impl StoreFiles {
    fn of(data_dir: &Path) -> StoreFiles {
        StoreFiles {
            database: data_dir.join("devicebridge.db"),
            log: data_dir.join("devicebridge.db-wal"),
        }
    }

    fn log_bytes(&self) -> u64 {
        std::fs::metadata(&self.log).map_or(0, |m| m.len())
    }

    /// The database, read with its log, as the daemon left it so far.
    fn read_only(&self) -> Result<rusqlite::Connection> {
        Ok(rusqlite::Connection::open_with_flags(
            &self.database,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        )?)
    }

    /// The bytes the database's pages hold, free pages left out: the file keeps the size it
    /// once reached, and the pages a checkpoint freed would otherwise count.
    fn used_bytes(&self) -> Result<u64> {
        let conn = self.read_only()?;
        let pragma = |name: &str| -> Result<u64> {
            Ok(conn.pragma_query_value(None, name, |row| row.get::<_, i64>(0))? as u64)
        };
        Ok((pragma("page_count")? - pragma("freelist_count")?) * pragma("page_size")?)
    }

    /// The bytes each table's pages hold, its indexes' with it, by the table's name.
    fn table_bytes(&self) -> Result<Tables> {
        let conn = self.read_only()?;
        let mut statement = conn.prepare(
            "SELECT COALESCE(s.tbl_name, d.name), SUM(d.pgsize) FROM dbstat d
             LEFT JOIN sqlite_schema s ON s.name = d.name GROUP BY 1",
        )?;
        let tables = statement
            .query_map([], |row| Ok((row.get(0)?, row.get::<_, i64>(1)? as u64)))?
            .collect::<rusqlite::Result<_>>()?;
        Ok(Tables(tables))
    }
}

/// What each table of the store weighs ([`StoreFiles::table_bytes`]).
struct Tables(HashMap<String, u64>);

impl Tables {
    /// What the simulated phones' tables weigh: the other side's phone, which the simulator
    /// keeps in the store so that it outlives a restart. A device of a real upstream keeps
    /// none of it.
    fn phone(&self) -> u64 {
        self.0
            .iter()
            .filter(|(table, _)| table.starts_with("simulator_"))
            .map(|(_, bytes)| bytes)
            .sum()
    }

    /// The tables that grew since `before`, the most first, each with its bytes per one of
    /// `count`.
    fn growth(&self, before: &Tables, count: usize) -> String {
        let mut grown: Vec<(&String, u64)> = self
            .0
            .iter()
            .map(|(table, bytes)| {
                (
                    table,
                    bytes.saturating_sub(before.0.get(table).copied().unwrap_or(0)),
                )
            })
            .filter(|(_, grown)| *grown > 0)
            .collect();
        grown.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        grown
            .iter()
            .map(|(table, grown)| format!("{table} {:.0} B", *grown as f64 / count.max(1) as f64))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Follows the log's size in the background: the largest it was since the start.
struct LogWatch {
    largest: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl LogWatch {
    fn start(files: StoreFiles) -> LogWatch {
        let largest = Arc::new(AtomicU64::new(0));
        let seen = largest.clone();
        let task = tokio::spawn(async move {
            loop {
                seen.fetch_max(files.log_bytes(), Ordering::Relaxed);
                sleep(Duration::from_millis(50)).await;
            }
        });
        LogWatch { largest, task }
    }

    fn largest(&self) -> u64 {
        self.largest.load(Ordering::Relaxed)
    }
}

impl Drop for LogWatch {
    fn drop(&mut self) {
        self.task.abort();
    }
}

pub(crate) async fn run(target: &mut Target, args: &FleetArgs) -> Result<Summary> {
    let Some(data_dir) = target.daemon.as_ref().map(|d| d.data_dir()) else {
        bail!("fleet measures the store's files: let the tool start the daemon (no --url)");
    };
    let files = StoreFiles::of(&data_dir);
    let watch = LogWatch::start(StoreFiles::of(&data_dir));
    let ids: Vec<String> = (0..args.devices)
        .map(|n| format!("fleet-{}-{n}", target.run_id))
        .collect();
    let concurrency = args.concurrency.max(1);
    let mut summary = Summary::new("fleet");
    summary.row(
        "load",
        format!(
            "{} simulator devices, {concurrency} requests at a time; two exchanges each with a \
             contact who reads, answers and goes offline again. Store weights are the pages \
             the database holds (its log read with it), free pages left out",
            args.devices
        ),
    );
    let empty = files.used_bytes()?;
    summary.row("store empty", mib(empty / 1024));

    let api = target.api.clone();
    let linking = Instant::now();
    let contacts = json!([{ "id": CONTACT, "name": "Echo", "behaviour": "echo" }]);
    for_each(&ids, concurrency, "linked", |id| {
        let (api, contacts) = (api.clone(), contacts.clone());
        async move { api.link_simulator(&id, contacts).await }
    })
    .await?;
    let link_time = linking.elapsed();
    let linked = files.used_bytes()?;
    summary.row(
        "linked",
        format!(
            "all {} ready in {:.1} s; rss {}; store {}, {} per device",
            args.devices,
            link_time.as_secs_f64(),
            rss(target),
            mib(linked / 1024),
            kib_per(linked.saturating_sub(empty), args.devices)
        ),
    );
    restarted(
        target,
        "restart after linking",
        &mut summary,
        &files,
        linked,
        args.devices,
    )
    .await?;
    // A device's first exchange also keeps what only a first one does (its first journal
    // rows of each kind whole, its chat's and contact's rows grown); the second is what each
    // exchange after it costs.
    let (mut before, mut tables_before) = (files.used_bytes()?, files.table_bytes()?);
    for (round, label) in [(1, "exchanged"), (2, "exchanged again")] {
        let took = exchange(&api, &ids, concurrency, round).await?;
        let (after, tables) = (files.used_bytes()?, files.table_bytes()?);
        summary.row(
            label,
            format!(
                "every device's message answered and the contact offline again in {:.1} s; \
                 rss {}; store {}, {} per exchange, {} of it the simulated phone's",
                took.as_secs_f64(),
                rss(target),
                mib(after / 1024),
                kib_per(after.saturating_sub(before), args.devices),
                kib_per(
                    tables.phone().saturating_sub(tables_before.phone()),
                    args.devices
                )
            ),
        );
        summary.row(
            &format!("{label}, by table"),
            format!(
                "per exchange, each table with its indexes, whole pages: {}",
                tables.growth(&tables_before, args.devices)
            ),
        );
        (before, tables_before) = (after, tables);
    }
    let exchanged = before;
    restarted(
        target,
        "restarted",
        &mut summary,
        &files,
        exchanged,
        args.devices,
    )
    .await?;
    summary.row(
        "largest log",
        format!(
            "{} at any moment of the run (sampled every 50 ms)",
            mib(watch.largest() / 1024)
        ),
    );
    Ok(summary)
}

/// Has every device of `ids` send its contact a message and waits until each contact has
/// answered its `round`th and gone offline again; returns how long that took. Every device
/// sends first, then the answers are awaited: the contacts take seconds to read and type, and
/// the fleet's exchanges overlap as they would in use.
async fn exchange(api: &Api, ids: &[String], concurrency: usize, round: usize) -> Result<Duration> {
    let exchanging = Instant::now();
    for_each(ids, concurrency, "sent", |id| {
        let api = api.clone();
        async move {
            api.post(&messages_path(&id), json!({ "text": "hello" }))
                .await
                .map(drop)
        }
    })
    .await?;
    for_each(ids, concurrency, "exchanged", |id| {
        let api = api.clone();
        async move { exchanged(&api, &id, round).await }
    })
    .await?;
    Ok(exchanging.elapsed())
}

/// How long after a restart's devices are ready their memory is read again: every device
/// starts at once, and what that burst allocated is freed over the next seconds.
const SETTLING: Duration = Duration::from_secs(5);

/// Restarts the daemon, waits for its `devices` to be ready again and reports under `label`
/// how long that took, its memory then and [`SETTLING`] later, and what the restart added to
/// the store's `before` bytes (each device journals its starting and connecting again).
async fn restarted(
    target: &mut Target,
    label: &str,
    summary: &mut Summary,
    files: &StoreFiles,
    before: u64,
    devices: usize,
) -> Result<()> {
    let restarting = Instant::now();
    target.restart().await?;
    all_ready(&target.api, devices).await?;
    let ready_after = restarting.elapsed();
    let added = files.used_bytes()?.saturating_sub(before);
    let at_ready = rss(target);
    sleep(SETTLING).await;
    summary.row(
        label,
        format!(
            "all {devices} ready {:.1} s after the stop began; rss {at_ready}, {} {} s later; \
             store {} more, {} per device",
            ready_after.as_secs_f64(),
            rss(target),
            SETTLING.as_secs(),
            mib(added / 1024),
            kib_per(added, devices)
        ),
    );
    Ok(())
}

/// Runs `step` for every id, `concurrency` at a time, printing progress.
async fn for_each<F, Fut>(ids: &[String], concurrency: usize, done: &str, step: F) -> Result<()>
where
    F: Fn(String) -> Fut,
    Fut: std::future::Future<Output = Result<()>>,
{
    let every = (ids.len() / 10).max(1);
    let finished = AtomicU64::new(0);
    stream::iter(ids.iter().cloned().map(&step))
        .buffer_unordered(concurrency)
        .map_ok(|()| {
            let n = finished.fetch_add(1, Ordering::Relaxed) + 1;
            if (n as usize).is_multiple_of(every) {
                progress(format_args!("{done} {n}/{}", ids.len()));
            }
        })
        .try_collect::<()>()
        .await
}

/// The device's chat with the contact, its messages.
fn messages_path(id: &str) -> String {
    format!("/api/v1/devices/{id}/chats/{CONTACT}/messages")
}

/// Waits until the `round`th exchange is over: the contact answered the device's `round`th
/// message and went offline again, the last thing the simulated phone does for it (until
/// then the phone keeps what it still owes in the store).
async fn exchanged(api: &Api, id: &str, round: usize) -> Result<()> {
    let path = messages_path(id);
    let deadline = Instant::now() + STEP_TIMEOUT;
    loop {
        let page = api.get(&format!("{path}?limit={}", 2 * round + 1)).await?;
        let answered = page["items"]
            .as_array()
            .is_some_and(|items| items.iter().filter(|m| m["fromMe"] == false).count() >= round);
        if answered {
            let contacts = api.get(&format!("/api/v1/devices/{id}/contacts")).await?;
            let online = contacts["items"].as_array().is_some_and(|items| {
                items
                    .iter()
                    .any(|c| c["id"] == CONTACT && c["presence"] == "online")
            });
            if !online {
                return Ok(());
            }
        }
        if Instant::now() > deadline {
            bail!("device {id}: no answer, or the contact still online, after {STEP_TIMEOUT:?}");
        }
        sleep(Duration::from_millis(200)).await;
    }
}

/// Waits until the daemon lists `count` devices, all `ready`.
async fn all_ready(api: &Api, count: usize) -> Result<()> {
    let deadline = Instant::now() + STEP_TIMEOUT;
    loop {
        let ready = match api.get("/api/v1/devices").await {
            Ok(list) => list["items"].as_array().map_or(0, |items| {
                items.iter().filter(|d| d["state"] == "ready").count()
            }),
            // Still starting.
            Err(_) => 0,
        };
        if ready >= count {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("{ready} of {count} devices ready {STEP_TIMEOUT:?} after the restart");
        }
        sleep(Duration::from_millis(50)).await;
    }
}

fn kib_per(bytes: u64, count: usize) -> String {
    format!("{:.2} KiB", bytes as f64 / 1024.0 / count.max(1) as f64)
}

fn rss(target: &Target) -> String {
    target
        .sample()
        .map_or_else(|| "n/a".into(), |sample| mib(sample.rss_kib))
}
