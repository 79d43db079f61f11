//! Tags: trigger references, topic, attributes, payloads, fan-out, consent, pause, index.

use std::collections::BTreeMap;

use super::*;
use crate::config::{CompiledField, CompiledPayload, CompiledTag, CompiledVariable, PathSegment};
use hermes_crds::api::FieldType;

/// Triggers every tag test can name: `purchase` (by name), `promo` (by condition on any
/// event), `internal` (by header).
fn triggers() -> Vec<Trigger> {
    vec![
        trigger("purchase", "{event: {name: purchase}}"),
        trigger("views", "{event: {names: [view_item, view_cart]}}"),
        trigger(
            "promo",
            "{conditions: [{variable: {item: promotion_id}, operator: notEmpty}]}",
        ),
        trigger("by-regex", "{event: {regex: 'add_.*'}}"),
        trigger(
            "internal",
            "{conditions: [{variable: {requestHeader: x-internal}, operator: exists}]}",
        ),
    ]
}

/// A lookup table `by-item` whose input is an item key, and `by-sku` on event data.
fn tables() -> Vec<LookupTable> {
    vec![
        table(
            "by-item",
            "{input: {item: item_id}, rows: [{key: a, value: '1'}]}",
        ),
        table(
            "by-sku",
            "{input: {eventData: sku}, rows: [{key: a, value: '1'}]}",
        ),
    ]
}

/// Compile tag `t` with this spec against [`triggers`] and [`tables`].
fn output(spec: &str) -> CompileOutput {
    run_objects(vec![tag("t", spec)], triggers(), tables())
}

/// The compiled tag `t`, failing on any diagnostic.
fn compiled(spec: &str) -> CompiledTag {
    let output = output(spec);
    assert_eq!(output.diagnostics, vec![], "{spec}");
    output.config.tags["t"].clone()
}

/// The one diagnostic of tag `t`, which must be dropped.
fn refused(spec: &str) -> (String, String, String, String) {
    let output = output(spec);
    assert!(output.config.tags.is_empty(), "{spec} should be dropped");
    only_problem(&output)
}

/// A tag spec firing on `purchase` to a valid topic, plus `rest` (YAML mapping entries).
fn spec(rest: &str) -> String {
    let rest = if rest.is_empty() {
        String::new()
    } else {
        format!(", {rest}")
    };
    format!("{{firingTriggers: [purchase], topic: {TOPIC}{rest}}}")
}

#[test]
fn minimal_tag_sends_the_whole_event_once_per_event() {
    let tag = compiled(&spec(""));
    assert_eq!(tag.generation, Some(1));
    assert_eq!(tag.firing_triggers, vec!["purchase"]);
    assert_eq!(tag.blocking_triggers, Vec::<String>::new());
    assert_eq!(tag.topic, TOPIC);
    assert_eq!(
        tag.payload,
        CompiledPayload::EventData {
            allow: vec![],
            exclude: vec![],
            add: vec![]
        }
    );
    assert_eq!(tag.per_item, None);
    assert_eq!(tag.ordering_key, None);
    assert!(!tag.require_ad_storage && !tag.require_analytics_storage && !tag.paused);
}

#[test]
fn firing_and_blocking_triggers_are_sorted_and_unique() {
    let tag = compiled(&format!(
        "{{firingTriggers: [purchase, by-regex, purchase], blockingTriggers: [internal, promo], topic: {TOPIC}}}"
    ));
    assert_eq!(tag.firing_triggers, vec!["by-regex", "purchase"]);
    assert_eq!(tag.blocking_triggers, vec!["internal", "promo"]);
}

#[test]
fn missing_firing_trigger_is_trigger_not_found() {
    assert_eq!(
        refused(&format!(
            "{{firingTriggers: [purchase, promos], topic: {TOPIC}}}"
        )),
        expect(
            "Tag/t",
            "spec.firingTriggers[1]",
            "TriggerNotFound",
            "trigger \"promos\" not found"
        )
    );
}

#[test]
fn missing_blocking_trigger_is_trigger_not_found() {
    assert_eq!(
        refused(&spec("blockingTriggers: [staff]")),
        expect(
            "Tag/t",
            "spec.blockingTriggers[0]",
            "TriggerNotFound",
            "trigger \"staff\" not found"
        )
    );
}

