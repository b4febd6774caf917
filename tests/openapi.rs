//! The OpenAPI document at `/docs-json`, read from the real daemon: valid by the standard
//! validator, true to the routes the router serves, their credentials and their scopes, and
//! to what the server takes and answers, by Schemathesis.

mod common;

use std::collections::HashMap;
use std::path::Path;
use std::process::Output;
use std::time::Duration;

use common::TestDaemon;
use reqwest::{Method, StatusCode};
use serde_json::Value;

/// How the standard validator is installed where it is missing (see `.ci/run`).
const VALIDATOR_INSTALL: &str = "python3 -m pip install openapi-spec-validator";

const VALIDATOR_TIMEOUT: Duration = Duration::from_secs(60);

/// How Schemathesis is installed where it is missing: the version `.ci/run` installs.
const SCHEMATHESIS_INSTALL: &str = "python3 -m pip install schemathesis==4.32.5";

/// Longest a Schemathesis run may take; its examples are bounded so that it takes a minute or
/// two on two cores (see `tests/schemathesis/schemathesis.toml`).
const SCHEMATHESIS_TIMEOUT: Duration = Duration::from_secs(600);

/// A value for every path parameter: a valid device id that names no device.
const PROBE: &str = "probe";

async fn fetch_document(daemon: &TestDaemon) -> Value {
    let response = daemon
        .http
        .get(format!("{}/docs-json", daemon.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "application/json");
    response.json().await.unwrap()
}

/// Runs `program args… file`, or `None` when the program is not there.
async fn run(program: &str, args: &[&str], file: &std::path::Path) -> Option<Output> {
    let child = tokio::process::Command::new(program)
        .args(args)
        .arg(file)
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(VALIDATOR_TIMEOUT, child)
        .await
        .expect("the validator finishes within a minute");
    output.ok()
}

/// Validates `document` with PyPI's `openapi-spec-validator`: its command, or its module
/// through `python3`. Panics, naming the install command, when neither is there.
async fn validate(document: &Value) -> Output {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("openapi.json");
    std::fs::write(&file, serde_json::to_vec_pretty(document).unwrap()).unwrap();
    if let Some(output) = run("openapi-spec-validator", &[], &file).await {
        return output;
    }
    let module = run("python3", &["-m", "openapi_spec_validator"], &file).await;
    let missing = |output: &Output| String::from_utf8_lossy(&output.stderr).contains("No module");
    match module {
        Some(output) if !missing(&output) => output,
        _ => panic!(
            "openapi-spec-validator is not installed: install it with `{VALIDATOR_INSTALL}` \
             (`.ci/run` installs it in a virtual environment)"
        ),
    }
}

fn printed(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[tokio::test]
async fn the_document_passes_the_standard_validator() {
    let daemon = TestDaemon::start().await;
    let document = fetch_document(&daemon).await;
    assert_eq!(document["openapi"], "3.1.0");

    let checked = validate(&document).await;
    assert!(
        checked.status.success(),
        "the validator refused /docs-json:\n{}",
        printed(&checked)
    );

    // The validator does read what it is given: a document whose head has no title is
    // refused.
    let mut broken = document.clone();
    broken["info"].as_object_mut().unwrap().remove("title");
    let refused = validate(&broken).await;
    assert!(
        !refused.status.success(),
        "the validator took a broken document:\n{}",
        printed(&refused)
    );
    daemon.stop().await;
}

/// One route of the route table: its method and path, and what the served document says of it.
struct Route {
    method: Method,
    path: String,
    operation: Value,
}

impl Route {
    /// The path with every parameter set to [`PROBE`].
    fn probe_path(&self) -> String {
        self.path
            .split('/')
            .map(|segment| match segment.starts_with('{') {
                true => PROBE,
                false => segment,
            })
            .collect::<Vec<_>>()
            .join("/")
    }

    /// The scopes each credential the route takes must grant, or `None` for a public route.
    fn scopes(&self) -> Option<Vec<String>> {
        let requirements = self.operation["security"].as_array()?;
        let scopes = requirements.first()?.as_object()?.values().next()?;
        Some(serde_json::from_value(scopes.clone()).unwrap())
    }

    fn name(&self) -> String {
        format!("{} {}", self.method, self.path)
    }
}

/// The routes the router serves, from the route table the daemon builds its router from, each
/// with its operation in `document` (the served one). Panics on a route the document lacks.
fn routes(document: &Value) -> Vec<Route> {
    let table = serde_json::to_value(devicebridge::app::routes().into_openapi()).unwrap();
    let mut routes = Vec::new();
    for (path, item) in table["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            let operation = document["paths"][path][method].clone();
            assert!(
                operation.is_object(),
                "{method} {path} is served but not in /docs-json"
            );
            routes.push(Route {
                method: method.to_uppercase().parse().unwrap(),
                path: path.clone(),
                operation,
            });
        }
    }
    routes
}

/// Sends `route`'s request with `key` (none if empty), and the example of its JSON body if
/// it has one; returns the status and the error code, if any.
async fn probe(
    daemon: &TestDaemon,
    document: &Value,
    route: &Route,
    key: &str,
) -> (StatusCode, Option<String>) {
    let url = format!("{}{}", daemon.base, route.probe_path());
    let mut request = daemon.http.request(route.method.clone(), url);
    if !key.is_empty() {
        request = request.header("x-api-key", key);
    }
    // A route refuses a body it takes in a wrong shape before it looks at the caller's
    // scopes: the example is a body of the right shape (`examples`' first, for a schema of
    // alternatives).
    let schema = resolve(
        document,
        &route.operation["requestBody"]["content"]["application/json"]["schema"],
    );
    let example = schema.get("example").or_else(|| schema["examples"].get(0));
    if let Some(example) = example {
        request = request.json(example);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    let code = serde_json::from_str::<Value>(&text)
        .ok()
        .and_then(|json| json["error"]["code"].as_str().map(str::to_owned));
    (status, code)
}

/// `schema`, or what its `$ref` points at.
fn resolve(document: &Value, schema: &Value) -> Value {
    match schema["$ref"].as_str() {
        Some(reference) => pointer(document, reference)
            .unwrap_or_else(|| panic!("{reference} points at nothing"))
            .clone(),
        None => schema.clone(),
    }
}

/// What a `#/…` reference points at in `document`.
fn pointer<'a>(document: &'a Value, reference: &str) -> Option<&'a Value> {
    document.pointer(reference.strip_prefix('#')?)
}

