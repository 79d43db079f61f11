//! Step 2b, forget stale shards: delete the shard ConfigMaps of configs the config
//! ConfigMap no longer holds (written for an earlier hash, or left by a write that failed
//! half-way). Only once the config ConfigMap holds the compiled config: until then its
//! shards may still be what the gateways assemble. Best effort, leader only, never
//! failing the reconcile; a shard not deleted is tried again next reconcile.

use hermes_compiler::contract;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::Api;
use kube::api::DeleteParams;

use super::Context;
use super::compile::{Compiled, Fit};
use super::write_config::ConfigWrite;
use crate::cache::NamespaceCache;
use crate::events::{Emit, StaleShardNotRemoved, StaleShardRemoved};

/// Delete the stale shards the cache holds; returns how many were deleted.
pub async fn forget_stale_shards(
    ctx: &Context,
    cache: &NamespaceCache,
    compiled: &Compiled,
    write: &ConfigWrite,
) -> usize {
    let current = match (&compiled.fit, write) {
        (Fit::Fits(encoded), ConfigWrite::Written | ConfigWrite::Unchanged) => {
            encoded.shard_names(&cache.config_map)
        }
        // The previous config stays, and with it its shards.
        _ => return 0,
    };
    if !ctx.leadership.is_leader() {
        return 0;
    }
    let config_maps = cache.config_maps();
    let stale = contract::stale_shards(&config_maps, &cache.config_map, &current);
    let api: Api<ConfigMap> = Api::namespaced(ctx.client.clone(), &cache.namespace);
    let namespace = cache.namespace.as_str();
    let mut removed = 0;
    for shard in &stale {
        match api.delete(shard, &DeleteParams::default()).await {
            Ok(_) => {
                removed += 1;
                StaleShardRemoved { namespace, shard }.emit(&ctx.metrics);
            }
            // Deleted already; the cache has not seen it yet.
            Err(kube::Error::Api(status)) if status.code == 404 => {}
            Err(error) => StaleShardNotRemoved {
                namespace,
                shard,
                error: &error,
            }
            .emit(&ctx.metrics),
        }
    }
    removed
}
