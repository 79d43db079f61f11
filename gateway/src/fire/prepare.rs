//! Turns a [`GatewayConfig`] into the form evaluation runs against: regexes compiled
//! once, triggers and tables in hash maps, tags indexed by event name.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use foldhash::fast::RandomState as FastHash;

use hermes_compiler::config::{
    CompiledCondition, CompiledEventMatch, CompiledTag, CompiledVariable, GatewayConfig,
};
use hermes_crds::api::{ClientKind, MatchType, Operator};
use regex::Regex;
use serde_json::Value;

/// The maps evaluation looks names up in, on every event: foldhash instead of the
/// default SipHash (a profile under load showed SipHash at 3 % of the gateway's samples;
/// the keys are names from the operator's config, not attacker-chosen).
pub(crate) type FastMap<K, V> = HashMap<K, V, FastHash>;
pub(crate) type FastSet<K> = HashSet<K, FastHash>;

/// A config ready for evaluation. Cheap to share (`Arc`), immutable once built.
#[derive(Debug)]
pub struct PreparedConfig {
    /// The config as compiled (hash, scope, generations).
    pub config: Arc<GatewayConfig>,
    pub(crate) triggers: FastMap<String, PreparedTrigger>,
    /// Tags sorted by name.
    pub(crate) tags: Vec<PreparedTag>,
    pub(crate) tags_by_event: FastMap<String, Vec<usize>>,
    pub(crate) tags_for_any_event: Vec<usize>,
    pub(crate) tables: FastMap<String, PreparedTable>,
}

#[derive(Debug)]
pub(crate) struct PreparedTrigger {
    pub event: EventMatcher,
    pub conditions: Vec<PreparedCondition>,
    pub client: Option<ClientKind>,
}

#[derive(Debug)]
pub(crate) enum EventMatcher {
    Any,
    Names(FastSet<String>),
    Regex(Regex),
}

impl EventMatcher {
    pub fn matches(&self, name: &str) -> bool {
        match self {
            EventMatcher::Any => true,
            EventMatcher::Names(names) => names.contains(name),
            EventMatcher::Regex(re) => re.is_match(name),
        }
    }
}

#[derive(Debug)]
pub(crate) struct PreparedCondition {
    pub variable: CompiledVariable,
    pub operator: Operator,
    /// The operand, lower-cased when ignoring case.
    pub value: String,
    pub number: Option<f64>,
    pub regex: Option<Regex>,
    /// The operands of `in`, lower-cased when ignoring case.
    pub values: Vec<String>,
    pub negate: bool,
    pub ignore_case: bool,
}

#[derive(Debug)]
pub(crate) struct PreparedTag {
    pub name: String,
    pub tag: CompiledTag,
    pub per_item: Option<Vec<PreparedCondition>>,
}

#[derive(Debug)]
pub(crate) struct PreparedTable {
    pub input: CompiledVariable,
    pub match_type: MatchType,
    pub exact: FastMap<String, Value>,
    pub patterns: Vec<(Regex, Value)>,
    pub default: Option<Value>,
}

/// Why a config cannot be prepared: the compiler validated it, so this only happens for
/// configs from another build or edited by hand.
#[derive(Debug, thiserror::Error)]
pub enum PrepareError {
    /// A regex the compiler accepted does not compile here.
    #[error("{object}: regex {pattern:?} does not compile: {source}")]
    Regex {
        /// The object holding the regex.
        object: String,
        /// The pattern.
        pattern: String,
        /// The regex error.
        source: regex::Error,
    },
    /// A reference to a trigger or table that the config does not hold.
    #[error("{object}: references missing {what} {name:?}")]
    Missing {
        /// The referencing object.
        object: String,
        /// `trigger` or `lookup table`.
        what: &'static str,
        /// The missing name.
        name: String,
    },
}

