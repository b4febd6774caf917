//! Measurements (latency percentiles, a process's memory and CPU from `/proc`) and the summary
//! block the tool prints.

use std::fmt;
use std::time::Duration;

use anyhow::{anyhow, Context, Result};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::target::{command_line, epoch, Target};

/// Latency samples in microseconds; percentiles by sorting (a run has at most a few million).
#[derive(Default)]
pub(crate) struct Latencies(Vec<u32>);

impl Latencies {
    pub(crate) fn record(&mut self, latency: Duration) {
        self.0
            .push(u32::try_from(latency.as_micros()).unwrap_or(u32::MAX));
    }

    /// Samples another process measured, in microseconds.
    pub(crate) fn from_micros(samples: Vec<u32>) -> Latencies {
        Latencies(samples)
    }

    pub(crate) fn merge(&mut self, other: Latencies) {
        self.0.extend(other.0);
    }

    /// `p50 … · p99 … · max …` in milliseconds.
    pub(crate) fn describe(&mut self) -> String {
        if self.0.is_empty() {
            return "no samples".into();
        }
        let [p50, p90, p99, max] = [0.50, 0.90, 0.99, 1.0].map(|q| self.quantile_ms(q));
        format!(
            "p50 {p50:.2} ms · p90 {p90:.2} ms · p99 {p99:.2} ms · max {max:.2} ms ({} samples)",
            self.0.len()
        )
    }

    /// The `q` quantile (nearest rank) in milliseconds; the samples must not be empty.
    fn quantile_ms(&mut self, q: f64) -> f64 {
        self.0.sort_unstable();
        let rank = ((self.0.len() as f64 * q).ceil() as usize).clamp(1, self.0.len());
        f64::from(self.0[rank - 1]) / 1000.0
    }
}

/// A process's resident memory and CPU time, from `/proc`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ProcSample {
    pub(crate) rss_kib: u64,
    pub(crate) cpu: Duration,
}

impl ProcSample {
    pub(crate) fn read(proc_dir: &str) -> Result<ProcSample> {
        let status = std::fs::read_to_string(format!("{proc_dir}/status"))?;
        let rss_kib = status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|kib| kib.parse().ok())
            .ok_or_else(|| anyhow!("no VmRSS in {proc_dir}/status"))?;
        let stat = std::fs::read_to_string(format!("{proc_dir}/stat"))?;
        let fields = stat_fields(&stat);
        // utime, stime, cutime and cstime are fields 14 to 17 of stat(5), `fields` starting at
        // field 3: a process's CPU with that of the children it has waited for, such as the
        // Node client that `send --client node` starts.
        let ticks: u64 = fields
            .get(11..15)
            .map(|f| f.iter().filter_map(|t| t.parse::<u64>().ok()).sum())
            .unwrap_or(0);
        // SAFETY: sysconf has no preconditions.
        let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
        Ok(ProcSample {
            rss_kib,
            cpu: Duration::from_millis(ticks * 1000 / per_second),
        })
    }

    pub(crate) fn of_self() -> Option<ProcSample> {
        ProcSample::read("/proc/self").ok()
    }
}

/// The fields of `/proc/<pid>/stat` after the command name (which may contain spaces).
pub(crate) fn stat_fields(stat: &str) -> Vec<&str> {
    stat.rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default()
}

/// CPU used between two samples, as a share of one core.
pub(crate) fn cpu_share(
    before: Option<ProcSample>,
    after: Option<ProcSample>,
    wall: Duration,
) -> String {
    match (before, after) {
        (Some(b), Some(a)) if !wall.is_zero() => {
            let used = a.cpu.saturating_sub(b.cpu);
            format!(
                "{:.1} s CPU = {:.0}% of one core",
                used.as_secs_f64(),
                100.0 * used.as_secs_f64() / wall.as_secs_f64()
            )
        }
        _ => "n/a".into(),
    }
}

/// The host's CPU time, all CPUs together, in clock ticks since boot (the first line of
/// `/proc/stat`).
#[derive(Debug, Clone, Copy)]
struct HostCpu {
    total: u64,
    idle: u64,
    steal: u64,
}

impl HostCpu {
    fn read() -> Option<HostCpu> {
        let stat = std::fs::read_to_string("/proc/stat").ok()?;
        let ticks: Vec<u64> = stat
            .lines()
            .next()?
            .strip_prefix("cpu ")?
            .split_whitespace()
            .map(|t| t.parse().unwrap_or(0))
            .collect();
        // user nice system idle iowait irq softirq steal; guest time is counted in user.
        let kind = |i: usize| ticks.get(i).copied().unwrap_or(0);
        Some(HostCpu {
            total: (0..8).map(kind).sum(),
            idle: kind(3) + kind(4),
            steal: kind(7),
        })
    }
}

