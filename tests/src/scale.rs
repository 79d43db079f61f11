//! The operator at scale: many Tag + Trigger pairs ([`hermes_compiler::synthetic`], of
//! either [`Variety`]) applied to a [`Stack`]'s namespace, and what the scale tests and
//! the `operator-scale` driver measure on it: time to all `Ready`, the config's size and
//! shards, a changed Tag until the gateway serves it, the operator's peak memory.
//!
//! Objects are server-side applied through the kube client, [`APPLY_CONCURRENCY`] at a
//! time: 10,000 `kubectl` calls would measure kubectl, and one 20,000-item `kubectl apply`
//! would hit request size limits.

use std::time::{Duration, Instant};

use futures::{StreamExt, TryStreamExt, stream};
use hermes_compiler::contract;
use hermes_compiler::synthetic::Variety;
use hermes_crds::api::{Tag, Trigger};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams};
use kube::{Api, Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::TIMEOUT;
use crate::fixtures::PROJECT;
use crate::pubsub::ReceivedMessage;
use crate::stack::Stack;
use crate::status::{StatusObject, ready};
use crate::wait::wait_for;

/// Applies in flight at once.
pub const APPLY_CONCURRENCY: usize = 32;
/// The field manager the objects are applied with.
pub const FIELD_MANAGER: &str = "hermes-scale";
/// The topic every uniform synthetic Tag of pair `i` with `i % 10 == 1` publishes to.
pub const TOPIC_OF_PAIR_1: &str = "scale-1";

/// Why a scale step failed.
#[derive(Debug, thiserror::Error)]
pub enum ScaleError {
    /// The synthetic objects do not build (a bug in `hermes_compiler::synthetic`).
    #[error("synthetic objects: {0}")]
    Synthetic(#[from] serde_json::Error),
    /// An apply, a delete or a list failed.
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
    /// A pair has no hit that fires its Tag ([`Variety::gtag_hit`]).
    #[error("pair {0} has no gtag hit")]
    NoHit(usize),
    /// The gateway did not answer a hit 204.
    #[error("the gateway answered {status} to {hit}")]
    HitRefused {
        /// The hit.
        hit: String,
        /// Its status.
        status: reqwest::StatusCode,
    },
    /// The Tag's message did not arrive.
    #[error("the message of Tag {tag}: {source}")]
    NoMessage {
        /// The Tag.
        tag: String,
        /// What the wait saw last.
        #[source]
        source: crate::wait::WaitError,
    },
    /// Creating the topics on the emulator failed.
    #[error("creating the topics: {0}")]
    Topics(#[from] crate::pubsub::EmulatorError),
}

/// Create every topic `variety`'s Tags publish to on the stack's emulator, each with a
/// subscription `<name>-e2e` (they must exist, or the operator's topic check keeps their
/// Tags from Ready).
pub async fn create_topics(stack: &Stack, variety: Variety) -> Result<(), ScaleError> {
    let names = variety.topic_names();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    stack
        .emulator
        .create_topics_with_subscriptions(PROJECT, &names, "e2e")
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

/// Server-side apply `variety`'s Triggers and Tags `0..pairs` (Tags at `version`, see
/// [`Variety::tag_version`]) into the stack's namespace.
pub async fn apply_pairs(
    stack: &Stack,
    variety: Variety,
    pairs: usize,
    version: u64,
) -> Result<(), ScaleError> {
    let triggers = (0..pairs).map(|i| variety.trigger(i));
    let triggers: Vec<Trigger> = triggers.collect::<Result<_, _>>()?;
    apply_all(stack.ns.api(), &triggers).await?;
    let tags = (0..pairs).map(|i| variety.tag_version(i, PROJECT, version));
    let tags: Vec<Tag> = tags.collect::<Result<_, _>>()?;
    apply_all(stack.ns.api(), &tags).await
}

/// Server-side apply the Tag of pair `i` at `version`.
pub async fn apply_tag(
    stack: &Stack,
    variety: Variety,
    i: usize,
    version: u64,
) -> Result<(), ScaleError> {
    let tag = variety.tag_version(i, PROJECT, version)?;
    apply_all(stack.ns.api(), &[tag]).await
}

/// Delete the Tags and Triggers of `pairs`, [`APPLY_CONCURRENCY`] at a time.
pub async fn delete_pairs(
    stack: &Stack,
    variety: Variety,
    pairs: std::ops::Range<usize>,
) -> Result<(), ScaleError> {
    let tags: Vec<String> = pairs.clone().map(|i| variety.tag_name(i)).collect();
    delete_all::<Tag>(stack.ns.api(), &tags).await?;
    let triggers: Vec<String> = pairs.map(|i| variety.trigger_name(i)).collect();
    delete_all::<Trigger>(stack.ns.api(), &triggers).await
}

async fn delete_all<K>(api: Api<K>, names: &[String]) -> Result<(), ScaleError>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + std::fmt::Debug,
{
    let params = DeleteParams::default();
    concurrently(names, |name| {
        let (api, params) = (&api, &params);
        async move {
            let deleted = api.delete(name, params).await;
            deleted.map_err(|source| ScaleError::Api {
                what: format!("deleting {} {name}", K::kind(&())),
                source,
            })
        }
    })
    .await
}

async fn apply_all<K>(api: Api<K>, objects: &[K]) -> Result<(), ScaleError>
where
    K: Resource<DynamicType = ()> + Clone + Serialize + DeserializeOwned + std::fmt::Debug,
{
    let params = PatchParams::apply(FIELD_MANAGER).force();
    concurrently(objects, |object| {
        let (api, params) = (&api, &params);
        async move {
            let name = object.name_any();
            let applied = api.patch(&name, params, &Patch::Apply(object)).await;
            applied.map_err(|source| ScaleError::Api {
                what: format!("applying {} {name}", K::kind(&())),
                source,
            })
        }
    })
    .await
}

/// Run `call` on every item, [`APPLY_CONCURRENCY`] at a time, until the first error.
async fn concurrently<T, R, Fut>(
    items: impl IntoIterator<Item = T>,
    call: impl FnMut(T) -> Fut,
) -> Result<(), ScaleError>
where
    Fut: Future<Output = Result<R, ScaleError>>,
{
    stream::iter(items)
        .map(call)
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
    variety: Variety,
    i: usize,
    version: u64,
    serving: &str,
) -> Result<(String, Duration), ScaleError> {
    let started = Instant::now();
    apply_tag(stack, variety, i, version).await?;
    let (hash, took) = stack.wait_gateway_change(Some(serving), started).await;
    Ok((hash, took))
}

/// The pair among `pairs` whose Tag comes last in the config (tags are ordered by name:
/// the Tag definition farthest into the config's JSON, and so into its shards) among
/// those a gtag hit fires.
pub fn last_tag_with_a_hit(variety: Variety, pairs: std::ops::Range<usize>) -> Option<usize> {
    pairs
        .filter(|&i| variety.gtag_hit(i).is_some())
        .max_by_key(|&i| variety.tag_name(i))
}

/// Send pair `i`'s gtag hit ([`Variety::gtag_hit`]) to the gateway and wait for the
/// message its Tag publishes (told apart by `hermes_tag` from those of other Tags firing
/// on the same topic, which are pulled and dropped); returns it and how long it took.
pub async fn message_of_pair(
    stack: &Stack,
    variety: Variety,
    i: usize,
) -> Result<(ReceivedMessage, Duration), ScaleError> {
    let hit = variety.gtag_hit(i).ok_or(ScaleError::NoHit(i))?;
    let started = Instant::now();
    let status = stack.get(&hit).await;
    if status != reqwest::StatusCode::NO_CONTENT {
        return Err(ScaleError::HitRefused { hit, status });
    }
    let (tag, topic) = (variety.tag_name(i), variety.topic(i));
    let found = wait_for(TIMEOUT, || async {
        let messages = stack.messages(&topic, 50, Duration::from_secs(2)).await;
        messages
            .into_iter()
            .find(|m| m.attributes.get("hermes_tag") == Some(&tag))
            .ok_or_else(|| format!("no message of Tag {tag} on {topic} for {hit}"))
    })
    .await;
    let message = found.map_err(|source| ScaleError::NoMessage { tag, source })?;
    Ok((message, started.elapsed()))
}
