//! `send`: N clients on one device namespace keep M `message:send` requests in flight; acked
//! messages per second and send→ack latency, and the rate at which the relay hands them to
//! the upstream.
//!
//! By default each client sends again as soon as an ack comes back, so the daemon runs
//! flat out and latency is the window divided by the throughput. With `--rate` the clients
//! send on a fixed schedule instead (still never more than M in flight), which shows the
//! latency a given load sees. A send that the full window holds back is timed from when it
//! was due, so a daemon falling behind shows in the latency rather than hiding in a lower
//! sending rate.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use clap::Args;
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::time::{sleep, Instant};

use crate::measure::{join_all, progress, Latencies, RunCost, Summary};
use crate::sio::{SioClient, SioEvent};
use crate::target::{ack_error, is_ok_ack, linked_device, peer_dir, Target, ACK_TIMEOUT};

/// How long the first client waits, after the last ack, for the relay to catch up.
const RELAY_DRAIN: Duration = Duration::from_secs(120);

#[derive(Debug, Args)]
pub(crate) struct SendArgs {
    /// Socket.IO clients on the device namespace.
    #[arg(long, default_value_t = 10)]
    clients: usize,
    /// Messages awaiting their ack at any time, over all clients.
    #[arg(long, default_value_t = 100)]
    in_flight: usize,
    /// Seconds of sending (after the warm-up).
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Stop after this many messages (over all clients) instead of after `--duration`.
    #[arg(long)]
    messages: Option<u64>,
    /// Seconds of sending before the measurement starts (not counted).
    #[arg(long, default_value_t = 1.0)]
    warmup: f64,
    /// Chats (silent simulator contacts) the messages are spread over.
    #[arg(long, default_value_t = 10)]
    chats: usize,
    /// Send this many messages a second (over all clients) on a fixed schedule, instead of
    /// again as soon as an ack comes back.
    #[arg(long, value_parser = positive_rate)]
    rate: Option<f64>,
    /// Which client sends: the tool's own, or the official Node client (`socket.io-client`,
    /// `benches/peer/sender.js`, after `npm ci` in `benches/peer`), as users' Node code would.
    #[arg(long, value_enum, default_value_t = Client::Tool)]
    client: Client,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Client {
    /// The tool's Rust client (`tests/common/sio.rs`).
    Tool,
    /// `socket.io-client` 4.8 on Node, in a process of its own.
    Node,
}

fn positive_rate(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(rate) if rate.is_finite() && rate > 0.0 => Ok(rate),
        _ => Err(format!(
            "`{text}` is not a positive number of messages a second"
        )),
    }
}

/// A client's sending schedule under `--rate`.
struct Pace {
    interval: Duration,
    next: Instant,
}

impl Pace {
    /// When the next message was due, if it is due by now; moves on to the one after.
    fn take_due(&mut self) -> Option<Instant> {
        let due = self.next;
        (due <= Instant::now()).then(|| {
            self.next += self.interval;
            due
        })
    }
}

/// When the senders send, and which acks count: those of messages sent after the warm-up, and
/// for the rate, those received before the end of the window.
#[derive(Clone, Copy)]
pub(crate) struct SendWindow {
    pub(crate) measure_from: Instant,
    /// `None` when stopping after a number of messages.
    pub(crate) stop_at: Option<Instant>,
}

#[derive(Default)]
pub(crate) struct SendReport {
    pub(crate) sent: u64,
    /// Acked `ok: true`, sent after the warm-up and received within the window.
    acked_in_window: u64,
    pub(crate) acked: u64,
    pub(crate) failures: u64,
    pub(crate) first_failure: Option<String>,
    pub(crate) latencies: Latencies,
    last_ack: Option<Instant>,
    /// Messages the upstream took (their `message:ack` `server`), as one client saw them: the
    /// rate the daemon sustains, as opposed to acks of a growing queue.
    relayed: u64,
    relayed_in_window: u64,
    last_relayed: Option<Instant>,
}

impl SendReport {
    pub(crate) fn record(
        &mut self,
        sent_at: Instant,
        received: Instant,
        ack: &Value,
        window: SendWindow,
    ) {
        self.last_ack = Some(received);
        if !is_ok_ack(ack) {
            self.failures += 1;
            self.first_failure.get_or_insert_with(|| ack_error(ack));
            return;
        }
        self.acked += 1;
        if sent_at < window.measure_from {
            return;
        }
        self.latencies.record(received - sent_at);
        if window.stop_at.is_none_or(|stop| received <= stop) {
            self.acked_in_window += 1;
        }
    }

