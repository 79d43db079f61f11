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

/// The known top-level fields of a request body.
#[derive(Debug, Default)]
pub(crate) struct Body<'a> {
    pub client_id: Option<Entry<'a>>,
    pub app_instance_id: Option<Entry<'a>>,
    pub user_id: Option<Entry<'a>>,
    pub timestamp_micros: Option<Entry<'a>>,
    pub user_properties: Option<Entry<'a>>,
    pub user_data: Option<Entry<'a>>,
    pub consent: Option<Entry<'a>>,
    pub non_personalized_ads: Option<Entry<'a>>,
    pub user_location: Option<Entry<'a>>,
    pub ip_override: Option<Entry<'a>>,
    pub device: Option<Entry<'a>>,
    pub validation_behavior: Option<Entry<'a>>,
    pub events: Option<Entry<'a>>,
}

const KNOWN: &str = "client_id, app_instance_id, user_id, timestamp_micros, user_properties, \
                     user_data, consent, non_personalized_ads, user_location, ip_override, device, \
                     validation_behavior, events";

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
                    format!("Unknown field \"{key}\". Known fields: {KNOWN}."),
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

    fn slot(&mut self, key: &str) -> Option<(&'static str, &mut Option<Entry<'a>>)> {
        Some(match key {
            "client_id" | "clientId" => ("client_id", &mut self.client_id),
            "app_instance_id" | "appInstanceId" => ("app_instance_id", &mut self.app_instance_id),
            "user_id" | "userId" => ("user_id", &mut self.user_id),
            "timestamp_micros" | "timestampMicros" => {
                ("timestamp_micros", &mut self.timestamp_micros)
            }
            "user_properties" | "userProperties" => ("user_properties", &mut self.user_properties),
            "user_data" | "userData" => ("user_data", &mut self.user_data),
            "consent" => ("consent", &mut self.consent),
            "non_personalized_ads" | "nonPersonalizedAds" => {
                ("non_personalized_ads", &mut self.non_personalized_ads)
            }
            "user_location" | "userLocation" => ("user_location", &mut self.user_location),
            "ip_override" | "ipOverride" => ("ip_override", &mut self.ip_override),
            "device" => ("device", &mut self.device),
            "validation_behavior" | "validationBehavior" => {
                ("validation_behavior", &mut self.validation_behavior)
            }
            "events" => ("events", &mut self.events),
            _ => return None,
        })
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
                    format!("Unknown field \"clientID\". Known fields: {KNOWN}.")
                ),
            ]
        );
    }
}
