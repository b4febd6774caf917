//! The real `devicebridge` binary, run as a separate process: `serve` with its first-run banner,
//! terminal QR code and clean SIGTERM shutdown, the client subcommands driving it over REST, and
//! the errors a user sees for a bad configuration or a missing API key.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_devicebridge");
/// How long the daemon may take to print something expected (it is already built).
const STARTUP: Duration = Duration::from_secs(30);
/// How long one client subcommand may run.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(30);
/// How long the daemon may take to stop after SIGTERM.
const STOP: Duration = Duration::from_secs(10);
/// Runs of `devices show` while waiting for a linked device to become ready.
const READY_TRIES: usize = 50;

/// A command for the binary, isolated from the caller's environment: it runs in `dir`, sees no
/// `DEVICEBRIDGE*` variables and no proxy settings, and prints no colours.
fn devicebridge(dir: &Path) -> Command {
    let mut command = Command::new(BIN);
    command
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null());
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("DEVICEBRIDGE") {
            command.env_remove(name);
        }
    }
    for proxy in [
        "HTTP_PROXY",
        "http_proxy",
        "HTTPS_PROXY",
        "https_proxy",
        "ALL_PROXY",
        "all_proxy",
    ] {
        command.env_remove(proxy);
    }
    command
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

/// Sends each line of `stream`, without ANSI escapes, until it ends.
fn forward(stream: impl Read + Send + 'static, lines: Sender<String>) {
    thread::spawn(move || {
        let mut reader = BufReader::new(stream);
        let mut buffer = Vec::new();
        loop {
            buffer.clear();
            match reader.read_until(b'\n', &mut buffer) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    let line = String::from_utf8_lossy(&buffer);
                    let line = strip_ansi(line.trim_end_matches(['\n', '\r']));
                    if lines.send(line).is_err() {
                        break;
                    }
                }
            }
        }
    });
}

/// A running `devicebridge serve`, killed when dropped unless it has already exited.
struct Daemon {
    child: Child,
    lines: Receiver<String>,
    /// Every line printed so far, on stdout or stderr.
    seen: Vec<String>,
}

impl Daemon {
    fn spawn(mut command: Command) -> Daemon {
        command.stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = command.spawn().expect("cannot start devicebridge serve");
        let (sender, lines) = mpsc::channel();
        forward(child.stdout.take().expect("piped stdout"), sender.clone());
        forward(child.stderr.take().expect("piped stderr"), sender);
        Daemon {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    fn output(&self) -> String {
        self.seen.join("\n")
    }

    /// The first line printed so far or within `timeout` from which `find` extracts something.
    fn wait_for<T>(
        &mut self,
        what: &str,
        timeout: Duration,
        mut find: impl FnMut(&str) -> Option<T>,
    ) -> T {
        if let Some(found) = self.seen.iter().find_map(|line| find(line)) {
            return found;
        }
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    let found = find(&line);
                    self.seen.push(line);
                    if let Some(found) = found {
                        return found;
                    }
                }
                Err(RecvTimeoutError::Timeout) => panic!(
                    "devicebridge printed no {what} within {timeout:?}; its output:\n{}",
                    self.output()
                ),
                Err(RecvTimeoutError::Disconnected) => panic!(
                    "devicebridge closed its output before printing {what} (exit: {:?}); its output:\n{}",
                    self.child.try_wait(),
                    self.output()
                ),
            }
        }
    }

    /// Reads the rest of the output until the process closes it, within `timeout`, and returns
    /// the exit status.
    fn finish(&mut self, timeout: Duration) -> ExitStatus {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => self.seen.push(line),
                Err(RecvTimeoutError::Disconnected) => break,
                Err(RecvTimeoutError::Timeout) => panic!(
                    "devicebridge did not exit within {timeout:?}; its output:\n{}",
                    self.output()
                ),
            }
        }
        // Both streams are closed: the process is exiting.
        self.child.wait().expect("cannot wait for devicebridge")
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

