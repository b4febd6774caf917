//! The README's commands, run for real, one after the other in the order the README gives
//! them, as a reader runs them: every `curl`, `devicebridge` and `export` line of its shell
//! blocks, and the `curl` of its container health check. The line that starts the daemon
//! (`devicebridge`, which is `serve`) starts the built binary there, in a fresh directory
//! holding the shipped demo device (its first run), with `webhooks.allow_private` as the
//! README asks for a local receiver. They run under `sh -u` (a variable no command before set
//! fails the line) with the real `curl` and the built `devicebridge` on the `PATH`; the only
//! change is the address: `http://localhost:3000` becomes the test daemon's, on a free port
//! (`--bind 127.0.0.1:0` for the daemon, `DEVICEBRIDGE_URL` for the CLI). Each variable the
//! README uses is set by an `export` line before it, and kept for the lines after. Each line
//! must exit 0, and where the README shows the answer (`# → …` under the command) the output
//! must have what it shows.
//!
//! A shell line the test does not know how to run fails it, so the README cannot show a
//! command that is not tried here. `cargo …` commands are the exception: they build the binary
//! this test runs, and run the tests.
#![cfg(unix)]

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use common::binary::Daemon;
use common::{wait_state, TestDaemon};
use devicebridge::config;
use serde_json::{json, Value};

/// The address the README's examples use.
const README_ADDRESS: &str = "http://localhost:3000";
/// What marks an answer the README shows under its command.
const SHOWN: &str = "# → ";
/// What stands for the parts of a shown answer left out.
const ELLIPSIS: char = '…';
/// How long one command may take.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);

/// One command of the README.
#[derive(Debug)]
struct Example {
    /// Its first line in the README, for messages.
    line: usize,
    /// The command as written, continuation lines joined.
    command: String,
    /// The answer shown under it, one entry per `# → ` line.
    shown: Vec<String>,
}

impl Example {
    /// The program it runs: its first word after any `NAME=value` assignments.
    fn program(&self) -> &str {
        self.command
            .split_whitespace()
            .find(|word| !is_assignment(word))
            .unwrap_or_default()
    }
}

/// Whether `word` is a shell variable assignment, `NAME=value`.
fn is_assignment(word: &str) -> bool {
    word.split_once('=').is_some_and(|(name, _)| {
        !name.is_empty()
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && !name.starts_with(|c: char| c.is_ascii_digit())
    })
}

/// The commands of the README's shell blocks (` ```sh `), and the commands of its Dockerfile
/// blocks' `CMD` instructions, in order.
fn examples(readme: &str) -> Vec<Example> {
    let mut examples: Vec<Example> = Vec::new();
    let mut block: Option<&str> = None;
    let mut pending: Option<(usize, String)> = None;
    for (index, line) in readme.lines().enumerate() {
        let number = index + 1;
        if let Some(fence) = line.trim_start().strip_prefix("```") {
            block = match block {
                None => Some(fence.trim()),
                Some(_) => None,
            };
            continue;
        }
        let text = line.trim();
        match block {
            Some("sh" | "shell" | "bash") => {
                if let Some((start, mut command)) = pending.take() {
                    command.push(' ');
                    command.push_str(text.trim_end_matches('\\').trim());
                    match text.ends_with('\\') {
                        true => pending = Some((start, command)),
                        false => examples.push(Example {
                            line: start,
                            command,
                            shown: Vec::new(),
                        }),
                    }
                } else if let Some(shown) = text.strip_prefix(SHOWN) {
                    examples
                        .last_mut()
                        .unwrap_or_else(|| panic!("README:{number}: an answer under no command"))
                        .shown
                        .push(shown.to_owned());
                } else if text.is_empty() || text.starts_with('#') {
                    // A blank line or a comment for the reader.
                } else if let Some(command) = text.strip_suffix('\\') {
                    pending = Some((number, command.trim().to_owned()));
                } else {
                    examples.push(Example {
                        line: number,
                        command: text.to_owned(),
                        shown: Vec::new(),
                    });
                }
            }
            Some("dockerfile" | "Dockerfile") => {
                if let Some((_, command)) = text.split_once(" CMD ") {
                    examples.push(Example {
                        line: number,
                        command: command.trim().to_owned(),
                        shown: Vec::new(),
                    });
                }
            }
            _ => {}
        }
    }
    assert!(pending.is_none(), "the README ends inside a command");
    examples
}

