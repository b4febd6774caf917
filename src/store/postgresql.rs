//! The store on PostgreSQL, which many daemons share (SPEC §10).
//!
//! Everything above the connection is the same as on SQLite: one writer thread per daemon with
//! its group commit, events published only after their commit, reads on a small pool of
//! connections. What differs is here: connecting, and the schema, which is PostgreSQL's own
//! (numbered like SQLite's, kept in `schema_version`) and migrated under an advisory lock, so
//! that nodes started together migrate once.
//!
//! Every text column sorts by bytes (`COLLATE "C"`), as SQLite's do: ids, cursors and times
//! are compared as text, and a language's collation would order them otherwise.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::{mpsc, Semaphore};

use super::cluster::notices::{listen, Origin};
use super::journal::kinds::with_numbers_of_names;
use super::journal::packer::Packer;
use super::migrations::{Upgrade, SLOW_STEP};
use super::outage::Outage;
use super::readers::{ReaderPool, POSTGRES_READERS};
use super::writer::{run_writer, Duties, QUEUE_DEPTH};
use super::{spawn_thread, Conn, Store, StoreError, StoreResult};
use crate::bus::EventBus;

/// Connects to the database at `url` (`postgres://user:password@host:port/database`).
pub(super) fn connect(url: &str) -> StoreResult<Conn> {
    Conn::postgres(url).map_err(|error| match error {
        StoreError::Postgres(source) => StoreError::Connect(redacted(url), source),
        other => other,
    })
}

/// `url` without its password, to name the database in a message.
pub(super) fn redacted(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let user = &url[scheme + 3..at];
            let user = user.split(':').next().unwrap_or_default();
            format!("{}{user}@{}", &url[..scheme + 3], &url[at + 1..])
        }
        _ => url.to_owned(),
    }
}

impl Store {
    /// Connects to the PostgreSQL database at `url`, migrates it and starts the writer.
    ///
    /// The `postgres` client blocks on a runtime of its own, which it cannot do on the
    /// daemon's: the connections are made on a thread of their own.
    pub fn open_postgres(url: &str, bus: EventBus) -> StoreResult<Store> {
        let url = url.to_owned();
        std::thread::scope(|scope| {
            scope
                .spawn(|| Store::connect_postgres(url, bus))
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        })
    }

    fn connect_postgres(url: String, bus: EventBus) -> StoreResult<Store> {
        let url = url.as_str();
        let writer_conn = connect(url)?;
        migrate(&writer_conn)?;
        let (writer, queue) = mpsc::channel(QUEUE_DEPTH);
        let outage = Outage::default();
        let writer_outage = outage.clone();
        let origin = Origin::new();
        let closed = Arc::new(AtomicBool::new(false));
        let (listener_url, listener_origin, listener_bus, listener_closed) =
            (url.to_owned(), origin.clone(), bus.clone(), closed.clone());
        spawn_thread("notices", move || {
            listen(
                || connect(&listener_url),
                &listener_origin,
                &listener_bus,
                &listener_closed,
            )
        })?;
        let packer = Packer::start()?;
        spawn_thread("writer", move || {
            run_writer(
                writer_conn,
                queue,
                bus,
                Duties::Postgresql { origin },
                writer_outage,
                packer,
            );
            closed.store(true, Ordering::Relaxed);
        })?;
        let pool = |connections: usize| {
            let url = url.to_owned();
            Arc::new(ReaderPool {
                open: Box::new(move || connect(&url)),
                idle: Mutex::new(Vec::new()),
                turns: Arc::new(Semaphore::new(connections)),
            })
        };
        Ok(Store {
            writer,
            readers: pool(POSTGRES_READERS),
            coordination: pool(COORDINATION_CONNECTIONS),
            outage,
            fence: None,
        })
    }
}

/// The connections the cluster's coordination (leases, the owners of devices, claims on
/// webhook deliveries) runs on, beside the readers'.
const COORDINATION_CONNECTIONS: usize = 2;

/// A number of its own for the advisory lock the migrations take.
const MIGRATION_LOCK: i64 = 0x6465_7669_6365_6272; // "devicebr"

