//! The in-cluster contract between the operator and the gateways: where the compiled
//! config lives, how it is encoded, and how each gateway replica reports what it serves.
//! Names and pure encode/decode only; no client.
//!
//! - The operator writes one ConfigMap per scope (namespace), default
//!   [`DEFAULT_CONFIG_MAP`], by server-side apply as [`OPERATOR_FIELD_MANAGER`]: key
//!   [`CONFIG_JSON_KEY`] while the JSON is at most [`PLAIN_LIMIT_BYTES`], else gzip in
//!   `binaryData` [`CONFIG_GZIP_KEY`]; a gzip too large for one ConfigMap is split into
//!   shards ([`ConfigEncoding::GzipShards`], see below); a config that needs more than
//!   [`MAX_SHARDS`] is not written ([`EncodeError::TooLarge`]). Annotation
//!   [`CONFIG_HASH_ANNOTATION`] carries its hash.
//! - Sharded: the gzip stream is cut into parts of at most [`SHARD_LIMIT_BYTES`] (or the
//!   lower [`ConfigMapLimits::shard_bytes`] an operator is given), each in
//!   its own ConfigMap ([`shard_name`]: the config ConfigMap's name, the hash's first hex
//!   digits, the part's number) labelled [`CONFIG_SHARD_LABEL`]`=true` and annotated with
//!   the same hash. The shards are written first, then the config ConfigMap, which names
//!   them in [`CONFIG_SHARDS_ANNOTATION`]: a gateway assembles a config only when every
//!   shard it names carries its hash ([`decode_with_shards`]), so it swaps whole configs
//!   or nothing. Shards of other hashes are stale once the config ConfigMap moved on
//!   ([`stale_shards`]); the operator deletes them.
//! - Each gateway replica keeps a Lease [`gateway_lease_name`] labelled
//!   [`GATEWAY_LABEL`]`=true`, annotated with the hash it serves, renewed every few
//!   seconds. The operator counts a replica while its Lease is fresh
//!   ([`GatewayReport::is_fresh`]). The Lease also lists the topics the replica cannot
//!   publish to ([`FAILING_TOPICS_ANNOTATION`], see [`crate::failing_topics`]).

use std::borrow::Borrow;
use std::collections::BTreeMap;
use std::io::{Read, Write};

use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use k8s_openapi::ByteString;
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::{SignedDuration, Timestamp};

use crate::config::{ConfigError, GatewayConfig};
pub use crate::failing_topics::{FAILING_TOPICS_ANNOTATION, FailingTopic};

/// The ConfigMap the operator writes and the gateways watch, unless configured otherwise.
pub const DEFAULT_CONFIG_MAP: &str = "hermes-gateway-config";
/// The one field manager the operator writes with (config, statuses).
pub const OPERATOR_FIELD_MANAGER: &str = "hermes-operator";
/// The field manager gateways write their Leases with.
pub const GATEWAY_FIELD_MANAGER: &str = "hermes-gateway";
/// The operator's leader-election Lease, in the operator's namespace.
pub const OPERATOR_LEASE: &str = "hermes-operator";
/// ConfigMap `data` key of a plain JSON config.
pub const CONFIG_JSON_KEY: &str = "config.json";
/// ConfigMap `binaryData` key of a gzip-compressed JSON config.
pub const CONFIG_GZIP_KEY: &str = "config.json.gz";
/// Annotation with a config hash: on the ConfigMap, the hash it holds; on a gateway Lease,
/// the hash that replica serves.
pub const CONFIG_HASH_ANNOTATION: &str = "hermes.io/config-hash";
/// Annotation on the ConfigMap: `json` or `gzip`.
pub const CONFIG_ENCODING_ANNOTATION: &str = "hermes.io/config-encoding";
/// Annotation on the ConfigMap: size of the uncompressed JSON in bytes.
pub const CONFIG_BYTES_ANNOTATION: &str = "hermes.io/config-bytes";
/// Annotation on a gateway Lease: why the latest config offered was refused
/// (`<hash>: <reason>`); absent when the latest offer loaded.
pub const CONFIG_ERROR_ANNOTATION: &str = "hermes.io/config-error";
/// Label (value `true`) that marks gateway Leases.
pub const GATEWAY_LABEL: &str = "hermes.io/gateway";
/// Label selector of gateway Leases.
pub const GATEWAY_LABEL_SELECTOR: &str = "hermes.io/gateway=true";
/// Prefix of gateway Lease names.
pub const GATEWAY_LEASE_PREFIX: &str = "hermes-gateway-";
/// Annotation on a sharded config ConfigMap: its shards' names, in order, comma-separated.
pub const CONFIG_SHARDS_ANNOTATION: &str = "hermes.io/config-shards";
/// Label (value `true`) that marks config shard ConfigMaps; gateways watch shards by it.
pub const CONFIG_SHARD_LABEL: &str = "hermes.io/config-shard";
/// Label selector of config shard ConfigMaps.
pub const CONFIG_SHARD_LABEL_SELECTOR: &str = "hermes.io/config-shard=true";
/// Annotation on a shard: the config ConfigMap it belongs to.
pub const CONFIG_SHARD_OF_ANNOTATION: &str = "hermes.io/config-shard-of";
/// `binaryData` key of a shard's part of the gzip stream.
pub const CONFIG_GZIP_PART_KEY: &str = "config.json.gz.part";
/// JSON above this size is stored gzip-compressed.
pub const PLAIN_LIMIT_BYTES: usize = 900 * 1024;
/// The API server refuses ConfigMaps whose data exceeds 1 MiB; keep room for the key.
pub const STORED_LIMIT_BYTES: usize = 1024 * 1024 - 1024;
/// The most gzip bytes one shard holds.
pub const SHARD_LIMIT_BYTES: usize = STORED_LIMIT_BYTES;
/// The most shards a config is split into (about 32 MiB of gzip, several hundred MB of
/// JSON); beyond that the config is [`EncodeError::TooLarge`].
pub const MAX_SHARDS: usize = 32;
/// The least a ConfigMap may be limited to ([`ConfigMapLimits::new`]).
pub const MIN_SHARD_BYTES: usize = 1024;
/// Decompressed configs larger than this are refused (defends against gzip bombs).
pub const DECOMPRESSED_LIMIT_BYTES: u64 = 256 * 1024 * 1024;

