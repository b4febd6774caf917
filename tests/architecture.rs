//! The crate's shape, read from its source. Every path a file writes into the crate is seen:
//! `crate::`, `super::` and `self::` paths, in `use` lines (groups and nested groups expanded,
//! over as many lines as they take) and in code, but not in comments. The rules:
//!
//! - **Layers import downward only.** An arrow that points up fails, naming the file, the line
//!   and the rule it breaks. The layers and their rules are the ones `src/lib.rs` describes. A
//!   path into another top-level module is written from the root (`crate::store::…`), never
//!   climbing out with `super::`, so that every arrow between modules reads as one.
//! - **No cycle between the modules of one layer** (`store` ⇄ `bus`), nor **between the files
//!   of one folder** (`store/writer.rs` → `store/notices.rs` → `store/writer.rs`), where a
//!   child folder is one file of its parent and a folder's `mod.rs` is the folder itself. A
//!   cycle fails with its way round and the line that draws each arrow.
//! - **No source file over 600 lines**, tests aside (`tests.rs`, the files of a `tests/`
//!   folder, `fuzz.rs`). A `#[cfg(test)] mod tests { … }` written at a file's end counts with
//!   the file: it is what a reader scrolls through, and tests that would take the file over
//!   go to a `tests.rs` beside it.
//! - **`src/main.rs` only wires** the library to the process, in 80 lines at most.
//!
//! Each rule is a function of a source root, run on `src/` and, below, on small trees planted
//! with the violation it must catch.

#[path = "architecture/cycles.rs"]
mod cycles;
#[path = "architecture/source.rs"]
mod source;

use std::path::Path;

use source::Source;

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
/// timing, the console (standard output, shared by the log lines and the QR codes drawn on
/// it), QR drawing, the error envelope every answer (the API's and the connectors' webhook
/// receivers') is written in, and a set of tasks stopped together within a deadline.
const LEAVES: &[&str] = &["backoff", "console", "envelope", "qr", "tasks"];

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

/// The longest a source file other than a test's may be.
const MOST_LINES: usize = 600;

/// The longest `src/main.rs` may be: it parses the command line, loads the settings, starts
/// the logs, binds the listener and calls `devicebridge::run`.
const MOST_MAIN_LINES: usize = 80;

