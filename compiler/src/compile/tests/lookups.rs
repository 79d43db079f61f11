//! Lookup tables: match types, inline rows, CSV and JSON sources, defaults.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::*;
use crate::config::{CompiledLookupTable, CompiledVariable};
use hermes_crds::api::MatchType;

/// Resources holding one table `lt` and the ConfigMap `feed` with these keys.
fn with_feed(spec: &str, feed: &[(&str, &str)]) -> Resources {
    let data: BTreeMap<String, String> = feed
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Resources {
        lookup_tables: vec![table("lt", spec)],
        config_maps: BTreeMap::from([("feed".to_string(), data)]),
        ..Resources::default()
    }
}

/// The compiled table `lt`, failing on any diagnostic.
fn compiled(resources: &Resources) -> CompiledLookupTable {
    let output = run(resources);
    assert_eq!(output.diagnostics, vec![]);
    output.config.lookup_tables["lt"].clone()
}

/// Rows as `(key, value)`.
fn rows(table: &CompiledLookupTable) -> Vec<(&str, &Value)> {
    table
        .rows
        .iter()
        .map(|r| (r.key.as_str(), &r.value))
        .collect()
}

/// The one diagnostic of table `lt`, which must be dropped.
fn refused(resources: &Resources) -> (String, String, String, String) {
    let output = run(resources);
    assert!(output.config.lookup_tables.is_empty());
    only_problem(&output)
}

fn inline(spec: &str) -> Resources {
    with_feed(spec, &[])
}

#[test]
fn exact_rows_are_sorted_with_string_and_json_outputs_and_a_default() {
    let table = compiled(&inline(
        "{input: {eventData: sku}, rows: [{key: MUG-2, value: '12'}, {key: BOWL-10, json: {threshold: 5}}], default: none}",
    ));
    assert_eq!(table.match_type, MatchType::Exact);
    assert_eq!(
        rows(&table),
        vec![
            ("BOWL-10", &json!({"threshold": 5})),
            ("MUG-2", &json!("12"))
        ]
    );
    assert_eq!(table.default, Some(json!("none")));
    assert_eq!(table.generation, Some(1));
    assert_eq!(
        table.input,
        CompiledVariable::EventData {
            path: vec![crate::config::PathSegment::Key("sku".into())]
        }
    );
}

#[test]
fn table_without_default_has_none() {
    assert_eq!(compiled(&inline("{input: {eventData: sku}}")).default, None);
}

#[test]
fn case_insensitive_keys_are_lower_cased_and_sorted() {
    let table = compiled(&inline(
        "{input: {eventData: c}, matchType: caseInsensitive, rows: [{key: Summer, value: s}, {key: AUTUMN, value: a}]}",
    ));
    assert_eq!(
        rows(&table),
        vec![("autumn", &json!("a")), ("summer", &json!("s"))]
    );
}

#[test]
fn case_insensitive_keys_equal_ignoring_case_are_duplicate_key() {
    assert_eq!(
        refused(&inline(
            "{input: {eventData: c}, matchType: caseInsensitive, rows: [{key: Summer, value: s}, {key: SUMMER, value: t}]}",
        )),
        expect(
            "LookupTable/lt",
            "spec.rows[1].key",
            "DuplicateKey",
            "key \"SUMMER\" duplicates spec.rows[0].key ignoring case"
        )
    );
}

#[test]
fn exact_duplicate_keys_are_duplicate_key() {
    assert_eq!(
        refused(&inline(
            "{input: {eventData: c}, rows: [{key: a, value: '1'}, {key: b, value: '2'}, {key: a, value: '3'}]}",
        )),
        expect(
            "LookupTable/lt",
            "spec.rows[2].key",
            "DuplicateKey",
            "key \"a\" duplicates spec.rows[0].key"
        )
    );
}

#[test]
fn regex_rows_keep_declaration_order_and_are_anchored() {
    let table = compiled(&inline(
        "{input: {eventData: page_location}, matchType: regex, rows: [{key: '.*/sale/(.*)', value: 'sale-$1'}, {key: '.*', value: other}]}",
    ));
    assert_eq!(
        rows(&table),
        vec![
            ("^(?:.*/sale/(.*))$", &json!("sale-$1")),
            ("^(?:.*)$", &json!("other"))
        ]
    );
}

