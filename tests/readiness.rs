//! Readiness (`GET /ready`) and writes the storage cannot take (SPEC §6 `storage_unavailable`),
//! against the daemon binary whose writes really fail: the test lowers the running process's
//! file size limit to nothing (`RLIMIT_FSIZE`, as `prlimit --fsize=0 --pid` would), so that
//! every write to its database file, its log and its uploads fails with `EFBIG`, as they
//! would on a full disk, and then lifts it. The log is on that disk too where a test writes
//! it to a file, as a daemon run with `> daemon.log` does. One test fills a real disk instead:
//! a small tmpfs of the daemon's own, filled by its sends.
#![cfg(target_os = "linux")]

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::binary::{limit_file_size, seen_by, Daemon, ADMIN_KEY};
use common::receiver::Receiver;
use common::{wait_state, TestDaemon, WAIT};
use reqwest::StatusCode;
use serde_json::{json, Value};

const CHAT: &str = "15550000002@c.us";
/// The line the daemon logs when an outage begins, and when it ends.
const OUTAGE_BEGINS: &str = "the database cannot be written (disk full, read-only or failing)";
const OUTAGE_ENDS: &str = "the database can be written again";

/// A simulated phone whose one contact never reads nor replies.
fn silent_phone() -> Value {
    json!({ "phone": "15550000001", "contacts": [{ "id": CHAT, "name": "Alice", "behaviour": "silent" }] })
}

