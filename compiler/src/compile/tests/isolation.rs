//! Whole scopes: invalid objects never affect others, dependencies cascade, duplicate
//! names, outcomes, and byte-identical output whatever the input order.

use std::collections::BTreeMap;

use super::*;
use crate::compile::{Kind, ObjectKey, ObjectOutcome};
use crate::config::GatewayConfig;

/// A valid scope: a SKU table, triggers on it and on names, tags on those triggers, and a
/// ConfigMap feeding the table.
fn good() -> Resources {
    Resources {
        lookup_tables: vec![table(
            "thresholds",
            "{input: {eventData: 'items[*].item_id'}, rows: [{key: BOWL-10, value: '5'}], source: {configMapKeyRef: {name: feed, key: rows.csv}}, default: '0'}",
        )],
        triggers: vec![
            trigger("purchase", "{event: {name: purchase}}"),
            trigger(
                "low-stock",
                "{event: {names: [purchase, LowStock]}, conditions: [{variable: {lookupTable: thresholds}, operator: greaterThan, value: '0'}]}",
            ),
            trigger(
                "staff",
                "{conditions: [{variable: {cookie: staff}, operator: equals, value: '1'}]}",
            ),
        ],
        tags: vec![
            tag(
                "promotions",
                &format!(
                    "{{firingTriggers: [purchase], blockingTriggers: [staff], topic: {TOPIC}, perItem: {{conditions: [{{variable: {{item: promotion_id}}, operator: notEmpty}}]}}, payload: {{fields: [{{key: item, value: {{item: item_id}}}}, {{key: value, value: {{eventData: value}}, type: number}}]}}, consent: {{analyticsStorage: true}}}}"
                ),
            ),
            tag(
                "low-stock",
                "{firingTriggers: [low-stock], topic: projects/my-shop/topics/low-stock, attributes: [{name: sku, value: {eventData: sku}}]}",
            ),
        ],
        config_maps: BTreeMap::from([(
            "feed".to_string(),
            BTreeMap::from([("rows.csv".to_string(), "key,value\nMUG-2,12\n".to_string())]),
        )]),
    }
}

/// Objects with one defect each, none named by the good scope.
fn bad_objects() -> Vec<Resources> {
    let tag_only = |t: Tag| Resources {
        tags: vec![t],
        ..Resources::default()
    };
    let trigger_only = |t: Trigger| Resources {
        triggers: vec![t],
        ..Resources::default()
    };
    let table_only = |t: LookupTable| Resources {
        lookup_tables: vec![t],
        ..Resources::default()
    };
    vec![
        tag_only(simple_tag("bad-ref", "promo")),
        tag_only(tag(
            "bad-topic",
            "{firingTriggers: [purchase], topic: nope}",
        )),
        tag_only(tag(
            "bad-item",
            &format!("{{firingTriggers: [purchase], topic: {TOPIC}, orderingKey: {{item: x}}}}"),
        )),
        trigger_only(trigger("bad-regex", "{event: {regex: '('}}")),
        trigger_only(trigger(
            "bad-table",
            "{conditions: [{variable: {lookupTable: gone}, operator: exists}]}",
        )),
        table_only(table(
            "bad-rows",
            "{input: {eventData: a}, rows: [{key: a, value: x}, {key: a, value: y}]}",
        )),
        table_only(table(
            "bad-source",
            "{input: {eventData: a}, source: {configMapKeyRef: {name: feed, key: missing}}}",
        )),
    ]
}

/// `base` with `extra`'s objects appended.
fn plus(mut base: Resources, extra: Resources) -> Resources {
    base.tags.extend(extra.tags);
    base.triggers.extend(extra.triggers);
    base.lookup_tables.extend(extra.lookup_tables);
    base.config_maps.extend(extra.config_maps);
    base
}

#[test]
fn good_scope_compiles_without_diagnostics() {
    let output = run(&good());
    assert_eq!(output.diagnostics, vec![]);
    assert_eq!(output.config.tags.len(), 2);
    assert_eq!(output.config.triggers.len(), 3);
    assert_eq!(output.config.lookup_tables["thresholds"].rows.len(), 2);
    assert!(output.objects.iter().all(|o| o.accepted));
}

