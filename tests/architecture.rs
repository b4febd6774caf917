//! The crate's layers import downward only. This test reads every source file's code (not its
//! comments), finds each path into the crate (`crate::…`), and fails on an arrow that points
//! up, naming the file, the line and the rule it breaks. The layers and their rules are the
//! ones `src/lib.rs` describes.

use std::path::{Path, PathBuf};

/// The layers, lowest first. A module may use its own layer and the ones below it.
const LAYERS: &[&[&str]] = &[
    &["model"],
    &["config"],
    &["store", "bus", "metrics"],
    &["messaging"],
    &["device"],
    &["connector"],
    &["hooks"],
    &["api"],
    &["app", "cli"],
];

/// Small helpers that import nothing of the crate, so that any layer may use them: backoff
/// timing, QR drawing, and the error envelope every answer (the API's and the connectors'
/// webhook receivers') is written in.
const LEAVES: &[&str] = &["backoff", "envelope", "qr"];

/// Test support (`#[cfg(test)]`), usable by any layer's tests: it may use `model` only.
const TEST_SUPPORT: &[&str] = &["fuzz"];

/// Paths that a layer may not use although they lie below it, with why.
const FORBIDDEN: &[(&str, &str, &str)] = &[
    (
        "api",
        "device::actor",
        "the API calls a device handle; the actor's command enum is the device layer's own",
    ),
    (
        "api",
        "connector",
        "the API reaches upstreams through devices; a connector's own routes are mounted by app",
    ),
];

/// What only the store may write: the database driver and SQL.
const STORE_ONLY: &[&str] = &[
    "rusqlite",
    "\"SELECT ",
    "\"INSERT ",
    "\"UPDATE ",
    "\"DELETE ",
];

/// Calls that only the layer owning an event may make, with why.
const FORBIDDEN_CALLS: &[(&str, &str, &str)] = &[
    (
        "api",
        ".publish(",
        "REST and socket handlers never publish domain events: the store's writer does, after commit",
    ),
    (
        "api",
        "path = \"/upstream/",
        "an upstream's webhook receiver is its connector's own route, which app mounts",
    ),
];

#[derive(Debug)]
struct Use {
    file: PathBuf,
    line: usize,
    from: String,
    path: String,
}

fn rank(module: &str) -> Option<usize> {
    LAYERS.iter().position(|layer| layer.contains(&module))
}

/// The top-level module a file belongs to: `src/device/handle.rs` → `device`.
fn module_of(src: &Path, file: &Path) -> Option<String> {
    let relative = file.strip_prefix(src).ok()?;
    let first = relative.components().next()?.as_os_str().to_str()?;
    let name = first.strip_suffix(".rs").unwrap_or(first);
    (name != "main" && name != "lib").then(|| name.to_owned())
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("the source directory") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            out.push(path);
        }
    }
}

/// A line without its `//` comment (doc comments included); string literals are left, as the
/// crate writes no `crate::` paths in them.
fn code_of(line: &str) -> &str {
    line.find("//").map_or(line, |at| &line[..at])
}

fn crate_paths(code: &str) -> Vec<String> {
    let mut paths = Vec::new();
    let mut rest = code;
    while let Some(at) = rest.find("crate::") {
        let before = rest[..at].chars().next_back();
        let path: String = rest[at + "crate::".len()..]
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
            .collect();
        // `devicebridge::crate::` never occurs; `$crate::` and `other_crate::` are not ours.
        if !matches!(before, Some(c) if c.is_alphanumeric() || c == '_' || c == '$') {
            paths.push(path.trim_end_matches(':').to_owned());
        }
        rest = &rest[at + "crate::".len()..];
    }
    paths
}