/// How a config is stored in its ConfigMap.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConfigEncoding {
    /// `data["config.json"]`
    Json,
    /// `binaryData["config.json.gz"]`
    Gzip,
    /// Gzip cut into shard ConfigMaps named by [`CONFIG_SHARDS_ANNOTATION`].
    GzipShards,
}

impl ConfigEncoding {
    /// The annotation value.
    pub fn as_str(self) -> &'static str {
        match self {
            ConfigEncoding::Json => "json",
            ConfigEncoding::Gzip => "gzip",
            ConfigEncoding::GzipShards => "gzip-shards",
        }
    }
}

/// How much of a config one ConfigMap holds, and in how many ConfigMaps it may be
/// stored. The default is what the API server allows; a lower `shard_bytes` stores
/// smaller configs in shards, so that sharding can be exercised with few objects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConfigMapLimits {
    shard_bytes: usize,
    max_shards: usize,
}

impl Default for ConfigMapLimits {
    fn default() -> Self {
        ConfigMapLimits {
            shard_bytes: SHARD_LIMIT_BYTES,
            max_shards: MAX_SHARDS,
        }
    }
}

impl ConfigMapLimits {
    /// At most `shard_bytes` of config per ConfigMap (clamped to [`MIN_SHARD_BYTES`] ..=
    /// [`SHARD_LIMIT_BYTES`]: a ConfigMap cannot hold more), in at most `max_shards`
    /// shards.
    pub fn new(shard_bytes: usize, max_shards: usize) -> Self {
        ConfigMapLimits {
            shard_bytes: shard_bytes.clamp(MIN_SHARD_BYTES, SHARD_LIMIT_BYTES),
            max_shards,
        }
    }

    /// The most config bytes (plain JSON, gzip, or a part of it) one ConfigMap holds.
    pub fn shard_bytes(&self) -> usize {
        self.shard_bytes
    }

    /// The most shards a config is split into.
    pub fn max_shards(&self) -> usize {
        self.max_shards
    }
}

/// A config ready to be written.
#[derive(Clone, Debug)]
pub struct EncodedConfig {
    /// The config's hash.
    pub hash: String,
    /// How it is stored.
    pub encoding: ConfigEncoding,
    /// Size of the JSON.
    pub json_bytes: usize,
    /// Size of what is stored (JSON or gzip).
    pub stored_bytes: usize,
    body: Body,
}

#[derive(Clone, Debug)]
enum Body {
    Json(String),
    Gzip(Vec<u8>),
    /// The gzip stream, cut into shard-sized parts.
    Shards(Vec<Vec<u8>>),
}

/// Why a config cannot be written.
#[derive(Debug, thiserror::Error)]
pub enum EncodeError {
    /// Even compressed and split into [`MAX_SHARDS`] ConfigMaps, the config does not fit.
    #[error(
        "compiled config is {json_bytes} bytes ({stored_bytes} gzip-compressed), over the \
         {limit}-byte ConfigMap limit (all its shards together); move large lookup tables' \
         rows out or split the scope"
    )]
    TooLarge {
        /// Size of the JSON.
        json_bytes: usize,
        /// Size compressed.
        stored_bytes: usize,
        /// The limit.
        limit: usize,
    },
    /// Serialization or compression failed.
    #[error("config cannot be encoded: {0}")]
    Encode(String),
}

