//! The step after which a message row keeps its device's number (`device_seq.num`, which
//! numbers its journal too) instead of its id, and its times as milliseconds since the epoch
//! instead of RFC 3339 texts.
//!
//! The device's id was the first column of every index of the table and the times ~24 bytes
//! each: a message row and its index entries now take ~100 bytes less, and the writer's
//! b-trees compare a number where they compared a text (docs/performance.md, send). Every
//! device that has messages gets a number first, if its journal never gave it one.
//!
//! A time that does not read as one keeps the message's creation time, or the epoch: a
//! migration must not stop on a row that only an earlier bug could have written.

/// The table's indexes by the device's number, the same on both databases.
macro_rules! indexes {
    () => {
        "
    CREATE INDEX messages_by_chat ON messages (device, chat_id, id);
    CREATE UNIQUE INDEX messages_by_upstream_id ON messages (device, upstream_id)
        WHERE upstream_id IS NOT NULL;
    CREATE UNIQUE INDEX messages_by_temp_id ON messages (device, temp_id)
        WHERE temp_id IS NOT NULL;
    CREATE UNIQUE INDEX messages_by_idempotency_key ON messages (device, idempotency_key)
        WHERE idempotency_key IS NOT NULL;
    CREATE INDEX messages_in_relay ON messages (device, id)
        WHERE relay_status IN ('queued', 'retrying');
    CREATE INDEX messages_awaiting_ack ON messages (device, awaiting_ack_since)
        WHERE awaiting_ack_since IS NOT NULL;"
    };
}

/// SQLite rebuilds the table (a column's declared type cannot change in place), with each
/// row's `rowid`, which the search index names, and the same indexes and triggers. The
/// device's number is the last column, as PostgreSQL, which adds it, has it.
pub(in crate::store) const SQLITE: &str = concat!(
    "
    INSERT INTO device_seq (device_id, last_seq, num)
        SELECT device_id, 0,
            (SELECT COALESCE(MAX(num), 0) FROM device_seq) + ROW_NUMBER() OVER (ORDER BY device_id)
        FROM (SELECT DISTINCT device_id FROM messages) AS m
        WHERE NOT EXISTS (SELECT 1 FROM device_seq d WHERE d.device_id = m.device_id);
    DROP TRIGGER message_words_removed;
    DROP TRIGGER message_words_changed;
    CREATE TABLE numbered_messages (
        id TEXT PRIMARY KEY,
        chat_id TEXT NOT NULL,
        upstream_id TEXT,
        from_id TEXT NOT NULL,
        from_me INTEGER NOT NULL,
        type TEXT NOT NULL,
        body TEXT NOT NULL,
        media TEXT,
        reply_to TEXT,
        timestamp INTEGER NOT NULL,
        ack INTEGER NOT NULL,
        temp_id TEXT,
        idempotency_key TEXT,
        revoked INTEGER NOT NULL DEFAULT 0,
        seen INTEGER NOT NULL DEFAULT 0,
        relay_status TEXT,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at INTEGER,
        sent_at INTEGER,
        created_at INTEGER NOT NULL,
        template TEXT,
        content TEXT,
        edited_at INTEGER,
        awaiting_ack_since INTEGER,
        device INTEGER NOT NULL
    );
    INSERT INTO numbered_messages (rowid, id, chat_id, upstream_id, from_id, from_me, type,
        body, media, reply_to, timestamp, ack, temp_id, idempotency_key, revoked, seen,
        relay_status, attempts, next_attempt_at, sent_at, created_at, template, content,
        edited_at, awaiting_ack_since, device)
    SELECT m.rowid, m.id, m.chat_id, m.upstream_id, m.from_id, m.from_me, m.type,
        m.body, m.media, m.reply_to,
        COALESCE(CAST(ROUND(unixepoch(m.timestamp, 'subsec') * 1000) AS INTEGER),
            CAST(ROUND(unixepoch(m.created_at, 'subsec') * 1000) AS INTEGER), 0),
        m.ack, m.temp_id, m.idempotency_key, m.revoked, m.seen, m.relay_status, m.attempts,
        CAST(ROUND(unixepoch(m.next_attempt_at, 'subsec') * 1000) AS INTEGER),
        CAST(ROUND(unixepoch(m.sent_at, 'subsec') * 1000) AS INTEGER),
        COALESCE(CAST(ROUND(unixepoch(m.created_at, 'subsec') * 1000) AS INTEGER), 0),
        m.template, m.content,
        CAST(ROUND(unixepoch(m.edited_at, 'subsec') * 1000) AS INTEGER),
        CAST(ROUND(unixepoch(m.awaiting_ack_since, 'subsec') * 1000) AS INTEGER), d.num
    FROM messages m JOIN device_seq d ON d.device_id = m.device_id;
    DROP TABLE messages;
    ALTER TABLE numbered_messages RENAME TO messages;",
    indexes!(),
    "
    CREATE TRIGGER message_words_removed AFTER DELETE ON messages BEGIN
        INSERT INTO message_words (message_words, rowid, body)
            VALUES ('delete', old.rowid, old.body);
    END;
    CREATE TRIGGER message_words_changed AFTER UPDATE OF body ON messages
        WHEN old.body <> new.body BEGIN
        INSERT INTO message_words (message_words, rowid, body)
            VALUES ('delete', old.rowid, old.body);
        INSERT INTO message_words (rowid, body) VALUES (new.rowid, new.body);
    END;"
);

