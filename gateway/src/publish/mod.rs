//! Publish: hand rendered tag messages to Pub/Sub without ever blocking the request.
//!
//! The hit path sees only the narrow [`Publisher`] trait: [`Publisher::enqueue`] accepts a
//! message into a bounded queue (or refuses it at once), and everything after that —
//! batching, ordering keys, retries with backoff, metrics — happens in the background.
//! [`PubSubPublisher`] is the Pub/Sub implementation (official `google-cloud-pubsub`
//! crate); [`RecordingPublisher`] keeps messages in memory for unit tests and the debug
//! mode. The reliability issue swaps in a durable buffer behind the same trait.

mod config;
mod lanes;
pub mod limits;
mod metrics;
mod pubsub;
mod recording;
mod worker;

use std::collections::BTreeMap;

use futures::future::BoxFuture;

pub use config::{BatchSettings, PubSubConfig, PubSubTarget};
pub use limits::InvalidMessage;
pub use metrics::PublishMetrics;
pub use pubsub::PubSubPublisher;
pub use recording::RecordingPublisher;

/// One message a tag asks to publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingMessage {
    /// The tag that rendered the message (metrics and logs are per tag).
    pub tag: String,
    /// The full topic name, `projects/P/topics/T`.
    pub topic: String,
    /// The payload.
    pub data: bytes::Bytes,
    /// Message attributes.
    pub attributes: BTreeMap<String, String>,
    /// Messages with the same key on the same topic are published in enqueue order.
    /// `None` (or an empty key) means no ordering.
    pub ordering_key: Option<String>,
}

impl OutgoingMessage {
    /// A message without attributes or ordering key.
    pub fn new(
        tag: impl Into<String>,
        topic: impl Into<String>,
        data: impl Into<bytes::Bytes>,
    ) -> Self {
        OutgoingMessage {
            tag: tag.into(),
            topic: topic.into(),
            data: data.into(),
            attributes: BTreeMap::new(),
            ordering_key: None,
        }
    }

    /// Adds (or replaces) an attribute.
    pub fn with_attribute(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.attributes.insert(key.into(), value.into());
        self
    }

    /// Sets the ordering key.
    pub fn with_ordering_key(mut self, key: impl Into<String>) -> Self {
        self.ordering_key = Some(key.into());
        self
    }

    /// The ordering key, `None` when absent or empty.
    pub fn ordering_key(&self) -> Option<&str> {
        self.ordering_key.as_deref().filter(|k| !k.is_empty())
    }
}

/// Why a message was not accepted. The caller counts it and moves on; it never waits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
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
}

/// Where rendered messages go. Held by the server as `Arc<dyn Publisher>`.
pub trait Publisher: Send + Sync {
    /// Accept a message for publishing, or refuse it at once; never waits for Pub/Sub.
    /// An accepted message is kept (and retried) until Pub/Sub acknowledges it or
    /// [`shutdown`](Self::shutdown) gives up on it: at-least-once, so consumers
    /// de-duplicate on the event id attribute.
    fn enqueue(&self, msg: OutgoingMessage) -> Result<(), EnqueueError>;

    /// Whether the publisher can take traffic (client built, not shutting down, queue not
    /// full). Feeds `/readyz`.
    fn is_ready(&self) -> bool;

    /// Messages accepted and not yet published (queued, in flight or awaiting retry).
    fn queue_depth(&self) -> usize;

    /// Stop accepting messages, publish what is pending within the configured shutdown
    /// timeout, then stop. Calling it again returns at once.
    fn shutdown(&self) -> BoxFuture<'_, ()>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_ordering_key_means_no_ordering() {
        let msg = OutgoingMessage::new("t", "projects/p/topics/topic", "x").with_ordering_key("");
        assert_eq!(msg.ordering_key(), None);
        let msg = msg.with_ordering_key("client-1");
        assert_eq!(msg.ordering_key(), Some("client-1"));
    }
}
