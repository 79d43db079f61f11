//! A scope's config: compile its resources, and write the result to its ConfigMap by
//! server-side apply as the one operator field manager, only when the hash changed.

use hermes_compiler::compile::{CompileOutput, Resources, compile};
use hermes_compiler::contract::{self, EncodeError, EncodedConfig};
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
        let encoded = contract::encode(&output.config);
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

/// The scope's ConfigMap as the cache last saw it: its resourceVersion and hash.
pub fn cached_config(cache: &ScopeCache) -> (Option<String>, Option<String>) {
    let cm = cache.config_map_named(&cache.config_map);
    (
        cm.as_ref()
            .and_then(|cm| cm.metadata.resource_version.clone()),
        cm.as_ref()
            .and_then(|cm| contract::declared_hash(cm).map(str::to_string)),
    )
}

/// A config written whose watch event may not have reached the cache yet.
#[derive(Clone, Debug, Default)]
pub struct PendingWrite {
    /// The hash written.
    pub hash: String,
    /// The ConfigMap's resourceVersion in the cache before the write.
    pub version_before: Option<String>,
}

/// The hash the ConfigMap holds: the cache's, unless the cache has not moved since our
/// last write (then that write's). Clears `pending` once the cache caught up.
pub fn written_hash(cache: &ScopeCache, pending: &mut Option<PendingWrite>) -> Option<String> {
    let (version, hash) = cached_config(cache);
    effective_hash(version, hash, pending)
}

fn effective_hash(
    version: Option<String>,
    hash: Option<String>,
    pending: &mut Option<PendingWrite>,
) -> Option<String> {
    match pending.take() {
        Some(write) if write.version_before == version => {
            let hash = write.hash.clone();
            *pending = Some(write);
            Some(hash)
        }
        _ => hash,
    }
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
        &PatchParams::apply(contract::OPERATOR_FIELD_MANAGER).force(),
        &Patch::Apply(&config_map),
    )
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pending(hash: &str, before: Option<&str>) -> Option<PendingWrite> {
        Some(PendingWrite {
            hash: hash.into(),
            version_before: before.map(str::to_string),
        })
    }

    #[test]
    fn a_stale_cache_reports_our_last_write_until_it_moves() {
        let mut write = pending("h2", Some("10"));
        let stale = effective_hash(Some("10".into()), Some("h1".into()), &mut write);
        assert_eq!(stale.as_deref(), Some("h2"));
        assert!(write.is_some());
        let caught_up = effective_hash(Some("11".into()), Some("h2".into()), &mut write);
        assert_eq!(caught_up.as_deref(), Some("h2"));
        assert!(write.is_none());
        // Deleted by someone after that: the cache is believed, so it is written again.
        assert_eq!(effective_hash(None, None, &mut write), None);
    }

    #[test]
    fn first_write_of_a_missing_config_map_is_pending_until_seen() {
        let mut write = pending("h1", None);
        assert_eq!(
            effective_hash(None, None, &mut write).as_deref(),
            Some("h1")
        );
    }
}
