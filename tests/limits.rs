//! The byte budgets of SPEC §2 (`limits.*`) against a hostile client: replies cut to
//! `max_reply_bytes`, clients that stop reading cut off at `client_queue_bytes`, binary
//! attachments bounded before authentication, connections counted and timed out.
//!
//! Tests that read memory run the daemon binary as its own process and read its
//! `/proc/<pid>/status`; the others run it in-process.
#![cfg(unix)]

mod common;

use common::binary::{Daemon, ADMIN_KEY};
use common::stalled::Stalled;
use common::{wait_state, TestDaemon, WAIT};
use futures_util::SinkExt;
use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;

const MIB: u64 = 1024 * 1024;
const CHAT: &str = "15550000002@c.us";

/// A simulated phone with one contact that never reads nor replies, so what is stored is
/// what the test sends.
fn silent_phone() -> Value {
    json!({
        "phone": "15550000001",
        "server_ack_ms": 5, "delivered_ms": 10, "read_ms": 20,
        "contacts": [{ "id": CHAT, "name": "Silent", "behaviour": "silent" }],
    })
}

/// `count` messages of `bytes` bytes each, sent to the silent contact.
async fn fill_chat(daemon: &TestDaemon, device: &str, count: usize, bytes: usize) {
    for n in 0..count {
        let text = format!("{n:05}{}", "x".repeat(bytes - 5));
        daemon
            .send_message(device, CHAT, json!({ "text": text }))
            .await;
    }
}

/// The value of a Prometheus sample line `name` (with its labels) in `text`.
fn sample(text: &str, name: &str) -> u64 {
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.trim().parse().ok())
        .unwrap_or(0)
}

const SLOW_CONSUMERS: &str = "devicebridge_socket_disconnects_total{reason=\"slow_consumer\"}";

#[tokio::test]
async fn list_replies_are_cut_to_the_reply_budget_and_walk_to_the_end() {
    const BUDGET: usize = 128 * 1024;
    let daemon = TestDaemon::start_with(|settings, _| {
        settings.limits.max_reply_bytes = BUDGET;
        settings.limits.client_queue_bytes = 4 * BUDGET;
    })
    .await;
    daemon.ready_device("big", silent_phone()).await;
    fill_chat(&daemon, "big", 30, 20_000).await;

    // Socket.IO: a page of 30 would be ~600 KB; it comes in pages that fit, to the end.
    let mut client = daemon.socket("big", json!({})).await;
    let mut seen = Vec::new();
    let mut before = Value::Null;
    loop {
        let mut request = json!({ "chatId": CHAT, "limit": 30 });
        if !before.is_null() {
            request["before"] = before.clone();
        }
        let reply = client
            .emit_with_ack("messages:list", request, WAIT)
            .await
            .unwrap();
        assert!(
            reply.to_string().len() <= BUDGET,
            "a reply of {} bytes",
            reply.to_string().len()
        );
        let items = reply["data"]["items"].as_array().unwrap();
        assert!(!items.is_empty());
        seen.extend(items.iter().map(|m| m["id"].clone()));
        before = reply["data"]["nextCursor"].clone();
        if before.is_null() {
            break;
        }
    }
    assert_eq!(seen.len(), 30, "every message once");
    seen.dedup();
    assert_eq!(seen.len(), 30);

    // REST: the same page is cut the same way.
    let path = format!("/api/v1/devices/big/chats/{CHAT}/messages?limit=30");
    let response = daemon
        .http
        .get(format!("{}{path}", daemon.base))
        .header("x-api-key", &daemon.key)
        .send()
        .await
        .unwrap();
    let body = response.text().await.unwrap();
    assert!(body.len() <= BUDGET, "a page of {} bytes", body.len());
    let page: Value = serde_json::from_str(&body).unwrap();
    assert!(page["items"].as_array().unwrap().len() < 30);
    assert!(page["nextCursor"].is_string());

    // The journal over REST too; `nextAfter` says where its next page starts.
    let (status, events) = daemon.get("/api/v1/devices/big/events?limit=500").await;
    assert_eq!(status, StatusCode::OK);
    assert!(events.to_string().len() <= BUDGET);
    let last = events["items"].as_array().unwrap().last().unwrap()["seq"].clone();
    assert_eq!(events["nextAfter"], last);
    assert!(last.as_u64().unwrap() < events["head"].as_u64().unwrap());
}

