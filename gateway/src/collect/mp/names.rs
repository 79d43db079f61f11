//! GA4's naming rules for Measurement Protocol events, parameters and user properties:
//! lengths, characters, reserved names and reserved prefixes.

use super::messages::ValidationCode;

/// Longest event or parameter name.
pub(crate) const MAX_NAME: usize = 40;
/// Longest user property name.
pub(crate) const MAX_USER_PROPERTY_NAME: usize = 24;

/// Prefixes no event, parameter or user property name may start with (`_` is reserved
/// too, but reported as "must start with an alphabetic character", as Google does).
const RESERVED_PREFIXES: [&str; 3] = ["firebase_", "ga_", "google_"];
/// Further prefixes reserved for parameter names.
const RESERVED_PARAM_PREFIXES: [&str; 1] = ["gtag."];

/// Event names GA4 reserves for its own collection (Measurement Protocol reference).
const RESERVED_EVENTS: [&str; 38] = [
    "ad_activeview",
    "ad_click",
    "ad_exposure",
    "ad_impression",
    "ad_query",
    "ad_reward",
    "adunit_exposure",
    "app_background",
    "app_clear_data",
    "app_exception",
    "app_install",
    "app_remove",
    "app_store_refund",
    "app_store_subscription_cancel",
    "app_store_subscription_convert",
    "app_store_subscription_renew",
    "app_update",
    "app_upgrade",
    "dynamic_link_app_open",
    "dynamic_link_app_update",
    "dynamic_link_first_open",
    "error",
    "firebase_campaign",
    "firebase_in_app_message_action",
    "firebase_in_app_message_dismiss",
    "firebase_in_app_message_impression",
    "first_open",
    "first_visit",
    "in_app_purchase",
    "notification_dismiss",
    "notification_foreground",
    "notification_open",
    "notification_receive",
    "notification_send",
    "os_update",
    "screen_view",
    "session_start",
    "user_engagement",
];

/// Parameter names GA4 reserves.
const RESERVED_PARAMS: [&str; 1] = ["firebase_conversion"];

/// User property names GA4 reserves.
const RESERVED_USER_PROPERTIES: [&str; 5] = [
    "first_open_time",
    "first_visit_time",
    "last_deep_link_referrer",
    "user_id",
    "first_open_after_install",
];

/// What kind of name is checked: decides the rules and the wording.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NameKind {
    Event,
    Param,
    ItemParam,
    UserProperty,
}

impl NameKind {
    fn label(self) -> &'static str {
        match self {
            NameKind::Event => "Event name",
            NameKind::Param => "Parameter name",
            NameKind::ItemParam => "Item parameter name",
            NameKind::UserProperty => "User property name",
        }
    }

    fn max_len(self) -> usize {
        match self {
            NameKind::UserProperty => MAX_USER_PROPERTY_NAME,
            _ => MAX_NAME,
        }
    }

    fn reserved_names(self) -> &'static [&'static str] {
        match self {
            NameKind::Event => &RESERVED_EVENTS,
            NameKind::Param => &RESERVED_PARAMS,
            NameKind::ItemParam => &[],
            NameKind::UserProperty => &RESERVED_USER_PROPERTIES,
        }
    }

    fn reserved_prefixes(self) -> impl Iterator<Item = &'static str> {
        let extra: &[&str] = match self {
            NameKind::Param | NameKind::ItemParam => &RESERVED_PARAM_PREFIXES,
            _ => &[],
        };
        RESERVED_PREFIXES.iter().chain(extra).copied()
    }
}

/// A broken naming rule: Google's code and the rule as one sentence, without the name
/// (callers say which name, in Google's wording for their kind of name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NameProblem {
    pub code: ValidationCode,
    pub rule: String,
}

impl NameProblem {
    fn new(code: ValidationCode, rule: impl Into<String>) -> Self {
        NameProblem {
            code,
            rule: rule.into(),
        }
    }

    /// The description for a parameter, item parameter or user property name, e.g.
    /// `Parameter name [_x] is invalid. Names must start with an alphabetic character.`
    /// (event names use Google's "Event at index" wording instead, see `validate`).
    pub(crate) fn describe(&self, kind: NameKind, name: &str) -> String {
        format!("{} [{name}] is invalid. {}", kind.label(), self.rule)
    }
}

