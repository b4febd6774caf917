//! Event sinks (SPEC §13) against real servers the tests start (`tests/common/brokers.rs`):
//! NATS JetStream, Redis Streams and RabbitMQ. For each, the real binary publishes 10,000
//! events of 10 simulator devices, through a stop of the server and a `kill -9` of the daemon,
//! and every event arrives, in seq order per device, duplicates only with the same id; the
//! sink's lag returns to 0. In a cluster of two nodes on PostgreSQL, one publishes at a time
//! and the other takes over when it is killed. The admin routes are tested in-process.
#![cfg(unix)]

mod common;

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use common::binary::Daemon;
use common::brokers::{Broker, Kind};
use common::poll;
use common::TestDaemon;
use devicebridge::config::SinkSetting;
use devicebridge::model::sink::SinkKind;
use futures_util::StreamExt;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

const DEVICES: usize = 10;
/// At least this many events are journaled, and published, in a run.
const EVENTS: u64 = 10_000;
/// The contact whose messages make the events.
const ALICE: &str = "15550000001@c.us";
/// How long a sink may take to catch up with the journal.
const CATCH_UP: Duration = Duration::from_secs(120);

/// One message as a server holds it.
#[derive(Debug, Clone)]
struct Received {
    /// The message id the sink gave it.
    id: String,
    envelope: Value,
}

impl Received {
    fn device(&self) -> &str {
        self.envelope["deviceId"].as_str().unwrap()
    }

    fn seq(&self) -> u64 {
        self.envelope["seq"].as_u64().unwrap()
    }
}

fn device(n: usize) -> String {
    format!("sink-{n}")
}

/// A simulated phone whose contact only writes: no acks or replies to wait for.
fn simulator() -> Value {
    json!({ "contacts": [{ "id": ALICE, "name": "Alice", "behaviour": "silent" }] })
}

/// Has Alice write `count` messages to each device, the devices at once; a device not ready
/// yet (after a restart) is asked again.
async fn generate(api: &TestDaemon, count: usize) {
    let writers = (0..DEVICES).map(|n| async move {
        let path = format!("/api/v1/devices/{}/simulator/act", device(n));
        for written in 0..count {
            let body = json!({ "do": "message", "from": ALICE, "text": format!("m{written}") });
            let (path, body) = (&path, &body);
            poll::until("the device to take a message", CATCH_UP, || async move {
                let (status, answer) = api.post(path, body.clone()).await;
                match status {
                    StatusCode::OK => Ok(()),
                    StatusCode::SERVICE_UNAVAILABLE | StatusCode::CONFLICT => {
                        Err(answer.to_string())
                    }
                    _ => panic!("{status} {answer}"),
                }
            })
            .await;
        }
    });
    futures_util::future::join_all(writers).await;
}

/// Each device's newest seq.
async fn heads(api: &TestDaemon) -> BTreeMap<String, u64> {
    let mut heads = BTreeMap::new();
    for n in 0..DEVICES {
        let (status, page) = api
            .get(&format!(
                "/api/v1/devices/{}/events?after=0&limit=1",
                device(n)
            ))
            .await;
        assert_eq!(status, StatusCode::OK, "{page}");
        heads.insert(device(n), page["head"].as_u64().unwrap());
    }
    heads
}

/// The sink as the API shows it.
async fn sink(api: &TestDaemon, id: &str) -> Value {
    let (status, sink) = api.get(&format!("/api/v1/sinks/{id}")).await;
    assert_eq!(status, StatusCode::OK, "{sink}");
    sink
}

/// Looks at the sink until `done` holds of it, within [`CATCH_UP`].
async fn sink_until(api: &TestDaemon, id: &str, what: &str, done: impl Fn(&Value) -> bool) {
    let done = &done;
    poll::until(what, CATCH_UP, || async move {
        let shown = sink(api, id).await;
        match done(&shown) {
            true => Ok(()),
            false => Err(shown.to_string()),
        }
    })
    .await
}

