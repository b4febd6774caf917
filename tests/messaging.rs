//! Messaging against the real daemon: sending and acks, the simulator's contacts, receipts,
//! typing, history over both faces, resend on ack timeout, and what bad input gets.

mod common;

use std::time::Duration;

use common::sio::SioClient;
use common::{wait_about, wait_relayed, wait_state, TestDaemon, WAIT};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

const ALICE: &str = "15550000002@c.us";
const BOB: &str = "15550000003@c.us";

/// Fast simulated contacts: Alice echoes, Bob never reads.
fn contacts() -> Value {
    json!({
        "server_ack_ms": 10, "delivered_ms": 30, "read_ms": 60, "typing_ms": 50,
        "contacts": [
            { "id": ALICE, "name": "Alice", "behaviour": "echo" },
            { "id": BOB, "name": "Bob", "behaviour": "silent" }
        ]
    })
}

async fn send(client: &mut SioClient, payload: Value) -> Value {
    client
        .emit_with_ack("message:send", payload, WAIT)
        .await
        .expect("an ack")
}

/// The `ok: true` data of an ack, or a panic showing the refusal.
#[track_caller]
fn ok(ack: Value) -> Value {
    assert_eq!(ack["ok"], true, "refused: {ack}");
    ack["data"].clone()
}

/// The error code of a refused ack.
#[track_caller]
fn refused(ack: &Value) -> &str {
    assert_eq!(ack["ok"], false, "accepted: {ack}");
    ack["error"]["code"].as_str().expect("an error code")
}

/// The values of `field` in the client's history of `name` events about message `id`.
fn seen(client: &SioClient, name: &str, id: &str, field: &str) -> Vec<Value> {
    client
        .history()
        .iter()
        .filter(|e| e.name == name && e.data["messageId"] == id)
        .map(|e| e.data[field].clone())
        .collect()
}

#[tokio::test]
async fn two_clients_see_a_send_its_acks_in_order_and_the_echo() {
    let daemon = TestDaemon::start().await;
    let device = daemon.ready_device("chat", contacts()).await;
    let me = device["me"]["id"].as_str().unwrap().to_owned();
    let mut a = daemon.socket("chat", json!({})).await;
    let mut b = daemon.socket("chat", json!({})).await;

    let sent = ok(send(
        &mut a,
        json!({ "chatId": ALICE, "text": "see you at 5", "tempId": "t-1" }),
    )
    .await);
    assert_eq!(
        (sent["ack"].clone(), sent["ackName"].clone()),
        (json!(0), json!("pending"))
    );
    assert_eq!(
        (sent["fromMe"].clone(), sent["from"].clone()),
        (json!(true), json!(me))
    );
    let id = sent["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("msg_"), "{id}");

    let echoed = wait_about(&mut b, "message", &id, |_| true).await;
    assert_eq!(echoed.data["body"], "see you at 5");
    wait_about(&mut b, "message:ack", &id, |d| d["ack"] == 3).await;
    assert_eq!(
        seen(&b, "message:ack", &id, "ackName"),
        [json!("server"), json!("device"), json!("read")]
    );
    assert_eq!(
        seen(&b, "message:status", &id, "status"),
        Vec::<Value>::new(),
        "a smooth send is told by its acks alone"
    );
    // The echo's notification, then its chat's update, which ends the commit that stored
    // it; then the whole exchange is in B's history.
    let notification = b.wait_for("notification", WAIT).await.unwrap();
    b.wait_until(WAIT, |e| e.name == "chat:update" && e.data["id"] == ALICE)
        .await
        .unwrap();
    let history = b.history().to_vec();
    let position = |what: &str, matches: &dyn Fn(&Value) -> bool| {
        history
            .iter()
            .position(|e| e.name == what && matches(&e.data))
            .unwrap_or_else(|| {
                panic!(
                    "no {what} in {:?}",
                    history.iter().map(|e| &e.name).collect::<Vec<_>>()
                )
            })
    };
    let receipt = &history[position("message:read", &|_| true)].data;
    assert_eq!(
        (
            receipt["chatId"].clone(),
            receipt["messageIds"].clone(),
            receipt["readBy"].clone()
        ),
        (json!(ALICE), json!([id]), json!(ALICE))
    );
    let from_alice = |d: &Value| d["contactId"] == ALICE && d["chatId"] == ALICE;
    let typing = position("typing:start", &from_alice);
    let stopped = position("typing:stop", &from_alice);
    let replied = position("message", &|d| d["fromMe"] == false);
    assert!(
        typing < stopped && stopped < replied,
        "typing first, then the reply"
    );
    let reply = &history[replied].data;
    assert_eq!(
        (
            reply["from"].clone(),
            reply["body"].clone(),
            reply["replyTo"].clone()
        ),
        (json!(ALICE), json!("see you at 5"), json!(id))
    );
    assert_eq!(
        (
            notification.data["title"].clone(),
            notification.data["body"].clone()
        ),
        (json!("Alice"), json!("see you at 5"))
    );
    assert_eq!(notification.data["messageId"], reply["id"]);
    position("chat:update", &|d| {
        d["id"] == ALICE && d["unreadCount"] == 1
    });
    position("contact:update", &|d| {
        d["id"] == ALICE && d["presence"] == "online"
    });

    // After the snapshot and `sync`, every event came once, in seq order, with no gap.
    let live = history.iter().skip_while(|e| e.name != "sync").skip(1);
    let seqs: Vec<u64> = live.filter_map(|e| e.data["seq"].as_u64()).collect();
    assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1), "{seqs:?}");
}

/// The simulated phone's group with all its contacts (`120363<phone>@g.us`, default phone).
const GROUP: &str = "12036315550000001@g.us";

/// The `readBy` of each `message:read` the client saw about message `id`, in order.
fn readers(client: &SioClient, id: &str) -> Vec<Value> {
    client
        .history()
        .iter()
        .filter(|e| {
            e.name == "message:read"
                && e.data["messageIds"]
                    .as_array()
                    .is_some_and(|ids| ids.contains(&json!(id)))
        })
        .map(|e| e.data["readBy"].clone())
        .collect()
}

/// Sends `text` to the simulator group of a device whose contacts are `members`; returns a
/// client that saw it from the start, and the message's id.
async fn send_to_group(daemon: &TestDaemon, device: &str, members: Value) -> (SioClient, String) {
    let simulator = json!({
        "server_ack_ms": 10, "delivered_ms": 30, "read_ms": 100, "typing_ms": 50,
        "contacts": members
    });
    daemon.ready_device(device, simulator).await;
    let mut client = daemon.socket(device, json!({})).await;
    let sent = ok(send(&mut client, json!({ "chatId": GROUP, "text": "lunch?" })).await);
    (client, sent["id"].as_str().unwrap().to_owned())
}

