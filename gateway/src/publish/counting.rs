//! The counting sink (`--publisher counting`): accepts every message, counts it in
//! `hermes_publish_counted_messages_total` and acknowledges it, sending nothing. It
//! exists for the load benchmark, to measure the gateway alone: with the durable buffer
//! (the default) the buffer and the publisher lanes stay in the path and only Pub/Sub is
//! left out; with `--buffer memory` ([`CountingPublisher`]) the hit path ends at the count.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use futures::future::BoxFuture;
use google_cloud_pubsub::error::PublishError;
use hermes_buffer::Delivery;

use super::durable::TopicSink;
use super::{EnqueueError, OutgoingMessage, PublishMetrics, Publisher, limits};
use crate::events::MessagesCounted;

/// A lane's sink that publishes nothing: every record is counted and succeeds.
#[derive(Debug)]
pub struct CountingSink {
    metrics: PublishMetrics,
}

impl CountingSink {
    pub fn new(metrics: &PublishMetrics) -> Self {
        CountingSink {
            metrics: metrics.clone(),
        }
    }
}

impl TopicSink for Arc<CountingSink> {
    fn publish<'a>(
        &'a self,
        batch: &'a [Delivery],
    ) -> BoxFuture<'a, Vec<Result<(), PublishError>>> {
        MessagesCounted {
            messages: batch.len(),
        }
        .emit(&self.metrics);
        Box::pin(std::future::ready(batch.iter().map(|_| Ok(())).collect()))
    }

    fn resume(&self, _ordering_key: &str) {}
}

/// `--publisher counting --buffer memory`: the [`Publisher`] that counts each valid
/// message as it is accepted. No queue, no buffer: what the hit path costs without them.
#[derive(Debug)]
pub struct CountingPublisher {
    metrics: PublishMetrics,
    closed: AtomicBool,
}

impl CountingPublisher {
    pub fn new(metrics: PublishMetrics) -> Self {
        CountingPublisher {
            metrics,
            closed: AtomicBool::new(false),
        }
    }
}

impl Publisher for CountingPublisher {
    fn enqueue(&self, msg: OutgoingMessage) -> Result<(), EnqueueError> {
        if self.closed.load(Ordering::Relaxed) {
            return Err(EnqueueError::Closed);
        }
        limits::validate(&msg.record)?;
        MessagesCounted { messages: 1 }.emit(&self.metrics);
        Ok(())
    }

    fn is_ready(&self) -> bool {
        !self.closed.load(Ordering::Relaxed)
    }

    /// Nothing waits: a message is counted when accepted.
    fn queue_depth(&self) -> usize {
        0
    }

    fn shutdown(&self) -> BoxFuture<'_, ()> {
        self.closed.store(true, Ordering::Relaxed);
        Box::pin(std::future::ready(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::publish::{DurableConfig, DurablePublisher, PubSubConfig, SinkKind};
    use hermes_buffer::{Buffer, BufferConfig, Record};

    #[tokio::test]
    async fn the_counting_sink_behind_the_buffer_counts_and_acknowledges_every_message() {
        let dir = tempfile::tempdir().expect("temp dir");
        let buffer = Buffer::open(
            BufferConfig::new(dir.path().join("buffer")),
            &mut prometheus_client::registry::Registry::default(),
        )
        .expect("opens");
        // Nothing listens on port 9: a Pub/Sub lane could never publish.
        let mut config =
            DurableConfig::new(PubSubConfig::emulator("127.0.0.1:9"), dir.path().join("dl"));
        config.sink = SinkKind::Counting;
        let mut registry = prometheus_client::registry::Registry::default();
        let metrics = PublishMetrics::register(&mut registry);
        let publisher = DurablePublisher::start(buffer, config, metrics.clone());
        assert!(publisher.is_ready(), "no client to wait for");
        let messages: Vec<OutgoingMessage> = (0..300)
            .map(|n| {
                let topic = if n % 2 == 0 { "orders" } else { "stock" };
                OutgoingMessage::new(
                    "t",
                    Record::new(format!("projects/p/topics/{topic}"), format!("{n}")),
                )
            })
            .collect();
        assert_eq!(publisher.accept(messages).await.expect("kept").queued, 300);
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
        while publisher.queue_depth() > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        assert_eq!(publisher.queue_depth(), 0, "the buffer drained");
        assert_eq!(metrics.counted.get(), 300);
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry).expect("encodes");
        assert!(
            text.contains("hermes_publish_counted_messages_total 300"),
            "{text}"
        );
        assert!(
            text.contains("hermes_publish_request_messages_count 0"),
            "no publish request sent: {text}"
        );
        publisher.shutdown().await;
    }

    #[tokio::test]
    async fn counts_valid_messages_refuses_invalid_ones_and_closes_at_shutdown() {
        let metrics = PublishMetrics::default();
        let publisher = CountingPublisher::new(metrics.clone());
        let valid = OutgoingMessage::new("t", Record::new("projects/p/topics/orders", "{}"));
        let accepted = publisher
            .accept(vec![valid.clone(), valid.clone()])
            .await
            .expect("accepted");
        assert_eq!(accepted.queued, 2);
        let invalid = OutgoingMessage::new("t", Record::new("not-a-topic", "{}"));
        assert!(matches!(
            publisher.enqueue(invalid),
            Err(EnqueueError::Invalid(_))
        ));
        assert_eq!(metrics.counted.get(), 2);
        publisher.shutdown().await;
        assert!(!publisher.is_ready());
        assert!(matches!(
            publisher.enqueue(valid),
            Err(EnqueueError::Closed)
        ));
        assert_eq!(metrics.counted.get(), 2);
    }
}
