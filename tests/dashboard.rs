//! The dashboard as the daemon serves it: its page at `/` and at its own views' paths, its
//! bundle precompressed and cached for good, and a Content-Security-Policy on every answer
//! that lets the page reach nothing but the daemon. The bundle must be in this build: the
//! test command runs where npm is (`.ci/run` installs it), so a build that left the dashboard
//! out fails here instead of shipping a page that says "install Node.js".

mod common;

use std::io::Read;

use common::{TestDaemon, WAIT};
use reqwest::header::{
    ACCEPT_ENCODING, CACHE_CONTROL, CONTENT_ENCODING, CONTENT_SECURITY_POLICY, CONTENT_TYPE,
};
use reqwest::StatusCode;
use serde_json::json;

async fn fetch(daemon: &TestDaemon, path: &str, gzip: bool) -> reqwest::Response {
    let mut request = daemon.http.get(format!("{}{path}", daemon.base));
    if gzip {
        request = request.header(ACCEPT_ENCODING, "br;q=1.0, gzip;q=0.8");
    }
    request.send().await.unwrap()
}

fn header(response: &reqwest::Response, name: reqwest::header::HeaderName) -> &str {
    response
        .headers()
        .get(&name)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_else(|| panic!("no {name} header"))
}

#[tokio::test]
async fn the_dashboard_is_served_from_the_binary_at_its_views_paths() {
    assert!(
        devicebridge::api::dashboard::is_embedded(),
        "this build has no dashboard: build.rs could not bundle web/ (is npm installed?)"
    );
    let daemon = TestDaemon::start().await;
    let home = fetch(&daemon, "/", false).await;
    assert_eq!(home.status(), StatusCode::OK);
    assert!(header(&home, CONTENT_TYPE).starts_with("text/html"));
    let policy = header(&home, CONTENT_SECURITY_POLICY).to_owned();
    assert!(policy.contains("default-src 'self'"), "{policy}");
    assert!(policy.contains("script-src 'self'"), "{policy}");
    assert!(!policy.contains("unsafe"), "{policy}");
    assert_eq!(header(&home, CACHE_CONTROL), "no-cache");
    let page = home.text().await.unwrap();

    // A deep link reloads to the same page, which routes itself.
    for view in [
        "/devices/demo",
        "/devices/demo/chats/15550000002@c.us",
        "/events",
        "/admin",
        "/docs",
    ] {
        let deep = fetch(&daemon, view, false).await;
        assert_eq!(deep.status(), StatusCode::OK, "{view}");
        assert_eq!(deep.text().await.unwrap(), page, "{view}");
    }

    // Its scripts come from the daemon, precompressed and cached for good (their names change
    // with their content).
    let script = page
        .split("src=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .find(|src| src.starts_with("/assets/") && src.ends_with(".js"))
        .unwrap_or_else(|| panic!("no bundled script in the page: {page}"));
    let plain = fetch(&daemon, script, false).await;
    assert_eq!(plain.status(), StatusCode::OK);
    assert!(header(&plain, CONTENT_TYPE).starts_with("text/javascript"));
    assert!(header(&plain, CACHE_CONTROL).contains("immutable"));
    assert!(plain.headers().get(CONTENT_ENCODING).is_none());
    let plain = plain.bytes().await.unwrap();
    let packed = fetch(&daemon, script, true).await;
    assert_eq!(header(&packed, CONTENT_ENCODING), "gzip");
    let packed = packed.bytes().await.unwrap();
    assert!(packed.len() < plain.len(), "gzip makes it smaller");
    let mut unpacked = Vec::new();
    flate2::read::GzDecoder::new(&packed[..])
        .read_to_end(&mut unpacked)
        .unwrap();
    assert_eq!(unpacked, plain, "the gzipped file is the same file");

    let missing = fetch(&daemon, "/assets/no-such-file.js", false).await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    // The API's own answers are unchanged beside it.
    let (status, _) = daemon.get("/api/v1/no-such-route").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

/// The daemon's own files, whatever the build: the icon browsers ask for by themselves and the
/// one its pages link to, and the stylesheet of the pages a phone opens from a simulator QR
/// code, which are under the same policy (no inline style) and link it.
#[tokio::test]
async fn the_icon_and_the_pairing_pages_stylesheet_are_served() {
    let daemon = TestDaemon::start().await;
    for (path, kind) in [
        ("/favicon.ico", "image/"),
        ("/favicon.svg", "image/svg+xml"),
        ("/pair.css", "text/css"),
    ] {
        let file = fetch(&daemon, path, false).await;
        assert_eq!(file.status(), StatusCode::OK, "{path}");
        assert!(header(&file, CONTENT_TYPE).starts_with(kind), "{path}");
        assert!(header(&file, CONTENT_SECURITY_POLICY).contains("default-src 'self'"));
        assert!(!file.bytes().await.unwrap().is_empty(), "{path}");
    }
    let page = fetch(&daemon, "/", false).await.text().await.unwrap();
    assert!(page.contains("href=\"/favicon.svg\""), "{page}");

    daemon.create_device("pairing").await;
    let mut client = daemon.socket("pairing", json!({})).await;
    let qr = client.wait_for("qr", WAIT).await.unwrap();
    let pairing = daemon
        .http
        .get(qr.data["qr"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(pairing.status(), StatusCode::OK);
    let policy = header(&pairing, CONTENT_SECURITY_POLICY).to_owned();
    assert!(policy.contains("style-src 'self'"), "{policy}");
    let html = pairing.text().await.unwrap();
    assert!(
        html.contains("<link rel=\"stylesheet\" href=\"/pair.css\">"),
        "{html}"
    );
    assert!(
        !html.contains("<style") && !html.contains("style="),
        "{html}"
    );
    assert!(html.contains("<form method=\"post\">"), "{html}");
    daemon.stop().await;
}

/// Runs one of web/'s npm scripts where the build installed its packages, with `env`.
async fn npm(script: &str, env: &[(&str, &str)]) {
    let work = env!("DEVICEBRIDGE_DASHBOARD_WORK");
    let output = tokio::process::Command::new("npm")
        .args(["run", script, "--silent"])
        .current_dir(work)
        .envs(env.iter().copied())
        .kill_on_drop(true)
        .output()
        .await
        .unwrap_or_else(|e| panic!("cannot run `npm run {script}` in {work}: {e}"));
    assert!(
        output.status.success(),
        "`npm run {script}` in {work} failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The dashboard's own unit tests (Vitest: ticks, resume, optimistic sends).
#[tokio::test]
async fn the_dashboards_client_logic_passes_its_unit_tests() {
    npm("test", &[]).await;
}

/// The dashboard's client (sign-in, token renewal, the fleet, a device's session, sends) and
/// its views in a simulated DOM, against this daemon with a linked simulator device `demo`.
#[tokio::test]
async fn the_dashboards_client_works_against_the_daemon() {
    let daemon = TestDaemon::start().await;
    daemon
        .ready_device(
            "demo",
            json!({
                "phone": "15550000001", "read_ms": 200, "typing_ms": 300,
                "contacts": [{ "id": "15550000002@c.us", "name": "Alice", "behaviour": "echo" }],
            }),
        )
        .await;
    npm(
        "test:daemon",
        &[
            ("DEVICEBRIDGE_URL", daemon.base.as_str()),
            ("DEVICEBRIDGE_API_KEY", daemon.key.as_str()),
        ],
    )
    .await;
    daemon.stop().await;
}
