//! Whole numbers in outside input, written as JSON writes them: `2`, or `2.0`.
//!
//! JSON has one kind of number, and JSON Schema's `integer` is any number without a fraction,
//! so `2.0` is as much an integer as `2` (JavaScript, which has one number type, sends it
//! either way). Serde's derived decoding of an integer field takes only the first spelling;
//! the fields that hold a count or a duration are read through these functions
//! (`#[serde(deserialize_with = …)]`) instead, which take both, and refuse a fraction and a
//! number outside the field's type as before.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{Error, Unexpected, Visitor};
use serde::{Deserialize, Deserializer};

/// The first float past `u64`'s range (2^64): every whole float below it is a `u64`.
const PAST_U64: f64 = 18_446_744_073_709_551_616.0;

/// A whole number of type `T`.
struct Whole<T>(T);

impl<'de, T: TryFrom<u64>> Deserialize<'de> for Whole<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Number<T>(PhantomData<T>);

        impl<T: TryFrom<u64>> Number<T> {
            fn fitting<E: Error>(value: u64) -> Result<T, E> {
                T::try_from(value).map_err(|_| {
                    E::invalid_value(Unexpected::Unsigned(value), &"a number in range")
                })
            }
        }

        impl<T: TryFrom<u64>> Visitor<'_> for Number<T> {
            type Value = T;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a whole number, not below 0")
            }

            fn visit_u64<E: Error>(self, value: u64) -> Result<T, E> {
                Self::fitting(value)
            }

            fn visit_i64<E: Error>(self, value: i64) -> Result<T, E> {
                let value = u64::try_from(value)
                    .map_err(|_| E::invalid_value(Unexpected::Signed(value), &self))?;
                Self::fitting(value)
            }

            fn visit_f64<E: Error>(self, value: f64) -> Result<T, E> {
                if value.fract() != 0.0 || !(0.0..PAST_U64).contains(&value) {
                    return Err(E::invalid_value(Unexpected::Float(value), &self));
                }
                Self::fitting(value as u64)
            }
        }

        deserializer.deserialize_any(Number(PhantomData)).map(Whole)
    }
}

/// A whole-number field.
pub fn number<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: TryFrom<u64>,
{
    Whole::deserialize(d).map(|Whole(value)| value)
}

/// An optional whole-number field: `null`, or a whole number. The field needs
/// `#[serde(default)]` too, for leaving it out.
pub fn optional_number<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: TryFrom<u64>,
{
    Option::<Whole<T>>::deserialize(d).map(|value| value.map(|Whole(value)| value))
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;
    use serde_json::json;

    #[derive(Debug, Deserialize)]
    struct Counts {
        #[serde(deserialize_with = "super::number")]
        small: u32,
        #[serde(default, deserialize_with = "super::optional_number")]
        large: Option<u64>,
    }

    fn read(value: serde_json::Value) -> Result<Counts, String> {
        serde_json::from_value(value).map_err(|e| e.to_string())
    }

    #[test]
    fn a_whole_number_is_taken_with_or_without_a_fraction_part() {
        let counts = read(json!({ "small": 1762.0, "large": 5 })).unwrap();
        assert_eq!((counts.small, counts.large), (1762, Some(5)));
        let counts = read(json!({ "small": 0, "large": 1e19 })).unwrap();
        assert_eq!(
            (counts.small, counts.large),
            (0, Some(10_000_000_000_000_000_000))
        );
        assert_eq!(
            read(json!({ "small": 1, "large": null })).unwrap().large,
            None
        );
        assert_eq!(read(json!({ "small": 1 })).unwrap().large, None);
    }

    #[test]
    fn fractions_negatives_and_numbers_past_the_type_are_refused() {
        for small in [
            json!(1.5),
            json!(-1),
            json!(-1.0),
            json!(4_294_967_296u64),
            json!("1"),
        ] {
            assert!(read(json!({ "small": small })).is_err(), "{small}");
        }
        assert!(read(json!({ "small": 1, "large": 2e19 })).is_err());
        assert!(read(json!({ "small": 1, "large": u64::MAX })).is_ok());
    }
}
