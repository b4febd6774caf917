//! One top-level field of an event's payload, read without building the rest.
//!
//! The host's hooks look at every event the daemon journals, and most of them only to read one
//! field (whether a message is our own, which state a device entered). Parsing the whole
//! payload into a [`serde_json::Value`] for that allocated every key and string of it, and was
//! the larger part of what the hooks cost a sent message (`docs/performance.md`, send). This
//! reader walks the payload only up to the field, skips the values before it without keeping
//! them, builds only the one asked for, and stops there.

use std::fmt;

use serde::de::{DeserializeOwned, DeserializeSeed, IgnoredAny, MapAccess, Visitor};

/// The field `key` of the JSON object `payload`, as a `T`; `None` if the payload is no
/// object, has no such field, or holds something else there.
pub fn field<T: DeserializeOwned>(payload: &str, key: &str) -> Option<T> {
    let mut found = None;
    let mut json = serde_json::Deserializer::from_str(payload);
    // serde_json leaves an object half read only with an error: the walk ends with one once
    // the field is read, and what it read is kept aside. An error before that is a payload
    // that is no object, which has no such field.
    let _ = serde::Deserializer::deserialize_map(
        &mut json,
        FieldOf {
            key,
            found: &mut found,
        },
    );
    found
}

/// Reads an object up to the field named `key`, and puts its value in `found`.
struct FieldOf<'k, T> {
    key: &'k str,
    found: &'k mut Option<T>,
}

impl<'de, T: DeserializeOwned> Visitor<'de> for FieldOf<'_, T> {
    type Value = ();

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("an object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(wanted) = map.next_key_seed(IsKey(self.key))? {
            if !wanted {
                map.next_value::<IgnoredAny>()?;
                continue;
            }
            // A value of another type than asked is no error: the field is not there.
            *self.found = map.next_value::<Option<T>>().ok().flatten();
            return Err(serde::de::Error::custom("the field is read"));
        }
        Ok(())
    }
}

/// A key, read as whether it is `.0`, without copying it.
struct IsKey<'k>(&'k str);

impl<'de> DeserializeSeed<'de> for IsKey<'_> {
    type Value = bool;

    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<bool, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for IsKey<'_> {
    type Value = bool;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a key")
    }

    fn visit_str<E>(self, key: &str) -> Result<bool, E> {
        Ok(key == self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::field;

    const PAYLOAD: &str = r#"{"id":"m1","fromMe":true,"body":"say \"hi\"","n":3,
        "media":{"fromMe":false},"escaped\u0041":"a","state":null}"#;

    #[test]
    fn reads_the_field_asked_for_and_skips_the_others() {
        assert_eq!(field::<bool>(PAYLOAD, "fromMe"), Some(true));
        assert_eq!(
            field::<String>(PAYLOAD, "body").as_deref(),
            Some("say \"hi\"")
        );
        assert_eq!(field::<u64>(PAYLOAD, "n"), Some(3));
        // A key written with an escape is the key it spells.
        assert_eq!(field::<String>(PAYLOAD, "escapedA").as_deref(), Some("a"));
    }

    #[test]
    fn a_missing_field_a_null_or_another_type_is_none() {
        assert_eq!(field::<bool>(PAYLOAD, "absent"), None);
        assert_eq!(field::<String>(PAYLOAD, "state"), None);
        assert_eq!(field::<bool>(PAYLOAD, "body"), None);
        assert_eq!(field::<bool>("[true]", "fromMe"), None);
        assert_eq!(field::<bool>("not json", "fromMe"), None);
    }
}
