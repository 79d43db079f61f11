//! A scope's config: compile its resources, and write the result to its ConfigMap by
//! server-side apply as the one operator field manager, only when the hash changed.

use hermes_crds::cluster::{self, EncodeError, EncodedConfig};
use hermes_crds::compile::{CompileOutput, Resources, compile};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Patch, PatchParams};
use kube::{Api, Client};

use crate::cache::ScopeCache;

/// A scope's compiled resources.
pub struct Compiled {
    /// What was compiled.
    pub resources: Resources,
    /// The compiler's result.
    pub output: CompileOutput,
    /// The encoded config, or why it cannot be stored.
    pub encoded: Result<EncodedConfig, EncodeError>,
}

impl Compiled {
    /// Compile what `cache` holds now.
    pub fn from_cache(cache: &ScopeCache) -> Self {
        let resources = cache.resources();
        let output = compile(&cache.namespace, &resources);
        let encoded = cluster::encode(&output.config);
        Compiled {
            resources,
            output,
            encoded,
        }
    }

    /// The compiled config's hash.
    pub fn hash(&self) -> &str {
        &self.output.config.hash
    }
}

/// The hash the scope's ConfigMap holds now, as the cache last saw it.
pub fn written_hash(cache: &ScopeCache) -> Option<String> {
    cache
        .config_map_named(&cache.config_map)
        .and_then(|cm| cluster::declared_hash(&cm).map(str::to_string))
}

/// Server-side apply the config ConfigMap. Applying the whole object as the one field
/// manager also removes what the previous version had and this one has not (the other
/// encoding's key).
pub async fn write_config(
    client: &Client,
    cache: &ScopeCache,
    encoded: &EncodedConfig,
) -> Result<(), kube::Error> {
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), &cache.namespace);
    let config_map = encoded.to_config_map(&cache.config_map, &cache.namespace);
    api.patch(
        &cache.config_map,
        &PatchParams::apply(cluster::OPERATOR_FIELD_MANAGER).force(),
        &Patch::Apply(&config_map),
    )
    .await?;
    Ok(())
}
