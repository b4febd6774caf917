//! `idle`: C connections that only answer pings; the daemon's resident memory before and after.
//! The crowd of idle connections is shared with `churn`, which opens and closes it in cycles.

use std::time::Duration;

use anyhow::Result;
use clap::Args;
use futures_util::future::join_all;
use tokio::time::{sleep, Instant};

use crate::measure::{cpu_share, mib, progress, ProcSample, Summary};
use crate::target::{linked_device, Subscriber, Target};

/// How long the daemon gets to count closed connections gone before the reading is taken
/// anyway (the summary then shows the connections it still counts).
const GONE_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Debug, Args)]
pub(crate) struct IdleArgs {
    /// Idle Socket.IO connections to open.
    #[arg(long, default_value_t = 10_000)]
    connections: usize,
    /// Seconds to wait before each memory reading, so the daemon is quiet.
    #[arg(long, default_value_t = 3.0)]
    settle: f64,
    /// Seconds to keep the connections open after the reading (to inspect the daemon).
    #[arg(long, default_value_t = 0.0)]
    hold: f64,
}

/// C idle connections on one device, opened a few at a time, and what the daemon showed once
/// it settled with them open.
pub(crate) struct Crowd {
    clients: Vec<Subscriber>,
    /// Connections the daemon counted before this crowd came: what it counts again once the
    /// crowd has gone.
    others: u64,
    pub(crate) connect_time: Duration,
    /// The daemon's reading `settle` after the last connection opened.
    pub(crate) open: Option<ProcSample>,
    /// Connections the daemon counted then.
    counted: u64,
}

/// A crowd's connections closed and counted gone by the daemon.
pub(crate) struct Gone {
    /// From the first close to the daemon counting no more than it did before the crowd.
    pub(crate) after: Duration,
    /// Connections the daemon counts now (more than before the crowd if it timed out).
    pub(crate) left: u64,
}

impl Crowd {
    pub(crate) async fn open(
        target: &Target,
        device: &str,
        count: usize,
        settle: Duration,
    ) -> Result<Crowd> {
        let others = target.api.connections().await?;
        let started = Instant::now();
        let clients = target.connect_many(device, count).await?;
        let connect_time = started.elapsed();
        sleep(settle).await;
        Ok(Crowd {
            clients,
            others,
            connect_time,
            open: target.sample(),
            counted: target.api.connections().await?,
        })
    }

    /// `N opened in … s (…/s); the daemon counts …`.
    pub(crate) fn describe(&self) -> String {
        format!(
            "{} opened in {:.1} s ({:.0}/s); the daemon counts {}",
            self.clients.len(),
            self.connect_time.as_secs_f64(),
            self.clients.len() as f64 / self.connect_time.as_secs_f64(),
            self.counted
        )
    }

    /// Closes every connection as a browser tab does (leaving the namespace, then closing the
    /// WebSocket), all at once, and waits until the daemon counts them gone: a reading taken
    /// before that would still hold connections the daemon has not dropped yet.
    pub(crate) async fn close(self, target: &Target) -> Result<Gone> {
        progress(format_args!("closing {} connections", self.clients.len()));
        let started = Instant::now();
        join_all(self.clients.into_iter().map(|s| s.client.close())).await;
        loop {
            let left = target.api.connections().await?;
            if left <= self.others || started.elapsed() > GONE_TIMEOUT {
                return Ok(Gone {
                    after: started.elapsed(),
                    left,
                });
            }
            sleep(Duration::from_millis(100)).await;
        }
    }
}

/// What `idle` read from the daemon (and itself).
struct Readings {
    before: Option<ProcSample>,
    open: Option<ProcSample>,
    closed: Option<ProcSample>,
    tool: Option<ProcSample>,
    /// What the daemon's CPU is measured over: connecting, then settling.
    cpu_window: Duration,
    /// Connections the daemon counts after they were closed.
    left: u64,
}

/// Opens C connections that only answer pings and reads the daemon's RSS before and after.
pub(crate) async fn run(target: &Target, args: &IdleArgs) -> Result<Summary> {
    let settle = Duration::from_secs_f64(args.settle);
    let device = linked_device(target, 1).await?;
    sleep(settle).await;
    let before = target.sample();
    let crowd = Crowd::open(target, &device.id, args.connections, settle).await?;
    let tool = ProcSample::of_self();
    if args.hold > 0.0 {
        progress(format_args!(
            "holding the connections for {:.0} s",
            args.hold
        ));
        sleep(Duration::from_secs_f64(args.hold)).await;
    }
    let opened = crowd.describe();
    let (open, cpu_window) = (crowd.open, crowd.connect_time + settle);
    let gone = crowd.close(target).await?;
    sleep(settle).await;
    let readings = Readings {
        before,
        open,
        closed: target.sample(),
        tool,
        cpu_window,
        left: gone.left,
    };
    Ok(idle_summary(args, &opened, &readings))
}

fn idle_summary(args: &IdleArgs, opened: &str, r: &Readings) -> Summary {
    let mut summary = Summary::new("idle");
    summary.row("connections", opened);
    match (r.before, r.open) {
        (Some(before), Some(after)) => {
            let grown = after.rss_kib.saturating_sub(before.rss_kib);
            summary.row("rss before", mib(before.rss_kib));
            summary.row("rss after", mib(after.rss_kib));
            summary.row(
                "rss per connection",
                format!("{:.1} KiB", grown as f64 / args.connections.max(1) as f64),
            );
        }
        _ => summary.row("rss", "n/a (pass --pid with --url)"),
    }
    if let Some(closed) = r.closed {
        summary.row(
            "rss after closing",
            format!(
                "{} (the daemon counts {} connections)",
                mib(closed.rss_kib),
                r.left
            ),
        );
    }
    summary.row(
        "connect CPU (daemon)",
        cpu_share(r.before, r.open, r.cpu_window),
    );
    if let Some(tool) = r.tool {
        summary.row("tool rss", mib(tool.rss_kib));
    }
    summary
}
