//! The test daemon: the real devicebridge, in-process, on 127.0.0.1:0 with a temporary data
//! directory, plus HTTP helpers. Socket.IO tests use [`sio`].
#![allow(dead_code)]

pub mod binary;
pub mod brokers;
pub mod cloud_stub;
pub mod exposition;
pub mod moto;
pub mod node;
pub mod poll;
pub mod postgres;
pub mod receiver;
pub mod sio;
pub mod stalled;
pub mod stub;
pub mod waha_stub;

use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::Duration;

use devicebridge::config::Settings;
use devicebridge::metrics::Changes;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub const WAIT: Duration = Duration::from_secs(10);

pub struct TestDaemon {
    pub base: String,
    pub key: String,
    pub settings: Settings,
    pub http: reqwest::Client,
    /// Bumped by the daemon after every store commit and every count no commit follows (see
    /// [`TestDaemon::wait_until`]); kept across restarts.
    changes: Changes,
    dir: PathBuf,
    _temp: Option<tempfile::TempDir>,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<(), devicebridge::app::AppError>>>,
}

/// Settings for a test: fast rhythms, a temp data dir, no devices unless a test adds some, no
/// sounds or desktop notifications unless a test turns them on, and no device paced by the
/// send governor unless a test turns it on (its default paces every WAHA device).
pub fn test_settings(dir: &Path) -> Settings {
    let mut settings = Settings::default();
    settings.server.bind = "127.0.0.1:0".parse().unwrap();
    settings.storage.data_dir = dir.join("data");
    settings.devices.dir = dir.join("devices");
    settings.log.level = "warn".into();
    settings.hooks.sound.enabled = false;
    settings.hooks.desktop.enabled = false;
    // Tests that turn the hooks on expect them at any time of day.
    settings.hooks.quiet_hours = String::new();
    settings.governor.enabled = Some(false);
    settings
}

/// Writes `devices/<id>.toml` under the test directory.
pub fn write_device_file(dir: &Path, id: &str, contents: &str) {
    std::fs::create_dir_all(dir.join("devices")).unwrap();
    std::fs::write(dir.join("devices").join(format!("{id}.toml")), contents).unwrap();
}

impl TestDaemon {
    pub async fn start() -> Self {
        Self::start_with(|_, _| {}).await
    }

    /// Starts with settings (and files under the test directory) adjusted by `prepare`.
    pub async fn start_with(prepare: impl FnOnce(&mut Settings, &Path)) -> Self {
        let temp = tempfile::tempdir().unwrap();
        let dir = temp.path().to_path_buf();
        let mut settings = test_settings(&dir);
        prepare(&mut settings, &dir);
        let mut daemon = Self::launch(settings, dir, Changes::default()).await;
        daemon._temp = Some(temp);
        daemon
    }

    /// Starts with one device declared by its file, `devices/<id>.toml` = `file`, and settings
    /// adjusted by `adjust`; returns a client that sees the device's whole journal.
    pub async fn start_with_device(
        id: &str,
        file: &str,
        adjust: impl FnOnce(&mut Settings),
    ) -> (Self, sio::SioClient) {
        let daemon = Self::start_with(|settings, dir| {
            adjust(settings);
            write_device_file(dir, id, file);
        })
        .await;
        let client = daemon.socket(id, json!({ "lastSeq": 0 })).await;
        (daemon, client)
    }

