//! The simulated phone outlives restarts of the daemon, with the real binary: what its contacts
//! still owed when the daemon stopped (acks, read receipts, an echoing contact's reply) is done
//! once it is back, from the store, after a SIGTERM as after a `kill -9`. Every message reaches
//! `read`, the echoing contact replies to each exactly once, and a client that resumes with
//! `lastSeq` across both restarts sees the whole journal, each event once, in seq order.
#![cfg(unix)]

mod common;

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::binary::Daemon;
use common::sio::{SioClient, SioEvent};
use common::TestDaemon;
use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio::sync::watch;

const DEVICE: &str = "phone";
/// Reads after `read_ms` and replies after `typing_ms` more.
const ALICE: &str = "15550000002@c.us";
/// A slow reader: reads after ten times `read_ms`, never replies.
const BOB: &str = "15550000003@c.us";
/// The phone's group, with Alice and Bob: Alice replies there too, and a message is read once
/// Bob has read it.
const GROUP: &str = "12036315550000001@g.us";
const CHATS: [&str; 3] = [ALICE, BOB, GROUP];
/// Messages acknowledged in a run before the daemon may be stopped: it is stopped once Alice
/// has replied to one of them as well, while the senders go on, so at the stop some replies
/// are made and others owed, and Bob's reads (after 1 s) are owed for most messages.
const STOP_AFTER: usize = 30;
/// How long anything awaited may take: a restart, the acks and replies still owed.
const WAIT: Duration = Duration::from_secs(30);
/// How long one HTTP request may take; a request to a stopped daemon fails sooner.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// The phone: quick acks, reads after 100 ms (Bob's after 1 s), Alice's replies 100 ms later.
fn simulator() -> Value {
    json!({
        "phone": "15550000001",
        "server_ack_ms": 20,
        "delivered_ms": 60,
        "read_ms": 100,
        "typing_ms": 100,
        "contacts": [
            { "id": ALICE, "name": "Alice", "behaviour": "echo" },
            { "id": BOB, "name": "Bob", "behaviour": "slow_reader" },
        ],
    })
}

/// One message answered `202`.
#[derive(Debug, Clone)]
struct Sent {
    id: String,
    chat: &'static str,
}

/// How a run of the daemon ends.
#[derive(Debug, Clone, Copy)]
enum Stop {
    Term,
    Kill,
}

/// Starts the binary on `dir`'s data (the same on every run) with the tests' admin key.
/// The daemon on `dir`'s data, and on the PostgreSQL database at `database` if there is one.
async fn start(dir: &Path, database: Option<&str>) -> (Daemon, TestDaemon) {
    let env: Vec<(&str, String)> = database
        .map(|url| ("DEVICEBRIDGE__STORAGE__URL", url.to_owned()))
        .into_iter()
        .collect();
    Daemon::spawn_with_admin_key(dir, &env).await
}

/// Sends to `chat` one message after another until a request fails, counting each `202` in
/// `total`. A failure (no answer, or any other status, as a daemon shutting down may give) is
/// the expected end once `stopping` is set, and a bug before.
async fn send_until_stopped(
    http: reqwest::Client,
    (base, key): (String, String),
    chat: &'static str,
    run: usize,
    total: Arc<watch::Sender<usize>>,
    stopping: Arc<AtomicBool>,
) -> Vec<Sent> {
    let mut sent = Vec::new();
    let url = format!("{base}/api/v1/devices/{DEVICE}/chats/{chat}/messages");
    loop {
        let text = format!("run {run}, {chat} #{}", sent.len());
        let answer = http
            .post(&url)
            .header("x-api-key", &key)
            .json(&json!({ "text": text }))
            .send()
            .await;
        let answer = match answer {
            Ok(response) if response.status() == StatusCode::ACCEPTED => response.json().await,
            Ok(response) => Ok(json!({ "refused": response.status().as_u16() })),
            Err(error) => Err(error),
        };
        match answer {
            Ok(message) if message["id"].is_string() => {
                let id = message["id"].as_str().unwrap_or_default().to_owned();
                sent.push(Sent { id, chat });
                total.send_modify(|n| *n += 1);
            }
            outcome => {
                assert!(
                    stopping.load(Ordering::SeqCst),
                    "send {text:?} failed while the daemon ran: {outcome:?}"
                );
                return sent;
            }
        }
    }
}

