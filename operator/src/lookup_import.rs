//! `hermes lookup import`: load a shop back end's feed (CSV `key,value`, e.g.
//! `SKU,threshold`) into a LookupTable by server-side apply.
//!
//! The CSV is validated first, every problem reported as `file:line: message`. Then:
//! - a table with a ConfigMap source gets that ConfigMap key replaced;
//! - otherwise up to [`INLINE_ROW_LIMIT`] rows go inline into `spec.rows`;
//! - larger feeds go into ConfigMap `<table>-rows` key `rows.csv`, and the table's
//!   `spec.source` is pointed at it (inline rows are cleared, since they would win).

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::Path;

use hermes_crds::api::{LookupRow, LookupTable, SourceFormat};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Patch, PatchParams};
use kube::{Api, Client, Resource};
use serde_json::json;

/// Tables with more rows than this keep them in a ConfigMap.
pub const INLINE_ROW_LIMIT: usize = 500;
/// The field manager of imports.
pub const FIELD_MANAGER: &str = "hermes-lookup-import";
/// The key of the ConfigMap an import creates.
pub const ROWS_KEY: &str = "rows.csv";
/// ConfigMap data must stay under 1 MiB.
pub const CONFIG_MAP_DATA_LIMIT: usize = 1024 * 1024 - 1024;
/// At most this many CSV problems are listed.
const MAX_REPORTED: usize = 20;

/// One imported row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImportRow {
    /// The lookup key.
    pub key: String,
    /// The output.
    pub value: String,
}

/// A problem at one line of the CSV.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CsvProblem {
    /// The file as named by the user.
    pub file: String,
    /// 1-based line.
    pub line: u64,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for CsvProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.file, self.line, self.message)
    }
}

/// Why an import failed.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The CSV is invalid; nothing was written.
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    Csv(Vec<CsvProblem>),
    /// The LookupTable does not exist.
    #[error("LookupTable {namespace}/{name} not found")]
    TableNotFound {
        /// Its namespace.
        namespace: String,
        /// Its name.
        name: String,
    },
    /// The rows do not fit in a ConfigMap.
    #[error("{rows} rows are {bytes} bytes, over the {limit}-byte ConfigMap limit")]
    TooLarge {
        /// Row count.
        rows: usize,
        /// Encoded size.
        bytes: usize,
        /// The limit.
        limit: usize,
    },
    /// A Kubernetes API call failed, or no client could be configured.
    #[error("kubernetes API: {0}")]
    Kube(#[from] kube::Error),
    /// The CSV file cannot be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file as named by the user.
        path: String,
        /// Why.
        source: std::io::Error,
    },
}

/// How the first line of a feed is treated.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Header {
    /// Skipped when it reads `key,value` (any case), else a row.
    #[default]
    Auto,
    /// Always skipped, whatever it says (e.g. `SKU,threshold`).
    Skip,
}

/// Parse and validate a two-column `key,value` CSV. `file` names the input in problems.
pub fn parse_csv(file: &str, text: &str, header: Header) -> Result<Vec<ImportRow>, ImportError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let mut rows = Vec::new();
    let mut problems = Vec::new();
    let mut first_seen: HashMap<String, u64> = HashMap::new();
    for (index, record) in reader.records().enumerate() {
        let problem = |line: u64, message: String| CsvProblem {
            file: file.to_string(),
            line,
            message,
        };
        let record = match record {
            Ok(record) => record,
            Err(error) => {
                let line = error.position().map_or(0, |p| p.line());
                problems.push(problem(line, format!("not valid CSV: {error}")));
                continue;
            }
        };
        let line = record.position().map_or(0, |p| p.line());
        if record.iter().all(str::is_empty) {
            continue;
        }
        let is_key_value = record.len() == 2
            && record[0].eq_ignore_ascii_case("key")
            && record[1].eq_ignore_ascii_case("value");
        if index == 0 && (header == Header::Skip || is_key_value) {
            continue;
        }
        if record.len() != 2 {
            problems.push(problem(
                line,
                format!("expected 2 columns (key,value), found {}", record.len()),
            ));
            continue;
        }
        let (key, value) = (&record[0], &record[1]);
        if key.is_empty() {
            problems.push(problem(line, "empty key".to_string()));
            continue;
        }
        if let Some(first) = first_seen.get(key) {
            problems.push(problem(
                line,
                format!("duplicate key {key:?} (first at line {first})"),
            ));
            continue;
        }
        first_seen.insert(key.to_string(), line);
        rows.push(ImportRow {
            key: key.to_string(),
            value: value.to_string(),
        });
    }
    if problems.is_empty() {
        Ok(rows)
    } else {
        problems.truncate(MAX_REPORTED);
        Err(ImportError::Csv(problems))
    }
}

