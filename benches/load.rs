//! The load tool: `cargo bench --bench load -- <send|fanout|idle> [options]`.
//!
//! It starts the release daemon as a child process — a fresh temporary data directory,
//! `storage.synchronous = full` (the measurement condition of the targets), the per-connection
//! inbound rate limit raised out of the way, warnings-only logs — creates a simulator device
//! over REST, links it the way a phone would, and drives it over Socket.IO with the test client
//! (`tests/common/sio.rs`). `--url` and `--api-key` target a daemon that is already running
//! instead (add `--pid` to get its memory and CPU figures).
//!
//! - `send`: N clients on one device namespace keep M `message:send` requests in flight in
//!   total; acknowledged messages per second and send→ack latency.
//! - `fanout`: K subscribers on one device namespace, one publisher at a steady rate; every
//!   subscriber checks every journal `seq` arrives once and in order; deliveries per second and
//!   delivery latency of `message` events (the send instant travels in the text).
//! - `idle`: C idle connections; the daemon's RSS before and after, per connection.
//!
//! Progress goes to stderr; the summary block (with the exact command) goes to stdout.
//! Run `cargo bench --bench load -- --help` for every option.

#[path = "../tests/common/sio.rs"]
mod sio;

use std::collections::HashMap;
use std::fmt;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use clap::{Args, Parser, Subcommand};
use futures_util::stream::{self, StreamExt};
use serde_json::{json, Value};
use sio::{ConnectOutcome, SioClient, SioEvent};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::{sleep, sleep_until, Instant, MissedTickBehavior};

/// How long one acknowledgement may take before the run counts as broken.
const ACK_TIMEOUT: Duration = Duration::from_secs(30);
/// How long the started daemon gets to answer `/health`, and a device to change state.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(30);
/// How long subscribers get to receive the last event once the journal is quiet.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(60);

// ---------------------------------------------------------------------------------------------
// Command line
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Parser)]
#[command(
    name = "load",
    about = "Load scenarios for the devicebridge daemon",
    after_help = "Examples:\n  cargo bench --bench load -- idle --connections 10000\n  \
                  cargo bench --bench load -- send --clients 10 --in-flight 100 --duration 10\n  \
                  cargo bench --bench load -- fanout --subscribers 1000 --rate 50"
)]
struct Cli {
    #[command(subcommand)]
    scenario: Scenario,
    #[command(flatten)]
    target: TargetArgs,
}

#[derive(Debug, Subcommand)]
enum Scenario {
    /// N clients on one device send `message:send`, M requests in flight in total.
    Send(SendArgs),
    /// K subscribers on one device; a publisher sends messages at a steady rate.
    Fanout(FanoutArgs),
    /// C idle connections; the daemon's resident memory before and after.
    Idle(IdleArgs),
}

#[derive(Debug, Args)]
struct TargetArgs {
    /// Drive the daemon running at this base URL instead of starting one.
    #[arg(long, global = true, requires = "api_key")]
    url: Option<String>,
    /// API key for `--url` (admin, or control + send + read).
    #[arg(long, global = true)]
    api_key: Option<String>,
    /// Pid of the daemon behind `--url`, to read its memory and CPU time.
    #[arg(long, global = true)]
    pid: Option<u32>,
    /// Socket.IO path of the daemon.
    #[arg(long, global = true, default_value = "/ws")]
    socket_path: String,
    /// Daemon binary to start [default: the release `devicebridge` built with this tool].
    #[arg(long, global = true)]
    daemon_bin: Option<PathBuf>,
    /// Extra environment for the started daemon, `KEY=VALUE`, repeatable
    /// (e.g. `MALLOC_ARENA_MAX=2`, `DEVICEBRIDGE__STORAGE__SYNCHRONOUS=normal`).
    #[arg(long = "daemon-env", global = true, value_parser = parse_env_pair)]
    daemon_env: Vec<(String, String)>,
    /// Keep the started daemon's data directory and log instead of deleting them.
    #[arg(long, global = true)]
    keep: bool,
    /// Socket.IO connections opened at the same time while connecting clients.
    #[arg(long, global = true, default_value_t = 64)]
    connect_concurrency: usize,
    /// Added by `cargo bench`; ignored.
    #[arg(long, global = true, hide = true)]
    bench: bool,
}

#[derive(Debug, Args)]
struct SendArgs {
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
}

