//! Conditions (of triggers and of `perItem` fan-outs): operands checked against their
//! operator so the gateway never meets a missing value, a bad regex or a non-number.

use crate::config::CompiledCondition;
use hermes_crds::api::{Condition, Operator};

use super::pattern;
use super::problem::{Problems, report};
use super::reason;
use super::variable::{VariableContext, compile_variable};

/// Compile the condition at `field` (e.g. `spec.conditions[1]`).
pub(crate) fn compile_condition(
    condition: &Condition,
    field: &str,
    context: VariableContext<'_>,
    out: &mut Problems,
) -> Option<CompiledCondition> {
    let before = out.len();
    let variable = compile_variable(
        &condition.variable,
        &format!("{field}.variable"),
        context,
        out,
    );
    let operator = condition.operator;
    let value = check_value(condition, field, out);
    let values = check_values(condition, field, out);
    if out.len() > before {
        return None;
    }
    Some(CompiledCondition {
        variable: variable?,
        operator,
        value,
        values,
        negate: condition.negate,
        ignore_case: condition.ignore_case,
    })
}

/// `value`: required by every operator but `in`, `exists` and `notEmpty`, which refuse
/// it; a regex that compiles or a finite number where the operator needs one.
fn check_value(condition: &Condition, field: &str, out: &mut Problems) -> Option<String> {
    let operator = condition.operator;
    let name = operator_name(operator);
    let field = format!("{field}.value");
    let Some(scalar) = &condition.value else {
        if operator.needs_value() {
            report(
                out,
                field,
                reason::INVALID_CONDITION,
                format!("operator {name} requires value"),
            );
        }
        return None;
    };
    let Some(value) = scalar.text() else {
        report(
            out,
            field,
            reason::INVALID_CONDITION,
            "value must be a string, number or boolean",
        );
        return None;
    };
    if !operator.needs_value() {
        let message = if operator == Operator::In {
            "operator in takes values, not value".to_string()
        } else {
            format!("operator {name} takes no value")
        };
        report(out, field, reason::INVALID_CONDITION, message);
        return None;
    }
    if operator == Operator::MatchesRegex {
        if let Err(message) = pattern::check(&value) {
            report(out, field, reason::INVALID_REGEX, message);
            return None;
        }
        if condition.ignore_case {
            return Some(format!("(?i){value}"));
        }
    }
    if operator.is_numeric() && !value.parse::<f64>().is_ok_and(f64::is_finite) {
        report(
            out,
            field,
            reason::INVALID_CONDITION,
            format!("value {value:?} is not a number (operator {name})"),
        );
        return None;
    }
    Some(value)
}

/// `values`: a non-empty list for `in`, absent otherwise.
fn check_values(condition: &Condition, field: &str, out: &mut Problems) -> Vec<String> {
    let operator = condition.operator;
    let field = format!("{field}.values");
    match (&condition.values, operator) {
        (Some(values), Operator::In) if !values.is_empty() => {
            let texts: Option<Vec<String>> = values.iter().map(|v| v.text()).collect();
            texts.unwrap_or_else(|| {
                report(
                    out,
                    field,
                    reason::INVALID_CONDITION,
                    "values must be strings, numbers or booleans",
                );
                Vec::new()
            })
        }
        (_, Operator::In) => {
            report(
                out,
                field,
                reason::INVALID_CONDITION,
                "operator in requires a non-empty values list",
            );
            Vec::new()
        }
        (Some(_), _) => {
            report(
                out,
                field,
                reason::INVALID_CONDITION,
                format!(
                    "operator {} takes no values (only in does)",
                    operator_name(operator)
                ),
            );
            Vec::new()
        }
        (None, _) => Vec::new(),
    }
}

/// The operator as written in manifests.
fn operator_name(operator: Operator) -> &'static str {
    match operator {
        Operator::Equals => "equals",
        Operator::Contains => "contains",
        Operator::StartsWith => "startsWith",
        Operator::EndsWith => "endsWith",
        Operator::MatchesRegex => "matchesRegex",
        Operator::In => "in",
        Operator::Exists => "exists",
        Operator::NotEmpty => "notEmpty",
        Operator::LessThan => "lessThan",
        Operator::LessThanOrEqual => "lessThanOrEqual",
        Operator::GreaterThan => "greaterThan",
        Operator::GreaterThanOrEqual => "greaterThanOrEqual",
    }
}
