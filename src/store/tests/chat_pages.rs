//! A chat's messages newest first, a page at a time, and its latest message by what finds one:
//! in the order they were stored, which SQLite's index keeps by row number and PostgreSQL's by
//! id (`messages::STORED_ORDER`), on both.

use super::{message_in, stored_device, Backend, Db};
use crate::model::DeviceId;
use crate::store::{messages, sql, Store};

/// One page of chat `a@c.us` of `device`, two messages long: their ids, and where the next
/// starts.
async fn page(
    store: &Store,
    device: &DeviceId,
    before: Option<&str>,
) -> (Vec<String>, Option<String>) {
    let (device, before) = (device.clone(), before.map(str::to_owned));
    let page = store
        .read(move |conn| {
            messages::list_messages(conn, &device, "a@c.us", before.as_deref(), 2, 1 << 20)
        })
        .await
        .unwrap();
    let ids = page.items.into_iter().map(|message| message.id).collect();
    (ids, page.next_cursor)
}

on_both! {
async fn a_chats_messages_come_newest_first_a_page_at_a_time(backend) {
    let db = Db::new(backend);
    let (store, _bus) = db.open();
    let device = stored_device(&store, "demo").await;
    let writer = device.clone();
    store
        .write(move |tx| {
            // Another chat's messages in between; the odd ones of `a@c.us` are the contact's.
            for n in 1..=5 {
                let (id, upstream) = (format!("msg_a{n}"), format!("false_a@c.us_UP{n}"));
                let chat = ("a@c.us", n % 2 == 0);
                message_in(tx, &writer, chat, (&id, "hi"), Some(&upstream))?;
                let other = format!("msg_b{n}");
                message_in(tx, &writer, ("b@c.us", false), (&other, "hi"), None)?;
            }
            Ok(())
        })
        .await
        .unwrap();
    let first = page(&store, &device, None).await;
    assert_eq!(first, (vec!["msg_a5".into(), "msg_a4".into()], Some("msg_a4".into())));
    let second = page(&store, &device, Some("msg_a4")).await;
    assert_eq!(second, (vec!["msg_a3".into(), "msg_a2".into()], Some("msg_a2".into())));
    assert_eq!(page(&store, &device, Some("msg_a2")).await, (vec!["msg_a1".into()], None));

    let reader = device.clone();
    let (incoming, short) = store
        .read(move |conn| {
            let short = messages::by_short_id_in_chat(conn, &reader, "a@c.us", "UP3")?;
            Ok((messages::latest_incoming(conn, &reader, "a@c.us")?, short.map(|m| m.id)))
        })
        .await
        .unwrap();
    assert_eq!(incoming.as_deref(), Some("false_a@c.us_UP5"));
    assert_eq!(short.as_deref(), Some("msg_a3"));

    if matches!(backend, Backend::Sqlite) {
        // A page deep into the chat is sought in its index, not reached by stepping.
        let plan = store
            .read(|conn| {
                conn.query_all(
                    &format!("EXPLAIN QUERY PLAN {}", messages::CHAT_PAGE[0]),
                    sql::params!["demo", "a@c.us", "msg_a4", 3_i64],
                    |row| row.get::<String>(3),
                )
            })
            .await
            .unwrap();
        assert!(
            plan.iter().any(|step| step.contains("messages_by_chat (device=? AND chat_id=? AND rowid<?)")),
            "{plan:?}"
        );
    }
}
}