#[derive(Debug, Args)]
struct FanoutArgs {
    /// Subscribers connected to the device namespace.
    #[arg(long, default_value_t = 1000)]
    subscribers: usize,
    /// Messages per second sent by the publisher.
    #[arg(long, default_value_t = 50.0)]
    rate: f64,
    /// Seconds of publishing.
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Seconds without a new journal event after which the run is over (late receipts).
    #[arg(long, default_value_t = 3.0)]
    settle: f64,
}

#[derive(Debug, Args)]
struct IdleArgs {
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

fn parse_env_pair(text: &str) -> Result<(String, String), String> {
    text.split_once('=')
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .ok_or_else(|| format!("expected KEY=VALUE, got {text:?}"))
}

/// The command as typed, for the summary (without the `--bench` flag cargo adds).
fn command_line() -> String {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    format!("cargo bench --bench load -- {}", args.join(" "))
}

// ---------------------------------------------------------------------------------------------
// Entry point
// ---------------------------------------------------------------------------------------------

fn main() -> ExitCode {
    let cli = Cli::parse();
    // 10,000 connections need 10,000 descriptors on each side; the child inherits the limit.
    let nofile = raise_nofile_limit();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    // `block_on` runs on this thread, which lives as long as the process: the daemon is
    // spawned from it, so its parent-death signal only fires when the tool really exits.
    match runtime.block_on(run(cli, nofile)) {
        Ok(summary) => {
            println!("{summary}");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("load: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli, nofile: u64) -> Result<Summary> {
    let target = Target::open(&cli.target).await?;
    let mut summary = tokio::select! {
        result = run_scenario(&target, &cli.scenario) => result,
        _ = tokio::signal::ctrl_c() => Err(anyhow!("interrupted")),
    }
    .map_err(|error| target.explain(error))?;
    summary.header(&target, nofile);
    target.stop();
    Ok(summary)
}

async fn run_scenario(target: &Target, scenario: &Scenario) -> Result<Summary> {
    match scenario {
        Scenario::Send(args) => send(target, args).await,
        Scenario::Fanout(args) => fanout(target, args).await,
        Scenario::Idle(args) => idle(target, args).await,
    }
}

/// Raises the soft limit on open files to the hard limit; returns the limit now in force.
fn raise_nofile_limit() -> u64 {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: plain syscalls on a stack value.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return 0;
        }
        let raised = libc::rlimit {
            rlim_cur: limit.rlim_max,
            rlim_max: limit.rlim_max,
        };
        if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
            limit = raised;
        }
    }
    limit.rlim_cur
}

// ---------------------------------------------------------------------------------------------
// The daemon under test
// ---------------------------------------------------------------------------------------------

/// What the scenarios talk to: the REST API, the Socket.IO endpoint, and (when known) the
/// daemon's process for memory and CPU readings.
struct Target {
    api: Api,
    socket_path: String,
    pid: Option<u32>,
    daemon: Option<Daemon>,
    connect_concurrency: usize,
    /// A prefix that keeps device ids and `tempId`s of this run apart from earlier runs.
    run_id: String,
}

impl Target {
    async fn open(args: &TargetArgs) -> Result<Target> {
        let run_id = format!("{:x}", epoch_millis() % 0xff_ffff);
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()?;
        let (api, daemon) = match (&args.url, &args.api_key) {
            (Some(url), Some(key)) => {
                let api = Api::new(http, url.trim_end_matches('/').to_owned(), key.clone());
                (api, None)
            }
            _ => {
                let daemon = Daemon::start(args)?;
                let base = daemon.base.clone();
                let key = daemon.wait_ready(&http).await?;
                (Api::new(http, base, key), Some(daemon))
            }
        };
        Ok(Target {
            pid: daemon.as_ref().map(|d| d.child.id()).or(args.pid),
            api,
            socket_path: args.socket_path.clone(),
            daemon,
            connect_concurrency: args.connect_concurrency.max(1),
            run_id,
        })
    }

    /// The daemon's resident memory and CPU time, when its pid is known.
    fn sample(&self) -> Option<ProcSample> {
        self.pid
            .and_then(|pid| ProcSample::read(&format!("/proc/{pid}")).ok())
    }

    /// Adds the daemon log's tail to an error, since the cause is often there.
    fn explain(&self, error: anyhow::Error) -> anyhow::Error {
        match &self.daemon {
            Some(daemon) => error.context(format!("daemon log tail:\n{}", daemon.log_tail())),
            None => error,
        }
    }

