//! Runs the Node scenario `tests/e2e/foundation.js` (official socket.io-client) against an
//! in-process daemon: linking, handshake authentication and resume.

mod common;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use common::TestDaemon;
use reqwest::StatusCode;
use serde_json::json;

const NODE_TIMEOUT: Duration = Duration::from_secs(60);

fn e2e_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("e2e")
}

/// Installs the scenario's dependencies from the lockfile if they are missing.
async fn ensure_node_modules(dir: &Path) {
    if dir.join("node_modules").is_dir() {
        return;
    }
    let output = tokio::process::Command::new("npm")
        .arg("ci")
        .current_dir(dir)
        .kill_on_drop(true)
        .output()
        .await
        .unwrap_or_else(|e| panic!("cannot run `npm ci` in {}: {e}", dir.display()));
    assert!(
        output.status.success(),
        "`npm ci` in {} failed ({}):\n{}\n{}",
        dir.display(),
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[tokio::test]
async fn official_client_links_authenticates_and_resumes() {
    let dir = e2e_dir();
    ensure_node_modules(&dir).await;

    let daemon = TestDaemon::start_with(|settings, _| {
        settings.reconnect.initial_ms = 50;
        settings.reconnect.max_ms = 200;
    })
    .await;
    daemon.create_device("e2e").await;
    daemon.create_device("other").await;
    let other_key = daemon.key_for(&["other"], &["read"]).await;
    let (status, body) = daemon
        .post(
            "/api/v1/tokens",
            json!({ "sub": "e2e", "devices": ["e2e"], "scopes": ["read"], "ttlSecs": 600 }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let token = body["token"].as_str().expect("a token").to_owned();

    let child = tokio::process::Command::new("node")
        .arg(dir.join("foundation.js"))
        .current_dir(&dir)
        .env("E2E_URL", &daemon.base)
        .env("E2E_ADMIN_KEY", &daemon.key)
        .env("E2E_OTHER_KEY", &other_key)
        .env("E2E_TOKEN", &token)
        .env("E2E_DEVICE", "e2e")
        .env("E2E_TIMEOUT_MS", "30000")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("node runs (is Node.js installed?)");
    let output = tokio::time::timeout(NODE_TIMEOUT, child.wait_with_output())
        .await
        .expect("the node scenario finishes within 60 s")
        .expect("node's output is readable");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && stdout.contains("OK"),
        "node scenario failed ({}):\n--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}",
        output.status
    );

    daemon.stop().await;
}
