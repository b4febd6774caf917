use super::*;
use crate::model::event::EventKind;

/// A database as a build that knew only the first `version` migrations left it.
fn at_version(version: usize) -> Connection {
    let conn = Connection::open_in_memory().unwrap();
    for (index, sql) in MIGRATIONS.iter().enumerate().take(version) {
        conn.execute_batch(&with_numbers_of_names(sql)).unwrap();
        conn.pragma_update(None, "user_version", index + 1).unwrap();
    }
    conn
}

#[test]
fn journal_rows_of_an_older_schema_get_their_whole_payload() {
    let mut conn = at_version(3);
    conn.execute(
        "INSERT INTO events (device_id, seq, name, data, at) VALUES
            ('demo', 4, 'disconnected', '{\"reason\":\"connection_lost\"}', '2026-01-02T03:04:05.678Z')",
        [],
    )
    .unwrap();
    migrate(&mut conn).unwrap();
    let data: String = conn
        .query_row("SELECT data FROM events", [], |row| row.get(0))
        .unwrap();
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&data).unwrap(),
        serde_json::json!({"reason": "connection_lost", "deviceId": "demo", "seq": 4, "at": "2026-01-02T03:04:05.678Z"})
    );
}

#[test]
fn journals_keep_their_events_and_seqs_under_the_new_keys() {
    let mut conn = at_version(5);
    conn.execute_batch(
        "INSERT INTO device_seq (device_id, last_seq) VALUES ('a', 2), ('b', 7);
         INSERT INTO events (device_id, seq, name, data, at) VALUES
            ('a', 1, 'authenticated', '{\"seq\":1}', '2026-01-01T00:00:01.000Z'),
            ('a', 2, 'authenticated', '{\"seq\":2}', '2026-01-01T00:00:02.000Z'),
            ('b', 7, 'authenticated', '{\"seq\":7}', '2026-01-01T00:00:07.000Z');",
    )
    .unwrap();
    migrate(&mut conn).unwrap();
    let conn = crate::store::Conn::sqlite(conn);
    let read = |device: &str| {
        let device = crate::model::DeviceId::parse(device).unwrap();
        let read = crate::store::journal::read_after(&conn, &device, 0, 10).unwrap();
        let seqs: Vec<_> = read.events.iter().map(|e| (e.seq, e.at.clone())).collect();
        (seqs, read.head, read.complete)
    };
    let at = |second: u32| format!("2026-01-01T00:00:0{second}.000Z");
    assert_eq!(read("a"), (vec![(1, at(1)), (2, at(2))], 2, true));
    // b's first six events were pruned before the migration.
    assert_eq!(read("b"), (vec![(7, at(7))], 7, false));
    assert_eq!(read("c"), (vec![], 0, true));
}

#[test]
fn each_devices_newest_state_and_qr_are_kept_apart_from_the_journal() {
    let mut conn = at_version(11);
    conn.execute_batch(
        "INSERT INTO device_seq (device_id, last_seq, num) VALUES ('a', 4, 1), ('b', 1, 2);
         INSERT INTO events (key, name, data, at) VALUES
            ((1 << 40) + 1, 'state', '{\"state\":\"qr\"}', '2026-01-01T00:00:01.000Z'),
            ((1 << 40) + 2, 'qr', '{\"attempt\":1,\"image\":\"data:,\"}', '2026-01-01T00:00:02.000Z'),
            ((1 << 40) + 3, 'state', '{\"state\":\"ready\"}', '2026-01-01T00:00:03.000Z'),
            ((1 << 40) + 4, 'message', '{}', '2026-01-01T00:00:04.000Z'),
            ((2 << 40) + 1, 'message', '{}', '2026-01-01T00:00:05.000Z');",
    )
    .unwrap();
    migrate(&mut conn).unwrap();
    let conn = crate::store::Conn::sqlite(conn);
    let latest = |device: &str, kind: EventKind| {
        let device = crate::model::DeviceId::parse(device).unwrap();
        crate::store::journal::latest(&conn, &device, kind)
            .unwrap()
            .map(|event| (event.seq, event.fields()))
    };
    let stamped = |fields: serde_json::Value, seq: u64, at: &str| {
        let mut fields = fields;
        fields["deviceId"] = "a".into();
        fields["seq"] = seq.into();
        fields["at"] = at.into();
        Some((seq, fields))
    };
    assert_eq!(
        latest("a", EventKind::State),
        stamped(
            serde_json::json!({"state": "ready"}),
            3,
            "2026-01-01T00:00:03.000Z"
        )
    );
    assert_eq!(
        latest("a", EventKind::Qr),
        stamped(
            serde_json::json!({"attempt": 1, "image": "data:,"}),
            2,
            "2026-01-01T00:00:02.000Z"
        )
    );
    assert_eq!(latest("b", EventKind::State), None);
}

