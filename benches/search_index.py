"""What the search index costs the store's writer per message: the same inserts into a table
shaped like `messages` (its by-chat index, WAL, group commits of 50), with and without the
FTS5 table and trigger migration 22 adds, run alternately so that both see the same machine.

    python3 benches/search_index.py

Python's own sqlite3 is used so that nothing but SQLite is measured; the figures are in
docs/performance.md ("search index").
"""

import os
import random
import sqlite3
import tempfile
import time

MESSAGES = """
CREATE TABLE messages (id TEXT PRIMARY KEY, device_id TEXT NOT NULL, chat_id TEXT NOT NULL,
    body TEXT NOT NULL);
CREATE INDEX messages_by_chat ON messages (device_id, chat_id, id);
"""
SEARCH = """
CREATE VIRTUAL TABLE message_words USING fts5(body, content = 'messages',
    content_rowid = 'rowid', tokenize = 'unicode61 remove_diacritics 2');
CREATE TRIGGER message_words_added AFTER INSERT ON messages BEGIN
    INSERT INTO message_words (rowid, body) VALUES (new.rowid, new.body);
END;
"""
WORDS = "lunch tomorrow meeting hello where are you see at noon the office ok thanks great".split()


def microseconds_per_message(with_search: bool, messages: int = 40_000, batch: int = 50) -> float:
    """Inserts `messages` eight-word texts in commits of `batch`; the time each took."""
    with tempfile.TemporaryDirectory() as folder:
        db = sqlite3.connect(os.path.join(folder, "bench.db"), isolation_level=None)
        db.execute("PRAGMA journal_mode = WAL")
        db.execute("PRAGMA synchronous = NORMAL")
        db.executescript(MESSAGES + (SEARCH if with_search else ""))
        words = random.Random(1)
        start = time.perf_counter()
        for first in range(0, messages, batch):
            db.execute("BEGIN")
            for number in range(first, first + batch):
                body = " ".join(words.choice(WORDS) for _ in range(8))
                db.execute(
                    "INSERT INTO messages VALUES (?, ?, ?, ?)",
                    (f"msg_{number:010d}", "demo", f"chat{number % 20}", body),
                )
            db.execute("COMMIT")
        elapsed = time.perf_counter() - start
        db.close()
    return elapsed / messages * 1e6


if __name__ == "__main__":
    for run in (1, 2, 3):
        without = microseconds_per_message(False)
        with_search = microseconds_per_message(True)
        print(
            f"run {run}: {without:.1f} µs a message without the index, "
            f"{with_search:.1f} µs with it (+{with_search - without:.1f} µs, "
            f"{with_search / without:.2f}×)"
        )
