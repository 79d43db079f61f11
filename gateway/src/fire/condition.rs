//! Evaluating one condition: "any value" semantics, then negation.

use hermes_crds::api::Operator;
use serde_json::Value;

use super::prepare::PreparedCondition;
use super::variable::{Values, text};

/// Whether `condition` holds for the variable's `values`: for some value (none for
/// `exists`/`notEmpty` meaning false), then inverted when negated.
pub(crate) fn holds(condition: &PreparedCondition, values: &Values<'_>) -> bool {
    let any = values.iter().any(|v| holds_for(condition, v));
    any != condition.negate
}

fn holds_for(c: &PreparedCondition, value: &Value) -> bool {
    match c.operator {
        Operator::Exists => !value.is_null(),
        Operator::NotEmpty => match value {
            Value::Null => false,
            Value::String(s) => !s.is_empty(),
            Value::Array(a) => !a.is_empty(),
            Value::Object(o) => !o.is_empty(),
            _ => true,
        },
        Operator::LessThan
        | Operator::LessThanOrEqual
        | Operator::GreaterThan
        | Operator::GreaterThanOrEqual => {
            let (Some(left), Some(right)) = (number(value), c.number) else {
                return false;
            };
            match c.operator {
                Operator::LessThan => left < right,
                Operator::LessThanOrEqual => left <= right,
                Operator::GreaterThan => left > right,
                _ => left >= right,
            }
        }
        Operator::MatchesRegex => c.regex.as_ref().is_some_and(|re| re.is_match(&text(value))),
        Operator::Equals
        | Operator::Contains
        | Operator::StartsWith
        | Operator::EndsWith
        | Operator::In => {
            let raw = text(value);
            let left = if c.ignore_case {
                std::borrow::Cow::Owned(raw.to_lowercase())
            } else {
                raw
            };
            match c.operator {
                Operator::Equals => left == c.value,
                Operator::Contains => left.contains(c.value.as_str()),
                Operator::StartsWith => left.starts_with(c.value.as_str()),
                Operator::EndsWith => left.ends_with(c.value.as_str()),
                _ => c.values.iter().any(|v| *v == left),
            }
        }
    }
}

/// A value as a number: JSON numbers, and strings holding one (GTM compares numerically).
pub(crate) fn number(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}