/// `GET path` without credentials: status and JSON body.
async fn get(api: &TestDaemon, path: &str) -> (StatusCode, Value) {
    let response = api
        .http
        .get(format!("{}{path}", api.base))
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn writes_the_storage_cannot_take_are_storage_unavailable_until_it_can_again() {
    let temp = tempfile::tempdir().unwrap();
    let (mut daemon, api) = Daemon::spawn_with_admin_key(temp.path(), &[]).await;
    api.ready_device("phone", silent_phone()).await;
    let mut dashboard = api.socket("phone", json!({})).await;
    let messages = format!("/api/v1/devices/phone/chats/{CHAT}/messages");
    // A device showing its QR codes, to be asked for a pairing code.
    api.create_device("kiosk").await;
    let mut linking = api.socket("kiosk", json!({})).await;
    wait_state(&mut linking, "qr").await;
    let pairing_code = "/api/v1/devices/kiosk/pairing-code";
    let phone = json!({ "phone": "+15550000009" });

    let (status, ready) = get(&api, "/ready").await;
    assert_eq!(status, StatusCode::OK, "{ready}");
    assert_eq!(
        ready,
        json!({ "status": "ready", "checks": { "storage": "ok", "devices": "ok", "running": "ok" } })
    );

    limit_file_size(daemon.pid(), Some(0));

    // A send over REST, over Socket.IO, an upload: refused, nothing stored.
    let (status, refused) = api.post(&messages, json!({ "text": "lost?" })).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{refused}");
    assert_eq!(refused["error"]["code"], "storage_unavailable", "{refused}");
    let ack = dashboard
        .emit_with_ack(
            "message:send",
            json!({ "chatId": CHAT, "text": "lost too?", "tempId": "t-1" }),
            WAIT,
        )
        .await
        .unwrap();
    assert_eq!(ack["ok"], false, "{ack}");
    assert_eq!(ack["error"]["code"], "storage_unavailable", "{ack}");
    let (status, _, upload) = api
        .upload_as(
            ADMIN_KEY,
            "phone",
            b"minutes".to_vec(),
            Some("text/plain"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{upload}");
    assert_eq!(upload["error"]["code"], "storage_unavailable", "{upload}");
    let (status, page) = api.get(&messages).await;
    assert_eq!(status, StatusCode::OK, "reads still work: {page}");
    assert_eq!(page["items"], json!([]), "nothing was stored");
    // Nor is a pairing code given whose event cannot be journaled.
    let (status, refused) = api.post(pairing_code, phone.clone()).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{refused}");
    assert_eq!(refused["error"]["code"], "storage_unavailable", "{refused}");

    // Not ready, and says why; alive all the same.
    let (status, ready) = get(&api, "/ready").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{ready}");
    assert_eq!(ready["error"]["code"], "storage_unavailable", "{ready}");
    assert_ne!(ready["checks"]["storage"], "ok", "{ready}");
    assert_eq!(ready["checks"]["devices"], "ok", "{ready}");
    assert_eq!(ready["checks"]["running"], "ok", "{ready}");
    let (status, health) = get(&api, "/health").await;
    assert_eq!(status, StatusCode::OK, "{health}");

    // Once the disk takes writes again, so does the daemon, by itself.
    limit_file_size(daemon.pid(), None);
    let (status, ready) = get(&api, "/ready").await;
    assert_eq!(status, StatusCode::OK, "{ready}");
    let sent = api
        .send_message("phone", CHAT, json!({ "text": "kept" }))
        .await;
    assert_eq!(sent["body"], "kept");
    let ack = dashboard
        .emit_with_ack(
            "message:send",
            json!({ "chatId": CHAT, "text": "kept too", "tempId": "t-1" }),
            WAIT,
        )
        .await
        .unwrap();
    assert_eq!(ack["ok"], true, "{ack}");
    let (status, issued) = api.post(pairing_code, phone).await;
    assert_eq!(status, StatusCode::OK, "{issued}");
    let event = linking.wait_for("pairing:code", WAIT).await.unwrap();
    assert_eq!(event.data["code"], issued["code"]);
    let (_, journal) = api
        .get("/api/v1/devices/kiosk/events?after=0&limit=500")
        .await;
    let codes = journal["items"].as_array().unwrap().iter();
    let codes = codes
        .filter(|event| event["type"] == "pairing:code")
        .count();
    assert_eq!(codes, 1, "only the code given is journaled: {journal}");

    // One error for the whole outage, however many writes met it.
    daemon
        .wait_for("the end of the outage", WAIT, |line| {
            line.contains(OUTAGE_ENDS).then_some(())
        })
        .await;
    let begun: Vec<&String> = daemon
        .lines_read()
        .iter()
        .filter(|line| line.contains(OUTAGE_BEGINS))
        .collect();
    assert_eq!(begun.len(), 1, "{begun:#?}");
    assert!(begun[0].contains("ERROR"), "{}", begun[0]);
    let internal = daemon
        .lines_read()
        .iter()
        .filter(|line| line.contains("internal error"))
        .count();
    assert_eq!(internal, 0, "no write was answered `internal`");
}

/// With its log on the disk that fills, as a container's or a `> daemon.log` one is, every
/// request still gets an answer: the log's failing writes never break one, sends are refused
/// `storage_unavailable` rather than dropped, and everything acknowledged before is there once
/// the disk takes writes again.
#[tokio::test]
async fn a_log_on_the_full_disk_breaks_no_request_and_loses_nothing_acknowledged() {
    let temp = tempfile::tempdir().unwrap();
    let log = temp.path().join("daemon.log");
    let (daemon, api) = Daemon::spawn_logging_to(temp.path(), &log).await;
    api.ready_device("phone", silent_phone()).await;
    let messages = format!("/api/v1/devices/phone/chats/{CHAT}/messages");
    let mut acknowledged = Vec::new();
    for n in 0..5 {
        let sent = api
            .send_message("phone", CHAT, json!({ "text": format!("before {n}") }))
            .await;
        acknowledged.push(sent["id"].clone());
    }

    limit_file_size(daemon.pid(), Some(0));
    for n in 0..20 {
        // An error here is a connection closed without an answer: what must never happen.
        let answer = api
            .http
            .post(format!("{}{messages}", api.base))
            .header("x-api-key", ADMIN_KEY)
            .json(&json!({ "text": format!("during {n}") }))
            .send()
            .await
            .expect("every send gets an answer");
        assert_eq!(answer.status(), StatusCode::SERVICE_UNAVAILABLE, "send {n}");
        let (status, ready) = get(&api, "/ready").await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{ready}");
    }
    let (status, _) = get(&api, "/health").await;
    assert_eq!(status, StatusCode::OK);

    limit_file_size(daemon.pid(), None);
    let (status, ready) = get(&api, "/ready").await;
    assert_eq!(status, StatusCode::OK, "{ready}");
    let after = api
        .send_message("phone", CHAT, json!({ "text": "after" }))
        .await;
    acknowledged.push(after["id"].clone());
    let (_, page) = api.get(&messages).await;
    let mut stored: Vec<Value> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|message| message["id"].clone())
        .collect();
    stored.reverse();
    assert_eq!(
        stored, acknowledged,
        "every acknowledged message, and only those"
    );
    assert!(
        std::fs::read_to_string(&log)
            .unwrap()
            .contains("listening on"),
        "the log was written to the disk before it filled"
    );
}

/// A real disk that fills up: the daemon's data and its log on one 12 MiB filesystem, filled
/// by the daemon's own sends. Further sends are refused `storage_unavailable` (but for one that
/// fits in room a rolled-back write gave back, which is kept), `/ready` says the storage is
/// why, `/health` answers, and once room is freed sends are taken again, without a restart,
/// with every message acknowledged before still there.
#[tokio::test]
async fn a_disk_filled_by_sends_refuses_them_until_room_is_freed_with_the_log_on_it() {
    const DISK_MIB: u64 = 12;
    const FILLER_MIB: u64 = 6;
    let temp = tempfile::tempdir().unwrap();
    let (daemon, api) = Daemon::spawn_on_small_disk(temp.path(), DISK_MIB, FILLER_MIB).await;
    api.ready_device("phone", silent_phone()).await;
    let messages = format!("/api/v1/devices/phone/chats/{CHAT}/messages");
    // Texts as large as a request may be, each different.
    let text = |n: usize| format!("{n:06} {}", "lorem ipsum ".repeat(5_000));
    let send = |n: usize| {
        let request = api
            .http
            .post(format!("{}{messages}", api.base))
            .header("x-api-key", ADMIN_KEY)
            .json(&json!({ "text": text(n) }));
        async move {
            // An error here is a connection closed without an answer: what must never happen.
            let answer = request.send().await.expect("every send gets an answer");
            let status = answer.status();
            (status, answer.json::<Value>().await.unwrap())
        }
    };

    // The daemon's sends fill the disk.
    let mut acknowledged = Vec::new();
    let refused = loop {
        let n = acknowledged.len();
        assert!(n < 1_000, "the disk is still not full after {n} sends");
        match send(n).await {
            (StatusCode::ACCEPTED, message) => acknowledged.push((message["id"].clone(), n)),
            refused => break refused,
        }
    };
    assert!(
        acknowledged.len() > 5,
        "only {} sends fit",
        acknowledged.len()
    );
    let storage_unavailable = |(status, body): &(StatusCode, Value)| {
        assert_eq!(*status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
        assert_eq!(body["error"]["code"], "storage_unavailable", "{body}");
    };
    storage_unavailable(&refused);
    for n in 0..10 {
        // A send small enough for the room a rolled-back batch gave back may be taken: then it
        // is kept like any other; every other one is refused, with the storage as the reason.
        let n = acknowledged.len() + 1 + n;
        match send(n).await {
            (StatusCode::ACCEPTED, message) => acknowledged.push((message["id"].clone(), n)),
            refused => storage_unavailable(&refused),
        }
        let (status, ready) = get(&api, "/ready").await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{ready}");
        assert_eq!(ready["error"]["code"], "storage_unavailable", "{ready}");
        assert_ne!(ready["checks"]["storage"], "ok", "{ready}");
        let (status, health) = get(&api, "/health").await;
        assert_eq!(status, StatusCode::OK, "{health}");
    }

    // Room is freed: the daemon takes sends again by itself.
    let filler = seen_by(daemon.pid(), &temp.path().join("filler"));
    std::fs::remove_file(&filler).unwrap();
    let (status, ready) = get(&api, "/ready").await;
    assert_eq!(status, StatusCode::OK, "{ready}");
    for _ in 0..3 {
        let n = acknowledged.len() + 100;
        match send(n).await {
            (StatusCode::ACCEPTED, message) => acknowledged.push((message["id"].clone(), n)),
            other => panic!("not taken once room was freed: {other:?}"),
        }
    }
    for (id, n) in &acknowledged {
        let path = format!("/api/v1/devices/phone/messages/{}", id.as_str().unwrap());
        let (status, message) = api.get(&path).await;
        assert_eq!(status, StatusCode::OK, "{id}: {message}");
        assert_eq!(message["body"], text(*n), "{id}");
    }
    // The outage ends once, when there is room again: not at a small commit the full disk
    // still took, which the log on that disk could not have told. The daemon's log goes
    // through a writer of its own: the line comes soon after.
    let log = seen_by(daemon.pid(), &temp.path().join("daemon.log"));
    let deadline = tokio::time::Instant::now() + WAIT;
    let mut looks = tokio::time::interval(Duration::from_millis(50));
    loop {
        looks.tick().await;
        let written = std::fs::read_to_string(&log).unwrap_or_default();
        if written.contains(OUTAGE_ENDS) {
            let ends = written.matches(OUTAGE_ENDS).count();
            assert_eq!(ends, 1, "the outage ended {ends} times: {written}");
            let after = &written[written.find(OUTAGE_ENDS).unwrap()..];
            assert!(!after.contains(OUTAGE_BEGINS), "{after}");
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the log is written again once there is room: {}",
            written.lines().rev().take(5).collect::<Vec<_>>().join("\n")
        );
    }
}

#[tokio::test]
async fn a_webhook_attempt_whose_outcome_cannot_be_stored_is_not_sent_again_at_once() {
    const RETRY: Duration = Duration::from_millis(500);
    let temp = tempfile::tempdir().unwrap();
    let (daemon, api) = Daemon::spawn_with_admin_key(
        temp.path(),
        &[
            ("DEVICEBRIDGE__WEBHOOKS__ALLOW_PRIVATE", "true".to_owned()),
            (
                "DEVICEBRIDGE__WEBHOOKS__RETRY_INITIAL_MS",
                RETRY.as_millis().to_string(),
            ),
        ],
    )
    .await;
    api.ready_device("phone", silent_phone()).await;
    // The receiver takes the daemon's disk away as the first attempt reaches it, so that the
    // attempt's outcome cannot be stored, and gives it back at the next attempt.
    let pid = daemon.pid();
    let arrivals = Arc::new(Mutex::new(Vec::<Instant>::new()));
    let seen = arrivals.clone();
    let mut receiver = Receiver::answering(Arc::new(move |_| {
        let mut seen = seen.lock().unwrap();
        seen.push(Instant::now());
        let first = seen.len() == 1;
        limit_file_size(pid, first.then_some(0));
        if first {
            500
        } else {
            200
        }
    }))
    .await;
    let (status, subscription) = api
        .post(
            "/api/v1/webhooks",
            json!({ "url": receiver.url, "events": ["message"] }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{subscription}");
    api.send_message("phone", CHAT, json!({ "text": "hello" }))
        .await;

    let first = receiver.next().await;
    let again = receiver.next().await;
    assert_eq!(again.webhook_id(), first.webhook_id(), "the same delivery");
    assert_eq!(again.answered, 200);
    let arrivals = arrivals.lock().unwrap();
    assert!(
        arrivals[1] - arrivals[0] >= RETRY,
        "sent again after {:?}, before the first retry's delay",
        arrivals[1] - arrivals[0]
    );
}
