//! Rendering a firing tag's message: payload with typed fields, attributes, ordering key.

use std::borrow::Cow;
use std::collections::BTreeMap;

use hermes_compiler::config::{CompiledField, CompiledPayload, CompiledTag};
use hermes_crds::api::FieldType;
use serde_json::value::RawValue;
use serde_json::{Number, Value};

use super::condition::number;
use super::variable::{Context, is_multi_valued, text};
use crate::event::EventData;

/// Attribute carrying the event's stable id, for consumers to de-duplicate.
pub const EVENT_ID_ATTRIBUTE: &str = "hermes_event_id";
/// Attribute carrying the tag's name.
pub const TAG_ATTRIBUTE: &str = "hermes_tag";
/// Attribute carrying the event name.
pub const EVENT_NAME_ATTRIBUTE: &str = "hermes_event_name";
/// Attribute carrying the item's index within `items[]`, for per-item messages.
pub const ITEM_INDEX_ATTRIBUTE: &str = "hermes_item_index";

/// A message's JSON body, rendered once, as it is published: the bytes go to the
/// publisher as they are, and a trace (sGTM preview) embeds them as JSON.
#[derive(Clone, serde::Serialize)]
#[serde(transparent)]
pub struct MessageData(Box<RawValue>);

impl MessageData {
    /// The body of `value` (tests, tools).
    pub fn of(value: &Value) -> Self {
        MessageData(serialized(value))
    }

    /// The body as JSON text.
    pub fn json(&self) -> &str {
        self.0.get()
    }

    /// The body parsed, for reading fields (the `hermes test` runner, tests); the
    /// publishing path never parses it.
    pub fn value(&self) -> Value {
        // The text was written by serde_json: it parses.
        serde_json::from_str(self.0.get()).unwrap_or(Value::Null)
    }

    /// The bytes to publish, without a copy.
    pub fn into_bytes(self) -> bytes::Bytes {
        bytes::Bytes::from(String::from(Box::<str>::from(self.0)))
    }
}

impl PartialEq for MessageData {
    fn eq(&self, other: &Self) -> bool {
        self.json() == other.json()
    }
}

impl std::fmt::Debug for MessageData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.json())
    }
}

impl std::fmt::Display for MessageData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.json())
    }
}

/// `value` as JSON. Serializing string-keyed maps and `Value`s into a `String` cannot
/// fail; should it, the body is `null` rather than a lost message.
fn serialized(value: &impl serde::Serialize) -> Box<RawValue> {
    serde_json::value::to_raw_value(value)
        .unwrap_or_else(|_| serde_json::value::to_raw_value(&Value::Null).unwrap_or_default())
}

/// A message a tag produced, before it is handed to the publisher.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RenderedMessage {
    /// The tag that fired.
    pub tag: String,
    /// `projects/P/topics/T`.
    pub topic: String,
    /// The JSON body.
    pub data: MessageData,
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
            let mut fields = Fields::default();
            if let Some(item) = context.item {
                fields.set("item", Cow::Borrowed(item));
            }
            add_fields(&mut fields, add, context, in_fan_out, &mut dropped);
            serialized(&Body {
                event: Some(EventDataBody {
                    data: &context.event.data,
                    allow,
                    exclude,
                }),
                fields: &fields.0,
            })
        }
        CompiledPayload::Fields { fields: compiled } => {
            let mut fields = Fields::default();
            add_fields(&mut fields, compiled, context, in_fan_out, &mut dropped);
            serialized(&Body {
                event: None,
                fields: &fields.0,
            })
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
        data: MessageData(data),
        attributes,
        ordering_key,
        dropped_fields: dropped,
    }
}

/// The body's own fields, in the order first set; setting a key again replaces its
/// value in place (as a JSON object's insert does). Values are borrowed from the event
/// where a field takes them as they are: the body is serialized, never built.
#[derive(Default)]
struct Fields<'k, 'v>(Vec<(&'k str, Cow<'v, Value>)>);

impl<'k, 'v> Fields<'k, 'v> {
    fn set(&mut self, key: &'k str, value: Cow<'v, Value>) {
        match self.0.iter_mut().find(|(k, _)| *k == key) {
            Some((_, slot)) => *slot = value,
            None => self.0.push((key, value)),
        }
    }
}

/// The event data an `eventData` payload passes on, filtered.
struct EventDataBody<'a> {
    data: &'a EventData,
    allow: &'a [String],
    exclude: &'a [String],
}

impl EventDataBody<'_> {
    fn passes(&self, key: &str) -> bool {
        (self.allow.is_empty() || self.allow.iter().any(|a| a == key))
            && !self.exclude.iter().any(|e| e == key)
    }
}

/// A payload as one JSON object: the event data passed on (each key in its place, with
/// the value of a field of the same key, if any), then the fields the event data did not
/// have. The same object, key for key and in the same order, as inserting each field
/// into a copy of the filtered event data gives.
struct Body<'a, 'k, 'v> {
    event: Option<EventDataBody<'a>>,
    fields: &'a [(&'k str, Cow<'v, Value>)],
}

impl serde::Serialize for Body<'_, '_, '_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let field = |key: &str| self.fields.iter().find(|(k, _)| *k == key);
        let mut map = serializer.serialize_map(None)?;
        if let Some(event) = &self.event {
            for (key, value) in event.data.iter().filter(|(k, _)| event.passes(k)) {
                let value: &Value = field(key).map_or(value, |(_, own)| own);
                map.serialize_entry(key, value)?;
            }
        }
        for (key, value) in self.fields {
            let written = self
                .event
                .as_ref()
                .is_some_and(|event| event.passes(key) && event.data.contains_key(*key));
            if !written {
                map.serialize_entry(key, value)?;
            }
        }
        map.end()
    }
}

fn add_fields<'k, 'v>(
    body: &mut Fields<'k, 'v>,
    fields: &'k [CompiledField],
    context: &Context<'v>,
    in_fan_out: bool,
    dropped: &mut Vec<String>,
) {
    for field in fields {
        let values = context.resolve(&field.value);
        let rendered = if is_multi_valued(&field.value, in_fan_out) {
            values
                .into_iter()
                .map(|v| convert_value(v, field.type_).map(Cow::into_owned))
                .collect::<Option<Vec<_>>>()
                .map(|values| Cow::Owned(Value::Array(values)))
        } else {
            match values.into_iter().next() {
                Some(v) => convert_value(v, field.type_),
                None => continue,
            }
        };
        match rendered {
            Some(value) => body.set(&field.key, value),
            None => dropped.push(field.key.clone()),
        }
    }
}

/// [`convert`], keeping a value that already has the field's type as it is (borrowed
/// from the event when it was).
fn convert_value(value: Cow<'_, Value>, to: FieldType) -> Option<Cow<'_, Value>> {
    let kept = match (to, value.as_ref()) {
        (FieldType::String, Value::String(_))
        | (FieldType::Number, Value::Number(_))
        | (FieldType::Boolean, Value::Bool(_)) => true,
        (FieldType::Integer, Value::Number(n)) => n.is_i64(),
        (FieldType::Json, v) => !v.is_string(),
        _ => false,
    };
    if kept {
        return Some(value);
    }
    convert(&value, to).map(Cow::Owned)
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
