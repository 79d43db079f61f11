//! The reasons the compiler gives, CamelCase as Kubernetes condition reasons are.
//!
//! One place for all of them: the operator copies them into `Ready=False` conditions and
//! people grep for them, so they never change spelling.

/// A tag names a trigger that does not exist in the scope.
pub const TRIGGER_NOT_FOUND: &str = "TriggerNotFound";
/// A tag names a trigger that exists but did not compile.
pub const TRIGGER_NOT_READY: &str = "TriggerNotReady";
/// A variable names a lookup table that does not exist in the scope.
pub const LOOKUP_TABLE_NOT_FOUND: &str = "LookupTableNotFound";
/// A variable names a lookup table that exists but did not compile.
pub const LOOKUP_TABLE_NOT_READY: &str = "LookupTableNotReady";
/// A lookup table's source names a ConfigMap or key that does not exist.
pub const LOOKUP_SOURCE_NOT_FOUND: &str = "LookupSourceNotFound";
/// A tag names its topic without a project and the namespace's settings give none.
pub const TOPIC_PROJECT_NOT_FOUND: &str = "TopicProjectNotFound";
/// A lookup table's source text is not valid CSV or JSON rows.
pub const INVALID_LOOKUP_SOURCE: &str = "InvalidLookupSource";
/// A lookup row sets neither or both of `value` and `json`.
pub const INVALID_ROW: &str = "InvalidRow";
/// A regular expression does not compile.
pub const INVALID_REGEX: &str = "InvalidRegex";
/// A topic is not `projects/PROJECT/topics/TOPIC` with valid names.
pub const INVALID_TOPIC: &str = "InvalidTopic";
/// A variable sets no source or several, or a source is malformed.
pub const INVALID_VARIABLE: &str = "InvalidVariable";
/// A condition lacks an operand its operator needs, or has one it does not take.
pub const INVALID_CONDITION: &str = "InvalidCondition";
/// A trigger's `event` sets not exactly one of `name`, `names` and `regex`.
pub const INVALID_EVENT_MATCH: &str = "InvalidEventMatch";
/// A key appears twice where keys must be unique.
pub const DUPLICATE_KEY: &str = "DuplicateKey";
/// Several objects of one kind share a name.
pub const DUPLICATE_NAME: &str = "DuplicateName";
/// An object has no name.
pub const INVALID_NAME: &str = "InvalidName";
/// A constant cannot be converted to its field's type.
pub const TYPE_MISMATCH: &str = "TypeMismatch";
/// An `item` variable is used where no item is being sent.
pub const ITEM_OUTSIDE_FAN_OUT: &str = "ItemOutsideFanOut";
/// A message attribute's name is not allowed, or there are too many.
pub const INVALID_ATTRIBUTE: &str = "InvalidAttribute";
/// A payload sets both forms, or an empty field list, or a field without a key.
pub const INVALID_PAYLOAD: &str = "InvalidPayload";
/// A tag has no firing trigger.
pub const NO_FIRING_TRIGGERS: &str = "NoFiringTriggers";
/// The compiler could not compile an object and found no more precise reason (a bug).
pub const INVALID_SPEC: &str = "InvalidSpec";

/// Whether `reason` says another object is missing or not ready (yet) rather than that the
/// object's own spec is wrong. Such an object is waiting, not stuck: another change (the
/// Trigger arriving, the ConfigMap being created) heals it without touching its spec, so
/// the operator reports it as `Reconciling`, never `Stalled` (which Flux fails at once).
pub fn is_dependency(reason: &str) -> bool {
    [
        TRIGGER_NOT_FOUND,
        TRIGGER_NOT_READY,
        LOOKUP_TABLE_NOT_FOUND,
        LOOKUP_TABLE_NOT_READY,
        LOOKUP_SOURCE_NOT_FOUND,
        TOPIC_PROJECT_NOT_FOUND,
    ]
    .contains(&reason)
}
