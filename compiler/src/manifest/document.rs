//! One YAML document → one typed object (or a problem), checked as the API server would
//! check it: known kind and version, a valid name, the schema's types and enums, plus the
//! unknown fields the server would silently prune.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ConfigMap;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::unknown_fields::unknown_fields;
use hermes_crds::api::{API_VERSION, GROUP, LookupTable, Tag, Trigger};

/// An object Hermes reads.
#[derive(Debug, Clone)]
pub enum Object {
    /// A Tag.
    Tag(Box<Tag>),
    /// A Trigger.
    Trigger(Box<Trigger>),
    /// A LookupTable.
    LookupTable(Box<LookupTable>),
    /// A ConfigMap's `data`, which lookup sources may name.
    ConfigMap(BTreeMap<String, String>),
}

/// What one document yields.
#[derive(Debug, Clone)]
pub enum Decoded {
    /// An object, with its kind and name; `warnings` are field problems that the API
    /// server would not reject (unknown fields it prunes).
    Object {
        /// `Tag`, `Trigger`, `LookupTable` or `ConfigMap`.
        kind: &'static str,
        /// `metadata.name`.
        name: String,
        /// The object.
        object: Object,
        /// Problems that do not stop the object from being used: (field, message).
        warnings: Vec<(String, String)>,
    },
    /// A problem that stops the object from being used.
    Problem {
        /// `Kind/name`, or `Kind (document N)` when unnamed.
        object: String,
        /// The field at fault.
        field: Option<String>,
        /// What is wrong.
        message: String,
    },
}

/// Split a file into documents; the error is the 1-based index of the document that
/// does not parse and the parser's message (with line and column).
pub fn parse_documents(text: &str) -> (Vec<Value>, Option<(usize, String)>) {
    let mut documents = Vec::new();
    for (index, document) in serde_yaml_ng::Deserializer::from_str(text).enumerate() {
        match Value::deserialize(document) {
            Ok(value) => documents.push(value),
            Err(error) => return (documents, Some((index + 1, error.to_string()))),
        }
    }
    (documents, None)
}

/// Decode one parsed document (`List` documents yield one entry per item; documents
/// that are not Hermes objects or ConfigMaps yield nothing).
pub fn decode(document: &Value, index: usize) -> Vec<Decoded> {
    let api_version = document.get("apiVersion").and_then(Value::as_str);
    let kind = document.get("kind").and_then(Value::as_str);
    match (api_version, kind) {
        (Some("v1"), Some("List")) => document
            .get("items")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .flat_map(|item| decode(item, index))
            .collect(),
        (Some("v1"), Some("ConfigMap")) => vec![decode_config_map(document, index)],
        (Some(api_version), kind) if api_version.split('/').next() == Some(GROUP) => {
            vec![decode_hermes(
                document,
                api_version,
                kind.unwrap_or_default(),
                index,
            )]
        }
        (None, Some(kind @ ("Tag" | "Trigger" | "LookupTable"))) => vec![Decoded::Problem {
            object: label(document, kind, index),
            field: Some("apiVersion".into()),
            message: format!("is required (expected {API_VERSION})"),
        }],
        _ => Vec::new(),
    }
}

fn decode_hermes(document: &Value, api_version: &str, kind: &str, index: usize) -> Decoded {
    let object = label(document, kind, index);
    let problem = |field: &str, message: String| Decoded::Problem {
        object: object.clone(),
        field: Some(field.to_string()),
        message,
    };
    let kind: &'static str = match kind {
        "Tag" => "Tag",
        "Trigger" => "Trigger",
        "LookupTable" => "LookupTable",
        other => {
            return problem(
                "kind",
                format!("unknown kind {other:?} in {GROUP} (expected Tag, Trigger or LookupTable)"),
            );
        }
    };
    if api_version != API_VERSION {
        return problem(
            "apiVersion",
            format!("{api_version:?} is not served (expected {API_VERSION})"),
        );
    }
    let name = match checked_name(document) {
        Ok(name) => name,
        Err((field, message)) => return problem(field, message),
    };
    let typed = match kind {
        "Tag" => typed::<Tag>(document).map(|t| Object::Tag(Box::new(t))),
        "Trigger" => typed::<Trigger>(document).map(|t| Object::Trigger(Box::new(t))),
        _ => typed::<LookupTable>(document).map(|t| Object::LookupTable(Box::new(t))),
    };
    match typed {
        Ok(typed) => {
            let warnings = unknown_fields(kind, document)
                .into_iter()
                .map(|unknown| {
                    let message = match unknown.did_you_mean {
                        Some(name) => format!("unknown field (did you mean {name:?}?)"),
                        None => "unknown field".to_string(),
                    };
                    (unknown.path, message)
                })
                .collect();
            Decoded::Object {
                kind,
                name,
                object: typed,
                warnings,
            }
        }
        Err((field, message)) => problem(&field, message),
    }
}

fn decode_config_map(document: &Value, index: usize) -> Decoded {
    let object = label(document, "ConfigMap", index);
    let result = checked_name(document)
        .map_err(|(field, message)| (field.to_string(), message))
        .and_then(|name| typed::<ConfigMap>(document).map(|map| (name, map)));
    match result {
        Ok((name, map)) => Decoded::Object {
            kind: "ConfigMap",
            name,
            object: Object::ConfigMap(map.data.unwrap_or_default()),
            warnings: Vec::new(),
        },
        Err((field, message)) => Decoded::Problem {
            object,
            field: Some(field),
            message,
        },
    }
}

/// Deserialize with the path of the field at fault: (`spec.payload.fields[0].type`,
/// "unknown variant `int`, expected one of …").
fn typed<T: DeserializeOwned>(document: &Value) -> Result<T, (String, String)> {
    serde_path_to_error::deserialize(document).map_err(|error| {
        let path = error.path().to_string();
        let message = error.into_inner().to_string();
        (if path == "." { String::new() } else { path }, message)
    })
}

/// `metadata.name`, checked as Kubernetes checks object names (RFC 1123 subdomain).
fn checked_name(document: &Value) -> Result<String, (&'static str, String)> {
    let name = document
        .get("metadata")
        .and_then(|metadata| metadata.get("name"))
        .and_then(Value::as_str)
        .filter(|name| !name.is_empty())
        .ok_or(("metadata.name", "is required".to_string()))?;
    let valid_char = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.';
    let alphanumeric = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    let valid = name.len() <= 253
        && name.chars().all(valid_char)
        && name
            .split('.')
            .all(|part| part.starts_with(alphanumeric) && part.ends_with(alphanumeric));
    if valid {
        Ok(name.to_string())
    } else {
        Err((
            "metadata.name",
            format!(
                "{name:?} is not a valid name (lower-case letters, digits, '-' and '.', \
                 starting and ending with a letter or digit)"
            ),
        ))
    }
}

/// `Kind/name`, or `Kind (document N)` when the document has no usable name.
fn label(document: &Value, kind: &str, index: usize) -> String {
    match document
        .get("metadata")
        .and_then(|metadata| metadata.get("name"))
        .and_then(Value::as_str)
        .filter(|name| !name.is_empty())
    {
        Some(name) => format!("{kind}/{name}"),
        None => format!("{kind} (document {index})"),
    }
}
