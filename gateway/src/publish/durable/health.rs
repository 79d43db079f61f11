//! Which topics are failing right now (missing, forbidden), with the reason and the last
//! error: what the gateway reports for the Tags' `Delivering` condition and
//! `hermes_publish_failing_topics` counts.

use std::collections::BTreeMap;
use std::sync::{Mutex, PoisonError};
use std::time::SystemTime;

use crate::events::{TopicFailing, TopicHealed};
use crate::publish::PublishMetrics;

/// A topic that cannot take messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailingTopic {
    /// `TopicNotFound`, `PermissionDenied`, `Unauthenticated`.
    pub reason: &'static str,
    /// The last error, as the client put it.
    pub error: String,
    /// When the topic started failing.
    pub since: SystemTime,
}

/// The failing topics, by full name.
#[derive(Debug, Default)]
pub(super) struct FailingTopics {
    topics: Mutex<BTreeMap<String, FailingTopic>>,
}

impl FailingTopics {
    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, FailingTopic>> {
        self.topics.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn get(&self, topic: &str) -> Option<FailingTopic> {
        self.lock().get(topic).cloned()
    }

    pub fn snapshot(&self) -> BTreeMap<String, FailingTopic> {
        self.lock().clone()
    }

    /// `topic` failed for `reason`; keeps the first `since`, updates the error.
    pub fn fail(&self, topic: &str, reason: &'static str, error: &str, metrics: &PublishMetrics) {
        let mut topics = self.lock();
        let new = !topics.contains_key(topic);
        let entry = topics
            .entry(topic.to_owned())
            .or_insert_with(|| FailingTopic {
                reason,
                error: String::new(),
                since: SystemTime::now(),
            });
        entry.reason = reason;
        entry.error = error.to_owned();
        let count = topics.len();
        drop(topics);
        if new {
            TopicFailing {
                topic,
                reason,
                error,
                failing: count,
            }
            .emit(metrics);
        }
    }

    /// `topic` took a message again.
    pub fn heal(&self, topic: &str, metrics: &PublishMetrics) {
        let mut topics = self.lock();
        if topics.remove(topic).is_some() {
            let count = topics.len();
            drop(topics);
            TopicHealed {
                topic,
                failing: count,
            }
            .emit(metrics);
        }
    }
}
