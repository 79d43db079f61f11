//! Tags, Triggers and LookupTables for tests, built in code the way kube-rs'
//! `controller-rs` builds its test documents: one constructor gives a valid object, chained
//! tweaks change what the test is about, so each test says only what matters to it.
//!
//! ```
//! use hermes_tests::fixtures::{self, TagFixture, TriggerFixture, event_data};
//! let trigger = fixtures::trigger("promo-view").event("view_promotion");
//! let tag = fixtures::tag("promo")
//!     .fired_by("promo-view")
//!     .topic(&fixtures::topic("promotions"))
//!     .field("sku", event_data("sku"));
//! assert_eq!(tag.spec.firing_triggers, ["promo-view"]);
//! # let _ = trigger;
//! ```
//!
//! [`TestNamespace::apply`](crate::TestNamespace::apply) applies them with `kubectl`.

use hermes_crds::api::{
    ConfigMapKeyRef, EventMatch, LookupRow, LookupSource, LookupTable, LookupTableSpec,
    PayloadField, Tag, TagSpec, Trigger, TriggerSpec, Variable,
};

/// The Google Cloud project of every test topic (the emulator accepts any).
pub const PROJECT: &str = "hermes-local";

/// `projects/hermes-local/topics/NAME`.
pub fn topic(name: &str) -> String {
    format!("projects/{PROJECT}/topics/{name}")
}

/// A Tag fired by the Trigger of the same name, publishing the whole event data to the
/// topic of the same name.
pub fn tag(name: &str) -> Tag {
    Tag::new(
        name,
        TagSpec {
            firing_triggers: vec![name.to_owned()],
            topic: topic(name),
            ..TagSpec::default()
        },
    )
}

/// A Trigger that fires on every event.
pub fn trigger(name: &str) -> Trigger {
    Trigger::new(name, TriggerSpec::default())
}

/// An exact-match LookupTable of the event's `sku`, with no rows.
pub fn lookup_table(name: &str) -> LookupTable {
    LookupTable::new(
        name,
        LookupTableSpec {
            input: event_data("sku"),
            ..LookupTableSpec::default()
        },
    )
}

/// The LowStock signal of `examples/low-stock.yaml` that the operator tests share:
/// [`low_stock_signal_trigger`] and [`low_stock_signal_tag`], to apply together.
pub fn low_stock_signal() -> (Trigger, Tag) {
    (low_stock_signal_trigger(), low_stock_signal_tag())
}

/// A Trigger on `LowStock` events…
pub fn low_stock_signal_trigger() -> Trigger {
    trigger("low-stock-signal").event("LowStock")
}

/// …and the Tag it fires, publishing the event's `sku` to `low-stock`.
pub fn low_stock_signal_tag() -> Tag {
    tag("low-stock-signal")
        .topic(&topic("low-stock"))
        .field("sku", event_data("sku"))
}

/// A Tag on `promotions` fired by the `promo-view` Trigger, which
/// [`promo_view_trigger`] provides (tests leave it out to break the Tag).
pub fn promo_tag() -> Tag {
    tag("promo")
        .fired_by("promo-view")
        .topic(&topic("promotions"))
}

/// The Trigger [`promo_tag`] needs: `view_promotion` events.
pub fn promo_view_trigger() -> Trigger {
    trigger("promo-view").event("view_promotion")
}

/// A variable reading event data by key or path.
pub fn event_data(path: &str) -> Variable {
    Variable {
        event_data: Some(path.to_owned()),
        ..Variable::default()
    }
}

/// A literal variable.
pub fn constant(value: &str) -> Variable {
    Variable {
        constant: Some(value.into()),
        ..Variable::default()
    }
}

/// Tweaks of a fixture Tag.
pub trait TagFixture {
    /// Fired by this Trigger alone.
    fn fired_by(self, trigger: &str) -> Self;
    /// Publishes to this topic path (see [`topic`]).
    fn topic(self, topic: &str) -> Self;
    /// Sets payload field `key`, in place of one of the same key or after the others (the
    /// payload then holds only its fields).
    fn field(self, key: &str, value: Variable) -> Self;
}