#[test]
fn regex_row_that_does_not_compile_is_invalid_regex_at_its_key() {
    let (object, field, reason, message) = refused(&inline(
        "{input: {eventData: p}, matchType: regex, rows: [{key: ok, value: a}, {key: '(', value: b}]}",
    ));
    assert_eq!(
        (object.as_str(), field.as_str(), reason.as_str()),
        ("LookupTable/lt", "spec.rows[1].key", "InvalidRegex")
    );
    assert_eq!(message, "regex \"(\" does not compile: unclosed group");
}

#[test]
fn row_needs_exactly_one_of_value_and_json() {
    for row in ["{key: a}", "{key: a, value: x, json: 1}"] {
        assert_eq!(
            refused(&inline(&format!(
                "{{input: {{eventData: c}}, rows: [{row}]}}"
            ))),
            expect(
                "LookupTable/lt",
                "spec.rows[0]",
                "InvalidRow",
                "row \"a\" must set exactly one of value and json"
            )
        );
    }
}

#[test]
fn input_may_not_be_a_lookup_table() {
    let resources = Resources {
        lookup_tables: vec![
            table("lt", "{input: {lookupTable: other}}"),
            table("other", "{input: {eventData: sku}}"),
        ],
        ..Resources::default()
    };
    let output = run(&resources);
    assert_eq!(
        only_problem(&output),
        expect(
            "LookupTable/lt",
            "spec.input.lookupTable",
            "InvalidVariable",
            "a lookup table's input cannot be a lookup table"
        )
    );
    assert!(output.config.lookup_tables.contains_key("other"));
}

#[test]
fn input_may_read_items() {
    assert_eq!(
        compiled(&inline("{input: {item: item_id}}")).input,
        CompiledVariable::Item {
            key: "item_id".into()
        }
    );
    compiled(&inline("{input: {eventData: 'items[*].item_id'}}"));
}

const CSV_SPEC: &str =
    "{input: {eventData: sku}, source: {configMapKeyRef: {name: feed, key: rows.csv}}}";

#[test]
fn csv_source_rows_are_strings_with_the_header_skipped() {
    let table = compiled(&with_feed(
        CSV_SPEC,
        &[("rows.csv", "sku,threshold\nMUG-2,12\nBOWL-10,5\n")],
    ));
    // `sku,threshold` is not the `key,value` header, so it is a row.
    assert_eq!(
        rows(&table),
        vec![
            ("BOWL-10", &json!("5")),
            ("MUG-2", &json!("12")),
            ("sku", &json!("threshold"))
        ]
    );
    let table = compiled(&with_feed(
        CSV_SPEC,
        &[("rows.csv", "KEY,Value\nMUG-2,12\n")],
    ));
    assert_eq!(rows(&table), vec![("MUG-2", &json!("12"))]);
}

#[test]
fn inline_rows_win_over_source_rows() {
    let spec = "{input: {eventData: sku}, rows: [{key: MUG-2, json: 99}], source: {configMapKeyRef: {name: feed, key: rows.csv}}}";
    let table = compiled(&with_feed(spec, &[("rows.csv", "MUG-2,12\nBOWL-10,5\n")]));
    assert_eq!(
        rows(&table),
        vec![("BOWL-10", &json!("5")), ("MUG-2", &json!(99))]
    );
}