/// Every `$ref` in `value`.
fn references(value: &Value, found: &mut Vec<String>) {
    match value {
        Value::Object(fields) => {
            if let Some(Value::String(reference)) = fields.get("$ref") {
                found.push(reference.clone());
            }
            fields.values().for_each(|field| references(field, found));
        }
        Value::Array(items) => items.iter().for_each(|item| references(item, found)),
        _ => {}
    }
}

#[tokio::test]
async fn every_route_the_router_serves_is_documented_with_its_credentials_and_refusals() {
    let daemon = TestDaemon::start().await;
    let document = fetch_document(&daemon).await;
    let routes = routes(&document);
    assert!(
        routes
            .iter()
            .any(|route| route.path.starts_with("/api/v1/")),
        "the route table has the REST API"
    );
    let documented: usize = document["paths"]
        .as_object()
        .unwrap()
        .values()
        .map(|item| item.as_object().unwrap().len())
        .sum();
    assert_eq!(
        documented,
        routes.len(),
        "/docs-json documents other routes"
    );

    let schemes = &document["components"]["securitySchemes"];
    for route in &routes {
        let name = route.name();
        // Served at this method and path: neither the router's fallback nor its refusal of
        // the method.
        let (status, code) = probe(&daemon, &document, route, "").await;
        assert!(
            !matches!(code.as_deref(), Some("not_found" | "method_not_allowed")),
            "{name} is not served: {status} {code:?}"
        );
        // A route that wants credentials refuses a request without, and says so; a public
        // one does not.
        match route.scopes() {
            Some(_) => {
                assert_eq!(
                    (status, code.as_deref()),
                    (StatusCode::UNAUTHORIZED, Some("unauthorized")),
                    "{name} is documented as taking credentials"
                );
                for requirement in route.operation["security"].as_array().unwrap() {
                    for scheme in requirement.as_object().unwrap().keys() {
                        assert!(schemes[scheme].is_object(), "{name}: no scheme {scheme}");
                    }
                }
            }
            None => assert_ne!(
                status,
                StatusCode::UNAUTHORIZED,
                "{name} is documented as public"
            ),
        }
        if route.path.starts_with("/api/v1/") {
            assert!(
                route.scopes().is_some(),
                "{name} has no security requirement"
            );
        }
        let refusals: Vec<&String> = route.operation["responses"]
            .as_object()
            .unwrap()
            .keys()
            .filter(|status| status.as_str() >= "400")
            .collect();
        assert!(!refusals.is_empty(), "{name} documents no error answer");
    }

    let mut found = Vec::new();
    references(&document, &mut found);
    assert!(!found.is_empty());
    for reference in found {
        assert!(
            pointer(&document, &reference).is_some(),
            "{reference} points at nothing"
        );
    }
    daemon.stop().await;
}

