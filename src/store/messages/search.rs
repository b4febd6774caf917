//! Finding a device's messages by the words of their text: SQLite's FTS5 index
//! (`message_words`) or PostgreSQL's full-text column (`messages.words`), both kept in the
//! commit that stores, edits or revokes the message, so a message is found as soon as it is
//! acknowledged.
//!
//! On SQLite a batch's new messages are indexed together, at the end of the batch
//! ([`Tx::index_new_words`]), not by a trigger on each insert. FTS5 writes the words it holds
//! in memory to its b-trees whenever a statement of the transaction opens a statement
//! journal, which the insert's trigger itself did, and so did the chat's update after it: each
//! message became a segment of its own, written and then merged, a tenth of the store
//! writer's work under a load of sends (`docs/performance.md`, send). Indexed together, a
//! batch's messages are one segment. An edit or a revocation, whose triggers take the old
//! words out of the index, indexes the batch's new messages first: words never indexed
//! cannot be taken out.
//!
//! A search is a list of words, each matched as the start of a word of the text (`hel` finds
//! "Hello"), all of them in the message; letters and digits make a word, anything else
//! separates words, so what a user types can never be read as the engines' query syntax; a
//! search with no word at all finds nothing.
//! Revoked messages, whose text is gone, are not found.

use super::{message_columns_of, message_row, DEVICE_NUMBER};
use crate::model::{DeviceId, Message, Page, ReplyBudget};
use crate::store::page::page;
use crate::store::sql::{params, Conn};
use crate::store::{StoreResult, Tx};

/// The most words a search looks for; more are left out.
const MOST_WORDS: usize = 16;

/// The words of `text`, as a search matches them.
fn words(text: &str) -> Vec<&str> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|word| !word.is_empty())
        .take(MOST_WORDS)
        .collect()
}

/// The newest of `device`'s messages (in `chat`, if given) whose text has every word of
/// `text`, older than `before` if given; none when `text` has no word at all.
pub fn search(
    conn: &Conn,
    device: &DeviceId,
    text: &str,
    chat: Option<&str>,
    before: Option<&str>,
    (limit, max_bytes): (u32, usize),
) -> StoreResult<Page<Message>> {
    let words = words(text);
    if words.is_empty() {
        return Ok(Page {
            items: Vec::new(),
            next_cursor: None,
        });
    }
    let columns = message_columns_of("m");
    let (sql, query) = if conn.is_postgres() {
        (
            format!(
                "SELECT {columns} FROM messages m
                 WHERE m.words @@ to_tsquery('simple', ?5) AND m.device = {DEVICE_NUMBER}"
            ),
            words
                .iter()
                .map(|word| format!("{}:*", word.to_lowercase()))
                .collect::<Vec<_>>()
                .join(" & "),
        )
    } else {
        (
            format!(
                "SELECT {columns} FROM message_words w JOIN messages m ON m.rowid = w.rowid
                 WHERE message_words MATCH ?5 AND m.device = {DEVICE_NUMBER}"
            ),
            words
                .iter()
                .map(|word| format!("\"{word}\"*"))
                .collect::<Vec<_>>()
                .join(" "),
        )
    };
    let sql = format!(
        "{sql} AND m.revoked = 0 AND (CAST(?2 AS TEXT) IS NULL OR m.chat_id = ?2)
           AND (CAST(?3 AS TEXT) IS NULL OR m.id < ?3)
         ORDER BY m.id DESC LIMIT ?4"
    );
    let mut budget = ReplyBudget::new(max_bytes);
    page(
        conn,
        (
            &sql,
            params![device.as_str(), chat, before, i64::from(limit) + 1, query],
        ),
        message_row,
        limit,
        |message| budget.take(message),
        |message| message.id.clone(),
    )
}

impl Tx<'_> {
    /// Notes that this batch stored the message at row `rowid` (SQLite's), to be indexed with
    /// the batch's others.
    pub(super) fn words_to_index(&mut self, rowid: i64) {
        self.unindexed_from.get_or_insert(rowid);
    }

    /// Indexes the words of the messages this batch stored so far, in one statement. Rows
    /// are numbered upwards, so they are those from the first one's on.
    pub(in crate::store) fn index_new_words(&mut self) -> StoreResult<()> {
        let Some(from) = self.unindexed_from.take() else {
            return Ok(());
        };
        self.execute(
            "INSERT INTO message_words (rowid, body)
             SELECT rowid, body FROM messages WHERE rowid >= ?1",
            params![from],
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::words;

    #[test]
    fn only_letters_and_digits_make_words_so_no_query_syntax_passes() {
        assert_eq!(
            words("\"hello\" OR world* -x NEAR(a b) déjà-vu 42"),
            ["hello", "OR", "world", "x", "NEAR", "a", "b", "déjà", "vu", "42"]
        );
        assert!(words("  ** \" ").is_empty());
    }
}
