//! The model's part of the TypeScript clients' types (`clients/typescript`): messages, chats,
//! contacts, media, pages, device definitions, every journaled event's payload and the map
//! from each event's name to it, generated from these Rust types; and the helpers the other
//! layers' parts are written with. `crate::api::typescript` puts the parts together.

use ts_rs::{Config, TS};

use super::capability::Capability;
use super::content::{ContactCard, Location, Poll, PollVotes};
use super::event::{
    Authenticated, ChatMerged, ConnectionStatus, DeviceHealth, Disconnected, Envelope, EventKind,
    HealthStatus, LimitWarning, Me, MessageAck, MessageEdited, MessageReaction, MessageRead,
    MessageRevoked, MessageStatus, Notification, NotificationRead, PairingCode, PollVote, QrCode,
    Ready, StateChange, StatusNew, Typing,
};
use super::governor::{
    GovernorChanges, GovernorLimits, GovernorView, MessageCapping, ReachoutTimelock, Restrictions,
};
use super::group::{
    GroupChange, GroupInfo, GroupPatch, GroupUpdate, Invite, NewGroup, Participant,
    ParticipantAction, ParticipantChange, ParticipantOutcome, ParticipantsChange, Role,
};
use super::message::{Ack, Chat, Contact, Media, MediaKind, Message, Page, TempId, Template};
use super::pairing::IssuedCode;
use super::spec::{
    Behaviour, CloudApiSpec, ConnectorKind, DeviceFilters, DeviceHooks, DeviceQr, DeviceSpec,
    Filtered, Secret, SimulatedContact, SimulatorSpec, WahaSpec,
};
use super::StateName;

/// How the types are written: integers as `number` (every integer the daemon sends is within
/// what a JavaScript number holds exactly: counts, seqs, milliseconds).
pub(crate) fn config() -> Config {
    Config::new().with_large_int("number")
}

/// Each kind of event's payload type, in the order of [`EventKind::ALL`].
fn event_payloads() -> [(EventKind, String); 26] {
    [
        (EventKind::State, StateChange::name(&config())),
        (EventKind::Qr, QrCode::name(&config())),
        (EventKind::Authenticated, Authenticated::name(&config())),
        (EventKind::Ready, Ready::name(&config())),
        (EventKind::Disconnected, Disconnected::name(&config())),
        (
            EventKind::ConnectionStatus,
            ConnectionStatus::name(&config()),
        ),
        (EventKind::Message, Message::name(&config())),
        (EventKind::MessageAck, MessageAck::name(&config())),
        (EventKind::MessageStatus, MessageStatus::name(&config())),
        (EventKind::MessageRead, MessageRead::name(&config())),
        (EventKind::MessageRevoked, MessageRevoked::name(&config())),
        (EventKind::MessageReaction, MessageReaction::name(&config())),
        (EventKind::TypingStart, Typing::name(&config())),
        (EventKind::TypingStop, Typing::name(&config())),
        (EventKind::ChatUpdate, Chat::name(&config())),
        (EventKind::ContactUpdate, Contact::name(&config())),
        (EventKind::Notification, Notification::name(&config())),
        (
            EventKind::NotificationRead,
            NotificationRead::name(&config()),
        ),
        (EventKind::StatusNew, StatusNew::name(&config())),
        (EventKind::PollVote, PollVote::name(&config())),
        (EventKind::MessageEdited, MessageEdited::name(&config())),
        (EventKind::ChatMerged, ChatMerged::name(&config())),
        (EventKind::PairingCode, PairingCode::name(&config())),
        (EventKind::GroupUpdate, GroupUpdate::name(&config())),
        (EventKind::DeviceHealth, DeviceHealth::name(&config())),
        (EventKind::LimitWarning, LimitWarning::name(&config())),
    ]
}

/// A union of string literals.
pub(crate) fn literals(names: impl IntoIterator<Item = &'static str>) -> String {
    names
        .into_iter()
        .map(|name| format!("{name:?}"))
        .collect::<Vec<_>>()
        .join(" | ")
}

