//! The daemon under test: started as a child process (or reached with `--url`), its REST API,
//! the linked simulator device every scenario uses, and Socket.IO clients attached to it.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use clap::Args;
use futures_util::stream::{self, StreamExt};
use serde_json::{json, Value};
use tokio::time::{sleep, Instant};

use crate::measure::{progress, stat_fields, ProcSample};
use crate::sio::{ConnectOutcome, SioClient};

/// How long one acknowledgement may take before the run counts as broken.
pub(crate) const ACK_TIMEOUT: Duration = Duration::from_secs(30);
/// How long the started daemon gets to answer `/health`, and a device to change state.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, Args)]
pub(crate) struct TargetArgs {
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
    /// Start the Node socket.io peer (`benches/peer`, after `npm ci` there) instead of
    /// devicebridge: the same scenarios against the stack users compare it with.
    #[arg(long, global = true, conflicts_with_all = ["url", "daemon_bin"])]
    peer: bool,
    /// Extra environment for the started daemon, `KEY=VALUE`, repeatable
    /// (e.g. `MALLOC_ARENA_MAX=2`, `DEVICEBRIDGE__STORAGE__SYNCHRONOUS=normal`).
    #[arg(long = "daemon-env", global = true, value_parser = parse_env_pair)]
    daemon_env: Vec<(String, String)>,
    /// Start this many daemons as one cluster (each with its own data directory and port;
    /// needs `--daemon-env DEVICEBRIDGE__STORAGE__URL=postgres://…`): the device is created
    /// through the first, and clients connect to each in turn.
    #[arg(long, global = true, default_value_t = 1, conflicts_with_all = ["url", "peer"])]
    nodes: usize,
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

fn parse_env_pair(text: &str) -> Result<(String, String), String> {
    text.split_once('=')
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .ok_or_else(|| format!("expected KEY=VALUE, got {text:?}"))
}

/// The command as typed, for the summary: without the `--bench` flag cargo adds, and with the
/// API key left out (the summary is meant to be pasted).
pub(crate) fn command_line() -> String {
    let mut args = Vec::new();
    let mut secret_next = false;
    for arg in std::env::args().skip(1).filter(|a| a != "--bench") {
        if std::mem::take(&mut secret_next) {
            args.push("<key>".to_owned());
        } else if arg.starts_with("--api-key=") {
            args.push("--api-key=<key>".to_owned());
        } else {
            secret_next = arg == "--api-key";
            args.push(arg);
        }
    }
    format!("cargo bench --bench load -- {}", args.join(" "))
}

/// What the scenarios talk to: the REST API, the Socket.IO endpoint, and (when known) the
/// daemon's process for memory and CPU readings.
pub(crate) struct Target {
    pub(crate) api: Api,
    pub(crate) socket_path: String,
    pid: Option<u32>,
    pub(crate) daemon: Option<Daemon>,
    /// The cluster's other nodes, with `--nodes`.
    pub(crate) others: Vec<Daemon>,
    /// Which node the next client connects to.
    turn: std::sync::atomic::AtomicUsize,
    connect_concurrency: usize,
    /// A prefix that keeps device ids and `tempId`s of this run apart from earlier runs.
    pub(crate) run_id: String,
}

impl Target {
    pub(crate) async fn open(args: &TargetArgs) -> Result<Target> {
        let run_id = format!("{:x}", epoch_millis() % 0xff_ffff);
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()?;
        let postgres = args
            .daemon_env
            .iter()
            .any(|(name, url)| name == "DEVICEBRIDGE__STORAGE__URL" && url.starts_with("postgres"));
        if args.nodes > 1 && !postgres {
            bail!("--nodes needs a shared database: --daemon-env DEVICEBRIDGE__STORAGE__URL=postgres://…");
        }
        let mut others = Vec::new();
        let (api, daemon) = match (&args.url, &args.api_key) {
            (Some(url), Some(key)) => {
                let api = Api::new(http, url.trim_end_matches('/').to_owned(), key.clone());
                (api, None)
            }
            _ => {
                let daemon = Daemon::start(args, 0)?;
                let base = daemon.base.clone();
                let key = daemon.wait_ready(&http).await?;
                // The first node made the admin key, in the database the others share.
                for node in 1..args.nodes {
                    let other = Daemon::start(args, node)?;
                    other.wait_healthy(&http).await?;
                    others.push(other);
                }
                (Api::new(http, base, key), Some(daemon))
            }
        };
        Ok(Target {
            pid: daemon.as_ref().map(|d| d.child.id()).or(args.pid),
            api,
            socket_path: args.socket_path.clone(),
            daemon,
            others,
            turn: Default::default(),
            connect_concurrency: args.connect_concurrency.max(1),
            run_id,
        })
    }

