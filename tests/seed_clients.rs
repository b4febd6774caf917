//! The chat clients of the documents devicebridge grew out of, each unchanged but for its URL
//! and credentials, against the daemon through its protocol profile (`tests/e2e/seeds/`, run
//! with the official Node `socket.io-client`): the fan platform's hook (`direct-chat`), the
//! dashboard with conversations and notifications (`conversation-rooms`), the `/chat` gateway's
//! component whose replies are events (`chat-gateway`), and the Next.js chat on `/api/socket`
//! with snake_case events (`snake-case-chat`), and the WhatsApp Web clone written for the native
//! protocol that shows a message's progress from its statuses (`message-status`).
//!
//! Each scenario connects as its document does and is refused as it should be, sends and
//! receives through an echoing contact, sees receipts, typing and presence both ways, uses
//! rooms and notifications where its document has them, and resumes a dropped connection with
//! `auth.lastSeq`.

mod common;

use common::node::run_scenario;
use common::{wait_state, TestDaemon};
use devicebridge::config::Settings;

/// The phone the clients talk to.
const DEVICE: &str = "seeds";
/// A device their tokens for somewhere else are for.
const OTHER_DEVICE: &str = "elsewhere";

/// A simulated phone with short timings: Alice reads what she gets after 200 ms, comes online,
/// types for 50 ms and quotes it back; Bob never reads or answers.
const PHONE: &str = r#"
name = "Seed phone"
connector = "simulator"
autostart = true

[simulator]
phone = "15550000001"
server_ack_ms = 10
delivered_ms = 30
read_ms = 200
typing_ms = 50

[[simulator.contacts]]
id = "15550000002@c.us"
name = "Alice"
behaviour = "echo"

[[simulator.contacts]]
id = "15550000003@c.us"
name = "Bob"
behaviour = "silent"
"#;

/// `server.profiles` as a deployment serving these clients sets it: the Next.js chat keeps its
/// path `/api/socket`, and the default Socket.IO path is served too, speaking whatever profile
/// the client's token names.
fn serve_the_clients_paths(settings: &mut Settings) {
    settings.server.profiles = [
        ("/api/socket".to_owned(), "snake-case-chat".to_owned()),
        ("/socket.io".to_owned(), "native".to_owned()),
    ]
    .into();
}

/// Starts the daemon with the phone linked and `ready`, and the other device created, then runs
/// `tests/e2e/seeds/<script>` against it.
async fn run_seed_client(script: &str) {
    let (daemon, mut watcher) =
        TestDaemon::start_with_device(DEVICE, PHONE, serve_the_clients_paths).await;
    wait_state(&mut watcher, "qr").await;
    daemon.link(DEVICE).await;
    wait_state(&mut watcher, "ready").await;
    watcher.close().await;
    daemon.create_device(OTHER_DEVICE).await;

    run_scenario(
        &daemon,
        &format!("seeds/{script}"),
        &[("E2E_DEVICE", DEVICE), ("E2E_OTHER_DEVICE", OTHER_DEVICE)],
    )
    .await;

    daemon.stop().await;
}

#[tokio::test]
async fn the_fan_platforms_hook_chats_through_the_direct_chat_profile() {
    run_seed_client("000-direct-chat.js").await;
}

#[tokio::test]
async fn the_dashboards_conversations_and_notifications_work_through_the_conversation_rooms_profile(
) {
    run_seed_client("001-conversation-rooms.js").await;
}

#[tokio::test]
async fn the_chat_gateways_component_gets_its_replies_as_events_through_the_chat_gateway_profile() {
    run_seed_client("002-chat-gateway.js").await;
}

#[tokio::test]
async fn the_nextjs_chat_on_api_socket_speaks_snake_case_through_the_snake_case_chat_profile() {
    run_seed_client("003-snake-case-chat.js").await;
}

#[tokio::test]
async fn the_whatsapp_web_clone_shows_its_messages_progress_through_the_message_status_profile() {
    run_seed_client("004-whatsapp-web.js").await;
}
