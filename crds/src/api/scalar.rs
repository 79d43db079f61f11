//! Scalars: where a person writes a value (`value: 5`, `value: true`, `constant: 2`), any
//! YAML scalar is accepted as written, so manifests need no quotes around numbers.

use std::borrow::Cow;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Serialize};

/// A string, number or boolean, kept as written. The schema cannot say "any scalar" in a
/// structural CRD without CEL, so the API server keeps any value here and the compiler
/// refuses objects, arrays and null with a diagnostic ([`Scalar::text`] is `None`).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(transparent)]
pub struct Scalar(pub serde_json::Value);

impl Scalar {
    /// The value as text: a string as is, a number or boolean as written (`5`, `2.5`,
    /// `true`); `None` for what is not a scalar.
    pub fn text(&self) -> Option<String> {
        match &self.0 {
            serde_json::Value::String(text) => Some(text.clone()),
            serde_json::Value::Number(number) => Some(number.to_string()),
            serde_json::Value::Bool(flag) => Some(flag.to_string()),
            _ => None,
        }
    }
}

impl From<&str> for Scalar {
    fn from(text: &str) -> Self {
        Scalar(serde_json::Value::String(text.to_owned()))
    }
}

impl JsonSchema for Scalar {
    fn schema_name() -> Cow<'static, str> {
        "Scalar".into()
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "x-kubernetes-preserve-unknown-fields": true })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_booleans_read_as_written() {
        let read = |yaml: &str| serde_yaml_ng::from_str::<Scalar>(yaml).unwrap().text();
        assert_eq!(read("5"), Some("5".into()));
        assert_eq!(read("2.5"), Some("2.5".into()));
        assert_eq!(read("true"), Some("true".into()));
        assert_eq!(read("'05'"), Some("05".into()));
        assert_eq!(read("{a: 1}"), None);
        assert_eq!(read("[1]"), None);
    }
}
