//! [`PubSubPublisher`]: the [`Publisher`] that sends to Google Cloud Pub/Sub (or its
//! emulator) through the official `google-cloud-pubsub` client.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures::future::BoxFuture;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use super::worker::{self, Phase, Queued, Shared};
use super::{EnqueueError, OutgoingMessage, PubSubConfig, PublishMetrics, Publisher, limits};

/// Publishes to Pub/Sub from a bounded in-memory queue.
///
/// `enqueue` validates the message, counts it against `queue_capacity` and hands it to a
/// background task; it never waits. That task creates the client (emulator when
/// configured, else Application Default Credentials), one batching client publisher per
/// topic on first use, and retries failed messages with exponential backoff until Pub/Sub
/// acknowledges them, keeping each ordering key's messages in order.
pub struct PubSubPublisher {
    tx: mpsc::UnboundedSender<Queued>,
    control: watch::Sender<Phase>,
    shared: Arc<Shared>,
    capacity: usize,
    shutdown_timeout: Duration,
    closed: AtomicBool,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl PubSubPublisher {
    /// Start the publisher's background task. Must be called within a Tokio runtime.
    /// Connecting happens in the background: see [`Publisher::is_ready`].
    pub fn start(config: PubSubConfig, metrics: PublishMetrics) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        let (control, control_rx) = watch::channel(Phase::Running);
        let shared = Arc::new(Shared::new(metrics));
        let capacity = config.queue_capacity;
        let shutdown_timeout = config.shutdown_timeout;
        let task = tokio::spawn(worker::run(config, shared.clone(), rx, control_rx));
        PubSubPublisher {
            tx,
            control,
            shared,
            capacity,
            shutdown_timeout,
            closed: AtomicBool::new(false),
            task: Mutex::new(Some(task)),
        }
    }

    async fn wait_until_drained(&self) {
        loop {
            let drained = self.shared.drained.notified();
            tokio::pin!(drained);
            drained.as_mut().enable();
            if self.shared.depth.load(Ordering::SeqCst) == 0 {
                return;
            }
            drained.await;
        }
    }
}

impl Publisher for PubSubPublisher {
    fn enqueue(&self, msg: OutgoingMessage) -> Result<(), EnqueueError> {
        if self.closed.load(Ordering::SeqCst) {
            return Err(EnqueueError::Closed);
        }
        limits::validate(&msg.record)?;
        let capacity = self.capacity;
        self.shared
            .depth
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |depth| {
                (depth < capacity).then_some(depth + 1)
            })
            .map_err(|_| EnqueueError::Full { capacity })?;
        self.shared.metrics.queue_depth.inc();
        if self.tx.send((msg, std::time::Instant::now())).is_err() {
            self.shared.depth.fetch_sub(1, Ordering::SeqCst);
            self.shared.metrics.queue_depth.dec();
            return Err(EnqueueError::Closed);
        }
        Ok(())
    }

    fn is_ready(&self) -> bool {
        self.shared.connected.load(Ordering::SeqCst)
            && !self.closed.load(Ordering::SeqCst)
            && self.queue_depth() < self.capacity
    }

    fn queue_depth(&self) -> usize {
        self.shared.depth.load(Ordering::SeqCst)
    }

    fn shutdown(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            self.closed.store(true, Ordering::SeqCst);
            let task = self
                .task
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take();
            let Some(task) = task else {
                return; // already shut down
            };
            let _ = self.control.send(Phase::Draining);
            let pending = self.queue_depth();
            let drained = tokio::time::timeout(self.shutdown_timeout, self.wait_until_drained())
                .await
                .is_ok();
            if drained {
                tracing::info!(flushed = pending, "publisher drained");
            } else {
                tracing::error!(
                    unpublished = self.queue_depth(),
                    timeout = ?self.shutdown_timeout,
                    "publisher shutdown timed out"
                );
            }
            let _ = self.control.send(Phase::Stopped);
            if let Err(error) = task.await {
                tracing::error!(%error, "publisher task failed");
            }
        })
    }
}

impl Drop for PubSubPublisher {
    fn drop(&mut self) {
        // Without a shutdown, stop at once; the task counts what it drops.
        let _ = self.control.send(Phase::Stopped);
    }
}
