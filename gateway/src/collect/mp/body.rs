//! The top level of a Measurement Protocol body, read once: each known field under its
//! snake_case or camelCase key (Google's validator accepts both), unknown and doubled
//! fields reported.

use serde_json::{Map, Value};

use super::messages::{ValidationCode, ValidationMessage};

/// A field as sent: the key the client used (for field paths) and its value.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Entry<'a> {
    pub key: &'a str,
    pub value: &'a Value,
}

/// Declares [`Body`] and its key lookup from one list of fields, each with its
/// camelCase spelling when it has one, so a name is written once.
macro_rules! body_fields {
    ($($field:ident $(| $camel:literal)?),* $(,)?) => {
        /// The known top-level fields of a request body.
        #[derive(Debug, Default)]
        pub(crate) struct Body<'a> {
            $(pub $field: Option<Entry<'a>>,)*
        }

        /// The known fields' names, in Google's order.
        const KNOWN: &[&str] = &[$(stringify!($field)),*];

        impl<'a> Body<'a> {
            /// The field `key` names (either spelling): its name and its slot.
            fn slot(&mut self, key: &str) -> Option<(&'static str, &mut Option<Entry<'a>>)> {
                Some(match key {
                    $(stringify!($field) $(| $camel)? => (stringify!($field), &mut self.$field),)*
                    _ => return None,
                })
            }
        }
    };
}

body_fields! {
    client_id | "clientId",
    app_instance_id | "appInstanceId",
    user_id | "userId",
    timestamp_micros | "timestampMicros",
    user_properties | "userProperties",
    user_data | "userData",
    consent,
    non_personalized_ads | "nonPersonalizedAds",
    user_location | "userLocation",
    ip_override | "ipOverride",
    device,
    validation_behavior | "validationBehavior",
    events,
}

impl<'a> Body<'a> {
    /// Sort the body's keys into fields, reporting unknown keys (`NAME_INVALID`) and a
    /// field given under both spellings (`NAME_DUPLICATED`; the first is kept).
    pub(crate) fn read(
        object: &'a Map<String, Value>,
        messages: &mut Vec<ValidationMessage>,
    ) -> Self {
        let mut body = Body::default();
        for (key, value) in object {
            let Some((name, slot)) = body.slot(key) else {
                messages.push(ValidationMessage::new(
                    key.as_str(),
                    ValidationCode::NameInvalid,
                    format!(
                        "Unknown field \"{key}\". Known fields: {}.",
                        KNOWN.join(", ")
                    ),
                ));
                continue;
            };
            match slot {
                Some(first) => messages.push(ValidationMessage::new(
                    key.as_str(),
                    ValidationCode::NameDuplicated,
                    format!(
                        "Field {name} is given twice, as \"{}\" and \"{key}\".",
                        first.key
                    ),
                )),
                None => *slot = Some(Entry { key, value }),
            }
        }
        body
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn camel_case_keys_fill_the_same_fields() {
        let value = json!({"clientId": "1.2", "userProperties": {}, "events": []});
        let mut messages = Vec::new();
        let body = Body::read(value.as_object().unwrap(), &mut messages);
        assert!(messages.is_empty());
        assert_eq!(body.client_id.unwrap().key, "clientId");
        assert_eq!(body.client_id.unwrap().value, &json!("1.2"));
        assert!(body.user_properties.is_some());
        assert!(body.user_id.is_none());
    }

    #[test]
    fn unknown_and_doubled_fields_are_reported() {
        let value = json!({"client_id": "a", "clientId": "b", "clientID": "c"});
        let mut messages = Vec::new();
        let body = Body::read(value.as_object().unwrap(), &mut messages);
        assert_eq!(body.client_id.unwrap().value, &json!("a"));
        assert_eq!(
            messages,
            [
                ValidationMessage::new(
                    "clientId",
                    ValidationCode::NameDuplicated,
                    "Field client_id is given twice, as \"client_id\" and \"clientId\"."
                ),
                ValidationMessage::new(
                    "clientID",
                    ValidationCode::NameInvalid,
                    format!(
                        "Unknown field \"clientID\". Known fields: {}.",
                        KNOWN.join(", ")
                    )
                ),
            ]
        );
    }
}
