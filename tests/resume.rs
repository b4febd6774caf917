//! Resuming after a drop: a client that reconnects with `lastSeq` gets exactly what it missed,
//! a client too slow to read is disconnected and resumes without loss, and past the journal's
//! retention `sync` says `recovered: false`. A device's fanout runs only while a client watches
//! it, and one that comes back after it ended gets what it missed all the same.

mod common;

use std::time::Duration;

use common::exposition::Exposition;
use common::sio::SioClient;
use common::{wait_about, TestDaemon, WAIT};
use futures_util::{SinkExt, StreamExt};
use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

const BOB: &str = "15550000003@c.us";

fn silent_bob() -> Value {
    json!({ "server_ack_ms": 5, "delivered_ms": 10, "read_ms": 20,
            "contacts": [{ "id": BOB, "name": "Bob", "behaviour": "silent" }] })
}

/// The journal's newest seq for a device.
async fn head(daemon: &TestDaemon, device: &str) -> u64 {
    let (status, events) = daemon
        .get(&format!("/api/v1/devices/{device}/events?after=0&limit=1"))
        .await;
    assert_eq!(status, StatusCode::OK, "{events}");
    events["head"].as_u64().unwrap()
}

/// Reconnects with `lastSeq` (a number, or the digits of one) and returns the seqs the client
/// gets, its replay and then live events through `through`, and the `sync` payload.
///
/// The journal a reader sees can run ahead of what is on the disk, and an event is emitted
/// only once it is: a head read over REST may hold events that come live after `sync` rather
/// than in the replay before it. Either way the client gets each of them once, in order.
async fn resume(
    daemon: &TestDaemon,
    device: &str,
    last_seq: Value,
    through: u64,
) -> (Vec<u64>, Value) {
    let mut client = daemon.socket(device, json!({ "lastSeq": last_seq })).await;
    let sync = client.wait_for("sync", WAIT).await.expect("a sync").data;
    let to_seq = sync["toSeq"].as_u64().unwrap();
    if to_seq < through {
        client
            .wait_until(WAIT, |e| e.data["seq"].as_u64() >= Some(through))
            .await
            .unwrap_or_else(|e| panic!("live events through {through} after {sync}: {e}"));
    }
    let events = common::after_greeting(&client);
    let split = events.iter().position(|e| e.name == "sync").unwrap();
    let seq = |e: &common::sio::SioEvent| e.data["seq"].as_u64().unwrap();
    let replayed: Vec<u64> = events[..split].iter().map(seq).collect();
    let live: Vec<u64> = events[split + 1..].iter().map(seq).collect();
    assert!(replayed.iter().all(|s| *s <= to_seq), "{replayed:?} {sync}");
    assert!(live.iter().all(|s| *s > to_seq), "{live:?} {sync}");
    client.close().await;
    let through_live = live.into_iter().take_while(|s| *s <= through);
    (replayed.into_iter().chain(through_live).collect(), sync)
}

#[tokio::test]
async fn a_client_gets_exactly_what_it_missed_while_away() {
    let daemon = TestDaemon::start().await;
    daemon.ready_device("away", silent_bob()).await;
    let mut sender = daemon.socket("away", json!({})).await;
    let left_at = head(&daemon, "away").await;
    for n in 0..3 {
        let ack = sender
            .emit_with_ack(
                "message:send",
                json!({ "chatId": BOB, "text": format!("while away {n}") }),
                WAIT,
            )
            .await
            .unwrap();
        assert_eq!(ack["ok"], true, "{ack}");
    }
    sender
        .wait_until(WAIT, |e| {
            e.name == "message:ack" && e.data["ackName"] == "device"
        })
        .await
        .unwrap();
    let now = head(&daemon, "away").await;
    let (replayed, sync) = resume(&daemon, "away", json!(left_at), now).await;
    assert_replay(&replayed, left_at, now);
    assert_eq!(
        (sync["fromSeq"].clone(), sync["recovered"].clone()),
        (json!(left_at + 1), json!(true))
    );
    // As a client may have stored it: the same seq written out.
    let (replayed, sync) = resume(&daemon, "away", json!(left_at.to_string()), now).await;
    assert_replay(&replayed, left_at, now);
    assert_eq!(sync["recovered"], true);
}