    fn stop(&self) {
        if let Some(daemon) = &self.daemon {
            daemon.terminate();
        }
    }

    async fn connect(&self, device: &str) -> Result<Subscriber> {
        Subscriber::connect(&self.api.base, &self.socket_path, device, &self.api.key).await
    }

    /// Opens `count` connections to the device, a few at a time, printing progress.
    async fn connect_many(&self, device: &str, count: usize) -> Result<Vec<Subscriber>> {
        let every = (count / 10).clamp(1, 1000);
        let started = Instant::now();
        let mut opened = stream::iter(0..count)
            .map(|_| self.connect(device))
            .buffer_unordered(self.connect_concurrency);
        let mut clients = Vec::with_capacity(count);
        while let Some(client) = opened.next().await {
            let client = client
                .with_context(|| format!("connection {} of {count} failed", clients.len() + 1))?;
            clients.push(client);
            if clients.len() % every == 0 || clients.len() == count {
                progress(format_args!(
                    "connecting {}/{count} ({:.1} s)",
                    clients.len(),
                    started.elapsed().as_secs_f64()
                ));
            }
        }
        Ok(clients)
    }
}

/// The daemon started by this tool: killed by pid when the tool is done, fails, or panics
/// (and by the kernel if the tool itself is killed).
struct Daemon {
    child: Child,
    base: String,
    dir: Option<tempfile::TempDir>,
    kept: Option<PathBuf>,
    bin: PathBuf,
}

impl Daemon {
    fn start(args: &TargetArgs) -> Result<Daemon> {
        let bin = args
            .daemon_bin
            .clone()
            .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_devicebridge")));
        let dir = tempfile::Builder::new()
            .prefix("devicebridge-load-")
            .tempdir()?;
        let log = File::create(dir.path().join("daemon.log"))?;
        let port = free_port()?;
        let mut command = Command::new(&bin);
        command
            .arg("serve")
            .args(["--bind", &format!("127.0.0.1:{port}")])
            .arg("--data-dir")
            .arg(dir.path().join("data"))
            .arg("--devices-dir")
            .arg(dir.path().join("devices"))
            // No config/local.toml from wherever the tool was started.
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log);
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("DEVICEBRIDGE") {
                command.env_remove(name);
            }
        }
        command
            .env_remove("RUST_LOG")
            .env("DEVICEBRIDGE__STORAGE__SYNCHRONOUS", "full")
            .env("DEVICEBRIDGE__LIMITS__EVENTS_PER_MINUTE", "1000000000")
            .env("DEVICEBRIDGE__LOG__LEVEL", "warn")
            .envs(args.daemon_env.iter().map(|(k, v)| (k, v)));
        // SAFETY: prctl is async-signal-safe; nothing else runs between fork and exec.
        unsafe {
            command.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let child = command
            .spawn()
            .with_context(|| format!("cannot start {} (cargo build --release?)", bin.display()))?;
        progress(format_args!(
            "started {} (pid {}) on 127.0.0.1:{port}, data in {}",
            bin.display(),
            child.id(),
            dir.path().display()
        ));
        let (dir, kept) = if args.keep {
            (None, Some(dir.keep()))
        } else {
            (Some(dir), None)
        };
        Ok(Daemon {
            child,
            base: format!("http://127.0.0.1:{port}"),
            dir,
            kept,
            bin,
        })
    }

    fn dir(&self) -> &Path {
        match (&self.dir, &self.kept) {
            (Some(dir), _) => dir.path(),
            (None, Some(kept)) => kept,
            (None, None) => Path::new("."),
        }
    }

    /// Waits for `/health`, then reads the first-run admin key the daemon wrote.
    async fn wait_ready(&self, http: &reqwest::Client) -> Result<String> {
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        loop {
            let health = http.get(format!("{}/health", self.base)).send().await;
            if health.is_ok_and(|r| r.status().is_success()) {
                break;
            }
            if Instant::now() > deadline {
                bail!("the daemon did not answer /health within {STARTUP_TIMEOUT:?}");
            }
            sleep(Duration::from_millis(50)).await;
        }
        let path = self.dir().join("data").join("admin-api-key");
        let key = std::fs::read_to_string(&path)
            .with_context(|| format!("no admin key at {}", path.display()))?;
        Ok(key.trim().to_owned())
    }

