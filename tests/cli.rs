//! The real `devicebridge` binary, run as a separate process: `serve` with its first-run banner,
//! terminal QR code and clean SIGTERM shutdown, the client subcommands driving it over REST (a
//! typed code's `pair --phone` among them), and the errors a user sees for a bad configuration
//! or a missing API key.

mod common;

use std::path::Path;
use std::process::Output;
use std::time::Duration;

use common::binary::{command, Daemon};
use serde_json::{json, Value};
use tokio::process::Command;

/// How long the daemon may take to print something expected (it is already built).
const STARTUP: Duration = Duration::from_secs(30);
/// How long one client subcommand may run.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(30);

/// Runs a command to completion; past [`CLIENT_TIMEOUT`] it is dropped, which kills it.
async fn run(command: &mut Command) -> Output {
    tokio::time::timeout(CLIENT_TIMEOUT, command.output())
        .await
        .unwrap_or_else(|_| panic!("{command:?} did not finish within {CLIENT_TIMEOUT:?}"))
        .unwrap_or_else(|error| panic!("cannot run {command:?}: {error}"))
}

fn describe(output: &Output) -> String {
    format!(
        "exit: {}\nstdout:\n{}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Whether `text` mentions the configuration key `key` as a whole (`qr.ttl`, not `qr.ttl_secs`).
fn names_key(text: &str, key: &str) -> bool {
    text.match_indices(key).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + key.len()..].chars().next();
        let part_of_name = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
        !part_of_name(before) && !part_of_name(after) && before != Some('.')
    })
}

/// A supervisor may stop the daemon the moment it says it listens: it stops in order (exit 0)
/// rather than being killed by the signal.
#[cfg(unix)]
#[tokio::test]
async fn a_sigterm_as_soon_as_it_listens_stops_it_in_order() {
    for _ in 0..5 {
        let temp = tempfile::tempdir().unwrap();
        let mut daemon = Daemon::spawn(temp.path(), &[]);
        daemon.base_url().await;
        let status = daemon.terminate().await;
        assert!(status.success(), "devicebridge exited with {status}");
    }
}