#[tokio::test]
async fn a_client_that_asks_and_never_reads_is_cut_off_and_memory_stays_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let (daemon, api) = Daemon::spawn_with_admin_key(dir.path(), &[]).await;
    api.ready_device("big", silent_phone()).await;
    // ~200 messages of 60 KB: each `messages:list` of 200 answers a megabyte (the reply
    // budget), and a client that never reads would otherwise have hundreds of them queued.
    fill_chat(&api, "big", 200, 60_000).await;
    let baseline = daemon.rss_bytes();

    let key = api.key_for(&["big"], &["read"]).await;
    let mut client = Stalled::connect(&api.base, "/device/big", &json!({ "apiKey": key })).await;
    for _ in 0..300 {
        client
            .emit("messages:list", &json!({ "chatId": CHAT, "limit": 200 }))
            .await;
    }
    assert!(
        client.closed_within(WAIT).await,
        "the daemon closes a client that does not read its replies"
    );
    let grown = daemon.rss_bytes().saturating_sub(baseline);
    eprintln!("one client asking and not reading: +{} KiB", grown / 1024);
    assert!(
        grown < 96 * MIB,
        "the daemon grew by {} MiB for one client",
        grown / MIB
    );
    assert_eq!(sample(&api.metrics().await, SLOW_CONSUMERS), 1);
}

/// The daemon's memory over `baseline` once it is under `budget`, read every 100 ms for up to
/// [`WAIT`]; the last reading if it never gets there.
async fn growth_under(daemon: &Daemon, baseline: u64, budget: u64) -> u64 {
    let deadline = tokio::time::Instant::now() + WAIT;
    let mut every = tokio::time::interval(std::time::Duration::from_millis(100));
    loop {
        every.tick().await;
        let grown = daemon.rss_bytes().saturating_sub(baseline);
        if grown < budget || tokio::time::Instant::now() > deadline {
            return grown;
        }
    }
}

/// Reads from many clients at once share a bounded pool of database connections, whose page
/// caches are the read path's memory: however many ask together, the daemon opens no more
/// connections than the pool's bound, and its memory grows by little.
#[tokio::test]
async fn reads_from_many_clients_at_once_share_a_bounded_pool_of_connections() {
    /// The store's read connections, and its writer's and checkpointer's.
    const MOST_CONNECTIONS: usize = 8 + 2;
    let dir = tempfile::tempdir().unwrap();
    let (daemon, api) = Daemon::spawn_with_admin_key(dir.path(), &[]).await;
    api.ready_device("big", silent_phone()).await;
    // 4 MB of messages, so that each list read fills a connection's page cache.
    fill_chat(&api, "big", 200, 20_000).await;
    let baseline = daemon.rss_bytes();

    let path = format!("/api/v1/devices/big/chats/{CHAT}/messages?limit=200");
    for _ in 0..3 {
        let answers = futures_util::future::join_all((0..400).map(|_| api.get(&path))).await;
        assert!(answers.iter().all(|(status, _)| *status == StatusCode::OK));
    }
    let connections = daemon.open_files_ending("devicebridge.db");
    // What the reads keep is the connections' page caches. Their replies (up to a megabyte
    // each) are freed as they are sent, and the allocator gives those pages back over a
    // second; how many were in flight at once depends on the host's load (27 to 67 MiB read
    // at once on a busy 2-core host), so the memory is read until it is under the budget.
    let grown = growth_under(&daemon, baseline, 64 * MIB).await;
    eprintln!(
        "1,200 reads, 400 at a time: {connections} connections, +{} KiB",
        grown / 1024
    );
    assert!(
        connections <= MOST_CONNECTIONS,
        "{connections} connections to the database"
    );
    assert!(
        grown < 64 * MIB,
        "the daemon grew by {} MiB for reads",
        grown / MIB
    );
}

#[tokio::test]
async fn stalled_subscribers_of_large_messages_are_cut_off_within_seconds() {
    let dir = tempfile::tempdir().unwrap();
    let (daemon, api) = Daemon::spawn_with_admin_key(dir.path(), &[]).await;
    api.ready_device("big", silent_phone()).await;
    let mut stalled = Vec::new();
    for _ in 0..8 {
        let auth = json!({ "apiKey": ADMIN_KEY });
        stalled.push(Stalled::connect(&api.base, "/device/big", &auth).await);
    }
    let baseline = daemon.rss_bytes();
    // 150 messages of 60 KB, each fanned out to the 8 clients: 72 MB if nothing bounded it.
    fill_chat(&api, "big", 150, 60_000).await;
    for client in stalled {
        assert!(
            client.closed_within(WAIT).await,
            "a stalled client is closed"
        );
    }
    let grown = daemon.rss_bytes().saturating_sub(baseline);
    eprintln!("8 stalled subscribers: +{} KiB", grown / 1024);
    assert!(
        grown < 64 * MIB,
        "the daemon grew by {} MiB for 8 stalled clients",
        grown / MIB
    );
    assert_eq!(sample(&api.metrics().await, SLOW_CONSUMERS), 8);
}

