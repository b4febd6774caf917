//! Building twice in a row compiles nothing the second time, even when what the dashboard's
//! own tools write under web/ (`npm ci` and `npm run dev` into `node_modules`, `npm run build`
//! into `dist`) changed in between: `build.rs` reruns on the dashboard's sources only, so a
//! `cargo run` with nothing changed starts the daemon at once.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// What cargo compiled (or ran, for a build script) in one `cargo build` in the tests' own
/// target directory and profile, by name; empty when everything was fresh.
fn compiled() -> Vec<String> {
    let output = Command::new(env!("CARGO"))
        .args(["build", "--message-format=json"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cannot run cargo build");
    assert!(
        output.status.success(),
        "cargo build failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|message| message["reason"] == "compiler-artifact" && message["fresh"] == false)
        .map(|message| message["target"]["name"].as_str().unwrap_or("?").to_owned())
        .collect()
}

/// What a test wrote under web/: each file, or the outermost folder it made for one, removed
/// when the test ends.
struct Written(Vec<PathBuf>);

impl Written {
    /// Writes `file` under web/, making its folders when there are none.
    fn write(&mut self, file: &str) {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("web").join(file);
        assert!(!path.exists(), "{} is someone's", path.display());
        let made = path
            .ancestors()
            .skip(1)
            .take_while(|folder| !folder.exists())
            .last()
            .map(Path::to_path_buf);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, "written by a tool, not a source").unwrap();
        self.0.push(made.unwrap_or(path));
    }
}

impl Drop for Written {
    fn drop(&mut self) {
        for path in &self.0 {
            let _ = match path.is_dir() {
                true => std::fs::remove_dir_all(path),
                false => std::fs::remove_file(path),
            };
        }
    }
}

#[test]
fn a_second_build_compiles_nothing() {
    compiled();
    let mut written = Written(Vec::new());
    written.write("node_modules/.vite/devicebridge-build-test.json");
    written.write("dist/devicebridge-build-test.html");
    let again = compiled();
    assert!(again.is_empty(), "the second build compiled {again:?}");
}
