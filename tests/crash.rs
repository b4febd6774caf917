//! Crash safety of the send path, with the real binary (SPEC §8): a message answered `202` is
//! committed, so `kill -9` at any moment loses none of them, and after a restart each one reaches
//! the upstream (the simulated phone's inbox) exactly once, in its chat's acceptance order.
//!
//! The daemon is a separate process so that it can really be killed with SIGKILL while three
//! clients send as fast as they can, one per chat, with requests and relay batches in flight;
//! or while its session is stalled (SPEC §12), holding messages taken and never acknowledged.
#![cfg(unix)]

mod common;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::binary::Daemon;
use common::sio::{SioClient, SioEvent};

use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio::sync::watch;

const DEVICE: &str = "crash";
/// The simulated phone's contacts, all `silent`; their direct chats are the ones we send to.
const CHATS: [&str; 3] = ["15550000002@c.us", "15550000003@c.us", "15550000004@c.us"];
/// Acknowledged messages, over all chats, after which the daemon is killed. Large enough that
/// the relay is busy and requests of every chat are in flight at that moment.
const KILL_AFTER: usize = 150;
/// `messages.ack_timeout_secs`. The simulated phone does what it still owed after the restart
/// (its acks included), and a message whose server ack is still missing after this timeout is
/// sent again (the phone recognises it). The default of 60 s would make the test wait that long
/// whenever that happens, hence a short one.
const ACK_TIMEOUT_SECS: u64 = 2;
/// How long any other awaited event (a device state, the relay of every message, the acks)
/// may take.
const WAIT: Duration = Duration::from_secs(20);
/// How long one HTTP request may take; a request to a killed daemon fails sooner.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// `devices/crash.toml`: a simulated phone whose contacts never answer nor read, so the only
/// messages in the store are the ones this test sends, and acks come back quickly.
fn device_file() -> String {
    let mut file = String::from(
        "name = \"Crash test phone\"\nconnector = \"simulator\"\nautostart = true\n\n\
         [simulator]\nphone = \"15550000001\"\nserver_ack_ms = 5\ndelivered_ms = 10\nread_ms = 20\n",
    );
    for (n, chat) in CHATS.iter().enumerate() {
        file.push_str(&format!(
            "\n[[simulator.contacts]]\nid = \"{chat}\"\nname = \"Contact {n}\"\nbehaviour = \"silent\"\n"
        ));
    }
    file
}

/// The text of the `n`th message sent to `chat`: unique, and it tells which request it was.
fn text(chat: &str, n: usize) -> String {
    format!("{chat}-{n}")
}

/// The REST API of one daemon, with the admin key.
#[derive(Clone)]
struct Api {
    http: reqwest::Client,
    base: String,
    key: String,
}

impl Api {
    fn new(base: String, key: String) -> Api {
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(REQUEST_TIMEOUT)
            .build()
            .unwrap();
        Api { http, base, key }
    }

    /// A GET that must succeed: before the kill and after the restart the daemon is up.
    async fn get(&self, path: &str) -> (StatusCode, Value) {
        let response = self
            .http
            .get(format!("{}/api/v1{path}", self.base))
            .header("x-api-key", &self.key)
            .send()
            .await
            .unwrap_or_else(|error| panic!("GET {path}: {error}"));
        let status = response.status();
        let body = response.json().await.unwrap_or(Value::Null);
        (status, body)
    }

    /// A POST whose transport errors are returned: they are expected once the daemon is killed.
    async fn post(&self, path: &str, body: Value) -> Result<(StatusCode, Value), reqwest::Error> {
        let response = self
            .http
            .post(format!("{}/api/v1{path}", self.base))
            .header("x-api-key", &self.key)
            .json(&body)
            .send()
            .await?;
        let status = response.status();
        // A body cut short by the kill is no answer: the send is not acknowledged.
        Ok((status, response.json().await?))
    }

    /// A Socket.IO client on the device's namespace. Without `last_seq` it gets the device's
    /// current state (and QR code, when it shows one), then every event live; with `Some(0)`,
    /// the whole journal first.
    async fn socket(&self, last_seq: Option<u64>) -> SioClient {
        let mut auth = json!({ "apiKey": self.key });
        if let Some(last_seq) = last_seq {
            auth["lastSeq"] = json!(last_seq);
        }
        let namespace = format!("/device/{DEVICE}");
        SioClient::connect(&self.base, "/ws", &namespace, &[], &[], auth)
            .await
            .unwrap_or_else(|error| panic!("cannot connect to {namespace}: {error}"))
            .unwrap_connected()
    }

    /// What the simulated phone received, in arrival order.
    async fn inbox(&self) -> Vec<Value> {
        let (status, inbox) = self
            .get(&format!("/devices/{DEVICE}/simulator/inbox"))
            .await;
        assert_eq!(status, StatusCode::OK, "simulator inbox: {inbox}");
        inbox["items"].as_array().cloned().unwrap_or_default()
    }
}

