//! The servers event sinks publish to, started by the tests themselves: `nats-server -js`,
//! `redis-server` and RabbitMQ, each on 127.0.0.1, on free ports, with its data in a temporary
//! directory, so that it can be stopped and started again on the same port and data.
//!
//! A missing server fails the test that needs it, naming the package to install: a test that
//! skipped would pass on a machine that tests nothing.

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use tempfile::TempDir;

use super::poll;

/// How long a server may take to start: RabbitMQ takes seconds.
const START: Duration = Duration::from_secs(90);
/// How long a server may take to stop.
const STOP: Duration = Duration::from_secs(30);

/// Which server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Nats,
    Redis,
    RabbitMq,
}

/// A server run by a test; stopped (killed) when dropped.
pub struct Broker {
    kind: Kind,
    port: u16,
    /// RabbitMQ's Erlang distribution port.
    dist_port: u16,
    dir: TempDir,
    child: Option<Child>,
    /// RabbitMQ's port mapper (`epmd`), run by the test on a port of its own rather than left
    /// to Erlang, which would start one that outlives the test.
    epmd: Option<(Child, u16)>,
}

/// A port nothing listens on now.
fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

impl Broker {
    /// Starts a server of `kind` and waits until it takes connections.
    pub async fn start(kind: Kind) -> Broker {
        let mut broker = Broker {
            kind,
            port: free_port(),
            dist_port: free_port(),
            dir: tempfile::tempdir().unwrap(),
            child: None,
            epmd: None,
        };
        if kind == Kind::RabbitMq {
            broker.epmd = Some(epmd().await);
        }
        broker.resume().await;
        broker
    }

    /// The URL a sink connects with.
    pub fn url(&self) -> String {
        match self.kind {
            Kind::Nats => format!("nats://127.0.0.1:{}", self.port),
            Kind::Redis => format!("redis://127.0.0.1:{}/0", self.port),
            Kind::RabbitMq => format!("amqp://guest:guest@127.0.0.1:{}/%2f", self.port),
        }
    }

    fn command(&self) -> Command {
        let dir = self.dir.path();
        let port = self.port.to_string();
        let mut command = match self.kind {
            Kind::Nats => {
                let mut nats = Command::new("nats-server");
                let store = dir.join("jetstream");
                nats.args(["-js", "-a", "127.0.0.1", "-p", &port, "-sd"])
                    .arg(store);
                nats
            }
            Kind::Redis => {
                // The append-only file keeps the stream across a stop and start.
                let mut redis = Command::new("redis-server");
                redis
                    .args(["--bind", "127.0.0.1", "--port", &port, "--save", ""])
                    .args(["--appendonly", "yes", "--dir"])
                    .arg(dir);
                redis
            }
            Kind::RabbitMq => {
                let epmd_port = self.epmd.as_ref().map(|(_, port)| *port);
                rabbitmq(dir, &port, self.dist_port, epmd_port.unwrap())
            }
        };
        in_own_group(&mut command);
        command
    }

    /// Starts the server again (on the same port and data) and waits until it takes
    /// connections.
    pub async fn resume(&mut self) {
        assert!(self.child.is_none(), "the server runs already");
        let (program, package) = match self.kind {
            Kind::Nats => ("nats-server", "nats-server"),
            Kind::Redis => ("redis-server", "redis-server"),
            Kind::RabbitMq => (RABBITMQ, "rabbitmq-server"),
        };
        let child = self.command().spawn().unwrap_or_else(|error| {
            panic!("cannot run {program} ({error}): install it with `apt-get install {package}`")
        });
        self.child = Some(child);
        let address = format!("127.0.0.1:{}", self.port);
        let what = format!("{program} to take connections on {address}");
        let (kind, url, address) = (self.kind, &self.url(), &address);
        let child = self.child.as_mut().unwrap();
        poll::until(&what, START, || {
            if let Some(status) = child.try_wait().unwrap() {
                panic!("{program} exited at start with {status}");
            }
            async move {
                match poll::listening(address).await && serves(kind, url).await {
                    true => Ok(()),
                    false => Err("no session taken".to_owned()),
                }
            }
        })
        .await;
    }

    /// Stops the server (SIGTERM to its process group) and waits until it has exited.
    pub async fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        // SAFETY: kill(2) on the group this child leads.
        unsafe { libc::kill(-(child.id() as i32), libc::SIGTERM) };
        poll::until("the server to stop", STOP, || {
            let exited = child.try_wait().unwrap();
            async move { exited.ok_or_else(|| "running".to_owned()) }
        })
        .await;
        // Its port is closed once it has exited; RabbitMQ's node may still be leaving.
        poll::closed(&format!("127.0.0.1:{}", self.port), STOP).await;
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        let epmd = self.epmd.take().map(|(child, _)| child);
        for mut child in self.child.take().into_iter().chain(epmd) {
            // SAFETY: kill(2) on the group this child leads.
            unsafe { libc::kill(-(child.id() as i32), libc::SIGKILL) };
            let _ = child.wait();
        }
    }
}

/// Whether the server of `kind` at `url` answers as its clients need: RabbitMQ listens before
/// it takes an AMQP session.
async fn serves(kind: Kind, url: &str) -> bool {
    match kind {
        Kind::RabbitMq => {
            let properties = lapin::ConnectionProperties::default();
            lapin::Connection::connect(url, properties).await.is_ok()
        }
        Kind::Nats | Kind::Redis => true,
    }
}

/// Gives `command` no input or output and a process group of its own, so that stopping it
/// stops every process it started.
fn in_own_group(command: &mut Command) {
    command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0);
}

/// Starts an Erlang port mapper on 127.0.0.1 and a free port, and waits until it listens.
async fn epmd() -> (Child, u16) {
    let port = free_port();
    let mut command = Command::new("epmd");
    command.args(["-address", "127.0.0.1", "-port", &port.to_string()]);
    in_own_group(&mut command);
    let child = command.spawn().unwrap_or_else(|error| {
        panic!("cannot run epmd ({error}): install it with `apt-get install rabbitmq-server`")
    });
    poll::opened(&format!("127.0.0.1:{port}"), START).await;
    (child, port)
}

/// RabbitMQ's own start script, which runs the broker as the calling user (Debian's
/// `/usr/sbin/rabbitmq-server` switches to the `rabbitmq` user).
const RABBITMQ: &str = "/usr/lib/rabbitmq/bin/rabbitmq-server";

/// A RabbitMQ node of its own: a unique node name, its ports, the test's port mapper on
/// `epmd_port`, its database and logs in `dir`, no plugins.
fn rabbitmq(dir: &Path, port: &str, dist_port: u16, epmd_port: u16) -> Command {
    let plugins = dir.join("enabled_plugins");
    std::fs::write(&plugins, "[].\n").unwrap();
    let mut rabbit = Command::new(RABBITMQ);
    rabbit
        .env("RABBITMQ_NODE_IP_ADDRESS", "127.0.0.1")
        .env("RABBITMQ_NODE_PORT", port)
        .env("RABBITMQ_DIST_PORT", dist_port.to_string())
        .env("ERL_EPMD_PORT", epmd_port.to_string())
        .env("RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS", "-start_epmd false")
        .env(
            "RABBITMQ_NODENAME",
            format!("sinks-{}-{port}@localhost", std::process::id()),
        )
        .env("RABBITMQ_MNESIA_BASE", dir.join("mnesia"))
        .env("RABBITMQ_LOG_BASE", dir.join("log"))
        .env("RABBITMQ_ENABLED_PLUGINS_FILE", plugins);
    rabbit
}
