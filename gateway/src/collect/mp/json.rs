//! JSON into `serde_json::Value`, noting keys given twice in one object (which a plain
//! parse silently collapses) so they can be reported as `NAME_DUPLICATED`.

use std::cell::RefCell;
use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

/// A parsed body and the field paths of keys that appeared more than once (the last
/// value is kept, as serde_json does).
pub(crate) struct Parsed {
    pub value: Value,
    pub duplicates: Vec<String>,
}

/// Parse `bytes` as one JSON document.
pub(crate) fn parse(bytes: &[u8]) -> Result<Parsed, serde_json::Error> {
    let duplicates = RefCell::new(Vec::new());
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let root = Path {
        parent: None,
        segment: Segment::Root,
    };
    let value = ValueSeed {
        path: &root,
        duplicates: &duplicates,
    }
    .deserialize(&mut deserializer)?;
    deserializer.end()?;
    Ok(Parsed {
        value,
        duplicates: duplicates.into_inner(),
    })
}

/// Where a value sits, as a linked list on the stack: no allocation unless a duplicate
/// needs its path written out.
struct Path<'p> {
    parent: Option<&'p Path<'p>>,
    segment: Segment<'p>,
}

enum Segment<'p> {
    Root,
    Key(&'p str),
    Index(usize),
}

impl fmt::Display for Path<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(parent) = self.parent {
            parent.fmt(f)?;
        }
        match self.segment {
            Segment::Root => Ok(()),
            Segment::Index(index) => write!(f, "[{index}]"),
            Segment::Key(key) => {
                let top_level = self
                    .parent
                    .is_none_or(|parent| matches!(parent.segment, Segment::Root));
                if top_level {
                    f.write_str(key)
                } else {
                    write!(f, ".{key}")
                }
            }
        }
    }
}

struct ValueSeed<'p, 'd> {
    path: &'p Path<'p>,
    duplicates: &'d RefCell<Vec<String>>,
}

impl<'de> DeserializeSeed<'de> for ValueSeed<'_, '_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ValueSeed<'_, '_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, value: bool) -> Result<Value, E> {
        Ok(Value::Bool(value))
    }

    fn visit_i64<E>(self, value: i64) -> Result<Value, E> {
        Ok(Value::Number(value.into()))
    }

    fn visit_u64<E>(self, value: u64) -> Result<Value, E> {
        Ok(Value::Number(value.into()))
    }

    fn visit_f64<E>(self, value: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(value).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, value: &str) -> Result<Value, E> {
        Ok(Value::String(value.to_string()))
    }

    fn visit_string<E>(self, value: String) -> Result<Value, E> {
        Ok(Value::String(value))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut array = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
        loop {
            let path = Path {
                parent: Some(self.path),
                segment: Segment::Index(array.len()),
            };
            let seed = ValueSeed {
                path: &path,
                duplicates: self.duplicates,
            };
            match seq.next_element_seed(seed)? {
                Some(value) => array.push(value),
                None => return Ok(Value::Array(array)),
            }
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let path = Path {
                parent: Some(self.path),
                segment: Segment::Key(&key),
            };
            let value = map.next_value_seed(ValueSeed {
                path: &path,
                duplicates: self.duplicates,
            })?;
            if object.contains_key(&key) {
                self.duplicates.borrow_mut().push(path.to_string());
            }
            object.insert(key, value);
        }
        Ok(Value::Object(object))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_like_serde_json() {
        let text = r#"{"a":1,"b":[true,null,-2,1.5,"x"],"c":{"d":{}},"e":18446744073709551615}"#;
        let parsed = parse(text.as_bytes()).unwrap();
        assert_eq!(parsed.value, serde_json::from_str::<Value>(text).unwrap());
        assert!(parsed.duplicates.is_empty());
    }

    #[test]
    fn reports_duplicate_keys_with_their_paths() {
        let text = r#"{"client_id":"a","client_id":"b","events":[{"name":"x","params":{"value":1,"value":2}}]}"#;
        let parsed = parse(text.as_bytes()).unwrap();
        assert_eq!(parsed.duplicates, ["client_id", "events[0].params.value"]);
        assert_eq!(parsed.value["client_id"], json!("b"), "last one wins");
    }

    #[test]
    fn rejects_malformed_and_trailing_input() {
        assert!(parse(b"{\"a\":").is_err());
        assert!(parse(b"{} {}").is_err());
        assert!(parse(b"").is_err());
        assert!(parse(b"client_id=1").is_err());
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_stack_overflow() {
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        assert!(parse(deep.as_bytes()).is_err());
    }
}
