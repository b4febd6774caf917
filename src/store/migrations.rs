//! Numbered schema migrations, each applied in its own transaction.
//!
//! `PRAGMA user_version` records the last one applied. A database newer than this build is
//! refused rather than half-understood.

use std::time::Duration;

use rusqlite::Connection;

use super::journal::kinds::with_numbers_of_names;
use super::{StoreError, StoreResult};

/// Migration `n` (1-based) is `MIGRATIONS[n - 1]`. Append only; never edit a released one.
/// `{number_of_name}` in a step numbers the event names of a column `name`
/// (`journal/kinds.rs`).
const MIGRATIONS: &[&str] = &[
    // 1: devices, their journal, API keys.
    "CREATE TABLE devices (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        connector TEXT NOT NULL,
        settings TEXT NOT NULL,
        source TEXT NOT NULL,
        autostart INTEGER NOT NULL,
        wants_running INTEGER NOT NULL,
        state TEXT NOT NULL,
        state_reason TEXT,
        session TEXT,
        me TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE TABLE device_seq (
        device_id TEXT PRIMARY KEY,
        last_seq INTEGER NOT NULL
    );
    CREATE TABLE events (
        device_id TEXT NOT NULL,
        seq INTEGER NOT NULL,
        name TEXT NOT NULL,
        data TEXT NOT NULL,
        at TEXT NOT NULL,
        PRIMARY KEY (device_id, seq)
    ) WITHOUT ROWID;
    CREATE TABLE api_keys (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        key_sha256 TEXT NOT NULL UNIQUE,
        devices TEXT NOT NULL,
        scopes TEXT NOT NULL,
        created_at TEXT NOT NULL,
        revoked_at TEXT
    );",
    // 2: chats, contacts, messages with their relay queue, notifications, the simulated phones' inboxes.
    "CREATE TABLE contacts (
        device_id TEXT NOT NULL,
        id TEXT NOT NULL,
        name TEXT NOT NULL,
        push_name TEXT,
        presence TEXT NOT NULL DEFAULT 'offline',
        last_seen_at TEXT,
        PRIMARY KEY (device_id, id)
    ) WITHOUT ROWID;
    CREATE TABLE chats (
        device_id TEXT NOT NULL,
        id TEXT NOT NULL,
        name TEXT NOT NULL,
        kind TEXT NOT NULL,
        unread_count INTEGER NOT NULL DEFAULT 0,
        last_message_id TEXT,
        updated_at TEXT NOT NULL,
        archived INTEGER NOT NULL DEFAULT 0,
        muted INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (device_id, id)
    ) WITHOUT ROWID;
    CREATE INDEX chats_by_activity ON chats (device_id, updated_at DESC, id DESC);
    CREATE TABLE messages (
        id TEXT PRIMARY KEY,
        device_id TEXT NOT NULL,
        chat_id TEXT NOT NULL,
        upstream_id TEXT,
        from_id TEXT NOT NULL,
        from_me INTEGER NOT NULL,
        type TEXT NOT NULL,
        body TEXT NOT NULL,
        media TEXT,
        reply_to TEXT,
        timestamp TEXT NOT NULL,
        ack INTEGER NOT NULL,
        temp_id TEXT,
        idempotency_key TEXT,
        revoked INTEGER NOT NULL DEFAULT 0,
        seen INTEGER NOT NULL DEFAULT 0,
        relay_status TEXT,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at TEXT,
        sent_at TEXT,
        created_at TEXT NOT NULL
    );
    CREATE INDEX messages_by_chat ON messages (device_id, chat_id, id);
    CREATE UNIQUE INDEX messages_by_upstream_id ON messages (device_id, upstream_id)
        WHERE upstream_id IS NOT NULL;
    CREATE UNIQUE INDEX messages_by_temp_id ON messages (device_id, temp_id)
        WHERE temp_id IS NOT NULL;
    CREATE UNIQUE INDEX messages_by_idempotency_key ON messages (device_id, idempotency_key)
        WHERE idempotency_key IS NOT NULL;
    CREATE INDEX messages_in_relay ON messages (device_id, id)
        WHERE relay_status IN ('queued', 'sending', 'retrying');
    CREATE INDEX messages_awaiting_ack ON messages (device_id, sent_at)
        WHERE relay_status = 'sent' AND ack = 0;
    CREATE TABLE notifications (
        device_id TEXT NOT NULL,
        id TEXT NOT NULL,
        chat_id TEXT,
        read INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (device_id, id)
    ) WITHOUT ROWID;
    CREATE INDEX notifications_unread ON notifications (device_id, chat_id) WHERE read = 0;
    CREATE TABLE simulator_inbox (
        device_id TEXT NOT NULL,
        message_id TEXT NOT NULL,
        upstream_id TEXT NOT NULL,
        chat_id TEXT NOT NULL,
        body TEXT NOT NULL,
        received_at TEXT NOT NULL,
        UNIQUE (device_id, message_id)
    );",
    // 3: webhook subscriptions and their outbox, one row per (subscription, event).
    "CREATE TABLE webhooks (
        id TEXT PRIMARY KEY,
        url TEXT NOT NULL,
        events TEXT NOT NULL,
        devices TEXT NOT NULL,
        secret TEXT NOT NULL,
        enabled INTEGER NOT NULL,
        source TEXT NOT NULL,
        disabled_reason TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE TABLE webhook_deliveries (
        id TEXT PRIMARY KEY,
        webhook_id TEXT NOT NULL,
        device_id TEXT NOT NULL,
        seq INTEGER NOT NULL,
        type TEXT NOT NULL,
        body TEXT NOT NULL,
        status TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at TEXT NOT NULL,
        scheduled_at TEXT NOT NULL,
        last_status_code INTEGER,
        last_error TEXT,
        delivered_at TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE INDEX webhook_deliveries_by_webhook ON webhook_deliveries (webhook_id, id);
    CREATE INDEX webhook_deliveries_outstanding ON webhook_deliveries (webhook_id, device_id, id)
        WHERE status IN ('pending', 'retrying');",
    // 4: the journal stores each event's whole payload, `deviceId`, `seq` and `at` included, so
    // it goes out to clients as stored. It becomes a rowid table: payloads are large, and a
    // table without rowid keeps whole rows in its interior pages, so every append split pages
    // full of payloads; now appends go to the end of the table and only the small
    // (device, seq) index is ordered by key.
    "CREATE TABLE journal (
        device_id TEXT NOT NULL,
        seq INTEGER NOT NULL,
        name TEXT NOT NULL,
        data TEXT NOT NULL,
        at TEXT NOT NULL
    );
    INSERT INTO journal (device_id, seq, name, data, at)
        SELECT device_id, seq, name,
            json_set(data, '$.deviceId', device_id, '$.seq', seq, '$.at', at), at
        FROM events ORDER BY device_id, seq;
    DROP TABLE events;
    ALTER TABLE journal RENAME TO events;
    CREATE UNIQUE INDEX events_by_seq ON events (device_id, seq);",
    // 5: a message's row no longer says `sending` while it is being sent (it stays queued
    // until the attempt's outcome), so the relay queue's index lists two statuses. With three,
    // SQLite built a temporary table of them every time it checked whether a row belongs in
    // the index, that is for every message stored and every relay outcome recorded.
    "UPDATE messages SET relay_status = 'queued' WHERE relay_status = 'sending';
    DROP INDEX messages_in_relay;
    CREATE INDEX messages_in_relay ON messages (device_id, id)
        WHERE relay_status IN ('queued', 'retrying');",
    // 6: the journal is keyed by its rowid, `(device number << 40) + seq`, so an event is one
    // b-tree insert instead of two (the table and its (device, seq) index), and a device's
    // events are one range of the table. Each device journaled to gets its number.
    "INSERT OR IGNORE INTO device_seq (device_id, last_seq)
        SELECT device_id, MAX(seq) FROM events GROUP BY device_id;
    ALTER TABLE device_seq ADD COLUMN num INTEGER;
    UPDATE device_seq SET num = rowid;
    CREATE UNIQUE INDEX device_seq_by_num ON device_seq (num);
    CREATE TABLE journal (
        key INTEGER PRIMARY KEY,
        name TEXT NOT NULL,
        data TEXT NOT NULL,
        at TEXT NOT NULL
    );
    INSERT INTO journal (key, name, data, at)
        SELECT (d.num << 40) + e.seq, e.name, e.data, e.at
        FROM events e JOIN device_seq d USING (device_id) ORDER BY 1;
    DROP TABLE events;
    ALTER TABLE journal RENAME TO events;",
    "ALTER TABLE messages ADD COLUMN template TEXT;",
    // 8: the numbers behind linked ids (`…@lid`), as the upstream told them.
    "CREATE TABLE linked_ids (
        device_id TEXT NOT NULL,
        lid TEXT NOT NULL,
        number TEXT NOT NULL,
        PRIMARY KEY (device_id, lid)
    ) WITHOUT ROWID;",
    // 9: files clients uploaded to send; the bytes are files under the data directory.
    "CREATE TABLE uploads (
        device_id TEXT NOT NULL,
        id TEXT NOT NULL,
        mime TEXT NOT NULL,
        name TEXT,
        size INTEGER NOT NULL,
        created_at TEXT NOT NULL,
        PRIMARY KEY (device_id, id)
    ) WITHOUT ROWID;
    CREATE INDEX uploads_by_age ON uploads (created_at);",
    // 10: finished webhook deliveries by age, so pruning the log finds the old ones directly.
    "CREATE INDEX webhook_deliveries_finished ON webhook_deliveries (created_at)
        WHERE status IN ('delivered', 'failed');",
    // 11: read receipts, reactions, revocations and archiving waiting to be told upstream.
    "CREATE TABLE outbound_actions (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        device_id TEXT NOT NULL,
        chat_id TEXT NOT NULL,
        message_id TEXT,
        action TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at TEXT,
        created_at TEXT NOT NULL
    );
    CREATE INDEX outbound_actions_by_device ON outbound_actions (device_id, id);",
    // 12: each device's newest `state` and `qr` event, kept past the journal's retention.
    "CREATE TABLE latest_events (
        device_id TEXT NOT NULL,
        name TEXT NOT NULL,
        seq INTEGER NOT NULL,
        data TEXT NOT NULL,
        at TEXT NOT NULL,
        PRIMARY KEY (device_id, name)
    ) WITHOUT ROWID;
    WITH kept(name) AS (VALUES ('state'), ('qr'))
    INSERT INTO latest_events (device_id, name, seq, data, at)
        SELECT d.device_id, e.name, e.key - (d.num << 40), e.data, e.at
        FROM device_seq d, kept k JOIN events e ON e.key = (
            SELECT MAX(key) FROM events
            WHERE key > (d.num << 40) AND key < ((d.num + 1) << 40) AND name = k.name
        );",
    // 13: the row readiness rewrites to learn whether the database can be written.
    "CREATE TABLE writable_check (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        checked_at TEXT NOT NULL
    );",
    // 14: what each simulated phone still owes for a message it received (its acks, read
    // receipts and replies, as the simulator planned them), so a restart does not lose it.
    "CREATE TABLE simulator_duties (
        device_id TEXT NOT NULL,
        upstream_id TEXT NOT NULL,
        received_at TEXT NOT NULL,
        plan TEXT NOT NULL,
        done INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (device_id, upstream_id)
    ) WITHOUT ROWID;",
    // 15: a `tempId` may be a string or a number and goes back to the client as it came, so
    // it is stored as its JSON text (`"t-1"`, `5`): the type is kept with the value, and the
    // unique index tells the string "5" from the number 5. The ids stored so far were strings.
    "UPDATE messages SET temp_id = json_quote(temp_id) WHERE temp_id IS NOT NULL;",
    "CREATE TABLE secrets (
        name TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );",
    // 17: see JOURNAL_ROWS_OWN_FIELDS.
    JOURNAL_ROWS_OWN_FIELDS,
    // 18: journal rows packed (src/store/journal/packing.rs), with their kind as a number
    // (journal/kinds.rs) and their time as milliseconds since the epoch, ~35 bytes fewer a
    // row than the name and the time as text. The rows written before keep their fields as
    // text, read as they are; their names and times are numbered here.
    "CREATE TABLE journal (
        key INTEGER PRIMARY KEY,
        kind INTEGER NOT NULL,
        data BLOB NOT NULL,
        at INTEGER NOT NULL
    );
    INSERT INTO journal (key, kind, data, at)
        SELECT key, {number_of_name}, data,
            CAST(round(unixepoch(at, 'subsec') * 1000) AS INTEGER) FROM events;
    DROP TABLE events;
    ALTER TABLE journal RENAME TO events;",
    // 19: each device's newest `state` and `qr` rows are packed like the journal's since step
    // 18, and their column is declared as bytes, as PostgreSQL's is. A SQLite column keeps
    // whatever each row was given, so the rows copied over are as they were.
    "CREATE TABLE latest_kept (
        device_id TEXT NOT NULL,
        name TEXT NOT NULL,
        seq INTEGER NOT NULL,
        data BLOB NOT NULL,
        at TEXT NOT NULL,
        PRIMARY KEY (device_id, name)
    ) WITHOUT ROWID;
    INSERT INTO latest_kept (device_id, name, seq, data, at)
        SELECT device_id, name, seq, data, at FROM latest_events;
    DROP TABLE latest_events;
    ALTER TABLE latest_kept RENAME TO latest_events;",
    // 20: what a message carries beside its text and file (a place, contact cards, a poll,
    // a length, whether it was forwarded: `model::content`), as JSON, and when it was edited;
    // what a simulated phone received, with its type and content.
    "ALTER TABLE messages ADD COLUMN content TEXT;
    ALTER TABLE messages ADD COLUMN edited_at TEXT;
    ALTER TABLE simulator_inbox ADD COLUMN kind TEXT;
    ALTER TABLE simulator_inbox ADD COLUMN content TEXT;",
    // 21: a chat pinned to the top of the list, and one marked unread by hand.
    "ALTER TABLE chats ADD COLUMN pinned INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE chats ADD COLUMN marked_unread INTEGER NOT NULL DEFAULT 0;",
    // 22: the words of messages' texts, for search (`store::messages::search`): an FTS5
    // index over the message rows themselves (nothing stored twice), kept by triggers in the
    // same commit as the message, an edit or a revocation; the messages there are indexed.
    "CREATE VIRTUAL TABLE message_words USING fts5(
        body, content = 'messages', content_rowid = 'rowid',
        tokenize = 'unicode61 remove_diacritics 2'
    );
    CREATE TRIGGER message_words_added AFTER INSERT ON messages BEGIN
        INSERT INTO message_words (rowid, body) VALUES (new.rowid, new.body);
    END;
    CREATE TRIGGER message_words_removed AFTER DELETE ON messages BEGIN
        INSERT INTO message_words (message_words, rowid, body)
            VALUES ('delete', old.rowid, old.body);
    END;
    CREATE TRIGGER message_words_changed AFTER UPDATE OF body ON messages
        WHEN old.body <> new.body BEGIN
        INSERT INTO message_words (message_words, rowid, body)
            VALUES ('delete', old.rowid, old.body);
        INSERT INTO message_words (rowid, body) VALUES (new.rowid, new.body);
    END;
    INSERT INTO message_words (message_words) VALUES ('rebuild');",
    // 23: the groups of each simulated phone's world, with their members and roles, as the
    // simulator writes them (JSON), so they are the same after a restart.
    "CREATE TABLE simulator_groups (
        device_id TEXT NOT NULL,
        chat_id TEXT NOT NULL,
        state TEXT NOT NULL,
        PRIMARY KEY (device_id, chat_id)
    ) WITHOUT ROWID;",
    // 24: what a contact's profile said when last looked up, whether this account blocked
    // them, and their profile pictures, kept to be served by the daemon (`size` is what the
    // budget `limits.picture_cache_bytes` counts; no `mime` and empty `data`: they have none);
    // linked ids found by their number, for a contact's `lid`.
    "ALTER TABLE contacts ADD COLUMN about TEXT;
    ALTER TABLE contacts ADD COLUMN blocked INTEGER NOT NULL DEFAULT 0;
    CREATE TABLE contact_pictures (
        device_id TEXT NOT NULL,
        contact_id TEXT NOT NULL,
        mime TEXT,
        data BLOB NOT NULL,
        size INTEGER NOT NULL,
        fetched_at TEXT NOT NULL,
        PRIMARY KEY (device_id, contact_id)
    );
    CREATE INDEX contact_pictures_by_age ON contact_pictures (fetched_at);
    CREATE INDEX linked_ids_by_number ON linked_ids (device_id, number);",
    // 25: what each device's send governor keeps between restarts (`store::governors`).
    "CREATE TABLE governors (
        device_id TEXT PRIMARY KEY,
        ledger TEXT NOT NULL
    ) WITHOUT ROWID;",
    // 26: event sinks (`store::sinks`) and, per sink and device, the last seq the sink's
    // server confirmed: where it reads the journal on from.
    "CREATE TABLE sinks (
        id TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        url TEXT NOT NULL,
        target TEXT NOT NULL,
        events TEXT NOT NULL,
        devices TEXT NOT NULL,
        enabled INTEGER NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE TABLE sink_cursors (
        sink_id TEXT NOT NULL,
        device_id TEXT NOT NULL,
        seq INTEGER NOT NULL,
        PRIMARY KEY (sink_id, device_id)
    ) WITHOUT ROWID;",
    // 27: the words of new messages are indexed by the writer, a batch's together at its end
    // (`store::messages::search`), not by a trigger on each insert; the triggers that take
    // an edited or deleted message's words out stay. Nothing indexed changes.
    "DROP TRIGGER message_words_added;",
    // 28: a simulated phone's plans keyed by when it received each message, then its upstream
    // id (`store::messages::simulator_duties`): written at the table's end in arrival order,
    // not each on a page of its own as the random upstream id put them.
    "CREATE TABLE simulator_plans (
        device_id TEXT NOT NULL,
        upstream_id TEXT NOT NULL,
        received_at TEXT NOT NULL,
        plan TEXT NOT NULL,
        done INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (device_id, received_at, upstream_id)
    ) WITHOUT ROWID;
    INSERT INTO simulator_plans SELECT * FROM simulator_duties;
    DROP TABLE simulator_duties;
    ALTER TABLE simulator_plans RENAME TO simulator_duties;",
    // 29: AWAITING_ACK_SINCE.
    AWAITING_ACK_SINCE,
    // 30: PLANS_IN_THE_INBOX.
    PLANS_IN_THE_INBOX,
    // 31: a simulated phone's plans that are still owed in a table of their own, keyed by the
    // inbox row of their message (`store::messages::simulator_duties`). A plan kept in its
    // inbox row made the row shrink when the plan was done, seconds after the row was
    // written: SQLite does not merge a page its rows shrank, so the inbox's pages ended up a
    // sixth full (~0.85 KiB a message in a fleet's exchanges). A plan's row is deleted when it
    // is done, which frees its place.
    "CREATE TABLE simulator_plans (
        device_id TEXT NOT NULL,
        inbox_row INTEGER NOT NULL,
        plan TEXT NOT NULL,
        done INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (device_id, inbox_row)
    ) WITHOUT ROWID;
    INSERT INTO simulator_plans (device_id, inbox_row, plan, done)
        SELECT device_id, rowid, plan, done FROM simulator_inbox WHERE plan IS NOT NULL;
    DROP INDEX simulator_owed;
    ALTER TABLE simulator_inbox DROP COLUMN plan;
    ALTER TABLE simulator_inbox DROP COLUMN done;",
    // 32: see JOURNAL_ROWS_MARKED.
    JOURNAL_ROWS_MARKED,
    // 33: see JOURNAL_ROWS_PACKED_AGAINST_DICTIONARY_2.
    JOURNAL_ROWS_PACKED_AGAINST_DICTIONARY_2,
    // 34: see NOTIFICATIONS_UNREAD_ONLY.
    NOTIFICATIONS_UNREAD_ONLY,
    // 35: see JOURNAL_ROWS_NAMING_MESSAGES.
    JOURNAL_ROWS_NAMING_MESSAGES,
    // 36: see JOURNAL_ROWS_KEPT_AS_CHANGES.
    JOURNAL_ROWS_KEPT_AS_CHANGES,
    // 37: see `numbered_messages`.
    numbered_messages::SQLITE,
    // 38: see `numbered_inbox`.
    numbered_inbox::SQLITE,
    // 39: a chat's messages and the relay queue listed by their row numbers
    // (`messages::STORED_ORDER`), which SQLite's indexes hold anyway, rather than by their ids.
    "DROP INDEX messages_by_chat;
    CREATE INDEX messages_by_chat ON messages (device, chat_id);
    DROP INDEX messages_in_relay;
    CREATE INDEX messages_in_relay ON messages (device) WHERE relay_status IN ('queued', 'retrying');",
    // 40: see `simulator_numbers`.
    simulator_numbers::SQLITE,
];