/// The function PostgreSQL's steps read an RFC 3339 text as milliseconds with, `NULL` for a text
/// that is no time, after `CREATE` (or `CREATE OR REPLACE` in a step after the first that
/// makes it: it lasts as long as the session that migrates).
macro_rules! millis_function {
    () => {
        "FUNCTION pg_temp.millis(at TEXT) RETURNS BIGINT LANGUAGE plpgsql AS $$
    BEGIN
        RETURN round(extract(epoch FROM at::timestamptz) * 1000);
    EXCEPTION WHEN others THEN
        RETURN NULL;
    END $$;"
    };
}
pub(super) use millis_function;

/// PostgreSQL changes the columns in place; dropping the device's id drops the indexes that
/// began with it. A device's number comes from the sequence that numbers journals.
pub(in crate::store) const POSTGRES: &str = concat!(
    r#"
    INSERT INTO device_seq (device_id, last_seq)
        SELECT DISTINCT device_id, 0 FROM messages ON CONFLICT (device_id) DO NOTHING;
    ALTER TABLE messages ADD COLUMN device BIGINT;
    UPDATE messages m SET device = d.num FROM device_seq d WHERE d.device_id = m.device_id;
    ALTER TABLE messages ALTER COLUMN device SET NOT NULL;
    CREATE "#,
    millis_function!(),
    r#"
    ALTER TABLE messages
        ALTER COLUMN created_at TYPE BIGINT USING COALESCE(pg_temp.millis(created_at), 0),
        ALTER COLUMN timestamp TYPE BIGINT
            USING COALESCE(pg_temp.millis(timestamp), pg_temp.millis(created_at), 0),
        ALTER COLUMN next_attempt_at TYPE BIGINT USING pg_temp.millis(next_attempt_at),
        ALTER COLUMN sent_at TYPE BIGINT USING pg_temp.millis(sent_at),
        ALTER COLUMN edited_at TYPE BIGINT USING pg_temp.millis(edited_at),
        ALTER COLUMN awaiting_ack_since TYPE BIGINT USING pg_temp.millis(awaiting_ack_since);
    ALTER TABLE messages DROP COLUMN device_id;"#,
    indexes!()
);

/// Messages as the step before kept them, and what the step must keep of them: on either
/// database, through the store's own reads.
#[cfg(test)]
pub(in crate::store) mod written_before {
    use crate::model::DeviceId;
    use crate::store::{messages, parse_time, sql::Conn};

