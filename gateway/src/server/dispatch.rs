//! From parsed events to queued messages (or, in debug mode, to an explanation).

use serde::Serialize;
use serde_json::Value;

use super::AppState;
use crate::event::{Event, RequestInfo};
use crate::fire::{self, EventTrace};
use crate::metrics::{TagLabels, TriggerLabels};
use crate::publish::{EnqueueError, OutgoingMessage};

/// What became of a hit's events.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DispatchReport {
    /// The config hash the events were evaluated against.
    pub config_hash: String,
    /// Messages handed to the publisher (or, in debug mode, that would have been).
    pub messages: usize,
    /// Debug mode: each event explained; nothing was published.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<EventTrace>,
}

/// Why a hit's events could not be handed on.
#[derive(Debug, thiserror::Error)]
pub(crate) enum DispatchError {
    /// No config loaded yet: nothing could be evaluated.
    #[error("the gateway has not loaded a config yet")]
    NoConfig,
    /// The publish queue is full; the client should retry later.
    #[error("the publish queue is full ({queued} messages queued); retry later")]
    QueueFull {
        /// How many messages were queued for this hit before the queue filled.
        queued: usize,
    },
}

/// Evaluate every event; queue the messages, or explain them when `debug` is set.
pub(crate) fn dispatch(
    state: &AppState,
    events: &[Event],
    request: &RequestInfo,
    debug: bool,
) -> Result<DispatchReport, DispatchError> {
    let config = state.config.current().ok_or(DispatchError::NoConfig)?;
    let mut report = DispatchReport {
        config_hash: config.hash().to_string(),
        messages: 0,
        events: Vec::new(),
    };
    for (index, event) in events.iter().enumerate() {
        state.metrics.events.get_or_create(&hit_labels(event)).inc();
        let outcome = fire::evaluate(&config, event, request, index, debug);
        report.messages += outcome.messages.len();
        if debug {
            report.events.extend(outcome.trace);
            continue;
        }
        for trigger in &outcome.triggers_fired {
            state
                .metrics
                .triggers_matched
                .get_or_create(&TriggerLabels {
                    trigger: trigger.clone(),
                })
                .inc();
        }
        for tag in &outcome.tags_fired {
            state
                .metrics
                .tags_fired
                .get_or_create(&TagLabels { tag: tag.clone() })
                .inc();
        }
        for message in outcome.messages {
            let tag = TagLabels {
                tag: message.tag.clone(),
            };
            if !message.dropped_fields.is_empty() {
                state
                    .metrics
                    .fields_dropped
                    .get_or_create(&tag)
                    .inc_by(message.dropped_fields.len() as u64);
            }
            let outgoing = OutgoingMessage {
                tag: message.tag,
                topic: message.topic,
                data: bytes::Bytes::from(serde_json::to_vec(&message.data).unwrap_or_default()),
                attributes: message.attributes,
                ordering_key: message.ordering_key,
            };
            match state.publisher.enqueue(outgoing) {
                Ok(()) => {}
                Err(EnqueueError::Invalid(error)) => {
                    // The tag renders a message Pub/Sub cannot take (size, attributes):
                    // a configuration problem, not the client's; count it and go on.
                    state.metrics.tags_failed.get_or_create(&tag).inc();
                    tracing::warn!(%error, tag = %tag.tag, "message cannot be published");
                }
                Err(error) => {
                    state.metrics.tags_failed.get_or_create(&tag).inc();
                    tracing::warn!(%error, tag = %tag.tag, "message not queued");
                    return Err(DispatchError::QueueFull {
                        queued: state.publisher.queue_depth(),
                    });
                }
            }
        }
    }
    Ok(report)
}

fn hit_labels(event: &Event) -> crate::metrics::HitLabels {
    crate::metrics::HitLabels {
        client: event.client.as_str().to_string(),
        outcome: "evaluated".to_string(),
    }
}

/// The debug answer's JSON.
pub(crate) fn debug_body(report: &DispatchReport) -> Value {
    serde_json::to_value(report).unwrap_or(Value::Null)
}