#[cfg(unix)]
#[tokio::test]
async fn the_binary_serves_links_the_demo_device_and_stops_on_sigterm() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path();
    std::fs::create_dir_all(dir.join("devices")).unwrap();
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("devices/demo.toml"),
        dir.join("devices/demo.toml"),
    )
    .unwrap();
    let data_dir = dir.join("data");

    let mut daemon = Daemon::spawn(dir, &[]);
    let url = daemon.base_url().await;
    let address: std::net::SocketAddr = url["http://".len()..]
        .parse()
        .unwrap_or_else(|_| panic!("not an address: {url:?}"));
    assert!(address.ip().is_loopback() && address.port() != 0);

    // The first-run banner shows the generated admin key, which is also in a private file.
    let key_file = data_dir.join("admin-api-key");
    let key = std::fs::read_to_string(&key_file)
        .unwrap_or_else(|error| panic!("cannot read {}: {error}", key_file.display()))
        .trim()
        .to_owned();
    assert!(!key.is_empty(), "the admin key file is empty");
    daemon
        .wait_for("first-run banner", STARTUP, |line| {
            line.contains("First run").then_some(())
        })
        .await;
    daemon
        .wait_for("admin key in the banner", STARTUP, |line| {
            (line.trim() == key).then_some(())
        })
        .await;
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key_file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "admin-api-key has mode {mode:o}");
    }

    // The demo device waits to be linked and draws its QR code on the terminal.
    let pair_url = daemon
        .wait_for("`devicebridge pair <url>` line", STARTUP, |line| {
            let rest = &line[line.find("devicebridge pair ")? + "devicebridge pair ".len()..];
            let end = rest.find('`').unwrap_or(rest.len());
            Some(rest[..end].trim().to_owned())
        })
        .await;
    assert!(
        pair_url.contains("/pair/"),
        "not a pairing URL: {pair_url:?}"
    );
    daemon
        .wait_for("QR rendering", STARTUP, |line| {
            line.contains('█').then_some(())
        })
        .await;

    let client = |args: &[&str]| {
        let mut client = command(dir);
        client
            .args(args)
            .args(["--url", url.as_str(), "--api-key", key.as_str()]);
        client
    };

    let list = run(&mut client(&["devices", "list"])).await;
    assert!(list.status.success(), "devices list: {}", describe(&list));
    let listed = String::from_utf8_lossy(&list.stdout);
    assert!(
        listed
            .lines()
            .any(|line| line.split_whitespace().next() == Some("demo")),
        "devices list does not list demo: {}",
        describe(&list)
    );

    let qr = run(&mut client(&["qr", "demo"])).await;
    assert!(qr.status.success(), "qr demo: {}", describe(&qr));
    let shown = String::from_utf8_lossy(&qr.stdout);
    assert!(
        shown.lines().any(|line| line.trim() == pair_url),
        "qr demo does not print {pair_url}: {}",
        describe(&qr)
    );
    assert!(
        shown.contains('█'),
        "qr demo draws no QR: {}",
        describe(&qr)
    );

    // A code for a phone number is typed with its number: from another number it links
    // nothing, and the refusal says why.
    let issued: Value = reqwest::Client::new()
        .post(format!("{url}/api/v1/devices/demo/pairing-code"))
        .header("x-api-key", key.as_str())
        .json(&json!({ "phone": "+15550000009" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let code = issued["code"].as_str().expect("a code").to_owned();
    let elsewhere = run(&mut client(&["pair", &code, "--phone", "15550000008"])).await;
    assert!(
        !elsewhere.status.success()
            && String::from_utf8_lossy(&elsewhere.stderr).contains("phone_mismatch"),
        "pair --phone with another number: {}",
        describe(&elsewhere)
    );

    let pair = run(&mut client(&["pair", pair_url.as_str()])).await;
    assert!(pair.status.success(), "pair: {}", describe(&pair));
    assert!(
        String::from_utf8_lossy(&pair.stdout).contains("linked device demo"),
        "pair: {}",
        describe(&pair)
    );

    // The daemon logs each state a device reaches once it is stored.
    daemon
        .wait_for("demo's `ready` state in the log", STARTUP, |line| {
            let ready = line.contains("device state")
                && line.contains("device_id=demo")
                && line.contains("state=ready");
            ready.then_some(())
        })
        .await;
    let show = run(&mut client(&["devices", "show", "demo"])).await;
    assert!(
        show.status.success(),
        "devices show demo: {}",
        describe(&show)
    );
    let device: Value = serde_json::from_slice(&show.stdout)
        .unwrap_or_else(|error| panic!("devices show demo: {error}: {}", describe(&show)));
    assert_eq!(device["state"], "ready", "devices show demo: {device:#}");

    // Sending from the shell: the daemon accepts the message and prints it.
    let send = run(&mut client(&[
        "send",
        "demo",
        "15550000002@c.us",
        "hello from the shell",
    ]))
    .await;
    assert!(send.status.success(), "send: {}", describe(&send));
    let sent: Value = serde_json::from_slice(&send.stdout)
        .unwrap_or_else(|error| panic!("send: {error}: {}", describe(&send)));
    assert_eq!(sent["chatId"], "15550000002@c.us", "{sent}");
    assert_eq!(sent["body"], "hello from the shell", "{sent}");
    assert_eq!(sent["fromMe"], true, "{sent}");
    assert!(sent["id"].as_str().is_some_and(|id| id.starts_with("msg_")));
    // A file from the disk: uploaded, then sent with its caption.
    let picture = dir.join("dot.png");
    std::fs::write(&picture, b"\x89PNG\r\n\x1a\n a dot").unwrap();
    let send = run(&mut client(&[
        "send",
        "demo",
        "15550000002@c.us",
        "a dot",
        "--file",
        picture.to_str().unwrap(),
    ]))
    .await;
    assert!(send.status.success(), "send --file: {}", describe(&send));
    let sent: Value = serde_json::from_slice(&send.stdout)
        .unwrap_or_else(|error| panic!("send --file: {error}: {}", describe(&send)));
    assert_eq!(
        (
            &sent["type"],
            &sent["body"],
            &sent["media"]["name"],
            &sent["media"]["mime"]
        ),
        (
            &json!("image"),
            &json!("a dot"),
            &json!("dot.png"),
            &json!("image/png")
        ),
        "{sent}"
    );
    let uploaded = reqwest::Client::new()
        .get(sent["media"]["url"].as_str().unwrap())
        .header("x-api-key", key.as_str())
        .send()
        .await
        .unwrap();
    assert_eq!(
        uploaded.bytes().await.unwrap(),
        std::fs::read(&picture).unwrap()
    );
    let nothing = run(&mut client(&["send", "demo", "15550000002@c.us"])).await;
    assert!(
        !nothing.status.success()
            && String::from_utf8_lossy(&nothing.stderr).contains("nothing to send"),
        "send without text or file: {}",
        describe(&nothing)
    );
    let unknown = run(&mut client(&["send", "demo", "nobody/?#@c.us", "hello"])).await;
    assert!(
        String::from_utf8_lossy(&unknown.stderr).contains("chat_not_found"),
        "send to an unknown chat: {}",
        describe(&unknown)
    );

    let invalid = run(&mut client(&["devices", "show", "Nope"])).await;
    assert!(
        !invalid.status.success(),
        "devices show Nope succeeded: {}",
        describe(&invalid)
    );
    assert!(
        String::from_utf8_lossy(&invalid.stderr).contains("invalid_device_id"),
        "devices show Nope: {}",
        describe(&invalid)
    );

    let status = daemon.terminate().await;
    assert_eq!(status.code(), Some(0), "devicebridge exited with {status}");
    daemon
        .wait_for("`stopped`", STARTUP, |line| {
            (line.split_whitespace().next_back() == Some("stopped")).then_some(())
        })
        .await;
}

/// The first start of a fresh checkout, as the README has it: `devicebridge` with no
/// subcommand (`serve`'s `--bind` given without it, to get a free port), on a host without a
/// desktop session, in a build without sounds, its output going to a file or a pipe.
#[cfg(unix)]
#[tokio::test]
async fn a_first_start_shows_the_key_and_one_code_with_its_link_under_it_and_no_warning() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path();
    std::fs::create_dir_all(dir.join("devices")).unwrap();
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("devices/demo.toml"),
        dir.join("devices/demo.toml"),
    )
    .unwrap();
    let no_bus = format!("unix:path={}", dir.join("no-session-bus").display());
    let mut daemon = Daemon::spawn_as_user(
        dir,
        &["--bind", "127.0.0.1:0"],
        &[
            ("DBUS_SESSION_BUS_ADDRESS", no_bus),
            // At any time of day: in quiet hours the hooks would not try.
            ("DEVICEBRIDGE__HOOKS__QUIET_HOURS", String::new()),
        ],
    );
    daemon.base_url().await;
    // The code is drawn, and each hook has tried it and found it cannot run here.
    daemon
        .wait_for("the pairing command under the code", STARTUP, |line| {
            line.starts_with("or run: devicebridge pair ").then_some(())
        })
        .await;
    for hook in ["sound", "desktop"] {
        daemon
            .wait_for("a hook reported as off on this host", STARTUP, |line| {
                let off = line.contains("hook cannot run on this host") && line.contains(hook);
                off.then_some(())
            })
            .await;
    }
    let status = daemon.terminate().await;
    assert_eq!(status.code(), Some(0), "devicebridge exited with {status}");

    let lines = daemon.lines_read();
    let shown = lines.join("\n");
    assert!(
        !shown.contains("WARN"),
        "a warning on a first start:\n{shown}"
    );
    assert!(
        !shown.contains('\x1b'),
        "escape codes in output that is not a terminal:\n{shown}"
    );
    let key = std::fs::read_to_string(dir.join("data/admin-api-key")).unwrap();
    let at = |what: &str, found: &dyn Fn(&str) -> bool| {
        let found: Vec<_> = (0..lines.len()).filter(|i| found(&lines[*i])).collect();
        assert!(!found.is_empty(), "no {what}:\n{shown}");
        found
    };
    at("admin key", &|line| line.trim() == key.trim());
    let headers = at("QR code", &|line| {
        line.starts_with("Scan to link device `demo`")
    });
    assert_eq!(headers.len(), 1, "one code, drawn once:\n{shown}");
    let drawn = at("QR drawing", &|line| line.contains('█'));
    let link = at("pairing link", &|line| {
        line.starts_with("http://localhost:") && line.contains("/pair/")
    });
    let command = at("pairing command", &|line| {
        line.starts_with("or run: devicebridge pair http://localhost:")
    });
    assert!(
        headers[0] < drawn[0] && drawn[drawn.len() - 1] < link[0] && link[0] < command[0],
        "the link is not under the code:\n{shown}"
    );
    assert!(lines[command[0]].ends_with(&lines[link[0]]), "{shown}");
}

