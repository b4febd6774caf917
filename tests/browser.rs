//! The dashboard in a real browser: Debian's Chromium driven by playwright-core
//! (`tests/e2e/browser/`), against the real daemon with simulator devices. `.ci/run` installs
//! Chromium from Debian; the scenario fails, never skips, without it. Each scenario audits its
//! views with axe-core, in the light and the dark scheme, and fails on a `serious` or `critical`
//! finding. Screenshots of the main views are written to `target/screenshots/`.

mod common;

use std::time::Duration;

use common::node::run_scenario_within;
use common::TestDaemon;
use serde_json::json;

const ALICE: &str = "15550000002@c.us";
const BOB: &str = "15550000003@c.us";
/// Bob's linked id, which the simulated upstream tells only on cue (`reveal_lid`).
const BOB_LID: &str = "207700000003@lid";

/// Runs `tests/e2e/browser/<scenario>` against a daemon with a linked simulator device `phone`
/// whose contacts Alice and Bob read and answer quickly, typing long enough to be seen.
async fn run_browser_scenario(scenario: &str, daemon: TestDaemon) {
    let contact = |id: &str, name: &str| json!({ "id": id, "name": name, "behaviour": "echo" });
    let mut bob = contact(BOB, "Bob");
    bob["lid"] = json!(BOB_LID);
    daemon
        .ready_device(
            "phone",
            json!({
                "phone": "15550000001",
                "server_ack_ms": 20, "delivered_ms": 60, "read_ms": 300, "typing_ms": 1500,
                "contacts": [contact(ALICE, "Alice"), bob],
            }),
        )
        .await;
    let shots = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    run_scenario_within(
        &daemon,
        &format!("browser/{scenario}"),
        &[
            ("E2E_DEVICE", "phone"),
            ("E2E_ALICE", ALICE),
            ("E2E_BOB", BOB),
            ("E2E_BOB_LID", BOB_LID),
            ("E2E_SCREENSHOTS", shots.to_str().unwrap()),
        ],
        Duration::from_secs(180),
    )
    .await;
    daemon.stop().await;
}

#[tokio::test]
async fn the_dashboard_signs_in_links_and_chats_in_a_real_browser() {
    run_browser_scenario("dashboard.js", TestDaemon::start().await).await;
}

/// A device linked from its QR code's link on a phone without JavaScript, logged out after a
/// confirmation, shown a new code and none of its chats, and linked again by phone number.
#[tokio::test]
async fn a_device_links_from_its_pairing_page_and_logs_out_in_a_real_browser() {
    run_browser_scenario("linking.js", TestDaemon::start().await).await;
}

/// Replies, reactions, revoking, a picture sent and shown, notifications from one tab only.
#[tokio::test]
async fn chat_actions_files_and_notifications_work_in_a_real_browser() {
    run_browser_scenario("chat.js", TestDaemon::start().await).await;
}

/// The API reference at `/docs`, without signing in: every operation, a search, and a request
/// tried with a key typed into it.
#[tokio::test]
async fn the_api_reference_renders_and_tries_a_request_in_a_real_browser() {
    run_browser_scenario("docs.js", TestDaemon::start().await).await;
}

/// The event monitor (history then live, filter, pause) and the admin pages (a key made, used
/// and revoked; a webhook and its delivery log).
#[tokio::test]
async fn the_operator_tools_work_in_a_real_browser() {
    // The scenario's webhook posts to a local address, refused by default.
    let daemon = TestDaemon::start_with(|settings, _| settings.webhooks.allow_private = true).await;
    run_browser_scenario("operator.js", daemon).await;
}

/// Every kind of message: a voice note recorded in the browser, a place and a poll sent from
/// the composer, votes from both sides counted live, an edit, a forward, and a place and a
/// contact card received; a chat of a linked id merged into its number's.
#[tokio::test]
async fn every_kind_of_message_is_sent_and_shown_in_a_real_browser() {
    run_browser_scenario("kinds.js", TestDaemon::start().await).await;
}

/// A group's information panel: participants with their roles, added, promoted, removed, the
/// group renamed, its invite link copied and reset, and the group left, each change shown as
/// its system line.
#[tokio::test]
async fn a_group_is_run_from_its_information_panel_in_a_real_browser() {
    run_browser_scenario("groups.js", TestDaemon::start().await).await;
}

/// A direct chat's contact panel (picture, number, about, blocking) and a new chat started
/// with a number checked first.
#[tokio::test]
async fn contacts_and_number_checks_work_in_a_real_browser() {
    run_browser_scenario("contacts.js", TestDaemon::start().await).await;
}
