//! `/mp/collect`: GA4 Measurement Protocol JSON, validated by Google's rules, into sGTM
//! events.
//!
//! One call gives what `/debug/mp/collect` answers (the validation messages, in Google's
//! shape), the valid events (what `/mp/collect` fires: the request less the parts the
//! messages spoil, as Google's collection endpoint keeps what is valid) and what was left
//! out, by code. The `api_secret` is not checked here: the server knows the secrets.
//! Rules: see the `validate` module; event data: the `event_data` module.

mod body;
mod dropped;
mod event_data;
mod json;
mod messages;
mod names;
#[cfg(test)]
mod tests;
mod validate;

use std::time::{SystemTime, UNIX_EPOCH};

use dropped::Omissions;
pub use dropped::{Dropped, Part};
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
    /// The three parameters from a request's decoded query. (An MP query carries two or
    /// three parameters: decoding them all at once serves the three reads.)
    pub fn from_request(request: &'a RequestInfo) -> Self {
        let parameters = request.query.parameters();
        let get = |name| parameters.first(name).filter(|v| !v.is_empty());
        MpQuery {
            measurement_id: get("measurement_id"),
            firebase_app_id: get("firebase_app_id"),
            api_secret: get("api_secret"),
        }
    }
}

/// The result of parsing one request.
#[derive(Debug, Clone, PartialEq)]
pub struct MpOutcome {
    /// The valid events, in body order, without the parts in `dropped`; all of them
    /// when the request broke no rule.
    pub events: Vec<Event>,
    /// What `/debug/mp/collect` answers.
    pub validation: ValidationResponse,
    /// What the messages left out of `events`, one entry per message.
    pub dropped: Vec<Dropped>,
}

impl MpOutcome {
    /// Whether the request broke no rule.
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
    let mut validator = validate::Validator::new(micros_since_epoch(now));
    let parsed = match json::parse(body) {
        Ok(parsed) => parsed,
        Err(error) => {
            validator.report_not_json(&error.to_string());
            return outcome(validator, Vec::new());
        }
    };
    for path in &parsed.duplicates {
        validator.report_duplicate(path);
    }
    let Some(body) = validator.check(&parsed.value, query) else {
        return outcome(validator, Vec::new());
    };
    let omissions = Omissions::new(validator.dropped());
    let events = if omissions.request() {
        Vec::new()
    } else {
        event_data::build_events(&body, query, request, &omissions)
    };
    outcome(validator, events)
}

fn outcome(validator: validate::Validator, events: Vec<Event>) -> MpOutcome {
    let (messages, dropped) = validator.finish();
    MpOutcome {
        events,
        validation: ValidationResponse {
            validation_messages: messages,
        },
        dropped,
    }
}

/// Microseconds since the Unix epoch (negative before it), saturating.
fn micros_since_epoch(time: SystemTime) -> i64 {
    match time.duration_since(UNIX_EPOCH) {
        Ok(after) => i64::try_from(after.as_micros()).unwrap_or(i64::MAX),
        Err(before) => i64::try_from(before.duration().as_micros()).map_or(i64::MIN, |m| -m),
    }
}