/// The step after which a message sent and still without its server ack says since when in a
/// column of its own (`store::messages::queue`), which its first ack clears, and the index of
/// such messages lists that column's rows rather than testing `ack`: a later ack then changes
/// no column an index names, so that PostgreSQL updates the row in place (a "HOT" update,
/// for which its rows also keep room on their page) instead of adding it to every index of
/// the table again. PostgreSQL has the same step, with that room.
const AWAITING_ACK_SINCE: &str = "ALTER TABLE messages ADD COLUMN awaiting_ack_since TEXT;
    UPDATE messages SET awaiting_ack_since = sent_at WHERE relay_status = 'sent' AND ack = 0;
    DROP INDEX messages_awaiting_ack;
    CREATE INDEX messages_awaiting_ack ON messages (device_id, awaiting_ack_since)
        WHERE awaiting_ack_since IS NOT NULL;";

/// The step after which a simulated phone's plan is kept in the inbox row of the message it is
/// for, whose steps find it by the row's number (until step 31 keeps the plans still owed in a
/// table of their own, keyed by that row); plans whose message the inbox no longer has are
/// dropped. The same step on PostgreSQL (`done` is
/// a `BIGINT`, as PostgreSQL's counters are, and an integer on SQLite).
pub(super) const PLANS_IN_THE_INBOX: &str = "ALTER TABLE simulator_inbox ADD COLUMN plan TEXT;
    ALTER TABLE simulator_inbox ADD COLUMN done BIGINT NOT NULL DEFAULT 0;
    UPDATE simulator_inbox SET plan = d.plan, done = d.done FROM simulator_duties d
        WHERE d.device_id = simulator_inbox.device_id
            AND d.received_at = simulator_inbox.received_at
            AND d.upstream_id = simulator_inbox.upstream_id;
    DROP TABLE simulator_duties;
    CREATE INDEX simulator_owed ON simulator_inbox (device_id) WHERE plan IS NOT NULL;";

