//! The compiled gateway config: the contract between the compiler (used by the operator
//! and the `hermes` CLI) and the gateway.
//!
//! It is self-contained (lookup sources inlined, names resolved), deterministic (maps are
//! ordered; the same resources give the same bytes) and identified by `hash`, the SHA-256
//! of its canonical JSON without the hash itself. The gateway prepares it once on load
//! (compiles regexes, builds hash maps) and evaluates against that prepared form.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use hermes_crds::api::{ClientKind, FieldType, MatchType, Operator, RequestProperty};

/// The config schema version this crate writes and reads.
pub const CONFIG_VERSION: u32 = 1;

/// Everything a gateway needs to evaluate hits for one scope.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct GatewayConfig {
    /// Schema version, [`CONFIG_VERSION`]. A gateway refuses versions it does not know.
    pub version: u32,
    /// `sha256:<hex>` of the canonical JSON of this config with `hash` empty.
    pub hash: String,
    /// What the config was compiled for, e.g. a namespace or a manifests folder.
    pub scope: String,
    /// Valid triggers by name.
    pub triggers: BTreeMap<String, CompiledTrigger>,
    /// Valid tags by name (paused ones included, flagged).
    pub tags: BTreeMap<String, CompiledTag>,
    /// Valid lookup tables by name.
    pub lookup_tables: BTreeMap<String, CompiledLookupTable>,
    /// Tags that can fire for an exact event name; the gateway evaluates only these
    /// plus `tagsForAnyEvent` for an event.
    pub tags_by_event: BTreeMap<String, Vec<String>>,
    /// Tags with a firing trigger that matches by regex or matches every event.
    pub tags_for_any_event: Vec<String>,
}

impl GatewayConfig {
    /// An empty config for `scope`, hashed.
    pub fn empty(scope: &str) -> Self {
        let mut config = GatewayConfig {
            version: CONFIG_VERSION,
            hash: String::new(),
            scope: scope.to_string(),
            triggers: BTreeMap::new(),
            tags: BTreeMap::new(),
            lookup_tables: BTreeMap::new(),
            tags_by_event: BTreeMap::new(),
            tags_for_any_event: Vec::new(),
        };
        config.hash = config.content_hash();
        config
    }

    /// The hash this config's content should carry (`hash` itself is ignored): the
    /// SHA-256 of its compact JSON with `hash` empty, streamed into the digest (no copy of
    /// the config, no buffer of its JSON).
    pub fn content_hash(&self) -> String {
        let mut digest = DigestWriter(Sha256::new());
        // Serializing plain data with ordered maps cannot fail; an empty digest input
        // would still give a stable (if useless) hash rather than a panic.
        let _ = serde_json::to_writer(&mut digest, &Unhashed::of(self));
        format!("sha256:{}", hex::encode(digest.0.finalize()))
    }

    /// Canonical JSON bytes, indented (what the CLI prints).
    pub fn to_json(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string_pretty(self)
    }

    /// The same JSON without indentation (what the operator stores: a third smaller).
    pub fn to_compact_json(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string(self)
    }

    /// Parse and check a config: version known and hash matching content.
    pub fn from_json(text: &str) -> Result<Self, ConfigError> {
        let config: GatewayConfig = serde_json::from_str(text).map_err(ConfigError::Parse)?;
        if config.version != CONFIG_VERSION {
            return Err(ConfigError::Version(config.version));
        }
        let expected = config.content_hash();
        if config.hash != expected {
            return Err(ConfigError::Hash {
                declared: config.hash,
                computed: expected,
            });
        }
        Ok(config)
    }
}

/// A config's fields, borrowed, with `hash` empty: serializes exactly as the config
/// with its hash cleared (same fields, same order), which is what [`GatewayConfig::hash`]
/// covers.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Unhashed<'a> {
    version: u32,
    hash: &'static str,
    scope: &'a str,
    triggers: &'a BTreeMap<String, CompiledTrigger>,
    tags: &'a BTreeMap<String, CompiledTag>,
    lookup_tables: &'a BTreeMap<String, CompiledLookupTable>,
    tags_by_event: &'a BTreeMap<String, Vec<String>>,
    tags_for_any_event: &'a [String],
}