#[tokio::test]
async fn group_members_read_and_reply_on_their_own_and_a_silent_one_keeps_the_message_unread() {
    let daemon = TestDaemon::start().await;
    let (mut client, id) = send_to_group(&daemon, "group", contacts()["contacts"].clone()).await;

    // Alice reads and replies in the group, quoting the message, though Bob never reads it.
    client
        .wait_until(WAIT, |e| {
            e.name == "message:read" && e.data["readBy"] == ALICE
        })
        .await
        .expect("Alice's receipt");
    let reply = client
        .wait_until(WAIT, |e| e.name == "message" && e.data["from"] == ALICE)
        .await
        .expect("Alice's reply");
    assert_eq!(
        (reply.data["chatId"].clone(), reply.data["replyTo"].clone()),
        (json!(GROUP), json!(id))
    );
    // The message itself was delivered, and is not read: one member has not read it.
    assert_eq!(readers(&client, &id), [json!(ALICE)]);
    assert_eq!(
        seen(&client, "message:ack", &id, "ackName"),
        [json!("server"), json!("device")]
    );
    let (_, message) = daemon
        .get(&format!("/api/v1/devices/group/messages/{id}"))
        .await;
    assert_eq!(message["ackName"], "device", "{message}");
}

#[tokio::test]
async fn a_group_message_is_read_when_its_last_member_has_read_it() {
    const CAROL: &str = "15550000004@c.us";
    let daemon = TestDaemon::start().await;
    let members = json!([
        { "id": ALICE, "name": "Alice", "behaviour": "echo" },
        { "id": CAROL, "name": "Carol", "behaviour": "slow_reader" }
    ]);
    let (mut client, id) = send_to_group(&daemon, "group", members).await;

    // Alice reads first; the message is not read until Carol, ten times slower, has read it.
    client
        .wait_until(WAIT, |e| {
            e.name == "message:read" && e.data["readBy"] == ALICE
        })
        .await
        .expect("Alice's receipt");
    assert_eq!(
        seen(&client, "message:ack", &id, "ackName"),
        [json!("server"), json!("device")]
    );
    common::wait_message_ack(&mut client, &json!(id), "read").await;
    client
        .wait_until(WAIT, |e| {
            e.name == "message:read" && e.data["readBy"] == CAROL
        })
        .await
        .expect("Carol's receipt");
    assert_eq!(readers(&client, &id), [json!(ALICE), json!(CAROL)]);
    // Alice did not wait for Carol to reply.
    let history = client.history();
    let at = |matches: &dyn Fn(&common::sio::SioEvent) -> bool| {
        history.iter().position(matches).unwrap()
    };
    let replied = at(&|e| e.name == "message" && e.data["from"] == ALICE);
    let read = at(&|e| e.name == "message:ack" && e.data["ackName"] == "read");
    assert!(replied < read, "Alice replied before Carol read");
}

#[tokio::test]
async fn the_same_temp_id_or_idempotency_key_is_one_message() {
    let daemon = TestDaemon::start().await;
    daemon.ready_device("dedup", contacts()).await;
    let mut a = daemon.socket("dedup", json!({})).await;
    let payload = json!({ "chatId": BOB, "text": "once", "tempId": "same" });
    let first = ok(send(&mut a, payload.clone()).await);
    let second = ok(send(&mut a, payload).await);
    assert_eq!(first["id"], second["id"]);

    let path = format!("/api/v1/devices/dedup/chats/{BOB}/messages");
    let key = [("Idempotency-Key", "k-1")];
    let request = || daemon.raw(Method::POST, &path, json!({ "text": "by rest" }), &key);
    let (status, headers, one) = request().await;
    assert_eq!(status, StatusCode::ACCEPTED, "{one}");
    assert!(headers.get("idempotent-replayed").is_none());
    let (status, headers, again) = request().await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(headers["idempotent-replayed"], "true");
    assert_eq!(one["id"], again["id"]);

    // Either key reused for another chat is refused, and sends nothing.
    let elsewhere = json!({ "chatId": ALICE, "text": "other chat", "tempId": "same" });
    assert_eq!(refused(&send(&mut a, elsewhere).await), "bad_request");
    let alice = format!("/api/v1/devices/dedup/chats/{ALICE}/messages");
    let (status, _, body) = daemon
        .raw(Method::POST, &alice, json!({ "text": "other chat" }), &key)
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("bad_request")),
        "{body}"
    );
    let (_, list) = daemon.get(&alice).await;
    assert_eq!(list["items"], json!([]));
    // Or reused for another text in the same chat: the second message is not dropped silently.
    let other_text = json!({ "chatId": BOB, "text": "something else", "tempId": "same" });
    assert_eq!(refused(&send(&mut a, other_text).await), "bad_request");
    let (status, _, body) = daemon
        .raw(
            Method::POST,
            &path,
            json!({ "text": "something else" }),
            &key,
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");

    let (_, list) = daemon.get(&path).await;
    let bodies: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["body"].as_str().unwrap())
        .collect();
    assert_eq!(bodies, ["by rest", "once"], "newest first, each once");
    for id in [&first["id"], &one["id"]] {
        wait_relayed(&mut a, id).await;
    }
    let inbox = inbox(&daemon, "dedup").await;
    assert_eq!(inbox.len(), 2, "{inbox:?}");
}