#[tokio::test]
async fn a_refusal_names_the_command_that_fixes_it() {
    let daemon = common::TestDaemon::start().await;
    daemon.create_device("demo").await;
    let (status, body) = daemon.post("/api/v1/devices/demo/stop", json!({})).await;
    assert_eq!(status, reqwest::StatusCode::OK, "{body}");
    let cases: [(&[&str], &str); 4] = [
        (
            &["qr", "demo"],
            "invalid_state: the device is not showing a QR code",
        ),
        (&["devices", "stop", "demo"], "invalid_state"),
        (&["devices", "show", "nope"], "device_not_found"),
        (&["devices", "show", "Nope"], "invalid_device_id"),
    ];
    let fixes = [
        "start it with: devicebridge devices start demo",
        "start it with: devicebridge devices start demo",
        "see the devices with: devicebridge devices list",
        "see the devices with: devicebridge devices list",
    ];
    for ((args, refusal), fix) in cases.into_iter().zip(fixes) {
        let mut client = command(daemon.dir());
        client
            .args(args)
            .args(["--url", &daemon.base, "--api-key", &daemon.key]);
        let output = run(&mut client).await;
        let said = String::from_utf8_lossy(&output.stderr);
        assert!(
            output.status.code() == Some(1) && said.contains(refusal) && said.contains(fix),
            "{args:?}: {}",
            describe(&output)
        );
    }
    // A daemon that is not there: the command that starts it.
    let mut client = command(daemon.dir());
    client.args([
        "devices",
        "list",
        "--url",
        "http://127.0.0.1:9",
        "--api-key",
        "k",
    ]);
    let output = run(&mut client).await;
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("Start it with: devicebridge"),
        "{}",
        describe(&output)
    );
    // `serve`'s flags belong to `serve`.
    let mut client = command(daemon.dir());
    client.args(["--bind", "127.0.0.1:0", "devices", "list"]);
    let output = run(&mut client).await;
    assert_eq!(output.status.code(), Some(2), "{}", describe(&output));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("`--bind` is for `serve`"),
        "{}",
        describe(&output)
    );
    daemon.stop().await;
}