/// The first rule `name` breaks; `None` when it is valid.
///
/// The order follows Google's validation server: a name that does not start with a letter
/// is `NAME_INVALID` ("Names must start with an alphabetic character"), even when it
/// starts with the reserved `_`; then reserved prefixes and names (`NAME_RESERVED`), the
/// length, and the characters.
pub(crate) fn check_name(kind: NameKind, name: &str) -> Option<NameProblem> {
    use ValidationCode::{NameInvalid, NameReserved};
    if name.is_empty() {
        return Some(NameProblem::new(NameInvalid, "Names must not be empty."));
    }
    if !name.starts_with(|c: char| c.is_ascii_alphabetic()) {
        return Some(NameProblem::new(
            NameInvalid,
            "Names must start with an alphabetic character.",
        ));
    }
    if let Some(prefix) = kind.reserved_prefixes().find(|p| name.starts_with(p)) {
        return Some(NameProblem::new(
            NameReserved,
            format!("Names must not start with the reserved prefix \"{prefix}\"."),
        ));
    }
    if kind.reserved_names().contains(&name) {
        return Some(NameProblem::new(NameReserved, "The name is reserved."));
    }
    let length = name.chars().count();
    let max = kind.max_len();
    if length > max {
        return Some(NameProblem::new(
            NameInvalid,
            format!("Names must be at most {max} characters; this one has {length}."),
        ));
    }
    if !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return Some(NameProblem::new(
            NameInvalid,
            "Only alphanumeric characters and underscores are allowed.",
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(kind: NameKind, name: &str) -> Option<ValidationCode> {
        check_name(kind, name).map(|problem| problem.code)
    }

    #[test]
    fn valid_names_pass() {
        assert_eq!(code(NameKind::Event, "purchase"), None);
        assert_eq!(code(NameKind::Event, "LowStock2"), None);
        assert_eq!(code(NameKind::Param, "session_id"), None);
        assert_eq!(code(NameKind::Param, "engagement_time_msec"), None);
        assert_eq!(code(NameKind::Param, &"a".repeat(40)), None);
        assert_eq!(code(NameKind::UserProperty, &"a".repeat(24)), None);
    }

    #[test]
    fn length_is_counted_in_characters() {
        let name = "this_event_name_is_far_too_long_to_be_accepted_x";
        let name = &name[..41];
        let problem = check_name(NameKind::Event, name).unwrap();
        assert_eq!(problem.code, ValidationCode::NameInvalid);
        assert_eq!(
            problem.rule,
            "Names must be at most 40 characters; this one has 41."
        );
        assert_eq!(
            code(NameKind::UserProperty, &"a".repeat(25)),
            Some(ValidationCode::NameInvalid)
        );
    }

    #[test]
    fn names_must_start_with_a_letter_even_the_reserved_underscore() {
        for bad in ["9lives", "_badEventName", "_internal", ".x"] {
            let problem = check_name(NameKind::Event, bad).unwrap();
            assert_eq!(problem.code, ValidationCode::NameInvalid, "{bad}");
            assert_eq!(
                problem.rule,
                "Names must start with an alphabetic character."
            );
        }
        assert_eq!(code(NameKind::Event, ""), Some(ValidationCode::NameInvalid));
    }

    #[test]
    fn other_characters_are_letters_digits_and_underscores() {
        for bad in ["add-to-cart", "Demo Request", "café", "a.b"] {
            let problem = check_name(NameKind::Event, bad).unwrap();
            assert_eq!(problem.code, ValidationCode::NameInvalid, "{bad}");
            assert_eq!(
                problem.rule,
                "Only alphanumeric characters and underscores are allowed."
            );
        }
    }

    #[test]
    fn reserved_names_and_prefixes() {
        for reserved in [
            "session_start",
            "first_visit",
            "user_engagement",
            "ad_click",
            "error",
        ] {
            assert_eq!(
                check_name(NameKind::Event, reserved),
                Some(NameProblem::new(
                    ValidationCode::NameReserved,
                    "The name is reserved."
                ))
            );
        }
        for prefixed in ["firebase_x", "ga_x", "google_x"] {
            assert_eq!(
                code(NameKind::Event, prefixed),
                Some(ValidationCode::NameReserved),
                "{prefixed}"
            );
            assert_eq!(
                code(NameKind::UserProperty, prefixed),
                Some(ValidationCode::NameReserved)
            );
        }
        let problem = check_name(NameKind::Param, "gtag.config").unwrap();
        assert_eq!(
            problem.describe(NameKind::Param, "gtag.config"),
            "Parameter name [gtag.config] is invalid. Names must not start with the reserved \
             prefix \"gtag.\"."
        );
        assert_eq!(code(NameKind::Event, "gtag_x"), None);
        assert_eq!(
            code(NameKind::Param, "firebase_conversion"),
            Some(ValidationCode::NameReserved)
        );
        assert_eq!(
            code(NameKind::UserProperty, "first_open_time"),
            Some(ValidationCode::NameReserved)
        );
        assert_eq!(code(NameKind::Param, "first_open_time"), None);
    }
}
