//! The `hermes.io/v1alpha1` API: Tag, Trigger and LookupTable.

/// Declares the spec struct of a Hermes kind with what every kind shares: group
/// `hermes.io`, version `v1alpha1`, namespaced, category `hermes` (`kubectl get hermes`),
/// the common [`ResourceStatus`], and the kubectl columns Ready (first), then the kind's
/// own `columns`, then Reason and Age (last), so that `kubectl get hermes` reads alike for
/// every kind and always says why an object is not ready. The call site imports `CustomResource`, `Serialize`, `Deserialize`, `JsonSchema`
/// and `ResourceStatus`.
macro_rules! hermes_kind {
    (
        kind: $kind:tt,
        doc: $doc:tt,
        shortnames: [$($shortname:tt),* $(,)?],
        columns: [$($column:tt),* $(,)?],
        $(#[$attribute:meta])*
        pub struct $spec:ident $fields:tt
    ) => {
        $(#[$attribute])*
        #[derive(
            CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema,
        )]
        #[kube(
            group = "hermes.io",
            version = "v1alpha1",
            kind = $kind,
            doc = $doc,
            namespaced,
            $(shortname = $shortname,)*
            category = "hermes",
            status = "ResourceStatus",
            printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
            $(printcolumn = $column,)*
            printcolumn = r#"{"name":"Reason","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].reason"}"#,
            printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
        )]
        #[serde(rename_all = "camelCase")]
        pub struct $spec $fields
    };
}

pub mod lookup_table;
pub mod scalar;
pub mod schema;
pub mod status;
pub mod tag;
pub mod trigger;
pub mod variable;

pub use lookup_table::*;
pub use scalar::*;
pub use status::*;
pub use tag::*;
pub use trigger::*;
pub use variable::*;

/// The API group of every Hermes kind.
pub const GROUP: &str = "hermes.io";
/// The API version of every Hermes kind.
pub const VERSION: &str = "v1alpha1";
/// `apiVersion` as written in manifests.
pub const API_VERSION: &str = "hermes.io/v1alpha1";
