//! The operator at scale: many Tag + Trigger pairs ([`hermes_compiler::synthetic`])
//! applied to a [`Stack`]'s namespace, and what the scale test and the `operator-scale`
//! driver measure on it: time to all `Ready`, the config's size and shards, a changed Tag
//! until the gateway serves it, the operator's peak memory.
//!
//! Objects are server-side applied through the kube client, [`APPLY_CONCURRENCY`] at a
//! time: 10,000 `kubectl` calls would measure kubectl, and one 20,000-item `kubectl apply`
//! would hit request size limits.

use std::time::{Duration, Instant};

use futures::{StreamExt, TryStreamExt, stream};
use hermes_compiler::contract;
use hermes_compiler::synthetic;
use hermes_crds::api::{Tag, Trigger};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{ListParams, Patch, PatchParams};
use kube::{Api, Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::fixtures::PROJECT;
use crate::stack::Stack;
use crate::status::{StatusObject, ready};

/// Applies in flight at once.
pub const APPLY_CONCURRENCY: usize = 32;
/// The field manager the objects are applied with.
pub const FIELD_MANAGER: &str = "hermes-scale";
/// The topic every synthetic Tag of pair `i` with `i % 10 == 1` publishes to.
pub const TOPIC_OF_PAIR_1: &str = "scale-1";
/// Every topic the synthetic Tags publish to (`scale-{i % 10}`): they must exist, or the
/// operator's topic check keeps their Tags from Ready.
pub const TOPICS: [&str; 10] = [
    "scale-0", "scale-1", "scale-2", "scale-3", "scale-4", "scale-5", "scale-6", "scale-7",
    "scale-8", "scale-9",
];

/// Why a scale step failed.
#[derive(Debug, thiserror::Error)]
pub enum ScaleError {
    /// The synthetic objects do not build (a bug in `hermes_compiler::synthetic`).
    #[error("synthetic objects: {0}")]
    Synthetic(#[from] serde_json::Error),
    /// An apply or a list failed.
    #[error("{what}: {source}")]
    Api {
        /// What was being done.
        what: String,
        /// The API error.
        #[source]
        source: kube::Error,
    },
    /// A wait ran out.
    #[error("{0}")]
    Timeout(String),
    /// Creating the topics on the emulator failed.
    #[error("creating the topics: {0}")]
    Topics(#[from] crate::pubsub::EmulatorError),
}

/// Create [`TOPICS`] on the stack's emulator, each with a subscription `<name>-e2e`.
pub async fn create_topics(stack: &Stack) -> Result<(), ScaleError> {
    stack
        .emulator
        .create_topics_with_subscriptions(PROJECT, &TOPICS, "e2e")
        .await?;
    Ok(())
}

/// What the config ConfigMap says about the config it holds.
#[derive(Clone, Debug)]
pub struct ConfigSize {
    /// The config's hash.
    pub hash: String,
    /// `json`, `gzip` or `gzip-shards`.
    pub encoding: String,
    /// Size of the JSON.
    pub json_bytes: usize,
    /// Shard ConfigMaps (0 unless sharded).
    pub shards: usize,
}

/// Server-side apply Triggers and Tags `0..pairs` (Tags at `version`, see
/// [`synthetic::tag_version`]) into the stack's namespace.
pub async fn apply_pairs(stack: &Stack, pairs: usize, version: u64) -> Result<(), ScaleError> {
    let triggers = (0..pairs).map(synthetic::trigger);
    let triggers: Vec<Trigger> = triggers.collect::<Result<_, _>>()?;
    apply_all(stack.ns.api(), &triggers).await?;
    let tags = (0..pairs).map(|i| synthetic::tag_version(i, PROJECT, version));
    let tags: Vec<Tag> = tags.collect::<Result<_, _>>()?;
    apply_all(stack.ns.api(), &tags).await
}

/// Server-side apply the Tag of pair `i` at `version`.
pub async fn apply_tag(stack: &Stack, i: usize, version: u64) -> Result<(), ScaleError> {
    let tag = synthetic::tag_version(i, PROJECT, version)?;
    apply_all(stack.ns.api(), &[tag]).await
}

async fn apply_all<K>(api: Api<K>, objects: &[K]) -> Result<(), ScaleError>
where
    K: Resource<DynamicType = ()> + Clone + Serialize + DeserializeOwned + std::fmt::Debug,
{
    let params = PatchParams::apply(FIELD_MANAGER).force();
    stream::iter(objects)
        .map(|object| {
            let (api, params) = (&api, &params);
            async move {
                let name = object.name_any();
                api.patch(&name, params, &Patch::Apply(object))
                    .await
                    .map_err(|source| ScaleError::Api {
                        what: format!("applying {} {name}", K::kind(&())),
                        source,
                    })
            }
        })
        .buffer_unordered(APPLY_CONCURRENCY)
        .try_collect::<Vec<_>>()
        .await?;
    Ok(())
}

/// How many objects of kind `K` are `Ready=True` with reason `Live` at config `hash`.
pub async fn count_live<K: StatusObject>(
    stack: &Stack,
    hash: Option<&str>,
) -> Result<usize, ScaleError> {
    let api: Api<K> = stack.ns.api();
    let objects = api
        .list(&ListParams::default())
        .await
        .map_err(|source| ScaleError::Api {
            what: format!("listing {}s", K::kind(&())),
            source,
        })?;
    let live = objects.items.iter().filter(|object| {
        let status = object.status();
        let hash_matches =
            hash.is_none_or(|hash| status.and_then(|s| s.config_hash.as_deref()) == Some(hash));
        let is_live = ready(status).is_some_and(|c| c.status == "True" && c.reason == "Live");
        hash_matches && is_live
    });
    Ok(live.count())
}

/// Wait until `pairs` Tags and their Triggers are all `Ready` (`Live`) at the same
/// config hash, and the gateway serves that hash; returns the hash. Polls every second
/// per 5,000 pairs (listing 20,000 objects is itself work for the API server).
pub async fn wait_all_live(
    stack: &Stack,
    pairs: usize,
    within: Duration,
) -> Result<String, ScaleError> {
    let deadline = Instant::now() + within;
    let every = Duration::from_millis(200).max(Duration::from_secs(1) * (pairs / 5_000) as u32);
    let mut poll = tokio::time::interval(every);
    loop {
        poll.tick().await;
        match all_live(stack, pairs).await {
            Ok(hash) => return Ok(hash),
            Err(last) if Instant::now() >= deadline => {
                return Err(ScaleError::Timeout(format!(
                    "not all live after {within:?}: {last}"
                )));
            }
            Err(_) => {}
        }
    }
}

/// The config hash if every pair is live at it and the gateway serves it; else what is.
async fn all_live(stack: &Stack, pairs: usize) -> Result<String, String> {
    let config = config_size(stack).await.map_err(|e| e.to_string())?;
    let hash = Some(config.hash.as_str());
    let tags = count_live::<Tag>(stack, hash)
        .await
        .map_err(|e| e.to_string())?;
    let triggers = (count_live::<Trigger>(stack, hash).await).map_err(|e| e.to_string())?;
    let serving = stack.gateway_hash().await;
    if tags == pairs && triggers == pairs && serving.as_deref() == hash {
        Ok(config.hash)
    } else {
        Err(format!(
            "{tags} Tags and {triggers} Triggers of {pairs} live at {}; gateway serves {serving:?}",
            config.hash
        ))
    }
}

/// The config ConfigMap's hash, encoding and sizes.
pub async fn config_size(stack: &Stack) -> Result<ConfigSize, ScaleError> {
    let api: Api<ConfigMap> = stack.ns.api();
    let cm = api
        .get(contract::DEFAULT_CONFIG_MAP)
        .await
        .map_err(|source| ScaleError::Api {
            what: "reading the config ConfigMap".to_string(),
            source,
        })?;
    let annotation = |key: &str| {
        cm.metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(key))
            .cloned()
            .unwrap_or_default()
    };
    Ok(ConfigSize {
        hash: annotation(contract::CONFIG_HASH_ANNOTATION),
        encoding: annotation(contract::CONFIG_ENCODING_ANNOTATION),
        json_bytes: annotation(contract::CONFIG_BYTES_ANNOTATION)
            .parse()
            .unwrap_or_default(),
        shards: contract::shard_names(&cm).map_or(0, |names| names.len()),
    })
}

/// Apply the Tag of pair `i` at `version`, then wait until the gateway serves a config
/// other than `serving`; returns the new hash and how long it took. With nothing else
/// changing, the next config the gateway serves is the one with this Tag's change.
pub async fn change_tag_until_served(
    stack: &Stack,
    i: usize,
    version: u64,
    serving: &str,
) -> Result<(String, Duration), ScaleError> {
    let started = Instant::now();
    apply_tag(stack, i, version).await?;
    let (hash, took) = stack.wait_gateway_change(Some(serving), started).await;
    Ok((hash, took))
}