    /// SIGTERM (a clean shutdown), then SIGKILL if it is still there after a few seconds.
    fn terminate(&self) {
        let pid = self.child.id() as libc::pid_t;
        // SAFETY: signals a child we spawned and have not reaped, so the pid is still ours.
        unsafe { libc::kill(pid, libc::SIGTERM) };
        for _ in 0..50 {
            if !Path::new(&format!("/proc/{pid}")).exists() || is_zombie(pid) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }

    fn log_tail(&self) -> String {
        let path = self.dir().join("daemon.log");
        let mut bytes = Vec::new();
        if let Ok(mut file) = File::open(&path) {
            let len = file.metadata().map(|m| m.len()).unwrap_or(0);
            let _ = file.seek(SeekFrom::Start(len.saturating_sub(16_000)));
            let _ = file.read_to_end(&mut bytes);
        }
        let text = String::from_utf8_lossy(&bytes);
        // The daemon draws QR codes on its terminal (here, its log): leave the pictures out.
        let lines: Vec<&str> = text
            .lines()
            .filter(|line| !line.contains(['█', '▀', '▄']))
            .collect();
        let text = lines[lines.len().saturating_sub(30)..].join("\n");
        if text.trim().is_empty() {
            format!("(empty: {})", path.display())
        } else {
            text
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
        if let Some(kept) = &self.kept {
            eprintln!("load: daemon data and log kept in {}", kept.display());
        }
    }
}

fn is_zombie(pid: libc::pid_t) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|stat| stat_fields(&stat).first().is_some_and(|s| *s == "Z"))
        .unwrap_or(true)
}

/// A port that was free a moment ago. Binding port 0 in the daemon would need its log to
/// learn the port; the race with another process grabbing it meanwhile is harmless here.
fn free_port() -> Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

// ---------------------------------------------------------------------------------------------
// REST
// ---------------------------------------------------------------------------------------------

#[derive(Clone)]
struct Api {
    http: reqwest::Client,
    base: String,
    key: String,
}