/// Why a ConfigMap does not yield a config.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// Neither key is present.
    #[error("ConfigMap has neither data[{CONFIG_JSON_KEY}] nor binaryData[{CONFIG_GZIP_KEY}]")]
    Missing,
    /// The gzip body is corrupt, too large, or not UTF-8.
    #[error("{CONFIG_GZIP_KEY} cannot be decompressed: {0}")]
    Gzip(String),
    /// The JSON is refused (parse, version, hash).
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A sharded config ConfigMap declares no hash to match its shards against.
    #[error("ConfigMap names shards but declares no {CONFIG_HASH_ANNOTATION}")]
    ShardsWithoutHash,
    /// A shard the config ConfigMap names is not there (yet).
    #[error("config shard {name} is missing")]
    ShardMissing {
        /// The shard's name.
        name: String,
    },
    /// A shard holds part of another config (the new one not written yet, or an old one).
    #[error("config shard {name} holds config {found:?}, not {expected}")]
    ShardOfOtherConfig {
        /// The shard's name.
        name: String,
        /// The config ConfigMap's hash.
        expected: String,
        /// The shard's.
        found: Option<String>,
    },
    /// A shard of the right config without its part.
    #[error("config shard {name} has no binaryData[{CONFIG_GZIP_PART_KEY}]")]
    ShardEmpty {
        /// The shard's name.
        name: String,
    },
}

impl DecodeError {
    /// Whether the config may still load once more shards arrive: a shard is missing or
    /// still holds another config. Not a refusal of the config.
    pub fn is_incomplete(&self) -> bool {
        matches!(
            self,
            DecodeError::ShardMissing { .. } | DecodeError::ShardOfOtherConfig { .. }
        )
    }
}

/// Serialize `config` and pick its encoding by size: plain, gzip, or gzip in up to
/// [`MAX_SHARDS`] shards.
pub fn encode(config: &GatewayConfig) -> Result<EncodedConfig, EncodeError> {
    encode_within(config, ConfigMapLimits::default())
}

/// [`encode`] within `limits`: plain JSON up to [`PLAIN_LIMIT_BYTES`] (and the limit's
/// `shard_bytes`), else gzip in one ConfigMap up to `shard_bytes`, else gzip cut into
/// parts of `shard_bytes`, at most `max_shards` of them.
pub fn encode_within(
    config: &GatewayConfig,
    limits: ConfigMapLimits,
) -> Result<EncodedConfig, EncodeError> {
    let json = config
        .to_compact_json()
        .map_err(|e| EncodeError::Encode(e.to_string()))?;
    let json_bytes = json.len();
    let encoded = |encoding, stored_bytes, body| EncodedConfig {
        hash: config.hash.clone(),
        encoding,
        json_bytes,
        stored_bytes,
        body,
    };
    if json_bytes <= PLAIN_LIMIT_BYTES.min(limits.shard_bytes) {
        return Ok(encoded(ConfigEncoding::Json, json_bytes, Body::Json(json)));
    }
    let gzip = gzip(json.as_bytes()).map_err(|e| EncodeError::Encode(e.to_string()))?;
    let stored_bytes = gzip.len();
    if stored_bytes <= limits.shard_bytes {
        return Ok(encoded(
            ConfigEncoding::Gzip,
            stored_bytes,
            Body::Gzip(gzip),
        ));
    }
    let limit = limits.shard_bytes.saturating_mul(limits.max_shards);
    if stored_bytes > limit {
        return Err(EncodeError::TooLarge {
            json_bytes,
            stored_bytes,
            limit,
        });
    }
    let parts = gzip
        .chunks(limits.shard_bytes)
        .map(<[u8]>::to_vec)
        .collect();
    Ok(encoded(
        ConfigEncoding::GzipShards,
        stored_bytes,
        Body::Shards(parts),
    ))
}

/// The name of part `index` of the config with `hash` stored for config ConfigMap
/// `config_map`: unique per config, so writing a new config never touches the shards a
/// gateway may be reading.
pub fn shard_name(config_map: &str, hash: &str, index: usize) -> String {
    let digits = hash.strip_prefix("sha256:").unwrap_or(hash);
    let short: String = digits
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(12)
        .collect::<String>()
        .to_ascii_lowercase();
    format!("{config_map}-{short}-{index}")
}

/// The shards a sharded config ConfigMap names, in order; `None` for a config held
/// whole.
pub fn shard_names(config_map: &ConfigMap) -> Option<Vec<&str>> {
    let names = annotation(&config_map.metadata, CONFIG_SHARDS_ANNOTATION)?;
    Some(names.split(',').filter(|name| !name.is_empty()).collect())
}

/// Whether `candidate` is a shard ConfigMap of config ConfigMap `config_map`.
pub fn is_shard_of(candidate: &ConfigMap, config_map: &str) -> bool {
    let meta = &candidate.metadata;
    let is_shard = meta
        .labels
        .as_ref()
        .and_then(|labels| labels.get(CONFIG_SHARD_LABEL))
        .is_some_and(|value| value == "true");
    is_shard && annotation(meta, CONFIG_SHARD_OF_ANNOTATION) == Some(config_map)
}