    /// Counts the server acks among the device events a client received.
    fn note_relayed(&mut self, events: Vec<SioEvent>, received: Instant, window: SendWindow) {
        let relayed = events
            .iter()
            .filter(|e| e.name == "message:ack" && e.data["ack"] == 1)
            .count() as u64;
        if relayed == 0 {
            return;
        }
        self.relayed += relayed;
        self.last_relayed = Some(received);
        if received >= window.measure_from && window.stop_at.is_none_or(|stop| received <= stop) {
            self.relayed_in_window += relayed;
        }
    }

    /// How long after the last ack the relay had handed every message to the upstream, if it
    /// did.
    fn drained(&self) -> Option<Duration> {
        match (self.last_relayed, self.last_ack) {
            (Some(relayed), Some(acked)) if self.relayed >= self.sent => {
                Some(relayed.saturating_duration_since(acked))
            }
            _ => None,
        }
    }

    fn merge(&mut self, other: SendReport) {
        self.sent += other.sent;
        self.acked_in_window += other.acked_in_window;
        self.acked += other.acked;
        self.failures += other.failures;
        if self.first_failure.is_none() {
            self.first_failure = other.first_failure;
        }
        self.latencies.merge(other.latencies);
        self.last_ack = self.last_ack.max(other.last_ack);
        // Every client sees every event: the relay figures are one client's, not a sum.
        if other.relayed > self.relayed {
            self.relayed = other.relayed;
            self.relayed_in_window = other.relayed_in_window;
            self.last_relayed = other.last_relayed;
        }
    }
}

/// One sending client's share of the work.
struct SendJob {
    index: usize,
    window_size: usize,
    /// Messages this client sends when the run is bounded by a count.
    quota: Option<u64>,
    chats: Arc<Vec<String>>,
    run_id: String,
    /// Messages sent by all clients: what the relay must reach once sending has stopped.
    sent_by_all: Arc<AtomicU64>,
    /// This client's messages per second under `--rate`.
    rate: Option<f64>,
}

pub(crate) async fn run(target: &Target, args: &SendArgs) -> Result<Summary> {
    if args.client == Client::Node && (args.rate.is_some() || args.messages.is_some()) {
        bail!(
            "--client node sends flat out for --duration: it takes neither --rate nor --messages"
        );
    }
    let clients_wanted = args.clients.max(1);
    let device = linked_device(target, args.chats).await?;
    if args.client == Client::Node {
        return run_node(target, args, &device.id, &device.chats).await;
    }
    let clients = target.connect_many(&device.id, clients_wanted).await?;
    let warmup = Duration::from_secs_f64(args.warmup);
    let started = Instant::now();
    let window = SendWindow {
        measure_from: started + warmup,
        stop_at: args
            .messages
            .is_none()
            .then(|| started + warmup + Duration::from_secs_f64(args.duration)),
    };
    progress(format_args!(
        "sending: {} clients, {} in flight{}{}",
        clients.len(),
        args.in_flight,
        pace_note(args),
        match args.messages {
            Some(n) => format!(", {n} messages"),
            None => format!(
                ", {:.0} s after {:.0} s of warm-up",
                args.duration, args.warmup
            ),
        }
    ));
    let cost = RunCost::start(target, &device.id).await?;
    let sent_by_all = Arc::new(AtomicU64::new(0));
    let tasks: Vec<_> = clients
        .into_iter()
        .enumerate()
        .map(|(index, subscriber)| {
            let job = SendJob {
                index,
                window_size: share(args.in_flight.max(1), clients_wanted, index),
                quota: args
                    .messages
                    .map(|n| share(n as usize, clients_wanted, index) as u64),
                chats: device.chats.clone(),
                run_id: target.run_id.clone(),
                sent_by_all: sent_by_all.clone(),
                rate: args.rate.map(|rate| rate / clients_wanted as f64),
            };
            tokio::spawn(sender(subscriber.client, job, window))
        })
        .collect();
    let ticker = tokio::spawn(report_progress_until(window.stop_at));
    let reports = join_all(tasks).await;
    ticker.abort();
    let mut total = SendReport::default();
    for report in reports? {
        total.merge(report);
    }
    let end = window
        .stop_at
        .or(total.last_ack)
        .unwrap_or_else(Instant::now);
    let measured = end.saturating_duration_since(window.measure_from);
    let sent = total.sent;
    let drained = total.drained();
    let mut summary = send_summary(args, total, measured, drained);
    summary.append(cost.finish(target, &device.id, sent).await?);
    Ok(summary)
}

