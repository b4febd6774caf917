//! An event's kind as its journal row keeps it: a number instead of its name. The name
//! (`message:ack`, `contact:update`) was ~10 bytes of every row, more than a tenth of a packed
//! row; the number is one.
//!
//! A kind's number is its event's place in [`EVENT_NAMES`], counted from 1. Rows keep it, so
//! that list only ever grows at its end; the migration's SQL below numbers the kinds as
//! they were first numbered, and its test fails if the list's order moves.

use crate::model::event::EVENT_NAMES;

/// The number a row keeps for the event named `name`, if it is one of [`EVENT_NAMES`].
pub fn number(name: &str) -> Option<i64> {
    let place = EVENT_NAMES.iter().position(|kind| *kind == name)?;
    Some(place as i64 + 1)
}

/// The name of the kind numbered `number`, if this build knows it.
pub fn name(number: i64) -> Option<&'static str> {
    let place = usize::try_from(number.checked_sub(1)?).ok()?;
    EVENT_NAMES.get(place).copied()
}

/// [`number`] in SQL, of a column `name`: the migration that numbered the rows written
/// before used it, on SQLite and on PostgreSQL. A name it does not know gives `NULL`, which
/// the column refuses, so such a migration stops rather than lose a row's kind.
macro_rules! number_of_name_sql {
    () => {
        "CASE name WHEN 'state' THEN 1 WHEN 'qr' THEN 2 WHEN 'authenticated' THEN 3 \
         WHEN 'ready' THEN 4 WHEN 'disconnected' THEN 5 WHEN 'connection:status' THEN 6 \
         WHEN 'message' THEN 7 WHEN 'message:ack' THEN 8 WHEN 'message:status' THEN 9 \
         WHEN 'message:read' THEN 10 WHEN 'message:revoked' THEN 11 \
         WHEN 'message:reaction' THEN 12 WHEN 'typing:start' THEN 13 \
         WHEN 'typing:stop' THEN 14 WHEN 'chat:update' THEN 15 WHEN 'contact:update' THEN 16 \
         WHEN 'notification' THEN 17 WHEN 'notification:read' THEN 18 END"
    };
}
pub(crate) use number_of_name_sql;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_event_has_a_number_that_gives_its_name_back() {
        for event in EVENT_NAMES {
            let number = number(event).unwrap_or_else(|| panic!("{event} has no number"));
            assert_eq!(name(number), Some(event));
        }
        assert_eq!(name(0), None);
        assert_eq!(name(EVENT_NAMES.len() as i64 + 1), None);
        assert_eq!(number("unknown"), None);
    }

    #[test]
    fn the_migrations_sql_numbers_every_kind_as_the_store_does() {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        let sql = concat!(
            "SELECT ",
            number_of_name_sql!(),
            " FROM (SELECT ?1 AS name)"
        );
        // The kinds there were when the journal's rows were first numbered; later ones are
        // only ever written as numbers.
        for kind in &EVENT_NAMES[..18] {
            let numbered: Option<i64> = conn.query_row(sql, [kind], |row| row.get(0)).unwrap();
            assert_eq!(numbered, number(kind), "{kind} moved in the list");
        }
        let unknown: Option<i64> = conn.query_row(sql, ["other"], |row| row.get(0)).unwrap();
        assert_eq!(unknown, None);
    }
}
