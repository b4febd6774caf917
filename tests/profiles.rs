//! Protocol profiles against the real daemon: the listing, how a connection picks its profile
//! (socket path, token, `auth.profile`), and a token's REST bodies in the profile's names. The
//! seed conventions' own clients are driven end to end by `tests/seed_clients.rs`.

mod common;

use common::sio::SioClient;
use common::{TestDaemon, WAIT};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

const ALICE: &str = "15550000002@c.us";

fn echo_phone() -> Value {
    json!({
        "server_ack_ms": 10, "delivered_ms": 30, "read_ms": 100, "typing_ms": 50,
        "contacts": [{ "id": ALICE, "name": "Alice", "behaviour": "echo" }],
    })
}

async fn token(daemon: &TestDaemon, profile: &str) -> (StatusCode, Value) {
    daemon
        .post(
            "/api/v1/tokens",
            json!({ "sub": "app", "devices": ["phone"], "scopes": ["read", "send"],
                    "ttlSecs": 600, "profile": profile }),
        )
        .await
}

#[tokio::test]
async fn shipped_and_users_profiles_are_listed_with_their_names() {
    let daemon = TestDaemon::start_with(|settings, dir| {
        let profiles = dir.join("profiles");
        std::fs::create_dir_all(&profiles).unwrap();
        std::fs::write(
            profiles.join("house-style.toml"),
            "description = \"ours\"\n[emits.message]\nevent = \"chat:message\"\n",
        )
        .unwrap();
        settings.profiles.dir = profiles;
    })
    .await;
    let (status, listed) = daemon.get("/api/v1/profiles").await;
    assert_eq!(status, StatusCode::OK, "{listed}");
    let names: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    for shipped in [
        "chat-gateway",
        "conversation-rooms",
        "direct-chat",
        "message-status",
        "snake-case-chat",
    ] {
        assert!(names.contains(&shipped), "{names:?}");
    }
    let ours = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "house-style")
        .expect("the user's profile");
    assert_eq!(ours["source"], "user");
    assert_eq!(ours["emits"]["message"], "chat:message");
    let gateway = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "chat-gateway")
        .unwrap();
    assert_eq!(gateway["source"], "shipped");
    assert_eq!(gateway["events"]["conversation:join"], "chat:join");
    assert_eq!(
        gateway["emits"]["message"],
        "message:new|message:notification"
    );
    daemon.stop().await;
}

#[tokio::test]
async fn a_daemon_with_a_path_for_an_unknown_profile_does_not_start() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = common::test_settings(dir.path());
    settings.server.profiles = [("/api/socket".to_owned(), "nope".to_owned())].into();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let outcome = tokio::time::timeout(
        WAIT,
        devicebridge::run(
            settings,
            listener,
            std::future::pending(),
            Default::default(),
        ),
    )
    .await
    .expect("it stops at once");
    let error = outcome.expect_err("refused").to_string();
    assert!(
        error.contains("nope") && error.contains("/api/socket"),
        "{error}"
    );
}

#[tokio::test]
async fn a_socket_path_picks_its_profile_and_auth_may_pick_another() {
    let daemon = TestDaemon::start_with(|settings, _| {
        settings.server.profiles =
            [("/api/socket".to_owned(), "snake-case-chat".to_owned())].into();
    })
    .await;
    daemon.ready_device("phone", echo_phone()).await;
    let connect = |auth: Value| {
        let (base, key) = (daemon.base.clone(), daemon.key.clone());
        async move {
            let mut with_key = json!({ "apiKey": key });
            with_key
                .as_object_mut()
                .unwrap()
                .extend(auth.as_object().unwrap().clone());
            SioClient::connect(&base, "/api/socket", "/device/phone", &[], &[], with_key)
                .await
                .unwrap()
        }
    };
    let mut snake = connect(json!({ "userId": "u1" })).await.unwrap_connected();
    let sent = snake
        .emit_with_ack(
            "send_message",
            json!({ "conversationId": ALICE, "senderId": "u1", "receiverId": ALICE,
                    "content": "Hello!", "messageType": "TEXT" }),
            WAIT,
        )
        .await
        .unwrap();
    assert_eq!(sent["ok"], true, "{sent}");
    assert_eq!(sent["data"]["content"], "Hello!");
    assert_eq!(sent["data"]["conversationId"], ALICE);
    let echoed = snake
        .wait_until(WAIT, |event| {
            event.name == "new_message" && event.data["senderId"] == ALICE
        })
        .await
        .unwrap();
    assert_eq!(echoed.data["messageType"], "TEXT");
    assert!(
        !snake.history().iter().any(|event| event.name == "message"),
        "native names are not sent where the profile renames them"
    );
    let unknown = snake
        .emit_with_ack("user_online", json!({ "userId": "u1" }), WAIT)
        .await
        .unwrap();
    assert_eq!(unknown["error"]["code"], "bad_request", "{unknown}");
    assert!(unknown["error"]["message"]
        .as_str()
        .unwrap()
        .contains("snake-case-chat"));

    let native = connect(json!({ "profile": "native" }))
        .await
        .unwrap_connected();
    drop(native);
    let refused = connect(json!({ "profile": "nope" }))
        .await
        .unwrap_rejected();
    assert!(refused.starts_with("unknown_profile"), "{refused}");
    daemon.stop().await;
}

#[tokio::test]
async fn a_token_with_a_profile_speaks_it_over_rest_too() {
    let daemon = TestDaemon::start().await;
    daemon.ready_device("phone", echo_phone()).await;
    let (status, refused) = token(&daemon, "nope").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{refused}");
    let (status, issued) = token(&daemon, "snake-case-chat").await;
    assert_eq!(status, StatusCode::CREATED, "{issued}");
    let bearer = format!("Bearer {}", issued["token"].as_str().unwrap());
    let chat = format!("/api/v1/devices/phone/chats/{}", ALICE.replace('@', "%40"));
    let rest = |method: Method, path: String, body: Option<Value>| {
        let (http, base, bearer) = (reqwest::Client::new(), daemon.base.clone(), bearer.clone());
        async move {
            let mut request = http
                .request(method, format!("{base}{path}"))
                .header("authorization", bearer);
            if let Some(body) = body {
                request = request.json(&body);
            }
            let response = request.send().await.unwrap();
            (response.status(), response.json::<Value>().await.unwrap())
        }
    };
    let (status, sent) = rest(
        Method::POST,
        format!("{chat}/messages"),
        Some(json!({ "content": "over REST", "messageType": "TEXT" })),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{sent}");
    assert_eq!(sent["content"], "over REST");
    assert_eq!(sent["conversationId"], ALICE);
    assert!(sent.get("body").is_none(), "{sent}");
    // The echo's reply leaves the chat unread; listing it with the profile's token reads it.
    daemon
        .wait_until("the echo's reply", || async {
            let (_, chat) = daemon.get(&chat).await;
            (chat["unreadCount"].as_u64() > Some(0)).then_some(())
        })
        .await;
    let (status, page) = rest(Method::GET, format!("{chat}/messages"), None).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page["items"]
        .as_array()
        .unwrap()
        .iter()
        .any(|m| m["content"] == "over REST" && m["messageType"] == "TEXT"));
    let (_, after) = daemon.get(&chat).await;
    assert_eq!(after["unreadCount"], 0, "{after}");
    // An API key has no profile: the same listing stays native and marks nothing.
    let (_, native) = daemon.get(&format!("{chat}/messages")).await;
    assert!(native["items"][0].get("body").is_some(), "{native}");
    daemon.stop().await;
}