    /// Restarts the daemon this tool started (a clean stop, then a start on the same data) and
    /// waits for its `/health`.
    pub(crate) async fn restart(&mut self) -> Result<()> {
        let daemon = self
            .daemon
            .as_mut()
            .ok_or_else(|| anyhow!("only a daemon the tool started can be restarted"))?;
        self.pid = Some(daemon.restart()?);
        let http = reqwest::Client::new();
        daemon.wait_ready(&http).await.map(drop)
    }

    /// The daemon's resident memory and CPU time, when its pid is known; a cluster's summed
    /// over its nodes.
    pub(crate) fn sample(&self) -> Option<ProcSample> {
        let first = self
            .pid
            .and_then(|pid| ProcSample::read(&format!("/proc/{pid}")).ok())?;
        self.others.iter().try_fold(first, |sum, other| {
            let sample = ProcSample::read(&format!("/proc/{}", other.child.id())).ok()?;
            Some(ProcSample {
                rss_kib: sum.rss_kib + sample.rss_kib,
                cpu: sum.cpu + sample.cpu,
            })
        })
    }

    /// Adds the daemon log's tail to an error, since the cause is often there.
    pub(crate) fn explain(&self, error: anyhow::Error) -> anyhow::Error {
        match &self.daemon {
            Some(daemon) => error.context(format!("daemon log tail:\n{}", daemon.log_tail())),
            None => error,
        }
    }

    /// Stops the daemon this tool started, or removes the test device from a daemon it did not.
    pub(crate) async fn finish(&self) {
        for other in &self.others {
            other.terminate();
        }
        match &self.daemon {
            Some(daemon) => daemon.terminate(),
            None => {
                let path = format!("/api/v1/devices/{}", self.device_id());
                if let Err(error) = self.api.call(reqwest::Method::DELETE, &path, None).await {
                    eprintln!("load: could not remove the test device: {error:#}");
                }
            }
        }
    }

    /// The device this run creates (see [`linked_device`]).
    fn device_id(&self) -> String {
        format!("load-{}", self.run_id)
    }

    /// A client of the device, on the cluster's nodes in turn.
    pub(crate) async fn connect(&self, device: &str) -> Result<Subscriber> {
        let turn = self.turn.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let base = match turn % (self.others.len() + 1) {
            0 => &self.api.base,
            node => &self.others[node - 1].base,
        };
        Subscriber::connect(base, &self.socket_path, device, &self.api.key).await
    }