/// Brings the schema to this build's version, refusing a newer one.
pub(super) fn migrate(conn: &Conn) -> StoreResult<()> {
    conn.execute_batch(&format!("SELECT pg_advisory_lock({MIGRATION_LOCK})"))?;
    let migrated = apply(conn);
    conn.execute_batch(&format!("SELECT pg_advisory_unlock({MIGRATION_LOCK})"))?;
    migrated
}

fn apply(conn: &Conn) -> StoreResult<()> {
    apply_steps(conn, MIGRATIONS.len())
}

/// Applies the first `steps` migrations that the database has not had yet.
pub(super) fn apply_steps(conn: &Conn, steps: usize) -> StoreResult<()> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL);
         INSERT INTO schema_version SELECT 0 WHERE NOT EXISTS (SELECT 1 FROM schema_version);",
    )?;
    let found: i64 = conn.query_one(
        "SELECT version FROM schema_version",
        super::sql::params![],
        |row| row.get(0),
    )?;
    let known = MIGRATIONS.len() as i64;
    if found > known {
        return Err(StoreError::NewerSchema { found, known });
    }
    let mut upgrade = Upgrade::start(found, known, SLOW_STEP);
    for (index, sql) in MIGRATIONS
        .iter()
        .enumerate()
        .take(steps)
        .skip(found as usize)
    {
        conn.begin()?;
        let step = conn
            .execute_batch(&with_numbers_of_names(sql))
            .and_then(|()| {
                conn.execute(
                    "UPDATE schema_version SET version = ?1",
                    super::sql::params![index as i64 + 1],
                )
            });
        match step.and_then(|_| conn.commit()) {
            Ok(()) => upgrade.step_done(index + 1),
            Err(error) => {
                conn.rollback();
                return Err(error);
            }
        }
    }
    upgrade.done();
    Ok(())
}

