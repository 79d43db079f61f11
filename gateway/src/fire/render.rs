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
    let mut fields = Fields::default();
    let (event, compiled) = match &tag.payload {
        CompiledPayload::EventData {
            allow,
            exclude,
            add,
        } => {
            if let Some(item) = context.item {
                fields.set("item", Cow::Borrowed(item));
            }
            let event = EventDataBody {
                data: &context.event.data,
                allow,
                exclude,
            };
            (Some(event), add.as_slice())
        }
        CompiledPayload::Fields { fields } => (None, fields.as_slice()),
    };
    add_fields(&mut fields, compiled, context, in_fan_out, &mut dropped);
    let data = serialized(&Body {
        event,
        fields: &fields.0,
    });
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
                .map(|v| convert(v, field.type_).map(Cow::into_owned))
                .collect::<Option<Vec<_>>>()
                .map(|values| Cow::Owned(Value::Array(values)))
        } else {
            match values.into_iter().next() {
                Some(v) => convert(v, field.type_),
                None => continue,
            }
        };
        match rendered {
            Some(value) => body.set(&field.key, value),
            None => dropped.push(field.key.clone()),
        }
    }
}

/// Convert a value to a payload field type; `None` when it cannot take that type. A value
/// that already has the type is kept as it is (borrowed from the event when it was).
fn convert(value: Cow<'_, Value>, to: FieldType) -> Option<Cow<'_, Value>> {
    let converted = match to {
        FieldType::String => match value.as_ref() {
            Value::String(_) => return Some(value),
            other => Value::String(text(other).into_owned()),
        },
        FieldType::Integer => match value.as_ref() {
            Value::Number(n) if n.is_i64() => return Some(value),
            Value::Bool(b) => Value::from(i64::from(*b)),
            other => {
                if let Ok(i) = text(other).trim().parse::<i64>() {
                    Value::from(i)
                } else {
                    let f = number(other)?;
                    if !(f.is_finite() && f.abs() < 9.2e18) {
                        return None;
                    }
                    Value::from(f.trunc() as i64)
                }
            }
        },
        FieldType::Number => match value.as_ref() {
            Value::Number(_) => return Some(value),
            Value::Bool(b) => Value::from(i64::from(*b)),
            other => Value::Number(number(other).and_then(Number::from_f64)?),
        },
        FieldType::Boolean => match value.as_ref() {
            Value::Bool(_) => return Some(value),
            Value::Number(n) => match n.as_f64() {
                Some(1.0) => Value::Bool(true),
                Some(0.0) => Value::Bool(false),
                _ => return None,
            },
            Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
                "true" | "1" => Value::Bool(true),
                "false" | "0" => Value::Bool(false),
                _ => return None,
            },
            _ => return None,
        },
        FieldType::Json => match value.as_ref() {
            // A string holding an object or array is that JSON; any other value is kept.
            Value::String(s) => match serde_json::from_str::<Value>(s) {
                Ok(parsed) if parsed.is_object() || parsed.is_array() => parsed,
                _ => return Some(value),
            },
            _ => return Some(value),
        },
    };
    Some(Cow::Owned(converted))
}
