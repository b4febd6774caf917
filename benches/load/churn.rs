//! `churn`: C idle connections open and then all close, in cycles; the daemon's resident
//! memory before the first cycle, right after each close and a while later. A daemon whose
//! clients come and go must give back what they took, not keep it for the next crowd.

use std::time::Duration;

use anyhow::Result;
use clap::Args;
use tokio::time::{sleep, Instant};

use crate::idle::{Crowd, Gone};
use crate::measure::{cpu_share, mib, progress, ProcSample, Summary};
use crate::target::{linked_device, Target};

/// How often the daemon's memory is shown while waiting after a close.
const WATCH_EVERY: Duration = Duration::from_secs(5);

#[derive(Debug, Args)]
pub(crate) struct ChurnArgs {
    /// Idle Socket.IO connections opened in each cycle.
    #[arg(long, default_value_t = 5_000)]
    connections: usize,
    /// Cycles of opening and closing them.
    #[arg(long, default_value_t = 3)]
    cycles: usize,
    /// Seconds after the close at which memory is read again.
    #[arg(long, default_value_t = 30.0)]
    wait: f64,
    /// Seconds to wait before the baseline reading and before the reading with the
    /// connections open, so the daemon is quiet.
    #[arg(long, default_value_t = 3.0)]
    settle: f64,
}

/// What one cycle read from the daemon.
struct Cycle {
    opened: String,
    open: Option<ProcSample>,
    gone: Gone,
    /// Once the daemon counted the connections gone.
    closed: Option<ProcSample>,
    /// `--wait` after `closed`.
    later: Option<ProcSample>,
}

pub(crate) async fn run(target: &Target, args: &ChurnArgs) -> Result<Summary> {
    let settle = Duration::from_secs_f64(args.settle);
    let wait = Duration::from_secs_f64(args.wait);
    let device = linked_device(target, 1).await?;
    sleep(settle).await;
    let baseline = target.sample();
    progress(format_args!("baseline: rss {}", rss(baseline)));
    let mut cycles = Vec::with_capacity(args.cycles);
    for n in 1..=args.cycles {
        let crowd = Crowd::open(target, &device.id, args.connections, settle).await?;
        let (opened, open) = (crowd.describe(), crowd.open);
        progress(format_args!(
            "cycle {n}/{}: {opened}; rss {}",
            args.cycles,
            rss(open)
        ));
        let gone = crowd.close(target).await?;
        let closed = target.sample();
        progress(format_args!(
            "cycle {n}/{}: closed; rss {}, {}",
            args.cycles,
            rss(closed),
            over(excess_kib(baseline, closed))
        ));
        let later = watch(target, baseline, wait).await;
        cycles.push(Cycle {
            opened,
            open,
            gone,
            closed,
            later,
        });
    }
    Ok(churn_summary(args, baseline, &cycles))
}

/// Waits `wait`, showing the daemon's memory every few seconds (how fast it comes back),
/// and returns the reading at the end.
async fn watch(
    target: &Target,
    baseline: Option<ProcSample>,
    wait: Duration,
) -> Option<ProcSample> {
    let started = Instant::now();
    loop {
        sleep(wait.saturating_sub(started.elapsed()).min(WATCH_EVERY)).await;
        let sample = target.sample();
        if started.elapsed() >= wait {
            return sample;
        }
        progress(format_args!(
            "  {:.0} s after closing: rss {}, {}",
            started.elapsed().as_secs_f64(),
            rss(sample),
            over(excess_kib(baseline, sample))
        ));
    }
}

fn churn_summary(args: &ChurnArgs, baseline: Option<ProcSample>, cycles: &[Cycle]) -> Summary {
    let mut summary = Summary::new("churn");
    summary.row(
        "load",
        format!(
            "{} idle connections on one device, opened and then all closed, {} times",
            args.connections, args.cycles
        ),
    );
    summary.row(
        "rss baseline",
        format!("{} (before the first cycle)", rss(baseline)),
    );
    for (n, cycle) in (1..).zip(cycles) {
        summary.row(
            &format!("cycle {n} open"),
            format!("{}; rss {}", cycle.opened, rss(cycle.open)),
        );
        summary.row(
            &format!("cycle {n} closed"),
            format!(
                "rss {} once the daemon counted them gone ({:.1} s; it counts {}); {} {:.0} s \
                 later, {}; daemon meanwhile {}",
                rss(cycle.closed),
                cycle.gone.after.as_secs_f64(),
                cycle.gone.left,
                rss(cycle.later),
                args.wait,
                over(excess_kib(baseline, cycle.later)),
                cpu_share(
                    cycle.closed,
                    cycle.later,
                    Duration::from_secs_f64(args.wait)
                )
            ),
        );
    }
    let kept = cycles
        .iter()
        .zip(1..)
        .filter_map(|(cycle, n)| Some((excess_kib(baseline, cycle.later)?, n)))
        .max();
    if let Some((kib, n)) = kept {
        summary.row(
            "most kept",
            format!(
                "{} {:.0} s after closing (cycle {n})",
                over(Some(kib)),
                args.wait
            ),
        );
    }
    if let Some(tool) = ProcSample::of_self() {
        summary.row("tool rss", mib(tool.rss_kib));
    }
    summary
}

fn rss(sample: Option<ProcSample>) -> String {
    sample.map_or_else(|| "n/a (pass --pid with --url)".into(), |s| mib(s.rss_kib))
}

/// How much more the daemon holds than at the baseline, in KiB (negative if less).
fn excess_kib(baseline: Option<ProcSample>, sample: Option<ProcSample>) -> Option<i64> {
    Some(sample?.rss_kib as i64 - baseline?.rss_kib as i64)
}

/// `+12.3 MiB over the baseline`.
fn over(excess_kib: Option<i64>) -> String {
    match excess_kib {
        Some(kib) => format!("{:+.1} MiB over the baseline", kib as f64 / 1024.0),
        None => "n/a".into(),
    }
}
