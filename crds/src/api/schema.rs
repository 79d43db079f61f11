//! Schema helpers that keep generated CRDs structural.

use schemars::{Schema, SchemaGenerator, json_schema};

/// Any JSON value, kept as-is by the API server.
pub fn any_json(_: &mut SchemaGenerator) -> Schema {
    json_schema!({ "x-kubernetes-preserve-unknown-fields": true, "nullable": true })
}

/// An optional [`super::Scalar`]: any value is kept by the API server (a structural schema
/// without CEL cannot say "string, number or boolean"); the compiler refuses the rest.
pub fn any_scalar(_: &mut SchemaGenerator) -> Schema {
    json_schema!({ "x-kubernetes-preserve-unknown-fields": true, "nullable": true })
}
