//! `fanout`: K subscribers on one device namespace and a publisher at a steady rate; every
//! subscriber checks that every journal `seq` arrives once and in order.

use std::collections::HashMap;
use std::time::Duration;

use anyhow::{anyhow, Result};
use clap::Args;
use serde_json::{json, Value};
use tokio::sync::watch;
use tokio::time::{sleep, sleep_until, Instant, MissedTickBehavior};

use crate::measure::{join_all, progress, Latencies, RunCost, Summary};
use crate::send::{SendReport, SendWindow};
use crate::sio::{SioClient, SioEvent};
use crate::target::{epoch, linked_device, Api, Subscriber, Target, ACK_TIMEOUT};

/// How long subscribers get to receive the last event once the journal is quiet.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Debug, Args)]
pub(crate) struct FanoutArgs {
    /// Subscribers connected to the device namespace.
    #[arg(long, default_value_t = 1000)]
    subscribers: usize,
    /// Messages per second sent by the publisher. Each message makes about 4 journal events
    /// (the message, `chat:update` and two acks: the tool's contacts never read), so 20/s is
    /// ~80 events/s, i.e. ~80,000 deliveries/s to 1,000 subscribers.
    #[arg(long, default_value_t = 20.0)]
    rate: f64,
    /// Seconds of publishing.
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Seconds without a new journal event after which the run is over (late receipts).
    #[arg(long, default_value_t = 3.0)]
    settle: f64,
}

/// The publishing window; deliveries received inside it make the steady-state rate.
#[derive(Clone, Copy)]
struct Window {
    start: Instant,
    end: Instant,
}

/// What one subscriber saw of the journal after its baseline.
struct Reception {
    baseline: u64,
    last: u64,
    /// Distinct seqs received in order (≤ the end seq when it was known).
    delivered: u64,
    in_window: u64,
    duplicates: u64,
    gaps: u64,
    missing: u64,
    /// Events with a seq past the end seq (the journal was not quiet after all).
    beyond_end: u64,
    latencies: Latencies,
    ended: Option<String>,
}

impl Reception {
    fn new(baseline: u64) -> Reception {
        Reception {
            baseline,
            last: baseline,
            delivered: 0,
            in_window: 0,
            duplicates: 0,
            gaps: 0,
            missing: 0,
            beyond_end: 0,
            latencies: Latencies::default(),
            ended: None,
        }
    }

    fn observe(&mut self, event: &SioEvent, now: Instant, window: Window, end: Option<u64>) {
        // `sync` carries no seq; the current view replayed on attach is at or below baseline.
        let Some(seq) = event.data["seq"].as_u64() else {
            return;
        };
        if seq <= self.baseline {
            return;
        }
        if seq <= self.last {
            self.duplicates += 1;
            return;
        }
        if seq > self.last + 1 {
            self.gaps += 1;
            self.missing += seq - self.last - 1;
        }
        self.last = seq;
        if end.is_some_and(|end| seq > end) {
            self.beyond_end += 1;
            return;
        }
        self.delivered += 1;
        if now >= window.start && now <= window.end {
            self.in_window += 1;
        }
        if event.name == "message" {
            if let Some(sent) = sent_instant(&event.data) {
                self.latencies.record(now.saturating_duration_since(sent));
            }
        }
    }
}

/// The send instant a `fanout` publisher wrote into the message text.
fn sent_instant(message: &Value) -> Option<Instant> {
    let text = message["body"].as_str().or(message["text"].as_str())?;
    let micros: u64 = text.strip_prefix("load t=")?.parse().ok()?;
    Some(epoch() + Duration::from_micros(micros))
}

