//! The debug-mode explanation of one event (sGTM preview): every trigger with each
//! condition's result, every tag with why it fired or not, and the rendered messages.

use hermes_compiler::config::CompiledVariable;
use hermes_crds::api::Operator;
use serde::Serialize;
use serde_json::Value;

use super::prepare::PreparedCondition;
use super::render::RenderedMessage;
use super::variable::Values;

/// One event, explained.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EventTrace {
    /// The stable event id messages carry.
    pub event_id: String,
    /// The event name.
    pub event_name: String,
    /// The client that parsed it.
    pub client: String,
    /// The parsed event data.
    pub event_data: Value,
    /// Every trigger, by name.
    pub triggers: Vec<TriggerTrace>,
    /// Every tag, by name.
    pub tags: Vec<TagTrace>,
}

/// One trigger's result.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TriggerTrace {
    /// Trigger name.
    pub name: String,
    /// Whether it fired.
    pub fired: bool,
    /// Whether the event name matched.
    pub event_matched: bool,
    /// Whether the client matched.
    pub client_matched: bool,
    /// Each condition.
    pub conditions: Vec<ConditionTrace>,
}

/// One condition's result.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConditionTrace {
    /// Position in `spec.conditions`.
    pub index: usize,
    /// The variable tested.
    pub variable: CompiledVariable,
    /// The operator.
    pub operator: Operator,
    /// The operand(s) as configured (lower-cased when ignoring case).
    pub operand: Value,
    /// Whether the result was inverted.
    pub negate: bool,
    /// The variable's values for this event.
    pub values: Vec<Value>,
    /// Whether the condition held.
    pub result: bool,
}

impl ConditionTrace {
    pub(crate) fn new(
        index: usize,
        c: &PreparedCondition,
        values: &Values<'_>,
        result: bool,
    ) -> Self {
        let operand = match c.operator {
            Operator::In => Value::from(c.values.clone()),
            Operator::Exists | Operator::NotEmpty => Value::Null,
            _ => Value::String(c.value.clone()),
        };
        ConditionTrace {
            index,
            variable: c.variable.clone(),
            operator: c.operator,
            operand,
            negate: c.negate,
            values: values.iter().map(|v| v.as_ref().clone()).collect(),
            result,
        }
    }
}

/// One tag's result.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TagTrace {
    /// Tag name.
    pub name: String,
    /// Whether it fired.
    pub fired: bool,
    /// Why (not): `fired`, `paused`, `consent: analytics_storage denied`, `no firing
    /// trigger fired`, `blocked by trigger "x"`.
    pub reason: String,
    /// The messages it would publish.
    pub messages: Vec<RenderedMessage>,
}
