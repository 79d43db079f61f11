//! The `events` part of a body: each event's name, parameters and items.

use serde_json::{Map, Value};

use super::path::FieldPath;
use super::{
    MAX_CUSTOM_ITEM_PARAMS, MAX_EVENTS, MAX_ITEMS, MAX_PARAM_VALUE, MAX_PARAMS, Validator,
};
use crate::collect::mp::body::Entry;
use crate::collect::mp::dropped::Part;
use crate::collect::mp::messages::ValidationCode as Code;
use crate::collect::mp::names::{NameKind, check_name};

/// GA4's item keys; any other item key is a custom item parameter.
const ITEM_KEYS: [&str; 22] = [
    "item_id",
    "item_name",
    "affiliation",
    "coupon",
    "discount",
    "index",
    "item_brand",
    "item_category",
    "item_category2",
    "item_category3",
    "item_category4",
    "item_category5",
    "item_list_id",
    "item_list_name",
    "item_variant",
    "location_id",
    "price",
    "quantity",
    "promotion_id",
    "promotion_name",
    "creative_name",
    "creative_slot",
];

impl Validator {
    pub(super) fn check_events(&mut self, events: Option<Entry<'_>>) {
        let Some(events) = events else {
            self.report(
                "events",
                Code::ValueRequired,
                "events is required: send at least one event.",
            );
            return;
        };
        let Some(list) = events.value.as_array() else {
            self.report(
                "events",
                Code::ValueInvalid,
                "events must be an array of event objects.",
            );
            return;
        };
        if list.is_empty() {
            self.report(
                "events",
                Code::ValueRequired,
                "events is empty: send at least one event.",
            );
        }
        self.check_count("events", "The request", list.len(), "events", MAX_EVENTS);
        for (index, event) in list.iter().enumerate() {
            self.part = Part::Event(index);
            self.check_event(index, event);
        }
        self.part = Part::Request;
    }

    fn check_event(&mut self, index: usize, event: &Value) {
        let events = FieldPath::Root("events");
        let path = events.index(index);
        let Some(object) = event.as_object() else {
            self.report(
                path,
                Code::ValueInvalid,
                "An event must be an object with a name and params.",
            );
            return;
        };
        let mut name_seen = false;
        for (key, value) in object {
            let field_path = path.key(key);
            match key.as_str() {
                "name" => {
                    name_seen = true;
                    match value.as_str() {
                        // Google reports event names at `events`, naming the index.
                        Some(name) => {
                            if let Some(problem) = check_name(NameKind::Event, name) {
                                self.report(
                                    "events",
                                    problem.code,
                                    format!(
                                        "Event at index: [{index}] has invalid name [{name}]. {}",
                                        problem.rule
                                    ),
                                );
                            }
                        }
                        None => self.report(
                            field_path,
                            Code::ValueInvalid,
                            "The event name must be a string.",
                        ),
                    }
                }
                "params" => self.check_params(index, field_path, value),
                "timestamp_micros" | "timestampMicros" => self.check_timestamp(field_path, value),
                // Google cannot read such a payload at all: the whole request fails.
                _ => self.report_unparsable(format!("({path}) {key}: Cannot find field.")),
            }
        }
        if !name_seen {
            self.report(
                path.key("name"),
                Code::ValueRequired,
                "The event has no name.",
            );
        }
    }

    fn check_params(&mut self, event: usize, path: FieldPath<'_>, params: &Value) {
        let Some(object) = params.as_object() else {
            self.report(
                path,
                Code::ValueInvalid,
                "params must be an object of parameter names and values.",
            );
            return;
        };
        self.check_count(path, "The event", object.len(), "parameters", MAX_PARAMS);
        for (name, value) in object {
            self.part = Part::Parameter {
                event,
                name: name.clone(),
            };
            let param_path = path.key(name);
            if let Some(problem) = check_name(NameKind::Param, name) {
                let description = problem.describe(NameKind::Param, name);
                self.report(param_path, problem.code, description);
            }
            if name == "items" {
                self.check_items(event, param_path, value);
            } else {
                self.check_value(
                    param_path,
                    "Parameter",
                    name,
                    value,
                    param_value_limit(name),
                );
            }
        }
        self.part = Part::Event(event);
    }

    /// A parameter or item value: a string within `limit` characters, a number, a
    /// boolean or null.
    fn check_value(
        &mut self,
        path: FieldPath<'_>,
        what: &str,
        name: &str,
        value: &Value,
        limit: usize,
    ) {
        match value {
            Value::String(text) => {
                let length = text.chars().count();
                if length > limit {
                    self.report(
                        path,
                        Code::ValueOutOfBounds,
                        format!("{what} \"{name}\" value is {length} characters; the maximum is {limit}."),
                    );
                }
            }
            Value::Array(_) | Value::Object(_) => self.report(
                path,
                Code::ValueInvalid,
                format!("{what} \"{name}\" must be a string, number or boolean."),
            ),
            _ => {}
        }
    }

    fn check_items(&mut self, event: usize, path: FieldPath<'_>, items: &Value) {
        let Some(list) = items.as_array() else {
            self.report(
                path,
                Code::ValueInvalid,
                "items must be an array of item objects.",
            );
            return;
        };
        self.check_count(path, "The event", list.len(), "items", MAX_ITEMS);
        let items_part = std::mem::replace(&mut self.part, Part::Request);
        for (index, item) in list.iter().enumerate() {
            self.part = Part::Item { event, index };
            let item_path = path.index(index);
            let Some(object) = item.as_object() else {
                self.report(item_path, Code::ValueInvalid, "An item must be an object.");
                continue;
            };
            self.check_item(item_path, object);
        }
        self.part = items_part;
    }

    fn check_item(&mut self, path: FieldPath<'_>, item: &Map<String, Value>) {
        let names_item = |key: &str| item.get(key).is_some_and(|v| !v.is_null() && v != "");
        if !names_item("item_id") && !names_item("item_name") {
            self.report(
                path,
                Code::ValueRequired,
                "The item needs item_id or item_name.",
            );
        }
        let custom = item
            .keys()
            .filter(|k| !ITEM_KEYS.contains(&k.as_str()))
            .count();
        self.check_count(
            path,
            "The item",
            custom,
            "custom parameters",
            MAX_CUSTOM_ITEM_PARAMS,
        );
        for (key, value) in item {
            let key_path = path.key(key);
            if !ITEM_KEYS.contains(&key.as_str())
                && let Some(problem) = check_name(NameKind::ItemParam, key)
            {
                let description = problem.describe(NameKind::ItemParam, key);
                self.report(key_path, problem.code, description);
            }
            self.check_value(key_path, "Item parameter", key, value, MAX_PARAM_VALUE);
        }
    }
}

/// The value limit of a parameter: the page fields are longer than the rest.
fn param_value_limit(name: &str) -> usize {
    match name {
        "page_location" => 1000,
        "page_referrer" => 420,
        "page_title" => 300,
        _ => MAX_PARAM_VALUE,
    }
}
