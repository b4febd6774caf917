//! Groups against the real daemon and its simulated world: made, changed and left over REST
//! and Socket.IO, each change journaled as `group:update` with its `system` line and sent to a
//! webhook; the members and roles kept across a restart and the changes replayed on resume; a
//! contact's changes on cue; per-participant refusals, and what bad input gets.

mod common;

use common::receiver::Receiver;
use common::sio::SioClient;
use common::{TestDaemon, WAIT};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

const ME: &str = "15550000001@c.us";
const ALICE: &str = "15550000002@c.us";
const BOB: &str = "15550000003@c.us";
const STRANGER: &str = "15550000009@c.us";
/// The group every simulated phone is in, made by its first contact (Alice).
const FIRST_GROUP: &str = "12036315550000001@g.us";

fn contacts() -> Value {
    json!({
        "phone": "15550000001", "server_ack_ms": 10, "delivered_ms": 20, "read_ms": 30, "typing_ms": 20,
        "contacts": [
            { "id": ALICE, "name": "Alice", "behaviour": "silent" },
            { "id": BOB, "name": "Bob", "behaviour": "silent" }
        ]
    })
}

async fn ready() -> (TestDaemon, SioClient) {
    let daemon = TestDaemon::start_with(|settings, _| {
        settings.webhooks.allow_private = true;
        settings.webhooks.retry_initial_ms = 20;
    })
    .await;
    daemon.ready_device("phone", contacts()).await;
    let client = daemon.socket("phone", json!({})).await;
    (daemon, client)
}

fn group_path(chat_id: &str, rest: &str) -> String {
    format!("/api/v1/devices/phone/groups/{chat_id}{rest}")
}

/// Waits for the next `group:update` of `change` and the `system` line that says it; returns
/// both.
async fn told(client: &mut SioClient, change: &str) -> (Value, Value) {
    let update = client
        .wait_until(WAIT, |e| {
            e.name == "group:update" && e.data["change"] == change
        })
        .await
        .unwrap_or_else(|e| panic!("no group:update {change}: {e}"));
    let line = client
        .wait_until(WAIT, |e| e.name == "message" && e.data["type"] == "system")
        .await
        .unwrap();
    assert_eq!(line.data["chatId"], update.data["chatId"]);
    let seq = |event: &common::sio::SioEvent| event.data["seq"].as_u64().unwrap();
    assert_eq!(seq(&line), seq(&update) + 1, "journaled together");
    (update.data, line.data)
}

/// The group's members and their roles, as the API shows them.
async fn roles(daemon: &TestDaemon, chat_id: &str) -> Vec<(String, String)> {
    let (status, group) = daemon.get(&group_path(chat_id, "")).await;
    assert_eq!(status, StatusCode::OK, "{group}");
    let mut roles: Vec<(String, String)> = group["participants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["id"].as_str().unwrap().into(),
                p["role"].as_str().unwrap().into(),
            )
        })
        .collect();
    roles.sort();
    roles
}

fn pair(id: &str, role: &str) -> (String, String) {
    (id.to_owned(), role.to_owned())
}

