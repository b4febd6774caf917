//! Lists read a page at a time: what a page holds and where the next one starts.

use super::sql::{Conn, Param, Row};
use super::StoreResult;
use crate::model::Page;

/// Reads a page from the rows of a `limit + 1` query: at most `limit` items, each taken only
/// if it `fits`, and the cursor of the last one when more follow. Rows past the page are not
/// read, so a page cut by its size does not hold the rest of the query in memory.
pub(super) fn page<T>(
    conn: &Conn,
    (sql, params): (&str, &[&dyn Param]),
    item: impl Fn(&Row<'_>) -> StoreResult<T>,
    limit: u32,
    mut fits: impl FnMut(&T) -> bool,
    cursor: impl Fn(&T) -> String,
) -> StoreResult<Page<T>> {
    let mut items = Vec::new();
    let mut more = false;
    conn.query_each(sql, params, |row| {
        let item = item(row)?;
        if items.len() == limit as usize || !fits(&item) {
            more = true;
            return Ok(false);
        }
        items.push(item);
        Ok(true)
    })?;
    let next_cursor = if more { items.last().map(cursor) } else { None };
    Ok(Page { items, next_cursor })
}
