//! What happens on the durable delivery path: lanes that cannot go on, dead letters,
//! topics failing and healing, hits dropped on a full buffer.

use google_cloud_pubsub::error::PublishError;

use crate::publish::{DeadLetterLabels, PublishMetrics};

/// A lane could not read its topic's buffer (or write its dead letters).
pub(crate) struct LaneReadFailed<'a> {
    pub topic: &'a str,
    pub error: &'a dyn std::error::Error,
}

impl LaneReadFailed<'_> {
    pub(crate) fn emit(self) {
        tracing::error!(topic = self.topic, error = %self.error, source = ?self.error.source(), "publisher lane cannot go on");
    }
}

/// Messages moved to the dead letters (and acknowledged in the buffer).
pub(crate) struct MessagesDeadLettered<'a> {
    pub topic: &'a str,
    pub reason: &'static str,
    pub tags: &'a [String],
    /// The dead-letter topic, or the path of the topic's dead-letter file.
    pub destination: &'a str,
}

impl MessagesDeadLettered<'_> {
    pub(crate) fn emit(self, metrics: &PublishMetrics) {
        tracing::warn!(
            topic = self.topic,
            reason = self.reason,
            messages = self.tags.len(),
            destination = self.destination,
            "messages dead-lettered"
        );
        for tag in self.tags {
            metrics
                .dead_lettered
                .get_or_create(&DeadLetterLabels {
                    tag: tag.clone(),
                    reason: self.reason.to_owned(),
                })
                .inc();
        }
    }
}

/// The dead-letter topic did not take these dead letters: they go to the dead-letter file.
pub(crate) struct DeadLetterTopicFailed<'a> {
    pub topic: &'a str,
    pub dead_letter_topic: &'a str,
    pub tags: &'a [String],
    pub error: &'a PublishError,
}

impl DeadLetterTopicFailed<'_> {
    pub(crate) fn emit(self, metrics: &PublishMetrics) {
        tracing::error!(
            topic = self.topic,
            dead_letter_topic = self.dead_letter_topic,
            messages = self.tags.len(),
            error = %self.error,
            "dead-letter topic failed: dead letters go to the file"
        );
        for tag in self.tags {
            PublishMetrics::for_tag(&metrics.dead_letter_topic_failures, tag).inc();
        }
    }
}

/// A topic cannot take messages (missing, forbidden): its messages go to the dead letters.
pub(crate) struct TopicFailing<'a> {
    pub topic: &'a str,
    pub reason: &'static str,
    pub error: &'a str,
    pub failing: usize,
}

impl TopicFailing<'_> {
    pub(crate) fn emit(self, metrics: &PublishMetrics) {
        tracing::error!(
            topic = self.topic,
            reason = self.reason,
            error = self.error,
            "topic failing: dead-lettering its messages"
        );
        metrics.failing_topics.set(self.failing as i64);
    }
}

/// A failing topic took a message again.
pub(crate) struct TopicHealed<'a> {
    pub topic: &'a str,
    pub failing: usize,
}

impl TopicHealed<'_> {
    pub(crate) fn emit(self, metrics: &PublishMetrics) {
        tracing::info!(topic = self.topic, "topic delivering again");
        metrics.failing_topics.set(self.failing as i64);
    }
}

/// The buffer was full and the `drop` policy answered the hit anyway.
pub(crate) struct MessagesDroppedBufferFull<'a> {
    pub topics: &'a [String],
    pub messages: usize,
}

impl MessagesDroppedBufferFull<'_> {
    pub(crate) fn emit(self, metrics: &PublishMetrics) {
        tracing::warn!(topics = ?self.topics, messages = self.messages, "buffer full: messages dropped");
        metrics.buffer_full_dropped.inc_by(self.messages as u64);
    }
}