#[cfg(unix)]
#[tokio::test]
async fn the_listening_line_is_printed_when_the_log_level_hides_info() {
    let temp = tempfile::tempdir().unwrap();
    let mut daemon = Daemon::spawn(temp.path(), &[("RUST_LOG", "warn".to_owned())]);
    let url = daemon.base_url().await;
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    daemon.kill().await;
}

#[cfg(unix)]
#[tokio::test]
async fn serve_api_key_adds_an_admin_key_and_serve_url_is_refused() {
    let temp = tempfile::tempdir().unwrap();
    let mut daemon = Daemon::spawn_with(temp.path(), &["--api-key", "flag-key-123"], &[]);
    let url = daemon.base_url().await;
    let status = reqwest::Client::new()
        .get(format!("{url}/api/v1/keys"))
        .header("x-api-key", "flag-key-123")
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, reqwest::StatusCode::OK);
    daemon.kill().await;

    let mut serve = command(temp.path());
    serve.args(["serve", "--url", "http://127.0.0.1:9"]);
    let output = run(&mut serve).await;
    assert_eq!(output.status.code(), Some(2), "{}", describe(&output));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("`--url` is for the client"),
        "{}",
        describe(&output)
    );
}

#[tokio::test]
async fn ids_cannot_walk_to_another_route() {
    let daemon = common::TestDaemon::start().await;
    let (_, key) = daemon
        .post(
            "/api/v1/keys",
            json!({ "name": "kept", "scopes": ["read"] }),
        )
        .await;
    let key_id = key["id"].as_str().unwrap();
    let walk = format!("../keys/{key_id}");
    let cases: [&[&str]; 4] = [
        &["devices", "remove", &walk],
        &["devices", "start", "Not-A-Device"],
        &["keys", "revoke", ".."],
        &["send", "demo", "..", "hi"],
    ];
    for args in cases {
        let mut client = command(daemon.dir());
        client
            .args(args)
            .args(["--url", &daemon.base, "--api-key", &daemon.key]);
        let output = run(&mut client).await;
        assert_eq!(
            output.status.code(),
            Some(1),
            "{args:?}: {}",
            describe(&output)
        );
    }
    // An id with a slash is one segment, not a path: no such key, and nothing else touched.
    let mut revoke = command(daemon.dir());
    revoke
        .args(["keys", "revoke", &walk])
        .args(["--url", &daemon.base, "--api-key", &daemon.key]);
    let output = run(&mut revoke).await;
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("key_not_found"),
        "{}",
        describe(&output)
    );
    let (_, keys) = daemon.get("/api/v1/keys").await;
    assert!(
        keys["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|k| k["id"] == key_id),
        "the key was revoked: {keys}"
    );
}

