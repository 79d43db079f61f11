//! [`PubSubSink`]: one lane's batch becomes explicit Pub/Sub publish requests, so that
//! `hermes_publish_request_messages` and `hermes_publish_request_size_bytes` count what each
//! request really carries.
//!
//! `google-cloud-pubsub` 1.7 keeps its publish RPC private and batches on its own: a batch
//! actor per ordering key, flushed when a batch reaches the message-count or byte
//! threshold, when a message would push it past the byte threshold, on its delay timer or
//! on [`flush`](google_cloud_pubsub::client::Publisher::flush) (read in its source,
//! `publisher/actor.rs`, `batch.rs`). So this sink plans the requests itself with the same
//! rule ([`plan_requests`]), gives the client the same thresholds and a delay it never
//! reaches, hands it the whole batch and flushes: each planned request is exactly one
//! request of the client. The lane's linger (`linger.rs`) is what fills requests under
//! load.

use std::time::Duration;

use futures::future::BoxFuture;
use google_cloud_pubsub::client::{BasePublisher, Publisher as TopicPublisher};
use google_cloud_pubsub::error::PublishError;
use hermes_buffer::{Delivery, EncodedRecord};

use super::sink::TopicSink;
use crate::events::PublishRequestSent;
use crate::publish::worker::pubsub_message;
use crate::publish::{BatchSettings, PublishMetrics};

/// The client's delay timer: longer than any lane takes to hand it a batch and flush, so
/// only our flush (or a full request) sends.
const CLIENT_DELAY: Duration = Duration::from_secs(3600);

/// Publishes one topic through the client, one planned request at a time.
pub(super) struct PubSubSink {
    topic: String,
    publisher: TopicPublisher,
    limits: BatchSettings,
    metrics: PublishMetrics,
}

impl PubSubSink {
    pub fn new(
        client: &BasePublisher,
        topic: String,
        limits: BatchSettings,
        metrics: PublishMetrics,
    ) -> Self {
        let limits = limits.clamped();
        let publisher = client
            .publisher(topic.clone())
            .set_message_count_threshold(limits.max_messages)
            .set_byte_threshold(limits.max_bytes)
            .set_delay_threshold(CLIENT_DELAY)
            .build();
        PubSubSink {
            topic,
            publisher,
            limits,
            metrics,
        }
    }
}

impl TopicSink for PubSubSink {
    fn publish<'a>(
        &'a self,
        batch: &'a [Delivery],
    ) -> BoxFuture<'a, Vec<Result<(), PublishError>>> {
        Box::pin(async move {
            let requests = plan_requests(
                batch
                    .iter()
                    .map(|d| (d.record.ordering_key(), record_size(&d.record))),
                self.topic.len(),
                self.limits,
            );
            let mut futures: Vec<Option<_>> = (0..batch.len()).map(|_| None).collect();
            for request in &requests {
                for &index in &request.records {
                    let record = &batch[index].record;
                    futures[index] = Some(self.publisher.publish(pubsub_message(
                        record.data(),
                        record.attributes(),
                        record.ordering_key(),
                    )));
                }
            }
            self.publisher.flush().await;
            for request in &requests {
                PublishRequestSent {
                    messages: request.records.len(),
                    bytes: request.bytes,
                }
                .emit(&self.metrics);
            }
            let mut results = Vec::with_capacity(batch.len());
            for future in futures.into_iter().flatten() {
                results.push(future.await.map(drop));
            }
            results
        })
    }

    fn resume(&self, ordering_key: &str) {
        self.publisher.resume_publish(ordering_key);
    }
}

/// One publish request: which records of the batch (indices, in order) and its size as
/// the client counts it (topic name, data, attributes, ordering key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct PlannedRequest {
    pub records: Vec<usize>,
    pub bytes: usize,
}