/// The step after which a journal row may hold an event's own fields only, without the
/// `deviceId`, `seq` and `at` its key and columns hold (rows written before hold the whole
/// payload and are read as they are). No table changes: the version is there for an older
/// build, which would read such a row as the whole payload and send its events without their
/// `seq`, to refuse the database instead. The same step on PostgreSQL.
pub(super) const JOURNAL_ROWS_OWN_FIELDS: &str =
    "-- journal rows may hold an event's own fields only";

/// The step after which a journal row's fields may hold its device's id and its time as marks
/// (`journal::packing::marked`), which its key and `at` column give back; rows written before
/// hold neither and are read as they are. No table changes: the version is there for an older
/// build, which would read such a row as fields it cannot parse, to refuse the database
/// instead. The same step on PostgreSQL.
pub(super) const JOURNAL_ROWS_MARKED: &str =
    "-- journal rows may hold their device's id and time as marks";

/// The step after which a journal row may be packed against the second dictionary of the
/// payloads' shapes (`journal::packing`), which holds the fields messages, chats and contacts
/// have now. No table changes: an older build, which has only the first dictionary and could
/// not read such a row, refuses the database instead. The same step on PostgreSQL.
pub(super) const JOURNAL_ROWS_PACKED_AGAINST_DICTIONARY_2: &str =
    "-- journal rows may be packed against the second dictionary";

