//! `GET /metrics` after a scripted session against the real daemon: every family is there with
//! its type, and what the session did moved the counters and histograms it should have, by
//! the amounts it should have where those are exact. The exposition is read with an
//! OpenMetrics reader written from the specification, so a malformed one fails here too.

mod common;

use common::exposition::Exposition;
use common::receiver::Receiver;
use common::sio::{ConnectOutcome, SioClient};
use common::waha_stub::{WahaStub, API_KEY};
use common::{wait_message_ack, wait_state, TestDaemon, WAIT};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const ALICE: &str = "15550000002@c.us";
/// Messages the session sends; Alice echoes each one.
const SENT: u64 = 3;

/// Every family the daemon exposes, with its type.
const FAMILIES: &[(&str, &str)] = &[
    ("devicebridge_socket_connections", "gauge"),
    ("devicebridge_socket_watched_devices", "gauge"),
    ("devicebridge_socket_handshakes", "counter"),
    ("devicebridge_socket_disconnects", "counter"),
    ("devicebridge_http_connections_refused", "counter"),
    ("devicebridge_devices", "gauge"),
    ("devicebridge_messages_received", "counter"),
    ("devicebridge_messages_sent", "counter"),
    ("devicebridge_message_ack_latency_seconds", "histogram"),
    ("devicebridge_store_commit_duration_seconds", "histogram"),
    ("devicebridge_store_commit_batch_size", "histogram"),
    ("devicebridge_store_log_sync_duration_seconds", "histogram"),
    (
        "devicebridge_store_write_wait_duration_seconds",
        "histogram",
    ),
    ("devicebridge_socket_fanout_duration_seconds", "histogram"),
    ("devicebridge_socket_send_duration_seconds", "histogram"),
    ("devicebridge_journal_events_appended", "counter"),
    ("devicebridge_journal_events_pruned", "counter"),
    ("devicebridge_relay_queue_depth", "gauge"),
    ("devicebridge_relay_attempts", "counter"),
    ("devicebridge_relay_failures", "counter"),
    (
        "devicebridge_upstream_request_duration_seconds",
        "histogram",
    ),
    ("devicebridge_upstream_request_errors", "counter"),
    ("devicebridge_webhook_queue_depth", "gauge"),
    ("devicebridge_webhook_oldest_pending_age_seconds", "gauge"),
    ("devicebridge_webhook_deliveries", "counter"),
    ("devicebridge_webhook_delivery_latency_seconds", "histogram"),
    ("devicebridge_desktop_notifications", "counter"),
    ("devicebridge_sounds", "counter"),
    ("devicebridge_cluster_leases", "counter"),
    ("process_cpu_seconds", "counter"),
    ("process_resident_memory_bytes", "gauge"),
    ("process_virtual_memory_bytes", "gauge"),
    ("process_open_fds", "gauge"),
    ("process_max_fds", "gauge"),
    ("process_start_time_seconds", "gauge"),
];

/// Where the device's journal stands (`head`), and the oldest seq it still holds.
async fn journal(daemon: &TestDaemon, device: &str) -> (u64, u64) {
    let (status, page) = daemon
        .get(&format!("/api/v1/devices/{device}/events?after=0&limit=1"))
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let oldest = page["items"][0]["seq"].as_u64().unwrap_or_default();
    (page["head"].as_u64().unwrap(), oldest)
}

