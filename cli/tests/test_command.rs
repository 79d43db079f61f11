//! `hermes test`: the examples' own tests pass, and a broken expectation fails with a
//! readable diff and the trace of why.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn examples() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples")
}

/// Run `hermes test ARGS` from `dir`.
fn hermes_test(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hermes"))
        .arg("test")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).unwrap()
}

/// A folder with the promotions example, the namespace settings it takes its GCP project
/// from, and one test file.
fn project(test_file: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for manifest in ["promotions.yaml", "settings.yaml"] {
        fs::copy(examples().join(manifest), dir.path().join(manifest)).unwrap();
    }
    fs::create_dir(dir.path().join("tests")).unwrap();
    fs::write(dir.path().join("tests/promotions.test.yaml"), test_file).unwrap();
    dir
}

#[test]
fn the_examples_pass_their_own_tests() {
    let output = hermes_test(&examples().join(".."), &["examples"]);
    let stdout = text(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{stdout}{output:?}");
    assert!(
        stdout
            .lines()
            .all(|line| line.starts_with("ok   examples/tests/")),
        "{stdout}"
    );
    for example in ["promotions", "low-stock", "server-to-server", "key-value"] {
        assert!(
            stdout.contains(&format!("examples/tests/{example}.test.yaml: ")),
            "no test of {example}: {stdout}"
        );
    }
}

const BROKEN: &str = r#"
tests:
  - name: the promoted item is sent
    hit:
      gtag: /g/collect?v=2&tid=G-0000&en=purchase&ep.transaction_id=T-1&pr1=idMUG-99~piP-7
    expect:
      messages:
        - tag: promotion-used
          topic: promotions
          payload: {item_id: MUG-99, promotion_id: P-8}
  - name: a purchase without promotion still fires
    hit:
      gtag: /g/collect?v=2&tid=G-0000&en=purchase&pr1=idMUG-99
    expect:
      fired: [promotion-used]
  - name: nothing is sent for add_to_cart
    hit:
      gtag: /g/collect?v=2&tid=G-0000&en=add_to_cart
    expect:
      messages: []
"#;

#[test]
fn a_broken_expectation_fails_with_expected_vs_got_and_the_trace_of_why() {
    let dir = project(BROKEN);
    let output = hermes_test(dir.path(), &["."]);
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    assert_eq!(
        text(&output.stdout),
        "FAIL ./tests/promotions.test.yaml: the promoted item is sent\n\
         \x20   messages[0] (tag promotion-used):\n\
         \x20   - payload.promotion_id: \"P-8\"\n\
         \x20   + payload.promotion_id: \"P-7\"\n\
         FAIL ./tests/promotions.test.yaml: a purchase without promotion still fires\n\
         \x20   tag promotion-used: expected to fire, did not\n\
         \x20   why tag promotion-used did not fire:\n\
         \x20     event 0 (purchase): no firing trigger fired\n\
         \x20       trigger purchase-with-promotion: conditions[0]: item promotion_id \
                    notEmpty: false (values: [])\n\
         ok   ./tests/promotions.test.yaml: nothing is sent for add_to_cart\n"
    );
    assert_eq!(text(&output.stderr), "hermes test: 1 passed, 2 failed\n");
}

#[test]
fn an_unexpected_message_is_shown_as_published() {
    let dir = project(
        r#"
tests:
  - name: nothing is sent
    hit:
      gtag: /g/collect?v=2&tid=G-0000&en=purchase&ep.transaction_id=T-1&pr1=idMUG-99~piP-7
    expect:
      notFired: [promotion-used]
      messages: []
"#,
    );
    let output = hermes_test(dir.path(), &["."]);
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let stdout = text(&output.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines[1],
        "    tag promotion-used: expected not to fire, fired"
    );
    assert_eq!(
        lines[2],
        "      event 0 (purchase): fired by trigger purchase-with-promotion"
    );
    assert_eq!(lines[3], "    messages[0]: published, not expected");
    assert!(
        lines[4].starts_with("    + tag promotion-used topic "),
        "{stdout}"
    );
}

#[test]
fn an_invalid_test_file_or_missing_path_exits_2() {
    let dir =
        project("tests:\n  - name: x\n    hit: {gtag: /g/collect}\n    expect: {fierd: [a]}\n");
    let output = hermes_test(dir.path(), &["."]);
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("tests/promotions.test.yaml: not a valid test file: ")
            && stderr.contains("unknown field `fierd`"),
        "{stderr}"
    );
    let missing = hermes_test(dir.path(), &["no/such/dir"]);
    assert_eq!(missing.status.code(), Some(2), "{missing:?}");
    let no_paths = hermes_test(dir.path(), &[]);
    assert_eq!(no_paths.status.code(), Some(2), "{no_paths:?}");
    let no_tests = hermes_test(&examples(), &["promotions.yaml"]);
    assert_eq!(no_tests.status.code(), Some(2), "{no_tests:?}");
    assert!(
        text(&no_tests.stderr).contains("no test files"),
        "{no_tests:?}"
    );
}

#[test]
fn a_hit_the_gateway_refuses_fails_the_test_with_the_reason() {
    let dir = project(
        "tests:\n  - name: no version\n    hit: {gtag: /g/collect?en=purchase}\n    \
         expect: {messages: []}\n",
    );
    let output = hermes_test(dir.path(), &["."]);
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    assert_eq!(
        text(&output.stdout),
        "FAIL ./tests/promotions.test.yaml: no version\n    \
         the gateway refuses the gtag hit: missing protocol version (v); GA4 hits carry v=2\n"
    );
}

#[test]
fn manifest_problems_are_printed_as_lint_prints_them_and_fail_the_run() {
    let root = examples().join("..");
    let output = hermes_test(&root, &["examples", "examples/broken/missing-trigger.yaml"]);
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let stdout = text(&output.stdout);
    assert_eq!(
        stdout.lines().next(),
        Some(
            "examples/broken/missing-trigger.yaml: Tag/broken-missing-trigger: \
             spec.firingTriggers[0]: trigger \"purchase-with-promo\" not found"
        ),
        "{stdout}"
    );
    assert_eq!(
        text(&output.stderr),
        "hermes test: 15 passed, 0 failed, 1 manifest problem\n"
    );
}

#[test]
fn a_measurement_protocol_body_the_gateway_refuses_fails_with_its_validation_messages() {
    let dir = project(
        "tests:\n  - name: no client id\n    hit: {mp: {events: [{name: purchase}]}}\n    \
         expect: {messages: []}\n",
    );
    let output = hermes_test(dir.path(), &["."]);
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    assert_eq!(
        text(&output.stdout),
        "FAIL ./tests/promotions.test.yaml: no client id\n    \
         the gateway refuses the Measurement Protocol body: \
         client_id: Measurement requires a client_id. (VALUE_REQUIRED)\n"
    );
}
