//! Step 2, write config: server-side apply the config ConfigMap (and its shards, when the
//! config needs several ConfigMaps) as the one operator field manager, only when the hash
//! it holds differs from the compiled one, and only after confirming leadership.

use hermes_compiler::contract::{self, EncodedConfig};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Patch, PatchParams};
use kube::{Api, Client};
use tokio::time::Instant;

use super::Context;
use super::compile::{Compiled, Fit};
use crate::cache::NamespaceCache;
use crate::error::ReconcileError;
use crate::events::{ConfigTooLarge, ConfigUnchanged, ConfigWritten, Emit};
use crate::status::Written;

/// What the step did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConfigWrite {
    /// The ConfigMap already held this config: nothing sent.
    Unchanged,
    /// Written now.
    Written,
    /// Too large to store: nothing sent, the previous config stays. The message says by
    /// how much.
    TooLarge(String),
}

impl ConfigWrite {
    /// What the statuses say about it.
    pub fn written(&self) -> Written {
        match self {
            ConfigWrite::Unchanged | ConfigWrite::Written => Written::Yes,
            ConfigWrite::TooLarge(message) => Written::TooLarge(message.clone()),
        }
    }
}

/// What the step remembers between reconciles.
#[derive(Default)]
pub struct WriteMemory {
    /// The last config written, until the cache sees it.
    pending: Option<PendingWrite>,
    /// The last config written and when, until it is live.
    pub awaiting_live: Option<(String, Instant)>,
}

/// A config written whose watch event may not have reached the cache yet.
#[derive(Clone, Debug, Default)]
struct PendingWrite {
    /// The hash written.
    hash: String,
    /// The ConfigMap's resourceVersion in the cache before the write.
    version_before: Option<String>,
}

/// Write `compiled` to the namespace's ConfigMap unless it holds it already.
/// `changed_since` is when the first change this reconcile handles arrived.
pub async fn write_config(
    ctx: &Context,
    cache: &NamespaceCache,
    compiled: &Compiled,
    memory: &mut WriteMemory,
    changed_since: Option<Instant>,
) -> Result<ConfigWrite, ReconcileError> {
    let namespace = cache.namespace.as_str();
    let hash = compiled.hash();
    let encoded = match &compiled.fit {
        Fit::Fits(encoded) => encoded,
        Fit::TooLarge(reason) => {
            ConfigTooLarge { namespace, reason }.emit(&ctx.metrics);
            return Ok(ConfigWrite::TooLarge(reason.clone()));
        }
    };
    let (version_before, cached_hash) = cached_config(cache);
    if written_hash(version_before.clone(), cached_hash, &mut memory.pending).as_deref()
        == Some(hash)
    {
        ConfigUnchanged { namespace, hash }.emit(&ctx.metrics);
        return Ok(ConfigWrite::Unchanged);
    }
    ctx.leadership
        .confirm()
        .await
        .map_err(ReconcileError::LeadershipBeforeWrite)?;
    apply(&ctx.client, cache, encoded)
        .await
        .map_err(|source| ReconcileError::WriteConfig {
            config_map: cache.config_map.clone(),
            source,
        })?;
    ConfigWritten {
        namespace,
        hash,
        encoding: encoded.encoding.as_str(),
        bytes: encoded.stored_bytes,
        diagnostics: compiled.output.diagnostics.len(),
        since_change: changed_since.map(|since| since.elapsed()),
    }
    .emit(&ctx.metrics);
    memory.awaiting_live = Some((hash.to_string(), Instant::now()));
    memory.pending = Some(PendingWrite {
        hash: hash.to_string(),
        version_before,
    });
    Ok(ConfigWrite::Written)
}

/// The namespace's ConfigMap as the cache last saw it: its resourceVersion and hash. A
/// sharded config with a shard missing or of another hash (deleted by someone) has no
/// hash: it is written again.
fn cached_config(cache: &NamespaceCache) -> (Option<String>, Option<String>) {
    let cm = cache.config_map_named(&cache.config_map);
    let whole = |cm: &ConfigMap, hash: &str| {
        contract::shard_names(cm)
            .unwrap_or_default()
            .iter()
            .all(|name| {
                cache
                    .config_map_named(name)
                    .is_some_and(|shard| contract::declared_hash(&shard) == Some(hash))
            })
    };
    (
        cm.as_ref()
            .and_then(|cm| cm.metadata.resource_version.clone()),
        cm.as_ref().and_then(|cm| {
            contract::declared_hash(cm)
                .filter(|hash| whole(cm, hash))
                .map(str::to_string)
        }),
    )
}

/// The hash the ConfigMap holds: the cache's (`hash` at `version`), unless the cache has
/// not moved since our last write (then that write's). Clears `pending` once the cache
/// caught up.
fn written_hash(
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

/// Server-side apply the config: its shards first (if sharded), then the config
/// ConfigMap naming them, so that a gateway never sees a config whose shards are not
/// there. Applying the whole object as the one field manager also removes what the
/// previous version had and this one has not (the other encoding's key).
async fn apply(
    client: &Client,
    cache: &NamespaceCache,
    encoded: &EncodedConfig,
) -> Result<(), kube::Error> {
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), &cache.namespace);
    let params = PatchParams::apply(contract::OPERATOR_FIELD_MANAGER).force();
    let shards = encoded.shard_config_maps(&cache.config_map, &cache.namespace);
    let config_map = encoded.to_config_map(&cache.config_map, &cache.namespace);
    for object in shards.iter().chain([&config_map]) {
        let name = object.metadata.name.as_deref().unwrap_or_default();
        api.patch(name, &params, &Patch::Apply(object)).await?;
    }
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
        let stale = written_hash(Some("10".into()), Some("h1".into()), &mut write);
        assert_eq!(stale.as_deref(), Some("h2"));
        assert!(write.is_some());
        let caught_up = written_hash(Some("11".into()), Some("h2".into()), &mut write);
        assert_eq!(caught_up.as_deref(), Some("h2"));
        assert!(write.is_none());
        // Deleted by someone after that: the cache is believed, so it is written again.
        assert_eq!(written_hash(None, None, &mut write), None);
    }

    #[test]
    fn first_write_of_a_missing_config_map_is_pending_until_seen() {
        let mut write = pending("h1", None);
        assert_eq!(written_hash(None, None, &mut write).as_deref(), Some("h1"));
    }
}