impl Api {
    fn new(http: reqwest::Client, base: String, key: String) -> Api {
        Api { http, base, key }
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value> {
        let mut request = self
            .http
            .request(method.clone(), format!("{}{path}", self.base))
            .header("x-api-key", &self.key);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request
            .send()
            .await
            .with_context(|| format!("{method} {path}"))?;
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        if !status.is_success() {
            bail!("{method} {path}: HTTP {status} {body}");
        }
        Ok(body)
    }

    async fn get(&self, path: &str) -> Result<Value> {
        self.call(reqwest::Method::GET, path, None).await
    }

    async fn post(&self, path: &str, body: Value) -> Result<Value> {
        self.call(reqwest::Method::POST, path, Some(body)).await
    }

    /// The newest `seq` in the device's journal.
    async fn journal_head(&self, device: &str) -> Result<u64> {
        let page = self
            .get(&format!("/api/v1/devices/{device}/events?after=0&limit=1"))
            .await?;
        page["head"]
            .as_u64()
            .ok_or_else(|| anyhow!("no `head` in the events page: {page}"))
    }

    /// Socket.IO connections the daemon counts, over all namespaces.
    async fn connections(&self) -> Result<u64> {
        let stats = self.get("/api/v1/stats").await?;
        stats["connections"]
            .as_u64()
            .ok_or_else(|| anyhow!("no `connections` in the stats: {stats}"))
    }

    async fn device_state(&self, device: &str) -> Result<String> {
        let view = self.get(&format!("/api/v1/devices/{device}")).await?;
        Ok(view["state"].as_str().unwrap_or_default().to_owned())
    }

    /// The QR text the device shows. Right after it enters `qr` the code may not be served
    /// yet (409), so this retries for a while.
    async fn current_qr(&self, device: &str) -> Result<Value> {
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        loop {
            match self.get(&format!("/api/v1/devices/{device}/qr")).await {
                Ok(qr) => return Ok(qr["qr"].clone()),
                Err(error) if Instant::now() > deadline => return Err(error),
                Err(_) => sleep(Duration::from_millis(100)).await,
            }
        }
    }

    async fn wait_state(&self, device: &str, wanted: &str) -> Result<()> {
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        loop {
            let state = self.device_state(device).await?;
            if state == wanted {
                return Ok(());
            }
            if state == "stopped" && wanted == "qr" {
                // A device created with autostart may start on its own meanwhile (409): fine.
                let _ = self
                    .post(&format!("/api/v1/devices/{device}/start"), json!({}))
                    .await;
            }
            if Instant::now() > deadline {
                bail!("device {device} is {state:?}, not {wanted:?}, after {STARTUP_TIMEOUT:?}");
            }
            sleep(Duration::from_millis(50)).await;
        }
    }
}

/// A linked simulator device and the chats its messages can go to.
struct Device {
    id: String,
    chats: Arc<Vec<String>>,
}

/// Creates a simulator device whose contacts are all `silent` (no replies adding load of
/// their own), and links it as the phone would: QR over REST, then `POST /pairings`.
async fn linked_device(target: &Target, contacts: usize) -> Result<Device> {
    let id = format!("load-{}", target.run_id);
    let chats: Vec<String> = (0..contacts.max(1))
        .map(|i| format!("1555{:07}@c.us", 1000 + i))
        .collect();
    let contacts: Vec<Value> = chats
        .iter()
        .enumerate()
        .map(|(i, chat)| json!({ "id": chat, "name": format!("Contact {i}"), "behaviour": "silent" }))
        .collect();
    let api = &target.api;
    api.post(
        "/api/v1/devices",
        json!({
            "id": id,
            "name": "Load test",
            "connector": "simulator",
            "simulator": { "phone": "15550000001", "contacts": contacts },
        }),
    )
    .await?;
    api.wait_state(&id, "qr").await?;
    let qr = api.current_qr(&id).await?;
    api.post("/api/v1/pairings", json!({ "qr": qr })).await?;
    api.wait_state(&id, "ready").await?;
    progress(format_args!(
        "device {id} is ready with {} chats",
        chats.len()
    ));
    Ok(Device {
        id,
        chats: Arc::new(chats),
    })
}

// ---------------------------------------------------------------------------------------------
// Socket.IO clients
// ---------------------------------------------------------------------------------------------

/// A client attached to a device namespace, and the last `seq` the server had emitted when it
/// attached (the `toSeq` of its `sync`): everything after it must arrive, once, in order.
struct Subscriber {
    client: SioClient,
    baseline: u64,
}

impl Subscriber {
    async fn connect(base: &str, path: &str, device: &str, key: &str) -> Result<Subscriber> {
        let namespace = format!("/device/{device}");
        let auth = json!({ "apiKey": key });
        let mut client = match SioClient::connect(base, path, &namespace, &[], &[], auth)
            .await
            .map_err(|e| anyhow!(e))?
        {
            ConnectOutcome::Connected(client) => client,
            ConnectOutcome::Rejected(message) => bail!("connect_error: {message}"),
        };
        let sync = client
            .wait_for("sync", ACK_TIMEOUT)
            .await
            .map_err(|e| anyhow!(e))?;
        client.discard_events();
        let baseline = sync.data["toSeq"]
            .as_u64()
            .ok_or_else(|| anyhow!("no `toSeq` in sync: {}", sync.data))?;
        Ok(Subscriber { client, baseline })
    }
}

/// The process-wide clock origin: `fanout` writes microseconds since it into message texts.
fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

fn epoch_millis() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or_default()
}

fn is_ok_ack(ack: &Value) -> bool {
    ack["ok"] == Value::Bool(true)
}

fn ack_error(ack: &Value) -> String {
    match &ack["error"] {
        Value::Null => ack.to_string(),
        error => format!(
            "{}: {}",
            error["code"].as_str().unwrap_or("?"),
            error["message"].as_str().unwrap_or("")
        ),
    }
}

// ---------------------------------------------------------------------------------------------
// Measurements
// ---------------------------------------------------------------------------------------------

/// Latency samples in microseconds; percentiles by sorting (a run has at most a few million).
#[derive(Default)]
struct Latencies(Vec<u32>);

impl Latencies {
    fn record(&mut self, latency: Duration) {
        self.0
            .push(u32::try_from(latency.as_micros()).unwrap_or(u32::MAX));
    }

    fn merge(&mut self, other: Latencies) {
        self.0.extend(other.0);
    }

    /// `p50 … · p99 … · max …` in milliseconds.
    fn describe(&mut self) -> String {
        if self.0.is_empty() {
            return "no samples".into();
        }
        self.0.sort_unstable();
        let at = |q: f64| {
            let index = ((self.0.len() as f64 * q).ceil() as usize).clamp(1, self.0.len()) - 1;
            f64::from(self.0[index]) / 1000.0
        };
        format!(
            "p50 {:.2} ms · p90 {:.2} ms · p99 {:.2} ms · max {:.2} ms ({} samples)",
            at(0.50),
            at(0.90),
            at(0.99),
            at(1.0),
            self.0.len()
        )
    }

