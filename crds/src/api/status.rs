//! Status shared by every Hermes kind, following kstatus conventions so that
//! `kubectl wait --for=condition=Ready`, Flux and Argo CD can read it.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Condition type: the object is compiled into config that every ready gateway serves.
pub const READY: &str = "Ready";
/// Condition type (kstatus): the operator is still working towards the spec.
pub const RECONCILING: &str = "Reconciling";
/// Condition type (kstatus): progress needs a change to the spec or a referenced object.
pub const STALLED: &str = "Stalled";
/// Condition type, Tags only: whether the Tag's messages reach its topic (`False` with
/// `TopicNotFound`, `PermissionDenied` or `Unauthenticated` when they cannot).
pub const DELIVERING: &str = "Delivering";

/// Observed state of a Tag, Trigger or LookupTable.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResourceStatus {
    /// The `metadata.generation` this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// kstatus conditions: `Ready`, and `Reconciling` or `Stalled` when they apply; on
    /// Tags also `Delivering`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<StatusCondition>,
    /// The generation of this object that every ready gateway replica serves now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub live_generation: Option<i64>,
    /// Content hash of the compiled gateway config that contains this generation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_hash: Option<String>,
    /// LookupTable only (the other kinds' CRDs leave it out): how many rows the compiled
    /// table has (inline plus source).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rows: Option<i64>,
    /// LookupTable only: what its Pub/Sub feed last did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub feed: Option<super::lookup_table::LookupFeedStatus>,
}

/// One condition, in the shape of Kubernetes' `metav1.Condition`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StatusCondition {
    /// Condition type: `Ready`, `Reconciling`, `Stalled` or (Tags) `Delivering`.
    #[serde(rename = "type")]
    pub type_: String,
    /// `True`, `False` or `Unknown`.
    pub status: String,
    /// A CamelCase machine-readable reason, e.g. `TriggerNotFound`.
    // Required rather than defaulted: Kubernetes 1.20 rejects `default: ""` in CRDs.
    pub reason: String,
    /// A human-readable message naming the field at fault (may be empty).
    pub message: String,
    /// When the status last changed (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("format" = "date-time"))]
    pub last_transition_time: Option<String>,
    /// The generation this condition was computed for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
}
