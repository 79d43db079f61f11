//! Can the Tags' messages be delivered? Decided per topic from what the gateway replicas
//! report (their Leases list the topics they cannot publish to, see
//! [`hermes_compiler::failing_topics`]) and from the operator's own topic check
//! ([`crate::topic_check`]). Only fresh reports count, so a gateway that is gone stops
//! holding a Tag failing once its Lease expires.

use std::collections::BTreeMap;

use hermes_compiler::contract::GatewayReport;
use k8s_openapi::jiff::Timestamp;

use crate::topic_check::TopicState;

/// The `Delivering` reason of a topic the operator's check found missing (the gateway
/// reports the same reason when publishing finds it missing).
pub const REASON_TOPIC_NOT_FOUND: &str = "TopicNotFound";

/// Why a topic cannot take messages: the `reason` and `message` of the conditions of the
/// Tags publishing there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TopicFailure {
    /// `TopicNotFound`, `PermissionDenied`, `Unauthenticated`.
    pub reason: String,
    /// Who found it, since when, and the last error.
    pub message: String,
}

/// The failing topics, by full name.
pub type FailingTopics = BTreeMap<String, TopicFailure>;

/// The topics that cannot take messages at `now`: those a fresh gateway report lists
/// (the first replica by name speaks for a topic several list), then those the
/// operator's check found missing. A gateway's report wins: it saw publishing fail.
pub fn failing_topics(
    reports: &[GatewayReport],
    checked: &BTreeMap<String, TopicState>,
    now: Timestamp,
) -> FailingTopics {
    let mut fresh: Vec<&GatewayReport> = reports.iter().filter(|r| r.is_fresh(now)).collect();
    fresh.sort_by(|a, b| a.replica.cmp(&b.replica));
    let mut failing = FailingTopics::new();
    for report in fresh {
        for topic in &report.failing_topics {
            failing
                .entry(topic.topic.clone())
                .or_insert_with(|| TopicFailure {
                    reason: topic.reason.clone(),
                    message: format!(
                        "gateway replica {} cannot publish to {} (since {}): {}",
                        report.replica, topic.topic, topic.since, topic.error
                    ),
                });
        }
    }
    for (topic, state) in checked {
        if *state == TopicState::Missing {
            failing
                .entry(topic.clone())
                .or_insert_with(|| TopicFailure {
                    reason: REASON_TOPIC_NOT_FOUND.to_string(),
                    message: format!("topic {topic} does not exist (checked by the operator)"),
                });
        }
    }
    failing
}

#[cfg(test)]
mod tests {
    use super::*;
    use hermes_compiler::contract::FailingTopic;
    use k8s_openapi::jiff::SignedDuration;

    fn now() -> Timestamp {
        "2026-12-01T10:00:00Z".parse().unwrap()
    }

    fn report(replica: &str, renewed_secs_ago: i64, topics: &[(&str, &str)]) -> GatewayReport {
        GatewayReport {
            replica: replica.into(),
            hash: Some("h".into()),
            error: None,
            renew_time: Some(now() - SignedDuration::from_secs(renewed_secs_ago)),
            duration: SignedDuration::from_secs(10),
            failing_topics: topics
                .iter()
                .map(|(topic, reason)| FailingTopic {
                    topic: topic.to_string(),
                    reason: reason.to_string(),
                    error: "Resource not found".into(),
                    since: "2026-12-01T09:59:00Z".into(),
                })
                .collect(),
        }
    }

    #[test]
    fn a_fresh_report_fails_its_topics_with_its_reason_and_error() {
        let reports = [report(
            "gw-1",
            1,
            &[("projects/p/topics/x", "PermissionDenied")],
        )];
        let failing = failing_topics(&reports, &BTreeMap::new(), now());
        let failure = &failing["projects/p/topics/x"];
        assert_eq!(failure.reason, "PermissionDenied");
        assert_eq!(
            failure.message,
            "gateway replica gw-1 cannot publish to projects/p/topics/x \
             (since 2026-12-01T09:59:00Z): Resource not found"
        );
    }

    #[test]
    fn a_stale_report_fails_nothing() {
        let reports = [report(
            "gw-gone",
            30,
            &[("projects/p/topics/x", "TopicNotFound")],
        )];
        assert!(failing_topics(&reports, &BTreeMap::new(), now()).is_empty());
    }

    #[test]
    fn the_operators_check_adds_missing_topics_but_a_gateway_report_wins() {
        let reports = [
            report("gw-b", 1, &[("projects/p/topics/x", "TopicNotFound")]),
            report("gw-a", 1, &[("projects/p/topics/x", "PermissionDenied")]),
        ];
        let checked = BTreeMap::from([
            ("projects/p/topics/x".to_string(), TopicState::Missing),
            ("projects/p/topics/y".to_string(), TopicState::Missing),
            ("projects/p/topics/z".to_string(), TopicState::Exists),
            (
                "projects/p/topics/w".to_string(),
                TopicState::Unknown {
                    why: "forbidden",
                    error: "denied".into(),
                },
            ),
        ]);
        let failing = failing_topics(&reports, &checked, now());
        assert_eq!(
            failing.keys().collect::<Vec<_>>(),
            ["projects/p/topics/x", "projects/p/topics/y"]
        );
        assert!(
            failing["projects/p/topics/x"]
                .message
                .starts_with("gateway replica gw-a")
        );
        assert_eq!(
            failing["projects/p/topics/y"].reason,
            REASON_TOPIC_NOT_FOUND
        );
        assert_eq!(
            failing["projects/p/topics/y"].message,
            "topic projects/p/topics/y does not exist (checked by the operator)"
        );
    }
}
