//! Fire: evaluate one event against a prepared config — triggers (conditions, lookups,
//! any-item predicates), blocking triggers, consent, pause — and render each firing
//! tag's messages. Pure: no I/O, nothing blocks.

mod condition;
mod prepare;
mod render;
mod trace;
mod variable;

use std::cell::OnceCell;

use serde_json::Value;

use prepare::FastMap;
pub use prepare::{PrepareError, PreparedConfig};
pub use render::{
    EVENT_ID_ATTRIBUTE, EVENT_NAME_ATTRIBUTE, ITEM_INDEX_ATTRIBUTE, MessageData, RenderedMessage,
    TAG_ATTRIBUTE,
};
pub use trace::{ConditionTrace, EventTrace, TagTrace, TriggerTrace};

use crate::event::{Event, RequestInfo};
use prepare::{PreparedTag, PreparedTrigger};
use variable::Context;

/// What one event produced.
#[derive(Debug, Default)]
pub struct EventOutcome {
    /// The messages of every tag that fired, in tag-name order.
    pub messages: Vec<RenderedMessage>,
    /// The tags that fired.
    pub tags_fired: Vec<String>,
    /// Trigger names that fired (only those evaluated).
    pub triggers_fired: Vec<String>,
    /// The full evaluation, when asked for (debug mode).
    pub trace: Option<EventTrace>,
}

/// Evaluate `event`, the `index_in_request`-th event of its request. With `traced`,
/// every trigger and tag is evaluated and explained (sGTM preview); otherwise only the
/// tags indexed for the event's name are. The event's stable id
/// ([`Event::stable_id`]) is computed only when a tag fires or the event is traced.
pub fn evaluate(
    config: &PreparedConfig,
    event: &Event,
    request: &RequestInfo,
    index_in_request: usize,
    traced: bool,
) -> EventOutcome {
    let context = Context {
        config,
        event,
        request,
        item: None,
    };
    let mut run = Run {
        context,
        traced,
        index_in_request,
        event_id: OnceCell::new(),
        fired: FastMap::default(),
        trigger_traces: Vec::new(),
    };
    let candidates: Vec<usize> = if traced {
        (0..config.tags.len()).collect()
    } else {
        config.candidate_tags(event.name())
    };
    let mut outcome = EventOutcome::default();
    let mut tag_traces = Vec::new();
    for index in candidates {
        let tag = &config.tags[index];
        let (reason, messages) = run.fire_tag(tag);
        let fired = reason == FiredReason::Fired;
        if fired {
            outcome.tags_fired.push(tag.name.clone());
        }
        if traced {
            tag_traces.push(TagTrace {
                name: tag.name.clone(),
                fired,
                reason: reason.describe(),
                messages: messages.clone(),
            });
        }
        outcome.messages.extend(messages);
    }
    if traced {
        // Explain triggers that no tag needed too, so a person sees every trigger.
        let mut names: Vec<&String> = config.triggers.keys().collect();
        names.sort();
        for name in names {
            run.trigger(name);
        }
        run.trigger_traces.sort_by(|a, b| a.name.cmp(&b.name));
        outcome.trace = Some(EventTrace {
            event_id: run.event_id().to_string(),
            event_name: event.name().to_string(),
            client: event.client.as_str().to_string(),
            event_data: crate::event::event_data_value(&event.data),
            triggers: std::mem::take(&mut run.trigger_traces),
            tags: tag_traces,
        });
    }
    let mut triggers_fired: Vec<String> = run
        .fired
        .iter()
        .filter(|(_, fired)| **fired)
        .map(|(name, _)| (*name).to_owned())
        .collect();
    triggers_fired.sort();
    outcome.triggers_fired = triggers_fired;
    outcome
}

