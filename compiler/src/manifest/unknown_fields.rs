//! Unknown fields: the API server silently prunes fields its schema does not declare, so
//! a typo (`pasued: true`) would be lost without a word. Lint walks each document against
//! the CRD's own OpenAPI schema and reports every undeclared field.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde_json::Value;

use hermes_crds::crd;

/// A field the schema does not declare.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownField {
    /// Its path, e.g. `spec.payload.feilds`.
    pub path: String,
    /// A declared sibling whose name is close, if any.
    pub did_you_mean: Option<String>,
}

/// Fields every object carries that the CRD schema does not list.
const OBJECT_FIELDS: [&str; 3] = ["apiVersion", "kind", "metadata"];

/// Undeclared fields of `document`, an object of Hermes kind `kind`, in document order.
pub fn unknown_fields(kind: &str, document: &Value) -> Vec<UnknownField> {
    let mut found = Vec::new();
    let Some(schema) = schemas().get(kind) else {
        return found;
    };
    let Value::Object(fields) = document else {
        return found;
    };
    for (key, value) in fields {
        if OBJECT_FIELDS.contains(&key.as_str()) {
            continue;
        }
        match schema.get("properties").and_then(|p| p.get(key)) {
            Some(field_schema) => walk(field_schema, value, key, &mut found),
            None => found.push(unknown(schema, key, key.clone())),
        }
    }
    found
}

fn walk(schema: &Value, value: &Value, path: &str, found: &mut Vec<UnknownField>) {
    if schema.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true)) {
        return;
    }
    match value {
        Value::Object(fields) => {
            let Some(properties) = schema.get("properties") else {
                return;
            };
            for (key, value) in fields {
                let field_path = format!("{path}.{key}");
                match properties.get(key) {
                    Some(field_schema) => walk(field_schema, value, &field_path, found),
                    None => found.push(unknown(schema, key, field_path)),
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = schema.get("items") {
                for (index, item) in items.iter().enumerate() {
                    walk(item_schema, item, &format!("{path}[{index}]"), found);
                }
            }
        }
        _ => {}
    }
}

fn unknown(schema: &Value, key: &str, path: String) -> UnknownField {
    let declared = schema
        .get("properties")
        .and_then(Value::as_object)
        .into_iter()
        .flat_map(|properties| properties.keys());
    UnknownField {
        path,
        did_you_mean: closest(key, declared),
    }
}

/// The declared name closest to `key`, if it is close enough to be a typo.
fn closest<'a>(key: &str, declared: impl Iterator<Item = &'a String>) -> Option<String> {
    declared
        .map(|name| {
            (
                edit_distance(&key.to_lowercase(), &name.to_lowercase()),
                name,
            )
        })
        .filter(|(distance, name)| *distance <= 2.max(name.len() / 4))
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, name)| name.clone())
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != *cb);
            current.push(substitution.min(previous[j + 1] + 1).min(current[j] + 1));
        }
        previous = current;
    }
    previous[b.len()]
}

/// Each Hermes kind's `openAPIV3Schema`, as JSON, built once.
fn schemas() -> &'static BTreeMap<String, Value> {
    static SCHEMAS: OnceLock<BTreeMap<String, Value>> = OnceLock::new();
    SCHEMAS.get_or_init(|| {
        crd::crds()
            .into_iter()
            .filter_map(|generated| {
                let kind = generated.crd.spec.names.kind.clone();
                let schema = generated
                    .crd
                    .spec
                    .versions
                    .first()?
                    .schema
                    .as_ref()?
                    .open_api_v3_schema
                    .as_ref()
                    .and_then(|schema| serde_json::to_value(schema).ok())?;
                Some((kind, schema))
            })
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_typo_under_spec_is_reported_with_a_suggestion() {
        let tag = json!({"apiVersion": "hermes.io/v1alpha1", "kind": "Tag",
            "metadata": {"name": "t", "labels": {"x": "y"}},
            "spec": {"topic": "projects/p/topics/t", "firingTriggers": ["a"], "pasued": true,
                     "payload": {"fields": [{"key": "k", "value": {"constant": "1"}, "tpye": "string"}]}}});
        let found = unknown_fields("Tag", &tag);
        assert_eq!(
            found,
            [
                UnknownField {
                    path: "spec.pasued".into(),
                    did_you_mean: Some("paused".into())
                },
                UnknownField {
                    path: "spec.payload.fields[0].tpye".into(),
                    did_you_mean: Some("type".into())
                },
            ]
        );
    }

    #[test]
    fn free_form_json_and_declared_fields_are_not_reported() {
        let table = json!({"apiVersion": "hermes.io/v1alpha1", "kind": "LookupTable",
            "metadata": {"name": "t"},
            "spec": {"input": {"eventData": "sku"},
                     "rows": [{"key": "a", "json": {"anything": {"goes": [1]}}}]}});
        assert_eq!(unknown_fields("LookupTable", &table), []);
    }

    #[test]
    fn an_unrelated_name_gets_no_suggestion() {
        let trigger = json!({"spec": {"zzzzzzzz": 1}, "sepc": {}});
        let found = unknown_fields("Trigger", &trigger);
        assert_eq!(
            found[0],
            UnknownField {
                path: "spec.zzzzzzzz".into(),
                did_you_mean: None
            }
        );
        assert_eq!(
            found[1],
            UnknownField {
                path: "sepc".into(),
                did_you_mean: Some("spec".into())
            }
        );
    }
}
