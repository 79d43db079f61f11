//! Where a lane publishes its topic's records: Pub/Sub through the official client, or
//! the counting sink that only measures the gateway (`--publisher counting`). The lane
//! (retries, dead letters, acknowledgements) is the same for both, so a benchmark with
//! the counting sink still carries the buffer and the lanes.

use std::sync::Arc;

use backon::Retryable;
use futures::future::BoxFuture;
use google_cloud_pubsub::client::BasePublisher;
use google_cloud_pubsub::error::PublishError;
use hermes_buffer::Delivery;
use tokio::sync::watch;

use super::dead_letter_topic::DeadLetterTopic;
use super::pubsub_sink::PubSubSink;
use crate::events::ClientConnectFailed;
use crate::publish::counting::CountingSink;
use crate::publish::worker::{build_client, retry_delays, topic_publisher};
use crate::publish::{BatchSettings, PubSubConfig, PublishMetrics};

/// One topic's destination, as a lane sees it.
pub(crate) trait TopicSink: Send + Sync {
    /// Publish `batch` (records of this sink's topic, in append order), answering one
    /// result per record, in the same order. Records sharing an ordering key reach the
    /// topic in their order.
    fn publish<'a>(&'a self, batch: &'a [Delivery])
    -> BoxFuture<'a, Vec<Result<(), PublishError>>>;

    /// After a failure paused `ordering_key`, let its records be published again.
    fn resume(&self, ordering_key: &str);
}

/// Where one lane publishes: its topic's sink, and its dead-letter topic if any.
pub(super) type LaneSinks = (Box<dyn TopicSink>, Option<DeadLetterTopic>);

/// Which sink the durable publisher's lanes publish to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum SinkKind {
    /// Google Cloud Pub/Sub (or its emulator), per [`PubSubConfig::target`].
    #[default]
    Pubsub,
    /// Accept, count and acknowledge every message without sending it: measures the
    /// gateway alone. Nothing reaches Pub/Sub.
    Counting,
}

/// Makes each lane's sink: waits for the Pub/Sub client (connecting in the background
/// with backoff), or hands out counting sinks at once.
pub(super) enum Destination {
    PubSub {
        client: watch::Receiver<Option<BasePublisher>>,
        batching: BatchSettings,
        /// Boxed: the metrics' handles dwarf the counting variant.
        metrics: Box<PublishMetrics>,
    },
    Counting(Arc<CountingSink>),
}

impl Destination {
    /// Start the destination (for Pub/Sub: connecting, retried with backoff). Must be
    /// called within a Tokio runtime.
    pub fn start(kind: SinkKind, pubsub: &PubSubConfig, metrics: &PublishMetrics) -> Self {
        match kind {
            SinkKind::Counting => Destination::Counting(Arc::new(CountingSink::new(metrics))),
            SinkKind::Pubsub => {
                let (client_tx, client) = watch::channel(None);
                let config = pubsub.clone();
                let connect_metrics = metrics.clone();
                tokio::spawn(async move {
                    let connected = (|| build_client(&config))
                        .retry(retry_delays(&config))
                        .sleep(tokio::time::sleep)
                        .notify(|error, retry_in| {
                            ClientConnectFailed { error, retry_in }.emit(&connect_metrics)
                        })
                        .await;
                    if let Ok(client) = connected {
                        let _ = client_tx.send(Some(client));
                    }
                });
                Destination::PubSub {
                    client,
                    batching: pubsub.batching.clamped(),
                    metrics: Box::new(metrics.clone()),
                }
            }
        }
    }

    /// Whether lanes can publish now (the Pub/Sub client exists).
    pub fn is_ready(&self) -> bool {
        match self {
            Destination::PubSub { client, .. } => client.borrow().is_some(),
            Destination::Counting(_) => true,
        }
    }

    /// A future that yields `topic`'s sink and, when `dead_letter_topic` names one, that
    /// topic's publisher, once the destination is ready (`None` if it never will be: the
    /// connecting task ended without a client). The counting sink gets no dead-letter
    /// topic: it refuses nothing. Owns what it needs, so it can run in the lane's task.
    pub fn lane_sinks(
        &self,
        topic: &str,
        dead_letter_topic: Option<String>,
    ) -> BoxFuture<'static, Option<LaneSinks>> {
        let topic = topic.to_owned();
        match self {
            Destination::Counting(sink) => {
                let sink: Box<dyn TopicSink> = Box::new(Arc::clone(sink));
                Box::pin(async move { Some((sink, None)) })
            }
            Destination::PubSub {
                client,
                batching,
                metrics,
            } => {
                let mut client = client.clone();
                let batching = *batching;
                let metrics = PublishMetrics::clone(metrics);
                Box::pin(async move {
                    let base = client.wait_for(Option::is_some).await.ok()?.clone()?;
                    let dead_letter_topic = dead_letter_topic.map(|name| {
                        let publisher = topic_publisher(&base, &name, batching);
                        DeadLetterTopic::new(name, publisher)
                    });
                    let sink: Box<dyn TopicSink> =
                        Box::new(PubSubSink::new(&base, topic, batching, metrics));
                    Some((sink, dead_letter_topic))
                })
            }
        }
    }
}
