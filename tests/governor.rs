//! The send governor through the daemon (SPEC §12), on simulator devices that turn it on: paced
//! messages wait in order and say when they go, the daily cap on chats that never wrote warns
//! and holds and keeps its count over a restart, an admin changes the limits at run time, and
//! number checks are paced. The pace over minutes, with its clock advanced instead of waited
//! for, is tested beside the governor (`src/device/governor/tests.rs`).

mod common;

use chrono::{DateTime, Utc};
use common::sio::SioClient;
use common::{wait_relayed, TestDaemon, WAIT};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

/// `devices/phone.toml`: a simulated phone with `contacts` silent contacts (who never write
/// unless a test makes them), governed by `governor` (a TOML table's lines).
fn device_file(contacts: usize, governor: &str) -> String {
    let mut file = String::from(
        "name = \"Governed phone\"\nconnector = \"simulator\"\n\n\
         [simulator]\nphone = \"15550000001\"\nserver_ack_ms = 5\ndelivered_ms = 10\nread_ms = 20\n",
    );
    for n in 0..contacts {
        file.push_str(&format!(
            "\n[[simulator.contacts]]\nid = \"{}\"\nname = \"Contact {n}\"\nbehaviour = \"silent\"\n",
            contact(n)
        ));
    }
    file.push_str(&format!(
        "\n[governor]\nenabled = true\nwarmup_days = 0\n{governor}\n"
    ));
    file
}

fn contact(n: usize) -> String {
    format!("155500001{n:02}@c.us")
}

/// A daemon with the device `phone` linked and ready, and a client that sees its journal.
async fn ready(file: &str) -> (TestDaemon, SioClient) {
    let (daemon, mut client) = TestDaemon::start_with_device("phone", file, |_| {}).await;
    common::wait_state(&mut client, "qr").await;
    daemon.link("phone").await;
    common::wait_state(&mut client, "ready").await;
    (daemon, client)
}

