//! What the property tests of the decoders of outside input share: the runner, strategies for
//! arbitrary text, bytes and JSON, and structure-aware mutations of valid examples.
//!
//! Every decoder that reads what a client, an upstream or an operator sends (Socket.IO
//! payloads, REST bodies, upstream webhooks, device files, configuration) has a `fuzz` module
//! beside it. Each property runs [`CASES`] inputs and asserts two things: the decoder never
//! panics, and an input that is invalid by construction (not JSON, not an object, a required
//! field missing or of another JSON type, a field the shape does not know) is refused.

use std::fmt::Debug;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::{Map, Value};

/// Inputs per property: enough to reach the odd corners (huge, nested, control characters)
/// many times over, while each decoder's tests stay within seconds in a debug build.
const CASES: u32 = 2000;

/// Runs `test` on [`CASES`] inputs from `strategy`. A failure (a panic included) is shrunk to
/// a smallest input, which the calling test fails with. Failures are not written to files: a
/// case worth keeping becomes a regression test beside its decoder.
pub fn check<S>(strategy: S, test: impl Fn(S::Value) -> Result<(), TestCaseError>)
where
    S: Strategy,
    S::Value: Debug,
{
    let config = Config {
        cases: CASES,
        failure_persistence: None,
        ..Config::default()
    };
    if let Err(failure) = TestRunner::new(config).run(&strategy, test) {
        panic!("{failure}");
    }
}

/// Text as outside input brings it: any characters; ids and words; the punctuation of JSON,
/// TOML and the ids we parse, with control characters; now and then a huge one.
pub fn odd_text() -> BoxedStrategy<String> {
    prop_oneof![
        4 => any::<String>(),
        3 => "[a-zA-Z0-9@._:/_-]{0,24}",
        2 => "[\\x00-\\x1f \"'\\\\{}\\[\\],:=#@._/\u{7f}\u{a0}\u{feff}\u{202e}é😀]{0,16}",
        1 => (10_000usize..200_000).prop_map(|n| "é".repeat(n / 2)),
    ]
    .boxed()
}

/// Any JSON value: scalars of every kind (integers at both ends of their range, floats, odd
/// text) in arrays and objects nested a few levels deep.
pub fn json() -> BoxedStrategy<Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_filter_map("JSON has no NaN or infinity", |f| {
            serde_json::Number::from_f64(f).map(Value::Number)
        }),
        odd_text().prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((odd_text(), inner), 0..6)
                .prop_map(|fields| Value::Object(fields.into_iter().collect())),
        ]
    })
    .boxed()
}

/// Bytes that are seldom what a decoder reads: arbitrary ones, and `text` (a valid example)
/// cut short or with a byte changed, so a decoder meets every way a body can break part-way.
pub fn broken(text: String) -> BoxedStrategy<Vec<u8>> {
    let text = text.into_bytes();
    let len = text.len();
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..256),
        (0..=len).prop_map({
            let text = text.clone();
            move |end| text[..end].to_vec()
        }),
        (0..len.max(1), any::<u8>()).prop_map(move |(at, byte)| {
            let mut bytes = text.clone();
            if let Some(slot) = bytes.get_mut(at) {
                *slot = byte;
            }
            bytes
        }),
    ]
    .boxed()
}

/// The JSON type a field of a decoded shape takes.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    String,
    /// A string or a number (a `tempId`).
    StringOrNumber,
    Bool,
    /// An unsigned integer up to this value, written with a fraction part or without (`2.0`
    /// is `2`, as JSON Schema's `integer` has it).
    Unsigned(u64),
    Array,
    Object,
}

impl Kind {
    /// Whether a value of this JSON type could be meant. Nothing is said about its content
    /// (a word from a list, a well-formed id), which the decoders check on their own.
    fn takes(self, value: &Value) -> bool {
        match self {
            Kind::String => value.is_string(),
            Kind::StringOrNumber => value.is_string() || value.is_number(),
            Kind::Bool => value.is_boolean(),
            Kind::Unsigned(max) => whole(value).is_some_and(|n| n <= max),
            Kind::Array => value.is_array(),
            Kind::Object => value.is_object(),
        }
    }
}

/// The whole number `value` is, if it is one not below zero.
fn whole(value: &Value) -> Option<u64> {
    value.as_u64().or_else(|| {
        let float = value.as_f64()?;
        // 2^64, the first float past `u64`.
        let fits = float.fract() == 0.0 && (0.0..18_446_744_073_709_551_616.0).contains(&float);
        fits.then_some(float as u64)
    })
}

/// One field of a JSON object shape, as far as its property tests need it.
#[derive(Debug, Clone, Copy)]
pub struct Field {
    name: &'static str,
    kind: Kind,
    /// May be left out.
    optional: bool,
    /// May be `null` (an `Option`).
    nullable: bool,
}

