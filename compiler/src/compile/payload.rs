//! A tag's message body: the event data (transformed) or a list of typed fields.

use std::collections::HashMap;

use crate::config::{CompiledField, CompiledPayload, CompiledVariable};
use hermes_crds::api::{FieldType, Payload, PayloadField};

use super::problem::{Problems, report};
use super::reason;
use super::variable::{VariableContext, compile_variable};

/// Compile `spec.payload`; `None` when `out` received problems.
pub(crate) fn compile_payload(
    payload: &Payload,
    context: VariableContext<'_>,
    out: &mut Problems,
) -> Option<CompiledPayload> {
    match (&payload.event_data, &payload.fields) {
        (Some(_), Some(_)) => {
            report(
                out,
                "spec.payload",
                reason::INVALID_PAYLOAD,
                "payload sets both eventData and fields; set at most one",
            );
            None
        }
        (None, Some(fields)) if fields.is_empty() => {
            report(
                out,
                "spec.payload.fields",
                reason::INVALID_PAYLOAD,
                "fields is empty; omit the payload to send the whole event data",
            );
            None
        }
        (None, Some(fields)) => {
            let fields = compile_fields(fields, "spec.payload.fields", context, out)?;
            Some(CompiledPayload::Fields { fields })
        }
        (Some(event_data), None) => {
            let add = compile_fields(&event_data.add, "spec.payload.eventData.add", context, out)?;
            Some(CompiledPayload::EventData {
                allow: event_data.allow.clone(),
                exclude: event_data.exclude.clone(),
                add,
            })
        }
        (None, None) => Some(CompiledPayload::EventData {
            allow: Vec::new(),
            exclude: Vec::new(),
            add: Vec::new(),
        }),
    }
}

/// Fields at `prefix` (`spec.payload.fields`): keys non-empty and unique, constants
/// convertible to their type.
fn compile_fields(
    fields: &[PayloadField],
    prefix: &str,
    context: VariableContext<'_>,
    out: &mut Problems,
) -> Option<Vec<CompiledField>> {
    let before = out.len();
    let mut first_at: HashMap<&str, usize> = HashMap::new();
    let mut compiled = Vec::with_capacity(fields.len());
    for (i, field) in fields.iter().enumerate() {
        let at = format!("{prefix}[{i}]");
        if field.key.is_empty() {
            report(
                out,
                format!("{at}.key"),
                reason::INVALID_PAYLOAD,
                "field key is empty",
            );
        } else if let Some(first) = first_at.get(field.key.as_str()) {
            report(
                out,
                format!("{at}.key"),
                reason::DUPLICATE_KEY,
                format!("key {:?} duplicates {prefix}[{first}].key", field.key),
            );
        } else {
            first_at.insert(&field.key, i);
        }
        let value_field = format!("{at}.value");
        let Some(value) = compile_variable(&field.value, &value_field, context, out) else {
            continue;
        };
        if let CompiledVariable::Constant { value: constant } = &value
            && let Err(message) = check_constant(constant, field.type_)
        {
            report(out, value_field, reason::TYPE_MISMATCH, message);
            continue;
        }
        compiled.push(CompiledField {
            key: field.key.clone(),
            value,
            type_: field.type_,
        });
    }
    (out.len() == before).then_some(compiled)
}

/// Whether a constant converts to `type_` the way the gateway converts values.
pub(crate) fn check_constant(constant: &str, type_: FieldType) -> Result<(), String> {
    let converts = match type_ {
        FieldType::String | FieldType::Json => true,
        FieldType::Integer => {
            constant.parse::<i64>().is_ok()
                || constant
                    .parse::<f64>()
                    .is_ok_and(|n| n.is_finite() && fits_i64(n.trunc()))
        }
        FieldType::Number => constant.parse::<f64>().is_ok_and(f64::is_finite),
        FieldType::Boolean => matches!(constant, "true" | "false" | "1" | "0"),
    };
    if converts {
        Ok(())
    } else {
        Err(format!(
            "constant {constant:?} is not {}",
            match type_ {
                FieldType::Integer => "an integer",
                FieldType::Number => "a number",
                _ => "a boolean (true, false, 1 or 0)",
            }
        ))
    }
}

/// Whether a whole float is within `i64`.
fn fits_i64(n: f64) -> bool {
    // -2^63 is exact in f64; 2^63 is the first value past i64::MAX.
    (-9_223_372_036_854_775_808.0..9_223_372_036_854_775_808.0).contains(&n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_accept_whole_and_truncatable_numbers() {
        for good in ["0", "-12", "9223372036854775807", "3.9", "-2.5", "1e3"] {
            assert_eq!(check_constant(good, FieldType::Integer), Ok(()), "{good}");
        }
        for bad in ["", "x", "1.2.3", "NaN", "inf", "1e30"] {
            assert!(check_constant(bad, FieldType::Integer).is_err(), "{bad}");
        }
    }

    #[test]
    fn numbers_accept_finite_floats() {
        for good in ["0", "1.5", "-2e-3"] {
            assert_eq!(check_constant(good, FieldType::Number), Ok(()), "{good}");
        }
        for bad in ["", "one", "inf", "NaN"] {
            assert!(check_constant(bad, FieldType::Number).is_err(), "{bad}");
        }
    }

    #[test]
    fn booleans_accept_true_false_one_zero() {
        for good in ["true", "false", "1", "0"] {
            assert_eq!(check_constant(good, FieldType::Boolean), Ok(()), "{good}");
        }
        assert_eq!(
            check_constant("yes", FieldType::Boolean),
            Err("constant \"yes\" is not a boolean (true, false, 1 or 0)".to_string())
        );
    }

    #[test]
    fn strings_and_json_accept_anything() {
        for any in ["", "plain text", "{\"a\":1}", "[1"] {
            assert_eq!(check_constant(any, FieldType::String), Ok(()));
            assert_eq!(check_constant(any, FieldType::Json), Ok(()));
        }
    }
}
