//! Runs the Node scenarios in `tests/e2e/` (official socket.io-client) against an in-process
//! daemon: `foundation.js` (linking, handshake authentication and resume), `messaging.js`
//! (sending, acks, echoing contacts, read receipts and typing), `limits.js` (one inbound
//! rate budget per connection) and `docs.js` (the API browser's script).

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

/// Runs `tests/e2e/<script>` with node against `daemon`: `E2E_URL`, `E2E_ADMIN_KEY` and
/// `E2E_TIMEOUT_MS` are set for every scenario, `env` adds its own. Panics with the scenario's
/// output unless it exits 0 and prints `OK`.
async fn run_scenario(daemon: &TestDaemon, script: &str, env: &[(&str, &str)]) {
    let dir = e2e_dir();
    ensure_node_modules(&dir).await;
    let child = tokio::process::Command::new("node")
        .arg(dir.join(script))
        .current_dir(&dir)
        .env("E2E_URL", &daemon.base)
        .env("E2E_ADMIN_KEY", &daemon.key)
        .env("E2E_TIMEOUT_MS", "30000")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("node runs (is Node.js installed?)");
    let output = tokio::time::timeout(NODE_TIMEOUT, child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("the node scenario {script} finishes within 60 s"))
        .expect("node's output is readable");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && stdout.contains("OK"),
        "node scenario {script} failed ({}):\n--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}",
        output.status
    );
}

#[tokio::test]
async fn official_client_links_authenticates_and_resumes() {
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

    run_scenario(
        &daemon,
        "foundation.js",
        &[
            ("E2E_OTHER_KEY", &other_key),
            ("E2E_TOKEN", &token),
            ("E2E_DEVICE", "e2e"),
        ],
    )
    .await;

    daemon.stop().await;
}

#[tokio::test]
async fn official_client_sends_acks_reads_and_types() {
    let daemon = TestDaemon::start().await;
    daemon
        .ready_device(
            "chat",
            json!({
                "server_ack_ms": 20,
                "delivered_ms": 60,
                "read_ms": 150,
                "typing_ms": 100,
                "contacts": [
                    { "id": "15550000002@c.us", "name": "Alice", "behaviour": "echo" },
                    { "id": "15550000003@c.us", "name": "Bob", "behaviour": "silent" },
                ],
            }),
        )
        .await;

    run_scenario(&daemon, "messaging.js", &[("E2E_DEVICE", "chat")]).await;

    daemon.stop().await;
}

#[tokio::test]
async fn official_client_shares_one_rate_budget_across_the_namespaces_of_a_connection() {
    const BUDGET: u32 = 4;
    let daemon = TestDaemon::start_with(|settings, _| {
        settings.limits.events_per_minute = BUDGET;
    })
    .await;
    daemon.create_device("budget").await;

    run_scenario(
        &daemon,
        "limits.js",
        &[
            ("E2E_DEVICE", "budget"),
            ("E2E_BUDGET", &BUDGET.to_string()),
        ],
    )
    .await;

    daemon.stop().await;
}

#[tokio::test]
async fn the_api_browser_draws_every_operation_and_sends_with_the_typed_key() {
    let daemon = TestDaemon::start().await;
    run_scenario(&daemon, "docs.js", &[]).await;
    daemon.stop().await;
}
