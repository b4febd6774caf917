//! The numbers of simulated phones. A simulator device whose definition gives no `phone` gets
//! one of its own when it is stored: two simulated phones sharing a number would be one
//! account to whoever reads their chats (the same `me`, the same group ids). The number is
//! written into the stored definition, so it never changes afterwards, across restarts too.

use std::collections::HashSet;

use crate::model::spec::{ConnectorKind, DeviceSpec, FIRST_SIMULATED_PHONE};

/// The numbers simulated phones hold or talk to: each simulator device's own, and those of its
/// contacts (the part of a contact's id before `@`), so that a new phone is never mistaken for
/// someone's contact either.
pub(super) fn in_use<'s>(specs: impl IntoIterator<Item = &'s DeviceSpec>) -> HashSet<String> {
    let mut numbers = HashSet::new();
    for spec in specs {
        if spec.connector != ConnectorKind::Simulator {
            continue;
        }
        numbers.extend(spec.simulator.phone.clone());
        for contact in &spec.simulator.contacts {
            let number = contact.id.split('@').next().unwrap_or_default();
            numbers.insert(number.to_owned());
        }
    }
    numbers
}

/// Gives a simulator device without a number the first free one from
/// [`FIRST_SIMULATED_PHONE`] up, and records it in `in_use`. A number given is kept as it is.
pub(super) fn assign(spec: &mut DeviceSpec, in_use: &mut HashSet<String>) {
    if spec.connector != ConnectorKind::Simulator || spec.simulator.phone.is_some() {
        return;
    }
    // The device's own contacts are not free for it either.
    in_use.extend(self::in_use([&*spec]));
    let first: u64 = FIRST_SIMULATED_PHONE.parse().expect("a number");
    let number = (first..)
        .map(|number| number.to_string())
        .find(|number| !in_use.contains(number))
        .expect("fewer devices than numbers");
    in_use.insert(number.clone());
    spec.simulator.phone = Some(number);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::spec::SimulatedContact;

    fn simulator(phone: Option<&str>, contacts: &[&str]) -> DeviceSpec {
        let mut spec: DeviceSpec = toml::from_str("name = \"x\"").unwrap();
        spec.simulator.phone = phone.map(str::to_owned);
        spec.simulator.contacts = contacts
            .iter()
            .map(|id| SimulatedContact {
                id: (*id).to_owned(),
                name: "c".into(),
                lid: None,
                behaviour: Default::default(),
                about: None,
                picture: true,
            })
            .collect();
        spec
    }

    #[test]
    fn each_new_phone_gets_the_first_number_no_phone_holds_or_talks_to() {
        let demo = simulator(
            Some("15550000001"),
            &["15550000002@c.us", "15550000003@c.us"],
        );
        let mut taken = in_use([&demo]);
        let mut first = simulator(None, &["15550000004@c.us"]);
        assign(&mut first, &mut taken);
        assert_eq!(first.simulator.phone.as_deref(), Some("15550000005"));
        let mut second = simulator(None, &[]);
        assign(&mut second, &mut taken);
        assert_eq!(second.simulator.phone.as_deref(), Some("15550000006"));
    }

    #[test]
    fn a_given_number_and_other_connectors_are_left_alone() {
        let mut taken = HashSet::from(["15550000001".to_owned()]);
        let mut given = simulator(Some("15550000001"), &[]);
        assign(&mut given, &mut taken);
        assert_eq!(given.simulator.phone.as_deref(), Some("15550000001"));
        let mut waha = simulator(None, &[]);
        waha.connector = ConnectorKind::Waha;
        assign(&mut waha, &mut taken);
        assert_eq!(waha.simulator.phone, None);
        assert!(in_use([&waha]).is_empty());
    }
}
