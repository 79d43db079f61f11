//! Property tests of the compiler (a stable-toolchain fuzzer: `cargo-fuzz` needs nightly).
//! Structure-aware generators write Tags, Triggers and LookupTables from the API's
//! vocabulary, valid and invalid mixed (unknown operators are out of reach: the API types
//! refuse them before the compiler runs), and the compiler's contract is checked on each
//! scope: it never panics, every object is either in the config or has a diagnostic, the
//! output does not depend on the input order, and everything it accepts serializes.
//! `PROPTEST_CASES` bounds a run (CI uses the default, 256 scopes per property).

use hermes_compiler::compile::{Resources, compile};
use hermes_crds::api::{LookupTable, Tag, Trigger};
use proptest::prelude::*;
use serde_json::{Value, json};

/// Names the generated objects use, so references sometimes resolve and sometimes not.
const NAMES: [&str; 4] = ["a", "b", "promo", "Bad_Name"];

fn name() -> impl Strategy<Value = String> {
    prop::sample::select(&NAMES[..]).prop_map(str::to_string)
}

/// Text a user could write, tricky parts included: regex syntax, paths, empty strings.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "",
            "purchase",
            "items[*].item_id",
            "items[0]",
            "a.b.c",
            "(",
            "^x$",
            "[a-z]+",
            "5",
            "-1.5e3",
            "NaN",
            "true",
            "x-ga-mp2-seg",
            "..",
            "items[",
            "💥",
        ])
        .prop_map(str::to_string),
        "[a-z_.\\[\\]*0-9()^$|+]{0,12}",
    ]
}

fn variable() -> impl Strategy<Value = Value> {
    prop_oneof![
        text().prop_map(|t| json!({"eventData": t})),
        text().prop_map(|t| json!({"item": t})),
        text().prop_map(|t| json!({"requestHeader": t})),
        text().prop_map(|t| json!({"queryParameter": t})),
        text().prop_map(|t| json!({"cookie": t})),
        text().prop_map(|t| json!({"constant": t})),
        name().prop_map(|t| json!({"lookupTable": t})),
        prop::sample::select(vec!["clientIp", "userAgent", "path", "method", "client"])
            .prop_map(|p| json!({"request": p})),
        // Two sources, or none: the compiler must refuse these with a diagnostic.
        (text(), text()).prop_map(|(a, b)| json!({"eventData": a, "constant": b})),
        Just(json!({})),
    ]
}

fn condition() -> impl Strategy<Value = Value> {
    let operator = prop::sample::select(vec![
        "equals",
        "contains",
        "startsWith",
        "endsWith",
        "matchesRegex",
        "in",
        "exists",
        "notEmpty",
        "lessThan",
        "lessThanOrEqual",
        "greaterThan",
        "greaterThanOrEqual",
    ]);
    (
        variable(),
        operator,
        prop::option::of(text()),
        prop::option::of(prop::collection::vec(text(), 0..3)),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(variable, operator, value, values, negate, ignore_case)| {
            let mut condition = json!({
                "variable": variable, "operator": operator,
                "negate": negate, "ignoreCase": ignore_case,
            });
            if let Some(value) = value {
                condition["value"] = json!(value);
            }
            if let Some(values) = values {
                condition["values"] = json!(values);
            }
            condition
        })
}

fn trigger_spec() -> impl Strategy<Value = Value> {
    let event = prop_oneof![
        text().prop_map(|n| json!({"name": n})),
        prop::collection::vec(text(), 0..3).prop_map(|n| json!({"names": n})),
        text().prop_map(|r| json!({"regex": r})),
        (text(), text()).prop_map(|(n, r)| json!({"name": n, "regex": r})),
    ];
    (
        prop::option::of(event),
        prop::collection::vec(condition(), 0..3),
    )
        .prop_map(|(event, conditions)| {
            let mut spec = json!({"conditions": conditions});
            if let Some(event) = event {
                spec["event"] = event;
            }
            spec
        })
}

fn field() -> impl Strategy<Value = Value> {
    (
        prop::sample::select(vec!["sku", "value", "sku", "", "hermes_x", "items"]),
        variable(),
        prop::sample::select(vec!["string", "integer", "number", "boolean", "json"]),
    )
        .prop_map(|(key, value, kind)| json!({"key": key, "value": value, "type": kind}))
}

