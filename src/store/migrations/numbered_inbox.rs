//! The step after which unread notifications and the simulated phones' inboxes keep their
//! device's number (`device_seq.num`) instead of its id, as message rows do
//! ([`super::numbered_messages`]), and an inbox row its arrival time as milliseconds since the
//! epoch instead of an RFC 3339 text.
//!
//! Both tables grow by a row with every exchange, and the device's id was in each row and
//! again in its index: with the load tool's device ids, ~50 bytes an exchange in the inbox and
//! ~20 in the notifications (docs/performance.md, fleet). Every device that has such rows
//! gets a number first, if its journal never gave it one. An arrival time that does not read as
//! one becomes the epoch: a migration must not stop on a row only an earlier bug could write.

/// SQLite rebuilds both tables (a column's type cannot change in place); each inbox row keeps
/// its `rowid`, which the phone's plans name. The device's number is the last column, as
/// PostgreSQL, which adds it, has it.
pub(in crate::store) const SQLITE: &str = "
    INSERT INTO device_seq (device_id, last_seq, num)
        SELECT device_id, 0,
            (SELECT COALESCE(MAX(num), 0) FROM device_seq) + ROW_NUMBER() OVER (ORDER BY device_id)
        FROM (SELECT device_id FROM notifications UNION SELECT device_id FROM simulator_inbox) AS m
        WHERE NOT EXISTS (SELECT 1 FROM device_seq d WHERE d.device_id = m.device_id);
    CREATE TABLE numbered_notifications (
        id TEXT NOT NULL,
        chat_id TEXT,
        device INTEGER NOT NULL,
        PRIMARY KEY (device, id)
    ) WITHOUT ROWID;
    INSERT INTO numbered_notifications (id, chat_id, device)
        SELECT n.id, n.chat_id, d.num FROM notifications n
        JOIN device_seq d ON d.device_id = n.device_id;
    DROP TABLE notifications;
    ALTER TABLE numbered_notifications RENAME TO notifications;
    CREATE INDEX notifications_by_chat ON notifications (device, chat_id);
    CREATE TABLE numbered_inbox (
        message_id TEXT NOT NULL,
        upstream_id TEXT NOT NULL,
        chat_id TEXT NOT NULL,
        body TEXT NOT NULL,
        received_at INTEGER NOT NULL,
        kind TEXT,
        content TEXT,
        device INTEGER NOT NULL,
        UNIQUE (device, message_id)
    );
    INSERT INTO numbered_inbox (rowid, message_id, upstream_id, chat_id, body, received_at,
        kind, content, device)
    SELECT i.rowid, i.message_id, i.upstream_id, i.chat_id, i.body,
        COALESCE(CAST(ROUND(unixepoch(i.received_at, 'subsec') * 1000) AS INTEGER), 0),
        i.kind, i.content, d.num
    FROM simulator_inbox i JOIN device_seq d ON d.device_id = i.device_id;
    DROP TABLE simulator_inbox;
    ALTER TABLE numbered_inbox RENAME TO simulator_inbox;";

/// PostgreSQL changes the columns in place; dropping the device's id drops the keys and the
/// index that began with it. A device's number comes from the sequence that numbers journals.
pub(in crate::store) const POSTGRES: &str = concat!(
    r#"
    INSERT INTO device_seq (device_id, last_seq)
        SELECT device_id, 0
        FROM (SELECT device_id FROM notifications UNION SELECT device_id FROM simulator_inbox) m
        ON CONFLICT (device_id) DO NOTHING;
    ALTER TABLE notifications ADD COLUMN device BIGINT;
    UPDATE notifications n SET device = d.num FROM device_seq d WHERE d.device_id = n.device_id;
    ALTER TABLE notifications ALTER COLUMN device SET NOT NULL;
    ALTER TABLE notifications DROP COLUMN device_id;
    ALTER TABLE notifications ADD PRIMARY KEY (device, id);
    CREATE INDEX notifications_by_chat ON notifications (device, chat_id);
    ALTER TABLE simulator_inbox ADD COLUMN device BIGINT;
    UPDATE simulator_inbox i SET device = d.num FROM device_seq d WHERE d.device_id = i.device_id;
    ALTER TABLE simulator_inbox ALTER COLUMN device SET NOT NULL;
    CREATE OR REPLACE "#,
    super::numbered_messages::millis_function!(),
    r#"
    ALTER TABLE simulator_inbox
        ALTER COLUMN received_at TYPE BIGINT USING COALESCE(pg_temp.millis(received_at), 0);
    ALTER TABLE simulator_inbox DROP COLUMN device_id;
    ALTER TABLE simulator_inbox ADD UNIQUE (device, message_id);"#
);

/// Notifications and inbox rows as the step before kept them, and what the step must keep of
/// them: on either database, through the store's own reads.
#[cfg(test)]
pub(in crate::store) mod written_before {
    use crate::model::DeviceId;
    use crate::store::{messages, sql::Conn};

    /// Two devices' rows: `demo`'s journal numbered it 7, `shop` has no number yet, and one
    /// of its arrival times does not read as one.
    pub const ROWS: &str = "
        INSERT INTO device_seq (device_id, last_seq, num) VALUES ('demo', 4, 7);
        INSERT INTO notifications (device_id, id, chat_id)
        VALUES ('demo', 'ntf_1', 'c'), ('demo', 'ntf_2', NULL), ('shop', 'ntf_3', 'c');
        INSERT INTO simulator_inbox (device_id, message_id, upstream_id, chat_id, body,
            received_at, kind, content)
        VALUES ('demo', 'msg_1', 'up_1', 'c', 'hello', '2026-01-02T03:04:05.678Z', 'text', NULL),
               ('shop', 'msg_2', 'up_2', 'c', 'hello shop', 'not a time', NULL, NULL);";

    /// Each row is its device's, an arrival time to the millisecond; `shop` got a number of
    /// its own.
    pub fn read_back_the_same(conn: &Conn) {
        super::super::numbered_messages::written_before::demo_kept_and_shop_numbered(conn);
        let demo = DeviceId::parse("demo").unwrap();
        let shop = DeviceId::parse("shop").unwrap();
        let inbox = |device: &DeviceId| {
            messages::simulator_inbox(conn, device)
                .unwrap()
                .into_iter()
                .map(|entry| (entry.message_id, entry.kind, entry.received_at))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            inbox(&demo),
            [(
                "msg_1".into(),
                "text".into(),
                "2026-01-02T03:04:05.678Z".into()
            )]
        );
        assert_eq!(
            inbox(&shop),
            [(
                "msg_2".into(),
                "text".into(),
                "1970-01-01T00:00:00.000Z".into()
            )]
        );
        let unread = |device: &str| {
            conn.query_all(
                "SELECT id, chat_id FROM notifications
                 WHERE device = (SELECT num FROM device_seq WHERE device_id = ?1) ORDER BY id",
                crate::store::sql::params![device],
                |row| Ok((row.get::<String>(0)?, row.get::<Option<String>>(1)?)),
            )
            .unwrap()
        };
        assert_eq!(
            unread("demo"),
            [("ntf_1".into(), Some("c".into())), ("ntf_2".into(), None)]
        );
        assert_eq!(unread("shop"), [("ntf_3".into(), Some("c".into()))]);
    }
}