/// Whether `candidate` is a shard of config ConfigMap `config_map` that the config it
/// holds now (`current`) does not name: safe to delete.
pub fn is_stale_shard(candidate: &ConfigMap, config_map: &str, current: &[String]) -> bool {
    let named = (candidate.metadata.name.as_ref()).is_some_and(|name| current.contains(name));
    is_shard_of(candidate, config_map) && !named
}

/// The names of the shards of `config_map` among `config_maps` that `current` (the
/// shards of the config it holds now) does not name.
pub fn stale_shards<'a, C: Borrow<ConfigMap> + 'a>(
    config_maps: impl IntoIterator<Item = &'a C>,
    config_map: &str,
    current: &[String],
) -> Vec<String> {
    config_maps
        .into_iter()
        .map(Borrow::borrow)
        .filter(|cm| is_stale_shard(cm, config_map, current))
        .filter_map(|cm| cm.metadata.name.clone())
        .collect()
}

fn gzip(bytes: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
    encoder.write_all(bytes)?;
    encoder.finish()
}

impl EncodedConfig {
    /// The names of its shards for config ConfigMap `config_map`, in order; empty unless
    /// sharded.
    pub fn shard_names(&self, config_map: &str) -> Vec<String> {
        match &self.body {
            Body::Shards(parts) => (0..parts.len())
                .map(|index| shard_name(config_map, &self.hash, index))
                .collect(),
            Body::Json(_) | Body::Gzip(_) => Vec::new(),
        }
    }

    /// The whole config ConfigMap to server-side apply: exactly one of the two keys, or
    /// (sharded) neither and the shards' names, plus the hash, encoding and size
    /// annotations. Applying it as [`OPERATOR_FIELD_MANAGER`] also removes what the
    /// previous encoding had and this one has not.
    pub fn to_config_map(&self, name: &str, namespace: &str) -> ConfigMap {
        let mut annotations = BTreeMap::from([
            (CONFIG_HASH_ANNOTATION.to_string(), self.hash.clone()),
            (
                CONFIG_ENCODING_ANNOTATION.to_string(),
                self.encoding.as_str().to_string(),
            ),
            (
                CONFIG_BYTES_ANNOTATION.to_string(),
                self.json_bytes.to_string(),
            ),
        ]);
        let (data, binary_data) = match &self.body {
            Body::Json(json) => (
                Some(BTreeMap::from([(
                    CONFIG_JSON_KEY.to_string(),
                    json.clone(),
                )])),
                None,
            ),
            Body::Gzip(bytes) => (
                None,
                Some(BTreeMap::from([(
                    CONFIG_GZIP_KEY.to_string(),
                    ByteString(bytes.clone()),
                )])),
            ),
            Body::Shards(_) => {
                annotations.insert(
                    CONFIG_SHARDS_ANNOTATION.to_string(),
                    self.shard_names(name).join(","),
                );
                (None, None)
            }
        };
        ConfigMap {
            metadata: operator_metadata(name, namespace, annotations, BTreeMap::new()),
            data,
            binary_data,
            ..ConfigMap::default()
        }
    }

    /// The shard ConfigMaps to server-side apply before [`Self::to_config_map`], in
    /// order; empty unless sharded.
    pub fn shard_config_maps(&self, config_map: &str, namespace: &str) -> Vec<ConfigMap> {
        let Body::Shards(parts) = &self.body else {
            return Vec::new();
        };
        let names = self.shard_names(config_map);
        names
            .into_iter()
            .zip(parts)
            .map(|(name, part)| {
                let annotations = BTreeMap::from([
                    (CONFIG_HASH_ANNOTATION.to_string(), self.hash.clone()),
                    (
                        CONFIG_SHARD_OF_ANNOTATION.to_string(),
                        config_map.to_string(),
                    ),
                ]);
                let labels = BTreeMap::from([(CONFIG_SHARD_LABEL.to_string(), "true".to_string())]);
                ConfigMap {
                    metadata: operator_metadata(&name, namespace, annotations, labels),
                    binary_data: Some(BTreeMap::from([(
                        CONFIG_GZIP_PART_KEY.to_string(),
                        ByteString(part.clone()),
                    )])),
                    ..ConfigMap::default()
                }
            })
            .collect()
    }
}

/// Metadata of a ConfigMap the operator writes: labelled as managed by it.
fn operator_metadata(
    name: &str,
    namespace: &str,
    annotations: BTreeMap<String, String>,
    mut labels: BTreeMap<String, String>,
) -> ObjectMeta {
    labels.insert(
        "app.kubernetes.io/managed-by".to_string(),
        OPERATOR_FIELD_MANAGER.to_string(),
    );
    ObjectMeta {
        name: Some(name.to_string()),
        namespace: Some(namespace.to_string()),
        annotations: Some(annotations),
        labels: Some(labels),
        ..ObjectMeta::default()
    }
}

