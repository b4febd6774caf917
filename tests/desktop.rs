//! Desktop notifications for real: a private D-Bus session bus (`dbus-daemon`) started by the
//! test, a notification server on it that records every `Notify` call, and the daemon pointed
//! at that bus. Its own test binary, because the bus address is the process environment's
//! `DBUS_SESSION_BUS_ADDRESS`.

mod common;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};

use common::{wait_state, write_device_file, TestDaemon, WAIT};
use reqwest::{Method, StatusCode};
use serde_json::json;
use tokio::sync::mpsc;

/// A `dbus-daemon` of our own, listening on a socket in a temporary directory.
struct SessionBus {
    child: Child,
    address: String,
    _dir: tempfile::TempDir,
}

impl SessionBus {
    fn start() -> SessionBus {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("session.conf");
        std::fs::write(
            &config,
            format!(
                r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path={}/bus</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"#,
                dir.path().display()
            ),
        )
        .unwrap();
        let mut child = Command::new("dbus-daemon")
            .arg(format!("--config-file={}", config.display()))
            .args(["--nofork", "--print-address=1"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            // It complains, harmlessly, that it may not raise its file limit.
            .stderr(Stdio::null())
            .spawn()
            .expect("dbus-daemon is installed (Debian package `dbus`; .ci/run installs it)");
        let mut address = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut address)
            .unwrap();
        SessionBus {
            child,
            address: address.trim().to_owned(),
            _dir: dir,
        }
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for SessionBus {
    fn drop(&mut self) {
        self.stop();
    }
}

/// One `Notify` call as the server received it.
#[derive(Debug, Clone)]
struct Shown {
    app: String,
    summary: String,
    body: String,
}

/// `org.freedesktop.Notifications`, recording instead of drawing.
struct NotificationServer {
    shown: mpsc::UnboundedSender<Shown>,
}

#[zbus::interface(name = "org.freedesktop.Notifications")]
impl NotificationServer {
    #[allow(clippy::too_many_arguments)]
    fn notify(
        &self,
        app_name: String,
        _replaces_id: u32,
        _app_icon: String,
        summary: String,
        body: String,
        _actions: Vec<String>,
        _hints: HashMap<String, zbus::OwnedVariant>,
        _expire_timeout: i32,
    ) -> u32 {
        let _ = self.shown.send(Shown {
            app: app_name,
            summary,
            body,
        });
        1
    }

    fn get_capabilities(&self) -> Vec<String> {
        vec!["body".into()]
    }

    fn get_server_information(&self) -> (String, String, String, String) {
        ("recorder".into(), "test".into(), "1".into(), "1.2".into())
    }

    fn close_notification(&self, _id: u32) {}
}

/// Log lines the daemon writes, to count its warnings.
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl Write for Logs {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Logs {
    fn count(&self, needle: &str) -> usize {
        String::from_utf8_lossy(&self.0.lock().unwrap())
            .lines()
            .filter(|line| line.contains(needle))
            .count()
    }
}

async fn next(shown: &mut mpsc::UnboundedReceiver<Shown>) -> Shown {
    tokio::time::timeout(WAIT, shown.recv())
        .await
        .expect("a notification within the timeout")
        .unwrap()
}

/// Waits until `/metrics` has the line `wanted` (no event announces a count, so it is looked
/// for again after each count); returns the text.
async fn wait_metrics(daemon: &TestDaemon, wanted: &str) -> String {
    daemon
        .wait_until(wanted, || async {
            let text = daemon.metrics().await;
            text.lines().any(|line| line == wanted).then_some(text)
        })
        .await
}

const PHONE: &str = r#"name = "Demo phone"
[simulator]
server_ack_ms = 5
delivered_ms = 10
read_ms = 20
typing_ms = 20
[[simulator.contacts]]
id = "15550000002@c.us"
name = "Alice"
behaviour = "echo"
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notifications_reach_the_session_bus_and_a_lost_bus_costs_one_warning() {
    let logs = Logs::default();
    let writer = logs.clone();
    tracing_subscriber::fmt()
        .with_env_filter("devicebridge=warn")
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .init();
    let mut bus = SessionBus::start();
    // The only test of this binary: nothing else reads the environment while it is set.
    std::env::set_var("DBUS_SESSION_BUS_ADDRESS", &bus.address);
    let (record, mut shown) = mpsc::unbounded_channel();
    let _server = zbus::connection::Builder::address(bus.address.as_str())
        .name("org.freedesktop.Notifications")
        .serve_at(
            "/org/freedesktop/Notifications",
            NotificationServer { shown: record },
        )
        .build()
        .await
        .expect("the notification server registers on the test bus");

    let daemon = TestDaemon::start_with(|settings, dir| {
        settings.hooks.desktop.enabled = true;
        settings.hooks.desktop.coalesce_ms = 1_000;
        write_device_file(dir, "demo", PHONE);
        write_device_file(
            dir,
            "muted",
            "name = \"Muted phone\"\n[hooks]\ndesktop = false\n",
        );
    })
    .await;

    // Both devices show a QR code; only the one not muted in its file says so.
    let qr = next(&mut shown).await;
    assert_eq!(
        (qr.app.as_str(), qr.summary.as_str(), qr.body.as_str()),
        (
            "devicebridge",
            "Demo phone",
            "Scan the QR code to link Demo phone"
        )
    );
    let mut watcher = daemon.socket("demo", json!({})).await;
    daemon.link("demo").await;
    wait_state(&mut watcher, "ready").await;

    // Our own message is muted; Alice's echo is shown.
    let chat = "/api/v1/devices/demo/chats/15550000002@c.us/messages";
    let (status, _) = daemon.post(chat, json!({ "text": "see you at 5" })).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let echo = next(&mut shown).await;
    assert_eq!(
        (echo.summary.as_str(), echo.body.as_str()),
        ("Demo phone", "Alice: see you at 5")
    );

    // A burst from one chat is one notification.
    for n in 0..5 {
        let (status, _) = daemon
            .post(chat, json!({ "text": format!("burst {n}") }))
            .await;
        assert_eq!(status, StatusCode::ACCEPTED);
    }
    let burst = next(&mut shown).await;
    assert_eq!(burst.body, "5 new messages from Alice");

    // A muted chat's messages show nothing: the next notification is the drop's.
    let (status, _) = daemon
        .call(
            Method::PATCH,
            "/api/v1/devices/demo/chats/15550000002@c.us",
            Some(json!({ "muted": true })),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = daemon.post(chat, json!({ "text": "quiet please" })).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    watcher
        .wait_until(WAIT, |e| {
            e.name == "message" && e.data["fromMe"] == false && e.data["body"] == "quiet please"
        })
        .await
        .unwrap();

    let (status, _) = daemon
        .post("/api/v1/devices/demo/simulator/drop", json!({}))
        .await;
    assert_eq!(status, StatusCode::OK);
    let dropped = next(&mut shown).await;
    assert!(
        dropped.body.starts_with("Demo phone disconnected"),
        "{dropped:?}"
    );
    wait_state(&mut watcher, "ready").await;
    // The server records a call before it answers: wait for the answer to reach the daemon.
    wait_metrics(
        &daemon,
        "devicebridge_desktop_notifications_total{outcome=\"shown\"} 4",
    )
    .await;

    // Without the bus, notifications fail, with one warning, and the device goes on as before.
    bus.stop();
    for _ in 0..2 {
        let (status, _) = daemon
            .post("/api/v1/devices/demo/simulator/drop", json!({}))
            .await;
        assert_eq!(status, StatusCode::OK);
        wait_state(&mut watcher, "disconnected").await;
        wait_state(&mut watcher, "ready").await;
    }
    let text = wait_metrics(
        &daemon,
        "devicebridge_desktop_notifications_total{outcome=\"failed\"} 2",
    )
    .await;
    assert!(
        text.contains("devicebridge_desktop_notifications_total{outcome=\"shown\"} 4"),
        "{text}"
    );
    assert!(
        !text.contains("devicebridge_desktop_notifications_total{outcome=\"muted\"} 0"),
        "{text}"
    );
    assert_eq!(
        logs.count("hook cannot run"),
        1,
        "one warning for a lost bus"
    );
    assert!(
        shown.try_recv().is_err(),
        "nothing about the muted phone: {:?}",
        shown.try_recv()
    );
    watcher.close().await;
    daemon.stop().await;
}
