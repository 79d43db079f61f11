//! Publish metrics (`hermes_publish_…`): what was published, failed and retried per tag,
//! how long messages waited, how many went to the client at once, and how many are
//! waiting. Only [`crate::events`] bumps the counters.

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Registry, Unit};

use crate::metrics::{Registrar, TagLabels};

/// The publisher's metrics. Clones share the same series. [`Default`] makes unregistered
/// metrics (for tests); [`PublishMetrics::register`] exposes them.
#[derive(Debug, Clone)]
pub struct PublishMetrics {
    /// Messages Pub/Sub acknowledged (`hermes_publish_messages_published_total{tag}`).
    pub published: Family<TagLabels, Counter>,
    /// Failed publish attempts, one per message per attempt
    /// (`hermes_publish_attempts_failed_total{tag}`).
    pub failed: Family<TagLabels, Counter>,
    /// Messages sent again after a failure (`hermes_publish_messages_retried_total{tag}`).
    pub retried: Family<TagLabels, Counter>,
    /// Messages given up: refused by Pub/Sub as invalid, or left when shutdown timed out
    /// (`hermes_publish_messages_dropped_total{tag}`).
    pub dropped: Family<TagLabels, Counter>,
    /// Failed attempts to create the Pub/Sub client
    /// (`hermes_publish_client_connect_failures_total`).
    pub connect_failures: Counter,
    /// Seconds from enqueue to Pub/Sub's acknowledgement, retries included
    /// (`hermes_publish_latency_seconds`).
    pub latency: Histogram,
    /// Messages handed to the client's batcher in one step of the worker
    /// (`hermes_publish_batch_size`); the batcher may split them further per ordering key
    /// and limits, so this is an upper bound of the request sizes.
    pub batch_size: Histogram,
    /// Messages accepted and not yet published (`hermes_publish_queue_depth`).
    pub queue_depth: Gauge,
    /// Messages moved to the dead letters (topic or file), by tag and reason
    /// (`hermes_publish_messages_dead_lettered_total{tag,reason}`).
    pub dead_lettered: Family<DeadLetterLabels, Counter>,
    /// Dead letters the dead-letter topic did not acknowledge, written to the dead-letter
    /// file instead (`hermes_publish_dead_letter_topic_failures_total{tag}`).
    pub dead_letter_topic_failures: Family<TagLabels, Counter>,
    /// Topics currently failing (missing, forbidden) (`hermes_publish_failing_topics`).
    pub failing_topics: Gauge,
    /// Messages dropped because the buffer was full under the `drop` policy
    /// (`hermes_publish_buffer_full_dropped_total`).
    pub buffer_full_dropped: Counter,
    /// Messages in one Pub/Sub publish request the durable publisher sent
    /// (`hermes_publish_request_messages`).
    pub request_messages: Histogram,
    /// Bytes of one publish request as the client counts them: topic name, data,
    /// attributes, ordering keys (`hermes_publish_request_size_bytes`).
    pub request_bytes: Histogram,
    /// Messages the counting sink accepted instead of publishing (`--publisher
    /// counting`; `hermes_publish_counted_messages_total`).
    pub counted: Counter,
    /// Seconds from a record's acceptance to its lane handing its batch to the sink
    /// (`hermes_publish_batch_wait_seconds`): what batching adds, buffer included.
    pub batch_wait: Histogram,
}

/// Bounds of `hermes_publish_batch_wait_seconds`: fine around the linger (the 10 ms
/// light-load bound must be readable from them; tokio's timer adds up to 1 ms), coarse
/// up to the longest linger.
const BATCH_WAIT_BUCKETS: [f64; 19] = [
    0.001, 0.0025, 0.005, 0.0075, 0.01, 0.011, 0.0125, 0.015, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15,
    0.2, 0.25, 0.5, 1.0, 2.5,
];

/// Labels of a dead-lettered message.
#[derive(Clone, Debug, Hash, PartialEq, Eq, prometheus_client::encoding::EncodeLabelSet)]
pub struct DeadLetterLabels {
    pub tag: String,
    /// `TopicNotFound`, `PermissionDenied`, `Unauthenticated`, `InvalidMessage`.
    pub reason: String,
}

