//! Step 1, compile: the namespace's resources, as the cache holds them, into the gateway
//! config, encoded for its ConfigMap. Pure but for the size metrics.

use std::time::Instant;

use hermes_compiler::compile::{CompileOutput, Resources, compile as compile_resources};
use hermes_compiler::contract::{self, ConfigMapLimits, EncodeError, EncodedConfig};

use crate::cache::NamespaceCache;
use crate::error::ReconcileError;
use crate::events::{ConfigEncoded, Emit, ScopeCompiled};
use crate::metrics::Metrics;

/// A namespace's compiled resources.
pub struct Compiled {
    /// What was compiled.
    pub resources: Resources,
    /// The compiler's result.
    pub output: CompileOutput,
    /// Whether the encoded config fits a ConfigMap.
    pub fit: Fit,
}

/// Whether the encoded config fits a ConfigMap.
pub enum Fit {
    /// It does: this is what to store.
    Fits(EncodedConfig),
    /// Even compressed it does not; the message says by how much.
    TooLarge(String),
}

impl Compiled {
    /// The compiled config's hash.
    pub fn hash(&self) -> &str {
        &self.output.config.hash
    }
}

/// Compile what `cache` holds now, to be stored within `limits`. Fails only when the
/// config cannot be encoded at all (a bug); a config too large is an outcome
/// ([`Fit::TooLarge`]), reported on statuses.
pub fn compile(
    cache: &NamespaceCache,
    limits: ConfigMapLimits,
    metrics: &Metrics,
) -> Result<Compiled, ReconcileError> {
    let resources = cache.resources();
    let started = Instant::now();
    let output = compile_resources(&cache.namespace, &resources);
    let fit = match contract::encode_within(&output.config, limits) {
        Ok(encoded) => {
            ConfigEncoded {
                namespace: &cache.namespace,
                json_bytes: encoded.json_bytes,
                stored_bytes: encoded.stored_bytes,
                config_maps: encoded.shard_names(&cache.config_map).len().max(1),
            }
            .emit(metrics);
            Fit::Fits(encoded)
        }
        Err(error @ EncodeError::TooLarge { .. }) => Fit::TooLarge(error.to_string()),
        Err(error @ EncodeError::Encode(_)) => return Err(ReconcileError::Encode(error)),
    };
    ScopeCompiled {
        namespace: &cache.namespace,
        objects: output.objects.len(),
        elapsed: started.elapsed(),
    }
    .emit(metrics);
    Ok(Compiled {
        resources,
        output,
        fit,
    })
}
