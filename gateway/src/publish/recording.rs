//! [`RecordingPublisher`]: keeps messages in memory instead of publishing them, for unit
//! tests and the debug mode (which shows the rendered messages and publishes nothing).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use futures::future::BoxFuture;

use super::{EnqueueError, OutgoingMessage, Publisher, limits};

/// Records every accepted message. Validates like [`PubSubPublisher`](super::PubSubPublisher),
/// so a message it accepts is one Pub/Sub would accept.
#[derive(Debug)]
pub struct RecordingPublisher {
    messages: Mutex<Vec<OutgoingMessage>>,
    capacity: Option<usize>,
    ready: AtomicBool,
    closed: AtomicBool,
}

impl Default for RecordingPublisher {
    fn default() -> Self {
        RecordingPublisher {
            messages: Mutex::new(Vec::new()),
            capacity: None,
            ready: AtomicBool::new(true),
            closed: AtomicBool::new(false),
        }
    }
}

impl RecordingPublisher {
    /// An unbounded, ready recorder.
    pub fn new() -> Self {
        Self::default()
    }

    /// A recorder that answers [`EnqueueError::Full`] once it holds `capacity` messages.
    pub fn with_capacity(capacity: usize) -> Self {
        RecordingPublisher {
            capacity: Some(capacity),
            ..Self::default()
        }
    }

    /// A copy of the recorded messages, in enqueue order.
    pub fn messages(&self) -> Vec<OutgoingMessage> {
        self.lock().clone()
    }

    /// Take the recorded messages out, leaving the recorder empty.
    pub fn take(&self) -> Vec<OutgoingMessage> {
        std::mem::take(&mut *self.lock())
    }

    /// What [`Publisher::is_ready`] answers (true by default).
    pub fn set_ready(&self, ready: bool) {
        self.ready.store(ready, Ordering::SeqCst);
    }

    fn lock(&self) -> MutexGuard<'_, Vec<OutgoingMessage>> {
        self.messages.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Publisher for RecordingPublisher {
    fn enqueue(&self, msg: OutgoingMessage) -> Result<(), EnqueueError> {
        if self.closed.load(Ordering::SeqCst) {
            return Err(EnqueueError::Closed);
        }
        limits::validate(&msg.record)?;
        let mut messages = self.lock();
        if let Some(capacity) = self.capacity
            && messages.len() >= capacity
        {
            return Err(EnqueueError::Full { capacity });
        }
        messages.push(msg);
        Ok(())
    }

    fn is_ready(&self) -> bool {
        self.ready.load(Ordering::SeqCst) && !self.closed.load(Ordering::SeqCst)
    }

    fn queue_depth(&self) -> usize {
        self.lock().len()
    }

    fn shutdown(&self) -> BoxFuture<'_, ()> {
        self.closed.store(true, Ordering::SeqCst);
        Box::pin(async {})
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::publish::{InvalidMessage, Record};

    const TOPIC: &str = "projects/shop/topics/low-stock";

    #[test]
    fn records_accepted_messages_in_order() {
        let recorder = RecordingPublisher::new();
        for sku in ["BOWL-10", "CUP-2"] {
            recorder
                .enqueue(OutgoingMessage::new(
                    "low-stock",
                    Record::new(TOPIC, sku).with_attribute("sku", sku),
                ))
                .unwrap();
        }
        let skus: Vec<_> = recorder
            .messages()
            .iter()
            .map(|m| m.record.data.clone())
            .collect();
        assert_eq!(skus, vec!["BOWL-10", "CUP-2"]);
        assert_eq!(recorder.queue_depth(), 2);
        assert_eq!(recorder.take().len(), 2);
        assert_eq!(recorder.queue_depth(), 0);
    }

    #[test]
    fn refuses_when_full_invalid_or_shut_down() {
        let recorder = RecordingPublisher::with_capacity(1);
        recorder
            .enqueue(OutgoingMessage::new("t", Record::new(TOPIC, "a")))
            .unwrap();
        assert!(matches!(
            recorder.enqueue(OutgoingMessage::new("t", Record::new(TOPIC, "b"))),
            Err(EnqueueError::Full { capacity: 1 })
        ));
        assert!(matches!(
            recorder.enqueue(OutgoingMessage::new("t", Record::new("low-stock", "c"))),
            Err(EnqueueError::Invalid(InvalidMessage::Topic { .. }))
        ));
        assert!(recorder.is_ready());
        futures::executor::block_on(recorder.shutdown());
        assert!(!recorder.is_ready());
        assert!(matches!(
            recorder.enqueue(OutgoingMessage::new("t", Record::new(TOPIC, "d"))),
            Err(EnqueueError::Closed)
        ));
    }
}
