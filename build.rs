//! Builds the dashboard (web/, TypeScript + Vite) into the binary.
//!
//! With the `dashboard` feature (on by default) and npm on the PATH, web/ is bundled with
//! `npm ci` and `npm run build` into `target/dashboard/<hash>/`, where the hash covers every
//! source file of web/ (its lockfile too) and of clients/typescript (the generated types it
//! imports): a second cargo profile or feature set finds the bundle already made and does not
//! run npm again. Each file is embedded as it is and gzipped, so
//! the daemon serves it precompressed.
//!
//! Cargo runs this script again when a path it was told to watch is newer than the script's
//! last run, and every run rebuilds the crate. So it watches the sources only, never what npm
//! and the bundle write: not web/'s own `node_modules` and `dist` (where `npm ci`, `npm run
//! dev` and `npm run build` write when someone works on the dashboard in web/), and not the
//! bundle, which it makes during its own run. The files it embeds are linked into `OUT_DIR`,
//! so that the crate never depends on a bundle this script does not watch.
//!
//! Without npm the build still succeeds, with a warning, and embeds a page that says how to
//! get the dashboard: the daemon must build and run on a machine without Node.js.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};

/// The trees the bundle is built from, copied with their relative places kept (web/ imports
/// the generated types of clients/typescript by a relative path).
const SOURCES: &[&str] = &["web", "clients/typescript"];

/// What those trees hold that is not a source of the bundle.
const NOT_SOURCES: &[&str] = &["node_modules", "dist"];

fn main() {
    for tree in SOURCES {
        watch_sources(Path::new(tree));
    }
    println!("cargo:rerun-if-env-changed=DEVICEBRIDGE_NPM");
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR"));
    // OUT_DIR is target/<profile>/build/<crate>-<hash>/out: the bundle goes beside the
    // profiles, shared by all of them.
    let target = out
        .ancestors()
        .nth(4)
        .expect("OUT_DIR is inside a target directory");
    let dashboard = std::path::absolute(target.join("dashboard")).expect("an absolute path");
    // Where the sources are built, with their packages installed: the tests run web/'s own
    // unit tests there.
    println!(
        "cargo:rustc-env=DEVICEBRIDGE_DASHBOARD_WORK={}",
        dashboard.join("work").join("web").display()
    );
    let web = Path::new("web");
    let bundle = if std::env::var_os("CARGO_FEATURE_DASHBOARD").is_none() {
        None
    } else if !web.join("package.json").exists() {
        println!("cargo:warning=web/ has no package.json: the dashboard is left out");
        None
    } else {
        match bundle(web, &dashboard) {
            Ok(dir) => Some(dir),
            Err(why) => {
                println!("cargo:warning=the dashboard is left out: {why}");
                None
            }
        }
    };
    let files = match &bundle {
        Some(dir) => embed(dir, &out.join("dashboard")),
        None => Vec::new(),
    };
    let mut code = String::from("/// The dashboard's files: path, raw bytes, gzipped bytes.\n");
    code.push_str("pub static FILES: &[(&str, &[u8], &[u8])] = &[\n");
    for (path, file, gzipped) in &files {
        writeln!(
            code,
            "    ({path:?}, include_bytes!({file:?}), include_bytes!({gzipped:?})),"
        )
        .expect("write to a string");
    }
    code.push_str("];\n");
    std::fs::write(out.join("dashboard.rs"), code).expect("write dashboard.rs");
}

/// Tells cargo to run this script again when a source of `tree` changes: each of its entries
/// but [`NOT_SOURCES`], which tools write to while the sources stay as they are. (Watching
/// `tree` itself would watch everything under it.) A new entry at the top of `tree` is
/// noticed with the next change of another source.
fn watch_sources(tree: &Path) {
    let entries = std::fs::read_dir(tree).expect("read a source tree");
    for entry in entries {
        let path = entry.expect("read a source tree").path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if !NOT_SOURCES.contains(&name) {
            println!("cargo:rerun-if-changed={}", path.display());
        }
    }
}

/// Puts the files of the bundle in `dir`, each with its gzipped copy, in `embedded` (under
/// `OUT_DIR`, emptied first), by hard links where the file system allows them; answers each
/// file's URL path and where its raw and gzipped bytes now are.
fn embed(dir: &Path, embedded: &Path) -> Vec<(String, PathBuf, PathBuf)> {
    let _ = std::fs::remove_dir_all(embedded);
    let place = |file: &Path| {
        let to = embedded.join(file.strip_prefix(dir).expect("inside the bundle"));
        std::fs::create_dir_all(to.parent().expect("a file in a directory"))
            .expect("create a directory in OUT_DIR");
        if std::fs::hard_link(file, &to).is_err() {
            std::fs::copy(file, &to).expect("copy a bundle file into OUT_DIR");
        }
        to
    };
    listed(dir)
        .into_iter()
        .map(|(path, file)| {
            let gzipped = gzip(&file);
            (path, place(&file), place(&gzipped))
        })
        .collect()
}