    fn p99_ms(&mut self) -> Option<f64> {
        if self.0.is_empty() {
            return None;
        }
        self.0.sort_unstable();
        let index = ((self.0.len() as f64 * 0.99).ceil() as usize).clamp(1, self.0.len()) - 1;
        Some(f64::from(self.0[index]) / 1000.0)
    }
}

/// A process's resident memory and CPU time, from `/proc`.
#[derive(Debug, Clone, Copy)]
struct ProcSample {
    rss_kib: u64,
    cpu: Duration,
}

impl ProcSample {
    fn read(proc_dir: &str) -> Result<ProcSample> {
        let status = std::fs::read_to_string(format!("{proc_dir}/status"))?;
        let rss_kib = status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|kib| kib.parse().ok())
            .ok_or_else(|| anyhow!("no VmRSS in {proc_dir}/status"))?;
        let stat = std::fs::read_to_string(format!("{proc_dir}/stat"))?;
        let fields = stat_fields(&stat);
        // utime and stime are fields 14 and 15 of stat(5); `fields` starts at field 3.
        let ticks: u64 = fields
            .get(11..13)
            .map(|f| f.iter().filter_map(|t| t.parse::<u64>().ok()).sum())
            .unwrap_or(0);
        // SAFETY: sysconf has no preconditions.
        let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
        Ok(ProcSample {
            rss_kib,
            cpu: Duration::from_millis(ticks * 1000 / per_second),
        })
    }

    fn of_self() -> Option<ProcSample> {
        ProcSample::read("/proc/self").ok()
    }
}

/// The fields of `/proc/<pid>/stat` after the command name (which may contain spaces).
fn stat_fields(stat: &str) -> Vec<&str> {
    stat.rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default()
}

