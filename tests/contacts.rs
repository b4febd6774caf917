//! Contacts and numbers (SPEC §11) on the real daemon with simulator devices: a contact looked
//! up with their number, about and picture, the picture served by the daemon, blocking
//! (stored, journaled, and the simulated world going quiet), and number checks; and the
//! pictures' byte budget against a WAHA that serves large ones, read from the daemon's memory.

mod common;

use common::binary::Daemon;
use common::sio::SioClient;
use common::waha_stub::{WahaContact, WahaStub, API_KEY};
use common::{assert_unseen, wait_message_ack, wait_state, TestDaemon, WAIT};
use reqwest::StatusCode;
use serde_json::{json, Value};

const ALICE: &str = "15550000002@c.us";
const BOB: &str = "15550000003@c.us";
const MIB: u64 = 1024 * 1024;

/// Alice echoes and says what she is about; Bob reads nothing, shows WhatsApp's default about
/// and has no picture. Replies come well after deliveries.
fn phone() -> Value {
    json!({
        "phone": "15550000001",
        "server_ack_ms": 5, "delivered_ms": 10, "read_ms": 200, "typing_ms": 100,
        "contacts": [
            { "id": ALICE, "name": "Alice", "behaviour": "echo", "about": "Out hiking" },
            { "id": BOB, "name": "Bob", "behaviour": "echo", "picture": false }
        ]
    })
}

async fn ready() -> (TestDaemon, SioClient) {
    let daemon = TestDaemon::start().await;
    daemon.ready_device("phone", phone()).await;
    let client = daemon.socket("phone", json!({})).await;
    (daemon, client)
}

fn contact_path(id: &str) -> String {
    format!("/api/v1/devices/phone/contacts/{id}")
}