impl Field {
    /// Must be there, of its kind.
    pub const fn required(name: &'static str, kind: Kind) -> Self {
        Field {
            name,
            kind,
            optional: false,
            nullable: false,
        }
    }

    /// May be left out, and may be `null` (an `Option`).
    pub const fn optional(name: &'static str, kind: Kind) -> Self {
        Field {
            name,
            kind,
            optional: true,
            nullable: true,
        }
    }

    /// May be left out for its default, but not `null`.
    pub const fn defaulted(name: &'static str, kind: Kind) -> Self {
        Field {
            name,
            kind,
            optional: true,
            nullable: false,
        }
    }
}

/// Whether `object` must be refused as an instance of the shape `fields`, whatever the
/// content of its fields: a required field is missing, a field holds another JSON type, or
/// it has a field the shape does not know (they all deny unknown fields).
pub fn invalid_by_construction(fields: &[Field], object: &Map<String, Value>) -> bool {
    let unknown = object
        .keys()
        .any(|key| !fields.iter().any(|field| field.name == key));
    unknown
        || fields.iter().any(|field| match object.get(field.name) {
            None => !field.optional,
            Some(Value::Null) => !field.nullable,
            Some(value) => !field.kind.takes(value),
        })
}

/// A change to one field of an object.
#[derive(Debug, Clone)]
enum Mutation {
    /// A field of the shape set to any value, or to a huge or odd string.
    Set(usize, Value),
    Remove(usize),
    /// A field the shape does not have: a misspelling of one of its fields, or any name.
    Add(String, Value),
}

/// `valid`, an instance of the shape `fields`, with one to three fields changed: set to a
/// value of any type (or an odd string), removed, or joined by a field the shape lacks.
pub fn mutated(valid: Value, fields: &'static [Field]) -> BoxedStrategy<Value> {
    // A shape without fields can only be given one it does not have.
    let add = (odd_text(), json()).prop_map(|(name, value)| Mutation::Add(name, value));
    let mutation = match fields.len() {
        0 => add.boxed(),
        count => {
            let misspelt = prop_oneof![
                (0..count).prop_map(move |i| fields[i].name.to_uppercase()),
                (0..count).prop_map(move |i| format!("{}_", fields[i].name)),
            ];
            prop_oneof![
                3 => (0..count, json()).prop_map(|(i, value)| Mutation::Set(i, value)),
                2 => (0..count, odd_text()).prop_map(|(i, text)| Mutation::Set(i, Value::from(text))),
                2 => (0..count).prop_map(Mutation::Remove),
                1 => add,
                1 => (misspelt, json()).prop_map(|(name, value)| Mutation::Add(name, value)),
            ]
            .boxed()
        }
    };
    prop::collection::vec(mutation, 1..=3)
        .prop_map(move |mutations| {
            let mut object = valid.as_object().cloned().unwrap_or_default();
            for mutation in mutations {
                match mutation {
                    Mutation::Set(i, value) => {
                        object.insert(fields[i].name.to_owned(), value);
                    }
                    Mutation::Remove(i) => {
                        object.remove(fields[i].name);
                    }
                    Mutation::Add(name, value) => {
                        object.insert(name, value);
                    }
                }
            }
            Value::Object(object)
        })
        .boxed()
}

/// Every place in `value` (the root included), as paths of object keys and array indexes.
fn places(value: &Value) -> Vec<Vec<Step>> {
    let mut found = vec![Vec::new()];
    let children: Vec<(Step, &Value)> = match value {
        Value::Object(fields) => fields
            .iter()
            .map(|(key, child)| (Step::Key(key.clone()), child))
            .collect(),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, child)| (Step::Index(i), child))
            .collect(),
        _ => Vec::new(),
    };
    for (step, child) in children {
        found.extend(places(child).into_iter().map(|mut path| {
            path.insert(0, step.clone());
            path
        }));
    }
    found
}

#[derive(Debug, Clone)]
enum Step {
    Key(String),
    Index(usize),
}

/// `valid` with one place anywhere in it (a field deep in a nested object, an array item)
/// replaced by any value or an odd string, or removed. For lenient decoders of upstream
/// shapes, which must still never panic, and refuse what they need and cannot read.
pub fn mutated_anywhere(valid: Value) -> BoxedStrategy<Value> {
    let paths = places(&valid);
    let replacement = prop_oneof![
        3 => json().prop_map(Some),
        1 => odd_text().prop_map(|text| Some(Value::from(text))),
        1 => Just(None),
    ];
    (0..paths.len(), replacement)
        .prop_map(move |(at, replacement)| {
            let mut value = valid.clone();
            replace(&mut value, &paths[at], replacement);
            value
        })
        .boxed()
}