#[test]
fn journal_rows_written_with_their_whole_payload_read_as_before() {
    let mut conn = at_version(16);
    let whole = r#"{"reason":"x","deviceId":"a","seq":1,"at":"2026-11-23T10:00:00.000Z"}"#;
    conn.execute(
        "INSERT INTO device_seq (device_id, last_seq, num) VALUES ('a', 1, 1)",
        [],
    )
    .unwrap();
    conn.execute(
        "INSERT INTO events (key, name, data, at)
         VALUES ((1 << 40) + 1, 'disconnected', ?1, '2026-11-23T10:00:00.000Z')",
        [whole],
    )
    .unwrap();
    migrate(&mut conn).unwrap();
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .unwrap();
    assert_eq!(version, MIGRATIONS.len() as i64);
    let (kind, at): (i64, i64) = conn
        .query_row("SELECT kind, at FROM events", [], |row| {
            Ok((row.get(0)?, row.get(1)?))
        })
        .unwrap();
    assert_eq!(
        (kind, at),
        (5, 1_795_428_000_000),
        "the name and the time as numbers"
    );
    let conn = crate::store::Conn::sqlite(conn);
    let device = crate::model::DeviceId::parse("a").unwrap();
    let read = crate::store::journal::read_after(&conn, &device, 0, 10).unwrap();
    assert_eq!(read.events[0].payload.get(), whole);
}