/// Runs a command to completion, killing it if it takes longer than [`CLIENT_TIMEOUT`].
fn run(command: &mut Command) -> Output {
    command.stdout(Stdio::piped()).stderr(Stdio::piped());
    let child = command
        .spawn()
        .unwrap_or_else(|error| panic!("cannot run {command:?}: {error}"));
    let pid = child.id();
    let (sender, result) = mpsc::channel();
    thread::spawn(move || {
        let _ = sender.send(child.wait_with_output());
    });
    match result.recv_timeout(CLIENT_TIMEOUT) {
        Ok(output) => output.expect("cannot collect the command's output"),
        Err(_) => {
            // Not yet reaped, so the pid is still this child's.
            let _ = Command::new("kill")
                .arg("-KILL")
                .arg(pid.to_string())
                .status();
            panic!("{command:?} did not finish within {CLIENT_TIMEOUT:?}");
        }
    }
}

fn describe(output: &Output) -> String {
    format!(
        "exit: {}\nstdout:\n{}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Whether `text` mentions the configuration key `key` as a whole (`qr.ttl`, not `qr.ttl_secs`).
fn names_key(text: &str, key: &str) -> bool {
    text.match_indices(key).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + key.len()..].chars().next();
        let part_of_name = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
        !part_of_name(before) && !part_of_name(after) && before != Some('.')
    })
}

#[cfg(unix)]
#[test]
fn the_binary_serves_links_the_demo_device_and_stops_on_sigterm() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path();
    std::fs::create_dir_all(dir.join("devices")).unwrap();
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("devices/demo.toml"),
        dir.join("devices/demo.toml"),
    )
    .unwrap();
    let data_dir = dir.join("data");

    let mut serve = devicebridge(dir);
    serve
        .arg("serve")
        .args(["--bind", "127.0.0.1:0", "--data-dir"])
        .arg(&data_dir)
        .arg("--devices-dir")
        .arg(dir.join("devices"))
        .env("RUST_LOG", "info");
    let mut daemon = Daemon::spawn(serve);

    let address = daemon.wait_for("`listening on http://ADDR`", STARTUP, |line| {
        let rest = &line[line.find("listening on http://")? + "listening on http://".len()..];
        Some(rest.split_whitespace().next()?.to_owned())
    });
    let address: std::net::SocketAddr = address
        .parse()
        .unwrap_or_else(|_| panic!("not an address: {address:?}"));
    assert!(address.ip().is_loopback() && address.port() != 0);
    let url = format!("http://{address}");

    // The first-run banner shows the generated admin key, which is also in a private file.
    let key_file = data_dir.join("admin-api-key");
    let key = std::fs::read_to_string(&key_file)
        .unwrap_or_else(|error| panic!("cannot read {}: {error}", key_file.display()))
        .trim()
        .to_owned();
    assert!(!key.is_empty(), "the admin key file is empty");
    daemon.wait_for("first-run banner", STARTUP, |line| {
        line.contains("First run").then_some(())
    });
    daemon.wait_for("admin key in the banner", STARTUP, |line| {
        (line.trim() == key).then_some(())
    });
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key_file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "admin-api-key has mode {mode:o}");
    }

    // The demo device waits to be linked and draws its QR code on the terminal.
    let pair_url = daemon.wait_for("`devicebridge pair <url>` line", STARTUP, |line| {
        let rest = &line[line.find("devicebridge pair ")? + "devicebridge pair ".len()..];
        let end = rest.find('`').unwrap_or(rest.len());
        Some(rest[..end].trim().to_owned())
    });
    assert!(
        pair_url.contains("/pair/"),
        "not a pairing URL: {pair_url:?}"
    );
    daemon.wait_for("QR rendering", STARTUP, |line| {
        line.contains('█').then_some(())
    });

    let client = |args: &[&str]| {
        let mut command = devicebridge(dir);
        command
            .args(args)
            .args(["--url", url.as_str(), "--api-key", key.as_str()]);
        run(&mut command)
    };

    let list = client(&["devices", "list"]);
    assert!(list.status.success(), "devices list: {}", describe(&list));
    let listed = String::from_utf8_lossy(&list.stdout);
    assert!(
        listed
            .lines()
            .any(|line| line.split_whitespace().next() == Some("demo")),
        "devices list does not list demo: {}",
        describe(&list)
    );

    let qr = client(&["qr", "demo"]);
    assert!(qr.status.success(), "qr demo: {}", describe(&qr));
    let shown = String::from_utf8_lossy(&qr.stdout);
    assert!(
        shown.lines().any(|line| line.trim() == pair_url),
        "qr demo does not print {pair_url}: {}",
        describe(&qr)
    );
    assert!(
        shown.contains('█'),
        "qr demo draws no QR: {}",
        describe(&qr)
    );

    let pair = client(&["pair", pair_url.as_str()]);
    assert!(pair.status.success(), "pair: {}", describe(&pair));
    assert!(
        String::from_utf8_lossy(&pair.stdout).contains("linked device demo"),
        "pair: {}",
        describe(&pair)
    );

    let mut last = None;
    let ready = (0..READY_TRIES).any(|_| {
        let show = client(&["devices", "show", "demo"]);
        assert!(
            show.status.success(),
            "devices show demo: {}",
            describe(&show)
        );
        let device: Value = serde_json::from_slice(&show.stdout)
            .unwrap_or_else(|error| panic!("devices show demo: {error}: {}", describe(&show)));
        let ready = device["state"] == "ready";
        last = Some(device);
        ready
    });
    assert!(
        ready,
        "demo is not ready after {READY_TRIES} checks; last: {last:#?}"
    );

    // Sending from the shell: the daemon accepts the message and prints it.
    let send = client(&["send", "demo", "15550000002@c.us", "hello from the shell"]);
    assert!(send.status.success(), "send: {}", describe(&send));
    let sent: Value = serde_json::from_slice(&send.stdout)
        .unwrap_or_else(|error| panic!("send: {error}: {}", describe(&send)));
    assert_eq!(sent["chatId"], "15550000002@c.us", "{sent}");
    assert_eq!(sent["body"], "hello from the shell", "{sent}");
    assert_eq!(sent["fromMe"], true, "{sent}");
    assert!(sent["id"].as_str().is_some_and(|id| id.starts_with("msg_")));
    let unknown = client(&["send", "demo", "nobody/?#@c.us", "hello"]);
    assert!(
        String::from_utf8_lossy(&unknown.stderr).contains("chat_not_found"),
        "send to an unknown chat: {}",
        describe(&unknown)
    );

    let invalid = client(&["devices", "show", "Nope"]);
    assert!(
        !invalid.status.success(),
        "devices show Nope succeeded: {}",
        describe(&invalid)
    );
    assert!(
        String::from_utf8_lossy(&invalid.stderr).contains("invalid_device_id"),
        "devices show Nope: {}",
        describe(&invalid)
    );

    let signal = Command::new("kill")
        .arg("-TERM")
        .arg(daemon.child.id().to_string())
        .status()
        .expect("cannot run kill");
    assert!(signal.success(), "kill -TERM failed: {signal}");
    let status = daemon.finish(STOP);
    assert_eq!(
        status.code(),
        Some(0),
        "devicebridge exited with {status}; its output:\n{}",
        daemon.output()
    );
    assert!(
        daemon
            .seen
            .iter()
            .any(|line| line.split_whitespace().next_back() == Some("stopped")),
        "devicebridge did not print `stopped`; its output:\n{}",
        daemon.output()
    );
}