/// The model's declarations: states and ack names, messages, chats, contacts, media, pages,
/// every journaled event's payload and the map from each event's name to it.
pub(crate) fn declarations() -> String {
    let mut out = format!(
        "/** A device's state. */\nexport type StateName = {};\n\n",
        literals(StateName::ALL.map(StateName::as_str))
    );
    let acks = [
        Ack::Error,
        Ack::Pending,
        Ack::Server,
        Ack::Device,
        Ack::Read,
        Ack::Played,
    ];
    out += &format!(
        "/** How far a message got: `ack` -1 to 4, by name. */\nexport type AckName = {};\n\n",
        literals(acks.map(Ack::name))
    );
    out += &exported([
        Me::decl(&config()),
        Capability::decl(&config()),
        Media::decl(&config()),
        MediaKind::decl(&config()),
        Location::decl(&config()),
        ContactCard::decl(&config()),
        PollVotes::decl(&config()),
        Poll::decl(&config()),
        Template::decl(&config()),
        TempId::decl(&config()),
        Message::decl(&config()),
        Chat::decl(&config()),
        Contact::decl(&config()),
        Page::<()>::decl(&config()),
        StateChange::decl(&config()),
        QrCode::decl(&config()),
        Authenticated::decl(&config()),
        Ready::decl(&config()),
        Disconnected::decl(&config()),
        ConnectionStatus::decl(&config()),
        MessageAck::decl(&config()),
        MessageStatus::decl(&config()),
        MessageRead::decl(&config()),
        MessageRevoked::decl(&config()),
        MessageReaction::decl(&config()),
        Typing::decl(&config()),
        Notification::decl(&config()),
        NotificationRead::decl(&config()),
        StatusNew::decl(&config()),
        PollVote::decl(&config()),
        MessageEdited::decl(&config()),
        ChatMerged::decl(&config()),
        PairingCode::decl(&config()),
        IssuedCode::decl(&config()),
        Role::decl(&config()),
        Participant::decl(&config()),
        GroupInfo::decl(&config()),
        ParticipantAction::decl(&config()),
        ParticipantsChange::decl(&config()),
        ParticipantOutcome::decl(&config()),
        NewGroup::decl(&config()),
        GroupPatch::decl(&config()),
        Invite::decl(&config()),
        GroupChange::decl(&config()),
        ParticipantChange::decl(&config()),
        GroupUpdate::decl(&config()),
        HealthStatus::decl(&config()),
        DeviceHealth::decl(&config()),
        LimitWarning::decl(&config()),
        GovernorLimits::decl(&config()),
        GovernorChanges::decl(&config()),
        GovernorView::decl(&config()),
        Restrictions::decl(&config()),
        ReachoutTimelock::decl(&config()),
        MessageCapping::decl(&config()),
        Envelope::decl(&config()),
        Secret::decl(&config()),
        ConnectorKind::decl(&config()),
        Behaviour::decl(&config()),
        SimulatedContact::decl(&config()),
        SimulatorSpec::decl(&config()),
        WahaSpec::decl(&config()),
        CloudApiSpec::decl(&config()),
        DeviceHooks::decl(&config()),
        DeviceQr::decl(&config()),
        Filtered::decl(&config()),
        DeviceFilters::decl(&config()),
        DeviceSpec::decl(&config()),
    ]);
    let names = EventKind::ALL.map(|kind| format!("{:?}", kind.as_str()));
    out += &format!(
        "/** Every journaled event's name: what webhook subscriptions and hooks may name. */\n\
         export const EVENT_NAMES = [{}] as const;\n\n",
        names.join(", ")
    );
    out += &map(
        "Every journaled event of a device namespace, by name: its payload's own fields.",
        "DeviceEvents",
        event_payloads().map(|(kind, payload)| (kind.as_str(), payload)),
    );
    out
}

/// `export` before each declaration, a blank line after.
pub(crate) fn exported(declarations: impl IntoIterator<Item = String>) -> String {
    declarations
        .into_iter()
        .map(|declaration| format!("export {declaration}\n\n"))
        .collect()
}

/// An interface from names to types, as socket.io-client's event maps are written.
pub(crate) fn map(
    doc: &str,
    name: &str,
    entries: impl IntoIterator<Item = (&'static str, String)>,
) -> String {
    let mut out = format!("/** {doc} */\nexport interface {name} {{\n");
    for (key, value) in entries {
        out += &format!("  {key:?}: {value};\n");
    }
    out + "}\n\n"
}

#[test]
fn every_event_has_its_payload_type() {
    assert_eq!(event_payloads().map(|(kind, _)| kind), EventKind::ALL);
}
