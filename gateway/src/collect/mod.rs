//! Collect: turn a hit's bytes into sGTM-style events, as sGTM's GA4 client does.
//!
//! Pure functions, no I/O: the HTTP server reads the request, calls a parser and answers.
//! - [`ga4`]: `/g/collect` (gtag.js), query string plus one event per body line.
//! - [`mp`]: `/mp/collect` (Measurement Protocol JSON) with Google's validation rules.
//! - [`client_ip()`]: the client's address behind trusted proxies.

pub mod client_ip;
pub(crate) mod form;
pub mod ga4;
pub mod mp;

pub use client_ip::{Cidr, client_ip, truncate_ip};
pub use ga4::{parse_ga4, parse_ga4_selective};
pub use mp::{
    Dropped, MpOutcome, MpQuery, Part, ValidationCode, ValidationMessage, ValidationResponse,
    parse_mp,
};

use serde_json::{Number, Value};

/// Bounds on one `/g/collect` request, so a hostile hit costs little and is refused with a
/// reason rather than processed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Events in one request (non-blank body lines; 1 for an empty body).
    pub max_events: usize,
    /// Parameters of one event, shared and line parameters together, items not counted.
    pub max_params_per_event: usize,
    /// Items (`pr1`…`prN`) of one event; also the highest item index accepted.
    pub max_items_per_event: usize,
}

impl Default for Limits {
    /// Generous for gtag.js (which batches a few events and sends ~40 parameters each)
    /// and GA4's own 200-item ceiling.
    fn default() -> Self {
        Limits {
            max_events: 50,
            max_params_per_event: 200,
            max_items_per_event: 200,
        }
    }
}

/// Why a `/g/collect` hit was refused. The server answers 4xx with the message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CollectError {
    /// More body lines than [`Limits::max_events`].
    #[error("too many events in one request: {count} (the maximum is {max})")]
    TooManyEvents { count: usize, max: usize },
    /// An event with more parameters than [`Limits::max_params_per_event`].
    #[error("event {event}: too many parameters: {count} (the maximum is {max})")]
    TooManyParams {
        event: usize,
        count: usize,
        max: usize,
    },
    /// An event with more item parameters than allowed.
    #[error("event {event}: too many items: {count} (the maximum is {max})")]
    TooManyItems {
        event: usize,
        count: usize,
        max: usize,
    },
    /// An item parameter `prN` with N above [`Limits::max_items_per_event`].
    #[error("event {event}: item index pr{index} is above the maximum of {max}")]
    ItemIndexTooHigh {
        event: usize,
        index: usize,
        max: usize,
    },
    /// An event without `en`.
    #[error("event {event}: missing event name (en)")]
    MissingEventName { event: usize },
    /// No `v` parameter.
    #[error("missing protocol version (v); GA4 hits carry v=2")]
    MissingVersion,
    /// A `v` other than 2.
    #[error("unsupported protocol version v={0}; GA4 hits carry v=2")]
    UnsupportedVersion(String),
}

impl CollectError {
    /// A short stable label for metrics, e.g. `too_many_events`.
    pub fn reason(&self) -> &'static str {
        match self {
            CollectError::TooManyEvents { .. } => "too_many_events",
            CollectError::TooManyParams { .. } => "too_many_params",
            CollectError::TooManyItems { .. } => "too_many_items",
            CollectError::ItemIndexTooHigh { .. } => "item_index_too_high",
            CollectError::MissingEventName { .. } => "missing_event_name",
            CollectError::MissingVersion => "missing_version",
            CollectError::UnsupportedVersion(_) => "unsupported_version",
        }
    }
}

/// A wire number as JSON: an integer when it is one, else a finite float; `None` when the
/// text is not a number (callers decide whether to keep the text).
pub(crate) fn parse_number(text: &str) -> Option<Value> {
    let text = text.trim();
    if let Ok(int) = text.parse::<i64>() {
        return Some(Value::Number(int.into()));
    }
    text.parse::<f64>()
        .ok()
        .and_then(Number::from_f64)
        .map(Value::Number)
}

/// A number when the text is one, else the text itself: the wire said "number" but a
/// malformed value is kept rather than silently lost.
pub(crate) fn number_or_string(text: &str) -> Value {
    parse_number(text).unwrap_or_else(|| Value::String(text.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn numbers_are_integers_when_integral_and_floats_otherwise() {
        assert_eq!(parse_number("150"), Some(json!(150)));
        assert_eq!(parse_number("19.99"), Some(json!(19.99)));
        assert_eq!(parse_number("-3"), Some(json!(-3)));
        assert_eq!(parse_number("1e3"), Some(json!(1000.0)));
        assert_eq!(parse_number("abc"), None);
        assert_eq!(parse_number("NaN"), None);
        assert_eq!(parse_number("inf"), None);
    }

    #[test]
    fn malformed_numbers_are_kept_as_text() {
        assert_eq!(number_or_string("12x"), json!("12x"));
        assert_eq!(number_or_string("12"), json!(12));
    }

    #[test]
    fn errors_say_what_was_wrong_and_carry_a_metrics_label() {
        let error = CollectError::TooManyEvents { count: 51, max: 50 };
        assert_eq!(
            error.to_string(),
            "too many events in one request: 51 (the maximum is 50)"
        );
        assert_eq!(error.reason(), "too_many_events");
        assert_eq!(
            CollectError::MissingEventName { event: 0 }.to_string(),
            "event 0: missing event name (en)"
        );
    }
}
