//! Cluster mode with real daemon processes sharing one PostgreSQL database (SPEC §10): the
//! nodes share the devices out, every node serves every device's events in `seq` order, a
//! device is linked by phone number through the nodes that do not run it, a device whose
//! owner is killed is taken over within `lease_secs + 5 s` with no accepted message lost and
//! no `seq` gap, a frozen owner whose lease lapsed makes no upstream call
//! once it wakes, an owner frozen mid-write is replaced within the lease, twenty times of
//! twenty, a rolling restart under load loses nothing, and a file uploaded through one node
//! is sent and served by the others, its bytes in the store or in an S3-compatible bucket.
#![cfg(unix)]

mod common;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use common::binary::Daemon;
use common::sio::{SioClient, SioEvent};
use common::waha_stub::{self, WahaStub, API_KEY};
use common::{wait_state, TestDaemon};
use reqwest::StatusCode;
use serde_json::{json, Value};

/// The nodes' lease, short so that takeovers play out in a test's time.
const LEASE_SECS: u64 = 2;
/// How long anything awaited may take.
const WAIT: Duration = Duration::from_secs(30);
const ALICE: &str = "15550000002@c.us";

/// One node: the daemon process, and the HTTP and Socket.IO helpers on it.
struct Node {
    id: &'static str,
    daemon: Daemon,
    api: TestDaemon,
    _dir: tempfile::TempDir,
}

/// Starts node `id` of the cluster on `database`, with the tests' short lease.
async fn node(id: &'static str, database: &str) -> Node {
    node_leasing(id, database, LEASE_SECS, tempfile::tempdir().unwrap()).await
}

/// Starts node `id` of the cluster on `database` and the data directory in `dir`, holding
/// devices for `lease_secs`.
async fn node_leasing(
    id: &'static str,
    database: &str,
    lease_secs: u64,
    dir: tempfile::TempDir,
) -> Node {
    node_with(id, database, lease_secs, dir, &[]).await
}