/// What one chat's sender saw before the daemon died.
struct ChatLog {
    chat: &'static str,
    /// Ids of the messages answered 202, in the order they were sent (= accepted).
    acked: Vec<String>,
}

/// Sends `<chat>-0`, `<chat>-1`, … one after the other until a request fails, counting each
/// 202 in `total`. A transport error is the expected end, but only once `killed` is set; any
/// other answer than 202 is a daemon bug.
async fn send_until_killed(
    api: Api,
    chat: &'static str,
    total: Arc<watch::Sender<usize>>,
    killed: Arc<AtomicBool>,
) -> ChatLog {
    let mut acked = Vec::new();
    loop {
        let body = json!({ "text": text(chat, acked.len()) });
        let path = format!("/devices/{DEVICE}/chats/{chat}/messages");
        match api.post(&path, body).await {
            Ok((StatusCode::ACCEPTED, message)) => {
                let id = message["id"].as_str().expect("a 202 without an id");
                acked.push(id.to_owned());
                total.send_modify(|n| *n += 1);
            }
            Ok((status, answer)) => panic!("send #{} to {chat}: {status} {answer}", acked.len()),
            Err(error) => {
                assert!(
                    killed.load(Ordering::SeqCst),
                    "send #{} to {chat} failed before the kill: {error}",
                    acked.len()
                );
                return ChatLog { chat, acked };
            }
        }
    }
}

/// Writes the device file into a fresh `dir`; returns where the first run writes its admin
/// key.
fn prepare(dir: &Path) -> PathBuf {
    std::fs::create_dir_all(dir.join("devices")).unwrap();
    std::fs::write(
        dir.join("devices").join(format!("{DEVICE}.toml")),
        device_file(),
    )
    .unwrap();
    dir.join("data").join("admin-api-key")
}

/// Starts the daemon on `dir` and waits until it listens; returns it with its API.
async fn start(dir: &Path, key_file: &Path) -> (Daemon, Api) {
    let mut daemon = Daemon::spawn(
        dir,
        &[(
            "DEVICEBRIDGE__MESSAGES__ACK_TIMEOUT_SECS",
            ACK_TIMEOUT_SECS.to_string(),
        )],
    );
    let base = daemon.base_url().await;
    // The first run writes the admin key before it listens; later runs keep the same key.
    let key = std::fs::read_to_string(key_file)
        .unwrap_or_else(|error| panic!("cannot read {}: {error}", key_file.display()))
        .trim()
        .to_owned();
    (daemon, Api::new(base, key))
}

/// Waits on `client` for the device to reach `wanted`; panics early if it reaches `forbidden`.
async fn wait_for_state(client: &mut SioClient, wanted: &str, forbidden: &str) {
    client
        .wait_until(WAIT, |event| {
            if event.name != "state" {
                return false;
            }
            let state = event.data["state"].as_str().unwrap_or_default();
            assert_ne!(state, forbidden, "device {DEVICE} went to {state}");
            state == wanted
        })
        .await
        .unwrap_or_else(|error| panic!("device {DEVICE} did not become {wanted}: {error}"));
}

/// Links the fresh device as its phone would: scans its first QR code with `POST /pairings`.
async fn link(api: &Api) {
    let mut watcher = api.socket(None).await;
    common::wait_state(&mut watcher, "qr").await;
    // The code is published just after the state turns `qr`.
    let qr = watcher
        .wait_for("qr", WAIT)
        .await
        .unwrap_or_else(|error| panic!("no QR code for {DEVICE}: {error}"));
    let qr = qr.data["qr"].as_str().expect("no qr text").to_owned();
    let (status, linked) = api.post("/pairings", json!({ "qr": qr })).await.unwrap();
    assert_eq!(status, StatusCode::OK, "POST /pairings: {linked}");
    common::wait_state(&mut watcher, "ready").await;
    watcher.close().await;
}

/// Checks the whole inbox: no message twice, no stranger chat, and each chat in order.
fn check_inbox(logs: &[ChatLog], inbox: &[Value]) {
    let mut seen = HashSet::new();
    for item in inbox {
        let id = item["messageId"]
            .as_str()
            .expect("an inbox item without messageId");
        assert!(seen.insert(id), "the phone received {id} twice: {item}");
        assert!(
            CHATS.contains(&item["chatId"].as_str().unwrap_or_default()),
            "the phone received a message for an unexpected chat: {item}"
        );
    }
    for log in logs {
        check_chat(log, inbox);
    }
}