#[test]
fn tag_without_firing_triggers_is_refused() {
    assert_eq!(
        refused(&format!("{{firingTriggers: [], topic: {TOPIC}}}")),
        expect(
            "Tag/t",
            "spec.firingTriggers",
            "NoFiringTriggers",
            "a tag needs at least one firing trigger"
        )
    );
}

#[test]
fn bad_topic_is_invalid_topic() {
    assert_eq!(
        refused("{firingTriggers: [purchase], topic: projects/shop/topics/promotions}"),
        expect(
            "Tag/t",
            "spec.topic",
            "InvalidTopic",
            "topic \"projects/shop/topics/promotions\": project id \"shop\" must be 6 to 30 \
             characters of a-z, 0-9 and '-', start with a letter and not end with '-'"
        )
    );
}

#[test]
fn a_bare_topic_without_the_namespace_project_waits_for_it() {
    assert_eq!(
        refused("{firingTriggers: [purchase], topic: promotions}"),
        expect(
            "Tag/t",
            "spec.topic",
            "TopicProjectNotFound",
            "topic \"promotions\" names no project and ConfigMap \"hermes-settings\" has no \
             key \"project\""
        )
    );
}

#[test]
fn a_bare_topic_takes_the_project_of_the_settings_config_map() {
    let mut resources = Resources {
        tags: vec![tag("t", "{firingTriggers: [purchase], topic: promotions}")],
        triggers: triggers(),
        lookup_tables: tables(),
        config_maps: BTreeMap::new(),
    };
    resources.config_maps.insert(
        "hermes-settings".into(),
        BTreeMap::from([("project".to_string(), "shop-dev".to_string())]),
    );
    let output = compile("shop", &resources);
    assert_eq!(output.diagnostics, vec![]);
    assert_eq!(
        output.config.tags["t"].topic,
        "projects/shop-dev/topics/promotions"
    );
}

#[test]
fn attributes_are_sorted_by_name() {
    let tag = compiled(&spec(
        "attributes: [{name: sku, value: {eventData: sku}}, {name: currency, value: {eventData: currency}}]",
    ));
    let names: Vec<&str> = tag.attributes.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(names, vec!["currency", "sku"]);
}

#[test]
fn attribute_names_must_be_allowed() {
    let long = "a".repeat(257);
    let cases = [
        ("''", "attribute name is empty".to_string()),
        ("googx", "attribute \"googx\" must not start with \"goog\"".to_string()),
        (
            "hermes_tag",
            "attribute \"hermes_tag\" must not start with \"hermes_\" (reserved for Hermes' own attributes)"
                .to_string(),
        ),
        (&long, "attribute name is 257 bytes; at most 256 are allowed".to_string()),
    ];
    for (name, message) in cases {
        assert_eq!(
            refused(&spec(&format!(
                "attributes: [{{name: {name}, value: {{constant: x}}}}]"
            ))),
            expect(
                "Tag/t",
                "spec.attributes[0].name",
                "InvalidAttribute",
                &message
            )
        );
    }
    compiled(&spec(&format!(
        "attributes: [{{name: {}, value: {{constant: x}}}}]",
        "a".repeat(256)
    )));
}

#[test]
fn duplicate_attribute_is_duplicate_key() {
    assert_eq!(
        refused(&spec(
            "attributes: [{name: a, value: {constant: x}}, {name: a, value: {constant: y}}]"
        )),
        expect(
            "Tag/t",
            "spec.attributes[1].name",
            "DuplicateKey",
            "attribute \"a\" duplicates spec.attributes[0].name"
        )
    );
}

#[test]
fn at_most_97_attributes() {
    let list = |n: usize| {
        let items: Vec<String> = (0..n)
            .map(|i| format!("{{name: a{i}, value: {{constant: x}}}}"))
            .collect();
        spec(&format!("attributes: [{}]", items.join(", ")))
    };
    assert_eq!(compiled(&list(97)).attributes.len(), 97);
    assert_eq!(
        refused(&list(98)),
        expect(
            "Tag/t",
            "spec.attributes",
            "InvalidAttribute",
            "98 attributes; at most 97 are allowed (Pub/Sub allows 100, Hermes adds 3)"
        )
    );
}

#[test]
fn ordering_key_is_compiled() {
    assert_eq!(
        compiled(&spec("orderingKey: {eventData: client_id}")).ordering_key,
        Some(CompiledVariable::EventData {
            path: vec![PathSegment::Key("client_id".into())]
        })
    );
}

