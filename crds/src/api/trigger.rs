//! The Trigger kind: which events fire the tags that name it.

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::scalar::Scalar;
use super::status::ResourceStatus;
use super::variable::{ClientKind, Variable};

hermes_kind! {
    kind: "Trigger",
    doc: "A Trigger matches events by name and conditions; Tags name it to fire or to block (an sGTM trigger).",
    shortnames: ["htrig"],
    columns: [
        r#"{"name":"Event","type":"string","description":"The event match, whichever form (name, names or regex); empty: every event.","jsonPath":".spec.event"}"#,
        r#"{"name":"Client","type":"string","description":"The client hits must arrive through; empty: any.","jsonPath":".spec.client"}"#,
    ],
    /// A Trigger matches events by name and by conditions that must all hold, as an sGTM
    /// Custom Event trigger does. Tags name triggers as firing or blocking triggers.
    pub struct TriggerSpec {
        /// Which event names fire. Omitted: every event.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub event: Option<EventMatch>,
        /// Conditions that must all hold (logical AND) for the trigger to fire.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        pub conditions: Vec<Condition>,
        /// Only hits that arrived through this client fire. Omitted: any client.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub client: Option<ClientKind>,
    }
}

/// An event-name match: set exactly one of `name`, `names` or `regex` (the API server
/// refuses none or several).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("minProperties" = 1, "maxProperties" = 1))]
pub struct EventMatch {
    /// The exact event name, e.g. `purchase`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Any of these exact event names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub names: Option<Vec<String>>,
    /// A regular expression (Rust `regex` syntax) the whole event name must match (anchored,
    /// unlike the `matchesRegex` operator). A regex that does not compile makes the Trigger
    /// `Stalled` with reason `InvalidRegex`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regex: Option<String>,
}

/// One comparison of a variable's value, as a GTM trigger filter.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Condition {
    /// The value tested.
    pub variable: Variable,
    /// The comparison, applied to each value of the variable (the condition holds when it
    /// holds for any): `equals`, `contains`, `startsWith`, `endsWith` compare text
    /// (`ignoreCase` to ignore case); `matchesRegex` matches anywhere in the value (anchor
    /// with `^…$`); `in` equals any of `values`; `exists` holds when the variable has a
    /// value, even `""`, `notEmpty` when that value is not `""`, `[]`, `{}` or null;
    /// `lessThan`, `lessThanOrEqual`, `greaterThan`, `greaterThanOrEqual` compare numbers
    /// and are false (true with `negate`) when either side is not a number.
    pub operator: Operator,
    /// The operand for every operator except `in`, `exists` and `notEmpty`: any scalar,
    /// written as is (`value: 5`, `value: true`, `value: purchase`). Compared as text,
    /// except by the numeric operators.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::api::schema::any_scalar")]
    pub value: Option<Scalar>,
    /// The operands of `in` (any scalars): the condition holds when the variable equals
    /// any of them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub values: Option<Vec<Scalar>>,
    /// Invert the result (GTM's "does not …").
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub negate: bool,
    /// Compare strings ignoring case.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub ignore_case: bool,
}

/// Comparison operators, applied to each value of the variable (a condition holds when it
/// holds for any). String operators compare text, case-sensitively unless `ignoreCase`.
/// The numeric ones (`lessThan`, `lessThanOrEqual`, `greaterThan`, `greaterThanOrEqual`)
/// parse both sides as numbers and are false (true with `negate`) when either side is not
/// a number. `matchesRegex` matches anywhere in the value (anchor with `^…$`). `exists`
/// holds when the variable has any value, even `""`; `notEmpty` also needs it not to be
/// `""`, `[]`, `{}` or null.
#[derive(
    Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, JsonSchema,
)]
#[serde(rename_all = "camelCase")]
pub enum Operator {
    /// The value equals `value`.
    Equals,
    /// The value contains `value`.
    Contains,
    /// The value starts with `value`.
    StartsWith,
    /// The value ends with `value`.
    EndsWith,
    /// The value matches the regular expression `value` anywhere, as GTM does (anchor it
    /// with `^…$` to match the whole value).
    MatchesRegex,
    /// The value equals one of `values`.
    In,
    /// The variable has a value (present, even if empty: `""` counts).
    Exists,
    /// The variable has a value that is not empty (not "", [], {} or null).
    NotEmpty,
    /// Numerically less than `value` (false when either side is not a number).
    LessThan,
    /// Numerically less than or equal to `value`.
    LessThanOrEqual,
    /// Numerically greater than `value`.
    GreaterThan,
    /// Numerically greater than or equal to `value`.
    GreaterThanOrEqual,
}

impl Operator {
    /// Whether the operator reads `value` (rather than `values` or nothing).
    pub fn needs_value(self) -> bool {
        !matches!(self, Operator::In | Operator::Exists | Operator::NotEmpty)
    }

    /// Whether the operator compares numbers.
    pub fn is_numeric(self) -> bool {
        matches!(
            self,
            Operator::LessThan
                | Operator::LessThanOrEqual
                | Operator::GreaterThan
                | Operator::GreaterThanOrEqual
        )
    }
}
