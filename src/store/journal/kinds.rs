//! An event's kind as its journal row keeps it: a number instead of its name. The name
//! (`message:ack`, `contact:update`) was ~10 bytes of every row, more than a tenth of a packed
//! row; the number ([`EventKind::number`]) is one.
//!
//! The rows written before kept the name, and the migration that numbered them used
//! [`number_of_name_sql`], made from the same kinds.

use crate::model::event::EventKind;

/// [`EventKind::number`] in SQL, of a column `name`: the migration that numbered the rows
/// written before uses it, on SQLite and on PostgreSQL. A name it does not know gives `NULL`,
/// which the column refuses, so such a migration stops rather than lose a row's kind. The
/// rows it numbers were written when there were the first 18 kinds; the kinds added since
/// only add cases no such row can match.
fn number_of_name_sql() -> String {
    let cases: String = EventKind::ALL
        .iter()
        .map(|kind| format!(" WHEN '{}' THEN {}", kind.as_str(), kind.number()))
        .collect();
    format!("CASE name{cases} END")
}

/// `sql` with `{number_of_name}` standing for [`number_of_name_sql`]: how a migration's
/// step, written as text, says it numbers a column `name` of event names.
pub(crate) fn with_numbers_of_names(sql: &str) -> std::borrow::Cow<'_, str> {
    const MARK: &str = "{number_of_name}";
    match sql.contains(MARK) {
        true => sql.replace(MARK, &number_of_name_sql()).into(),
        false => sql.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_migrations_sql_numbers_every_kind_as_the_store_does() {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        let sql = with_numbers_of_names("SELECT {number_of_name} FROM (SELECT ?1 AS name)");
        // The kinds there were when the journal's rows were first numbered; later ones are
        // only ever written as numbers.
        for kind in &EventKind::ALL[..18] {
            let numbered: Option<i64> = conn
                .query_row(&sql, [kind.as_str()], |row| row.get(0))
                .unwrap();
            assert_eq!(numbered, Some(kind.number().into()), "{kind}");
        }
        let unknown: Option<i64> = conn.query_row(&sql, ["other"], |row| row.get(0)).unwrap();
        assert_eq!(unknown, None);
    }
}
