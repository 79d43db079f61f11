//! The Tag kind: what to publish to Pub/Sub when its triggers fire.

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::status::ResourceStatus;
use super::trigger::Condition;
use super::variable::Variable;

hermes_kind! {
    kind: "Tag",
    doc: "A Tag publishes Pub/Sub messages for events that fire its triggers (an sGTM tag). `kubectl explain tag.spec` lists its fields.",
    shortnames: ["htag"],
    columns: [
        r#"{"name":"Topic","type":"string","jsonPath":".spec.topic"}"#,
        r#"{"name":"Triggers","type":"string","priority":1,"jsonPath":".spec.firingTriggers"}"#,
        r#"{"name":"Live","type":"integer","description":"The generation every ready gateway serves.","jsonPath":".status.liveGeneration"}"#,
        r#"{"name":"Generation","type":"integer","description":"metadata.generation: Live lags it while a change propagates.","jsonPath":".metadata.generation"}"#,
    ],
    /// A Tag publishes one Pub/Sub message per event (or per matching item) when any of its
    /// firing triggers fires and none of its blocking triggers does, as the Hermes sGTM tag
    /// template does.
    pub struct TagSpec {
        /// Names of Triggers (same namespace) of which any one fires the tag. A Trigger that
        /// does not exist yet is waited for (`Reconciling`, `DependencyNotFound`).
        #[schemars(length(min = 1))]
        pub firing_triggers: Vec<String>,
        /// Names of Triggers that, when any fires, stop the tag (sGTM exceptions).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        pub blocking_triggers: Vec<String>,
        /// The Pub/Sub topic: a topic name (`low-stock`), published in the namespace's
        /// project (key `project` of the ConfigMap `hermes-settings` in the same namespace),
        /// or a full `projects/PROJECT/topics/TOPIC`, used as is.
        #[schemars(regex(pattern = r"^(projects/[^/]+/topics/)?[^/]+$"))]
        pub topic: String,
        /// Message attributes, each from a variable (at most 100 with Hermes' own). Keyed by
        /// `name`: the API server refuses duplicates and server-side apply merges by name.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["name"]))]
        pub attributes: Vec<Attribute>,
        /// The Pub/Sub ordering key, from a variable. Omitted: unordered.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub ordering_key: Option<Variable>,
        /// The message body (JSON). Omitted: the whole event data.
        #[serde(default)]
        pub payload: Payload,
        /// Publish one message per item of `items[]` that meets the conditions, instead of one
        /// per event. `item` variables then read the item being sent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub per_item: Option<PerItem>,
        /// GA4 consent mode storage that must be granted for the tag to fire.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub consent: Option<ConsentRequirement>,
        /// A paused tag never fires, and stays valid and visible.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        pub paused: bool,
    }
}

/// A message attribute.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Attribute {
    /// The attribute name (not starting with `goog`; `hermes_` names are reserved).
    pub name: String,
    /// Where the value comes from. An attribute whose variable has no value is left out.
    pub value: Variable,
}

/// The message body: set at most one of `eventData` and `fields` (neither: the whole
/// event data).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("maxProperties" = 1))]
pub struct Payload {
    /// Send the event data, transformed as sGTM's transformations do.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_data: Option<EventDataPayload>,
    /// Send only these fields (the Hermes template's key/value list). Keyed by `key`: the
    /// API server refuses duplicates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["key"]))]
    pub fields: Option<Vec<PayloadField>>,
}

/// The whole event data, with sGTM-style transformations applied in order: allow, exclude,
/// then add.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EventDataPayload {
    /// Keep only these top-level keys. Omitted or empty: keep all.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow: Vec<String>,
    /// Drop these top-level keys.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclude: Vec<String>,
    /// Add or replace these fields (sGTM's "augment event"). Keyed by `key`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["key"]))]
    pub add: Vec<PayloadField>,
}

/// One field of the message body.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PayloadField {
    /// The JSON key in the message body. Keys are unique within a payload.
    pub key: String,
    /// Where the value comes from (use `constant` for a literal).
    pub value: Variable,
    /// The JSON type the value is converted to. Default `string`. A value that cannot be
    /// converted is left out of the message and counted.
    #[serde(default, rename = "type")]
    pub type_: FieldType,
}

/// JSON types of payload fields (the Hermes template's `_int` / `_num` key suffixes).
#[derive(
    Serialize,
    Deserialize,
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    JsonSchema,
)]
#[serde(rename_all = "camelCase")]
pub enum FieldType {
    /// A JSON string.
    #[default]
    String,
    /// A JSON integer (decimals are truncated toward zero).
    Integer,
    /// A JSON number.
    Number,
    /// `true` or `false` (from booleans, `"true"`/`"false"`, `1`/`0`).
    Boolean,
    /// The value as it is in event data (objects and arrays kept); strings that hold
    /// JSON are parsed.
    Json,
}

/// Per-item fan-out.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PerItem {
    /// Conditions an item must meet to get a message (use `item` variables). Empty: every
    /// item.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
}

/// GA4 consent mode requirements; each `true` requires that storage type to be granted.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConsentRequirement {
    /// Require `analytics_storage` granted.
    #[serde(default)]
    pub analytics_storage: bool,
    /// Require `ad_storage` granted.
    #[serde(default)]
    pub ad_storage: bool,
}
