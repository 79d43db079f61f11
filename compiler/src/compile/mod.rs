//! The compiler: one scope's Tags, Triggers and LookupTables (plus the ConfigMaps their
//! lookup sources name) → one [`GatewayConfig`] and a diagnostic per problem.
//!
//! Pure and deterministic: the same resources in any order give byte-identical output.
//! Invalid objects are dropped with diagnostics; objects that depend on a dropped object
//! (a tag on an invalid trigger, a trigger on an invalid table) are dropped too, with a
//! diagnostic naming the dependency. Every other object compiles as if they were absent.
//!
//! Diagnostics name the innermost field at fault (`spec.conditions[0].variable.eventData`,
//! `spec.rows[1].key`, `spec.source.configMapKeyRef`) and carry a [`reason`] constant.
//! Every problem of an object is reported, except that a lookup source stops at its first
//! bad row. Objects of one kind sharing a name are all dropped (`DuplicateName`), so the
//! result never depends on input order.

mod attribute;
mod condition;
mod index;
mod lookup_source;
mod lookup_table;
mod outcome;
mod path;
mod pattern;
mod payload;
mod problem;
pub mod reason;
pub use topic::{PROJECT_KEY, SETTINGS_CONFIG_MAP};
mod tag;
mod topic;
mod trigger;
mod variable;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::fmt;

use kube::Resource;
use serde::{Deserialize, Serialize};

use crate::config::GatewayConfig;
use hermes_crds::api::{LookupTable, Tag, Trigger};

use self::outcome::{Named, Report, by_name};
use self::problem::Problems;
use self::tag::TriggerRefs;
use self::variable::TableRefs;

/// Everything one scope holds.
#[derive(Debug, Clone, Default)]
pub struct Resources {
    /// Tags of the scope.
    pub tags: Vec<Tag>,
    /// Triggers of the scope.
    pub triggers: Vec<Trigger>,
    /// LookupTables of the scope.
    pub lookup_tables: Vec<LookupTable>,
    /// ConfigMaps that lookup sources may name, and the namespace's settings
    /// ([`SETTINGS_CONFIG_MAP`]): name → (key → text).
    pub config_maps: BTreeMap<String, BTreeMap<String, String>>,
}

/// The kinds the compiler reports on.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    /// `Tag`
    Tag,
    /// `Trigger`
    Trigger,
    /// `LookupTable`
    LookupTable,
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Kind::Tag => "Tag",
            Kind::Trigger => "Trigger",
            Kind::LookupTable => "LookupTable",
        })
    }
}

/// One object of a scope.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjectKey {
    /// Its kind.
    pub kind: Kind,
    /// Its `metadata.name`.
    pub name: String,
}

impl fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.kind, self.name)
    }
}

/// One problem with one object.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Diagnostic {
    /// The object at fault.
    pub object: ObjectKey,
    /// The field path, e.g. `spec.firingTriggers[0]`.
    pub field: String,
    /// A CamelCase reason for status conditions, e.g. `TriggerNotFound`.
    pub reason: String,
    /// What is wrong, for people, e.g. `trigger "promo" not found`.
    pub message: String,
}

impl fmt::Display for Diagnostic {
    /// `Tag/promo-alert: spec.firingTriggers[0]: trigger "promo" not found`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}: {}", self.object, self.field, self.message)
    }
}

/// What became of one input object.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct ObjectOutcome {
    /// The object.
    pub object: ObjectKey,
    /// Its `metadata.generation`.
    pub generation: Option<i64>,
    /// Whether it is in the config.
    pub accepted: bool,
}

/// The compiler's result.
#[derive(Clone, Debug)]
pub struct CompileOutput {
    /// The config of every valid object.
    pub config: GatewayConfig,
    /// Every problem found, sorted (by object, then field).
    pub diagnostics: Vec<Diagnostic>,
    /// One entry per input object, sorted by object.
    pub objects: Vec<ObjectOutcome>,
}

/// Compile one scope. See the module docs for the contract.
///
/// Lookup tables compile first, then triggers (which may read tables), then tags (which
/// name triggers and may read tables), so each reference sees whether its target
/// compiled.
pub fn compile(scope: &str, resources: &Resources) -> CompileOutput {
    let mut report = Report::default();
    let mut config = GatewayConfig::empty(scope);

    let tables = by_name(Kind::LookupTable, &resources.lookup_tables, &mut report);
    config.lookup_tables = compile_each(Kind::LookupTable, &tables, &mut report, |table, out| {
        lookup_table::compile_lookup_table(table, &resources.config_maps, out)
    });
    let table_refs = TableRefs {
        compiled: &config.lookup_tables,
        declared: &tables.declared,
    };

    let triggers = by_name(Kind::Trigger, &resources.triggers, &mut report);
    config.triggers = compile_each(Kind::Trigger, &triggers, &mut report, |trigger, out| {
        trigger::compile_trigger(trigger, &table_refs, out)
    });
    let trigger_refs = TriggerRefs {
        compiled: &config.triggers,
        declared: &triggers.declared,
    };

    let project = topic::settings_project(&resources.config_maps);
    let tags = by_name(Kind::Tag, &resources.tags, &mut report);
    config.tags = compile_each(Kind::Tag, &tags, &mut report, |tag, out| {
        tag::compile_tag(tag, &trigger_refs, &table_refs, project, out)
    });

    let index = index::index_tags(&config.tags, &config.triggers);
    config.tags_by_event = index.by_event;
    config.tags_for_any_event = index.any_event;
    config.hash = config.content_hash();

    let (diagnostics, objects) = report.finish();
    CompileOutput {
        config,
        diagnostics,
        objects,
    }
}

/// Compile every uniquely named object of a kind, recording each outcome; the compiled
/// ones come back by name.
fn compile_each<T: Resource, C>(
    kind: Kind,
    named: &Named<'_, T>,
    report: &mut Report,
    mut compile_one: impl FnMut(&T, &mut Problems) -> Option<C>,
) -> BTreeMap<String, C> {
    let mut compiled = BTreeMap::new();
    for (name, object) in &named.unique {
        let mut problems = Problems::new();
        let result = compile_one(object, &mut problems);
        let key = ObjectKey {
            kind,
            name: name.clone(),
        };
        match result {
            Some(result) if problems.is_empty() => {
                compiled.insert(name.clone(), result);
            }
            _ if problems.is_empty() => {
                // A compiler that gives up must say why; never drop an object silently.
                problems.push(problem::Problem {
                    field: "spec".to_string(),
                    reason: reason::INVALID_SPEC,
                    message: format!("{kind} could not be compiled"),
                });
            }
            _ => {}
        }
        report.record(key, object.meta().generation, problems);
    }
    compiled
}
