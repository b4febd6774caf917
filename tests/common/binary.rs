//! The built `devicebridge` binary as a child process: `serve` as a user runs it (its terminal
//! output, a clean stop on SIGTERM), or killed for real with SIGKILL and started again on the
//! same data. Every wait is for an event — a line of its output, its exit — with a timeout.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;
use tokio::time::Instant;

const BIN: &str = env!("CARGO_BIN_EXE_devicebridge");
/// How long the daemon may take to listen after being started (the binary is already built).
const STARTUP: Duration = Duration::from_secs(30);
/// How long the daemon may take to exit after SIGTERM.
const STOP: Duration = Duration::from_secs(10);
/// Daemon output lines shown when the test fails.
const OUTPUT_TAIL: usize = 60;
/// The admin key of a daemon started with [`Daemon::spawn_with_admin_key`].
pub const ADMIN_KEY: &str = "binary-test-admin-key-0123456789abcdef";

/// A command for the binary, isolated from the caller's environment (see [`isolated`]).
pub fn command(dir: &Path) -> Command {
    isolated(BIN, dir)
}

/// A command for `program`, isolated from the caller's environment: it runs in `dir`, sees no
/// `DEVICEBRIDGE*` variables and no proxy settings, and prints no colours. It is killed if the
/// test drops it (a timeout, a failed assertion) while it runs.
pub fn isolated(program: impl AsRef<std::ffi::OsStr>, dir: &Path) -> Command {
    let mut command = Command::new(program);
    command
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .kill_on_drop(true);
    for (name, _) in std::env::vars_os() {
        let text = name.to_string_lossy();
        if text.starts_with("DEVICEBRIDGE") || text.to_lowercase().ends_with("_proxy") {
            command.env_remove(name);
        }
    }
    command
}

/// `devicebridge serve` with `args`, on a free port with `dir`'s `data` and `devices`
/// directories, fully synchronous SQLite and logs at `info`.
fn serve_command(dir: &Path, args: &[&str]) -> Command {
    serve_arguments(command(dir), dir, args)
}

/// [`serve_command`]'s arguments and environment, given to `serve`: the binary itself, or a
/// program whose command line ends with the binary, which it runs.
fn serve_arguments(mut serve: Command, dir: &Path, args: &[&str]) -> Command {
    serve
        .arg("serve")
        .args(args)
        .args(["--bind", "127.0.0.1:0", "--data-dir"])
        .arg(dir.join("data"))
        .arg("--devices-dir")
        .arg(dir.join("devices"))
        .env("DEVICEBRIDGE__STORAGE__SYNCHRONOUS", "full")
        // Only the governor's own tests pace what devices send (see `test_settings`).
        .env("DEVICEBRIDGE__GOVERNOR__ENABLED", "false")
        .env("RUST_LOG", "info");
    serve
}

/// The address in the daemon's `listening on http://ADDR` line, if `text` has it.
fn listening_address(text: &str) -> Option<String> {
    let rest = &text[text.find("listening on http://")? + "listening on http://".len()..];
    Some(rest.split_whitespace().next()?.to_owned())
}

/// Removes ANSI escape sequences (colours, cursor moves) from a line.
fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\u{1b}' {
            out.push(c);
            continue;
        }
        if chars.peek() == Some(&'[') {
            chars.next();
            // Parameters and intermediates, then one final byte in '@'..='~'.
            for c in chars.by_ref() {
                if ('@'..='~').contains(&c) {
                    break;
                }
            }
        } else {
            chars.next();
        }
    }
    out
}

/// Sends each line of `stream`, without ANSI escapes unless `raw`, until it ends: the pipe
/// never fills up and blocks the daemon, and the test waits for the lines it expects as they
/// come.
fn forward(
    stream: impl AsyncRead + Unpin + Send + 'static,
    lines: mpsc::UnboundedSender<String>,
    raw: bool,
) {
    tokio::spawn(async move {
        let mut reader = BufReader::new(stream);
        let mut line = Vec::new();
        // Bytes, not `lines()`: a line that is not UTF-8 must not stop the draining.
        while reader
            .read_until(b'\n', &mut line)
            .await
            .is_ok_and(|read| read > 0)
        {
            let text = String::from_utf8_lossy(&line);
            let text = match raw {
                true => text.trim_end_matches(['\n', '\r']).to_owned(),
                false => strip_ansi(text.trim_end()),
            };
            let _ = lines.send(text);
            line.clear();
        }
    });
}