/// A `lastSeq` that is not a seq is refused at the handshake, rather than taken as absent,
/// which would start the client from now and lose what it missed without a word.
#[tokio::test]
async fn a_last_seq_that_is_not_a_seq_is_refused() {
    let daemon = TestDaemon::start().await;
    daemon.ready_device("away", silent_bob()).await;
    let connect = |auth: Value, query: &'static [(&'static str, &'static str)]| {
        SioClient::connect(&daemon.base, "/ws", "/device/away", query, &[], auth)
    };
    let key = daemon.key.clone();
    for bad in [
        json!(-1),
        json!(1.5),
        json!("three"),
        json!(""),
        json!({ "seq": 3 }),
    ] {
        let auth = json!({ "apiKey": key, "lastSeq": bad });
        let refused = connect(auth, &[]).await.unwrap().unwrap_rejected();
        assert!(refused.starts_with("bad_request"), "{bad}: {refused}");
    }
    let refused = connect(json!({ "apiKey": key }), &[("lastSeq", "x")])
        .await
        .unwrap()
        .unwrap_rejected();
    assert!(refused.starts_with("bad_request"), "{refused}");
    let accepted = connect(json!({ "apiKey": key }), &[("lastSeq", "1")]).await;
    let mut resumed = accepted.unwrap().unwrap_connected();
    let sync = resumed.wait_for("sync", WAIT).await.unwrap();
    assert_eq!(sync.data["fromSeq"], 2, "{}", sync.data);
}

