//! The `hermes` binary's contract with pipelines: exit codes, stdout lines, output formats.

use std::path::PathBuf;
use std::process::{Command, Output};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Run `hermes ARGS` from the repository root.
fn hermes(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hermes"))
        .args(args)
        .current_dir(root())
        .output()
        .unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

#[test]
fn lint_of_valid_examples_exits_0_silently() {
    let output = hermes(&["lint", "examples"]);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    assert_eq!(stdout(&output), "");
}

#[test]
fn lint_of_a_broken_manifest_exits_1_with_one_line_naming_file_object_and_field() {
    let output = hermes(&["lint", "examples", "examples/broken/missing-trigger.yaml"]);
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    assert_eq!(
        stdout(&output),
        "examples/broken/missing-trigger.yaml: Tag/broken-missing-trigger: \
         spec.firingTriggers[0]: trigger \"purchase-with-promo\" not found\n"
    );
}

#[test]
fn lint_of_a_missing_path_exits_2() {
    let output = hermes(&["lint", "no/such/dir"]);
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("no/such/dir"), "{stderr}");
}

#[test]
fn usage_errors_exit_2() {
    assert_eq!(hermes(&["lint"]).status.code(), Some(2));
    assert_eq!(hermes(&["frobnicate"]).status.code(), Some(2));
}

#[test]
fn compile_prints_a_loadable_config_for_the_scope() {
    let output = hermes(&["compile", "examples", "--scope", "shop"]);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let config = hermes_compiler::config::GatewayConfig::from_json(&stdout(&output)).unwrap();
    assert_eq!(config.scope, "shop");
    assert!(config.tags.contains_key("low-stock-signal"));
}

#[test]
fn compile_with_problems_prints_the_valid_part_and_exits_1() {
    let output = hermes(&["compile", "examples", "examples/broken/bad-topic.yaml"]);
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let config = hermes_compiler::config::GatewayConfig::from_json(&stdout(&output)).unwrap();
    assert!(!config.tags.contains_key("broken-bad-topic"));
    assert!(config.tags.contains_key("promotion-used"));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("Tag/broken-bad-topic: spec.topic:"),
        "{stderr}"
    );
}

#[test]
fn crds_prints_the_generated_crds() {
    let output = hermes(&["crds"]);
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(stdout(&output), hermes_crds::crd::all_yaml().unwrap());
}