/// Where the rows of a table go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// Replace the key of the table's existing source.
    Source {
        /// ConfigMap name.
        config_map: String,
        /// Key.
        key: String,
        /// Its layout.
        format: SourceFormat,
    },
    /// Inline `spec.rows`.
    Inline,
    /// A new ConfigMap `<table>-rows`, key `rows.csv`, set as the table's source.
    NewSource {
        /// ConfigMap name.
        config_map: String,
    },
}

/// Decide where `rows` rows go for `table`.
pub fn plan(table: &LookupTable, rows: usize) -> Target {
    let name = table.metadata.name.clone().unwrap_or_default();
    match &table.spec.source {
        Some(source) => Target::Source {
            config_map: source.config_map_key_ref.name.clone(),
            key: source.config_map_key_ref.key.clone(),
            format: source.format,
        },
        None if rows <= INLINE_ROW_LIMIT => Target::Inline,
        None => Target::NewSource {
            config_map: format!("{name}-rows"),
        },
    }
}

/// The rows as the text of a source key: CSV with a `key,value` header, or a JSON object.
pub fn source_text(rows: &[ImportRow], format: SourceFormat) -> String {
    match format {
        SourceFormat::Csv => {
            let mut writer = csv::Writer::from_writer(Vec::new());
            let _ = writer.write_record(["key", "value"]);
            for row in rows {
                let _ = writer.write_record([&row.key, &row.value]);
            }
            let bytes = writer.into_inner().unwrap_or_default();
            String::from_utf8(bytes).unwrap_or_default()
        }
        SourceFormat::Json => {
            let object: serde_json::Map<String, serde_json::Value> = rows
                .iter()
                .map(|r| (r.key.clone(), serde_json::Value::String(r.value.clone())))
                .collect();
            serde_json::Value::Object(object).to_string()
        }
    }
}

/// What an import did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImportReport {
    /// Rows written.
    pub rows: usize,
    /// Where they went.
    pub target: Target,
}

impl fmt::Display for ImportReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.target {
            Target::Inline => write!(f, "{} rows written inline (spec.rows)", self.rows),
            Target::Source {
                config_map, key, ..
            } => write!(
                f,
                "{} rows written to ConfigMap {config_map} key {key}",
                self.rows
            ),
            Target::NewSource { config_map } => write!(
                f,
                "{} rows written to ConfigMap {config_map} key {ROWS_KEY}, set as spec.source",
                self.rows
            ),
        }
    }
}

/// `hermes lookup import`: read and validate `csv`, connect as the kubeconfig (or the
/// in-cluster service account) says, and import into LookupTable `name` of `namespace`
/// (default: the kubeconfig's namespace).
pub async fn import_file(
    csv: &Path,
    header: Header,
    name: &str,
    namespace: Option<&str>,
) -> Result<ImportReport, ImportError> {
    let label = csv.display().to_string();
    let text = std::fs::read_to_string(csv).map_err(|source| ImportError::Read {
        path: label.clone(),
        source,
    })?;
    let rows = parse_csv(&label, &text, header)?;
    let client = Client::try_default().await?;
    let namespace = namespace
        .map(str::to_string)
        .unwrap_or_else(|| client.default_namespace().to_string());
    import(client, &namespace, name, &rows).await
}

/// Import `rows` into LookupTable `name` of `namespace`.
pub async fn import(
    client: Client,
    namespace: &str,
    name: &str,
    rows: &[ImportRow],
) -> Result<ImportReport, ImportError> {
    let tables: Api<LookupTable> = Api::namespaced(client.clone(), namespace);
    let config_maps: Api<ConfigMap> = Api::namespaced(client, namespace);
    let table = tables
        .get_opt(name)
        .await?
        .ok_or_else(|| ImportError::TableNotFound {
            namespace: namespace.to_string(),
            name: name.to_string(),
        })?;
    let params = PatchParams::apply(FIELD_MANAGER).force();
    // The table's rows are a list keyed by `key`, which server-side apply merges with the
    // rows other managers (a person's `kubectl apply`) own; an import replaces them all,
    // so the rows go in a JSON merge patch, which replaces a list whole.
    let replace = PatchParams {
        field_manager: Some(FIELD_MANAGER.to_string()),
        ..PatchParams::default()
    };
    let target = plan(&table, rows.len());
    match &target {
        Target::Source {
            config_map,
            key,
            format,
        } => {
            let text = checked(rows, source_text(rows, *format))?;
            let patch = json!({
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": { "name": config_map },
                "data": { key: text },
            });
            config_maps
                .patch(config_map, &params, &Patch::Apply(&patch))
                .await?;
        }
        Target::Inline => {
            let inline: Vec<LookupRow> = rows
                .iter()
                .map(|r| LookupRow {
                    key: r.key.clone(),
                    value: Some(r.value.as_str().into()),
                    json: None,
                })
                .collect();
            let patch = json!({ "spec": { "rows": inline } });
            tables.patch(name, &replace, &Patch::Merge(&patch)).await?;
        }
        Target::NewSource { config_map } => {
            let text = checked(rows, source_text(rows, SourceFormat::Csv))?;
            let owner = table.controller_owner_ref(&()).map(|mut owner| {
                owner.controller = Some(false);
                owner
            });
            let patch = json!({
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {
                    "name": config_map,
                    "labels": BTreeMap::from([("hermes.io/lookup-table", name)]),
                    "ownerReferences": owner.into_iter().collect::<Vec<_>>(),
                },
                "data": { ROWS_KEY: text },
            });
            config_maps
                .patch(config_map, &params, &Patch::Apply(&patch))
                .await?;
            let patch = json!({
                "spec": {
                    "rows": [],
                    "source": {
                        "configMapKeyRef": { "name": config_map, "key": ROWS_KEY },
                        "format": "csv",
                    },
                },
            });
            tables.patch(name, &replace, &Patch::Merge(&patch)).await?;
        }
    }
    Ok(ImportReport {
        rows: rows.len(),
        target,
    })
}

