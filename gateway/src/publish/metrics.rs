//! Publish metrics: what was published, failed and retried per tag, how long messages
//! waited, how many went to the client at once, and how many are waiting.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Registry, Unit};

/// The label set of per-tag publish counters.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TagLabel {
    pub tag: String,
}

/// The publisher's metrics. Clones share the same series. [`Default`] makes unregistered
/// metrics (for tests); [`PublishMetrics::register`] exposes them.
#[derive(Debug, Clone)]
pub struct PublishMetrics {
    /// Messages Pub/Sub acknowledged (`hermes_publish_messages_published_total{tag}`).
    pub published: Family<TagLabel, Counter>,
    /// Failed publish attempts, one per message per attempt
    /// (`hermes_publish_messages_failed_total{tag}`).
    pub failed: Family<TagLabel, Counter>,
    /// Messages sent again after a failure (`hermes_publish_messages_retried_total{tag}`).
    pub retried: Family<TagLabel, Counter>,
    /// Messages given up: refused by Pub/Sub as invalid, or left when shutdown timed out
    /// (`hermes_publish_messages_dropped_total{tag}`).
    pub dropped: Family<TagLabel, Counter>,
    /// Seconds from enqueue to Pub/Sub's acknowledgement, retries included
    /// (`hermes_publish_latency_seconds`).
    pub latency: Histogram,
    /// Messages handed to the client's batcher in one dispatch step
    /// (`hermes_publish_batch_size`); the batcher may split them further per ordering key
    /// and limits, so this is an upper bound of the request sizes.
    pub batch_size: Histogram,
    /// Messages accepted and not yet published (`hermes_publish_queue_depth`).
    pub queue_depth: Gauge,
}

impl Default for PublishMetrics {
    fn default() -> Self {
        PublishMetrics {
            published: Family::default(),
            failed: Family::default(),
            retried: Family::default(),
            dropped: Family::default(),
            // 1 ms … ~33 s.
            latency: Histogram::new(exponential_buckets(0.001, 2.0, 16)),
            // 1 … 1024.
            batch_size: Histogram::new(exponential_buckets(1.0, 2.0, 11)),
            queue_depth: Gauge::default(),
        }
    }
}

impl PublishMetrics {
    /// Create the metrics and register them under the `hermes_publish` prefix.
    pub fn register(registry: &mut Registry) -> Self {
        let metrics = PublishMetrics::default();
        let r = registry.sub_registry_with_prefix("hermes_publish");
        r.register(
            "messages_published",
            "Messages Pub/Sub acknowledged, by tag",
            metrics.published.clone(),
        );
        r.register(
            "messages_failed",
            "Failed publish attempts (per message and attempt), by tag",
            metrics.failed.clone(),
        );
        r.register(
            "messages_retried",
            "Messages sent again after a failed attempt, by tag",
            metrics.retried.clone(),
        );
        r.register(
            "messages_dropped",
            "Messages given up (refused as invalid, or pending when shutdown timed out), by tag",
            metrics.dropped.clone(),
        );
        r.register_with_unit(
            "latency",
            "Time from enqueue to Pub/Sub acknowledgement, retries included",
            Unit::Seconds,
            metrics.latency.clone(),
        );
        r.register(
            "batch_size",
            "Messages handed to the Pub/Sub client's batcher in one dispatch step",
            metrics.batch_size.clone(),
        );
        r.register(
            "queue_depth",
            "Messages accepted and not yet published",
            metrics.queue_depth.clone(),
        );
        metrics
    }

    /// The counter of `family` for `tag`.
    pub(super) fn for_tag(family: &Family<TagLabel, Counter>, tag: &str) -> Counter {
        family.get_or_create_owned(&TagLabel {
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
        for name in ["failed", "retried", "dropped"] {
            let line = format!("hermes_publish_messages_{name}_total{{tag=\"low-stock\"}} 1");
            assert!(text.contains(&line), "{line} in {text}");
        }
    }
}