/// The step after which a `chat:update` row may name the `message` row journaled with it in
/// place of its `lastMessage` (`journal::naming`). No table changes: an older build, which
/// would read such a row as fields it cannot parse, and prune the named row without the row
/// naming it, refuses the database instead. The same step on PostgreSQL.
pub(super) const JOURNAL_ROWS_NAMING_MESSAGES: &str =
    "-- a chat's update may name the message row journaled with it";

/// The step after which a journal row may be kept as how it differs from an earlier row
/// (`journal::changes`): no table changes, but an older build refuses the database.
pub(super) const JOURNAL_ROWS_KEPT_AS_CHANGES: &str =
    "-- a journal row may be kept as how it differs from an earlier row of its kind";

/// The step after which the notifications table keeps the unread ones only: reading a
/// notification deletes its row (`store::messages::notifications`), which nothing read again
/// once it was read, so a device whose notifications are read no longer keeps a row and an
/// index entry for each of them. The rows read before go, with the column that told them
/// apart; the index of a chat's notifications now lists every row. The same step on
/// PostgreSQL.
pub(super) const NOTIFICATIONS_UNREAD_ONLY: &str = "DELETE FROM notifications WHERE read = 1;
    DROP INDEX notifications_unread;
    ALTER TABLE notifications DROP COLUMN read;
    CREATE INDEX notifications_by_chat ON notifications (device_id, chat_id);";

pub fn migrate(conn: &mut Connection) -> StoreResult<()> {
    migrate_telling(conn, SLOW_STEP)
}

/// [`migrate`], telling of each step that takes longer than `slow`.
fn migrate_telling(conn: &mut Connection, slow: Duration) -> StoreResult<()> {
    let known = MIGRATIONS.len() as i64;
    let found: i64 = conn.pragma_query_value(None, "user_version", |row| row.get(0))?;
    if found > known {
        return Err(StoreError::NewerSchema { found, known });
    }
    let mut upgrade = Upgrade::start(found, known, slow);
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        let tx = conn.transaction()?;
        tx.execute_batch(&with_numbers_of_names(sql))?;
        tx.pragma_update(None, "user_version", index as i64 + 1)?;
        tx.commit()?;
        upgrade.step_done(index + 1);
    }
    upgrade.done();
    Ok(())
}

/// A step of an upgrade that takes longer than this is logged as it ends.
pub(super) const SLOW_STEP: Duration = Duration::from_secs(1);

pub(super) mod numbered_inbox;
mod upgrade;
pub(super) use upgrade::Upgrade;
pub(super) mod numbered_messages;
pub(super) mod simulator_numbers;
#[cfg(test)]
mod tests;
