//! What each connector can do for a device, as `GET /devices/{id}` lists it.
//!
//! The list lives in the model, keyed by the connector's kind, because it is checked below the
//! connectors: an operation a device's connector cannot do is refused in the very store write
//! that would have accepted it, so nothing is stored, journaled or queued for an upstream that
//! would only fail it later. A capability is listed here once devicebridge itself does the
//! operation for that connector; `docs/connectors.md` has the same table, and a test keeps the
//! two in step.

use serde::Serialize;

use super::spec::ConnectorKind;

/// One operation a connector may be able to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, utoipa::ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub enum Capability {
    #[serde(rename = "send.text")]
    SendText,
    #[serde(rename = "send.image")]
    SendImage,
    #[serde(rename = "send.document")]
    SendDocument,
    #[serde(rename = "send.voice")]
    SendVoice,
    #[serde(rename = "send.video")]
    SendVideo,
    #[serde(rename = "send.location")]
    SendLocation,
    #[serde(rename = "send.contact")]
    SendContact,
    #[serde(rename = "send.poll")]
    SendPoll,
    #[serde(rename = "message.edit")]
    MessageEdit,
    #[serde(rename = "message.forward")]
    MessageForward,
    #[serde(rename = "message.react")]
    MessageReact,
    #[serde(rename = "message.revoke")]
    MessageRevoke,
    #[serde(rename = "pairing.code")]
    PairingCode,
    #[serde(rename = "groups.manage")]
    GroupsManage,
    #[serde(rename = "contacts.lookup")]
    ContactsLookup,
    #[serde(rename = "contacts.picture")]
    ContactsPicture,
    #[serde(rename = "contacts.block")]
    ContactsBlock,
    #[serde(rename = "numbers.check")]
    NumbersCheck,
}

impl Capability {
    /// Every capability, in the order they are listed.
    pub const ALL: [Capability; 18] = [
        Capability::SendText,
        Capability::SendImage,
        Capability::SendDocument,
        Capability::SendVoice,
        Capability::SendVideo,
        Capability::SendLocation,
        Capability::SendContact,
        Capability::SendPoll,
        Capability::MessageEdit,
        Capability::MessageForward,
        Capability::MessageReact,
        Capability::MessageRevoke,
        Capability::PairingCode,
        Capability::GroupsManage,
        Capability::ContactsLookup,
        Capability::ContactsPicture,
        Capability::ContactsBlock,
        Capability::NumbersCheck,
    ];

    /// Its name, as listed and as a refusal names it.
    pub const fn as_str(self) -> &'static str {
        match self {
            Capability::SendText => "send.text",
            Capability::SendImage => "send.image",
            Capability::SendDocument => "send.document",
            Capability::SendVoice => "send.voice",
            Capability::SendVideo => "send.video",
            Capability::SendLocation => "send.location",
            Capability::SendContact => "send.contact",
            Capability::SendPoll => "send.poll",
            Capability::MessageEdit => "message.edit",
            Capability::MessageForward => "message.forward",
            Capability::MessageReact => "message.react",
            Capability::MessageRevoke => "message.revoke",
            Capability::PairingCode => "pairing.code",
            Capability::GroupsManage => "groups.manage",
            Capability::ContactsLookup => "contacts.lookup",
            Capability::ContactsPicture => "contacts.picture",
            Capability::ContactsBlock => "contacts.block",
            Capability::NumbersCheck => "numbers.check",
        }
    }
}

impl ConnectorKind {
    /// What a device of this connector can do.
    pub fn capabilities(self) -> &'static [Capability] {
        use Capability::*;
        match self {
            ConnectorKind::Simulator | ConnectorKind::Waha => &Capability::ALL,
            // Meta's API has no polls for businesses, edits and deletes nothing once sent, and
            // runs no groups. It shows a business no profile (about, picture) of its customers
            // and answers no number check (a template to a number without WhatsApp fails
            // instead); its block list is not relayed; and it links nothing: a business number
            // is not a phone to link.
            ConnectorKind::CloudApi => &[
                SendText,
                SendImage,
                SendDocument,
                SendVoice,
                SendVideo,
                SendLocation,
                SendContact,
                MessageForward,
                MessageReact,
            ],
        }
    }

    /// Whether a device of this connector can do `capability`.
    pub fn can(self, capability: Capability) -> bool {
        self.capabilities().contains(&capability)
    }

    /// Every connector, for the tables that list them all.
    pub const ALL: [ConnectorKind; 3] = [
        ConnectorKind::Simulator,
        ConnectorKind::Waha,
        ConnectorKind::CloudApi,
    ];

    /// The connector named `name` as stored and shown (`cloud_api`).
    pub fn named(name: &str) -> Option<ConnectorKind> {
        ConnectorKind::ALL
            .into_iter()
            .find(|kind| kind.as_str() == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_the_wire_names() {
        for capability in Capability::ALL {
            let wire = serde_json::to_value(capability).unwrap();
            assert_eq!(wire, capability.as_str());
        }
    }

    #[test]
    fn the_simulator_can_do_everything() {
        assert_eq!(ConnectorKind::Simulator.capabilities(), Capability::ALL);
    }

    /// `docs/connectors.md`'s table of operations × connectors says what the daemon lists.
    #[test]
    fn the_documented_table_is_the_list() {
        let doc = include_str!("../../docs/connectors.md");
        let table: Vec<Vec<&str>> = doc
            .lines()
            .skip_while(|line| !line.starts_with("| operation |"))
            .take_while(|line| line.starts_with('|'))
            .map(|line| line.trim_matches('|').split('|').map(str::trim).collect())
            .collect();
        let header = &table[0];
        let connectors: Vec<&str> = ConnectorKind::ALL.map(ConnectorKind::as_str).to_vec();
        assert_eq!(header[1..], connectors[..]);
        let rows = &table[2..];
        let listed: Vec<String> = rows.iter().map(|row| row[0].to_owned()).collect();
        let names: Vec<String> = Capability::ALL
            .map(|capability| format!("`{}`", capability.as_str()))
            .to_vec();
        assert_eq!(listed, names);
        for (row, capability) in rows.iter().zip(Capability::ALL) {
            for (cell, kind) in row[1..].iter().zip(ConnectorKind::ALL) {
                assert_eq!(
                    cell.starts_with("yes"),
                    kind.can(capability),
                    "{} on {}: the table says {cell:?}",
                    capability.as_str(),
                    kind.as_str()
                );
            }
        }
    }

    #[test]
    fn connectors_are_found_by_their_names() {
        for kind in ConnectorKind::ALL {
            assert_eq!(ConnectorKind::named(kind.as_str()), Some(kind));
        }
        assert_eq!(ConnectorKind::named("whatsapp"), None);
    }
}
