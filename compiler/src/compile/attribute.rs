//! Message attributes: names Pub/Sub accepts, none of Hermes' own.

use std::collections::HashMap;

use crate::config::CompiledAttribute;
use hermes_crds::api::Attribute;

use super::problem::{Problems, report};
use super::reason;
use super::variable::{VariableContext, compile_variable};

/// Pub/Sub allows 100 attributes per message.
const PUBSUB_MAX_ATTRIBUTES: usize = 100;
/// Attributes the gateway adds to every message.
pub(crate) const HERMES_ATTRIBUTES: [&str; 3] =
    ["hermes_event_id", "hermes_tag", "hermes_event_name"];
/// How many a tag may declare.
pub(crate) const MAX_ATTRIBUTES: usize = PUBSUB_MAX_ATTRIBUTES - HERMES_ATTRIBUTES.len();
/// Pub/Sub's limit on an attribute name, in bytes.
const MAX_NAME_BYTES: usize = 256;
/// Prefix of the names Hermes reserves.
const RESERVED_PREFIX: &str = "hermes_";

/// Compile `spec.attributes`, sorted by name; `None` when `out` received problems.
pub(crate) fn compile_attributes(
    attributes: &[Attribute],
    context: VariableContext<'_>,
    out: &mut Problems,
) -> Option<Vec<CompiledAttribute>> {
    let before = out.len();
    if attributes.len() > MAX_ATTRIBUTES {
        report(
            out,
            "spec.attributes",
            reason::INVALID_ATTRIBUTE,
            format!(
                "{} attributes; at most {MAX_ATTRIBUTES} are allowed (Pub/Sub allows \
                 {PUBSUB_MAX_ATTRIBUTES}, Hermes adds {})",
                attributes.len(),
                HERMES_ATTRIBUTES.len()
            ),
        );
    }
    let mut first_at: HashMap<&str, usize> = HashMap::new();
    let mut compiled = Vec::with_capacity(attributes.len());
    for (i, attribute) in attributes.iter().enumerate() {
        let name_field = format!("spec.attributes[{i}].name");
        if let Err(message) = check_name(&attribute.name) {
            report(out, &name_field, reason::INVALID_ATTRIBUTE, message);
        } else if let Some(first) = first_at.get(attribute.name.as_str()) {
            report(
                out,
                &name_field,
                reason::DUPLICATE_KEY,
                format!(
                    "attribute {:?} duplicates spec.attributes[{first}].name",
                    attribute.name
                ),
            );
        } else {
            first_at.insert(&attribute.name, i);
        }
        let value_field = format!("spec.attributes[{i}].value");
        if let Some(value) = compile_variable(&attribute.value, &value_field, context, out) {
            compiled.push(CompiledAttribute {
                name: attribute.name.clone(),
                value,
            });
        }
    }
    if out.len() > before {
        return None;
    }
    compiled.sort_by(|a, b| a.name.cmp(&b.name));
    Some(compiled)
}

/// Pub/Sub's rules for attribute names, plus Hermes' reserved prefix.
fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("attribute name is empty".to_string());
    }
    if name.len() > MAX_NAME_BYTES {
        return Err(format!(
            "attribute name is {} bytes; at most {MAX_NAME_BYTES} are allowed",
            name.len()
        ));
    }
    if name.starts_with("goog") {
        return Err(format!("attribute {name:?} must not start with \"goog\""));
    }
    if name.starts_with(RESERVED_PREFIX) {
        return Err(format!(
            "attribute {name:?} must not start with \"{RESERVED_PREFIX}\" (reserved for \
             Hermes' own attributes)"
        ));
    }
    Ok(())
}