/// The hash a config ConfigMap declares (its annotation), without decoding it.
pub fn declared_hash(config_map: &ConfigMap) -> Option<&str> {
    annotation(&config_map.metadata, CONFIG_HASH_ANNOTATION)
}

/// Decode and check the config a ConfigMap holds (version and hash, see
/// [`GatewayConfig::from_json`]). A plain key wins over a gzip one. A sharded config is
/// [`DecodeError::ShardMissing`]: use [`decode_with_shards`].
pub fn decode(config_map: &ConfigMap) -> Result<GatewayConfig, DecodeError> {
    decode_with_shards(config_map, |_| None::<&ConfigMap>)
}

/// [`decode`], reading the shards of a sharded config through `shard` (by name): every
/// shard must carry the config ConfigMap's hash, else the config is incomplete
/// ([`DecodeError::is_incomplete`]); the parts, joined in order, are one gzip stream.
pub fn decode_with_shards<C: Borrow<ConfigMap>>(
    config_map: &ConfigMap,
    mut shard: impl FnMut(&str) -> Option<C>,
) -> Result<GatewayConfig, DecodeError> {
    if let Some(json) = config_map
        .data
        .as_ref()
        .and_then(|data| data.get(CONFIG_JSON_KEY))
    {
        return Ok(GatewayConfig::from_json(json)?);
    }
    if let Some(bytes) = config_map
        .binary_data
        .as_ref()
        .and_then(|data| data.get(CONFIG_GZIP_KEY))
    {
        return gunzip_config(&bytes.0);
    }
    let Some(names) = shard_names(config_map) else {
        return Err(DecodeError::Missing);
    };
    let expected = declared_hash(config_map).ok_or(DecodeError::ShardsWithoutHash)?;
    let mut gzip = Vec::new();
    for name in names {
        let found = shard(name).ok_or_else(|| DecodeError::ShardMissing {
            name: name.to_string(),
        })?;
        let found = found.borrow();
        let hash = declared_hash(found);
        if hash != Some(expected) {
            return Err(DecodeError::ShardOfOtherConfig {
                name: name.to_string(),
                expected: expected.to_string(),
                found: hash.map(str::to_string),
            });
        }
        let part = found
            .binary_data
            .as_ref()
            .and_then(|data| data.get(CONFIG_GZIP_PART_KEY))
            .ok_or_else(|| DecodeError::ShardEmpty {
                name: name.to_string(),
            })?;
        gzip.extend_from_slice(&part.0);
    }
    gunzip_config(&gzip)
}

/// Decompress (at most [`DECOMPRESSED_LIMIT_BYTES`]) and check a gzip-compressed config.
fn gunzip_config(bytes: &[u8]) -> Result<GatewayConfig, DecodeError> {
    let mut json = String::new();
    GzDecoder::new(bytes)
        .take(DECOMPRESSED_LIMIT_BYTES + 1)
        .read_to_string(&mut json)
        .map_err(|e| DecodeError::Gzip(e.to_string()))?;
    if json.len() as u64 > DECOMPRESSED_LIMIT_BYTES {
        return Err(DecodeError::Gzip(format!(
            "larger than {DECOMPRESSED_LIMIT_BYTES} bytes"
        )));
    }
    Ok(GatewayConfig::from_json(&json)?)
}

/// The Lease name of a gateway replica: [`GATEWAY_LEASE_PREFIX`] + the replica id made a
/// valid object name (lower case; characters other than `a-z0-9.-` become `-`).
pub fn gateway_lease_name(replica_id: &str) -> String {
    let cleaned: String = replica_id
        .chars()
        .map(|c| c.to_ascii_lowercase())
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                c
            } else {
                '-'
            }
        })
        .collect();
    let mut name = format!("{GATEWAY_LEASE_PREFIX}{cleaned}");
    name.truncate(253);
    while name.ends_with(['-', '.']) {
        name.pop();
    }
    name
}

/// What one gateway replica says it serves, as read from its Lease.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GatewayReport {
    /// The replica's id (`holderIdentity`, else the Lease name).
    pub replica: String,
    /// The hash it serves (`None` before its first config).
    pub hash: Option<String>,
    /// Why the latest config offered to it was refused, if it was.
    pub error: Option<String>,
    /// Its last renewal.
    pub renew_time: Option<Timestamp>,
    /// How long a renewal stays valid.
    pub duration: SignedDuration,
    /// The topics it cannot publish to now (missing, forbidden).
    pub failing_topics: Vec<FailingTopic>,
}

impl GatewayReport {
    /// Read a gateway Lease; `None` when it carries no duration (not written by a
    /// gateway).
    pub fn from_lease(lease: &Lease) -> Option<Self> {
        let spec = lease.spec.as_ref()?;
        let seconds = spec.lease_duration_seconds?;
        let replica = spec
            .holder_identity
            .clone()
            .or_else(|| lease.metadata.name.clone())?;
        Some(GatewayReport {
            replica,
            hash: annotation(&lease.metadata, CONFIG_HASH_ANNOTATION).map(str::to_string),
            error: annotation(&lease.metadata, CONFIG_ERROR_ANNOTATION).map(str::to_string),
            renew_time: spec.renew_time.as_ref().map(|t| t.0),
            duration: SignedDuration::from_secs(i64::from(seconds)),
            failing_topics: annotation(&lease.metadata, FAILING_TOPICS_ANNOTATION)
                .map(crate::failing_topics::decode)
                .unwrap_or_default(),
        })
    }

