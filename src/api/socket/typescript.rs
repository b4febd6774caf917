//! The Socket.IO edge's part of the TypeScript clients' types: what a socket is told of its
//! own (`session`, `sync`), the fleet's announcements on the root namespace, and every client
//! event with what it takes and what its acknowledgement holds, so that a typed
//! `socket.io-client` socket checks a dashboard's emits as well as its listeners.

use std::collections::BTreeSet;

use ts_rs::TS;

use super::client_events::{
    ArchiveRequest, ChatRef, ChatUpdateRequest, EditRequest, ForwardRequest, GroupInviteRequest,
    GroupParticipantsRequest, GroupUpdateRequest, MessageRef, MessagesRequest, MuteRequest,
    NoFields, NotificationsRequest, ReactRequest, ReadRequest, VoteRequest,
};
use super::fleet::{DeviceRemoved, DeviceUpdate, Stats};
use super::greeting::Greeting;
use super::replay::Synced;
use super::rooms::Room;
use crate::api::conversations::{
    ChatsQuery, OpenChat, PairingCodeRequest, Presence, PresenceQuery, ReadReceipt,
};
use crate::device::DeviceView;
use crate::messaging::SendRequest;
use crate::model::group::{GroupInfo, Invite, NewGroup, ParticipantOutcome};
use crate::model::pairing::IssuedCode;
use crate::model::typescript::{config, exported, map};
use crate::model::List;
use crate::model::{Chat, Message, Page};

/// The answer of an event that only says it was done.
const DONE: &str = "Done";

/// A client event's entry in a request map: `[what it takes, the `data` of its answer]`.
fn pair(payload: String, answer: String) -> String {
    format!("[{payload}, {answer}]")
}

/// Each client event of a device namespace, as [`pair`]s.
fn device_requests() -> Vec<(&'static str, String)> {
    let done = || DONE.to_owned();
    vec![
        (
            "message:send",
            pair(SendRequest::name(&config()), Message::name(&config())),
        ),
        (
            "message:read",
            pair(ReadRequest::name(&config()), ReadReceipt::name(&config())),
        ),
        ("message:react", pair(ReactRequest::name(&config()), done())),
        ("message:revoke", pair(MessageRef::name(&config()), done())),
        (
            "message:edit",
            pair(EditRequest::name(&config()), Message::name(&config())),
        ),
        (
            "message:forward",
            pair(ForwardRequest::name(&config()), Message::name(&config())),
        ),
        ("poll:vote", pair(VoteRequest::name(&config()), done())),
        ("typing:start", pair(ChatRef::name(&config()), done())),
        ("typing:stop", pair(ChatRef::name(&config()), done())),
        (
            "chat:open",
            pair(OpenChat::name(&config()), Chat::name(&config())),
        ),
        (
            "chat:archive",
            pair(ArchiveRequest::name(&config()), Chat::name(&config())),
        ),
        (
            "chat:update",
            pair(ChatUpdateRequest::name(&config()), Chat::name(&config())),
        ),
        (
            "chat:mute",
            pair(MuteRequest::name(&config()), Chat::name(&config())),
        ),
        (
            "group:create",
            pair(NewGroup::name(&config()), Chat::name(&config())),
        ),
        (
            "group:get",
            pair(ChatRef::name(&config()), GroupInfo::name(&config())),
        ),
        (
            "group:update",
            pair(GroupUpdateRequest::name(&config()), Chat::name(&config())),
        ),
        (
            "group:participants",
            pair(
                GroupParticipantsRequest::name(&config()),
                Vec::<ParticipantOutcome>::name(&config()),
            ),
        ),
        (
            "group:invite",
            pair(GroupInviteRequest::name(&config()), Invite::name(&config())),
        ),
        ("group:leave", pair(ChatRef::name(&config()), done())),
        (
            "chats:list",
            pair(ChatsQuery::name(&config()), Page::<Chat>::name(&config())),
        ),
        (
            "messages:list",
            pair(
                MessagesRequest::name(&config()),
                Page::<Message>::name(&config()),
            ),
        ),
        (
            "chat:join",
            pair(ChatRef::name(&config()), Room::name(&config())),
        ),
        (
            "chat:leave",
            pair(ChatRef::name(&config()), Room::name(&config())),
        ),
        (
            "presence:get",
            pair(
                PresenceQuery::name(&config()),
                Vec::<Presence>::name(&config()),
            ),
        ),
        (
            "notification:read",
            pair(NotificationsRequest::name(&config()), done()),
        ),
        (
            "pairing:code",
            pair(
                PairingCodeRequest::name(&config()),
                IssuedCode::name(&config()),
            ),
        ),
    ]
}

