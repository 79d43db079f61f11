//! Lookup sources: the rows a LookupTable keeps in a ConfigMap key, as CSV or JSON.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{Deserializer, MapAccess, Visitor};
use serde_json::Value;

use hermes_crds::api::{LookupSource, SourceFormat};

use super::problem::{Problems, report};
use super::reason;

/// Field path of a source's ConfigMap reference.
pub(crate) const REF_FIELD: &str = "spec.source.configMapKeyRef";
/// Field path of a source.
pub(crate) const SOURCE_FIELD: &str = "spec.source";

/// One row read from a source, duplicates included (the table decides about them).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SourceRow {
    /// The key as written.
    pub key: String,
    /// The output: a string for CSV, any JSON for JSON.
    pub value: Value,
    /// The CSV line it came from (JSON sources have none).
    pub line: Option<u64>,
}

impl SourceRow {
    /// ` (line N)` for CSV rows, empty otherwise.
    pub(crate) fn at_line(&self) -> String {
        self.line.map(|n| format!(" line {n}")).unwrap_or_default()
    }
}

/// `configmap "skus" key "thresholds.csv"`, for messages.
pub(crate) fn describe(source: &LookupSource) -> String {
    let reference = &source.config_map_key_ref;
    format!("configmap {:?} key {:?}", reference.name, reference.key)
}

/// Read the source's rows from the scope's ConfigMaps; problems go to `out`.
pub(crate) fn load_source(
    source: &LookupSource,
    config_maps: &BTreeMap<String, BTreeMap<String, String>>,
    out: &mut Problems,
) -> Option<Vec<SourceRow>> {
    let reference = &source.config_map_key_ref;
    let Some(data) = config_maps.get(&reference.name) else {
        report(
            out,
            REF_FIELD,
            reason::LOOKUP_SOURCE_NOT_FOUND,
            format!("configmap {:?} not found", reference.name),
        );
        return None;
    };
    let Some(text) = data.get(&reference.key) else {
        report(
            out,
            REF_FIELD,
            reason::LOOKUP_SOURCE_NOT_FOUND,
            format!(
                "configmap {:?} has no key {:?}",
                reference.name, reference.key
            ),
        );
        return None;
    };
    let parsed = match source.format {
        SourceFormat::Csv => parse_csv(text),
        SourceFormat::Json => parse_json(text),
    };
    match parsed {
        Ok(rows) => Some(rows),
        Err(cause) => {
            report(
                out,
                SOURCE_FIELD,
                reason::INVALID_LOOKUP_SOURCE,
                format!("{}: {cause}", describe(source)),
            );
            None
        }
    }
}

/// `key,value` lines; a first line `key,value` (any case) is a header. Fields are trimmed.
pub(crate) fn parse_csv(text: &str) -> Result<Vec<SourceRow>, String> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let mut lines = Lines::new(text);
    let mut rows = Vec::new();
    for (index, record) in reader.records().enumerate() {
        let record = record.map_err(|error| csv_error(&mut lines, &error))?;
        let line = record.position().map(|position| lines.line_of(position));
        let at = line.map(|n| format!("line {n}")).unwrap_or_default();
        if record.len() != 2 {
            return Err(format!(
                "{at}: expected 2 columns (key,value), found {}",
                record.len()
            ));
        }
        let (key, value) = (&record[0], &record[1]);
        if index == 0 && key.eq_ignore_ascii_case("key") && value.eq_ignore_ascii_case("value") {
            continue;
        }
        rows.push(SourceRow {
            key: key.to_string(),
            value: Value::String(value.to_string()),
            line,
        });
    }
    Ok(rows)
}

/// The csv crate's error with its line when it knows it.
fn csv_error(lines: &mut Lines<'_>, error: &csv::Error) -> String {
    match error.position() {
        Some(position) => format!("line {}: {error}", lines.line_of(position)),
        None => error.to_string(),
    }
}

/// Turns the csv crate's record positions into 1-based line numbers, counting newlines
/// once as records advance (a count from the start for each record is quadratic).
struct Lines<'a> {
    bytes: &'a [u8],
    offset: usize,
    newlines: u64,
}

impl<'a> Lines<'a> {
    fn new(text: &'a str) -> Self {
        Lines {
            bytes: text.as_bytes(),
            offset: 0,
            newlines: 0,
        }
    }

