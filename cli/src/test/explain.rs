//! Why a tag did (not) fire, from the evaluator's debug trace: for each event, the tag's
//! reason and, when no firing trigger fired, each trigger's failing part (event name,
//! client, or which condition with which values).

use hermes_compiler::config::{CompiledVariable, GatewayConfig, PathSegment};
use hermes_gateway::fire::{ConditionTrace, EventTrace, TriggerTrace};
use serde_json::Value;

/// Lines explaining, event by event, why `tag` did not fire.
pub fn not_fired(config: &GatewayConfig, traces: &[EventTrace], tag: &str) -> Vec<String> {
    let Some(compiled) = config.tags.get(tag) else {
        return vec![format!("tag {tag:?} is not in the manifests")];
    };
    let mut lines = Vec::new();
    for (index, trace) in traces.iter().enumerate() {
        let reason = trace
            .tags
            .iter()
            .find(|t| t.name == tag)
            .map_or("not evaluated", |t| t.reason.as_str());
        lines.push(format!("event {index} ({}): {reason}", trace.event_name));
        for name in &compiled.firing_triggers {
            match trace.triggers.iter().find(|t| &t.name == name) {
                Some(trigger) => lines.extend(trigger_lines(trigger, trace)),
                None => lines.push(format!("  trigger {name}: not in the manifests")),
            }
        }
    }
    lines
}

/// Lines naming, event by event, what made `tag` fire.
pub fn fired(config: &GatewayConfig, traces: &[EventTrace], tag: &str) -> Vec<String> {
    let firing = config
        .tags
        .get(tag)
        .map(|compiled| compiled.firing_triggers.as_slice())
        .unwrap_or_default();
    traces
        .iter()
        .enumerate()
        .filter(|(_, trace)| trace.tags.iter().any(|t| t.name == tag && t.fired))
        .map(|(index, trace)| {
            let triggers: Vec<&str> = trace
                .triggers
                .iter()
                .filter(|t| t.fired && firing.contains(&t.name))
                .map(|t| t.name.as_str())
                .collect();
            format!(
                "event {index} ({}): fired by trigger {}",
                trace.event_name,
                triggers.join(", ")
            )
        })
        .collect()
}

fn trigger_lines(trigger: &TriggerTrace, event: &EventTrace) -> Vec<String> {
    let name = &trigger.name;
    if trigger.fired {
        return vec![format!("  trigger {name}: fired")];
    }
    let mut lines = Vec::new();
    if !trigger.event_matched {
        lines.push(format!(
            "  trigger {name}: event name {:?} does not match",
            event.event_name
        ));
    }
    if !trigger.client_matched {
        lines.push(format!(
            "  trigger {name}: client {:?} does not match",
            event.client
        ));
    }
    lines.extend(
        trigger
            .conditions
            .iter()
            .filter(|c| !c.result)
            .map(|c| format!("  trigger {name}: {}", condition(c))),
    );
    lines
}

/// `conditions[0]: eventData client_id notEmpty: false (values: [])`.
fn condition(trace: &ConditionTrace) -> String {
    let operator = serde_json::to_value(trace.operator)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_else(|| format!("{:?}", trace.operator));
    let not = if trace.negate { "not " } else { "" };
    let operand = match &trace.operand {
        Value::Null => String::new(),
        operand => format!(" {operand}"),
    };
    format!(
        "conditions[{}]: {} {not}{operator}{operand}: false (values: {})",
        trace.index,
        variable(&trace.variable),
        Value::from(trace.values.clone())
    )
}

/// A variable as written in a manifest, e.g. `eventData items[0].item_id`.
fn variable(variable: &CompiledVariable) -> String {
    if let CompiledVariable::EventData { path } = variable {
        let mut text = String::new();
        for segment in path {
            match segment {
                PathSegment::Key(key) if text.is_empty() => text.push_str(key),
                PathSegment::Key(key) => text.push_str(&format!(".{key}")),
                PathSegment::Index(index) => text.push_str(&format!("[{index}]")),
                PathSegment::Each => text.push_str("[*]"),
            }
        }
        return format!("eventData {text}");
    }
    // Other sources: their kind, then their fields' values (`item promotion_id`).
    match serde_json::to_value(variable) {
        Ok(Value::Object(fields)) => fields
            .iter()
            .map(|(_, value)| match value {
                Value::String(text) => text.clone(),
                other => other.to_string(),
            })
            .collect::<Vec<_>>()
            .join(" "),
        _ => format!("{variable:?}"),
    }
}
