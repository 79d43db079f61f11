//! Validation messages in the shape of Google's Measurement Protocol validation server:
//! `{"validationMessages":[{"fieldPath","description","validationCode"}]}`.

use std::fmt;

use serde::Serialize;

/// Google's validation codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ValidationCode {
    /// A value of the wrong type or form.
    ValueInvalid,
    /// A required value is missing.
    ValueRequired,
    /// A name breaks the length or character rules.
    NameInvalid,
    /// A name, or its prefix, is reserved.
    NameReserved,
    /// A value is too long, too old or too far in the future.
    ValueOutOfBounds,
    /// Too many events, parameters, user properties or item parameters.
    ExceededMaxEntities,
    /// A name given more than once.
    NameDuplicated,
}

impl ValidationCode {
    /// The code as Google spells it, e.g. `NAME_INVALID`.
    pub fn as_str(self) -> &'static str {
        match self {
            ValidationCode::ValueInvalid => "VALUE_INVALID",
            ValidationCode::ValueRequired => "VALUE_REQUIRED",
            ValidationCode::NameInvalid => "NAME_INVALID",
            ValidationCode::NameReserved => "NAME_RESERVED",
            ValidationCode::ValueOutOfBounds => "VALUE_OUT_OF_BOUNDS",
            ValidationCode::ExceededMaxEntities => "EXCEEDED_MAX_ENTITIES",
            ValidationCode::NameDuplicated => "NAME_DUPLICATED",
        }
    }
}

/// One problem with a Measurement Protocol request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ValidationMessage {
    /// Where, e.g. `events[0].params.items[1]`; empty (and omitted) for the whole body.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub field_path: String,
    /// What is wrong, in a sentence a back-end developer can act on.
    pub description: String,
    /// Google's code for the kind of problem.
    pub validation_code: ValidationCode,
}

impl ValidationMessage {
    pub(crate) fn new(
        field_path: impl Into<String>,
        validation_code: ValidationCode,
        description: impl Into<String>,
    ) -> Self {
        ValidationMessage {
            field_path: field_path.into(),
            description: description.into(),
            validation_code,
        }
    }
}

impl fmt::Display for ValidationMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.field_path.is_empty() {
            write!(f, "{}: ", self.field_path)?;
        }
        write!(
            f,
            "{} ({})",
            self.description,
            self.validation_code.as_str()
        )
    }
}

/// The `/debug/mp/collect` answer; `validationMessages` is empty for a valid request.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ValidationResponse {
    /// Every problem found, in body order.
    #[serde(rename = "validationMessages")]
    pub validation_messages: Vec<ValidationMessage>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn serializes_like_googles_validation_server() {
        let response = ValidationResponse {
            validation_messages: vec![
                ValidationMessage::new(
                    "events[0].name",
                    ValidationCode::NameReserved,
                    "Event name \"session_start\" is reserved.",
                ),
                ValidationMessage::new("", ValidationCode::ValueInvalid, "Not JSON."),
            ],
        };
        assert_eq!(
            serde_json::to_value(&response).unwrap(),
            json!({"validationMessages": [
                {
                    "fieldPath": "events[0].name",
                    "description": "Event name \"session_start\" is reserved.",
                    "validationCode": "NAME_RESERVED"
                },
                {"description": "Not JSON.", "validationCode": "VALUE_INVALID"}
            ]})
        );
        assert_eq!(
            serde_json::to_value(ValidationResponse::default()).unwrap(),
            json!({"validationMessages": []})
        );
    }

    #[test]
    fn codes_serialize_as_their_names() {
        for code in [
            ValidationCode::ValueInvalid,
            ValidationCode::ValueRequired,
            ValidationCode::NameInvalid,
            ValidationCode::NameReserved,
            ValidationCode::ValueOutOfBounds,
            ValidationCode::ExceededMaxEntities,
            ValidationCode::NameDuplicated,
        ] {
            assert_eq!(serde_json::to_value(code).unwrap(), json!(code.as_str()));
        }
    }

    #[test]
    fn displays_path_description_and_code() {
        let message = ValidationMessage::new(
            "timestamp_micros",
            ValidationCode::ValueOutOfBounds,
            "Too old.",
        );
        assert_eq!(
            message.to_string(),
            "timestamp_micros: Too old. (VALUE_OUT_OF_BOUNDS)"
        );
    }
}
