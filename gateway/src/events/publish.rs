//! What happens to messages behind the queue: taken in a batch, published, a failed
//! attempt, retried, refused by Pub/Sub, abandoned at stop; and failures to create the
//! client.

use std::fmt::Display;
use std::time::{Duration, Instant, SystemTime};

use hermes_buffer::Delivery;

use crate::publish::{OutgoingMessage, PublishMetrics};

/// The worker took this many messages off the queue at once.
pub(crate) struct BatchTaken {
    pub messages: usize,
}

impl BatchTaken {
    pub(crate) fn emit(self, metrics: &PublishMetrics) {
        tracing::trace!(messages = self.messages, "messages taken off the queue");
        metrics.batch_size.observe(self.messages as f64);
    }
}

/// A lane's batch is complete and goes to its sink now: how long each record waited since
/// it was accepted (the buffer, and the linger that fills requests).
pub(crate) struct LaneBatchReady<'a> {
    pub batch: &'a [Delivery],
}

impl LaneBatchReady<'_> {
    pub(crate) fn emit(self, metrics: &PublishMetrics) {
        let now = SystemTime::now();
        for delivery in self.batch {
            let waited = now.duration_since(delivery.appended_at).unwrap_or_default();
            metrics.batch_wait.observe(waited.as_secs_f64());
        }
        tracing::trace!(messages = self.batch.len(), "lane batch ready");
    }
}

/// The durable publisher sent one publish request of `messages` messages and `bytes`
/// bytes (as the client counts them).
pub(crate) struct PublishRequestSent {
    pub messages: usize,
    pub bytes: usize,
}

impl PublishRequestSent {
    pub(crate) fn emit(self, metrics: &PublishMetrics) {
        tracing::trace!(
            messages = self.messages,
            bytes = self.bytes,
            "publish request sent"
        );
        metrics.request_messages.observe(self.messages as f64);
        metrics.request_bytes.observe(self.bytes as f64);
    }
}

/// The counting sink took `messages` messages (nothing is sent).
pub(crate) struct MessagesCounted {
    pub messages: usize,
}

impl MessagesCounted {
    pub(crate) fn emit(self, metrics: &PublishMetrics) {
        metrics.counted.inc_by(self.messages as u64);
    }
}

/// Pub/Sub acknowledged a message, `waited` after it was accepted.
pub(crate) struct MessagePublished<'a> {
    pub tag: &'a str,
    pub waited: Duration,
}

impl MessagePublished<'_> {
    pub(crate) fn emit(self, metrics: &PublishMetrics) {
        tracing::trace!(tag = self.tag, waited = ?self.waited, "message published");
        PublishMetrics::for_tag(&metrics.published, self.tag).inc();
        metrics.latency.observe(self.waited.as_secs_f64());
    }
}

/// One attempt to publish a message failed; it will be retried. The log line is
/// throttled (an outage fails every message), the counter is not.
pub(crate) struct PublishAttemptFailed<'a> {
    pub tag: &'a str,
    pub topic: &'a str,
    pub attempts: u32,
    pub error: &'a dyn Display,
}

impl PublishAttemptFailed<'_> {
    pub(crate) fn emit(self, metrics: &PublishMetrics, throttle: &mut LogThrottle) {
        PublishMetrics::for_tag(&metrics.failed, self.tag).inc();
        if let Some(suppressed) = throttle.admit() {
            tracing::warn!(
                tag = self.tag,
                topic = self.topic,
                attempts = self.attempts,
                error = %self.error,
                similar_failures_suppressed = suppressed,
                "publish attempt failed; will retry"
            );
        }
    }
}

/// A message is sent again after a failed attempt.
pub(crate) struct MessageRetried<'a> {
    pub tag: &'a str,
    pub attempt: u32,
}

impl MessageRetried<'_> {
    pub(crate) fn emit(self, metrics: &PublishMetrics) {
        tracing::debug!(tag = self.tag, attempt = self.attempt, "message retried");
        PublishMetrics::for_tag(&metrics.retried, self.tag).inc();
    }
}

/// Pub/Sub refused a message as invalid: the attempt failed and the message is given up.
pub(crate) struct MessageRefused<'a> {
    pub tag: &'a str,
    pub topic: &'a str,
    pub error: &'a dyn Display,
}

impl MessageRefused<'_> {
    pub(crate) fn emit(self, metrics: &PublishMetrics) {
        tracing::error!(
            tag = self.tag,
            topic = self.topic,
            error = %self.error,
            "Pub/Sub refused the message; dropping it"
        );
        PublishMetrics::for_tag(&metrics.failed, self.tag).inc();
        PublishMetrics::for_tag(&metrics.dropped, self.tag).inc();
    }
}

/// The worker stopped (shutdown timed out, or no client) with these messages still
/// unpublished: they are given up, one log line for all, counted per tag.
pub(crate) struct MessagesAbandoned<'a> {
    pub messages: &'a [OutgoingMessage],
}

impl MessagesAbandoned<'_> {
    pub(crate) fn emit(self, metrics: &PublishMetrics) {
        if self.messages.is_empty() {
            return;
        }
        tracing::error!(
            unpublished = self.messages.len(),
            "publisher stopped with unpublished messages"
        );
        for msg in self.messages {
            PublishMetrics::for_tag(&metrics.dropped, &msg.tag).inc();
        }
    }
}

/// The Pub/Sub client could not be created (e.g. credentials missing); retried after
/// `retry_in`.
pub(crate) struct ClientConnectFailed<'a> {
    pub error: &'a dyn Display,
    pub retry_in: Duration,
}

impl ClientConnectFailed<'_> {
    pub(crate) fn emit(self, metrics: &PublishMetrics) {
        tracing::error!(error = %self.error, retry_in = ?self.retry_in, "cannot create the Pub/Sub client");
        metrics.connect_failures.inc();
    }
}

/// At most one log line per interval; says how many were held back since the last.
#[derive(Debug, Default)]
pub(crate) struct LogThrottle {
    last: Option<Instant>,
    suppressed: u64,
}

impl LogThrottle {
    const INTERVAL: Duration = Duration::from_secs(5);

    /// `Some(held back since the last line)` when a line may be written now.
    fn admit(&mut self) -> Option<u64> {
        let now = Instant::now();
        if self
            .last
            .is_some_and(|last| now.duration_since(last) < Self::INTERVAL)
        {
            self.suppressed += 1;
            return None;
        }
        self.last = Some(now);
        Some(std::mem::take(&mut self.suppressed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_throttle_admits_one_line_per_interval_and_counts_the_rest() {
        let mut throttle = LogThrottle::default();
        assert_eq!(throttle.admit(), Some(0));
        assert_eq!(throttle.admit(), None);
        assert_eq!(throttle.admit(), None);
        throttle.last = Some(Instant::now() - LogThrottle::INTERVAL);
        assert_eq!(throttle.admit(), Some(2));
    }
}
