//! GA4's Measurement Protocol rules, each broken rule one [`ValidationMessage`] with a
//! precise field path. Every rule is checked (not just the first broken one) so a
//! developer can fix a hit in one round.
//!
//! Limits (Google's documented ones): 25 events, 25 parameters per event, 25 user
//! properties, names ≤ 40 characters (user properties ≤ 24), parameter values ≤ 100
//! characters (`page_location` 1000, `page_referrer` 420, `page_title` 300), user property
//! values ≤ 36, `user_id` ≤ 256, 200 items per event with ≤ 10 custom item parameters,
//! timestamps at most 72 hours old and (our choice) at most 5 minutes ahead of "now".
//! Recommendations (a `client_id` of the form `<number>.<number>`) are enforced only
//! with `validation_behavior: ENFORCE_RECOMMENDATIONS`, as Google does.
//!
//! Each message also records the [`Part`] of the request it spoils (see `dropped`), so
//! the lenient `/mp/collect` can fire the valid remainder. Wording and codes follow
//! what Google's validation server answers where its answers are known.

use std::net::IpAddr;

use serde_json::Value;

mod events;
mod path;

use super::MpQuery;
use super::body::{Body, Entry, Misplaced};
use super::dropped::{Dropped, Part};
use super::messages::{ValidationCode as Code, ValidationMessage};
use super::names::{NameKind, check_name};

pub(crate) const MAX_EVENTS: usize = 25;
pub(crate) const MAX_PARAMS: usize = 25;
pub(crate) const MAX_USER_PROPERTIES: usize = 25;
pub(crate) const MAX_USER_PROPERTY_VALUE: usize = 36;
pub(crate) const MAX_PARAM_VALUE: usize = 100;
pub(crate) const MAX_USER_ID: usize = 256;
pub(crate) const MAX_ITEMS: usize = 200;
pub(crate) const MAX_CUSTOM_ITEM_PARAMS: usize = 10;
const MICROS_PER_MINUTE: i64 = 60_000_000;
/// How far back `timestamp_micros` may go: 72 hours.
pub(crate) const MAX_BACKDATE_MICROS: i64 = 72 * 60 * MICROS_PER_MINUTE;
/// How far ahead of our clock `timestamp_micros` may be: 5 minutes of skew.
pub(crate) const MAX_FUTURE_MICROS: i64 = 5 * MICROS_PER_MINUTE;

/// Collects messages and what each spoils; each check adds what it finds.
pub(crate) struct Validator {
    messages: Vec<ValidationMessage>,
    dropped: Vec<Dropped>,
    /// The part that checks running now report against.
    part: Part,
    now_micros: i64,
    enforce_recommendations: bool,
}

impl Validator {
    pub(crate) fn new(now_micros: i64) -> Self {
        Validator {
            messages: Vec::new(),
            dropped: Vec::new(),
            part: Part::Request,
            now_micros,
            enforce_recommendations: false,
        }
    }

    /// What the messages so far spoil.
    pub(crate) fn dropped(&self) -> &[Dropped] {
        &self.dropped
    }

    /// The messages, in the order found, and the parts they spoil.
    pub(crate) fn finish(self) -> (Vec<ValidationMessage>, Vec<Dropped>) {
        (self.messages, self.dropped)
    }

    fn report(&mut self, path: impl Into<String>, code: Code, description: impl Into<String>) {
        self.messages
            .push(ValidationMessage::new(path, code, description));
        self.dropped.push(Dropped {
            part: self.part.clone(),
            code,
        });
    }

    /// Reports against `part` (then goes back to the part being checked).
    fn report_on(
        &mut self,
        part: Part,
        path: impl Into<String>,
        code: Code,
        description: impl Into<String>,
    ) {
        let outer = std::mem::replace(&mut self.part, part);
        self.report(path, code, description);
        self.part = outer;
    }

    /// A problem Google reports as an unreadable payload: no field path, the whole
    /// request spoiled.
    fn report_unparsable(&mut self, what: String) {
        self.report_on(
            Part::Request,
            "",
            Code::ValueInvalid,
            format!("Unable to parse Measurement Protocol JSON payload. {what}"),
        );
    }

    /// A key given twice in one JSON object (the parser keeps the last one): the request.
    pub(crate) fn report_duplicate(&mut self, path: &str) {
        let name = path.rsplit(['.', ']']).next().unwrap_or(path);
        self.report_on(
            Part::Request,
            path,
            Code::NameDuplicated,
            format!("\"{name}\" is given more than once in the same object."),
        );
    }

    /// The body is not JSON.
    pub(crate) fn report_not_json(&mut self, error: &str) {
        self.report_on(
            Part::Request,
            "",
            Code::ValueInvalid,
            format!("The request body is not valid JSON: {error}."),
        );
    }

