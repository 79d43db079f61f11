//! Compiler tests over whole scopes, with objects written as YAML specs.

mod isolation;
mod lookups;
mod tags;
mod triggers;
mod variables;

use crate::compile::{CompileOutput, Resources, compile};
use hermes_crds::api::{LookupTable, Tag, Trigger};

/// A Trigger named `name` at generation 1 with this YAML spec.
pub(super) fn trigger(name: &str, spec: &str) -> Trigger {
    let mut trigger = Trigger::new(name, serde_yaml_ng::from_str(spec).unwrap());
    trigger.metadata.generation = Some(1);
    trigger
}

/// A Tag named `name` at generation 1 with this YAML spec.
pub(super) fn tag(name: &str, spec: &str) -> Tag {
    let mut tag = Tag::new(name, serde_yaml_ng::from_str(spec).unwrap());
    tag.metadata.generation = Some(1);
    tag
}

/// A LookupTable named `name` at generation 1 with this YAML spec.
pub(super) fn table(name: &str, spec: &str) -> LookupTable {
    let mut table = LookupTable::new(name, serde_yaml_ng::from_str(spec).unwrap());
    table.metadata.generation = Some(1);
    table
}

/// A valid topic.
pub(super) const TOPIC: &str = "projects/my-shop/topics/promotions";

/// A tag firing on `trigger`, publishing the whole event data to [`TOPIC`].
pub(super) fn simple_tag(name: &str, trigger: &str) -> Tag {
    tag(
        name,
        &format!("{{firingTriggers: [{trigger}], topic: {TOPIC}}}"),
    )
}

/// Compile `resources` as scope `test`.
pub(super) fn run(resources: &Resources) -> CompileOutput {
    compile("test", resources)
}

/// Compile these objects (no ConfigMaps).
pub(super) fn run_objects(
    tags: Vec<Tag>,
    triggers: Vec<Trigger>,
    tables: Vec<LookupTable>,
) -> CompileOutput {
    run(&Resources {
        tags,
        triggers,
        lookup_tables: tables,
        config_maps: Default::default(),
    })
}

/// Diagnostics as `(object, field, reason)`, the part tests pin exactly.
pub(super) fn problems(output: &CompileOutput) -> Vec<(String, String, String)> {
    output
        .diagnostics
        .iter()
        .map(|d| (d.object.to_string(), d.field.clone(), d.reason.clone()))
        .collect()
}

/// The one diagnostic, as `(object, field, reason, message)`; fails unless there is
/// exactly one.
pub(super) fn only_problem(output: &CompileOutput) -> (String, String, String, String) {
    assert_eq!(output.diagnostics.len(), 1, "{:#?}", output.diagnostics);
    let d = &output.diagnostics[0];
    (
        d.object.to_string(),
        d.field.clone(),
        d.reason.clone(),
        d.message.clone(),
    )
}

/// Owned strings for comparing with [`only_problem`].
pub(super) fn expect(
    object: &str,
    field: &str,
    reason: &str,
    message: &str,
) -> (String, String, String, String) {
    (
        object.to_string(),
        field.to_string(),
        reason.to_string(),
        message.to_string(),
    )
}

/// `(object, field, reason)` owned, for comparing with [`problems`].
pub(super) fn at(object: &str, field: &str, reason: &str) -> (String, String, String) {
    (object.to_string(), field.to_string(), reason.to_string())
}
