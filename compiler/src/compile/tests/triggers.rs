//! Triggers: event matches, every operator, condition operands.

use super::*;
use crate::config::{CompiledEventMatch, CompiledTrigger, CompiledVariable, PathSegment};
use hermes_crds::api::{ClientKind, Operator};

/// Compile one trigger and return it, failing on any diagnostic.
fn compiled(spec: &str) -> CompiledTrigger {
    let output = run_objects(vec![], vec![trigger("t", spec)], vec![]);
    assert_eq!(output.diagnostics, vec![], "{spec}");
    output.config.triggers["t"].clone()
}

/// Compile one trigger that must fail with exactly one diagnostic.
fn refused(spec: &str) -> (String, String, String, String) {
    let output = run_objects(vec![], vec![trigger("t", spec)], vec![]);
    assert!(
        output.config.triggers.is_empty(),
        "{spec} should be dropped"
    );
    only_problem(&output)
}

/// Asserts that trigger `spec` is refused as an InvalidCondition at `field` with `message`.
#[track_caller]
fn assert_invalid_condition(spec: &str, field: &str, message: &str) {
    assert_eq!(
        refused(spec),
        expect("Trigger/t", field, "InvalidCondition", message)
    );
}

#[test]
fn omitted_event_matches_any_event() {
    assert_eq!(compiled("{}").event, CompiledEventMatch::Any);
}

#[test]
fn event_name_becomes_a_one_name_list() {
    assert_eq!(
        compiled("{event: {name: purchase}}").event,
        CompiledEventMatch::Names {
            names: vec!["purchase".into()]
        }
    );
}

#[test]
fn event_names_are_sorted_and_deduplicated() {
    assert_eq!(
        compiled("{event: {names: [refund, purchase, refund]}}").event,
        CompiledEventMatch::Names {
            names: vec!["purchase".into(), "refund".into()]
        }
    );
}

#[test]
fn event_regex_is_stored_anchored() {
    assert_eq!(
        compiled("{event: {regex: 'view_.*|select_item'}}").event,
        CompiledEventMatch::Regex {
            pattern: "^(?:view_.*|select_item)$".into()
        }
    );
}

#[test]
fn event_with_no_or_several_matchers_is_invalid_event_match() {
    assert_eq!(
        refused("{event: {}}"),
        expect(
            "Trigger/t",
            "spec.event",
            "InvalidEventMatch",
            "event must set exactly one of name, names and regex, found none of them"
        )
    );
    assert_eq!(
        refused("{event: {name: a, regex: b}}"),
        expect(
            "Trigger/t",
            "spec.event",
            "InvalidEventMatch",
            "event must set exactly one of name, names and regex, found name and regex"
        )
    );
}

#[test]
fn empty_event_names_are_invalid_event_match() {
    assert_eq!(
        refused("{event: {names: []}}"),
        expect(
            "Trigger/t",
            "spec.event.names",
            "InvalidEventMatch",
            "names is empty"
        )
    );
    assert_eq!(
        refused("{event: {names: [a, '']}}"),
        expect(
            "Trigger/t",
            "spec.event.names[1]",
            "InvalidEventMatch",
            "event name is empty"
        )
    );
    assert_eq!(
        refused("{event: {name: ''}}"),
        expect(
            "Trigger/t",
            "spec.event.name",
            "InvalidEventMatch",
            "event name is empty"
        )
    );
}

#[test]
fn event_regex_that_does_not_compile_is_invalid_regex() {
    assert_eq!(
        refused("{event: {regex: '('}}"),
        expect(
            "Trigger/t",
            "spec.event.regex",
            "InvalidRegex",
            "regex \"(\" does not compile: unclosed group"
        )
    );
}

#[test]
fn client_filter_and_generation_are_kept() {
    let trigger = compiled("{client: measurementProtocol}");
    assert_eq!(trigger.client, Some(ClientKind::MeasurementProtocol));
    assert_eq!(trigger.generation, Some(1));
}

/// `(operator, operands YAML, stored value, stored values)` for every operator.
fn operator_cases() -> Vec<(
    Operator,
    &'static str,
    Option<&'static str>,
    Vec<&'static str>,
)> {
    use Operator::*;
    vec![
        (Equals, "value: purchase", Some("purchase"), vec![]),
        (Contains, "value: promo", Some("promo"), vec![]),
        (StartsWith, "value: SUMMER", Some("SUMMER"), vec![]),
        (EndsWith, "value: '-10'", Some("-10"), vec![]),
        (
            MatchesRegex,
            "value: '^BOWL-\\d+$'",
            Some("^BOWL-\\d+$"),
            vec![],
        ),
        (In, "values: [EUR, USD]", None, vec!["EUR", "USD"]),
        (Exists, "{}", None, vec![]),
        (NotEmpty, "{}", None, vec![]),
        (LessThan, "value: '10'", Some("10"), vec![]),
        (LessThanOrEqual, "value: '10.5'", Some("10.5"), vec![]),
        (GreaterThan, "value: '-3'", Some("-3"), vec![]),
        (GreaterThanOrEqual, "value: '1e3'", Some("1e3"), vec![]),
    ]
}