    /// When the report stops counting (`None`: never renewed).
    pub fn expires_at(&self) -> Option<Timestamp> {
        self.renew_time
            .and_then(|renewed| renewed.checked_add(self.duration).ok())
    }

    /// Whether the replica renewed within its lease duration before `now`.
    pub fn is_fresh(&self, now: Timestamp) -> bool {
        self.expires_at().is_some_and(|expires| expires > now)
    }

    /// The Lease a replica applies to report: holder, renewal time `now`, duration, and
    /// the hash (and refusal, and failing topics, if any) as annotations. Applying it
    /// without an annotation removes that annotation.
    pub fn to_lease(&self, namespace: &str) -> Lease {
        let mut annotations = BTreeMap::new();
        if let Some(hash) = &self.hash {
            annotations.insert(CONFIG_HASH_ANNOTATION.to_string(), hash.clone());
        }
        if let Some(error) = &self.error {
            annotations.insert(CONFIG_ERROR_ANNOTATION.to_string(), error.clone());
        }
        if let Some(failing) = crate::failing_topics::encode(&self.failing_topics) {
            annotations.insert(FAILING_TOPICS_ANNOTATION.to_string(), failing);
        }
        Lease {
            metadata: ObjectMeta {
                name: Some(gateway_lease_name(&self.replica)),
                namespace: Some(namespace.to_string()),
                labels: Some(BTreeMap::from([(
                    GATEWAY_LABEL.to_string(),
                    "true".to_string(),
                )])),
                annotations: Some(annotations),
                ..ObjectMeta::default()
            },
            spec: Some(LeaseSpec {
                holder_identity: Some(self.replica.clone()),
                lease_duration_seconds: i32::try_from(self.duration.as_secs()).ok(),
                renew_time: self.renew_time.map(MicroTime),
                ..LeaseSpec::default()
            }),
        }
    }
}