#[test]
fn an_invalid_object_leaves_the_config_of_the_others_unchanged() {
    let expected = run(&good()).config;
    for bad in bad_objects() {
        let with_bad = plus(good(), bad.clone());
        let output = run(&with_bad);
        assert_eq!(output.config, expected, "{bad:?}");
        assert_eq!(
            output.config.to_json().unwrap(),
            expected.to_json().unwrap()
        );
        assert_eq!(output.diagnostics.len(), 1, "{:#?}", output.diagnostics);
        let rejected: Vec<&ObjectOutcome> = output.objects.iter().filter(|o| !o.accepted).collect();
        assert_eq!(rejected.len(), 1, "{:#?}", output.objects);
    }
}

#[test]
fn invalid_table_cascades_to_its_trigger_and_that_trigger_s_tag() {
    let mut resources = good();
    resources.config_maps.clear();
    resources.tags.push(simple_tag("unrelated", "purchase"));
    let output = run(&resources);
    assert_eq!(
        problems(&output),
        vec![
            at("Tag/low-stock", "spec.firingTriggers[0]", "TriggerNotReady"),
            at(
                "Trigger/low-stock",
                "spec.conditions[0].variable.lookupTable",
                "LookupTableNotReady"
            ),
            at(
                "LookupTable/thresholds",
                "spec.source.configMapKeyRef",
                "LookupSourceNotFound"
            ),
        ]
    );
    let messages: Vec<&str> = output
        .diagnostics
        .iter()
        .map(|d| d.message.as_str())
        .collect();
    assert_eq!(
        messages,
        vec![
            "trigger \"low-stock\" is invalid",
            "lookup table \"thresholds\" is invalid",
            "configmap \"feed\" not found",
        ]
    );
    assert!(output.config.tags.contains_key("promotions"));
    assert!(output.config.tags.contains_key("unrelated"));
    assert!(output.config.triggers.contains_key("purchase"));
    assert_eq!(
        output.config.tags_by_event["purchase"],
        vec!["promotions", "unrelated"]
    );
    assert!(!output.config.tags_by_event.contains_key("LowStock"));
}

#[test]
fn tag_reading_an_invalid_table_is_lookup_table_not_ready() {
    let resources = Resources {
        lookup_tables: vec![table("t", "{input: {lookupTable: x}}")],
        triggers: vec![trigger("purchase", "{event: {name: purchase}}")],
        tags: vec![tag(
            "tag",
            &format!(
                "{{firingTriggers: [purchase], topic: {TOPIC}, attributes: [{{name: n, value: {{lookupTable: t}}}}]}}"
            ),
        )],
        ..Resources::default()
    };
    let output = run(&resources);
    assert_eq!(
        problems(&output)[1],
        at("LookupTable/t", "spec.input.lookupTable", "InvalidVariable")
    );
    assert_eq!(
        output.diagnostics[0].to_string(),
        "Tag/tag: spec.attributes[0].value.lookupTable: lookup table \"t\" is invalid"
    );
}

#[test]
fn duplicate_names_drop_every_object_of_that_name() {
    let mut resources = good();
    resources
        .triggers
        .push(trigger("purchase", "{event: {name: refund}}"));
    let output = run(&resources);
    assert_eq!(
        problems(&output),
        vec![
            at(
                "Tag/promotions",
                "spec.firingTriggers[0]",
                "TriggerNotReady"
            ),
            at("Trigger/purchase", "metadata.name", "DuplicateName"),
            at("Trigger/purchase", "metadata.name", "DuplicateName"),
        ]
    );
    assert_eq!(
        output.diagnostics[1].message,
        "2 Trigger objects are named \"purchase\"; each is dropped"
    );
    assert!(!output.config.triggers.contains_key("purchase"));
    assert!(output.config.tags.contains_key("low-stock"));
    let purchase = ObjectKey {
        kind: Kind::Trigger,
        name: "purchase".into(),
    };
    let outcomes: Vec<&ObjectOutcome> = output
        .objects
        .iter()
        .filter(|o| o.object == purchase)
        .collect();
    assert_eq!(outcomes.len(), 2);
    assert!(outcomes.iter().all(|o| !o.accepted));
}

