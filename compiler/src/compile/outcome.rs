//! What the compiler reports per object: diagnostics and accepted/dropped outcomes.

use std::collections::{BTreeMap, BTreeSet};

use kube::Resource;

use super::problem::Problem;
use super::reason;
use super::{Diagnostic, Kind, ObjectKey, ObjectOutcome};

/// Diagnostics and outcomes as the compiler goes; sorted when finished.
#[derive(Debug, Default)]
pub(crate) struct Report {
    diagnostics: Vec<Diagnostic>,
    objects: Vec<ObjectOutcome>,
}

impl Report {
    /// Record that `object` compiled (`problems` empty) or was dropped.
    pub(crate) fn record(
        &mut self,
        object: ObjectKey,
        generation: Option<i64>,
        problems: Vec<Problem>,
    ) {
        self.objects.push(ObjectOutcome {
            object: object.clone(),
            generation,
            accepted: problems.is_empty(),
        });
        self.diagnostics
            .extend(problems.into_iter().map(|problem| Diagnostic {
                object: object.clone(),
                field: problem.field,
                reason: problem.reason.to_string(),
                message: problem.message,
            }));
    }

    /// Diagnostics and outcomes, each sorted.
    pub(crate) fn finish(mut self) -> (Vec<Diagnostic>, Vec<ObjectOutcome>) {
        self.diagnostics.sort();
        self.objects.sort_by(|a, b| {
            (&a.object, a.generation, a.accepted).cmp(&(&b.object, b.generation, b.accepted))
        });
        (self.diagnostics, self.objects)
    }
}

/// The objects of one kind that may compile: those with a name no other object of the
/// kind has.
#[derive(Debug)]
pub(crate) struct Named<'a, T> {
    /// Name → the one object of that name.
    pub unique: BTreeMap<String, &'a T>,
    /// Every name in the input, duplicated or not, so that references can tell "invalid"
    /// from "not found".
    pub declared: BTreeSet<String>,
}

/// Split `objects` by name. Objects without a name, and every object whose name another
/// object of the kind shares, are dropped here with a diagnostic each.
pub(crate) fn by_name<'a, T: Resource>(
    kind: Kind,
    objects: &'a [T],
    report: &mut Report,
) -> Named<'a, T> {
    let mut groups: BTreeMap<&str, Vec<&'a T>> = BTreeMap::new();
    for object in objects {
        let name = object.meta().name.as_deref().unwrap_or_default();
        groups.entry(name).or_default().push(object);
    }
    let mut named = Named {
        unique: BTreeMap::new(),
        declared: BTreeSet::new(),
    };
    for (name, group) in groups {
        let problem = if name.is_empty() {
            Some(Problem {
                field: "metadata.name".to_string(),
                reason: reason::INVALID_NAME,
                message: format!("{kind} has no name"),
            })
        } else if group.len() > 1 {
            Some(Problem {
                field: "metadata.name".to_string(),
                reason: reason::DUPLICATE_NAME,
                message: format!(
                    "{} {kind} objects are named {name:?}; each is dropped",
                    group.len()
                ),
            })
        } else {
            None
        };
        if !name.is_empty() {
            named.declared.insert(name.to_string());
        }
        match (problem, group.first()) {
            (None, Some(object)) => {
                named.unique.insert(name.to_string(), *object);
            }
            (problem, _) => {
                let key = ObjectKey {
                    kind,
                    name: name.to_string(),
                };
                for object in group {
                    let problems = problem.iter().cloned().collect();
                    report.record(key.clone(), object.meta().generation, problems);
                }
            }
        }
    }
    named
}
