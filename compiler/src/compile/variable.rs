//! Variables: one source each, names resolved against the scope's lookup tables.

use std::collections::{BTreeMap, BTreeSet};

use crate::config::{CompiledLookupTable, CompiledVariable};
use hermes_crds::api::Variable;

use super::path::parse_path;
use super::problem::{Problems, report};
use super::reason;

/// Whether `item` variables make sense where a variable is used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ItemScope {
    /// Conditions (any item, or the current item in a fan-out) and lookup inputs.
    Allowed,
    /// A tag's output outside a `perItem` fan-out: no item is being sent.
    Forbidden,
}

/// The scope's lookup tables as variables see them.
#[derive(Debug)]
pub(crate) struct TableRefs<'a> {
    /// Tables that compiled.
    pub compiled: &'a BTreeMap<String, CompiledLookupTable>,
    /// Every table name in the scope, valid or not.
    pub declared: &'a BTreeSet<String>,
}

/// What a variable may refer to where it is used.
#[derive(Clone, Copy, Debug)]
pub(crate) struct VariableContext<'a> {
    /// The tables it may name; `None` where lookup tables are not allowed (a table's own
    /// input).
    pub tables: Option<&'a TableRefs<'a>>,
    /// Whether `item` is allowed.
    pub item: ItemScope,
}

/// Compile the variable at `field` (e.g. `spec.conditions[0].variable`); problems go to
/// `out`, and `None` comes back when there were any.
pub(crate) fn compile_variable(
    variable: &Variable,
    field: &str,
    context: VariableContext<'_>,
    out: &mut Problems,
) -> Option<CompiledVariable> {
    let sources = variable.sources_set();
    match sources.as_slice() {
        [_] => {}
        [] => {
            report(
                out,
                field,
                reason::INVALID_VARIABLE,
                "variable sets no source; set exactly one of eventData, item, requestHeader, \
                 queryParameter, cookie, request, constant, lookupTable",
            );
            return None;
        }
        several => {
            report(
                out,
                field,
                reason::INVALID_VARIABLE,
                format!(
                    "variable sets several sources ({}); set exactly one",
                    several.join(", ")
                ),
            );
            return None;
        }
    }
    let before = out.len();
    let compiled = compile_source(variable, field, context, out);
    if out.len() > before { None } else { compiled }
}

/// The one source that is set.
fn compile_source(
    variable: &Variable,
    field: &str,
    context: VariableContext<'_>,
    out: &mut Problems,
) -> Option<CompiledVariable> {
    if let Some(path) = &variable.event_data {
        return match parse_path(path) {
            Ok(path) => Some(CompiledVariable::EventData { path }),
            Err(message) => {
                report(
                    out,
                    format!("{field}.eventData"),
                    reason::INVALID_VARIABLE,
                    message,
                );
                None
            }
        };
    }
    if let Some(key) = &variable.item {
        let field = format!("{field}.item");
        let key = non_empty(key, &field, "item key", out)?;
        if context.item == ItemScope::Forbidden {
            report(
                out,
                field,
                reason::ITEM_OUTSIDE_FAN_OUT,
                format!("item {key:?} is read outside a perItem fan-out"),
            );
            return None;
        }
        return Some(CompiledVariable::Item { key });
    }
    if let Some(name) = &variable.request_header {
        let name = non_empty(name, &format!("{field}.requestHeader"), "header name", out)?;
        return Some(CompiledVariable::RequestHeader {
            name: name.to_ascii_lowercase(),
        });
    }
    if let Some(name) = &variable.query_parameter {
        let name = non_empty(
            name,
            &format!("{field}.queryParameter"),
            "parameter name",
            out,
        )?;
        return Some(CompiledVariable::QueryParameter { name });
    }
    if let Some(name) = &variable.cookie {
        let name = non_empty(name, &format!("{field}.cookie"), "cookie name", out)?;
        return Some(CompiledVariable::Cookie { name });
    }
    if let Some(property) = variable.request {
        return Some(CompiledVariable::Request { property });
    }
    if let Some(constant) = &variable.constant {
        let Some(value) = constant.text() else {
            report(
                out,
                format!("{field}.constant"),
                reason::INVALID_VARIABLE,
                "constant must be a string, number or boolean",
            );
            return None;
        };
        return Some(CompiledVariable::Constant { value });
    }
    if let Some(name) = &variable.lookup_table {
        return lookup_table(name, &format!("{field}.lookupTable"), context, out);
    }
    None
}

/// A reference to a lookup table: it must have compiled, and must not read an item
/// where none is being sent.
fn lookup_table(
    name: &str,
    field: &str,
    context: VariableContext<'_>,
    out: &mut Problems,
) -> Option<CompiledVariable> {
    let Some(tables) = context.tables else {
        report(
            out,
            field,
            reason::INVALID_VARIABLE,
            "a lookup table's input cannot be a lookup table",
        );
        return None;
    };
    let name = non_empty(name, field, "lookup table name", out)?;
    let Some(table) = tables.compiled.get(&name) else {
        if tables.declared.contains(&name) {
            report(
                out,
                field,
                reason::LOOKUP_TABLE_NOT_READY,
                format!("lookup table {name:?} is invalid"),
            );
        } else {
            report(
                out,
                field,
                reason::LOOKUP_TABLE_NOT_FOUND,
                format!("lookup table {name:?} not found"),
            );
        }
        return None;
    };
    if let (ItemScope::Forbidden, CompiledVariable::Item { key }) = (context.item, &table.input) {
        report(
            out,
            field,
            reason::ITEM_OUTSIDE_FAN_OUT,
            format!("lookup table {name:?} reads item {key:?} outside a perItem fan-out"),
        );
        return None;
    }
    Some(CompiledVariable::LookupTable { name })
}

/// The text, or a problem when it is empty.
fn non_empty(text: &str, field: &str, what: &str, out: &mut Problems) -> Option<String> {
    if text.is_empty() {
        report(
            out,
            field,
            reason::INVALID_VARIABLE,
            format!("{what} is empty"),
        );
        return None;
    }
    Some(text.to_string())
}
