//! The delivery half of a gateway replica's report: the topics it cannot publish to
//! (missing, forbidden), carried as JSON in the Lease annotation
//! [`FAILING_TOPICS_ANNOTATION`] so that the operator can set `Delivering=False` on the
//! Tags publishing there. Pure encode/decode, bounded so that a Lease stays small.

use serde::{Deserialize, Serialize};

use crate::text::truncate;

/// Annotation on a gateway Lease: JSON list of [`FailingTopic`]; absent when every topic
/// takes messages.
pub const FAILING_TOPICS_ANNOTATION: &str = "hermes.io/failing-topics";
/// At most this many topics are reported (the rest are left out, sorted by name).
pub const MAX_REPORTED_TOPICS: usize = 200;
/// Errors longer than this (in bytes) are cut, so that a Lease stays far below the
/// 256 KiB annotation limit.
pub const MAX_ERROR_BYTES: usize = 512;

/// One topic a gateway replica cannot publish to.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "camelCase")]
pub struct FailingTopic {
    /// Full name, `projects/P/topics/T`.
    pub topic: String,
    /// `TopicNotFound`, `PermissionDenied` or `Unauthenticated`: the `Delivering`
    /// condition's reason.
    pub reason: String,
    /// The last error, as the Pub/Sub client put it.
    pub error: String,
    /// When the topic started failing, RFC 3339.
    pub since: String,
}

/// The annotation value for `topics`; `None` when there are none (the annotation is
/// removed). Sorted, at most [`MAX_REPORTED_TOPICS`], errors cut to [`MAX_ERROR_BYTES`].
pub fn encode(topics: &[FailingTopic]) -> Option<String> {
    if topics.is_empty() {
        return None;
    }
    let mut topics: Vec<FailingTopic> = topics
        .iter()
        .map(|t| FailingTopic {
            error: truncate(&t.error, MAX_ERROR_BYTES),
            ..t.clone()
        })
        .collect();
    topics.sort();
    topics.truncate(MAX_REPORTED_TOPICS);
    // Plain strings in a list: serializing cannot fail.
    serde_json::to_string(&topics).ok()
}

/// The topics an annotation value lists. A value that is not such a list (edited by
/// hand, another version) reads as none: a report must never block readiness.
pub fn decode(value: &str) -> Vec<FailingTopic> {
    serde_json::from_str(value).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failing(topic: &str, error: &str) -> FailingTopic {
        FailingTopic {
            topic: topic.into(),
            reason: "TopicNotFound".into(),
            error: error.into(),
            since: "2026-12-01T10:00:00Z".into(),
        }
    }

    #[test]
    fn no_failing_topic_means_no_annotation() {
        assert_eq!(encode(&[]), None);
    }

    #[test]
    fn failing_topics_round_trip_sorted() {
        let topics = [
            failing("projects/p/topics/b", "not found"),
            failing("projects/p/topics/a", "not found"),
        ];
        let value = encode(&topics).unwrap();
        let read = decode(&value);
        assert_eq!(read, [topics[1].clone(), topics[0].clone()]);
    }

    #[test]
    fn long_errors_and_many_topics_are_bounded() {
        let topics: Vec<FailingTopic> = (0..MAX_REPORTED_TOPICS + 5)
            .map(|i| failing(&format!("projects/p/topics/t{i:04}"), &"é".repeat(2000)))
            .collect();
        let read = decode(&encode(&topics).unwrap());
        assert_eq!(read.len(), MAX_REPORTED_TOPICS);
        assert!(read[0].error.len() <= MAX_ERROR_BYTES + '…'.len_utf8());
    }

    #[test]
    fn an_unreadable_annotation_reads_as_no_failing_topic() {
        assert_eq!(decode("{not json"), Vec::<FailingTopic>::new());
        assert_eq!(decode("[{\"topic\": 3}]"), Vec::<FailingTopic>::new());
    }
}
