//! The daemon on PostgreSQL as an operator meets it. Daemons that share a database agree on
//! what a credential is: an access token issued by one is accepted by another started on
//! another data directory, as are the API keys created through either. A database server that goes down is an outage like a full disk:
//! writes are answered `503 storage_unavailable`, `/ready` fails, and once the server is back
//! the daemon writes again by itself.

mod common;

use common::TestDaemon;
use reqwest::StatusCode;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_and_a_key_from_one_daemon_work_on_another_of_the_same_database() {
    let database = common::postgres::database();
    let on_database = |database: String| {
        move |settings: &mut devicebridge::config::Settings, _: &std::path::Path| {
            settings.storage.url = database;
        }
    };
    let first = TestDaemon::start_with(on_database(database.clone())).await;
    let token = first.read_token_for("dashboard", &["*"]).await;
    let key = first.key_for(&["*"], &["read"]).await;
    let admin = first.key.clone();

    // Another daemon, on a data directory of its own.
    let second = TestDaemon::start_with(on_database(database)).await;
    for (what, header, value) in [
        ("the token", "authorization", format!("Bearer {token}")),
        ("the key", "x-api-key", key),
        ("the first daemon's admin key", "x-api-key", admin),
    ] {
        let answer = second
            .http
            .get(format!("{}/api/v1/devices", second.base))
            .header(header, value)
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), StatusCode::OK, "{what}");
    }
    second.stop().await;
    first.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn while_the_database_server_is_down_writes_wait_for_it_and_the_daemon_recovers_alone() {
    let server = common::postgres::own_server();
    let database = server.create_database();
    let daemon = TestDaemon::start_with(move |settings, _| settings.storage.url = database).await;
    daemon.create_device("before").await;

    // Each `/ready` commits a write: it fails at once while the server is down.
    server.stop();
    let (status, ready) = daemon.get("/ready").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{ready}");
    assert_ne!(ready["checks"]["storage"], "ok", "{ready}");
    let (status, refused) = daemon
        .post(
            "/api/v1/devices",
            serde_json::json!({ "id": "during", "name": "During" }),
        )
        .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{refused}");
    assert_eq!(refused["error"]["code"], "storage_unavailable", "{refused}");

    // The writer connects again for the first write after the server is back.
    server.run();
    let (status, ready) = daemon.get("/ready").await;
    assert_eq!(status, StatusCode::OK, "{ready}");
    daemon.create_device("after").await;
    let (status, devices) = daemon.get("/api/v1/devices").await;
    assert_eq!(status, StatusCode::OK, "{devices}");
    assert_eq!(common::ids(&devices), ["after", "before"]);
}