/// Sends to every chat at once until [`STOP_AFTER`] messages are acknowledged and `follower`
/// has seen Alice reply to one, then stops the daemon as `stop` says while the senders are
/// still at it. Returns what was acknowledged.
async fn send_then_stop(
    api: &TestDaemon,
    daemon: &mut Daemon,
    follower: &mut Follower,
    run: usize,
    stop: Stop,
) -> Vec<Sent> {
    let http = reqwest::Client::builder()
        .no_proxy()
        .timeout(REQUEST_TIMEOUT)
        .build()
        .unwrap();
    let (total, mut acknowledged) = watch::channel(0usize);
    let total = Arc::new(total);
    let stopping = Arc::new(AtomicBool::new(false));
    let senders: Vec<_> = CHATS
        .iter()
        .map(|chat| {
            tokio::spawn(send_until_stopped(
                http.clone(),
                (api.base.clone(), api.key.clone()),
                chat,
                run,
                total.clone(),
                stopping.clone(),
            ))
        })
        .collect();
    let reached = tokio::time::timeout(WAIT, acknowledged.wait_for(|n| *n >= STOP_AFTER))
        .await
        .is_ok_and(|waited| waited.is_ok());
    assert!(
        reached,
        "only {} messages acknowledged in run {run} within {WAIT:?}",
        *acknowledged.borrow()
    );
    let this_run = format!("run {run},");
    follower
        .until("a reply in this run", |event| {
            event.name == "message"
                && event.data["fromMe"] == false
                && event.data["body"]
                    .as_str()
                    .is_some_and(|body| body.starts_with(&this_run))
        })
        .await;
    stopping.store(true, Ordering::SeqCst);
    match stop {
        Stop::Term => {
            let status = daemon.terminate().await;
            assert!(
                status.success(),
                "devicebridge exited with {status} after SIGTERM"
            );
        }
        Stop::Kill => daemon.kill().await,
    }
    let mut sent = Vec::new();
    for sender in senders {
        sent.extend(sender.await.expect("a sender failed"));
    }
    sent
}

/// A client following the device's journal across restarts: it reconnects to each new daemon
/// with the last `seq` it saw.
struct Follower {
    client: SioClient,
    /// Every journaled event received, over all connections, in order of arrival.
    seen: Vec<SioEvent>,
}

impl Follower {
    async fn connect(api: &TestDaemon, last_seq: u64) -> SioClient {
        api.socket(DEVICE, json!({ "lastSeq": last_seq })).await
    }

    fn last_seq(&self) -> u64 {
        self.seen.last().map_or(0, seq_of)
    }

    /// Keeps a journaled event; `sync` and other replies of the socket have no place here.
    fn note(&mut self, event: SioEvent) {
        if event.data["seq"].is_u64() && event.name != "sync" {
            self.seen.push(event);
        }
    }

    /// Reads what the daemon sent until its connection ended (the daemon stopped).
    async fn until_gone(&mut self) {
        while let Ok(event) = self.client.next_event(WAIT).await {
            self.note(event);
        }
        self.client
            .wait_disconnected(Duration::ZERO)
            .await
            .expect("the daemon stopped, so its socket closes");
    }

    /// Reads events as they come until `done` holds of one, within [`WAIT`].
    async fn until(&mut self, what: &str, done: impl Fn(&SioEvent) -> bool) {
        let deadline = Instant::now() + WAIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let event = self
                .client
                .next_event(left)
                .await
                .unwrap_or_else(|error| panic!("waiting for {what}: {error}"));
            let found = done(&event);
            self.note(event);
            if found {
                return;
            }
        }
    }

    /// Resumes on the restarted daemon `api` and follows it until the device is ready again.
    async fn resume(&mut self, api: &TestDaemon) {
        self.client = Self::connect(api, self.last_seq()).await;
        self.until("the device ready again", |event| {
            event.name == "state" && event.data["state"] == "ready"
        })
        .await;
    }

    /// Waits for the next event, then takes every one already received.
    async fn next_events(&mut self, deadline: Instant) -> Result<(), String> {
        let left = deadline.saturating_duration_since(Instant::now());
        let event = self.client.next_event(left).await?;
        self.note(event);
        while let Ok(event) = self.client.next_event(Duration::ZERO).await {
            self.note(event);
        }
        Ok(())
    }
}

fn seq_of(event: &SioEvent) -> u64 {
    event.data["seq"]
        .as_u64()
        .expect("a journaled event has a seq")
}

/// Where a run's acknowledged messages stood when the daemon stopped, as far as the events
/// seen until then tell.
#[derive(Debug)]
struct AtStop {
    /// Messages not read yet.
    unread: usize,
    /// Messages to Alice (directly or in the group) she had replied to.
    replied: usize,
    /// Messages to Alice she had not replied to yet.
    unreplied: usize,
}