/// What the simulated phone received, as the texts of its inbox in order.
async fn inbox(daemon: &TestDaemon) -> Vec<String> {
    let (status, inbox) = daemon.get("/api/v1/devices/phone/simulator/inbox").await;
    assert_eq!(status, StatusCode::OK, "{inbox}");
    inbox["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["body"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// The `message:status queued` that tells why message `id` waits: one received already, or
/// the next.
async fn held(client: &mut SioClient, id: &Value) -> Value {
    let told = |e: &common::sio::SioEvent| {
        e.name == "message:status" && e.data["messageId"] == *id && e.data["status"] == "queued"
    };
    if let Some(event) = client.history().iter().find(|e| told(e)) {
        return event.data.clone();
    }
    client.wait_until(WAIT, told).await.unwrap().data
}

fn time(value: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(value.as_str().expect("a time"))
        .unwrap()
        .into()
}

async fn governor(daemon: &TestDaemon) -> Value {
    let (status, device) = daemon.get("/api/v1/devices/phone").await;
    assert_eq!(status, StatusCode::OK, "{device}");
    device["governor"].clone()
}

#[tokio::test]
async fn messages_over_the_pace_wait_in_order_and_say_when_they_go() {
    let (daemon, mut client) =
        ready(&device_file(1, "per_minute = 240\nburst = 2\njitter = 0")).await;
    let chat = contact(0);
    let mut sent = Vec::new();
    for n in 0..6 {
        let message = daemon
            .send_message("phone", &chat, json!({ "text": format!("paced {n}") }))
            .await;
        sent.push(message);
    }
    // Two go at once; the other four wait a quarter of a second apart, and say so.
    let mut send_ats = Vec::new();
    for message in &sent[2..] {
        let status = held(&mut client, &message["id"]).await;
        assert_eq!(status["reason"], "paced", "{status}");
        send_ats.push(time(&status["sendAt"]));
    }
    assert!(
        send_ats.windows(2).all(|pair| pair[1] > pair[0]),
        "each waits after the one before: {send_ats:?}"
    );
    for message in &sent {
        wait_relayed(&mut client, &message["id"]).await;
    }
    let expected: Vec<String> = (0..6).map(|n| format!("paced {n}")).collect();
    assert_eq!(inbox(&daemon).await, expected, "in order, each once");
    let paced_statuses = client
        .history()
        .iter()
        .filter(|e| e.name == "message:status" && e.data["reason"] == "paced")
        .count();
    assert_eq!(paced_statuses, 4, "each held message is told once");

    let governor = governor(&daemon).await;
    assert_eq!(governor["limits"]["perMinute"], 240);
    assert_eq!(governor["limits"]["burst"], 2);
    assert_eq!(governor["sentLastMinute"], 6);
    daemon.stop().await;
}

#[tokio::test]
async fn the_daily_cap_on_new_chats_warns_holds_and_keeps_its_count_over_a_restart() {
    let file = device_file(8, "per_minute = 6000\nburst = 100\nnew_chats_per_day = 5");
    let (daemon, mut client) = ready(&file).await;
    let mut sent = Vec::new();
    for n in 0..7 {
        let message = daemon
            .send_message(
                "phone",
                &contact(n),
                json!({ "text": format!("hello {n}") }),
            )
            .await;
        sent.push(message);
    }
    for message in &sent[..5] {
        wait_relayed(&mut client, &message["id"]).await;
    }
    let midnight = {
        let today = Utc::now().date_naive();
        today
            .succ_opt()
            .unwrap()
            .and_hms_opt(0, 0, 0)
            .unwrap()
            .and_utc()
    };
    for message in &sent[5..] {
        let status = held(&mut client, &message["id"]).await;
        assert_eq!(status["reason"], "paced");
        assert_eq!(time(&status["sendAt"]), midnight, "held to the next day");
    }
    let warnings: Vec<(Value, Value)> = client
        .history()
        .iter()
        .filter(|e| e.name == "limit:warning")
        .map(|e| (e.data["used"].clone(), e.data["active"].clone()))
        .collect();
    assert_eq!(
        warnings,
        [(json!(4), json!(false)), (json!(5), json!(true))]
    );
    let warning = client
        .history()
        .iter()
        .find(|e| e.name == "limit:warning")
        .unwrap();
    assert_eq!(warning.data["kind"], "new_chats_per_day");
    assert_eq!(warning.data["limit"], 5);

    // Someone who wrote to the account is no new chat: theirs goes while the cap holds.
    let (status, wrote) = daemon
        .post(
            "/api/v1/devices/phone/simulator/act",
            json!({ "do": "message", "from": contact(7), "text": "hi there" }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{wrote}");
    client
        .wait_until(WAIT, |e| {
            e.name == "message" && e.data["body"] == "hi there"
        })
        .await
        .unwrap();
    let answer = daemon
        .send_message("phone", &contact(7), json!({ "text": "hi back" }))
        .await;
    wait_relayed(&mut client, &answer["id"]).await;

    // The count is kept: after a restart the cap still holds.
    let daemon = daemon.restart().await;
    let mut client = daemon.socket("phone", json!({})).await;
    common::wait_state(&mut client, "ready").await;
    assert_eq!(governor(&daemon).await["newChatsToday"], 5);
    assert_eq!(
        inbox(&daemon).await,
        ["hello 0", "hello 1", "hello 2", "hello 3", "hello 4", "hi back"]
    );

    // An admin lifts the cap at run time: the held messages go, in order.
    let (status, changed) = daemon
        .call(
            Method::PATCH,
            "/api/v1/devices/phone",
            Some(json!({ "governor": { "new_chats_per_day": 10 } })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    assert_eq!(changed["governor"]["limits"]["newChatsPerDay"], 10);
    for message in &sent[5..] {
        wait_relayed(&mut client, &message["id"]).await;
    }
    assert_eq!(
        inbox(&daemon).await[6..],
        ["hello 5".to_owned(), "hello 6".to_owned()]
    );
    daemon.stop().await;
}

#[tokio::test]
async fn only_an_admin_changes_the_limits_and_bad_ones_are_refused() {
    let (daemon, _client) = ready(&device_file(1, "")).await;
    let control = daemon
        .key_for(&["phone"], &["read", "send", "control"])
        .await;
    let body = json!({ "governor": { "per_minute": 10 } });
    let (status, refused) = daemon
        .call_as(
            &control,
            Method::PATCH,
            "/api/v1/devices/phone",
            Some(body.clone()),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{refused}");
    assert!(refused["error"]["message"]
        .as_str()
        .unwrap()
        .contains("admin"));

    for (bad, key) in [
        (json!({ "per_minute": 0 }), "governor.per_minute"),
        (json!({ "jitter": 2.0 }), "governor.jitter"),
    ] {
        let (status, refused) = daemon
            .call(
                Method::PATCH,
                "/api/v1/devices/phone",
                Some(json!({ "governor": bad })),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{refused}");
        assert!(
            refused["error"]["message"].as_str().unwrap().contains(key),
            "{refused}"
        );
    }
    let (status, unknown) = daemon
        .call(
            Method::PATCH,
            "/api/v1/devices/phone",
            Some(json!({ "governor": { "per_hour": 3 } })),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{unknown}");

    // A device declared in a file takes an admin's governor, though not other changes.
    let (status, changed) = daemon
        .call(Method::PATCH, "/api/v1/devices/phone", Some(body))
        .await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    assert_eq!(changed["governor"]["limits"]["perMinute"], 10);
    let (status, _) = daemon
        .call(
            Method::PATCH,
            "/api/v1/devices/phone",
            Some(json!({ "name": "Renamed" })),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    daemon.stop().await;
}

#[tokio::test]
async fn number_checks_over_the_pace_are_refused_with_when_to_try_again() {
    let (daemon, _client) = ready(&device_file(1, "number_checks_per_minute = 2")).await;
    for _ in 0..2 {
        let (status, checked) = daemon
            .get(&format!("/api/v1/devices/phone/numbers/{}", "15550000100"))
            .await;
        assert_eq!(status, StatusCode::OK, "{checked}");
    }
    let (status, refused) = daemon
        .get("/api/v1/devices/phone/numbers/15550000100")
        .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{refused}");
    assert_eq!(refused["error"]["code"], "rate_limited");
    let message = refused["error"]["message"].as_str().unwrap();
    assert!(message.contains("try again in"), "{message}");
    daemon.stop().await;
}

/// A device file's limits over the daemon's, and the simulator's default (off) under both.
#[tokio::test]
async fn limits_come_from_the_spec_then_the_daemon_then_the_device_file() {
    let (daemon, _client) =
        TestDaemon::start_with_device("phone", &device_file(1, "burst = 3"), |settings| {
            settings.governor.per_minute = Some(42)
        })
        .await;
    let governor = governor(&daemon).await;
    assert_eq!(governor["limits"]["perMinute"], 42, "the daemon's");
    assert_eq!(governor["limits"]["burst"], 3, "the file's");
    assert_eq!(governor["limits"]["newChatsPerDay"], 50, "SPEC's");
    assert_eq!(governor["limits"]["enabled"], true);
    let (_, list) = daemon.get("/api/v1/devices").await;
    assert!(
        list["items"][0].get("governor").is_none(),
        "lists leave it out"
    );
    daemon.stop().await;
}