/// The sink's lag as `/metrics` has it.
async fn metric_lag(api: &TestDaemon, id: &str) -> u64 {
    let text = api.metrics().await;
    let prefix = format!("devicebridge_sink_lag_events{{sink=\"{id}\",");
    let line = text
        .lines()
        .find(|line| line.starts_with(&prefix))
        .unwrap_or_else(|| panic!("no {prefix} in\n{text}"));
    line.rsplit(' ').next().unwrap().parse().unwrap()
}

/// Checks what a server received against the journal's heads: per device, the first time each
/// id arrived, the seqs run 1, 2, … up to the head, in that order, each under the id
/// `<deviceId>:<seq>`; a duplicate has an id seen before and the same envelope. Returns how
/// many duplicates there were.
fn check_received(received: &[Received], heads: &BTreeMap<String, u64>) -> usize {
    let mut duplicates = 0;
    let mut first: HashMap<&str, &Value> = HashMap::new();
    let mut next: BTreeMap<&str, u64> = heads.keys().map(|d| (d.as_str(), 1)).collect();
    for message in received {
        assert_eq!(
            message.id,
            format!("{}:{}", message.device(), message.seq())
        );
        if let Some(earlier) = first.get(message.id.as_str()) {
            assert_eq!(*earlier, &message.envelope, "a duplicate of {}", message.id);
            duplicates += 1;
            continue;
        }
        first.insert(&message.id, &message.envelope);
        let expected = next
            .get_mut(message.device())
            .expect("one of the test's devices");
        assert_eq!(message.seq(), *expected, "{} out of order", message.id);
        *expected += 1;
        for key in ["type", "at", "data"] {
            assert!(
                !message.envelope[key].is_null(),
                "{key} in {}",
                message.envelope
            );
        }
    }
    for (device, head) in heads {
        assert_eq!(
            next[device.as_str()],
            head + 1,
            "{device} is missing events"
        );
    }
    duplicates
}

/// What a test reads back from its server.
enum Reader {
    Nats(Box<async_nats::jetstream::stream::Stream>),
    Redis(redis::aio::MultiplexedConnection),
    Amqp(lapin::Consumer, Vec<Received>),
}

impl Reader {
    /// Gets ready to read what the sink will publish: RabbitMQ keeps only what reaches a queue,
    /// so the test binds one to the exchange before the sink publishes.
    async fn open(broker: &Broker, kind: Kind) -> Option<lapin::Channel> {
        if kind != Kind::RabbitMq {
            return None;
        }
        let connection =
            lapin::Connection::connect(&broker.url(), lapin::ConnectionProperties::default())
                .await
                .unwrap();
        let channel = connection.create_channel().await.unwrap();
        let durable = lapin::options::ExchangeDeclareOptions {
            durable: true,
            ..Default::default()
        };
        let table = lapin::types::FieldTable::default;
        channel
            .exchange_declare(
                "devicebridge".into(),
                lapin::ExchangeKind::Topic,
                durable,
                table(),
            )
            .await
            .unwrap();
        let queue = lapin::options::QueueDeclareOptions {
            durable: true,
            ..Default::default()
        };
        channel
            .queue_declare("everything".into(), queue, table())
            .await
            .unwrap();
        let bind = lapin::options::QueueBindOptions::default();
        channel
            .queue_bind(
                "everything".into(),
                "devicebridge".into(),
                "#".into(),
                bind,
                table(),
            )
            .await
            .unwrap();
        std::mem::forget(connection);
        Some(channel)
    }

