//! The built `devicebridge` binary as a child process, for tests that must kill it for real
//! (SIGKILL) and start it again on the same data.
#![cfg(unix)]

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use super::poll;

const BIN: &str = env!("CARGO_BIN_EXE_devicebridge");
/// How long the daemon may take to listen after being started (the binary is already built).
const STARTUP: Duration = Duration::from_secs(30);
/// How long the daemon may take to exit after SIGTERM.
const STOP: Duration = Duration::from_secs(10);
/// Daemon output lines shown when the test fails.
const OUTPUT_TAIL: usize = 60;

/// Appends each line of `stream` to `lines` until it ends, so the pipe never fills up and
/// blocks the daemon, and its output can be searched and shown.
fn collect(stream: impl Read + Send + 'static, lines: Arc<Mutex<Vec<String>>>) {
    thread::spawn(move || {
        let mut reader = BufReader::new(stream);
        let mut line = Vec::new();
        // Bytes, not `lines()`: a line that is not UTF-8 must not stop the draining.
        while reader
            .read_until(b'\n', &mut line)
            .is_ok_and(|read| read > 0)
        {
            let text = String::from_utf8_lossy(&line).trim_end().to_owned();
            lines.lock().unwrap().push(text);
            line.clear();
        }
    });
}

/// A running `devicebridge serve`. It is killed and reaped when dropped, so no daemon outlives
/// the test even when an assertion fails; on failure its last output lines are printed.
pub struct Daemon {
    child: Child,
    output: Arc<Mutex<Vec<String>>>,
}

impl Daemon {
    /// Starts the daemon on a free port with `dir`'s `data` and `devices` directories, fully
    /// synchronous SQLite, an environment cleared of `DEVICEBRIDGE*` and proxy variables, and
    /// then the variables of `env`.
    pub fn spawn(dir: &Path, env: &[(&str, String)]) -> Daemon {
        let mut command = Command::new(BIN);
        command
            .current_dir(dir)
            .arg("serve")
            .args(["--bind", "127.0.0.1:0", "--data-dir"])
            .arg(dir.join("data"))
            .arg("--devices-dir")
            .arg(dir.join("devices"))
            .env("DEVICEBRIDGE__STORAGE__SYNCHRONOUS", "full")
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (name, _) in std::env::vars_os() {
            let name_text = name.to_string_lossy();
            if name_text.starts_with("DEVICEBRIDGE") || name_text.to_lowercase().ends_with("_proxy")
            {
                command.env_remove(name);
            }
        }
        command.envs(env.iter().map(|(name, value)| (name, value)));
        let mut child = command.spawn().expect("cannot start devicebridge serve");
        let output = Arc::new(Mutex::new(Vec::new()));
        collect(child.stdout.take().expect("piped stdout"), output.clone());
        collect(child.stderr.take().expect("piped stderr"), output.clone());
        Daemon { child, output }
    }

    /// The base URL from the `listening on http://ADDR` log line: with port 0, the log is the
    /// only place that tells which port was picked.
    pub async fn base_url(&mut self) -> String {
        let (output, child) = (self.output.clone(), &mut self.child);
        let address = poll("the `listening on` log line", STARTUP, || {
            let found = output.lock().unwrap().iter().find_map(|line| {
                let rest =
                    &line[line.find("listening on http://")? + "listening on http://".len()..];
                Some(rest.split_whitespace().next()?.to_owned())
            });
            // A daemon that refused to start would otherwise be waited for until the timeout.
            if let Some(status) = child.try_wait().expect("cannot wait for devicebridge") {
                panic!("devicebridge exited with {status} before listening");
            }
            async move { found }
        })
        .await;
        format!("http://{address}")
    }

    /// `kill -9`: SIGKILL (what `Child::kill` sends on Unix), then reaps the process.
    pub fn kill(&mut self) {
        self.child.kill().expect("cannot kill devicebridge");
        self.child.wait().expect("cannot reap devicebridge");
    }

    /// A clean stop: SIGTERM, then waits (bounded) for the process to exit.
    pub async fn terminate(&mut self) -> ExitStatus {
        let signal = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status()
            .expect("cannot run kill");
        assert!(signal.success(), "kill -TERM failed: {signal}");
        let child = &mut self.child;
        poll("devicebridge to exit after SIGTERM", STOP, || {
            let status = child.try_wait().expect("cannot wait for devicebridge");
            async move { status }
        })
        .await
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
        if thread::panicking() {
            let output = self.output.lock().unwrap();
            let tail = &output[output.len().saturating_sub(OUTPUT_TAIL)..];
            eprintln!(
                "--- last {} lines of devicebridge (pid {}) ---\n{}",
                tail.len(),
                self.child.id(),
                tail.join("\n")
            );
        }
    }
}
