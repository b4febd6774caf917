//! The daemon on PostgreSQL as an operator meets it. Daemons that share a database agree on
//! what a credential is: an access token issued by one is accepted by another started on
//! another data directory, as are the API keys created through either. A database server that goes down is an outage like a full disk:
//! writes are answered `503 storage_unavailable`, `/ready` fails, and once the server is back
//! the daemon writes again by itself. Its connections probe a silent network: a dead path to
//! the server is given up within minutes, not hours.

mod common;

use std::collections::HashMap;

use common::TestDaemon;
use reqwest::StatusCode;

/// Held by each test of this file for its whole run: the keepalive test reads the options of
/// every socket this process has to the server, and another test's connections (a database
/// made, a client of its own) opened meanwhile would be counted as the daemon's.
static ALONE: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_and_a_key_from_one_daemon_work_on_another_of_the_same_database() {
    let _alone = ALONE.lock().await;
    let database = common::postgres::database();
    let on_database = |database: String| {
        move |settings: &mut devicebridge::config::Settings, _: &std::path::Path| {
            settings.storage.url = database;
        }
    };
    let first = TestDaemon::start_with(on_database(database.clone())).await;
    let token = first.read_token_for("dashboard", &["*"]).await;
    let key = first.key_for(&["*"], &["read"]).await;
    let admin = first.key.clone();

    // Another daemon, on a data directory of its own.
    let second = TestDaemon::start_with(on_database(database)).await;
    for (what, header, value) in [
        ("the token", "authorization", format!("Bearer {token}")),
        ("the key", "x-api-key", key),
        ("the first daemon's admin key", "x-api-key", admin),
    ] {
        let answer = second
            .http
            .get(format!("{}/api/v1/devices", second.base))
            .header(header, value)
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), StatusCode::OK, "{what}");
    }
    second.stop().await;
    first.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn while_the_database_server_is_down_writes_wait_for_it_and_the_daemon_recovers_alone() {
    let _alone = ALONE.lock().await;
    let server = common::postgres::own_server();
    let database = server.create_database();
    let daemon = TestDaemon::start_with(move |settings, _| settings.storage.url = database).await;
    daemon.create_device("before").await;

    // Each `/ready` commits a write: it fails at once while the server is down.
    server.stop();
    let (status, ready) = daemon.get("/ready").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{ready}");
    assert_ne!(ready["checks"]["storage"], "ok", "{ready}");
    let (status, refused) = daemon
        .post(
            "/api/v1/devices",
            serde_json::json!({ "id": "during", "name": "During" }),
        )
        .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{refused}");
    assert_eq!(refused["error"]["code"], "storage_unavailable", "{refused}");

    // The writer connects again for the first write after the server is back.
    server.run();
    let (status, ready) = daemon.get("/ready").await;
    assert_eq!(status, StatusCode::OK, "{ready}");
    daemon.create_device("after").await;
    let (status, devices) = daemon.get("/api/v1/devices").await;
    assert_eq!(status, StatusCode::OK, "{devices}");
    assert_eq!(common::ids(&devices), ["after", "before"]);
}

/// A connection to the database that sits idle is probed after 30 s, 10 s apart, three times
/// before it is given up, and one whose data goes unacknowledged for 60 s is given up: a NAT or
/// load balancer on the way forgets an idle connection after a few minutes without telling
/// either end, and the system's keepalive, after two hours, would come too late. What the URL
/// sets instead (libpq's names) is kept. Read from the daemon's own sockets to the server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connections_to_the_database_are_probed_and_dead_ones_given_up() {
    let _alone = ALONE.lock().await;
    for (given, idle) in ["", "?keepalives_idle=5"].into_iter().zip([30, 5]) {
        let database = common::postgres::database();
        let port: u16 = database
            .rsplit_once(':')
            .and_then(|(_, rest)| rest.split('/').next()?.parse().ok())
            .expect("the database URL's port");
        let url = format!("{database}{given}");
        // Those of the round before may not be closed yet.
        let before = sockets_to(port);
        let daemon = TestDaemon::start_with(move |settings, _| settings.storage.url = url).await;
        // A write and a read, so that the writer's and a reader's connections are open.
        daemon.create_device("kept").await;
        let (status, _) = daemon.get("/api/v1/devices").await;
        assert_eq!(status, StatusCode::OK);
        let mut sockets = sockets_to(port);
        sockets.retain(|socket, _| !before.contains_key(socket));
        assert!(
            sockets.len() >= 3,
            "the writer, a reader and the listener: {sockets:?}"
        );
        for options in sockets.into_values() {
            assert_eq!(
                options,
                TcpOptions {
                    keepalive: true,
                    idle_secs: idle,
                    interval_secs: 10,
                    probes: 3,
                    user_timeout_ms: 60_000,
                },
            );
        }
        daemon.stop().await;
    }
}

/// What a TCP connection is set to do about a silent peer.
#[derive(Debug, PartialEq)]
struct TcpOptions {
    keepalive: bool,
    idle_secs: i32,
    interval_secs: i32,
    probes: i32,
    user_timeout_ms: i32,
}

/// The options of each of this process's TCP connections to `port` on 127.0.0.1, by the
/// socket's inode.
fn sockets_to(port: u16) -> HashMap<String, TcpOptions> {
    let option = |fd: i32, level: i32, name: i32| {
        let mut value: libc::c_int = 0;
        let mut size = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
        // SAFETY: `value` and `size` are a c_int and its size, as the option asks.
        let rc =
            unsafe { libc::getsockopt(fd, level, name, (&raw mut value).cast(), &raw mut size) };
        (rc == 0).then_some(value)
    };
    let mut found = HashMap::new();
    for entry in std::fs::read_dir("/proc/self/fd").unwrap().flatten() {
        let Ok(target) = std::fs::read_link(entry.path()) else {
            continue;
        };
        let target = target.to_string_lossy().into_owned();
        let fd = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<i32>().ok());
        let Some(fd) = fd.filter(|_| target.starts_with("socket:")) else {
            continue;
        };
        // SAFETY: a sockaddr_in and its size, for getpeername to fill.
        let mut peer: libc::sockaddr_in = unsafe { std::mem::zeroed() };
        let mut size = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
        let rc = unsafe { libc::getpeername(fd, (&raw mut peer).cast(), &raw mut size) };
        let to_port = rc == 0
            && i32::from(peer.sin_family) == libc::AF_INET
            && u16::from_be(peer.sin_port) == port;
        if !to_port {
            continue;
        }
        let tcp = |name| option(fd, libc::IPPROTO_TCP, name).unwrap_or(-1);
        let options = TcpOptions {
            keepalive: option(fd, libc::SOL_SOCKET, libc::SO_KEEPALIVE) == Some(1),
            idle_secs: tcp(libc::TCP_KEEPIDLE),
            interval_secs: tcp(libc::TCP_KEEPINTVL),
            probes: tcp(libc::TCP_KEEPCNT),
            user_timeout_ms: tcp(libc::TCP_USER_TIMEOUT),
        };
        found.insert(target, options);
    }
    found
}