#[tokio::test]
async fn a_client_that_stops_reading_is_cut_off_and_resumes_without_loss() {
    let daemon = TestDaemon::start_with(|settings, _| {
        settings.limits.client_queue_packets = 16;
    })
    .await;
    daemon.ready_device("slow", silent_bob()).await;

    // A raw client joins the namespace and then stops reading.
    let url = format!(
        "{}/ws/?EIO=4&transport=websocket",
        daemon.base.replace("http", "ws")
    );
    let (mut stalled, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    let join = format!("40/device/slow,{}", json!({ "apiKey": daemon.key }));
    stalled.send(Message::text(join)).await.unwrap();
    let joined = tokio::time::timeout(WAIT, async {
        while let Some(Ok(frame)) = stalled.next().await {
            if frame
                .to_text()
                .is_ok_and(|t| t.starts_with("40/device/slow,"))
            {
                return true;
            }
        }
        false
    });
    assert!(
        joined.await.unwrap_or(false),
        "the stalled client joined the namespace"
    );

    // Large messages fill the socket buffers; once the client's bounded queue is full, the
    // daemon stops feeding it instead of buffering without end.
    let text = "z".repeat(60_000);
    let path = format!("/api/v1/devices/slow/chats/{BOB}/messages");
    for _ in 0..300 {
        let (status, body) = daemon.post(&path, json!({ "text": text })).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    }
    let end = head(&daemon, "slow").await;
    // The stalled client reads again: its stream stops short of the end.
    let mut seqs = Vec::new();
    while let Ok(Some(Ok(frame))) =
        tokio::time::timeout(Duration::from_secs(2), stalled.next()).await
    {
        seqs.extend(event_seq(&frame));
    }
    // The first event is the state snapshot; live events follow it without a gap.
    let live = &seqs[1..];
    assert!(
        live.windows(2).all(|w| w[1] == w[0] + 1),
        "in order until cut off: {live:?}"
    );
    let last_seen = *live.last().expect("some live events arrived");
    assert!(last_seen < end, "cut off at {last_seen} of {end}");
    drop(stalled);

    let (replayed, sync) = resume(&daemon, "slow", json!(last_seen), end).await;
    assert_eq!(sync["recovered"], true);
    assert_replay(&replayed, last_seen, end);
}

/// What a resumed client gets starts right after `last`, has no gap and reaches at least
/// `head` (acks still arriving may have been journaled since `head` was read).
#[track_caller]
fn assert_replay(replayed: &[u64], last: u64, head: u64) {
    assert_eq!(replayed.first(), Some(&(last + 1)), "{replayed:?}");
    assert!(
        replayed.windows(2).all(|w| w[1] == w[0] + 1),
        "{replayed:?}"
    );
    assert!(
        replayed.last().is_some_and(|l| *l >= head),
        "short of {head}"
    );
}

/// The `seq` of a raw `42/device/…,["event",{…}]` frame.
fn event_seq(frame: &Message) -> Option<u64> {
    let text = frame.to_text().ok()?.strip_prefix("42/device/slow,")?;
    let packet: Value = serde_json::from_str(text).ok()?;
    packet[1]["seq"].as_u64()
}

#[tokio::test]
async fn past_the_retention_sync_says_not_recovered() {
    let daemon = TestDaemon::start_with(|settings, _| {
        settings.journal.retention_events = 3;
        settings.journal.prune_interval_secs = 1;
    })
    .await;
    daemon.ready_device("brief", silent_bob()).await;
    // More events than the newest of a device, which pruning keeps whatever the retention.
    for n in 0..20 {
        daemon
            .send_message("brief", BOB, json!({ "text": format!("message {n}") }))
            .await;
    }
    // Pruning raises no event: the journal is looked at again after each commit.
    daemon
        .wait_until("the journal to be pruned", || async {
            let (_, events) = daemon.get("/api/v1/devices/brief/events?after=0").await;
            (events["recovered"] == false).then_some(())
        })
        .await;
    let (replayed, sync) = resume(&daemon, "brief", json!(1), 0).await;
    assert!(replayed.is_empty(), "nothing half-replayed: {replayed:?}");
    assert_eq!(sync["recovered"], false);

    let mut reloaded = SioClient::connect(
        &daemon.base,
        "/ws",
        "/device/brief",
        &[],
        &[],
        json!({ "apiKey": daemon.key }),
    )
    .await
    .unwrap()
    .unwrap_connected();
    let fresh = reloaded.wait_for("sync", WAIT).await.unwrap();
    assert_eq!(
        fresh.data["recovered"], true,
        "a client without lastSeq starts from now"
    );
    // It still learns where the device stands, though its `state` event was pruned.
    let drawn: Vec<_> = common::after_greeting(&reloaded)
        .iter()
        .map(|event| (event.name.as_str(), event.data["state"].clone()))
        .collect();
    assert_eq!(drawn, [("state", json!("ready")), ("sync", Value::Null)]);
    let (_, journal) = daemon.get("/api/v1/devices/brief/events?after=0").await;
    let retained: Vec<_> = journal["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|event| event["type"].as_str().unwrap())
        .collect();
    assert!(!retained.contains(&"state"), "not pruned yet: {retained:?}");
}

#[tokio::test]
async fn a_client_ahead_of_the_journal_is_told_it_cannot_resume_and_gets_what_follows() {
    let daemon = TestDaemon::start().await;
    daemon.ready_device("reset", silent_bob()).await;
    let now = head(&daemon, "reset").await;
    for ahead in [now + 10, u64::MAX] {
        let (replayed, sync) = resume(&daemon, "reset", json!(ahead), 0).await;
        assert!(replayed.is_empty(), "{replayed:?}");
        assert_eq!(
            (&sync["recovered"], &sync["toSeq"]),
            (&json!(false), &json!(now)),
            "lastSeq {ahead}"
        );
    }
    let mut ahead = daemon.socket("reset", json!({ "lastSeq": u64::MAX })).await;
    ahead.wait_for("sync", WAIT).await.expect("a sync");
    let mut sender = daemon.socket("reset", json!({})).await;
    let ack = sender
        .emit_with_ack(
            "message:send",
            json!({ "chatId": BOB, "text": "after a reset" }),
            WAIT,
        )
        .await
        .unwrap();
    assert_eq!(ack["ok"], true, "{ack}");
    let message = ahead.wait_for("message", WAIT).await.expect("live events");
    assert_eq!(message.data["seq"], json!(now + 1));
}

/// A client that reads its replay more slowly than the daemon reads the journal gets all of
/// it and then `sync`, while live events of another device come on the same connection: the
/// replay never takes more than half of the connection's queue, so live delivery, which does
/// not wait, always finds room, and the client is not taken for a slow consumer.
#[tokio::test]
async fn a_slow_reader_of_a_replay_keeps_room_for_live_events() {
    let daemon = TestDaemon::start_with(|settings, _| {
        settings.limits.client_queue_packets = 64;
    })
    .await;
    daemon.ready_device("behind", silent_bob()).await;
    daemon.ready_device("busy", silent_bob()).await;
    let path = format!("/api/v1/devices/behind/chats/{BOB}/messages");
    for n in 0..150 {
        let (status, body) = daemon.post(&path, json!({ "text": format!("{n}") })).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    }
    let end = head(&daemon, "behind").await;

    // A long-polling client: nothing leaves its queue between two polls, so the replay
    // fills what it is allowed to of the queue before each one.
    let poll = format!("{}/ws/?EIO=4&transport=polling", daemon.base);
    let open = daemon.http.get(&poll).send().await.unwrap();
    let open = open.text().await.unwrap();
    let open: Value = serde_json::from_str(open.strip_prefix('0').unwrap()).unwrap();
    let poll = format!("{poll}&sid={}", open["sid"].as_str().unwrap());
    let auth = json!({ "apiKey": daemon.key });
    let resume = json!({ "apiKey": daemon.key, "lastSeq": 0 });
    let joins = format!("40/device/busy,{auth}\u{1e}40/device/behind,{resume}");
    let posted = daemon.http.post(&poll).body(joins).send().await.unwrap();
    assert!(posted.status().is_success());

    let reader = tokio::spawn({
        let (http, poll) = (daemon.http.clone(), poll.clone());
        async move {
            let mut replayed = Vec::new();
            // The client's own pace: a poll every 20 ms, slower than the replay.
            let mut pace = tokio::time::interval(Duration::from_millis(20));
            loop {
                pace.tick().await;
                let response = http.get(&poll).send().await.unwrap();
                assert!(response.status().is_success(), "the session was closed");
                for packet in response.text().await.unwrap().split('\u{1e}') {
                    assert!(!packet.starts_with("41"), "disconnected: {packet}");
                    if packet == "2" {
                        let pong = http.post(&poll).body("3").send().await.unwrap();
                        assert!(pong.status().is_success());
                    }
                    let Some(event) = packet.strip_prefix("42/device/behind,") else {
                        continue;
                    };
                    let event: Value = serde_json::from_str(event).unwrap();
                    if event[0] == "sync" {
                        return (replayed, event[1].clone());
                    }
                    // The greeting before the replay has no seq.
                    replayed.extend(event[1]["seq"].as_u64());
                }
            }
        }
    });
    // Meanwhile the other device's events are delivered live to the same connection.
    let busy = format!("/api/v1/devices/busy/chats/{BOB}/messages");
    let done = async {
        // About as many live events as the client reads between two polls.
        let mut pace = tokio::time::interval(Duration::from_millis(20));
        while !reader.is_finished() {
            pace.tick().await;
            let (status, body) = daemon.post(&busy, json!({ "text": "live" })).await;
            assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        }
        reader.await.unwrap()
    };
    let (replayed, sync) = tokio::time::timeout(4 * WAIT, done)
        .await
        .expect("the replay ends in sync");
    assert_eq!(sync["recovered"], true, "{sync}");
    assert_replay(&replayed, 0, end);
}

/// How many devices a client watches, as `/metrics` says.
async fn watched_devices(daemon: &TestDaemon) -> f64 {
    let metrics = Exposition::parse(&daemon.metrics().await).unwrap();
    metrics.value("devicebridge_socket_watched_devices", &[])
}

/// Waits, reading `/metrics` every 20 ms for up to [`WAIT`], until `want` devices are watched:
/// a client's going commits nothing that a wait for the daemon's changes would wake on.
async fn wait_watched_devices(daemon: &TestDaemon, want: f64) {
    let deadline = tokio::time::Instant::now() + WAIT;
    let mut looks = tokio::time::interval(Duration::from_millis(20));
    loop {
        looks.tick().await;
        let watched = watched_devices(daemon).await;
        if watched == want {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{watched} devices watched, not {want}"
        );
    }
}

#[tokio::test]
async fn a_device_nobody_watches_runs_no_fanout_and_a_client_back_gets_what_it_missed() {
    let daemon = TestDaemon::start().await;
    daemon.ready_device("watched", silent_bob()).await;
    daemon.ready_device("unwatched", silent_bob()).await;
    assert_eq!(watched_devices(&daemon).await, 0.0);

    // A client's fanout starts with it, for its device alone, and ends when it leaves.
    let mut first = daemon.socket("watched", json!({})).await;
    first.wait_for("sync", WAIT).await.expect("a sync");
    assert_eq!(watched_devices(&daemon).await, 1.0);
    let left_at = head(&daemon, "watched").await;
    first.close().await;
    wait_watched_devices(&daemon, 0.0).await;

    // Sent while nobody watches: journaled, and told to nobody until a client comes back.
    let sent = daemon
        .send_message("watched", BOB, json!({ "text": "while nobody watches" }))
        .await;
    let id = sent["id"].as_str().unwrap().to_owned();
    daemon
        .wait_until("the message's device ack", || async {
            let acks = daemon.journaled("watched", "message:ack").await;
            acks.iter()
                .any(|ack| {
                    ack["data"]["messageId"] == id.as_str() && ack["data"]["ackName"] == "device"
                })
                .then_some(())
        })
        .await;
    let now = head(&daemon, "watched").await;
    let (replayed, sync) = resume(&daemon, "watched", json!(left_at), now).await;
    assert_replay(&replayed, left_at, now);
    assert_eq!(sync["recovered"], true);
    wait_watched_devices(&daemon, 0.0).await;

    // A client up to date starts a fanout at the journal's head, and gets what follows live.
    let mut second = daemon.socket("watched", json!({ "lastSeq": now })).await;
    let sync = second.wait_for("sync", WAIT).await.expect("a sync");
    assert_eq!(sync.data["recovered"], true);
    assert_eq!(sync.data["toSeq"], now);
    let ack = second
        .emit_with_ack(
            "message:send",
            json!({ "chatId": BOB, "text": "watched again" }),
            WAIT,
        )
        .await
        .unwrap();
    assert_eq!(ack["ok"], true, "{ack}");
    let id = ack["data"]["id"].as_str().unwrap();
    let live = wait_about(&mut second, "message", id, |_| true).await;
    assert_eq!(live.data["seq"], now + 1);
    assert_eq!(watched_devices(&daemon).await, 1.0);
    second.close().await;
}

/// A client that resumes while events keep coming gets every one the journal showed it, once
/// and in order, including those committed a moment before and not yet on the disk. Messages
/// and their acks keep being journaled while clients resume again and again right after
/// reading the head.
#[tokio::test]
async fn a_client_resuming_while_events_keep_coming_gets_each_once_in_order() {
    let daemon = TestDaemon::start().await;
    daemon
        .ready_device(
            "busy",
            json!({ "server_ack_ms": 1, "delivered_ms": 2, "read_ms": 3 }),
        )
        .await;
    let mut sender = daemon.socket("busy", json!({})).await;
    for n in 0..40 {
        let text = format!("busy {n}");
        sender
            .emit("message:send", json!({ "chatId": BOB, "text": text }))
            .await
            .unwrap();
        let now = head(&daemon, "busy").await;
        let last = now.saturating_sub(2);
        let (replayed, sync) = resume(&daemon, "busy", json!(last), now).await;
        assert_replay(&replayed, last, now);
        assert_eq!(sync["recovered"], true, "{sync}");
    }
}