/// `shown` with the parts it leaves out made JSON: `…` for a value becomes the string `"…"`
/// (any value), a `…` member or item is dropped (the answer may have more). `…` inside a
/// string stays (any text in its place).
fn shown_json(shown: &str) -> String {
    let mut json = String::with_capacity(shown.len());
    let (mut in_string, mut escaped) = (false, false);
    for c in shown.chars() {
        if in_string {
            json.push(c);
            (in_string, escaped) = match (escaped, c) {
                (true, _) => (true, false),
                (false, '\\') => (true, true),
                (false, '"') => (false, false),
                (false, _) => (true, false),
            };
            continue;
        }
        if c == ELLIPSIS {
            match json.trim_end().chars().last() {
                Some(':') => json.push_str("\"…\""),
                Some(',') => json.truncate(json.trim_end().len() - 1),
                _ => {}
            }
            continue;
        }
        in_string = c == '"';
        json.push(c);
    }
    json
}

/// Whether `actual` has what `shown` shows: every member of a shown object (recursively),
/// every item of a shown array at its place, `"…"` for any value, and in a string, any text
/// where `…` stands. Returns where they differ.
fn has_shown(shown: &Value, actual: &Value, at: &str) -> Result<(), String> {
    let differ = || Err(format!("at {at}: shown {shown}, got {actual}"));
    match (shown, actual) {
        (Value::String(text), _) if text == "…" => Ok(()),
        (Value::String(text), Value::String(got)) if text.contains(ELLIPSIS) => {
            let (start, end) = text.split_once(ELLIPSIS).unwrap();
            match got.len() >= start.len() + end.len()
                && got.starts_with(start)
                && got.ends_with(end)
            {
                true => Ok(()),
                false => differ(),
            }
        }
        (Value::Object(members), Value::Object(got)) => {
            for (name, value) in members {
                let got = got.get(name).unwrap_or(&Value::Null);
                if got.is_null() && !value.is_null() {
                    return Err(format!("at {at}: no `{name}` in {actual}"));
                }
                has_shown(value, got, &format!("{at}.{name}"))?;
            }
            Ok(())
        }
        (Value::Array(items), Value::Array(got)) if items.len() <= got.len() => items
            .iter()
            .zip(got)
            .enumerate()
            .try_for_each(|(index, (item, got))| has_shown(item, got, &format!("{at}[{index}]"))),
        _ if shown == actual => Ok(()),
        _ => differ(),
    }
}

/// Whether `output` has what `shown` shows: the same JSON fields (see [`has_shown`]), or, for
/// text, each of its words, in order.
fn check_shown(shown: &[String], output: &str) -> Result<(), String> {
    let shown = shown.join("\n");
    if shown.starts_with(['{', '[']) {
        let expected: Value = serde_json::from_str(&shown_json(&shown))
            .map_err(|error| format!("the shown answer is not JSON ({error}): {shown}"))?;
        let actual: Value = serde_json::from_str(output)
            .map_err(|error| format!("the answer is not JSON ({error}): {output}"))?;
        return has_shown(&expected, &actual, "$");
    }
    let mut rest = output;
    for word in shown.split_whitespace().filter(|word| *word != "…") {
        match rest.find(word) {
            Some(at) => rest = &rest[at + word.len()..],
            None => return Err(format!("`{word}` (in order) is not in: {output}")),
        }
    }
    Ok(())
}

/// The environment and place the README's commands run in.
struct Shell {
    /// The daemon's directory: `data/admin-api-key` is under it, as the README expects.
    dir: PathBuf,
    /// The daemon's address, once the README has started it.
    base: String,
    /// The variables the README's commands set so far, with their values.
    variables: BTreeMap<String, String>,
}