impl PreparedConfig {
    /// Prepare `config`; fails on anything evaluation could not honour.
    pub fn prepare(config: GatewayConfig) -> Result<Self, PrepareError> {
        let mut triggers =
            FastMap::with_capacity_and_hasher(config.triggers.len(), FastHash::default());
        for (name, trigger) in &config.triggers {
            let object = format!("Trigger/{name}");
            let event = match &trigger.event {
                CompiledEventMatch::Any => EventMatcher::Any,
                CompiledEventMatch::Names { names } => {
                    EventMatcher::Names(names.iter().cloned().collect())
                }
                CompiledEventMatch::Regex { pattern } => {
                    EventMatcher::Regex(compile_regex(&object, pattern)?)
                }
            };
            let conditions = prepare_conditions(&object, &trigger.conditions)?;
            triggers.insert(
                name.clone(),
                PreparedTrigger {
                    event,
                    conditions,
                    client: trigger.client,
                },
            );
        }
        let mut tables =
            FastMap::with_capacity_and_hasher(config.lookup_tables.len(), FastHash::default());
        for (name, table) in &config.lookup_tables {
            let object = format!("LookupTable/{name}");
            let mut exact =
                FastMap::with_capacity_and_hasher(table.rows.len(), FastHash::default());
            let mut patterns = Vec::new();
            for row in &table.rows {
                match table.match_type {
                    MatchType::Regex => {
                        patterns.push((compile_regex(&object, &row.key)?, row.value.clone()))
                    }
                    MatchType::Exact => {
                        exact.insert(row.key.clone(), row.value.clone());
                    }
                    MatchType::CaseInsensitive => {
                        exact.insert(row.key.to_lowercase(), row.value.clone());
                    }
                }
            }
            tables.insert(
                name.clone(),
                PreparedTable {
                    input: table.input.clone(),
                    match_type: table.match_type,
                    exact,
                    patterns,
                    default: table.default.clone(),
                },
            );
        }
        let mut tags = Vec::with_capacity(config.tags.len());
        let mut position = HashMap::with_capacity(config.tags.len());
        for (name, tag) in &config.tags {
            let object = format!("Tag/{name}");
            for trigger in tag.firing_triggers.iter().chain(&tag.blocking_triggers) {
                if !triggers.contains_key(trigger) {
                    return Err(PrepareError::Missing {
                        object,
                        what: "trigger",
                        name: trigger.clone(),
                    });
                }
            }
            let per_item = match &tag.per_item {
                Some(conditions) => Some(prepare_conditions(&object, conditions)?),
                None => None,
            };
            position.insert(name.clone(), tags.len());
            tags.push(PreparedTag {
                name: name.clone(),
                tag: tag.clone(),
                per_item,
            });
        }
        check_table_references(&config, &tables)?;
        let index = |names: &[String]| -> Vec<usize> {
            names
                .iter()
                .filter_map(|n| position.get(n).copied())
                .collect()
        };
        let tags_by_event = config
            .tags_by_event
            .iter()
            .map(|(event, names)| (event.clone(), index(names)))
            .collect();
        let tags_for_any_event = index(&config.tags_for_any_event);
        Ok(PreparedConfig {
            config: Arc::new(config),
            triggers,
            tags,
            tags_by_event,
            tags_for_any_event,
            tables,
        })
    }

    /// The config's content hash.
    pub fn hash(&self) -> &str {
        &self.config.hash
    }

    /// Whether any tag can fire for an event of this name. When none can (and nobody
    /// traces the hit), nothing reads the event's data beyond its name.
    pub fn may_fire_for(&self, event_name: &str) -> bool {
        !self.tags_for_any_event.is_empty()
            || self
                .tags_by_event
                .get(event_name)
                .is_some_and(|tags| !tags.is_empty())
    }

    /// Indices of the tags that can fire for an event of this name, in name order.
    pub(crate) fn candidate_tags(&self, event_name: &str) -> Vec<usize> {
        let mut candidates: Vec<usize> = self
            .tags_by_event
            .get(event_name)
            .map(|v| v.to_vec())
            .unwrap_or_default();
        candidates.extend_from_slice(&self.tags_for_any_event);
        candidates.sort_unstable();
        candidates.dedup();
        candidates
    }
}

fn compile_regex(object: &str, pattern: &str) -> Result<Regex, PrepareError> {
    Regex::new(pattern).map_err(|source| PrepareError::Regex {
        object: object.to_string(),
        pattern: pattern.to_string(),
        source,
    })
}

fn prepare_conditions(
    object: &str,
    conditions: &[CompiledCondition],
) -> Result<Vec<PreparedCondition>, PrepareError> {
    conditions
        .iter()
        .map(|c| {
            let raw = c.value.clone().unwrap_or_default();
            let regex = if c.operator == Operator::MatchesRegex {
                let pattern = if c.ignore_case && !raw.starts_with("(?i)") {
                    format!("(?i){raw}")
                } else {
                    raw.clone()
                };
                Some(compile_regex(object, &pattern)?)
            } else {
                None
            };
            let fold = |s: &str| {
                if c.ignore_case {
                    s.to_lowercase()
                } else {
                    s.to_string()
                }
            };
            Ok(PreparedCondition {
                variable: c.variable.clone(),
                operator: c.operator,
                number: raw.trim().parse::<f64>().ok(),
                value: fold(&raw),
                regex,
                values: c.values.iter().map(|v| fold(v)).collect(),
                negate: c.negate,
                ignore_case: c.ignore_case,
            })
        })
        .collect()
}

/// Every `lookupTable` variable anywhere must name a table the config holds.
fn check_table_references(
    config: &GatewayConfig,
    tables: &FastMap<String, PreparedTable>,
) -> Result<(), PrepareError> {
    let check = |object: String, variable: &CompiledVariable| match variable {
        CompiledVariable::LookupTable { name } if !tables.contains_key(name) => {
            Err(PrepareError::Missing {
                object,
                what: "lookup table",
                name: name.clone(),
            })
        }
        _ => Ok(()),
    };
    for (name, trigger) in &config.triggers {
        for c in &trigger.conditions {
            check(format!("Trigger/{name}"), &c.variable)?;
        }
    }
    for (name, table) in &config.lookup_tables {
        check(format!("LookupTable/{name}"), &table.input)?;
    }
    for (name, tag) in &config.tags {
        let object = || format!("Tag/{name}");
        for a in &tag.attributes {
            check(object(), &a.value)?;
        }
        if let Some(key) = &tag.ordering_key {
            check(object(), key)?;
        }
        for c in tag.per_item.iter().flatten() {
            check(object(), &c.variable)?;
        }
        let fields = match &tag.payload {
            hermes_compiler::config::CompiledPayload::EventData { add, .. } => add,
            hermes_compiler::config::CompiledPayload::Fields { fields } => fields,
        };
        for f in fields {
            check(object(), &f.value)?;
        }
    }
    Ok(())
}