/// The schema, one step per entry: the first is the whole of SQLite's as it stands when
/// PostgreSQL came, written in PostgreSQL's types (integers are `BIGINT`, flags 0 or 1).
/// `{number_of_name}` in a step numbers event names, as in SQLite's steps.
pub(super) const MIGRATIONS: &[&str] = &[
    r#"
    CREATE TABLE devices (
        id TEXT COLLATE "C" PRIMARY KEY,
        name TEXT COLLATE "C" NOT NULL,
        connector TEXT COLLATE "C" NOT NULL,
        settings TEXT NOT NULL,
        source TEXT COLLATE "C" NOT NULL,
        autostart BIGINT NOT NULL,
        wants_running BIGINT NOT NULL,
        state TEXT COLLATE "C" NOT NULL,
        state_reason TEXT COLLATE "C",
        session TEXT,
        me TEXT,
        created_at TEXT COLLATE "C" NOT NULL,
        updated_at TEXT COLLATE "C" NOT NULL
    );
    CREATE TABLE device_seq (
        device_id TEXT COLLATE "C" PRIMARY KEY,
        last_seq BIGINT NOT NULL,
        num BIGINT NOT NULL UNIQUE
    );
    CREATE TABLE events (
        key BIGINT PRIMARY KEY,
        name TEXT COLLATE "C" NOT NULL,
        data TEXT NOT NULL,
        at TEXT COLLATE "C" NOT NULL
    );
    CREATE TABLE latest_events (
        device_id TEXT COLLATE "C" NOT NULL,
        name TEXT COLLATE "C" NOT NULL,
        seq BIGINT NOT NULL,
        data TEXT NOT NULL,
        at TEXT COLLATE "C" NOT NULL,
        PRIMARY KEY (device_id, name)
    );
    CREATE TABLE api_keys (
        id TEXT COLLATE "C" PRIMARY KEY,
        name TEXT COLLATE "C" NOT NULL,
        key_sha256 TEXT COLLATE "C" NOT NULL UNIQUE,
        devices TEXT NOT NULL,
        scopes TEXT NOT NULL,
        created_at TEXT COLLATE "C" NOT NULL,
        revoked_at TEXT COLLATE "C"
    );
    CREATE TABLE contacts (
        device_id TEXT COLLATE "C" NOT NULL,
        id TEXT COLLATE "C" NOT NULL,
        name TEXT COLLATE "C" NOT NULL,
        push_name TEXT COLLATE "C",
        presence TEXT COLLATE "C" NOT NULL DEFAULT 'offline',
        last_seen_at TEXT COLLATE "C",
        PRIMARY KEY (device_id, id)
    );
    CREATE TABLE chats (
        device_id TEXT COLLATE "C" NOT NULL,
        id TEXT COLLATE "C" NOT NULL,
        name TEXT COLLATE "C" NOT NULL,
        kind TEXT COLLATE "C" NOT NULL,
        unread_count BIGINT NOT NULL DEFAULT 0,
        last_message_id TEXT COLLATE "C",
        updated_at TEXT COLLATE "C" NOT NULL,
        archived BIGINT NOT NULL DEFAULT 0,
        muted BIGINT NOT NULL DEFAULT 0,
        PRIMARY KEY (device_id, id)
    );
    CREATE INDEX chats_by_activity ON chats (device_id, updated_at DESC, id DESC);
    CREATE TABLE messages (
        id TEXT COLLATE "C" PRIMARY KEY,
        device_id TEXT COLLATE "C" NOT NULL,
        chat_id TEXT COLLATE "C" NOT NULL,
        upstream_id TEXT COLLATE "C",
        from_id TEXT COLLATE "C" NOT NULL,
        from_me BIGINT NOT NULL,
        type TEXT COLLATE "C" NOT NULL,
        body TEXT NOT NULL,
        media TEXT,
        reply_to TEXT COLLATE "C",
        timestamp TEXT COLLATE "C" NOT NULL,
        ack BIGINT NOT NULL,
        temp_id TEXT COLLATE "C",
        idempotency_key TEXT COLLATE "C",
        revoked BIGINT NOT NULL DEFAULT 0,
        seen BIGINT NOT NULL DEFAULT 0,
        relay_status TEXT COLLATE "C",
        attempts BIGINT NOT NULL DEFAULT 0,
        next_attempt_at TEXT COLLATE "C",
        sent_at TEXT COLLATE "C",
        created_at TEXT COLLATE "C" NOT NULL,
        template TEXT
    );
    CREATE INDEX messages_by_chat ON messages (device_id, chat_id, id);
    CREATE UNIQUE INDEX messages_by_upstream_id ON messages (device_id, upstream_id)
        WHERE upstream_id IS NOT NULL;
    CREATE UNIQUE INDEX messages_by_temp_id ON messages (device_id, temp_id)
        WHERE temp_id IS NOT NULL;
    CREATE UNIQUE INDEX messages_by_idempotency_key ON messages (device_id, idempotency_key)
        WHERE idempotency_key IS NOT NULL;
    CREATE INDEX messages_in_relay ON messages (device_id, id)
        WHERE relay_status IN ('queued', 'retrying');
    CREATE INDEX messages_awaiting_ack ON messages (device_id, sent_at)
        WHERE relay_status = 'sent' AND ack = 0;
    CREATE TABLE notifications (
        device_id TEXT COLLATE "C" NOT NULL,
        id TEXT COLLATE "C" NOT NULL,
        chat_id TEXT COLLATE "C",
        read BIGINT NOT NULL DEFAULT 0,
        PRIMARY KEY (device_id, id)
    );
    CREATE INDEX notifications_unread ON notifications (device_id, chat_id) WHERE read = 0;
    CREATE TABLE simulator_inbox (
        rowid BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        device_id TEXT COLLATE "C" NOT NULL,
        message_id TEXT COLLATE "C" NOT NULL,
        upstream_id TEXT COLLATE "C" NOT NULL,
        chat_id TEXT COLLATE "C" NOT NULL,
        body TEXT NOT NULL,
        received_at TEXT COLLATE "C" NOT NULL,
        UNIQUE (device_id, message_id)
    );
    CREATE TABLE simulator_duties (
        device_id TEXT COLLATE "C" NOT NULL,
        upstream_id TEXT COLLATE "C" NOT NULL,
        received_at TEXT COLLATE "C" NOT NULL,
        plan TEXT NOT NULL,
        done BIGINT NOT NULL DEFAULT 0,
        PRIMARY KEY (device_id, upstream_id)
    );
    CREATE TABLE webhooks (
        id TEXT COLLATE "C" PRIMARY KEY,
        url TEXT NOT NULL,
        events TEXT NOT NULL,
        devices TEXT NOT NULL,
        secret TEXT NOT NULL,
        enabled BIGINT NOT NULL,
        source TEXT COLLATE "C" NOT NULL,
        disabled_reason TEXT,
        created_at TEXT COLLATE "C" NOT NULL,
        updated_at TEXT COLLATE "C" NOT NULL
    );
    CREATE TABLE webhook_deliveries (
        id TEXT COLLATE "C" PRIMARY KEY,
        webhook_id TEXT COLLATE "C" NOT NULL,
        device_id TEXT COLLATE "C" NOT NULL,
        seq BIGINT NOT NULL,
        type TEXT COLLATE "C" NOT NULL,
        body TEXT NOT NULL,
        status TEXT COLLATE "C" NOT NULL,
        attempts BIGINT NOT NULL DEFAULT 0,
        next_attempt_at TEXT COLLATE "C" NOT NULL,
        scheduled_at TEXT COLLATE "C" NOT NULL,
        last_status_code BIGINT,
        last_error TEXT,
        delivered_at TEXT COLLATE "C",
        created_at TEXT COLLATE "C" NOT NULL,
        updated_at TEXT COLLATE "C" NOT NULL
    );
    CREATE INDEX webhook_deliveries_by_webhook ON webhook_deliveries (webhook_id, id);
    CREATE INDEX webhook_deliveries_outstanding ON webhook_deliveries (webhook_id, device_id, id)
        WHERE status IN ('pending', 'retrying');
    CREATE INDEX webhook_deliveries_finished ON webhook_deliveries (created_at)
        WHERE status IN ('delivered', 'failed');
    CREATE TABLE linked_ids (
        device_id TEXT COLLATE "C" NOT NULL,
        lid TEXT COLLATE "C" NOT NULL,
        number TEXT COLLATE "C" NOT NULL,
        PRIMARY KEY (device_id, lid)
    );
    CREATE TABLE uploads (
        device_id TEXT COLLATE "C" NOT NULL,
        id TEXT COLLATE "C" NOT NULL,
        mime TEXT NOT NULL,
        name TEXT,
        size BIGINT NOT NULL,
        created_at TEXT COLLATE "C" NOT NULL,
        PRIMARY KEY (device_id, id)
    );
    CREATE INDEX uploads_by_age ON uploads (created_at);
    CREATE TABLE outbound_actions (
        id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        device_id TEXT COLLATE "C" NOT NULL,
        chat_id TEXT COLLATE "C" NOT NULL,
        message_id TEXT COLLATE "C",
        action TEXT NOT NULL,
        attempts BIGINT NOT NULL DEFAULT 0,
        next_attempt_at TEXT COLLATE "C",
        created_at TEXT COLLATE "C" NOT NULL
    );
    CREATE INDEX outbound_actions_by_device ON outbound_actions (device_id, id);
    CREATE TABLE writable_check (
        id BIGINT PRIMARY KEY CHECK (id = 1),
        checked_at TEXT NOT NULL
    );
"#,
    r#"
    CREATE TABLE secrets (
        name TEXT COLLATE "C" PRIMARY KEY,
        value TEXT NOT NULL
    );
"#,
    super::cluster::SCHEMA,
    super::migrations::JOURNAL_ROWS_OWN_FIELDS,
    // Journal rows packed (src/store/journal/packing.rs), with their kind as a number and
    // their time as milliseconds since the epoch (SQLite's step 18): the rows' fields are
    // bytes, and the texts of the rows written before stay as their UTF-8 bytes, read as
    // they are.
    "ALTER TABLE events ALTER COLUMN data TYPE BYTEA USING convert_to(data, 'UTF8');
    ALTER TABLE events ALTER COLUMN at TYPE BIGINT
        USING round(extract(epoch FROM at::timestamptz) * 1000)::bigint;
    ALTER TABLE events ALTER COLUMN name TYPE BIGINT USING {number_of_name};
    ALTER TABLE events RENAME COLUMN name TO kind;
    ALTER TABLE latest_events ALTER COLUMN data TYPE BYTEA USING convert_to(data, 'UTF8');",
    // A message's content beside its text and file, and when it was edited (SQLite's 20).
    "ALTER TABLE messages ADD COLUMN content TEXT;
    ALTER TABLE messages ADD COLUMN edited_at TEXT;
    ALTER TABLE simulator_inbox ADD COLUMN kind TEXT;
    ALTER TABLE simulator_inbox ADD COLUMN content TEXT;",
    // Pinned and marked-unread chats (SQLite's 21).
    "ALTER TABLE chats ADD COLUMN pinned BIGINT NOT NULL DEFAULT 0;
    ALTER TABLE chats ADD COLUMN marked_unread BIGINT NOT NULL DEFAULT 0;",
    // The words of messages' texts, for search (SQLite's 22): a column PostgreSQL keeps from
    // the text itself, with its index, so it changes in the same commit as the message.
    "ALTER TABLE messages ADD COLUMN words tsvector
        GENERATED ALWAYS AS (to_tsvector('simple', body)) STORED;
    CREATE INDEX messages_by_words ON messages USING GIN (words);",
    // The simulated worlds' groups (SQLite's 23).
    r#"CREATE TABLE simulator_groups (
        device_id TEXT COLLATE "C" NOT NULL,
        chat_id TEXT COLLATE "C" NOT NULL,
        state TEXT NOT NULL,
        PRIMARY KEY (device_id, chat_id)
    );"#,
    // Contacts' profiles, blocks and pictures; linked ids by number (SQLite's 24).
    r#"ALTER TABLE contacts ADD COLUMN about TEXT;
    ALTER TABLE contacts ADD COLUMN blocked BIGINT NOT NULL DEFAULT 0;
    CREATE TABLE contact_pictures (
        device_id TEXT COLLATE "C" NOT NULL,
        contact_id TEXT COLLATE "C" NOT NULL,
        mime TEXT,
        data BYTEA NOT NULL,
        size BIGINT NOT NULL,
        fetched_at TEXT COLLATE "C" NOT NULL,
        PRIMARY KEY (device_id, contact_id)
    );
    CREATE INDEX contact_pictures_by_age ON contact_pictures (fetched_at);
    CREATE INDEX linked_ids_by_number ON linked_ids (device_id, number);"#,
    // The send governors' ledgers (SQLite's 25).
    r#"CREATE TABLE governors (
        device_id TEXT COLLATE "C" PRIMARY KEY,
        ledger TEXT NOT NULL
    );"#,
    // The bytes of uploaded files, in pieces, which every node of a cluster reads: a single
    // node keeps them as files (`store::uploads`). No step of SQLite's.
    r#"CREATE TABLE upload_chunks (
        device_id TEXT COLLATE "C" NOT NULL,
        upload_id TEXT COLLATE "C" NOT NULL,
        n BIGINT NOT NULL,
        data BYTEA NOT NULL,
        PRIMARY KEY (device_id, upload_id, n)
    );"#,
    // Event sinks and their cursors (SQLite's 26).
    r#"CREATE TABLE sinks (
        id TEXT COLLATE "C" PRIMARY KEY,
        kind TEXT COLLATE "C" NOT NULL,
        url TEXT NOT NULL,
        target TEXT NOT NULL,
        events TEXT NOT NULL,
        devices TEXT NOT NULL,
        enabled BIGINT NOT NULL,
        created_at TEXT COLLATE "C" NOT NULL,
        updated_at TEXT COLLATE "C" NOT NULL
    );
    CREATE TABLE sink_cursors (
        sink_id TEXT COLLATE "C" NOT NULL,
        device_id TEXT COLLATE "C" NOT NULL,
        seq BIGINT NOT NULL,
        PRIMARY KEY (sink_id, device_id)
    );"#,
    // Which node publishes each sink, in a cluster (`cluster::claim_sink`). No step of
    // SQLite's: a single node needs no claim.
    r#"ALTER TABLE sinks ADD COLUMN claimed_by TEXT COLLATE "C";
    ALTER TABLE sinks ADD COLUMN claimed_until BIGINT;"#,
    // A simulated phone's plans keyed by when it received each message (SQLite's 28).
    "ALTER TABLE simulator_duties DROP CONSTRAINT simulator_duties_pkey,
        ADD PRIMARY KEY (device_id, received_at, upstream_id);",
    // Since when a sent message awaits its server ack (SQLite's 29: see
    // `migrations::AWAITING_ACK_SINCE`), with a fifth of each new page of messages left free
    // for their rows' next versions.
    r#"ALTER TABLE messages ADD COLUMN awaiting_ack_since TEXT COLLATE "C";
    UPDATE messages SET awaiting_ack_since = sent_at WHERE relay_status = 'sent' AND ack = 0;
    DROP INDEX messages_awaiting_ack;
    CREATE INDEX messages_awaiting_ack ON messages (device_id, awaiting_ack_since)
        WHERE awaiting_ack_since IS NOT NULL;
    ALTER TABLE messages SET (fillfactor = 80);"#,
    // A simulated phone's plan kept in its message's inbox row (SQLite's 30).
    super::migrations::PLANS_IN_THE_INBOX,
    // A simulated phone's owed plans in a table of their own, keyed by their inbox row
    // (SQLite's 31).
    r#"CREATE TABLE simulator_plans (
        device_id TEXT COLLATE "C" NOT NULL,
        inbox_row BIGINT NOT NULL,
        plan TEXT NOT NULL,
        done BIGINT NOT NULL DEFAULT 0,
        PRIMARY KEY (device_id, inbox_row)
    );
    INSERT INTO simulator_plans (device_id, inbox_row, plan, done)
        SELECT device_id, rowid, plan, done FROM simulator_inbox WHERE plan IS NOT NULL;
    DROP INDEX simulator_owed;
    ALTER TABLE simulator_inbox DROP COLUMN plan, DROP COLUMN done;"#,
    // Journal rows may hold their device's id and time as marks (SQLite's 32).
    super::migrations::JOURNAL_ROWS_MARKED,
    // Journal rows may be packed against the second dictionary (SQLite's 33).
    super::migrations::JOURNAL_ROWS_PACKED_AGAINST_DICTIONARY_2,
    // Notifications kept until they are read (SQLite's 34).
    super::migrations::NOTIFICATIONS_UNREAD_ONLY,
    // A chat's update may name the message row journaled with it (SQLite's 35).
    super::migrations::JOURNAL_ROWS_NAMING_MESSAGES,
    // A journal row may be kept as how it differs from an earlier one (SQLite's 36).
    super::migrations::JOURNAL_ROWS_KEPT_AS_CHANGES,
    // Messages keyed by their device's number, their times in milliseconds (SQLite's 37).
    super::migrations::numbered_messages::POSTGRES,
    // Notifications and the phones' inboxes keyed by their device's number (SQLite's 38).
    super::migrations::numbered_inbox::POSTGRES,
    // The numbers simulated phones hold or talk to, in a table of their own (SQLite's 40).
    super::migrations::simulator_numbers::POSTGRES,
];

#[cfg(test)]
mod tests {
    use super::redacted;

    #[test]
    fn a_database_is_named_without_its_password() {
        assert_eq!(
            redacted("postgres://bridge:s3cret@db.local:5432/devicebridge"),
            "postgres://bridge@db.local:5432/devicebridge"
        );
        assert_eq!(redacted("postgres://db.local/x"), "postgres://db.local/x");
    }
}
