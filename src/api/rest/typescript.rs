//! The REST API's part of the TypeScript clients' types: every request and answer body under
//! `/api/v1`, generated from the same types the handlers read and write (and the OpenAPI
//! document describes), so a dashboard's requests cannot drift from what the daemon accepts.

use ts_rs::TS;

use super::chats::{NewMessage, ReadUpTo};
use super::cluster::{ClusterView, LeaseView, NodeView};
use super::devices::DropBody;
use super::keys::{CreatedKey, IssuedToken, KeyView, NewKey, NewToken};
use super::messages::{EditBody, ForwardBody, VoteBody};
use super::pairing::{Paired, Pairing, ScannedQr, TypedCode};
use super::readiness::Ready;
use super::simulator::{ActBody, Acted, GroupMember, GroupMembers, SimulatedFile, SimulatedKind};
use super::sinks::{NewSink, SinkPatch, SinkView};
use super::system::Health;
use super::webhooks::{CreatedWebhook, DeliveryView, NewWebhook, WebhookPatch, WebhookView};
use super::List;
use crate::api::auth::Scope;
use crate::api::contacts::NumberCheck;
use crate::api::conversations::{OpenChat, ReadReceipt};
use crate::api::fleet::QrView;
use crate::api::journal::EventPage;
use crate::api::profile::Summary;
use crate::api::socket::Stats;
use crate::device::{DevicePatch, DeviceView};
use crate::envelope::{ApiError, ErrorCode, ErrorEnvelope};
use crate::messaging::NewPoll;
use crate::model::sink::SinkKind;
use crate::model::typescript::{config, exported};
use crate::model::ChatFlags;
use crate::store::messages::InboxEntry;
use crate::store::webhooks::{DeliveryStatus, WebhookSource};

/// Every body the REST API takes or answers with.
pub(crate) fn declarations() -> String {
    let mut out = exported([
        List::<()>::decl(&config()),
        ErrorCode::decl(&config()),
        ApiError::decl(&config()),
        ErrorEnvelope::decl(&config()),
        Scope::decl(&config()),
        DeviceView::decl(&config()),
        DevicePatch::decl(&config()),
        QrView::decl(&config()),
        DropBody::decl(&config()),
        ActBody::decl(&config()),
        Acted::decl(&config()),
        SimulatedFile::decl(&config()),
        SimulatedKind::decl(&config()),
        ScannedQr::decl(&config()),
        TypedCode::decl(&config()),
        GroupMembers::decl(&config()),
        GroupMember::decl(&config()),
        Pairing::decl(&config()),
        Paired::decl(&config()),
        OpenChat::decl(&config()),
        ChatFlags::decl(&config()),
        NewMessage::decl(&config()),
        NewPoll::decl(&config()),
        ReadUpTo::decl(&config()),
        EditBody::decl(&config()),
        VoteBody::decl(&config()),
        ForwardBody::decl(&config()),
        ReadReceipt::decl(&config()),
        NumberCheck::decl(&config()),
        InboxEntry::decl(&config()),
        KeyView::decl(&config()),
        CreatedKey::decl(&config()),
        NewKey::decl(&config()),
        NewToken::decl(&config()),
        IssuedToken::decl(&config()),
        WebhookSource::decl(&config()),
        WebhookView::decl(&config()),
        CreatedWebhook::decl(&config()),
        NewWebhook::decl(&config()),
        WebhookPatch::decl(&config()),
        DeliveryStatus::decl(&config()),
        DeliveryView::decl(&config()),
        SinkKind::decl(&config()),
        SinkView::decl(&config()),
        NewSink::decl(&config()),
        SinkPatch::decl(&config()),
        EventPage::decl(&config()),
        Stats::decl(&config()),
        Summary::decl(&config()),
        Health::decl(&config()),
        ClusterView::decl(&config()),
        NodeView::decl(&config()),
        LeaseView::decl(&config()),
        Ready::decl(&config()),
    ]);
    // The creation body is read in two steps (its id first), so it has no Rust type of its
    // own: it is a definition with the new device's id.
    out += "/** `POST /api/v1/devices`: a new device's id, and its definition as a device file gives it. */\n\
            export type NewDevice = { id: string } & DeviceSpec;\n\n";
    out
}