/// Makes Alice (or anyone) write `text` in the simulated world: in their own chat, or in the
/// group `chat_id`.
async fn writes_in(daemon: &TestDaemon, from: &str, chat_id: Option<&str>, text: &str) {
    let (status, acted) = daemon
        .post(
            "/api/v1/devices/phone/simulator/act",
            json!({ "do": "message", "from": from, "chatId": chat_id, "text": text }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{acted}");
}

async fn writes(daemon: &TestDaemon, from: &str, text: &str) {
    writes_in(daemon, from, None, text).await;
}

#[tokio::test]
async fn a_contact_is_looked_up_with_their_number_about_and_a_picture_the_daemon_serves() {
    let (daemon, mut client) = ready().await;

    let (status, alice) = daemon.get(&contact_path(ALICE)).await;
    assert_eq!(status, StatusCode::OK, "{alice}");
    let picture_url = format!("/api/v1/devices/phone/contacts/{ALICE}/picture");
    assert_eq!(
        alice,
        json!({
            "id": ALICE, "deviceId": "phone", "name": "Alice", "pushName": "Alice",
            "presence": alice["presence"], "lastSeenAt": alice["lastSeenAt"],
            "phone": "15550000002", "lid": null, "about": "Out hiking", "blocked": false,
            "pictureUrl": picture_url
        })
    );
    // What the lookup learned is journaled, for every client.
    let updated = client
        .wait_until(WAIT, |e| {
            e.name == "contact:update" && e.data["id"] == ALICE && e.data["about"] == "Out hiking"
        })
        .await
        .unwrap();
    assert_eq!(updated.data["pictureUrl"], json!(picture_url));

    // The picture is a PNG of Alice's own, the same at every ask, from the daemon's origin.
    let picture = daemon
        .download(&format!("{}{picture_url}", daemon.base))
        .await;
    assert_eq!(picture.status(), StatusCode::OK);
    assert_eq!(picture.headers()["content-type"], "image/png");
    assert_eq!(picture.headers()["x-content-type-options"], "nosniff");
    let first = picture.bytes().await.unwrap();
    assert!(first.starts_with(b"\x89PNG\r\n\x1a\n"), "a PNG");
    let again = daemon
        .download(&format!("{}{picture_url}", daemon.base))
        .await;
    assert_eq!(again.bytes().await.unwrap(), first);
    // `<img src>` sends no header: a read token in the query does.
    let token = daemon.read_token_for("viewer", &["phone"]).await;
    let linked = daemon
        .http
        .get(format!("{}{picture_url}?access_token={token}", daemon.base))
        .send()
        .await
        .unwrap();
    assert_eq!(linked.status(), StatusCode::OK);

    // Bob shows WhatsApp's default about and, looked up, no picture.
    let (_, bob) = daemon.get(&contact_path(BOB)).await;
    assert_eq!(
        (&bob["about"], &bob["pictureUrl"], &bob["phone"]),
        (
            &json!("Hey there! I am using WhatsApp."),
            &Value::Null,
            &json!("15550000003")
        )
    );
    let (status, none) = daemon.get(&format!("{}/picture", contact_path(BOB))).await;
    assert_eq!(
        (status, &none["error"]["code"]),
        (StatusCode::NOT_FOUND, &json!("media_not_found"))
    );

    // The list carries the same fields.
    let (_, contacts) = daemon.get("/api/v1/devices/phone/contacts").await;
    let listed: Vec<(&Value, &Value, &Value)> = contacts["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (&c["id"], &c["about"], &c["pictureUrl"]))
        .collect();
    assert_eq!(
        listed,
        [
            (&json!(ALICE), &json!("Out hiking"), &json!(picture_url)),
            (
                &json!(BOB),
                &json!("Hey there! I am using WhatsApp."),
                &Value::Null
            )
        ]
    );

    // Someone neither the device nor its phone knows is nobody, with a clear code.
    for path in [
        contact_path("15559990001@c.us"),
        format!("{}/picture", contact_path("15559990001@c.us")),
    ] {
        let (status, nobody) = daemon.get(&path).await;
        assert_eq!(
            (status, &nobody["error"]["code"]),
            (StatusCode::NOT_FOUND, &json!("contact_not_found")),
            "{path}"
        );
    }
    daemon.stop().await;
}

#[tokio::test]
async fn a_blocked_contact_is_stored_and_journaled_and_nothing_of_theirs_arrives() {
    let (daemon, mut client) = ready().await;
    let block = |action: &str| format!("{}/{action}", contact_path(ALICE));

    let (status, blocked) = daemon.post(&block("block"), json!({})).await;
    assert_eq!(
        (status, &blocked["blocked"]),
        (StatusCode::OK, &json!(true)),
        "{blocked}"
    );
    let event = client
        .wait_until(WAIT, |e| {
            e.name == "contact:update" && e.data["blocked"] == true
        })
        .await
        .unwrap();
    assert_eq!(event.data["id"], ALICE);
    // Blocking her again changes nothing and journals nothing.
    let (status, _) = daemon.post(&block("block"), json!({})).await;
    assert_eq!(status, StatusCode::OK);
    let journaled = daemon.journaled("phone", "contact:update").await;
    let blocks = journaled
        .iter()
        .filter(|e| e["data"]["id"] == ALICE && e["data"]["blocked"] == true)
        .count();
    assert_eq!(blocks, 1, "{journaled:?}");

    // What she writes never arrives; what Bob writes after it does.
    writes(&daemon, ALICE, "from behind the block").await;
    writes(&daemon, BOB, "after Alice").await;
    client
        .wait_until(WAIT, |e| {
            e.name == "message" && e.data["body"] == "after Alice"
        })
        .await
        .unwrap();
    assert_unseen(&daemon, &client, "phone", "from behind the block").await;
    // In the group she is heard, as blocked members are on WhatsApp.
    writes_in(
        &daemon,
        ALICE,
        Some("12036315550000001@g.us"),
        "in the group",
    )
    .await;
    client
        .wait_until(WAIT, |e| {
            e.name == "message" && e.data["body"] == "in the group"
        })
        .await
        .unwrap();

    // What is sent to her gets the server's tick alone: by the time Bob, written to after
    // her, has read and answered, her message was never delivered, and she never answered.
    let to_alice = daemon
        .send_message("phone", ALICE, json!({ "text": "are you there?" }))
        .await;
    wait_message_ack(&mut client, &to_alice["id"], "server").await;
    daemon
        .send_message("phone", BOB, json!({ "text": "and you?" }))
        .await;
    client
        .wait_until(WAIT, |e| {
            e.name == "message" && e.data["chatId"] == BOB && e.data["fromMe"] == false
        })
        .await
        .unwrap();
    let (_, message) = daemon
        .get(&format!(
            "/api/v1/devices/phone/messages/{}",
            to_alice["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(message["ackName"], "server", "{message}");
    let answered = client
        .history()
        .iter()
        .any(|e| e.name == "message" && e.data["chatId"] == ALICE && e.data["fromMe"] == false);
    assert!(!answered, "a blocked contact answered");

    // Unblocked, she is heard again.
    let (status, unblocked) = daemon.post(&block("unblock"), json!({})).await;
    assert_eq!(
        (status, &unblocked["blocked"]),
        (StatusCode::OK, &json!(false))
    );
    writes(&daemon, ALICE, "back again").await;
    client
        .wait_until(WAIT, |e| {
            e.name == "message" && e.data["body"] == "back again"
        })
        .await
        .unwrap();

    // Blocking is `send`'s, and only for contacts the device has.
    let reader = daemon.key_for(&["phone"], &["read"]).await;
    let (status, _) = daemon
        .call_as(&reader, reqwest::Method::POST, &block("block"), None)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, nobody) = daemon
        .post(
            &format!("{}/block", contact_path("15559990001@c.us")),
            json!({}),
        )
        .await;
    assert_eq!(
        (status, &nobody["error"]["code"]),
        (StatusCode::NOT_FOUND, &json!("contact_not_found"))
    );
    daemon.stop().await;
}

#[tokio::test]
async fn numbers_are_checked_with_the_simulated_network() {
    let (daemon, _client) = ready().await;
    let check = |phone: &str| format!("/api/v1/devices/phone/numbers/{phone}");

    let (status, alice) = daemon.get(&check("+1 555 000 0002")).await;
    assert_eq!(status, StatusCode::OK, "{alice}");
    assert_eq!(
        alice,
        json!({ "phone": "15550000002", "exists": true, "chatId": ALICE })
    );
    let (_, stranger) = daemon.get(&check("15551234567")).await;
    assert_eq!(stranger["exists"], true);
    // Numbers ending in 0000 have no account on the simulated network.
    let (_, none) = daemon.get(&check("+1 (555) 123-0000")).await;
    assert_eq!(
        none,
        json!({ "phone": "15551230000", "exists": false, "chatId": null })
    );
    for invalid in ["555", "1234567890123456", "+1 555 abc 0000"] {
        let (status, refused) = daemon.get(&check(invalid)).await;
        assert_eq!(
            (status, &refused["error"]["code"]),
            (StatusCode::BAD_REQUEST, &json!("bad_request")),
            "{invalid}"
        );
    }
    daemon.create_device("fresh").await;
    let (status, refused) = daemon
        .get("/api/v1/devices/fresh/numbers/15551234567")
        .await;
    assert_eq!(
        (status, &refused["error"]["code"]),
        (StatusCode::SERVICE_UNAVAILABLE, &json!("device_not_ready"))
    );
    daemon.stop().await;
}

/// A WAHA device's contacts with pictures of a megabyte each, looked up one after the other:
/// far more bytes pass through the daemon than `limits.picture_cache_bytes` lets it keep. The
/// pictures kept stay within the budget, the oldest going first (and fetched again when asked
/// for), and the daemon's memory does not grow with what passed through.
#[tokio::test]
async fn pictures_past_their_budget_are_let_go_and_memory_stays_bounded() {
    const BUDGET: u64 = 8 * MIB;
    const CONTACTS: usize = 96;
    let contact = |n: usize| format!("1555100{n:04}@c.us");
    let mut stub = WahaStub::start("unused").await;
    stub.with(|waha| {
        waha.status_after_start = "WORKING".into();
        for n in 0..CONTACTS {
            let picture = vec![n as u8; MIB as usize];
            waha.contacts.insert(
                contact(n),
                WahaContact {
                    contact: json!({ "id": contact(n), "name": format!("Contact {n}") }),
                    about: None,
                    picture: Some(("image/jpeg".into(), picture)),
                },
            );
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let env = [(
        "DEVICEBRIDGE__LIMITS__PICTURE_CACHE_BYTES",
        BUDGET.to_string(),
    )];
    let (daemon, api) = Daemon::spawn_with_admin_key(dir.path(), &env).await;
    let (status, created) = api
        .post(
            "/api/v1/devices",
            json!({ "id": "wa", "name": "Waha phone", "connector": "waha", "waha": {
                "base_url": stub.base(), "api_key": API_KEY, "session": "default",
                "webhook_secret": "waha-hmac-secret" } }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let mut watcher = api.socket("wa", json!({ "lastSeq": 0 })).await;
    wait_state(&mut watcher, "ready").await;
    let baseline = daemon.rss_bytes();

    for n in 0..CONTACTS {
        let (status, looked_up) = api
            .get(&format!("/api/v1/devices/wa/contacts/{}", contact(n)))
            .await;
        assert_eq!(status, StatusCode::OK, "{looked_up}");
        let url = looked_up["pictureUrl"].as_str().expect("a picture");
        let picture = api.download(&format!("{}{url}", api.base)).await;
        assert_eq!(picture.status(), StatusCode::OK);
        assert_eq!(picture.bytes().await.unwrap().len() as u64, MIB);
    }
    let grown = daemon.rss_bytes().saturating_sub(baseline);
    eprintln!(
        "{CONTACTS} MiB of pictures through a budget of {} MiB: +{} KiB",
        BUDGET / MIB,
        grown / 1024
    );
    assert!(grown < 48 * MIB, "the daemon grew by {} MiB", grown / MIB);

    // What is kept fits the budget, the newest pictures first.
    let db = rusqlite::Connection::open(dir.path().join("data/devicebridge.db")).unwrap();
    db.busy_timeout(std::time::Duration::from_secs(10)).unwrap();
    let (kept, bytes): (i64, i64) = db
        .query_row(
            "SELECT COUNT(*), COALESCE(SUM(size), 0) FROM contact_pictures WHERE size > 0",
            [],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .unwrap();
    assert!(bytes as u64 <= BUDGET, "{bytes} bytes kept");
    assert_eq!(kept as u64, BUDGET / MIB, "as many as fit");
    let newest: Option<String> = db
        .query_row(
            "SELECT contact_id FROM contact_pictures WHERE contact_id = ?1",
            [contact(CONTACTS - 1)],
            |row| row.get(0),
        )
        .ok();
    assert_eq!(newest, Some(contact(CONTACTS - 1)));
    drop(db);
    // The first picture was let go: asked for again, it is fetched again.
    stub.requests.drain();
    let first = api
        .download(&format!(
            "{}/api/v1/devices/wa/contacts/{}/picture",
            api.base,
            contact(0)
        ))
        .await;
    assert_eq!(
        first.bytes().await.unwrap().as_ref(),
        &vec![0u8; MIB as usize][..]
    );
    stub.requests
        .wait_line(WAIT, "GET /api/contacts/profile-picture")
        .await;
    watcher.close().await;
}
