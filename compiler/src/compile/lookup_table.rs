//! Lookup tables: input, rows (inline and from a source) normalized for the match type.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde_json::Value;

use crate::config::{CompiledLookupTable, CompiledRow};
use hermes_crds::api::{LookupRow, LookupTable, MatchType};

use super::lookup_source::{SOURCE_FIELD, SourceRow, describe, load_source};
use super::pattern;
use super::problem::{Problems, report};
use super::reason;
use super::variable::{ItemScope, VariableContext, compile_variable};

/// Compile one lookup table; `None` when `out` received problems.
pub(crate) fn compile_lookup_table(
    table: &LookupTable,
    config_maps: &BTreeMap<String, BTreeMap<String, String>>,
    out: &mut Problems,
) -> Option<CompiledLookupTable> {
    let before = out.len();
    let spec = &table.spec;
    let context = VariableContext {
        tables: None,
        item: ItemScope::Allowed,
    };
    let input = compile_variable(&spec.input, "spec.input", context, out);
    let inline = inline_rows(&spec.rows, spec.match_type, out);
    let default = spec.default.as_ref().and_then(|default| {
        let text = default.text();
        if text.is_none() {
            report(
                out,
                "spec.default",
                reason::INVALID_ROW,
                "default must be a string, number or boolean",
            );
        }
        text.map(Value::String)
    });
    let source = match &spec.source {
        Some(source) => load_source(source, config_maps, out)
            .and_then(|rows| source_rows(rows, spec.match_type, &describe(source), out)),
        None => Some(Vec::new()),
    };
    if out.len() > before {
        return None;
    }
    Some(CompiledLookupTable {
        generation: table.metadata.generation,
        input: input?,
        match_type: spec.match_type,
        rows: merge(inline?, source?, spec.match_type),
        default,
    })
}

/// The key as the gateway compares it: as written, lower-cased, or an anchored regex.
fn normalize(key: &str, match_type: MatchType) -> Result<String, String> {
    match match_type {
        MatchType::Exact => Ok(key.to_string()),
        MatchType::CaseInsensitive => Ok(key.to_lowercase()),
        MatchType::Regex => pattern::check_anchored(key),
    }
}

/// Inline rows: one output each, keys valid for the match type and unique.
fn inline_rows(
    rows: &[LookupRow],
    match_type: MatchType,
    out: &mut Problems,
) -> Option<Vec<CompiledRow>> {
    let before = out.len();
    let mut first_at: HashMap<String, usize> = HashMap::new();
    let mut compiled = Vec::new();
    for (i, row) in rows.iter().enumerate() {
        let value = match (&row.value, &row.json) {
            (Some(scalar), None) => match scalar.text() {
                Some(text) => Some(Value::String(text)),
                None => {
                    report(
                        out,
                        format!("spec.rows[{i}].value"),
                        reason::INVALID_ROW,
                        format!(
                            "row {:?}: value must be a string, number or boolean",
                            row.key
                        ),
                    );
                    None
                }
            },
            (None, Some(json)) => Some(json.clone()),
            _ => {
                report(
                    out,
                    format!("spec.rows[{i}]"),
                    reason::INVALID_ROW,
                    format!("row {:?} must set exactly one of value and json", row.key),
                );
                None
            }
        };
        let field = format!("spec.rows[{i}].key");
        let key = match normalize(&row.key, match_type) {
            Ok(key) => key,
            Err(message) => {
                report(out, field, reason::INVALID_REGEX, message);
                continue;
            }
        };
        if let Some(first) = first_at.get(&key) {
            report(
                out,
                field,
                reason::DUPLICATE_KEY,
                format!(
                    "key {:?} duplicates spec.rows[{first}].key{}",
                    row.key,
                    ignoring_case(match_type)
                ),
            );
            continue;
        }
        first_at.insert(key.clone(), i);
        if let Some(value) = value {
            compiled.push(CompiledRow { key, value });
        }
    }
    (out.len() == before).then_some(compiled)
}

/// Source rows: keys valid for the match type and unique; the first problem is reported
/// (a broken feed of thousands of rows should not flood the status).
fn source_rows(
    rows: Vec<SourceRow>,
    match_type: MatchType,
    source: &str,
    out: &mut Problems,
) -> Option<Vec<CompiledRow>> {
    let mut first_line: HashMap<String, Option<u64>> = HashMap::new();
    let mut compiled = Vec::with_capacity(rows.len());
    for row in rows {
        let key = match normalize(&row.key, match_type) {
            Ok(key) => key,
            Err(message) => {
                report(
                    out,
                    SOURCE_FIELD,
                    reason::INVALID_REGEX,
                    format!("{source}{}: {message}", row.at_line()),
                );
                return None;
            }
        };
        if let Some(first) = first_line.get(&key) {
            let first = first
                .map(|n| format!(" (first at line {n})"))
                .unwrap_or_default();
            report(
                out,
                SOURCE_FIELD,
                reason::INVALID_LOOKUP_SOURCE,
                format!(
                    "{source}{}: duplicate key {:?}{}{first}",
                    row.at_line(),
                    row.key,
                    ignoring_case(match_type)
                ),
            );
            return None;
        }
        first_line.insert(key.clone(), row.line);
        compiled.push(CompiledRow {
            key,
            value: row.value,
        });
    }
    Some(compiled)
}

/// ` ignoring case` for case-insensitive tables, for duplicate messages.
fn ignoring_case(match_type: MatchType) -> &'static str {
    if match_type == MatchType::CaseInsensitive {
        " ignoring case"
    } else {
        ""
    }
}

/// Inline rows win over source rows with the same key. Exact and case-insensitive rows
/// are sorted by key; regex rows keep declaration order, inline before source.
fn merge(
    inline: Vec<CompiledRow>,
    source: Vec<CompiledRow>,
    match_type: MatchType,
) -> Vec<CompiledRow> {
    let inline_keys: HashSet<String> = inline.iter().map(|row| row.key.clone()).collect();
    let mut rows = inline;
    rows.extend(
        source
            .into_iter()
            .filter(|row| !inline_keys.contains(&row.key)),
    );
    if match_type != MatchType::Regex {
        rows.sort_by(|a, b| a.key.cmp(&b.key));
    }
    rows
}