/// A running `devicebridge serve`. It is killed when dropped, so no daemon outlives the test
/// even when an assertion fails; on failure its last output lines are printed.
pub struct Daemon {
    child: Child,
    /// Its output lines, stdout and stderr, as they come; closed once it exited.
    lines: mpsc::UnboundedReceiver<String>,
    /// Every line received from `lines` so far.
    seen: Vec<String>,
}

impl Daemon {
    /// Starts the daemon on a free port with `dir`'s `data` and `devices` directories, fully
    /// synchronous SQLite, logs at `info`, and then the variables of `env`.
    pub fn spawn(dir: &Path, env: &[(&str, String)]) -> Daemon {
        Self::spawn_with(dir, &[], env)
    }

    /// [`Daemon::spawn`] with more `serve` arguments.
    pub fn spawn_with(dir: &Path, args: &[&str], env: &[(&str, String)]) -> Daemon {
        let mut serve = serve_command(dir, args);
        serve.envs(env.iter().map(|(name, value)| (name, value)));
        Self::run(serve, false)
    }

    /// The daemon as a user starts it in `dir`: `devicebridge` with `args` only, the log level
    /// and colours left to the daemon (no `RUST_LOG`, no `NO_COLOR`), and the variables of
    /// `env`; its lines are kept as written, escape codes included.
    pub fn spawn_as_user(dir: &Path, args: &[&str], env: &[(&str, String)]) -> Daemon {
        let mut daemon = command(dir);
        daemon
            .args(args)
            .env_remove("NO_COLOR")
            .env_remove("RUST_LOG")
            .envs(env.iter().map(|(name, value)| (name, value)));
        Self::run(daemon, true)
    }

    /// Starts the daemon as [`Daemon::spawn_with_admin_key`] does, but with its output (the
    /// log) going to the file `log` rather than to the test, as a daemon run with
    /// `> daemon.log 2>&1` does; returns it and a handle on it, once the log says where it
    /// listens.
    pub async fn spawn_logging_to(dir: &Path, log: &Path) -> (Daemon, super::TestDaemon) {
        let file = std::fs::File::create(log).unwrap();
        let mut serve = serve_command(dir, &[]);
        serve
            .env("DEVICEBRIDGE_API_KEY", ADMIN_KEY)
            .stdout(file.try_clone().unwrap())
            .stderr(file);
        Self::logged(serve, dir, |_| log.to_path_buf()).await
    }

    /// Starts the daemon as [`Daemon::spawn_logging_to`] does, on a disk of its own: a real
    /// filesystem (tmpfs) of `size_mib` MiB mounted on `dir` in a mount namespace of the
    /// daemon's own (`unshare --mount`, which needs root), holding its data directory, its log
    /// (`daemon.log`) and a file `filler` of `filler_mib` MiB that takes up room. The test
    /// reaches those files through [`seen_by`], and frees room by removing the filler. The
    /// disk goes when the daemon does.
    #[cfg(target_os = "linux")]
    pub async fn spawn_on_small_disk(
        dir: &Path,
        size_mib: u64,
        filler_mib: u64,
    ) -> (Daemon, super::TestDaemon) {
        const MOUNT_AND_RUN: &str = r#"set -e
mount -t tmpfs -o "size=$2m" devicebridge-small-disk "$1"
cd "$1"
head -c "$(($3 * 1048576))" /dev/zero > filler
shift 3
exec "$@" > daemon.log 2>&1"#;
        let mut unshare = isolated("unshare", dir);
        unshare
            .args(["--mount", "sh", "-c", MOUNT_AND_RUN, "sh"])
            .arg(dir)
            .arg(size_mib.to_string())
            .arg(filler_mib.to_string())
            .arg(BIN);
        let mut serve = serve_arguments(unshare, dir, &[]);
        serve.env("DEVICEBRIDGE_API_KEY", ADMIN_KEY);
        Self::logged(serve, dir, |pid| seen_by(pid, &dir.join("daemon.log"))).await
    }

