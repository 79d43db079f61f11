//! Loading and linting manifests from text.

use std::path::{Path, PathBuf};

use super::*;
use crate::compile::{Diagnostic, Kind, ObjectKey};
use crate::config::GatewayConfig;

fn load(text: &str) -> LoadedManifests {
    let mut loaded = LoadedManifests::default();
    loaded.add_file(Path::new("m.yaml"), text);
    loaded
}

fn lines(loaded: &LoadedManifests) -> Vec<String> {
    loaded.problems.iter().map(ToString::to_string).collect()
}

const TRIGGER: &str = "
apiVersion: hermes.io/v1alpha1
kind: Trigger
metadata: {name: purchase}
spec:
  event: {name: purchase}
";

#[test]
fn hermes_kinds_and_config_maps_are_kept_and_other_kinds_skipped() {
    let text = format!(
        "{TRIGGER}---
apiVersion: hermes.io/v1alpha1
kind: Tag
metadata: {{name: t}}
spec: {{firingTriggers: [purchase], topic: projects/p/topics/t}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: web}}
spec: {{nonsense: true}}
---
# an empty document
---
apiVersion: v1
kind: ConfigMap
metadata: {{name: skus}}
data: {{rows.csv: \"a,1\\n\"}}
"
    );
    let loaded = load(&text);
    assert_eq!(lines(&loaded), Vec::<String>::new());
    assert_eq!(loaded.resources.triggers.len(), 1);
    assert_eq!(loaded.resources.tags[0].spec.topic, "projects/p/topics/t");
    assert_eq!(loaded.resources.config_maps["skus"]["rows.csv"], "a,1\n");
    let tag = ObjectKey {
        kind: Kind::Tag,
        name: "t".into(),
    };
    assert_eq!(
        loaded.origins[&tag],
        Origin {
            file: "m.yaml".into(),
            document: 2
        }
    );
}

#[test]
fn a_list_document_yields_its_items() {
    let loaded = load(
        "apiVersion: v1
kind: List
items:
- {apiVersion: hermes.io/v1alpha1, kind: Trigger, metadata: {name: a}, spec: {}}
- {apiVersion: hermes.io/v1alpha1, kind: Trigger, metadata: {name: b}, spec: {}}
",
    );
    assert_eq!(loaded.resources.triggers.len(), 2);
}

#[test]
fn a_schema_error_names_the_field_path_and_drops_the_object() {
    let loaded = load(
        "apiVersion: hermes.io/v1alpha1
kind: Tag
metadata: {name: foo}
spec:
  firingTriggers: [purchase]
  topic: projects/p/topics/t
  payload:
    fields:
    - {key: n, value: {eventData: n}, type: int}
",
    );
    assert!(loaded.resources.tags.is_empty());
    assert_eq!(
        lines(&loaded),
        [
            "m.yaml: Tag/foo: spec.payload.fields[0].type: unknown variant `int`, \
          expected one of `string`, `integer`, `number`, `boolean`, `json`"
        ]
    );
}

#[test]
fn a_missing_required_field_is_reported_at_its_parent() {
    let loaded = load(
        "apiVersion: hermes.io/v1alpha1\nkind: Tag\nmetadata: {name: foo}\nspec: {firingTriggers: [a]}\n",
    );
    assert_eq!(
        lines(&loaded),
        ["m.yaml: Tag/foo: spec: missing field `topic`"]
    );
}

#[test]
fn a_wrong_scalar_type_is_reported() {
    let loaded = load(
        "apiVersion: hermes.io/v1alpha1\nkind: LookupTable\nmetadata: {name: t}\n\
         spec: {input: {eventData: sku}, rows: [{key: 5, value: 5}]}\n",
    );
    assert_eq!(
        lines(&loaded),
        ["m.yaml: LookupTable/t: spec.rows[0].key: invalid type: integer `5`, expected a string"]
    );
}

#[test]
fn names_are_required_and_checked() {
    let loaded = load(
        "apiVersion: hermes.io/v1alpha1\nkind: Trigger\nmetadata: {}\nspec: {}\n---\n\
         apiVersion: hermes.io/v1alpha1\nkind: Trigger\nmetadata: {name: Bad_Name}\nspec: {}\n",
    );
    assert_eq!(
        lines(&loaded),
        [
            "m.yaml: Trigger (document 1): metadata.name: is required",
            "m.yaml: Trigger/Bad_Name: metadata.name: \"Bad_Name\" is not a valid name \
             (lower-case letters, digits, '-' and '.', starting and ending with a letter or digit)",
        ]
    );
}

#[test]
fn unknown_hermes_kinds_and_versions_are_problems() {
    let loaded = load(
        "apiVersion: hermes.io/v1alpha1\nkind: Tags\nmetadata: {name: a}\n---\n\
         apiVersion: hermes.io/v1\nkind: Tag\nmetadata: {name: b}\n---\n\
         kind: Trigger\nmetadata: {name: c}\n",
    );
    assert_eq!(
        lines(&loaded),
        [
            "m.yaml: Tags/a: kind: unknown kind \"Tags\" in hermes.io (expected Tag, Trigger or LookupTable)",
            "m.yaml: Tag/b: apiVersion: \"hermes.io/v1\" is not served (expected hermes.io/v1alpha1)",
            "m.yaml: Trigger/c: apiVersion: is required (expected hermes.io/v1alpha1)",
        ]
    );
}

#[test]
fn unknown_fields_are_reported_and_the_object_kept() {
    let loaded = load(
        "apiVersion: hermes.io/v1alpha1\nkind: Trigger\nmetadata: {name: a}\n\
         spec: {event: {name: purchase}, condtions: []}\n",
    );
    assert_eq!(loaded.resources.triggers.len(), 1);
    assert_eq!(
        lines(&loaded),
        ["m.yaml: Trigger/a: spec.condtions: unknown field (did you mean \"conditions\"?)"]
    );
}

#[test]
fn a_yaml_syntax_error_keeps_earlier_documents_and_names_the_line() {
    let text = format!("{TRIGGER}---\napiVersion: hermes.io/v1alpha1\nkind: [Tag\n");
    let loaded = load(&text);
    assert_eq!(loaded.resources.triggers.len(), 1);
    let problems = lines(&loaded);
    assert_eq!(problems.len(), 1);
    assert!(
        problems[0].starts_with("m.yaml: invalid YAML: "),
        "{problems:?}"
    );
    assert!(problems[0].contains("line 10"), "{problems:?}");
}

#[test]
fn a_duplicate_is_reported_and_the_first_kept() {
    let mut loaded = load(TRIGGER);
    loaded.add_file(Path::new("n.yaml"), "# again\n---\n\n---\n".trim_start());
    loaded.add_file(Path::new("o.yaml"), TRIGGER);
    assert_eq!(loaded.resources.triggers.len(), 1);
    assert_eq!(
        lines(&loaded),
        [
            "o.yaml: Trigger/purchase: metadata.name: duplicate Trigger \"purchase\" \
          (first defined in m.yaml document 1)"
        ]
    );
}

#[test]
fn lint_lines_name_each_diagnostic_by_its_objects_file_in_file_order() {
    let mut loaded = load(TRIGGER);
    loaded.add_file(
        Path::new("a.yaml"),
        "apiVersion: hermes.io/v1alpha1\nkind: Tag\nmetadata: {name: t}\n\
         spec: {firingTriggers: [promo], topic: projects/p/topics/t, pasued: true}\n",
    );
    let output = CompileOutput {
        config: GatewayConfig::empty("test"),
        diagnostics: vec![Diagnostic {
            object: ObjectKey {
                kind: Kind::Tag,
                name: "t".into(),
            },
            field: "spec.firingTriggers[0]".into(),
            reason: "TriggerNotFound".into(),
            message: "trigger \"promo\" not found".into(),
        }],
        objects: Vec::new(),
    };
    assert_eq!(
        loaded.lint_lines(&output),
        [
            "a.yaml: Tag/t: spec.pasued: unknown field (did you mean \"paused\"?)",
            "a.yaml: Tag/t: spec.firingTriggers[0]: trigger \"promo\" not found",
        ]
    );
}

#[test]
fn load_paths_reads_folders_and_fails_only_on_unreadable_paths() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("t.yaml"), TRIGGER).unwrap();
    std::fs::write(dir.path().join("bin.yaml"), [0xff, 0xfe]).unwrap();
    let loaded = load_paths(&[dir.path().to_path_buf()]).unwrap();
    assert_eq!(loaded.resources.triggers.len(), 1);
    assert_eq!(
        lines(&loaded),
        [format!(
            "{}: is not UTF-8 text",
            dir.path().join("bin.yaml").display()
        )]
    );
    assert!(load_paths(&[PathBuf::from("/no/such")]).is_err());
}
