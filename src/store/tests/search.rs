//! The search index as the writer keeps it: a batch's new messages are indexed together at its
//! end, and an edit, a revocation or a device's deletion in the same batch as a message's
//! insert leaves the index as if each had been indexed at once: on SQLite and on PostgreSQL.

use super::{our_text, stored_device, Backend, Db};
use crate::model::DeviceId;
use crate::store::{messages, Store};

/// The ids of `device`'s messages whose text has the word `word`, newest first.
async fn found(store: &Store, device: &DeviceId, word: &str) -> Vec<String> {
    let (device, word) = (device.clone(), word.to_owned());
    let page = store
        .read(move |conn| messages::search(conn, &device, &word, None, None, (10, 1 << 20)))
        .await
        .unwrap();
    page.items.into_iter().map(|message| message.id).collect()
}

/// On SQLite, FTS5's own check that its index holds exactly the words of the message rows.
async fn index_matches_the_rows(store: &Store) {
    store
        .write(|tx| {
            if let Some(sqlite) = tx.conn().as_sqlite() {
                sqlite.execute_batch(
                    "INSERT INTO message_words (message_words, rank) VALUES ('integrity-check', 1)",
                )?;
            }
            Ok(())
        })
        .await
        .unwrap();
}

on_both! {
async fn messages_changed_in_the_batch_that_stored_them_are_found_by_their_new_words(backend) {
    let db = Db::new(backend);
    let (store, _bus) = db.open();
    let device = stored_device(&store, "demo").await;
    let writer = device.clone();
    store
        .write(move |tx| {
            our_text(tx, &writer, ("msg_1", "hello world"), None)?;
            our_text(tx, &writer, ("msg_2", "hello again"), None)?;
            tx.revoke_message(&writer, "msg_2")?;
            let first = messages::get_message(tx.conn(), &writer, "msg_1")?.unwrap();
            tx.edit_message(&writer, &first, "goodbye world", "2026-01-01T00:00:00.000Z")?;
            our_text(tx, &writer, ("msg_3", "hello there"), None)
        })
        .await
        .unwrap();
    assert_eq!(found(&store, &device, "hello").await, ["msg_3"]);
    assert_eq!(found(&store, &device, "goodbye").await, ["msg_1"]);
    assert_eq!(found(&store, &device, "again").await, Vec::<String>::new());
    index_matches_the_rows(&store).await;

    let (gone, kept) = (stored_device(&store, "gone").await, device.clone());
    store
        .write(move |tx| {
            our_text(tx, &gone, ("msg_4", "hello from a device deleted at once"), None)?;
            our_text(tx, &kept, ("msg_5", "hello once more"), None)?;
            tx.delete_device(&gone).map(drop)
        })
        .await
        .unwrap();
    assert_eq!(found(&store, &device, "hello").await, ["msg_5", "msg_3"]);
    index_matches_the_rows(&store).await;
}
}
