//! Resolving variables against one event: every variable yields zero or more values.

use std::borrow::Cow;

use hermes_compiler::config::{CompiledVariable, PathSegment};
use hermes_crds::api::{MatchType, RequestProperty};
use serde_json::Value;
use smallvec::{SmallVec, smallvec};

use super::prepare::{PreparedConfig, PreparedTable};
use crate::event::{Event, EventData, RequestInfo};

/// The evaluation context: what a variable is resolved against (the config, the event,
/// the request, and the item inside a per-item fan-out). Not a "scope", which in Hermes
/// means a namespace.
#[derive(Clone, Copy)]
pub(crate) struct Context<'a> {
    pub config: &'a PreparedConfig,
    pub event: &'a Event,
    pub request: &'a RequestInfo,
    /// The item being sent, inside a per-item fan-out.
    pub item: Option<&'a Value>,
}

/// Zero or more values. Most variables give at most one, kept inline: a variable is
/// resolved for every condition and payload field of every firing event.
pub(crate) type Values<'a> = SmallVec<[Cow<'a, Value>; 1]>;

impl<'a> Context<'a> {
    /// The context for one item of a fan-out.
    pub fn with_item(self, item: &'a Value) -> Self {
        Context {
            item: Some(item),
            ..self
        }
    }

    /// Resolve `variable` to its values.
    pub fn resolve(&self, variable: &CompiledVariable) -> Values<'a> {
        let owned = |s: &str| text_value(s.into());
        match variable {
            CompiledVariable::EventData { path } => {
                let mut out = Values::new();
                walk_object(&self.event.data, path, &mut out);
                out
            }
            CompiledVariable::Item { key } => match self.item {
                Some(item) => item.get(key).map(Cow::Borrowed).into_iter().collect(),
                None => self
                    .event
                    .data
                    .get("items")
                    .and_then(Value::as_array)
                    .map(|items| {
                        items
                            .iter()
                            .filter_map(|i| i.get(key))
                            .map(Cow::Borrowed)
                            .collect()
                    })
                    .unwrap_or_default(),
            },
            CompiledVariable::RequestHeader { name } => {
                self.request.header(name).map(owned).unwrap_or_default()
            }
            CompiledVariable::QueryParameter { name } => self
                .request
                .query_parameter(name)
                .map(text_value)
                .unwrap_or_default(),
            CompiledVariable::Cookie { name } => self
                .request
                .cookie(name)
                .map(text_value)
                .unwrap_or_default(),
            CompiledVariable::Request { property } => match property {
                RequestProperty::ClientIp => self
                    .request
                    .client_ip
                    .map(|ip| owned(&ip.to_string()))
                    .unwrap_or_default(),
                RequestProperty::UserAgent => {
                    self.request.user_agent().map(owned).unwrap_or_default()
                }
                RequestProperty::Path => owned(&self.request.path),
                RequestProperty::Method => owned(&self.request.method),
                RequestProperty::Client => owned(self.event.client.as_str()),
            },
            CompiledVariable::Constant { value } => owned(value),
            CompiledVariable::LookupTable { name } => match self.config.tables.get(name) {
                Some(table) => self.look_up(table),
                None => Values::new(),
            },
        }
    }

    fn look_up(&self, table: &'a PreparedTable) -> Values<'a> {
        let inputs = self.resolve(&table.input);
        if inputs.is_empty() {
            return table.default.iter().map(Cow::Borrowed).collect();
        }
        inputs
            .iter()
            .filter_map(|input| {
                let key = text(input);
                let found = match table.match_type {
                    MatchType::Exact => table.exact.get(key.as_ref()).map(Cow::Borrowed),
                    MatchType::CaseInsensitive => {
                        table.exact.get(&key.to_lowercase()).map(Cow::Borrowed)
                    }
                    MatchType::Regex => regex_row(table, &key),
                };
                found.or_else(|| table.default.as_ref().map(Cow::Borrowed))
            })
            .collect()
    }
}

/// The first regex row matching `key`, with `$1`… in string outputs replaced by captures.
fn regex_row<'a>(table: &'a PreparedTable, key: &str) -> Option<Cow<'a, Value>> {
    table.patterns.iter().find_map(|(re, value)| {
        let captures = re.captures(key)?;
        Some(match value {
            Value::String(s) if s.contains('$') => {
                let mut expanded = String::new();
                captures.expand(s, &mut expanded);
                Cow::Owned(Value::String(expanded))
            }
            _ => Cow::Borrowed(value),
        })
    })
}

/// One text value (a header, a query parameter, a cookie, a request property) as a
/// variable's values.
fn text_value<'v>(text: Cow<'_, str>) -> Values<'v> {
    smallvec![Cow::Owned(Value::String(text.into_owned()))]
}

fn walk_object<'a>(data: &'a EventData, path: &[PathSegment], out: &mut Values<'a>) {
    let Some((first, rest)) = path.split_first() else {
        return;
    };
    if let PathSegment::Key(key) = first
        && let Some(value) = data.get(key.as_str())
    {
        walk(value, rest, out);
    }
}

fn walk<'a>(value: &'a Value, path: &[PathSegment], out: &mut Values<'a>) {
    let Some((first, rest)) = path.split_first() else {
        out.push(Cow::Borrowed(value));
        return;
    };
    match (first, value) {
        (PathSegment::Key(key), Value::Object(map)) => {
            if let Some(v) = map.get(key) {
                walk(v, rest, out);
            }
        }
        (PathSegment::Key(key), Value::Array(items)) => {
            if let Some(v) = key.parse::<usize>().ok().and_then(|i| items.get(i)) {
                walk(v, rest, out);
            }
        }
        (PathSegment::Index(i), Value::Array(items)) => {
            if let Some(v) = items.get(*i) {
                walk(v, rest, out);
            }
        }
        (PathSegment::Each, Value::Array(items)) => {
            for v in items {
                walk(v, rest, out);
            }
        }
        _ => {}
    }
}

/// Whether a variable can give several values (rendered as an array in payloads).
pub(crate) fn is_multi_valued(variable: &CompiledVariable, in_fan_out: bool) -> bool {
    match variable {
        CompiledVariable::EventData { path } => path.contains(&PathSegment::Each),
        CompiledVariable::Item { .. } => !in_fan_out,
        _ => false,
    }
}

/// A value as text, the way GTM compares values: strings as they are, numbers and
/// booleans in their JSON form, null as "", objects and arrays as JSON.
pub(crate) fn text(value: &Value) -> Cow<'_, str> {
    match value {
        Value::String(s) => Cow::Borrowed(s),
        Value::Null => Cow::Borrowed(""),
        other => Cow::Owned(other.to_string()),
    }
}