/// Puts `replacement` at `path` in `value`, or removes what is there when it is `None`.
fn replace(value: &mut Value, path: &[Step], replacement: Option<Value>) {
    let Some((last, parents)) = path.split_last() else {
        *value = replacement.unwrap_or(Value::Null);
        return;
    };
    let parent = parents.iter().fold(value, |node, step| match step {
        Step::Key(key) => &mut node[key.as_str()],
        Step::Index(i) => &mut node[*i],
    });
    match (last, parent, replacement) {
        (Step::Key(key), Value::Object(fields), Some(new)) => {
            fields.insert(key.clone(), new);
        }
        (Step::Key(key), Value::Object(fields), None) => {
            fields.remove(key);
        }
        (Step::Index(i), Value::Array(items), Some(new)) => items[*i] = new,
        (Step::Index(i), Value::Array(items), None) => {
            items.remove(*i);
        }
        _ => {}
    }
}

/// The properties of a decoder of one JSON object shape, given as JSON text to `decode`:
/// `valid` is accepted; any JSON value other than an object (or `null`, which some event
/// payloads take as `{}`) is refused; mutations of `valid` that break the shape are refused;
/// and broken text never panics and, not being JSON, is refused.
pub fn object_decoder<T, E>(
    valid: Value,
    fields: &'static [Field],
    decode: impl Fn(&[u8]) -> Result<T, E>,
) {
    let accepted = |value: &Value| decode(value.to_string().as_bytes()).is_ok();
    assert!(accepted(&valid), "the valid example {valid} is refused");
    check(json(), |value| {
        let refuse = !value.is_object() && !value.is_null();
        prop_assert!(!(accepted(&value) && refuse), "accepted {value}");
        Ok(())
    });
    check(mutated(valid.clone(), fields), |value| {
        let broken = invalid_by_construction(fields, value.as_object().expect("an object"));
        prop_assert!(!(accepted(&value) && broken), "accepted {value}");
        Ok(())
    });
    check(broken(valid.to_string()), |bytes| {
        let accepted = decode(&bytes).is_ok();
        let json = serde_json::from_slice::<serde::de::IgnoredAny>(&bytes).is_ok();
        prop_assert!(!accepted || json, "accepted {bytes:?}");
        Ok(())
    });
}

/// `value` (an object) written as a TOML document, with the JSON that document says: TOML has
/// no `null`, which is left out, nor integers beyond `i64`, which become floats. `None` when
/// TOML cannot write it at all.
pub fn toml_text(value: &Value) -> Option<(String, Value)> {
    let table = match to_toml(value)? {
        toml::Value::Table(table) => table,
        _ => return None,
    };
    let text = toml::to_string(&table).ok()?;
    let says = serde_json::to_value(&table).ok()?;
    Some((text, says))
}

fn to_toml(value: &Value) -> Option<toml::Value> {
    Some(match value {
        Value::Null => return None,
        Value::Bool(flag) => toml::Value::Boolean(*flag),
        Value::Number(n) => match n.as_i64() {
            Some(i) => toml::Value::Integer(i),
            None => toml::Value::Float(n.as_f64()?),
        },
        Value::String(text) => toml::Value::String(text.clone()),
        Value::Array(items) => toml::Value::Array(items.iter().filter_map(to_toml).collect()),
        Value::Object(fields) => toml::Value::Table(
            fields
                .iter()
                .filter_map(|(key, value)| Some((key.clone(), to_toml(value)?)))
                .collect(),
        ),
    })
}

/// The two properties every signed upstream webhook receiver has, for `deliver` (a body and
/// its signature header) and `signed` (a body, signed rightly): nothing is read without the
/// right signature, and a rightly signed body is read exactly when it is JSON (`sample`, a
/// valid delivery, is broken to find out).
pub fn signed_receiver<T: Debug>(
    sample: &Value,
    deliver: impl Fn(&[u8], Option<&str>) -> Result<T, crate::model::upstream::WebhookError>,
    signed: impl Fn(&[u8]) -> Result<T, crate::model::upstream::WebhookError>,
) {
    use crate::model::upstream::WebhookError;
    check(
        (json(), proptest::option::of(odd_text())),
        |(value, signature)| {
            let body = value.to_string();
            let refused = matches!(
                deliver(body.as_bytes(), signature.as_deref()),
                Err(WebhookError::BadSignature)
            );
            prop_assert!(refused, "{} signed {:?}", body, signature);
            Ok(())
        },
    );
    check(broken(sample.to_string()), |body| {
        let json = serde_json::from_slice::<Value>(&body).is_ok();
        match signed(&body) {
            Err(WebhookError::Malformed(_)) => prop_assert!(!json),
            Ok(_) => prop_assert!(json),
            Err(other) => prop_assert!(false, "{:?}", other),
        }
        Ok(())
    });
    check(json(), |value| {
        prop_assert!(signed(value.to_string().as_bytes()).is_ok());
        Ok(())
    });
}
