//! The dead-letter topic (`--dead-letter-topic`): where a failing destination's messages
//! are published, so the team that owns the data sees them in Pub/Sub rather than on one
//! gateway's disk. Each keeps its payload and attributes (`hermes_event_id` among them, so
//! consumers still de-duplicate) and gains [`REASON_ATTRIBUTE`] and
//! [`ORIGINAL_TOPIC_ATTRIBUTE`]. It goes without its ordering key: a failed publish pauses
//! a key in the client, and one bad key would then hold back every later dead letter of
//! it; the order of dead letters carries no meaning anyway.
//!
//! What the topic does not acknowledge goes to the dead-letter file instead (the lane
//! does that), so a missing or forbidden dead-letter topic loses nothing.

use google_cloud_pubsub::client::Publisher as TopicPublisher;
use google_cloud_pubsub::error::PublishError;
use google_cloud_pubsub::model::Message;
use hermes_buffer::Record;

use super::dead_letter::REASON_ATTRIBUTE;
use crate::publish::limits::{InvalidMessage, validate_topic};

/// The attribute naming the topic a dead letter was meant for, `projects/P/topics/T`.
pub const ORIGINAL_TOPIC_ATTRIBUTE: &str = "hermes_original_topic";

/// `--dead-letter-topic` as given: a full name, or a bare one that takes the project of
/// each message's own topic (the namespace's project setting, for Tags that name bare
/// topics), so one flag serves every project the gateway publishes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeadLetterTopicName {
    /// `projects/P/topics/T`.
    Full(String),
    /// `T`.
    Bare(String),
}

impl DeadLetterTopicName {
    /// Parses a full `projects/P/topics/T` or a bare topic id; refuses what Pub/Sub would.
    pub fn parse(text: &str) -> Result<Self, InvalidMessage> {
        if text.contains('/') {
            validate_topic(text)?;
            Ok(DeadLetterTopicName::Full(text.to_owned()))
        } else {
            validate_topic(&format!("projects/project/topics/{text}"))?;
            Ok(DeadLetterTopicName::Bare(text.to_owned()))
        }
    }

    /// The full dead-letter topic for messages meant for `original`
    /// (`projects/P/topics/T`).
    pub fn for_topic(&self, original: &str) -> String {
        match self {
            DeadLetterTopicName::Full(full) => full.clone(),
            DeadLetterTopicName::Bare(name) => {
                let project = original
                    .strip_prefix("projects/")
                    .and_then(|rest| rest.split('/').next())
                    .unwrap_or_default();
                format!("projects/{project}/topics/{name}")
            }
        }
    }
}

impl std::str::FromStr for DeadLetterTopicName {
    type Err = InvalidMessage;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        DeadLetterTopicName::parse(text)
    }
}

/// One lane's way to its dead-letter topic.
pub struct DeadLetterTopic {
    /// The full topic name.
    pub name: String,
    publisher: TopicPublisher,
}

impl DeadLetterTopic {
    pub fn new(name: String, publisher: TopicPublisher) -> Self {
        DeadLetterTopic { name, publisher }
    }

    /// Publishes each record as a dead letter of `original` for `reason`; one result per
    /// record, in order.
    pub async fn publish(
        &self,
        records: &[&Record],
        original: &str,
        reason: &str,
    ) -> Vec<Result<String, PublishError>> {
        let futures: Vec<_> = records
            .iter()
            .map(|record| {
                self.publisher
                    .publish(dead_letter_message(record, original, reason))
            })
            .collect();
        futures::future::join_all(futures).await
    }
}

/// The message published for `record`: its payload and attributes, the reason and the
/// original topic, no ordering key.
fn dead_letter_message(record: &Record, original: &str, reason: &str) -> Message {
    let attributes = record
        .attributes
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .chain([
            (REASON_ATTRIBUTE.to_owned(), reason.to_owned()),
            (ORIGINAL_TOPIC_ATTRIBUTE.to_owned(), original.to_owned()),
        ]);
    Message::new()
        .set_data(record.data.clone())
        .set_attributes(attributes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bare_name_takes_the_project_of_each_messages_topic() {
        let name = DeadLetterTopicName::parse("dead-letters").unwrap();
        assert_eq!(
            name.for_topic("projects/shop-prod/topics/low-stock"),
            "projects/shop-prod/topics/dead-letters"
        );
        assert_eq!(
            name.for_topic("projects/shop-staging/topics/purchases"),
            "projects/shop-staging/topics/dead-letters"
        );
    }

    #[test]
    fn a_full_name_is_used_for_every_topic() {
        let name = DeadLetterTopicName::parse("projects/ops/topics/dead-letters").unwrap();
        assert_eq!(
            name.for_topic("projects/shop-prod/topics/low-stock"),
            "projects/ops/topics/dead-letters"
        );
    }

    #[test]
    fn names_pubsub_would_refuse_are_refused() {
        for bad in [
            "ab",
            "goog-dead",
            "projects/p/topics",
            "has space",
            "1-dead",
        ] {
            assert!(
                matches!(
                    DeadLetterTopicName::parse(bad),
                    Err(InvalidMessage::Topic { .. })
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn a_dead_letter_keeps_payload_and_attributes_adds_reason_and_topic_and_drops_the_key() {
        let record = Record::new("projects/p/topics/missing", "{\"sku\":\"BOWL-10\"}")
            .with_attribute("hermes_event_id", "e-1")
            .with_ordering_key("client-1");
        let message = dead_letter_message(&record, "projects/p/topics/missing", "TopicNotFound");
        assert_eq!(message.data, record.data);
        assert_eq!(message.attributes["hermes_event_id"], "e-1");
        assert_eq!(message.attributes[REASON_ATTRIBUTE], "TopicNotFound");
        assert_eq!(
            message.attributes[ORIGINAL_TOPIC_ATTRIBUTE],
            "projects/p/topics/missing"
        );
        assert_eq!(message.ordering_key, "");
    }
}
