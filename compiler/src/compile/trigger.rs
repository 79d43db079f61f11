//! Triggers: an event-name match and conditions.

use crate::config::{CompiledEventMatch, CompiledTrigger};
use hermes_crds::api::{EventMatch, Trigger};

use super::condition::compile_condition;
use super::pattern;
use super::problem::{Problems, report};
use super::reason;
use super::variable::{ItemScope, TableRefs, VariableContext};

/// Compile one trigger; `None` when `out` received problems.
pub(crate) fn compile_trigger(
    trigger: &Trigger,
    tables: &TableRefs<'_>,
    out: &mut Problems,
) -> Option<CompiledTrigger> {
    let before = out.len();
    let event = match &trigger.spec.event {
        None => Some(CompiledEventMatch::Any),
        Some(event) => compile_event(event, out),
    };
    let context = VariableContext {
        tables: Some(tables),
        item: ItemScope::Allowed,
    };
    let conditions: Vec<_> = (trigger.spec.conditions.iter().enumerate())
        .filter_map(|(i, condition)| {
            compile_condition(condition, &format!("spec.conditions[{i}]"), context, out)
        })
        .collect();
    if out.len() > before {
        return None;
    }
    Some(CompiledTrigger {
        generation: trigger.metadata.generation,
        event: event?,
        conditions,
        client: trigger.spec.client,
    })
}

/// Exactly one of `name`, `names` and `regex`.
fn compile_event(event: &EventMatch, out: &mut Problems) -> Option<CompiledEventMatch> {
    let set: Vec<&str> = [
        ("name", event.name.is_some()),
        ("names", event.names.is_some()),
        ("regex", event.regex.is_some()),
    ]
    .into_iter()
    .filter_map(|(name, is_set)| is_set.then_some(name))
    .collect();
    if set.len() != 1 {
        let found = if set.is_empty() {
            "none of them".to_string()
        } else {
            set.join(" and ")
        };
        report(
            out,
            "spec.event",
            reason::INVALID_EVENT_MATCH,
            format!("event must set exactly one of name, names and regex, found {found}"),
        );
        return None;
    }
    if let Some(name) = &event.name {
        if name.is_empty() {
            report(
                out,
                "spec.event.name",
                reason::INVALID_EVENT_MATCH,
                "event name is empty",
            );
            return None;
        }
        return Some(CompiledEventMatch::Names {
            names: vec![name.clone()],
        });
    }
    if let Some(names) = &event.names {
        return compile_names(names, out);
    }
    let regex = event.regex.as_deref().unwrap_or_default();
    match pattern::check_anchored(regex) {
        Ok(pattern) => Some(CompiledEventMatch::Regex { pattern }),
        Err(message) => {
            report(out, "spec.event.regex", reason::INVALID_REGEX, message);
            None
        }
    }
}

/// A non-empty list of non-empty names, sorted and unique.
fn compile_names(names: &[String], out: &mut Problems) -> Option<CompiledEventMatch> {
    if names.is_empty() {
        report(
            out,
            "spec.event.names",
            reason::INVALID_EVENT_MATCH,
            "names is empty",
        );
        return None;
    }
    let before = out.len();
    for (i, name) in names.iter().enumerate() {
        if name.is_empty() {
            report(
                out,
                format!("spec.event.names[{i}]"),
                reason::INVALID_EVENT_MATCH,
                "event name is empty",
            );
        }
    }
    if out.len() > before {
        return None;
    }
    let mut names = names.to_vec();
    names.sort();
    names.dedup();
    Some(CompiledEventMatch::Names { names })
}