#[tokio::test]
async fn binary_attachments_before_authentication_cost_about_the_message_budget() {
    let dir = tempfile::tempdir().unwrap();
    let (daemon, api) = Daemon::spawn_with_admin_key(dir.path(), &[]).await;
    let baseline = daemon.rss_bytes();
    let mut connections = Vec::new();
    for _ in 0..20 {
        let mut ws = Stalled::open(&api.base).await;
        // An event announcing 5,000 binary attachments, then 40 frames of 200 KB: 8 MB per
        // connection if the parser kept them, and no credential was ever shown.
        ws.send(Message::text(
            "45000-[\"message:send\",{\"_placeholder\":true,\"num\":0}]",
        ))
        .await
        .unwrap();
        for _ in 0..40 {
            if ws.send(Message::binary(vec![7u8; 200_000])).await.is_err() {
                break;
            }
        }
        connections.push(ws);
    }
    let grown = daemon.rss_bytes().saturating_sub(baseline);
    eprintln!(
        "20 connections with binary attachments: +{} KiB",
        grown / 1024
    );
    // 20 × `max_message_bytes` (64 KiB) is 1.25 MiB; allocator and transport buffers add some.
    assert!(
        grown < 48 * MIB,
        "20 connections holding binary attachments grew the daemon by {} MiB",
        grown / MIB
    );
    drop(connections);
}

#[tokio::test]
async fn connections_past_the_budget_are_answered_over_capacity() {
    let daemon = TestDaemon::start_with(|settings, _| settings.limits.max_connections = 8).await;
    let mut idle = Vec::new();
    for _ in 0..8 {
        idle.push(
            TcpStream::connect(daemon.base.trim_start_matches("http://"))
                .await
                .unwrap(),
        );
    }
    let (status, body) = raw_get(&daemon, "/health").await;
    assert_eq!(status, 503, "{body}");
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["error"]["code"], "over_capacity");

    // A place comes free as soon as a connection closes: the first one, certainly admitted
    // (the test client's own kept-alive connection holds a place too, so the last one may
    // have been refused).
    idle.remove(0);
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let (status, _) = raw_get(&daemon, "/health").await;
        if status == 200 {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "no place came free");
        tokio::task::yield_now().await;
    }
}

#[tokio::test]
async fn oversized_request_heads_get_the_error_envelope() {
    let daemon = TestDaemon::start().await;
    let mut request = daemon.http.get(format!("{}/health", daemon.base));
    for n in 0..150 {
        request = request.header(format!("x-filler-{n}"), "1");
    }
    let response = request.send().await.unwrap();
    assert_eq!(
        response.status(),
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "headers_too_large");

    let response = daemon
        .http
        .get(format!("{}/health", daemon.base))
        .header("x-filler", "y".repeat(100_000))
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "headers_too_large");
}

/// Raises this process's open-file limit (inherited by the daemon it starts) to `wanted`.
fn raise_open_files(wanted: u64) {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit read and write the struct given, nothing else.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit), 0);
        limit.rlim_cur = limit.rlim_max.min(wanted);
        assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &limit), 0);
    }
}

#[tokio::test]
async fn half_open_connections_are_closed_after_the_header_timeout_and_cost_little() {
    const CONNECTIONS: usize = 2000;
    raise_open_files(3 * CONNECTIONS as u64);
    let dir = tempfile::tempdir().unwrap();
    let env = [("DEVICEBRIDGE__LIMITS__HEADER_TIMEOUT_SECS", "2".to_owned())];
    let (daemon, api) = Daemon::spawn_with_admin_key(dir.path(), &env).await;
    let address = api.base.trim_start_matches("http://").to_owned();
    let baseline = daemon.rss_bytes();
    let mut half_open = Vec::new();
    for _ in 0..CONNECTIONS {
        let mut stream = TcpStream::connect(&address).await.unwrap();
        stream.write_all(b"GET /api/v1/dev").await.unwrap();
        half_open.push(stream);
    }
    // A connection that finished a request and then sits idle is closed the same way.
    let mut idle = TcpStream::connect(&address).await.unwrap();
    idle.write_all(b"GET /health HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();
    let (status, _) = raw_get(&api, "/health").await;
    assert_eq!(status, 200, "the daemon still serves while they are held");
    // Each costs hyper's 8 KiB read buffer and a task (~17 KiB measured; ~116 KiB before the
    // connections were timed and counted).
    let held = daemon.rss_bytes().saturating_sub(baseline);
    eprintln!(
        "{CONNECTIONS} half-open connections: +{} KiB, {} bytes each",
        held / 1024,
        held / CONNECTIONS as u64
    );
    assert!(
        held < (CONNECTIONS as u64) * 32 * 1024,
        "{CONNECTIONS} half-open connections cost {} KiB each",
        held / CONNECTIONS as u64 / 1024
    );
    for mut stream in half_open.into_iter().chain([idle]) {
        let ended = tokio::time::timeout(WAIT, async {
            let mut sink = [0u8; 1024];
            while !matches!(stream.read(&mut sink).await, Ok(0) | Err(_)) {}
        })
        .await;
        assert!(ended.is_ok(), "a half-open connection is still open");
    }
}

/// `GET path` over a new connection with hand-written HTTP/1.1; the status and the body.
async fn raw_get(daemon: &TestDaemon, path: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(daemon.base.trim_start_matches("http://"))
        .await
        .unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    let _ = tokio::time::timeout(WAIT, stream.read_to_string(&mut response)).await;
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0);
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_owned())
        .unwrap_or_default();
    (status, body)
}

