//! Buffer metrics, per topic: how much is waiting (records, bytes, oldest age), how much
//! came in, what was refused and what was found damaged.

use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::{Registry, Unit};

/// The label set of every buffer series.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TopicLabel {
    pub topic: String,
}

/// The buffer's metric families. Clones share the same series.
#[derive(Debug, Clone, Default)]
pub struct BufferMetrics {
    /// Records appended and not acknowledged (`hermes_buffer_records{topic}`).
    pub records: Family<TopicLabel, Gauge>,
    /// Bytes of segment files on disk (`hermes_buffer_bytes{topic}`).
    pub bytes: Family<TopicLabel, Gauge>,
    /// Age of the oldest unacknowledged record
    /// (`hermes_buffer_oldest_record_age_seconds{topic}`).
    pub oldest_age: Family<TopicLabel, Gauge<f64, AtomicU64>>,
    /// Records appended (`hermes_buffer_appends_total{topic}`).
    pub appends: Family<TopicLabel, Counter>,
    /// Records refused because their topic was full
    /// (`hermes_buffer_full_refusals_total{topic}`).
    pub full_refusals: Family<TopicLabel, Counter>,
    /// Damaged records found and skipped (`hermes_buffer_corrupt_records_total{topic}`).
    pub corrupt_records: Family<TopicLabel, Counter>,
}

impl BufferMetrics {
    /// Create the metrics and register them under the `hermes_buffer` prefix.
    pub fn register(registry: &mut Registry) -> Self {
        let metrics = BufferMetrics::default();
        let r = registry.sub_registry_with_prefix("hermes_buffer");
        r.register(
            "records",
            "Records appended and not yet acknowledged, by topic",
            metrics.records.clone(),
        );
        r.register(
            "bytes",
            "Bytes of segment files on disk, by topic",
            metrics.bytes.clone(),
        );
        r.register_with_unit(
            "oldest_record_age",
            "Age of the oldest unacknowledged record, by topic",
            Unit::Seconds,
            metrics.oldest_age.clone(),
        );
        r.register(
            "appends",
            "Records appended, by topic",
            metrics.appends.clone(),
        );
        r.register(
            "full_refusals",
            "Records refused because their topic's buffer was full, by topic",
            metrics.full_refusals.clone(),
        );
        r.register(
            "corrupt_records",
            "Damaged records found in segments and skipped, by topic",
            metrics.corrupt_records.clone(),
        );
        metrics
    }

    /// The series of one topic.
    pub(crate) fn for_topic(&self, topic: &str) -> TopicMetrics {
        let label = TopicLabel {
            topic: topic.to_owned(),
        };
        TopicMetrics {
            records: self.records.get_or_create_owned(&label),
            bytes: self.bytes.get_or_create_owned(&label),
            oldest_age: self.oldest_age.get_or_create_owned(&label),
            appends: self.appends.get_or_create_owned(&label),
            full_refusals: self.full_refusals.get_or_create_owned(&label),
            corrupt_records: self.corrupt_records.get_or_create_owned(&label),
        }
    }
}

/// One topic's series, looked up once.
#[derive(Debug, Clone)]
pub(crate) struct TopicMetrics {
    pub records: Gauge,
    pub bytes: Gauge,
    pub oldest_age: Gauge<f64, AtomicU64>,
    pub appends: Counter,
    pub full_refusals: Counter,
    pub corrupt_records: Counter,
}
