//! The committed CRDs match the API types, and their schemas are structural and
//! acceptable to Kubernetes 1.20 (no CEL), with every field documented.

use std::path::PathBuf;

use hermes_crds::crd;
use serde_json::Value;

fn chart_crds_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../charts/hermes/crds")
}

#[test]
fn committed_crds_match_the_api_types() {
    for generated in crd::crds() {
        let path = chart_crds_dir().join(&generated.file_name);
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        let expected = crd::to_yaml(&generated.crd).unwrap();
        assert!(
            committed == expected,
            "{} differs from the API types; run `cargo run -p hermes-crds --bin crdgen` and commit the result",
            path.display()
        );
    }
}

#[test]
fn hermes_crds_prints_all_three_as_one_stream() {
    let all = crd::all_yaml().unwrap();
    let names: Vec<String> = serde_yaml_ng::Deserializer::from_str(&all)
        .map(|document| {
            let crd: Value = serde::Deserialize::deserialize(document).unwrap();
            crd["metadata"]["name"].as_str().unwrap().to_string()
        })
        .collect();
    assert_eq!(
        names,
        [
            "tags.hermes.io",
            "triggers.hermes.io",
            "lookuptables.hermes.io"
        ]
    );
}

/// Every violation of Kubernetes' structural-schema rules (and of what 1.20 accepts)
/// under `node`, as `path: rule`.
fn structural_violations(node: &Value, path: &str, in_junctor: bool, found: &mut Vec<String>) {
    let Value::Object(schema) = node else {
        found.push(format!("{path}: schema is not an object"));
        return;
    };
    let flag = |key: &str| schema.get(key) == Some(&Value::Bool(true));
    for forbidden in ["$ref", "x-kubernetes-validations", "definitions", "$schema"] {
        if schema.contains_key(forbidden) {
            found.push(format!("{path}: has {forbidden}"));
        }
    }
    if in_junctor {
        for key in [
            "type",
            "description",
            "default",
            "nullable",
            "additionalProperties",
        ] {
            if schema.contains_key(key) {
                found.push(format!("{path}: {key} inside anyOf/oneOf/allOf/not"));
            }
        }
        if schema.keys().any(|key| key.starts_with("x-kubernetes-")) {
            found.push(format!(
                "{path}: x-kubernetes-* inside anyOf/oneOf/allOf/not"
            ));
        }
    } else if !schema.contains_key("type")
        && !flag("x-kubernetes-preserve-unknown-fields")
        && !flag("x-kubernetes-int-or-string")
    {
        found.push(format!("{path}: no type"));
    }
    if schema.contains_key("properties") && schema.contains_key("additionalProperties") {
        found.push(format!("{path}: both properties and additionalProperties"));
    }
    if let Some(Value::Object(properties)) = schema.get("properties") {
        for (name, property) in properties {
            structural_violations(property, &format!("{path}.{name}"), in_junctor, found);
        }
    }
    match schema.get("items") {
        Some(items @ Value::Object(_)) => {
            structural_violations(items, &format!("{path}[]"), in_junctor, found)
        }
        Some(_) => found.push(format!("{path}: items is not a single schema")),
        None if schema.get("type") == Some(&Value::String("array".into())) => {
            found.push(format!("{path}: array without items"))
        }
        None => {}
    }
    if let Some(additional @ Value::Object(_)) = schema.get("additionalProperties") {
        structural_violations(additional, &format!("{path}{{}}"), in_junctor, found);
    }
    for junctor in ["anyOf", "oneOf", "allOf"] {
        for (index, branch) in schema
            .get(junctor)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            structural_violations(branch, &format!("{path}.{junctor}[{index}]"), true, found);
        }
    }
    if let Some(not) = schema.get("not") {
        structural_violations(not, &format!("{path}.not"), true, found);
    }
    if let (Some(Value::Array(values)), Some(Value::String(kind))) =
        (schema.get("enum"), schema.get("type"))
        && kind == "string"
        && !values.iter().all(Value::is_string)
    {
        found.push(format!("{path}: enum values are not all strings"));
    }
}

/// Every field (object property) that has no description, for `kubectl explain`.
fn undocumented(node: &Value, path: &str, found: &mut Vec<String>) {
    if let Some(Value::Object(properties)) = node.get("properties") {
        for (name, property) in properties {
            let field = format!("{path}.{name}");
            if property
                .get("description")
                .and_then(Value::as_str)
                .is_none_or(str::is_empty)
            {
                found.push(field.clone());
            }
            undocumented(property, &field, found);
        }
    }
    if let Some(items) = node.get("items") {
        undocumented(items, &format!("{path}[]"), found);
    }
}

