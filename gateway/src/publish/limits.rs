//! Pub/Sub's limits, checked before a message is accepted so that the queue never holds a
//! message Pub/Sub would refuse forever.
//!
//! Batching limits: a publish request may carry at most 1,000 messages and 10 MB. The
//! `google-cloud-pubsub` 1.7 publisher enforces them itself (read in its source,
//! `publisher/builder.rs`, `batch.rs`, `actor.rs`): it clamps the message-count threshold
//! to 1,000 and the byte threshold to 10 MB, keeps one batch per ordering key (a separate
//! batch actor per key, so a request never mixes keys), flushes the current batch before
//! a message that would push it past the byte threshold, and sends a message larger than
//! the threshold alone. Its byte count is an estimate (data + attribute keys and values +
//! ordering key, without protobuf framing), so [`BatchSettings`](super::BatchSettings)
//! caps the byte threshold at [`MAX_BATCH_BYTES`] and single messages at
//! [`MAX_MESSAGE_BYTES`], leaving room for framing under the 10 MB request limit.

/// Messages per publish request (Pub/Sub's limit).
pub const MAX_BATCH_MESSAGES: u32 = 1_000;
/// Bytes per publish request (Pub/Sub's limit).
pub const MAX_REQUEST_BYTES: usize = 10_000_000;
/// The largest byte threshold we give the client's batcher: 1,000 messages with 100
/// attributes each add under 1 MB of framing to its estimate.
pub const MAX_BATCH_BYTES: u32 = 9_000_000;
/// The largest message (estimated like the batcher does) we accept.
pub const MAX_MESSAGE_BYTES: usize = 9_000_000;
/// Attributes per message.
pub const MAX_ATTRIBUTES: usize = 100;
/// Bytes in an attribute key.
pub const MAX_ATTRIBUTE_KEY_BYTES: usize = 256;
/// Bytes in an attribute value.
pub const MAX_ATTRIBUTE_VALUE_BYTES: usize = 1_024;
/// Bytes in an ordering key.
pub const MAX_ORDERING_KEY_BYTES: usize = 1_024;

use super::Record;