    async fn connect(broker: &Broker, kind: Kind) -> Reader {
        match kind {
            Kind::Nats => {
                let client = async_nats::connect(broker.url()).await.unwrap();
                let jetstream = async_nats::jetstream::new(client);
                let mut stream = jetstream.get_stream("DEVICEBRIDGE").await.unwrap();
                let made = &stream.info().await.unwrap().config;
                assert_eq!(
                    made.subjects,
                    ["devicebridge.>"],
                    "the stream the sink made"
                );
                Reader::Nats(Box::new(stream))
            }
            Kind::Redis => {
                let client = redis::Client::open(broker.url()).unwrap();
                Reader::Redis(client.get_multiplexed_async_connection().await.unwrap())
            }
            Kind::RabbitMq => {
                let channel = Reader::open(broker, kind).await.unwrap();
                let consumer = channel
                    .basic_consume(
                        "everything".into(),
                        "test".into(),
                        lapin::options::BasicConsumeOptions::default(),
                        lapin::types::FieldTable::default(),
                    )
                    .await
                    .unwrap();
                Reader::Amqp(consumer, Vec::new())
            }
        }
    }

    /// Everything received so far, in the order the server took it.
    async fn read(&mut self) -> Vec<Received> {
        match self {
            Reader::Nats(stream) => {
                let last = stream.info().await.unwrap().state.last_sequence;
                let mut all = Vec::new();
                for sequence in 1..=last {
                    let message = stream.get_raw_message(sequence).await.unwrap();
                    let id = message.headers.get("Nats-Msg-Id").unwrap().to_string();
                    let envelope: Value = serde_json::from_slice(&message.payload).unwrap();
                    let event = envelope["type"].as_str().unwrap().replace(':', "_");
                    let subject = format!(
                        "devicebridge.{}.{event}",
                        envelope["deviceId"].as_str().unwrap()
                    );
                    assert_eq!(message.subject.as_str(), subject);
                    all.push(Received { id, envelope });
                }
                all
            }
            Reader::Redis(connection) => {
                let reply: redis::streams::StreamRangeReply = redis::cmd("XRANGE")
                    .arg("devicebridge:events")
                    .arg("-")
                    .arg("+")
                    .query_async(connection)
                    .await
                    .unwrap();
                reply
                    .ids
                    .iter()
                    .map(|entry| {
                        let field = |name: &str| entry.get::<String>(name).unwrap();
                        let envelope: Value = serde_json::from_str(&field("envelope")).unwrap();
                        assert_eq!(field("type"), envelope["type"]);
                        assert_eq!(field("deviceId"), envelope["deviceId"]);
                        assert_eq!(field("seq"), envelope["seq"].to_string());
                        Received {
                            id: field("id"),
                            envelope,
                        }
                    })
                    .collect()
            }
            Reader::Amqp(consumer, all) => {
                // What has arrived by now; the caller asks again until it has everything.
                while let Ok(Some(delivery)) =
                    tokio::time::timeout(Duration::from_millis(500), consumer.next()).await
                {
                    let delivery = delivery.unwrap();
                    let envelope: Value = serde_json::from_slice(&delivery.data).unwrap();
                    let properties = &delivery.properties;
                    assert_eq!(properties.delivery_mode(), &Some(2));
                    let key = format!(
                        "{}.{}",
                        envelope["deviceId"].as_str().unwrap(),
                        envelope["type"].as_str().unwrap()
                    );
                    assert_eq!(delivery.routing_key.as_str(), key);
                    let id = properties.message_id().as_ref().unwrap().to_string();
                    delivery
                        .ack(lapin::options::BasicAckOptions::default())
                        .await
                        .unwrap();
                    all.push(Received { id, envelope });
                }
                all.clone()
            }
        }
    }
}

/// Whether `received` holds every seq up to each device's head.
fn covers(received: &[Received], heads: &BTreeMap<String, u64>) -> bool {
    let mut seen: HashMap<&str, std::collections::HashSet<u64>> = HashMap::new();
    for message in received {
        seen.entry(message.device())
            .or_default()
            .insert(message.seq());
    }
    heads
        .iter()
        .all(|(device, head)| seen.get(device.as_str()).map_or(0, |s| s.len() as u64) >= *head)
}