fn annotation<'a>(meta: &'a ObjectMeta, key: &str) -> Option<&'a str> {
    meta.annotations
        .as_ref()
        .and_then(|annotations| annotations.get(key))
        .map(String::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{CompiledLookupTable, CompiledRow, CompiledVariable};
    use hermes_crds::api::MatchType;

    /// A config of one exact-match lookup table `name` with `rows`, hashed.
    fn config_with_table(name: &str, rows: Vec<CompiledRow>) -> GatewayConfig {
        let mut config = GatewayConfig::empty("shop");
        config.lookup_tables.insert(
            name.into(),
            CompiledLookupTable {
                generation: Some(1),
                input: CompiledVariable::Constant { value: "x".into() },
                match_type: MatchType::Exact,
                rows,
                default: None,
            },
        );
        config.hash = config.content_hash();
        config
    }

    fn config_with_rows(rows: usize, value_len: usize) -> GatewayConfig {
        let rows = (0..rows)
            .map(|i| CompiledRow {
                key: format!("SKU-{i:07}"),
                // Varying values so that gzip cannot shrink them to nothing.
                value: serde_json::Value::String(format!(
                    "{:0>width$x}",
                    i * 7919,
                    width = value_len
                )),
            })
            .collect();
        config_with_table("stock", rows)
    }

    #[test]
    fn small_config_is_plain_json_and_round_trips() {
        let config = config_with_rows(10, 4);
        let encoded = encode(&config).unwrap();
        assert_eq!(encoded.encoding, ConfigEncoding::Json);
        let cm = encoded.to_config_map("hermes-gateway-config", "shop");
        assert!(cm.binary_data.is_none());
        assert_eq!(declared_hash(&cm), Some(config.hash.as_str()));
        assert_eq!(decode(&cm).unwrap(), config);
    }

    #[test]
    fn config_over_900_kib_is_gzipped_and_round_trips() {
        let config = config_with_rows(30_000, 8);
        let encoded = encode(&config).unwrap();
        assert!(encoded.json_bytes > PLAIN_LIMIT_BYTES);
        assert_eq!(encoded.encoding, ConfigEncoding::Gzip);
        assert!(encoded.stored_bytes < encoded.json_bytes / 3);
        let cm = encoded.to_config_map("c", "shop");
        assert!(cm.data.is_none());
        let annotations = cm.metadata.annotations.clone().unwrap();
        assert_eq!(annotations[CONFIG_ENCODING_ANNOTATION], "gzip");
        assert_eq!(
            annotations[CONFIG_BYTES_ANNOTATION],
            encoded.json_bytes.to_string()
        );
        assert_eq!(decode(&cm).unwrap(), config);
    }

    /// Random-looking 32-hex values compress poorly: ~1.6 MiB gzip, more than one
    /// ConfigMap holds.
    fn config_over_one_config_map() -> GatewayConfig {
        config_of_random_rows(60_000)
    }

    /// `rows` rows of random-looking 16- and 32-hex keys and values.
    fn config_of_random_rows(rows: u64) -> GatewayConfig {
        let rows = (0..rows)
            .map(|i| CompiledRow {
                key: format!("{:016x}", i.wrapping_mul(0x9E37_79B9_7F4A_7C15)),
                value: serde_json::Value::String(format!(
                    "{:016x}{:016x}",
                    i.wrapping_mul(0xC2B2_AE3D_27D4_EB4F),
                    i.wrapping_mul(0x1656_67B1_9E37_79F9)
                )),
            })
            .collect();
        config_with_table("big", rows)
    }

    #[test]
    fn config_too_large_for_its_shards_is_refused() {
        let config = config_over_one_config_map();
        match encode_within(&config, ConfigMapLimits::new(SHARD_LIMIT_BYTES, 1)) {
            Err(EncodeError::TooLarge {
                stored_bytes,
                limit,
                ..
            }) => assert!(stored_bytes > limit),
            other => panic!("expected TooLarge, got {other:?}"),
        }
    }

    #[test]
    fn config_over_one_config_map_is_sharded_and_assembles_from_its_shards() {
        let config = config_over_one_config_map();
        let encoded = encode(&config).unwrap();
        assert_eq!(encoded.encoding, ConfigEncoding::GzipShards);
        let index = encoded.to_config_map("cfg", "shop");
        assert!(index.data.is_none() && index.binary_data.is_none());
        let shards = encoded.shard_config_maps("cfg", "shop");
        assert_eq!(shards.len(), 2);
        for shard in &shards {
            let part = &shard.binary_data.as_ref().unwrap()[CONFIG_GZIP_PART_KEY];
            assert!(part.0.len() <= SHARD_LIMIT_BYTES);
            assert_eq!(declared_hash(shard), Some(config.hash.as_str()));
        }
        let names: Vec<String> = shards
            .iter()
            .map(|s| s.metadata.name.clone().unwrap())
            .collect();
        assert_eq!(shard_names(&index).unwrap(), names);
        assert_eq!(names, encoded.shard_names("cfg"));
        assert!(names[0].starts_with("cfg-") && names[0].ends_with("-0"));
        let by_name = |name: &str| {
            shards
                .iter()
                .find(|s| s.metadata.name.as_deref() == Some(name))
        };
        assert_eq!(decode_with_shards(&index, by_name).unwrap(), config);
    }

    #[test]
    fn a_lower_shard_limit_shards_a_small_config_into_parts_no_larger_than_it() {
        // ~60 KB of JSON, tens of KB of gzip: one ConfigMap by default, 16 KiB parts here.
        let config = config_of_random_rows(1_000);
        assert_eq!(encode(&config).unwrap().encoding, ConfigEncoding::Json);
        let limits = ConfigMapLimits::new(16 * 1024, MAX_SHARDS);
        let encoded = encode_within(&config, limits).unwrap();
        assert_eq!(encoded.encoding, ConfigEncoding::GzipShards);
        let shards = encoded.shard_config_maps("cfg", "shop");
        assert!(shards.len() >= 2, "{} shards", shards.len());
        for shard in &shards {
            let part = &shard.binary_data.as_ref().unwrap()[CONFIG_GZIP_PART_KEY];
            assert!(part.0.len() <= 16 * 1024);
        }
        let index = encoded.to_config_map("cfg", "shop");
        let by_name = |name: &str| {
            shards
                .iter()
                .find(|s| s.metadata.name.as_deref() == Some(name))
        };
        assert_eq!(decode_with_shards(&index, by_name).unwrap(), config);
        let too_few = ConfigMapLimits::new(16 * 1024, 1);
        assert!(matches!(
            encode_within(&config, too_few),
            Err(EncodeError::TooLarge { limit, .. }) if limit == 16 * 1024
        ));
    }

    #[test]
    fn a_shard_limit_is_clamped_to_what_a_config_map_can_hold() {
        assert_eq!(ConfigMapLimits::new(0, 3).shard_bytes(), MIN_SHARD_BYTES);
        let huge = ConfigMapLimits::new(usize::MAX, 3);
        assert_eq!(huge.shard_bytes(), SHARD_LIMIT_BYTES);
        assert_eq!(huge.max_shards(), 3);
        assert_eq!(ConfigMapLimits::default().shard_bytes(), SHARD_LIMIT_BYTES);
    }

    #[test]
    fn a_sharded_config_with_a_shard_missing_or_of_another_config_is_incomplete() {
        let encoded = encode(&config_over_one_config_map()).unwrap();
        let index = encoded.to_config_map("cfg", "shop");
        let mut shards = encoded.shard_config_maps("cfg", "shop");
        let missing = decode_with_shards(&index, |name| {
            shards[..1]
                .iter()
                .find(|s| s.metadata.name.as_deref() == Some(name))
        })
        .unwrap_err();
        assert!(
            matches!(missing, DecodeError::ShardMissing { .. }),
            "{missing}"
        );
        assert!(missing.is_incomplete());
        assert!(decode(&index).unwrap_err().is_incomplete());
        let annotations = shards[1].metadata.annotations.as_mut().unwrap();
        annotations.insert(CONFIG_HASH_ANNOTATION.into(), "sha256:older".into());
        let other = decode_with_shards(&index, |name| {
            shards
                .iter()
                .find(|s| s.metadata.name.as_deref() == Some(name))
        })
        .unwrap_err();
        assert!(
            matches!(other, DecodeError::ShardOfOtherConfig { .. }),
            "{other}"
        );
        assert!(other.is_incomplete());
    }

    #[test]
    fn only_shards_of_this_config_map_that_its_config_does_not_name_are_stale() {
        let encoded = encode(&config_over_one_config_map()).unwrap();
        let current = encoded.shard_names("cfg");
        let mut config_maps = encoded.shard_config_maps("cfg", "shop");
        let mut old = encoded.shard_config_maps("cfg", "shop")[0].clone();
        old.metadata.name = Some("cfg-000000000000-0".into());
        let mut other_scope = old.clone();
        other_scope.metadata.name = Some("other-000000000000-0".into());
        let annotations = other_scope.metadata.annotations.as_mut().unwrap();
        annotations.insert(CONFIG_SHARD_OF_ANNOTATION.into(), "other".into());
        let lookup_source = ConfigMap {
            metadata: ObjectMeta {
                name: Some("cfg-rows".into()),
                ..ObjectMeta::default()
            },
            ..ConfigMap::default()
        };
        config_maps.extend([old, other_scope, lookup_source]);
        assert_eq!(
            stale_shards(&config_maps, "cfg", &current),
            ["cfg-000000000000-0"]
        );
        assert_eq!(stale_shards(&config_maps, "cfg", &[]).len(), 3);
    }

    #[test]
    fn decode_refuses_edited_config_and_missing_keys() {
        let config = config_with_rows(3, 4);
        let mut cm = encode(&config).unwrap().to_config_map("c", "shop");
        let data = cm.data.as_mut().unwrap();
        let edited = data[CONFIG_JSON_KEY].replace("SKU-0000001", "SKU-0000009");
        data.insert(CONFIG_JSON_KEY.into(), edited);
        assert!(matches!(
            decode(&cm),
            Err(DecodeError::Config(ConfigError::Hash { .. }))
        ));
        assert!(matches!(
            decode(&ConfigMap::default()),
            Err(DecodeError::Missing)
        ));
    }

    #[test]
    fn decode_refuses_corrupt_gzip() {
        let cm = ConfigMap {
            binary_data: Some(BTreeMap::from([(
                CONFIG_GZIP_KEY.to_string(),
                ByteString(b"not gzip".to_vec()),
            )])),
            ..ConfigMap::default()
        };
        assert!(matches!(decode(&cm), Err(DecodeError::Gzip(_))));
    }

    #[test]
    fn lease_name_is_a_valid_object_name() {
        assert_eq!(
            gateway_lease_name("gw-7d9f_A:0"),
            "hermes-gateway-gw-7d9f-a-0"
        );
        assert_eq!(gateway_lease_name("pod-"), "hermes-gateway-pod");
        assert!(gateway_lease_name(&"x".repeat(400)).len() <= 253);
    }

    #[test]
    fn gateway_report_round_trips_through_its_lease_and_expires() {
        let renewed: Timestamp = "2026-12-01T10:00:00Z".parse().unwrap();
        let report = GatewayReport {
            replica: "gw-0".into(),
            hash: Some("sha256:abc".into()),
            error: None,
            renew_time: Some(renewed),
            duration: SignedDuration::from_secs(10),
            failing_topics: vec![FailingTopic {
                topic: "projects/p/topics/missing".into(),
                reason: "TopicNotFound".into(),
                error: "Resource not found".into(),
                since: "2026-12-01T09:59:00Z".into(),
            }],
        };
        let lease = report.to_lease("shop");
        assert_eq!(lease.metadata.name.as_deref(), Some("hermes-gateway-gw-0"));
        assert_eq!(
            lease.metadata.labels.as_ref().unwrap()[GATEWAY_LABEL],
            "true"
        );
        let read = GatewayReport::from_lease(&lease).unwrap();
        assert_eq!(read, report);
        assert!(read.is_fresh(renewed + SignedDuration::from_secs(9)));
        assert!(!read.is_fresh(renewed + SignedDuration::from_secs(10)));
        let never = GatewayReport {
            renew_time: None,
            ..report
        };
        assert!(!never.is_fresh(renewed));
    }
}
