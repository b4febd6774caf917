//! Moving a daemon from SQLite to PostgreSQL with the real binary: `devicebridge migrate --to`
//! copies everything (devices and their links, messages, the journal, keys, webhooks) into an
//! empty database, and the daemon started on it carries on where the SQLite one stopped: the
//! same answers, the journal going on from the same seq, the device still linked. A second
//! copy into the same database is refused and writes nothing.
#![cfg(unix)]

mod common;

use std::path::Path;

use common::binary::{command, Daemon};
use common::{wait_state, TestDaemon};
use reqwest::StatusCode;
use serde_json::{json, Value};

const DEVICE: &str = "demo";
const ALICE: &str = "15550000002@c.us";

fn simulator() -> Value {
    json!({
        "phone": "15550000001",
        "server_ack_ms": 10,
        "delivered_ms": 20,
        "read_ms": 30,
        "typing_ms": 30,
        "contacts": [{ "id": ALICE, "name": "Alice", "behaviour": "echo" }],
    })
}

/// What a user sees of the daemon's data, through its API.
async fn seen(api: &TestDaemon) -> Vec<Value> {
    let mut seen = Vec::new();
    for path in [
        "/api/v1/devices".to_owned(),
        format!("/api/v1/devices/{DEVICE}/chats"),
        format!("/api/v1/devices/{DEVICE}/chats/{ALICE}/messages?limit=100"),
        format!("/api/v1/devices/{DEVICE}/events?after=0&limit=1000"),
        "/api/v1/keys".to_owned(),
        "/api/v1/webhooks".to_owned(),
    ] {
        let (status, body) = api.get(&path).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
        seen.push(body);
    }
    seen
}

/// Runs `devicebridge migrate --to <url>` on `dir`'s data; its exit code and output.
async fn migrate(dir: &Path, url: &str) -> (Option<i32>, String) {
    let output = command(dir)
        .args(["migrate", "--to", url, "--data-dir"])
        .arg(dir.join("data"))
        .arg("--devices-dir")
        .arg(dir.join("devices"))
        .output()
        .await
        .expect("devicebridge migrate runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.code(), text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sqlite_daemon_moves_to_postgresql_with_everything_it_had() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path();
    std::fs::create_dir_all(dir.join("devices")).unwrap();
    let database = common::postgres::database();

    // 1. A daemon on SQLite with a linked device, an exchange, a key and a webhook.
    let private = ("DEVICEBRIDGE__WEBHOOKS__ALLOW_PRIVATE", "true".to_owned());
    let (mut daemon, api) = Daemon::spawn_with_admin_key(dir, std::slice::from_ref(&private)).await;
    api.ready_device(DEVICE, simulator()).await;
    let mut follower = api.socket(DEVICE, json!({ "lastSeq": 0 })).await;
    api.send_message(DEVICE, ALICE, json!({ "text": "before the move" }))
        .await;
    follower
        .wait_until(common::WAIT, |event| {
            event.name == "message" && event.data["fromMe"] == false
        })
        .await
        .expect("Alice's echo");
    api.key_for(&[DEVICE], &["read"]).await;
    let (status, hook) = api
        .post(
            "/api/v1/webhooks",
            json!({ "url": "http://127.0.0.1:9/hooks", "events": ["state"] }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{hook}");
    let token = api.read_token_for("dashboard", &["*"]).await;
    let picture: Vec<u8> = (0..700_000u32).map(|i| (i % 251) as u8).collect();
    let uploaded = api.upload(DEVICE, &picture, "image/png").await;
    follower.close().await;
    let before = seen(&api).await;
    assert!(daemon.terminate().await.success());

    // 2. The copy, a line per table.
    let (code, output) = migrate(dir, &database).await;
    assert_eq!(code, Some(0), "{output}");
    for table in ["devices", "messages", "events", "api_keys", "webhooks"] {
        assert!(
            output
                .lines()
                .any(|line| line.trim_start().starts_with(table)),
            "no line for {table}: {output}"
        );
    }

    // 3. The daemon on PostgreSQL: the same data; the device starts again, still linked, and
    // its journal goes on from where it was.
    let env = [("DEVICEBRIDGE__STORAGE__URL", database.clone()), private];
    let (mut daemon, api) = Daemon::spawn_with_admin_key(dir, &env).await;
    let head = before[3]["head"].as_u64().unwrap();
    let mut watcher = api.socket(DEVICE, json!({ "lastSeq": head })).await;
    wait_state(&mut watcher, "ready").await;
    let mut after = seen(&api).await;
    // The device went through its states again as it started: compare up to the old head.
    let events = after[3]["items"].as_array_mut().unwrap();
    assert!(events.len() > before[3]["items"].as_array().unwrap().len());
    events.retain(|event| event["seq"].as_u64() <= Some(head));
    let (devices_before, devices_after) = (&before[0]["items"][0], &after[0]["items"][0]);
    assert_eq!(devices_after["me"], devices_before["me"], "still linked");
    for (index, what) in [(1, "chats"), (2, "messages"), (4, "keys"), (5, "webhooks")] {
        assert_eq!(after[index], before[index], "{what}");
    }
    assert_eq!(after[3]["items"], before[3]["items"], "the journal");
    let path = uploaded["url"]
        .as_str()
        .unwrap()
        .split_once("/api/")
        .unwrap()
        .1;
    let download = api.download(&format!("{}/api/{path}", api.base)).await;
    assert_eq!(download.status(), StatusCode::OK);
    assert_eq!(
        download.bytes().await.unwrap().as_ref(),
        picture.as_slice(),
        "an upload made on SQLite is read from PostgreSQL"
    );
    let with_token = api
        .http
        .get(format!("{}/api/v1/devices", api.base))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(
        with_token.status(),
        StatusCode::OK,
        "a token issued before the move"
    );
    let sent = api
        .send_message(DEVICE, ALICE, json!({ "text": "after the move" }))
        .await;
    assert_eq!(sent["body"], "after the move", "{sent}");
    watcher.close().await;
    assert!(daemon.terminate().await.success());

    // 4. Copying again into the database, which is no longer empty, is refused.
    let (code, output) = migrate(dir, &database).await;
    assert_eq!(code, Some(1), "{output}");
    assert!(output.contains("is not empty"), "{output}");
}
