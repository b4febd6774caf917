//! `fleet`: N simulator devices, each linked through the simulated phone and exchanging one
//! message with a contact who reads it and answers, then the daemon restarted. How long each
//! step takes for the whole fleet, the daemon's memory after it, and what the store weighs per
//! linked device and per exchange (the database after a clean restart, which copies the
//! write-ahead log into it and cuts the log back), and the largest the log grew to at any
//! moment (sampled every 50 ms).

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
    /// Simulator devices to create, link and exchange a message with.
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

    /// The bytes the database's pages hold, free pages left out: the file keeps the size it
    /// once reached, and the pages a checkpoint freed would otherwise count.
    fn used_bytes(&self) -> Result<u64> {
        let conn = rusqlite::Connection::open_with_flags(
            &self.database,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        )?;
        let pragma = |name: &str| -> Result<u64> {
            Ok(conn.pragma_query_value(None, name, |row| row.get::<_, i64>(0))? as u64)
        };
        Ok((pragma("page_count")? - pragma("freelist_count")?) * pragma("page_size")?)
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
            "{} simulator devices, {concurrency} requests at a time; one exchange each with a \
             contact who reads and answers. Store weights are read after a clean restart, when \
             the log was copied into the database and cut back",
            args.devices
        ),
    );
    let (empty, _) = restarted(target, &files, 0).await?;
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
    let linked_rss = rss(target);
    let (linked, _) = restarted(target, &files, args.devices).await?;
    summary.row(
        "linked",
        format!(
            "all {} ready in {:.1} s; rss {linked_rss}; store {}, {} per device",
            args.devices,
            link_time.as_secs_f64(),
            mib(linked / 1024),
            kib_per(linked.saturating_sub(empty), args.devices)
        ),
    );

    // Every device sends first, then the answers are awaited: the contacts take seconds to
    // read and type, and the fleet's exchanges overlap as they would in use.
    let exchanging = Instant::now();
    for_each(&ids, concurrency, "sent", |id| {
        let api = api.clone();
        async move {
            api.post(&messages_path(&id), json!({ "text": "hello" }))
                .await
                .map(drop)
        }
    })
    .await?;
    for_each(&ids, concurrency, "answered", |id| {
        let api = api.clone();
        async move { answered(&api, &id).await }
    })
    .await?;
    let exchange_time = exchanging.elapsed();
    let exchanged_rss = rss(target);
    let (exchanged, ready_after) = restarted(target, &files, args.devices).await?;
    summary.row(
        "exchanged",
        format!(
            "every device's message answered in {:.1} s; rss {exchanged_rss}; store {}, {} per exchange",
            exchange_time.as_secs_f64(),
            mib(exchanged / 1024),
            kib_per(exchanged.saturating_sub(linked), args.devices)
        ),
    );
    summary.row(
        "restarted",
        format!(
            "all {} ready {:.1} s after the stop began; rss {}",
            args.devices,
            ready_after.as_secs_f64(),
            rss(target)
        ),
    );
    summary.row(
        "largest log",
        format!(
            "{} at any moment of the run (sampled every 50 ms)",
            mib(watch.largest() / 1024)
        ),
    );
    Ok(summary)
}

/// Restarts the daemon and waits for its `devices` to be ready again; returns the bytes the
/// database's pages hold then (a clean stop copies the whole log into it) and how long the
/// restart took.
async fn restarted(
    target: &mut Target,
    files: &StoreFiles,
    devices: usize,
) -> Result<(u64, Duration)> {
    let restarting = Instant::now();
    target.restart().await?;
    all_ready(&target.api, devices).await?;
    let ready = restarting.elapsed();
    Ok((files.used_bytes()?, ready))
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

/// Waits until the contact answered the device's message.
async fn answered(api: &Api, id: &str) -> Result<()> {
    let path = messages_path(id);
    let deadline = Instant::now() + STEP_TIMEOUT;
    loop {
        let page = api.get(&format!("{path}?limit=5")).await?;
        let answered = page["items"]
            .as_array()
            .is_some_and(|items| items.iter().any(|m| m["fromMe"] == false));
        if answered {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("device {id}: no answer within {STEP_TIMEOUT:?}");
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
    format!("{:.1} KiB", bytes as f64 / 1024.0 / count.max(1) as f64)
}

fn rss(target: &Target) -> String {
    target
        .sample()
        .map_or_else(|| "n/a".into(), |sample| mib(sample.rss_kib))
}