#[test]
fn temp_ids_stored_as_text_become_json_strings() {
    let mut conn = at_version(13);
    conn.execute_batch(
        "INSERT INTO messages (id, device_id, chat_id, from_id, from_me, type, body, timestamp,
            ack, temp_id, created_at)
         VALUES ('msg_1', 'demo', 'c1', 'me', 1, 'text', 'hi', 't', 0, 't-1', 't'),
                ('msg_2', 'demo', 'c1', 'me', 1, 'text', 'hi', 't', 0, '5', 't'),
                ('msg_3', 'demo', 'c1', 'me', 1, 'text', 'hi', 't', 0, NULL, 't')",
    )
    .unwrap();
    migrate(&mut conn).unwrap();
    let conn = crate::store::Conn::sqlite(conn);
    let device = crate::model::DeviceId::parse("demo").unwrap();
    let found = |key: &str| {
        let asked = crate::store::messages::by_temp_id(&conn, &device, key).unwrap();
        conn.answer(asked)
            .unwrap()
            .map(|message| (message.id, message.temp_id))
    };
    let text = |id: &str| Some(crate::model::TempId::Text(id.into()));
    assert_eq!(found(r#""t-1""#), Some(("msg_1".into(), text("t-1"))));
    assert_eq!(found(r#""5""#), Some(("msg_2".into(), text("5"))));
    assert_eq!(found("5"), None, "the string \"5\" is not the number 5");
    let untouched = crate::store::messages::get_message(&conn, &device, "msg_3").unwrap();
    assert_eq!(untouched.unwrap().temp_id, None);
}

#[test]
fn messages_left_sending_go_back_to_the_queue_and_its_index() {
    let mut conn = at_version(4);
    conn.execute_batch(
        "INSERT INTO messages (id, device_id, chat_id, from_id, from_me, type, body, timestamp,
            ack, relay_status, attempts, created_at)
         VALUES ('msg_1', 'demo', 'c1', 'me', 1, 'text', 'hi', 't', 0, 'sending', 1, 't'),
                ('msg_2', 'demo', 'c1', 'me', 1, 'text', 'hi', 't', 1, 'sent', 1, 't')",
    )
    .unwrap();
    migrate(&mut conn).unwrap();
    let conn = crate::store::Conn::sqlite(conn);
    let device = crate::model::DeviceId::parse("demo").unwrap();
    let queue = crate::store::messages::relay_queue(&conn, &device, 10).unwrap();
    let queued: Vec<_> = queue
        .iter()
        .map(|q| (q.message.id.as_str(), q.attempts))
        .collect();
    assert_eq!(queued, [("msg_1", 1)]);
    let plan: String = conn
        .as_sqlite()
        .unwrap()
        .query_row(
            "EXPLAIN QUERY PLAN SELECT id FROM messages
             WHERE device = (SELECT num FROM device_seq WHERE device_id = 'demo')
                AND relay_status IN ('queued', 'retrying') ORDER BY id",
            [],
            |row| row.get(3),
        )
        .unwrap();
    assert!(plan.contains("messages_in_relay"), "{plan}");
}

#[test]
fn messages_indexed_by_the_trigger_before_stay_found_once_the_writer_indexes_new_ones() {
    let mut conn = at_version(26);
    conn.execute_batch(
        "INSERT INTO messages (id, device_id, chat_id, from_id, from_me, type, body, timestamp,
            ack, created_at)
         VALUES ('msg_1', 'demo', 'c1', 'me', 1, 'text', 'hello world', 't', 0, 't')",
    )
    .unwrap();
    migrate(&mut conn).unwrap();
    let triggers = texts(
        &conn,
        "SELECT name FROM sqlite_master WHERE type = 'trigger' ORDER BY name",
    );
    assert_eq!(triggers, ["message_words_changed", "message_words_removed"]);
    conn.execute_batch(
        "INSERT INTO message_words (message_words, rank) VALUES ('integrity-check', 1)",
    )
    .unwrap();
    let conn = crate::store::Conn::sqlite(conn);
    let device = crate::model::DeviceId::parse("demo").unwrap();
    let found = crate::store::messages::search(&conn, &device, "hello", None, None, (10, 1 << 20));
    let ids: Vec<_> = found.unwrap().items.into_iter().map(|m| m.id).collect();
    assert_eq!(ids, ["msg_1"]);
}

#[test]
fn a_simulated_phones_plans_keyed_by_texts_are_kept_by_the_inbox_rows_of_their_messages() {
    let mut conn = at_version(29);
    conn.execute_batch(
        "INSERT INTO simulator_inbox (device_id, message_id, upstream_id, chat_id, body,
            received_at)
         VALUES ('demo', 'msg_1', 'true_c1_B', 'c1', 'one', '2026-01-02T03:04:05.678Z'),
                ('demo', 'msg_2', 'true_c1_A', 'c1', 'two', '2026-01-02T03:04:06.000Z'),
                ('demo', 'msg_3', 'true_c1_C', 'c1', 'all done', '2026-01-02T03:04:07.000Z');
         INSERT INTO simulator_duties (device_id, upstream_id, received_at, plan, done)
         VALUES ('demo', 'true_c1_B', '2026-01-02T03:04:05.678Z', '[]', 1),
                ('demo', 'true_c1_A', '2026-01-02T03:04:06.000Z', '[1]', 0),
                ('demo', 'true_gone', '2026-01-02T03:04:08.000Z', '[2]', 0)",
    )
    .unwrap();
    migrate(&mut conn).unwrap();
    let tables: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM sqlite_master WHERE name = 'simulator_duties'",
            [],
            |row| row.get(0),
        )
        .unwrap();
    assert_eq!(tables, 0, "the plans' own table is gone");
    let conn = crate::store::Conn::sqlite(conn);
    let device = crate::model::DeviceId::parse("demo").unwrap();
    let owed = crate::store::messages::simulator_duties(&conn, &device).unwrap();
    let kept: Vec<_> = owed
        .iter()
        .map(|d| (d.row, d.upstream_id.as_str(), d.plan.as_str(), d.done))
        .collect();
    assert_eq!(
        kept,
        [(1, "true_c1_B", "[]", 1), (2, "true_c1_A", "[1]", 0)]
    );
    assert_eq!(
        owed[0].received_at,
        crate::store::parse_time("2026-01-02T03:04:05.678Z")
    );
}

