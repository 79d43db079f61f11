//! Tags: trigger references, topic, attributes, ordering key, payload, fan-out, consent.

use std::collections::{BTreeMap, BTreeSet};

use crate::config::{CompiledTag, CompiledTrigger};
use hermes_crds::api::Tag;

use super::attribute::compile_attributes;
use super::condition::compile_condition;
use super::payload::compile_payload;
use super::problem::{Problems, report};
use super::reason;
use super::topic::resolve_topic;
use super::variable::{ItemScope, TableRefs, VariableContext, compile_variable};

/// The scope's triggers as tags see them.
#[derive(Debug)]
pub(crate) struct TriggerRefs<'a> {
    /// Triggers that compiled.
    pub compiled: &'a BTreeMap<String, CompiledTrigger>,
    /// Every trigger name in the scope, valid or not.
    pub declared: &'a BTreeSet<String>,
}

/// Compile one tag; `None` when `out` received problems.
pub(crate) fn compile_tag(
    tag: &Tag,
    triggers: &TriggerRefs<'_>,
    tables: &TableRefs<'_>,
    project: Option<&str>,
    out: &mut Problems,
) -> Option<CompiledTag> {
    let before = out.len();
    let spec = &tag.spec;
    if spec.firing_triggers.is_empty() {
        report(
            out,
            "spec.firingTriggers",
            reason::NO_FIRING_TRIGGERS,
            "a tag needs at least one firing trigger",
        );
    }
    let firing_triggers = trigger_refs(&spec.firing_triggers, "spec.firingTriggers", triggers, out);
    let blocking_triggers = trigger_refs(
        &spec.blocking_triggers,
        "spec.blockingTriggers",
        triggers,
        out,
    );
    let topic = resolve_topic(&spec.topic, project)
        .map_err(|(reason, message)| report(out, "spec.topic", reason, message))
        .ok();
    let item = if spec.per_item.is_some() {
        ItemScope::Allowed
    } else {
        ItemScope::Forbidden
    };
    let output = VariableContext {
        tables: Some(tables),
        item,
    };
    let attributes = compile_attributes(&spec.attributes, output, out);
    let ordering_key = spec
        .ordering_key
        .as_ref()
        .map(|key| compile_variable(key, "spec.orderingKey", output, out));
    let payload = compile_payload(&spec.payload, output, out);
    let per_item = spec.per_item.as_ref().map(|per_item| {
        let conditions = VariableContext {
            tables: Some(tables),
            item: ItemScope::Allowed,
        };
        (per_item.conditions.iter().enumerate())
            .filter_map(|(i, condition)| {
                let field = format!("spec.perItem.conditions[{i}]");
                compile_condition(condition, &field, conditions, out)
            })
            .collect::<Vec<_>>()
    });
    if out.len() > before {
        return None;
    }
    let consent = spec.consent.clone().unwrap_or_default();
    Some(CompiledTag {
        generation: tag.metadata.generation,
        firing_triggers,
        blocking_triggers,
        topic: topic?,
        attributes: attributes?,
        ordering_key: ordering_key.flatten(),
        payload: payload?,
        per_item,
        require_analytics_storage: consent.analytics_storage,
        require_ad_storage: consent.ad_storage,
        paused: spec.paused,
    })
}

/// Trigger names at `prefix` (`spec.firingTriggers`): each must have compiled. Returns
/// them sorted and unique.
fn trigger_refs(
    names: &[String],
    prefix: &str,
    triggers: &TriggerRefs<'_>,
    out: &mut Problems,
) -> Vec<String> {
    for (i, name) in names.iter().enumerate() {
        if triggers.compiled.contains_key(name) {
            continue;
        }
        let (reason, message) = if triggers.declared.contains(name) {
            (
                reason::TRIGGER_NOT_READY,
                format!("trigger {name:?} is invalid"),
            )
        } else {
            (
                reason::TRIGGER_NOT_FOUND,
                format!("trigger {name:?} not found"),
            )
        };
        report(out, format!("{prefix}[{i}]"), reason, message);
    }
    let unique: BTreeSet<&String> = names.iter().collect();
    unique.into_iter().cloned().collect()
}
