//! Expected vs got: each difference as a `-` (expected) / `+` (got) pair of lines, the
//! way a reviewer reads a diff.

use hermes_gateway::fire::RenderedMessage;
use serde_json::Value;

use super::file::ExpectedMessage;

/// One difference between an expected and a published message.
#[derive(Debug, PartialEq)]
pub struct Difference {
    /// Where: `tag`, `topic`, `orderingKey`, `attributes.NAME`, `payload.PATH`.
    pub field: String,
    /// What was expected, as JSON.
    pub expected: String,
    /// What was published, as JSON (`(absent)` when missing).
    pub got: String,
}

const ABSENT: &str = "(absent)";

/// Whether `topic` (a full `projects/P/topics/T` path) is the expected one: a full path
/// compares whole, a short name with the last segment.
pub fn topic_matches(expected: &str, topic: &str) -> bool {
    if expected.contains('/') {
        expected == topic
    } else {
        topic.rsplit('/').next() == Some(expected)
    }
}

/// Every difference between the expected message and the published one.
pub fn compare(expected: &ExpectedMessage, got: &RenderedMessage) -> Vec<Difference> {
    let mut differences = Vec::new();
    let mut differ = |field: String, expected: String, got: String| {
        differences.push(Difference {
            field,
            expected,
            got,
        });
    };
    if let Some(tag) = expected.tag.as_ref().filter(|tag| **tag != got.tag) {
        differ("tag".into(), json_text(tag), json_text(&got.tag));
    }
    if let Some(topic) = expected
        .topic
        .as_ref()
        .filter(|topic| !topic_matches(topic, &got.topic))
    {
        differ("topic".into(), json_text(topic), json_text(&got.topic));
    }
    if let Some(key) = &expected.ordering_key
        && got.ordering_key.as_ref() != Some(key)
    {
        let published = got.ordering_key.as_deref().map_or(ABSENT.into(), json_text);
        differ("orderingKey".into(), json_text(key), published);
    }
    for (name, value) in &expected.attributes {
        let published = got.attributes.get(name);
        if published != Some(value) {
            let published = published.map_or(ABSENT.into(), |v| json_text(v));
            differ(format!("attributes.{name}"), json_text(value), published);
        }
    }
    let data = got.data.value();
    if let Some(payload) = &expected.payload {
        subset_differences("payload", payload, Some(&data), &mut differ);
    }
    for key in &expected.absent {
        if let Some(value) = data.get(key) {
            differ(format!("payload.{key}"), ABSENT.into(), value.to_string());
        }
    }
    differences
}

/// The differences of `got` from the JSON subset `expected` at `path`. Numbers compare
/// by value (`2` matches `2.0`), objects by the expected keys, arrays element-wise with
/// equal lengths.
fn subset_differences(
    path: &str,
    expected: &Value,
    got: Option<&Value>,
    differ: &mut impl FnMut(String, String, String),
) {
    match (expected, got) {
        (Value::Object(expected), Some(Value::Object(got))) => {
            for (key, value) in expected {
                subset_differences(&format!("{path}.{key}"), value, got.get(key), differ);
            }
        }
        (Value::Array(expected), Some(Value::Array(got))) if expected.len() == got.len() => {
            for (index, (expected, got)) in expected.iter().zip(got).enumerate() {
                subset_differences(&format!("{path}[{index}]"), expected, Some(got), differ);
            }
        }
        (Value::Number(expected), Some(Value::Number(got)))
            if expected.as_f64() == got.as_f64() => {}
        (expected, Some(got)) if expected == got => {}
        (expected, got) => differ(
            path.to_string(),
            expected.to_string(),
            got.map_or(ABSENT.into(), Value::to_string),
        ),
    }
}

fn json_text(text: &str) -> String {
    Value::from(text).to_string()
}

/// A published message on one line, for messages no expectation accounts for.
pub fn summary(message: &RenderedMessage) -> String {
    let key = message
        .ordering_key
        .as_deref()
        .map(|key| format!(" orderingKey {}", json_text(key)))
        .unwrap_or_default();
    format!(
        "tag {} topic {}{key} payload {}",
        message.tag, message.topic, message.data
    )
}

/// An expected message on one line: the parts it names.
pub fn expected_summary(message: &ExpectedMessage) -> String {
    let mut parts = Vec::new();
    if let Some(tag) = &message.tag {
        parts.push(format!("tag {tag}"));
    }
    if let Some(topic) = &message.topic {
        parts.push(format!("topic {topic}"));
    }
    if let Some(key) = &message.ordering_key {
        parts.push(format!("orderingKey {}", json_text(key)));
    }
    if let Some(payload) = &message.payload {
        parts.push(format!("payload {payload}"));
    }
    parts.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use hermes_gateway::fire::MessageData;
    use serde_json::json;

    fn message(data: Value) -> RenderedMessage {
        RenderedMessage {
            tag: "promotion-used".into(),
            topic: "projects/p/topics/promotions".into(),
            data: MessageData::of(&data),
            attributes: [("event_name".to_string(), "purchase".to_string())].into(),
            ordering_key: Some("T-1".into()),
            dropped_fields: Vec::new(),
        }
    }

    fn expected(payload: Value) -> ExpectedMessage {
        ExpectedMessage {
            tag: Some("promotion-used".into()),
            topic: Some("promotions".into()),
            attributes: [("event_name".to_string(), "purchase".to_string())].into(),
            ordering_key: Some("T-1".into()),
            payload: Some(payload),
            absent: vec!["coupon".into()],
        }
    }

    #[test]
    fn topics_compare_by_short_name_or_whole_path_as_written() {
        assert!(topic_matches("promotions", "projects/p/topics/promotions"));
        assert!(topic_matches(
            "projects/p/topics/promotions",
            "projects/p/topics/promotions"
        ));
        assert!(!topic_matches(
            "projects/q/topics/promotions",
            "projects/p/topics/promotions"
        ));
        assert!(!topic_matches("promo", "projects/p/topics/promotions"));
    }

    #[test]
    fn a_payload_subset_with_equal_numbers_matches() {
        let got = message(json!({"value": 2.0, "items": [{"id": "A", "qt": 1}], "extra": 1}));
        assert_eq!(
            compare(&expected(json!({"value": 2, "items": [{"id": "A"}]})), &got),
            []
        );
    }

    #[test]
    fn each_difference_names_its_field_with_expected_and_got() {
        let mut got = message(json!({"value": 3, "items": [], "coupon": "X"}));
        got.topic = "projects/p/topics/other".into();
        got.ordering_key = None;
        let differences = compare(
            &expected(json!({"value": 2, "items": [{"id": "A"}], "currency": "EUR"})),
            &got,
        );
        let lines: Vec<String> = differences
            .iter()
            .map(|d| format!("{}: {} / {}", d.field, d.expected, d.got))
            .collect();
        assert_eq!(
            lines,
            [
                "topic: \"promotions\" / \"projects/p/topics/other\"",
                "orderingKey: \"T-1\" / (absent)",
                "payload.value: 2 / 3",
                "payload.items: [{\"id\":\"A\"}] / []",
                "payload.currency: \"EUR\" / (absent)",
                "payload.coupon: (absent) / \"X\"",
            ]
        );
    }
}
