//! Property tests of device files (`devices/<id>.toml`): any text is read without a panic, and
//! a file whose tables break the definition's shape is refused.

use proptest::prop_assert;
use serde_json::{json, Value};

use super::*;
use crate::fuzz::{self, check, Field, Kind};

const FIELDS: &[Field] = &[
    Field::required("name", Kind::String),
    Field::defaulted("connector", Kind::String),
    Field::defaulted("autostart", Kind::Bool),
    Field::defaulted("simulator", Kind::Object),
    Field::optional("waha", Kind::Object),
    Field::optional("cloud_api", Kind::Object),
    Field::defaulted("hooks", Kind::Object),
];

/// A device file, as JSON.
fn valid() -> Value {
    json!({
        "name": "Demo phone", "connector": "simulator", "autostart": true,
        "simulator": {
            "phone": "15550000001", "server_ack_ms": 30, "delivered_ms": 150, "read_ms": 1500,
            "contacts": [
                { "id": "15550000002@c.us", "name": "Alice", "behaviour": "echo" },
                { "id": "15550000003@c.us", "name": "Bob", "behaviour": "silent" }
            ]
        },
        "waha": { "base_url": "http://waha.test:3001", "webhook_secret": "s" },
        "hooks": { "sound": false }
    })
}

#[test]
fn any_text_is_read_without_a_panic() {
    let (text, _) = fuzz::toml_text(&valid()).expect("TOML");
    assert!(parse(&text).is_ok(), "{text}");
    check(fuzz::odd_text(), |text| {
        let _ = parse(&text);
        Ok(())
    });
    check(fuzz::broken(text), |bytes| {
        let _ = parse(&String::from_utf8_lossy(&bytes));
        Ok(())
    });
}

#[test]
fn a_file_that_breaks_the_shape_is_refused() {
    check(fuzz::mutated(valid(), FIELDS), |value| {
        let Some((text, says)) = fuzz::toml_text(&value) else {
            return Ok(());
        };
        let broken = fuzz::invalid_by_construction(FIELDS, says.as_object().expect("a table"));
        prop_assert!(!(parse(&text).is_ok() && broken), "accepted {}", text);
        Ok(())
    });
}

#[test]
fn a_change_anywhere_in_its_tables_never_panics() {
    check(fuzz::mutated_anywhere(valid()), |value| {
        if let Some((text, _)) = fuzz::toml_text(&value) {
            let _ = parse(&text);
        }
        Ok(())
    });
}

#[test]
fn a_table_given_as_a_list_is_refused() {
    assert!(parse("name = \"Demo phone\"\nsimulator = []\n").is_err());
    let contacts =
        "name = \"Demo phone\"\n[simulator]\ncontacts = [[\"15550000002@c.us\", \"Alice\"]]\n";
    assert!(parse(contacts).is_err());
}