fn tag_spec() -> impl Strategy<Value = Value> {
    let topic = prop::sample::select(vec![
        "projects/p/topics/t",
        "projects/p/topics/low-stock",
        "t",
        "projects//topics/x",
    ]);
    let payload = prop_oneof![
        prop::collection::vec(field(), 0..4).prop_map(|f| json!({"fields": f})),
        prop::collection::vec(text(), 0..3)
            .prop_map(|allow| json!({"eventData": {"allow": allow}})),
        Just(json!({})),
    ];
    (
        prop::collection::vec(name(), 0..3),
        prop::collection::vec(name(), 0..2),
        topic,
        payload,
        prop::collection::vec((text(), variable()), 0..2),
        prop::option::of(prop::collection::vec(condition(), 0..2)),
        any::<bool>(),
    )
        .prop_map(
            |(firing, blocking, topic, payload, attributes, per_item, paused)| {
                let attributes: Vec<Value> = attributes
                    .into_iter()
                    .map(|(name, value)| json!({"name": name, "value": value}))
                    .collect();
                let mut spec = json!({
                    "firingTriggers": firing, "blockingTriggers": blocking, "topic": topic,
                    "payload": payload, "attributes": attributes, "paused": paused,
                });
                if let Some(conditions) = per_item {
                    spec["perItem"] = json!({"conditions": conditions});
                }
                spec
            },
        )
}

fn table_spec() -> impl Strategy<Value = Value> {
    let row = (text(), text()).prop_map(|(key, value)| json!({"key": key, "value": value}));
    (
        variable(),
        prop::collection::vec(row, 0..4),
        prop::sample::select(vec!["exact", "caseInsensitive", "regex"]),
        prop::option::of(text()),
    )
        .prop_map(|(input, rows, match_type, default)| {
            let mut spec = json!({"input": input, "rows": rows, "matchType": match_type});
            if let Some(default) = default {
                spec["default"] = json!(default);
            }
            spec
        })
}

/// Objects from specs; specs the API types refuse (the API server would too) are left
/// out, since the compiler never sees them.
fn objects<T>(specs: Vec<(String, Value)>, make: impl Fn(&str, Value) -> Option<T>) -> Vec<T> {
    specs
        .into_iter()
        .filter_map(|(name, spec)| make(&name, spec))
        .collect()
}

fn resources() -> impl Strategy<Value = Resources> {
    (
        prop::collection::vec((name(), tag_spec()), 0..5),
        prop::collection::vec((name(), trigger_spec()), 0..5),
        prop::collection::vec((name(), table_spec()), 0..3),
    )
        .prop_map(|(tags, triggers, tables)| Resources {
            tags: objects(tags, |name, spec| {
                let mut tag = Tag::new(name, serde_json::from_value(spec).ok()?);
                tag.metadata.generation = Some(1);
                Some(tag)
            }),
            triggers: objects(triggers, |name, spec| {
                let mut trigger = Trigger::new(name, serde_json::from_value(spec).ok()?);
                trigger.metadata.generation = Some(1);
                Some(trigger)
            }),
            lookup_tables: objects(tables, |name, spec| {
                let mut table = LookupTable::new(name, serde_json::from_value(spec).ok()?);
                table.metadata.generation = Some(1);
                Some(table)
            }),
            config_maps: Default::default(),
        })
}

fn reversed(resources: &Resources) -> Resources {
    let mut copy = resources.clone();
    copy.tags.reverse();
    copy.triggers.reverse();
    copy.lookup_tables.reverse();
    copy
}

proptest! {
    #[test]
    fn every_object_is_compiled_or_explained_and_order_never_matters(
        resources in resources()
    ) {
        let output = compile("fuzz", &resources);
        let input_count =
            resources.tags.len() + resources.triggers.len() + resources.lookup_tables.len();
        prop_assert_eq!(output.objects.len(), input_count);
        for outcome in &output.objects {
            let explained = output.diagnostics.iter().any(|d| d.object == outcome.object);
            prop_assert!(
                outcome.accepted != explained,
                "{:?}: accepted={} but diagnostics={:?}",
                outcome.object, outcome.accepted, output.diagnostics
            );
        }
        prop_assert_eq!(
            output.config.tags.len() + output.config.triggers.len()
                + output.config.lookup_tables.len(),
            output.objects.iter().filter(|o| o.accepted).count()
        );
        let again = compile("fuzz", &reversed(&resources));
        prop_assert_eq!(&output.config.hash, &again.config.hash);
        prop_assert_eq!(&output.diagnostics, &again.diagnostics);
        prop_assert!(serde_json::to_vec(&output.config).is_ok());
    }
}

/// The generators are not vacuous: over a sample of scopes they yield objects of every
/// kind, some accepted and some refused, so the property above checks both sides.
#[test]
fn generated_scopes_hold_accepted_and_refused_objects_of_every_kind() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let strategy = resources();
    let (mut tags, mut triggers, mut tables, mut accepted, mut refused) = (0, 0, 0, 0, 0);
    for _ in 0..200 {
        let resources = strategy.new_tree(&mut runner).unwrap().current();
        tags += resources.tags.len();
        triggers += resources.triggers.len();
        tables += resources.lookup_tables.len();
        let output = compile("fuzz", &resources);
        accepted += output.objects.iter().filter(|o| o.accepted).count();
        refused += output.objects.iter().filter(|o| !o.accepted).count();
    }
    assert!(
        tags > 100 && triggers > 100 && tables > 50,
        "{tags} {triggers} {tables}"
    );
    assert!(
        accepted > 50 && refused > 50,
        "accepted {accepted}, refused {refused}"
    );
}
