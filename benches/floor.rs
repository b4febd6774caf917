//! The least SQLite work a sent message's exchange needs, on this machine: a bound for the
//! store's writer, which does this and more (docs/performance.md, send).
//!
//! One thread, one connection, the daemon's journal mode and fsync (`WAL`, `synchronous =
//! FULL`) and its SQLite build. Each message is inserted with three indexes (its chat, its
//! `tempId`, and its upstream id once it has one), gets its relay's outcome (a random upstream
//! id, as every real upstream gives) and a later ack found by that id, and journals four events
//! of ~90 bytes. Commits hold 46 messages' worth of each, as the daemon's group commits do
//! under `load send`. Nothing else: no simulated phone, no chat row, no search index, no
//! serialization.
//!
//! `cargo bench --bench floor -- [integer|numbered|text] [messages]`: `integer` keys the
//! message by its rowid and its device and chat by numbers; `numbered` keys the device by its
//! number and keeps times as numbers, the message and its chat by text, as the daemon does;
//! `text` keys all three by text and keeps times as text, as the daemon did before.

use std::time::Instant;

use rusqlite::{params, Connection};

/// Messages a commit holds.
const GROUP: u64 = 46;
/// How many messages back the outcome and the ack arrive: a commit, and five.
const OUTCOME_BEHIND: u64 = GROUP;
const ACK_BEHIND: u64 = 5 * GROUP;

#[derive(Clone, Copy, PartialEq)]
enum Keys {
    Integer,
    Numbered,
    Text,
}

impl Keys {
    fn schema(self) -> String {
        // The device's and the time's types: a message and its chat are keyed by text.
        let (device, at) = match self {
            Keys::Integer => {
                return "CREATE TABLE messages (id INTEGER PRIMARY KEY, device INTEGER NOT NULL,
                    chat INTEGER NOT NULL, upstream_id TEXT, temp_id TEXT, body TEXT,
                    ack INTEGER, status INTEGER, at INTEGER);
                 CREATE INDEX by_chat ON messages (chat, id);
                 CREATE UNIQUE INDEX by_upstream_id ON messages (device, upstream_id)
                    WHERE upstream_id IS NOT NULL;
                 CREATE UNIQUE INDEX by_temp_id ON messages (device, temp_id)
                    WHERE temp_id IS NOT NULL;"
                    .to_owned()
            }
            Keys::Numbered => ("INTEGER", "INTEGER"),
            Keys::Text => ("TEXT", "TEXT"),
        };
        format!(
            "CREATE TABLE messages (id TEXT PRIMARY KEY, device {device} NOT NULL,
                chat TEXT NOT NULL, upstream_id TEXT, temp_id TEXT, body TEXT,
                ack INTEGER, status TEXT, at {at});
             CREATE INDEX by_chat ON messages (device, chat, id);
             CREATE UNIQUE INDEX by_upstream_id ON messages (device, upstream_id)
                WHERE upstream_id IS NOT NULL;
             CREATE UNIQUE INDEX by_temp_id ON messages (device, temp_id)
                WHERE temp_id IS NOT NULL;"
        )
    }

    /// The message's id as this layout keys it.
    fn id(self, n: u64) -> rusqlite::types::Value {
        match self {
            Keys::Integer => (n as i64 + 1).into(),
            Keys::Numbered | Keys::Text => format!("msg_01JFLOOR{n:018}").into(),
        }
    }

    fn device(self) -> rusqlite::types::Value {
        match self {
            Keys::Integer | Keys::Numbered => 1.into(),
            Keys::Text => "dev_01JFLOOR0000000000000000".to_owned().into(),
        }
    }

    /// When the message was sent: milliseconds, or RFC 3339 text.
    fn at(self) -> rusqlite::types::Value {
        match self {
            Keys::Integer | Keys::Numbered => 1_764_000_000_000i64.into(),
            Keys::Text => "2025-11-24T16:00:00.000Z".to_owned().into(),
        }
    }

    fn chat(self, n: u64) -> rusqlite::types::Value {
        match self {
            Keys::Integer => ((n % 10) as i64).into(),
            Keys::Numbered | Keys::Text => format!("1555000100{}@c.us", n % 10).into(),
        }
    }
}