fn operator_name(operator: Operator) -> String {
    serde_json::to_value(operator)
        .unwrap()
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn every_operator_compiles_with_its_operands() {
    for (operator, operands, value, values) in operator_cases() {
        let name = operator_name(operator);
        let operands = operands.trim_matches(|c| c == '{' || c == '}');
        let spec = format!(
            "{{conditions: [{{variable: {{eventData: sku}}, operator: {name}, {operands}}}]}}"
        );
        let condition = compiled(&spec).conditions[0].clone();
        assert_eq!(condition.operator, operator, "{spec}");
        assert_eq!(condition.value.as_deref(), value, "{spec}");
        assert_eq!(condition.values, values, "{spec}");
        assert!(!condition.negate && !condition.ignore_case, "{spec}");
        assert_eq!(
            condition.variable,
            CompiledVariable::EventData {
                path: vec![PathSegment::Key("sku".into())]
            }
        );
    }
}

#[test]
fn operators_needing_value_refuse_a_missing_one() {
    for (operator, _, value, _) in operator_cases() {
        if value.is_none() {
            continue;
        }
        let name = operator_name(operator);
        let spec = format!("{{conditions: [{{variable: {{eventData: sku}}, operator: {name}}}]}}");
        assert_invalid_condition(
            &spec,
            "spec.conditions[0].value",
            &format!("operator {name} requires value"),
        );
    }
}

#[test]
fn operator_in_requires_non_empty_values_and_no_value() {
    for operands in ["", ", values: []"] {
        let spec = format!(
            "{{conditions: [{{variable: {{eventData: currency}}, operator: in{operands}}}]}}"
        );
        assert_invalid_condition(
            &spec,
            "spec.conditions[0].values",
            "operator in requires a non-empty values list",
        );
    }
    let spec =
        "{conditions: [{variable: {eventData: c}, operator: in, value: EUR, values: [EUR]}]}";
    assert_invalid_condition(
        spec,
        "spec.conditions[0].value",
        "operator in takes values, not value",
    );
}

#[test]
fn exists_and_not_empty_take_no_operands() {
    for name in ["exists", "notEmpty"] {
        let spec =
            format!("{{conditions: [{{variable: {{eventData: c}}, operator: {name}, value: x}}]}}");
        assert_invalid_condition(
            &spec,
            "spec.conditions[0].value",
            &format!("operator {name} takes no value"),
        );
        let spec = format!(
            "{{conditions: [{{variable: {{eventData: c}}, operator: {name}, values: [x]}}]}}"
        );
        assert_invalid_condition(
            &spec,
            "spec.conditions[0].values",
            &format!("operator {name} takes no values (only in does)"),
        );
    }
}

#[test]
fn values_on_a_value_operator_are_refused() {
    let spec =
        "{conditions: [{variable: {eventData: c}, operator: equals, value: a, values: [b]}]}";
    assert_eq!(refused(spec).1, "spec.conditions[0].values");
}

#[test]
fn matches_regex_with_ignore_case_is_stored_with_the_flag() {
    let spec = "{conditions: [{variable: {eventData: coupon}, operator: matchesRegex, value: '^summer', ignoreCase: true, negate: true}]}";
    let condition = compiled(spec).conditions[0].clone();
    assert_eq!(condition.value.as_deref(), Some("(?i)^summer"));
    assert!(condition.ignore_case);
    assert!(condition.negate);
}

#[test]
fn ignore_case_leaves_other_operands_as_written() {
    let spec = "{conditions: [{variable: {eventData: coupon}, operator: equals, value: SUMMER, ignoreCase: true}]}";
    let condition = compiled(spec).conditions[0].clone();
    assert_eq!(condition.value.as_deref(), Some("SUMMER"));
    assert!(condition.ignore_case);
}

#[test]
fn matches_regex_that_does_not_compile_is_invalid_regex() {
    let spec = "{conditions: [{variable: {eventData: c}, operator: equals, value: a}, {variable: {eventData: c}, operator: matchesRegex, value: '[a-'}]}";
    let (object, field, reason, message) = refused(spec);
    assert_eq!(
        (object.as_str(), field.as_str(), reason.as_str()),
        ("Trigger/t", "spec.conditions[1].value", "InvalidRegex")
    );
    assert!(
        message.starts_with("regex \"[a-\" does not compile: "),
        "{message}"
    );
}

#[test]
fn numeric_operators_refuse_values_that_are_not_finite_numbers() {
    for bad in ["ten", "NaN", "inf", ""] {
        let spec = format!(
            "{{conditions: [{{variable: {{eventData: value}}, operator: greaterThan, value: '{bad}'}}]}}"
        );
        assert_invalid_condition(
            &spec,
            "spec.conditions[0].value",
            &format!("value {bad:?} is not a number (operator greaterThan)"),
        );
    }
}

#[test]
fn conditions_may_test_any_item() {
    let spec = "{conditions: [{variable: {item: promotion_id}, operator: notEmpty}]}";
    assert_eq!(
        compiled(spec).conditions[0].variable,
        CompiledVariable::Item {
            key: "promotion_id".into()
        }
    );
}

#[test]
fn every_problem_of_a_trigger_is_reported() {
    let spec = "{event: {regex: '('}, conditions: [{variable: {}, operator: exists}, {variable: {eventData: v}, operator: lessThan, value: x}]}";
    let output = run_objects(vec![], vec![trigger("t", spec)], vec![]);
    assert_eq!(
        problems(&output),
        vec![
            at(
                "Trigger/t",
                "spec.conditions[0].variable",
                "InvalidVariable"
            ),
            at("Trigger/t", "spec.conditions[1].value", "InvalidCondition"),
            at("Trigger/t", "spec.event.regex", "InvalidRegex"),
        ]
    );
}