impl Default for PublishMetrics {
    fn default() -> Self {
        PublishMetrics::register(&mut Registry::default())
    }
}

impl PublishMetrics {
    /// Create the metrics and register them under the `hermes_publish` prefix.
    pub fn register(registry: &mut Registry) -> Self {
        let mut r = Registrar::new(registry, "hermes_publish");
        PublishMetrics {
            published: r.add("messages_published", "Messages Pub/Sub acknowledged"),
            failed: r.add("attempts_failed", "Failed publish attempts (per message)"),
            retried: r.add("messages_retried", "Messages sent again after a failure"),
            dropped: r.add("messages_dropped", "Messages given up unpublished"),
            connect_failures: r.add("client_connect_failures", "Failed client creations"),
            // 1 ms … ~33 s.
            latency: r.histogram(
                "latency",
                "Time from enqueue to Pub/Sub acknowledgement, retries included",
                Some(Unit::Seconds),
                exponential_buckets(0.001, 2.0, 16),
            ),
            // 1 … 1024.
            batch_size: r.histogram(
                "batch_size",
                "Messages handed to the Pub/Sub client in one step",
                None,
                exponential_buckets(1.0, 2.0, 11),
            ),
            queue_depth: r.add("queue_depth", "Messages accepted and not yet published"),
            dead_lettered: r.add(
                "messages_dead_lettered",
                "Messages moved to the dead letters, by tag and reason",
            ),
            dead_letter_topic_failures: r.add(
                "dead_letter_topic_failures",
                "Dead letters the dead-letter topic did not take, written to the file instead",
            ),
            failing_topics: r.add(
                "failing_topics",
                "Topics currently failing (missing, forbidden)",
            ),
            buffer_full_dropped: r.add(
                "buffer_full_dropped",
                "Messages dropped because the buffer was full (drop policy)",
            ),
            // 1 … 1024.
            request_messages: r.histogram(
                "request_messages",
                "Messages in one Pub/Sub publish request",
                None,
                exponential_buckets(1.0, 2.0, 11),
            ),
            // 256 B … 16 MiB.
            request_bytes: r.histogram(
                "request_size",
                "Bytes of one Pub/Sub publish request (topic, data, attributes, ordering keys)",
                Some(Unit::Bytes),
                exponential_buckets(256.0, 4.0, 9),
            ),
            counted: r.add(
                "counted_messages",
                "Messages the counting sink accepted instead of publishing",
            ),
            batch_wait: r.histogram(
                "batch_wait",
                "Time from a record's acceptance to its batch going to Pub/Sub (durable lanes)",
                Some(Unit::Seconds),
                BATCH_WAIT_BUCKETS.into_iter(),
            ),
        }
    }

    /// The counter of `family` for `tag`.
    pub(crate) fn for_tag(family: &Family<TagLabels, Counter>, tag: &str) -> Counter {
        family.get_or_create_owned(&TagLabels {
            tag: tag.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prometheus_client::encoding::text::encode;

    #[test]
    fn registered_metrics_appear_with_tag_labels_in_text_format() {
        let mut registry = Registry::default();
        let metrics = PublishMetrics::register(&mut registry);
        for family in [
            &metrics.published,
            &metrics.failed,
            &metrics.retried,
            &metrics.dropped,
        ] {
            PublishMetrics::for_tag(family, "low-stock").inc();
        }
        metrics.latency.observe(0.02);
        metrics.batch_size.observe(3.0);
        metrics.queue_depth.set(7);
        let mut text = String::new();
        encode(&mut text, &registry).unwrap();
        assert!(
            text.contains("hermes_publish_messages_published_total{tag=\"low-stock\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("hermes_publish_latency_seconds_count 1"),
            "{text}"
        );
        assert!(text.contains("hermes_publish_batch_size_count 1"), "{text}");
        assert!(text.contains("hermes_publish_queue_depth 7"), "{text}");
        for name in ["attempts_failed", "messages_retried", "messages_dropped"] {
            let line = format!("hermes_publish_{name}_total{{tag=\"low-stock\"}} 1");
            assert!(text.contains(&line), "{line} in {text}");
        }
    }
}