fn schemas() -> Vec<(String, Value)> {
    crd::crds()
        .into_iter()
        .flat_map(|generated| {
            let name = generated.file_name.clone();
            generated.crd.spec.versions.into_iter().map(move |version| {
                let schema = version.schema.and_then(|s| s.open_api_v3_schema).unwrap();
                (
                    format!("{name} {}", version.name),
                    serde_json::to_value(schema).unwrap(),
                )
            })
        })
        .collect()
}

#[test]
fn crd_schemas_are_structural_for_kubernetes_1_20() {
    for (name, schema) in schemas() {
        let mut found = Vec::new();
        structural_violations(&schema, "", false, &mut found);
        assert_eq!(schema["type"], "object", "{name}: root must be an object");
        if let Some(metadata) = schema.pointer("/properties/metadata/properties") {
            let keys: Vec<_> = metadata.as_object().unwrap().keys().collect();
            assert!(
                keys.iter().all(|k| *k == "name" || *k == "generateName"),
                "{name}: {keys:?}"
            );
        }
        assert!(
            found.is_empty(),
            "{name} is not structural:\n{}",
            found.join("\n")
        );
    }
}

#[test]
fn every_field_and_kind_is_documented_for_kubectl_explain() {
    for (name, schema) in schemas() {
        let mut found = Vec::new();
        undocumented(&schema, "", &mut found);
        assert!(
            found.is_empty(),
            "{name}: fields without description:\n{}",
            found.join("\n")
        );
        let root = schema["description"].as_str().unwrap_or_default();
        assert!(
            !root.is_empty() && !root.contains("Auto-generated"),
            "{name}: root description {root:?}"
        );
    }
}

#[test]
fn crds_are_namespaced_with_status_subresource_and_short_names() {
    for generated in crd::crds() {
        let spec = &generated.crd.spec;
        assert_eq!(spec.scope, "Namespaced");
        assert_eq!(spec.group, "hermes.io");
        assert!(
            spec.names
                .short_names
                .as_ref()
                .is_some_and(|s| !s.is_empty())
        );
        assert!(
            spec.names
                .categories
                .as_ref()
                .is_some_and(|c| c.contains(&"hermes".to_string()))
        );
        let version = &spec.versions[0];
        assert!(version.served && version.storage);
        assert!(
            version
                .subresources
                .as_ref()
                .and_then(|s| s.status.as_ref())
                .is_some()
        );
    }
}

#[test]
fn status_fields_appear_only_where_they_mean_something() {
    for generated in crd::crds() {
        let crd = serde_json::to_value(&generated.crd).unwrap();
        let status = &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["status"]
            ["properties"];
        let kind = crd["spec"]["names"]["kind"].as_str().unwrap();
        assert_eq!(
            status.get("rows").is_some(),
            kind == "LookupTable",
            "{kind}: rows"
        );
        let time = &status["conditions"]["items"]["properties"]["lastTransitionTime"];
        assert_eq!(time["format"], "date-time", "{kind}");
    }
}

#[test]
fn exactly_one_of_objects_and_keyed_lists_are_enforced_by_the_schema() {
    let all = crd::crds();
    let tag = serde_json::to_value(&all[0].crd).unwrap();
    let spec = &tag["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"];
    let ordering_key = &spec["orderingKey"];
    assert_eq!(ordering_key["minProperties"], 1);
    assert_eq!(ordering_key["maxProperties"], 1);
    assert_eq!(spec["payload"]["maxProperties"], 1);
    let fields = &spec["payload"]["properties"]["fields"];
    assert_eq!(fields["x-kubernetes-list-type"], "map");
    assert_eq!(
        fields["x-kubernetes-list-map-keys"],
        serde_json::json!(["key"])
    );
    assert_eq!(
        spec["attributes"]["x-kubernetes-list-map-keys"],
        serde_json::json!(["name"])
    );
    let trigger = serde_json::to_value(&all[1].crd).unwrap();
    let event = &trigger["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
        ["properties"]["event"];
    assert_eq!(event["minProperties"], 1);
    assert_eq!(event["maxProperties"], 1);
    let table = serde_json::to_value(&all[2].crd).unwrap();
    let rows = &table["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]
        ["rows"];
    assert_eq!(
        rows["x-kubernetes-list-map-keys"],
        serde_json::json!(["key"])
    );
}
