//! `hermes test PATH...`: run the `*.test.yaml` files found in the paths against the
//! manifests found in the same paths, offline, with the gateway's own compiler, parsers
//! and evaluator — the pull-request check beside `hermes lint`.
//!
//! - [`file`]: the test-file format and which files are tests.
//! - [`hit`]: a test's hit → request and events, as the gateway parses them.
//! - [`expect`]: expected vs published messages, as differences.
//! - [`explain`]: why a tag did (not) fire, from the evaluator's debug trace.

mod expect;
mod explain;
mod file;
mod hit;

use std::collections::BTreeSet;
use std::process::ExitCode;

use anyhow::{Context, bail};
use hermes_compiler::manifest;
use hermes_gateway::fire::{EventTrace, PreparedConfig, RenderedMessage, evaluate};

use crate::compile;
use file::{Expectation, TestCase};

/// Run every test of the test files (*.test.yaml, *.test.yml) found in `args.paths`
/// against the manifests found there: one `ok`/`FAIL` line per test on stdout, each
/// failure followed by its expected (`-`) vs got (`+`) lines and the trace of why; exit 0
/// when all pass and the manifests have no problems, 1 otherwise.
pub fn run(args: &compile::Args) -> anyhow::Result<ExitCode> {
    let files = file::test_files(&args.paths)?;
    if files.is_empty() {
        bail!("no test files (*.test.yaml) in the paths given");
    }
    let suites = files
        .iter()
        .map(|path| file::read(path))
        .collect::<Result<Vec<_>, _>>()?;
    let loaded = manifest::load_paths(&args.paths)?;
    let output = loaded.compile(&args.scope);
    let problems = loaded.lint_lines(&output);
    for line in &problems {
        println!("{line}");
    }
    let config =
        PreparedConfig::prepare(output.config).context("cannot prepare the compiled config")?;
    let (mut passed, mut failed) = (0, 0);
    for suite in &suites {
        for test in &suite.tests {
            let failures = run_test(&config, test);
            let label = format!("{}: {}", suite.path.display(), test.name);
            if failures.is_empty() {
                passed += 1;
                println!("ok   {label}");
            } else {
                failed += 1;
                println!("FAIL {label}");
                for line in failures {
                    println!("    {line}");
                }
            }
        }
    }
    let manifest_problems = match problems.len() {
        0 => String::new(),
        1 => ", 1 manifest problem".to_string(),
        count => format!(", {count} manifest problems"),
    };
    eprintln!("hermes test: {passed} passed, {failed} failed{manifest_problems}");
    Ok(if failed == 0 && problems.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// What the hit produced: its messages and each event's trace.
struct Outcome {
    messages: Vec<RenderedMessage>,
    traces: Vec<EventTrace>,
}

impl Outcome {
    fn fired(&self, tag: &str) -> bool {
        self.traces
            .iter()
            .any(|trace| trace.tags.iter().any(|t| t.name == tag && t.fired))
    }
}

/// The failure lines of one test; empty when it passes.
fn run_test(config: &PreparedConfig, test: &TestCase) -> Vec<String> {
    let parsed = match hit::parse(&test.hit) {
        Ok(parsed) => parsed,
        Err(error) => return vec![error.to_string()],
    };
    let mut outcome = Outcome {
        messages: Vec::new(),
        traces: Vec::new(),
    };
    for (index, event) in parsed.events.iter().enumerate() {
        let evaluated = evaluate(config, event, &parsed.request, index, true);
        outcome.messages.extend(evaluated.messages);
        outcome.traces.extend(evaluated.trace);
    }
    check(config, &test.expect, &outcome)
}

fn check(config: &PreparedConfig, expect: &Expectation, outcome: &Outcome) -> Vec<String> {
    let mut lines = Vec::new();
    // Tags whose not firing is explained once, after the differences.
    let mut unexplained: BTreeSet<&str> = BTreeSet::new();
    for tag in &expect.fired {
        if !outcome.fired(tag) {
            lines.push(format!("tag {tag}: expected to fire, did not"));
            unexplained.insert(tag);
        }
    }
    for tag in &expect.not_fired {
        if outcome.fired(tag) {
            lines.push(format!("tag {tag}: expected not to fire, fired"));
            let why = explain::fired(&config.config, &outcome.traces, tag);
            lines.extend(why.into_iter().map(|line| format!("  {line}")));
        }
    }
    if let Some(expected) = &expect.messages {
        let count = expected.len().max(outcome.messages.len());
        for index in 0..count {
            match (expected.get(index), outcome.messages.get(index)) {
                (Some(expected), Some(got)) => {
                    let differences = expect::compare(expected, got);
                    if !differences.is_empty() {
                        lines.push(format!("messages[{index}] (tag {}):", got.tag));
                    }
                    for d in differences {
                        lines.push(format!("- {}: {}", d.field, d.expected));
                        lines.push(format!("+ {}: {}", d.field, d.got));
                    }
                }
                (Some(expected), None) => {
                    lines.push(format!("messages[{index}]: expected, not published"));
                    lines.push(format!("- {}", expect::expected_summary(expected)));
                    if let Some(tag) = expected.tag.as_deref().filter(|t| !outcome.fired(t)) {
                        unexplained.insert(tag);
                    }
                }
                (None, Some(got)) => {
                    lines.push(format!("messages[{index}]: published, not expected"));
                    lines.push(format!("+ {}", expect::summary(got)));
                }
                (None, None) => {}
            }
        }
    }
    for tag in unexplained {
        lines.push(format!("why tag {tag} did not fire:"));
        let why = explain::not_fired(&config.config, &outcome.traces, tag);
        lines.extend(why.into_iter().map(|line| format!("  {line}")));
    }
    lines
}
