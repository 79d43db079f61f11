//! GA4's naming rules for Measurement Protocol events, parameters and user properties:
//! lengths, characters, reserved names and reserved prefixes.

use super::messages::ValidationCode;

/// Longest event or parameter name.
pub(crate) const MAX_NAME: usize = 40;
/// Longest user property name.
pub(crate) const MAX_USER_PROPERTY_NAME: usize = 24;

/// Prefixes no event, parameter or user property name may start with.
const RESERVED_PREFIXES: [&str; 4] = ["_", "firebase_", "ga_", "google_"];
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

/// The first rule `name` breaks, as a code and a description; `None` when it is valid.
/// Reserved names and prefixes are reported before length and characters, since a
/// reserved name is the more useful thing to learn.
pub(crate) fn check_name(kind: NameKind, name: &str) -> Option<(ValidationCode, String)> {
    let label = kind.label();
    if name.is_empty() {
        return Some((ValidationCode::NameInvalid, format!("{label} is empty.")));
    }
    if let Some(prefix) = kind.reserved_prefixes().find(|p| name.starts_with(p)) {
        return Some((
            ValidationCode::NameReserved,
            format!("{label} \"{name}\" starts with the reserved prefix \"{prefix}\"."),
        ));
    }
    if kind.reserved_names().contains(&name) {
        return Some((
            ValidationCode::NameReserved,
            format!("{label} \"{name}\" is reserved."),
        ));
    }
    let length = name.chars().count();
    let max = kind.max_len();
    if length > max {
        return Some((
            ValidationCode::NameInvalid,
            format!("{label} \"{name}\" is {length} characters; the maximum is {max}."),
        ));
    }
    let mut bytes = name.bytes();
    let starts_with_letter = bytes.next().is_some_and(|b| b.is_ascii_alphabetic());
    if !starts_with_letter || !bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return Some((
            ValidationCode::NameInvalid,
            format!(
                "{label} \"{name}\" must start with a letter and contain only letters, \
                 digits and underscores."
            ),
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(kind: NameKind, name: &str) -> Option<ValidationCode> {
        check_name(kind, name).map(|(code, _)| code)
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
        assert_eq!(
            check_name(NameKind::Event, name),
            Some((
                ValidationCode::NameInvalid,
                format!("Event name \"{name}\" is 41 characters; the maximum is 40.")
            ))
        );
        assert_eq!(
            code(NameKind::UserProperty, &"a".repeat(25)),
            Some(ValidationCode::NameInvalid)
        );
    }

    #[test]
    fn characters_must_be_letters_digits_underscores_starting_with_a_letter() {
        for bad in ["9lives", "add-to-cart", "add to cart", "café", "a.b"] {
            assert_eq!(
                code(NameKind::Event, bad),
                Some(ValidationCode::NameInvalid),
                "{bad}"
            );
        }
        assert_eq!(code(NameKind::Event, ""), Some(ValidationCode::NameInvalid));
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
                Some((
                    ValidationCode::NameReserved,
                    format!("Event name \"{reserved}\" is reserved.")
                ))
            );
        }
        for prefixed in ["_internal", "firebase_x", "ga_x", "google_x"] {
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
        assert_eq!(
            check_name(NameKind::Param, "gtag.config"),
            Some((
                ValidationCode::NameReserved,
                "Parameter name \"gtag.config\" starts with the reserved prefix \"gtag.\"."
                    .to_string()
            ))
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