fn uses() -> (Vec<Use>, Vec<(PathBuf, usize, String)>) {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    let mut found = Vec::new();
    let mut lines_of_code = Vec::new();
    for file in files {
        let Some(from) = module_of(&src, &file) else {
            continue;
        };
        let text = std::fs::read_to_string(&file).expect("a source file");
        for (index, line) in text.lines().enumerate() {
            let code = code_of(line);
            lines_of_code.push((file.clone(), index + 1, code.to_owned()));
            for path in crate_paths(code) {
                found.push(Use {
                    file: file.clone(),
                    line: index + 1,
                    from: from.clone(),
                    path,
                });
            }
        }
    }
    (found, lines_of_code)
}

fn broken_rule(from: &str, path: &str) -> Option<String> {
    let to = path.split("::").next().unwrap_or_default();
    if to == from || to.is_empty() {
        return None;
    }
    if let Some((_, _, why)) = FORBIDDEN
        .iter()
        .find(|(layer, forbidden, _)| *layer == from && path.starts_with(forbidden))
    {
        return Some(format!("{from} may not use {path}: {why}"));
    }
    if LEAVES.contains(&from) {
        return Some(format!(
            "{from} is a leaf helper and imports nothing of the crate"
        ));
    }
    if LEAVES.contains(&to) {
        return None;
    }
    if TEST_SUPPORT.contains(&from) {
        return (to != "model").then(|| format!("{from} is test support and may use model only"));
    }
    if TEST_SUPPORT.contains(&to) {
        return None;
    }
    match (rank(from), rank(to)) {
        (Some(from_rank), Some(to_rank)) if to_rank > from_rank => Some(format!(
            "{from} uses {to}, which is above it (layers, lowest first: {})",
            LAYERS
                .iter()
                .map(|layer| layer.join(" + "))
                .collect::<Vec<_>>()
                .join(" → ")
        )),
        (Some(_), Some(_)) => None,
        (None, _) => Some(format!("module {from} is in no layer: add it to LAYERS")),
        (_, None) => Some(format!("{to} is in no layer: add it to LAYERS")),
    }
}

#[test]
fn layers_import_downward_only() {
    let (found, lines) = uses();
    assert!(
        found.len() > 100,
        "expected many paths into the crate, found {}: is the source directory right?",
        found.len()
    );
    let mut broken: Vec<String> = found
        .iter()
        .filter_map(|used| {
            broken_rule(&used.from, &used.path)
                .map(|why| format!("{}:{}: {why}", used.file.display(), used.line))
        })
        .collect();
    for (file, line, code) in &lines {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let Some(from) = module_of(&src, file) else {
            continue;
        };
        if from != "store" && STORE_ONLY.iter().any(|sql| code.contains(sql)) {
            broken.push(format!(
                "{}:{line}: SQL and the database driver live in store, behind its functions",
                file.display()
            ));
        }
        for (layer, call, why) in FORBIDDEN_CALLS {
            if from == *layer && code.contains(call) {
                broken.push(format!("{}:{line}: {why}", file.display()));
            }
        }
    }
    assert!(
        broken.is_empty(),
        "arrows against the layers:\n{}",
        broken.join("\n")
    );
}

#[test]
fn the_rules_catch_an_arrow_that_points_up() {
    assert!(broken_rule("model", "device::DeviceHandle").is_some());
    assert!(broken_rule("config", "hooks::sound").is_some());
    assert!(broken_rule("device", "connector::waha::Waha").is_some());
    assert!(broken_rule("api", "connector::Builtin").is_some());
    assert!(broken_rule("api", "device::actor::Command").is_some());
    assert!(broken_rule("qr", "model::DeviceId").is_some());
    assert!(broken_rule("fuzz", "store::Store").is_some());
    assert!(broken_rule("api", "device::DeviceHandle").is_none());
    assert!(broken_rule("connector", "device::upstream::Upstream").is_none());
    assert!(broken_rule("store", "bus::EventBus").is_none());
    assert!(broken_rule("hooks", "backoff::Backoff").is_none());
    assert_eq!(
        crate_paths("use crate::model::{DeviceId, Page}; let x = crate::qr::png(&t);"),
        ["model", "qr::png"]
    );
    assert_eq!(code_of("let a = 1; // see crate::api"), "let a = 1; ");
}