/// The upstream id of message `n`: random, as WhatsApp's are, and the same when asked again.
fn upstream_id(n: u64) -> String {
    let mut x = n.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xD1B5_4A32_D192_ED03;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    format!("3EB0{:016X}{:08X}", next(), next() as u32)
}

/// The CPU time this process has used, in microseconds.
fn cpu_micros() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").expect("/proc/self/stat");
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    let ticks: f64 =
        fields[11].parse::<f64>().unwrap_or(0.0) + fields[12].parse::<f64>().unwrap_or(0.0);
    ticks * 1e6 / 100.0
}

fn main() -> rusqlite::Result<()> {
    let mut args = std::env::args().skip(1).filter(|arg| arg != "--bench");
    let keys = match args.next().as_deref() {
        Some("text") => Keys::Text,
        Some("numbered") => Keys::Numbered,
        _ => Keys::Integer,
    };
    let total: u64 = args.next().and_then(|n| n.parse().ok()).unwrap_or(200_000);
    let dir = tempfile::tempdir().expect("a temporary directory");
    let conn = Connection::open(dir.path().join("floor.db"))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.execute_batch(&keys.schema())?;
    conn.execute_batch(
        "CREATE TABLE journal (key INTEGER PRIMARY KEY, kind INTEGER, at INTEGER, data BLOB)",
    )?;
    let (mut key, started, cpu_before) = (0i64, Instant::now(), cpu_micros());
    for group in 0..total.div_ceil(GROUP) {
        let tx = conn.unchecked_transaction()?;
        exchange(&tx, keys, group, &mut key)?;
        tx.commit()?;
    }
    let messages = total.div_ceil(GROUP) * GROUP;
    let (wall, cpu) = (
        started.elapsed().as_secs_f64() * 1e6,
        cpu_micros() - cpu_before,
    );
    println!(
        "{} keys: {messages} messages, {:.1} µs of CPU and {:.1} µs of wall time a message",
        match keys {
            Keys::Integer => "integer",
            Keys::Numbered => "numbered",
            Keys::Text => "text",
        },
        cpu / messages as f64,
        wall / messages as f64,
    );
    Ok(())
}

/// The writes of commit `group`: its messages sent, those a commit older sent upstream, and
/// those five commits older acked; `key` is the journal's last key.
fn exchange(
    tx: &rusqlite::Transaction<'_>,
    keys: Keys,
    group: u64,
    key: &mut i64,
) -> rusqlite::Result<()> {
    let status = |name: &str| -> rusqlite::types::Value {
        match keys {
            Keys::Integer => i64::from(name == "sent").into(),
            Keys::Numbered | Keys::Text => name.to_owned().into(),
        }
    };
    let event = vec![7u8; 90];
    let mut insert = tx.prepare_cached(
        "INSERT INTO messages (id, device, chat, temp_id, body, ack, status, at)
             VALUES (?1, ?2, ?3, ?4, 'hello there', 0, ?5, ?6)",
    )?;
    let mut outcome = tx.prepare_cached(
        "UPDATE messages SET upstream_id = ?2, status = ?3, ack = 1 WHERE id = ?1",
    )?;
    let mut ack =
        tx.prepare_cached("UPDATE messages SET ack = 2 WHERE device = ?1 AND upstream_id = ?2")?;
    let mut journal = tx.prepare_cached(
        "INSERT INTO journal (key, kind, at, data) VALUES (?1, 3, 1764000000000, ?2)",
    )?;
    let mut journal_events = |count: usize| -> rusqlite::Result<()> {
        for _ in 0..count {
            *key += 1;
            journal.execute(params![*key, event])?;
        }
        Ok(())
    };
    for n in group * GROUP..(group + 1) * GROUP {
        let temp_id = format!("load-floor-0-{n}");
        insert.execute(params![
            keys.id(n),
            keys.device(),
            keys.chat(n),
            temp_id,
            status("queued"),
            keys.at()
        ])?;
        journal_events(2)?;
        if let Some(sent) = n.checked_sub(OUTCOME_BEHIND) {
            outcome.execute(params![keys.id(sent), upstream_id(sent), status("sent")])?;
            journal_events(1)?;
        }
        if let Some(acked) = n.checked_sub(ACK_BEHIND) {
            ack.execute(params![keys.device(), upstream_id(acked)])?;
            journal_events(1)?;
        }
    }
    Ok(())
}