impl<'a> Unhashed<'a> {
    /// Every field of `config` but its hash (a field left out here changes the hash, which
    /// `content_hash_is_the_sha256_of_the_json_with_hash_cleared` catches).
    fn of(config: &'a GatewayConfig) -> Self {
        Unhashed {
            version: config.version,
            hash: "",
            scope: &config.scope,
            triggers: &config.triggers,
            tags: &config.tags,
            lookup_tables: &config.lookup_tables,
            tags_by_event: &config.tags_by_event,
            tags_for_any_event: &config.tags_for_any_event,
        }
    }
}

/// Feeds what is written into a digest.
struct DigestWriter(Sha256);

impl std::io::Write for DigestWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.update(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Why a serialized config was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// Not valid config JSON.
    #[error("config is not valid JSON: {0}")]
    Parse(serde_json::Error),
    /// Written by an incompatible Hermes version.
    #[error("config version {0} is not supported (this build reads version {CONFIG_VERSION})")]
    Version(u32),
    /// Truncated or edited by hand.
    #[error("config hash {declared} does not match its content ({computed})")]
    Hash {
        /// The hash the config carries.
        declared: String,
        /// The hash of its content.
        computed: String,
    },
}

/// A compiled trigger.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct CompiledTrigger {
    /// The Trigger's `metadata.generation` (absent for plain manifests).
    pub generation: Option<i64>,
    /// Which event names match.
    pub event: CompiledEventMatch,
    /// All must hold.
    pub conditions: Vec<CompiledCondition>,
    /// Only hits from this client.
    pub client: Option<ClientKind>,
}

/// A compiled event-name match.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase", tag = "kind")]
pub enum CompiledEventMatch {
    /// Every event.
    Any,
    /// One of these names (sorted, unique).
    Names {
        /// The names.
        names: Vec<String>,
    },
    /// The whole name matches this regex (the compiler anchors it: `^(?:…)$`).
    Regex {
        /// The anchored pattern.
        pattern: String,
    },
}

/// A compiled condition.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct CompiledCondition {
    /// The value tested.
    pub variable: CompiledVariable,
    /// The comparison.
    pub operator: Operator,
    /// The operand (`matchesRegex`: a pattern that compiles, with `(?i)` when ignoring
    /// case; numeric operators: a number's text).
    pub value: Option<String>,
    /// The operands of `in`.
    pub values: Vec<String>,
    /// Invert the result.
    pub negate: bool,
    /// Compare ignoring case.
    pub ignore_case: bool,
}

/// A compiled variable: exactly one source, names resolved.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase", tag = "kind")]
pub enum CompiledVariable {
    /// Event data at a path.
    EventData {
        /// The path, parsed.
        path: Vec<PathSegment>,
    },
    /// A key of the current item (or of any item outside a fan-out).
    Item {
        /// The item key.
        key: String,
    },
    /// A request header (name lower-cased).
    RequestHeader {
        /// The header name.
        name: String,
    },
    /// A query parameter.
    QueryParameter {
        /// The parameter name.
        name: String,
    },
    /// A cookie.
    Cookie {
        /// The cookie name.
        name: String,
    },
    /// A request property.
    Request {
        /// Which property.
        property: RequestProperty,
    },
    /// A literal.
    Constant {
        /// The value.
        value: String,
    },
    /// The output of a lookup table present in the same config.
    LookupTable {
        /// The table's name.
        name: String,
    },
}

/// One step of an event-data path.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub enum PathSegment {
    /// An object key; on an array, a key that is a number indexes it (sGTM's `items.0`).
    Key(String),
    /// `[N]`: an array index.
    Index(usize),
    /// `[*]`: every element of an array.
    Each,
}