/// What the host's CPUs did between two samples. On a virtual machine, time the hypervisor
/// gave to other guests ("steal") is time the daemon's threads were ready and did not run:
/// it shows up as latency and lower rates that are no fault of the daemon's, so a run is
/// judged with it.
fn host_share(before: Option<HostCpu>, after: Option<HostCpu>) -> String {
    match (before, after) {
        (Some(b), Some(a)) if a.total > b.total => {
            let share = |of: fn(&HostCpu) -> u64| {
                100.0 * (of(&a) - of(&b)) as f64 / (a.total - b.total) as f64
            };
            format!(
                "{:.0}% stolen by the hypervisor, {:.0}% idle (all CPUs)",
                share(|c| c.steal),
                share(|c| c.idle)
            )
        }
        _ => "n/a".into(),
    }
}

/// What a run cost: the daemon's and this tool's CPU (they share the host's cores, so the
/// tool's share is capacity the daemon did not have), what the host's CPUs did meanwhile and
/// the journal events it produced.
pub(crate) struct RunCost {
    daemon: Option<ProcSample>,
    tool: Option<ProcSample>,
    host: Option<HostCpu>,
    steps: Option<Steps>,
    head: u64,
    at: Instant,
}

impl RunCost {
    pub(crate) async fn start(target: &Target, device: &str) -> Result<RunCost> {
        Ok(RunCost {
            daemon: target.sample(),
            tool: ProcSample::of_self(),
            host: HostCpu::read(),
            steps: Steps::scrape(target).await,
            head: target.api.journal_head(device).await?,
            at: Instant::now(),
        })
    }

    /// Rows for the summary: `journal events` (per message when `messages` > 0) and CPU.
    pub(crate) async fn finish(
        self,
        target: &Target,
        device: &str,
        messages: u64,
    ) -> Result<Summary> {
        let mut summary = Summary::new("");
        let wall = self.at.elapsed();
        let (daemon, tool, host) = (target.sample(), ProcSample::of_self(), HostCpu::read());
        let events = target.api.journal_head(device).await? - self.head;
        let per_message = if messages > 0 {
            format!(" = {:.2} per message", events as f64 / messages as f64)
        } else {
            String::new()
        };
        summary.row(
            "journal events",
            format!(
                "{events}{per_message} ({:.0}/s)",
                events as f64 / wall.as_secs_f64()
            ),
        );
        summary.row("daemon CPU", cpu_share(self.daemon, daemon, wall));
        summary.row("tool CPU", cpu_share(self.tool, tool, wall));
        summary.row("host CPU", host_share(self.host, host));
        if let (Some(before), Some(after)) = (self.steps, Steps::scrape(target).await) {
            summary.row("daemon steps", after.since(&before));
        }
        Ok(summary)
    }
}

/// The daemon's own timing of the steps of an event's path, read from its metrics: how long a
/// socket's send took from its packet read to its acknowledgement, how long writes waited for
/// the store's writer, how long its commits took (the disk's sync of the log among it), and
/// how long a device's fanout took to queue an event for all its sockets. With the latencies
/// the tool measures, they tell where a message's time goes.
struct Steps(Vec<Timing>);

/// One step's histogram, as scraped: the bucket counts by upper bound, their sum and count.
#[derive(Default)]
struct Timing {
    buckets: Vec<(f64, f64)>,
    sum: f64,
    count: f64,
}

/// A step's time past which it counts as a stall: ten times a group commit's.
const SLOW: f64 = 0.1;

const STEPS: [(&str, &str); 5] = [
    (
        "send in the daemon",
        "devicebridge_socket_send_duration_seconds",
    ),
    (
        "write wait",
        "devicebridge_store_write_wait_duration_seconds",
    ),
    ("commit", "devicebridge_store_commit_duration_seconds"),
    ("log sync", "devicebridge_store_log_sync_duration_seconds"),
    (
        "fan-out per event",
        "devicebridge_socket_fanout_duration_seconds",
    ),
];

impl Steps {
    async fn scrape(target: &Target) -> Option<Steps> {
        let text = target.api.metrics().await?;
        Some(Steps(
            STEPS
                .iter()
                .map(|(_, family)| Timing::read(&text, family))
                .collect(),
        ))
    }