#[tokio::test]
async fn a_numeric_temp_id_comes_back_a_number_and_names_one_message() {
    let daemon = TestDaemon::start().await;
    daemon.ready_device("numbered", contacts()).await;
    let mut a = daemon.socket("numbered", json!({})).await;
    let mut b = daemon.socket("numbered", json!({})).await;
    let stamp = 1_732_000_000_000_u64;
    let numbered = json!({ "chatId": BOB, "text": "by number", "tempId": stamp });
    let first = ok(send(&mut a, numbered.clone()).await);
    assert_eq!(first["tempId"], json!(stamp));
    assert!(first["tempId"].is_u64(), "{first}");
    let seen = wait_about(&mut b, "message", first["id"].as_str().unwrap(), |_| true).await;
    assert!(seen.data["tempId"].is_u64(), "{}", seen.data);
    assert_eq!(seen.data["tempId"], json!(stamp));
    // The same number again is the same message; its digits as a string are another key.
    let again = ok(send(&mut a, numbered).await);
    assert_eq!(
        (&again["id"], &again["tempId"]),
        (&first["id"], &json!(stamp))
    );
    let digits = json!({ "chatId": BOB, "text": "by number", "tempId": stamp.to_string() });
    let by_digits = ok(send(&mut a, digits).await);
    assert_ne!(by_digits["id"], first["id"]);
    assert_eq!(by_digits["tempId"], json!(stamp.to_string()));
    // As stored: the history gives each back with its type.
    let history = ok(a
        .emit_with_ack("messages:list", json!({ "chatId": BOB }), WAIT)
        .await
        .unwrap());
    let temp_ids: Vec<&Value> = history["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| &m["tempId"])
        .collect();
    assert_eq!(temp_ids, [&json!(stamp.to_string()), &json!(stamp)]);
    for wrong in [json!(true), json!({ "n": 1 }), json!([1])] {
        let payload = json!({ "chatId": BOB, "text": "x", "tempId": wrong });
        assert_eq!(
            refused(&send(&mut a, payload).await),
            "bad_request",
            "{wrong}"
        );
    }
}

#[tokio::test]
async fn presence_is_answered_for_ids_a_chat_both_or_every_contact() {
    let daemon = TestDaemon::start().await;
    daemon.ready_device("presence", contacts()).await;
    let mut a = daemon.socket("presence", json!({})).await;
    let group = "12036315550000001@g.us";
    // In the group, Alice answers and comes online; Bob never does anything.
    ok(send(&mut a, json!({ "chatId": group, "text": "anyone?" })).await);
    let online = a
        .wait_until(WAIT, |e| {
            e.name == "contact:update" && e.data["id"] == ALICE && e.data["presence"] == "online"
        })
        .await
        .unwrap();
    assert_eq!(online.data["lastSeenAt"], Value::Null);
    a.wait_until(WAIT, |e| e.name == "message" && e.data["from"] == ALICE)
        .await
        .unwrap();
    // She goes offline a while after answering, last seen then: from there nothing changes.
    let offline = a
        .wait_until(WAIT, |e| {
            e.name == "contact:update" && e.data["id"] == ALICE && e.data["presence"] == "offline"
        })
        .await
        .unwrap();
    let last_seen = offline.data["lastSeenAt"].clone();
    assert!(last_seen.is_string(), "{}", offline.data);
    let alice = json!({ "id": ALICE, "presence": "offline", "lastSeenAt": last_seen });
    let bob = json!({ "id": BOB, "presence": "offline", "lastSeenAt": null });
    let stranger = json!({ "id": "15559999999@c.us", "presence": "offline", "lastSeenAt": null });

    let by_ids = json!({ "ids": [BOB, "15559999999@c.us", ALICE, BOB] });
    assert_eq!(
        ok(presence(&mut a, by_ids).await),
        json!([bob, stranger, alice])
    );
    assert_eq!(ok(presence(&mut a, json!({})).await), json!([alice, bob]));
    let direct = presence(&mut a, json!({ "chatId": BOB })).await;
    assert_eq!(ok(direct), json!([bob]));
    let in_group = presence(&mut a, json!({ "chatId": group })).await;
    assert_eq!(ok(in_group), json!([alice]));
    let both = json!({ "ids": ["15559999999@c.us", ALICE], "chatId": BOB });
    assert_eq!(
        ok(presence(&mut a, both).await),
        json!([stranger, alice, bob])
    );
    let ghost = presence(&mut a, json!({ "chatId": "ghost@c.us" })).await;
    assert_eq!(refused(&ghost), "chat_not_found");
    let typo = presence(&mut a, json!({ "chatID": BOB })).await;
    assert_eq!(refused(&typo), "bad_request");
}

async fn presence(client: &mut SioClient, query: Value) -> Value {
    client
        .emit_with_ack("presence:get", query, WAIT)
        .await
        .expect("an ack")
}

#[tokio::test]
async fn one_notification_is_read_by_its_id_and_all_of_them_at_once() {
    let daemon = TestDaemon::start().await;
    daemon.ready_device("one", contacts()).await;
    let mut a = daemon.socket("one", json!({})).await;
    let mut b = daemon.socket("one", json!({})).await;
    ok(send(&mut a, json!({ "chatId": ALICE, "text": "ping" })).await);
    let notification = a.wait_for("notification", WAIT).await.unwrap();
    let id = notification.data["id"].clone();
    let read = a
        .emit_with_ack("notification:read", json!({ "id": id }), WAIT)
        .await
        .unwrap();
    assert_eq!(ok(read), json!({}));
    let cleared = b.wait_for("notification:read", WAIT).await.unwrap();
    assert_eq!(
        (&cleared.data["ids"], &cleared.data["all"]),
        (&json!([id]), &json!(false))
    );
    let both = a
        .emit_with_ack("notification:read", json!({ "id": id, "all": true }), WAIT)
        .await
        .unwrap();
    assert_eq!(refused(&both), "bad_request");

    // "Read all" says so, for clients that have an event of their own for it.
    ok(send(&mut a, json!({ "chatId": ALICE, "text": "again" })).await);
    let another = a.wait_for("notification", WAIT).await.unwrap();
    ok(
        a.emit_with_ack("notification:read", json!({ "all": true }), WAIT)
            .await
            .unwrap(),
    );
    let cleared = b
        .wait_until(WAIT, |e| {
            e.name == "notification:read" && e.data["all"] == true
        })
        .await
        .unwrap();
    assert_eq!(cleared.data["ids"], json!([another.data["id"]]));
}

/// What the simulated phone received. A message's server ack comes after the phone recorded
/// it, so wait for that first.
async fn inbox(daemon: &TestDaemon, device: &str) -> Vec<Value> {
    let (status, inbox) = daemon
        .get(&format!("/api/v1/devices/{device}/simulator/inbox"))
        .await;
    assert_eq!(status, StatusCode::OK, "{inbox}");
    inbox["items"].as_array().cloned().unwrap_or_default()
}

#[tokio::test]
async fn a_burst_longer_than_a_relay_batch_reaches_the_phone_once_each_in_chat_order() {
    const BURST: usize = 600;
    let daemon = TestDaemon::start().await;
    daemon.ready_device("burst", contacts()).await;
    let mut watcher = daemon.socket("burst", json!({})).await;
    let mut accepted = Vec::new();
    for chunk in (0..BURST).collect::<Vec<_>>().chunks(50) {
        let sends = chunk.iter().map(|n| {
            let chat = if n % 2 == 0 { ALICE } else { BOB };
            daemon.send_message("burst", chat, json!({ "text": format!("burst {n}") }))
        });
        accepted.extend(futures_util::future::join_all(sends).await);
    }
    // Their server acks come in whatever order the phone's timers fire.
    for _ in 0..BURST {
        watcher
            .wait_until(WAIT, |e| e.name == "message:ack" && e.data["ack"] == 1)
            .await
            .unwrap();
    }

    // Each message was taken by the upstream once, without a detour through the queue.
    for message in &accepted {
        let id = message["id"].as_str().unwrap();
        assert_eq!(
            seen(&watcher, "message:ack", id, "ackName")[0],
            "server",
            "{id}"
        );
        assert_eq!(
            seen(&watcher, "message:status", id, "status"),
            Vec::<Value>::new(),
            "{id}"
        );
    }
    // The phone got each message once, each chat's in acceptance order (ids grow with it).
    let inbox = inbox(&daemon, "burst").await;
    assert_eq!(inbox.len(), BURST);
    for chat in [ALICE, BOB] {
        let received: Vec<&str> = inbox
            .iter()
            .filter(|e| e["chatId"] == chat)
            .map(|e| e["messageId"].as_str().unwrap())
            .collect();
        let mut expected: Vec<&str> = accepted
            .iter()
            .filter(|m| m["chatId"] == chat)
            .map(|m| m["id"].as_str().unwrap())
            .collect();
        expected.sort();
        assert_eq!(received, expected, "{chat}");
    }
}

/// On the runtime the daemon runs on in production: a task spawned last runs first there, and
/// idle workers steal queued tasks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sends_emitted_back_to_back_are_stored_and_sent_in_the_order_emitted() {
    const BURST: usize = 60;
    let daemon = TestDaemon::start().await;
    daemon.ready_device("order", contacts()).await;
    let mut client = daemon.socket("order", json!({})).await;
    // Every send goes out before any answer is read: the daemon handles them concurrently.
    let mut emitted = Vec::new();
    for n in 0..BURST {
        let payload = json!({ "chatId": BOB, "text": format!("in order {n}") });
        emitted.push(client.emit_with_ack_id("message:send", payload).unwrap());
    }
    let mut texts_by_ack = std::collections::BTreeMap::new();
    for _ in 0..BURST {
        let (ack_id, answer) = client.next_ack(WAIT).await.unwrap();
        texts_by_ack.insert(ack_id, ok(answer));
    }
    let in_emitted_order: Vec<&Value> = emitted.iter().map(|id| &texts_by_ack[id]).collect();
    let texts: Vec<String> = (0..BURST).map(|n| format!("in order {n}")).collect();
    let answered: Vec<&str> = in_emitted_order
        .iter()
        .map(|m| m["body"].as_str().unwrap())
        .collect();
    assert_eq!(answered, texts, "each ack answers its own send");
    // Message ids grow with the order of storage; the phone receives in that order too.
    let ids: Vec<&str> = in_emitted_order
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    let mut stored_order = ids.clone();
    stored_order.sort();
    assert_eq!(stored_order, ids, "stored in the order emitted");
    let last = *ids.last().unwrap();
    wait_relayed(&mut client, &json!(last)).await;
    let received: Vec<String> = inbox(&daemon, "order")
        .await
        .iter()
        .map(|e| e["messageId"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(received, ids, "the phone got them in the order emitted");
}

#[tokio::test]
async fn history_pages_agree_over_rest_and_socket() {
    let daemon = TestDaemon::start().await;
    daemon.ready_device("history", contacts()).await;
    let mut a = daemon.socket("history", json!({})).await;
    let mut ids = Vec::new();
    for n in 0..5 {
        ids.push(
            ok(send(&mut a, json!({ "chatId": BOB, "text": format!("m{n}") })).await)["id"].clone(),
        );
    }
    let base = format!("/api/v1/devices/history/chats/{BOB}/messages");
    let (status, first) = daemon.get(&format!("{base}?limit=2")).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    assert_eq!(
        common::ids(&first),
        [ids[4].as_str().unwrap(), ids[3].as_str().unwrap()]
    );
    let cursor = first["nextCursor"].as_str().unwrap();
    let (_, rest) = daemon
        .get(&format!("{base}?limit=10&before={cursor}"))
        .await;
    assert_eq!(
        common::ids(&rest),
        [
            ids[2].as_str().unwrap(),
            ids[1].as_str().unwrap(),
            ids[0].as_str().unwrap()
        ]
    );
    assert_eq!(rest["nextCursor"], Value::Null);

    let over_socket = ok(a
        .emit_with_ack("messages:list", json!({ "chatId": BOB, "limit": 2 }), WAIT)
        .await
        .unwrap());
    assert_eq!(common::ids(&over_socket), common::ids(&first));

    // Bob's chat had the latest activity, so it leads the chat list; the group is there too.
    let (_, chats) = daemon.get("/api/v1/devices/history/chats").await;
    let listed = common::ids(&chats);
    assert_eq!(listed[0], BOB);
    assert_eq!(listed.len(), 3, "{chats}");
    assert_eq!(chats["items"][0]["lastMessage"]["id"], ids[4]);
    let socket_chats = ok(a
        .emit_with_ack("chats:list", json!({}), WAIT)
        .await
        .unwrap());
    assert_eq!(common::ids(&socket_chats), listed);
    let (_, page) = daemon.get("/api/v1/devices/history/chats?limit=1").await;
    let (_, next) = daemon
        .get(&format!(
            "/api/v1/devices/history/chats?limit=5&cursor={}",
            urlencode(page["nextCursor"].as_str().unwrap())
        ))
        .await;
    assert_eq!(common::ids(&next), listed[1..]);

    // A cursor this server did not give is refused, not read as "from the start": a client
    // following `nextCursor` would otherwise loop. A `before` that is no message of the chat
    // is refused too, not compared as text.
    for cursor in ["garbage", "", "a|b"] {
        let (status, body) = daemon
            .get(&format!(
                "/api/v1/devices/history/chats?cursor={}",
                urlencode(cursor)
            ))
            .await;
        assert_eq!(
            (status, body["error"]["code"].clone()),
            (StatusCode::BAD_REQUEST, json!("bad_request")),
            "cursor {cursor:?}: {body}"
        );
        let ack = a
            .emit_with_ack("chats:list", json!({ "cursor": cursor }), WAIT)
            .await
            .unwrap();
        assert_eq!(refused(&ack), "bad_request", "cursor {cursor:?}");
    }
    let elsewhere = ok(send(&mut a, json!({ "chatId": ALICE, "text": "other chat" })).await);
    for before in [json!("garbage"), elsewhere["id"].clone()] {
        let (status, body) = daemon
            .get(&format!(
                "{base}?before={}",
                urlencode(before.as_str().unwrap())
            ))
            .await;
        assert_eq!(
            (status, body["error"]["code"].clone()),
            (StatusCode::NOT_FOUND, json!("message_not_found")),
            "before {before}: {body}"
        );
        let ack = a
            .emit_with_ack(
                "messages:list",
                json!({ "chatId": BOB, "before": before }),
                WAIT,
            )
            .await
            .unwrap();
        assert_eq!(refused(&ack), "message_not_found", "before {before}");
    }

    let (status, one) = daemon
        .get(&format!(
            "/api/v1/devices/history/messages/{}",
            ids[0].as_str().unwrap()
        ))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(one["body"], "m0");
    let (_, contacts) = daemon.get("/api/v1/devices/history/contacts").await;
    assert_eq!(common::ids(&contacts), [ALICE, BOB]);
}

fn urlencode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

#[tokio::test]
async fn read_receipts_typing_reactions_and_revocations_reach_the_other_client() {
    let daemon = TestDaemon::start().await;
    let device = daemon.ready_device("receipts", contacts()).await;
    let me = device["me"]["id"].clone();
    let mut a = daemon.socket("receipts", json!({})).await;
    let mut b = daemon.socket("receipts", json!({})).await;
    let ours = ok(send(&mut a, json!({ "chatId": ALICE, "text": "ping" })).await);
    let reply = a
        .wait_until(WAIT, |e| e.name == "message" && e.data["fromMe"] == false)
        .await
        .unwrap();
    let notification = a.wait_for("notification", WAIT).await.unwrap();

    let read = ok(a
        .emit_with_ack("message:read", json!({ "chatId": ALICE }), WAIT)
        .await
        .unwrap());
    assert_eq!(read["messageIds"], json!([reply.data["id"]]));
    let receipt = b
        .wait_until(WAIT, |e| e.name == "message:read" && e.data["readBy"] == me)
        .await
        .unwrap();
    assert_eq!(receipt.data["messageIds"], json!([reply.data["id"]]));
    let cleared = b.wait_for("notification:read", WAIT).await.unwrap();
    assert_eq!(cleared.data["ids"], json!([notification.data["id"]]));
    b.wait_until(WAIT, |e| {
        e.name == "chat:update" && e.data["id"] == ALICE && e.data["unreadCount"] == 0
    })
    .await
    .unwrap();

    ok(
        a.emit_with_ack("typing:start", json!({ "chatId": ALICE }), WAIT)
            .await
            .unwrap(),
    );
    b.wait_until(WAIT, |e| {
        e.name == "typing:start" && e.data["contactId"] == me
    })
    .await
    .unwrap();
    ok(
        a.emit_with_ack("typing:stop", json!({ "chatId": ALICE }), WAIT)
            .await
            .unwrap(),
    );
    b.wait_until(WAIT, |e| {
        e.name == "typing:stop" && e.data["contactId"] == me
    })
    .await
    .unwrap();

    ok(a.emit_with_ack(
        "message:react",
        json!({ "messageId": reply.data["id"], "emoji": "👍" }),
        WAIT,
    )
    .await
    .unwrap());
    let reaction = b.wait_for("message:reaction", WAIT).await.unwrap();
    assert_eq!(
        (
            reaction.data["emoji"].clone(),
            reaction.data["from"].clone()
        ),
        (json!("👍"), me.clone())
    );
    ok(
        a.emit_with_ack("message:revoke", json!({ "messageId": ours["id"] }), WAIT)
            .await
            .unwrap(),
    );
    b.wait_until(WAIT, |e| {
        e.name == "message:revoked" && e.data["messageId"] == ours["id"]
    })
    .await
    .unwrap();
    let (_, revoked) = daemon
        .get(&format!(
            "/api/v1/devices/receipts/messages/{}",
            ours["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(
        (revoked["revoked"].clone(), revoked["body"].clone()),
        (json!(true), json!(""))
    );
    // Revoking a chat's last message changes the chat list's line: `chat:update` says so.
    let last = ok(send(&mut a, json!({ "chatId": BOB, "text": "oops" })).await);
    ok(
        a.emit_with_ack("message:revoke", json!({ "messageId": last["id"] }), WAIT)
            .await
            .unwrap(),
    );
    let update = b
        .wait_until(WAIT, |e| {
            e.name == "chat:update"
                && e.data["id"] == BOB
                && e.data["lastMessage"]["revoked"] == true
        })
        .await
        .unwrap();
    assert_eq!(
        (
            &update.data["lastMessage"]["id"],
            &update.data["lastMessage"]["body"]
        ),
        (&last["id"], &json!(""))
    );

    let all = ok(a
        .emit_with_ack("notification:read", json!({ "all": true }), WAIT)
        .await
        .unwrap());
    assert_eq!(all, json!({}));
}

#[tokio::test]
async fn archiving_and_muting_reach_every_client_and_a_muted_chat_raises_no_notification() {
    let daemon = TestDaemon::start().await;
    daemon.ready_device("flags", contacts()).await;
    let mut a = daemon.socket("flags", json!({})).await;
    let mut b = daemon.socket("flags", json!({})).await;
    let chat_update = |archived: bool, muted: bool| {
        move |e: &common::sio::SioEvent| {
            e.name == "chat:update"
                && e.data["id"] == ALICE
                && e.data["archived"] == archived
                && e.data["muted"] == muted
        }
    };

    let muted = ok(a
        .emit_with_ack("chat:mute", json!({ "chatId": ALICE, "muted": true }), WAIT)
        .await
        .unwrap());
    assert_eq!(
        (&muted["muted"], &muted["archived"]),
        (&json!(true), &json!(false))
    );
    b.wait_until(WAIT, chat_update(false, true)).await.unwrap();
    let path = format!("/api/v1/devices/flags/chats/{ALICE}");
    let (status, archived) = daemon
        .call(Method::PATCH, &path, Some(json!({ "archived": true })))
        .await;
    assert_eq!(status, StatusCode::OK, "{archived}");
    assert_eq!(
        (&archived["muted"], &archived["archived"]),
        (&json!(true), &json!(true))
    );
    b.wait_until(WAIT, chat_update(true, true)).await.unwrap();

    // Alice answers: her chat comes back from the archive, with no notification.
    ok(send(&mut a, json!({ "chatId": ALICE, "text": "ping" })).await);
    let first = a
        .wait_until(WAIT, |e| e.name == "message" && e.data["fromMe"] == false)
        .await
        .unwrap();
    b.wait_until(WAIT, |e| {
        chat_update(false, true)(e) && e.data["lastMessage"]["id"] == first.data["id"]
    })
    .await
    .unwrap();
    // Unmuted, her next answer notifies; it is the only notification.
    ok(a.emit_with_ack(
        "chat:mute",
        json!({ "chatId": ALICE, "muted": false }),
        WAIT,
    )
    .await
    .unwrap());
    ok(send(&mut a, json!({ "chatId": ALICE, "text": "ping again" })).await);
    let second = a
        .wait_until(WAIT, |e| {
            e.name == "message" && e.data["fromMe"] == false && e.data["id"] != first.data["id"]
        })
        .await
        .unwrap();
    a.wait_until(WAIT, |e| {
        e.name == "notification" && e.data["messageId"] == second.data["id"]
    })
    .await
    .unwrap();
    let notified: Vec<&Value> = a
        .history()
        .iter()
        .filter(|e| e.name == "notification")
        .map(|e| &e.data["messageId"])
        .collect();
    assert_eq!(notified, [&second.data["id"]]);

    // What is refused, changing nothing.
    for (payload, code) in [
        (json!({ "chatId": ALICE }), "bad_request"),
        (json!({ "chatId": ALICE, "muted": "yes" }), "bad_request"),
        (
            json!({ "chatId": "nobody@c.us", "muted": true }),
            "chat_not_found",
        ),
    ] {
        let ack = a.emit_with_ack("chat:mute", payload, WAIT).await.unwrap();
        assert_eq!(refused(&ack), code, "{ack}");
    }
    for (body, status) in [
        (json!({}), StatusCode::BAD_REQUEST),
        (json!({ "starred": true }), StatusCode::BAD_REQUEST),
    ] {
        let (got, answer) = daemon.call(Method::PATCH, &path, Some(body)).await;
        assert_eq!(got, status, "{answer}");
    }
    let reader = daemon.key_for(&["flags"], &["read"]).await;
    let (status, _) = daemon
        .call_as(
            &reader,
            Method::PATCH,
            &path,
            Some(json!({ "muted": true })),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (_, chat) = daemon.get(&path).await;
    assert_eq!(
        (&chat["muted"], &chat["archived"]),
        (&json!(false), &json!(false))
    );
    daemon.stop().await;
}

#[tokio::test]
async fn a_chat_opened_with_a_number_reaches_every_client_and_takes_messages() {
    let daemon = TestDaemon::start().await;
    daemon.ready_device("dial", contacts()).await;
    let mut a = daemon.socket("dial", json!({})).await;
    let mut b = daemon.socket("dial", json!({})).await;
    let open = |phone: &str| json!({ "phone": phone });

    // A contact's number finds the chat the phone has, under the contact's name.
    let alice = ok(a
        .emit_with_ack("chat:open", open("+1 555-000-0002"), WAIT)
        .await
        .unwrap());
    assert_eq!(
        (&alice["id"], &alice["name"]),
        (&json!(ALICE), &json!("Alice"))
    );
    // A new number opens a chat that every client sees.
    let stranger = "15551234567@c.us";
    let opened = ok(a
        .emit_with_ack("chat:open", open("+1 (555) 123.4567"), WAIT)
        .await
        .unwrap());
    assert_eq!(
        (&opened["id"], &opened["name"], &opened["unreadCount"]),
        (&json!(stranger), &json!("+15551234567"), &json!(0))
    );
    b.wait_until(WAIT, |e| {
        e.name == "chat:update" && e.data["id"] == stranger
    })
    .await
    .unwrap();
    let (status, again) = daemon
        .post("/api/v1/devices/dial/chats", open("15551234567"))
        .await;
    assert_eq!((status, &again["id"]), (StatusCode::OK, &json!(stranger)));
    // Nobody in the device file has that number: the network takes the message, one tick.
    let sent = ok(send(&mut a, json!({ "chatId": stranger, "text": "hello" })).await);
    common::wait_message_ack(&mut b, &sent["id"], "server").await;

    // Numbers that are not numbers, and a device that cannot ask its upstream, open nothing.
    for phone in [
        "555",
        "+1 555 abc 0000",
        "1234567890123456",
        "++15551230000",
    ] {
        let ack = a
            .emit_with_ack("chat:open", open(phone), WAIT)
            .await
            .unwrap();
        assert_eq!(refused(&ack), "bad_request", "{phone}");
    }
    let (status, body) = daemon
        .post(
            "/api/v1/devices/dial/chats",
            json!({ "phone": 15551230000_u64 }),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    daemon.create_device("fresh").await;
    let (status, body) = daemon
        .post("/api/v1/devices/fresh/chats", open("15551230000"))
        .await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (StatusCode::SERVICE_UNAVAILABLE, &json!("device_not_ready"))
    );
    let (_, chats) = daemon.get("/api/v1/devices/dial/chats").await;
    let ids: Vec<&Value> = chats["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| &c["id"])
        .collect();
    assert!(!ids.contains(&&json!("15551230000@c.us")), "{ids:?}");
}

#[tokio::test]
async fn typing_without_a_stop_ends_by_itself_ours_and_a_contacts() {
    let daemon = TestDaemon::start().await;
    // Alice types for longer than a typing indicator lasts before she replies.
    let device = daemon
        .ready_device(
            "typist",
            json!({
                "server_ack_ms": 10, "delivered_ms": 30, "read_ms": 60, "typing_ms": 120_000,
                "contacts": [
                    { "id": ALICE, "name": "Alice", "behaviour": "echo" },
                    { "id": BOB, "name": "Bob", "behaviour": "silent" }
                ]
            }),
        )
        .await;
    let mut a = daemon.socket("typist", json!({})).await;
    ok(
        a.emit_with_ack("typing:start", json!({ "chatId": BOB }), WAIT)
            .await
            .unwrap(),
    );
    ok(send(&mut a, json!({ "chatId": ALICE, "text": "are you there?" })).await);
    a.wait_until(WAIT, |e| {
        e.name == "typing:start" && e.data["contactId"] == ALICE
    })
    .await
    .unwrap();
    a.wait_until(WAIT, |e| {
        e.name == "contact:update" && e.data["id"] == ALICE && e.data["presence"] == "typing"
    })
    .await
    .unwrap();

    let ours = a
        .wait_until(Duration::from_secs(35), |e| {
            e.name == "typing:stop" && e.data["contactId"] == device["me"]["id"]
        })
        .await
        .expect("our typing stops after 25 s");
    assert_eq!(ours.data["chatId"], BOB);
    a.wait_until(Duration::from_secs(35), |e| {
        e.name == "typing:stop" && e.data["contactId"] == ALICE
    })
    .await
    .expect("Alice's typing stops after 25 s");
    // Her presence follows: she is online, not typing for ever.
    a.wait_until(WAIT, |e| {
        e.name == "contact:update" && e.data["id"] == ALICE && e.data["presence"] == "online"
    })
    .await
    .unwrap();
    let (_, contacts) = daemon.get("/api/v1/devices/typist/contacts").await;
    let alice = contacts["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == ALICE)
        .unwrap();
    assert_eq!(alice["presence"], "online");

    // Typing is of the moment: a stopped device cannot start it, and a stop is always taken.
    let (status, _) = daemon.post("/api/v1/devices/typist/stop", json!({})).await;
    assert_eq!(status, StatusCode::OK);
    wait_state(&mut a, "stopped").await;
    let start = a
        .emit_with_ack("typing:start", json!({ "chatId": BOB }), WAIT)
        .await
        .unwrap();
    assert_eq!(refused(&start), "device_not_ready");
    ok(
        a.emit_with_ack("typing:stop", json!({ "chatId": BOB }), WAIT)
            .await
            .unwrap(),
    );
}

#[tokio::test]
async fn no_server_ack_means_resend_with_the_same_id_then_error() {
    let daemon = TestDaemon::start_with(|settings, _| {
        settings.messages.ack_timeout_secs = 1;
        settings.messages.max_send_attempts = 2;
    })
    .await;
    daemon.ready_device("lossy", json!({ "server_ack_ms": 600000, "contacts": [{ "id": BOB, "name": "Bob", "behaviour": "silent" }] })).await;
    let mut a = daemon.socket("lossy", json!({})).await;
    let id = ok(send(&mut a, json!({ "chatId": BOB, "text": "anyone?" })).await)["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let failed = wait_about(&mut a, "message:ack", &id, |d| d["ack"] == -1).await;
    assert_eq!(failed.data["ackName"], "error");
    let statuses: Vec<(Value, Value)> = a
        .history()
        .iter()
        .filter(|e| e.name == "message:status" && e.data["messageId"] == id)
        .map(|e| (e.data["status"].clone(), e.data["attempt"].clone()))
        .collect();
    let expected = [("retrying", 1), ("failed", 2)];
    assert_eq!(statuses, expected.map(|(s, n)| (json!(s), json!(n))));
    let inbox = inbox(&daemon, "lossy").await;
    assert_eq!(
        inbox.len(),
        1,
        "the resend was recognised upstream: {inbox:?}"
    );
}

#[tokio::test]
async fn a_message_revoked_while_queued_is_never_sent_and_holds_up_nothing() {
    let daemon = TestDaemon::start().await;
    daemon.ready_device("held", contacts()).await;
    let mut a = daemon.socket("held", json!({})).await;
    let (status, _) = daemon.post("/api/v1/devices/held/stop", json!({})).await;
    assert_eq!(status, StatusCode::OK);
    wait_state(&mut a, "stopped").await;
    let mut queued = Vec::new();
    for text in ["take this back", "but keep this"] {
        let sent = ok(send(&mut a, json!({ "chatId": BOB, "text": text })).await);
        queued.push(sent["id"].as_str().unwrap().to_owned());
    }
    let ack = a
        .emit_with_ack("message:revoke", json!({ "messageId": queued[0] }), WAIT)
        .await
        .unwrap();
    ok(ack);

    let (status, _) = daemon.post("/api/v1/devices/held/start", json!({})).await;
    assert_eq!(status, StatusCode::OK);
    // The withdrawn message is settled in the same commit as the one sent after it.
    wait_relayed(&mut a, &json!(queued[1])).await;
    assert_eq!(
        seen(&a, "message:status", &queued[0], "error").last(),
        Some(&json!("revoked before it was sent"))
    );
    assert_eq!(
        seen(&a, "message:status", &queued[0], "status"),
        [json!("queued"), json!("failed")],
        "never handed to the upstream"
    );
    assert!(
        seen(&a, "message:ack", &queued[0], "ackName").is_empty(),
        "no ack error for a message its sender took back"
    );
    let inbox = inbox(&daemon, "held").await;
    let bodies: Vec<&Value> = inbox.iter().map(|m| &m["body"]).collect();
    assert_eq!(bodies, [&json!("but keep this")], "{inbox:?}");
}

#[tokio::test]
async fn bad_input_gets_a_clear_error_and_changes_nothing() {
    let daemon = TestDaemon::start().await;
    daemon.ready_device("strict", contacts()).await;
    let mut a = daemon.socket("strict", json!({})).await;
    let received = ok(send(&mut a, json!({ "chatId": ALICE, "text": "hi" })).await);
    a.wait_until(WAIT, |e| e.name == "message" && e.data["fromMe"] == false)
        .await
        .unwrap();
    // Let the echo finish (its presence goes offline last) so nothing else moves the journal.
    let (_, before) = daemon
        .get("/api/v1/devices/strict/events?after=0&limit=1")
        .await;
    let reply = a
        .history()
        .iter()
        .find(|e| e.name == "message" && e.data["fromMe"] == false)
        .unwrap()
        .data["id"]
        .clone();

    let cases = [
        (
            "message:send",
            json!({ "chatId": ALICE, "text": 5 }),
            "bad_request",
        ),
        ("message:send", json!({ "text": "no chat" }), "bad_request"),
        ("message:send", json!("not an object"), "bad_request"),
        // Serde would read an array as the fields in order: a client never means that.
        ("message:send", json!([ALICE, "array"]), "bad_request"),
        (
            "message:send",
            json!({ "chatId": ALICE, "text": "  " }),
            "bad_request",
        ),
        (
            "message:send",
            json!({ "chatId": "nobody@c.us", "text": "hi" }),
            "chat_not_found",
        ),
        (
            "message:send",
            json!({ "chatId": ALICE, "template": { "name": "hello_world", "language": "en_US" } }),
            "bad_request",
        ),
        (
            "message:send",
            json!({ "chatId": ALICE, "text": "hi", "replyTo": "msg_nope" }),
            "message_not_found",
        ),
        (
            "message:send",
            json!({ "chatId": ALICE, "text": "", "media": { "url": "data:image/png;base64,AAAA", "mime": "image/png" } }),
            "bad_request",
        ),
        (
            "message:read",
            json!({ "chatId": ALICE, "messageId": "msg_nope" }),
            "message_not_found",
        ),
        (
            "message:react",
            json!({ "messageId": "msg_nope", "emoji": "👍" }),
            "message_not_found",
        ),
        (
            "message:revoke",
            json!({ "messageId": reply }),
            "bad_request",
        ),
        (
            "typing:start",
            json!({ "chatId": "nobody@c.us" }),
            "chat_not_found",
        ),
        (
            "messages:list",
            json!({ "chatId": ALICE, "limit": 0 }),
            "bad_request",
        ),
        ("notification:read", json!({}), "bad_request"),
        ("no:such:event", json!({}), "bad_request"),
        // A misspelt field is refused, not ignored: `tempID` would send twice, and a read
        // without its `messageId` would mark the whole chat read.
        (
            "message:send",
            json!({ "chatId": ALICE, "text": "hi", "tempID": "t-1" }),
            "bad_request",
        ),
        (
            "message:read",
            json!({ "chatId": ALICE, "messageID": reply }),
            "bad_request",
        ),
        (
            "message:react",
            json!({ "messageId": reply, "emoji": "👍", "from": "me" }),
            "bad_request",
        ),
        (
            "message:revoke",
            json!({ "messageID": reply }),
            "bad_request",
        ),
        ("typing:start", json!({ "chat": ALICE }), "bad_request"),
        (
            "messages:list",
            json!({ "chatId": ALICE, "after": "msg_1" }),
            "bad_request",
        ),
    ];
    for (event, payload, code) in cases {
        let ack = a.emit_with_ack(event, payload.clone(), WAIT).await.unwrap();
        assert_eq!(refused(&ack), code, "{event} {payload}: {ack}");
    }
    let attachment = a
        .emit_binary_with_ack(
            "message:send",
            json!({ "chatId": ALICE, "text": "file", "file": { "_placeholder": true, "num": 0 } }),
            vec![1, 2, 3],
            WAIT,
        )
        .await
        .unwrap();
    assert_eq!(refused(&attachment), "bad_request");
    assert!(attachment["error"]["message"]
        .as_str()
        .unwrap()
        .contains("binary"));

    let (_, after) = daemon
        .get("/api/v1/devices/strict/events?after=0&limit=1")
        .await;
    let (_, list) = daemon
        .get(&format!("/api/v1/devices/strict/chats/{ALICE}/messages"))
        .await;
    assert_eq!(
        common::ids(&list),
        [reply.as_str().unwrap(), received["id"].as_str().unwrap()]
    );
    // Only the echo's own tail (presence going offline) may have been journaled meanwhile.
    let moved: Vec<Value> = {
        let (_, events) = daemon
            .get(&format!(
                "/api/v1/devices/strict/events?after={}",
                before["head"]
            ))
            .await;
        events["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["type"].clone())
            .collect()
    };
    assert!(
        moved.iter().all(|t| t == "contact:update"),
        "bad input journaled {moved:?} (head {} → {})",
        before["head"],
        after["head"]
    );

    let path = format!("/api/v1/devices/strict/chats/{ALICE}/messages");
    for body in [
        json!({ "text": 1 }),
        json!({ "text": "hi", "tempId": "t-1" }),
        json!({ "text": "hi", "reply_to": received["id"] }),
        json!(["array"]),
    ] {
        let (status, answer) = daemon.post(&path, body.clone()).await;
        assert_eq!(
            (status, answer["error"]["code"].clone()),
            (StatusCode::BAD_REQUEST, json!("bad_request")),
            "{body}"
        );
    }
    let (status, body) = daemon
        .post(
            "/api/v1/devices/strict/chats/nobody@c.us/messages",
            json!({ "text": "x" }),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (StatusCode::NOT_FOUND, json!("chat_not_found"))
    );
    let (status, body) = daemon.get("/api/v1/devices/strict/messages/msg_nope").await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (StatusCode::NOT_FOUND, json!("message_not_found"))
    );
    let (status, body) = daemon
        .post(
            &format!("/api/v1/devices/strict/chats/{ALICE}/read"),
            json!({ "messageId": "msg_nope" }),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (StatusCode::NOT_FOUND, json!("message_not_found"))
    );
    let (status, body) = daemon
        .post(
            &format!("/api/v1/devices/strict/chats/{ALICE}/read"),
            json!([reply]),
        )
        .await;
    assert_eq!(
        (status, body["error"]["message"].clone()),
        (
            StatusCode::BAD_REQUEST,
            json!("the body must be a JSON object")
        )
    );
}

#[tokio::test]
async fn an_unlinked_device_cannot_send_and_a_read_only_key_cannot_either() {
    let daemon = TestDaemon::start().await;
    daemon.create_device("fresh").await;
    let mut a = daemon.socket("fresh", json!({})).await;
    let ack = send(&mut a, json!({ "chatId": ALICE, "text": "hi" })).await;
    assert_eq!(refused(&ack), "device_not_ready");
    let (status, body) = daemon
        .post(
            &format!("/api/v1/devices/fresh/chats/{ALICE}/messages"),
            json!({ "text": "x" }),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (StatusCode::SERVICE_UNAVAILABLE, json!("device_not_ready"))
    );

    daemon.ready_device("linked", contacts()).await;
    let reader = daemon.key_for(&["linked"], &["read"]).await;
    let mut watcher = common::sio::SioClient::connect(
        &daemon.base,
        "/ws",
        "/device/linked",
        &[],
        &[],
        json!({ "apiKey": reader }),
    )
    .await
    .unwrap()
    .unwrap_connected();
    let ack = send(&mut watcher, json!({ "chatId": ALICE, "text": "hi" })).await;
    assert_eq!(refused(&ack), "forbidden");
    ok(watcher
        .emit_with_ack("chats:list", json!({}), WAIT)
        .await
        .unwrap());
}

#[tokio::test]
async fn oversized_packets_and_floods_are_refused() {
    let daemon = TestDaemon::start_with(|settings, _| {
        settings.limits.events_per_minute = 5;
    })
    .await;
    daemon.ready_device("limits", contacts()).await;
    let mut a = daemon.socket("limits", json!({})).await;
    let huge = "x".repeat(70_000);
    let ack = send(&mut a, json!({ "chatId": BOB, "text": huge })).await;
    assert_eq!(refused(&ack), "payload_too_large");
    let (status, body) = daemon
        .post(
            &format!("/api/v1/devices/limits/chats/{BOB}/messages"),
            json!({ "text": huge }),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (StatusCode::PAYLOAD_TOO_LARGE, json!("payload_too_large"))
    );

    let mut codes = Vec::new();
    for _ in 0..5 {
        let ack = a
            .emit_with_ack("chats:list", json!({}), WAIT)
            .await
            .unwrap();
        codes.push(if ack["ok"] == true {
            "ok".to_owned()
        } else {
            refused(&ack).to_owned()
        });
    }
    assert_eq!(
        codes,
        ["ok", "ok", "ok", "ok", "rate_limited"],
        "the oversized packet counted too"
    );
    let (_, list) = daemon
        .get(&format!("/api/v1/devices/limits/chats/{BOB}/messages"))
        .await;
    assert_eq!(list["items"], json!([]));
}