/// A compiled lookup table.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct CompiledLookupTable {
    /// The LookupTable's `metadata.generation`.
    pub generation: Option<i64>,
    /// The input (never itself a lookup table).
    pub input: CompiledVariable,
    /// How keys match.
    pub match_type: MatchType,
    /// Rows: for `exact` sorted by key; for `caseInsensitive` sorted by lower-cased key
    /// (stored lower-cased); for `regex` in declaration order, keys anchored patterns.
    pub rows: Vec<CompiledRow>,
    /// The output when nothing matches.
    pub default: Option<serde_json::Value>,
}

/// One compiled lookup row.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct CompiledRow {
    /// The key (see [`CompiledLookupTable::rows`]).
    pub key: String,
    /// The output.
    pub value: serde_json::Value,
}

/// A compiled tag.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct CompiledTag {
    /// The Tag's `metadata.generation`.
    pub generation: Option<i64>,
    /// Trigger names; all present in the config.
    pub firing_triggers: Vec<String>,
    /// Trigger names; all present in the config.
    pub blocking_triggers: Vec<String>,
    /// `projects/P/topics/T`, validated.
    pub topic: String,
    /// Attribute name → variable, names unique and sorted.
    pub attributes: Vec<CompiledAttribute>,
    /// The ordering key's source.
    pub ordering_key: Option<CompiledVariable>,
    /// The message body.
    pub payload: CompiledPayload,
    /// Per-item fan-out conditions; `None`: one message per event.
    pub per_item: Option<Vec<CompiledCondition>>,
    /// Require `analytics_storage` granted.
    pub require_analytics_storage: bool,
    /// Require `ad_storage` granted.
    pub require_ad_storage: bool,
    /// Paused tags never fire.
    pub paused: bool,
}

/// A compiled attribute.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct CompiledAttribute {
    /// The attribute name.
    pub name: String,
    /// Its source.
    pub value: CompiledVariable,
}

/// A compiled message body.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase", tag = "kind")]
pub enum CompiledPayload {
    /// The event data with transformations.
    EventData {
        /// Keep only these keys (empty: all).
        allow: Vec<String>,
        /// Drop these keys.
        exclude: Vec<String>,
        /// Then add or replace these.
        add: Vec<CompiledField>,
    },
    /// Only these fields.
    Fields {
        /// The fields, keys unique.
        fields: Vec<CompiledField>,
    },
}

/// A compiled payload field.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct CompiledField {
    /// The JSON key.
    pub key: String,
    /// Its source.
    pub value: CompiledVariable,
    /// The JSON type it is converted to.
    #[serde(rename = "type")]
    pub type_: FieldType,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_hash_is_the_sha256_of_the_json_with_hash_cleared() {
        let resources = crate::synthetic::pairs(8, "hermes-local").unwrap();
        let config = crate::compile::compile("shop", &resources).config;
        let mut cleared = config.clone();
        cleared.hash = String::new();
        let bytes = serde_json::to_vec(&cleared).unwrap();
        let expected = format!("sha256:{}", hex::encode(Sha256::digest(&bytes)));
        assert_eq!(config.content_hash(), expected);
        assert_eq!(config.hash, expected);
    }

    #[test]
    fn compact_and_indented_json_read_back_as_the_same_config() {
        let resources = crate::synthetic::pairs(4, "hermes-local").unwrap();
        let config = crate::compile::compile("shop", &resources).config;
        assert_eq!(config.tags.len(), 4);
        let compact = config.to_compact_json().unwrap();
        let indented = config.to_json().unwrap();
        assert!(compact.len() < indented.len());
        assert_eq!(GatewayConfig::from_json(&compact).unwrap(), config);
        assert_eq!(GatewayConfig::from_json(&indented).unwrap(), config);
    }
}
