//! The TypeScript types of what clients receive, generated from these Rust types: the model
//! (messages, chats, contacts, media, pages), every event's payload, and the map from each
//! event's name to its payload. They are kept in `clients/typescript/src/generated.ts`, the
//! package dashboard authors import; this test fails when that file no longer matches the
//! types, and writes it anew when `DEVICEBRIDGE_WRITE_TYPES=1` is set.

use std::path::Path;

use ts_rs::{Config, TS};

use super::event::{
    Authenticated, ConnectionStatus, Disconnected, Me, MessageAck, MessageReaction, MessageRead,
    MessageRevoked, MessageStatus, Notification, NotificationRead, QrCode, Ready, StateChange,
    Typing, EVENT_NAMES,
};
use super::message::{Ack, Chat, Contact, Media, Message, Page, TempId, Template};
use super::StateName;

/// How the types are written: integers as `number` (every integer the daemon sends is within
/// what a JavaScript number holds exactly: counts, seqs, milliseconds).
fn config() -> Config {
    Config::new().with_large_int("number")
}

/// Where the generated file lives, from the crate's root.
const GENERATED: &str = "clients/typescript/src/generated.ts";

/// Each event's payload type, in the order of [`EVENT_NAMES`].
fn event_payloads() -> [(&'static str, String); 18] {
    [
        ("state", StateChange::name(&config())),
        ("qr", QrCode::name(&config())),
        ("authenticated", Authenticated::name(&config())),
        ("ready", Ready::name(&config())),
        ("disconnected", Disconnected::name(&config())),
        ("connection:status", ConnectionStatus::name(&config())),
        ("message", Message::name(&config())),
        ("message:ack", MessageAck::name(&config())),
        ("message:status", MessageStatus::name(&config())),
        ("message:read", MessageRead::name(&config())),
        ("message:revoked", MessageRevoked::name(&config())),
        ("message:reaction", MessageReaction::name(&config())),
        ("typing:start", Typing::name(&config())),
        ("typing:stop", Typing::name(&config())),
        ("chat:update", Chat::name(&config())),
        ("contact:update", Contact::name(&config())),
        ("notification", Notification::name(&config())),
        ("notification:read", NotificationRead::name(&config())),
    ]
}

/// A union of string literals.
fn literals(names: impl IntoIterator<Item = &'static str>) -> String {
    names
        .into_iter()
        .map(|name| format!("{name:?}"))
        .collect::<Vec<_>>()
        .join(" | ")
}

fn generated() -> String {
    let mut out = String::from(
        "// Generated from devicebridge's Rust types by `cargo test` (src/model/typescript.rs).\n\
         // Do not edit: change the types, then run `DEVICEBRIDGE_WRITE_TYPES=1 cargo test --lib typescript`.\n\n",
    );
    out += &format!(
        "/** A device's state. */\nexport type StateName = {};\n\n",
        literals(StateName::ALL.map(StateName::as_str))
    );
    let acks = [
        Ack::Error,
        Ack::Pending,
        Ack::Server,
        Ack::Device,
        Ack::Read,
        Ack::Played,
    ];
    out += &format!(
        "/** How far a message got: `ack` -1 to 4, by name. */\nexport type AckName = {};\n\n",
        literals(acks.map(Ack::name))
    );
    let declarations = [
        Me::decl(&config()),
        Media::decl(&config()),
        Template::decl(&config()),
        TempId::decl(&config()),
        Message::decl(&config()),
        Chat::decl(&config()),
        Contact::decl(&config()),
        Page::<()>::decl(&config()),
        StateChange::decl(&config()),
        QrCode::decl(&config()),
        Authenticated::decl(&config()),
        Ready::decl(&config()),
        Disconnected::decl(&config()),
        ConnectionStatus::decl(&config()),
        MessageAck::decl(&config()),
        MessageStatus::decl(&config()),
        MessageRead::decl(&config()),
        MessageRevoked::decl(&config()),
        MessageReaction::decl(&config()),
        Typing::decl(&config()),
        Notification::decl(&config()),
        NotificationRead::decl(&config()),
    ];
    for declaration in declarations {
        out += &format!("export {declaration}\n\n");
    }
    let names: Vec<String> = EVENT_NAMES.iter().map(|name| format!("{name:?}")).collect();
    out += &format!(
        "/** Every journaled event's name: what webhook subscriptions and hooks may name. */\n\
         export const EVENT_NAMES = [{}] as const;\n\n",
        names.join(", ")
    );
    out +=
        "/** Every journaled event of a device namespace, by name: its payload's own fields. */\n\
            export interface DeviceEvents {\n";
    for (name, payload) in event_payloads() {
        out += &format!("  {name:?}: {payload};\n");
    }
    out += "}\n";
    out
}

#[test]
fn every_event_has_its_payload_type() {
    let named: Vec<&str> = event_payloads().iter().map(|(name, _)| *name).collect();
    assert_eq!(named, EVENT_NAMES);
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