impl AtStop {
    fn of(sent: &[Sent], seen: &[SioEvent]) -> AtStop {
        let about = |name: &str, key: &str, pick: &dyn Fn(&Value) -> bool| -> HashSet<String> {
            seen.iter()
                .filter(|e| e.name == name && pick(&e.data))
                .filter_map(|e| e.data[key].as_str().map(str::to_owned))
                .collect()
        };
        let read = about("message:ack", "messageId", &|data| {
            data["ackName"] == "read"
        });
        let replied = about("message", "replyTo", &|data| data["fromMe"] == false);
        let to_alice: Vec<&Sent> = sent.iter().filter(|s| s.chat != BOB).collect();
        let answered = to_alice.iter().filter(|s| replied.contains(&s.id)).count();
        AtStop {
            unread: sent.iter().filter(|s| !read.contains(&s.id)).count(),
            replied: answered,
            unreplied: to_alice.len() - answered,
        }
    }

    /// Checks that the stop came in the middle of the contacts' work: some replies made,
    /// others owed, and reads owed.
    fn assert_mid_work(&self, stop: Stop) {
        assert!(
            self.unread > 0 && self.replied > 0 && self.unreplied > 0,
            "the {stop:?} did not come in the middle of the contacts' work: {self:?}"
        );
    }
}

/// A chat's messages, newest first, every page.
async fn chat_messages(api: &TestDaemon, chat: &str) -> Vec<Value> {
    let mut messages = Vec::new();
    let mut before = String::new();
    loop {
        let path = format!("/api/v1/devices/{DEVICE}/chats/{chat}/messages?limit=200{before}");
        let (status, page) = api.get(&path).await;
        assert_eq!(status, StatusCode::OK, "{path}: {page}");
        messages.extend(page["items"].as_array().cloned().unwrap_or_default());
        match page["nextCursor"].as_str() {
            Some(cursor) => before = format!("&before={cursor}"),
            None => return messages,
        }
    }
}

/// What the store shows of the chats: every message we sent is read and has Alice's one reply
/// where she is; or what is still missing. Anything that must never happen (a message lost, a
/// reply twice or to nothing, a reply where Alice is not) fails the test at once.
async fn outstanding(api: &TestDaemon, sent: &[Sent]) -> Vec<String> {
    let mut missing = Vec::new();
    for chat in CHATS {
        let messages = chat_messages(api, chat).await;
        let (ours, theirs): (Vec<&Value>, Vec<&Value>) =
            messages.iter().partition(|m| m["fromMe"] == true);
        let ids: HashSet<&str> = ours.iter().filter_map(|m| m["id"].as_str()).collect();
        for acknowledged in sent.iter().filter(|s| s.chat == chat) {
            assert!(
                ids.contains(acknowledged.id.as_str()),
                "acknowledged message {} is not in {chat}",
                acknowledged.id
            );
        }
        let mut replies: HashMap<&str, Vec<&Value>> = HashMap::new();
        for reply in &theirs {
            assert!(
                chat != BOB && reply["from"] == ALICE,
                "an incoming message nobody should have sent: {reply}"
            );
            let quoted = reply["replyTo"].as_str().unwrap_or_default();
            assert!(
                ids.contains(quoted),
                "a reply to no message of ours: {reply}"
            );
            replies.entry(quoted).or_default().push(reply);
        }
        for message in ours {
            let id = message["id"].as_str().unwrap_or_default();
            if message["ackName"] != "read" {
                missing.push(format!("{id} in {chat} is {}", message["ackName"]));
            }
            let answers = replies.get(id).map_or(&[][..], Vec::as_slice);
            assert!(answers.len() <= 1, "{id} was replied to twice: {answers:?}");
            match answers.first() {
                Some(reply) => assert_eq!(reply["body"], message["body"], "{reply}"),
                None if chat != BOB => missing.push(format!("{id} in {chat} has no reply")),
                None => {}
            }
        }
    }
    missing
}

