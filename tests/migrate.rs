//! Moving a daemon from SQLite to PostgreSQL with the real binary: `devicebridge migrate --to`
//! copies everything (devices and their links, messages, the journal, keys, webhooks) into an
//! empty database, and the daemon started on it carries on where the SQLite one stopped: the
//! same answers, the journal going on from the same seq, the device still linked. A second
//! copy into the same database is refused and writes nothing. With `storage.media_url` set,
//! the uploads' files go into its bucket, where the daemon on PostgreSQL reads them.
#![cfg(unix)]

mod common;

use std::path::Path;

use common::binary::{command, Daemon};
use common::moto::Moto;
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
    migrate_with(dir, url, &[]).await
}

/// [`migrate`] with environment variables `env` set.
async fn migrate_with(dir: &Path, url: &str, env: &[(&str, String)]) -> (Option<i32>, String) {
    let output = command(dir)
        .envs(env.iter().map(|(name, value)| (name, value)))
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

/// The bytes `api` serves at the URL of `uploaded`, an upload's `media`, made by another
/// daemon on the same data.
async fn served(api: &TestDaemon, uploaded: &Value) -> Vec<u8> {
    let (_, path) = uploaded["url"]
        .as_str()
        .unwrap()
        .split_once("/api/")
        .unwrap();
    let download = api.download(&format!("{}/api/{path}", api.base)).await;
    assert_eq!(download.status(), StatusCode::OK);
    download.bytes().await.unwrap().to_vec()
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
    assert_eq!(
        served(&api, &uploaded).await,
        picture,
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_media_bucket_the_uploaded_files_go_into_it() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path();
    std::fs::create_dir_all(dir.join("devices")).unwrap();
    let database = common::postgres::database();
    let moto = Moto::start().await;

    // A daemon on SQLite keeps an upload as a file.
    let (mut daemon, api) = Daemon::spawn_with_admin_key(dir, &[]).await;
    api.ready_device(DEVICE, simulator()).await;
    let picture: Vec<u8> = (0..300_000u32).map(|i| (i % 241) as u8).collect();
    let uploaded = api.upload(DEVICE, &picture, "image/png").await;
    let upload_id = uploaded["url"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap();
    assert!(daemon.terminate().await.success());

    // The copy, with the cluster's bucket configured: the file goes there, not into the
    // database.
    let media = (
        "DEVICEBRIDGE__STORAGE__MEDIA_URL",
        moto.media_url("cluster"),
    );
    let (code, output) = migrate_with(dir, &database, std::slice::from_ref(&media)).await;
    assert_eq!(code, Some(0), "{output}");
    assert!(
        output
            .lines()
            .any(|line| line.trim_start() == "media bucket             1 files"),
        "{output}"
    );
    assert!(!output.contains("upload_chunks"), "{output}");
    let object = format!("cluster/{DEVICE}/{upload_id}");
    assert_eq!(moto.objects().await, std::slice::from_ref(&object));
    assert_eq!(
        moto.object(&object).await.as_deref(),
        Some(picture.as_slice())
    );

    // The daemon on PostgreSQL with that bucket serves the upload from it.
    let env = [("DEVICEBRIDGE__STORAGE__URL", database.clone()), media];
    let (mut daemon, api) = Daemon::spawn_with_admin_key(dir, &env).await;
    assert_eq!(served(&api, &uploaded).await, picture);
    assert!(daemon.terminate().await.success());
}