fn rank(module: &str) -> Option<usize> {
    LAYERS.iter().position(|layer| layer.contains(&module))
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

/// Arrows against the layers, paths that climb out of their module with `super::`, SQL outside
/// the store and calls a layer may not make.
fn layer_breaks(source: &Source) -> Vec<String> {
    let mut broken = Vec::new();
    for (file, module) in source.library() {
        let Some(from) = module.first() else {
            continue;
        };
        for used in &file.paths {
            let at = format!("{}:{}", file.shown, used.line);
            if used.climbs_out {
                broken.push(format!(
                    "{at}: {} climbs out of {from} with super::; a path into another \
                     top-level module starts at crate::",
                    used.written
                ));
            }
            if let Some(why) = broken_rule(from, &used.resolved.join("::")) {
                broken.push(format!("{at}: {why}"));
            }
        }
        for (index, code) in file.code.lines().enumerate() {
            let at = format!("{}:{}", file.shown, index + 1);
            if from != "store" && STORE_ONLY.iter().any(|sql| code.contains(sql)) {
                broken.push(format!(
                    "{at}: SQL and the database driver live in store, behind its functions"
                ));
            }
            for (layer, call, why) in FORBIDDEN_CALLS {
                if from == *layer && code.contains(call) {
                    broken.push(format!("{at}: {why}"));
                }
            }
        }
    }
    broken
}

/// Cycles among the top-level modules (an arrow between two layers that points up is a broken
/// layer too; a cycle within one layer is caught only here).
fn layer_cycles(source: &Source) -> Vec<String> {
    cycles::cycles(source, &[], "modules")
}

/// Cycles among the files and folders of each folder.
fn folder_cycles(source: &Source) -> Vec<String> {
    source
        .modules()
        .iter()
        .flat_map(|module| cycles::cycles(source, module, &format!("{}/", module.join("/"))))
        .collect()
}

/// Whether a file holds tests only.
fn is_test_file(relative: &Path) -> bool {
    let name = relative.file_name().and_then(|name| name.to_str());
    matches!(name, Some("tests.rs" | "fuzz.rs")) || relative.iter().any(|part| part == "tests")
}

/// Source files other than tests over [`MOST_LINES`].
fn oversize_files(source: &Source) -> Vec<String> {
    source
        .files
        .iter()
        .filter(|file| file.lines > MOST_LINES && !is_test_file(&file.relative))
        .map(|file| {
            format!(
                "{}: {} lines, over {MOST_LINES}: split it into modules named for what they hold",
                file.shown, file.lines
            )
        })
        .collect()
}

/// `main.rs` if it is over [`MOST_MAIN_LINES`].
fn long_main(source: &Source) -> Vec<String> {
    source
        .files
        .iter()
        .filter(|file| file.relative == Path::new("main.rs") && file.lines > MOST_MAIN_LINES)
        .map(|file| {
            format!(
                "{}: {} lines, over {MOST_MAIN_LINES}: main only wires the library to the \
                 process; the rest belongs in the library or a module of the binary",
                file.shown, file.lines
            )
        })
        .collect()
}

fn crate_source() -> Source {
    let source = Source::read(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"));
    let paths: usize = source.files.iter().map(|file| file.paths.len()).sum();
    assert!(
        paths > 100,
        "expected many paths into the crate, found {paths}: is the source directory right?"
    );
    source
}

fn assert_none(what: &str, found: Vec<String>) {
    assert!(found.is_empty(), "{what}:\n{}", found.join("\n"));
}

#[test]
fn layers_import_downward_only() {
    assert_none("arrows against the layers", layer_breaks(&crate_source()));
}

#[test]
fn no_cycle_between_modules_of_a_layer() {
    assert_none(
        "cycles between top-level modules",
        layer_cycles(&crate_source()),
    );
}

#[test]
fn no_cycle_between_files_of_a_folder() {
    assert_none(
        "cycles between the files of a folder",
        folder_cycles(&crate_source()),
    );
}

#[test]
fn no_source_file_is_over_600_lines() {
    assert_none("files too long", oversize_files(&crate_source()));
}

#[test]
fn main_only_wires() {
    assert_none("main.rs", long_main(&crate_source()));
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
}

/// The paths a file of module `module` writes, as written and as resolved.
fn paths_in(text: &str, module: &[&str]) -> Vec<(String, String)> {
    let module: Vec<String> = module.iter().map(|name| name.to_string()).collect();
    source::used_paths(&source::tokens(&source::blank(text).1), &module)
        .into_iter()
        .map(|used| (used.written, used.resolved.join("::")))
        .collect()
}

#[test]
fn paths_are_read_from_groups_code_and_attributes_but_not_comments() {
    let text = "use crate::{\n    qr,\n    store::{self, writer::Writer as W, Store},\n};\n\
                // crate::api in a comment\n/* crate::hooks, /* nested */ */\n\
                let s = \"crate::api in a string {\"; let c = '{';\n\
                #[serde(with = \"crate::model::nested::object\")]\n\
                let x = crate::device::DeviceHandle::<T>::new(); $crate::bus::X;\n\
                mod tests { use super::*; use super::super::bus::Y; }\n";
    let expected = [
        ("crate::qr", "qr"),
        ("crate::store", "store"),
        ("crate::store::writer::Writer", "store::writer::Writer"),
        ("crate::store::Store", "store::Store"),
        ("crate::model::nested::object", "model::nested::object"),
        ("crate::device::DeviceHandle", "device::DeviceHandle"),
        ("super::*", "config::load"),
        ("super::super::bus::Y", "config::bus::Y"),
    ];
    let found = paths_in(text, &["config", "load"]);
    let found: Vec<(&str, &str)> = found
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    assert_eq!(found, expected);
}

/// A small library under a temporary `src/`, each file given as its path and its text.
fn planted(files: &[(&str, String)]) -> (tempfile::TempDir, Source) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let root = dir.path().join("src");
    for (name, text) in files {
        let path = root.join(name);
        std::fs::create_dir_all(path.parent().expect("a folder")).expect("the folder");
        std::fs::write(path, text).expect("the file");
    }
    let source = Source::read(&root);
    (dir, source)
}

/// `count` lines of code.
fn lines(count: usize) -> String {
    (0..count)
        .map(|n| format!("const C{n}: u8 = 0;\n"))
        .collect()
}

fn planted_tree() -> (tempfile::TempDir, Source) {
    planted(&[
        (
            "lib.rs",
            "pub mod bus;\npub mod device;\npub mod model;\npub mod qr;\npub mod store;\n".into(),
        ),
        (
            "model/mod.rs",
            "use crate::{\n    qr,\n    store::{self, Store},\n};\n".into(),
        ),
        ("qr.rs", "pub fn draw() {}\n".into()),
        (
            "bus.rs",
            "pub struct EventBus(crate::store::Store);\n".into(),
        ),
        (
            "store/mod.rs",
            "mod notices;\nmod writer;\nuse crate::bus::EventBus;\nuse super::device::Device;\n"
                .into(),
        ),
        (
            "store/writer.rs",
            "use super::notices::Notice;\npub struct Writer;\n".into(),
        ),
        (
            "store/notices.rs",
            "pub struct Notice;\nfn writer() -> crate::store::writer::Writer { todo!() }\n".into(),
        ),
        ("store/tests.rs", lines(700)),
        (
            "device/mod.rs",
            "mod big;\nconst Q: &str = \"SELECT 1\";\n".into(),
        ),
        ("device/big.rs", lines(601)),
        ("device/small.rs", lines(600)),
        ("main.rs", lines(81)),
    ])
}

fn has(found: &[String], part: &str) -> bool {
    found.iter().any(|text| text.contains(part))
}

#[test]
fn a_grouped_import_going_up_is_caught() {
    let (_dir, source) = planted_tree();
    let broken = layer_breaks(&source);
    assert!(
        has(&broken, "src/model/mod.rs:3: model uses store"),
        "{broken:#?}"
    );
    assert!(has(
        &broken,
        "src/store/mod.rs:4: super::device::Device climbs out of store"
    ));
    assert!(has(&broken, "src/store/mod.rs:4: store uses device"));
    assert!(has(&broken, "src/device/mod.rs:2: SQL"));
    assert_eq!(broken.len(), 5, "{broken:#?}");
}

#[test]
fn a_cycle_between_modules_of_a_layer_is_caught() {
    let (_dir, source) = planted_tree();
    let found = layer_cycles(&source);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert!(
        found[0].starts_with(
            "modules: bus → store → bus\n    src/bus.rs:1 uses crate::store::Store\n    \
             src/store/mod.rs:3 uses crate::bus::EventBus"
        ),
        "{}",
        found[0]
    );
}

#[test]
fn a_cycle_between_files_of_a_folder_is_caught() {
    let (_dir, source) = planted_tree();
    let found = folder_cycles(&source);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(
        found[0],
        "store/: notices → writer → notices\n    \
         src/store/notices.rs:2 uses crate::store::writer::Writer\n    \
         src/store/writer.rs:1 uses super::notices::Notice"
    );
}

#[test]
fn a_file_over_600_lines_is_caught() {
    let (_dir, source) = planted_tree();
    let found = oversize_files(&source);
    assert_eq!(
        found,
        ["src/device/big.rs: 601 lines, over 600: split it into modules named for what they hold"]
    );
}

#[test]
fn a_main_over_80_lines_is_caught() {
    let (_dir, source) = planted_tree();
    let found = long_main(&source);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert!(found[0].starts_with("src/main.rs: 81 lines, over 80"));
}