#[test]
fn object_without_a_name_is_invalid_name() {
    let mut resources = good();
    let mut nameless = trigger("x", "{}");
    nameless.metadata.name = None;
    resources.triggers.push(nameless);
    let output = run(&resources);
    assert_eq!(
        only_problem(&output),
        expect(
            "Trigger/",
            "metadata.name",
            "InvalidName",
            "Trigger has no name"
        )
    );
    assert_eq!(output.config, run(&good()).config);
}

#[test]
fn one_outcome_per_object_sorted_with_generations() {
    let mut resources = good();
    resources.triggers[0].metadata.generation = Some(7);
    resources.tags.push(simple_tag("broken", "nope"));
    let output = run(&resources);
    let outcomes: Vec<(String, Option<i64>, bool)> = (output.objects.iter())
        .map(|o| (o.object.to_string(), o.generation, o.accepted))
        .collect();
    assert_eq!(
        outcomes,
        vec![
            ("Tag/broken".to_string(), Some(1), false),
            ("Tag/low-stock".to_string(), Some(1), true),
            ("Tag/promotions".to_string(), Some(1), true),
            ("Trigger/low-stock".to_string(), Some(1), true),
            ("Trigger/purchase".to_string(), Some(7), true),
            ("Trigger/staff".to_string(), Some(1), true),
            ("LookupTable/thresholds".to_string(), Some(1), true),
        ]
    );
    assert_eq!(output.config.triggers["purchase"].generation, Some(7));
}

#[test]
fn config_carries_its_content_hash_and_reads_back() {
    let config = run(&good()).config;
    assert_eq!(config.hash, config.content_hash());
    assert!(config.hash.starts_with("sha256:"));
    assert_eq!(config.scope, "test");
    let text = config.to_json().unwrap();
    assert_eq!(GatewayConfig::from_json(&text).unwrap(), config);
}

#[test]
fn empty_scope_gives_the_empty_config() {
    let output = run(&Resources::default());
    assert_eq!(output.config, GatewayConfig::empty("test"));
    assert!(output.diagnostics.is_empty() && output.objects.is_empty());
}

/// xorshift: a fixed, dependency-free shuffle.
fn shuffle<T>(items: &mut [T], seed: &mut u64) {
    for i in (1..items.len()).rev() {
        *seed ^= *seed << 13;
        *seed ^= *seed >> 7;
        *seed ^= *seed << 17;
        let j = (*seed % (i as u64 + 1)) as usize;
        items.swap(i, j);
    }
}

/// Good objects, every bad object, and a duplicate name: a scope with something of
/// everything.
fn mixed() -> Resources {
    let mut resources = good();
    for bad in bad_objects() {
        resources = plus(resources, bad);
    }
    let mut duplicate = table("thresholds", "{input: {eventData: sku}}");
    duplicate.metadata.generation = Some(2);
    resources.lookup_tables.push(duplicate);
    resources
}

#[test]
fn output_is_byte_identical_across_runs_and_input_orders() {
    let reference = run(&mixed());
    let reference_json = reference.config.to_json().unwrap();
    assert!(!reference.diagnostics.is_empty());
    let mut seed = 0x5eed_u64;
    for _ in 0..25 {
        let mut resources = mixed();
        shuffle(&mut resources.tags, &mut seed);
        shuffle(&mut resources.triggers, &mut seed);
        shuffle(&mut resources.lookup_tables, &mut seed);
        let output = run(&resources);
        assert_eq!(output.config.to_json().unwrap(), reference_json);
        assert_eq!(output.diagnostics, reference.diagnostics);
        assert_eq!(output.objects, reference.objects);
    }
}