/// The first column of every row `sql` answers, as texts.
fn texts(conn: &Connection, sql: &str) -> Vec<String> {
    conn.prepare(sql)
        .unwrap()
        .query_map([], |row| row.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

#[test]
fn a_simulated_phones_owed_plans_leave_the_inbox_rows_for_a_table_of_their_own() {
    let mut conn = at_version(30);
    conn.execute_batch(
        "INSERT INTO simulator_inbox (device_id, message_id, upstream_id, chat_id, body,
            received_at, plan, done)
         VALUES ('demo', 'msg_1', 'true_c1_B', 'c1', 'one', '2026-01-02T03:04:05.678Z', '[]', 1),
                ('demo', 'msg_2', 'true_c1_A', 'c1', 'all done', '2026-01-02T03:04:06.000Z',
                 NULL, 3),
                ('other', 'msg_3', 'true_c2_C', 'c2', 'three', '2026-01-02T03:04:07.000Z',
                 '[1]', 0)",
    )
    .unwrap();
    migrate(&mut conn).unwrap();
    let columns = texts(
        &conn,
        "SELECT name FROM pragma_table_info('simulator_inbox')",
    );
    assert!(
        !columns.iter().any(|c| c == "plan" || c == "done"),
        "{columns:?}"
    );
    let conn = crate::store::Conn::sqlite(conn);
    let owed = |device: &str| {
        let device = crate::model::DeviceId::parse(device).unwrap();
        crate::store::messages::simulator_duties(&conn, &device)
            .unwrap()
            .into_iter()
            .map(|d| (d.row, d.upstream_id, d.plan, d.done, d.received_at))
            .collect::<Vec<_>>()
    };
    let at = crate::store::parse_time;
    assert_eq!(
        owed("demo"),
        [(
            1,
            "true_c1_B".into(),
            "[]".into(),
            1,
            at("2026-01-02T03:04:05.678Z")
        )]
    );
    assert_eq!(
        owed("other"),
        [(
            3,
            "true_c2_C".into(),
            "[1]".into(),
            0,
            at("2026-01-02T03:04:07.000Z")
        )]
    );
}

#[test]
fn notifications_read_before_leave_with_the_column_that_told_them_apart() {
    let mut conn = at_version(33);
    conn.execute_batch(
        "INSERT INTO notifications (device_id, id, chat_id, read)
         VALUES ('demo', 'ntf_1', 'c1', 1), ('demo', 'ntf_2', 'c1', 0),
                ('demo', 'ntf_3', NULL, 0), ('other', 'ntf_4', 'c2', 1)",
    )
    .unwrap();
    migrate(&mut conn).unwrap();
    assert_eq!(
        texts(
            &conn,
            "SELECT d.device_id || ' ' || n.id FROM notifications n
             JOIN device_seq d ON d.num = n.device ORDER BY n.id"
        ),
        ["demo ntf_2", "demo ntf_3"]
    );
    let columns = texts(&conn, "SELECT name FROM pragma_table_info('notifications')");
    assert_eq!(columns, ["id", "chat_id", "device"]);
    let indexes = texts(
        &conn,
        "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'notifications'
         AND sql IS NOT NULL",
    );
    assert_eq!(indexes, ["notifications_by_chat"]);
}

#[test]
fn messages_sent_and_not_acked_still_await_their_ack() {
    let mut conn = at_version(28);
    conn.execute_batch(
        "INSERT INTO messages (id, device_id, chat_id, from_id, from_me, type, body, timestamp,
            ack, relay_status, sent_at, created_at)
         VALUES ('msg_1', 'demo', 'c', 'me', 1, 'text', 'a', 't', 0, 'sent', '2026-01-01T00:00:01Z', 't'),
                ('msg_2', 'demo', 'c', 'me', 1, 'text', 'b', 't', 1, 'sent', '2026-01-01T00:00:02Z', 't'),
                ('msg_3', 'demo', 'c', 'me', 1, 'text', 'c', 't', 0, 'queued', NULL, 't')",
    )
    .unwrap();
    migrate(&mut conn).unwrap();
    let conn = crate::store::Conn::sqlite(conn);
    let device = crate::model::DeviceId::parse("demo").unwrap();
    let overdue = crate::store::messages::overdue_acks(
        &conn,
        &device,
        crate::store::parse_time("2026-01-02T00:00:00Z"),
    )
    .unwrap();
    let ids: Vec<_> = overdue.iter().map(|(m, _)| m.id.as_str()).collect();
    assert_eq!(ids, ["msg_1"]);
    let unacked = crate::store::messages::unacked(&conn, &device).unwrap();
    assert_eq!(unacked.count, 1);
}