    /// The line a record at `position` starts on. The csv crate positions a record where
    /// the previous one ended, before any blank lines it skipped, so skip those too.
    fn line_of(&mut self, position: &csv::Position) -> u64 {
        let mut target = usize::try_from(position.byte()).unwrap_or(usize::MAX);
        target = target.min(self.bytes.len());
        while matches!(self.bytes.get(target), Some(b'\n' | b'\r')) {
            target += 1;
        }
        if target < self.offset {
            // Positions only move forward; should one not, count again from the start.
            self.offset = 0;
            self.newlines = 0;
        }
        let skipped = self.bytes.get(self.offset..target).unwrap_or_default();
        let count = skipped.iter().filter(|&&b| b == b'\n').count();
        self.newlines += u64::try_from(count).unwrap_or(u64::MAX);
        self.offset = target;
        self.newlines.saturating_add(1)
    }
}

/// A JSON object of key → any JSON; duplicate keys are kept for the table to refuse.
pub(crate) fn parse_json(text: &str) -> Result<Vec<SourceRow>, String> {
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let entries = deserializer
        .deserialize_map(EntriesVisitor)
        .and_then(|entries| deserializer.end().map(|()| entries))
        .map_err(|error| format!("not a JSON object of key to value: {error}"))?;
    Ok(entries
        .into_iter()
        .map(|(key, value)| SourceRow {
            key,
            value,
            line: None,
        })
        .collect())
}

/// Collects a JSON object's entries in order, duplicates included.
struct EntriesVisitor;

impl<'de> Visitor<'de> for EntriesVisitor {
    type Value = Vec<(String, Value)>;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut entries = Vec::new();
        while let Some(entry) = map.next_entry::<String, Value>()? {
            entries.push(entry);
        }
        Ok(entries)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pairs(rows: &[SourceRow]) -> Vec<(&str, &Value, Option<u64>)> {
        rows.iter()
            .map(|row| (row.key.as_str(), &row.value, row.line))
            .collect()
    }

    #[test]
    fn csv_rows_keep_their_line_numbers() {
        let rows = parse_csv("BOWL-10,5\n\nMUG-2, 12\r\n").unwrap();
        assert_eq!(
            pairs(&rows),
            vec![
                ("BOWL-10", &json!("5"), Some(1)),
                ("MUG-2", &json!("12"), Some(3)),
            ]
        );
    }

    #[test]
    fn csv_header_line_is_skipped_in_any_case() {
        let rows = parse_csv("Key,VALUE\nBOWL-10,5\n").unwrap();
        assert_eq!(pairs(&rows), vec![("BOWL-10", &json!("5"), Some(2))]);
    }

    #[test]
    fn csv_header_is_only_skipped_on_the_first_line() {
        let rows = parse_csv("a,1\nkey,value\n").unwrap();
        assert_eq!(rows.len(), 2);
    }

    #[test]
    fn csv_quoted_fields_may_hold_commas() {
        let rows = parse_csv("\"a,b\",\"x, y\"\n").unwrap();
        assert_eq!(pairs(&rows), vec![("a,b", &json!("x, y"), Some(1))]);
    }

    #[test]
    fn csv_line_with_wrong_column_count_names_the_line() {
        assert_eq!(
            parse_csv("a,1\nb,2,3\n").unwrap_err(),
            "line 2: expected 2 columns (key,value), found 3"
        );
        assert_eq!(
            parse_csv("a,1\nlonely\n").unwrap_err(),
            "line 2: expected 2 columns (key,value), found 1"
        );
        assert_eq!(
            parse_csv("a,1\r\n\r\n\nb\n").unwrap_err(),
            "line 4: expected 2 columns (key,value), found 1"
        );
    }

    #[test]
    fn json_object_values_stay_json_and_duplicates_are_kept() {
        let rows = parse_json(r#"{"a": {"n": 1}, "b": "x", "a": 2}"#).unwrap();
        assert_eq!(
            pairs(&rows),
            vec![
                ("a", &json!({"n": 1}), None),
                ("b", &json!("x"), None),
                ("a", &json!(2), None),
            ]
        );
    }

    #[test]
    fn json_that_is_not_an_object_is_refused() {
        for bad in ["[1,2]", "\"x\"", "{\"a\": 1", "{} trailing"] {
            let error = parse_json(bad).unwrap_err();
            assert!(error.starts_with("not a JSON object"), "{bad}: {error}");
        }
    }
}