/// Why Pub/Sub would refuse a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidMessage {
    /// The topic is not `projects/P/topics/T` with a valid topic id.
    #[error("topic {topic:?} is not a valid projects/P/topics/T name: {reason}")]
    Topic { topic: String, reason: &'static str },
    /// Neither data nor attributes.
    #[error("message has neither data nor attributes")]
    Empty,
    /// Larger than [`MAX_MESSAGE_BYTES`].
    #[error("message is {size} bytes, more than {MAX_MESSAGE_BYTES}")]
    TooLarge { size: usize },
    /// More than [`MAX_ATTRIBUTES`] attributes.
    #[error("message has {count} attributes, more than {MAX_ATTRIBUTES}")]
    TooManyAttributes { count: usize },
    /// An attribute key that is empty, too long, or reserved (`goog…`).
    #[error("attribute key {key:?}: {reason}")]
    AttributeKey { key: String, reason: &'static str },
    /// An attribute value longer than [`MAX_ATTRIBUTE_VALUE_BYTES`].
    #[error("attribute {key:?} has a value of {len} bytes, more than {MAX_ATTRIBUTE_VALUE_BYTES}")]
    AttributeValue { key: String, len: usize },
    /// An ordering key longer than [`MAX_ORDERING_KEY_BYTES`].
    #[error("ordering key is {len} bytes, more than {MAX_ORDERING_KEY_BYTES}")]
    OrderingKey { len: usize },
}

/// The message's size as the client's batcher estimates it.
pub fn message_size(record: &Record) -> usize {
    record.data.len()
        + record.ordering_key().map_or(0, str::len)
        + record
            .attributes
            .iter()
            .map(|(k, v)| k.len() + v.len())
            .sum::<usize>()
}

/// Checks everything Pub/Sub checks about a single message.
pub fn validate(record: &Record) -> Result<(), InvalidMessage> {
    validate_topic(&record.topic)?;
    if record.data.is_empty() && record.attributes.is_empty() {
        return Err(InvalidMessage::Empty);
    }
    if record.attributes.len() > MAX_ATTRIBUTES {
        return Err(InvalidMessage::TooManyAttributes {
            count: record.attributes.len(),
        });
    }
    for (key, value) in &record.attributes {
        let bad_key = |reason| InvalidMessage::AttributeKey {
            key: key.clone(),
            reason,
        };
        if key.is_empty() {
            return Err(bad_key("empty"));
        }
        if key.len() > MAX_ATTRIBUTE_KEY_BYTES {
            return Err(bad_key("longer than 256 bytes"));
        }
        if key.starts_with("goog") {
            return Err(bad_key("keys starting with \"goog\" are reserved"));
        }
        if value.len() > MAX_ATTRIBUTE_VALUE_BYTES {
            return Err(InvalidMessage::AttributeValue {
                key: key.clone(),
                len: value.len(),
            });
        }
    }
    if let Some(len) = record.ordering_key().map(str::len)
        && len > MAX_ORDERING_KEY_BYTES
    {
        return Err(InvalidMessage::OrderingKey { len });
    }
    let size = message_size(record);
    if size > MAX_MESSAGE_BYTES {
        return Err(InvalidMessage::TooLarge { size });
    }
    Ok(())
}

/// Checks a full topic name: `projects/{project}/topics/{id}`, where the id is 3–255
/// characters of letters, digits and `-_.~+%`, starts with a letter and not with `goog`.
pub fn validate_topic(topic: &str) -> Result<(), InvalidMessage> {
    let bad = |reason| InvalidMessage::Topic {
        topic: topic.to_owned(),
        reason,
    };
    // By bytes, not `str::split`: its searcher sets up `memchr` for each part, most of
    // this check's cost on every message. `/` is ASCII, so the parts are whole characters,
    // and a byte of a multi-byte character is never ASCII, so it fails the id's check as
    // the character would.
    let mut parts = topic.as_bytes().split(|&b| b == b'/');
    let (Some(b"projects"), Some(project), Some(b"topics"), Some(id), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return Err(bad("expected projects/P/topics/T"));
    };
    if project.is_empty() {
        return Err(bad("empty project"));
    }
    if !(3..=255).contains(&id.len()) {
        return Err(bad("topic id must be 3 to 255 characters"));
    }
    if !id.first().is_some_and(u8::is_ascii_alphabetic) {
        return Err(bad("topic id must start with a letter"));
    }
    if id.starts_with(b"goog") {
        return Err(bad("topic ids starting with \"goog\" are reserved"));
    }
    if !id
        .iter()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'+' | b'%'))
    {
        return Err(bad("topic id may hold only letters, digits and -_.~+%"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOPIC: &str = "projects/shop/topics/low-stock";

    fn msg() -> Record {
        Record::new(TOPIC, r#"{"sku":"BOWL-10"}"#)
    }

    #[test]
    fn a_plain_message_is_valid() {
        assert_eq!(validate(&msg()), Ok(()));
        let attrs_only = Record::new(TOPIC, "").with_attribute("sku", "BOWL-10");
        assert_eq!(validate(&attrs_only), Ok(()));
    }

    #[test]
    fn topic_names_follow_pubsub_rules() {
        for good in [
            TOPIC,
            "projects/p-1/topics/abc",
            "projects/x/topics/a.b~c+d%e_f-g",
        ] {
            assert_eq!(validate_topic(good), Ok(()), "{good}");
        }
        for bad in [
            "low-stock",
            "projects/shop/topics/",
            "projects//topics/low-stock",
            "projects/shop/subscriptions/low-stock",
            "projects/shop/topics/low-stock/extra",
            "projects/shop/topics/ab",
            "projects/shop/topics/1abc",
            "projects/shop/topics/google-things",
            "projects/shop/topics/has space",
            "projects/shop/topics/caf\u{e9}",
            "projects/shop/topics/low\u{2013}stock",
        ] {
            assert!(
                matches!(validate_topic(bad), Err(InvalidMessage::Topic { .. })),
                "{bad}"
            );
        }
        let long = format!("projects/p/topics/a{}", "b".repeat(255));
        assert!(validate_topic(&long).is_err());
    }

    #[test]
    fn empty_messages_are_refused() {
        let empty = Record::new(TOPIC, "");
        assert_eq!(validate(&empty), Err(InvalidMessage::Empty));
    }

    #[test]
    fn attribute_limits_are_enforced() {
        let mut many = msg();
        for i in 0..=MAX_ATTRIBUTES {
            many = many.with_attribute(format!("k{i}"), "v");
        }
        assert_eq!(
            validate(&many),
            Err(InvalidMessage::TooManyAttributes { count: 101 })
        );
        let key = "k".repeat(MAX_ATTRIBUTE_KEY_BYTES + 1);
        assert!(matches!(
            validate(&msg().with_attribute(key, "v")),
            Err(InvalidMessage::AttributeKey { .. })
        ));
        assert!(matches!(
            validate(&msg().with_attribute("googfoo", "v")),
            Err(InvalidMessage::AttributeKey { .. })
        ));
        let value = "v".repeat(MAX_ATTRIBUTE_VALUE_BYTES + 1);
        assert_eq!(
            validate(&msg().with_attribute("k", value)),
            Err(InvalidMessage::AttributeValue {
                key: "k".into(),
                len: 1025
            })
        );
        let at_limit = msg()
            .with_attribute("k".repeat(256), "v".repeat(1024))
            .with_ordering_key("o".repeat(1024));
        assert_eq!(validate(&at_limit), Ok(()));
    }

    #[test]
    fn ordering_keys_longer_than_1024_bytes_are_refused() {
        let long = msg().with_ordering_key("o".repeat(1025));
        assert_eq!(
            validate(&long),
            Err(InvalidMessage::OrderingKey { len: 1025 })
        );
    }

    #[test]
    fn size_counts_data_attributes_and_ordering_key_like_the_batcher() {
        let m = Record::new(TOPIC, "12345")
            .with_attribute("ab", "cde")
            .with_ordering_key("xyz");
        assert_eq!(message_size(&m), 5 + 5 + 3);
    }

    #[test]
    fn messages_above_the_size_limit_are_refused_and_at_it_accepted() {
        let at = Record::new(TOPIC, vec![b'x'; MAX_MESSAGE_BYTES]);
        assert_eq!(validate(&at), Ok(()));
        let over = at.with_attribute("k", "v");
        assert_eq!(
            validate(&over),
            Err(InvalidMessage::TooLarge {
                size: MAX_MESSAGE_BYTES + 2
            })
        );
    }

    #[test]
    fn the_largest_batch_fits_a_publish_request_with_framing() {
        // Worst case framing per message: the message header, data/key headers, and per
        // attribute a map entry header plus key and value headers (≤ 3 bytes each).
        let per_message = 6 + 3 + 3 + MAX_ATTRIBUTES * 9;
        let framing = MAX_BATCH_MESSAGES as usize * per_message;
        assert!(MAX_BATCH_BYTES as usize + framing < MAX_REQUEST_BYTES);
        assert!(MAX_MESSAGE_BYTES + per_message < MAX_REQUEST_BYTES);
    }
}
