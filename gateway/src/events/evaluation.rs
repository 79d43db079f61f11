//! What one event's evaluation did: evaluated, triggers matched, tags fired, payload
//! fields dropped, messages the publisher did not take.

use hermes_crds::api::ClientKind;

use crate::metrics::{Metrics, TagLabels, TriggerLabels};
use crate::publish::EnqueueError;

/// An event was evaluated against the config.
pub(crate) struct EventEvaluated {
    pub client: ClientKind,
}

impl EventEvaluated {
    pub(crate) fn emit(self, metrics: &Metrics) {
        let client = self.client.as_str();
        tracing::trace!(client, "event evaluated");
        metrics.evaluated_events.get(self.client).inc();
    }
}

/// A trigger fired for an event. Takes the name the evaluation owns (no copy).
pub(crate) struct TriggerMatched {
    pub trigger: String,
}

impl TriggerMatched {
    pub(crate) fn emit(self, metrics: &Metrics) {
        tracing::trace!(trigger = %self.trigger, "trigger matched");
        metrics
            .triggers_matched
            .get_or_create(&TriggerLabels {
                trigger: self.trigger,
            })
            .inc();
    }
}

/// A tag fired for an event. Takes the name the evaluation owns (no copy).
pub(crate) struct TagFired {
    pub tag: String,
}

impl TagFired {
    pub(crate) fn emit(self, metrics: &Metrics) {
        tracing::trace!(tag = %self.tag, "tag fired");
        metrics
            .tags_fired
            .get_or_create(&TagLabels { tag: self.tag })
            .inc();
    }
}

/// A rendered message left out payload fields whose value did not fit the field's type.
pub(crate) struct FieldsDropped<'a> {
    pub tag: &'a str,
    pub fields: &'a [String],
}

impl FieldsDropped<'_> {
    pub(crate) fn emit(self, metrics: &Metrics) {
        if self.fields.is_empty() {
            return;
        }
        tracing::debug!(tag = self.tag, fields = ?self.fields, "payload fields dropped");
        metrics
            .fields_dropped
            .get_or_create(&TagLabels {
                tag: self.tag.to_owned(),
            })
            .inc_by(self.fields.len() as u64);
    }
}

/// The publisher did not accept a tag's message: the queue is full or closed (the hit is
/// refused), or Pub/Sub could never take the message (a configuration problem, not the
/// client's: the hit goes on).
pub(crate) struct TagMessageNotEnqueued<'a> {
    pub tag: &'a str,
    pub error: &'a EnqueueError,
}

impl TagMessageNotEnqueued<'_> {
    pub(crate) fn emit(self, metrics: &Metrics) {
        match self.error {
            EnqueueError::Invalid(_) => {
                tracing::warn!(error = %self.error, tag = self.tag, "message cannot be published")
            }
            EnqueueError::Full { .. } | EnqueueError::Closed | EnqueueError::Buffer(_) => {
                tracing::warn!(error = %self.error, tag = self.tag, "message not queued")
            }
        }
        metrics
            .tag_messages_not_enqueued
            .get_or_create(&TagLabels {
                tag: self.tag.to_owned(),
            })
            .inc();
    }
}
