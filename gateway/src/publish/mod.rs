//! Publish: hand rendered tag messages to Pub/Sub without ever blocking the request.
//!
//! The hit path sees only the narrow [`Publisher`] trait: [`Publisher::enqueue`] accepts a
//! message into a bounded queue (or refuses it at once), and everything after that —
//! batching, ordering keys, retries with backoff, metrics — happens in the background.
//! [`PubSubPublisher`] is the Pub/Sub implementation (official `google-cloud-pubsub`
//! crate); [`RecordingPublisher`] keeps messages in memory for unit tests and the debug
//! mode. [`DurablePublisher`] keeps accepted messages in the disk buffer (`hermes-buffer`)
//! and publishes them from one lane per topic (`docs/reliability.md`); the hit path then
//! uses [`Publisher::accept`], which answers only once the hit's messages are kept.

mod config;
mod counting;
mod durable;
mod lanes;
pub mod limits;
mod metrics;
mod pubsub;
mod recording;
mod worker;

use futures::future::BoxFuture;
pub use hermes_buffer::Record;

pub use config::{BatchSettings, PubSubConfig, PubSubTarget};
pub use counting::{CountingPublisher, CountingSink};
pub use durable::{
    DeadLetterTopicName, DurableConfig, DurablePublisher, FailingTopic, FullPolicy, SinkKind,
};
pub use limits::InvalidMessage;
pub use metrics::{DeadLetterLabels, PublishMetrics};
pub use pubsub::PubSubPublisher;
pub use recording::RecordingPublisher;

/// One message a tag asks to publish: the record the buffer keeps and Pub/Sub receives
/// (topic, attributes, ordering key, payload; built with [`Record::new`] and its
/// `with_…` methods), and the tag that rendered it, which metrics and logs are per.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingMessage {
    /// The tag that rendered the message.
    pub tag: String,
    /// What is published.
    pub record: Record,
}

impl OutgoingMessage {
    /// `tag`'s message `record`.
    pub fn new(tag: impl Into<String>, record: Record) -> Self {
        OutgoingMessage {
            tag: tag.into(),
            record,
        }
    }

    /// The full topic name, `projects/P/topics/T`.
    pub fn topic(&self) -> &str {
        &self.record.topic
    }
}

/// Why a message was not accepted. The caller counts it and moves on; it never waits.
#[derive(Debug, Clone, thiserror::Error)]
pub enum EnqueueError {
    /// The queue holds `capacity` unpublished messages already.
    #[error("publish queue is full ({capacity} messages waiting)")]
    Full { capacity: usize },
    /// The publisher is shutting down or stopped.
    #[error("publisher is shut down")]
    Closed,
    /// Pub/Sub would refuse this message whatever happens.
    #[error("message cannot be published: {0}")]
    Invalid(#[from] InvalidMessage),
    /// The durable buffer could not keep the message (disk error, closed).
    #[error("buffer cannot keep the message")]
    Buffer(#[source] hermes_buffer::AppendError),
}

/// A message of a hit that was not accepted, with its tag (metrics are per tag).
#[derive(Debug, Clone)]
pub struct NotAccepted {
    pub tag: String,
    pub error: EnqueueError,
}

/// What [`Publisher::accept`] did with a hit's messages.
#[derive(Debug, Default)]
pub struct Accepted {
    /// Messages kept for publishing.
    pub queued: usize,
    /// Messages Pub/Sub could never take (skipped; the hit goes on), or dropped by the
    /// `drop` full policy.
    pub skipped: Vec<NotAccepted>,
}

/// Where rendered messages go. Held by the server as `Arc<dyn Publisher>`.
pub trait Publisher: Send + Sync {
    /// Accept a message for publishing, or refuse it at once; never waits for Pub/Sub.
    /// An accepted message is kept (and retried) until Pub/Sub acknowledges it or
    /// [`shutdown`](Self::shutdown) gives up on it: at-least-once, so consumers
    /// de-duplicate on the event id attribute.
    fn enqueue(&self, msg: OutgoingMessage) -> Result<(), EnqueueError>;

    /// Accept all messages of one hit: `Ok` once they are kept (for a durable publisher:
    /// in the buffer), `Err` when the hit must be refused (503: the client retries).
    /// Unpublishable messages are skipped and listed. The default enqueues one by one.
    fn accept(
        &self,
        messages: Vec<OutgoingMessage>,
    ) -> BoxFuture<'_, Result<Accepted, NotAccepted>> {
        let mut accepted = Accepted::default();
        for msg in messages {
            let tag = msg.tag.clone();
            match self.enqueue(msg) {
                Ok(()) => accepted.queued += 1,
                Err(error @ EnqueueError::Invalid(_)) => {
                    accepted.skipped.push(NotAccepted { tag, error });
                }
                Err(error) => return Box::pin(async move { Err(NotAccepted { tag, error }) }),
            }
        }
        Box::pin(async move { Ok(accepted) })
    }

    /// Whether the publisher can take traffic (client built, not shutting down, queue not
    /// full). Feeds `/readyz`.
    fn is_ready(&self) -> bool;

    /// Messages accepted and not yet published (queued, in flight or awaiting retry).
    fn queue_depth(&self) -> usize;

    /// Stop accepting messages, publish what is pending within the configured shutdown
    /// timeout, then stop. Calling it again returns at once.
    fn shutdown(&self) -> BoxFuture<'_, ()>;
}