/// The device's journal over REST, from its start to its head.
async fn journal(api: &TestDaemon) -> Vec<Value> {
    let mut events = Vec::new();
    let mut after = 0;
    loop {
        let path = format!("/api/v1/devices/{DEVICE}/events?after={after}&limit=1000");
        let (status, page) = api.get(&path).await;
        assert_eq!(status, StatusCode::OK, "{path}: {page}");
        assert_eq!(page["recovered"], true, "the journal was pruned: {page}");
        events.extend(page["items"].as_array().cloned().unwrap_or_default());
        let head = page["head"].as_u64().unwrap();
        match page["nextAfter"].as_u64() {
            Some(next) if next < head => after = next,
            _ => return events,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn owed_acks_and_replies_are_done_once_after_sigterm_and_kill_9() {
    owed_work_is_done_once_after_each_stop(None).await;
}

/// The same with the store on PostgreSQL: nothing acknowledged is lost, nothing done twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgresql_owed_acks_and_replies_are_done_once_after_sigterm_and_kill_9() {
    let database = common::postgres::database();
    owed_work_is_done_once_after_each_stop(Some(&database)).await;
}

async fn owed_work_is_done_once_after_each_stop(database: Option<&str>) {
    let started = Instant::now();
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path();
    std::fs::create_dir_all(dir.join("devices")).unwrap();

    // 1. The device linked, and a client following its journal from the start.
    let (mut daemon, api) = start(dir, database).await;
    api.ready_device(DEVICE, simulator()).await;
    let mut follower = Follower {
        client: Follower::connect(&api, 0).await,
        seen: Vec::new(),
    };

    // 2. SIGTERM while clients send, and a restart on the same data.
    let mut sent = send_then_stop(&api, &mut daemon, &mut follower, 1, Stop::Term).await;
    follower.until_gone().await;
    let at_term = AtStop::of(&sent, &follower.seen);
    at_term.assert_mid_work(Stop::Term);
    let (mut daemon, api) = start(dir, database).await;
    follower.resume(&api).await;

    // 3. `kill -9` while clients send, and a restart on the same data.
    let second = send_then_stop(&api, &mut daemon, &mut follower, 2, Stop::Kill).await;
    follower.until_gone().await;
    let at_kill = AtStop::of(&second, &follower.seen);
    at_kill.assert_mid_work(Stop::Kill);
    sent.extend(second);
    let (mut daemon, api) = start(dir, database).await;
    follower.resume(&api).await;

    // 4. Everything owed is done: checked in the store each time the follower hears more.
    let deadline = Instant::now() + WAIT;
    loop {
        let missing = outstanding(&api, &sent).await;
        if missing.is_empty() {
            break;
        }
        if let Err(error) = follower.next_events(deadline).await {
            panic!("still owed after {WAIT:?} ({error}): {missing:#?}");
        }
    }
    for message in &sent {
        let path = format!("/api/v1/devices/{DEVICE}/messages/{}", message.id);
        let (status, stored) = api.get(&path).await;
        assert_eq!(status, StatusCode::OK, "{path}: {stored}");
        assert_eq!(stored["ackName"], "read", "{stored}");
    }

    // 5. The follower saw the journal whole: each event once, in seq order, as stored.
    let stored = journal(&api).await;
    let head = stored.last().and_then(|e| e["seq"].as_u64()).unwrap();
    if follower.last_seq() < head {
        follower
            .until("the journal's head", |event| {
                event.data["seq"].as_u64() >= Some(head)
            })
            .await;
    }
    let seen: Vec<&SioEvent> = follower.seen.iter().filter(|e| seq_of(e) <= head).collect();
    let seqs: Vec<u64> = seen.iter().map(|e| seq_of(e)).collect();
    assert_eq!(
        seqs,
        (1..=head).collect::<Vec<_>>(),
        "seen out of order, twice or not at all"
    );
    for (event, stored) in seen.iter().zip(&stored) {
        assert_eq!(
            (json!(event.name), &event.data),
            (stored["type"].clone(), &stored["data"]),
            "seq {} as seen and as stored",
            seq_of(event)
        );
    }
    // Nothing is replied twice after the check either: the follower's events say the same.
    let replies: Vec<&str> = follower
        .seen
        .iter()
        .filter(|e| e.name == "message" && e.data["fromMe"] == false)
        .filter_map(|e| e.data["replyTo"].as_str())
        .collect();
    let unique: HashSet<&str> = replies.iter().copied().collect();
    assert_eq!(
        replies.len(),
        unique.len(),
        "a message was replied to twice"
    );

    let status = daemon.terminate().await;
    assert!(
        status.success(),
        "devicebridge exited with {status} after SIGTERM"
    );
    println!(
        "{} messages acknowledged; at the SIGTERM {at_term:?}, at the kill {at_kill:?}; {} \
         replies; journal of {head} events; {:?} in all",
        sent.len(),
        replies.len(),
        started.elapsed()
    );
}
