//! PostgreSQL's steps that key rows by their device's number, on rows written by the step
//! before each (SQLite's are tested with its migrations).

use super::test_postgres;
use crate::store::migrations::{numbered_inbox, numbered_messages};
use crate::store::postgresql;
use crate::store::sql::{params, Conn};

/// A new database taken to just before `step`, given `rows`, then taken through `step`.
pub(super) fn through_step(step: &str, rows: &str) -> Conn {
    let before = postgresql::MIGRATIONS
        .iter()
        .position(|known| *known == step)
        .unwrap();
    let conn = Conn::postgres(&test_postgres::database()).unwrap();
    postgresql::apply_steps(&conn, before).unwrap();
    conn.execute_batch(rows).unwrap();
    postgresql::apply_steps(&conn, before + 1).unwrap();
    conn
}

/// The columns of `tables` whose names start with `device`, as `table.column`.
fn device_columns(conn: &Conn, tables: &str) -> Vec<String> {
    conn.query_all(
        &format!(
            "SELECT table_name || '.' || column_name FROM information_schema.columns
             WHERE table_name IN ({tables}) AND column_name LIKE 'device%' ORDER BY 1"
        ),
        params![],
        |row| row.get(0),
    )
    .unwrap()
}

#[test]
fn messages_keyed_by_texts_read_back_the_same_by_their_devices_number_on_postgresql() {
    use numbered_messages::{written_before, POSTGRES};
    let conn = through_step(POSTGRES, written_before::ROWS);
    written_before::read_back_the_same(&conn);
    assert_eq!(device_columns(&conn, "'messages'"), ["messages.device"]);
}

#[test]
fn notifications_and_inboxes_keyed_by_texts_read_back_the_same_by_their_devices_number_on_postgresql(
) {
    use numbered_inbox::{written_before, POSTGRES};
    let conn = through_step(POSTGRES, written_before::ROWS);
    written_before::read_back_the_same(&conn);
    assert_eq!(
        device_columns(&conn, "'notifications', 'simulator_inbox'"),
        ["notifications.device", "simulator_inbox.device"]
    );
}
