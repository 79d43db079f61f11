//! The messages a shop back end sends to a LookupTable's feed, parsed and checked before
//! anything is written, so a bad message changes nothing.
//!
//! - Row changes (attribute `format` absent or `json`): a JSON object
//!   `{"upsert": [{"key": "BOWL-10", "value": "1"}], "delete": ["MUG-22"]}`; either list may
//!   be omitted, no other field is allowed.
//! - A snapshot (attribute `format: csv`): the whole table as `key,value` CSV, in the format
//!   `hermes lookup import` takes; it replaces the rows.
//!
//! Attribute `version` (an integer, optional) orders messages: one whose version is not
//! above the table's last applied version is skipped (last writer wins).

use std::collections::{HashMap, HashSet};

use serde::Deserialize;

use crate::lookup_import::{self, Header, ImportError, ImportRow};

/// A table may hold at most this many rows after a change; more is refused.
pub const MAX_ROWS: usize = 100_000;
/// The attribute naming the body's format.
pub const FORMAT_ATTRIBUTE: &str = "format";
/// The attribute carrying the message's version.
pub const VERSION_ATTRIBUTE: &str = "version";

/// Why a message cannot be applied. None of these gets better by retrying.
#[derive(Debug, thiserror::Error)]
pub enum MessageError {
    /// The `format` attribute names no known format.
    #[error("attribute format={0:?} is neither json nor csv")]
    UnknownFormat(String),
    /// The `version` attribute is not an integer.
    #[error("attribute version={0:?} is not an integer")]
    BadVersion(String),
    /// The body is not UTF-8.
    #[error("the body is not UTF-8")]
    NotUtf8,
    /// The JSON body is not a row change.
    #[error(
        "the body is not a row change ({{\"upsert\": [{{\"key\", \"value\"}}], \"delete\": [keys]}}): {0}"
    )]
    Json(#[source] serde_json::Error),
    /// The CSV snapshot is invalid.
    #[error("the CSV snapshot is invalid: {0}")]
    Csv(#[source] ImportError),
    /// A row change names an empty key.
    #[error("empty key")]
    EmptyKey,
    /// A key is upserted twice, or both upserted and deleted, in one message.
    #[error("key {0:?} appears twice in the message")]
    DuplicateKey(String),
    /// The change leaves more rows than a table may hold.
    #[error("{rows} rows, over the limit of {limit}")]
    TooManyRows {
        /// Rows the change would leave.
        rows: usize,
        /// [`MAX_ROWS`].
        limit: usize,
    },
}

impl MessageError {
    /// A short CamelCase name for Events and metric labels.
    pub fn reason(&self) -> &'static str {
        match self {
            MessageError::UnknownFormat(_) => "UnknownFormat",
            MessageError::BadVersion(_) => "BadVersion",
            MessageError::NotUtf8 => "NotUtf8",
            MessageError::Json(_) => "BadJson",
            MessageError::Csv(_) => "BadCsv",
            MessageError::EmptyKey => "EmptyKey",
            MessageError::DuplicateKey(_) => "DuplicateKey",
            MessageError::TooManyRows { .. } => "TooManyRows",
        }
    }
}

/// What a message does to the rows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    /// Set these keys' values and remove those keys; other rows stay.
    Rows {
        /// Rows to add or overwrite.
        upsert: Vec<ImportRow>,
        /// Keys to remove (absent keys are fine: a replayed delete changes nothing).
        delete: Vec<String>,
    },
    /// Replace every row.
    Snapshot(Vec<ImportRow>),
}