    /// Runs `serve`, whose output goes to the file `log(pid)`, and returns it and a handle on
    /// it once the log says where it listens.
    async fn logged(
        mut serve: Command,
        dir: &Path,
        log: impl FnOnce(u32) -> std::path::PathBuf,
    ) -> (Daemon, super::TestDaemon) {
        let mut child = serve.spawn().expect("cannot start devicebridge");
        let log = log(child.id().expect("just started"));
        let deadline = Instant::now() + STARTUP;
        let mut ticks = tokio::time::interval(Duration::from_millis(50));
        let address = loop {
            ticks.tick().await;
            let written = std::fs::read_to_string(&log).unwrap_or_default();
            if let Some(address) = listening_address(&written) {
                break address;
            }
            if let Some(exit) = child.try_wait().expect("cannot wait for devicebridge") {
                panic!("devicebridge exited ({exit}) before listening: {written}");
            }
            assert!(
                Instant::now() < deadline,
                "no `listening on` in {log:?}: {written}"
            );
        };
        let daemon = Daemon {
            child,
            lines: mpsc::unbounded_channel().1,
            seen: Vec::new(),
        };
        let api = super::TestDaemon::remote(
            format!("http://{address}"),
            ADMIN_KEY.to_owned(),
            dir.to_path_buf(),
        );
        (daemon, api)
    }

