//! `/mp/collect`: GA4 Measurement Protocol JSON, validated by Google's rules, into sGTM
//! events.
//!
//! One call gives both what `/debug/mp/collect` answers (the validation messages, in
//! Google's shape) and what `/mp/collect` fires (the events, only when there are no
//! messages). The `api_secret` is not checked here: the server knows the secrets.
//! Rules: see the `validate` module; event data: the `event_data` module.

mod body;
mod event_data;
mod json;
mod messages;
mod names;
#[cfg(test)]
mod tests;
mod validate;

use std::time::{SystemTime, UNIX_EPOCH};

pub use messages::{ValidationCode, ValidationMessage, ValidationResponse};

use crate::event::{Event, RequestInfo};

/// The query parameters of a Measurement Protocol request; empty values count as absent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MpQuery<'a> {
    /// `measurement_id` (web streams), e.g. `G-8XYZ12345`.
    pub measurement_id: Option<&'a str>,
    /// `firebase_app_id` (app streams).
    pub firebase_app_id: Option<&'a str>,
    /// `api_secret`, for the server to check against its configured secrets.
    pub api_secret: Option<&'a str>,
}

impl<'a> MpQuery<'a> {
    /// The three parameters from a request's decoded query.
    pub fn from_request(request: &'a RequestInfo) -> Self {
        let get = |name| request.query_parameter(name).filter(|v| !v.is_empty());
        MpQuery {
            measurement_id: get("measurement_id"),
            firebase_app_id: get("firebase_app_id"),
            api_secret: get("api_secret"),
        }
    }
}

/// The result of parsing one request: its validation messages and, when there are none,
/// its events.
#[derive(Debug, Clone, PartialEq)]
pub struct MpOutcome {
    /// The events, in body order; empty whenever `validation` has messages.
    pub events: Vec<Event>,
    /// What `/debug/mp/collect` answers.
    pub validation: ValidationResponse,
}

impl MpOutcome {
    /// Whether the request broke no rule (its events may be fired).
    pub fn is_valid(&self) -> bool {
        self.validation.validation_messages.is_empty()
    }
}

/// Parse and validate a Measurement Protocol request body.
///
/// `now` is the server's clock, against which `timestamp_micros` is checked (at most 72
/// hours old). A body that is not JSON gives one `VALUE_INVALID` message for the whole
/// body; keys given twice in one object give `NAME_DUPLICATED` at their path.
pub fn parse_mp(
    body: &[u8],
    query: &MpQuery<'_>,
    request: &RequestInfo,
    now: SystemTime,
) -> MpOutcome {
    let mut messages = Vec::new();
    let parsed = match json::parse(body) {
        Ok(parsed) => parsed,
        Err(error) => {
            messages.push(ValidationMessage::new(
                "",
                ValidationCode::ValueInvalid,
                format!("The request body is not valid JSON: {error}."),
            ));
            return invalid(messages);
        }
    };
    for path in &parsed.duplicates {
        let name = path.rsplit(['.', ']']).next().unwrap_or(path);
        messages.push(ValidationMessage::new(
            path.as_str(),
            ValidationCode::NameDuplicated,
            format!("\"{name}\" is given more than once in the same object."),
        ));
    }
    let mut validator = validate::Validator::new(&mut messages, micros_since_epoch(now));
    let body = validator.check(&parsed.value, query);
    match body {
        Some(body) if messages.is_empty() => MpOutcome {
            events: event_data::build_events(&body, query, request),
            validation: ValidationResponse::default(),
        },
        _ => invalid(messages),
    }
}

fn invalid(messages: Vec<ValidationMessage>) -> MpOutcome {
    MpOutcome {
        events: Vec::new(),
        validation: ValidationResponse {
            validation_messages: messages,
        },
    }
}

/// Microseconds since the Unix epoch (negative before it), saturating.
fn micros_since_epoch(time: SystemTime) -> i64 {
    match time.duration_since(UNIX_EPOCH) {
        Ok(after) => i64::try_from(after.as_micros()).unwrap_or(i64::MAX),
        Err(before) => i64::try_from(before.duration().as_micros()).map_or(i64::MIN, |m| -m),
    }
}