    async fn launch(mut settings: Settings, dir: PathBuf, changes: Changes) -> Self {
        // The daemon's warnings and errors go to the test's captured output, so a failing
        // test shows what the daemon logged (a 500's cause, for one).
        let _ = tracing_subscriber::fmt()
            .with_env_filter(settings.log.level.as_str())
            .with_test_writer()
            .try_init();
        let listener = tokio::net::TcpListener::bind(settings.server.bind)
            .await
            .unwrap();
        let address = listener.local_addr().unwrap();
        let base = format!("http://{address}");
        settings.server.public_url = base.clone();
        let (shutdown, signal) = oneshot::channel::<()>();
        let task = tokio::spawn(devicebridge::run(
            settings.clone(),
            listener,
            async move {
                let _ = signal.await;
            },
            devicebridge::RunOptions {
                console: None,
                changes: changes.clone(),
            },
        ));
        let http = reqwest::Client::new();
        // The listener is bound, so this request waits until the daemon serves.
        let health = http
            .get(format!("{base}/health"))
            .send()
            .await
            .expect("daemon answers");
        assert_eq!(health.status(), StatusCode::OK);
        let key_file = settings.storage.data_dir.join("admin-api-key");
        let key = std::fs::read_to_string(&key_file)
            .map(|k| k.trim().to_owned())
            .unwrap_or_default();
        TestDaemon {
            base,
            key,
            settings,
            http,
            changes,
            dir,
            _temp: None,
            shutdown: Some(shutdown),
            task: Some(task),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// A handle on a daemon that runs as its own process (see [`binary::Daemon`]) at `base`,
    /// used with the admin `key`: the HTTP and Socket.IO helpers work the same. It cannot be
    /// restarted or stopped from here, and [`TestDaemon::wait_until`] sees no changes.
    pub fn remote(base: String, key: String, dir: PathBuf) -> Self {
        TestDaemon {
            base,
            key,
            settings: Settings::default(),
            http: reqwest::Client::builder().no_proxy().build().unwrap(),
            changes: Changes::default(),
            dir,
            _temp: None,
            shutdown: None,
            task: None,
        }
    }

    /// Runs `check` now and again after each store commit or metric count of the daemon, until
    /// it yields something; panics if that takes longer than [`WAIT`]. For effects that raise
    /// no event (the journal's pruning, a webhook attempt's record, a hook's count): each check
    /// follows a change that may have brought the effect.
    pub async fn wait_until<T, F, Fut>(&self, what: &str, mut check: F) -> T
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Option<T>>,
    {
        let deadline = tokio::time::Instant::now() + WAIT;
        let mut changes = self.changes.subscribe();
        loop {
            // Marked seen before the check, so a change during the check ends the next wait.
            changes.mark_unchanged();
            if let Some(found) = check().await {
                return found;
            }
            tokio::time::timeout_at(deadline, changes.changed())
                .await
                .unwrap_or_else(|_| panic!("timed out after {WAIT:?} waiting for {what}"))
                .expect("the test daemon keeps its change counter");
        }
    }

    /// Stops gracefully and starts again on the same data (on a new port).
    pub async fn restart(mut self) -> Self {
        self.stop_in_place().await;
        let mut settings = self.settings.clone();
        settings.server.bind = "127.0.0.1:0".parse().unwrap();
        let mut next = Self::launch(settings, self.dir.clone(), self.changes.clone()).await;
        next._temp = self._temp.take();
        next
    }

    async fn stop_in_place(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(task) = self.task.take() {
            tokio::time::timeout(WAIT, task)
                .await
                .expect("daemon stops within the timeout")
                .unwrap()
                .expect("daemon stops cleanly");
        }
    }

    pub async fn stop(mut self) {
        self.stop_in_place().await;
    }

    /// A request with the admin key; returns status and JSON body (Null if none).
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        self.call_as(&self.key, method, path, body).await
    }

    pub async fn call_as(
        &self,
        key: &str,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let (status, _, body) = self.request(key, method, path, body, &[]).await;
        (status, body)
    }

    /// A request as the admin with extra headers; returns the response headers too.
    pub async fn raw(
        &self,
        method: Method,
        path: &str,
        body: Value,
        headers: &[(&str, &str)],
    ) -> (StatusCode, reqwest::header::HeaderMap, Value) {
        self.request(&self.key, method, path, Some(body), headers)
            .await
    }

    async fn request(
        &self,
        key: &str,
        method: Method,
        path: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> (StatusCode, reqwest::header::HeaderMap, Value) {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .header("x-api-key", key);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap();
        (
            status,
            headers,
            serde_json::from_str(&text).unwrap_or(Value::Null),
        )
    }

    /// A request without credentials, as an upstream posts its webhooks; returns the status
    /// and the body as text.
    pub async fn deliver(
        &self,
        method: Method,
        path: &str,
        body: Vec<u8>,
        headers: &[(&str, &str)],
    ) -> (StatusCode, String) {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .header("content-type", "application/json")
            .body(body);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await.unwrap();
        (response.status(), response.text().await.unwrap())
    }

    /// Sends a request on a connection of its own, written as it goes on the wire: `head` is
    /// the request line and headers (without the blank line that ends them), then `body`.
    /// The connection stays open while the answer is read, so a body shorter than its
    /// `Content-Length` is one still on its way. Returns the answer's status and JSON body;
    /// panics if the daemon does not answer within [`WAIT`].
    pub async fn raw_request(&self, head: &str, body: &[u8]) -> (StatusCode, Value) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let address = self.base.trim_start_matches("http://");
        let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
        let head = format!("{head}\r\nHost: {address}\r\nConnection: close\r\n\r\n");
        stream.write_all(head.as_bytes()).await.unwrap();
        stream.write_all(body).await.unwrap();
        let mut answer = Vec::new();
        let mut buffer = [0u8; 4096];
        let (status, body_at, length) = loop {
            let read = tokio::time::timeout(WAIT, stream.read(&mut buffer))
                .await
                .expect("the daemon answers in time")
                .unwrap();
            assert!(
                read > 0,
                "the daemon closed the connection without an answer"
            );
            answer.extend_from_slice(&buffer[..read]);
            let Some(end) = answer.windows(4).position(|w| w == b"\r\n\r\n") else {
                continue;
            };
            let head = String::from_utf8_lossy(&answer[..end]).to_lowercase();
            let status: u16 = head.split(' ').nth(1).unwrap().parse().unwrap();
            let length: usize = head
                .lines()
                .find_map(|line| line.strip_prefix("content-length:"))
                .map_or(0, |length| length.trim().parse().unwrap());
            break (status, end + 4, length);
        };
        while answer.len() < body_at + length {
            let read = tokio::time::timeout(WAIT, stream.read(&mut buffer))
                .await
                .expect("the daemon answers in time")
                .unwrap();
            assert!(read > 0, "the answer was cut off");
            answer.extend_from_slice(&buffer[..read]);
        }
        (
            StatusCode::from_u16(status).unwrap(),
            serde_json::from_slice(&answer[body_at..body_at + length]).unwrap_or(Value::Null),
        )
    }

    /// A GET of an absolute URL the daemon handed out (a media URL) with the admin key; the
    /// response is left unread, for its headers and bytes.
    pub async fn download(&self, url: &str) -> reqwest::Response {
        self.http
            .get(url)
            .header("x-api-key", &self.key)
            .send()
            .await
            .unwrap()
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.call(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::POST, path, Some(body)).await
    }

    /// The device's journaled events of type `name` (`*`: all), as pull consumers see them:
    /// `{ type, deviceId, seq, at, data }`.
    pub async fn journaled(&self, device: &str, name: &str) -> Vec<Value> {
        let (status, page) = self
            .get(&format!(
                "/api/v1/devices/{device}/events?after=0&limit=1000"
            ))
            .await;
        assert_eq!(status, StatusCode::OK, "{page}");
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|item| name == "*" || item["type"] == name)
            .cloned()
            .collect()
    }