/// Checks one chat's part of the inbox: the phone got `<chat>-0`, `<chat>-1`, … in this order,
/// each once, with the acknowledged ids for the acknowledged ones. At most one more message,
/// the request in flight at the kill, may have been stored and relayed after them.
fn check_chat(log: &ChatLog, inbox: &[Value]) {
    let received: Vec<&Value> = inbox.iter().filter(|i| i["chatId"] == log.chat).collect();
    let bodies: Vec<&str> = received
        .iter()
        .map(|i| i["body"].as_str().unwrap_or_default())
        .collect();
    let acked = log.acked.len();
    let expected: Vec<String> = (0..bodies.len()).map(|n| text(log.chat, n)).collect();
    assert!(
        bodies.len() == acked || bodies.len() == acked + 1,
        "{}: {acked} acknowledged, {} received",
        log.chat,
        bodies.len()
    );
    assert_eq!(
        bodies, expected,
        "{}: not received in acceptance order, or not intact",
        log.chat
    );
    for (n, (item, id)) in received.iter().zip(&log.acked).enumerate() {
        assert_eq!(
            item["messageId"], **id,
            "{}: the phone's message #{n} is not the one acknowledged as #{n}",
            log.chat
        );
    }
}

/// The acknowledged messages that the device's journal does not yet show server-acked: the
/// simulated phone acks a message only once it has stored it, so a server ack also says the
/// phone has it.
struct Outstanding {
    unacked: HashSet<String>,
}

impl Outstanding {
    fn new(logs: &[ChatLog]) -> Outstanding {
        Outstanding {
            unacked: logs.iter().flat_map(|log| log.acked.clone()).collect(),
        }
    }

    /// Takes one event of the device into account.
    fn note(&mut self, event: &SioEvent) {
        let Some(id) = event.data["messageId"].as_str() else {
            return;
        };
        if event.name == "message:ack" && self.unacked.contains(id) {
            let ack = event.data["ack"].as_i64().expect("an ack without a level");
            assert!(ack >= 0, "acknowledged message {id} failed: {}", event.data);
            if ack >= 1 {
                self.unacked.remove(id);
            }
        }
    }

    /// Reads the device's events from `client` until `done` holds, within [`WAIT`].
    async fn follow(&mut self, client: &mut SioClient, what: &str, done: fn(&Self) -> bool) {
        let deadline = Instant::now() + WAIT;
        while !done(self) {
            let left = deadline.saturating_duration_since(Instant::now());
            let event = client.next_event(left).await.unwrap_or_else(|error| {
                panic!(
                    "waiting for {what}: {error}; {} without a server ack",
                    self.unacked.len()
                )
            });
            self.note(&event);
        }
    }
}