/// What `benches/peer/sender.js` prints: its clients' [`SendReport`], totalled.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct NodeReport {
    sent: u64,
    acked: u64,
    acked_in_window: u64,
    failures: u64,
    first_failure: Option<String>,
    latencies_micros: Vec<u32>,
    relayed: u64,
    relayed_in_window: u64,
    /// How long after the last ack the relay had handed every message over, if it did.
    drain_ms: Option<f64>,
}

/// `send` with the Node client: the same load and window, the sending done by
/// `benches/peer/sender.js` in a process of its own (its CPU counts as the tool's).
async fn run_node(
    target: &Target,
    args: &SendArgs,
    device: &str,
    chats: &[String],
) -> Result<Summary> {
    let script = peer_dir()?.join("sender.js");
    let config = json!({
        "url": target.api.base,
        "path": target.socket_path,
        "device": device,
        "apiKey": target.api.key,
        "chats": chats,
        "clients": args.clients.max(1),
        "inFlight": args.in_flight.max(1),
        "warmupMs": args.warmup * 1000.0,
        "durationMs": args.duration * 1000.0,
        "drainMs": RELAY_DRAIN.as_millis() as u64,
        "runId": target.run_id,
    });
    progress(format_args!(
        "sending with socket.io-client: {} clients, {} in flight, {:.0} s after {:.0} s of warm-up",
        args.clients.max(1),
        args.in_flight,
        args.duration,
        args.warmup
    ));
    let cost = RunCost::start(target, device).await?;
    let child = tokio::process::Command::new("node")
        .arg(&script)
        .arg(config.to_string())
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("starting node {}", script.display()))?;
    let bound = Duration::from_secs_f64(args.warmup + args.duration) + RELAY_DRAIN + ACK_TIMEOUT;
    let output = tokio::time::timeout(bound, child.wait_with_output())
        .await
        .map_err(|_| anyhow!("the Node client did not finish within {bound:?}"))??;
    if !output.status.success() {
        bail!(
            "the Node client failed ({}); its error is above",
            output.status
        );
    }
    let node: NodeReport =
        serde_json::from_slice(&output.stdout).context("reading the Node client's report")?;
    let drained = node.drain_ms.map(|ms| Duration::from_secs_f64(ms / 1000.0));
    let total = SendReport {
        sent: node.sent,
        acked_in_window: node.acked_in_window,
        acked: node.acked,
        failures: node.failures,
        first_failure: node.first_failure,
        latencies: Latencies::from_micros(node.latencies_micros),
        relayed: node.relayed,
        relayed_in_window: node.relayed_in_window,
        ..SendReport::default()
    };
    let mut summary = send_summary(args, total, Duration::from_secs_f64(args.duration), drained);
    summary.append(cost.finish(target, device, node.sent).await?);
    Ok(summary)
}

fn send_summary(
    args: &SendArgs,
    mut total: SendReport,
    measured: Duration,
    drained: Option<Duration>,
) -> Summary {
    let rate = total.acked_in_window as f64 / measured.as_secs_f64().max(1e-9);
    let mut summary = Summary::new("send");
    summary.row(
        "load",
        format!(
            "{} {} on one device, {} messages in flight{}, {} chats (silent contacts)",
            args.clients,
            match args.client {
                Client::Tool => "clients",
                Client::Node => "socket.io-client clients (Node)",
            },
            args.in_flight,
            pace_note(args),
            args.chats
        ),
    );
    summary.row(
        "messages",
        format!(
            "{} sent, {} acked ok, {} failed",
            total.sent, total.acked, total.failures
        ),
    );
    if let Some(failure) = &total.first_failure {
        summary.row("first failure", failure);
    }
    summary.row(
        "acked msgs/s",
        format!(
            "{rate:.0} ({} acks in {:.1} s after {:.0} s of warm-up)",
            total.acked_in_window,
            measured.as_secs_f64(),
            args.warmup
        ),
    );
    summary.row("send→ack", total.latencies.describe());
    let relay_rate = total.relayed_in_window as f64 / measured.as_secs_f64().max(1e-9);
    let drained = match drained {
        Some(after) => format!(
            "all {} relayed {:.1} s after the last ack",
            total.relayed,
            after.as_secs_f64()
        ),
        None => format!(
            "only {} of {} relayed within {RELAY_DRAIN:?} of the last ack",
            total.relayed, total.sent
        ),
    };
    summary.row(
        "relayed msgs/s",
        format!("{relay_rate:.0} (server acks in the window; {drained})",),
    );
    summary
}