/// What `migrate_telling` logs for a database written by a build that knew the first 20
/// steps: a line as it starts, one per step slower than `slow` (all of them, at zero), and
/// one once done, in that order.
#[test]
fn an_upgrade_tells_as_it_starts_each_slow_step_and_once_done() {
    let lines = logged(|| {
        let mut conn = at_version(20);
        migrate_telling(&mut conn, Duration::ZERO).unwrap();
        // Nothing to do: nothing more to tell.
        migrate_telling(&mut conn, Duration::ZERO).unwrap();
    });
    let known = MIGRATIONS.len();
    assert!(
        lines[0].contains(&format!("migrating the database from=20 to={known}")),
        "{lines:#?}"
    );
    for (line, step) in lines[1..].iter().zip(21..=known) {
        assert!(
            line.contains(&format!(
                "migrated the database by one step step={step} of={known} seconds="
            )),
            "{lines:#?}"
        );
    }
    let last = &lines[lines.len() - 1];
    assert!(
        last.contains(&format!(
            "migrated the database from=20 to={known} seconds="
        )),
        "{lines:#?}"
    );
    assert_eq!(lines.len(), 1 + (known - 20) + 1, "{lines:#?}");
}

/// The lines logged while `run` runs, as the daemon's log would print them.
fn logged(run: impl FnOnce()) -> Vec<String> {
    use std::sync::{Arc, Mutex};
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);
    impl std::io::Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let captured = Captured::default();
    let writer = captured.clone();
    // While a single dispatcher lives, tracing decides whether an event's callsite is wanted
    // by asking the default of the thread that first reaches it; tests running beside this
    // one reach the same callsites from threads that have none, and would have them ignored
    // here too. With two alive, it asks every one.
    let _second = tracing::Dispatch::new(tracing_subscriber::registry());
    let subscriber = tracing_subscriber::fmt()
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    tracing::subscriber::with_default(subscriber, run);
    let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    text.lines().map(str::to_owned).collect()
}

