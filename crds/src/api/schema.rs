//! Schema helpers that keep generated CRDs structural.

use schemars::{Schema, SchemaGenerator, json_schema};

/// Any JSON value, kept as-is by the API server.
pub fn any_json(_: &mut SchemaGenerator) -> Schema {
    json_schema!({ "x-kubernetes-preserve-unknown-fields": true, "nullable": true })
}
