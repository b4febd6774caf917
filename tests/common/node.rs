//! Running the Node scenarios of `tests/e2e/` (the official `socket.io-client`) against a test
//! daemon.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use super::TestDaemon;

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
pub async fn run_scenario(daemon: &TestDaemon, script: &str, env: &[(&str, &str)]) {
    run_scenario_within(daemon, script, env, NODE_TIMEOUT).await;
}

/// [`run_scenario`] for a scenario that may take longer (a browser's), within `limit`.
pub async fn run_scenario_within(
    daemon: &TestDaemon,
    script: &str,
    env: &[(&str, &str)],
    limit: Duration,
) {
    let scenario_ms = limit
        .saturating_sub(Duration::from_secs(5))
        .as_millis()
        .to_string();
    let dir = e2e_dir();
    ensure_node_modules(&dir).await;
    let child = tokio::process::Command::new("node")
        .arg(dir.join(script))
        .current_dir(&dir)
        .env("E2E_URL", &daemon.base)
        .env("E2E_ADMIN_KEY", &daemon.key)
        .env(
            "E2E_TIMEOUT_MS",
            if limit == NODE_TIMEOUT {
                "30000"
            } else {
                &scenario_ms
            },
        )
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("node runs (is Node.js installed?)");
    let output = tokio::time::timeout(limit, child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("the node scenario {script} finishes within {limit:?}"))
        .expect("node's output is readable");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && stdout.contains("OK"),
        "node scenario {script} failed ({}):\n--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}",
        output.status
    );
}
