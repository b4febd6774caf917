//! `idle`: C connections that only answer pings; the daemon's resident memory before and after.

use std::time::Duration;

use anyhow::Result;
use clap::Args;
use tokio::time::{sleep, Instant};

use crate::measure::{cpu_share, mib, progress, ProcSample, Summary};
use crate::target::{linked_device, Target};

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

/// What `idle` read from the daemon (and itself).
struct Readings {
    before: Option<ProcSample>,
    after: Option<ProcSample>,
    closed: Option<ProcSample>,
    tool: Option<ProcSample>,
    /// What the daemon's CPU is measured over: connecting, then settling.
    cpu_window: Duration,
    /// Connections the daemon counted while they were open, and after they were closed.
    counted: u64,
    left: u64,
}

/// Opens C connections that only answer pings and reads the daemon's RSS before and after.
pub(crate) async fn run(target: &Target, args: &IdleArgs) -> Result<Summary> {
    let settle = Duration::from_secs_f64(args.settle);
    let device = linked_device(target, 1).await?;
    sleep(settle).await;
    let before = target.sample();
    let started = Instant::now();
    let clients = target.connect_many(&device.id, args.connections).await?;
    let connect_time = started.elapsed();
    sleep(settle).await;
    let after = target.sample();
    let counted = target.api.connections().await?;
    let tool = ProcSample::of_self();
    if args.hold > 0.0 {
        progress(format_args!(
            "holding the connections for {:.0} s",
            args.hold
        ));
        sleep(Duration::from_secs_f64(args.hold)).await;
    }
    progress(format_args!("closing {} connections", clients.len()));
    drop(clients);
    sleep(settle + Duration::from_secs(2)).await;
    let readings = Readings {
        before,
        after,
        closed: target.sample(),
        tool,
        cpu_window: connect_time + settle,
        counted,
        left: target.api.connections().await?,
    };
    Ok(idle_summary(args, connect_time, &readings))
}

fn idle_summary(args: &IdleArgs, connect_time: Duration, r: &Readings) -> Summary {
    let mut summary = Summary::new("idle");
    summary.row(
        "connections",
        format!(
            "{} opened in {:.1} s ({:.0}/s); the daemon counts {}",
            args.connections,
            connect_time.as_secs_f64(),
            args.connections as f64 / connect_time.as_secs_f64(),
            r.counted
        ),
    );
    match (r.before, r.after) {
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
        cpu_share(r.before, r.after, r.cpu_window),
    );
    if let Some(tool) = r.tool {
        summary.row("tool rss", mib(tool.rss_kib));
    }
    summary
}