pub(crate) async fn run(target: &Target, args: &FanoutArgs) -> Result<Summary> {
    let device = linked_device(target, 1).await?;
    let subscribers = target.connect_many(&device.id, args.subscribers).await?;
    let publisher = target.connect(&device.id).await?;
    let start = Instant::now() + Duration::from_millis(500);
    let window = Window {
        start,
        end: start + Duration::from_secs_f64(args.duration),
    };
    let (end_tx, end_rx) = watch::channel(None::<u64>);
    let receivers: Vec<_> = subscribers
        .into_iter()
        .map(|s| tokio::spawn(receive(s, window, end_rx.clone())))
        .collect();
    progress(format_args!(
        "publishing {:.0} msgs/s for {:.0} s to {} subscribers",
        args.rate, args.duration, args.subscribers
    ));
    let cost = RunCost::start(target, &device.id).await?;
    let cpu_before = target.sample();
    let chat = &device.chats[0];
    let published = publish(publisher.client, chat, args.rate, window, &target.run_id).await?;
    let server_cpu = match (cpu_before, target.sample()) {
        (Some(before), Some(after)) => Some(after.cpu.saturating_sub(before.cpu)),
        _ => None,
    };
    let cost = cost.finish(target, &device.id, published.sent).await?;
    let settle = Duration::from_secs_f64(args.settle);
    let end_seq = wait_quiet(&target.api, &device.id, settle).await?;
    progress(format_args!(
        "journal quiet at seq {end_seq}; waiting for the subscribers"
    ));
    end_tx.send_replace(Some(end_seq));
    let give_up = tokio::spawn(async move {
        sleep(DRAIN_TIMEOUT).await;
        drop(end_tx);
    });
    let mut totals = Totals::new(end_seq);
    for reception in join_all(receivers).await? {
        totals.add(reception);
    }
    give_up.abort();
    let mut summary = fanout_summary(args, published, totals, window, server_cpu);
    summary.append(cost);
    Ok(summary)
}

/// Every subscriber's reception added up, against what each should have received.
struct Totals {
    end_seq: u64,
    first_baseline: u64,
    expected: u64,
    delivered: u64,
    in_window: u64,
    duplicates: u64,
    gaps: u64,
    missing: u64,
    beyond_end: u64,
    latencies: Latencies,
    ended: Vec<String>,
}

impl Totals {
    fn new(end_seq: u64) -> Totals {
        Totals {
            end_seq,
            first_baseline: end_seq,
            expected: 0,
            delivered: 0,
            in_window: 0,
            duplicates: 0,
            gaps: 0,
            missing: 0,
            beyond_end: 0,
            latencies: Latencies::default(),
            ended: Vec::new(),
        }
    }

    fn add(&mut self, r: Reception) {
        self.first_baseline = self.first_baseline.min(r.baseline);
        self.expected += self.end_seq.saturating_sub(r.baseline);
        self.delivered += r.delivered;
        self.in_window += r.in_window;
        self.duplicates += r.duplicates;
        self.gaps += r.gaps;
        self.missing += r.missing;
        self.beyond_end += r.beyond_end;
        self.latencies.merge(r.latencies);
        self.ended.extend(r.ended);
    }
}

fn fanout_summary(
    args: &FanoutArgs,
    mut published: SendReport,
    mut totals: Totals,
    window: Window,
    server_cpu: Option<Duration>,
) -> Summary {
    let mut summary = Summary::new("fanout");
    summary.row(
        "load",
        format!(
            "{} subscribers on one device, publisher at {:.0} msgs/s for {:.0} s",
            args.subscribers, args.rate, args.duration
        ),
    );
    summary.row(
        "published",
        format!(
            "{} sent, {} acked ok, {} failed; send→ack {}",
            published.sent,
            published.acked,
            published.failures,
            published.latencies.describe()
        ),
    );
    if let Some(failure) = &published.first_failure {
        summary.row("first failure", failure);
    }
    summary.row(
        "events to deliver",
        format!(
            "{} per subscriber (seq {} → {}, late receipts included)",
            totals.end_seq - totals.first_baseline,
            totals.first_baseline,
            totals.end_seq
        ),
    );
    let seconds = (window.end - window.start).as_secs_f64();
    summary.row(
        "deliveries/s",
        format!(
            "{:.0} (received during the publishing window)",
            totals.in_window as f64 / seconds
        ),
    );
    let verdict = if totals.delivered == totals.expected {
        "delivered == expected"
    } else {
        "MISMATCH"
    };
    summary.row(
        "delivered",
        format!(
            "{} of {} expected: {verdict}",
            totals.delivered, totals.expected
        ),
    );
    summary.row(
        "order",
        format!(
            "{} gaps ({} seqs missing), {} duplicates, {} past the end",
            totals.gaps, totals.missing, totals.duplicates, totals.beyond_end
        ),
    );
    summary.row("message delivery", totals.latencies.describe());
    if published.sent > 0 && args.subscribers > 0 {
        summary.row(
            "events per message",
            format!(
                "{:.2} to each subscriber",
                totals.delivered as f64 / args.subscribers as f64 / published.sent as f64
            ),
        );
    }
    if let Some(cpu) = server_cpu.filter(|_| totals.in_window > 0) {
        summary.row(
            "server CPU per delivery",
            format!(
                "{:.2} µs ({:.1} s CPU while publishing, over the deliveries in that window)",
                cpu.as_secs_f64() * 1e6 / totals.in_window as f64,
                cpu.as_secs_f64()
            ),
        );
    }
    if let Some(first) = totals.ended.first() {
        summary.row(
            "subscribers cut off",
            format!("{} (first: {first})", totals.ended.len()),
        );
    }
    summary
}