impl Shell {
    /// Runs `command` under `sh -u` with the address replaced; returns stdout, or why it
    /// failed.
    async fn run(&self, command: &str) -> Result<String, String> {
        let command = command.replace(README_ADDRESS, &self.base);
        let bin = Path::new(env!("CARGO_BIN_EXE_devicebridge"))
            .parent()
            .unwrap();
        let path = std::env::join_paths(std::iter::once(bin.to_path_buf()).chain(
            std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()),
        ))
        .unwrap();
        let mut shell = common::binary::isolated("sh", &self.dir);
        shell
            .args(["-u", "-c"])
            .arg(&command)
            .env("PATH", path)
            .env("DEVICEBRIDGE_URL", &self.base)
            .envs(&self.variables)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let output = tokio::time::timeout(COMMAND_TIMEOUT, shell.output())
            .await
            .map_err(|_| format!("`{command}` did not end within {COMMAND_TIMEOUT:?}"))?
            .map_err(|error| format!("cannot run `{command}`: {error}"))?;
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        if !output.status.success() {
            return Err(format!(
                "`{command}` failed ({}):\n{stdout}\n{}",
                output.status,
                String::from_utf8_lossy(&output.stderr)
            ));
        }
        Ok(stdout)
    }
}

/// The words of a command, without its comment.
fn words(command: &str) -> impl Iterator<Item = &str> {
    command
        .split_whitespace()
        .take_while(|word| !word.starts_with('#'))
}

/// Whether `command` (a `devicebridge` line) runs the daemon: `serve`, given or by default.
/// Its words are taken as they are, without the shell's quoting, which a daemon's line has no
/// need of: a line they are not a command line of is a client's.
fn starts_the_daemon(command: &str) -> bool {
    devicebridge::cli::Cli::from_args(words(command))
        .is_ok_and(|cli| matches!(cli.command, Some(devicebridge::cli::Command::Serve(_))))
}

/// The daemon the README started, and what the test watches it with.
struct Started {
    /// Kept so that the daemon runs until the test ends (it is killed when dropped).
    _daemon: Daemon,
    /// A client of the demo device's namespace, which sees it become `ready`.
    watcher: common::sio::SioClient,
}

/// Starts the daemon as `command` does, in `dir`, on a free port; answers it and its address.
async fn start(command: &str, dir: &Path) -> (Started, String) {
    let mut args: Vec<&str> = words(command).skip(1).collect();
    args.extend(["--bind", "127.0.0.1:0"]);
    let mut daemon = Daemon::spawn_as_user(
        dir,
        &args,
        &[("DEVICEBRIDGE__WEBHOOKS__ALLOW_PRIVATE", "true".to_owned())],
    );
    let base = daemon.base_url().await;
    let key = std::fs::read_to_string(dir.join("data/admin-api-key"))
        .expect("the first run writes the admin key")
        .trim()
        .to_owned();
    let api = TestDaemon::remote(base.clone(), key, dir.to_path_buf());
    let watcher = api.socket("demo", json!({})).await;
    let started = Started {
        _daemon: daemon,
        watcher,
    };
    (started, base)
}