#[test]
fn json_source_values_stay_json() {
    let spec = "{input: {eventData: sku}, source: {configMapKeyRef: {name: feed, key: rows.json}, format: json}}";
    let table = compiled(&with_feed(
        spec,
        &[("rows.json", r#"{"MUG-2": {"min": 12}, "BOWL-10": 5}"#)],
    ));
    assert_eq!(
        rows(&table),
        vec![("BOWL-10", &json!(5)), ("MUG-2", &json!({"min": 12}))]
    );
}

#[test]
fn regex_table_tries_inline_rows_before_source_rows_in_order() {
    let spec = "{input: {eventData: p}, matchType: regex, rows: [{key: 'b.*', value: inline}], source: {configMapKeyRef: {name: feed, key: rows.csv}}}";
    let table = compiled(&with_feed(spec, &[("rows.csv", "z.*,1\nb.*,2\na.*,3\n")]));
    assert_eq!(
        rows(&table),
        vec![
            ("^(?:b.*)$", &json!("inline")),
            ("^(?:z.*)$", &json!("1")),
            ("^(?:a.*)$", &json!("3")),
        ]
    );
}

#[test]
fn missing_configmap_or_key_is_lookup_source_not_found() {
    let resources = Resources {
        lookup_tables: vec![table("lt", CSV_SPEC)],
        ..Resources::default()
    };
    assert_eq!(
        refused(&resources),
        expect(
            "LookupTable/lt",
            "spec.source.configMapKeyRef",
            "LookupSourceNotFound",
            "configmap \"feed\" not found"
        )
    );
    assert_eq!(
        refused(&with_feed(CSV_SPEC, &[("other.csv", "a,1")])),
        expect(
            "LookupTable/lt",
            "spec.source.configMapKeyRef",
            "LookupSourceNotFound",
            "configmap \"feed\" has no key \"rows.csv\""
        )
    );
}

#[test]
fn bad_csv_line_is_invalid_lookup_source_with_its_line() {
    assert_eq!(
        refused(&with_feed(
            CSV_SPEC,
            &[("rows.csv", "key,value\na,1\nb;2\n")]
        )),
        expect(
            "LookupTable/lt",
            "spec.source",
            "InvalidLookupSource",
            "configmap \"feed\" key \"rows.csv\": line 3: expected 2 columns (key,value), found 1"
        )
    );
}

#[test]
fn duplicate_source_key_is_invalid_lookup_source_naming_key_and_lines() {
    assert_eq!(
        refused(&with_feed(CSV_SPEC, &[("rows.csv", "a,1\nb,2\na,3\n")])),
        expect(
            "LookupTable/lt",
            "spec.source",
            "InvalidLookupSource",
            "configmap \"feed\" key \"rows.csv\" line 3: duplicate key \"a\" (first at line 1)"
        )
    );
    let spec = "{input: {eventData: c}, matchType: caseInsensitive, source: {configMapKeyRef: {name: feed, key: rows.csv}}}";
    assert_eq!(
        refused(&with_feed(spec, &[("rows.csv", "Summer,1\nSUMMER,2\n")])).3,
        "configmap \"feed\" key \"rows.csv\" line 2: duplicate key \"SUMMER\" ignoring case (first at line 1)"
    );
    let spec =
        "{input: {eventData: c}, source: {configMapKeyRef: {name: feed, key: j}, format: json}}";
    assert_eq!(
        refused(&with_feed(spec, &[("j", r#"{"a": 1, "a": 2}"#)])).3,
        "configmap \"feed\" key \"j\": duplicate key \"a\""
    );
}

#[test]
fn json_source_that_is_not_an_object_is_invalid_lookup_source() {
    let spec =
        "{input: {eventData: c}, source: {configMapKeyRef: {name: feed, key: j}, format: json}}";
    let (_, field, reason, message) = refused(&with_feed(spec, &[("j", "[1, 2]")]));
    assert_eq!(
        (field.as_str(), reason.as_str()),
        ("spec.source", "InvalidLookupSource")
    );
    assert!(
        message.starts_with("configmap \"feed\" key \"j\": not a JSON object"),
        "{message}"
    );
}

#[test]
fn bad_regex_in_source_is_invalid_regex_naming_the_line() {
    let spec = "{input: {eventData: p}, matchType: regex, source: {configMapKeyRef: {name: feed, key: rows.csv}}}";
    assert_eq!(
        refused(&with_feed(spec, &[("rows.csv", "ok,1\n(,2\n")])),
        expect(
            "LookupTable/lt",
            "spec.source",
            "InvalidRegex",
            "configmap \"feed\" key \"rows.csv\" line 2: regex \"(\" does not compile: unclosed group"
        )
    );
}

#[test]
fn five_thousand_row_source_compiles_sorted() {
    let csv: String = (0..5000)
        .rev()
        .map(|n| format!("SKU-{n:05},{n}\n"))
        .collect();
    let table = compiled(&with_feed(CSV_SPEC, &[("rows.csv", &csv)]));
    assert_eq!(table.rows.len(), 5000);
    assert_eq!(table.rows[0].key, "SKU-00000");
    assert_eq!(table.rows[4999].key, "SKU-04999");
}