#[tokio::test]
async fn a_group_run_over_rest_is_journaled_step_by_step_kept_and_resumed() {
    let (daemon, mut client) = ready().await;
    let mut receiver = Receiver::start().await;
    let (status, hook) = daemon
        .post(
            "/api/v1/webhooks",
            json!({ "url": receiver.url, "events": ["group:update"] }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{hook}");

    let (status, chat) = daemon
        .post(
            "/api/v1/devices/phone/groups",
            json!({ "name": "Weekend", "participants": [ALICE] }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{chat}");
    assert_eq!(
        (chat["kind"].as_str(), chat["name"].as_str()),
        (Some("group"), Some("Weekend"))
    );
    let group = chat["id"].as_str().unwrap().to_owned();
    assert!(
        group.ends_with("@g.us") && group[..group.len() - 5].bytes().all(|b| b.is_ascii_digit())
    );
    let (created, line) = told(&mut client, "created").await;
    assert_eq!(
        created,
        json!({ "chatId": group, "change": "created", "by": ME, "name": "Weekend",
                "participants": [{ "id": ALICE, "action": "add" }],
                "deviceId": "phone", "seq": created["seq"], "at": created["at"] })
    );
    assert_eq!(line["body"], "You created group “Weekend”");
    assert_eq!(line["fromMe"], true);
    let delivered = receiver.next().await;
    assert_eq!(delivered.json["type"], "group:update");
    assert_eq!(delivered.json["data"]["change"], "created");

    // Add Bob, make Alice an admin: one result each, one change, one line.
    let (status, outcomes) = daemon
        .post(
            &group_path(&group, "/participants"),
            json!({ "add": [BOB], "promote": [ALICE] }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{outcomes}");
    assert_eq!(
        outcomes,
        json!([{ "id": BOB, "action": "add", "ok": true }, { "id": ALICE, "action": "promote", "ok": true }])
    );
    let (changed, line) = told(&mut client, "participants").await;
    assert_eq!(
        changed["participants"],
        json!([{ "id": BOB, "action": "add" }, { "id": ALICE, "action": "promote" }])
    );
    assert_eq!(line["body"], "You added Bob; You made Alice an admin");
    assert_eq!(
        roles(&daemon, &group).await,
        [
            pair(ME, "superadmin"),
            pair(ALICE, "admin"),
            pair(BOB, "member")
        ]
    );

    // Renamed and described: the chat follows the name.
    let (status, renamed) = daemon
        .call(
            Method::PATCH,
            &group_path(&group, ""),
            Some(json!({ "name": "Weekend trip", "description": "Bring boots" })),
        )
        .await;
    assert_eq!(
        (status, renamed["name"].as_str()),
        (StatusCode::OK, Some("Weekend trip"))
    );
    let (_, line) = told(&mut client, "name").await;
    assert_eq!(line["body"], "You changed the group name to “Weekend trip”");
    let (described, line) = told(&mut client, "description").await;
    assert_eq!(described["description"], "Bring boots");
    assert_eq!(line["body"], "You changed the group description");
    let (_, info) = daemon.get(&group_path(&group, "")).await;
    assert_eq!(
        (&info["name"], &info["description"], &info["owner"]),
        (&json!("Weekend trip"), &json!("Bring boots"), &json!(ME))
    );

    // The invite link, and a new one once revoked.
    let (status, invite) = daemon.get(&group_path(&group, "/invite")).await;
    assert_eq!(status, StatusCode::OK, "{invite}");
    let code = invite["code"].as_str().unwrap().to_owned();
    assert_eq!(invite["url"], format!("https://chat.whatsapp.com/{code}"));
    let (status, revoked) = daemon
        .call(Method::DELETE, &group_path(&group, "/invite"), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{revoked}");
    assert_ne!(revoked["code"], code.as_str());
    let (_, again) = daemon.get(&group_path(&group, "/invite")).await;
    assert_eq!(again, revoked);

    // Kept across a restart; the changes are replayed to a client that resumes.
    let seq_before_removal = client
        .history()
        .iter()
        .filter_map(|e| e.data["seq"].as_u64())
        .max()
        .unwrap();
    client.close().await;
    let daemon = daemon.restart().await;
    let mut client = daemon.socket("phone", json!({})).await;
    common::wait_state(&mut client, "ready").await;
    assert_eq!(
        roles(&daemon, &group).await,
        [
            pair(ME, "superadmin"),
            pair(ALICE, "admin"),
            pair(BOB, "member")
        ]
    );
    let (status, outcomes) = daemon
        .post(
            &group_path(&group, "/participants"),
            json!({ "remove": [BOB] }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{outcomes}");
    let (_, line) = told(&mut client, "participants").await;
    assert_eq!(line["body"], "You removed Bob");
    let (status, _) = daemon.post(&group_path(&group, "/leave"), json!({})).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (left, line) = told(&mut client, "left").await;
    assert_eq!(
        left["participants"],
        json!([{ "id": ME, "action": "remove" }])
    );
    assert_eq!(line["body"], "You left");
    let (status, gone) = daemon.get(&group_path(&group, "")).await;
    assert_eq!(
        (status, gone["error"]["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("chat_not_found"))
    );

    let mut resumed = daemon
        .socket("phone", json!({ "lastSeq": seq_before_removal }))
        .await;
    resumed.wait_for("sync", WAIT).await.unwrap();
    let replayed: Vec<&str> = resumed
        .history()
        .iter()
        .filter(|e| e.name == "group:update")
        .map(|e| e.data["change"].as_str().unwrap())
        .collect();
    assert_eq!(replayed, ["participants", "left"]);
    let (_, messages) = daemon
        .get(&format!("/api/v1/devices/phone/chats/{group}/messages"))
        .await;
    let lines: Vec<&str> = messages["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["body"].as_str().unwrap())
        .collect();
    assert_eq!(
        lines,
        [
            "You left",
            "You removed Bob",
            "You changed the group description",
            "You changed the group name to “Weekend trip”",
            "You added Bob; You made Alice an admin",
            "You created group “Weekend”"
        ]
    );
}

#[tokio::test]
async fn over_the_socket_each_participant_gets_its_result_and_refusals_store_nothing() {
    let (daemon, mut client) = ready().await;
    let ack = client
        .emit_with_ack(
            "group:create",
            json!({ "name": "Book club", "participants": [ALICE, BOB] }),
            WAIT,
        )
        .await
        .unwrap();
    assert_eq!(ack["ok"], true, "{ack}");
    let group = ack["data"]["id"].as_str().unwrap().to_owned();
    told(&mut client, "created").await;

    let ack = client
        .emit_with_ack(
            "group:participants",
            json!({ "chatId": group, "add": [ALICE, STRANGER], "remove": ["15550000008@c.us"] }),
            WAIT,
        )
        .await
        .unwrap();
    assert_eq!(
        ack["data"],
        json!([
            { "id": ALICE, "action": "add", "ok": false, "error": "already_a_participant" },
            { "id": STRANGER, "action": "add", "ok": true },
            { "id": "15550000008@c.us", "action": "remove", "ok": false, "error": "not_a_participant" }
        ]),
        "{ack}"
    );
    let (changed, line) = told(&mut client, "participants").await;
    assert_eq!(
        changed["participants"],
        json!([{ "id": STRANGER, "action": "add" }])
    );
    assert_eq!(line["body"], "You added +15550000009");

    let ack = client
        .emit_with_ack("group:get", json!({ "chatId": group }), WAIT)
        .await
        .unwrap();
    assert_eq!(
        ack["data"]["participants"].as_array().unwrap().len(),
        4,
        "{ack}"
    );
    let ack = client
        .emit_with_ack(
            "group:update",
            json!({ "chatId": group, "name": "Books" }),
            WAIT,
        )
        .await
        .unwrap();
    assert_eq!(ack["data"]["name"], "Books", "{ack}");
    let ack = client
        .emit_with_ack(
            "group:invite",
            json!({ "chatId": group, "revoke": true }),
            WAIT,
        )
        .await
        .unwrap();
    assert!(ack["data"]["url"]
        .as_str()
        .unwrap()
        .starts_with("https://chat.whatsapp.com/"));
    let ack = client
        .emit_with_ack("group:leave", json!({ "chatId": group }), WAIT)
        .await
        .unwrap();
    assert_eq!(ack, json!({ "ok": true, "data": {} }));
    told(&mut client, "left").await;

    // Refusals: nothing is journaled for any of them.
    let (_, before) = daemon
        .get("/api/v1/devices/phone/events?after=0&limit=1000")
        .await;
    let refusals = [
        // Alice made the phone's first group; here the device is a plain member.
        (
            "group:participants",
            json!({ "chatId": FIRST_GROUP, "add": [STRANGER] }),
            "not_group_admin",
        ),
        (
            "group:invite",
            json!({ "chatId": FIRST_GROUP }),
            "not_group_admin",
        ),
        (
            "group:get",
            json!({ "chatId": "99999999999@g.us" }),
            "chat_not_found",
        ),
        ("group:get", json!({ "chatId": ALICE }), "chat_not_found"),
        (
            "group:participants",
            json!({ "chatId": group, "add": ["alice"] }),
            "bad_request",
        ),
        (
            "group:participants",
            json!({ "chatId": group }),
            "bad_request",
        ),
        (
            "group:create",
            json!({ "name": " ", "participants": [ALICE] }),
            "bad_request",
        ),
        (
            "group:create",
            json!({ "name": "x", "participants": [] }),
            "bad_request",
        ),
        (
            "group:update",
            json!({ "chatId": FIRST_GROUP }),
            "bad_request",
        ),
        ("group:leave", json!({ "chatId": group }), "chat_not_found"),
    ];
    for (event, payload, code) in refusals {
        let ack = client
            .emit_with_ack(event, payload.clone(), WAIT)
            .await
            .unwrap();
        assert_eq!(
            (ack["ok"].as_bool(), ack["error"]["code"].as_str()),
            (Some(false), Some(code)),
            "{event} {payload}: {ack}"
        );
    }
    let (status, refused) = daemon
        .post(
            &group_path(FIRST_GROUP, "/participants"),
            json!({ "promote": [BOB] }),
        )
        .await;
    assert_eq!(
        (status, refused["error"]["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("not_group_admin"))
    );
    let (_, after) = daemon
        .get("/api/v1/devices/phone/events?after=0&limit=1000")
        .await;
    assert_eq!(after["items"], before["items"]);

    // A read-only key reads a group but changes nothing.
    let reader = daemon.key_for(&["phone"], &["read"]).await;
    let (status, _) = daemon
        .call_as(&reader, Method::GET, &group_path(FIRST_GROUP, ""), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = daemon
        .call_as(
            &reader,
            Method::POST,
            &group_path(FIRST_GROUP, "/leave"),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn the_simulated_worlds_members_change_a_group_on_cue() {
    let (daemon, mut client) = ready().await;
    let act = |body: Value| daemon.post("/api/v1/devices/phone/simulator/act", body);
    assert_eq!(
        roles(&daemon, FIRST_GROUP).await,
        [
            pair(ME, "member"),
            pair(ALICE, "superadmin"),
            pair(BOB, "member")
        ]
    );
    // Bob is no admin: the simulated upstream refuses him, and nothing is told.
    let (status, refused) = act(json!({ "do": "group_add", "from": BOB, "chatId": FIRST_GROUP, "participants": [STRANGER] })).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{refused}");

    let (status, acted) = act(json!({ "do": "group_add", "from": ALICE, "chatId": FIRST_GROUP, "participants": [STRANGER] })).await;
    assert_eq!(status, StatusCode::OK, "{acted}");
    let (update, line) = told(&mut client, "participants").await;
    assert_eq!(
        (update["by"].as_str(), line["body"].as_str()),
        (Some(ALICE), Some("Alice added +15550000009"))
    );
    assert_eq!(line["upstreamId"], acted["upstreamId"]);

    act(json!({ "do": "group_promote", "from": ALICE, "chatId": FIRST_GROUP, "participants": [ME] })).await;
    let (_, line) = told(&mut client, "participants").await;
    assert_eq!(line["body"], "You were made an admin");
    act(
        json!({ "do": "group_demote", "from": ALICE, "chatId": FIRST_GROUP, "participants": [ME] }),
    )
    .await;
    let (_, line) = told(&mut client, "participants").await;
    assert_eq!(line["body"], "You're no longer an admin");
    act(json!({ "do": "group_leave", "from": BOB, "chatId": FIRST_GROUP })).await;
    let (_, line) = told(&mut client, "participants").await;
    assert_eq!(line["body"], "Bob left");
    act(json!({ "do": "group_rename", "from": ALICE, "chatId": FIRST_GROUP, "name": "Family" }))
        .await;
    let (renamed, line) = told(&mut client, "name").await;
    assert_eq!(
        (renamed["name"].as_str(), line["body"].as_str()),
        (
            Some("Family"),
            Some("Alice changed the group name to “Family”")
        )
    );
    let chat = client
        .wait_until(WAIT, |e| {
            e.name == "chat:update" && e.data["name"] == "Family"
        })
        .await;
    assert!(chat.is_ok(), "the chat is renamed");
    act(
        json!({ "do": "group_remove", "from": ALICE, "chatId": FIRST_GROUP, "participants": [ME] }),
    )
    .await;
    let (left, line) = told(&mut client, "left").await;
    assert_eq!(
        (left["by"].as_str(), line["body"].as_str()),
        (Some(ALICE), Some("Alice removed you"))
    );

    // Bad acts are refused before the world hears of them.
    let (status, _) = act(
        json!({ "do": "group_add", "from": ALICE, "chatId": FIRST_GROUP, "participants": ["bob"] }),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) =
        act(json!({ "do": "group_rename", "from": ALICE, "chatId": FIRST_GROUP })).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}