fn checked(rows: &[ImportRow], text: String) -> Result<String, ImportError> {
    if text.len() > CONFIG_MAP_DATA_LIMIT {
        return Err(ImportError::TooLarge {
            rows: rows.len(),
            bytes: text.len(),
            limit: CONFIG_MAP_DATA_LIMIT,
        });
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use hermes_crds::api::{ConfigMapKeyRef, LookupSource, LookupTableSpec};

    fn problems(result: Result<Vec<ImportRow>, ImportError>) -> Vec<String> {
        match result {
            Err(ImportError::Csv(problems)) => problems.iter().map(ToString::to_string).collect(),
            other => panic!("expected CSV problems, got {other:?}"),
        }
    }

    #[test]
    fn header_and_blank_lines_are_skipped_and_fields_trimmed() {
        let feed = "\u{feff}SKU,Value\nBOWL-10, 5\n\n\"MUG,XL\",12\n";
        // "SKU,Value" is not the `key,value` header: a row, unless told to skip it.
        assert_eq!(parse_csv("feed.csv", feed, Header::Auto).unwrap().len(), 3);
        assert_eq!(parse_csv("feed.csv", feed, Header::Skip).unwrap().len(), 2);
        let rows = parse_csv(
            "feed.csv",
            "Key,VALUE\nBOWL-10, 5\n\n\"MUG,XL\",12\n",
            Header::Auto,
        )
        .unwrap();
        assert_eq!(
            rows,
            [
                ImportRow {
                    key: "BOWL-10".into(),
                    value: "5".into()
                },
                ImportRow {
                    key: "MUG,XL".into(),
                    value: "12".into()
                },
            ]
        );
    }

    #[test]
    fn every_bad_line_is_reported_with_file_and_line() {
        let text = "key,value\nA,1\nB\n,3\nA,4\nC,5,6\n";
        assert_eq!(
            problems(parse_csv("stock.csv", text, Header::Auto)),
            [
                "stock.csv:3: expected 2 columns (key,value), found 1",
                "stock.csv:4: empty key",
                "stock.csv:5: duplicate key \"A\" (first at line 2)",
                "stock.csv:6: expected 2 columns (key,value), found 3",
            ]
        );
    }

    #[test]
    fn five_thousand_rows_parse_and_round_trip_through_source_text() {
        let mut text = String::from("key,value\n");
        for i in 0..5000 {
            text.push_str(&format!("SKU-{i:05},{}\n", i % 17));
        }
        let rows = parse_csv("big.csv", &text, Header::Auto).unwrap();
        assert_eq!(rows.len(), 5000);
        let csv = source_text(&rows, SourceFormat::Csv);
        assert_eq!(parse_csv("again.csv", &csv, Header::Auto).unwrap(), rows);
        let json: serde_json::Value =
            serde_json::from_str(&source_text(&rows, SourceFormat::Json)).unwrap();
        assert_eq!(json["SKU-00016"], "16");
    }

    fn table(source: Option<LookupSource>) -> LookupTable {
        LookupTable::new(
            "stock",
            LookupTableSpec {
                source,
                ..LookupTableSpec::default()
            },
        )
    }

    #[test]
    fn small_feeds_go_inline_large_ones_to_a_new_config_map_and_sources_are_kept() {
        assert_eq!(plan(&table(None), 500), Target::Inline);
        assert_eq!(
            plan(&table(None), 501),
            Target::NewSource {
                config_map: "stock-rows".into()
            }
        );
        let source = LookupSource {
            config_map_key_ref: ConfigMapKeyRef {
                name: "feeds".into(),
                key: "stock.json".into(),
            },
            format: SourceFormat::Json,
        };
        assert_eq!(
            plan(&table(Some(source)), 3),
            Target::Source {
                config_map: "feeds".into(),
                key: "stock.json".into(),
                format: SourceFormat::Json
            }
        );
    }
}
