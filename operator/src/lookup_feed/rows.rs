//! The rows a table has now, read where `hermes lookup import` keeps them: inline
//! `spec.rows`, or the key of its ConfigMap source.

use hermes_crds::api::{LookupTable, SourceFormat};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::{Api, Client};

use crate::lookup_import::{self, Header, ImportRow};

/// Why the current rows cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum RowsError {
    /// The source ConfigMap could not be read.
    #[error("reading ConfigMap {name}: {source}")]
    ReadConfigMap {
        /// Its name.
        name: String,
        /// The API error.
        #[source]
        source: kube::Error,
    },
    /// The source key does not hold rows in its format.
    #[error("ConfigMap {name} key {key} does not hold {format:?} rows")]
    Unreadable {
        /// The ConfigMap.
        name: String,
        /// The key.
        key: String,
        /// Its declared format.
        format: SourceFormat,
    },
}

/// The table's rows: its source's when it has one (where imports write), else inline.
/// A source ConfigMap or key that does not exist yet holds no rows.
pub async fn current(client: &Client, table: &LookupTable) -> Result<Vec<ImportRow>, RowsError> {
    let Some(source) = &table.spec.source else {
        return Ok(table
            .spec
            .rows
            .iter()
            .map(|row| ImportRow {
                key: row.key.clone(),
                value: match (&row.value, &row.json) {
                    (Some(value), _) => value.text().unwrap_or_else(|| value.0.to_string()),
                    (None, Some(json)) => json.to_string(),
                    (None, None) => String::new(),
                },
            })
            .collect());
    };
    let reference = &source.config_map_key_ref;
    let namespace = table.metadata.namespace.as_deref().unwrap_or("default");
    let config_maps: Api<ConfigMap> = Api::namespaced(client.clone(), namespace);
    let config_map = config_maps
        .get_opt(&reference.name)
        .await
        .map_err(|source| RowsError::ReadConfigMap {
            name: reference.name.clone(),
            source,
        })?;
    let text = config_map
        .and_then(|cm| cm.data)
        .and_then(|mut data| data.remove(&reference.key))
        .unwrap_or_default();
    let unreadable = || RowsError::Unreadable {
        name: reference.name.clone(),
        key: reference.key.clone(),
        format: source.format,
    };
    match source.format {
        SourceFormat::Csv => {
            lookup_import::parse_csv(&reference.key, &text, Header::Auto).map_err(|_| unreadable())
        }
        SourceFormat::Json if text.trim().is_empty() => Ok(Vec::new()),
        SourceFormat::Json => {
            let object: serde_json::Map<String, serde_json::Value> =
                serde_json::from_str(&text).map_err(|_| unreadable())?;
            Ok(object
                .into_iter()
                .map(|(key, value)| ImportRow {
                    value: match value {
                        serde_json::Value::String(text) => text,
                        other => other.to_string(),
                    },
                    key,
                })
                .collect())
        }
    }
}
