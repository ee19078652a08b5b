//! JSON that means one thing: byok refuses a document in which an object names the same
//! key twice. `serde_json` keeps the last of two values silently, while a person reading
//! the file (or another tool) may take the first; a KEK file with two `n` fields, say,
//! would be checked as one key and shown as another.

use crate::{bail, err, Result};
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use std::cell::RefCell;
use std::collections::HashSet;
use std::fmt;

/// Parse `text` as JSON, refusing a duplicate key in any object at any depth.
pub fn parse_unique(text: &str) -> Result<serde_json::Value> {
    check_unique_keys(text.as_bytes())?;
    serde_json::from_str(text).map_err(|e| err!("not valid JSON ({e})"))
}

/// Refuse JSON in which some object names a key twice. Other errors (not JSON at all)
/// are the caller's to report: this only looks for duplicates.
pub fn check_unique_keys(bytes: &[u8]) -> Result<()> {
    let duplicate = RefCell::new(None);
    let mut de = serde_json::Deserializer::from_slice(bytes);
    // An error without a duplicate found is not JSON: the caller's own parse names it.
    let _ = Unique(&duplicate).deserialize(&mut de);
    match duplicate.into_inner() {
        Some(key) => bail!(
            "the JSON names the key {key:?} twice in one object: a key named twice means two things; refused"
        ),
        None => Ok(()),
    }
}

/// Visits any JSON value, checking every object's keys; records the first key found twice.
#[derive(Clone, Copy)]
struct Unique<'a>(&'a RefCell<Option<String>>);

impl<'de> DeserializeSeed<'de> for Unique<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> std::result::Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Unique<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> std::result::Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> std::result::Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> std::result::Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> std::result::Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> std::result::Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> std::result::Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<(), A::Error> {
        while seq.next_element_seed(self)?.is_some() {}
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<(), A::Error> {
        let mut seen = HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            if !seen.insert(key.clone()) {
                *self.0.borrow_mut() = Some(key);
                return Err(de::Error::custom("a duplicate key"));
            }
            map.next_value_seed(self)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicate_keys_are_refused_at_any_depth() {
        for text in [
            r#"{"n":"a","n":"b"}"#,
            r#"{"key":{"e":"AQAB","kty":"RSA","e":"Aw"}}"#,
            r#"[1,{"x":[{"k":1,"k":2}]}]"#,
        ] {
            let e = check_unique_keys(text.as_bytes()).unwrap_err();
            assert!(e.message().contains("twice"), "{text}: {e}");
            assert!(parse_unique(text).is_err());
        }
    }

    #[test]
    fn ordinary_json_passes_and_non_json_is_left_to_the_caller() {
        let v = parse_unique(r#"{"a":{"b":[1,2,{"c":null}]},"d":"a\"b","e":1.5}"#).unwrap();
        assert_eq!(v["a"]["b"][2]["c"], serde_json::Value::Null);
        assert!(check_unique_keys(b"{not json").is_ok());
        assert!(parse_unique("{not json").is_err());
        // The same key in two different objects is fine.
        assert!(check_unique_keys(br#"{"a":{"k":1},"b":{"k":2}}"#).is_ok());
    }
}
