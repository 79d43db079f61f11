//! Which topics are failing right now (missing, forbidden), with the reason and the last
//! error: what the gateway reports for the Tags' `Delivering` condition and
//! `hermes_publish_failing_topics` counts.

use std::collections::BTreeMap;
use std::time::SystemTime;

use tokio::sync::watch;

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

/// The failing topics, by full name, in a watch channel: the gateway's report wakes
/// when a topic starts failing, changes reason or heals, not when only the error text of
/// a later attempt differs (that rides along with the next renewal).
#[derive(Debug)]
pub(super) struct FailingTopics {
    topics: watch::Sender<BTreeMap<String, FailingTopic>>,
}

impl Default for FailingTopics {
    fn default() -> Self {
        FailingTopics {
            topics: watch::Sender::new(BTreeMap::new()),
        }
    }
}

impl FailingTopics {
    pub fn get(&self, topic: &str) -> Option<FailingTopic> {
        self.topics.borrow().get(topic).cloned()
    }

    pub fn snapshot(&self) -> BTreeMap<String, FailingTopic> {
        self.topics.borrow().clone()
    }

    /// A receiver that sees each change of the set (or of a topic's reason).
    pub fn subscribe(&self) -> watch::Receiver<BTreeMap<String, FailingTopic>> {
        self.topics.subscribe()
    }

    /// `topic` failed for `reason`; keeps the first `since`, updates the error.
    pub fn fail(&self, topic: &str, reason: &'static str, error: &str, metrics: &PublishMetrics) {
        let mut new = false;
        let mut count = 0;
        self.topics.send_if_modified(|topics| {
            new = !topics.contains_key(topic);
            let entry = topics
                .entry(topic.to_owned())
                .or_insert_with(|| FailingTopic {
                    reason,
                    error: String::new(),
                    since: SystemTime::now(),
                });
            let reason_changed = entry.reason != reason;
            entry.reason = reason;
            entry.error = error.to_owned();
            count = topics.len();
            new || reason_changed
        });
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
        let mut count = 0;
        let healed = self.topics.send_if_modified(|topics| {
            count = topics.len().saturating_sub(1);
            topics.remove(topic).is_some()
        });
        if healed {
            TopicHealed {
                topic,
                failing: count,
            }
            .emit(metrics);
        }
    }
}