    /// Opens `count` connections to the device, a few at a time, printing progress.
    pub(crate) async fn connect_many(&self, device: &str, count: usize) -> Result<Vec<Subscriber>> {
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
pub(crate) struct Daemon {
    pub(crate) child: Child,
    port: u16,
    base: String,
    dir: Option<tempfile::TempDir>,
    kept: Option<PathBuf>,
    pub(crate) bin: PathBuf,
    /// It is the Node peer, not devicebridge: the daemon's settings mean nothing to it.
    pub(crate) peer: bool,
    /// `--daemon-env` settings, named in the summary since they change the conditions.
    pub(crate) extra_env: Vec<(String, String)>,
}

impl Daemon {
    /// Starts the daemon, node `node` of the cluster with `--nodes`.
    fn start(args: &TargetArgs, node: usize) -> Result<Daemon> {
        let bin = match (&args.daemon_bin, args.peer) {
            (Some(bin), _) => bin.clone(),
            (None, true) => peer_script()?,
            (None, false) => PathBuf::from(env!("CARGO_BIN_EXE_devicebridge")),
        };
        let dir = tempfile::Builder::new()
            .prefix("devicebridge-load-")
            .tempdir()?;
        let port = free_port()?;
        let mut extra_env = args.daemon_env.clone();
        if args.nodes > 1 {
            extra_env.push((
                "DEVICEBRIDGE__CLUSTER__NODE_ID".into(),
                format!("load-{node}"),
            ));
        }
        let child = spawn(&bin, dir.path(), port, &extra_env)?;
        let (dir, kept) = if args.keep {
            (None, Some(dir.keep()))
        } else {
            (Some(dir), None)
        };
        Ok(Daemon {
            child,
            port,
            base: format!("http://127.0.0.1:{port}"),
            dir,
            kept,
            bin,
            peer: args.peer,
            extra_env,
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
        self.wait_healthy(http).await?;
        let path = self.dir().join("data").join("admin-api-key");
        let key = std::fs::read_to_string(&path)
            .with_context(|| format!("no admin key at {}", path.display()))?;
        Ok(key.trim().to_owned())
    }

    /// Waits until it answers `/health`.
    async fn wait_healthy(&self, http: &reqwest::Client) -> Result<()> {
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
        Ok(())
    }

    /// Stops the daemon cleanly and starts it again on the same data and port; returns its
    /// new pid.
    fn restart(&mut self) -> Result<u32> {
        self.terminate();
        let _ = self.child.wait();
        self.child = spawn(&self.bin, self.dir(), self.port, &self.extra_env)?;
        Ok(self.child.id())
    }

    /// Where its database and write-ahead log are.
    pub(crate) fn data_dir(&self) -> PathBuf {
        self.dir().join("data")
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

/// Starts the daemon at `bin` on 127.0.0.1:`port` with its data, devices and log in `dir`, as
/// the measurements want it: `storage.synchronous = full`, the inbound rate limit out of the
/// way, warnings-only logs, then `extra_env`.
fn spawn(bin: &Path, dir: &Path, port: u16, extra_env: &[(String, String)]) -> Result<Child> {
    let log = File::options()
        .create(true)
        .append(true)
        .open(dir.join("daemon.log"))?;
    let mut command = Command::new(bin);
    command
        .arg("serve")
        .args(["--bind", &format!("127.0.0.1:{port}")])
        .arg("--data-dir")
        .arg(dir.join("data"))
        .arg("--devices-dir")
        .arg(dir.join("devices"))
        // No config/local.toml from wherever the tool was started.
        .current_dir(dir)
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
        .envs(extra_env.iter().map(|(k, v)| (k, v)));
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
        dir.display()
    ));
    Ok(child)
}

/// The Node peer's server script. The script takes the daemon's command line, so it is
/// started the same way.
fn peer_script() -> Result<PathBuf> {
    Ok(peer_dir()?.join("server.js"))
}

/// `benches/peer`, once its dependencies (socket.io and socket.io-client) are installed.
pub(crate) fn peer_dir() -> Result<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/peer");
    if !dir.join("node_modules/socket.io-client").is_dir() {
        bail!(
            "the peer's dependencies are not installed: run `npm ci` in {}",
            dir.display()
        );
    }
    Ok(dir)
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

#[derive(Clone)]
pub(crate) struct Api {
    http: reqwest::Client,
    pub(crate) base: String,
    pub(crate) key: String,
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

    pub(crate) async fn get(&self, path: &str) -> Result<Value> {
        self.call(reqwest::Method::GET, path, None).await
    }

    pub(crate) async fn post(&self, path: &str, body: Value) -> Result<Value> {
        self.call(reqwest::Method::POST, path, Some(body)).await
    }

    /// The daemon's metrics, as text; `None` from a server that has none (the Node peer).
    pub(crate) async fn metrics(&self) -> Option<String> {
        let response = self
            .http
            .get(format!("{}/metrics", self.base))
            .header("x-api-key", &self.key)
            .send()
            .await
            .ok()?;
        match response.status().is_success() {
            true => response.text().await.ok(),
            false => None,
        }
    }

    /// The newest `seq` in the device's journal.
    pub(crate) async fn journal_head(&self, device: &str) -> Result<u64> {
        let page = self
            .get(&format!("/api/v1/devices/{device}/events?after=0&limit=1"))
            .await?;
        page["head"]
            .as_u64()
            .ok_or_else(|| anyhow!("no `head` in the events page: {page}"))
    }

    /// Socket.IO connections the daemon counts, over all namespaces.
    pub(crate) async fn connections(&self) -> Result<u64> {
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

    /// Creates simulator device `id` with `contacts` and links it as the phone would: its QR
    /// code over REST, then `POST /pairings`; returns once it is `ready`.
    pub(crate) async fn link_simulator(&self, id: &str, contacts: Value) -> Result<()> {
        self.post(
            "/api/v1/devices",
            json!({
                "id": id,
                "name": "Load test",
                "connector": "simulator",
                "simulator": { "phone": "15550000001", "contacts": contacts },
            }),
        )
        .await?;
        self.wait_state(id, "qr").await?;
        let qr = self.current_qr(id).await?;
        self.post("/api/v1/pairings", json!({ "qr": qr })).await?;
        self.wait_state(id, "ready").await
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
pub(crate) struct Device {
    pub(crate) id: String,
    pub(crate) chats: Arc<Vec<String>>,
}

/// Creates a simulator device whose contacts are all `silent` (no replies adding load of
/// their own), and links it as the phone would: QR over REST, then `POST /pairings`.
pub(crate) async fn linked_device(target: &Target, contacts: usize) -> Result<Device> {
    let id = target.device_id();
    let chats: Vec<String> = (0..contacts.max(1))
        .map(|i| format!("1555{:07}@c.us", 1000 + i))
        .collect();
    let contacts: Vec<Value> = chats
        .iter()
        .enumerate()
        .map(|(i, chat)| json!({ "id": chat, "name": format!("Contact {i}"), "behaviour": "silent" }))
        .collect();
    target
        .api
        .link_simulator(&id, Value::Array(contacts))
        .await?;
    progress(format_args!(
        "device {id} is ready with {} chats",
        chats.len()
    ));
    Ok(Device {
        id,
        chats: Arc::new(chats),
    })
}

/// A client attached to a device namespace, and the last `seq` the server had emitted when it
/// attached (the `toSeq` of its `sync`): everything after it must arrive, once, in order.
pub(crate) struct Subscriber {
    pub(crate) client: SioClient,
    pub(crate) baseline: u64,
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
        client.without_history();
        client.discard_events();
        let baseline = sync.data["toSeq"]
            .as_u64()
            .ok_or_else(|| anyhow!("no `toSeq` in sync: {}", sync.data))?;
        Ok(Subscriber { client, baseline })
    }
}

/// The process-wide clock origin: `fanout` writes microseconds since it into message texts.
pub(crate) fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

fn epoch_millis() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or_default()
}

pub(crate) fn is_ok_ack(ack: &Value) -> bool {
    ack["ok"] == Value::Bool(true)
}

pub(crate) fn ack_error(ack: &Value) -> String {
    match &ack["error"] {
        Value::Null => ack.to_string(),
        error => format!(
            "{}: {}",
            error["code"].as_str().unwrap_or("?"),
            error["message"].as_str().unwrap_or("")
        ),
    }
}
