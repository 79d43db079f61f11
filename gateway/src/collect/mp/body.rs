//! The top level of a Measurement Protocol body, read once: each known field under its
//! snake_case or camelCase key (Google's validator accepts both); unknown and doubled
//! keys returned for the validator to report.

use serde_json::{Map, Value};

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

/// A top-level key that is not where [`Body::read`] expected it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Misplaced<'a> {
    /// A key no Measurement Protocol body has.
    Unknown(&'a str),
    /// A field given under both spellings; the first is kept.
    Doubled {
        field: &'static str,
        first: &'a str,
        again: &'a str,
    },
}

impl<'a> Body<'a> {
    /// Sort the body's keys into fields; the keys that fit no field, or a field already
    /// filled, are returned for the validator to report.
    pub(crate) fn read(object: &'a Map<String, Value>) -> (Self, Vec<Misplaced<'a>>) {
        let mut body = Body::default();
        let mut misplaced = Vec::new();
        for (key, value) in object {
            let Some((field, slot)) = body.slot(key) else {
                misplaced.push(Misplaced::Unknown(key));
                continue;
            };
            match slot {
                Some(first) => misplaced.push(Misplaced::Doubled {
                    field,
                    first: first.key,
                    again: key,
                }),
                None => *slot = Some(Entry { key, value }),
            }
        }
        (body, misplaced)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn camel_case_keys_fill_the_same_fields() {
        let value = json!({"clientId": "1.2", "userProperties": {}, "events": []});
        let (body, misplaced) = Body::read(value.as_object().unwrap());
        assert!(misplaced.is_empty());
        assert_eq!(body.client_id.unwrap().key, "clientId");
        assert_eq!(body.client_id.unwrap().value, &json!("1.2"));
        assert!(body.user_properties.is_some());
        assert!(body.user_id.is_none());
    }

    #[test]
    fn unknown_and_doubled_keys_are_returned_and_the_first_spelling_kept() {
        let value = json!({"client_id": "a", "clientId": "b", "clientID": "c"});
        let (body, misplaced) = Body::read(value.as_object().unwrap());
        assert_eq!(body.client_id.unwrap().value, &json!("a"));
        assert_eq!(
            misplaced,
            [
                Misplaced::Doubled {
                    field: "client_id",
                    first: "client_id",
                    again: "clientId"
                },
                Misplaced::Unknown("clientID"),
            ]
        );
    }
}