/// Messages written with their device's id and their times as texts read back the same once
/// their rows keep the device's number and their times as milliseconds
/// ([`numbered_messages::written_before`]), and each row keeps its `rowid`.
#[test]
fn messages_keyed_by_texts_read_back_the_same_by_their_devices_number() {
    let mut conn = at_version(36);
    conn.execute_batch(numbered_messages::written_before::ROWS)
        .unwrap();
    conn.execute_batch("INSERT INTO message_words (message_words) VALUES ('rebuild')")
        .unwrap();
    let rowids = texts(&conn, "SELECT id || '@' || rowid FROM messages ORDER BY id");
    migrate(&mut conn).unwrap();
    assert_eq!(
        texts(&conn, "SELECT id || '@' || rowid FROM messages ORDER BY id"),
        rowids
    );
    let conn = crate::store::Conn::sqlite(conn);
    numbered_messages::written_before::read_back_the_same(&conn);
}

/// Notifications and inbox rows written with their device's id, and arrival times as texts,
/// read back the same once they keep the device's number and milliseconds
/// ([`numbered_inbox::written_before`]), and each inbox row keeps the `rowid` its plan names.
#[test]
fn notifications_and_inboxes_keyed_by_texts_read_back_the_same_by_their_devices_number() {
    let mut conn = at_version(37);
    conn.execute_batch(numbered_inbox::written_before::ROWS)
        .unwrap();
    let rowids = texts(
        &conn,
        "SELECT message_id || '@' || rowid FROM simulator_inbox ORDER BY message_id",
    );
    migrate(&mut conn).unwrap();
    assert_eq!(
        texts(
            &conn,
            "SELECT message_id || '@' || rowid FROM simulator_inbox ORDER BY message_id"
        ),
        rowids
    );
    let conn = crate::store::Conn::sqlite(conn);
    numbered_inbox::written_before::read_back_the_same(&conn);
}

/// A chat's messages stored before its index came to end with their row numbers are listed in
/// the same order after, page by page.
#[test]
fn a_chats_messages_stored_before_are_listed_in_the_same_order() {
    let mut conn = at_version(38);
    conn.execute_batch(
        "INSERT INTO device_seq (device_id, last_seq, num) VALUES ('demo', 0, 1);
         INSERT INTO messages (id, chat_id, from_id, from_me, type, body, timestamp, ack,
            created_at, device)
         VALUES ('msg_1', 'c', 'me', 1, 'text', 'one', 1, 0, 1, 1),
                ('msg_2', 'd', 'me', 1, 'text', 'other', 2, 0, 2, 1),
                ('msg_3', 'c', 'me', 1, 'text', 'three', 3, 0, 3, 1),
                ('msg_4', 'c', 'me', 1, 'text', 'four', 4, 0, 4, 1);",
    )
    .unwrap();
    migrate(&mut conn).unwrap();
    let conn = crate::store::Conn::sqlite(conn);
    let demo = crate::model::DeviceId::parse("demo").unwrap();
    let page = |before: Option<&str>| {
        let page =
            crate::store::messages::list_messages(&conn, &demo, "c", before, 2, 1 << 20).unwrap();
        let ids: Vec<_> = page.items.into_iter().map(|m| m.id).collect();
        (ids, page.next_cursor)
    };
    assert_eq!(
        page(None),
        (vec!["msg_4".into(), "msg_3".into()], Some("msg_3".into()))
    );
    assert_eq!(page(Some("msg_3")), (vec!["msg_1".into()], None));
}

/// Devices stored before the numbers had a table of their own hold the numbers their
/// definitions name ([`simulator_numbers::written_before`]).
#[test]
fn numbers_named_by_definitions_stored_before_are_held() {
    let mut conn = at_version(39);
    conn.execute_batch(simulator_numbers::written_before::ROWS)
        .unwrap();
    migrate(&mut conn).unwrap();
    simulator_numbers::written_before::held_as_named(&crate::store::Conn::sqlite(conn));
}