#[test]
fn typed_fields_are_compiled_in_order() {
    let tag = compiled(&spec(
        "payload: {fields: [{key: id, value: {eventData: transaction_id}}, {key: value, value: {eventData: value}, type: number}, {key: qty, value: {constant: '2.7'}, type: integer}, {key: test, value: {constant: '1'}, type: boolean}, {key: raw, value: {constant: 'x'}, type: json}]}",
    ));
    let CompiledPayload::Fields { fields } = tag.payload else {
        panic!("fields payload expected");
    };
    let keys: Vec<(&str, FieldType)> = fields.iter().map(|f| (f.key.as_str(), f.type_)).collect();
    assert_eq!(
        keys,
        vec![
            ("id", FieldType::String),
            ("value", FieldType::Number),
            ("qty", FieldType::Integer),
            ("test", FieldType::Boolean),
            ("raw", FieldType::Json),
        ]
    );
}

#[test]
fn event_data_payload_keeps_allow_exclude_and_add() {
    let tag = compiled(&spec(
        "payload: {eventData: {allow: [items, value], exclude: [ip_override], add: [{key: source, value: {constant: hermes}}]}}",
    ));
    assert_eq!(
        tag.payload,
        CompiledPayload::EventData {
            allow: vec!["items".into(), "value".into()],
            exclude: vec!["ip_override".into()],
            add: vec![CompiledField {
                key: "source".into(),
                value: CompiledVariable::Constant {
                    value: "hermes".into()
                },
                type_: FieldType::String,
            }],
        }
    );
}

#[test]
fn payload_with_both_forms_or_no_fields_is_invalid_payload() {
    assert_eq!(
        refused(&spec(
            "payload: {eventData: {}, fields: [{key: a, value: {constant: x}}]}"
        )),
        expect(
            "Tag/t",
            "spec.payload",
            "InvalidPayload",
            "payload sets both eventData and fields; set at most one"
        )
    );
    assert_eq!(
        refused(&spec("payload: {fields: []}")),
        expect(
            "Tag/t",
            "spec.payload.fields",
            "InvalidPayload",
            "fields is empty; omit the payload to send the whole event data"
        )
    );
}

#[test]
fn field_keys_must_be_present_and_unique() {
    assert_eq!(
        refused(&spec(
            "payload: {fields: [{key: '', value: {constant: x}}]}"
        )),
        expect(
            "Tag/t",
            "spec.payload.fields[0].key",
            "InvalidPayload",
            "field key is empty"
        )
    );
    assert_eq!(
        refused(&spec(
            "payload: {fields: [{key: a, value: {constant: x}}, {key: a, value: {constant: y}}]}"
        )),
        expect(
            "Tag/t",
            "spec.payload.fields[1].key",
            "DuplicateKey",
            "key \"a\" duplicates spec.payload.fields[0].key"
        )
    );
    assert_eq!(
        refused(&spec("payload: {eventData: {add: [{key: a, value: {constant: x}}, {key: a, value: {constant: y}}]}}")).1,
        "spec.payload.eventData.add[1].key"
    );
}

#[test]
fn constant_that_does_not_convert_is_type_mismatch() {
    assert_eq!(
        refused(&spec(
            "payload: {fields: [{key: a, value: {constant: x}}, {key: b, value: {constant: x}}, {key: qty, value: {constant: two}, type: integer}]}"
        )),
        expect(
            "Tag/t",
            "spec.payload.fields[2].value",
            "TypeMismatch",
            "constant \"two\" is not an integer"
        )
    );
    assert_eq!(
        refused(&spec(
            "payload: {fields: [{key: v, value: {constant: abc}, type: number}]}"
        ))
        .3,
        "constant \"abc\" is not a number"
    );
    assert_eq!(
        refused(&spec(
            "payload: {fields: [{key: v, value: {constant: yes}, type: boolean}]}"
        ))
        .2,
        "TypeMismatch"
    );
}