    /// Each step over the window: its mean, the bucket its 99th percentile falls in, and how
    /// many took more than [`SLOW`]: a few stalls among thousands of timings leave the
    /// percentile alone, and are what a latency's tail is made of.
    fn since(&self, before: &Steps) -> String {
        let described: Vec<String> = STEPS
            .iter()
            .zip(self.0.iter().zip(&before.0))
            .map(|((name, _), (after, before))| {
                let count = after.count - before.count;
                if count <= 0.0 {
                    return format!("{name} -");
                }
                let mean = (after.sum - before.sum) / count * 1e3;
                let p99 = after
                    .buckets
                    .iter()
                    .zip(&before.buckets)
                    .find(|((_, a), (_, b))| a - b >= 0.99 * count)
                    .map_or("> 1 s".to_owned(), |((le, _), _)| {
                        format!("≤ {} ms", le * 1e3)
                    });
                let within = |timing: &Timing| {
                    let bucket = timing.buckets.iter().find(|(le, _)| *le >= SLOW);
                    bucket.map_or(timing.count, |(_, within)| *within)
                };
                let slow = count - (within(after) - within(before));
                format!(
                    "{name} mean {mean:.2} ms, p99 {p99}, {slow} over {} ms ({count} timed)",
                    SLOW * 1e3
                )
            })
            .collect();
        described.join("; ")
    }
}

impl Timing {
    /// Reads `family`'s histogram out of an OpenMetrics text; zeros when it is not there.
    fn read(text: &str, family: &str) -> Timing {
        let mut timing = Timing::default();
        for line in text.lines() {
            let Some(rest) = line.strip_prefix(family) else {
                continue;
            };
            let Some((name, value)) = rest.rsplit_once(' ') else {
                continue;
            };
            let Ok(value) = value.parse::<f64>() else {
                continue;
            };
            if let Some(labels) = name.strip_prefix("_bucket{le=\"") {
                if let Ok(le) = labels.trim_end_matches("\"}").parse::<f64>() {
                    timing.buckets.push((le, value));
                }
            } else if name == "_sum" {
                timing.sum = value;
            } else if name == "_count" {
                timing.count = value;
            }
        }
        timing
    }
}

pub(crate) fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

pub(crate) fn progress(line: fmt::Arguments<'_>) {
    eprintln!("[{:7.1} s] {line}", epoch().elapsed().as_secs_f64());
}

/// The block printed at the end: one `name  value` row per figure, ready to paste.
pub(crate) struct Summary {
    scenario: &'static str,
    rows: Vec<(String, String)>,
}

impl Summary {
    pub(crate) fn new(scenario: &'static str) -> Summary {
        Summary {
            scenario,
            rows: Vec::new(),
        }
    }

    pub(crate) fn row(&mut self, name: &str, value: impl fmt::Display) {
        self.rows.push((name.to_owned(), value.to_string()));
    }

    pub(crate) fn append(&mut self, mut other: Summary) {
        self.rows.append(&mut other.rows);
    }

    /// Puts the command and the conditions first.
    pub(crate) fn header(&mut self, target: &Target, nofile: u64) {
        let mut head = Summary::new(self.scenario);
        head.row("command", command_line());
        match &target.daemon {
            Some(daemon) if daemon.peer => head.row(
                "server",
                format!(
                    "the Node socket.io peer {} (pid {}), started by the tool",
                    daemon.bin.display(),
                    daemon.child.id()
                ),
            ),
            Some(daemon) => {
                let extra: String = daemon
                    .extra_env
                    .iter()
                    .map(|(k, v)| format!(", then {k}={v}"))
                    .collect();
                if !target.others.is_empty() {
                    head.row(
                        "cluster",
                        format!(
                            "{} nodes on one database; clients connect to each in turn, memory and CPU are their sums",
                            target.others.len() + 1
                        ),
                    );
                }
                head.row(
                    "daemon",
                    format!(
                        "{} (pid {}), started by the tool: storage.synchronous=full, \
                         limits.events_per_minute=1e9, log.level=warn{extra}",
                        daemon.bin.display(),
                        daemon.child.id()
                    ),
                )
            }
            None => head.row("daemon", format!("external, {}", target.api.base)),
        }
        head.row("host", host_description(nofile));
        head.rows.append(&mut self.rows);
        self.rows = head.rows;
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let width = self.rows.iter().map(|(n, _)| n.len()).max().unwrap_or(0);
        writeln!(f, "── devicebridge load: {} ──", self.scenario)?;
        for (name, value) in &self.rows {
            writeln!(f, "{name:width$}  {value}")?;
        }
        write!(f, "──")
    }
}

fn host_description(nofile: u64) -> String {
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|rest| rest.trim_start_matches([' ', '\t', ':']).to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    format!("{cpus} CPUs ({model}), tool and daemon on the same host, RLIMIT_NOFILE {nofile}")
}

/// Joins scenario tasks, turning a panic or an error in any of them into this run's error.
pub(crate) async fn join_all<T>(tasks: Vec<JoinHandle<Result<T>>>) -> Result<Vec<T>> {
    let mut results = Vec::with_capacity(tasks.len());
    for task in tasks {
        results.push(task.await.context("a load task panicked")??);
    }
    Ok(results)
}