    /// Report `count` above `max` (`EXCEEDED_MAX_ENTITIES`): "`{owner}` has `{count}`
    /// `{what}`; the maximum is `{max}`."
    fn check_count(
        &mut self,
        path: impl Into<String>,
        owner: &str,
        count: usize,
        what: &str,
        max: usize,
    ) {
        if count > max {
            self.report(
                path,
                Code::ExceededMaxEntities,
                format!("{owner} has {count} {what}; the maximum is {max}."),
            );
        }
    }

    /// Check a whole body; `Some(body)` to build events from when it is an object (valid
    /// or not: the caller decides by whether messages were added).
    pub(crate) fn check<'a>(&mut self, root: &'a Value, query: &MpQuery<'_>) -> Option<Body<'a>> {
        self.part = Part::Request;
        let Value::Object(object) = root else {
            self.report(
                "",
                Code::ValueInvalid,
                "The request body must be a JSON object with client_id (or app_instance_id) \
                 and events.",
            );
            return None;
        };
        let (body, misplaced) = Body::read(object);
        for key in misplaced {
            match key {
                Misplaced::Unknown(key) => {
                    self.report_unparsable(format!("{key}: Cannot find field."));
                }
                Misplaced::Doubled {
                    field,
                    first,
                    again,
                } => self.report(
                    again,
                    Code::NameDuplicated,
                    format!("Field {field} is given twice, as \"{first}\" and \"{again}\"."),
                ),
            }
        }
        self.enforce_recommendations = body
            .validation_behavior
            .is_some_and(|b| b.value.as_str() == Some("ENFORCE_RECOMMENDATIONS"));
        self.check_stream_ids(query, &body);
        if let Some(user_id) = body.user_id {
            self.check_user_id(user_id);
        }
        if let Some(timestamp) = body.timestamp_micros {
            self.check_timestamp(timestamp.key, timestamp.value);
        }
        if let Some(properties) = body.user_properties {
            self.check_user_properties(properties);
        }
        if let Some(consent) = body.consent {
            self.check_consent(consent);
        }
        if let Some(npa) = body.non_personalized_ads
            && !npa.value.is_boolean()
        {
            self.report(
                npa.key,
                Code::ValueInvalid,
                format!("{} must be true or false.", npa.key),
            );
        }
        if let Some(ip) = body.ip_override
            && ip
                .value
                .as_str()
                .and_then(|s| s.parse::<IpAddr>().ok())
                .is_none()
        {
            self.report(
                ip.key,
                Code::ValueInvalid,
                format!(
                    "{} must be an IPv4 or IPv6 address, e.g. \"203.0.113.7\".",
                    ip.key
                ),
            );
        }
        if let Some(behavior) = body.validation_behavior
            && !matches!(
                behavior.value.as_str(),
                Some("RELAXED" | "ENFORCE_RECOMMENDATIONS")
            )
        {
            self.report(
                behavior.key,
                Code::ValueInvalid,
                format!(
                    "{} must be \"RELAXED\" or \"ENFORCE_RECOMMENDATIONS\".",
                    behavior.key
                ),
            );
        }
        for entry in [body.user_data, body.user_location, body.device]
            .into_iter()
            .flatten()
        {
            if !entry.value.is_object() {
                self.report(
                    entry.key,
                    Code::ValueInvalid,
                    format!("{} must be an object.", entry.key),
                );
            }
        }
        self.check_events(body.events);
        Some(body)
    }

    /// The query's stream id and the body's matching client or app-instance id.
    fn check_stream_ids(&mut self, query: &MpQuery<'_>, body: &Body<'_>) {
        let (web, app) = (
            query.measurement_id.is_some(),
            query.firebase_app_id.is_some(),
        );
        match (web, app) {
            (false, false) => self.report(
                "measurement_id",
                Code::ValueRequired,
                "The query string needs measurement_id (web streams) or firebase_app_id \
                 (app streams).",
            ),
            (true, true) => self.report(
                "firebase_app_id",
                Code::ValueInvalid,
                "Send measurement_id or firebase_app_id in the query string, not both.",
            ),
            _ => {}
        }
        if let Some(client_id) = body.client_id {
            match client_id.value.as_str() {
                None | Some("") => self.report(
                    client_id.key,
                    Code::ValueInvalid,
                    format!("{} must be a non-empty string.", client_id.key),
                ),
                Some(id) if self.enforce_recommendations && !is_number_dot_number(id) => self
                    .report(
                        client_id.key,
                        Code::ValueInvalid,
                        format!(
                            "client_id [{id}] has invalid format. It should be in \
                             <number>.<number> format."
                        ),
                    ),
                Some(_) => {}
            }
        }
        if let Some(app_instance_id) = body.app_instance_id
            && let Some(problem) = app_instance_id_problem(app_instance_id.value)
        {
            self.report(app_instance_id.key, Code::ValueInvalid, problem);
        }
        let (has_client, has_app) = (body.client_id.is_some(), body.app_instance_id.is_some());
        if app && !web && !has_app {
            self.report(
                "app_instance_id",
                Code::ValueRequired,
                "app_instance_id is required with firebase_app_id.",
            );
        } else if web && !has_client {
            self.report(
                "client_id",
                Code::ValueRequired,
                "Measurement requires a client_id.",
            );
        } else if !web && !app && !has_client && !has_app {
            self.report(
                "client_id",
                Code::ValueRequired,
                "client_id (web) or app_instance_id (app) is required.",
            );
        }
    }

