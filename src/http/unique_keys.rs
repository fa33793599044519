//! Duplicate keys in a JSON object are refused, at any depth. serde would
//! silently keep the last of them, while a proxy or a log in front of the
//! sidecar may read the first: two readers of one request must never
//! disagree on what it says (e.g. on `context.role`).

use std::collections::HashSet;
use std::fmt;

use serde::de::{Deserialize, Deserializer, Error, MapAccess, SeqAccess, Visitor};

/// Checks `body` for an object with a repeated key; the error names it.
pub fn check(body: &[u8]) -> Result<(), String> {
    let mut de = serde_json::Deserializer::from_slice(body);
    Unique::deserialize(&mut de)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

struct Unique;

impl<'de> Deserialize<'de> for Unique {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(UniqueVisitor)
    }
}

struct UniqueVisitor;

impl<'de> Visitor<'de> for UniqueVisitor {
    type Value = Unique;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E: Error>(self, _: bool) -> Result<Unique, E> {
        Ok(Unique)
    }

    fn visit_i64<E: Error>(self, _: i64) -> Result<Unique, E> {
        Ok(Unique)
    }

    fn visit_u64<E: Error>(self, _: u64) -> Result<Unique, E> {
        Ok(Unique)
    }

    fn visit_f64<E: Error>(self, _: f64) -> Result<Unique, E> {
        Ok(Unique)
    }

    fn visit_str<E: Error>(self, _: &str) -> Result<Unique, E> {
        Ok(Unique)
    }

    fn visit_unit<E: Error>(self) -> Result<Unique, E> {
        Ok(Unique)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Unique, A::Error> {
        while seq.next_element::<Unique>()?.is_some() {}
        Ok(Unique)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Unique, A::Error> {
        let mut seen = HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            if seen.contains(&key) {
                return Err(A::Error::custom(format_args!("duplicate key `{key}`")));
            }
            map.next_value::<Unique>()?;
            seen.insert(key);
        }
        Ok(Unique)
    }
}

#[cfg(test)]
mod tests {
    use super::check;

    #[test]
    fn repeated_keys_are_found_at_any_depth() {
        assert!(check(br#"{"a": 1, "b": {"c": [1, {"d": 2}]}}"#).is_ok());
        let err = check(br#"{"context": {"role": "member", "role": "owner"}}"#).unwrap_err();
        assert!(err.contains("duplicate key `role`"), "{err}");
        assert!(check(br#"[{"x": 1}, {"x": 2, "x": 3}]"#).is_err());
        // The same key in different objects is fine; escapes are compared decoded.
        assert!(check(br#"[{"x": 1}, {"x": 2}]"#).is_ok());
        assert!(check(br#"{"a": 1, "\u0061": 2}"#).is_err());
    }
}