/// Reads what `broker` holds until it covers every event up to `heads`, within [`CATCH_UP`].
async fn read_all(broker: &Broker, kind: Kind, heads: &BTreeMap<String, u64>) -> Vec<Received> {
    let mut reader = Reader::connect(broker, kind).await;
    let deadline = tokio::time::Instant::now() + CATCH_UP;
    loop {
        let received = reader.read().await;
        if covers(&received, heads) {
            return received;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "not every event arrived"
        );
    }
}

/// The whole run for one kind of sink: 10,000 events through a stop of the server and a
/// `kill -9` of the daemon.
async fn events_survive_an_outage_and_a_kill(kind: Kind, name: &str) {
    let started = std::time::Instant::now();
    let mut broker = Broker::start(kind).await;
    let _queue = Reader::open(&broker, kind).await;
    let temp = tempfile::tempdir().unwrap();
    let (mut first, api) = Daemon::spawn_with_admin_key(temp.path(), &[]).await;
    let (status, created) = api
        .post(
            "/api/v1/sinks",
            json!({ "kind": name, "url": broker.url() }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    assert!(
        !created["url"].as_str().unwrap().contains(":guest@"),
        "{created}"
    );
    for n in 0..DEVICES {
        api.ready_device(&device(n), simulator()).await;
    }
    // Each message journals about three events (its `message`, its chat's `chat:update`, …);
    // three phases.
    let per_phase = EVENTS as usize / DEVICES / 3 / 3 + 1;
    generate(&api, per_phase).await;
    sink_until(&api, &id, "the sink to publish", |s| s["connected"] == true).await;

    broker.stop().await;
    generate(&api, per_phase).await;
    sink_until(&api, &id, "the sink to find its server down", |s| {
        s["connected"] == false && s["lastError"].is_string() && s["lag"].as_u64() > Some(0)
    })
    .await;
    assert!(metric_lag(&api, &id).await > 0);
    first.kill().await;
    drop(first);

    broker.resume().await;
    let (mut second, api) = Daemon::spawn_with_admin_key(temp.path(), &[]).await;
    generate(&api, per_phase).await;
    sink_until(&api, &id, "the lag to return to 0", |s| s["lag"] == 0).await;
    assert_eq!(metric_lag(&api, &id).await, 0);
    let heads = heads(&api).await;

    let received = read_all(&broker, kind, &heads).await;
    assert!(heads.values().sum::<u64>() >= EVENTS, "{heads:?}");
    check_received(&received, &heads);
    println!(
        "{name}: {} events, {} messages received, in {:?}",
        heads.values().sum::<u64>(),
        received.len(),
        started.elapsed()
    );
    let status = second.terminate().await;
    assert!(status.success(), "devicebridge exited with {status}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nats_jetstream_gets_every_event_through_an_outage_and_a_kill_9() {
    events_survive_an_outage_and_a_kill(Kind::Nats, "nats").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_stream_gets_every_event_through_an_outage_and_a_kill_9() {
    events_survive_an_outage_and_a_kill(Kind::Redis, "redis").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rabbitmq_gets_every_event_through_an_outage_and_a_kill_9() {
    events_survive_an_outage_and_a_kill(Kind::RabbitMq, "amqp").await;
}

/// Starts node `id` of a cluster on PostgreSQL `database`.
async fn cluster_node(id: &str, database: &str, dir: &std::path::Path) -> (Daemon, TestDaemon) {
    let env = [
        ("DEVICEBRIDGE__STORAGE__URL", database.to_owned()),
        ("DEVICEBRIDGE__CLUSTER__NODE_ID", id.to_owned()),
        ("DEVICEBRIDGE__CLUSTER__LEASE_SECS", "2".to_owned()),
    ];
    Daemon::spawn_with_admin_key(dir, &env).await
}

/// SPEC §13 in a cluster: one node publishes a sink at a time, so with two nodes up every event
/// arrives once; when the publishing node is killed, the other takes over (within the claim's
/// hold) and every event still arrives, a page the dead node had not confirmed at most twice,
/// with the same id.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_a_cluster_one_node_publishes_a_sink_and_another_takes_over_when_it_dies() {
    let database = common::postgres::database();
    let broker = Broker::start(Kind::Redis).await;
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (a, api_a) = cluster_node("node-a", &database, dir_a.path()).await;
    let (b, api_b) = cluster_node("node-b", &database, dir_b.path()).await;
    let (status, created) = api_a
        .post(
            "/api/v1/sinks",
            json!({ "kind": "redis", "url": broker.url() }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = id_of(&created);
    for n in 0..DEVICES {
        api_a.ready_device(&device(n), simulator()).await;
    }
    generate(&api_b, 10).await;
    sink_until(&api_b, &id, "the sink to catch up", |s| s["lag"] == 0).await;
    let heads_before = heads(&api_a).await;
    let received = read_all(&broker, Kind::Redis, &heads_before).await;
    assert_eq!(
        check_received(&received, &heads_before),
        0,
        "two live nodes published the same events"
    );

    let holder: String = tokio::task::spawn_blocking({
        let (database, id) = (database.clone(), id.clone());
        move || {
            let mut db = postgres::Client::connect(&database, postgres::NoTls).unwrap();
            db.query_one("SELECT claimed_by FROM sinks WHERE id = $1", &[&id])
                .unwrap()
                .get(0)
        }
    })
    .await
    .unwrap();
    let (survivor, mut dead) = match holder.as_str() {
        "node-a" => ((b, api_b), a),
        "node-b" => ((a, api_a), b),
        other => panic!("the sink is claimed by {other}"),
    };
    dead.kill().await;
    let (mut survivor, api) = survivor;
    generate(&api, 10).await;
    sink_until(&api, &id, "the other node to take the sink over", |s| {
        s["lag"] == 0
    })
    .await;
    let heads = heads(&api).await;
    assert!(heads.values().sum::<u64>() > heads_before.values().sum::<u64>());
    check_received(&read_all(&broker, Kind::Redis, &heads).await, &heads);
    let status = survivor.terminate().await;
    assert!(status.success(), "devicebridge exited with {status}");
}

/// A sink's id from an answer.
fn id_of(sink: &Value) -> String {
    sink["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn admins_manage_sinks_over_rest_see_their_lag_and_never_their_passwords() {
    let daemon = TestDaemon::start_with(|settings, _| {
        settings.sinks.push(SinkSetting {
            name: "declared".into(),
            kind: Some(SinkKind::Redis),
            url: "redis://:hunter2@127.0.0.1:1/0".into(),
            ..SinkSetting::default()
        });
    })
    .await;
    let operator = daemon.key_for(&["*"], &["read", "send", "control"]).await;
    let valid = json!({ "kind": "nats", "url": "nats://127.0.0.1:1" });
    for (method, body) in [(Method::GET, None), (Method::POST, Some(valid))] {
        let (status, refused) = daemon
            .call_as(&operator, method, "/api/v1/sinks", body)
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{refused}");
    }
    let (status, refused) = daemon
        .call_as(&operator, Method::GET, "/api/v1/sinks/cfg_declared", None)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{refused}");

    for (bad, field) in [
        (
            json!({ "kind": "redis", "url": "nats://127.0.0.1:4222" }),
            "`url`",
        ),
        (
            json!({ "kind": "redis", "url": "redis://h", "stream": "X" }),
            "`stream`",
        ),
        (
            json!({ "kind": "nats", "url": "nats://h", "stream": "a.b" }),
            "`stream`",
        ),
        (
            json!({ "kind": "nats", "url": "nats://h", "events": ["mesage"] }),
            "`events`",
        ),
        (json!({ "kind": "kafka", "url": "nats://h" }), "kind"),
        (
            json!({ "kind": "nats", "url": "nats://h", "topic": "x" }),
            "topic",
        ),
    ] {
        let (status, refused) = daemon.post("/api/v1/sinks", bad.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {refused}");
        let message = refused["error"]["message"].as_str().unwrap();
        assert!(message.contains(field), "{bad}: {message}");
    }

    let (status, created) = daemon
        .post(
            "/api/v1/sinks",
            json!({ "kind": "amqp", "url": "amqp://guest:hunter2@127.0.0.1:1/%2f",
                    "exchange": "events", "events": ["state"], "devices": ["phone"] }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = id_of(&created);
    assert!(id.starts_with("snk_"), "{created}");
    assert_eq!(created["url"], "amqp://guest:***@127.0.0.1:1/%2f");
    assert_eq!(created["target"], "events");
    assert_eq!(created["source"], "api");
    assert_eq!(created["lag"], 0);

    // The device's events wait for a server that is not there: the sink lags.
    daemon.create_device("phone").await;
    let path = format!("/api/v1/sinks/{id}");
    sink_until(&daemon, &id, "the sink to lag", |sink| {
        let down = sink["lastError"].is_string() && sink["connected"] == false;
        down && sink["lag"].as_u64() > Some(0)
    })
    .await;
    let lagging = sink(&daemon, &id).await;
    assert!(!lagging["lastError"].as_str().unwrap().contains("hunter2"));
    assert!(metric_lag(&daemon, &id).await > 0);

    let (status, list) = daemon.get("/api/v1/sinks").await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let ids: Vec<String> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(id_of)
        .collect();
    assert_eq!(ids, ["cfg_declared".to_owned(), id.clone()]);
    assert_eq!(list["items"][0]["url"], "redis://:***@127.0.0.1:1/0");
    assert_eq!(list["items"][0]["source"], "config");
    assert!(!list.to_string().contains("hunter2"), "{list}");
    // A key limited to some devices administers the sinks of those only.
    let phone_admin = daemon.key_for(&["phone"], &["admin"]).await;
    let (status, seen) = daemon
        .call_as(&phone_admin, Method::GET, "/api/v1/sinks", None)
        .await;
    assert_eq!(status, StatusCode::OK, "{seen}");
    let seen: Vec<String> = seen["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(id_of)
        .collect();
    assert_eq!(seen, std::slice::from_ref(&id));

    let patch = |path: String, body: Value| {
        let daemon = &daemon;
        async move { daemon.call(Method::PATCH, &path, Some(body)).await }
    };
    let (status, paused) = patch(path.clone(), json!({ "enabled": false })).await;
    assert_eq!(status, StatusCode::OK, "{paused}");
    assert_eq!(paused["enabled"], false);
    assert!(
        paused["lag"].as_u64() > Some(0),
        "a paused sink keeps its place: {paused}"
    );
    let (status, refused) = patch(path.clone(), json!({ "key": "x" })).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{refused}");
    let (status, renamed) = patch(path.clone(), json!({ "exchange": "renamed" })).await;
    assert_eq!(status, StatusCode::OK, "{renamed}");
    assert_eq!(renamed["target"], "renamed");
    let declared = "/api/v1/sinks/cfg_declared".to_owned();
    let (status, refused) = patch(declared.clone(), json!({ "url": "redis://h" })).await;
    assert_eq!(status, StatusCode::CONFLICT, "{refused}");
    assert_eq!(refused["error"]["code"], "invalid_state");
    let (status, paused) = patch(declared.clone(), json!({ "enabled": false })).await;
    assert_eq!(
        (status, &paused["enabled"]),
        (StatusCode::OK, &json!(false))
    );
    let (status, refused) = daemon.call(Method::DELETE, &declared, None).await;
    assert_eq!(status, StatusCode::CONFLICT, "{refused}");

    let (status, _) = daemon.call(Method::DELETE, &path, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, gone) = daemon.get(&path).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{gone}");
    assert_eq!(gone["error"]["code"], "sink_not_found");
}