#[test]
fn configuration_problems_are_reported_at_once() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path();
    let config = dir.join("broken.toml");
    std::fs::write(
        &config,
        "[server]\nbnd = \"127.0.0.1:0\"\n\n[qr]\nttl = 5\n\n[limits]\nmax_message_bytes = \"big\"\n",
    )
    .unwrap();
    let data_dir = dir.join("data");

    let mut serve = devicebridge(dir);
    serve
        .arg("serve")
        .arg("--config")
        .arg(&config)
        .arg("--data-dir")
        .arg(&data_dir);
    let output = run(&mut serve);

    assert!(!output.status.success(), "{}", describe(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    for key in ["server.bnd", "qr.ttl", "limits.max_message_bytes"] {
        assert!(
            names_key(&stderr, key),
            "the error does not name {key}: {}",
            describe(&output)
        );
    }
    assert!(
        !data_dir.exists(),
        "the daemon created its data directory despite a broken configuration"
    );
}

#[test]
fn no_api_key_is_a_clear_client_error() {
    let temp = tempfile::tempdir().unwrap();
    let mut list = devicebridge(temp.path());
    list.args(["devices", "list", "--url", "http://127.0.0.1:9"]);
    let output = run(&mut list);

    assert!(!output.status.success(), "{}", describe(&output));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("API key"),
        "{}",
        describe(&output)
    );
}