/// A parsed feed message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FeedMessage {
    /// Its `version` attribute.
    pub version: Option<i64>,
    /// Its change.
    pub change: Change,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RowChange {
    #[serde(default)]
    upsert: Vec<UpsertRow>,
    #[serde(default)]
    delete: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UpsertRow {
    key: String,
    value: String,
}

/// Parse a message's body and attributes.
pub fn parse(
    data: &[u8],
    attributes: &HashMap<String, String>,
) -> Result<FeedMessage, MessageError> {
    let version = attributes
        .get(VERSION_ATTRIBUTE)
        .map(|v| {
            v.trim()
                .parse::<i64>()
                .map_err(|_| MessageError::BadVersion(v.clone()))
        })
        .transpose()?;
    let text = std::str::from_utf8(data).map_err(|_| MessageError::NotUtf8)?;
    let change = match attributes.get(FORMAT_ATTRIBUTE).map(String::as_str) {
        None | Some("json") => row_change(text)?,
        Some("csv") => {
            let rows = lookup_import::parse_csv("snapshot", text, Header::Auto)
                .map_err(MessageError::Csv)?;
            check_size(rows.len())?;
            Change::Snapshot(rows)
        }
        Some(other) => return Err(MessageError::UnknownFormat(other.to_string())),
    };
    Ok(FeedMessage { version, change })
}

fn row_change(text: &str) -> Result<Change, MessageError> {
    let change: RowChange = serde_json::from_str(text).map_err(MessageError::Json)?;
    let mut seen = HashSet::new();
    let keys = change
        .upsert
        .iter()
        .map(|row| &row.key)
        .chain(change.delete.iter());
    for key in keys {
        if key.is_empty() {
            return Err(MessageError::EmptyKey);
        }
        if !seen.insert(key) {
            return Err(MessageError::DuplicateKey(key.clone()));
        }
    }
    check_size(change.upsert.len())?;
    Ok(Change::Rows {
        upsert: change
            .upsert
            .into_iter()
            .map(|row| ImportRow {
                key: row.key,
                value: row.value,
            })
            .collect(),
        delete: change.delete,
    })
}

/// Refuse more than [`MAX_ROWS`] rows.
pub fn check_size(rows: usize) -> Result<(), MessageError> {
    if rows > MAX_ROWS {
        return Err(MessageError::TooManyRows {
            rows,
            limit: MAX_ROWS,
        });
    }
    Ok(())
}

impl Change {
    /// The rows after this change to `current`: upserted keys keep their place (regex
    /// tables are ordered), new ones are appended. Applying a change twice gives the same
    /// rows as once.
    pub fn apply(&self, current: Vec<ImportRow>) -> Result<Vec<ImportRow>, MessageError> {
        let rows = match self {
            Change::Snapshot(rows) => rows.clone(),
            Change::Rows { upsert, delete } => {
                let deleted: HashSet<&str> = delete.iter().map(String::as_str).collect();
                let mut rows: Vec<ImportRow> = current
                    .into_iter()
                    .filter(|row| !deleted.contains(row.key.as_str()))
                    .collect();
                let index: HashMap<String, usize> = rows
                    .iter()
                    .enumerate()
                    .map(|(i, row)| (row.key.clone(), i))
                    .collect();
                for row in upsert {
                    match index.get(&row.key) {
                        Some(&i) => rows[i].value = row.value.clone(),
                        None => rows.push(row.clone()),
                    }
                }
                rows
            }
        };
        check_size(rows.len())?;
        Ok(rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(key: &str, value: &str) -> ImportRow {
        ImportRow {
            key: key.into(),
            value: value.into(),
        }
    }

    fn attributes(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn json_row_changes_parse_with_their_version() {
        let message = parse(
            br#"{"upsert": [{"key": "BOWL-10", "value": "1"}], "delete": ["MUG-22"]}"#,
            &attributes(&[("version", "7")]),
        )
        .unwrap();
        assert_eq!(message.version, Some(7));
        assert_eq!(
            message.change,
            Change::Rows {
                upsert: vec![row("BOWL-10", "1")],
                delete: vec!["MUG-22".into()]
            }
        );
    }

    #[test]
    fn csv_snapshot_parses_like_an_import() {
        let message = parse(b"key,value\nA,1\nB,2\n", &attributes(&[("format", "csv")])).unwrap();
        assert_eq!(message.version, None);
        assert_eq!(
            message.change,
            Change::Snapshot(vec![row("A", "1"), row("B", "2")])
        );
    }

    #[test]
    fn bad_messages_are_refused_with_a_reason() {
        let reason = |data: &[u8], attrs: &[(&str, &str)]| {
            parse(data, &attributes(attrs)).unwrap_err().reason()
        };
        assert_eq!(reason(b"not json", &[]), "BadJson");
        assert_eq!(reason(br#"{"rows": []}"#, &[]), "BadJson");
        assert_eq!(
            reason(br#"{"upsert": [{"key": "A", "value": 1}]}"#, &[]),
            "BadJson"
        );
        assert_eq!(reason(br#"{"delete": [""]}"#, &[]), "EmptyKey");
        assert_eq!(
            reason(
                br#"{"upsert": [{"key": "A", "value": "1"}], "delete": ["A"]}"#,
                &[]
            ),
            "DuplicateKey"
        );
        assert_eq!(reason(b"A,1\nA,2\n", &[("format", "csv")]), "BadCsv");
        assert_eq!(reason(b"{}", &[("format", "xml")]), "UnknownFormat");
        assert_eq!(reason(b"{}", &[("version", "v2")]), "BadVersion");
        assert_eq!(reason(&[0xff, 0xfe], &[]), "NotUtf8");
    }

    #[test]
    fn upserts_and_deletes_applied_twice_give_the_rows_of_once() {
        let change = Change::Rows {
            upsert: vec![row("B", "9"), row("D", "4")],
            delete: vec!["A".into(), "GONE".into()],
        };
        let current = vec![row("A", "1"), row("B", "2"), row("C", "3")];
        let once = change.apply(current).unwrap();
        assert_eq!(once, [row("B", "9"), row("C", "3"), row("D", "4")]);
        assert_eq!(change.apply(once.clone()).unwrap(), once);
    }

    #[test]
    fn a_snapshot_replaces_every_row() {
        let change = Change::Snapshot(vec![row("X", "1")]);
        assert_eq!(change.apply(vec![row("A", "1")]).unwrap(), [row("X", "1")]);
    }

    #[test]
    fn a_change_leaving_too_many_rows_is_refused() {
        let current: Vec<ImportRow> = (0..MAX_ROWS).map(|i| row(&format!("K{i}"), "1")).collect();
        let change = Change::Rows {
            upsert: vec![row("ONE-MORE", "1")],
            delete: Vec::new(),
        };
        assert_eq!(change.apply(current).unwrap_err().reason(), "TooManyRows");
    }
}