#[tokio::test]
async fn every_command_of_the_readme_runs_in_order_and_answers_what_it_shows() {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
        .expect("README.md");
    let examples = examples(&readme);

    // A fresh checkout's directory: the shipped demo device, no data yet.
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().to_path_buf();
    std::fs::create_dir_all(dir.join("devices")).unwrap();
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("devices/demo.toml"),
        dir.join("devices/demo.toml"),
    )
    .unwrap();
    let mut shell = Shell {
        dir,
        base: String::new(),
        variables: BTreeMap::new(),
    };
    let mut started: Option<Started> = None;
    let mut ran: BTreeMap<String, usize> = BTreeMap::new();
    for example in &examples {
        let at = format!("README:{}: `{}`", example.line, example.command);
        let program = example.program();
        if !matches!(program, "cargo") {
            assert!(
                started.is_some() || starts_the_daemon(&example.command),
                "{at}: runs before the README starts the daemon"
            );
        }
        match program {
            // They build the binary this test runs, and run the tests.
            "cargo" => continue,
            "devicebridge" if starts_the_daemon(&example.command) => {
                assert!(
                    started.is_none(),
                    "{at}: the README starts the daemon twice"
                );
                let (daemon, base) = start(&example.command, &shell.dir).await;
                started = Some(daemon);
                shell.base = base;
                *ran.entry("daemon".to_owned()).or_default() += 1;
            }
            "export" => {
                // The value is what the command gives; the lines after it use it.
                let assignment = example.command["export".len()..].trim();
                let (name, _) = assignment.split_once('=').expect("export NAME=value");
                let value = shell
                    .run(&format!("{} && printf %s \"${name}\"", example.command))
                    .await
                    .unwrap_or_else(|error| panic!("{at}: {error}"));
                assert!(!value.trim().is_empty(), "{at}: sets {name} to nothing");
                shell.variables.insert(name.to_owned(), value);
            }
            program @ ("curl" | "devicebridge") => {
                assert!(
                    !example.command.contains(":3000") || example.command.contains(README_ADDRESS),
                    "{at}: an address the test does not replace"
                );
                let output = shell
                    .run(&example.command)
                    .await
                    .unwrap_or_else(|error| panic!("{at}: {error}"));
                if let Ok(answer) = serde_json::from_str::<Value>(&output) {
                    assert!(answer.get("error").is_none(), "{at}: answered {answer}");
                }
                if !example.shown.is_empty() {
                    check_shown(&example.shown, &output)
                        .unwrap_or_else(|why| panic!("{at}: {why}"));
                }
                *ran.entry(program.to_owned()).or_default() += 1;
                // The README: the device goes to `ready` as its code is scanned, and what
                // follows it relies on that.
                if example.command.starts_with("devicebridge pair") {
                    let watcher = &mut started.as_mut().expect("the daemon runs").watcher;
                    wait_state(watcher, "ready").await;
                }
            }
            other => panic!("{at}: the test cannot run `{other}`; show it another way"),
        }
    }
    // The README starts the daemon, and shows calls with curl, the CLI, and a container
    // health check; the variables it uses are set by its own commands.
    assert_eq!(ran.get("daemon"), Some(&1), "{ran:?}");
    assert!(ran.get("curl").is_some_and(|n| *n >= 5), "{ran:?}");
    assert!(ran.get("devicebridge").is_some_and(|n| *n >= 5), "{ran:?}");
    let set: Vec<_> = shell.variables.keys().map(String::as_str).collect();
    assert_eq!(set, ["DB_KEY", "DB_PAIR_LINK", "DB_TOKEN"]);
    assert!(
        examples
            .iter()
            .any(|example| example.command.starts_with("curl -f")
                && example.command.contains("/ready")),
        "the README shows `curl -f …/ready` for a health check"
    );
}

#[test]
fn the_configuration_example_is_a_valid_configuration() {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
        .expect("README.md");
    let example = readme
        .split("```toml\n")
        .skip(1)
        .filter_map(|block| block.split_once("```").map(|(toml, _)| toml))
        .find(|toml| toml.starts_with("# config/local.toml"))
        .expect("the README shows a `config/local.toml`");
    let temp = tempfile::tempdir().unwrap();
    let file = temp.path().join("local.toml");
    std::fs::write(&file, example).unwrap();
    let sources = config::Sources {
        local_file: None,
        env: Vec::new(),
    };
    let overrides = config::Overrides {
        config_file: Some(file),
        ..Default::default()
    };
    let settings = config::load(&sources, &overrides, devicebridge::app::SETTINGS_CHECKS)
        .unwrap_or_else(|problems| panic!("the README's configuration: {problems}"));
    assert_eq!(settings.server.bind.to_string(), "0.0.0.0:3000");
    assert_eq!(settings.auth.api_keys.len(), 1);
}

#[test]
fn a_shown_answer_leaves_out_what_it_marks_with_an_ellipsis() {
    let shown = r#"{"id": "msg_…", "items": […], "head": …, "ok": true, …}"#;
    assert_eq!(
        shown_json(shown),
        r#"{"id": "msg_…", "items": [], "head": "…", "ok": true}"#
    );
    let shown: Value = serde_json::from_str(&shown_json(shown)).unwrap();
    let answer = json!({ "id": "msg_01J", "items": [1, 2], "head": 7, "ok": true, "more": 1 });
    assert_eq!(has_shown(&shown, &answer, "$"), Ok(()));
}

#[test]
fn an_answer_without_what_is_shown_does_not_pass() {
    let shown: Value = serde_json::from_str(&shown_json(r#"{"id": "msg_…", "ok": true}"#)).unwrap();
    for answer in [
        json!({ "id": "msg_01J" }),
        json!({ "id": "key_01J", "ok": true }),
        json!({ "id": "msg_01J", "ok": false }),
    ] {
        assert!(has_shown(&shown, &answer, "$").is_err(), "{answer}");
    }
    assert!(check_shown(&["linked device demo".into()], "linked device other\n").is_err());
    assert!(check_shown(
        &["ID NAME".into(), "demo Demo".into()],
        "ID NAME\ndemo Demo\n"
    )
    .is_ok());
}
