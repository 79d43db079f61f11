//! Buffer metrics, per topic: how much is waiting (records, bytes, oldest age), how much
//! came in, what was refused, what was found damaged, and whether the reader took records
//! from memory or read them back from the files.

use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::{Registry, Unit};

/// The label set of every buffer series.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TopicLabel {
    pub topic: String,
}

/// Where a reader took a record from.
#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq)]
pub enum ReadSource {
    /// The memory tail: appended by this process and not evicted yet (`memory`).
    Memory,
    /// Read back from a segment file: a reader that fell behind, or after a restart
    /// (`file`).
    File,
}

impl EncodeLabelValue for ReadSource {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
        let name = match self {
            ReadSource::Memory => "memory",
            ReadSource::File => "file",
        };
        EncodeLabelValue::encode(&name, encoder)
    }
}

/// The label set of the read counter.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReadLabel {
    pub topic: String,
    pub source: ReadSource,
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
    /// Records handed to the reader, by where they came from
    /// (`hermes_buffer_read_records_total{topic,source}`).
    pub reads: Family<ReadLabel, Counter>,
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
        r.register(
            "read_records",
            "Records handed to the topic's reader, by topic and source (memory: the memory tail; file: read back from a segment)",
            metrics.reads.clone(),
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
            read_from_memory: self.reads.get_or_create_owned(&ReadLabel {
                topic: topic.to_owned(),
                source: ReadSource::Memory,
            }),
            read_from_file: self.reads.get_or_create_owned(&ReadLabel {
                topic: topic.to_owned(),
                source: ReadSource::File,
            }),
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
    pub read_from_memory: Counter,
    pub read_from_file: Counter,
}