/// Checks that the store kept every acknowledged message intact and server-acked: same chat,
/// same text, sent by us.
async fn check_messages(api: &Api, logs: &[ChatLog]) {
    for log in logs {
        for (n, id) in log.acked.iter().enumerate() {
            let (status, message) = api.get(&format!("/devices/{DEVICE}/messages/{id}")).await;
            assert_eq!(status, StatusCode::OK, "GET message {id}: {message}");
            assert_eq!(
                message["body"],
                text(log.chat, n),
                "message {id} was altered: {message}"
            );
            assert_eq!(message["chatId"], log.chat, "message {id} moved: {message}");
            assert_eq!(message["fromMe"], true, "message {id}: {message}");
            let ack = message["ack"].as_i64().expect("a message without ack");
            assert!(
                ack >= 1,
                "acknowledged message {id} has no server ack: {message}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_messages_survive_kill_9_and_are_relayed_once_in_order() {
    let started = Instant::now();
    let temp = tempfile::tempdir().unwrap();
    let (dir, key_file) = (temp.path(), prepare(temp.path()));

    // 1. A fresh daemon, its device linked.
    let (mut first, api) = start(dir, &key_file).await;
    link(&api).await;
    let linked = started.elapsed();

    // 2. Three chats sending flat out; SIGKILL once KILL_AFTER messages are acknowledged.
    let (total, mut acked_so_far) = watch::channel(0usize);
    let total = Arc::new(total);
    let killed = Arc::new(AtomicBool::new(false));
    let senders: Vec<_> = CHATS
        .iter()
        .map(|chat| {
            tokio::spawn(send_until_killed(
                api.clone(),
                chat,
                total.clone(),
                killed.clone(),
            ))
        })
        .collect();
    let sending = Instant::now();
    // A sender that fails stops short; the others carry on, so a failure shows as a timeout
    // here, and then as the failed sender's panic when it is joined below.
    let reached = tokio::time::timeout(WAIT, acked_so_far.wait_for(|n| *n >= KILL_AFTER))
        .await
        .is_ok_and(|waited| waited.is_ok());
    killed.store(true, Ordering::SeqCst);
    first.kill().await;
    let send_time = sending.elapsed();
    let mut logs = Vec::new();
    for sender in senders {
        logs.push(sender.await.expect("a sender failed"));
    }
    assert!(
        reached,
        "only {} messages acknowledged within {WAIT:?}",
        *acked_so_far.borrow()
    );
    let acked: usize = logs.iter().map(|log| log.acked.len()).sum();
    drop(first);

    // 3. Restarted on the same data: the device restores its session, no QR.
    let restarting = Instant::now();
    let (mut second, api) = start(dir, &key_file).await;
    let mut watcher = api.socket(None).await;
    wait_for_state(&mut watcher, "ready", "qr").await;
    watcher.close().await;
    let restart_time = restarting.elapsed();

    // 4. Every acknowledged message reaches the phone, once, in its chat's order, and is
    // server-acked. The journal, from its start, tells which ones were before the kill and
    // which after; acks lost in the kill come back (the phone owed them, or the message is
    // sent again and recognised), and the phone must still hold each message once.
    let delivering = Instant::now();
    let mut journal = api.socket(Some(0)).await;
    let mut outstanding = Outstanding::new(&logs);
    outstanding
        .follow(
            &mut journal,
            "a server ack for every acknowledged message",
            |o| o.unacked.is_empty(),
        )
        .await;
    let delivery_time = delivering.elapsed();
    journal.close().await;
    check_messages(&api, &logs).await;
    let inbox = api.inbox().await;
    check_inbox(&logs, &inbox);

    // 5. A clean stop.
    let status = second.terminate().await;
    assert!(
        status.success(),
        "devicebridge exited with {status} after SIGTERM"
    );

    let per_chat: Vec<String> = logs
        .iter()
        .map(|log| format!("{}: {}", log.chat, log.acked.len()))
        .collect();
    println!(
        "acknowledged {acked} ({}) before the kill, {} more stored unacknowledged; \
         linked in {linked:?}, sent for {send_time:?}, restarted ready in {restart_time:?}, \
         all in the inbox and server-acked {delivery_time:?} after ready; total {:?}",
        per_chat.join(", "),
        inbox.len() - acked,
        started.elapsed()
    );
}

impl Api {
    /// Sends the next message of `log`'s chat, which must be accepted.
    async fn send_next(&self, log: &mut ChatLog) {
        let body = json!({ "text": text(log.chat, log.acked.len()) });
        let path = format!("/devices/{DEVICE}/chats/{}/messages", log.chat);
        let (status, message) = self.post(&path, body).await.expect("the daemon is up");
        assert_eq!(status, StatusCode::ACCEPTED, "{message}");
        log.acked
            .push(message["id"].as_str().expect("an id").to_owned());
    }
}

/// Messages a stalled session took and never acknowledged are not lost when the daemon is
/// killed before the watchdog restarts the session: after the restart every message accepted
/// before the stall, during it and after the restart reaches the phone once, in chat order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_taken_by_a_stalled_session_survive_kill_9() {
    let temp = tempfile::tempdir().unwrap();
    let (dir, key_file) = (temp.path(), prepare(temp.path()));
    let (mut first, api) = start(dir, &key_file).await;
    link(&api).await;

    let mut log = ChatLog {
        chat: CHATS[0],
        acked: Vec::new(),
    };
    let mut watcher = api.socket(None).await;
    for _ in 0..3 {
        api.send_next(&mut log).await;
    }
    let mut before = Outstanding::new(std::slice::from_ref(&log));
    before
        .follow(&mut watcher, "the server acks before the stall", |o| {
            o.unacked.is_empty()
        })
        .await;
    watcher.close().await;
    let stall = format!("/devices/{DEVICE}/simulator/stall");
    let (status, answer) = api.post(&stall, json!({})).await.unwrap();
    assert_eq!(status, StatusCode::OK, "{answer}");
    for _ in 0..3 {
        api.send_next(&mut log).await;
    }
    first.kill().await;
    drop(first);

    // Restarted on the same data, the device restores its session and sends what the stalled
    // session took again as it becomes ready, ahead of what is accepted after.
    let (mut second, api) = start(dir, &key_file).await;
    let mut watcher = api.socket(None).await;
    wait_for_state(&mut watcher, "ready", "qr").await;
    watcher.close().await;
    for _ in 0..2 {
        api.send_next(&mut log).await;
    }
    let mut journal = api.socket(Some(0)).await;
    let logs = [log];
    let mut outstanding = Outstanding::new(&logs);
    outstanding
        .follow(&mut journal, "a server ack for every message", |o| {
            o.unacked.is_empty()
        })
        .await;
    journal.close().await;
    check_messages(&api, &logs).await;
    check_inbox(&logs, &api.inbox().await);
    assert!(second.terminate().await.success());
}