#[tokio::test]
async fn configuration_problems_are_reported_at_once() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path();
    let config = dir.join("broken.toml");
    std::fs::write(
        &config,
        "[server]\nbnd = \"127.0.0.1:0\"\n\n[qr]\nttl = 5\n\n[limits]\nmax_message_bytes = \"big\"\n\n[log]\nlevel = \"verbose\"\n",
    )
    .unwrap();
    let data_dir = dir.join("data");

    let mut serve = command(dir);
    serve
        .arg("serve")
        .arg("--config")
        .arg(&config)
        .arg("--data-dir")
        .arg(&data_dir);
    let output = run(&mut serve).await;

    assert!(!output.status.success(), "{}", describe(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    for key in [
        "server.bnd",
        "qr.ttl",
        "limits.max_message_bytes",
        "log.level",
    ] {
        assert!(
            names_key(&stderr, key),
            "the error does not name {key}: {}",
            describe(&output)
        );
    }
    assert!(
        !data_dir.exists(),
        "the daemon created its data directory despite a broken configuration"
    );
}

#[tokio::test]
async fn no_api_key_is_a_clear_client_error() {
    let temp = tempfile::tempdir().unwrap();
    let mut list = command(temp.path());
    list.args(["devices", "list", "--url", "http://127.0.0.1:9"]);
    let output = run(&mut list).await;

    assert!(!output.status.success(), "{}", describe(&output));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("API key"),
        "{}",
        describe(&output)
    );
}
