//! The TypeScript types of devicebridge's protocol, generated from its Rust types: the model
//! and the journaled events' payloads (`crate::model`), the REST bodies (`rest`) and the
//! Socket.IO edge's payloads and client events (`socket`). They are kept in
//! `clients/typescript/src/generated.ts`, the package dashboard authors import (the daemon's
//! own dashboard among them); this test fails when that file no longer matches the types,
//! and writes it anew when `DEVICEBRIDGE_WRITE_TYPES=1` is set.

use std::path::Path;

/// Where the generated file lives, from the crate's root.
const GENERATED: &str = "clients/typescript/src/generated.ts";

fn generated() -> String {
    let mut out = String::from(
        "// Generated from devicebridge's Rust types by `cargo test` (src/api/typescript.rs).\n\
         // Do not edit: change the types, then run `DEVICEBRIDGE_WRITE_TYPES=1 cargo test --lib typescript`.\n\n",
    );
    out += &crate::model::typescript::declarations();
    out += &super::rest::typescript::declarations();
    out += &super::socket::typescript::declarations();
    out.truncate(out.trim_end().len());
    out + "\n"
}

#[test]
fn the_typescript_types_match_the_rust_types() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(GENERATED);
    let wanted = generated();
    if std::env::var_os("DEVICEBRIDGE_WRITE_TYPES").is_some() {
        std::fs::write(&path, &wanted).expect("write the generated types");
        return;
    }
    let kept = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        kept == wanted,
        "{GENERATED} is stale: run `DEVICEBRIDGE_WRITE_TYPES=1 cargo test --lib typescript` and commit it"
    );
}
