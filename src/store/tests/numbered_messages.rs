//! PostgreSQL's step that keys messages by their device's number and keeps their times as
//! milliseconds, on rows written by the step before (SQLite's is tested with its migrations).

use super::test_postgres;
use crate::store::migrations::numbered_messages::{written_before, POSTGRES};
use crate::store::postgresql;
use crate::store::sql::{params, Conn};

#[test]
fn messages_keyed_by_texts_read_back_the_same_by_their_devices_number_on_postgresql() {
    let before = postgresql::MIGRATIONS
        .iter()
        .position(|step| *step == POSTGRES)
        .unwrap();
    let conn = Conn::postgres(&test_postgres::database()).unwrap();
    postgresql::apply_steps(&conn, before).unwrap();
    conn.execute_batch(written_before::ROWS).unwrap();
    postgresql::apply_steps(&conn, before + 1).unwrap();
    written_before::read_back_the_same(&conn);
    let columns: Vec<String> = conn
        .query_all(
            "SELECT column_name::text FROM information_schema.columns
             WHERE table_name = 'messages' AND column_name LIKE 'device%'",
            params![],
            |row| row.get(0),
        )
        .unwrap();
    assert_eq!(columns, ["device"]);
}
