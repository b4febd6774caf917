//! A PostgreSQL server of the tests' own: Debian's `postgres`, started once per test process in
//! a temporary directory, on 127.0.0.1 and a free port, with a fresh database for each test
//! that asks ([`database`]).
//!
//! `initdb` refuses to run as root: as root, the server is run as `nobody`. It stops when the
//! test process ends, however that ends: it is told to (SIGINT, PostgreSQL's fast shutdown) by
//! the kernel when the thread that started it is gone, and that thread lives as long as the
//! server's output, which it reads.
//!
//! Shared, by path, by the integration tests and the store's own tests.

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{mpsc, Mutex, OnceLock};
use std::time::Duration;

/// How long the server may take to start.
const START: Duration = Duration::from_secs(60);

/// A PostgreSQL server run by the tests.
pub struct Server {
    port: u16,
    dir: PathBuf,
    /// The running postmaster's process id, 0 while it is stopped.
    pid: AtomicU32,
    /// Told when the running postmaster has exited.
    exited: Mutex<Option<mpsc::Receiver<()>>>,
}

static SHARED: OnceLock<Server> = OnceLock::new();

/// The URL of a new, empty database on the server the tests share, started on first use.
pub fn database() -> String {
    SHARED.get_or_init(Server::start).create_database()
}

/// A server of the calling test's own, which it may stop and start again.
pub fn own_server() -> Server {
    Server::start()
}

impl Server {
    /// A new, empty database on this server; its URL.
    ///
    /// The `postgres` client blocks on a runtime of its own, which it cannot do inside a
    /// test's: it is used on a thread of its own.
    pub fn create_database(&self) -> String {
        static NEXT: AtomicU32 = AtomicU32::new(1);
        let name = format!(
            "test_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let admin = format!("postgres://postgres@127.0.0.1:{}/postgres", self.port);
        let create = move || {
            let mut client = postgres::Client::connect(&admin, postgres::NoTls)
                .unwrap_or_else(|error| panic!("cannot connect to the tests' PostgreSQL: {error}"));
            // Copied as files rather than through the log, where PostgreSQL 15 and later
            // would write the whole template each time; older versions know only that way.
            client
                .batch_execute(&format!("CREATE DATABASE {name} STRATEGY FILE_COPY"))
                .or_else(|_| client.batch_execute(&format!("CREATE DATABASE {name}")))
                .unwrap_or_else(|error| panic!("cannot create database {name}: {error}"));
            format!("postgres://postgres@127.0.0.1:{}/{name}", self.port)
        };
        std::thread::scope(|scope| scope.spawn(create).join())
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    }

    /// Stops the server (PostgreSQL's fast shutdown: its clients are disconnected) and waits
    /// until it has exited.
    pub fn stop(&self) {
        let pid = self.pid.swap(0, Ordering::SeqCst);
        assert_ne!(pid, 0, "the server is not running");
        // SAFETY: sends a signal to the postmaster this harness started.
        unsafe { libc::kill(pid as libc::pid_t, libc::SIGINT) };
        let exited = self
            .exited
            .lock()
            .unwrap()
            .take()
            .expect("a running server");
        exited
            .recv_timeout(START)
            .expect("the server exits within the wait");
    }
}

/// Where Debian keeps PostgreSQL's programs: on the PATH if an administrator put them there,
/// else under `/usr/lib/postgresql/<version>/bin`, the newest version first.
fn program(name: &str) -> PathBuf {
    let on_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file());
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.path().join("bin").join(name))
        .filter(|candidate| candidate.is_file())
        .collect();
    versions.sort_by_key(|path| {
        let version = path
            .iter()
            .rev()
            .nth(2)
            .and_then(|v| v.to_str()?.parse::<u32>().ok());
        std::cmp::Reverse(version)
    });
    on_path.or(versions.into_iter().next()).unwrap_or_else(|| {
        panic!("PostgreSQL's `{name}` is not installed (Debian: apt-get install postgresql)")
    })
}

/// The user the server runs as: this one, or `nobody` for root.
fn unprivileged() -> Option<(libc::uid_t, libc::gid_t)> {
    // SAFETY: getuid cannot fail.
    (unsafe { libc::getuid() } == 0).then_some((65534, 65534))
}