    /// Two devices' messages, times as texts: `demo`'s journal numbered it 7, `shop` has
    /// no number yet, and one of its times does not read as one.
    pub const ROWS: &str = "
        INSERT INTO device_seq (device_id, last_seq, num) VALUES ('demo', 4, 7);
        INSERT INTO messages (id, device_id, chat_id, upstream_id, from_id, from_me, type, body,
            timestamp, ack, relay_status, sent_at, awaiting_ack_since, idempotency_key,
            created_at, edited_at)
        VALUES ('msg_1', 'demo', 'c', 'up_1', 'me', 1, 'text', 'hello world',
                '2026-01-02T03:04:05.678Z', 0, 'sent', '2026-01-02T03:04:06.001Z',
                '2026-01-02T03:04:06.001Z', 'key-1', '2026-01-02T03:04:05.678Z',
                '2026-01-02T03:05:00.000Z'),
               ('msg_2', 'shop', 'c', NULL, 'them', 0, 'text', 'hello shop',
                'not a time', 0, NULL, NULL, NULL, NULL, '2026-01-03T00:00:00.000Z', NULL);";

    /// After a step that numbers devices, on rows of `demo` (numbered 7 by its journal) and
    /// `shop` (not numbered): `demo` keeps its number and `shop` has one of its own.
    pub fn demo_kept_and_shop_numbered(conn: &Conn) {
        let number = |device: &str| {
            conn.query_one(
                "SELECT num FROM device_seq WHERE device_id = ?1",
                crate::store::sql::params![device],
                |row| row.get::<i64>(0),
            )
            .unwrap()
        };
        assert_eq!(number("demo"), 7);
        assert!(![0, 7].contains(&number("shop")), "a number of its own");
    }

    /// Each message is its device's, with its times to the millisecond; `shop` got a number; the relay's times still compare, and the search index still finds a message.
    pub fn read_back_the_same(conn: &Conn) {
        demo_kept_and_shop_numbered(conn);
        let demo = DeviceId::parse("demo").unwrap();
        let shop = DeviceId::parse("shop").unwrap();
        let mine = messages::get_message(conn, &demo, "msg_1")
            .unwrap()
            .unwrap();
        assert_eq!(
            (mine.device_id.as_str(), mine.timestamp.as_str()),
            ("demo", "2026-01-02T03:04:05.678Z")
        );
        assert_eq!(mine.edited_at.as_deref(), Some("2026-01-02T03:05:00.000Z"));
        let theirs = messages::get_message(conn, &shop, "msg_2")
            .unwrap()
            .unwrap();
        assert_eq!(
            (theirs.device_id.as_str(), theirs.timestamp.as_str()),
            ("shop", "2026-01-03T00:00:00.000Z"),
            "a time that does not read keeps the message's creation time"
        );
        assert!(messages::get_message(conn, &shop, "msg_1")
            .unwrap()
            .is_none());
        let unacked = messages::unacked(conn, &demo).unwrap();
        assert_eq!(unacked.oldest, Some(parse_time("2026-01-02T03:04:06.001Z")));
        let since = parse_time("2026-01-02T03:04:05.678Z");
        let keyed = messages::by_idempotency_key(conn, &demo, "key-1", since).unwrap();
        assert_eq!(keyed.map(|m| m.id).as_deref(), Some("msg_1"));
        let later = since + chrono::Duration::milliseconds(1);
        let keyed = messages::by_idempotency_key(conn, &demo, "key-1", later).unwrap();
        assert!(keyed.is_none());
        let found = messages::search(conn, &shop, "hello", None, None, (10, 1 << 20)).unwrap();
        let ids: Vec<_> = found.items.into_iter().map(|m| m.id).collect();
        assert_eq!(ids, ["msg_2"]);
    }
}