/// CPU used between two samples, as a share of one core.
fn cpu_share(before: Option<ProcSample>, after: Option<ProcSample>, wall: Duration) -> String {
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

fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

fn progress(line: fmt::Arguments<'_>) {
    eprintln!("[{:7.1} s] {line}", epoch().elapsed().as_secs_f64());
}

// ---------------------------------------------------------------------------------------------
// Summary
// ---------------------------------------------------------------------------------------------

/// The block printed at the end: one `name  value` row per figure, ready to paste.
struct Summary {
    scenario: &'static str,
    rows: Vec<(String, String)>,
}

impl Summary {
    fn new(scenario: &'static str) -> Summary {
        Summary {
            scenario,
            rows: Vec::new(),
        }
    }

    fn row(&mut self, name: &str, value: impl fmt::Display) {
        self.rows.push((name.to_owned(), value.to_string()));
    }

    /// Puts the command and the conditions first.
    fn header(&mut self, target: &Target, nofile: u64) {
        let mut head = Summary::new(self.scenario);
        head.row("command", command_line());
        match &target.daemon {
            Some(daemon) => head.row(
                "daemon",
                format!(
                    "{} (pid {}), started by the tool: storage.synchronous=full, \
                     limits.events_per_minute=1e9, log.level=warn",
                    daemon.bin.display(),
                    daemon.child.id()
                ),
            ),
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
async fn join_all<T>(tasks: Vec<JoinHandle<Result<T>>>) -> Result<Vec<T>> {
    let mut results = Vec::with_capacity(tasks.len());
    for task in tasks {
        results.push(task.await.context("a load task panicked")??);
    }
    Ok(results)
}

// ---------------------------------------------------------------------------------------------
// idle
// ---------------------------------------------------------------------------------------------

/// Opens C connections that only answer pings and reads the daemon's RSS before and after.
async fn idle(target: &Target, args: &IdleArgs) -> Result<Summary> {
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
    let closed = target.sample();
    let left = target.api.connections().await?;

    let mut summary = Summary::new("idle");
    summary.row(
        "connections",
        format!(
            "{} opened in {:.1} s ({:.0}/s); the daemon counts {counted}",
            args.connections,
            connect_time.as_secs_f64(),
            args.connections as f64 / connect_time.as_secs_f64()
        ),
    );
    match (before, after) {
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
    if let Some(closed) = closed {
        summary.row(
            "rss after closing",
            format!(
                "{} (the daemon counts {left} connections)",
                mib(closed.rss_kib)
            ),
        );
    }
    summary.row(
        "connect CPU (daemon)",
        cpu_share(before, after, connect_time + settle),
    );
    if let Some(tool) = tool {
        summary.row("tool rss", mib(tool.rss_kib));
    }
    Ok(summary)
}

// ---------------------------------------------------------------------------------------------
// send
// ---------------------------------------------------------------------------------------------

/// When the senders send, and which acks count: those of messages sent after the warm-up, and
/// for the rate, those received before the end of the window.
#[derive(Clone, Copy)]
struct SendWindow {
    measure_from: Instant,
    /// `None` when stopping after a number of messages.
    stop_at: Option<Instant>,
}

#[derive(Default)]
struct SendReport {
    sent: u64,
    /// Acked `ok: true`, sent after the warm-up and received within the window.
    acked_in_window: u64,
    acked: u64,
    failures: u64,
    first_failure: Option<String>,
    latencies: Latencies,
    last_ack: Option<Instant>,
}

impl SendReport {
    fn record(&mut self, sent_at: Instant, received: Instant, ack: &Value, window: SendWindow) {
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
}

async fn send(target: &Target, args: &SendArgs) -> Result<Summary> {
    let clients_wanted = args.clients.max(1);
    let device = linked_device(target, args.chats).await?;
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
        "sending: {} clients, {} in flight{}",
        clients.len(),
        args.in_flight,
        match args.messages {
            Some(n) => format!(", {n} messages"),
            None => format!(
                ", {:.0} s after {:.0} s of warm-up",
                args.duration, args.warmup
            ),
        }
    ));
    let daemon_before = target.sample();
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
    let daemon_after = target.sample();
    let end = window
        .stop_at
        .or(total.last_ack)
        .unwrap_or_else(Instant::now);
    let measured = end.saturating_duration_since(window.measure_from);
    Ok(send_summary(
        args,
        total,
        measured,
        (daemon_before, daemon_after),
        started.elapsed(),
    ))
}

fn send_summary(
    args: &SendArgs,
    mut total: SendReport,
    measured: Duration,
    daemon: (Option<ProcSample>, Option<ProcSample>),
    wall: Duration,
) -> Summary {
    let rate = total.acked_in_window as f64 / measured.as_secs_f64().max(1e-9);
    let mut summary = Summary::new("send");
    summary.row(
        "load",
        format!(
            "{} clients on one device, {} messages in flight, {} chats (silent contacts)",
            args.clients, args.in_flight, args.chats
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
    summary.row("daemon CPU", cpu_share(daemon.0, daemon.1, wall));
    summary
}

/// `total` split over `parts` as evenly as possible; the share of part `index`.
fn share(total: usize, parts: usize, index: usize) -> usize {
    total / parts + usize::from(index < total % parts)
}

/// Keeps `job.window_size` sends in flight until the window closes or the quota is sent,
/// then collects the remaining acks.
async fn sender(mut client: SioClient, job: SendJob, window: SendWindow) -> Result<SendReport> {
    let mut in_flight: HashMap<u64, Instant> = HashMap::with_capacity(job.window_size);
    let mut report = SendReport::default();
    loop {
        while in_flight.len() < job.window_size && may_send(&job, &window, report.sent) {
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
            in_flight.insert(id, Instant::now());
            report.sent += 1;
        }
        if in_flight.is_empty() {
            break;
        }
        let (id, ack) = client
            .next_ack(ACK_TIMEOUT)
            .await
            .map_err(|e| anyhow!("client {}: {e}", job.index))?;
        let received = Instant::now();
        // The device's events reach this client too; it does not look at them.
        client.discard_events();
        if let Some(sent_at) = in_flight.remove(&id) {
            report.record(sent_at, received, &ack, window);
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

// ---------------------------------------------------------------------------------------------
// fanout
// ---------------------------------------------------------------------------------------------

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

async fn fanout(target: &Target, args: &FanoutArgs) -> Result<Summary> {
    let device = linked_device(target, 1).await?;
    let subscribers = target.connect_many(&device.id, args.subscribers).await?;
    let publisher = target.connect(&device.id).await?;
    let start = Instant::now() + Duration::from_millis(500);
    let window = Window {
        start,
        end: start + Duration::from_secs_f64(args.duration),
    };
    let (end_tx, end_rx) = watch::channel(None::<u64>);
    let tasks: Vec<_> = subscribers
        .into_iter()
        .map(|s| tokio::spawn(receive(s, window, end_rx.clone())))
        .collect();
    let daemon_before = target.sample();
    progress(format_args!(
        "publishing {:.0} msgs/s for {:.0} s to {} subscribers",
        args.rate, args.duration, args.subscribers
    ));
    let chat = device.chats[0].clone();
    let mut published = publish(publisher.client, &chat, args.rate, window, &target.run_id).await?;
    let end_seq = wait_quiet(
        &target.api,
        &device.id,
        Duration::from_secs_f64(args.settle),
    )
    .await?;
    let daemon_after = target.sample();
    progress(format_args!(
        "journal quiet at seq {end_seq}; waiting for the subscribers"
    ));
    end_tx.send_replace(Some(end_seq));
    let give_up = tokio::spawn(async move {
        sleep(DRAIN_TIMEOUT).await;
        drop(end_tx);
    });
    let receptions = join_all(tasks).await?;
    give_up.abort();

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
    fanout_rows(&mut summary, receptions, end_seq, window);
    summary.row(
        "daemon CPU",
        cpu_share(daemon_before, daemon_after, Instant::now() - window.start),
    );
    Ok(summary)
}

fn fanout_rows(summary: &mut Summary, receptions: Vec<Reception>, end_seq: u64, window: Window) {
    let mut latencies = Latencies::default();
    let (mut delivered, mut expected, mut in_window) = (0u64, 0u64, 0u64);
    let (mut duplicates, mut gaps, mut missing, mut beyond) = (0u64, 0u64, 0u64, 0u64);
    let mut ended = Vec::new();
    let first_baseline = receptions
        .iter()
        .map(|r| r.baseline)
        .min()
        .unwrap_or(end_seq);
    for r in receptions {
        delivered += r.delivered;
        expected += end_seq.saturating_sub(r.baseline);
        in_window += r.in_window;
        duplicates += r.duplicates;
        gaps += r.gaps;
        missing += r.missing;
        beyond += r.beyond_end;
        ended.extend(r.ended);
        latencies.merge(r.latencies);
    }
    let seconds = (window.end - window.start).as_secs_f64();
    summary.row(
        "journal events",
        format!(
            "{} (seq {} → {end_seq})",
            end_seq - first_baseline,
            first_baseline
        ),
    );
    summary.row(
        "deliveries/s",
        format!(
            "{:.0} (received during the publishing window)",
            in_window as f64 / seconds
        ),
    );
    summary.row(
        "delivered",
        format!(
            "{delivered} of {expected} expected: {}",
            if delivered == expected {
                "delivered == expected"
            } else {
                "MISMATCH"
            }
        ),
    );
    summary.row(
        "order",
        format!(
            "{gaps} gaps ({missing} seqs missing), {duplicates} duplicates, {beyond} past the end"
        ),
    );
    summary.row("message delivery", latencies.describe());
    if let Some(p99) = latencies.p99_ms() {
        summary.row("p99 delivery", format!("{p99:.1} ms"));
    }
    if !ended.is_empty() {
        summary.row(
            "subscribers cut off",
            format!("{} (first: {})", ended.len(), ended[0]),
        );
    }
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
    while Instant::now() < window.end {
        ticks.tick().await;
        let now = Instant::now();
        let payload = json!({
            "chatId": chat,
            "text": format!("load t={}", (now - epoch()).as_micros()),
            "tempId": format!("fan-{run_id}-{}", report.sent),
        });
        let id = client
            .emit_with_ack_id("message:send", payload)
            .map_err(|e| anyhow!(e))?;
        in_flight.insert(id, now);
        report.sent += 1;
        // Collect the acks that are already there without waiting.
        while let Ok((id, ack)) = client.next_ack(Duration::ZERO).await {
            if let Some(sent_at) = in_flight.remove(&id) {
                report.record(sent_at, Instant::now(), &ack, all);
            }
        }
        client.discard_events();
    }
    while !in_flight.is_empty() {
        let (id, ack) = client
            .next_ack(ACK_TIMEOUT)
            .await
            .map_err(|e| anyhow!("publisher: {e}"))?;
        if let Some(sent_at) = in_flight.remove(&id) {
            report.record(sent_at, Instant::now(), &ack, all);
        }
    }
    client.close().await;
    Ok(report)
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