/// Bundles web/ unless a bundle of the same sources exists; answers its directory.
fn bundle(web: &Path, dashboard: &Path) -> Result<PathBuf, String> {
    let npm = std::env::var("DEVICEBRIDGE_NPM").unwrap_or_else(|_| "npm".into());
    let found = Command::new(&npm).arg("--version").output();
    if !found.is_ok_and(|output| output.status.success()) {
        return Err(format!(
            "`{npm}` was not found; install Node.js (with npm) and rebuild to get it"
        ));
    }
    let hash = sources_hash()?;
    let dir = dashboard.join(&hash[..16]);
    let root = dashboard.join("work");
    let work = root.join("web");
    let copied = root.join(".sources-hash");
    if dir.join("index.html").exists()
        && std::fs::read_to_string(&copied).is_ok_and(|copied| copied == hash)
    {
        return Ok(dir);
    }
    // npm works on a copy: web/ stays as its author left it, and its own node_modules (for
    // `npm run dev`) is not a source of the build.
    for tree in SOURCES {
        copy_sources(Path::new(tree), &root.join(tree))
            .map_err(|e| format!("cannot copy {tree}/: {e}"))?;
    }
    let lock = std::fs::read(web.join("package-lock.json")).unwrap_or_default();
    let lock_hash = format!("{:x}", Sha256::digest(&lock));
    let installed = work.join("node_modules/.installed-from");
    if std::fs::read_to_string(&installed).ok().as_deref() != Some(lock_hash.as_str()) {
        run(Command::new(&npm)
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(&work))?;
        std::fs::write(&installed, &lock_hash).map_err(|e| e.to_string())?;
    }
    std::fs::write(&copied, &hash).map_err(|e| e.to_string())?;
    if dir.join("index.html").exists() {
        return Ok(dir);
    }
    let staging = dir.with_extension("partial");
    run(Command::new(&npm)
        .args(["run", "build", "--", "--emptyOutDir", "--outDir"])
        .arg(std::path::absolute(&staging).map_err(|e| e.to_string())?)
        .current_dir(&work))?;
    // A bundle appears whole or not at all: an interrupted build is redone.
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::rename(&staging, &dir).map_err(|e| format!("cannot move the bundle: {e}"))?;
    Ok(dir)
}

/// Makes `copy` hold the sources of `tree` and nothing else, keeping its installed
/// packages.
fn copy_sources(tree: &Path, copy: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(copy)?;
    for entry in std::fs::read_dir(copy)? {
        let path = entry?.path();
        if path.file_name().is_some_and(|name| name == "node_modules") {
            continue;
        }
        if path.is_dir() {
            std::fs::remove_dir_all(&path)?;
        } else {
            std::fs::remove_file(&path)?;
        }
    }
    let mut files = Vec::new();
    walk(tree, &mut files, true)?;
    for file in files {
        let to = copy.join(file.strip_prefix(tree).expect("inside the tree"));
        if let Some(parent) = to.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::copy(&file, &to)?;
    }
    Ok(())
}

fn run(command: &mut Command) -> Result<(), String> {
    let output = command
        .output()
        .map_err(|e| format!("cannot run {command:?}: {e}"))?;
    if output.status.success() {
        return Ok(());
    }
    let said = String::from_utf8_lossy(&output.stderr);
    let said = said.lines().rev().take(20).collect::<Vec<_>>();
    let said: Vec<&str> = said.into_iter().rev().collect();
    Err(format!("{command:?} failed: {}", said.join(" | ")))
}

/// A hash of every source file of the [`SOURCES`]: names and contents, in a fixed order.
fn sources_hash() -> Result<String, String> {
    let mut files = Vec::new();
    for tree in SOURCES {
        walk(Path::new(tree), &mut files, true).map_err(|e| format!("cannot read {tree}/: {e}"))?;
    }
    files.sort();
    let mut hasher = Sha256::new();
    for file in files {
        hasher.update(file.to_string_lossy().as_bytes());
        hasher.update([0]);
        hasher.update(std::fs::read(&file).map_err(|e| e.to_string())?);
        hasher.update([0]);
    }
    Ok(hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

fn walk(dir: &Path, files: &mut Vec<PathBuf>, top: bool) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if top && NOT_SOURCES.contains(&name) {
            continue;
        }
        if path.is_dir() {
            walk(&path, files, false)?;
        } else {
            files.push(path);
        }
    }
    Ok(())
}

/// The bundle's files, as (URL path, absolute file path).
fn listed(dir: &Path) -> Vec<(String, PathBuf)> {
    let mut files = Vec::new();
    walk(dir, &mut files, false).expect("read the bundle");
    files.retain(|file| file.extension().is_none_or(|ext| ext != "gz"));
    files.sort();
    files
        .into_iter()
        .map(|file| {
            let relative = file.strip_prefix(dir).expect("inside the bundle");
            let path = format!("/{}", relative.to_string_lossy().replace('\\', "/"));
            (path, std::path::absolute(&file).expect("an absolute path"))
        })
        .collect()
}

/// Writes `<file>.gz` beside `file` (once) and answers its path.
fn gzip(file: &Path) -> PathBuf {
    let gzipped = PathBuf::from(format!("{}.gz", file.display()));
    if !gzipped.exists() {
        let raw = std::fs::read(file).expect("read a bundle file");
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        encoder.write_all(&raw).expect("gzip in memory");
        std::fs::write(&gzipped, encoder.finish().expect("gzip in memory"))
            .expect("write a gzipped file");
    }
    gzipped
}
