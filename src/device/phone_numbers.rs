//! The numbers of simulated phones. A simulator device whose definition gives no `phone` gets
//! one of its own when it is stored: two simulated phones sharing a number would be one
//! account to whoever reads their chats (the same `me`, the same group ids). The number is
//! written into the stored definition, so it never changes afterwards, across restarts too.
//! The store keeps the numbers in use (`store::simulator_numbers`), so finding one does not
//! read the other devices.

use std::collections::BTreeSet;

use crate::model::spec::{ConnectorKind, DeviceSpec};
use crate::store::simulator_numbers::of_contact;
use crate::store::{StoreResult, Tx};

/// Whether `spec` is a simulator's that still needs a number.
pub(super) fn wants_one(spec: &DeviceSpec) -> bool {
    spec.connector == ConnectorKind::Simulator && spec.simulator.phone.is_none()
}

/// The numbers of the contacts of `specs`, which their phones talk to.
pub(super) fn contacts_of<'s>(specs: impl IntoIterator<Item = &'s DeviceSpec>) -> BTreeSet<i64> {
    let contacts = specs.into_iter().flat_map(|spec| &spec.simulator.contacts);
    contacts
        .filter_map(|contact| of_contact(&contact.id))
        .collect()
}

/// Gives a simulator device without a number the first one from `FIRST_SIMULATED_PHONE` up
/// that no stored phone holds or talks to, nor is one of `besides` (the device's own
/// contacts', and those of definitions stored after it in the same write). A number given is
/// kept as it is; other connectors get none.
pub(super) fn assign(
    tx: &mut Tx<'_>,
    spec: &mut DeviceSpec,
    besides: &BTreeSet<i64>,
) -> StoreResult<()> {
    if wants_one(spec) {
        spec.simulator.phone = Some(tx.free_simulator_number(besides)?.to_string());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_simulator_without_a_number_wants_one() {
        let mut spec: DeviceSpec = toml::from_str("name = \"x\"").unwrap();
        assert!(wants_one(&spec));
        spec.simulator.phone = Some("15559990000".into());
        assert!(!wants_one(&spec));
        spec.simulator.phone = None;
        spec.connector = ConnectorKind::Waha;
        assert!(!wants_one(&spec));
    }
}