impl TagFixture for Tag {
    fn fired_by(mut self, trigger: &str) -> Self {
        self.spec.firing_triggers = vec![trigger.to_owned()];
        self
    }

    fn topic(mut self, topic: &str) -> Self {
        topic.clone_into(&mut self.spec.topic);
        self
    }

    fn field(mut self, key: &str, value: Variable) -> Self {
        let fields = self.spec.payload.fields.get_or_insert_with(Vec::new);
        match fields.iter_mut().find(|field| field.key == key) {
            Some(field) => field.value = value,
            None => fields.push(PayloadField {
                key: key.to_owned(),
                value,
                type_: Default::default(),
            }),
        }
        self
    }
}

/// Tweaks of a fixture Trigger.
pub trait TriggerFixture {
    /// Fires only on events of this name.
    fn event(self, name: &str) -> Self;
    /// Fires on events whose name matches this regular expression.
    fn event_regex(self, regex: &str) -> Self;
}

impl TriggerFixture for Trigger {
    fn event(mut self, name: &str) -> Self {
        self.spec.event = Some(EventMatch {
            name: Some(name.to_owned()),
            ..EventMatch::default()
        });
        self
    }

    fn event_regex(mut self, regex: &str) -> Self {
        self.spec.event = Some(EventMatch {
            regex: Some(regex.to_owned()),
            ..EventMatch::default()
        });
        self
    }
}

/// Tweaks of a fixture LookupTable.
pub trait LookupTableFixture {
    /// Looks up this variable.
    fn input(self, input: Variable) -> Self;
    /// Adds an inline row with a string value.
    fn row(self, key: &str, value: &str) -> Self;
    /// Keeps its rows (CSV) in `key` of ConfigMap `config_map`.
    fn source(self, config_map: &str, key: &str) -> Self;
}

impl LookupTableFixture for LookupTable {
    fn input(mut self, input: Variable) -> Self {
        self.spec.input = input;
        self
    }

    fn row(mut self, key: &str, value: &str) -> Self {
        self.spec.rows.push(LookupRow {
            key: key.to_owned(),
            value: Some(value.into()),
            json: None,
        });
        self
    }

    fn source(mut self, config_map: &str, key: &str) -> Self {
        self.spec.source = Some(LookupSource {
            config_map_key_ref: ConfigMapKeyRef {
                name: config_map.to_owned(),
                key: key.to_owned(),
            },
            format: Default::default(),
        });
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tag_serializes_as_the_manifest_a_person_would_write() {
        let tag = low_stock_signal_tag();
        let json = serde_json::to_value(&tag).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "apiVersion": "hermes.io/v1alpha1",
                "kind": "Tag",
                "metadata": {"name": "low-stock-signal"},
                "spec": {
                    "firingTriggers": ["low-stock-signal"],
                    "topic": "projects/hermes-local/topics/low-stock",
                    "payload": {"fields": [
                        {"key": "sku", "value": {"eventData": "sku"}, "type": "string"}
                    ]},
                },
            })
        );
    }

    #[test]
    fn setting_a_tag_field_again_replaces_it_in_place() {
        let tag = low_stock_signal_tag()
            .field("source", constant("signal"))
            .field("sku", event_data("item_sku"));
        let fields = tag.spec.payload.fields.unwrap();
        let keys: Vec<_> = fields.iter().map(|f| f.key.as_str()).collect();
        assert_eq!(keys, ["sku", "source"]);
        assert_eq!(fields[0].value, event_data("item_sku"));
    }

    #[test]
    fn lookup_table_tweaks_set_input_rows_and_source() {
        let table = lookup_table("stock")
            .input(event_data("colour"))
            .row("red", "#f00")
            .source("stock-src", "rows.csv");
        assert_eq!(table.spec.input.event_data.as_deref(), Some("colour"));
        assert_eq!(table.spec.rows[0].key, "red");
        assert_eq!(table.spec.rows[0].value, Some("#f00".into()));
        let source = table.spec.source.unwrap();
        assert_eq!(source.config_map_key_ref.name, "stock-src");
        assert_eq!(source.config_map_key_ref.key, "rows.csv");
    }
}