/// [`node_leasing`], with settings of `extra` besides.
async fn node_with(
    id: &'static str,
    database: &str,
    lease_secs: u64,
    dir: tempfile::TempDir,
    extra: &[(&'static str, String)],
) -> Node {
    let mut env = vec![
        ("DEVICEBRIDGE__STORAGE__URL", database.to_owned()),
        ("DEVICEBRIDGE__CLUSTER__NODE_ID", id.to_owned()),
        ("DEVICEBRIDGE__CLUSTER__LEASE_SECS", lease_secs.to_string()),
        // A WAHA stand-in on 127.0.0.1 as an upstream.
        ("DEVICEBRIDGE__WEBHOOKS__ALLOW_PRIVATE", "true".to_owned()),
    ];
    env.extend_from_slice(extra);
    let (daemon, api) = Daemon::spawn_with_admin_key(dir.path(), &env).await;
    Node {
        id,
        daemon,
        api,
        _dir: dir,
    }
}

/// A simulated phone with quick acks and Alice, who reads within a fifth of a second and never replies.
fn quick_phone() -> Value {
    json!({
        "phone": "15550000001",
        "server_ack_ms": 5,
        "delivered_ms": 10,
        "read_ms": 20,
        "contacts": [{ "id": ALICE, "name": "Alice", "behaviour": "slow_reader" }],
    })
}

/// A fleet dashboard's connection to `node`: its root namespace, with the admin key.
async fn fleet(node: &Node) -> SioClient {
    SioClient::connect(
        &node.api.base,
        "/ws",
        "/",
        &[],
        &[],
        json!({ "apiKey": node.api.key }),
    )
    .await
    .unwrap()
    .unwrap_connected()
}

/// Creates a key through `node` that reads every device; its record, with its secret `key`.
async fn read_only_key(node: &Node) -> Value {
    let (status, created) = node
        .api
        .post(
            "/api/v1/keys",
            json!({ "name": "dashboard", "devices": ["*"], "scopes": ["read"] }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    created
}

/// Revokes the key `created` through `node`.
async fn revoke(node: &Node, created: &Value) {
    let path = format!("/api/v1/keys/{}", created["id"].as_str().unwrap());
    let (status, _) = node.api.call(reqwest::Method::DELETE, &path, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
}

/// Creates the device `definition` describes through `creator`, and waits until each of
/// `watchers`' nodes announced it to a fleet dashboard (`device:update` on the root
/// namespace), which it does once the device's namespace is open there: a node hears of a
/// device created through another a moment after its creation.
async fn create_announced(creator: &Node, watchers: &[&Node], definition: Value) {
    let mut fleets = Vec::new();
    for watcher in watchers {
        fleets.push(fleet(watcher).await);
    }
    let (status, body) = creator
        .api
        .post("/api/v1/devices", definition.clone())
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    for mut fleet in fleets {
        fleet
            .wait_until(WAIT, |event| {
                event.name == "device:update" && event.data["deviceId"] == definition["id"]
            })
            .await
            .unwrap();
        fleet.close().await;
    }
}

/// Creates simulator device `id` through `creator`, watches it on `watcher` and scans its QR
/// code through `scanner` once both nodes know it, then waits until it is `ready`.
async fn ready_device(id: &str, creator: &Node, watcher: &Node, scanner: &Node) {
    let definition = json!({ "id": id, "name": id, "simulator": quick_phone() });
    create_announced(creator, &[watcher, scanner], definition).await;
    let mut watching = watcher.api.socket(id, json!({})).await;
    wait_state(&mut watching, "qr").await;
    scanner.api.link(id).await;
    wait_state(&mut watching, "ready").await;
    watching.close().await;
}

/// The device's owner and lease epoch as `asked` sees the cluster.
async fn owner(asked: &Node, device: &str) -> (Option<String>, i64) {
    let (status, cluster) = asked.api.get("/api/v1/cluster").await;
    assert_eq!(status, StatusCode::OK, "{cluster}");
    let lease = cluster["devices"]
        .as_array()
        .unwrap()
        .iter()
        .find(|lease| lease["id"] == device)
        .unwrap_or_else(|| panic!("{device} in {cluster}"))
        .clone();
    (
        lease["owner"].as_str().map(str::to_owned),
        lease["epoch"].as_i64().unwrap(),
    )
}

/// Waits until `node` prints that it took `device` over under an epoch after `after`; returns
/// that epoch.
async fn took_over(node: &mut Node, device: &str, after: i64, within: Duration) -> i64 {
    let wanted = format!("device_id={device}");
    node.daemon
        .wait_for("a takeover", within, |line| {
            let rest = &line[line.find("took the device over")?..];
            rest.contains(&wanted).then_some(())?;
            let epoch: i64 = rest
                .split("epoch=")
                .nth(1)?
                .split_whitespace()
                .next()?
                .parse()
                .ok()?;
            (epoch > after).then_some(epoch)
        })
        .await
}

/// Waits until one of the two `nodes` prints, within `within`, that it took `device` over
/// under an epoch after `after`; returns that epoch.
async fn taken_by_either(
    nodes: &mut [&mut Node],
    device: &str,
    after: i64,
    within: Duration,
) -> i64 {
    let [first, second] = nodes else {
        unreachable!("two nodes")
    };
    tokio::select! {
        epoch = took_over(first, device, after, within) => epoch,
        epoch = took_over(second, device, after, within) => epoch,
    }
}

/// Sends `count` texts to Alice through `node`, returning the accepted messages' ids.
async fn send(node: &Node, device: &str, from: usize, count: usize) -> Vec<String> {
    let mut ids = Vec::new();
    for n in from..from + count {
        let message = node
            .api
            .send_message(device, ALICE, json!({ "text": format!("hello #{n}") }))
            .await;
        ids.push(message["id"].as_str().unwrap().to_owned());
    }
    ids
}

/// The events carrying a `seq`, with it.
fn journaled(client: &SioClient) -> Vec<(u64, String)> {
    client
        .history()
        .iter()
        .filter_map(|event| Some((event.data["seq"].as_u64()?, event.name.clone())))
        .collect()
}

/// Waits until `client` saw the ack `level` of every message in `ids`.
async fn wait_acks(client: &mut SioClient, ids: &[String], level: &str) {
    let mut waiting: HashSet<&str> = ids.iter().map(String::as_str).collect();
    let acked = |event: &SioEvent| event.name == "message:ack" && event.data["ackName"] == level;
    for event in client.history() {
        if acked(event) {
            waiting.remove(event.data["messageId"].as_str().unwrap_or_default());
        }
    }
    while !waiting.is_empty() {
        let event = client
            .wait_until(WAIT, |event| acked(event))
            .await
            .unwrap_or_else(|error| panic!("{} not {level}: {error}", waiting.len()));
        waiting.remove(event.data["messageId"].as_str().unwrap_or_default());
    }
}

/// Waits until `client` saw the event `seq`.
async fn wait_seq(client: &mut SioClient, seq: u64) {
    if journaled(client).iter().any(|(seen, _)| *seen >= seq) {
        return;
    }
    client
        .wait_until(WAIT, |event| event.data["seq"].as_u64() >= Some(seq))
        .await
        .unwrap_or_else(|error| panic!("no event {seq}: {error}"));
}

/// The device's journal head as `node` reads it.
async fn head(node: &Node, device: &str) -> u64 {
    let (status, page) = node
        .api
        .get(&format!("/api/v1/devices/{device}/events?after=0&limit=1"))
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    page["head"].as_u64().unwrap()
}

/// Waits until `client`, which resumed from the start, saw the journal of `shop` up to where
/// `node` reads its head, and asserts that it saw every event of it once, in order.
async fn assert_whole_journal(client: &mut SioClient, node: &Node, across: &str) {
    let last = head(node, "shop").await;
    wait_seq(client, last).await;
    let seqs: Vec<u64> = journaled(client)
        .into_iter()
        .map(|(seq, _)| seq)
        .filter(|seq| *seq <= last)
        .collect();
    assert_gap_free(&seqs, last, &format!("no seq lost or repeated {across}"));
}

/// Asserts that `seqs` are exactly `1..=last`, in order.
#[track_caller]
fn assert_gap_free(seqs: &[u64], last: u64, what: &str) {
    let expected: Vec<u64> = (1..=last).collect();
    assert_eq!(seqs, expected, "{what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_nodes_share_the_devices_and_every_node_serves_every_device_in_seq_order() {
    let database = common::postgres::database();
    let mut a = node("node-a", &database).await;
    let mut b = node("node-b", &database).await;
    let mut c = node("node-c", &database).await;

    // Three devices, defined through one node, run one on each.
    for (device, creator) in [("one", &a), ("two", &b), ("three", &c)] {
        creator.api.create_device(device).await;
    }
    for node in [&mut a, &mut b, &mut c] {
        node.daemon
            .wait_for("a device taken", WAIT, |line| {
                line.contains("took the device over").then_some(())
            })
            .await;
    }
    let (status, cluster) = b.api.get("/api/v1/cluster").await;
    assert_eq!(status, StatusCode::OK, "{cluster}");
    assert_eq!(cluster["nodeId"], "node-b", "{cluster}");
    let nodes = cluster["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 3, "{cluster}");
    for node in nodes {
        assert_eq!(node["alive"], true, "{cluster}");
        assert_eq!(node["devices"], 1, "one device each: {cluster}");
    }
    for node in [&a, &b, &c] {
        let metrics = node.api.metrics().await;
        let taken = r#"devicebridge_cluster_leases_total{event="taken"} 1"#;
        assert!(
            metrics.lines().any(|line| line == taken),
            "{}: {metrics}",
            node.id
        );
    }
    let (status, one) = c.api.get("/api/v1/devices/one").await;
    assert_eq!(status, StatusCode::OK, "{one}");
    assert!(one["owner"].as_str().unwrap().starts_with("node-"), "{one}");

    // A device created on one node, watched on another and linked through the third.
    ready_device("shop", &a, &b, &c).await;

    // Clients on two nodes, resuming from the start, see the same journal in the same order,
    // whichever node accepted the messages.
    let mut on_b = b.api.socket("shop", json!({ "lastSeq": 0 })).await;
    let mut on_c = c.api.socket("shop", json!({ "lastSeq": 0 })).await;
    let mut ids = send(&a, "shop", 0, 10).await;
    ids.extend(send(&c, "shop", 10, 10).await);
    wait_acks(&mut on_b, &ids, "read").await;
    wait_acks(&mut on_c, &ids, "read").await;
    let last = head(&a, "shop").await;
    wait_seq(&mut on_b, last).await;
    wait_seq(&mut on_c, last).await;
    let upto = |client: &SioClient| -> Vec<(u64, String)> {
        journaled(client)
            .into_iter()
            .filter(|(seq, _)| *seq <= last)
            .collect()
    };
    let (seen_b, seen_c) = (upto(&on_b), upto(&on_c));
    assert_eq!(
        seen_b, seen_c,
        "the same events in the same order on both nodes"
    );
    let seqs: Vec<u64> = seen_b.iter().map(|(seq, _)| *seq).collect();
    assert_gap_free(&seqs, last, "every event once, in seq order");

    // Linked by phone number through the two nodes that do not run it: the code asked for
    // through one, typed through the other once it heard of the code, each carried to the
    // node that runs the device.
    let definition =
        json!({ "id": "kiosk", "name": "kiosk", "simulator": { "phone": "15550000011" } });
    create_announced(&a, &[&b, &c], definition).await;
    let mut on_a = a.api.socket("kiosk", json!({})).await;
    wait_state(&mut on_a, "qr").await;
    let (Some(runner), _) = owner(&a, "kiosk").await else {
        panic!("no node runs the device in state qr");
    };
    let others: Vec<&Node> = [&a, &b, &c]
        .into_iter()
        .filter(|node| node.id != runner)
        .collect();
    let (asker, typist) = (others[0], others[1]);
    let mut on_typist = typist.api.socket("kiosk", json!({})).await;
    let phone = json!({ "phone": "+15550000019" });
    let (status, issued) = asker
        .api
        .post("/api/v1/devices/kiosk/pairing-code", phone.clone())
        .await;
    assert_eq!(status, StatusCode::OK, "{issued}");
    on_typist.wait_for("pairing:code", WAIT).await.unwrap();
    let typed = json!({ "code": issued["code"], "phone": phone["phone"] });
    let (status, paired) = typist.api.post("/api/v1/pairings", typed).await;
    assert_eq!(status, StatusCode::OK, "{paired}");
    let ready = on_a.wait_for("ready", WAIT).await.unwrap();
    assert_eq!(ready.data["me"]["id"], "15550000019@c.us");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_owner_is_replaced_within_the_lease_and_no_accepted_message_is_lost() {
    let database = common::postgres::database();
    let mut nodes = vec![
        node("node-a", &database).await,
        node("node-b", &database).await,
        node("node-c", &database).await,
    ];
    ready_device("shop", &nodes[0], &nodes[1], &nodes[2]).await;
    let (Some(dead), epoch) = owner(&nodes[0], "shop").await else {
        panic!("the device has an owner once ready");
    };
    let dead = nodes.iter().position(|node| node.id == dead).unwrap();
    let mut owner_node = nodes.remove(dead);
    let (sender, follower) = (&nodes[0], &nodes[1]);
    let mut client = follower.api.socket("shop", json!({ "lastSeq": 0 })).await;

    // Messages accepted before, while and after the owner dies.
    let mut ids = send(sender, "shop", 0, 10).await;
    wait_acks(&mut client, &ids, "server").await;
    ids.extend(send(sender, "shop", 10, 5).await);
    owner_node.daemon.kill().await;
    let killed = Instant::now();
    ids.extend(send(sender, "shop", 15, 10).await);

    // One of the others takes the device over, under a new epoch, within the lease + 5 s.
    let [first, second] = &mut nodes[..] else {
        unreachable!()
    };
    let within = Duration::from_secs(LEASE_SECS + 5);
    let new_epoch = taken_by_either(&mut [first, second], "shop", epoch, within).await;
    eprintln!("taken over {:?} after the kill", killed.elapsed());
    let (now_owner, seen_epoch) = owner(&nodes[0], "shop").await;
    assert_ne!(now_owner.as_deref(), Some(owner_node.id));
    assert_eq!(seen_epoch, new_epoch);

    // Every accepted message reaches the phone and is read, and the journal has no gap.
    ids.extend(send(&nodes[1], "shop", 25, 5).await);
    wait_acks(&mut client, &ids, "read").await;
    assert_whole_journal(&mut client, &nodes[0], "across the takeover").await;
}

/// A WAHA device on the stand-in `stub`, whose session is linked already.
fn waha_device(stub: &WahaStub) -> Value {
    json!({
        "id": "wa",
        "name": "WAHA phone",
        "connector": "waha",
        "waha": {
            "base_url": stub.base(),
            "api_key": API_KEY,
            "session": "default",
            "webhook_secret": "waha-hmac-secret",
        },
    })
}

/// How many times the stand-in was asked to send each text.
fn sends_by_text(stub: &mut WahaStub) -> std::collections::HashMap<String, usize> {
    let mut sent = std::collections::HashMap::new();
    for request in stub.requests.drain() {
        if request.line() == "POST /api/sendText" {
            let text = request.body["text"].as_str().unwrap_or_default().to_owned();
            *sent.entry(text).or_default() += 1;
        }
    }
    sent
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_owner_whose_lease_lapsed_makes_no_upstream_call_when_it_wakes() {
    let (mut stub, mut frozen, mut other) = waha_on_two_nodes().await;

    // The owner freezes; the other node takes the device over, and its sends are held at the
    // stand-in, so that they are still queued in the store when the frozen node wakes.
    stub.hold("/api/sendText", 0);
    signal(&frozen.daemon, "-STOP");
    took_over(&mut other, "wa", 0, Duration::from_secs(LEASE_SECS + 5)).await;
    let ids = send(&other, "wa", 0, 3).await;
    let first = stub.requests.wait_line(WAIT, "POST /api/sendText").await;

    // Woken, it learns from its own clock and the database that the device is not its own,
    // and lets it go without calling the upstream.
    signal(&frozen.daemon, "-CONT");
    frozen
        .daemon
        .wait_for("the lease lost", WAIT, |line| {
            (line.contains("lease") && line.contains("device_id=wa")).then_some(())
        })
        .await;
    stub.release();
    let mut client = other.api.socket("wa", json!({ "lastSeq": 0 })).await;
    for id in &ids {
        common::wait_relayed(&mut client, &json!(id)).await;
    }
    let mut sent = sends_by_text(&mut stub);
    *sent
        .entry(first.body["text"].as_str().unwrap().to_owned())
        .or_default() += 1;
    for text in ["hello #0", "hello #1", "hello #2"] {
        assert_eq!(sent.get(text), Some(&1), "{text} sent once: {sent:?}");
    }
}

/// The nodes' addresses as a load balancer knows them: a restarted node has a new port.
type Bases = std::sync::Arc<std::sync::Mutex<Vec<String>>>;

/// The ids of every message of Alice's chat, as `node` lists them page by page.
async fn all_messages(node: &Node) -> HashSet<String> {
    let mut ids = HashSet::new();
    let mut cursor = String::new();
    loop {
        let (status, page) = node
            .api
            .get(&format!(
                "/api/v1/devices/shop/chats/{ALICE}/messages?limit=200{cursor}"
            ))
            .await;
        assert_eq!(status, StatusCode::OK, "{page}");
        for message in page["items"].as_array().unwrap() {
            ids.insert(message["id"].as_str().unwrap().to_owned());
        }
        match page["nextCursor"].as_str() {
            Some(next) => cursor = format!("&before={next}"),
            None => return ids,
        }
    }
}

/// Sends texts to Alice one after another, each with an idempotency key, through the first
/// of `bases` that takes it, as a load balancer in front of the nodes would, until `stop`;
/// returns the accepted messages' ids. A node that is stopping refuses or drops the request,
/// and the same request goes to the next node: the key makes the retry safe.
async fn send_through_any(bases: Bases, stop: tokio::sync::watch::Receiver<bool>) -> Vec<String> {
    let http = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let mut accepted = Vec::new();
    while !*stop.borrow() {
        let n = accepted.len();
        let mut tried = 0;
        loop {
            let base = {
                let bases = bases.lock().unwrap();
                bases[(n + tried) % bases.len()].clone()
            };
            let answer = http
                .post(format!("{base}/api/v1/devices/shop/chats/{ALICE}/messages"))
                .header("x-api-key", common::binary::ADMIN_KEY)
                .header("idempotency-key", format!("rolling-{n}"))
                .json(&json!({ "text": format!("rolling #{n}") }))
                .send()
                .await;
            match answer {
                Ok(response) if response.status() == StatusCode::ACCEPTED => {
                    let message: Value = response.json().await.unwrap();
                    accepted.push(message["id"].as_str().unwrap().to_owned());
                    break;
                }
                _ => tried += 1,
            }
            assert!(tried < 100, "no node took message {n}");
        }
    }
    accepted
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rolling_restart_under_load_loses_nothing_and_keeps_all_state() {
    let database = common::postgres::database();
    // A lease longer than the test's waits: a device is taken within them only if its owner
    // handed it over on SIGTERM, not once its lease ran out.
    const LONG_LEASE: u64 = 30;
    let mut nodes = Vec::new();
    for id in ["node-a", "node-b", "node-c"] {
        let dir = tempfile::tempdir().unwrap();
        nodes.push(node_leasing(id, &database, LONG_LEASE, dir).await);
    }
    ready_device("shop", &nodes[0], &nodes[1], &nodes[2]).await;
    let (stop, stopping) = tokio::sync::watch::channel(false);
    let bases: Bases = std::sync::Arc::new(std::sync::Mutex::new(
        nodes.iter().map(|node| node.api.base.clone()).collect(),
    ));
    let sender = tokio::spawn(send_through_any(bases.clone(), stopping));

    for restarted in 0..nodes.len() {
        let (Some(owner_id), epoch) = owner(&nodes[(restarted + 1) % 3], "shop").await else {
            panic!("the device has an owner");
        };
        let mut node = nodes.remove(restarted);
        let id = node.id;
        let status = node.daemon.terminate().await;
        assert!(status.success(), "{id} stopped cleanly: {status}");
        if owner_id == id {
            // Its devices were handed over before it exited: another node runs them at once.
            let handover = Duration::from_secs(3);
            let [first, second] = &mut nodes[..] else {
                unreachable!()
            };
            taken_by_either(&mut [first, second], "shop", epoch, handover).await;
        }
        let dir = node._dir;
        let again = node_leasing(id, &database, LONG_LEASE, dir).await;
        bases.lock().unwrap()[restarted] = again.api.base.clone();
        nodes.insert(restarted, again);
    }
    stop.send_replace(true);
    let accepted = sender.await.unwrap();
    assert!(
        accepted.len() > 3,
        "sent through the restarts: {}",
        accepted.len()
    );

    // Every accepted message is read on the phone, once, and every node has all of it.
    let mut client = nodes[0].api.socket("shop", json!({ "lastSeq": 0 })).await;
    wait_acks(&mut client, &accepted, "read").await;
    assert_whole_journal(&mut client, &nodes[1], "across the restarts").await;
    for node in &nodes {
        let stored = all_messages(node).await;
        for id in &accepted {
            assert!(stored.contains(id), "{id} on {}", node.id);
        }
        let (_, device) = node.api.get("/api/v1/devices/shop").await;
        assert_eq!(device["state"], "ready", "{device}");
    }
}

/// Freezes the process `pid` (SIGSTOP) at a moment when one of its connections to the
/// PostgreSQL `database`, those named `application`, holds a write open and waits on it: a
/// transaction that wrote or locked rows (it has a transaction id) and sits `idle in
/// transaction`. The process is frozen once such a write is seen open while it runs, and
/// looked at again frozen; if the write ended meanwhile, the freeze is undone (SIGCONT) and
/// the next open write waited for. Returns when it froze, and after how many freezes.
/// Blocking: the `postgres` client runs on a thread of its own.
fn freeze_mid_write(pid: u32, database: &str, application: &str) -> (Instant, u32) {
    const MOST_FREEZES: u32 = 3_000;
    let mut db = postgres::Client::connect(database, postgres::NoTls).unwrap();
    let open_write = "SELECT count(*) FROM pg_stat_activity
        WHERE datname = current_database() AND application_name = $1
        AND backend_xid IS NOT NULL AND state = 'idle in transaction'";
    let signal = |signal| {
        // SAFETY: sends a signal to the daemon this test started.
        assert_eq!(unsafe { libc::kill(pid as libc::pid_t, signal) }, 0);
    };
    let open = |db: &mut postgres::Client| -> bool {
        db.query_one(open_write, &[&application])
            .unwrap()
            .get::<_, i64>(0)
            > 0
    };
    for freezes in 1..=MOST_FREEZES {
        let running = Instant::now();
        while !open(&mut db) {
            assert!(
                running.elapsed() < Duration::from_secs(30),
                "{application} opened no write in 30 s"
            );
        }
        signal(libc::SIGSTOP);
        let frozen = Instant::now();
        // A statement sent just before the freeze may still run: once it has, the
        // transaction waits on the frozen process.
        for _ in 0..3 {
            if open(&mut db) {
                return (frozen, freezes);
            }
        }
        signal(libc::SIGCONT);
    }
    panic!("{application} never froze with a write open in {MOST_FREEZES} tries");
}

/// SPEC §10 and §12: in a three-node cluster with a sender running, the owner of a device
/// freezes (SIGSTOP) while a write of its own is open in the database, twenty times over. Each
/// time another node takes the device over within `lease_secs + 5 s`, under a new epoch; the
/// frozen node, woken (SIGCONT), lets the device go and its writes are not kept: the device
/// stays with the new owner and epoch, the journal has every event once and in order, and
/// every message the sender got accepted is stored and read on the phone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_owner_with_a_write_open_is_replaced_within_the_lease_twenty_times_of_twenty() {
    const TRIES: usize = 20;
    let database = common::postgres::database();
    let mut nodes = Vec::new();
    for id in ["node-a", "node-b", "node-c"] {
        // Each node's connections carry its name, so that the test sees which are whose.
        let named = format!("{database}?application_name={id}");
        nodes.push(node(id, &named).await);
    }
    ready_device("shop", &nodes[0], &nodes[1], &nodes[2]).await;
    let (stop, stopping) = tokio::sync::watch::channel(false);
    let bases: Bases = std::sync::Arc::new(std::sync::Mutex::new(
        nodes.iter().map(|node| node.api.base.clone()).collect(),
    ));
    let sender = tokio::spawn(send_through_any(bases.clone(), stopping));
    let within = Duration::from_secs(LEASE_SECS + 5);

    for attempt in 1..=TRIES {
        let (Some(owner_id), epoch) = owner(&nodes[0], "shop").await else {
            panic!("the device has an owner");
        };
        // The sender goes through the two other nodes, as a load balancer that stopped
        // hearing from the frozen one would: its sends are the owner's to relay.
        *bases.lock().unwrap() = nodes
            .iter()
            .filter(|node| node.id != owner_id)
            .map(|node| node.api.base.clone())
            .collect();
        let (frozen, mut others): (Vec<&mut Node>, Vec<&mut Node>) =
            nodes.iter_mut().partition(|node| node.id == owner_id);
        let frozen = frozen.into_iter().next().expect("the owner is a node");
        frozen.daemon.skip_printed();
        let (pid, url, name) = (frozen.daemon.pid(), database.clone(), owner_id.clone());
        let (froze_at, freezes) =
            tokio::task::spawn_blocking(move || freeze_mid_write(pid, &url, &name))
                .await
                .unwrap();

        let new_epoch = taken_by_either(&mut others, "shop", epoch, within).await;
        let replaced = froze_at.elapsed();
        signal(&frozen.daemon, "-CONT");
        frozen
            .daemon
            .wait_for_next("the device let go", WAIT, |line| {
                (line.contains("lease") && line.contains("device_id=shop")).then_some(())
            })
            .await;
        let (now_owner, now_epoch) = owner(frozen, "shop").await;
        assert_ne!(
            now_owner.as_deref(),
            Some(owner_id.as_str()),
            "try {attempt}"
        );
        assert_eq!(
            now_epoch, new_epoch,
            "try {attempt}: the epoch stays the new owner's"
        );
        eprintln!(
            "try {attempt}: {owner_id} frozen mid-write at freeze {freezes}, replaced after {replaced:?}"
        );
        assert!(
            replaced <= within,
            "try {attempt}: replaced after {replaced:?}"
        );
    }

    stop.send_replace(true);
    let accepted = sender.await.unwrap();
    let mut client = nodes[0].api.socket("shop", json!({ "lastSeq": 0 })).await;
    wait_acks(&mut client, &accepted, "read").await;
    assert_whole_journal(&mut client, &nodes[1], "across the freezes").await;
    let stored = all_messages(&nodes[2]).await;
    for id in &accepted {
        assert!(stored.contains(id), "{id} accepted and kept");
    }
}

/// A WAHA device ready on two nodes; returns the stand-in, the node that runs the device and
/// the other one.
async fn waha_on_two_nodes() -> (WahaStub, Node, Node) {
    let stub = WahaStub::start("unused").await;
    stub.with(|waha| {
        waha.status_after_start = "WORKING".into();
        waha.chats = vec![json!({ "id": ALICE, "name": "Alice" })];
    });
    let database = common::postgres::database();
    let mut nodes = vec![
        node("node-a", &database).await,
        node("node-b", &database).await,
    ];
    create_announced(&nodes[0], &[&nodes[1]], waha_device(&stub)).await;
    let mut watching = nodes[1].api.socket("wa", json!({})).await;
    wait_state(&mut watching, "ready").await;
    let (Some(owner_id), _) = owner(&nodes[0], "wa").await else {
        panic!("the device has an owner once ready");
    };
    let at = nodes.iter().position(|node| node.id == owner_id).unwrap();
    let owner = nodes.remove(at);
    (stub, owner, nodes.remove(0))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upstream_webhook_reaching_another_node_is_handed_to_the_owner() {
    let (_stub, owner, other) = waha_on_two_nodes().await;
    let mut client = owner.api.socket("wa", json!({})).await;
    let incoming = json!({
        "id": "false_15550000002@c.us_IN1", "timestamp": 1_700_000_600, "from": ALICE,
        "fromMe": false, "to": "15550001111@c.us", "body": "through the other node",
        "hasMedia": false, "ack": 1, "ackName": "SERVER", "_data": { "notifyName": "Alice" }
    });
    let body = waha_stub::envelope("message", incoming, "15550001111@c.us");
    let signed = waha_stub::signature_headers("waha-hmac-secret", &body);
    let headers: Vec<(&str, &str)> = signed.iter().map(|(n, v)| (*n, v.as_str())).collect();
    let (status, text) = other
        .api
        .deliver(
            reqwest::Method::POST,
            "/upstream/waha/wa",
            body.clone(),
            &headers,
        )
        .await;
    assert!(status.is_success(), "{status} {text}");
    client
        .wait_until(WAIT, |event| {
            event.name == "message" && event.data["body"] == "through the other node"
        })
        .await
        .unwrap();

    // A delivery that is not signed is refused by the node it reaches, and not handed on.
    let unsigned = [
        ("x-webhook-hmac", "00"),
        ("x-webhook-hmac-algorithm", "sha512"),
    ];
    let (status, text) = other
        .api
        .deliver(reqwest::Method::POST, "/upstream/waha/wa", body, &unsigned)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_revoked_through_one_node_closes_its_connections_on_every_node() {
    let database = common::postgres::database();
    let a = node("node-a", &database).await;
    let b = node("node-b", &database).await;
    create_announced(&a, &[&b], json!({ "id": "shop", "name": "Shop" })).await;
    let created = read_only_key(&a).await;
    let secret = created["key"].as_str().unwrap();
    let mut on_b = b.api.socket("shop", json!({ "apiKey": secret })).await;
    let mut admin_on_b = b.api.socket("shop", json!({})).await;

    revoke(&a, &created).await;
    on_b.wait_disconnected(WAIT).await.unwrap();
    let (status, refused) = b
        .api
        .call_as(secret, reqwest::Method::GET, "/api/v1/devices", None)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{refused}");
    // The admin's connection, made with another key, stays.
    let listed = admin_on_b
        .emit_with_ack("chats:list", json!({}), WAIT)
        .await
        .expect("still connected");
    assert_eq!(listed["ok"], true, "{listed}");
}

/// SPEC §10: a node that lost its connection to the cluster's notices publishes, once it
/// listens again, what the other nodes committed in between, with nothing more to come: the
/// events of a device, a key revoked (its connections to this node close), a device created
/// and one renamed (both announced to this node's fleet dashboards). The node is frozen while PostgreSQL
/// ends its listener's connection and the other node commits, so that no notice can reach it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_a_node_could_not_hear_reaches_its_sockets_when_it_listens_again() {
    let database = common::postgres::database();
    let b = node("node-b", &database).await;
    ready_device("shop", &b, &b, &b).await;
    let mut a = node("node-a", &format!("{database}?application_name=node-a")).await;
    let created = read_only_key(&b).await;
    let secret = created["key"].as_str().unwrap();
    let mut revoked_on_a = a.api.socket("shop", json!({ "apiKey": secret })).await;
    let mut watching_on_a = a.api.socket("shop", json!({ "lastSeq": 0 })).await;
    let mut watching_on_b = b.api.socket("shop", json!({})).await;
    let mut fleet_on_a = fleet(&a).await;

    cut_off(&a, &database).await;
    let chat = format!("/api/v1/devices/shop/chats/{ALICE}");
    let (status, body) = b
        .api
        .call(
            reqwest::Method::PATCH,
            &chat,
            Some(json!({ "archived": true })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let archived = |event: &SioEvent| event.name == "chat:update" && event.data["archived"] == true;
    watching_on_b.wait_until(WAIT, archived).await.unwrap();
    revoke(&b, &created).await;
    let (status, body) = b
        .api
        .post("/api/v1/devices", json!({ "id": "kiosk", "name": "Kiosk" }))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = b
        .api
        .call(
            reqwest::Method::PATCH,
            "/api/v1/devices/shop",
            Some(json!({ "name": "Corner shop" })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    signal(&a.daemon, "-CONT");

    let caught_up = listening_again(&mut a).await;
    assert!(!caught_up.contains("events=0"), "{caught_up}");
    watching_on_a.wait_until(WAIT, archived).await.unwrap();
    assert_whole_journal(&mut watching_on_a, &b, "across the node's lost notices").await;
    revoked_on_a.wait_disconnected(WAIT).await.unwrap();
    fleet_on_a
        .wait_until(WAIT, |event| {
            event.name == "device:update" && event.data["deviceId"] == "kiosk"
        })
        .await
        .unwrap();
    fleet_on_a
        .wait_until(WAIT, |event| {
            event.name == "device:update"
                && event.data["deviceId"] == "shop"
                && event.data["device"]["name"] == "Corner shop"
        })
        .await
        .unwrap();
    let mut kiosk_on_a = a.api.socket("kiosk", json!({})).await;
    wait_state(&mut kiosk_on_a, "qr").await;
}

/// More devices than a burst of the bus's device changes used to hold (256) are created
/// through one node while another cannot hear its notices: when that node listens again it
/// catches up with all of them at once, and opens every one's namespace.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_that_catches_up_with_hundreds_of_new_devices_opens_every_namespace() {
    const DEVICES: usize = 300;
    let database = common::postgres::database();
    let b = node("node-b", &database).await;
    let mut a = node("node-a", &format!("{database}?application_name=node-a")).await;
    cut_off(&a, &database).await;
    for n in 0..DEVICES {
        let device = json!({ "id": format!("till-{n}"), "name": "Till", "autostart": false });
        let (status, body) = b.api.post("/api/v1/devices", device).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    signal(&a.daemon, "-CONT");

    let caught_up = listening_again(&mut a).await;
    assert!(
        caught_up.contains(&format!("devices={DEVICES}")),
        "{caught_up}"
    );
    for n in 0..DEVICES {
        let namespace = format!("/device/till-{n}");
        let opened = Instant::now();
        loop {
            let outcome = SioClient::connect(
                &a.api.base,
                "/ws",
                &namespace,
                &[],
                &[],
                json!({ "apiKey": a.api.key }),
            )
            .await
            .unwrap();
            match outcome {
                common::sio::ConnectOutcome::Connected(client) => break client.close().await,
                common::sio::ConnectOutcome::Rejected(refusal) => assert!(
                    opened.elapsed() < WAIT,
                    "{namespace} on node-a after its catch-up: {refusal}"
                ),
            }
        }
    }
}

/// Freezes `node` (SIGSTOP) and ends its listener's connection to `database`, so that it
/// hears none of the notices sent until it wakes (SIGCONT) and listens again.
async fn cut_off(node: &Node, database: &str) {
    signal(&node.daemon, "-STOP");
    let (url, listener) = (database.to_owned(), format!("{} notices", node.id));
    let ended = tokio::task::spawn_blocking(move || end_connections(&url, &listener))
        .await
        .unwrap();
    assert_eq!(ended, 1, "{}'s listener", node.id);
}

/// The line `node` logs once it listens to the notices again and has caught up.
async fn listening_again(node: &mut Node) -> String {
    node.daemon
        .wait_for("the listener's catch-up", WAIT, |line| {
            line.contains("listening to the cluster's notices again")
                .then(|| line.to_owned())
        })
        .await
}

/// Ends the connections to the PostgreSQL `database` named `application`; how many.
/// Blocking: the `postgres` client runs on a thread of its own.
fn end_connections(database: &str, application: &str) -> i64 {
    let mut db = postgres::Client::connect(database, postgres::NoTls).unwrap();
    db.query_one(
        "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity
         WHERE datname = current_database() AND application_name = $1",
        &[&application],
    )
    .unwrap()
    .get(0)
}

/// Sends `signal` (`-STOP`, `-CONT`) to the daemon's process.
fn signal(daemon: &Daemon, signal: &str) {
    let sent = std::process::Command::new("kill")
        .arg(signal)
        .arg(daemon.pid().to_string())
        .status()
        .unwrap();
    assert!(sent.success(), "kill {signal}");
}

/// A file uploaded through one node is sent by the device's owner, another node, and
/// downloaded through the third: its bytes live in the shared store, not on the disk of the
/// node that took the upload.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_uploaded_through_one_node_is_sent_by_the_owner_and_downloaded_through_another() {
    let database = common::postgres::database();
    upload_send_and_download_through_three_nodes(&database, &[]).await;
    assert_ne!(upload_chunks(&database), 0, "the store keeps the bytes");
}

/// The same with `storage.media_url`: the bytes are an object of the bucket, which every node
/// reads, and the store keeps none of them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_media_url_a_file_uploaded_through_one_node_is_read_from_the_bucket_by_the_others() {
    let moto = common::moto::Moto::start().await;
    let database = common::postgres::database();
    let bucket = [(
        "DEVICEBRIDGE__STORAGE__MEDIA_URL",
        moto.media_url("cluster"),
    )];
    let media = upload_send_and_download_through_three_nodes(&database, &bucket).await;
    let upload = media["url"].as_str().unwrap().rsplit('/').next().unwrap();
    assert_eq!(moto.objects().await, [format!("cluster/wa/{upload}")]);
    assert_eq!(
        upload_chunks(&database),
        0,
        "the store keeps none of the bytes"
    );
}

/// How many pieces of uploads' bytes the store keeps (`upload_chunks`) in `database`.
fn upload_chunks(database: &str) -> i64 {
    let database = database.to_owned();
    let count = move || {
        let mut db = postgres::Client::connect(&database, postgres::NoTls).unwrap();
        let row = db
            .query_one("SELECT count(*) FROM upload_chunks", &[])
            .unwrap();
        row.get(0)
    };
    // The `postgres` client blocks on a runtime of its own, which it cannot do in a test's.
    std::thread::spawn(count).join().unwrap()
}

/// A WAHA device on three nodes of `database` with settings of `extra` besides: a file of
/// several pieces of the store's is uploaded through a node, sent by the device's owner,
/// another node, and downloaded through the third, its bytes the same all the way; returns
/// its `media`.
async fn upload_send_and_download_through_three_nodes(
    database: &str,
    extra: &[(&'static str, String)],
) -> Value {
    let mut stub = WahaStub::start("unused").await;
    stub.with(|waha| {
        waha.status_after_start = "WORKING".into();
        waha.chats = vec![json!({ "id": ALICE, "name": "Alice" })];
    });
    // Behind one load balancer, as a cluster's clients see it: a media URL names no node.
    let mut settings = vec![(
        "DEVICEBRIDGE__SERVER__PUBLIC_URL",
        "http://bridge.test".to_owned(),
    )];
    settings.extend_from_slice(extra);
    let mut nodes = Vec::new();
    for id in ["node-a", "node-b", "node-c"] {
        let dir = tempfile::tempdir().unwrap();
        nodes.push(node_with(id, database, LEASE_SECS, dir, &settings).await);
    }
    create_announced(&nodes[0], &[&nodes[1], &nodes[2]], waha_device(&stub)).await;
    let mut watching = nodes[1].api.socket("wa", json!({})).await;
    wait_state(&mut watching, "ready").await;
    let (Some(owner_id), _) = owner(&nodes[0], "wa").await else {
        panic!("the device has an owner once ready");
    };
    nodes.retain(|node| node.id != owner_id);
    let (uploader, downloader) = (&nodes[0], &nodes[1]);

    // Over one piece of the store's, so that it is read back in several.
    let picture: Vec<u8> = (0..600_000u32).map(|i| (i % 253) as u8).collect();
    let media = uploader.api.upload("wa", &picture, "image/png").await;
    let sent = uploader
        .api
        .send_message(
            "wa",
            ALICE,
            json!({ "text": "a picture", "media": media.clone() }),
        )
        .await;
    let request = stub.requests.wait_line(WAIT, "POST /api/sendImage").await;
    let data = request.body["file"]["data"].as_str().unwrap();
    use base64::Engine;
    let handed = base64::engine::general_purpose::STANDARD
        .decode(data)
        .unwrap();
    assert!(
        handed == picture,
        "the owner handed WAHA the uploaded bytes"
    );
    let mut client = uploader.api.socket("wa", json!({ "lastSeq": 0 })).await;
    common::wait_relayed(&mut client, &sent["id"]).await;

    let path = media["url"]
        .as_str()
        .unwrap()
        .split_once("/api/")
        .unwrap()
        .1;
    let download = downloader
        .api
        .download(&format!("{}/api/{path}", downloader.api.base))
        .await;
    assert_eq!(download.status(), StatusCode::OK);
    let mime = download.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(mime, "image/png");
    assert!(
        download.bytes().await.unwrap().as_ref() == picture.as_slice(),
        "the third node serves the same bytes"
    );
    media
}