    fn run(mut daemon: Command, raw: bool) -> Daemon {
        daemon.stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = daemon.spawn().expect("cannot start devicebridge");
        let (sender, lines) = mpsc::unbounded_channel();
        forward(
            child.stdout.take().expect("piped stdout"),
            sender.clone(),
            raw,
        );
        forward(child.stderr.take().expect("piped stderr"), sender, raw);
        Daemon {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// Starts the daemon as [`Daemon::spawn`] does, with [`ADMIN_KEY`] as its admin key
    /// (`DEVICEBRIDGE_API_KEY`) and its own log lines at `info`; returns it and a handle on
    /// it for the HTTP and Socket.IO helpers.
    pub async fn spawn_with_admin_key(
        dir: &Path,
        env: &[(&str, String)],
    ) -> (Daemon, super::TestDaemon) {
        let mut env = env.to_vec();
        env.push(("DEVICEBRIDGE_API_KEY", ADMIN_KEY.to_owned()));
        env.push((
            "RUST_LOG",
            std::env::var("DEVICEBRIDGE_TEST_LOG").unwrap_or("warn,devicebridge=info".to_owned()),
        ));
        let mut daemon = Daemon::spawn(dir, &env);
        let base = daemon.base_url().await;
        let api = super::TestDaemon::remote(base, ADMIN_KEY.to_owned(), dir.to_path_buf());
        (daemon, api)
    }

    /// The first line printed so far or within `timeout` from which `find` extracts something.
    /// A daemon that exits first fails the wait at once.
    pub async fn wait_for<T>(
        &mut self,
        what: &str,
        timeout: Duration,
        mut find: impl FnMut(&str) -> Option<T>,
    ) -> T {
        if let Some(found) = self.seen.iter().find_map(|line| find(line)) {
            return found;
        }
        self.wait_for_next(what, timeout, find).await
    }

    /// Marks every line received so far as read: [`Daemon::wait_for_next`] then looks only at
    /// what the daemon prints after this, for a line it prints each time something happens.
    pub fn skip_printed(&mut self) {
        while let Ok(line) = self.lines.try_recv() {
            self.seen.push(line);
        }
    }

    /// The first line not read yet, coming within `timeout`, from which `find` extracts
    /// something; lines read before are not looked at again. A daemon that exits first fails
    /// the wait at once.
    pub async fn wait_for_next<T>(
        &mut self,
        what: &str,
        timeout: Duration,
        mut find: impl FnMut(&str) -> Option<T>,
    ) -> T {
        let deadline = Instant::now() + timeout;
        loop {
            match tokio::time::timeout_at(deadline, self.lines.recv()).await {
                Ok(Some(line)) => {
                    let found = find(&line);
                    self.seen.push(line);
                    if let Some(found) = found {
                        return found;
                    }
                }
                Ok(None) => panic!(
                    "devicebridge closed its output before printing {what} (exit: {:?})",
                    self.child.try_wait()
                ),
                Err(_) => panic!("devicebridge printed no {what} within {timeout:?}"),
            }
        }
    }

    /// The base URL from the `listening on http://ADDR` log line: with port 0, the log is the
    /// only place that tells which port was picked.
    pub async fn base_url(&mut self) -> String {
        let address = self
            .wait_for("`listening on http://ADDR`", STARTUP, listening_address)
            .await;
        format!("http://{address}")
    }

    /// Its resident memory now, in bytes, from `/proc/<pid>/status`: the daemon is a process of
    /// its own, so this is its memory alone, whatever else the test binary runs.
    pub fn rss_bytes(&self) -> u64 {
        let pid = self.child.id().expect("devicebridge is running");
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
        let kib: u64 = status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
            .expect("VmRSS in /proc/<pid>/status");
        kib * 1024
    }

    /// How many of its open file descriptors are on a file whose path ends with `suffix`, from
    /// `/proc/<pid>/fd`.
    pub fn open_files_ending(&self, suffix: &str) -> usize {
        let pid = self.child.id().expect("devicebridge is running");
        std::fs::read_dir(format!("/proc/{pid}/fd"))
            .unwrap()
            .filter_map(|entry| std::fs::read_link(entry.ok()?.path()).ok())
            .filter(|target| target.to_string_lossy().ends_with(suffix))
            .count()
    }

    /// The lines it printed that the test has read so far (through [`Daemon::wait_for`]).
    pub fn lines_read(&self) -> &[String] {
        &self.seen
    }

    /// Its process id, while it runs.
    pub fn pid(&self) -> u32 {
        self.child.id().expect("devicebridge is running")
    }

    /// `kill -9`: SIGKILL (what `Child::kill` sends on Unix), then reaps the process.
    pub async fn kill(&mut self) {
        self.child.kill().await.expect("cannot kill devicebridge");
    }

    /// A clean stop: SIGTERM, then waits (bounded) for the process to exit.
    #[cfg(unix)]
    pub async fn terminate(&mut self) -> std::process::ExitStatus {
        // `id` is `None` once the process is reaped: its pid may then be someone else's.
        let pid = self.child.id().expect("devicebridge already exited");
        let signal = Command::new("kill")
            .arg("-TERM")
            .arg(pid.to_string())
            .status()
            .await
            .expect("cannot run kill");
        assert!(signal.success(), "kill -TERM failed: {signal}");
        tokio::time::timeout(STOP, self.child.wait())
            .await
            .unwrap_or_else(|_| panic!("devicebridge did not exit within {STOP:?} after SIGTERM"))
            .expect("cannot wait for devicebridge")
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        // The child is killed by `kill_on_drop`.
        if std::thread::panicking() {
            self.skip_printed();
            let tail = &self.seen[self.seen.len().saturating_sub(OUTPUT_TAIL)..];
            eprintln!(
                "--- last {} lines of devicebridge (pid {:?}) ---\n{}",
                tail.len(),
                self.child.id(),
                tail.join("\n")
            );
        }
    }
}

/// `path` as the running process `pid` sees it, through its own mounts: the same path under
/// `/proc/<pid>/root`.
#[cfg(target_os = "linux")]
pub fn seen_by(pid: u32, path: &Path) -> std::path::PathBuf {
    let inside = path.strip_prefix("/").expect("an absolute path");
    Path::new(&format!("/proc/{pid}/root")).join(inside)
}

/// Sets the file size limit (`RLIMIT_FSIZE`, what `ulimit -f` and `prlimit --fsize` set) of
/// the running process `pid`: with `Some(0)` every write it makes to a file fails (`EFBIG`), as
/// on a full disk; `None` lifts it. Only the soft limit changes, which needs no privilege.
#[cfg(target_os = "linux")]
pub fn limit_file_size(pid: u32, bytes: Option<u64>) {
    let pid = pid as libc::pid_t;
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `limit` is a valid `rlimit` to read into, then to read from.
    unsafe {
        assert_eq!(
            libc::prlimit(pid, libc::RLIMIT_FSIZE, std::ptr::null(), &mut limit),
            0,
            "cannot read the file size limit: {}",
            std::io::Error::last_os_error()
        );
        limit.rlim_cur = bytes.map_or(limit.rlim_max, |bytes| bytes.min(limit.rlim_max));
        assert_eq!(
            libc::prlimit(pid, libc::RLIMIT_FSIZE, &limit, std::ptr::null_mut()),
            0,
            "cannot set the file size limit: {}",
            std::io::Error::last_os_error()
        );
    }
}