    /// Sends a message over REST; returns the accepted message.
    pub async fn send_message(&self, device: &str, chat: &str, body: Value) -> Value {
        let path = format!("/api/v1/devices/{device}/chats/{chat}/messages");
        let (status, message) = self.post(&path, body).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{message}");
        message
    }

    /// The OpenMetrics text of `GET /metrics` (which needs no credential).
    pub async fn metrics(&self) -> String {
        let response = reqwest::get(format!("{}/metrics", self.base))
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(
            response.headers()["content-type"],
            "application/openmetrics-text; version=1.0.0; charset=utf-8"
        );
        response.text().await.unwrap()
    }

    /// Uploads `bytes` to `device` with `key` (`POST …/media`), of type `mime` (no header when
    /// `None`), named `name`; returns the status, the headers and the body.
    pub async fn upload_as(
        &self,
        key: &str,
        device: &str,
        bytes: Vec<u8>,
        mime: Option<&str>,
        name: Option<&str>,
    ) -> (StatusCode, reqwest::header::HeaderMap, Value) {
        let mut request = self
            .http
            .post(format!("{}/api/v1/devices/{device}/media", self.base))
            .header("x-api-key", key)
            .body(bytes);
        if let Some(mime) = mime {
            request = request.header("content-type", mime);
        }
        if let Some(name) = name {
            request = request.query(&[("name", name)]);
        }
        let response = request.send().await.unwrap();
        let (status, headers) = (response.status(), response.headers().clone());
        let body = response.json().await.unwrap_or(Value::Null);
        (status, headers, body)
    }

    /// Uploads a file to `device` as the admin and expects it stored; returns its `media`.
    pub async fn upload(&self, device: &str, bytes: &[u8], mime: &str) -> Value {
        let (status, _, media) = self
            .upload_as(&self.key, device, bytes.to_vec(), Some(mime), None)
            .await;
        assert_eq!(status, StatusCode::CREATED, "{media}");
        media
    }