    fn check_user_id(&mut self, user_id: Entry<'_>) {
        match user_id.value.as_str() {
            None => self.report(
                user_id.key,
                Code::ValueInvalid,
                format!("{} must be a string.", user_id.key),
            ),
            Some(text) => {
                let length = text.chars().count();
                if length > MAX_USER_ID {
                    self.report(
                        user_id.key,
                        Code::ValueOutOfBounds,
                        format!(
                            "{} is {length} characters; the maximum is {MAX_USER_ID}.",
                            user_id.key
                        ),
                    );
                }
            }
        }
    }

    /// `timestamp_micros` at `path`: an integer (or a string of digits) within 72 hours
    /// before and 5 minutes after now.
    fn check_timestamp(&mut self, path: impl Into<String>, value: &Value) {
        let Some(micros) = timestamp_micros(value) else {
            self.report(
                path,
                Code::ValueInvalid,
                "timestamp_micros must be an integer count of microseconds since the Unix \
                 epoch, e.g. 1718000000000000.",
            );
            return;
        };
        let age = self.now_micros.saturating_sub(micros);
        if age > MAX_BACKDATE_MICROS {
            self.report(
                path,
                Code::ValueInvalid,
                format!(
                    "Measurement timestamp_micros has timestamp too far in the past. \
                     Measurement protocol only supports timestamps [72h] into the past \
                     ({micros} is {} old).",
                    describe_duration(age)
                ),
            );
        } else if age.saturating_neg() > MAX_FUTURE_MICROS {
            self.report(
                path,
                Code::ValueOutOfBounds,
                format!(
                    "timestamp_micros {micros} is {} in the future; at most 5 minutes of clock \
                     skew is allowed.",
                    describe_duration(age.saturating_neg())
                ),
            );
        }
    }

    fn check_user_properties(&mut self, properties: Entry<'_>) {
        let Some(object) = properties.value.as_object() else {
            self.report(
                properties.key,
                Code::ValueInvalid,
                format!(
                    "{} must be an object like {{\"tier\": {{\"value\": \"gold\"}}}}.",
                    properties.key
                ),
            );
            return;
        };
        self.check_count(
            properties.key,
            "The request",
            object.len(),
            "user properties",
            MAX_USER_PROPERTIES,
        );
        for (name, property) in object {
            self.part = Part::UserProperty(name.clone());
            let path = format!("{}.{name}", properties.key);
            if let Some(problem) = check_name(NameKind::UserProperty, name) {
                let description = problem.describe(NameKind::UserProperty, name);
                self.report(path.as_str(), problem.code, description);
            }
            let Some(property) = property.as_object() else {
                self.report(
                    path,
                    Code::ValueInvalid,
                    format!(
                        "User property \"{name}\" must be an object like {{\"value\": \"gold\"}}."
                    ),
                );
                continue;
            };
            match property.get("value") {
                None => self.report(
                    format!("{path}.value"),
                    Code::ValueRequired,
                    format!("User property \"{name}\" has no value."),
                ),
                Some(Value::String(text)) => {
                    let length = text.chars().count();
                    if length > MAX_USER_PROPERTY_VALUE {
                        self.report(
                            format!("{path}.value"),
                            Code::ValueOutOfBounds,
                            format!(
                                "User property \"{name}\" value is {length} characters; the \
                                 maximum is {MAX_USER_PROPERTY_VALUE}."
                            ),
                        );
                    }
                }
                Some(Value::Array(_) | Value::Object(_)) => self.report(
                    format!("{path}.value"),
                    Code::ValueInvalid,
                    format!("User property \"{name}\" value must be a string, number or boolean."),
                ),
                Some(_) => {}
            }
        }
        self.part = Part::Request;
    }