/// Connects a Socket.IO client to `/device/<device>` with `auth`, as it comes out.
async fn connect(daemon: &TestDaemon, device: &str, auth: Value) -> ConnectOutcome {
    let namespace = format!("/device/{device}");
    SioClient::connect(&daemon.base, "/ws", &namespace, &[], &[], auth)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_session_moves_the_families_it_touches_and_every_family_is_exposed() {
    let daemon = TestDaemon::start_with(|settings, _| {
        settings.webhooks.allow_private = true;
        settings.journal.retention_events = 5;
        settings.journal.prune_interval_secs = 1;
    })
    .await;
    let mut receiver = Receiver::start().await;
    let (status, created) = daemon
        .post(
            "/api/v1/webhooks",
            json!({ "url": receiver.url, "events": ["message"] }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");

    // A simulator device, linked (its watcher is one accepted handshake), and a client on it.
    let phone = json!({
        "server_ack_ms": 5, "delivered_ms": 10, "read_ms": 20, "typing_ms": 20,
        "contacts": [{ "id": ALICE, "name": "Alice", "behaviour": "echo" }],
    });
    daemon.ready_device("demo", phone).await;
    let mut client = daemon.socket("demo", json!({})).await;
    let refused = connect(&daemon, "demo", json!({ "apiKey": "not-a-key" })).await;
    assert_eq!(refused.unwrap_rejected(), "unauthorized");
    let refused = connect(
        &daemon,
        "demo",
        json!({ "apiKey": daemon.key, "lastSeq": "soon" }),
    )
    .await;
    assert!(refused.unwrap_rejected().starts_with("bad_request"));

    // A WAHA device: its upstream is asked over HTTP, and first answers 404 (no session yet).
    let waha = WahaStub::start("qr-metrics").await;
    let (status, created) = daemon
        .post(
            "/api/v1/devices",
            json!({ "id": "wa", "name": "Waha", "connector": "waha",
                "waha": { "base_url": waha.base(), "api_key": API_KEY, "webhook_secret": "s" } }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let mut wa_client = daemon.socket("wa", json!({ "lastSeq": 0 })).await;
    wait_state(&mut wa_client, "qr").await;

    // Messages sent and acknowledged up to the device, each echoed by Alice.
    for n in 0..SENT {
        let sent = client
            .emit_with_ack(
                "message:send",
                json!({ "chatId": ALICE, "text": format!("hello {n}") }),
                WAIT,
            )
            .await
            .unwrap();
        assert_eq!(sent["ok"], true, "{sent}");
        wait_message_ack(&mut client, &sent["data"]["id"], "device").await;
    }
    let from_alice =
        |event: &common::sio::SioEvent| event.name == "message" && event.data["from"] == ALICE;
    while client
        .history()
        .iter()
        .filter(|event| from_alice(event))
        .count()
        < SENT as usize
    {
        client.wait_until(WAIT, from_alice).await.unwrap();
    }
    receiver.next().await;

    // A client cut off: its key is revoked.
    let (status, key) = daemon
        .post(
            "/api/v1/keys",
            json!({ "name": "short-lived", "devices": ["demo"], "scopes": ["read"] }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{key}");
    let mut revoked = connect(&daemon, "demo", json!({ "apiKey": key["key"] }))
        .await
        .unwrap_connected();
    let (status, _) = daemon
        .call(
            Method::DELETE,
            &format!("/api/v1/keys/{}", key["id"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    revoked.wait_disconnected(WAIT).await.unwrap();

    // The journal is pruned down to `retention_events`, and the webhook is delivered.
    daemon
        .wait_until("the journal pruned and a webhook delivered", || async {
            let metrics = Exposition::parse(&daemon.metrics().await).unwrap();
            let pruned = metrics.value("devicebridge_journal_events_pruned", &[]);
            let delivered = metrics.value("devicebridge_webhook_deliveries", &[("outcome", "ok")]);
            (pruned > 0.0 && delivered > 0.0).then_some(())
        })
        .await;

    // Read at a quiet moment, between two commits: every event the journals hold was counted
    // as appended, and the two histograms of the commits saw the same ones.
    let (metrics, appended, oldest) = daemon
        .wait_until("a scrape between two commits", || async {
            let (demo_before, _) = journal(&daemon, "demo").await;
            let (wa_before, _) = journal(&daemon, "wa").await;
            let metrics = Exposition::parse(&daemon.metrics().await).unwrap();
            let (demo_after, oldest) = journal(&daemon, "demo").await;
            let (wa_after, _) = journal(&daemon, "wa").await;
            let appended = metrics.value("devicebridge_journal_events_appended", &[]) as u64;
            let (commits, _) = metrics.observed("devicebridge_store_commit_duration_seconds", &[]);
            let (batches, _) = metrics.observed("devicebridge_store_commit_batch_size", &[]);
            let quiet = (demo_before, wa_before) == (demo_after, wa_after) && commits == batches;
            (quiet && appended == demo_after + wa_after).then_some((metrics, appended, oldest))
        })
        .await;

    for (name, kind) in FAMILIES {
        assert_eq!(metrics.family(name).kind, *kind, "{name}");
    }

    // Connections: the demo client, the WAHA device's client, and perhaps clients that left
    // and are still on their way out.
    let open = metrics.value("devicebridge_socket_connections", &[]);
    assert!((2.0..=4.0).contains(&open), "{open} connections");
    let handshakes =
        |outcome| metrics.value("devicebridge_socket_handshakes", &[("outcome", outcome)]);
    assert_eq!(
        handshakes("accepted"),
        4.0,
        "watcher, client, WAHA client, revoked"
    );
    assert_eq!(handshakes("unauthorized"), 1.0);
    assert_eq!(handshakes("bad_request"), 1.0);
    assert_eq!(handshakes("forbidden"), 0.0);
    assert_eq!(handshakes("over_capacity"), 0.0);
    assert_eq!(
        metrics.value("devicebridge_http_connections_refused", &[]),
        0.0
    );
    let disconnects =
        |reason| metrics.value("devicebridge_socket_disconnects", &[("reason", reason)]);
    assert_eq!(disconnects("key_revoked"), 1.0);
    assert_eq!(disconnects("slow_consumer"), 0.0);
    assert_eq!(disconnects("device_removed"), 0.0);

    // Devices: every state is shown, those without devices at 0.
    let devices = |state| metrics.value("devicebridge_devices", &[("state", state)]);
    assert_eq!(devices("ready"), 1.0);
    assert_eq!(devices("qr"), 1.0);
    for state in [
        "stopped",
        "starting",
        "authenticated",
        "disconnected",
        "logged_out",
        "failed",
    ] {
        assert_eq!(devices(state), 0.0, "{state}");
    }

    // Messages, the relay and the acks, exactly what the session did.
    let simulator = [("connector", "simulator")];
    let sent = SENT as f64;
    assert_eq!(
        metrics.value("devicebridge_messages_sent", &simulator),
        sent
    );
    assert_eq!(
        metrics.value("devicebridge_messages_received", &simulator),
        sent
    );
    assert_eq!(
        metrics.value("devicebridge_relay_attempts", &simulator),
        sent
    );
    assert_eq!(
        metrics.value("devicebridge_relay_failures", &simulator),
        0.0
    );
    assert_eq!(
        metrics.value("devicebridge_relay_queue_depth", &simulator),
        0.0
    );
    assert_eq!(
        metrics.value("devicebridge_messages_sent", &[("connector", "waha")]),
        0.0
    );
    for ack in ["server", "device"] {
        let (count, sum) = metrics.observed(
            "devicebridge_message_ack_latency_seconds",
            &[("connector", "simulator"), ("ack", ack)],
        );
        assert_eq!(count, SENT, "{ack} acks timed");
        assert!(
            sum > 0.0 && sum < WAIT.as_secs_f64() * sent,
            "{ack}: {sum} s"
        );
    }

    // The store and the journal (their counts of events were checked as they were read).
    let (commits, _) = metrics.observed("devicebridge_store_commit_duration_seconds", &[]);
    let (_, writes) = metrics.observed("devicebridge_store_commit_batch_size", &[]);
    assert!(
        writes >= commits as f64 && commits > 0,
        "{writes} writes in {commits} commits"
    );
    // Each write's wait for the writer was measured as the writer took it.
    let (waits, _) = metrics.observed("devicebridge_store_write_wait_duration_seconds", &[]);
    assert_eq!(waits as f64, writes, "a wait measured for each write");
    // The log's syncs were timed: at most one for each commit, since a sync serves all the
    // commits written before it, and none for a commit that wrote nothing.
    let (syncs, synced) = metrics.observed("devicebridge_store_log_sync_duration_seconds", &[]);
    assert!(
        syncs > 0 && syncs <= commits && synced > 0.0,
        "{syncs} syncs taking {synced} s for {commits} commits"
    );
    // Each device's fanout times the events it delivers live, at most every one journaled.
    let (fanned, _) = metrics.observed("devicebridge_socket_fanout_duration_seconds", &[]);
    assert!(
        fanned > 0 && fanned <= appended,
        "{fanned} events fanned out of {appended}"
    );
    // Each socket send was timed, from its packet to its answer, the commit included.
    let (socket_sends, taken) = metrics.observed("devicebridge_socket_send_duration_seconds", &[]);
    assert_eq!(socket_sends, SENT, "a time for each send");
    assert!(
        taken > 0.0 && taken < WAIT.as_secs_f64() * sent,
        "{taken} s for {SENT} sends"
    );
    let pruned = metrics.value("devicebridge_journal_events_pruned", &[]) as u64;
    // The demo device's journal starts after what was pruned of it; WAHA's may be pruned too.
    assert!(
        pruned >= oldest.saturating_sub(1) && pruned < appended,
        "{pruned} pruned of {appended}, the demo device's journal starting at {oldest}"
    );

    // The WAHA device's requests: timed, and the 404 for its session counted.
    let (requests, _) = metrics.observed(
        "devicebridge_upstream_request_duration_seconds",
        &[("connector", "waha")],
    );
    assert!(requests >= 3, "{requests} requests to WAHA");
    let waha_errors = |kind| {
        metrics.value(
            "devicebridge_upstream_request_errors",
            &[("connector", "waha"), ("kind", kind)],
        )
    };
    assert!(waha_errors("4xx") >= 1.0);
    assert_eq!(waha_errors("no_answer"), 0.0);
    let (cloud_requests, _) = metrics.observed(
        "devicebridge_upstream_request_duration_seconds",
        &[("connector", "cloud_api")],
    );
    assert_eq!(cloud_requests, 0);

    // Webhooks: each delivery that succeeded was timed.
    let delivered = metrics.value("devicebridge_webhook_deliveries", &[("outcome", "ok")]);
    let (timed, _) = metrics.observed("devicebridge_webhook_delivery_latency_seconds", &[]);
    assert!(delivered >= 1.0);
    assert_eq!(timed as f64, delivered);
    assert_eq!(
        metrics.value("devicebridge_webhook_deliveries", &[("outcome", "failed")]),
        0.0
    );

    // The process, read from /proc.
    if cfg!(target_os = "linux") {
        assert!(metrics.value("process_resident_memory_bytes", &[]) > 1e6);
        assert!(metrics.value("process_open_fds", &[]) > 0.0);
        assert!(metrics.value("process_cpu_seconds", &[]) > 0.0);
        let started = metrics.value("process_start_time_seconds", &[]);
        let now = chrono::Utc::now().timestamp() as f64;
        assert!(
            started > now - 24.0 * 3600.0 && started <= now + 1.0,
            "{started}"
        );
    }
    client.close().await;
    wa_client.close().await;
    daemon.stop().await;
}

/// Sends a request on `stream` (left open, `keep_alive`) and returns the answer's status and
/// body; the answer must carry a `Content-Length` or end with the connection.
async fn exchange(stream: &mut TcpStream, path: &str, keep_alive: bool) -> (u16, String) {
    let connection = if keep_alive { "keep-alive" } else { "close" };
    let request = format!("GET {path} HTTP/1.1\r\nHost: test\r\nConnection: {connection}\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let mut buffer = [0u8; 16 * 1024];
    loop {
        let read = tokio::time::timeout(WAIT, stream.read(&mut buffer))
            .await
            .expect("an answer in time")
            .unwrap();
        answer.extend_from_slice(&buffer[..read]);
        let text = String::from_utf8_lossy(&answer);
        if let Some(end) = text.find("\r\n\r\n") {
            let head = text[..end].to_lowercase();
            let length = head
                .lines()
                .find_map(|line| line.strip_prefix("content-length:"))
                .map(|length| length.trim().parse::<usize>().unwrap());
            let body = &text[end + 4..];
            if read == 0 || length.is_some_and(|length| body.len() >= length) {
                let status = head.split(' ').nth(1).unwrap().parse().unwrap();
                return (status, body.to_owned());
            }
        }
        assert!(read > 0, "the connection closed without an answer");
    }
}

#[tokio::test]
async fn each_daemon_counts_the_connections_it_refused_and_no_other_does() {
    const PLACES: usize = 4;
    let full = TestDaemon::start_with(|settings, _| {
        settings.limits.max_connections = PLACES;
        // Connections held idle by the test stay until it lets them go.
        settings.limits.header_timeout_secs = 300;
    })
    .await;
    let other = TestDaemon::start().await;
    let address = full.base.trim_start_matches("http://").to_owned();

    // Connections are taken until one is refused (the test's HTTP client may hold a place).
    let mut held = Vec::new();
    loop {
        let mut stream = TcpStream::connect(&address).await.unwrap();
        match exchange(&mut stream, "/health", true).await {
            (200, _) => held.push(stream),
            (status, _) => {
                assert_eq!(status, 503);
                break;
            }
        }
        assert!(held.len() <= PLACES, "never refused");
    }
    // A Socket.IO session opened now is refused as well.
    let mut opening = TcpStream::connect(&address).await.unwrap();
    let socket_path = &full.settings.server.socket_path;
    let handshake = format!("{socket_path}/?EIO=4&transport=polling");
    let (status, body) = exchange(&mut opening, &handshake, false).await;
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("over_capacity"), "{body}");

    // Read through a connection that holds a place.
    let (status, text) = exchange(&mut held[0], "/metrics", true).await;
    assert_eq!(status, 200);
    let full_metrics = Exposition::parse(&text).unwrap();
    assert_eq!(
        full_metrics.value("devicebridge_http_connections_refused", &[]),
        2.0
    );
    assert_eq!(
        full_metrics.value(
            "devicebridge_socket_handshakes",
            &[("outcome", "over_capacity")]
        ),
        1.0
    );

    let other_metrics = Exposition::parse(&other.metrics().await).unwrap();
    assert_eq!(
        other_metrics.value("devicebridge_http_connections_refused", &[]),
        0.0
    );
    assert_eq!(
        other_metrics.value(
            "devicebridge_socket_handshakes",
            &[("outcome", "over_capacity")]
        ),
        0.0
    );
    drop(held);
    other.stop().await;
    full.stop().await;
}

#[test]
fn the_exposition_reader_refuses_what_a_scraper_would() {
    let good = "# TYPE a counter\na_total{x=\"1\"} 2\n# TYPE b_seconds histogram\n# UNIT b_seconds seconds\nb_seconds_sum 1.5\nb_seconds_count 2\nb_seconds_bucket{le=\"1.0\"} 1\nb_seconds_bucket{le=\"+Inf\"} 2\n# EOF\n";
    let parsed = Exposition::parse(good).unwrap();
    assert_eq!(parsed.value("a", &[("x", "1")]), 2.0);
    assert_eq!(parsed.observed("b_seconds", &[]), (2, 1.5));
    for bad in [
        "# TYPE a counter\na 2\n# EOF\n",
        "# TYPE a counter\na_total 2\n",
        "# TYPE a gauge\n# UNIT a seconds\na 1\n# EOF\n",
        "# TYPE a gauge\na 1\n# TYPE b gauge\nb 1\n# HELP a late\n# EOF\n",
        "# TYPE b histogram\nb_count 3\nb_bucket{le=\"+Inf\"} 2\n# EOF\n",
        "# TYPE b histogram\nb_count 2\nb_bucket{le=\"1\"} 2\nb_bucket{le=\"+Inf\"} 1\n# EOF\n",
        "# TYPE a gauge\na{x=\"1} 1\n# EOF\n",
    ] {
        assert!(Exposition::parse(bad).is_err(), "{bad}");
    }
}