    /// Creates a simulator device through the API.
    pub async fn create_device(&self, id: &str) -> Value {
        let (status, body) = self
            .post(
                "/api/v1/devices",
                json!({ "id": id, "name": format!("Device {id}") }),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body
    }

    /// Creates a simulator device with the given `[simulator]` table, links it and waits until
    /// it is `ready`. Returns the device as the API shows it then.
    pub async fn ready_device(&self, id: &str, simulator: Value) -> Value {
        let (status, body) = self
            .post(
                "/api/v1/devices",
                json!({ "id": id, "name": format!("Device {id}"), "simulator": simulator }),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let mut watcher = self.socket(id, json!({})).await;
        wait_state(&mut watcher, "qr").await;
        self.link(id).await;
        wait_state(&mut watcher, "ready").await;
        watcher.close().await;
        let (status, device) = self.get(&format!("/api/v1/devices/{id}")).await;
        assert_eq!(status, StatusCode::OK, "{device}");
        device
    }

    /// Creates a key with the given devices and scopes, returning its secret.
    pub async fn key_for(&self, devices: &[&str], scopes: &[&str]) -> String {
        let (status, body) = self
            .post(
                "/api/v1/keys",
                json!({ "name": "test", "devices": devices, "scopes": scopes }),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body["key"].as_str().unwrap().to_owned()
    }

    /// Issues an access token for `sub` to read `devices` for ten minutes, returning it.
    pub async fn read_token_for(&self, sub: &str, devices: &[&str]) -> String {
        let (status, body) = self
            .post(
                "/api/v1/tokens",
                json!({ "sub": sub, "devices": devices, "scopes": ["read"], "ttlSecs": 600 }),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body["token"].as_str().expect("a token").to_owned()
    }

    /// Connects a Socket.IO client to a device namespace with the admin key.
    pub async fn socket(&self, device: &str, extra_auth: Value) -> sio::SioClient {
        let mut auth = json!({ "apiKey": self.key });
        if let Value::Object(extra) = extra_auth {
            auth.as_object_mut().unwrap().extend(extra);
        }
        sio::SioClient::connect(
            &self.base,
            "/ws",
            &format!("/device/{device}"),
            &[],
            &[],
            auth,
        )
        .await
        .unwrap()
        .unwrap_connected()
    }

    /// Scans the current QR code of `device` as the phone would.
    pub async fn link(&self, device: &str) {
        let (status, qr) = self.get(&format!("/api/v1/devices/{device}/qr")).await;
        assert_eq!(status, StatusCode::OK, "{qr}");
        let (status, body) = self
            .post("/api/v1/pairings", json!({ "qr": qr["qr"] }))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
}

/// Checks that `text` is in nothing clients of `device` see: the device as the API shows it,
/// its journal, and every event `client` has received.
pub async fn assert_unseen(daemon: &TestDaemon, client: &sio::SioClient, device: &str, text: &str) {
    let (_, shown) = daemon.get(&format!("/api/v1/devices/{device}")).await;
    let (_, journal) = daemon
        .get(&format!("/api/v1/devices/{device}/events?after=0"))
        .await;
    let events: Vec<&Value> = client.history().iter().map(|event| &event.data).collect();
    for (what, seen) in [
        ("the device", shown.to_string()),
        ("the journal", journal.to_string()),
        ("the events", json!(events).to_string()),
    ] {
        assert!(!seen.contains(text), "{text:?} in {what}: {seen}");
    }
}

/// The `id`s of a `{ items: [...] }` list, in order.
pub fn ids(list: &Value) -> Vec<String> {
    list["items"]
        .as_array()
        .expect("a list with items")
        .iter()
        .map(|item| item["id"].as_str().expect("items have ids").to_owned())
        .collect()
}

/// Waits for the event `name` about message `id` (its `messageId`, or its `id` for a
/// `message`) for which `check` holds.
pub async fn wait_about(
    client: &mut sio::SioClient,
    name: &str,
    id: &str,
    check: impl Fn(&Value) -> bool,
) -> sio::SioEvent {
    client
        .wait_until(WAIT, |e| {
            e.name == name && (e.data["messageId"] == id || e.data["id"] == id) && check(&e.data)
        })
        .await
        .unwrap_or_else(|e| panic!("no {name} for {id}: {e}"))
}

/// Waits until message `id` reaches relay status `status`; returns the `message:status`.
pub async fn wait_message_status(client: &mut sio::SioClient, id: &Value, status: &str) -> Value {
    let id = id.as_str().expect("message ids are strings");
    wait_about(client, "message:status", id, |d| d["status"] == status)
        .await
        .data
}

/// Waits until the upstream has message `id`: its first `message:ack` at `server` or beyond
/// (a smooth send has no `message:status`; its acks tell it). Returns that `message:ack`.
pub async fn wait_relayed(client: &mut sio::SioClient, id: &Value) -> Value {
    wait_ack_where(client, id, |d| {
        d["ack"].as_i64().is_some_and(|ack| ack >= 1)
    })
    .await
}

/// Waits until message `id` reaches ack `ack`; returns the `message:ack`.
pub async fn wait_message_ack(client: &mut sio::SioClient, id: &Value, ack: &str) -> Value {
    wait_ack_where(client, id, |d| d["ackName"] == ack).await
}

/// The first `message:ack` of message `id` for which `check` holds: one already received
/// counts (acks of several messages come in any order, and a wait for one reads past others),
/// else the next one.
async fn wait_ack_where(
    client: &mut sio::SioClient,
    id: &Value,
    check: impl Fn(&Value) -> bool,
) -> Value {
    let id = id.as_str().expect("message ids are strings");
    let seen = client
        .history()
        .iter()
        .find(|e| e.name == "message:ack" && e.data["messageId"] == id && check(&e.data));
    match seen {
        Some(event) => event.data.clone(),
        None => wait_about(client, "message:ack", id, check).await.data,
    }
}

/// What a device's socket received after its `session` greeting, which comes first, before
/// any replay, snapshot or `sync`.
#[track_caller]
pub fn after_greeting(client: &sio::SioClient) -> &[sio::SioEvent] {
    let history = client.history();
    let first = history.first().map(|event| event.name.as_str());
    assert_eq!(first, Some("session"), "the greeting first: {history:?}");
    &history[1..]
}

/// Waits for the next event and checks that it is the `session` greeting.
pub async fn greeting(client: &mut sio::SioClient) -> sio::SioEvent {
    let greeting = client.next_event(WAIT).await.expect("the greeting");
    assert_eq!(greeting.name, "session", "the greeting first: {greeting:?}");
    greeting
}

/// Waits for a `state` event with the given state.
pub async fn wait_state(client: &mut sio::SioClient, state: &str) -> sio::SioEvent {
    client
        .wait_until(WAIT, |e| e.name == "state" && e.data["state"] == state)
        .await
        .unwrap_or_else(|e| panic!("no state {state}: {e}"))
}

/// Waits until the device journals that its session stalled for `reason` (`device:health`),
/// then the restart that follows: `disconnected` from `ready`, with reason `stalled`.
pub async fn wait_stalled(client: &mut sio::SioClient, reason: &str) -> sio::SioEvent {
    let stalled = client.wait_for("device:health", WAIT).await.unwrap();
    assert_eq!(
        (&stalled.data["status"], &stalled.data["reason"]),
        (&json!("stalled"), &json!(reason)),
        "{}",
        stalled.data
    );
    let lost = wait_state(client, "disconnected").await;
    assert_eq!(
        (&lost.data["previous"], &lost.data["reason"]),
        (&json!("ready"), &json!("stalled")),
        "{}",
        lost.data
    );
    stalled
}

/// Waits until the device is `ready` again and journals that it is healthy.
pub async fn wait_healthy_again(client: &mut sio::SioClient) {
    wait_state(client, "ready").await;
    let healthy = client.wait_for("device:health", WAIT).await.unwrap();
    assert_eq!(healthy.data["status"], "healthy", "{}", healthy.data);
}

/// Waits for the next `notification` and checks that it is an incoming call's: kind `call`,
/// no message, `title` the caller as shown, `body` the call's kind, in chat `chat_id`.
pub async fn expect_call_notification(
    client: &mut sio::SioClient,
    title: &str,
    body: &str,
    chat_id: &str,
) {
    let rang = client.wait_for("notification", WAIT).await.unwrap();
    let shown = |key: &str| rang.data[key].clone();
    assert_eq!(
        (
            shown("kind"),
            shown("title"),
            shown("body"),
            shown("chatId"),
            shown("messageId")
        ),
        (
            json!("call"),
            json!(title),
            json!(body),
            json!(chat_id),
            Value::Null
        )
    );
}