/// Each client event of the root namespace, as [`device_requests`].
fn fleet_requests() -> Vec<(&'static str, String)> {
    vec![
        (
            "devices:list",
            pair(
                NoFields::name(&config()),
                List::<DeviceView>::name(&config()),
            ),
        ),
        (
            "stats",
            pair(NoFields::name(&config()), Stats::name(&config())),
        ),
    ]
}

/// The socket edge's payloads, client events and event maps.
pub(crate) fn declarations() -> String {
    let mut out = exported([
        Greeting::decl(&config()),
        Synced::decl(&config()),
        DeviceUpdate::decl(&config()),
        DeviceRemoved::decl(&config()),
        NoFields::decl(&config()),
        SendRequest::decl(&config()),
        ReadRequest::decl(&config()),
        ReactRequest::decl(&config()),
        MessageRef::decl(&config()),
        EditRequest::decl(&config()),
        ForwardRequest::decl(&config()),
        VoteRequest::decl(&config()),
        ChatRef::decl(&config()),
        ArchiveRequest::decl(&config()),
        MuteRequest::decl(&config()),
        ChatUpdateRequest::decl(&config()),
        GroupUpdateRequest::decl(&config()),
        GroupParticipantsRequest::decl(&config()),
        GroupInviteRequest::decl(&config()),
        ChatsQuery::decl(&config()),
        MessagesRequest::decl(&config()),
        PresenceQuery::decl(&config()),
        NotificationsRequest::decl(&config()),
        PairingCodeRequest::decl(&config()),
        Presence::decl(&config()),
        Room::decl(&config()),
    ]);
    out += &format!(
        "/** What an event that only does something answers with. */\nexport type {DONE} = Record<string, never>;\n\n"
    );
    out += &map(
        "What a device namespace's socket is told of its own: not journaled, no `seq`.",
        "SocketEvents",
        [
            ("session", Greeting::name(&config())),
            ("sync", Synced::name(&config())),
        ],
    );
    out += &map(
        "The root namespace's announcements of the fleet.",
        "FleetEvents",
        [
            ("device:update", DeviceUpdate::name(&config())),
            ("device:removed", DeviceRemoved::name(&config())),
        ],
    );
    out += &map(
        "Each client event of a device namespace: what it takes, and the `data` of its answer.",
        "DeviceRequests",
        device_requests(),
    );
    out += &map(
        "Each client event of the root namespace: what it takes, and the `data` of its answer.",
        "FleetRequests",
        fleet_requests(),
    );
    out
}

/// The event names a handler's source matches on: each `"name" =>` arm (and `"a" | "b" =>`),
/// and an `event == "name"` test.
fn dispatched(source: &str) -> BTreeSet<String> {
    let literal = |text: &str| {
        let text = text.trim();
        (text.len() > 2 && text.starts_with('"') && text.ends_with('"'))
            .then(|| text[1..text.len() - 1].to_owned())
    };
    let mut names = BTreeSet::new();
    for line in source.lines() {
        if let Some((arm, _)) = line.split_once("=>") {
            let alternatives: Option<Vec<String>> = arm.split('|').map(literal).collect();
            names.extend(alternatives.into_iter().flatten());
        }
        if let Some((_, tested)) = line.split_once("event == ") {
            names.extend(literal(tested.trim_end_matches(" {")));
        }
    }
    names
}

#[test]
fn every_client_event_handled_has_its_types_and_no_other() {
    let typed = |requests: Vec<(&str, String)>| -> BTreeSet<String> {
        requests.into_iter().map(|(name, _)| name.into()).collect()
    };
    assert_eq!(
        typed(device_requests()),
        dispatched(include_str!("client_events.rs"))
    );
    assert_eq!(
        typed(fleet_requests()),
        dispatched(include_str!("fleet.rs"))
    );
}

/// A profile's client speaks every native client event the profile does not rename, so the
/// profiles' list of them is the device namespace's.
#[test]
fn profiles_pass_every_native_client_event() {
    let native: BTreeSet<&str> = crate::api::profile::NATIVE_CLIENT_EVENTS
        .iter()
        .copied()
        .collect();
    let handled: BTreeSet<&str> = device_requests()
        .into_iter()
        .map(|(name, _)| name)
        .collect();
    assert_eq!(native, handled);
}
