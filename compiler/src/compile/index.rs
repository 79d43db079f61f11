//! The event-name index the gateway uses to evaluate only the tags that can fire.

use std::collections::{BTreeMap, BTreeSet};

use crate::config::{CompiledEventMatch, CompiledTag, CompiledTrigger};

/// `tags_by_event` and `tags_for_any_event` of a config.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct EventIndex {
    /// Event name → tags with a firing trigger listing that name.
    pub by_event: BTreeMap<String, Vec<String>>,
    /// Tags with a firing trigger matching any event or a regex.
    pub any_event: Vec<String>,
}

/// Index every tag that is not paused under what its firing triggers match. A tag in
/// `any_event` is left out of `by_event`, so the union the gateway evaluates never holds
/// a tag twice. Lists are sorted and unique.
pub(crate) fn index_tags(
    tags: &BTreeMap<String, CompiledTag>,
    triggers: &BTreeMap<String, CompiledTrigger>,
) -> EventIndex {
    let mut by_event: BTreeMap<String, BTreeSet<&str>> = BTreeMap::new();
    let mut any_event: BTreeSet<&str> = BTreeSet::new();
    for (tag_name, tag) in tags.iter().filter(|(_, tag)| !tag.paused) {
        let firing = tag
            .firing_triggers
            .iter()
            .filter_map(|name| triggers.get(name));
        for trigger in firing {
            match &trigger.event {
                CompiledEventMatch::Names { names } => {
                    for name in names {
                        by_event.entry(name.clone()).or_default().insert(tag_name);
                    }
                }
                CompiledEventMatch::Any | CompiledEventMatch::Regex { .. } => {
                    any_event.insert(tag_name);
                }
            }
        }
    }
    EventIndex {
        by_event: by_event
            .into_iter()
            .map(|(event, tags)| {
                let tags: Vec<String> = (tags.into_iter())
                    .filter(|tag| !any_event.contains(tag))
                    .map(str::to_string)
                    .collect();
                (event, tags)
            })
            .filter(|(_, tags)| !tags.is_empty())
            .collect(),
        any_event: any_event.into_iter().map(str::to_string).collect(),
    }
}