#[tokio::test]
async fn each_route_asks_for_the_scope_it_documents() {
    const SCOPES: [&str; 4] = ["read", "send", "control", "admin"];
    let daemon = TestDaemon::start().await;
    let document = fetch_document(&daemon).await;
    // For each scope, a key with only it, and one with every other (but `admin`, which
    // grants them all).
    let mut keys = HashMap::new();
    for scope in SCOPES {
        let others: Vec<&str> = SCOPES
            .into_iter()
            .filter(|other| *other != scope && *other != "admin")
            .collect();
        let with = daemon.key_for(&["*"], &[scope]).await;
        let without = daemon.key_for(&["*"], &others).await;
        keys.insert(scope.to_owned(), (with, without, others));
    }
    let mut checked = 0;
    for route in routes(&document) {
        let Some(scopes) = route.scopes() else {
            continue;
        };
        // Tokens are issued to any credential: there is no scope to check.
        let [scope] = &scopes[..] else {
            assert!(scopes.is_empty(), "{}: {scopes:?}", route.name());
            continue;
        };
        let name = route.name();
        let (with, without, others) = &keys[scope];
        let (status, code) = probe(&daemon, &document, &route, without).await;
        assert_eq!(
            (status, code.as_deref()),
            (StatusCode::FORBIDDEN, Some("forbidden")),
            "{name} with {others:?}"
        );
        // An admin key may do anything: only the lesser scopes are tried alone.
        if scope != "admin" {
            let (status, code) = probe(&daemon, &document, &route, with).await;
            assert!(
                !matches!(status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN),
                "{name} with [{scope}]: {status} {code:?}"
            );
        }
        checked += 1;
    }
    assert!(checked > 0, "no route with a scope");
    daemon.stop().await;
}

/// Schemathesis (`schemathesis run`) against the real daemon's `/docs-json`, with its admin
/// key: every request the document allows is one the server takes (or answers as documented),
/// every request it refuses the server refuses too, and every answer is one the document lists,
/// by status, code and schema. Only the checks that need no data set up beforehand run; what
/// they are told to expect beyond the document, and why, is in
/// `tests/schemathesis/schemathesis.toml`.
#[tokio::test]
async fn schemathesis_finds_nothing_the_document_and_the_server_disagree_on() {
    let daemon = TestDaemon::start().await;
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/schemathesis");
    // Schemathesis runs where it may leave files of its own.
    let work = tempfile::tempdir().unwrap();
    let run = tokio::process::Command::new("schemathesis")
        .arg("--config-file")
        .arg(fixtures.join("schemathesis.toml"))
        .args(["run", "--no-color", "--url", &daemon.base])
        .arg(format!("{}/docs-json", daemon.base))
        .env("DEVICEBRIDGE_API_KEY", &daemon.key)
        .env("DEVICEBRIDGE_SCHEMATHESIS_HOOKS", fixtures.join("hooks.py"))
        .current_dir(work.path())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(SCHEMATHESIS_TIMEOUT, run)
        .await
        .expect("Schemathesis finishes within its time")
        .unwrap_or_else(|error| {
            panic!(
                "schemathesis cannot be run ({error}): install it with `{SCHEMATHESIS_INSTALL}` \
                 (`.ci/run` installs it in a virtual environment)"
            )
        });
    assert!(
        output.status.success(),
        "Schemathesis found requests or answers the document and the server disagree on:\n{}",
        printed(&output)
    );
    daemon.stop().await;
}