    fn check_consent(&mut self, consent: Entry<'_>) {
        let Some(object) = consent.value.as_object() else {
            self.report(
                consent.key,
                Code::ValueInvalid,
                "consent must be an object like {\"ad_user_data\": \"GRANTED\", \
                 \"ad_personalization\": \"DENIED\"}.",
            );
            return;
        };
        for (key, value) in object {
            let path = format!("consent.{key}");
            if consent_signal(key).is_none() {
                self.report(
                    path,
                    Code::NameInvalid,
                    format!(
                        "Unknown consent field \"{key}\"; use ad_user_data or ad_personalization."
                    ),
                );
            } else if consent_state(value).is_none() {
                self.report(
                    path,
                    Code::ValueInvalid,
                    format!("consent.{key} must be \"GRANTED\" or \"DENIED\"."),
                );
            }
        }
    }
}

/// Whether `id` has the recommended web client id form `<number>.<number>`.
fn is_number_dot_number(id: &str) -> bool {
    let digits = |part: &str| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit());
    id.split_once('.')
        .is_some_and(|(random, time)| digits(random) && digits(time))
}

/// What is wrong with an `app_instance_id` (32 hexadecimal digits), in Google's words.
fn app_instance_id_problem(value: &Value) -> Option<String> {
    let Some(id) = value.as_str() else {
        return Some("Measurement app_instance_id must be a string.".to_string());
    };
    let length = id.chars().count();
    if length != 32 {
        return Some(format!(
            "Measurement app_instance_id is expected to be a 32 digit hexadecimal number \
             but was [{length}] digits."
        ));
    }
    id.chars()
        .find(|c| !c.is_ascii_hexdigit())
        .map(|c| format!("Measurement app_instance_id contains non hexadecimal character [{c}]."))
}

/// `timestamp_micros` as a number: a JSON integer or a string of digits (proto JSON
/// writes int64 as a string).
pub(crate) fn timestamp_micros(value: &Value) -> Option<i64> {
    match value {
        Value::Number(number) => number.as_i64(),
        Value::String(text) => text.parse::<i64>().ok(),
        _ => None,
    }
}

/// The consent signal a consent key names, snake or camel case.
pub(crate) fn consent_signal(key: &str) -> Option<&'static str> {
    match key {
        "ad_user_data" | "adUserData" => Some("ad_user_data"),
        "ad_personalization" | "adPersonalization" => Some("ad_personalization"),
        _ => None,
    }
}

/// `"granted"` / `"denied"` for a consent value (`GRANTED` / `DENIED`, any case).
pub(crate) fn consent_state(value: &Value) -> Option<&'static str> {
    let text = value.as_str()?;
    if text.eq_ignore_ascii_case("granted") {
        Some("granted")
    } else if text.eq_ignore_ascii_case("denied") {
        Some("denied")
    } else {
        None
    }
}

/// A duration for a message, rounded up to the minute: `73 hours`, `2 hours 1 minute`,
/// `7 minutes`.
fn describe_duration(micros: i64) -> String {
    let minutes = micros.max(0).saturating_add(MICROS_PER_MINUTE - 1) / MICROS_PER_MINUTE;
    let (hours, minutes) = (minutes / 60, minutes % 60);
    let unit = |n: i64, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    match (hours, minutes) {
        (0, m) => unit(m, "minute"),
        (h, 0) => unit(h, "hour"),
        (h, m) => format!("{} {}", unit(h, "hour"), unit(m, "minute")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_round_up_to_the_minute() {
        assert_eq!(describe_duration(73 * 60 * MICROS_PER_MINUTE), "73 hours");
        assert_eq!(
            describe_duration(72 * 60 * MICROS_PER_MINUTE + 1),
            "72 hours 1 minute"
        );
        assert_eq!(describe_duration(7 * MICROS_PER_MINUTE), "7 minutes");
        assert_eq!(describe_duration(61 * MICROS_PER_MINUTE), "1 hour 1 minute");
    }

    #[test]
    fn timestamps_are_integers_or_digit_strings() {
        assert_eq!(
            timestamp_micros(&Value::from(1_718_000_000_000_000_i64)),
            Some(1_718_000_000_000_000)
        );
        assert_eq!(
            timestamp_micros(&Value::from("1718000000000000")),
            Some(1_718_000_000_000_000)
        );
        assert_eq!(timestamp_micros(&Value::from(1.5)), None);
        assert_eq!(timestamp_micros(&Value::from("soon")), None);
        assert_eq!(timestamp_micros(&Value::from(u64::MAX)), None);
    }

    #[test]
    fn consent_values_in_any_case() {
        assert_eq!(consent_state(&Value::from("GRANTED")), Some("granted"));
        assert_eq!(consent_state(&Value::from("denied")), Some("denied"));
        assert_eq!(consent_state(&Value::from("yes")), None);
        assert_eq!(
            consent_signal("adPersonalization"),
            Some("ad_personalization")
        );
    }
}
