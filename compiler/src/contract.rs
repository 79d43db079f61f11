//! The in-cluster contract between the operator and the gateways: where the compiled
//! config lives, how it is encoded, and how each gateway replica reports what it serves.
//! Names and pure encode/decode only; no client.
//!
//! - The operator writes one ConfigMap per scope (namespace), default
//!   [`DEFAULT_CONFIG_MAP`], by server-side apply as [`OPERATOR_FIELD_MANAGER`]: key
//!   [`CONFIG_JSON_KEY`] while the JSON is at most [`PLAIN_LIMIT_BYTES`], else gzip in
//!   `binaryData` [`CONFIG_GZIP_KEY`]; a config that does not fit even then is not written
//!   ([`EncodeError::TooLarge`]). Annotation [`CONFIG_HASH_ANNOTATION`] carries its hash.
//! - Each gateway replica keeps a Lease [`gateway_lease_name`] labelled
//!   [`GATEWAY_LABEL`]`=true`, annotated with the hash it serves, renewed every few
//!   seconds. The operator counts a replica while its Lease is fresh
//!   ([`GatewayReport::is_fresh`]). The Lease also lists the topics the replica cannot
//!   publish to ([`FAILING_TOPICS_ANNOTATION`], see [`crate::failing_topics`]).

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
/// JSON above this size is stored gzip-compressed.
pub const PLAIN_LIMIT_BYTES: usize = 900 * 1024;
/// The API server refuses ConfigMaps whose data exceeds 1 MiB; keep room for the key.
pub const STORED_LIMIT_BYTES: usize = 1024 * 1024 - 1024;
/// Decompressed configs larger than this are refused (defends against gzip bombs).
pub const DECOMPRESSED_LIMIT_BYTES: u64 = 256 * 1024 * 1024;

/// How a config is stored in its ConfigMap.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConfigEncoding {
    /// `data["config.json"]`
    Json,
    /// `binaryData["config.json.gz"]`
    Gzip,
}

impl ConfigEncoding {
    /// The annotation value.
    pub fn as_str(self) -> &'static str {
        match self {
            ConfigEncoding::Json => "json",
            ConfigEncoding::Gzip => "gzip",
        }
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
}

/// Why a config cannot be written.
#[derive(Debug, thiserror::Error)]
pub enum EncodeError {
    /// Even compressed, the config exceeds what a ConfigMap holds.
    #[error(
        "compiled config is {json_bytes} bytes ({stored_bytes} gzip-compressed), over the \
         {limit}-byte ConfigMap limit; move large lookup tables' rows out or split the scope"
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
}

/// Serialize `config` and pick its encoding by size.
pub fn encode(config: &GatewayConfig) -> Result<EncodedConfig, EncodeError> {
    let json = config
        .to_json()
        .map_err(|e| EncodeError::Encode(e.to_string()))?;
    let json_bytes = json.len();
    if json_bytes <= PLAIN_LIMIT_BYTES {
        return Ok(EncodedConfig {
            hash: config.hash.clone(),
            encoding: ConfigEncoding::Json,
            json_bytes,
            stored_bytes: json_bytes,
            body: Body::Json(json),
        });
    }
    let gzip = gzip(json.as_bytes()).map_err(|e| EncodeError::Encode(e.to_string()))?;
    if gzip.len() > STORED_LIMIT_BYTES {
        return Err(EncodeError::TooLarge {
            json_bytes,
            stored_bytes: gzip.len(),
            limit: STORED_LIMIT_BYTES,
        });
    }
    Ok(EncodedConfig {
        hash: config.hash.clone(),
        encoding: ConfigEncoding::Gzip,
        json_bytes,
        stored_bytes: gzip.len(),
        body: Body::Gzip(gzip),
    })
}

fn gzip(bytes: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
    encoder.write_all(bytes)?;
    encoder.finish()
}

impl EncodedConfig {
    /// The whole ConfigMap to server-side apply: exactly one of the two keys, plus the
    /// hash, encoding and size annotations. Applying it as [`OPERATOR_FIELD_MANAGER`]
    /// also removes the other key when the encoding changes.
    pub fn to_config_map(&self, name: &str, namespace: &str) -> ConfigMap {
        let annotations = BTreeMap::from([
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
        let labels = BTreeMap::from([(
            "app.kubernetes.io/managed-by".to_string(),
            OPERATOR_FIELD_MANAGER.to_string(),
        )]);
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
        };
        ConfigMap {
            metadata: ObjectMeta {
                name: Some(name.to_string()),
                namespace: Some(namespace.to_string()),
                annotations: Some(annotations),
                labels: Some(labels),
                ..ObjectMeta::default()
            },
            data,
            binary_data,
            ..ConfigMap::default()
        }
    }
}

/// The hash a config ConfigMap declares (its annotation), without decoding it.
pub fn declared_hash(config_map: &ConfigMap) -> Option<&str> {
    annotation(&config_map.metadata, CONFIG_HASH_ANNOTATION)
}

/// Decode and check the config a ConfigMap holds (version and hash, see
/// [`GatewayConfig::from_json`]). A plain key wins over a gzip one.
pub fn decode(config_map: &ConfigMap) -> Result<GatewayConfig, DecodeError> {
    if let Some(json) = config_map
        .data
        .as_ref()
        .and_then(|data| data.get(CONFIG_JSON_KEY))
    {
        return Ok(GatewayConfig::from_json(json)?);
    }
    let Some(bytes) = config_map
        .binary_data
        .as_ref()
        .and_then(|data| data.get(CONFIG_GZIP_KEY))
    else {
        return Err(DecodeError::Missing);
    };
    let mut json = String::new();
    GzDecoder::new(bytes.0.as_slice())
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
        let config = config_with_rows(20_000, 8);
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

    #[test]
    fn config_too_large_even_gzipped_is_refused() {
        // Random-looking 32-hex values compress poorly: ~1.6 MiB gzip.
        let rows = (0..60_000u64)
            .map(|i| CompiledRow {
                key: format!("{:016x}", i.wrapping_mul(0x9E37_79B9_7F4A_7C15)),
                value: serde_json::Value::String(format!(
                    "{:016x}{:016x}",
                    i.wrapping_mul(0xC2B2_AE3D_27D4_EB4F),
                    i.wrapping_mul(0x1656_67B1_9E37_79F9)
                )),
            })
            .collect();
        let config = config_with_table("big", rows);
        match encode(&config) {
            Err(EncodeError::TooLarge {
                stored_bytes,
                limit,
                ..
            }) => assert!(stored_bytes > limit),
            other => panic!("expected TooLarge, got {other:?}"),
        }
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
