//! The `hermes.io/v1alpha1` API: Tag, Trigger and LookupTable.

pub mod lookup_table;
pub mod schema;
pub mod status;
pub mod tag;
pub mod trigger;
pub mod variable;

pub use lookup_table::*;
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
