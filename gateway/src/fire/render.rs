//! Rendering a firing tag's message: payload with typed fields, attributes, ordering key.

use std::collections::BTreeMap;

use hermes_compiler::config::{CompiledField, CompiledPayload, CompiledTag};
use hermes_crds::api::FieldType;
use serde_json::{Map, Number, Value};

use super::condition::number;
use super::variable::{Context, is_multi_valued, text};

/// Attribute carrying the event's stable id, for consumers to de-duplicate.
pub const EVENT_ID_ATTRIBUTE: &str = "hermes_event_id";
/// Attribute carrying the tag's name.
pub const TAG_ATTRIBUTE: &str = "hermes_tag";
/// Attribute carrying the event name.
pub const EVENT_NAME_ATTRIBUTE: &str = "hermes_event_name";
/// Attribute carrying the item's index within `items[]`, for per-item messages.
pub const ITEM_INDEX_ATTRIBUTE: &str = "hermes_item_index";

/// A message a tag produced, before it is handed to the publisher.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RenderedMessage {
    /// The tag that fired.
    pub tag: String,
    /// `projects/P/topics/T`.
    pub topic: String,
    /// The JSON body.
    pub data: Value,
    /// Message attributes, Hermes' own included.
    pub attributes: BTreeMap<String, String>,
    /// The ordering key, when the tag sets one and it has a value.
    pub ordering_key: Option<String>,
    /// Payload fields left out because their value could not take the field's type.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dropped_fields: Vec<String>,
}

/// Render `tag`'s message for `context` (`item_index` set inside a per-item fan-out).
pub(crate) fn render(
    name: &str,
    tag: &CompiledTag,
    context: &Context<'_>,
    event_id: &str,
    item_index: Option<usize>,
) -> RenderedMessage {
    let in_fan_out = context.item.is_some();
    let mut dropped = Vec::new();
    let data = match &tag.payload {
        CompiledPayload::EventData {
            allow,
            exclude,
            add,
        } => {
            let mut body: Map<String, Value> = context
                .event
                .data
                .iter()
                .filter(|(k, _)| allow.is_empty() || allow.iter().any(|a| a == *k))
                .filter(|(k, _)| !exclude.iter().any(|e| e == *k))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            if let Some(item) = context.item {
                body.insert("item".to_string(), item.clone());
            }
            add_fields(&mut body, add, context, in_fan_out, &mut dropped);
            Value::Object(body)
        }
        CompiledPayload::Fields { fields } => {
            let mut body = Map::with_capacity(fields.len());
            add_fields(&mut body, fields, context, in_fan_out, &mut dropped);
            Value::Object(body)
        }
    };
    let mut attributes = BTreeMap::new();
    for attribute in &tag.attributes {
        if let Some(value) = context.resolve(&attribute.value).first() {
            attributes.insert(attribute.name.clone(), text(value).into_owned());
        }
    }
    attributes.insert(EVENT_ID_ATTRIBUTE.to_string(), event_id.to_string());
    attributes.insert(TAG_ATTRIBUTE.to_string(), name.to_string());
    attributes.insert(
        EVENT_NAME_ATTRIBUTE.to_string(),
        context.event.name().to_string(),
    );
    if let Some(index) = item_index {
        attributes.insert(ITEM_INDEX_ATTRIBUTE.to_string(), index.to_string());
    }
    let ordering_key = tag
        .ordering_key
        .as_ref()
        .and_then(|v| context.resolve(v).first().map(|v| text(v).into_owned()))
        .filter(|k| !k.is_empty());
    RenderedMessage {
        tag: name.to_string(),
        topic: tag.topic.clone(),
        data,
        attributes,
        ordering_key,
        dropped_fields: dropped,
    }
}

fn add_fields(
    body: &mut Map<String, Value>,
    fields: &[CompiledField],
    context: &Context<'_>,
    in_fan_out: bool,
    dropped: &mut Vec<String>,
) {
    for field in fields {
        let values = context.resolve(&field.value);
        let rendered = if is_multi_valued(&field.value, in_fan_out) {
            values
                .iter()
                .map(|v| convert(v, field.type_))
                .collect::<Option<Vec<_>>>()
                .map(Value::Array)
        } else {
            match values.first() {
                Some(v) => convert(v, field.type_),
                None => continue,
            }
        };
        match rendered {
            Some(value) => {
                body.insert(field.key.clone(), value);
            }
            None => dropped.push(field.key.clone()),
        }
    }
}

/// Convert a value to a payload field type; `None` when it cannot take that type.
pub(crate) fn convert(value: &Value, to: FieldType) -> Option<Value> {
    match to {
        FieldType::String => Some(Value::String(text(value).into_owned())),
        FieldType::Integer => match value {
            Value::Bool(b) => Some(Value::from(i64::from(*b))),
            _ => {
                if let Some(i) = value.as_i64() {
                    return Some(Value::from(i));
                }
                let text = text(value);
                if let Ok(i) = text.trim().parse::<i64>() {
                    return Some(Value::from(i));
                }
                let f = number(value)?;
                (f.is_finite() && f.abs() < 9.2e18).then(|| Value::from(f.trunc() as i64))
            }
        },
        FieldType::Number => match value {
            Value::Bool(b) => Some(Value::from(i64::from(*b))),
            Value::Number(n) => Some(Value::Number(n.clone())),
            _ => number(value).and_then(Number::from_f64).map(Value::Number),
        },
        FieldType::Boolean => match value {
            Value::Bool(b) => Some(Value::Bool(*b)),
            Value::Number(n) => match n.as_f64() {
                Some(1.0) => Some(Value::Bool(true)),
                Some(0.0) => Some(Value::Bool(false)),
                _ => None,
            },
            Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
                "true" | "1" => Some(Value::Bool(true)),
                "false" | "0" => Some(Value::Bool(false)),
                _ => None,
            },
            _ => None,
        },
        FieldType::Json => match value {
            Value::String(s) => Some(
                serde_json::from_str::<Value>(s)
                    .ok()
                    .filter(|v| v.is_object() || v.is_array())
                    .unwrap_or_else(|| value.clone()),
            ),
            other => Some(other.clone()),
        },
    }
}