/// One subscriber: receives until it has the end seq (or is told to give up).
async fn receive(
    subscriber: Subscriber,
    window: Window,
    mut end: watch::Receiver<Option<u64>>,
) -> Result<Reception> {
    let Subscriber {
        mut client,
        baseline,
    } = subscriber;
    let mut reception = Reception::new(baseline);
    loop {
        let end_seq = *end.borrow();
        if end_seq.is_some_and(|end| reception.last >= end) {
            break;
        }
        tokio::select! {
            got = client.next_events(DRAIN_TIMEOUT) => match got {
                Ok(events) => {
                    let now = Instant::now();
                    for event in &events {
                        reception.observe(event, now, window, end_seq);
                    }
                }
                Err(error) => {
                    reception.ended = Some(error);
                    break;
                }
            },
            changed = end.changed() => if changed.is_err() {
                reception.ended = Some(format!("gave up at seq {}", reception.last));
                break;
            },
        }
    }
    // Closing 1000 sockets one by one is slow and says nothing; dropping closes them.
    drop(client);
    Ok(reception)
}

/// Sends `message:send` at `rate` per second through the window, then collects the acks.
async fn publish(
    mut client: SioClient,
    chat: &str,
    rate: f64,
    window: Window,
    run_id: &str,
) -> Result<SendReport> {
    let mut report = SendReport::default();
    let mut in_flight: HashMap<u64, Instant> = HashMap::new();
    let all = SendWindow {
        measure_from: window.start,
        stop_at: None,
    };
    let mut ticks = tokio::time::interval_at(window.start, Duration::from_secs_f64(1.0 / rate));
    // Late ticks are made up, so the average rate holds even if the tool stalls briefly.
    ticks.set_missed_tick_behavior(MissedTickBehavior::Burst);
    sleep_until(window.start).await;
    let mut publishing = true;
    while publishing || !in_flight.is_empty() {
        // Acks are taken as they arrive (for their latency), sends happen on the ticks.
        tokio::select! {
            _ = ticks.tick(), if publishing => {
                publishing = Instant::now() < window.end;
                if publishing {
                    let id = publish_one(&mut client, chat, run_id, report.sent)?;
                    in_flight.insert(id, Instant::now());
                    report.sent += 1;
                }
            }
            got = client.next_ack(ACK_TIMEOUT), if !in_flight.is_empty() => {
                let (id, ack) = got.map_err(|e| anyhow!("publisher: {e}"))?;
                if let Some(sent_at) = in_flight.remove(&id) {
                    report.record(sent_at, Instant::now(), &ack, all);
                }
            }
        }
        // The device's events reach the publisher too; it does not look at them.
        client.discard_events();
    }
    client.close().await;
    Ok(report)
}

/// Sends one message whose text carries its send instant, for the subscribers' latency.
fn publish_one(client: &mut SioClient, chat: &str, run_id: &str, n: u64) -> Result<u64> {
    let payload = json!({
        "chatId": chat,
        "text": format!("load t={}", (Instant::now() - epoch()).as_micros()),
        "tempId": format!("fan-{run_id}-{n}"),
    });
    client
        .emit_with_ack_id("message:send", payload)
        .map_err(|e| anyhow!(e))
}

/// Waits until the journal head has not moved for `quiet` (delivery and read receipts come in
/// after the last send), and returns it.
async fn wait_quiet(api: &Api, device: &str, quiet: Duration) -> Result<u64> {
    let mut head = api.journal_head(device).await?;
    let mut since = Instant::now();
    while since.elapsed() < quiet {
        sleep(Duration::from_millis(100)).await;
        let now = api.journal_head(device).await?;
        if now != head {
            head = now;
            since = Instant::now();
        }
    }
    Ok(head)
}