#[test]
fn item_outside_fan_out_is_refused_in_every_output_place() {
    let cases = [
        (
            "payload: {fields: [{key: id, value: {item: item_id}}]}",
            "spec.payload.fields[0].value.item",
        ),
        (
            "payload: {eventData: {add: [{key: id, value: {item: item_id}}]}}",
            "spec.payload.eventData.add[0].value.item",
        ),
        (
            "attributes: [{name: id, value: {item: item_id}}]",
            "spec.attributes[0].value.item",
        ),
        ("orderingKey: {item: item_id}", "spec.orderingKey.item"),
    ];
    for (rest, field) in cases {
        assert_eq!(
            refused(&spec(rest)),
            expect(
                "Tag/t",
                field,
                "ItemOutsideFanOut",
                "item \"item_id\" is read outside a perItem fan-out"
            )
        );
        let with_fan_out = compiled(&spec(&format!("{rest}, perItem: {{}}")));
        assert_eq!(with_fan_out.per_item, Some(vec![]));
    }
}

#[test]
fn lookup_of_an_item_outside_fan_out_is_refused() {
    assert_eq!(
        refused(&spec(
            "payload: {fields: [{key: n, value: {lookupTable: by-item}}]}"
        )),
        expect(
            "Tag/t",
            "spec.payload.fields[0].value.lookupTable",
            "ItemOutsideFanOut",
            "lookup table \"by-item\" reads item \"item_id\" outside a perItem fan-out"
        )
    );
    compiled(&spec(
        "payload: {fields: [{key: n, value: {lookupTable: by-item}}]}, perItem: {}",
    ));
    compiled(&spec(
        "payload: {fields: [{key: n, value: {lookupTable: by-sku}}]}",
    ));
}

#[test]
fn per_item_conditions_compile_like_trigger_conditions() {
    let tag = compiled(&spec(
        "perItem: {conditions: [{variable: {item: promotion_id}, operator: notEmpty}, {variable: {item: price}, operator: greaterThan, value: '10'}]}, payload: {fields: [{key: id, value: {item: item_id}}]}",
    ));
    let conditions = tag.per_item.unwrap();
    assert_eq!(conditions.len(), 2);
    assert_eq!(conditions[1].value.as_deref(), Some("10"));
    assert_eq!(
        refused(&spec(
            "perItem: {conditions: [{variable: {item: price}, operator: greaterThan, value: ten}]}"
        ))
        .1,
        "spec.perItem.conditions[0].value"
    );
}

#[test]
fn consent_requirements_become_flags() {
    let tag = compiled(&spec("consent: {analyticsStorage: true}"));
    assert!(tag.require_analytics_storage && !tag.require_ad_storage);
    let tag = compiled(&spec("consent: {adStorage: true, analyticsStorage: true}"));
    assert!(tag.require_analytics_storage && tag.require_ad_storage);
}

#[test]
fn paused_tag_is_kept_but_never_indexed() {
    let output = output(&spec("paused: true"));
    assert!(output.config.tags["t"].paused);
    assert_eq!(output.config.tags_by_event, BTreeMap::new());
    assert_eq!(output.config.tags_for_any_event, Vec::<String>::new());
    assert!(output.objects.iter().all(|o| o.accepted));
}

#[test]
fn index_puts_named_events_by_name_and_the_rest_under_any_event() {
    let tags = vec![
        simple_tag("on-purchase", "purchase"),
        simple_tag("on-views", "views"),
        tag(
            "on-promo",
            &format!("{{firingTriggers: [promo], topic: {TOPIC}}}"),
        ),
        tag(
            "on-add",
            &format!("{{firingTriggers: [by-regex], topic: {TOPIC}}}"),
        ),
        tag(
            "mixed",
            &format!("{{firingTriggers: [purchase, by-regex], topic: {TOPIC}}}"),
        ),
        tag(
            "both-names",
            &format!("{{firingTriggers: [purchase, views], topic: {TOPIC}}}"),
        ),
    ];
    let output = run_objects(tags, triggers(), tables());
    assert_eq!(output.diagnostics, vec![]);
    let by_event: Vec<(&str, Vec<&str>)> = (output.config.tags_by_event.iter())
        .map(|(event, tags)| (event.as_str(), tags.iter().map(String::as_str).collect()))
        .collect();
    assert_eq!(
        by_event,
        vec![
            ("purchase", vec!["both-names", "on-purchase"]),
            ("view_cart", vec!["both-names", "on-views"]),
            ("view_item", vec!["both-names", "on-views"]),
        ]
    );
    assert_eq!(
        output.config.tags_for_any_event,
        vec!["mixed", "on-add", "on-promo"]
    );
}