/// How the clients pace their sends, for the summary.
fn pace_note(args: &SendArgs) -> String {
    match args.rate {
        Some(rate) => format!(" at most, sending {rate:.0} msgs/s on a schedule"),
        None => " (each ack lets the next send go)".into(),
    }
}

/// `total` split over `parts` as evenly as possible; the share of part `index`.
fn share(total: usize, parts: usize, index: usize) -> usize {
    total / parts + usize::from(index < total % parts)
}

/// Keeps up to `job.window_size` sends in flight (sending as acks come back, or on the
/// `--rate` schedule) until the window closes or the quota is sent, then collects the
/// remaining acks.
async fn sender(mut client: SioClient, job: SendJob, window: SendWindow) -> Result<SendReport> {
    let mut in_flight: HashMap<u64, Instant> = HashMap::with_capacity(job.window_size);
    let mut report = SendReport::default();
    let mut pace = job.rate.map(|rate| Pace {
        interval: Duration::from_secs_f64(1.0 / rate),
        next: Instant::now(),
    });
    loop {
        while in_flight.len() < job.window_size && may_send(&job, &window, report.sent) {
            let due = match &mut pace {
                Some(pace) => match pace.take_due() {
                    Some(due) => due,
                    None => break,
                },
                None => Instant::now(),
            };
            let n = report.sent;
            let chat = &job.chats[(job.index + n as usize) % job.chats.len()];
            let payload = json!({
                "chatId": chat,
                "text": format!("load {}-{n}", job.index),
                "tempId": format!("load-{}-{}-{n}", job.run_id, job.index),
            });
            let id = client
                .emit_with_ack_id("message:send", payload)
                .map_err(|e| anyhow!(e))?;
            in_flight.insert(id, due);
            report.sent += 1;
            job.sent_by_all.fetch_add(1, Ordering::Relaxed);
        }
        let more_due = in_flight.len() < job.window_size && may_send(&job, &window, report.sent);
        let wake = pace.as_ref().filter(|_| more_due).map(|pace| pace.next);
        if in_flight.is_empty() && wake.is_none() {
            break;
        }
        let (id, ack) = tokio::select! {
            acked = client.next_ack(ACK_TIMEOUT) => {
                acked.map_err(|e| anyhow!("client {}: {e}", job.index))?
            }
            () = tokio::time::sleep_until(wake.unwrap_or_else(Instant::now)), if wake.is_some() => {
                continue;
            }
        };
        let received = Instant::now();
        report.note_relayed(client.take_events(), received, window);
        if let Some(sent_at) = in_flight.remove(&id) {
            report.record(sent_at, received, &ack, window);
        }
    }
    // Sending has stopped everywhere (the window closed or every quota is sent): the first
    // client waits for the relay to hand the rest to the upstream.
    if job.index == 0 {
        let give_up = Instant::now() + RELAY_DRAIN;
        while report.relayed < job.sent_by_all.load(Ordering::Relaxed) {
            let Ok(events) = client.next_events(give_up - Instant::now()).await else {
                break;
            };
            report.note_relayed(events, Instant::now(), window);
        }
    }
    client.close().await;
    Ok(report)
}

fn may_send(job: &SendJob, window: &SendWindow, sent: u64) -> bool {
    match (job.quota, window.stop_at) {
        (Some(quota), _) => sent < quota,
        (None, Some(stop)) => Instant::now() < stop,
        (None, None) => false,
    }
}

/// A progress line every second until `stop_at`.
async fn report_progress_until(stop_at: Option<Instant>) {
    let started = Instant::now();
    loop {
        sleep(Duration::from_secs(1)).await;
        let left = stop_at.map(|s| s.saturating_duration_since(Instant::now()));
        match left {
            Some(left) if left.is_zero() => {
                progress(format_args!("collecting the last acks"));
                return;
            }
            Some(left) => progress(format_args!(
                "running {:.0} s, {:.0} s left",
                started.elapsed().as_secs_f64(),
                left.as_secs_f64()
            )),
            None => progress(format_args!(
                "running {:.0} s",
                started.elapsed().as_secs_f64()
            )),
        }
    }
}