#[derive(Debug, PartialEq)]
enum FiredReason {
    Fired,
    Paused,
    ConsentDenied(&'static str),
    NoFiringTrigger,
    Blocked(String),
}

impl FiredReason {
    fn describe(&self) -> String {
        match self {
            FiredReason::Fired => "fired".to_string(),
            FiredReason::Paused => "paused".to_string(),
            FiredReason::ConsentDenied(storage) => format!("consent: {storage} denied"),
            FiredReason::NoFiringTrigger => "no firing trigger fired".to_string(),
            FiredReason::Blocked(trigger) => format!("blocked by trigger {trigger:?}"),
        }
    }
}

/// One event's evaluation: trigger results are computed once and shared by tags.
struct Run<'a> {
    context: Context<'a>,
    traced: bool,
    index_in_request: usize,
    /// Hashing the event data costs more than most evaluations: done once, on demand.
    event_id: OnceCell<String>,
    /// Trigger results by name, borrowed from the config: no string copied per event.
    fired: FastMap<&'a str, bool>,
    trigger_traces: Vec<TriggerTrace>,
}

impl<'a> Run<'a> {
    fn event_id(&self) -> &str {
        self.event_id
            .get_or_init(|| self.context.event.stable_id(self.index_in_request))
    }

    fn fire_tag(&mut self, tag: &'a PreparedTag) -> (FiredReason, Vec<RenderedMessage>) {
        let compiled = &tag.tag;
        if compiled.paused {
            return (FiredReason::Paused, Vec::new());
        }
        if compiled.require_analytics_storage
            && !self.context.event.consent_granted("analytics_storage")
        {
            return (FiredReason::ConsentDenied("analytics_storage"), Vec::new());
        }
        if compiled.require_ad_storage && !self.context.event.consent_granted("ad_storage") {
            return (FiredReason::ConsentDenied("ad_storage"), Vec::new());
        }
        // Evaluate every firing trigger when tracing, so each shows its result.
        let mut any_fired = false;
        for name in &compiled.firing_triggers {
            if self.trigger(name) {
                any_fired = true;
                if !self.traced {
                    break;
                }
            }
        }
        if !any_fired {
            return (FiredReason::NoFiringTrigger, Vec::new());
        }
        for name in &compiled.blocking_triggers {
            if self.trigger(name) {
                return (FiredReason::Blocked(name.clone()), Vec::new());
            }
        }
        let event_id = self.event_id();
        let messages = match &tag.per_item {
            None => vec![render::render(
                &tag.name,
                compiled,
                &self.context,
                event_id,
                None,
            )],
            Some(conditions) => {
                let items = self
                    .context
                    .event
                    .data
                    .get("items")
                    .and_then(Value::as_array)
                    .map(Vec::as_slice)
                    .unwrap_or_default();
                items
                    .iter()
                    .enumerate()
                    .filter_map(|(index, item)| {
                        let context = self.context.with_item(item);
                        conditions
                            .iter()
                            .all(|c| condition::holds(c, &context.resolve(&c.variable)))
                            .then(|| {
                                render::render(&tag.name, compiled, &context, event_id, Some(index))
                            })
                    })
                    .collect()
            }
        };
        (FiredReason::Fired, messages)
    }

    /// Whether the trigger fires, computed once per event.
    fn trigger(&mut self, name: &'a str) -> bool {
        if let Some(fired) = self.fired.get(name) {
            return *fired;
        }
        let fired = match self.context.config.triggers.get(name) {
            Some(trigger) => self.evaluate_trigger(name, trigger),
            None => false,
        };
        self.fired.insert(name, fired);
        fired
    }

    fn evaluate_trigger(&mut self, name: &str, trigger: &PreparedTrigger) -> bool {
        let event = self.context.event;
        let event_matched = trigger.event.matches(event.name());
        let client_matched = trigger.client.is_none_or(|c| c == event.client);
        if !self.traced {
            return event_matched
                && client_matched
                && trigger
                    .conditions
                    .iter()
                    .all(|c| condition::holds(c, &self.context.resolve(&c.variable)));
        }
        let conditions: Vec<ConditionTrace> = trigger
            .conditions
            .iter()
            .enumerate()
            .map(|(index, c)| {
                let values = self.context.resolve(&c.variable);
                ConditionTrace::new(index, c, &values, condition::holds(c, &values))
            })
            .collect();
        let fired = event_matched && client_matched && conditions.iter().all(|c| c.result);
        self.trigger_traces.push(TriggerTrace {
            name: name.to_string(),
            fired,
            event_matched,
            client_matched,
            conditions,
        });
        fired
    }
}

#[cfg(test)]
mod tests;
