//! A create body read straight into its columns, without a `serde_json::Value` on the way:
//! the value of a known field is kept as a `Scalar` (borrowing the body's text where it has
//! no escapes), an unknown field's is skipped, and the validation is `validate_create`'s.
//! Building a tree of maps and strings from the body and dropping it cost a create ~1 µs of
//! its ~35 µs of CPU (BENCHMARKS.md).

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::fmt;

use rusqlite::types::Value;
use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

use super::Resource;
use super::validate::{FieldError, Scalar, not_an_object};

impl Resource {
    /// Parses and validates a create body as `validate_create` does the parsed value: the
    /// same values, and the same errors in the same order. The outer error is the body's
    /// JSON syntax (what `serde_json::from_slice` refuses, with the same message).
    pub fn parse_create(
        &self,
        body: &[u8],
    ) -> Result<Result<Vec<Value>, Vec<FieldError>>, serde_json::Error> {
        let mut de = serde_json::Deserializer::from_slice(body);
        let parsed = Body(self).deserialize(&mut de)?;
        de.end()?;
        Ok(parsed)
    }
}

/// The whole body: an object, or the error that it is not one.
struct Body<'r>(&'r Resource);

impl<'de> DeserializeSeed<'de> for Body<'_> {
    type Value = Result<Vec<Value>, Vec<FieldError>>;

    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<Self::Value, D::Error> {
        de.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Body<'_> {
    type Value = Result<Vec<Value>, Vec<FieldError>>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let res = self.0;
        let mut given: Vec<Option<Scalar<'de>>> = vec![None; res.fields.len()];
        // As a parsed object holds them: each once, in order (serde_json's map is sorted).
        let mut unknown = BTreeSet::new();
        while let Some(key) = map.next_key_seed(Key(res))? {
            match key {
                // A repeated key keeps its last value, as in a parsed object.
                Known(i) => given[i] = Some(map.next_value_seed(Field)?),
                Unknown(name) => {
                    map.next_value_seed(Skip)?;
                    unknown.insert(name);
                }
            }
        }
        Ok(res.create_values(given, unknown.iter().map(String::as_str), ""))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        Skip.visit_seq(seq)?;
        Ok(Err(not_an_object("")))
    }

    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(Err(not_an_object("")))
    }

    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        Ok(Err(not_an_object("")))
    }

    fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
        Ok(Err(not_an_object("")))
    }

    fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
        Ok(Err(not_an_object("")))
    }

    fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
        Ok(Err(not_an_object("")))
    }

    fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
        Ok(Err(not_an_object("")))
    }
}

/// A key of the body: a field's position, or a name the resource does not have.
enum KeyOf {
    Known(usize),
    Unknown(String),
}
use KeyOf::{Known, Unknown};

struct Key<'r>(&'r Resource);

impl<'de> DeserializeSeed<'de> for Key<'_> {
    type Value = KeyOf;

    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<KeyOf, D::Error> {
        de.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for Key<'_> {
    type Value = KeyOf;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a field name")
    }

    fn visit_str<E>(self, name: &str) -> Result<KeyOf, E> {
        Ok(match self.0.field_index(name) {
            Some(i) => Known(i),
            None => Unknown(name.to_owned()),
        })
    }
}

/// A known field's value, as validation sees it.
struct Field;

impl<'de> DeserializeSeed<'de> for Field {
    type Value = Scalar<'de>;

    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<Scalar<'de>, D::Error> {
        de.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Field {
    type Value = Scalar<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Scalar<'de>, E> {
        Ok(Scalar::Str(Cow::Borrowed(s)))
    }

    fn visit_str<E>(self, s: &str) -> Result<Scalar<'de>, E> {
        Ok(Scalar::Str(Cow::Owned(s.to_owned())))
    }

    fn visit_string<E>(self, s: String) -> Result<Scalar<'de>, E> {
        Ok(Scalar::Str(Cow::Owned(s)))
    }

    fn visit_i64<E>(self, n: i64) -> Result<Scalar<'de>, E> {
        Ok(Scalar::Number(Some(n)))
    }

    fn visit_u64<E>(self, n: u64) -> Result<Scalar<'de>, E> {
        Ok(Scalar::Number(i64::try_from(n).ok()))
    }

    fn visit_f64<E>(self, _: f64) -> Result<Scalar<'de>, E> {
        Ok(Scalar::Number(None))
    }

    fn visit_unit<E>(self) -> Result<Scalar<'de>, E> {
        Ok(Scalar::Null)
    }

    fn visit_bool<E>(self, _: bool) -> Result<Scalar<'de>, E> {
        Ok(Scalar::Other)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Scalar<'de>, A::Error> {
        Skip.visit_seq(seq)?;
        Ok(Scalar::Other)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Scalar<'de>, A::Error> {
        Skip.visit_map(map)?;
        Ok(Scalar::Other)
    }
}

/// A value nobody reads, parsed as a `serde_json::Value` would be and kept nowhere. Not
/// `IgnoredAny`: serde_json skips that with a quicker scan that neither counts the nesting
/// (a `Value` refuses more than 128 levels) nor reports a bad number the same way.
struct Skip;

impl<'de> DeserializeSeed<'de> for Skip {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<(), D::Error> {
        de.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Skip {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }

    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }

    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }

    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }

    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(Skip)?.is_some() {}
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while map.next_key_seed(Skip)?.is_some() {
            map.next_value_seed(Skip)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