#[tokio::test]
async fn qr_codes_reach_only_credentials_that_may_control_the_device() {
    let daemon = TestDaemon::start().await;
    daemon.create_device("link").await;
    let read_key = daemon.key_for(&["link"], &["read"]).await;
    let control_key = daemon.key_for(&["link"], &["read", "control"]).await;
    let connect = |key: String| {
        let base = daemon.base.clone();
        async move {
            common::sio::SioClient::connect(
                &base,
                "/ws",
                "/device/link",
                &[],
                &[],
                json!({ "apiKey": key }),
            )
            .await
            .unwrap()
            .unwrap_connected()
        }
    };
    let mut reader = connect(read_key.clone()).await;
    let mut controller = connect(control_key.clone()).await;
    // The device starts by itself (`autostart`).
    controller.wait_for("qr", WAIT).await.unwrap();
    wait_state(&mut reader, "qr").await;

    // A late reader, from the journal's start and without lastSeq: no code either way.
    let mut replayed = common::sio::SioClient::connect(
        &daemon.base,
        "/ws",
        "/device/link",
        &[],
        &[],
        json!({ "apiKey": read_key, "lastSeq": 0 }),
    )
    .await
    .unwrap()
    .unwrap_connected();
    replayed.wait_for("sync", WAIT).await.unwrap();
    let mut fresh = connect(read_key.clone()).await;
    fresh.wait_for("sync", WAIT).await.unwrap();

    daemon.link("link").await;
    wait_state(&mut reader, "ready").await;
    for client in [&reader, &replayed, &fresh] {
        assert!(
            client.history().iter().all(|event| event.name != "qr"),
            "a read credential got a QR code: {:?}",
            client.history().iter().map(|e| &e.name).collect::<Vec<_>>()
        );
    }

    // The journal over REST: the same rule.
    let events = |key: String| {
        let daemon = &daemon;
        async move {
            let response = daemon
                .http
                .get(format!("{}/api/v1/devices/link/events", daemon.base))
                .header("x-api-key", key)
                .send()
                .await
                .unwrap();
            let body: Value = response.json().await.unwrap();
            body["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|event| event["type"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        }
    };
    assert!(!events(read_key).await.contains(&"qr".to_owned()));
    assert!(events(control_key).await.contains(&"qr".to_owned()));
}

#[tokio::test]
async fn clients_that_keep_reading_are_never_cut_off_whatever_they_are_sent() {
    let daemon = TestDaemon::start_with(|settings, _| {
        settings.limits.max_reply_bytes = 4096;
        settings.limits.client_queue_bytes = 16 * 1024;
    })
    .await;
    daemon.ready_device("big", silent_phone()).await;
    // A long-polling client: what its polls carry must count as gone from its queue.
    let poll = format!("{}/ws/?EIO=4&transport=polling", daemon.base);
    let open = daemon
        .http
        .get(&poll)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let open: Value = serde_json::from_str(open.strip_prefix('0').unwrap()).unwrap();
    let poll = format!("{poll}&sid={}", open["sid"].as_str().unwrap());
    let join = format!("40/device/big,{}", json!({ "apiKey": daemon.key }));
    let posted = daemon.http.post(&poll).body(join).send().await.unwrap();
    assert!(posted.status().is_success());
    let poller = tokio::spawn({
        let (http, poll) = (daemon.http.clone(), poll.clone());
        async move {
            let mut received = String::new();
            while received.matches(",[\"message\",").count() < 40 {
                let body = http.get(&poll).send().await.unwrap().text().await.unwrap();
                assert!(
                    !body.contains("41/device/big"),
                    "the polling client was disconnected"
                );
                received.push_str(&body);
            }
        }
    });
    // And a WebSocket client reading as it goes.
    let mut reader = daemon.socket("big", json!({})).await;
    // 40 messages of 2 KB: five times the queue's budget, in all.
    fill_chat(&daemon, "big", 40, 2000).await;
    tokio::time::timeout(WAIT, poller)
        .await
        .expect("the polling client receives every message")
        .unwrap();
    let mut messages = 0;
    while messages < 40 {
        let event = reader.next_event(WAIT).await.expect("still connected");
        messages += usize::from(event.name == "message");
    }
    assert_eq!(sample(&daemon.metrics().await, SLOW_CONSUMERS), 0);
}
