//! Variables: every source kind, path syntax, and what makes one invalid.

use super::*;
use crate::config::{CompiledVariable, PathSegment};
use hermes_crds::api::RequestProperty;

/// The variable of a trigger condition `exists` on `variable` (YAML).
fn variable(variable: &str) -> CompiledVariable {
    let spec = format!("{{conditions: [{{variable: {variable}, operator: exists}}]}}");
    let output = run_objects(
        vec![],
        vec![trigger("t", &spec)],
        vec![table("sku-threshold", "{input: {eventData: sku}}")],
    );
    assert_eq!(output.diagnostics, vec![], "{variable}");
    output.config.triggers["t"].conditions[0].variable.clone()
}

/// The one diagnostic of a trigger condition `exists` on `variable` (YAML).
fn refused(variable: &str) -> (String, String, String, String) {
    let spec = format!("{{conditions: [{{variable: {variable}, operator: exists}}]}}");
    let output = run_objects(vec![], vec![trigger("t", &spec)], vec![]);
    assert!(output.config.triggers.is_empty());
    only_problem(&output)
}

fn key(k: &str) -> PathSegment {
    PathSegment::Key(k.to_string())
}

#[test]
fn event_data_paths_are_parsed() {
    let cases = [
        ("sku", vec![key("sku")]),
        (
            "x-ga-mp2-user_properties.tier",
            vec![key("x-ga-mp2-user_properties"), key("tier")],
        ),
        (
            "items.0.item_id",
            vec![key("items"), key("0"), key("item_id")],
        ),
        (
            "items[0].item_id",
            vec![key("items"), PathSegment::Index(0), key("item_id")],
        ),
        (
            "items[*].item_id",
            vec![key("items"), PathSegment::Each, key("item_id")],
        ),
    ];
    for (path, expected) in cases {
        assert_eq!(
            variable(&format!("{{eventData: '{path}'}}")),
            CompiledVariable::EventData { path: expected },
            "{path}"
        );
    }
}

#[test]
fn bad_event_data_paths_are_invalid_variable_at_the_path() {
    assert_eq!(
        refused("{eventData: 'items..item_id'}"),
        expect(
            "Trigger/t",
            "spec.conditions[0].variable.eventData",
            "InvalidVariable",
            "path \"items..item_id\" has an empty segment"
        )
    );
    assert_eq!(
        refused("{eventData: ''}"),
        expect(
            "Trigger/t",
            "spec.conditions[0].variable.eventData",
            "InvalidVariable",
            "path is empty"
        )
    );
}

#[test]
fn request_header_names_are_lower_cased() {
    assert_eq!(
        variable("{requestHeader: X-Shop-Id}"),
        CompiledVariable::RequestHeader {
            name: "x-shop-id".into()
        }
    );
}

#[test]
fn item_query_cookie_constant_and_lookup_sources_are_kept() {
    assert_eq!(
        variable("{item: price}"),
        CompiledVariable::Item {
            key: "price".into()
        }
    );
    assert_eq!(
        variable("{queryParameter: utm_Source}"),
        CompiledVariable::QueryParameter {
            name: "utm_Source".into()
        }
    );
    assert_eq!(
        variable("{cookie: _ga}"),
        CompiledVariable::Cookie { name: "_ga".into() }
    );
    assert_eq!(
        variable("{constant: ''}"),
        CompiledVariable::Constant {
            value: String::new()
        }
    );
    assert_eq!(
        variable("{lookupTable: sku-threshold}"),
        CompiledVariable::LookupTable {
            name: "sku-threshold".into()
        }
    );
}

#[test]
fn every_request_property_is_kept() {
    let cases = [
        ("clientIp", RequestProperty::ClientIp),
        ("userAgent", RequestProperty::UserAgent),
        ("path", RequestProperty::Path),
        ("method", RequestProperty::Method),
        ("client", RequestProperty::Client),
    ];
    for (name, property) in cases {
        assert_eq!(
            variable(&format!("{{request: {name}}}")),
            CompiledVariable::Request { property }
        );
    }
}

#[test]
fn variable_without_a_source_is_invalid_variable() {
    let (object, field, reason, message) = refused("{}");
    assert_eq!(
        (object.as_str(), field.as_str(), reason.as_str()),
        (
            "Trigger/t",
            "spec.conditions[0].variable",
            "InvalidVariable"
        )
    );
    assert!(message.starts_with("variable sets no source"), "{message}");
}

#[test]
fn variable_with_several_sources_names_them() {
    assert_eq!(
        refused("{eventData: sku, constant: x}"),
        expect(
            "Trigger/t",
            "spec.conditions[0].variable",
            "InvalidVariable",
            "variable sets several sources (eventData, constant); set exactly one"
        )
    );
}

#[test]
fn empty_names_are_invalid_variable_at_the_source() {
    let cases = [
        ("{item: ''}", "item", "item key is empty"),
        (
            "{requestHeader: ''}",
            "requestHeader",
            "header name is empty",
        ),
        (
            "{queryParameter: ''}",
            "queryParameter",
            "parameter name is empty",
        ),
        ("{cookie: ''}", "cookie", "cookie name is empty"),
        (
            "{lookupTable: ''}",
            "lookupTable",
            "lookup table name is empty",
        ),
    ];
    for (variable, source, message) in cases {
        assert_eq!(
            refused(variable),
            expect(
                "Trigger/t",
                &format!("spec.conditions[0].variable.{source}"),
                "InvalidVariable",
                message
            )
        );
    }
}

#[test]
fn missing_lookup_table_is_lookup_table_not_found() {
    assert_eq!(
        refused("{lookupTable: thresholds}"),
        expect(
            "Trigger/t",
            "spec.conditions[0].variable.lookupTable",
            "LookupTableNotFound",
            "lookup table \"thresholds\" not found"
        )
    );
}
