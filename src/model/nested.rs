//! The structs nested in outside input (a message's `media`, a device's `simulator` table, …),
//! read only from objects: JSON objects, TOML tables.
//!
//! Serde's derived decoding of a struct also takes a list of its fields in order
//! (`["http://…", "image/png"]` for `media`, or `[]` for a table whose fields all have
//! defaults), which no client or operator means, and which escapes `deny_unknown_fields`. A
//! body's or payload's top level is checked for this (see `api::extract::is_object`);
//! the fields that hold a struct are read through these functions
//! (`#[serde(deserialize_with = …)]`), which refuse anything but an object.

use std::fmt;
use std::marker::PhantomData;

use serde::de::value::MapAccessDeserializer;
use serde::de::{MapAccess, Visitor};
use serde::{Deserialize, Deserializer};

/// A `T` that was given as an object.
struct Object<T>(T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Object<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Fields<T>(PhantomData<T>);

        impl<'de, T: Deserialize<'de>> Visitor<'de> for Fields<T> {
            type Value = T;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object")
            }

            fn visit_map<A: MapAccess<'de>>(self, fields: A) -> Result<T, A::Error> {
                T::deserialize(MapAccessDeserializer::new(fields))
            }
        }

        deserializer
            .deserialize_map(Fields(PhantomData))
            .map(Object)
    }
}

/// A struct field, given as an object.
pub fn object<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<T, D::Error> {
    Object::deserialize(d).map(|Object(value)| value)
}

/// An optional struct field: `null`, or an object. The field needs `#[serde(default)]` too,
/// for leaving it out.
pub fn optional_object<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<Object<T>>::deserialize(d).map(|value| value.map(|Object(value)| value))
}

/// A list of structs, each given as an object.
pub fn objects<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    let items = Vec::<Object<T>>::deserialize(d)?;
    Ok(items.into_iter().map(|Object(value)| value).collect())
}