/// Runs `command` as the unprivileged user; with `die_with_thread`, it is also sent SIGINT
/// when the thread that started it ends.
fn as_server(command: &mut Command, die_with_thread: bool) -> &mut Command {
    let user = unprivileged();
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        command.pre_exec(move || {
            if let Some((uid, gid)) = user {
                if libc::setgroups(0, std::ptr::null()) != 0
                    || libc::setgid(gid) != 0
                    || libc::setuid(uid) != 0
                {
                    return Err(std::io::Error::last_os_error());
                }
            }
            // After the change of user, which would clear it.
            if die_with_thread && libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGINT) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        })
    }
}

fn give_to_server(path: &Path) {
    if let Some((uid, gid)) = unprivileged() {
        std::os::unix::fs::chown(path, Some(uid), Some(gid))
            .unwrap_or_else(|error| panic!("cannot give {} to nobody: {error}", path.display()));
    }
}

/// How the servers' directories are named, under the system's temporary directory.
const DIR_PREFIX: &str = "devicebridge-postgres-";

/// Removes the directories of the servers of earlier test processes that have stopped (a
/// server that stopped removes its `postmaster.pid`): a server's files outlive its process,
/// which ends with the test process and cannot remove them.
fn sweep_stopped_servers() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let ours = entry.file_name().to_string_lossy().starts_with(DIR_PREFIX);
        if ours && !path.join("data").join("postmaster.pid").exists() {
            let _ = std::fs::remove_dir_all(&path);
        }
    }
}

impl Server {
    fn start() -> Server {
        sweep_stopped_servers();
        let dir = tempfile::Builder::new()
            .prefix(DIR_PREFIX)
            .tempdir()
            .expect("a temporary directory")
            .keep();
        give_to_server(&dir);
        let initdb = as_server(
            Command::new(program("initdb"))
                .arg("-D")
                .arg(dir.join("data"))
                .args([
                    "-U",
                    "postgres",
                    "-A",
                    "trust",
                    "-E",
                    "UTF8",
                    "--locale=C",
                    "--no-sync",
                ]),
            false,
        )
        .output()
        .expect("initdb runs");
        assert!(
            initdb.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&initdb.stderr)
        );
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free port")
            .port();
        let server = Server {
            port,
            dir,
            pid: AtomicU32::new(0),
            exited: Mutex::new(None),
        };
        server.run();
        server
    }

    /// Starts the server on its data, at its port (again, after [`Server::stop`]), and waits
    /// until it accepts connections. The thread that starts the postmaster reads its log for
    /// as long as it runs, and says when it has exited.
    pub fn run(&self) {
        let (ready, started) = mpsc::channel();
        let (exited, exit) = mpsc::channel();
        let (postgres, data, dir, port) = (
            program("postgres"),
            self.dir.join("data"),
            self.dir.clone(),
            self.port,
        );
        std::thread::Builder::new()
            .name("test-postgres".into())
            .spawn(move || {
                let child = as_server(
                    Command::new(postgres)
                        .arg("-D")
                        .arg(&data)
                        .args(["-p", &port.to_string(), "-k"])
                        .arg(&dir)
                        .args([
                            "-c",
                            "listen_addresses=127.0.0.1",
                            "-c",
                            "fsync=off",
                            "-c",
                            "full_page_writes=off",
                            "-c",
                            "wal_level=minimal",
                            "-c",
                            "max_wal_senders=0",
                            "-c",
                            "max_connections=300",
                        ])
                        .stdin(Stdio::null())
                        .stdout(Stdio::null())
                        .stderr(Stdio::piped()),
                    true,
                )
                .spawn();
                let mut child = match child {
                    Ok(child) => child,
                    Err(error) => {
                        let _ = ready.send(Err(format!("cannot start postgres: {error}")));
                        return;
                    }
                };
                let pid = child.id();
                let log = BufReader::new(child.stderr.take().expect("piped stderr"));
                let mut told = false;
                let mut seen = Vec::new();
                for line in log.lines().map_while(Result::ok) {
                    if !told {
                        if line.contains("ready to accept connections") {
                            told = ready.send(Ok(pid)).is_ok();
                        } else {
                            seen.push(line);
                        }
                    }
                }
                if !told {
                    let _ = ready.send(Err(seen.join("\n")));
                }
                let _ = child.wait();
                let _ = exited.send(());
            })
            .expect("a thread for the server");
        match started.recv_timeout(START) {
            Ok(Ok(pid)) => {
                self.pid.store(pid, Ordering::SeqCst);
                *self.exited.lock().unwrap() = Some(exit);
            }
            Ok(Err(log)) => panic!("postgres did not start:\n{log}"),
            Err(_) => panic!("postgres did not start within {START:?}"),
        }
    }
}