/// Splits a batch (each record's ordering key and [`record_size`]) into the requests the
/// client sends for it: one group per ordering key
/// (no key is a group too) in order of first appearance, each cut greedily like the
/// client's batcher: before a record that would push the request past `max_bytes` (unless
/// the request is empty: an oversized record goes alone), and after the record that
/// reaches `max_messages` or `max_bytes`.
pub(super) fn plan_requests<'r>(
    records: impl Iterator<Item = (Option<&'r str>, usize)>,
    topic_len: usize,
    limits: BatchSettings,
) -> Vec<PlannedRequest> {
    let max_messages = limits.max_messages as usize;
    let max_bytes = limits.max_bytes as usize;
    // Open request per ordering key, as an index into `requests`.
    let mut open: Vec<(&str, usize)> = Vec::new();
    let mut requests: Vec<PlannedRequest> = Vec::new();
    let fresh = || PlannedRequest {
        records: Vec::new(),
        bytes: topic_len,
    };
    for (index, (key, size)) in records.enumerate() {
        let key = key.unwrap_or("");
        let slot = match open.iter().position(|(k, _)| *k == key) {
            Some(slot) => slot,
            None => {
                requests.push(fresh());
                open.push((key, requests.len() - 1));
                open.len() - 1
            }
        };
        let mut current = open[slot].1;
        let request = &requests[current];
        if !request.records.is_empty() && request.bytes + size > max_bytes {
            requests.push(fresh());
            current = requests.len() - 1;
            open[slot].1 = current;
        }
        let request = &mut requests[current];
        request.records.push(index);
        request.bytes += size;
        if request.records.len() >= max_messages || request.bytes >= max_bytes {
            requests.push(fresh());
            open[slot].1 = requests.len() - 1;
        }
    }
    requests.retain(|r| !r.records.is_empty());
    requests
}

/// A record's size as the client's batcher counts it.
fn record_size(record: &EncodedRecord) -> usize {
    record.data_len()
        + record.ordering_key().map_or(0, str::len)
        + record
            .attributes()
            .map(|(k, v)| k.len() + v.len())
            .sum::<usize>()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A record as the planner sees it: its ordering key and its size.
    fn record(key: Option<&str>, data_len: usize) -> (Option<&str>, usize) {
        (key, data_len + key.map_or(0, str::len))
    }

    fn limits(max_messages: u32, max_bytes: u32) -> BatchSettings {
        BatchSettings {
            max_messages,
            max_bytes,
            ..BatchSettings::default()
        }
    }

    fn sizes(requests: &[PlannedRequest]) -> Vec<usize> {
        requests.iter().map(|r| r.records.len()).collect()
    }

    #[test]
    fn a_batch_without_keys_is_cut_at_the_message_limit() {
        let records: Vec<_> = (0..2_500).map(|_| record(None, 10)).collect();
        let requests = plan_requests(records.iter().copied(), 1, limits(1_000, 9_000_000));
        assert_eq!(sizes(&requests), vec![1_000, 1_000, 500]);
        assert_eq!(requests[2].bytes, 1 + 500 * 10);
        let all: Vec<usize> = requests.iter().flat_map(|r| r.records.clone()).collect();
        assert_eq!(
            all,
            (0..2_500).collect::<Vec<_>>(),
            "every record once, in order"
        );
    }

    #[test]
    fn a_request_never_passes_the_byte_limit_and_an_oversized_record_goes_alone() {
        let records = [
            record(None, 40),
            record(None, 40),
            record(None, 40),
            record(None, 500),
            record(None, 10),
        ];
        let requests = plan_requests(records.iter().copied(), 0, limits(1_000, 100));
        assert_eq!(sizes(&requests), vec![2, 1, 1, 1]);
        assert!(
            requests
                .iter()
                .filter(|r| r.records != [3])
                .all(|r| r.bytes <= 100)
        );
    }

    #[test]
    fn each_ordering_key_gets_its_own_requests_in_record_order() {
        let records = [
            record(Some("a"), 1),
            record(None, 1),
            record(Some("b"), 1),
            record(Some("a"), 1),
            record(None, 1),
        ];
        let requests = plan_requests(records.iter().copied(), 0, limits(1_000, 1_000));
        let groups: Vec<Vec<usize>> = requests.iter().map(|r| r.records.clone()).collect();
        assert_eq!(groups, vec![vec![0, 3], vec![1, 4], vec![2]]);
    }
}
