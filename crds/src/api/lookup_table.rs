//! The LookupTable kind: a key → value map over a variable, fed by people or by the shop
//! back end (`hermes lookup import`).

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::status::ResourceStatus;
use super::variable::Variable;

hermes_kind! {
    kind: "LookupTable",
    doc: "A LookupTable maps the value of a variable to an output through key/value rows, inline or in a ConfigMap (sGTM Lookup and Regex Table).",
    shortnames: ["hlt"],
    columns: [
        r#"{"name":"Input","type":"string","description":"The variable looked up.","jsonPath":".spec.input"}"#,
        r#"{"name":"Match","type":"string","jsonPath":".spec.matchType"}"#,
        r#"{"name":"Rows","type":"integer","jsonPath":".status.rows"}"#,
    ],
    /// A lookup table maps the value of its input variable to an output, as sGTM's Lookup
    /// Table and Regex Table variables do. Small tables keep rows inline; large ones (thousands
    /// of SKUs) keep them in a ConfigMap key (`source`), since etcd rejects objects over 1.5 MiB.
    pub struct LookupTableSpec {
        /// The variable whose value is looked up, e.g. `{eventData: sku}` or
        /// `{eventData: "items[*].item_id"}` (each item looked up; the output has one value per
        /// matching item).
        pub input: Variable,
        /// How keys match the input. Default `exact`.
        #[serde(default)]
        pub match_type: MatchType,
        /// Inline rows, keyed by `key`: the API server refuses duplicate keys.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["key"]))]
        pub rows: Vec<LookupRow>,
        /// Rows kept in a ConfigMap key instead of (or in addition to) `rows`; inline rows win
        /// on duplicate keys.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub source: Option<LookupSource>,
        /// The output when no row matches, as a string; any scalar is accepted and taken as
        /// its text. Omitted: the variable has no value.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schemars(schema_with = "crate::api::schema::any_scalar")]
        pub default: Option<super::scalar::Scalar>,
        /// Rows the shop back end keeps current through Pub/Sub: the leading operator
        /// applies each message of this subscription to the rows (`docs/lookup-feeds.md`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub feed: Option<LookupFeed>,
    }
}

/// How lookup keys match the input value.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, Hash, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum MatchType {
    /// Byte-for-byte equal.
    #[default]
    Exact,
    /// Equal ignoring case.
    CaseInsensitive,
    /// Each key is a regular expression that must match the whole input; rows are tried
    /// in order and the first match wins (sGTM Regex Table). `$1` in a value is replaced
    /// by the first capture group.
    Regex,
}

/// One row: a key and its output, a string (`value`) or any JSON (`json`), exactly one.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LookupRow {
    /// The key compared with the input.
    pub key: String,
    /// The output as a string; any scalar is accepted and taken as its text (`value: 5` is
    /// `"5"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::api::schema::any_scalar")]
    pub value: Option<super::scalar::Scalar>,
    /// The output as JSON (an object, array, number, boolean or string).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::api::schema::any_json")]
    pub json: Option<serde_json::Value>,
}

/// Rows kept outside the LookupTable object.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LookupSource {
    /// A key of a ConfigMap in the same namespace.
    pub config_map_key_ref: ConfigMapKeyRef,
    /// How the key's text is laid out. Default `csv`.
    #[serde(default)]
    pub format: SourceFormat,
}

/// A reference to one key of a ConfigMap in the LookupTable's namespace.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConfigMapKeyRef {
    /// The ConfigMap's name.
    pub name: String,
    /// The key within the ConfigMap's `data`.
    pub key: String,
}

/// Layouts of a lookup source.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, Hash, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum SourceFormat {
    /// Two columns, `key,value`, one row per line; a first line `key,value` (any case) is
    /// a header and skipped. Values are strings.
    #[default]
    Csv,
    /// A JSON object `{"key": value, …}`; values are kept as JSON.
    Json,
}

/// A Pub/Sub subscription whose messages change a table's rows (row changes as JSON, or a
/// CSV snapshot); see `docs/lookup-feeds.md` for the messages.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LookupFeed {
    /// The subscription, `projects/PROJECT/subscriptions/SUBSCRIPTION`.
    pub subscription: String,
}

/// What the feed of a LookupTable last did (`status.feed`), written by the leading
/// operator as it applies messages.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LookupFeedStatus {
    /// The id of the last message applied to the rows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_applied_message_id: Option<String>,
    /// When it was applied (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_applied_time: Option<String>,
    /// The `version` of the last versioned message applied; older versions are skipped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<i64>,
    /// Why the last rejected message was not applied, naming its id; cleared by the next
    /// message applied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}
