//! Synthetic scopes of many Tags, each with its own Trigger, shaped like `examples/`: what
//! the compile benchmark, the operator scale test and `operator-scale` measure with.
//!
//! Why here: the benchmark (this crate), the end-to-end scale test and the scale driver
//! (`hermes-tests`) must measure the same objects, and the compiler is the one crate all
//! of them depend on. Deterministic: pair `i` is always the same two objects.
//!
//! Pair `i` is Tag `tag-<i>` fired by Trigger `trigger-<i>`, in one of four shapes, by
//! `i % 4`:
//! 0. a purchase with a promoted item → one message per promoted item (promotions.yaml);
//! 1. a named signal event → a two-field message (low-stock.yaml's `LowStock`);
//! 2. a Measurement Protocol purchase with two conditions → the whole event minus two
//!    keys plus one (server-to-server.yaml);
//! 3. event names matching a regex, with a `matchesRegex` condition → three fields.
//!
//! Event names repeat every 200 pairs and topics every 10, as in a real container where
//! many tags listen to the same few events.

use serde_json::{Value, json};

use hermes_crds::api::{Tag, Trigger};

use crate::compile::Resources;

/// The name of the Tag of pair `i`.
pub fn tag_name(i: usize) -> String {
    format!("tag-{i:05}")
}

/// The name of the Trigger of pair `i`.
pub fn trigger_name(i: usize) -> String {
    format!("trigger-{i:05}")
}

/// The event name pair `i`'s Trigger listens to (shapes 0-2; shape 3 matches a regex
/// that includes it).
pub fn event_name(i: usize) -> String {
    format!("event_{:03}", i % 200)
}

/// `count` Tag + Trigger pairs publishing to topics of Google Cloud project `project`.
pub fn pairs(count: usize, project: &str) -> Result<Resources, serde_json::Error> {
    let mut resources = Resources::default();
    resources.tags.reserve(count);
    resources.triggers.reserve(count);
    for i in 0..count {
        resources.triggers.push(trigger(i)?);
        resources.tags.push(tag(i, project)?);
    }
    Ok(resources)
}

/// The Trigger of pair `i`.
pub fn trigger(i: usize) -> Result<Trigger, serde_json::Error> {
    let event = event_name(i);
    let spec = match i % 4 {
        0 => json!({
            "event": {"name": event},
            "conditions": [{"variable": {"item": "promotion_id"}, "operator": "notEmpty"}],
        }),
        1 => json!({"event": {"name": event}}),
        2 => json!({
            "client": "measurementProtocol",
            "event": {"name": event},
            "conditions": [
                {"variable": {"eventData": "client_id"}, "operator": "notEmpty"},
                {"variable": {"eventData": "ga_session_id"}, "operator": "exists"},
            ],
        }),
        _ => json!({
            "event": {"regex": format!("{event}|{event}_(start|end)")},
            "conditions": [{
                "variable": {"eventData": "page_location"},
                "operator": "matchesRegex",
                "value": format!("^https://shop\\.example/c/{i}/"),
            }],
        }),
    };
    serde_json::from_value(object("Trigger", &trigger_name(i), spec))
}

/// The Tag of pair `i`, version 1 (see [`tag_version`]).
pub fn tag(i: usize, project: &str) -> Result<Tag, serde_json::Error> {
    tag_version(i, project, 1)
}

/// The Tag of pair `i` with a constant field `version`: changing it changes the Tag's
/// spec (a new generation) without changing what it fires on.
pub fn tag_version(i: usize, project: &str, version: u64) -> Result<Tag, serde_json::Error> {
    let topic = format!("projects/{project}/topics/scale-{}", i % 10);
    let field = |key: &str, value: Value| json!({"key": key, "value": value});
    let version_field = field("version", json!({"constant": version.to_string()}));
    let spec = match i % 4 {
        0 => json!({
            "firingTriggers": [trigger_name(i)],
            "topic": topic,
            "perItem": {
                "conditions": [{"variable": {"item": "promotion_id"}, "operator": "notEmpty"}],
            },
            "payload": {"fields": [
                field("transaction_id", json!({"eventData": "transaction_id"})),
                {"key": "value", "value": {"eventData": "value"}, "type": "number"},
                field("currency", json!({"eventData": "currency"})),
                field("item_id", json!({"item": "item_id"})),
                field("promotion_id", json!({"item": "promotion_id"})),
                field("promotion_name", json!({"item": "promotion_name"})),
                version_field,
            ]},
            "attributes": [{"name": "event_name", "value": {"eventData": "event_name"}}],
            "orderingKey": {"eventData": "transaction_id"},
        }),
        1 => json!({
            "firingTriggers": [trigger_name(i)],
            "topic": topic,
            "payload": {"fields": [
                field("sku", json!({"eventData": "sku"})),
                field("source", json!({"constant": "signal"})),
                version_field,
            ]},
        }),
        2 => json!({
            "firingTriggers": [trigger_name(i)],
            "topic": topic,
            "payload": {"eventData": {
                "exclude": ["ip_override", "user_agent"],
                "add": [field("source", json!({"constant": "shop-backend"})), version_field],
            }},
        }),
        _ => json!({
            "firingTriggers": [trigger_name(i)],
            "topic": topic,
            "payload": {"fields": [
                field("page", json!({"eventData": "page_location"})),
                field("client", json!({"eventData": "client_id"})),
                version_field,
            ]},
            "consent": {"analyticsStorage": true},
        }),
    };
    serde_json::from_value(object("Tag", &tag_name(i), spec))
}

fn object(kind: &str, name: &str, spec: Value) -> Value {
    json!({
        "apiVersion": "hermes.io/v1alpha1",
        "kind": kind,
        "metadata": {"name": name},
        "spec": spec,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compile::compile;

    #[test]
    fn every_shape_compiles_without_diagnostics() {
        let resources = pairs(8, "hermes-local").unwrap();
        let output = compile("scale", &resources);
        assert_eq!(output.diagnostics, []);
        assert_eq!(output.config.tags.len(), 8);
        assert_eq!(output.config.triggers.len(), 8);
        assert!(output.objects.iter().all(|o| o.accepted));
    }

    #[test]
    fn a_new_tag_version_changes_the_config_hash() {
        let mut resources = pairs(4, "hermes-local").unwrap();
        let before = compile("scale", &resources).config;
        resources.tags[1] = tag_version(1, "hermes-local", 2).unwrap();
        let after = compile("scale", &resources).config;
        assert_eq!(after.tags.len(), 4);
        assert_ne!(after.tags["tag-00001"], before.tags["tag-00001"]);
        assert_ne!(after.hash, before.hash);
    }
}
